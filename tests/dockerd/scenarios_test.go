package dockerdtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-runtime/berth/tests/internal/testkit"
)

// scenarios run in parallel against the suite's dockerd.
var scenarios = []scenario{
	{"RunOutputAndExitCode", testRunOutputAndExitCode},
	{"RunMissingCommandExits127", testRunMissingCommandExits127},
	{"RunRmRemovesContainer", testRunRmRemovesContainer},
	{"DetachedIsListed", testDetachedIsListed},
	{"LogsKeepStdoutAndStderrApart", testLogsKeepStdoutAndStderrApart},
	{"Exec", testExec},
	{"RunStdin", testRunStdin},
	{"StopHonoursSIGTERM", testStopHonoursSIGTERM},
	{"StopKillsContainerIgnoringSIGTERM", testStopKillsContainerIgnoringSIGTERM},
	{"KillDeliversSignal", testKillDeliversSignal},
	{"RmAfterStopAndRmForce", testRmAfterStopAndRmForce},
	{"NameEnvWorkdirUser", testNameEnvWorkdirUser},
	{"ReadOnlyRootfs", testReadOnlyRootfs},
	{"VolumesRwAndRo", testVolumesRwAndRo},
	{"MemoryAndUpdate", testMemoryAndUpdate},
	{"Cpus", testCpus},
	{"PidsLimit", testPidsLimit},
	{"CapDropAndAdd", testCapDropAndAdd},
	{"Seccomp", testSeccomp},
	{"Ulimit", testUlimit},
	{"Tmpfs", testTmpfs},
	{"Tty", testTty},
	{"Hostname", testHostname},
	{"PidNamespaceOfContainer", testPidNamespaceOfContainer},
	{"PauseUnpause", testPauseUnpause},
	{"StartStoppedAndRestart", testStartStoppedAndRestart},
	{"UserNamespaceRemap", testUserNamespaceRemap},
	{"TwentyInParallel", testTwentyInParallel},
	{"DefaultAppArmorProfile", testDefaultAppArmorProfile},
	{"CgroupDriverPlacement", testCgroupDriverPlacement},
}

// testDefaultAppArmorProfile: on an AppArmor host dockerd loads its
// docker-default profile and puts it in every container's config; the
// runtime applies it (a runtime ignoring apparmorProfile leaves the
// container unconfined). Where AppArmor is off dockerd sets none.
func testDefaultAppArmorProfile(t *testing.T, e *env) {
	if !testkit.AppArmorEnabled() {
		t.Skip("AppArmor is not enabled on this host: dockerd sets no profile")
	}
	r, _ := e.run(t, []string{"--rm"}, "cat", "/proc/self/attr/current")
	expect(t, r, 0, "docker-default (enforce)\n")
	r, _ = e.run(t, []string{"--rm", "--security-opt", "apparmor=unconfined"}, "cat", "/proc/self/attr/current")
	expect(t, r, 0, "unconfined\n")
}

