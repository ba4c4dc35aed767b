package integration

// checkpoint and restore (CRIU). They run where CRIU works (the Debian 12
// guest, tests/vm); where `criu check` fails (this machine's kernel) the
// tests that need it skip, naming CRIU's reason, and
// TestCheckpointRefusedWhereCRIUCannotWork checks the refusal instead.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-runtime/berth/tests/internal/testkit"
)

// criuProblem is why CRIU cannot work on this host ("" if it can).
func criuProblem() string { return testkit.CRIUProblem() }

func requireCRIU(t *testing.T) {
	t.Helper()
	if p := criuProblem(); p != "" {
		t.Skipf("CRIU cannot work on this host (TestCheckpointRefusedWhereCRIUCannotWork covers it): %s", p)
	}
}

// counterSpec runs a counter that writes its next value every 100 ms to
// /run/count (a tmpfs, whose contents CRIU saves) and to stdout.
func counterSpec(s *specs.Spec) {
	// The count is renamed into place: a reader of a file the shell has
	// just truncated would see it empty.
	s.Process.Args = []string{"/bin/sh", "-c", `i=0; while :; do i=$((i+1)); echo $i > /run/count.new; mv /run/count.new /run/count; echo $i; usleep 100000; done`}
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/run", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=755"}})
}

// criuRt runs the runtime with its errors in a --log file and the given
// stdio for the container it starts (nil: /dev/null): a detached
// container keeps them, and CRIU can dump only stdio it can name (pipes,
// /dev/null), not the suite's output files.
func criuRt(t *testing.T, global []string, stdout *os.File, args ...string) result {
	t.Helper()
	log := filepath.Join(newDir(t, "log"), "berth.log")
	full := append(append([]string{"--root", stateRoot(t), "--log", log}, global...), args...)
	cmd := exec.Command(berthBin, full...)
	cmd.Dir = workDir
	if stdout != nil {
		cmd.Stdout = stdout
	}
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	r := result{Args: full}
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			r.Code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
	case <-time.After(defaultTimeout):
		cmd.Process.Kill()
		t.Fatalf("`%s` timed out", strings.Join(full, " "))
	}
	b, _ := os.ReadFile(log)
	r.Stderr = string(b)
	return r
}

// count reads the container's counter through exec.
func count(t *testing.T, id string) int {
	t.Helper()
	out := strings.TrimSpace(rt(t, "exec", id, "cat", "/run/count").ok(t).Stdout)
	n, err := strconv.Atoi(out)
	if err != nil {
		t.Fatalf("counter of %s: %q", id, out)
	}
	return n
}

// waitCount waits until the counter of id is above n and returns it.
func waitCount(t *testing.T, id string, n int) int {
	t.Helper()
	return testkit.CountsPast(t, "counter of "+id, n, func() int { return count(t, id) })
}

// startCounter runs a counter container detached, stdio /dev/null.
func startCounter(t *testing.T, global []string, mods ...func(*specs.Spec)) (id, bundle string) {
	t.Helper()
	bundle = newBundle(t, append([]func(*specs.Spec){counterSpec}, mods...)...)
	id = newID(t)
	criuRt(t, global, nil, "run", "-d", "--bundle", bundle, id).ok(t)
	waitCount(t, id, 2)
	return id, bundle
}

// timed runs f and logs how long it took (the closing note's figures).
func timed(t *testing.T, what string, f func() result) result {
	t.Helper()
	t0 := time.Now()
	r := f()
	t.Logf("%s: %v", what, time.Since(t0).Round(time.Millisecond))
	return r
}

