package conmontest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-runtime/berth/tests/internal/testkit"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func sh(script string) []string { return []string{"sh", "-c", script} }

// TestOutputAndExitCodeRecordedByConmon: stdout and stderr reach the
// k8s-file log as separate streams, `exit 3` is recorded as 3 in the exit
// dir and the persist dir, and conmon exits after its container.
func TestOutputAndExitCodeRecordedByConmon(t *testing.T) {
	t.Parallel()
	c := newCtr(t, "exit3", sh("echo to-out; echo to-err >&2; echo fds: $(ls /proc/self/fd); exit 3"))
	c.mustCreateStart(createOpts{})
	c.mustExit(3)
	lines := c.log()
	// Only conmon's three pipes reach the container (3 is ls's own).
	if got, want := streamText(lines, "stdout"), "to-out\nfds: 0 1 2 3\n"; got != want {
		t.Errorf("stdout log %q, want %q (all: %+v)", got, want, lines)
	}
	if got := streamText(lines, "stderr"); got != "to-err\n" {
		t.Errorf("stderr log %q, want %q (all: %+v)", got, "to-err\n", lines)
	}
	requireBerthRan(t, "--root="+s.root, "create", "--bundle", c.bundle, c.id)
	requireBerthRan(t, "start", c.id)
}

// TestMissingCommandFailsCreateThroughSyncPipe: like runc 1.1, the runtime
// refuses a missing executable at create; conmon reports pid -1 with the
// runtime's error on the sync pipe, writes no exit file and exits, and
// CRI-O's `delete --force` leaves nothing.
func TestMissingCommandFailsCreateThroughSyncPipe(t *testing.T) {
	t.Parallel()
	c := newCtr(t, "nocmd", []string{"/no/such/cmd"})
	err := c.create(createOpts{})
	var ce *errCreate
	if !errors.As(err, &ce) {
		t.Fatalf("create of a missing command: %v, want conmon's create error", err)
	}
	for _, want := range []string{`exec: \"/no/such/cmd\"`, "no such file or directory"} {
		if !strings.Contains(ce.msg, want) {
			t.Errorf("conmon's create error %q lacks %q", ce.msg, want)
		}
	}
	if _, err := os.Stat(c.exitFile()); err == nil {
		t.Errorf("conmon wrote an exit file for a container that was never created")
	}
	c.mustConmonExit()
	r := rt(t, "state", c.id)
	if r.Code == 0 {
		t.Errorf("state of the failed container succeeded: %s", r.Out)
	}
	requireBerthRan(t, "create", "--bundle", c.bundle, c.id)

	// Not in $PATH: the other message callers match.
	c2 := newCtr(t, "nocmd2", []string{"nosuchcmd"})
	err = c2.create(createOpts{})
	if !errors.As(err, &ce) || !strings.Contains(ce.msg, "executable file not found in $PATH") {
		t.Errorf("create of a command not in $PATH: %v, want \"executable file not found in $PATH\"", err)
	}
	c2.mustConmonExit()
}

// TestDetachedContainerIsConmonsChild: after create and start, state says
// running, the pid conmon sent is the runtime's, the init's parent is the
// daemonized conmon (its subreaper), list shows it, and SIGTERM via
// `kill` stops it with the trap's exit code.
func TestDetachedContainerIsConmonsChild(t *testing.T) {
	t.Parallel()
	c := newCtr(t, "detached", sh(`trap "echo got-term; exit 0" TERM; echo ready; while :; do sleep 0.1; done`))
	c.mustCreateStart(createOpts{})
	if !c.waitLog("ready", 10*time.Second) {
		t.Fatalf("container never logged ready: %+v", c.log())
	}
	st := state(t, c.id)
	if st.Status != "running" || st.Pid != c.pid || st.Bundle != c.bundle {
		t.Errorf("state %+v, want running with pid %d bundle %s", st, c.pid, c.bundle)
	}
	if b, _ := os.ReadFile(filepath.Join(c.bundle, "pidfile")); strings.TrimSpace(string(b)) != strconv.Itoa(c.pid) {
		t.Errorf("runtime pid file %q, conmon sent %d", b, c.pid)
	}
	if pp := ppidOf(c.pid); pp != c.conmonPid {
		t.Errorf("container init %d has parent %d, want conmon %d", c.pid, pp, c.conmonPid)
	}
	if !pidAlive(c.conmonPid, c.id) {
		t.Errorf("conmon %d not alive while its container runs", c.conmonPid)
	}
	// The leak check's token finds a live container (cgroup dirs, its
	// processes, conmon), so that its silence after delete means something.
	left := strings.Join(testkit.Leaks(c.id), "\n")
	cgDir := "/sys/fs/cgroup/memory/" + c.id
	if s.cgroupV2 {
		cgDir = "/sys/fs/cgroup/" + c.id
	}
	for _, want := range []string{"cgroup dir: " + cgDir, fmt.Sprintf("process %d:", c.pid), fmt.Sprintf("process %d:", c.conmonPid)} {
		if !strings.Contains(left, want) {
			t.Errorf("the leak check misses %q of a running container:\n%s", want, left)
		}
	}
	if out := mustRt(t, "list"); !strings.Contains(out, c.id) {
		t.Errorf("list lacks %s:\n%s", c.id, out)
	}
	mustRt(t, "kill", c.id, "15")
	c.mustExit(0)
	if !strings.Contains(streamText(c.log(), "stdout"), "got-term") {
		t.Errorf("the trap did not run: %+v", c.log())
	}
	requireBerthRan(t, "kill", c.id, "15")
}

