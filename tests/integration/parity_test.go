package integration

// runc parity (issue 12): behaviours runc's users and scripts rely on.
// Every test here also runs against runc (BERTH_BIN=/usr/sbin/runc); where
// Berth deliberately differs, the test says so and docs/runc-parity.md
// lists it. Nothing may hang: each invocation has a timeout, and a timeout
// fails the test.

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// TestParityFrozenCgroupRefused: a container whose cgroup already exists
// and is frozen (freezer.state FROZEN on v1, cgroup.freeze 1 on v2) would
// start its init frozen and never finish create. Create must fail at once
// with one line naming the frozen cgroup, which is left as it was: still
// there, still frozen, empty. runc 1.1.5 refuses too, with the same words
// but without the cgroup's name (Berth adds it: the test fails against
// runc only on that).
func TestParityFrozenCgroupRefused(t *testing.T) {
	id := newID(t)
	cgPath := "/" + id + "-frozen"
	dir, file, frozen, thawed := filepath.Join(v1Mountpoint("freezer"), cgPath), "freezer.state", "FROZEN", "THAWED"
	if cgroupV2 {
		dir, file, frozen, thawed = filepath.Join("/sys/fs/cgroup", cgPath), "cgroup.freeze", "1", "0"
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot make a freezer cgroup: %v", err)
	}
	t.Cleanup(func() {
		os.WriteFile(filepath.Join(dir, file), []byte(thawed), 0)
		os.Remove(dir)
	})
	if err := os.WriteFile(filepath.Join(dir, file), []byte(frozen), 0); err != nil {
		t.Fatal(err)
	}
	bundle := newBundle(t, withArgs("/bin/true"), func(s *specs.Spec) { s.Linux.CgroupsPath = cgPath })
	r := rtWith(t, rtOpts{Timeout: 20 * time.Second}, "run", "-d", "--bundle", bundle, id)
	r.failed(t, "cgroup unexpectedly frozen") // runc's words
	if n := len(lines(r.Stderr)); n != 1 {
		t.Errorf("%d error lines, want one: %s", n, r)
	}
	if !strings.Contains(r.Stderr, cgPath) {
		t.Errorf("the error does not name the cgroup %s: %s", cgPath, r)
	}
	if b, err := os.ReadFile(filepath.Join(dir, file)); err != nil || strings.TrimSpace(string(b)) != frozen {
		t.Errorf("the cgroup is no longer frozen: %q %v", b, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs")); strings.TrimSpace(string(b)) != "" {
		t.Errorf("the frozen cgroup has processes: %q", b)
	}
	assertCreateLeftNothing(t, id)
}

// TestParitySeccompNotifyWithoutAgentFails: SCMP_ACT_NOTIFY (on write,
// and on mkdir, which runc also accepts) with a listenerPath where no
// agent listens. Create must fail with runc's
// "failed to connect with seccomp agent", not start a process whose
// notified syscalls nobody answers (Berth hung here before).
func TestParitySeccompNotifyWithoutAgentFails(t *testing.T) {
	for _, call := range []string{"mkdir", "write"} {
		t.Run(call, func(t *testing.T) {
			sc := allowAllExcept(specs.LinuxSyscall{Names: []string{call}, Action: specs.ActNotify})
			sc.ListenerPath = filepath.Join(hostDir(t, nil), "nobody.sock")
			bundle := newBundle(t, withSeccompProfile(sc), withArgs("/bin/sh", "-c", "echo hello"))
			id := newID(t)
			r := rtWith(t, rtOpts{Timeout: 20 * time.Second}, "run", "--bundle", bundle, id)
			r.failed(t, "failed to connect with seccomp agent")
			assertCreateLeftNothing(t, id)
		})
	}
}

// TestParitySeccompNotifyOnWriteWithAgent: the same profile with an agent
// that lets every notified write go on (SECCOMP_USER_NOTIF_FLAG_CONTINUE).
// The init's own writes after loading the filter are notified too, so the
// runtime must hand the listener over without waiting for one of them:
// the container runs and its output arrives. Berth deliberately differs
// from runc here: runc refuses the profile ("SCMP_ACT_NOTIFY cannot be
// used for the write syscall"), so this test fails against runc.
func TestParitySeccompNotifyOnWriteWithAgent(t *testing.T) {
	sock := filepath.Join(hostDir(t, nil), "agent.sock")
	agent := startSeccompAgent(t, sock, func(id uint64) libseccomp.ScmpNotifResp {
		return libseccomp.ScmpNotifResp{ID: id, Flags: libseccomp.NotifRespFlagContinue}
	})
	sc := allowAllExcept(specs.LinuxSyscall{Names: []string{"write"}, Action: specs.ActNotify})
	sc.ListenerPath = sock
	bundle := newBundle(t, withSeccompProfile(sc), withArgs("/bin/sh", "-c", "echo hello-through-agent"))
	r := rtWith(t, rtOpts{Timeout: 30 * time.Second}, "run", "--bundle", bundle, newID(t)).ok(t)
	if !strings.Contains(r.Stdout, "hello-through-agent") {
		t.Errorf("the container's output did not arrive: %s", r)
	}
	if names := agent.notified(); !contains(names, "write") {
		t.Errorf("the agent was notified of %q, want write", names)
	}
}

// TestParityFlagsAfterID: runc's command line (urfave/cli v1) takes a
// command's flags after the container ID too, and scripts are written
// that way. One case per command that has flags and no argv of its own.
func TestParityFlagsAfterID(t *testing.T) {
	t.Run("create-run", func(t *testing.T) {
		bundle := newBundle(t, withArgs("/bin/probe", "sleep"))
		id := newID(t)
		rt(t, "create", id, "--bundle", bundle).ok(t)
		rt(t, "delete", id, "--force").ok(t)
		if r := rt(t, "state", id); r.Code == 0 {
			t.Errorf("state succeeds after delete ID --force: %s", r)
		}
		r := rt(t, "run", newID(t), "--bundle", newBundle(t, withArgs("/bin/sh", "-c", "echo ran")), "--no-pivot").ok(t)
		if !strings.Contains(r.Stdout, "ran") {
			t.Errorf("run ID --bundle B --no-pivot: %s", r)
		}
	})
	t.Run("update", func(t *testing.T) {
		id, _ := createStarted(t, newBundle(t, withArgs("/bin/probe", "sleep")))
		defer rt(t, "delete", "-f", id)
		if cgroupV2 && !v2ControllerAvailable("pids") {
			// This host's v2 view has hugetlb only: the update fails, but
			// on the missing controller, so its flags were read.
			rt(t, "update", id, "--pids-limit", "50").failed(t, "pids")
			return
		}
		rt(t, "update", id, "--pids-limit", "50").ok(t)
		rt(t, "update", id, "--memory=64m").ok(t)
		if !cgroupV2 {
			pid := getState(t, id).Pid
			wantCgFile(t, v1CgroupDir(t, pid, "pids"), "pids.max", "50")
			wantCgFile(t, v1CgroupDir(t, pid, "memory"), "memory.limit_in_bytes", "67108864")
		}
	})
	t.Run("events", func(t *testing.T) {
		id, _ := createStarted(t, newBundle(t, withArgs("/bin/probe", "sleep")))
		defer rt(t, "delete", "-f", id)
		r := rt(t, "events", id, "--stats").ok(t)
		if !strings.Contains(r.Stdout, `"type":"stats"`) {
			t.Errorf("events ID --stats: %s", r)
		}
	})
	t.Run("kill", func(t *testing.T) {
		id, _ := createStarted(t, newBundle(t, withArgs("/bin/probe", "sleep")))
		defer rt(t, "delete", "-f", id)
		rt(t, "kill", id, "KILL", "--all").ok(t)
		waitStatus(t, id, "stopped", 10*time.Second)
		rt(t, "delete", id).ok(t)
	})
}

// TestParityKillSignalZero: signal 0 (is it alive?) is accepted by kill,
// with --all too, and leaves the container running; runc accepts it.
func TestParityKillSignalZero(t *testing.T) {
	id, _ := createStarted(t, newBundle(t, withArgs("/bin/probe", "sleep")))
	defer rt(t, "delete", "-f", id)
	rt(t, "kill", id, "0").ok(t)
	rt(t, "kill", "--all", id, "0").ok(t)
	if st := getState(t, id); st.Status != "running" {
		t.Errorf("after kill 0 the container is %q, want running", st.Status)
	}
}

// TestParityPsOfStoppedContainer: ps of a stopped container prints an
// empty list (the header only, or [] with --format json) and exits 0.
func TestParityPsOfStoppedContainer(t *testing.T) {
	bundle := newBundle(t, withArgs("/bin/true"))
	id := newID(t)
	rt(t, "create", "--bundle", bundle, id).ok(t)
	rt(t, "start", id).ok(t)
	waitStatus(t, id, "stopped", 10*time.Second)
	defer rt(t, "delete", "-f", id)
	r := rt(t, "ps", "--format", "json", id).ok(t)
	// runc prints null, Berth [] (a list, whatever the count): both
	// decode to an empty []int in go-runc.
	if out := strings.TrimSpace(r.Stdout); out != "[]" && out != "null" {
		t.Errorf("ps --format json of a stopped container: %q, want [] (or runc's null)", r.Stdout)
	}
	r = rt(t, "ps", id).ok(t)
	if ls := lines(r.Stdout); len(ls) > 1 {
		t.Errorf("ps of a stopped container lists processes: %q", r.Stdout)
	}
}

// TestParityEnvironment: the process's environment as runc builds it:
// one entry per name, the last given winning; an empty or missing HOME
// set from the user's passwd entry; the same for exec.
func TestParityEnvironment(t *testing.T) {
	env := []string{"PATH=/bin:/usr/bin", "ONE=first", "TWO=2", "ONE=last", "HOME="}
	bundle := newBundle(t, withArgs("/bin/probe", "sleep"), func(s *specs.Spec) { s.Process.Env = env })
	id, _ := createStarted(t, bundle)
	defer rt(t, "delete", "-f", id)
	check := func(what, out string) {
		var ones, homes []string
		for _, l := range lines(out) {
			if strings.HasPrefix(l, "ONE=") {
				ones = append(ones, l)
			}
			if strings.HasPrefix(l, "HOME=") {
				homes = append(homes, l)
			}
		}
		if len(ones) != 1 || ones[0] != "ONE=last" {
			t.Errorf("%s: ONE entries %q, want [ONE=last]", what, ones)
		}
		if len(homes) != 1 || homes[0] != "HOME=/root" {
			t.Errorf("%s: HOME entries %q, want [HOME=/root] (root's passwd entry)", what, homes)
		}
	}
	r := rt(t, "exec", id, "/bin/probe", "env").ok(t)
	check("exec", r.Stdout)
	r = rt(t, "exec", "--env", "ONE=exec1", "--env", "ONE=last", id, "/bin/probe", "env").ok(t)
	check("exec --env", r.Stdout)
	out := runOK(t, withArgs("/bin/probe", "env"), func(s *specs.Spec) { s.Process.Env = env })
	check("run", out)
}

// TestParityUnknownCapabilityWarns: runtime-spec 1.1+ says capabilities
// that cannot be granted are logged as a warning and runtimes SHOULD NOT
// fail; runc 1.2 warns "ignoring unknown or unavailable capabilities".
// A capability newer than the kernel (or than Berth) is left out with
// that warning, the others are applied; for exec --cap too. A malformed
// name is still an error (docs/runc-parity.md). runc 1.1.5 passes (it
// warns the same way).
func TestParityUnknownCapabilityWarns(t *testing.T) {
	future := "CAP_FROM_THE_FUTURE"
	bundle := newBundle(t, withArgs("/bin/probe", "caps"), func(s *specs.Spec) {
		c := s.Process.Capabilities
		c.Bounding = append(c.Bounding, future)
		c.Effective = append(c.Effective, future)
		c.Permitted = append(c.Permitted, future)
	})
	r := rt(t, "run", "--bundle", bundle, newID(t)).ok(t)
	if !strings.Contains(r.Stderr, "ignoring unknown or unavailable capabilities") || !strings.Contains(r.Stderr, future) {
		t.Errorf("no warning naming %s: %s", future, r)
	}
	// The rest of the set is applied: CAP_KILL is bit 5.
	var eff uint64
	for _, l := range lines(r.Stdout) {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			eff, _ = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	if eff&(1<<5) == 0 {
		t.Errorf("CAP_KILL is not effective beside the ignored capability: %s", r)
	}
	id, _ := createStarted(t, newBundle(t, withArgs("/bin/probe", "sleep")))
	defer rt(t, "delete", "-f", id)
	r = rt(t, "exec", "--cap", future, id, "/bin/true").ok(t)
	if !strings.Contains(r.Stderr, future) {
		t.Errorf("exec --cap %s: no warning: %s", future, r)
	}
}

// raw returns the output read from the master so far, \r included.
func (o *ttyOutput) raw() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// TestParityTerminalOwnerAndNewlines: with process.user.uid 1000 and a
// terminal, the pty belongs to uid 1000 (group tty, devpts's gid=5), as
// runc makes it, for create with --console-socket and for exec -t -u 1000.
// In the foreground (berth is the terminal's reader), "\n" is not turned
// into "\r\n": runc clears ONLCR there, and callers log that stdout as it
// comes. Through --console-socket the pty is left as the kernel makes it,
// as runc does (the caller owns it).
func TestParityTerminalOwnerAndNewlines(t *testing.T) {
	const script = `ls -lnL /proc/self/fd/0 | awk '{print "owner", $3, $4}'; printf 'one\ntwo\n'`
	asUser := func(s *specs.Spec) { s.Process.User = specs.User{UID: 1000, GID: 1000} }
	t.Run("foreground", func(t *testing.T) {
		// The runtime's stdin is a terminal of the test's (runc wants a
		// controlling terminal), its stdout a file: what the file gets is
		// what the container's pty sent.
		bundle := newBundle(t, withArgs("/bin/sh", "-c", script), withTerminal(nil), asUser)
		p := openTestPty(t, 24, 80)
		outFile := filepath.Join(hostDir(t, nil), "stdout")
		f, err := os.Create(outFile)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd := exec.Command(berthBin, "--root", stateRoot(t), "run", "--bundle", bundle, newID(t))
		cmd.Stdin, cmd.Stdout, cmd.Stderr = p.peer, f, f
		cmd.Dir = workDir
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				b, _ := os.ReadFile(outFile)
				t.Fatalf("run: %v: %q", err, b)
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatal("run still running after 30s")
		}
		b, _ := os.ReadFile(outFile)
		raw := string(b)
		if !strings.Contains(raw, "owner 1000 5") {
			t.Errorf("the terminal is not uid 1000, group 5: %q", raw)
		}
		if strings.Contains(raw, "one\r\n") || !strings.Contains(raw, "one\ntwo\n") {
			t.Errorf("newlines are translated (ONLCR still set): %q", raw)
		}
	})
	owner := func(t *testing.T, master *os.File) {
		out := readTTY(master)
		text := out.waitMatch(t, 15*time.Second, `^owner \d+ \d+$`)
		if !strings.Contains(text, "owner 1000 5") {
			t.Errorf("the terminal is not uid 1000, group 5: %q", text)
		}
	}
	t.Run("create", func(t *testing.T) {
		bundle := newBundle(t, withArgs("/bin/sh", "-c", script+"; sleep 1"), withTerminal(nil), asUser)
		id := newID(t)
		ln, sock := ttyListen(t)
		create := rtStart(t, rtOpts{}, "create", "--console-socket", sock, "--bundle", bundle, id)
		master, _, _ := ttyRecvMaster(t, ln)
		create.wait(t).ok(t)
		defer rt(t, "delete", "-f", id)
		rt(t, "start", id).ok(t)
		owner(t, master)
	})
	t.Run("exec", func(t *testing.T) {
		id, _ := createStarted(t, newBundle(t, withArgs("/bin/probe", "sleep")))
		defer rt(t, "delete", "-f", id)
		ln, sock := ttyListen(t)
		x := rtStart(t, rtOpts{}, "exec", "-d", "-t", "-u", "1000:1000", "--console-socket", sock, id, "/bin/sh", "-c", script+"; sleep 1")
		master, _, _ := ttyRecvMaster(t, ln)
		x.wait(t).ok(t)
		owner(t, master)
	})
}

// TestParityHookContext: a createContainer hook runs with the container's
// rootfs as its working directory (runc's), so "./bin/probe" names the
// container's file; a startContainer hook without an env of its own gets
// the process's environment, HOME included, as runc passes it.
func TestParityHookContext(t *testing.T) {
	logDir := hostDir(t, nil)
	hostLog := filepath.Join(logDir, "hooks.log")
	bundle := newBundle(t, withArgs("/bin/true"),
		func(s *specs.Spec) { s.Process.Env = []string{"PATH=/bin:/usr/bin", "ONE=two"} },
		withMount(specs.Mount{Destination: "/hooklog", Type: "bind", Source: logDir, Options: []string{"rbind"}}),
		withHookSpec(&specs.Hooks{
			CreateContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "exec ./bin/probe hook " + hostLog + " createContainer"}}},
			StartContainer:  []specs.Hook{{Path: "/bin/probe", Args: []string{"probe", "hook", "/hooklog/hooks.log", "startContainer"}}},
		}))
	rt(t, "run", "--bundle", bundle, newID(t)).ok(t)
	runs := readHookLog(t, hostLog)
	if len(runs) != 2 {
		t.Fatalf("%d hook records, want 2: %+v", len(runs), runs)
	}
	if cwd := runs[0].Cwd; cwd != rootfsOf(bundle) {
		t.Errorf("createContainer ran in %q, want the rootfs %s", cwd, rootfsOf(bundle))
	}
	env := runs[1].Env
	if !contains(env, "ONE=two") || !contains(env, "HOME=/root") {
		t.Errorf("startContainer's environment %q lacks the process's ONE=two and HOME=/root", env)
	}
}

