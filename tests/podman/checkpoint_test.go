package podmantest

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-runtime/berth/tests/internal/testkit"
)

// requireCRIU skips where CRIU cannot work, and for rootless podman,
// which cannot checkpoint.
func requireCRIU(t *testing.T) {
	t.Helper()
	skipRootless(t, "podman checkpoints only as root (CRIU)")
	testkit.RequireCRIU(t)
}

// counterArgs count on a tmpfs (CRIU saves its contents) every 100 ms,
// renaming the count into place: a reader of the file the shell has just
// truncated would see it empty.
var counterArgs = []string{"sh", "-c", `i=0; while :; do i=$((i+1)); echo $i > /dev/shm/count.new; mv /dev/shm/count.new /dev/shm/count; usleep 100000; done`}

// podmanCount reads the counter of container id.
func podmanCount(t *testing.T, id string) int {
	t.Helper()
	out := podmanOK(t, "exec", id, "cat", "/dev/shm/count")
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("counter of %s: %q", id, out)
	}
	return n
}

// podmanCounting waits until the counter of id goes past n.
func podmanCounting(t *testing.T, id string, n int) int {
	t.Helper()
	return testkit.CountsPast(t, "counter of "+id, n, func() int { return podmanCount(t, id) })
}

// TestCheckpointRestore: podman container checkpoint / restore through
// the runtime (conmon runs `restore`), in place and through an exported
// archive restored under a new name.
func TestCheckpointRestore(t *testing.T) {
	requireCRIU(t)
	id := runDetached(t, nil, counterArgs...)
	n := podmanCounting(t, id, 2)
	t0 := time.Now()
	podmanOK(t, "container", "checkpoint", id)
	t.Logf("podman checkpoint: %v", time.Since(t0).Round(time.Millisecond))
	if got := inspect(t, id, "{{.State.Status}}"); got != "exited" {
		t.Errorf("after checkpoint podman says %q, want exited", got)
	}
	if !shim.Called("checkpoint", id) {
		t.Errorf("no `checkpoint %s` in the shim log", id)
	}
	t0 = time.Now()
	podmanOK(t, "container", "restore", id)
	t.Logf("podman restore: %v", time.Since(t0).Round(time.Millisecond))
	if !shim.Called("restore", id) {
		t.Errorf("no `restore %s` in the shim log", id)
	}
	if got := inspect(t, id, "{{.State.Status}}"); got != "running" {
		t.Fatalf("after restore podman says %q, want running", got)
	}
	if after := podmanCount(t, id); after < n {
		t.Fatalf("counter went back from %d to %d: not the checkpointed process", n, after)
	}
	n = podmanCounting(t, id, podmanCount(t, id))

	archive := filepath.Join(tmp, "ck-"+id[:12]+".tar.gz")
	podmanOK(t, "container", "checkpoint", "--export", archive, id)
	name := "restored-" + strconv.FormatInt(seq.Add(1), 10)
	podmanOK(t, "container", "restore", "--import", archive, "--name", name)
	t.Cleanup(func() { removeContainer(t, name) })
	if after := podmanCount(t, name); after < n {
		t.Fatalf("imported copy counts from %d, checkpointed at %d or more", after, n)
	}
	podmanCounting(t, name, podmanCount(t, name))
	podmanOK(t, "rm", "-f", "-t", "0", name)
}

// TestCheckpointLeaveRunning: --leave-running keeps the container going.
func TestCheckpointLeaveRunning(t *testing.T) {
	requireCRIU(t)
	id := runDetached(t, nil, counterArgs...)
	podmanCounting(t, id, 2)
	podmanOK(t, "container", "checkpoint", "--leave-running", id)
	if got := inspect(t, id, "{{.State.Status}}"); got != "running" {
		t.Fatalf("after checkpoint --leave-running podman says %q", got)
	}
	podmanCounting(t, id, podmanCount(t, id))
}
