package cgroups

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseV1Mounts(t *testing.T) {
	for _, tc := range []struct {
		name, mountinfo string
		want            map[string]string
	}{
		{
			name: "hybrid host: controllers and name=systemd, not unified or other named hierarchies",
			mountinfo: `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,xattr,pids,release_agent=/x
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
42 31 0:39 / /sys/fs/cgroup/elogind rw,relatime - cgroup cgroup rw,name=elogind`,
			want: map[string]string{
				"cpu,cpuacct": "/sys/fs/cgroup/cpu,cpuacct",
				"memory":      "/sys/fs/cgroup/memory",
				"pids":        "/sys/fs/cgroup/pids",
				SystemdKey:    "/sys/fs/cgroup/systemd",
			},
		},
		{
			name:      "name=systemd outside /sys/fs/cgroup is not the host's",
			mountinfo: `40 31 0:37 / /run/x/systemd rw - cgroup cgroup rw,name=systemd`,
			want:      map[string]string{},
		},
		{
			name:      "v2 host",
			mountinfo: `31 23 0:28 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate`,
			want:      map[string]string{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseV1Mounts(strings.NewReader(tc.mountinfo))
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSubStaysInSystemdWithoutSubCgroup checks exec --cgroup with one path
// for every hierarchy: a caller makes the sub-cgroup where the controllers
// are; where name=systemd has none, the process stays in the container's.
func TestSubStaysInSystemdWithoutSubCgroup(t *testing.T) {
	root := t.TempDir()
	m := &Manager{Mode: Legacy, Paths: map[string]string{
		"pids":     filepath.Join(root, "pids", "c"),
		SystemdKey: filepath.Join(root, "systemd", "c"),
	}}
	for _, d := range []string{m.Paths["pids"] + "/sub", m.Paths[SystemdKey]} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sub, err := m.Sub("sub")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sub.Paths["pids"], m.Paths["pids"]+"/sub"; got != want {
		t.Errorf("pids: %s, want %s", got, want)
	}
	if got, want := sub.Paths[SystemdKey], m.Paths[SystemdKey]; got != want {
		t.Errorf("name=systemd: %s, want %s", got, want)
	}
	if _, err := m.Sub("pids:missing"); err == nil {
		t.Error("a missing sub-cgroup of a named controller is accepted")
	}
}

func TestParseUnit(t *testing.T) {
	for in, want := range map[string]string{
		"":                               "system.slice:berth:id1",
		"system.slice:docker:abc":        "system.slice:docker:abc",
		"machine.slice:libpod:abc":       "machine.slice:libpod:abc",
		"kubepods-burstable.slice:cri:x": "kubepods-burstable.slice:cri:x",
	} {
		u, err := ParseUnit(in, "id1", false)
		if err != nil || u.String() != want {
			t.Errorf("ParseUnit(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	// a rootless caller's default is in its user manager's user.slice
	if u, err := ParseUnit("", "id1", true); err != nil || u.String() != "user.slice:berth:id1" || !u.User {
		t.Errorf("ParseUnit(\"\", user) = %+v, %v; want user.slice:berth:id1 of the user manager", u, err)
	}
	for _, bad := range []string{"/abs/path", "a:b", "a:b:c:d", "system.slice:p:", "s:p:a/b"} {
		if _, err := ParseUnit(bad, "id1", false); err == nil {
			t.Errorf("ParseUnit(%q) succeeded, want an error", bad)
		}
	}
}