// testCgroupDriverPlacement: the container's init is where the daemon's
// cgroup driver put it: with the systemd driver a docker-ID.scope in the
// suite's slice, a unit systemd knows (and no more after rm); with cgroupfs
// the cgroup parent's ID directory.
func testCgroupDriverPlacement(t *testing.T, e *env) {
	id := e.runD(t, nil, "sleep", "120")
	e.assertBerth(t, id)
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", e.pid(t, id)))
	if err != nil {
		t.Fatal(err)
	}
	cg := testkit.ParseProcCgroup(string(b))
	path := cg[""]
	if !testkit.Unified() {
		path = cg["pids"]
	}
	want := "/" + e.cgParent + "/" + id
	if systemdDriver() {
		want = "/" + e.cgParent + "/docker-" + id + ".scope"
		unit := "docker-" + id + ".scope"
		out, _ := exec.Command("systemctl", "show", "-p", "ActiveState,Delegate,Slice", unit).Output()
		if got := string(out); !strings.Contains(got, "ActiveState=active") || !strings.Contains(got, "Delegate=yes") || !strings.Contains(got, "Slice="+e.cgParent) {
			t.Errorf("systemctl show %s:\n%s\nwant active, Delegate=yes, in %s", unit, got, e.cgParent)
		}
		e.must(t, "rm", "-f", id)
		if !testkit.Eventually(10*time.Second, func() bool {
			out, _ := exec.Command("systemctl", "list-units", "--all", "--plain", "--no-legend", unit).Output()
			return strings.TrimSpace(string(out)) == ""
		}) {
			t.Errorf("the unit %s is still listed after docker rm -f", unit)
		}
	}
	// a suffix: the suite itself may run in a nested cgroup (a CI job's),
	// under which the cgroupfs driver's parent is made
	if !strings.HasSuffix(path, want) {
		t.Errorf("the container's cgroup is %s, want it to end in %s (driver systemd: %v)", path, want, systemdDriver())
	}
}

func expect(t *testing.T, r testkit.Result, code int, stdout string) {
	t.Helper()
	if r.Code != code || r.Out != stdout {
		t.Errorf("want exit %d and stdout %q, got %s", code, stdout, r)
	}
}

func testRunOutputAndExitCode(t *testing.T, e *env) {
	r, id := e.run(t, nil, "sh", "-c", "echo out; exit 3")
	expect(t, r, 3, "out\n")
	e.assertBerth(t, id)
}

func testRunMissingCommandExits127(t *testing.T, e *env) {
	r, id := e.run(t, nil, "no-such-command")
	if r.Code != 127 || !strings.Contains(r.Err, "executable file not found") {
		t.Errorf("want exit 127 with \"executable file not found\", got %s", r)
	}
	e.assertBerth(t, id)
}

func testRunRmRemovesContainer(t *testing.T, e *env) {
	r, id := e.run(t, []string{"--rm"}, "sh", "-c", "echo bye")
	expect(t, r, 0, "bye\n")
	e.assertBerth(t, id)
	// --rm is done by dockerd once the container exits, after the client
	// has returned.
	if !testkit.Eventually(10*time.Second, func() bool {
		return !strings.Contains(e.must(t, "ps", "-aq", "--no-trunc"), id)
	}) {
		t.Errorf("--rm container %s still listed", id)
	}
	if _, err := os.Stat(filepath.Join(e.runtimeRoot(), id)); err == nil {
		t.Errorf("the runtime still has the state of %s", id)
	}
	assertCalled(t, e.shim, "delete", id)
}

func testDetachedIsListed(t *testing.T, e *env) {
	id := e.runD(t, []string{"--name", "listed-" + randHex(3)}, "sleep", "60")
	e.assertBerth(t, id)
	if ps := e.must(t, "ps", "-q", "--no-trunc", "--filter", "id="+id); ps != id {
		t.Errorf("docker ps --filter id=%s printed %q", id, ps)
	}
	if st := e.must(t, "inspect", "-f", "{{.State.Status}} {{.State.Running}}", id); st != "running true" {
		t.Errorf("inspect: %q", st)
	}
	// Its runtime state and its shim's socket exist (the suite's end
	// checks that neither is left).
	if _, err := os.Stat(filepath.Join(e.runtimeRoot(), id)); err != nil {
		t.Errorf("no runtime state for a running container: %v", err)
	}
	if _, err := os.Stat(e.shimSocket(id)); err != nil {
		t.Errorf("no shim socket for a running container: %v", err)
	}
}

func testLogsKeepStdoutAndStderrApart(t *testing.T, e *env) {
	id := e.runD(t, nil, "sh", "-c", "echo to-out; echo to-err >&2; echo more-out")
	e.assertBerth(t, id)
	if c := e.wait(t, id); c != 0 {
		t.Fatalf("exit %d", c)
	}
	r := e.docker(t, "logs", id)
	if r.Code != 0 || r.Out != "to-out\nmore-out\n" || r.Err != "to-err\n" {
		t.Errorf("docker logs: %s", r)
	}
}

