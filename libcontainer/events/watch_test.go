package events

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// helperEnv names the environment variable that turns the test binary into
// the process that runs out of memory (see TestMain).
const helperEnv = "BERTH_EVENTS_TEST_OOM_HELPER"

// TestMain lets the test binary double as the OOM helper, so the OOM test
// needs neither a compiler nor a particular userland on the host.
func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		oomHelper()
	}
	os.Exit(m.Run())
}

// oomHelper says it is ready on stdout and waits for a line on stdin, so
// the test can move it into the cgroup and start watching first, then
// touches 64 MiB, which the cgroup's 8 MiB limit turns into an OOM kill.
// The readiness line matters: moved while the runtime (and, with -race, the
// race detector) is still starting, the helper can hit the limit early.
func oomHelper() {
	if _, err := os.Stdout.WriteString("ready\n"); err != nil {
		os.Exit(2)
	}
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		os.Exit(2)
	}
	b := make([]byte, 64<<20)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	// Not killed: the test will report the missing OOM.
	os.Exit(3)
}

// wait is how long the tests wait for something the kernel should do at
// once; it only bounds a failing test.
const wait = 20 * time.Second

func expectEvents(t *testing.T, w *Watcher, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-w.C():
		case <-w.Done():
			t.Fatalf("Done closed after %d of %d events (err %v)", i, n, w.Err())
		case <-time.After(wait):
			t.Fatalf("no event %d of %d after %v", i+1, n, wait)
		}
	}
}

func expectNoEvent(t *testing.T, w *Watcher) {
	t.Helper()
	select {
	case <-w.C():
		t.Fatal("unexpected event")
	case <-w.Done():
		t.Fatalf("Done closed unexpectedly (err %v)", w.Err())
	case <-time.After(200 * time.Millisecond):
	}
}

func expectDone(t *testing.T, w *Watcher, want error) {
	t.Helper()
	select {
	case <-w.Done():
	case <-w.C():
		t.Fatal("event instead of Done")
	case <-time.After(wait):
		t.Fatalf("Done not closed after %v", wait)
	}
	if err := w.Err(); !errors.Is(err, want) {
		t.Fatalf("Err() = %v, want %v", err, want)
	}
}

func closeWithin(t *testing.T, w *Watcher) {
	t.Helper()
	res := make(chan error, 1)
	go func() { res <- w.Close() }()
	select {
	case err := <-res:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(wait):
		t.Fatal("Close hangs")
	}
}

// rewrite replaces the contents of a fake cgroup file in place, as the
// kernel does: a new file would be a new inode, which inotify reports as the
// old one deleted. The tests keep the length fixed so no read sees a
// shortened file.
func rewrite(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte(data), 0); err != nil {
		t.Fatal(err)
	}
}

func memoryEvents(oom, kill int) string {
	return fmt.Sprintf("low 0\nhigh 0\nmax 0\noom %d\noom_kill %d\noom_group_kill 0\n", oom, kill)
}

// fakeV2 makes a directory with the two files the v2 watcher reads. inotify
// works the same on it as on cgroupfs, which lets the v2 logic be tested on
// hosts without a v2 memory controller.
func fakeV2(t *testing.T, kills int) string {
	return fakeCgroup(t, map[string]string{
		v2MemoryEvents: memoryEvents(kills, kills),
		v2CgroupEvents: "populated 1\nfrozen 0\n",
	})
}

func TestWatchOOMNoMemoryCgroup(t *testing.T) {
	unified := fakeCgroup(t, map[string]string{v2CgroupEvents: "populated 1\nfrozen 0\n"})
	for _, paths := range []map[string]string{
		nil,
		{"cpu,cpuacct": t.TempDir()},
		{"": unified},
	} {
		if w, err := WatchOOM(paths); !errors.Is(err, ErrNoMemoryCgroup) {
			if w != nil {
				w.Close()
			}
			t.Errorf("WatchOOM(%v) err = %v, want ErrNoMemoryCgroup", paths, err)
		}
	}
}

func TestWatchV2Fake(t *testing.T) {
	dir := fakeV2(t, 2)
	w, err := WatchOOM(map[string]string{"": dir})
	if err != nil {
		t.Fatal(err)
	}
	defer closeWithin(t, w)

	// Kills from before the watch are not reported.
	expectNoEvent(t, w)
	// Other lines changing are not OOM kills.
	rewrite(t, filepath.Join(dir, v2MemoryEvents), strings.Replace(memoryEvents(2, 2), "max 0", "max 9", 1))
	expectNoEvent(t, w)
	rewrite(t, filepath.Join(dir, v2MemoryEvents), memoryEvents(3, 3))
	expectEvents(t, w, 1)
	expectNoEvent(t, w)
	// Two kills between two reads are two events.
	rewrite(t, filepath.Join(dir, v2MemoryEvents), memoryEvents(5, 5))
	expectEvents(t, w, 2)
	expectNoEvent(t, w)
	// A kill that empties the cgroup: the kill comes before Done.
	rewrite(t, filepath.Join(dir, v2MemoryEvents), memoryEvents(6, 6))
	rewrite(t, filepath.Join(dir, v2CgroupEvents), "populated 0\nfrozen 0\n")
	expectEvents(t, w, 1)
	expectDone(t, w, nil)
}

