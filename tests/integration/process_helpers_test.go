package integration

// Processes seen from the host: liveness, namespaces, cgroups.

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-runtime/berth/tests/internal/testkit"
)

// pidAlive reports whether pid exists and is not a zombie.
func pidAlive(pid int) bool { return testkit.PidAlive(pid) }

// hostNamespaces returns readlink(/proc/self/ns/*) of the test process.
func hostNamespaces(t *testing.T) map[string]string {
	t.Helper()
	return namespacesOf(t, "self")
}

// namespacesOf returns readlink(/proc/PID/ns/*).
func namespacesOf(t *testing.T, pid string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir("/proc/" + pid + "/ns")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		l, err := os.Readlink(filepath.Join("/proc", pid, "ns", e.Name()))
		if err == nil {
			out[e.Name()] = l
		}
	}
	return out
}

// procCgroups parses /proc/PID/cgroup into controller-list -> path, e.g.
// "" -> "/x" for the v2 line and "pids" -> "/x" for v1.
func procCgroups(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	return parseCgroupFile(string(b))
}

// parseCgroupFile parses /proc/*/cgroup text.
func parseCgroupFile(text string) map[string]string { return testkit.ParseProcCgroup(text) }

// cgroupDirOf returns the host directory of pid's cgroup in a hierarchy
// that must exist in both modes: the unified one in v2 mode, pids in v1.
func cgroupDirOf(t *testing.T, pid int) (ctrlPath, dir string) {
	t.Helper()
	cg := procCgroups(t, pid)
	if cgroupV2 {
		return cg[""], filepath.Join(cgroupRoot, cg[""])
	}
	return cg["pids"], filepath.Join(cgroupRoot, "pids", cg["pids"])
}