// TestParityNoStrayFdInInit: whatever the stdio setup, the program gets
// fds 0, 1 and 2 and nothing else: stdio files, stdio closed in the
// caller, run -d, exec and exec -d, a terminal, a user namespace,
// --no-pivot, a notify socket and a seccomp profile. The program lists
// its fds into a file of a shared directory (its stdout may be closed).
func TestParityNoStrayFdInInit(t *testing.T) {
	out := hostDir(t, nil)
	list := func(name string) []string {
		return []string{"/bin/sh", "-c", "exec probe fds > /out/" + name}
	}
	shared := withMount(specs.Mount{Destination: "/out", Type: "bind", Source: out, Options: []string{"rbind"}})
	userns := func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 65536}}
	}
	closed := func(args ...string) []string {
		q := make([]string, len(args))
		for i, a := range args {
			q[i] = "'" + a + "'"
		}
		return []string{"/bin/sh", "-c", "exec 0<&- 1>&- 2>&-; exec " + strings.Join(q, " ")}
	}
	run := func(t *testing.T, argv []string) {
		t.Helper()
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = workDir
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%q: %v", argv, err)
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("%q still running after 30s", argv)
		}
	}
	check := func(t *testing.T, name string, want string) {
		t.Helper()
		var b []byte
		waitFor(10*time.Second, func() bool {
			b, _ = os.ReadFile(filepath.Join(out, name))
			return len(b) > 0
		})
		if got := strings.Join(fdNumbers(string(b)), ","); got != want {
			t.Errorf("%s: the program's fds are\n%s\nwant exactly %s", name, b, want)
		}
	}
	// Each subtest has its own state root (and leak check).
	root := func(t *testing.T) []string { return []string{berthBin, "--root", stateRoot(t)} }
	for _, c := range []struct {
		name string
		mods []func(*specs.Spec)
		argv func(root []string, bundle, id string) []string
	}{
		{"run-closed-stdio", nil, func(r []string, b, id string) []string { return closed(append(r, "run", "--bundle", b, id)...) }},
		{"run-d-closed-stdio", nil, func(r []string, b, id string) []string { return closed(append(r, "run", "-d", "--bundle", b, id)...) }},
		{"userns", []func(*specs.Spec){userns}, func(r []string, b, id string) []string { return append(r, "run", "--bundle", b, id) }},
		{"no-pivot", nil, func(r []string, b, id string) []string { return append(r, "run", "--no-pivot", "--bundle", b, id) }},
		{"preserve-fds", nil, func(r []string, b, id string) []string {
			return []string{"/bin/sh", "-c", "exec 3</dev/null 4</dev/null; exec \"$@\"", "sh", r[0], r[1], r[2], "run", "--preserve-fds", "1", "--bundle", b, id}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			bundle := newBundle(t, append([]func(*specs.Spec){withArgs(list(c.name)...), shared}, c.mods...)...)
			id := newID(t)
			run(t, c.argv(root(t), bundle, id))
			want := "0,1,2"
			if c.name == "preserve-fds" {
				want = "0,1,2,3" // fd 4 is not preserved
			}
			check(t, c.name, want)
			rt(t, "delete", "-f", id).ok(t)
		})
	}
	t.Run("terminal", func(t *testing.T) {
		ln, sock := ttyListen(t)
		bundle := newBundle(t, withArgs(list("terminal")...), shared, withTerminal(nil))
		id := newID(t)
		p := rtStart(t, rtOpts{}, "run", "-d", "--console-socket", sock, "--bundle", bundle, id)
		ttyRecvMaster(t, ln)
		p.wait(t).ok(t)
		defer rt(t, "delete", "-f", id)
		check(t, "terminal", "0,1,2")
	})
	t.Run("exec", func(t *testing.T) {
		id, _ := createStarted(t, newBundle(t, withArgs("/bin/probe", "sleep"), shared))
		defer rt(t, "delete", "-f", id)
		run(t, append(root(t), "exec", id, "/bin/sh", "-c", "exec probe fds > /out/exec"))
		check(t, "exec", "0,1,2")
		run(t, closed(append(root(t), "exec", id, "/bin/sh", "-c", "exec probe fds > /out/exec-closed")...))
		check(t, "exec-closed", "0,1,2")
		run(t, closed(append(root(t), "exec", "-d", id, "/bin/sh", "-c", "exec probe fds > /out/exec-d")...))
		check(t, "exec-d", "0,1,2")
	})
}

