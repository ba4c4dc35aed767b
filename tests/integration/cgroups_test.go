package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cgroupHasPid reports whether dir's cgroup.procs lists pid.
func cgroupHasPid(dir string, pid int) bool {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return false
	}
	for _, l := range strings.Fields(string(b)) {
		if l == strconv.Itoa(pid) {
			return true
		}
	}
	return false
}

// TestCgroupsPathAbsolutePlacesInit checks that the init is placed in the
// cgroup named by an absolute linux.cgroupsPath and that delete removes it.
func TestCgroupsPathAbsolutePlacesInit(t *testing.T) {
	id := newID(t)
	cgPath := "/" + id + "-cg"
	bundle := newBundle(t, func(s *specs.Spec) { s.Linux.CgroupsPath = cgPath })
	rt(t, "create", "--bundle", bundle, id).ok(t)
	rt(t, "start", id).ok(t)
	pid := getState(t, id).Pid

	path, dir := cgroupDirOf(t, pid)
	if path != cgPath {
		t.Errorf("init cgroup = %q, want %q (all: %v)", path, cgPath, procCgroups(t, pid))
	}
	if !cgroupV2 {
		if got := procCgroups(t, pid)["memory"]; got != cgPath {
			t.Errorf("memory cgroup = %q, want %q", got, cgPath)
		}
	}
	if !cgroupHasPid(dir, pid) {
		t.Errorf("%s/cgroup.procs does not list %d", dir, pid)
	}
	rt(t, "delete", "-f", id).ok(t)
	if fileExists(dir) {
		t.Errorf("cgroup %s remains after delete", dir)
	}
}

// TestCgroupsPathDefaultCreatedAndRemoved checks the cgroup used when
// cgroupsPath is empty: it is named after the container, holds the init,
// and goes away on delete.
func TestCgroupsPathDefaultCreatedAndRemoved(t *testing.T) {
	bundle := newBundle(t)
	id, _ := createStarted(t, bundle)
	pid := getState(t, id).Pid
	path, dir := cgroupDirOf(t, pid)
	if !strings.Contains(filepath.Base(path), id) {
		t.Errorf("default cgroup %q is not named after %s", path, id)
	}
	if !cgroupHasPid(dir, pid) {
		t.Errorf("%s/cgroup.procs does not list %d", dir, pid)
	}
	if dirs := cgroupDirsMatching([]string{id}); len(dirs) == 0 {
		t.Errorf("no cgroup dir named after %s", id)
	}
	rt(t, "delete", "-f", id).ok(t)
	if fileExists(dir) {
		t.Errorf("cgroup %s remains after delete", dir)
	}
	if dirs := cgroupDirsMatching([]string{id}); len(dirs) != 0 {
		t.Errorf("cgroup dirs remain after delete: %v", dirs)
	}
}

// TestCgroupsV1EmptyCpusetParentFilled checks a container whose parent
// cgroup exists with an empty cpuset (another create just made it, under
// containerd's /<namespace>/ or a pod's parent, and has not filled it yet):
// the create fills the parent from its own parent, as runc does, instead of
// copying the empty values and failing to join with ENOSPC.
func TestCgroupsV1EmptyCpusetParentFilled(t *testing.T) {
	skipInV2View(t, "cpuset")
	mnt := v1Mountpoint("cpuset")
	if mnt == "" {
		t.Skip("no v1 cpuset hierarchy")
	}
	id := newID(t)
	parent := "/" + id + "-parent"
	if err := os.Mkdir(mnt+parent, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The parent is the caller's, not the runtime's: runc leaves it too.
		ents, _ := os.ReadDir(cgroupRoot)
		for _, e := range ents {
			syscall.Rmdir(filepath.Join(cgroupRoot, e.Name(), parent))
		}
	})
	if b, _ := os.ReadFile(mnt + parent + "/cpuset.cpus"); strings.TrimSpace(string(b)) != "" {
		t.Skipf("a new cpuset cgroup is not empty here (%q): nothing to test", b)
	}
	bundle := newBundle(t, withArgs("true"), func(s *specs.Spec) { s.Linux.CgroupsPath = parent + "/" + id })
	rt(t, "run", "--bundle", bundle, id).ok(t)
	want, _ := os.ReadFile(mnt + "/cpuset.cpus")
	if got, _ := os.ReadFile(mnt + parent + "/cpuset.cpus"); string(got) != string(want) {
		t.Errorf("parent cpuset.cpus %q, want the root's %q", got, want)
	}
}
