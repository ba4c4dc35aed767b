package integration

import (
	"encoding/json"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestProcessArgsPassedVerbatim checks that args reach the process intact.
func TestProcessArgsPassedVerbatim(t *testing.T) {
	want := []string{"a b", "", `c"d`, "--flag=x"}
	out := runOK(t, withProbe(append([]string{"args"}, want...)...))
	var got []string
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("probe args: %v: %q", err, out)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("args = %q, want %q", got, want)
	}
}

// TestProcessEnvSet checks process.env.
func TestProcessEnvSet(t *testing.T) {
	out := runOK(t, withProbe("env"), func(s *specs.Spec) {
		s.Process.Env = []string{"PATH=/bin", "FOO=bar baz", "EMPTY="}
	})
	env := lines(out)
	for _, want := range []string{"PATH=/bin", "FOO=bar baz", "EMPTY="} {
		if !contains(env, want) {
			t.Errorf("env lacks %q: %q", want, env)
		}
	}
	for _, e := range env {
		if strings.HasPrefix(e, "TERM=") {
			t.Errorf("env has %q though the spec does not set it", e)
		}
	}
}

// TestProcessCwdCreatedIfMissing checks that a missing cwd is created.
func TestProcessCwdCreatedIfMissing(t *testing.T) {
	out := runOK(t, withProbe("cwd"), func(s *specs.Spec) { s.Process.Cwd = "/work/sub/dir" })
	if got := strings.TrimSpace(out); got != "/work/sub/dir" {
		t.Errorf("cwd = %q, want /work/sub/dir", got)
	}
}

// TestProcessUserIDsGroupsAndUmask checks process.user.
func TestProcessUserIDsGroupsAndUmask(t *testing.T) {
	umask := uint32(0o027)
	out := runOK(t, withArgs("/bin/sh", "-c", "probe ids; probe umask"), func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 1000, GID: 1001, AdditionalGids: []uint32{10, 20}, Umask: &umask}
	})
	ls := lines(out)
	if len(ls) != 2 {
		t.Fatalf("output %q", out)
	}
	var ids struct {
		UID, GID, EUID, EGID int
		Groups               []int
	}
	if err := json.Unmarshal([]byte(ls[0]), &ids); err != nil {
		t.Fatalf("probe ids: %v: %q", err, ls[0])
	}
	if ids.UID != 1000 || ids.EUID != 1000 || ids.GID != 1001 || ids.EGID != 1001 {
		t.Errorf("ids = %+v, want uid 1000 gid 1001", ids)
	}
	sort.Ints(ids.Groups)
	if !reflect.DeepEqual(ids.Groups, []int{10, 20}) {
		t.Errorf("groups = %v, want [10 20]", ids.Groups)
	}
	if ls[1] != "0027" {
		t.Errorf("umask = %q, want 0027", ls[1])
	}
}

// capBits parses `probe caps` output into name -> bitmask.
func capBits(t *testing.T, out string) map[string]uint64 {
	t.Helper()
	m := map[string]uint64{}
	for _, l := range lines(out) {
		name, val, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		v, err := strconv.ParseUint(strings.TrimSpace(val), 16, 64)
		if err != nil {
			t.Fatalf("caps line %q: %v", l, err)
		}
		m[name] = v
	}
	return m
}

// TestCapabilitiesAsGiven checks each capability set, for root and for a
// non-root user holding an ambient capability. (For uid 0 the kernel makes
// the effective set equal to the permitted set on execve, so the root case
// asks for equal permitted and effective sets.)
func TestCapabilitiesAsGiven(t *testing.T) {
	const chown, kill, netRaw = 1 << 0, 1 << 5, 1 << 13
	cases := []struct {
		name string
		user specs.User
		caps specs.LinuxCapabilities
		want map[string]uint64
	}{
		{
			name: "root",
			caps: specs.LinuxCapabilities{
				Bounding:  []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"},
				Effective: []string{"CAP_CHOWN", "CAP_KILL"},
				Permitted: []string{"CAP_CHOWN", "CAP_KILL"},
			},
			want: map[string]uint64{"CapBnd": chown | kill | netRaw, "CapPrm": chown | kill, "CapEff": chown | kill, "CapInh": 0, "CapAmb": 0},
		},
		{
			name: "non-root with ambient",
			user: specs.User{UID: 1000, GID: 1000},
			caps: specs.LinuxCapabilities{
				Bounding:    []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"},
				Effective:   []string{"CAP_CHOWN", "CAP_KILL"},
				Permitted:   []string{"CAP_CHOWN", "CAP_KILL"},
				Inheritable: []string{"CAP_CHOWN", "CAP_KILL"},
				Ambient:     []string{"CAP_KILL"},
			},
			want: map[string]uint64{"CapBnd": chown | kill | netRaw, "CapPrm": kill, "CapEff": kill, "CapInh": chown | kill, "CapAmb": kill},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := runOK(t, withProbe("caps"), func(s *specs.Spec) {
				s.Process.User = tc.user
				caps := tc.caps
				s.Process.Capabilities = &caps
			})
			got := capBits(t, out)
			for set, w := range tc.want {
				if v, ok := got[set]; !ok || v != w {
					t.Errorf("%s = %#x, want %#x", set, v, w)
				}
			}
		})
	}
}