func testExec(t *testing.T, e *env) {
	id := e.runD(t, nil, "sleep", "120")
	e.assertBerth(t, id)
	cases := []struct {
		name  string
		stdin []byte
		opts  []string // exec's options
		cmd   []string
		code  int
		out   string
	}{
		{"OutputAndExitCode", nil, nil, []string{"sh", "-c", "echo in-exec; exit 5"}, 5, "in-exec\n"},
		{"User", nil, []string{"-u", "1000:1000"}, []string{"id"}, 0, "uid=1000(user) gid=1000(user) groups=1000(user)\n"},
		{"Workdir", nil, []string{"-w", "/tmp"}, []string{"pwd"}, 0, "/tmp\n"},
		{"Env", nil, []string{"-e", "GREETING=hello"}, []string{"sh", "-c", "echo $GREETING"}, 0, "hello\n"},
		// With -t the output goes through the pty: \r\n.
		{"Tty", nil, []string{"-t"}, []string{"sh", "-c", "test -t 1 && tty"}, 0, "/dev/pts/0\r\n"},
		{"Stdin", []byte("line one\nline two\n"), []string{"-i"}, []string{"sh", "-c", "cat; echo done"}, 0, "line one\nline two\ndone\n"},
	}
	for _, c := range cases {
		c := c
		t.Run(c.name, func(t *testing.T) {
			args := append(append(append([]string{"exec"}, c.opts...), id), c.cmd...)
			r := e.dockerWith(t, c.stdin, 30*time.Second, args...)
			expect(t, r, c.code, c.out)
		})
	}
	t.Run("MissingCommand", func(t *testing.T) {
		// dockerd 20.10 maps every failed exec start to 126 (run maps
		// "executable file not found" to 127) and prints the runtime's
		// error on the client's stdout.
		r := e.docker(t, "exec", id, "no-such-command")
		if r.Code != 126 || !strings.Contains(r.Out, `exec: "no-such-command": executable file not found in $PATH`) {
			t.Errorf("want exit 126 and the runtime's error, got %s", r)
		}
	})
	assertCalled(t, e.shim, "exec", id)
}

func testRunStdin(t *testing.T, e *env) {
	r, id := e.runIn(t, []byte("from stdin\n"), []string{"--rm", "-i"}, "sh", "-c", "read l; echo \"got: $l\"; exit 4")
	expect(t, r, 4, "got: from stdin\n")
	e.assertBerth(t, id)
}

// termLoop exits with code on SIGTERM. The loop sleeps briefly so the
// shell runs the trap at once (a pid namespace's init gets only the
// signals it handles).
func termLoop(trap string) []string {
	return []string{"sh", "-c", "trap '" + trap + "' TERM; echo ready; while :; do sleep 0.1; done"}
}

// waitLog waits until the container's stdout contains s.
func (e *env) waitLog(t *testing.T, id, s string) {
	t.Helper()
	if !testkit.Eventually(10*time.Second, func() bool {
		return strings.Contains(e.docker(t, "logs", id).Out, s)
	}) {
		t.Fatalf("%s never printed %q", id, s)
	}
}

func testStopHonoursSIGTERM(t *testing.T, e *env) {
	id := e.runD(t, nil, termLoop("exit 7")...)
	e.assertBerth(t, id)
	e.waitLog(t, id, "ready")
	// The trap's exit code proves SIGTERM reached it; stop ending before
	// its timeout proves no SIGKILL was needed (bounds scaled for the
	// emulated guest, where docker stop alone takes tens of seconds).
	timeout := testkit.Scaled(30 * time.Second)
	start := time.Now()
	if r := e.dockerWith(t, nil, 2*timeout, "stop", "-t", strconv.Itoa(int(timeout.Seconds())), id); r.Code != 0 {
		t.Fatalf("%s", r)
	}
	if d := time.Since(start); d >= timeout {
		t.Errorf("stop took %v, its whole timeout: SIGTERM was not delivered", d)
	}
	if c := e.must(t, "inspect", "-f", "{{.State.ExitCode}}", id); c != "7" {
		t.Errorf("exit code %s, want the trap's 7", c)
	}
	assertCalled(t, e.shim, "kill", id, "15")
}

