package podmantest

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/berth-runtime/berth/tests/internal/testkit"
)

// trapLoop is a container command that reports a signal and exits with a
// code of its own when it gets sig, after printing "ready". The loop
// sleeps in short steps so that the shell runs the trap promptly.
func trapLoop(sig, code string) []string {
	return []string{"sh", "-c", `trap "echo got ` + sig + `; exit ` + code + `" ` + sig + `; echo ready; while :; do sleep 0.1; done`}
}

// waitLogged waits until the container's log has line.
func waitLogged(t *testing.T, id, line string) {
	t.Helper()
	if !testkit.Eventually(20*time.Second, func() bool {
		return strings.Contains(podman(t, "logs", id).Out, line+"\n")
	}) {
		t.Fatalf("%q never appeared in the log of %s: %s", line, id, podman(t, "logs", id))
	}
}

// TestStopHonoursSIGTERM: podman stop sends SIGTERM through the runtime's
// kill, the container's handler runs and its exit code is kept.
func TestStopHonoursSIGTERM(t *testing.T) {
	t.Parallel()
	id := runDetached(t, nil, trapLoop("TERM", "0")...)
	waitLogged(t, id, "ready")
	start := time.Now()
	podmanOK(t, "stop", "-t", "30", id)
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("stop took %v: SIGTERM was not delivered", d)
	}
	if got := inspect(t, id, "{{.State.Status}} {{.State.ExitCode}}"); got != "exited 0" {
		t.Errorf("after stop: %q, want exited 0", got)
	}
	if out := podmanOK(t, "logs", id); !strings.Contains(out, "got TERM") {
		t.Errorf("the handler did not run: log %q", out)
	}
	if !shim.Called("kill", id, "15") {
		t.Errorf("no `kill %s 15` in the shim log", id)
	}
}

// TestStopKillsAfterTimeout: a container ignoring SIGTERM is killed after
// the stop timeout and exits 137.
func TestStopKillsAfterTimeout(t *testing.T) {
	t.Parallel()
	id := runDetached(t, nil, "sh", "-c", `trap "" TERM; echo ready; while :; do sleep 0.1; done`)
	waitLogged(t, id, "ready")
	start := time.Now()
	podmanOK(t, "stop", "-t", "1", id)
	if d := time.Since(start); d < time.Second {
		t.Errorf("stop returned after %v, before its 1s timeout", d)
	}
	if got := inspect(t, id, "{{.State.Status}} {{.State.ExitCode}}"); got != "exited 137" {
		t.Errorf("after stop: %q, want exited 137", got)
	}
	if !shim.Called("kill", id, "9") {
		t.Errorf("no `kill %s 9` in the shim log", id)
	}
}

// TestKillDeliversSignal: podman kill -s USR1 reaches the container.
func TestKillDeliversSignal(t *testing.T) {
	t.Parallel()
	id := runDetached(t, nil, trapLoop("USR1", "7")...)
	waitLogged(t, id, "ready")
	podmanOK(t, "kill", "-s", "USR1", id)
	if code := waitExit(t, id); code != "7" {
		t.Errorf("exit code %q, want 7 from the USR1 handler", code)
	}
	if out := podmanOK(t, "logs", id); !strings.Contains(out, "got USR1") {
		t.Errorf("log %q lacks got USR1", out)
	}
	if !shim.Called("kill", id, "10") {
		t.Errorf("no `kill %s 10` in the shim log", id)
	}
}

// TestRmAfterStopAndRmForce: rm of a stopped container, and rm -f of a
// running one, leave nothing in podman or the runtime.
func TestRmAfterStopAndRmForce(t *testing.T) {
	t.Parallel()
	stopped := runDetached(t, nil, "sleep", "1000")
	running := runDetached(t, nil, "sleep", "1000")
	runningPid := containerPid(t, running)
	podmanOK(t, "stop", "-t", "0", stopped)
	podmanOK(t, "rm", stopped)
	podmanOK(t, "rm", "-f", "-t", "0", running)
	for _, id := range []string{stopped, running} {
		if r := podman(t, "container", "exists", id); r.Code != 1 {
			t.Errorf("%s still exists: %s", id, r)
		}
		if !shim.Called("delete", "--force", id) {
			t.Errorf("no `delete --force %s` in the shim log", id)
		}
	}
	if _, err := os.Stat("/proc/" + runningPid); err == nil {
		t.Errorf("the rm -f'd container's pid %s is still alive", runningPid)
	}
	testkit.CheckNoLeaks(t, stopped, running)
	if left := stateLeft([]string{stopped, running}); len(left) > 0 {
		t.Errorf("%v", left)
	}
}