func TestWatchV2FakeRemoved(t *testing.T) {
	dir := fakeV2(t, 0)
	w, err := WatchOOM(map[string]string{"": dir})
	if err != nil {
		t.Fatal(err)
	}
	defer closeWithin(t, w)
	expectNoEvent(t, w)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	expectDone(t, w, nil)
}

func TestWatchV2FakeEmptyAtStart(t *testing.T) {
	dir := fakeV2(t, 0)
	rewrite(t, filepath.Join(dir, v2CgroupEvents), "populated 0\nfrozen 0\n")
	w, err := WatchOOM(map[string]string{"": dir})
	if err != nil {
		t.Fatal(err)
	}
	defer closeWithin(t, w)
	expectDone(t, w, nil)
}

func TestWatchV2FakeMissingCgroupEvents(t *testing.T) {
	dir := fakeCgroup(t, map[string]string{v2MemoryEvents: memoryEvents(0, 0)})
	if w, err := WatchOOM(map[string]string{"": dir}); err == nil {
		w.Close()
		t.Fatal("WatchOOM without cgroup.events succeeded")
	}
}

// TestWatchCloseIdle checks that Close wakes a watcher asleep in read.
func TestWatchCloseIdle(t *testing.T) {
	w, err := WatchOOM(map[string]string{"": fakeV2(t, 0)})
	if err != nil {
		t.Fatal(err)
	}
	expectNoEvent(t, w)
	closeWithin(t, w)
	expectDone(t, w, ErrWatcherClosed)
	// Again, and concurrently: still fine.
	done := make(chan struct{})
	go func() { w.Close(); close(done) }()
	closeWithin(t, w)
	<-done
}

// TestWatchCloseWhileSending checks that Close wakes a watcher waiting for
// its event to be received.
func TestWatchCloseWhileSending(t *testing.T) {
	dir := fakeV2(t, 0)
	w, err := WatchOOM(map[string]string{"": dir})
	if err != nil {
		t.Fatal(err)
	}
	rewrite(t, filepath.Join(dir, v2MemoryEvents), memoryEvents(3, 3))
	// Let the watcher read the change and block sending it.
	time.Sleep(200 * time.Millisecond)
	closeWithin(t, w)
	expectDone(t, w, ErrWatcherClosed)
}

// Tests below use real cgroups and need root.

// ownCgroup returns this process's cgroup in the hierarchy whose
// controller list holds controller ("" for v2), from /proc/self/cgroup.
func ownCgroup(t *testing.T, controller string) string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if controller == "" && parts[0] == "0" && parts[1] == "" {
			return parts[2]
		}
		for c := range strings.SplitSeq(parts[1], ",") {
			if controller != "" && c == controller {
				return parts[2]
			}
		}
	}
	t.Skipf("no %q hierarchy in /proc/self/cgroup", controller)
	return ""
}

func randomName(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "berth-evtest-" + hex.EncodeToString(b)
}

// makeCgroup creates a cgroup under parent and removes it at the end of the
// test, killing whatever is left in it.
func makeCgroup(t *testing.T, parent string) string {
	t.Helper()
	dir := filepath.Join(parent, randomName(t))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot create a cgroup: %v", err)
	}
	t.Cleanup(func() { removeCgroup(t, dir) })
	return dir
}

// removeCgroup kills the processes of dir and removes it, retrying while
// the kernel finishes their exit (rmdir says EBUSY until then).
func removeCgroup(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs")); err == nil {
			for f := range strings.FieldsSeq(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil {
					_ = unix.Kill(pid, unix.SIGKILL)
				}
			}
		}
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("cannot remove cgroup %s: %v", dir, err)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func writeCgroup(t *testing.T, dir, file, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, file), []byte(data), 0); err != nil {
		t.Fatalf("write %s: %v", file, err)
	}
}

// helperProc is the running OOM helper.
type helperProc struct {
	cmd    *exec.Cmd
	start  *os.File      // a line written here sets it going
	exited chan struct{} // closed when it has been waited for
	err    error         // cmd.Wait's result, once exited is closed
}

// startOOMHelper starts the helper and moves it into the cgroup dir. It is
// killed at the end of the test if still running.
func startOOMHelper(t *testing.T, dir string) *helperProc {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	h := &helperProc{cmd: exec.Command(os.Args[0], "-test.run=^$"), start: w, exited: make(chan struct{})}
	h.cmd.Env = append(os.Environ(), helperEnv+"=1")
	h.cmd.Stdin = r
	h.cmd.Stderr = os.Stderr
	out, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	h.cmd.Stdout = outW
	err = h.cmd.Start()
	r.Close()
	outW.Close()
	if err != nil {
		w.Close()
		t.Fatal(err)
	}
	go func() {
		h.err = h.cmd.Wait()
		close(h.exited)
	}()
	t.Cleanup(func() {
		w.Close()
		_ = h.cmd.Process.Kill()
		<-h.exited
	})
	// If the helper dies first, the pipe's write end is closed and the
	// read fails rather than hangs.
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		t.Fatalf("helper did not start: %q, %v", line, err)
	}
	writeCgroup(t, dir, "cgroup.procs", strconv.Itoa(h.cmd.Process.Pid))
	return h
}