func testStopKillsContainerIgnoringSIGTERM(t *testing.T, e *env) {
	id := e.runD(t, nil, termLoop("")...)
	e.assertBerth(t, id)
	e.waitLog(t, id, "ready")
	start := time.Now()
	e.must(t, "stop", "-t", "2", id)
	d := time.Since(start)
	if d < 2*time.Second || d > testkit.Scaled(15*time.Second) {
		t.Errorf("stop -t 2 of a container ignoring SIGTERM took %v", d)
	}
	if c := e.must(t, "inspect", "-f", "{{.State.ExitCode}}", id); c != "137" {
		t.Errorf("exit code %s, want 137 (SIGKILL)", c)
	}
	assertCalled(t, e.shim, "kill", id, "9")
}

func testKillDeliversSignal(t *testing.T, e *env) {
	id := e.runD(t, nil, "sh", "-c", "trap 'echo got USR1; exit 9' USR1; echo ready; while :; do sleep 0.1; done")
	e.assertBerth(t, id)
	e.waitLog(t, id, "ready")
	e.must(t, "kill", "-s", "USR1", id)
	if c := e.wait(t, id); c != 9 {
		t.Errorf("exit %d, want 9 from the USR1 trap", c)
	}
	if out := e.docker(t, "logs", id).Out; out != "ready\ngot USR1\n" {
		t.Errorf("logs %q", out)
	}
	assertCalled(t, e.shim, "kill", id, "10")
}

func testRmAfterStopAndRmForce(t *testing.T, e *env) {
	stopped := e.runD(t, nil, termLoop("exit 0")...)
	running := e.runD(t, nil, "sleep", "120")
	e.assertBerth(t, stopped)
	e.assertBerth(t, running)
	e.waitLog(t, stopped, "ready")
	e.must(t, "stop", stopped)
	e.must(t, "rm", stopped)
	if r := e.docker(t, "rm", running); r.Code == 0 || !strings.Contains(r.Err, "You cannot remove a running container") {
		t.Errorf("rm of a running container: %s", r)
	}
	pid := e.pid(t, running)
	e.must(t, "rm", "-f", running)
	if out := e.must(t, "ps", "-aq", "--no-trunc"); strings.Contains(out, stopped) || strings.Contains(out, running) {
		t.Errorf("removed containers still listed: %q", out)
	}
	if !testkit.Eventually(10*time.Second, func() bool { _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); return err != nil }) {
		t.Errorf("the init %d of the removed container is still alive", pid)
	}
	for _, id := range []string{stopped, running} {
		if _, err := os.Stat(filepath.Join(e.runtimeRoot(), id)); err == nil {
			t.Errorf("the runtime still has the state of %s", id)
		}
	}
}

func testNameEnvWorkdirUser(t *testing.T, e *env) {
	name := "named-" + randHex(4)
	r, id := e.run(t, []string{"--name", name, "-e", "FOO=bar baz", "-w", "/home/user", "--user", "1000:1000"},
		"sh", "-c", `echo "$FOO"; pwd; id -u; id -g; touch mine && ls -n mine | awk '{print $3":"$4}'`)
	expect(t, r, 0, "bar baz\n/home/user\n1000\n1000\n1000:1000\n")
	e.assertBerth(t, id)
	if got := e.must(t, "inspect", "-f", "{{.Id}}", name); got != id {
		t.Errorf("--name %s resolves to %q, want %s", name, got, id)
	}
}

