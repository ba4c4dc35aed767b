package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The named v1 hierarchy name=systemd of a v1 or hybrid host: runc 1.1
// places every container in it (a directory at the container's cgroup
// path), and shows it at /sys/fs/cgroup/systemd in the container's cgroup
// mount.

// systemdKey is the name=systemd hierarchy's field in /proc/<pid>/cgroup.
const systemdKey = "name=systemd"

// systemdMountpoint returns where name=systemd is mounted on the host,
// skipping the test in the v2 view or where it is not mounted.
func systemdMountpoint(t *testing.T) string {
	t.Helper()
	if cgroupV2 {
		t.Skip("the cgroup v2 view has no name=systemd hierarchy")
	}
	mnt := v1Mountpoint(systemdKey)
	if mnt == "" {
		t.Skip("no name=systemd hierarchy is mounted")
	}
	return mnt
}

// TestCgroupsNameSystemdPlacesInitAndExec checks that the init and an exec
// are in the container's name=systemd cgroup, seen from the host and from
// inside, also when the runtime moves the init for it (a new user
// namespace), and that delete -f removes the directory.
func TestCgroupsNameSystemdPlacesInitAndExec(t *testing.T) {
	mnt := systemdMountpoint(t)
	for _, tc := range []struct {
		name string
		mods []func(*specs.Spec)
	}{
		{"plain", nil},
		{"user namespace", []func(*specs.Spec){joinUserNSMappings}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := newID(t)
			cgPath := "/" + id + "-cg"
			mods := append([]func(*specs.Spec){func(s *specs.Spec) { s.Linux.CgroupsPath = cgPath }}, tc.mods...)
			rt(t, "create", "--bundle", newBundle(t, mods...), id).ok(t)
			rt(t, "start", id).ok(t)
			pid := waitStatus(t, id, "running", 10*time.Second).Pid
			dir := filepath.Join(mnt, cgPath)
			if got := procCgroups(t, pid)[systemdKey]; got != cgPath {
				t.Errorf("init's name=systemd cgroup = %q, want %q", got, cgPath)
			}
			if !cgroupHasPid(dir, pid) {
				t.Errorf("%s/cgroup.procs does not list the init %d", dir, pid)
			}
			out := rt(t, "exec", id, "cat", "/proc/1/cgroup", "/proc/self/cgroup").ok(t).Stdout
			want := "name=systemd:" + cgPath
			if n := strings.Count(out, want+"\n"); n != 2 {
				t.Errorf("in the container, /proc/1/cgroup and an exec's /proc/self/cgroup should both list %q; got:\n%s", want, out)
			}
			pidFile := filepath.Join(newDir(t, "xp"), "exec.pid")
			rt(t, "exec", "-d", "--pid-file", pidFile, id, "sleep", "100").ok(t)
			b, err := os.ReadFile(pidFile)
			if err != nil {
				t.Fatal(err)
			}
			execPid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatalf("exec pid file: %v", err)
			}
			if !cgroupHasPid(dir, execPid) {
				t.Errorf("%s/cgroup.procs does not list the exec %d", dir, execPid)
			}
			rt(t, "delete", "-f", id).ok(t)
			if fileExists(dir) {
				t.Errorf("%s remains after delete -f", dir)
			}
			if dirs := cgroupDirsMatching([]string{id}); len(dirs) != 0 {
				t.Errorf("cgroup dirs remain after delete -f: %v", dirs)
			}
		})
	}
}

// TestCgroupsNameSystemdRemovedAfterDelete checks the default cgroup path:
// the name=systemd directory exists while the container runs and is gone
// after a plain delete of the stopped container.
func TestCgroupsNameSystemdRemovedAfterDelete(t *testing.T) {
	mnt := systemdMountpoint(t)
	id := newID(t)
	rt(t, "create", "--bundle", newBundle(t, withProbe("sleep", "0.2")), id).ok(t)
	pid := getState(t, id).Pid
	path := procCgroups(t, pid)[systemdKey]
	if !strings.Contains(path, id) {
		t.Fatalf("name=systemd cgroup %q of the init is not the container's (all: %v)", path, procCgroups(t, pid))
	}
	dir := filepath.Join(mnt, path)
	if !fileExists(dir) {
		t.Errorf("%s does not exist while the container is created", dir)
	}
	rt(t, "start", id).ok(t)
	waitStatus(t, id, "stopped", 10*time.Second)
	rt(t, "delete", id).ok(t)
	if fileExists(dir) {
		t.Errorf("%s remains after delete", dir)
	}
}

// TestCgroupsNameSystemdRemovedAfterFailedCreate checks a create that
// fails after the init was placed (a createRuntime hook fails; it notes
// whether the init is in the name=systemd cgroup then): nothing is left in
// name=systemd.
func TestCgroupsNameSystemdRemovedAfterFailedCreate(t *testing.T) {
	mnt := systemdMountpoint(t)
	id := newID(t)
	cgPath := "/" + id + "-cg"
	dir := filepath.Join(mnt, cgPath)
	marker := filepath.Join(newDir(t, "hk"), "placed")
	hook := specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c",
		`pid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p'); grep -qx "$pid" "$0/cgroup.procs" && touch "$1"; exit 1`, dir, marker}}
	bundle := newBundle(t, func(s *specs.Spec) {
		s.Linux.CgroupsPath = cgPath
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{hook}}
	})
	rt(t, "create", "--bundle", bundle, id).failed(t)
	if !fileExists(marker) {
		t.Errorf("the init was not in %s when the createRuntime hook ran", dir)
	}
	if fileExists(dir) {
		t.Errorf("%s remains after a failed create", dir)
	}
	if dirs := cgroupDirsMatching([]string{id}); len(dirs) != 0 {
		t.Errorf("cgroup dirs remain after a failed create: %v", dirs)
	}
}

