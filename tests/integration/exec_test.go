package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// execIDs is the JSON printed by `probe ids`.
type execIDs struct {
	UID    int   `json:"uid"`
	GID    int   `json:"gid"`
	EUID   int   `json:"euid"`
	EGID   int   `json:"egid"`
	Groups []int `json:"groups"`
}

// parseExecIDs decodes `probe ids` output.
func parseExecIDs(t *testing.T, out string) execIDs {
	t.Helper()
	var ids execIDs
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &ids); err != nil {
		t.Fatalf("probe ids output is not JSON: %v\n%q", err, out)
	}
	return ids
}

// execRunning creates and starts a container (from a fresh bundle built
// with mods; its process sleeps) and returns its id and init pid.
func execRunning(t *testing.T, mods ...func(*specs.Spec)) (string, int) {
	t.Helper()
	id, _ := createStarted(t, newBundle(t, mods...))
	st := waitStatus(t, id, "running", 10*time.Second)
	return id, st.Pid
}

// rtIn runs the runtime with --root root, for subtests that work on their
// parent's containers (each subtest has its own state root otherwise).
func rtIn(t *testing.T, root string, args ...string) result {
	t.Helper()
	return rtWith(t, rtOpts{NoRoot: true, Global: []string{"--root", root}}, args...)
}

// execDetached runs `exec -d --pid-file F id args...`, checks it succeeded
// and returns the pid from the pid file. The process is SIGKILLed when the
// test ends (before the container is deleted).
func execDetached(t *testing.T, id string, args ...string) int {
	t.Helper()
	pidFile := filepath.Join(newDir(t, "xp"), "exec.pid")
	r := rt(t, append([]string{"exec", "-d", "--pid-file", pidFile, id}, args...)...).ok(t)
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("exec -d did not write its pid file: %v\n%s", err, r)
	}
	pid, err := strconv.Atoi(string(b))
	if err != nil || pid <= 0 {
		t.Fatalf("pid file content %q is not a pid", b)
	}
	t.Cleanup(func() { _ = unix.Kill(pid, unix.SIGKILL) })
	return pid
}

// TestExecPositionalArgsOutputAndExitCode checks that exec passes the
// command after the container id through verbatim (flag-like arguments
// such as -c are the command's, not berth's), forwards its stdout and
// exits with its status.
func TestExecPositionalArgsOutputAndExitCode(t *testing.T) {
	id, _ := execRunning(t)

	r := rt(t, "exec", id, "sh", "-c", "echo x").ok(t)
	if r.Stdout != "x\n" {
		t.Errorf("exec sh -c 'echo x': stdout %q, want \"x\\n\": %s", r.Stdout, r)
	}

	args := []string{"-c", "--cwd", "/nowhere", "-e", "A=b", "-u", "5", "--", "two words", ""}
	r = rt(t, append([]string{"exec", id, "/bin/probe", "args"}, args...)...).ok(t)
	var got []string
	if err := json.Unmarshal([]byte(r.Stdout), &got); err != nil {
		t.Fatalf("probe args output is not JSON: %v\n%s", err, r)
	}
	if strings.Join(got, "|") != strings.Join(args, "|") || len(got) != len(args) {
		t.Errorf("args seen by the exec'd process = %q, want %q", got, args)
	}

	for _, code := range []int{0, 1, 3, 42} {
		r := rt(t, "exec", id, "sh", "-c", fmt.Sprintf("exit %d", code))
		if r.Code != code {
			t.Errorf("exec sh -c 'exit %d' exited %d: %s", code, r.Code, r)
		}
	}
	if st := getState(t, id); st.Status != "running" {
		t.Errorf("container is %q after the execs, want running", st.Status)
	}
}

// TestExecMissingExecutableExits255 checks exec of a command that does not
// exist in the container: exit 255 and an error naming it.
func TestExecMissingExecutableExits255(t *testing.T) {
	id, _ := execRunning(t)
	root := stateRoot(t)
	for _, exe := range []string{"/bin/no-such-exec-binary", "no-such-exec-command"} {
		t.Run(strings.TrimPrefix(exe, "/bin/"), func(t *testing.T) {
			r := rtIn(t, root, "exec", id, exe, "arg")
			if r.Code != 255 {
				t.Errorf("exit code %d, want 255: %s", r.Code, r)
			}
			if !strings.Contains(r.Output(), exe) {
				t.Errorf("error does not name %q: %s", exe, r)
			}
		})
	}
	if st := getState(t, id); st.Status != "running" {
		t.Errorf("container is %q after a failed exec, want running", st.Status)
	}
}

