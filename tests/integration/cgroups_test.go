package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