// TestCapabilitiesDefaultSet checks the default spec's capabilities.
func TestCapabilitiesDefaultSet(t *testing.T) {
	got := capBits(t, runOK(t, withProbe("caps")))
	const auditWrite, kill, netBind = 1 << 29, 1 << 5, 1 << 10
	for _, set := range []string{"CapBnd", "CapEff", "CapPrm"} {
		if got[set] != auditWrite|kill|netBind {
			t.Errorf("%s = %#x, want %#x", set, got[set], uint64(auditWrite|kill|netBind))
		}
	}
}

// TestMalformedCapabilityFailsCreate checks that a name that cannot be a
// capability is refused and named (a well-formed unknown one is a warning:
// TestParityUnknownCapabilityWarns).
func TestMalformedCapabilityFailsCreate(t *testing.T) {
	bundle := newBundle(t, func(s *specs.Spec) {
		s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_NOT A-CAPABILITY")
	})
	id := newID(t)
	rt(t, "create", "--bundle", bundle, id).failed(t, "CAP_NOT A-CAPABILITY")
	assertNothingLeft(t, id)
}

// TestRlimitsApplied checks process.rlimits. The probe is a Go program,
// and Go raises its own soft RLIMIT_NOFILE to the hard limit at startup, so
// NOFILE is read through busybox's ulimit and the rest through the probe.
func TestRlimitsApplied(t *testing.T) {
	limits := []specs.POSIXRlimit{
		{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200},
		{Type: "RLIMIT_CORE", Soft: 1024, Hard: 4096},
		{Type: "RLIMIT_NPROC", Soft: 500, Hard: 600},
	}
	out := runOK(t, withArgs("/bin/sh", "-c", "ulimit -Sn; ulimit -Hn; probe rlimits"),
		func(s *specs.Spec) { s.Process.Rlimits = limits })
	ls := lines(out)
	if len(ls) != 3 {
		t.Fatalf("output %q", out)
	}
	if ls[0] != "100" || ls[1] != "200" {
		t.Errorf("RLIMIT_NOFILE = %s/%s, want 100/200", ls[0], ls[1])
	}
	var got map[string]struct{ Soft, Hard uint64 }
	if err := json.Unmarshal([]byte(ls[2]), &got); err != nil {
		t.Fatalf("probe rlimits: %v: %q", err, ls[2])
	}
	for _, l := range limits[1:] {
		if g := got[l.Type]; g.Soft != l.Soft || g.Hard != l.Hard {
			t.Errorf("%s = %d/%d, want %d/%d", l.Type, g.Soft, g.Hard, l.Soft, l.Hard)
		}
	}
}

// TestRlimitAboveKernelMaximumFailsCreate asks for an RLIMIT_NOFILE hard
// limit above fs.nr_open, which not even root may set: create must fail
// and name the limit. (Root may raise a hard limit above its own, so the
// kernel maximum is the limit that can never be granted.)
func TestRlimitAboveKernelMaximumFailsCreate(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/fs/nr_open")
	if err != nil {
		t.Skipf("fs.nr_open: %v", err)
	}
	nrOpen, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	bundle := newBundle(t, func(s *specs.Spec) {
		s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: nrOpen + 1}}
	})
	id := newID(t)
	r := rt(t, "create", "--bundle", bundle, id).failed(t)
	if !strings.Contains(strings.ToUpper(r.Output()), "NOFILE") {
		t.Errorf("error does not name RLIMIT_NOFILE: %s", r)
	}
	assertNothingLeft(t, id)
}

// TestNoNewPrivileges checks process.noNewPrivileges both ways.
func TestNoNewPrivileges(t *testing.T) {
	for _, nnp := range []bool{true, false} {
		t.Run(strconv.FormatBool(nnp), func(t *testing.T) {
			out := runOK(t, withProbe("nnp"), func(s *specs.Spec) { s.Process.NoNewPrivileges = nnp })
			want := map[bool]string{true: "1", false: "0"}[nnp]
			if got := strings.TrimSpace(out); got != want {
				t.Errorf("NoNewPrivs = %q, want %s", got, want)
			}
		})
	}
}

// TestOomScoreAdjApplied checks process.oomScoreAdj.
func TestOomScoreAdjApplied(t *testing.T) {
	for _, v := range []int{100, 500} {
		t.Run(strconv.Itoa(v), func(t *testing.T) {
			adj := v
			out := runOK(t, withProbe("oom"), func(s *specs.Spec) { s.Process.OOMScoreAdj = &adj })
			if got := strings.TrimSpace(out); got != strconv.Itoa(v) {
				t.Errorf("oom_score_adj = %q, want %d", got, v)
			}
		})
	}
}