// TestExecUserCwdEnvAndAdditionalGids checks exec's -u, --cwd, -e and
// -g/--additional-gids.
func TestExecUserCwdEnvAndAdditionalGids(t *testing.T) {
	id, _ := execRunning(t)
	root := stateRoot(t)

	t.Run("user", func(t *testing.T) {
		ids := parseExecIDs(t, rtIn(t, root, "exec", "-u", "1000:1000", id, "/bin/probe", "ids").ok(t).Stdout)
		if ids.UID != 1000 || ids.EUID != 1000 || ids.GID != 1000 || ids.EGID != 1000 {
			t.Errorf("ids = %+v, want uid/euid/gid/egid 1000", ids)
		}
		ids = parseExecIDs(t, rtIn(t, root, "exec", "--user", "1234", id, "/bin/probe", "ids").ok(t).Stdout)
		if ids.UID != 1234 || ids.GID != 0 {
			t.Errorf("--user 1234: ids = %+v, want uid 1234 gid 0 (the config's)", ids)
		}
	})
	t.Run("cwd", func(t *testing.T) {
		out := rtIn(t, root, "exec", "--cwd", "/tmp", id, "/bin/probe", "cwd").ok(t).Stdout
		if strings.TrimSpace(out) != "/tmp" {
			t.Errorf("cwd = %q, want /tmp", out)
		}
		out = rtIn(t, root, "exec", id, "/bin/probe", "cwd").ok(t).Stdout
		if strings.TrimSpace(out) != "/" {
			t.Errorf("cwd without --cwd = %q, want the config's /", out)
		}
	})
	t.Run("env", func(t *testing.T) {
		out := rtIn(t, root, "exec", "-e", "FOO=bar", "-e", "BAZ=a b=c", id, "/bin/probe", "env").ok(t).Stdout
		env := lines(out)
		for _, want := range []string{"FOO=bar", "BAZ=a b=c", "TERM=xterm"} {
			if !contains(env, want) {
				t.Errorf("env lacks %q:\n%s", want, out)
			}
		}
		if !strings.Contains(out, "PATH=") {
			t.Errorf("env lacks the config's PATH:\n%s", out)
		}
	})
	t.Run("additional gids", func(t *testing.T) {
		ids := parseExecIDs(t, rtIn(t, root, "exec", "-u", "1000:1000", "-g", "10", "-g", "20", id, "/bin/probe", "ids").ok(t).Stdout)
		if ids.UID != 1000 || ids.GID != 1000 {
			t.Errorf("ids = %+v, want uid/gid 1000", ids)
		}
		for _, g := range []int{10, 20} {
			found := false
			for _, x := range ids.Groups {
				found = found || x == g
			}
			if !found {
				t.Errorf("groups %v lack %d", ids.Groups, g)
			}
		}
		for _, x := range ids.Groups {
			if x != 10 && x != 20 && x != 1000 {
				t.Errorf("groups %v contain unexpected %d", ids.Groups, x)
			}
		}
	})
}

// TestExecProcessJSON checks exec -p with a specs.Process JSON file, as
// containerd's shim sends it.
func TestExecProcessJSON(t *testing.T) {
	id, _ := execRunning(t)
	root := stateRoot(t)
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	p := specs.Process{
		User: specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{30}},
		Args: []string{"/bin/sh", "-c", "probe ids; probe cwd; echo \"json=$FROM_JSON\"; exit 7"},
		Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "FROM_JSON=yes"},
		Cwd:  "/tmp",
		Capabilities: &specs.LinuxCapabilities{
			Bounding: caps, Effective: caps, Permitted: caps,
		},
		Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
		NoNewPrivileges: true,
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	procFile := filepath.Join(newDir(t, "xj"), "process.json")
	if err := os.WriteFile(procFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"-p", "--process"} {
		t.Run(flag, func(t *testing.T) {
			r := rtIn(t, root, "exec", flag, procFile, id)
			if r.Code != 7 {
				t.Fatalf("exit code %d, want the process's 7: %s", r.Code, r)
			}
			ls := lines(r.Stdout)
			if len(ls) != 3 {
				t.Fatalf("output = %q, want ids, cwd and env lines", r.Stdout)
			}
			ids := parseExecIDs(t, ls[0])
			if ids.UID != 1000 || ids.GID != 1000 || len(ids.Groups) != 1 || ids.Groups[0] != 30 {
				t.Errorf("ids = %+v, want uid/gid 1000 and groups [30]", ids)
			}
			if ls[1] != "/tmp" {
				t.Errorf("cwd = %q, want /tmp", ls[1])
			}
			if ls[2] != "json=yes" {
				t.Errorf("env from process.json: %q, want json=yes", ls[2])
			}
		})
	}
}