// TestStopIgnoredSIGTERMThenSIGKILLRecords137: CRI-O's stop: SIGTERM,
// the container ignores it past the timeout, SIGKILL; conmon records 137.
func TestStopIgnoredSIGTERMThenSIGKILLRecords137(t *testing.T) {
	t.Parallel()
	c := newCtr(t, "sigkill", sh(`trap "" TERM; echo ready; while :; do sleep 0.1; done`))
	c.mustCreateStart(createOpts{})
	if !c.waitLog("ready", 10*time.Second) {
		t.Fatalf("container never logged ready")
	}
	mustRt(t, "kill", c.id, "15")
	if _, err := c.waitExit(time.Second); err == nil {
		t.Fatalf("the container exited on SIGTERM, which it ignores")
	}
	if st := state(t, c.id); st.Status != "running" {
		t.Errorf("after an ignored SIGTERM the state is %q", st.Status)
	}
	mustRt(t, "kill", c.id, "9")
	c.mustExit(137)
}

// TestSignalDeliveredWithKill: a signal sent with `kill` reaches the
// container's trap.
func TestSignalDeliveredWithKill(t *testing.T) {
	t.Parallel()
	c := newCtr(t, "usr1", sh(`trap "echo got-usr1; exit 10" USR1; echo ready; while :; do sleep 0.1; done`))
	c.mustCreateStart(createOpts{})
	if !c.waitLog("ready", 10*time.Second) {
		t.Fatalf("container never logged ready")
	}
	mustRt(t, "kill", c.id, "USR1")
	c.mustExit(10)
	if !strings.Contains(streamText(c.log(), "stdout"), "got-usr1") {
		t.Errorf("log: %+v", c.log())
	}
}

// runningCtr starts a container that runs until SIGTERM.
func runningCtr(t *testing.T, name string, mods ...func(*specs.Spec)) *ctr {
	c := newCtr(t, name, sh(`trap "exit 0" TERM; echo ready; while :; do sleep 0.1; done`), mods...)
	c.mustCreateStart(createOpts{})
	if !c.waitLog("ready", 10*time.Second) {
		t.Fatalf("container never logged ready: %+v", c.log())
	}
	return c
}

func stopCtr(t *testing.T, c *ctr) {
	mustRt(t, "kill", c.id, "15")
	c.mustExit(0)
}