// runOOM sets the helper going and waits until the kernel has killed it.
func runOOM(t *testing.T, h *helperProc) {
	t.Helper()
	if _, err := h.start.WriteString("go\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.exited:
	case <-time.After(wait):
		t.Fatal("helper still running")
	}
	var ee *exec.ExitError
	if !errors.As(h.err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper was not OOM-killed: %v", h.err)
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// v1MemoryParent returns this process's v1 memory cgroup directory, or
// skips the test on a host without a v1 memory controller.
func v1MemoryParent(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup/memory", &st); err != nil || st.Type != unix.CGROUP_SUPER_MAGIC {
		t.Skip("no cgroup v1 memory controller at /sys/fs/cgroup/memory")
	}
	parent := filepath.Join("/sys/fs/cgroup/memory", ownCgroup(t, "memory"))
	if _, err := os.Stat(filepath.Join(parent, v1OOMControl)); err != nil {
		t.Skipf("own memory cgroup not visible: %v", err)
	}
	return parent
}

func TestWatchOOMv1(t *testing.T) {
	dir := makeCgroup(t, v1MemoryParent(t))
	writeCgroup(t, dir, "memory.limit_in_bytes", strconv.Itoa(8<<20))
	// With swap accounting, swap must be limited too or the helper is
	// swapped out instead of killed.
	if _, err := os.Stat(filepath.Join(dir, "memory.memsw.limit_in_bytes")); err == nil {
		writeCgroup(t, dir, "memory.memsw.limit_in_bytes", strconv.Itoa(8<<20))
	}
	h := startOOMHelper(t, dir)

	paths := map[string]string{"memory": dir, "": "/sys/fs/cgroup/unified"}
	w, err := WatchOOM(paths)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeWithin(t, w) })
	expectNoEvent(t, w)

	runOOM(t, h)
	expectEvents(t, w, 1)
	oom, kill, err := OOMCounters(paths)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("oom %d, oom_kill %d", oom, kill)
	if kill < 1 || oom < kill {
		t.Errorf("OOMCounters = %d, %d; want oom >= oom_kill >= 1", oom, kill)
	}

	// The kernel may run the OOM killer more than once for one kill
	// (another allocation fails while the victim exits); those are
	// reported too. Take them before removing the cgroup.
	extra := 0
	for drained := false; !drained; {
		select {
		case <-w.C():
			extra++
		case <-time.After(200 * time.Millisecond):
			drained = true
		}
	}
	t.Logf("%d further OOM notifications", extra)

	if err := unix.Rmdir(dir); err != nil {
		t.Fatal(err)
	}
	expectDone(t, w, nil)
}

func TestWatchOOMv1Close(t *testing.T) {
	dir := makeCgroup(t, v1MemoryParent(t))
	w, err := WatchOOM(map[string]string{"memory": dir})
	if err != nil {
		t.Fatal(err)
	}
	expectNoEvent(t, w)
	closeWithin(t, w)
	expectDone(t, w, ErrWatcherClosed)
	// The registration went with the eventfd: the cgroup can go.
	if err := unix.Rmdir(dir); err != nil {
		t.Fatal(err)
	}
}

func TestWatchOOMv2(t *testing.T) {
	requireRoot(t)
	root := "/sys/fs/cgroup"
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		root = "/sys/fs/cgroup/unified"
		if err := unix.Statfs(root, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
			t.Skip("no cgroup v2 hierarchy")
		}
	}
	parent := filepath.Join(root, ownCgroup(t, ""))
	// The controller is not enabled here if it is not already: that would
	// change the host's cgroup setup for a test.
	dir := makeCgroup(t, parent)
	if _, err := os.Stat(filepath.Join(dir, v2MemoryEvents)); err != nil {
		ctrl, _ := os.ReadFile(filepath.Join(parent, "cgroup.controllers"))
		t.Skipf("memory controller not available to %s (parent controllers: %q): %v",
			dir, strings.TrimSpace(string(ctrl)), err)
	}
	writeCgroup(t, dir, "memory.max", strconv.Itoa(8<<20))
	if _, err := os.Stat(filepath.Join(dir, "memory.swap.max")); err == nil {
		writeCgroup(t, dir, "memory.swap.max", "0")
	}
	h := startOOMHelper(t, dir)

	paths := map[string]string{"": dir}
	w, err := WatchOOM(paths)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeWithin(t, w) })
	expectNoEvent(t, w)

	runOOM(t, h)
	expectEvents(t, w, 1)
	oom, kill, err := OOMCounters(paths)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("oom %d, oom_kill %d", oom, kill)
	if kill != 1 || oom < kill {
		t.Errorf("OOMCounters = %d, %d; want oom >= oom_kill == 1", oom, kill)
	}
	// The helper was the only process: the cgroup is empty, which ends the
	// watch without waiting for the removal.
	expectDone(t, w, nil)
}
