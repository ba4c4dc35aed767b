package specgen

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// marshal encodes s the way "berth spec" writes config.json, which is also
// the way runc writes it, so the golden files can be compared byte for byte.
func marshal(t *testing.T, s *specs.Spec) []byte {
	t.Helper()
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// firstDiff reports the first differing line, which is far easier to act on
// than two whole documents.
func firstDiff(got, want []byte) string {
	g := strings.Split(string(got), "\n")
	w := strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + gl + "\nwant: " + wl
		}
	}
	return "no line differs (trailing bytes?)"
}

func TestMatchesRunc(t *testing.T) {
	tests := []struct {
		name   string
		golden string
		build  func() *specs.Spec
		// fixup adjusts the golden spec for values that depend on who runs
		// the test; runc's copy was captured as root.
		fixup func(*specs.Spec)
	}{
		{
			name:   "default",
			golden: "runc-spec.json",
			build:  Default,
		},
		{
			name:   "rootless",
			golden: "runc-spec-rootless.json",
			build: func() *specs.Spec {
				s := Default()
				ToRootless(s)
				return s
			},
			fixup: func(s *specs.Spec) {
				s.Linux.UIDMappings[0].HostID = uint32(os.Geteuid())
				s.Linux.GIDMappings[0].HostID = uint32(os.Getegid())
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", tt.golden))
			if err != nil {
				t.Fatal(err)
			}
			var want specs.Spec
			dec := json.NewDecoder(bytes.NewReader(raw))
			// A field runc emits that the v1.3.0 types lack would be silently
			// dropped by a lenient decode and so escape the comparison.
			dec.DisallowUnknownFields()
			if err := dec.Decode(&want); err != nil {
				t.Fatalf("decode golden: %v", err)
			}
			if again := marshal(t, &want); !bytes.Equal(again, raw) {
				t.Fatalf("golden file does not round-trip through specs.Spec:\n%s", firstDiff(again, raw))
			}
			if want.Version != specs.Version {
				t.Fatalf("golden ociVersion = %q, want %q", want.Version, specs.Version)
			}
			if tt.fixup != nil {
				tt.fixup(&want)
			}

			got := tt.build()
			if gb, wb := marshal(t, got), marshal(t, &want); !bytes.Equal(gb, wb) {
				t.Errorf("output differs from runc's:\n%s", firstDiff(gb, wb))
			} else if !reflect.DeepEqual(got, &want) {
				t.Errorf("spec differs from runc's in a way JSON hides (nil vs empty?):\n got %+v\nwant %+v", got, &want)
			}
		})
	}
}

func TestDefaultReturnsIndependentCopies(t *testing.T) {
	a := Default()
	a.Process.Args[0] = "changed"
	a.Process.Capabilities.Bounding[0] = "changed"
	a.Mounts[1].Options[0] = "changed"
	a.Linux.MaskedPaths[0] = "changed"
	a.Linux.Resources.Devices[0].Allow = true
	a.Hostname = "changed"

	b := Default()
	if !reflect.DeepEqual(b, Default()) {
		t.Fatal("two calls to Default disagree")
	}
	if b.Process.Args[0] != "sh" || b.Process.Capabilities.Bounding[0] != "CAP_AUDIT_WRITE" ||
		b.Mounts[1].Options[0] != "nosuid" || b.Linux.MaskedPaths[0] != "/proc/acpi" ||
		b.Linux.Resources.Devices[0].Allow || b.Hostname != "runc" {
		t.Fatal("editing one Default result changed another")
	}
	// The capability sets must not alias each other either, or dropping a
	// capability from one set would silently drop it from all of them.
	b.Process.Capabilities.Bounding[0] = "X"
	if b.Process.Capabilities.Effective[0] == "X" {
		t.Fatal("capability sets share a backing array")
	}
}

func TestToRootless(t *testing.T) {
	tests := []struct {
		name  string
		in    *specs.Spec
		check func(t *testing.T, s *specs.Spec)
	}{
		{
			name: "nil spec is ignored",
			in:   nil,
			check: func(t *testing.T, s *specs.Spec) {
				if s != nil {
					t.Fatal("nil became non-nil")
				}
			},
		},
		{
			name: "nil linux is created",
			in:   &specs.Spec{},
			check: func(t *testing.T, s *specs.Spec) {
				want := []specs.LinuxNamespace{{Type: specs.UserNamespace}}
				if s.Linux == nil || !reflect.DeepEqual(s.Linux.Namespaces, want) {
					t.Fatalf("Linux = %+v", s.Linux)
				}
				if len(s.Linux.UIDMappings) != 1 || len(s.Linux.GIDMappings) != 1 {
					t.Fatalf("mappings = %+v / %+v", s.Linux.UIDMappings, s.Linux.GIDMappings)
				}
			},
		},
		{
			name: "existing user namespace is not duplicated",
			in: &specs.Spec{Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
				{Type: specs.UserNamespace, Path: "/proc/1/ns/user"},
				{Type: specs.NetworkNamespace},
				{Type: specs.CgroupNamespace},
			}}},
			check: func(t *testing.T, s *specs.Spec) {
				want := []specs.LinuxNamespace{{Type: specs.CgroupNamespace}, {Type: specs.UserNamespace}}
				if !reflect.DeepEqual(s.Linux.Namespaces, want) {
					t.Fatalf("namespaces = %+v, want %+v", s.Linux.Namespaces, want)
				}
			},
		},
		{
			name: "uid and gid options stripped, sys matched after Clean",
			in: &specs.Spec{Mounts: []specs.Mount{
				{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"uid=1000", "mode=700", "gid=1000"}},
				{Destination: "/sys/", Type: "sysfs", Source: "sysfs"},
				{Destination: "/sys/kernel", Type: "sysfs", Source: "sysfs", Options: []string{"ro"}},
			}},
			check: func(t *testing.T, s *specs.Spec) {
				want := []specs.Mount{
					{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=700"}},
					{Destination: "/sys", Type: "none", Source: "/sys", Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}},
					{Destination: "/sys/kernel", Type: "sysfs", Source: "sysfs", Options: []string{"ro"}},
				}
				if !reflect.DeepEqual(s.Mounts, want) {
					t.Fatalf("mounts = %+v\nwant %+v", s.Mounts, want)
				}
			},
		},
		{
			name: "idempotent",
			in: func() *specs.Spec {
				s := Default()
				ToRootless(s)
				return s
			}(),
			check: func(t *testing.T, s *specs.Spec) {
				once := Default()
				ToRootless(once)
				if !reflect.DeepEqual(s, once) {
					t.Fatalf("ToRootless twice differs from once:\n got %+v\nwant %+v", s, once)
				}
			},
		},
		{
			name: "mappings use effective ids",
			in:   Default(),
			check: func(t *testing.T, s *specs.Spec) {
				u := specs.LinuxIDMapping{ContainerID: 0, HostID: uint32(os.Geteuid()), Size: 1}
				g := specs.LinuxIDMapping{ContainerID: 0, HostID: uint32(os.Getegid()), Size: 1}
				if !reflect.DeepEqual(s.Linux.UIDMappings, []specs.LinuxIDMapping{u}) ||
					!reflect.DeepEqual(s.Linux.GIDMappings, []specs.LinuxIDMapping{g}) {
					t.Fatalf("mappings = %+v / %+v", s.Linux.UIDMappings, s.Linux.GIDMappings)
				}
				if s.Linux.Resources != nil {
					t.Fatal("resources kept")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ToRootless(tt.in)
			tt.check(t, tt.in)
		})
	}
}