// TestExecSyncThroughConmon: CRI-O's ExecSync: output split by stream in
// conmon's log, the exit code on the sync pipe; user, cwd and env from
// the process spec; a terminal exec; a missing command reported as a
// runtime failure (exit_code -1 with the runtime's message).
func TestExecSyncThroughConmon(t *testing.T) {
	t.Parallel()
	c := runningCtr(t, "execsync")
	t.Run("OutputAndExitCode", func(t *testing.T) {
		r := c.execSync(t, sh("echo x-out; echo x-err >&2; exit 7"), false)
		if r.code != 7 || r.stdout != "x-out\n" || r.stderr != "x-err\n" {
			t.Errorf("exec: %+v, want exit 7, x-out on stdout, x-err on stderr", r)
		}
	})
	t.Run("UserCwdEnv", func(t *testing.T) {
		r := c.execSync(t, sh(`echo "$(id -u):$(id -g) $PWD $FOO"`), false, func(p *specs.Process) {
			p.User = specs.User{UID: 1000, GID: 1000}
			p.Cwd = "/tmp"
			p.Env = append(p.Env, "FOO=bar")
		})
		if r.code != 0 || r.stdout != "1000:1000 /tmp bar\n" {
			t.Errorf("exec as 1000 in /tmp with FOO: %+v", r)
		}
	})
	t.Run("Terminal", func(t *testing.T) {
		r := c.execSync(t, sh(`tty; [ -t 0 ] && [ -t 1 ] && echo on-a-tty; exit 2`), true)
		if r.code != 2 || !strings.Contains(r.stdout, "/dev/pts/") || !strings.Contains(r.stdout, "on-a-tty") {
			t.Errorf("terminal exec: %+v", r)
		}
	})
	t.Run("MissingCommand", func(t *testing.T) {
		r := c.execSync(t, []string{"/no/such/cmd"}, false)
		if r.code != -1 || !strings.Contains(r.message, "no such file or directory") {
			t.Errorf("exec of a missing command: %+v, want exit_code -1 and the runtime's error", r)
		}
	})
	t.Run("TimeoutKillsTheExec", func(t *testing.T) {
		start := time.Now()
		r := c.execSyncTimeout(t, 1, sh(`echo started; exec sleep 30`), false)
		if r.code != -1 || r.message != "command timed out" {
			t.Errorf("exec past conmon's -T 1: %+v, want exit_code -1 \"command timed out\"", r)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("the timed-out exec took %v", d)
		}
		var ps string
		if !testkit.Eventually(5*time.Second, func() bool {
			ps = mustRt(t, "ps", c.id)
			return !strings.Contains(ps, "sleep 30")
		}) {
			t.Errorf("the timed-out exec is still running 5s after conmon's timeout:\n%s", ps)
		}
	})
	requireBerthRan(t, "exec", "--pid-file", "--process", "--detach", c.id)
	requireBerthRan(t, "exec", "--tty", "--console-socket", c.id)
	stopCtr(t, c)
}

// TestExecAttachThroughConmon: podman's exec: conmon --api-version 1
// --exec-attach, stdin written to and output read from the session's
// attach socket, the pid then the exit code on the sync pipe; also with a
// terminal.
func TestExecAttachThroughConmon(t *testing.T) {
	t.Parallel()
	c := runningCtr(t, "execattach")
	t.Run("StdinAndStreams", func(t *testing.T) {
		out, r := c.execAttach(t, sh(`read l; echo "got:$l"; echo err-line >&2; exit 4`), false, true, "ping\n")
		if r.code != 4 || string(out.stdout) != "got:ping\n" || string(out.stderr) != "err-line\n" {
			t.Errorf("attached exec: %+v %q %q, want exit 4, got:ping, err-line", r, out.stdout, out.stderr)
		}
	})
	t.Run("Terminal", func(t *testing.T) {
		out, r := c.execAttach(t, sh(`read l; echo "got:$l"; tty; exit 5`), true, true, "pong\n")
		if r.code != 5 || !strings.Contains(string(out.stdout), "got:pong") || !strings.Contains(string(out.stdout), "/dev/pts/") {
			t.Errorf("attached terminal exec: %+v %q, want exit 5, got:pong and a pts", r, out.stdout)
		}
	})
	stopCtr(t, c)
}

// TestStdinThroughAttachSocket: a container created with -i reads what is
// written to conmon's attach socket; closing the write side closes its
// stdin (no --leave-stdin-open), and its output comes back on the socket.
func TestStdinThroughAttachSocket(t *testing.T) {
	t.Parallel()
	c := newCtr(t, "stdin", sh(`while read l; do echo "in:$l"; done; echo eof; exit 6`))
	if err := c.create(createOpts{stdin: true}); err != nil {
		t.Fatal(err)
	}
	conn, err := dialAttach(c.id)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("one\ntwo\n")); err != nil {
		t.Fatal(err)
	}
	conn.CloseWrite()
	mustRt(t, "start", c.id)
	out, err := readAttach(conn, 20*time.Second)
	if err != nil {
		t.Errorf("attach: %v", err)
	}
	c.mustExit(6)
	want := "in:one\nin:two\neof\n"
	if string(out.stdout) != want {
		t.Errorf("attach socket stdout %q, want %q", out.stdout, want)
	}
	if got := streamText(c.log(), "stdout"); got != want {
		t.Errorf("log %q, want %q", got, want)
	}
}