func testReadOnlyRootfs(t *testing.T, e *env) {
	r, id := e.run(t, []string{"--read-only"}, "sh", "-c", "touch /x 2>&1; echo $?; grep ' / ' /proc/mounts | grep -c '[ ,]ro[ ,]'")
	if r.Code != 0 || !strings.Contains(r.Out, "Read-only file system") || !strings.HasSuffix(r.Out, "1\n1\n") {
		t.Errorf("--read-only: %s", r)
	}
	e.assertBerth(t, id)
}

func testVolumesRwAndRo(t *testing.T, e *env) {
	host := filepath.Join(e.dir, "vol-"+randHex(4))
	os.MkdirAll(host, 0o755)
	os.WriteFile(filepath.Join(host, "in"), []byte("from host\n"), 0o644)
	r, id := e.run(t, []string{"-v", host + ":/rw", "-v", host + ":/ro:ro"},
		"sh", "-c", "cat /rw/in; echo written > /rw/out; echo no > /ro/x 2>/dev/null; echo ro-write=$?; cat /ro/out")
	expect(t, r, 0, "from host\nro-write=1\nwritten\n")
	e.assertBerth(t, id)
	if b, _ := os.ReadFile(filepath.Join(host, "out")); string(b) != "written\n" {
		t.Errorf("the rw volume's file on the host: %q", b)
	}
	if _, err := os.Stat(filepath.Join(host, "x")); err == nil {
		t.Errorf("a write through the ro volume reached the host")
	}
}

func testMemoryAndUpdate(t *testing.T, e *env) {
	id := e.runD(t, []string{"--memory", "64m"}, "sleep", "120")
	e.assertBerth(t, id)
	pid := e.pid(t, id)
	if v := limitOf(t, pid, testkit.LimitMemory); v != "67108864" {
		t.Errorf("memory limit %s, want 64m", v)
	}
	devices := devicesList(t, pid)
	// dockerd → containerd → shim → `runtime update --resources -`, whose
	// resources carry a devices deny-all rule the runtime must ignore.
	e.must(t, "update", "--memory", "128m", "--memory-swap", "256m", id)
	assertCalled(t, e.shim, "update", "--resources", "-", id)
	if v := limitOf(t, pid, testkit.LimitMemory); v != "134217728" {
		t.Errorf("after update memory limit %s, want 128m", v)
	}
	if v := limitOf(t, pid, testkit.LimitMemorySwap); v != "268435456" {
		t.Errorf("after update memory+swap limit %s, want 256m", v)
	}
	if after := devicesList(t, pid); after != devices {
		t.Errorf("update changed the device rules:\nbefore:\n%s\nafter:\n%s", devices, after)
	}
	// The rules still hold after the update, on either cgroup version: the
	// allowed devices work, and a block device docker does not allow
	// (loop0, made with the CAP_MKNOD docker gives) cannot be opened.
	r := e.docker(t, "exec", id, "sh", "-c", "echo x > /dev/null && head -c 3 /dev/zero | wc -c; mknod /tmp/loop0 b 7 0 && head -c 1 /tmp/loop0")
	if r.Code == 0 || r.Out != "3\n" || !strings.Contains(r.Err, "Operation not permitted") {
		t.Errorf("devices after update: %s; want 3 from /dev/zero and loop0 refused (Operation not permitted)", r)
	}
	if st := e.must(t, "inspect", "-f", "{{.HostConfig.Memory}} {{.State.Running}}", id); st != "134217728 true" {
		t.Errorf("inspect after update: %q", st)
	}
}

func testCpus(t *testing.T, e *env) {
	id := e.runD(t, []string{"--cpus", "0.5"}, "sleep", "120")
	e.assertBerth(t, id)
	if v := limitOf(t, e.pid(t, id), testkit.LimitCPU); v != "50000 100000" {
		t.Errorf("cfs quota and period %s, want 50000 100000", v)
	}
}