// TestPauseUnpause: pause freezes the container's cgroup (seen from the
// host) and podman shows it paused; unpause thaws it.
func TestPauseUnpause(t *testing.T) {
	t.Parallel()
	id := runDetached(t, nil, "sleep", "1000")
	podmanOK(t, "pause", id)
	if got := limit(t, id, testkit.LimitFrozen); got != "1" {
		t.Errorf("the cgroup's frozen = %s after pause, want 1", got)
	}
	if got := inspect(t, id, "{{.State.Status}} {{.State.Paused}}"); got != "paused true" {
		t.Errorf("inspect after pause: %q", got)
	}
	podmanOK(t, "unpause", id)
	if got := limit(t, id, testkit.LimitFrozen); got != "0" {
		t.Errorf("the cgroup's frozen = %s after unpause, want 0", got)
	}
	if got := inspect(t, id, "{{.State.Status}}"); got != "running" {
		t.Errorf("inspect after unpause: %q", got)
	}
	if r := podman(t, "exec", id, "echo", "alive"); r.Code != 0 || r.Out != "alive\n" {
		t.Errorf("exec after unpause: %s", r)
	}
	if !shim.Called("pause", id) || !shim.Called("resume", id) {
		t.Errorf("no pause/resume of %s in the shim log", id)
	}
}

// TestStartStoppedContainer: podman start of an exited container creates
// it again through the runtime and runs the command a second time.
func TestStartStoppedContainer(t *testing.T) {
	t.Parallel()
	id := runDetached(t, nil, "sh", "-c", "echo run; exit 4")
	if code := waitExit(t, id); code != "4" {
		t.Fatalf("first run exit %s", code)
	}
	podmanOK(t, "start", id)
	if code := waitExit(t, id); code != "4" {
		t.Errorf("second run exit %s", code)
	}
	if out := podmanOK(t, "logs", id); out != "run\nrun" {
		t.Errorf("log %q; want two runs", out)
	}
	if n := countCalls("create", id); n != 2 {
		t.Errorf("%d creates of %s in the shim log, want 2", n, id)
	}
}

// TestRestart: podman restart stops a running container and starts it
// again with a new init process.
func TestRestart(t *testing.T) {
	t.Parallel()
	id := runDetached(t, nil, "sleep", "1000")
	before := containerPid(t, id)
	podmanOK(t, "restart", "-t", "0", id)
	after := containerPid(t, id)
	if after == before {
		t.Errorf("pid %s unchanged by restart", after)
	}
	if got := inspect(t, id, "{{.State.Status}}"); got != "running" {
		t.Errorf("after restart: %q", got)
	}
	if n := countCalls("create", id); n != 2 {
		t.Errorf("%d creates of %s in the shim log, want 2", n, id)
	}
}

// TestPidNamespaceOfAnotherContainer: --pid container:X joins X's pid
// namespace: X's init is pid 1 there.
func TestPidNamespaceOfAnotherContainer(t *testing.T) {
	t.Parallel()
	target := runDetached(t, nil, "sleep", "1000")
	targetNS, err := os.Readlink("/proc/" + containerPid(t, target) + "/ns/pid")
	if err != nil {
		t.Fatal(err)
	}
	r, _ := run(t, []string{"--rm", "--pid", "container:" + target}, "sh", "-c", "cat /proc/1/cmdline; echo; readlink /proc/self/ns/pid")
	if r.Code != 0 || r.Out != "sleep\x001000\x00\n"+targetNS+"\n" {
		t.Errorf("got %s; want pid 1 = sleep 1000 in %s", r, targetNS)
	}
}

// countCalls counts the shim's logged calls with every word.
func countCalls(words ...string) int {
	n := 0
	for _, c := range shim.Calls() {
		fields := " " + c + " "
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(fields, " "+w+" ")
		}
		if ok {
			n++
		}
	}
	return n
}