// TestTerminalContainerThroughConsoleSocket: with -t conmon gets the pty
// master from the runtime through its console socket; the container's
// stdio is a pts, a resize written to the ctl fifo reaches it, input from
// the attach socket reaches it, and its output is logged.
func TestTerminalContainerThroughConsoleSocket(t *testing.T) {
	t.Parallel()
	c := newCtr(t, "tty", sh(`tty; [ -t 0 ] && echo stdin-tty; i=0; while [ "$(stty size)" != "30 90" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; echo "size:$(stty size)"; read l; echo "read:$l"; exit 5`),
		func(sp *specs.Spec) { sp.Process.Terminal = true })
	c.mustCreateStart(createOpts{terminal: true})
	if !c.waitLog("stdin-tty", 10*time.Second) {
		t.Fatalf("no tty output: %+v", c.log())
	}
	ctl, err := os.OpenFile(filepath.Join(c.bundle, "ctl"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(ctl, "%d %d %d\n", 1, 30, 90)
	ctl.Close()
	if !c.waitLog("size:30 90", 15*time.Second) {
		t.Fatalf("resize through the ctl fifo never reached the pty: %+v", c.log())
	}
	conn, err := dialAttach(c.id)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("hello\n"))
	c.mustExit(5)
	out := streamText(c.log(), "stdout")
	for _, want := range []string{"/dev/pts/", "read:hello"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal log lacks %q:\n%s", want, out)
		}
	}
	requireBerthRan(t, "create", "--bundle", c.bundle, "--console-socket", c.id)
}

// cgroupFile reads a file of the container's cgroup: v1 (ctrl's
// hierarchy) or v2 (the unified dir).
func cgroupFile(t *testing.T, c *ctr, ctrl, file string) string {
	t.Helper()
	dir := filepath.Join("/sys/fs/cgroup", ctrl, c.spec.Linux.CgroupsPath)
	if s.cgroupV2 {
		dir = filepath.Join("/sys/fs/cgroup", c.spec.Linux.CgroupsPath)
	}
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Errorf("%v", err)
	}
	return strings.TrimSpace(string(b))
}

// TestUpdateResourcesWhileConmonHoldsTheContainer: CRI-O's
// `update --resources -` (JSON on stdin) and runc's flag form change the
// limits of a running container under conmon, seen in its cgroup.
func TestUpdateResourcesWhileConmonHoldsTheContainer(t *testing.T) {
	t.Parallel()
	for _, ctrl := range []string{"memory", "pids", "cpu"} {
		needController(t, ctrl)
	}
	c := runningCtr(t, "update")
	mem, pidsMax, cpu := "memory.limit_in_bytes", "pids.max", "cpu.cfs_quota_us"
	if s.cgroupV2 {
		mem, cpu = "memory.max", "cpu.max"
	}
	limit := int64(64 << 20)
	pids := int64(50)
	quota := int64(50000)
	period := uint64(100000)
	res, _ := json.Marshal(specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: &limit},
		Pids:   &specs.LinuxPids{Limit: &pids},
		CPU:    &specs.LinuxCPU{Quota: &quota, Period: &period},
	})
	if r := rtStdin(t, res, "update", "--resources", "-", c.id); r.Code != 0 {
		t.Fatalf("%s", r)
	}
	if got := cgroupFile(t, c, "memory", mem); got != "67108864" {
		t.Errorf("%s %s, want 67108864", mem, got)
	}
	if got := cgroupFile(t, c, "pids", pidsMax); got != "50" {
		t.Errorf("pids.max %s, want 50", got)
	}
	if got := cgroupFile(t, c, "cpu", cpu); got != "50000" && got != "50000 100000" {
		t.Errorf("%s %s, want a 50000 quota", cpu, got)
	}
	mustRt(t, "update", "--memory", "32m", "--pids-limit", "40", c.id)
	if got := cgroupFile(t, c, "memory", mem); got != "33554432" {
		t.Errorf("after update --memory 32m: %s %s", mem, got)
	}
	if got := cgroupFile(t, c, "pids", pidsMax); got != "40" {
		t.Errorf("after update --pids-limit 40: pids.max %s", got)
	}
	if !pidAlive(c.conmonPid, c.id) || state(t, c.id).Status != "running" {
		t.Errorf("the container or its conmon did not survive update")
	}
	requireBerthRan(t, "update", "--resources", "-", c.id)
	stopCtr(t, c)
}