func testPidsLimit(t *testing.T, e *env) {
	id := e.runD(t, []string{"--pids-limit", "10"}, "sleep", "120")
	e.assertBerth(t, id)
	if v := limitOf(t, e.pid(t, id), testkit.LimitPids); v != "10" {
		t.Errorf("pids.max %s, want 10", v)
	}
	// sleep + sh + 8 more fit; the rest of the 20 forks fail.
	r := e.docker(t, "exec", id, "sh", "-c", "i=0; while [ $i -lt 20 ]; do sleep 30 & i=$((i+1)); done")
	if !strings.Contains(r.Err, "can't fork") {
		t.Errorf("20 forks under --pids-limit 10: %s", r)
	}
}

func testCapDropAndAdd(t *testing.T, e *env) {
	const capChown, capNetAdmin = 0, 12
	r, id := e.run(t, []string{"--cap-drop", "CHOWN", "--cap-add", "NET_ADMIN"},
		"sh", "-c", "cat /proc/self/status; touch /f; chown 1000 /f 2>&1; echo chown=$?; ip link set lo down && echo netadmin-ok")
	e.assertBerth(t, id)
	eff := statusField(r.Out, "CapEff")
	if r.Code != 0 || eff == "" || capBit(eff, capChown) || !capBit(eff, capNetAdmin) {
		t.Errorf("CapEff %q: want CHOWN dropped and NET_ADMIN added\n%s", eff, r)
	}
	if !strings.Contains(r.Out, "chown=1") || !strings.Contains(r.Out, "netadmin-ok") {
		t.Errorf("chown should fail and ip link should work:\n%s", r)
	}
	r, id = e.run(t, nil, "sh", "-c", "cat /proc/self/status")
	if eff := statusField(r.Out, "CapEff"); !capBit(eff, capChown) || capBit(eff, capNetAdmin) {
		t.Errorf("default CapEff %q: want CHOWN and not NET_ADMIN", eff)
	}
	e.assertBerth(t, id)
}