// TestExecDetachedWritesPidFile checks exec -d --pid-file: it returns at
// once with status 0, the pid file holds a bare decimal pid, and that
// process is alive in the container's pid namespace.
func TestExecDetachedWritesPidFile(t *testing.T) {
	id, initPid := execRunning(t)
	pidFile := filepath.Join(newDir(t, "xp"), "exec.pid")
	start := time.Now()
	r := rt(t, "exec", "-d", "--pid-file", pidFile, id, "/bin/probe", "sleep").ok(t)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("exec -d took %v; it must not wait for the process", d)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("pid file not written: %v\n%s", err, r)
	}
	if !regexp.MustCompile(`^[0-9]+$`).Match(b) {
		t.Fatalf("pid file content %q is not bare decimal", b)
	}
	pid, _ := strconv.Atoi(string(b))
	t.Cleanup(func() { _ = unix.Kill(pid, unix.SIGKILL) })
	if pid == initPid {
		t.Fatalf("exec pid %d is the init's", pid)
	}
	if !pidAlive(pid) {
		t.Fatalf("exec'd pid %d is not alive", pid)
	}
	if got, want := namespacesOf(t, strconv.Itoa(pid))["pid"], namespacesOf(t, strconv.Itoa(initPid))["pid"]; got != want {
		t.Errorf("exec'd process pid namespace %q, want the init's %q", got, want)
	}
	// A relative pid file is relative to berth's working directory.
	dir := newDir(t, "xr")
	r = rtWith(t, rtOpts{Dir: dir}, "exec", "-d", "--pid-file", "rel.pid", id, "/bin/probe", "sleep").ok(t)
	b, err = os.ReadFile(filepath.Join(dir, "rel.pid"))
	if err != nil {
		t.Fatalf("relative pid file not written in the working directory: %v\n%s", err, r)
	}
	if pid2, err := strconv.Atoi(string(b)); err != nil || !pidAlive(pid2) {
		t.Errorf("relative pid file %q does not name a live process", b)
	} else {
		t.Cleanup(func() { _ = unix.Kill(pid2, unix.SIGKILL) })
	}
	if err := unix.Kill(pid, unix.SIGKILL); err != nil {
		t.Errorf("kill exec'd pid %d: %v", pid, err)
	}
	if !waitFor(5*time.Second, func() bool { return !pidAlive(pid) }) {
		t.Errorf("exec'd pid %d still alive after SIGKILL", pid)
	}
	if st := getState(t, id); st.Status != "running" || st.Pid != initPid {
		t.Errorf("container after the exec'd process died: status %q pid %d, want running %d", st.Status, st.Pid, initPid)
	}
}

// TestExecJoinsAllNamespacesAndCgroup checks that an exec'd process is in
// every namespace of the init (host view of a detached process, and the
// view from inside of a foreground one) and in the init's cgroup.
func TestExecJoinsAllNamespacesAndCgroup(t *testing.T) {
	id, initPid := execRunning(t, allNamespaces)
	initNS := namespacesOf(t, strconv.Itoa(initPid))
	hostNS := hostNamespaces(t)

	pid := execDetached(t, id, "/bin/probe", "sleep")
	execNS := namespacesOf(t, strconv.Itoa(pid))
	if len(execNS) < 7 {
		t.Fatalf("exec'd process has only namespaces %v", execNS)
	}
	for name, want := range initNS {
		if got := execNS[name]; got != want {
			t.Errorf("exec'd process %s namespace = %q, want the init's %q (host %q)", name, got, want, hostNS[name])
		}
	}
	initCg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", initPid))
	if err != nil {
		t.Fatal(err)
	}
	execCg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	if string(execCg) != string(initCg) {
		t.Errorf("exec'd process cgroups:\n%s\nwant the init's:\n%s", execCg, initCg)
	}

	// Foreground exec, seen from inside.
	out := rt(t, "exec", id, "/bin/probe", "ns").ok(t).Stdout
	var inside map[string]string
	if err := json.Unmarshal([]byte(out), &inside); err != nil {
		t.Fatalf("probe ns output: %v\n%s", err, out)
	}
	for _, name := range []string{"cgroup", "ipc", "mnt", "net", "pid", "uts", "user", "time"} {
		if initNS[name] == "" {
			continue
		}
		if inside[name] != initNS[name] {
			t.Errorf("foreground exec %s namespace = %q, want the init's %q", name, inside[name], initNS[name])
		}
	}
}