// TestParityDebugLog: --debug writes debug records, to stderr or to --log,
// in text and in JSON (runc's two formats, one record per line). What
// Berth records (the steps worth diagnosing: config loaded, namespaces,
// cgroup paths, mounts, hooks, sync messages, exec, kill) is checked by
// name too; runc records other steps (its nsexec stages), so those checks
// are Berth's own (docs/runc-parity.md).
func TestParityDebugLog(t *testing.T) {
	isBerth := !strings.Contains(berthBin, "runc")
	bundle := newBundle(t, withArgs("/bin/probe", "sleep"), withHookSpec(&specs.Hooks{
		CreateRuntime: []specs.Hook{{Path: "/bin/true"}},
	}))
	logFile := filepath.Join(hostDir(t, nil), "log.json")
	id := newID(t)
	jopts := rtOpts{Global: []string{"--debug", "--log", logFile, "--log-format", "json"}}
	rtWith(t, jopts, "run", "-d", "--bundle", bundle, id).ok(t)
	rtWith(t, jopts, "exec", id, "/bin/true").ok(t)
	rtWith(t, jopts, "kill", id, "KILL").ok(t)
	waitStatus(t, id, "stopped", 10*time.Second)
	rtWith(t, jopts, "delete", id).ok(t)
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, l := range lines(string(b)) {
		var rec struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Errorf("log line is not a JSON record: %q", l)
			continue
		}
		if rec.Level == "debug" {
			msgs = append(msgs, rec.Msg)
		}
	}
	if len(msgs) < 3 {
		t.Fatalf("%d debug records in the --log file, want several:\n%s", len(msgs), b)
	}
	if isBerth {
		all := strings.Join(msgs, "\n")
		for _, step := range []string{"config.json loaded", "namespaces:", "cgroup paths", "mount #0", "running createRuntime hook #0", "sync: received", "exec [\"/bin/true\"]", "kill: signal 9", "delete: removing"} {
			if !strings.Contains(all, step) {
				t.Errorf("no debug record of %q in:\n%s", step, all)
			}
		}
	}
	r := rtWith(t, rtOpts{Global: []string{"--debug"}}, "run", "--bundle", newBundle(t, withArgs("/bin/true")), newID(t)).ok(t)
	if !strings.Contains(r.Stderr, "level=debug") {
		t.Errorf("--debug wrote no text debug record to stderr: %s", r)
	}
}