func TestCheckpointRestoreKeepsCounting(t *testing.T) {
	requireCRIU(t)
	id, bundle := startCounter(t, nil)
	images := filepath.Join(newDir(t, "ck"), "images")
	before := count(t, id)
	timed(t, "checkpoint", func() result { return criuRt(t, nil, nil, "checkpoint", "--image-path", images, id).ok(t) })
	// As runc: the checkpointed container is gone, cgroup and all.
	rt(t, "state", id).failed(t, "container does not exist")
	if dirs := cgroupDirsMatching([]string{id}); len(dirs) > 0 {
		t.Errorf("the checkpointed container's cgroups remain: %v", dirs)
	}
	for _, f := range []string{"descriptors.json", "inventory.img", "dump.log"} {
		if !fileExists(filepath.Join(images, f)) {
			t.Errorf("image directory has no %s", f)
		}
	}
	pidFile := filepath.Join(newDir(t, "pid"), "pid")
	timed(t, "restore", func() result {
		return criuRt(t, nil, nil, "restore", "-d", "--image-path", images, "--bundle", bundle, "--pid-file", pidFile, id).ok(t)
	})
	st := getState(t, id)
	if st.Status != "running" {
		t.Fatalf("restored container is %s, want running", st.Status)
	}
	if b, _ := os.ReadFile(pidFile); string(b) != strconv.Itoa(st.Pid) {
		t.Errorf("pid file %q, state pid %d", b, st.Pid)
	}
	after := count(t, id)
	if after < before {
		t.Fatalf("counter went back from %d to %d: not the checkpointed process", before, after)
	}
	waitCount(t, id, after)
	out := rt(t, "list").ok(t).Stdout
	if !strings.Contains(out, id) {
		t.Errorf("list does not show the restored container: %q", out)
	}
	rt(t, "kill", id, "KILL").ok(t)
	waitStatus(t, id, "stopped", 20*time.Second)
	rt(t, "delete", id).ok(t)
}

func TestCheckpointLeaveRunningThenRestoreAsAnother(t *testing.T) {
	requireCRIU(t)
	id, bundle := startCounter(t, nil)
	images := filepath.Join(newDir(t, "ck"), "images")
	criuRt(t, nil, nil, "checkpoint", "--leave-running", "--image-path", images, id).ok(t)
	n := count(t, id)
	if st := getState(t, id); st.Status != "running" {
		t.Fatalf("after --leave-running the container is %s", st.Status)
	}
	waitCount(t, id, n)
	rt(t, "delete", "-f", id).ok(t)
	other := newID(t)
	criuRt(t, nil, nil, "restore", "-d", "--image-path", images, "--bundle", bundle, other).ok(t)
	waitCount(t, other, count(t, other))
	rt(t, "delete", "-f", other).ok(t)
}

func TestCheckpointPreDumpsThenDump(t *testing.T) {
	requireCRIU(t)
	id, bundle := startCounter(t, nil)
	dir := newDir(t, "ck")
	criuRt(t, nil, nil, "checkpoint", "--pre-dump", "--image-path", filepath.Join(dir, "p1"), id).ok(t)
	if st := getState(t, id); st.Status != "running" {
		t.Fatalf("after a pre-dump the container is %s", st.Status)
	}
	criuRt(t, nil, nil, "checkpoint", "--pre-dump", "--image-path", filepath.Join(dir, "p2"), "--parent-path", "../p1", id).ok(t)
	before := count(t, id)
	criuRt(t, nil, nil, "checkpoint", "--image-path", filepath.Join(dir, "final"), "--parent-path", "../p2", id).ok(t)
	criuRt(t, nil, nil, "restore", "-d", "--image-path", filepath.Join(dir, "final"), "--bundle", bundle, id).ok(t)
	if after := count(t, id); after < before {
		t.Fatalf("counter went back from %d to %d", before, after)
	}
	rt(t, "delete", "-f", id).ok(t)
}

// readNumbers sends each line of r that is a number to ch.
func readNumbers(r *os.File, ch chan<- int) {
	s := bufio.NewScanner(r)
	for s.Scan() {
		if n, err := strconv.Atoi(strings.TrimSpace(s.Text())); err == nil {
			ch <- n
		}
	}
	close(ch)
}