// TestExecStoppedContainerFails checks exec into a stopped container.
func TestExecStoppedContainerFails(t *testing.T) {
	id, _ := createStarted(t, newBundle(t, withProbe("exit", "0")))
	waitStatus(t, id, "stopped", 10*time.Second)
	r := rt(t, "exec", id, "/bin/probe", "ids").failed(t)
	if r.Code != 255 {
		t.Errorf("exit code %d, want 255: %s", r.Code, r)
	}
	if strings.Contains(r.Stdout, "uid") {
		t.Errorf("the process ran in a stopped container: %s", r)
	}
	if st := getState(t, id); st.Status != "stopped" {
		t.Errorf("status = %q after a refused exec, want stopped", st.Status)
	}
}

// TestExecMissingContainerFails checks exec with an unknown id.
func TestExecMissingContainerFails(t *testing.T) {
	r := rt(t, "exec", newID(t), "/bin/true").failed(t, "container does not exist")
	if r.Code != 255 {
		t.Errorf("exit code %d, want 255: %s", r.Code, r)
	}
}

// TestExecInUserNamespaceContainer checks exec into a container with a
// user namespace mapping 0 to host 100000: the exec'd process is root in
// the container's user namespace, uid 100000 on the host.
func TestExecInUserNamespaceContainer(t *testing.T) {
	id, initPid := execRunning(t,
		withNamespace(specs.LinuxNamespace{Type: specs.UserNamespace}),
		func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		})
	r := rt(t, "exec", id, "/bin/sh", "-c", "probe ids; cat /proc/self/uid_map /proc/self/gid_map; probe ns").ok(t)
	ls := lines(r.Stdout)
	if len(ls) != 4 {
		t.Fatalf("output = %q, want ids, uid_map, gid_map and ns lines", r.Stdout)
	}
	if ids := parseExecIDs(t, ls[0]); ids.UID != 0 || ids.GID != 0 || ids.EUID != 0 {
		t.Errorf("ids inside = %+v, want root", ids)
	}
	for i, name := range []string{"uid_map", "gid_map"} {
		if got := strings.Join(strings.Fields(ls[1+i]), " "); got != "0 100000 65536" {
			t.Errorf("%s inside = %q, want `0 100000 65536`", name, ls[1+i])
		}
	}
	var ns map[string]string
	if err := json.Unmarshal([]byte(ls[3]), &ns); err != nil {
		t.Fatalf("probe ns: %v\n%s", err, ls[3])
	}
	if want := namespacesOf(t, strconv.Itoa(initPid))["user"]; ns["user"] != want {
		t.Errorf("exec'd user namespace %q, want the init's %q", ns["user"], want)
	}
	// Host view of a detached exec'd process.
	pid := execDetached(t, id, "/bin/probe", "sleep")
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "Uid:") || strings.HasPrefix(l, "Gid:") {
			if f := strings.Fields(l); len(f) < 2 || f[1] != "100000" {
				t.Errorf("host view of the exec'd process %q, want 100000", l)
			}
		}
	}
}

// TestExecNoRuntimeFdLeaks checks that an exec'd process, foreground or
// detached, has only stdin, stdout and stderr open.
func TestExecNoRuntimeFdLeaks(t *testing.T) {
	id, _ := execRunning(t)
	root := stateRoot(t)
	t.Run("foreground", func(t *testing.T) {
		out := rtIn(t, root, "exec", id, "/bin/probe", "fds").ok(t).Stdout
		if fds := fdNumbers(out); strings.Join(fds, ",") != "0,1,2" {
			t.Errorf("open fds:\n%s\nwant only 0, 1, 2", out)
		}
	})
	t.Run("detached", func(t *testing.T) {
		pidFile := filepath.Join(newDir(t, "xp"), "exec.pid")
		r := rtIn(t, root, "exec", "-d", "--pid-file", pidFile, id, "/bin/sh", "-c", "exec probe fds").ok(t)
		b, _ := os.ReadFile(pidFile)
		pid, _ := strconv.Atoi(string(b))
		if !waitFor(10*time.Second, func() bool { return !pidAlive(pid) }) {
			t.Fatalf("detached probe fds (pid %d) did not finish", pid)
		}
		out := r.readStdout(t)
		if fds := fdNumbers(out); strings.Join(fds, ",") != "0,1,2" {
			t.Errorf("open fds:\n%s\nwant only 0, 1, 2", out)
		}
	})
}