// TestParityHookErrorText: a failing hook fails create with runc's words,
// "error running hook", which callers match.
func TestParityHookErrorText(t *testing.T) {
	bundle := newBundle(t, withArgs("/bin/true"), withHookSpec(&specs.Hooks{
		CreateRuntime: []specs.Hook{{Path: "/bin/false"}},
	}))
	id := newID(t)
	rt(t, "create", "--bundle", bundle, id).failed(t, "error running hook")
	assertCreateLeftNothing(t, id)
}

// TestParityUnifiedOnV1IsInvalidConfiguration: linux.resources.unified on
// a host without cgroup v2 (this host's v1 view) is refused with runc's
// "invalid configuration" and leaves nothing behind.
func TestParityUnifiedOnV1IsInvalidConfiguration(t *testing.T) {
	skipInV2View(t, "unified is valid on cgroup v2")
	bundle := newBundle(t, withArgs("/bin/true"), withLinuxResources(&specs.LinuxResources{
		Unified: map[string]string{"pids.max": "10"},
	}))
	id := newID(t)
	rt(t, "run", "--bundle", bundle, id).failed(t, "invalid configuration")
	assertCreateLeftNothing(t, id)
}

// TestParityExecSubCgroup: exec --cgroup puts the process in an existing
// sub-cgroup of the container's; a path that climbs out ("..", "../x"), a
// sub-cgroup that does not exist and (v1) a controller the container does
// not have are each an error, and no process is started.
func TestParityExecSubCgroup(t *testing.T) {
	id, _ := createStarted(t, newBundle(t, withArgs("/bin/probe", "sleep")))
	defer rt(t, "delete", "-f", id)
	pid := getState(t, id).Pid
	var dirs []string
	for key, path := range procCgroups(t, pid) {
		var base string
		switch {
		case key == "" && cgroupV2:
			base = "/sys/fs/cgroup"
		case cgroupV2:
			continue // the v1 hierarchies are not the runtime's in the v2 view
		case key == "":
			base = "/sys/fs/cgroup/unified"
		case key == "name=systemd":
			base = "/sys/fs/cgroup/systemd"
		default:
			base = v1Mountpoint(strings.Split(key, ",")[0])
		}
		if base == "" || !fileExists(filepath.Join(base, path)) {
			continue
		}
		d := filepath.Join(base, path, "sub")
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
		// A new v1 cpuset is empty: give it the parent's, as callers do.
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if b, err := os.ReadFile(filepath.Join(base, path, f)); err == nil && !cgroupV2 {
				os.WriteFile(filepath.Join(d, f), b, 0)
			}
		}
	}
	defer func() {
		for _, d := range dirs {
			os.Remove(d)
		}
	}()
	r := rt(t, "exec", "--cgroup", "sub", id, "/bin/probe", "cgroup").ok(t)
	for _, l := range lines(r.Stdout) {
		f := strings.SplitN(l, ":", 3)
		if len(f) != 3 || cgroupV2 && f[1] != "" {
			continue
		}
		if !strings.HasSuffix(f[2], "/sub") {
			t.Errorf("exec --cgroup sub: %s is not in the sub-cgroup", l)
		}
	}
	bad := []string{"..", "../x", "sub/../..", "missing"}
	if !cgroupV2 {
		bad = append(bad, "bogusctl:sub")
	}
	for _, arg := range bad {
		r := rt(t, "exec", "--cgroup", arg, id, "/bin/sh", "-c", "echo started")
		if r.Code == 0 || strings.Contains(r.Stdout, "started") {
			t.Errorf("exec --cgroup %q was accepted: %s", arg, r)
		}
	}
	if !cgroupV2 {
		r := rt(t, "exec", "--cgroup", "pids:sub", id, "/bin/probe", "cgroup").ok(t)
		for _, l := range lines(r.Stdout) {
			f := strings.SplitN(l, ":", 3)
			if len(f) != 3 || f[1] == "" || strings.HasPrefix(f[1], "name=") {
				continue
			}
			if hasOption(f[1], "pids") != strings.HasSuffix(f[2], "/sub") {
				t.Errorf("exec --cgroup pids:sub: %s", l)
			}
		}
	}
}

