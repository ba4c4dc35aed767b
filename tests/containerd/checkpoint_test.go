package containerd

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-runtime/berth/tests/internal/testkit"
)

// ctrCount reads the counter of task name through `ctr task exec`.
func ctrCount(t *testing.T, name string) int {
	t.Helper()
	r := ctr(t, "task", "exec", "--exec-id", uniq("c"), name, "cat", "/dev/shm/count")
	n, err := strconv.Atoi(strings.TrimSpace(r.Out))
	if r.Code != 0 || err != nil {
		t.Fatalf("counter of %s: %v", name, r)
	}
	return n
}

func ctrCounting(t *testing.T, name string, n int) int {
	t.Helper()
	return testkit.CountsPast(t, "counter of "+name, n, func() int { return ctrCount(t, name) })
}

// TestCtrCheckpointRestore: `ctr containers checkpoint --task` and
// `ctr containers restore --live` through the runc v2 shim with Berth as
// its runc binary: the shim runs `checkpoint` and `restore` (with its own
// stdio pipes, which the restored process must get).
func TestCtrCheckpointRestore(t *testing.T) {
	testkit.RequireCRIU(t)
	name := ctrRunD(t, nil, "sh", "-c", `i=0; while :; do i=$((i+1)); echo $i > /dev/shm/count.new; mv /dev/shm/count.new /dev/shm/count; usleep 100000; done`)
	n := ctrCounting(t, name, 2)
	ref := "localhost/berth-checkpoint/" + name + ":1"
	t.Cleanup(func() { exec.Command("ctr", "-a", suite.sock, "-n", suite.ns, "image", "rm", ref).Run() })
	t0 := time.Now()
	if r := ctr(t, "containers", "checkpoint", "--task", name, ref); r.Code != 0 {
		t.Fatalf("checkpoint: %v", r)
	}
	t.Logf("ctr checkpoint: %v", time.Since(t0).Round(time.Millisecond))
	if !suite.shim.Called("checkpoint") {
		t.Errorf("the shim never ran `checkpoint`: %q", suite.shim.Calls())
	}
	ctr(t, "task", "rm", "-f", name)
	if r := ctr(t, "containers", "rm", name); r.Code != 0 {
		t.Fatalf("remove the checkpointed container: %v", r)
	}
	t0 = time.Now()
	if r := ctr(t, "containers", "restore", "--live", name, ref); r.Code != 0 {
		t.Fatalf("restore: %v", r)
	}
	t.Logf("ctr restore: %v", time.Since(t0).Round(time.Millisecond))
	if !suite.shim.Called("restore") {
		t.Errorf("the shim never ran `restore`: %q", suite.shim.Calls())
	}
	waitStatus(t, name, "RUNNING")
	if after := ctrCount(t, name); after < n {
		t.Fatalf("counter went back from %d to %d: not the checkpointed process", n, after)
	}
	ctrCounting(t, name, ctrCount(t, name))
}