// TestCgroupsNameSystemdMountedInContainer checks the container's cgroup
// mount: /sys/fs/cgroup/systemd shows the container's name=systemd cgroup
// (bind-mounted, or the namespace's root in a cgroup namespace), and the
// unified tree of a hybrid host is not there, as with runc.
func TestCgroupsNameSystemdMountedInContainer(t *testing.T) {
	systemdMountpoint(t)
	for _, tc := range []struct {
		name     string
		cgroupNS bool
	}{{"host cgroup namespace", false}, {"own cgroup namespace", true}} {
		t.Run(tc.name, func(t *testing.T) {
			id := newID(t)
			cgPath := "/" + id + "-cg"
			mods := []func(*specs.Spec){withProbe("mounts"), func(s *specs.Spec) { s.Linux.CgroupsPath = cgPath }}
			if tc.cgroupNS {
				mods = append(mods, withNamespace(specs.LinuxNamespace{Type: specs.CgroupNamespace}))
			}
			out := rt(t, "run", "--bundle", newBundle(t, mods...), id).ok(t).Stdout
			mounts := parseMountinfo(out)
			m, ok := findMount(mounts, "/sys/fs/cgroup/systemd")
			if !ok {
				t.Fatalf("no mount at /sys/fs/cgroup/systemd:\n%s", out)
			}
			wantRoot := cgPath
			if tc.cgroupNS {
				wantRoot = "/"
			}
			if m.FSType != "cgroup" || !hasOption(m.SuperOptions, systemdKey) || m.Root != wantRoot {
				t.Errorf("/sys/fs/cgroup/systemd is %+v, want cgroup name=systemd with root %s", m, wantRoot)
			}
			if !hasOption(m.Options, "ro") {
				t.Errorf("/sys/fs/cgroup/systemd is not read-only like the cgroup mount: %s", m.Options)
			}
			if m, ok := findMount(mounts, "/sys/fs/cgroup/unified"); ok {
				t.Errorf("the unified tree is mounted in the container (runc mounts only v1 hierarchies): %+v", m)
			}
		})
	}
}

// TestCgroupsNameSystemdRemovedWithoutCgroupKill runs a container in a v1
// view of the host (the unified tree unmounted in a private mount
// namespace), where there is no cgroup.kill and delete -f kills pid by pid:
// the container's processes are gone and so is every cgroup directory,
// name=systemd's included.
func TestCgroupsNameSystemdRemovedWithoutCgroupKill(t *testing.T) {
	mnt := systemdMountpoint(t)
	if !fileExists("/sys/fs/cgroup/unified/cgroup.procs") {
		t.Skip("no unified tree: the host is v1 already")
	}
	id := newID(t)
	cgPath := "/" + id + "-cg"
	bundle := newBundle(t, withShellCmd("sleep 100 & sleep 100 & exec probe sleep"),
		func(s *specs.Spec) { s.Linux.CgroupsPath = cgPath })
	script := `set -e
mount --make-rprivate /
umount /sys/fs/cgroup/unified
"$0" --root "$1" create --bundle "$2" "$3" >/dev/null
"$0" --root "$1" start "$3"
for i in $(seq 100); do [ "$(wc -l < "$4/pids$5/cgroup.procs")" -ge 3 ] && break; sleep 0.05; done
cat "$4/pids$5/cgroup.procs" | tr '\n' ' '
grep -q . "$6$5/cgroup.procs" && echo in-name=systemd
"$0" --root "$1" delete -f "$3"`
	cmd := exec.Command("unshare", "-m", "sh", "-c", script, berthBin, stateRoot(t), bundle, id, cgroupRoot, cgPath, mnt)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("in the v1 view: %v\n%s", err, out)
	}
	pids, _, placed := strings.Cut(string(out), "in-name=systemd")
	if !placed {
		t.Errorf("the container's name=systemd cgroup %s had no process while it ran", filepath.Join(mnt, cgPath))
	}
	if n := len(strings.Fields(pids)); n < 3 {
		t.Errorf("the container had %d processes, want the init and its two children: %q", n, out)
	}
	for _, f := range strings.Fields(pids) {
		if pid, _ := strconv.Atoi(f); pidAlive(pid) {
			t.Errorf("process %s of the container is still there after delete -f", f)
		}
	}
	if dir := filepath.Join(mnt, cgPath); fileExists(dir) {
		t.Errorf("%s remains after delete -f", dir)
	}
	if dirs := cgroupDirsMatching([]string{id}); len(dirs) != 0 {
		t.Errorf("cgroup dirs remain after delete -f: %v", dirs)
	}
}