// TestParityReadonlyDev: a read-only tmpfs /dev still gets its mount
// points, devices and links (made first, then /dev made read-only, as
// runc does), with or without a terminal; inside, /dev cannot be written.
func TestParityReadonlyDev(t *testing.T) {
	roDev := func(s *specs.Spec) {
		for i := range s.Mounts {
			if s.Mounts[i].Destination == "/dev" {
				s.Mounts[i].Options = append(s.Mounts[i].Options, "ro")
			}
		}
	}
	script := "probe stat /dev/null /dev/pts/ptmx /dev/fd; probe write /dev/new; grep ' /dev ' /proc/self/mountinfo"
	out := runOK(t, withArgs("/bin/sh", "-c", script), roDev)
	if !strings.Contains(out, "/dev/null char 1:3") || !strings.Contains(out, "/dev/pts/ptmx char 5:2") || !strings.Contains(out, "/dev/fd link") {
		t.Errorf("devices, devpts or links missing under a read-only /dev:\n%s", out)
	}
	if !strings.Contains(out, "error:") {
		t.Errorf("writing under a read-only /dev succeeded:\n%s", out)
	}
	if m, ok := findMount(parseMountinfo(out), "/dev"); !ok || !hasOption(m.Options, "ro") {
		t.Errorf("/dev is not mounted read-only: %+v", m)
	}
	t.Run("terminal", func(t *testing.T) {
		bundle := newBundle(t, withArgs("/bin/sh", "-c", "probe stat /dev/console; sleep 1"), withTerminal(nil), roDev)
		id := newID(t)
		ln, sock := ttyListen(t)
		create := rtStart(t, rtOpts{}, "create", "--console-socket", sock, "--bundle", bundle, id)
		master, _, _ := ttyRecvMaster(t, ln)
		create.wait(t).ok(t)
		defer rt(t, "delete", "-f", id)
		o := readTTY(master)
		rt(t, "start", id).ok(t)
		o.waitMatch(t, 15*time.Second, `^/dev/console char 136:0`)
	})
}

