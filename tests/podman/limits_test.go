package podmantest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/berth-runtime/berth/tests/internal/testkit"
)

// TestMemoryLimitAndUpdate: --memory sets the cgroup's limit (read on the
// host) and podman update --memory changes it through the runtime's update.
func TestMemoryLimitAndUpdate(t *testing.T) {
	t.Parallel()
	id := runDetached(t, []string{"--memory", "64m"}, "sleep", "1000")
	if got := limit(t, id, testkit.LimitMemory); got != "67108864" {
		t.Errorf("memory limit = %s, want 67108864 (64m)", got)
	}
	inside := "/sys/fs/cgroup/memory/memory.limit_in_bytes"
	if testkit.Unified() {
		inside = "/sys/fs/cgroup/memory.max"
	}
	if r := podman(t, "exec", id, "cat", inside); r.Code != 0 || r.Out != "67108864\n" {
		t.Errorf("the container sees: %s", r)
	}
	podmanOK(t, "update", "--memory", "96m", id)
	if got := limit(t, id, testkit.LimitMemory); got != "100663296" {
		t.Errorf("memory limit = %s after update, want 100663296 (96m)", got)
	}
	if !shim.Called("update", id) {
		t.Errorf("no update of %s in the shim log", id)
	}
}

// TestCpus: --cpus 0.5 is a CFS quota of half the period.
func TestCpus(t *testing.T) {
	t.Parallel()
	id := runDetached(t, []string{"--cpus", "0.5"}, "sleep", "1000")
	if got := limit(t, id, testkit.LimitCPU); got != "50000 100000" {
		t.Errorf("cfs quota and period = %s, want 50000 100000", got)
	}
}

// TestPidsLimit: --pids-limit sets pids.max and forks past it fail.
func TestPidsLimit(t *testing.T) {
	t.Parallel()
	id := runDetached(t, []string{"--pids-limit", "8"}, "sleep", "1000")
	if got := limit(t, id, testkit.LimitPids); got != "8" {
		t.Errorf("pids.max = %s, want 8", got)
	}
	// 1 (sleep) + 1 (sh) + background sleeps: the eighth task is the last.
	r := podman(t, "exec", id, "sh", "-c", `i=0; while [ $i -lt 12 ]; do sleep 30 & i=$((i+1)); done; echo started`)
	if !strings.Contains(r.Err, "can't fork") {
		t.Errorf("12 forks under pids-limit 8: %s; want can't fork", r)
	}
}

// TestUlimit: --ulimit sets the container's rlimits; the configured
// default_ulimits apply otherwise. Any --ulimit flag replaces all of
// default_ulimits, and podman then sets nofile and nproc it was not given
// to 1048576, which this host's hard limits refuse (with runc too): so
// both are passed.
func TestUlimit(t *testing.T) {
	t.Parallel()
	r, _ := run(t, []string{"--rm", "--ulimit", "nofile=512:768", "--ulimit", "nproc=300:400"}, "sh", "-c",
		"ulimit -Sn; ulimit -Hn; ulimit -Su; ulimit -Hu")
	if r.Code != 0 || r.Out != "512\n768\n300\n400\n" {
		t.Errorf("--ulimit nofile=512:768 nproc=300:400: %s", r)
	}
	nofile, nproc, err := defaultUlimits()
	if err != nil {
		t.Fatal(err)
	}
	r, _ = run(t, []string{"--rm"}, "sh", "-c", "ulimit -Hn; ulimit -Hu")
	if want := fmt.Sprintf("%d\n%d\n", nofile, nproc); r.Code != 0 || r.Out != want {
		t.Errorf("defaults: %s; want %q from default_ulimits", r, want)
	}
}