// TestCheckpointRestoreStdioPipes: the container's stdout is a pipe (as
// conmon and containerd's shim give it); the restored process writes to
// the pipe restore was given.
func TestCheckpointRestoreStdioPipes(t *testing.T) {
	requireCRIU(t)
	bundle := newBundle(t, counterSpec)
	id := newID(t)
	r1, w1, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	criuRt(t, nil, w1, "run", "-d", "--bundle", bundle, id).ok(t)
	w1.Close()
	first := make(chan int, 1024)
	go readNumbers(r1, first)
	last := 0
	for last < 3 {
		select {
		case last = <-first:
		case <-time.After(30 * time.Second):
			t.Fatal("no output on the container's stdout pipe")
		}
	}
	images := filepath.Join(newDir(t, "ck"), "images")
	criuRt(t, nil, nil, "checkpoint", "--image-path", images, id).ok(t)
	for n := range first { // the old pipe ends: its writer is gone
		last = n
	}
	r2, w2, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	criuRt(t, nil, w2, "restore", "-d", "--image-path", images, "--bundle", bundle, id).ok(t)
	w2.Close()
	second := make(chan int, 1024)
	go readNumbers(r2, second)
	select {
	case n := <-second:
		if n <= last {
			t.Errorf("restored process wrote %d after %d", n, last)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the restored process writes nothing to the new stdout pipe")
	}
	rt(t, "delete", "-f", id).ok(t)
}

// TestCheckpointRestoreMountsLimitsAndHooks: a bind mount, masked files,
// cgroup limits and the runtime's hooks survive a checkpoint and restore.
func TestCheckpointRestoreMountsLimitsAndHooks(t *testing.T) {
	requireCRIU(t)
	host := hostDir(t, map[string]string{"data": "from-the-host"})
	hookLog := filepath.Join(newDir(t, "hook"), "log")
	hook := specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "cat >/dev/null; echo prestart >> " + hookLog}}
	id, bundle := startCounter(t, nil,
		withMount(specs.Mount{Destination: "/mnt/host", Type: "bind", Source: host, Options: []string{"rbind", "ro"}}),
		withLinuxResources(&specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: cgI64(cgMiB(96))},
			Pids:   &specs.LinuxPids{Limit: cgI64(40)},
		}),
		func(s *specs.Spec) { s.Hooks = &specs.Hooks{Prestart: []specs.Hook{hook}} })
	images := filepath.Join(newDir(t, "ck"), "images")
	criuRt(t, nil, nil, "checkpoint", "--image-path", images, id).ok(t)
	criuRt(t, nil, nil, "restore", "-d", "--image-path", images, "--bundle", bundle, id).ok(t)
	if got := strings.TrimSpace(rt(t, "exec", id, "cat", "/mnt/host/data").ok(t).Stdout); got != "from-the-host" {
		t.Errorf("bind mount after restore reads %q", got)
	}
	if got := rt(t, "exec", id, "wc", "-c", "/proc/kcore").ok(t).Stdout; !strings.HasPrefix(strings.TrimSpace(got), "0") {
		t.Errorf("/proc/kcore is no longer masked after restore: %q", got)
	}
	pid := getState(t, id).Pid
	if v := readLimit(t, pid, testkit.LimitMemory); v != cgItoa(cgMiB(96)) {
		t.Errorf("restored init's memory limit %s, want %d", v, cgMiB(96))
	}
	if v := readLimit(t, pid, testkit.LimitPids); v != "40" {
		t.Errorf("restored init's pids limit %s, want 40", v)
	}
	b, _ := os.ReadFile(hookLog)
	if n := strings.Count(string(b), "prestart"); n != 2 {
		t.Errorf("prestart ran %d times over run and restore, want 2", n)
	}
	rt(t, "delete", "-f", id).ok(t)
}