// TestParityNoPivotHidesHostProc: with --no-pivot the host's procfs stays
// in the container's mount namespace after the chroot unless the runtime
// removes it, and while it is there the kernel lets the container mount a
// fresh, unmasked procfs from a user namespace of its own (runc's test:
// "mount: permission denied" expected). The container's own /proc is
// unaffected.
func TestParityNoPivotHidesHostProc(t *testing.T) {
	bundle := newBundle(t, withArgs("/bin/sh", "-c",
		"unshare -mrpf sh -c 'mount -t proc none /proc && echo MOUNTED'; cat /proc/self/stat >/dev/null && echo own-proc-ok"),
		func(s *specs.Spec) {
			c := s.Process.Capabilities
			c.Bounding = append(c.Bounding, "CAP_SETFCAP")
			c.Permitted = append(c.Permitted, "CAP_SETFCAP")
		})
	r := rt(t, "run", "--no-pivot", "--bundle", bundle, newID(t))
	if strings.Contains(r.Stdout, "MOUNTED") {
		t.Errorf("a fresh procfs could be mounted in a --no-pivot container: %s", r)
	}
	if !strings.Contains(r.Output(), "ermission denied") {
		t.Errorf("the mount did not fail with permission denied: %s", r)
	}
	if !strings.Contains(r.Stdout, "own-proc-ok") {
		t.Errorf("the container's own /proc does not work: %s", r)
	}
}