// TestPauseResumeUnderConmon: pause freezes the container (state paused,
// freezer FROZEN, no exit recorded, conmon waits), resume thaws it and it
// then exits normally with its code recorded.
func TestPauseResumeUnderConmon(t *testing.T) {
	t.Parallel()
	c := newCtr(t, "pause", sh(`echo ready; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo resumed; exit 9`))
	c.mustCreateStart(createOpts{})
	if !c.waitLog("ready", 10*time.Second) {
		t.Fatalf("container never logged ready")
	}
	mustRt(t, "pause", c.id)
	if st := state(t, c.id); st.Status != "paused" {
		t.Errorf("state after pause: %q", st.Status)
	}
	if s.cgroupV2 {
		if got := cgroupFile(t, c, "", "cgroup.freeze"); got != "1" {
			t.Errorf("cgroup.freeze %s after pause", got)
		}
	} else if got := cgroupFile(t, c, "freezer", "freezer.state"); got != "FROZEN" {
		t.Errorf("freezer.state %s after pause", got)
	}
	if err := os.WriteFile(filepath.Join(c.bundle, "rootfs", "tmp", "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.waitExit(300 * time.Millisecond); err == nil {
		t.Fatalf("a paused container exited")
	}
	if !pidAlive(c.conmonPid, c.id) {
		t.Errorf("conmon gone while its container is paused")
	}
	mustRt(t, "resume", c.id)
	c.mustExit(9)
	if !strings.Contains(streamText(c.log(), "stdout"), "resumed") {
		t.Errorf("log: %+v", c.log())
	}
	requireBerthRan(t, "pause", c.id)
	requireBerthRan(t, "resume", c.id)
}

// TestOOMKillRecordedByConmon: a container over its memory limit is killed
// by the kernel; conmon records 137 and writes the oom file in the
// persist dir (its cgroup v1 eventfd watch on memory.oom_control).
func TestOOMKillRecordedByConmon(t *testing.T) {
	t.Parallel()
	needController(t, "memory")
	limit := int64(16 << 20)
	c := newCtr(t, "oom", []string{"dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"}, func(sp *specs.Spec) {
		sp.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
	})
	c.mustCreateStart(createOpts{})
	c.mustExit(137)
	if !pathExists(filepath.Join(c.persist, "oom")) {
		t.Errorf("conmon wrote no oom file in the persist dir")
	}
}

func pathExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestTwentyContainersInParallelUnderTwentyConmons: 20 containers created
// at once, each under its own conmon, all recorded and removed.
func TestTwentyContainersInParallelUnderTwentyConmons(t *testing.T) {
	t.Parallel()
	const n = 20
	cs := make([]*ctr, n)
	for i := range cs {
		cs[i] = newCtr(t, fmt.Sprintf("par%02d", i), sh(fmt.Sprintf("echo hello-%d; exit %d", i, i%5)))
	}
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func(c *ctr) {
			defer wg.Done()
			if err := c.create(createOpts{}); err != nil {
				t.Errorf("%s: %v", c.id, err)
				return
			}
			if r := rt(t, "start", c.id); r.Code != 0 {
				t.Errorf("%s", r)
			}
		}(c)
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	conmons := map[int]bool{}
	for i, c := range cs {
		c.mustExit(i % 5)
		conmons[c.conmonPid] = true
		if got := streamText(c.log(), "stdout"); got != fmt.Sprintf("hello-%d\n", i) {
			t.Errorf("%s logged %q", c.id, got)
		}
	}
	if len(conmons) != n {
		t.Errorf("%d distinct conmon pids for %d containers", len(conmons), n)
	}
	for _, c := range cs {
		mustRt(t, "delete", c.id)
	}
	for _, c := range cs {
		if r := rt(t, "state", c.id); r.Code == 0 {
			t.Errorf("%s still known after delete", c.id)
		}
	}
}

// TestPodContainerJoinsNamespacesOfAnother: CRI-O's pods: a second
// container under its own conmon joins the first one's pid, ipc, uts and
// network namespaces by path and sees the first one's init as pid 1 and
// its hostname.
func TestPodContainerJoinsNamespacesOfAnother(t *testing.T) {
	t.Parallel()
	infra := runningCtr(t, "pod-infra", func(sp *specs.Spec) { sp.Hostname = "podhost" })
	member := newCtr(t, "pod-member", sh(`echo "pid1:$(cat /proc/1/cmdline | tr '\0' ' ')"; echo "host:$(hostname)"; exit 0`), func(sp *specs.Spec) {
		sp.Hostname = ""
		for i, ns := range sp.Linux.Namespaces {
			switch ns.Type {
			case specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.NetworkNamespace:
				sp.Linux.Namespaces[i].Path = fmt.Sprintf("/proc/%d/ns/%s", infra.pid, nsFile(ns.Type))
			}
		}
	})
	member.mustCreateStart(createOpts{})
	member.mustExit(0)
	out := streamText(member.log(), "stdout")
	for _, want := range []string{"pid1:sh -c trap", "host:podhost"} {
		if !strings.Contains(out, want) {
			t.Errorf("pod member's output lacks %q:\n%s", want, out)
		}
	}
	mustRt(t, "delete", member.id)
	stopCtr(t, infra)
}

func nsFile(t specs.LinuxNamespaceType) string {
	switch t {
	case specs.NetworkNamespace:
		return "net"
	case specs.MountNamespace:
		return "mnt"
	}
	return string(t)
}

// TestUserNamespaceContainerUnderConmon: a container with its own user
// namespace (uid/gid 0 mapped to 100000) runs under conmon with its
// mapping in place and its output and exit code recorded.
func TestUserNamespaceContainerUnderConmon(t *testing.T) {
	t.Parallel()
	c := newCtr(t, "userns", sh(`cat /proc/self/uid_map /proc/self/gid_map; id -u; exit 4`), func(sp *specs.Spec) {
		sp.Linux.Namespaces = append(sp.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		sp.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		sp.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	})
	c.mustCreateStart(createOpts{})
	c.mustExit(4)
	fields := strings.Fields(streamText(c.log(), "stdout"))
	if strings.Join(fields, " ") != "0 100000 65536 0 100000 65536 0" {
		t.Errorf("uid_map, gid_map, id -u: %q", fields)
	}
	requireBerthRan(t, "create", "--bundle", c.bundle, c.id)
}

// TestSameIDCreatedAgainAfterDelete: CRI-O recreates a container under
// the same id after removing it; nothing of the first one may be in the way.
func TestSameIDCreatedAgainAfterDelete(t *testing.T) {
	t.Parallel()
	c := newCtr(t, "again", sh("echo first; exit 1"))
	c.mustCreateStart(createOpts{})
	c.mustExit(1)
	mustRt(t, "delete", c.id)
	os.Remove(c.exitFile())
	os.Remove(filepath.Join(c.persist, "exit"))
	os.Remove(c.logPath)
	c.mustCreateStart(createOpts{})
	c.mustExit(1)
	if got := streamText(c.log(), "stdout"); got != "first\n" {
		t.Errorf("second run logged %q", got)
	}
}

// TestNoPivotAndNoNewKeyringPassedThrough: conmon's --no-pivot and
// --no-new-keyring reach the runtime's create, and the container runs.
func TestNoPivotAndNoNewKeyringPassedThrough(t *testing.T) {
	t.Parallel()
	c := newCtr(t, "nopivot", sh(`head -1 /proc/self/mountinfo; exit 2`))
	c.mustCreateStart(createOpts{noPivot: true, noNewKeyring: true})
	c.mustExit(2)
	// mountinfo's root field is relative to its file system's root, so
	// where the bundle's directory is itself a mount (a tmpfs /tmp) it is
	// only the tail of the bundle's path.
	out := streamText(c.log(), "stdout")
	f := strings.Fields(out)
	if len(f) < 5 || f[4] != "/" || f[3] == "/" || !strings.HasSuffix(filepath.Join(c.bundle, "rootfs"), f[3]) {
		t.Errorf("the container's root mount is not its rootfs %s: %q", filepath.Join(c.bundle, "rootfs"), out)
	}
	requireBerthRan(t, "create", "--bundle", c.bundle, "--no-pivot", "--no-new-keyring", c.id)
}