func testSeccomp(t *testing.T, e *env) {
	cases := []struct {
		name       string
		opts       []string
		seccomp    string
		noNewPrivs string
	}{
		{"Default", nil, "2", "0"},
		{"Unconfined", []string{"--security-opt", "seccomp=unconfined"}, "0", "0"},
		{"NoNewPrivileges", []string{"--security-opt", "no-new-privileges"}, "2", "1"},
	}
	for _, c := range cases {
		c := c
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r, id := e.run(t, c.opts, "cat", "/proc/self/status")
			e.assertBerth(t, id)
			if s, n := statusField(r.Out, "Seccomp"), statusField(r.Out, "NoNewPrivs"); r.Code != 0 || s != c.seccomp || n != c.noNewPrivs {
				t.Errorf("Seccomp %q NoNewPrivs %q, want %s %s\n%s", s, n, c.seccomp, c.noNewPrivs, r)
			}
		})
	}
	t.Run("CustomProfile", func(t *testing.T) {
		t.Parallel()
		// A profile of our own: everything allowed but mkdir/mkdirat,
		// which fail with EPERM.
		profile := filepath.Join(e.dir, "seccomp-"+randHex(4)+".json")
		os.WriteFile(profile, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}`), 0o644)
		r, id := e.run(t, []string{"--security-opt", "seccomp=" + profile}, "sh", "-c", "mkdir /tmp/d 2>&1; echo mkdir=$?; touch /tmp/f && echo touch-ok")
		e.assertBerth(t, id)
		if r.Code != 0 || !strings.Contains(r.Out, "Operation not permitted") || !strings.HasSuffix(r.Out, "mkdir=1\ntouch-ok\n") {
			t.Errorf("custom profile denying mkdir: %s", r)
		}
	})
}

func testUlimit(t *testing.T, e *env) {
	r, id := e.run(t, []string{"--ulimit", "nofile=512:768", "--ulimit", "nproc=300:400"},
		"sh", "-c", "ulimit -Sn; ulimit -Hn; ulimit -Su; ulimit -Hu")
	expect(t, r, 0, "512\n768\n300\n400\n")
	e.assertBerth(t, id)
	// The daemon's --default-ulimit.
	r, id = e.run(t, nil, "sh", "-c", "ulimit -Sn; ulimit -Hn")
	expect(t, r, 0, "1024\n1024\n")
	e.assertBerth(t, id)
}

func testTmpfs(t *testing.T, e *env) {
	r, id := e.run(t, []string{"--read-only", "--tmpfs", "/scratch:rw,size=1m,mode=1777"},
		"sh", "-c", "grep ' /scratch ' /proc/mounts; echo hi > /scratch/f && cat /scratch/f; stat -c %a /scratch")
	e.assertBerth(t, id)
	if r.Code != 0 || !strings.HasPrefix(r.Out, "tmpfs /scratch tmpfs rw,") || !strings.Contains(r.Out, "size=1024k") ||
		!strings.HasSuffix(r.Out, "\nhi\n1777\n") {
		t.Errorf("--tmpfs: %s", r)
	}
}

func testTty(t *testing.T, e *env) {
	t.Run("T", func(t *testing.T) {
		r, id := e.run(t, []string{"--rm", "-t"}, "sh", "-c", "tty; test -t 0 && test -t 1 && echo both-tty")
		expect(t, r, 0, "/dev/pts/0\r\nboth-tty\r\n")
		e.assertBerth(t, id)
	})
	t.Run("IT", func(t *testing.T) {
		// A real pty around the client (script), the container's shell
		// reads the typed lines from it.
		cidfile := filepath.Join(e.dir, "cid-"+randHex(8))
		cmd := strings.Join(append(append([]string{dockerCLI, "-H", "unix://" + e.sock}, e.runOpts(cidfile)...),
			"--rm", "-it", image, "sh"), " ")
		r := testkit.Run(t, testkit.Cmd{
			Args:    []string{"script", "-qec", cmd, "/dev/null"},
			Env:     []string{"DOCKER_CONFIG=" + e.cfgDir},
			Stdin:   []byte("echo typed-$((40+2)); tty; exit 4\n"),
			Timeout: 30 * time.Second,
		})
		b, _ := os.ReadFile(cidfile)
		os.Remove(cidfile)
		if id := strings.TrimSpace(string(b)); id != "" {
			e.track(t, id)
			e.assertBerth(t, id)
		} else {
			t.Errorf("no container id in --cidfile")
		}
		if r.Code != 4 || !strings.Contains(r.Out, "typed-42\r\n/dev/pts/0\r\n") {
			t.Errorf("run -it sh: %s", r)
		}
	})
}

func testHostname(t *testing.T, e *env) {
	r, id := e.run(t, []string{"--hostname", "berth-box"}, "sh", "-c", "hostname; cat /proc/sys/kernel/hostname")
	expect(t, r, 0, "berth-box\nberth-box\n")
	e.assertBerth(t, id)
}

func testPidNamespaceOfContainer(t *testing.T, e *env) {
	first := e.runD(t, nil, "sleep", "4242")
	e.assertBerth(t, first)
	r, id := e.run(t, []string{"--pid", "container:" + first}, "sh", "-c", "ps -o pid,args")
	e.assertBerth(t, id)
	if r.Code != 0 || !strings.Contains(r.Out, "    1 sleep 4242") {
		t.Errorf("--pid container:%s does not see its pid 1:\n%s", first, r)
	}
	if host := e.pid(t, first); host <= 1 {
		t.Errorf("first container's pid %d", host)
	}
}

func testPauseUnpause(t *testing.T, e *env) {
	id := e.runD(t, nil, "sh", "-c", "while :; do date +%s%N > /tmp/tick; sleep 0.05; done")
	e.assertBerth(t, id)
	pid := e.pid(t, id)
	e.must(t, "pause", id)
	assertCalled(t, e.shim, "pause", id)
	if v := limitOf(t, pid, testkit.LimitFrozen); v != "1" {
		t.Errorf("the cgroup's frozen %s after pause, want 1", v)
	}
	if st := e.must(t, "inspect", "-f", "{{.State.Status}}", id); st != "paused" {
		t.Errorf("status %q after pause", st)
	}
	if r := e.docker(t, "exec", id, "true"); r.Code == 0 || !strings.Contains(r.Err, "paused") {
		t.Errorf("exec into a paused container: %s", r)
	}
	e.must(t, "unpause", id)
	assertCalled(t, e.shim, "resume", id)
	if v := limitOf(t, pid, testkit.LimitFrozen); v != "0" {
		t.Errorf("the cgroup's frozen %s after unpause, want 0", v)
	}
	// It runs again: the tick file changes.
	t0 := e.must(t, "exec", id, "cat", "/tmp/tick")
	if !testkit.Eventually(5*time.Second, func() bool { return e.must(t, "exec", id, "cat", "/tmp/tick") != t0 }) {
		t.Errorf("the container does not run after unpause")
	}
}

func testStartStoppedAndRestart(t *testing.T, e *env) {
	name := "restart-" + randHex(4)
	r, id := e.run(t, []string{"--name", name}, "sh", "-c", "echo run; exit 6")
	expect(t, r, 6, "run\n")
	e.assertBerth(t, id)
	r = e.docker(t, "start", "-a", name)
	expect(t, r, 6, "run\n")
	if logs := e.docker(t, "logs", id).Out; logs != "run\nrun\n" {
		t.Errorf("logs after start: %q", logs)
	}

	id2 := e.runD(t, nil, termLoop("exit 0")...)
	e.waitLog(t, id2, "ready")
	pid := e.pid(t, id2)
	e.must(t, "restart", "-t", "10", id2)
	if st := e.must(t, "inspect", "-f", "{{.State.Running}} {{.RestartCount}}", id2); st != "true 0" {
		t.Errorf("after restart: %q", st)
	}
	if p2 := e.pid(t, id2); p2 == pid {
		t.Errorf("restart kept the init pid %d", pid)
	}
	r = e.docker(t, "exec", id2, "echo", "alive")
	expect(t, r, 0, "alive\n")
	n := 0
	for _, c := range e.shim.Calls() {
		if strings.Contains(c, " create ") && strings.HasSuffix(c, " "+id2) {
			n++
		}
	}
	if n != 2 {
		t.Errorf("the runtime created %s %d times, want 2 (run and restart)", id2, n)
	}
}

func testTwentyInParallel(t *testing.T, e *env) {
	const n = 20
	var wg sync.WaitGroup
	ids := make([]string, n)
	results := make([]testkit.Result, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i], ids[i] = e.run(t, []string{"--rm"}, "sh", "-c", fmt.Sprintf("echo container-%d; sleep 0.5", i))
		}(i)
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		expect(t, results[i], 0, fmt.Sprintf("container-%d\n", i))
		if ids[i] == "" {
			t.Errorf("container %d: no id", i)
			continue
		}
		e.assertBerth(t, ids[i])
	}
	if !testkit.Eventually(20*time.Second, func() bool {
		out := e.must(t, "ps", "-aq", "--no-trunc")
		for _, id := range ids {
			if id != "" && strings.Contains(out, id) {
				return false
			}
		}
		return true
	}) {
		t.Errorf("--rm containers still listed")
	}
	for _, id := range ids {
		if _, err := os.Stat(filepath.Join(e.runtimeRoot(), id)); id != "" && err == nil {
			t.Errorf("runtime state of %s left", id)
		}
	}
}