// readLimit reads limit l of pid's cgroup.
func readLimit(t *testing.T, pid int, l testkit.Limit) string {
	t.Helper()
	v, err := testkit.ReadLimit(pid, l)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCheckpointSystemdCgroupDriver(t *testing.T) {
	requireCRIU(t)
	requireSystemd(t)
	sd := []string{"--systemd-cgroup"}
	id, bundle := startCounter(t, sd)
	unit := "berth-" + id + ".scope"
	images := filepath.Join(newDir(t, "ck"), "images")
	criuRt(t, sd, nil, "checkpoint", "--image-path", images, id).ok(t)
	if unitLoaded(unit) {
		t.Fatalf("unit %s still there after the checkpoint removed the container", unit)
	}
	criuRt(t, sd, nil, "restore", "-d", "--image-path", images, "--bundle", bundle, id).ok(t)
	pid := getState(t, id).Pid
	if got := procCgroups(t, pid)[""]; !strings.HasSuffix(got, "/"+unit) {
		t.Errorf("restored init is in %s, want the unit %s", got, unit)
	}
	if p := unitProps(t, unit, "ActiveState", "Delegate"); p["ActiveState"] != "active" || p["Delegate"] != "yes" {
		t.Errorf("unit %s after restore: %v", unit, p)
	}
	rtWith(t, rtOpts{Global: sd}, "delete", "-f", id).ok(t)
	if unitLoaded(unit) {
		t.Errorf("unit %s still listed after delete", unit)
	}
}

// TestRestoreForeground: restore without -d waits for the container, as
// run does, and exits with its status; the container is gone afterwards.
func TestRestoreForeground(t *testing.T) {
	requireCRIU(t)
	id, bundle := startCounter(t, nil)
	images := filepath.Join(newDir(t, "ck"), "images")
	criuRt(t, nil, nil, "checkpoint", "--image-path", images, id).ok(t)
	done := make(chan result, 1)
	go func() { done <- criuRt(t, nil, nil, "restore", "--image-path", images, "--bundle", bundle, id) }()
	if !waitFor(60*time.Second, func() bool { return getStateMaybe(t, id) == "running" }) {
		t.Fatal("foreground restore did not bring the container up")
	}
	// the shell is its pid namespace's init: only SIGKILL ends it
	rt(t, "kill", id, "KILL").ok(t)
	select {
	case r := <-done:
		if r.Code != 128+9 {
			t.Errorf("foreground restore exited %d, want 137 (SIGKILL): %s", r.Code, r)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("foreground restore did not return after the container died")
	}
	if r := rt(t, "state", id); r.Code == 0 {
		t.Errorf("container still exists after the foreground restore ended: %s", r.Stdout)
	}
}

// getStateMaybe is the status of id, or "" when state fails.
func getStateMaybe(t *testing.T, id string) string {
	out, err := exec.Command(berthBin, "--root", stateRoot(t), "state", id).Output()
	if err != nil {
		return ""
	}
	var st containerState
	if json.Unmarshal(out, &st) != nil {
		return ""
	}
	return st.Status
}

// TestRestoreFailureLeavesNothing: a checkpoint whose memory images are
// gone fails to restore and leaves no state, cgroup or process.
func TestRestoreFailureLeavesNothing(t *testing.T) {
	requireCRIU(t)
	id, bundle := startCounter(t, nil)
	images := filepath.Join(newDir(t, "ck"), "images")
	criuRt(t, nil, nil, "checkpoint", "--image-path", images, id).ok(t)
	pages, _ := filepath.Glob(filepath.Join(images, "pages-*.img"))
	for _, p := range pages {
		os.Remove(p)
	}
	other := newID(t)
	criuRt(t, nil, nil, "restore", "-d", "--image-path", images, "--bundle", bundle, other).failed(t, "criu failed")
	if r := rt(t, "state", other); r.Code == 0 {
		t.Errorf("failed restore left a container: %s", r.Stdout)
	}
	if dirs := cgroupDirsMatching([]string{other}); len(dirs) > 0 {
		t.Errorf("failed restore left cgroups: %v", dirs)
	}
}

// TestCheckpointRefusedWhereCRIUCannotWork (the hosts where `criu check`
// fails): checkpoint says why in one line and leaves the container running
// and no image directory; restore makes no container.
func TestCheckpointRefusedWhereCRIUCannotWork(t *testing.T) {
	if criuProblem() == "" {
		t.Skip("CRIU works on this host: the checkpoint tests run instead")
	}
	if _, err := exec.LookPath("criu"); err != nil {
		t.Skip("criu is not installed (make deps)")
	}
	id, bundle := startCounter(t, nil)
	images := filepath.Join(newDir(t, "ck"), "images")
	r := criuRt(t, nil, nil, "checkpoint", "--image-path", images, id).failed(t, "CRIU cannot work on this host: criu check:")
	if n := strings.Count(strings.TrimSpace(r.Stderr), "\n"); n != 0 {
		t.Errorf("want a one-line error, got %d lines: %q", n+1, r.Stderr)
	}
	if fileExists(images) {
		t.Errorf("the refused checkpoint left %s", images)
	}
	if st := getState(t, id); st.Status != "running" {
		t.Errorf("after the refused checkpoint the container is %s", st.Status)
	}
	waitCount(t, id, count(t, id))
	if err := os.MkdirAll(images, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(images, "descriptors.json"), []byte(`["/dev/null","/dev/null","/dev/null"]`), 0o600); err != nil {
		t.Fatal(err)
	}
	other := newID(t)
	criuRt(t, nil, nil, "restore", "-d", "--image-path", images, "--bundle", bundle, other).failed(t, "criu check:")
	if r := rt(t, "state", other); r.Code == 0 {
		t.Errorf("refused restore left a container: %s", r.Stdout)
	}
	rt(t, "delete", "-f", id).ok(t)
}

// TestCheckpointBadInput: the errors that come before CRIU is asked.
func TestCheckpointBadInput(t *testing.T) {
	bundle := newBundle(t)
	id := newID(t)
	rt(t, "create", "--bundle", bundle, id).ok(t)
	defer rt(t, "delete", "-f", id)
	dir := newDir(t, "ck")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"checkpoint", "--image-path", filepath.Join(dir, "i"), id}, []string{"cannot be checkpointed in created state"}},
		{[]string{"checkpoint", "--image-path", filepath.Join(dir, "i"), "no-such-ctr"}, []string{"container does not exist"}},
		{[]string{"checkpoint", "--image-path", filepath.Join(dir, "i"), "../x"}, []string{"invalid container ID format"}},
		{[]string{"checkpoint", "--status-fd", "5", id}, []string{"--status-fd is only used with --lazy-pages"}},
		{[]string{"checkpoint", "--lazy-pages", "--status-fd", "99", id}, []string{"invalid --status-fd argument 99", "bad file descriptor"}},
		{[]string{"checkpoint", "--lazy-pages", "--status-fd", "0", "--image-path", filepath.Join(dir, "i"), id}, []string{"invalid --status-fd argument 0: not writable"}},
		{[]string{"checkpoint", "--manage-cgroups-mode", "bogus", id}, []string{"invalid manage cgroups mode"}},
		{[]string{"checkpoint", "--empty-ns", "bogus", id}, []string{"bogus", "is not supported"}},
		{[]string{"restore", "--image-path", filepath.Join(dir, "missing"), "--bundle", bundle, newID(t)}, []string{"not a checkpoint image directory"}},
		{[]string{"checkpoint"}, []string{"checkpoint", "requires exactly 1 argument(s)"}},
	} {
		rt(t, c.args...).failed(t, c.want...)
	}
	if fileExists(filepath.Join(dir, "i")) {
		t.Error("a refused checkpoint made its image directory")
	}
}