// TestParityUserNSBindSourceBehindPrivateDir: a bind mount whose source
// sits below a 0700 directory of host root (podman's and Kubernetes'
// volumes often do) cannot be reached by the container's root in its user
// namespace. The runtime opens the source itself (open_tree) and the init
// mounts that, as runc does with its mount-source fds: the container sees
// the volume. For an rbind and a file bind too.
func TestParityUserNSBindSourceBehindPrivateDir(t *testing.T) {
	private := newDir(t, "private")
	if err := os.Chmod(private, 0o700); err != nil {
		t.Fatal(err)
	}
	vol := filepath.Join(private, "vol")
	if err := os.Mkdir(vol, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vol, "data"), []byte("volume-data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bundle := newBundle(t, withArgs("/bin/sh", "-c", "cat /vol/data /rvol/data /file"), joinUserNSMappings, withMount(
		specs.Mount{Destination: "/vol", Type: "bind", Source: vol, Options: []string{"bind", "ro"}},
		specs.Mount{Destination: "/rvol", Type: "bind", Source: vol, Options: []string{"rbind"}},
		specs.Mount{Destination: "/file", Type: "bind", Source: filepath.Join(vol, "data"), Options: []string{"bind"}},
	))
	// The mount points exist: the rootfs is host root's, the container's
	// root could not make them.
	for _, d := range []string{"vol", "rvol"} {
		if err := os.Mkdir(filepath.Join(rootfsOf(bundle), d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(rootfsOf(bundle), "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out := rt(t, "run", "--bundle", bundle, newID(t)).ok(t).Stdout
	if strings.Count(out, "volume-data") != 3 {
		t.Errorf("the volumes read %q, want volume-data three times", out)
	}
}

// TestParityBindMountAtimeFlags: the atime flags of a bind mount as runc
// sets them. The source is a noatime tmpfs: a bind without an atime option
// keeps noatime (the kernel keeps the source's atime mode on a bind
// remount that names none, "ro" included); noatime, strictatime, relatime
// and nodiratime are applied as given.
func TestParityBindMountAtimeFlags(t *testing.T) {
	src := hostDir(t, nil)
	if err := unix.Mount("tmpfs", src, "tmpfs", unix.MS_NOATIME, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(src, unix.MNT_DETACH) })
	for _, c := range []struct {
		opts []string
		want string // the per-mount options of /mnt in mountinfo
	}{
		{[]string{"bind"}, "rw,noatime"},
		{[]string{"bind", "noatime"}, "rw,noatime"},
		{[]string{"bind", "strictatime"}, "rw"},
		{[]string{"bind", "relatime"}, "rw,relatime"},
		{[]string{"bind", "nodiratime"}, "rw,nodiratime,relatime"},
		{[]string{"bind", "ro"}, "ro,noatime"},
		{[]string{"rbind", "ro", "strictatime"}, "ro"},
		{[]string{"bind", "atime"}, "rw,noatime"},
	} {
		out := runOK(t, withProbe("mounts"), withMount(specs.Mount{Destination: "/mnt", Type: "bind", Source: src, Options: c.opts}))
		m, ok := findMount(parseMountinfo(out), "/mnt")
		if !ok || m.Options != c.want {
			t.Errorf("bind options %q: /mnt has %q, want %q (runc's)", c.opts, m.Options, c.want)
		}
	}
}

// TestParityMountOrderAndDanglingTargets: mounts are made in config order
// (a later one lands on an earlier one's tree), and a destination that is
// a dangling symlink in the image is made where the link points, resolved
// inside the rootfs, as runc does.
func TestParityMountOrderAndDanglingTargets(t *testing.T) {
	outer := hostDir(t, map[string]string{"outer": "1"})
	inner := hostDir(t, map[string]string{"inner": "2"})
	bundle := newBundle(t, withArgs("/bin/sh", "-c", "ls /a /a/b /made/here; readlink /link"), withMount(
		specs.Mount{Destination: "/a", Type: "bind", Source: outer, Options: []string{"bind"}},
		specs.Mount{Destination: "/a/b", Type: "bind", Source: inner, Options: []string{"bind"}},
		specs.Mount{Destination: "/link", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}},
	))
	if err := os.Symlink("/made/here", filepath.Join(rootfsOf(bundle), "link")); err != nil {
		t.Fatal(err)
	}
	out := rt(t, "run", "--bundle", bundle, newID(t)).ok(t).Stdout
	for _, want := range []string{"outer", "inner", "/made/here"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if fileExists(filepath.Join(outer, "b")) {
		// The mount point /a/b is made on the bind of outer: that is the
		// config order (runc makes it there too).
		os.Remove(filepath.Join(outer, "b"))
	} else {
		t.Errorf("/a/b was not made on the earlier mount of /a (config order)")
	}
	if !fileExists(filepath.Join(rootfsOf(bundle), "made", "here")) {
		t.Errorf("the dangling /link's target /made/here was not made inside the rootfs")
	}
}

// TestParityBusyCgroupRefused: a cgroupsPath that already holds processes
// is refused with runc 1.2's "container's cgroup is not empty: N
// process(es) found" (runc 1.1 only warned and shared the cgroup; 1.2
// refuses, as Berth does), and the cgroup and its process are left alone.
// runc 1.1.5 fails this test (it starts the container).
func TestParityBusyCgroupRefused(t *testing.T) {
	id := newID(t)
	cgPath := "/" + id + "-busy"
	dir := filepath.Join(v1Mountpoint("pids"), cgPath)
	if cgroupV2 {
		dir = filepath.Join("/sys/fs/cgroup", cgPath)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot make a cgroup: %v", err)
	}
	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sleeper.Process.Kill()
		sleeper.Wait()
		os.Remove(dir)
	})
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(sleeper.Process.Pid)), 0); err != nil {
		t.Fatal(err)
	}
	bundle := newBundle(t, withArgs("/bin/true"), func(s *specs.Spec) { s.Linux.CgroupsPath = cgPath })
	rtWith(t, rtOpts{Timeout: 20 * time.Second}, "run", "--bundle", bundle, id).failed(t, "container's cgroup is not empty: 1 process(es) found")
	if b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs")); strings.TrimSpace(string(b)) != strconv.Itoa(sleeper.Process.Pid) {
		t.Errorf("the busy cgroup's processes changed: %q", b)
	}
	assertCreateLeftNothing(t, id)
}

// v2ControllerAvailable reports whether the cgroup v2 root offers ctrl.
func v2ControllerAvailable(ctrl string) bool {
	b, _ := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
	return contains(strings.Fields(string(b)), ctrl)
}