// TestCheckpointWithoutHelperFailsNamingIt: berth leaves checkpoint and
// restore to berth-criu beside it; a berth installed alone refuses both
// in one line naming it, leaves the container running and says in
// features that checkpoint cannot work.
func TestCheckpointWithoutHelperFailsNamingIt(t *testing.T) {
	if runtimeIsRunc {
		t.Skip("berth-criu is Berth's")
	}
	alone := filepath.Join(newDir(t, "alone"), "berth")
	data, err := os.ReadFile(berthBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(alone, data, 0o755); err != nil {
		t.Fatal(err)
	}
	id, _ := execRunning(t, withProbe("sleep"))
	dir := newDir(t, "ck")
	for _, args := range [][]string{
		{"checkpoint", "--image-path", filepath.Join(dir, "i"), id},
		{"restore", "--image-path", filepath.Join(dir, "i"), "--bundle", dir, newID(t)},
	} {
		r := rtWith(t, rtOpts{Bin: alone}, args...)
		r.failed(t, "checkpoint and restore need berth-criu beside berth")
		if n := len(lines(r.Stderr)); n != 1 {
			t.Errorf("%s: %d lines of error, want 1:\n%s", args[0], n, r.Stderr)
		}
	}
	if st := waitStatus(t, id, "running", 5*time.Second); st.Status != "running" {
		t.Errorf("the container is %s after the refused checkpoint", st.Status)
	}
	if fileExists(filepath.Join(dir, "i")) {
		t.Error("a refused checkpoint made its image directory")
	}
	out := rtWith(t, rtOpts{Bin: alone}, "features").ok(t).Stdout
	if !strings.Contains(out, `"org.opencontainers.runc.checkpoint.enabled": "false"`) ||
		!strings.Contains(out, "berth-criu is not installed beside berth") {
		t.Errorf("features of a berth without berth-criu:\n%s", out)
	}
}

// TestFeaturesReportCheckpointTruthfully: features says checkpoint works
// exactly where `criu check` passes.
func TestFeaturesReportCheckpointTruthfully(t *testing.T) {
	out := rt(t, "features").ok(t).Stdout
	want := `"org.opencontainers.runc.checkpoint.enabled": "true"`
	if criuProblem() != "" {
		want = `"org.opencontainers.runc.checkpoint.enabled": "false"`
	}
	if !strings.Contains(out, want) {
		t.Errorf("features lacks %s (criu check: %q)", want, criuProblem())
	}
}

// TestCheckpointJoinedNetworkNamespace: a network namespace joined by path
// is left out of the image (external) and joined again on restore.
func TestCheckpointJoinedNetworkNamespace(t *testing.T) {
	requireCRIU(t)
	holder := exec.Command("unshare", "--net", "sleep", "1000")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Process.Kill(); holder.Wait() })
	nsPath := fmt.Sprintf("/proc/%d/ns/net", holder.Process.Pid)
	hostNet, _ := os.Readlink("/proc/self/ns/net")
	var want string
	if !waitFor(5*time.Second, func() bool { want, _ = os.Readlink(nsPath); return want != "" && want != hostNet }) {
		t.Fatalf("unshare --net made no namespace (%q)", want)
	}
	id, bundle := startCounter(t, nil, withNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: nsPath}))
	images := filepath.Join(newDir(t, "ck"), "images")
	criuRt(t, nil, nil, "checkpoint", "--image-path", images, id).ok(t)
	criuRt(t, nil, nil, "restore", "-d", "--image-path", images, "--bundle", bundle, id).ok(t)
	if got, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", getState(t, id).Pid)); got != want {
		t.Errorf("restored init's network namespace %s, want the joined %s", got, want)
	}
	waitCount(t, id, count(t, id))
	rt(t, "delete", "-f", id).ok(t)
}

// TestCheckpointFailureLeavesContainerRunning: a dump CRIU refuses (the
// init's stdout is a host file it cannot name) leaves the container
// running, counting, and no image directory.
func TestCheckpointFailureLeavesContainerRunning(t *testing.T) {
	requireCRIU(t)
	bundle := newBundle(t, counterSpec)
	id := newID(t)
	rt(t, "run", "-d", "--bundle", bundle, id).ok(t) // stdio: the suite's files
	n := waitCount(t, id, 2)
	images := filepath.Join(newDir(t, "ck"), "images")
	criuRt(t, nil, nil, "checkpoint", "--image-path", images, id).failed(t, "criu failed: type DUMP")
	if fileExists(images) {
		t.Errorf("the failed checkpoint left %s", images)
	}
	if st := getState(t, id); st.Status != "running" {
		t.Fatalf("after the failed checkpoint the container is %s", st.Status)
	}
	waitCount(t, id, n)
	rt(t, "delete", "-f", id).ok(t)
}

// TestRestoreKilledLeavesWhatDeleteRemoves: berth restore SIGKILLed while
// CRIU works; delete -f then leaves nothing (the suite's leak check: no
// cgroup, process or state).
func TestRestoreKilledLeavesWhatDeleteRemoves(t *testing.T) {
	requireCRIU(t)
	id, bundle := startCounter(t, nil)
	images := filepath.Join(newDir(t, "ck"), "images")
	criuRt(t, nil, nil, "checkpoint", "--image-path", images, id).ok(t)
	// killed once its state is saved, while CRIU restores
	killBerthWhen(t, func() bool { return fileExists(filepath.Join(stateRoot(t), id, "state.json")) },
		"restore", "-d", "--image-path", images, "--bundle", bundle, id)
	rt(t, "delete", "-f", id)
	requireDeleted(t, id)
}

// killBerthWhen runs berth with args and SIGKILLs it once ready() holds
// (within 30 s).
func killBerthWhen(t *testing.T, ready func() bool, args ...string) {
	t.Helper()
	cmd := exec.Command(berthBin, append([]string{"--root", stateRoot(t)}, args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ok := waitFor(30*time.Second, ready)
	cmd.Process.Kill()
	cmd.Wait()
	if !ok {
		t.Fatalf("berth %s: what it was to be killed during never began", strings.Join(args, " "))
	}
}

// requireDeleted checks that id is gone with its cgroups.
func requireDeleted(t *testing.T, id string) {
	t.Helper()
	if r := rt(t, "state", id); r.Code == 0 {
		t.Errorf("container still there after delete -f: %s", r.Stdout)
	}
	if !waitFor(20*time.Second, func() bool { return len(cgroupDirsMatching([]string{id})) == 0 }) {
		t.Errorf("cgroups left: %v", cgroupDirsMatching([]string{id}))
	}
}

// TestCheckpointRestoreTerminal: a container with a terminal (its master
// held by the console socket's receiver) is checkpointed and restored
// with --console-socket: the new master reaches the socket and drives
// the restored shell.
func TestCheckpointRestoreTerminal(t *testing.T) {
	requireCRIU(t)
	bundle := newBundle(t, withArgs("/bin/sh"), withTerminal(nil))
	id := newID(t)
	ln, sock := ttyListen(t)
	run := rtStart(t, rtOpts{}, "run", "-d", "--console-socket", sock, "--bundle", bundle, id)
	master, _, conn := ttyRecvMaster(t, ln)
	run.wait(t).ok(t)
	out := readTTY(master)
	ttyWrite(t, master, "echo before-$((6*7))\n")
	out.waitMatch(t, 15*time.Second, `^before-42$`)
	images := filepath.Join(newDir(t, "ck"), "images")
	criuRt(t, nil, nil, "checkpoint", "--image-path", images, id).ok(t)
	conn.Close()
	ln2, sock2 := ttyListen(t)
	restore := rtStart(t, rtOpts{}, "restore", "-d", "--console-socket", sock2, "--image-path", images, "--bundle", bundle, id)
	master2, _, conn2 := ttyRecvMaster(t, ln2)
	defer conn2.Close()
	restore.wait(t).ok(t)
	out2 := readTTY(master2)
	ttyWrite(t, master2, "echo after-$((6*7))\n")
	out2.waitMatch(t, 15*time.Second, `^after-42$`)
	rt(t, "delete", "-f", id).ok(t)
}

// TestCheckpointLazyPages: lazy migration as runc's test does it. The
// dump serves the memory from a page server and says so on --status-fd;
// `criu lazy-pages` fetches the pages for the restore under a new name as
// the restored process touches them; the first container is gone once
// the last page has moved, the second keeps counting.
func TestCheckpointLazyPages(t *testing.T) {
	requireCRIU(t)
	if out, err := exec.Command("criu", "check", "--feature", "uffd-noncoop").CombinedOutput(); err != nil {
		t.Skipf("CRIU cannot do lazy pages here: %s", strings.TrimSpace(string(out)))
	}
	id, bundle := startCounter(t, nil)
	dir := newDir(t, "ck")
	images, work := filepath.Join(dir, "images"), filepath.Join(dir, "work")
	for _, d := range []string{images, work} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	before := count(t, id)
	statusR, statusW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer statusR.Close()
	const port = "27277"
	log := filepath.Join(newDir(t, "log"), "berth.log")
	ck := exec.Command(berthBin, "--root", stateRoot(t), "--log", log, "checkpoint", "--lazy-pages",
		"--page-server", "0.0.0.0:"+port, "--status-fd", "3", "--manage-cgroups-mode", "ignore",
		"--work-path", work, "--image-path", images, id)
	ck.ExtraFiles = []*os.File{statusW}
	if err := ck.Start(); err != nil {
		t.Fatal(err)
	}
	statusW.Close()
	ckDone := make(chan error, 1)
	go func() { ckDone <- ck.Wait() }()
	ready := make(chan []byte, 1)
	go func() {
		b := make([]byte, 2)
		n, _ := statusR.Read(b)
		ready <- b[:n]
	}()
	select {
	case b := <-ready:
		if string(b) != "\x00" {
			b2, _ := os.ReadFile(log)
			t.Fatalf("--status-fd got %q, want one \\0 (berth: %s)", b, b2)
		}
	case err := <-ckDone:
		b, _ := os.ReadFile(log)
		t.Fatalf("checkpoint ended (%v) before saying it was ready: %s", err, b)
	case <-time.After(60 * time.Second):
		ck.Process.Kill()
		t.Fatal("no status byte on --status-fd in 60 s")
	}
	if !fileExists(filepath.Join(images, "inventory.img")) {
		t.Error("the lazy dump wrote no inventory.img")
	}
	lp := exec.Command("criu", "lazy-pages", "--page-server", "--address", "127.0.0.1", "--port", port, "-D", images)
	lpOut := &strings.Builder{}
	lp.Stdout, lp.Stderr = lpOut, lpOut
	if err := lp.Start(); err != nil {
		t.Fatal(err)
	}
	// lpDone is closed once the daemon has been waited for (lpErr).
	lpDone, lpErr := make(chan struct{}), error(nil)
	go func() { lpErr = lp.Wait(); close(lpDone) }()
	defer func() {
		lp.Process.Kill() // an error once it has ended
		<-lpDone
	}()
	// the daemon's socket, lazy-pages.socket, is in its work directory
	waitFor(20*time.Second, func() bool { return fileExists(filepath.Join(images, "lazy-pages.socket")) })
	other := newID(t)
	timed(t, "lazy restore", func() result {
		return criuRt(t, nil, nil, "restore", "-d", "--lazy-pages", "--manage-cgroups-mode", "ignore",
			"--image-path", images, "--bundle", bundle, other).ok(t)
	})
	after := waitCount(t, other, before)
	select {
	case err := <-ckDone:
		if err != nil {
			b, _ := os.ReadFile(log)
			t.Fatalf("lazy checkpoint failed: %v: %s", err, b)
		}
	case <-time.After(90 * time.Second):
		ck.Process.Kill()
		t.Fatal("the lazy checkpoint did not end once the restore had its pages")
	}
	select {
	case <-lpDone:
		if lpErr != nil {
			t.Errorf("criu lazy-pages: %v: %s", lpErr, lpOut)
		}
	case <-time.After(60 * time.Second):
		lp.Process.Kill()
		<-lpDone
		t.Errorf("criu lazy-pages did not end: %s", lpOut)
	}
	rt(t, "state", id).failed(t, "container does not exist")
	waitCount(t, other, after)
	rt(t, "delete", "-f", other).ok(t)
}

// TestCheckpointKilledLeavesWhatDeleteRemoves: berth checkpoint SIGKILLed
// while CRIU dumps; once CRIU is done the container is running (CRIU
// resumed it) or stopped (the dump finished), never frozen, and delete -f
// leaves nothing (the suite's leak check).
func TestCheckpointKilledLeavesWhatDeleteRemoves(t *testing.T) {
	requireCRIU(t)
	id, _ := startCounter(t, nil)
	images := filepath.Join(newDir(t, "ck"), "images")
	killBerthWhen(t, func() bool { return fileExists(filepath.Join(images, "dump.log")) },
		"checkpoint", "--image-path", images, id)
	// CRIU outlives berth: it finishes or fails on its own.
	if !waitFor(60*time.Second, func() bool {
		out, _ := exec.Command("pgrep", "-f", "criu swrk").Output()
		return len(strings.TrimSpace(string(out))) == 0
	}) {
		t.Fatal("criu still running 60 s after berth was killed")
	}
	if st := getStateMaybe(t, id); st != "running" && st != "stopped" {
		t.Errorf("after the killed checkpoint the container is %q, want running or stopped", st)
	}
	rt(t, "delete", "-f", id).ok(t)
	requireDeleted(t, id)
}

// securityStatus is what /proc/PID/status says of pid's capabilities,
// no_new_privs and seccomp.
func securityStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		switch k {
		case "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Seccomp_filters":
			if ok {
				out[k] = strings.TrimSpace(v)
			}
		}
	}
	return out
}

// TestCheckpointRestoreKeepsSeccompAndCapabilities: the restored init has
// the capability sets and seccomp filter it had, and no_new_privs or a
// warning that CRIU lost it; the filter still acts: the counter's loop tries a mkdir the profile denies
// on every round, before and after the restore.
func TestCheckpointRestoreKeepsSeccompAndCapabilities(t *testing.T) {
	requireCRIU(t)
	deny := allowAllExcept(specs.LinuxSyscall{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: errnoPtr(1)})
	id, bundle := startCounter(t, nil, withSeccompProfile(deny), func(s *specs.Spec) {
		s.Process.Args[2] = `i=0; while :; do i=$((i+1)); mkdir /run/probe$i 2>/dev/null && echo $i > /run/escaped; echo $i > /run/count.new; mv /run/count.new /run/count; usleep 100000; done`
		s.Process.NoNewPrivileges = true
		keep := []string{"CAP_KILL", "CAP_CHOWN"}
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: keep, Effective: keep, Permitted: keep}
	})
	before := securityStatus(t, getState(t, id).Pid)
	if before["Seccomp"] != "2" || before["NoNewPrivs"] != "1" {
		t.Fatalf("the container's init is not filtered as configured: %v", before)
	}
	images := filepath.Join(newDir(t, "ck"), "images")
	criuRt(t, nil, nil, "checkpoint", "--image-path", images, id).ok(t)
	r := criuRt(t, nil, nil, "restore", "-d", "--image-path", images, "--bundle", bundle, id).ok(t)
	after := securityStatus(t, getState(t, id).Pid)
	// CRIU 3.17 does not restore no_new_privs, and nothing can set it on
	// another process: berth must say so rather than pass it over.
	if after["NoNewPrivs"] == "0" {
		if !strings.Contains(r.Stderr, "without no_new_privs") {
			t.Errorf("the restored init lost no_new_privs and restore did not warn: %s", r.Stderr)
		}
		delete(before, "NoNewPrivs")
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("restored init's %s is %q, was %q", k, after[k], v)
		}
	}
	waitCount(t, id, count(t, id)+3)
	if r := rt(t, "exec", id, "cat", "/run/escaped"); r.Code == 0 {
		t.Errorf("the restored init's mkdir got past the seccomp filter (round %s)", strings.TrimSpace(r.Stdout))
	}
	rt(t, "delete", "-f", id).ok(t)
}
