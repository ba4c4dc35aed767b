package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Hooks are run with `probe hook FILE TAG` (see tests/probe/extra.go): it
// appends one JSON line with its argv, env, the state it read on stdin,
// its pid and its mount and pid namespaces. Hooks run in the runtime
// namespace use the probe binary outside every bundle (workDir/probe); the
// startContainer hook, whose path resolves in the container, uses the
// rootfs's /bin/probe.

// hostProbePath is the probe binary outside any bundle.
func hostProbePath() string { return filepath.Join(workDir, "probe") }

// hookRun is one line written by `probe hook`.
type hookRun struct {
	Argv     []string        `json:"argv"`
	Env      []string        `json:"env"`
	RawState json.RawMessage `json:"state"`
	Pid      int             `json:"pid"`
	MntNS    string          `json:"mntns"`
	PidNS    string          `json:"pidns"`
	Cwd      string          `json:"cwd"`
	// PidExe is readlink /proc/<state pid>/exe at the time of the hook.
	PidExe string `json:"pidExe"`
	CPUs   string `json:"cpus"`
}

// tag is the first argument after FILE.
func (h hookRun) tag() string {
	if len(h.Argv) > 3 {
		return h.Argv[3]
	}
	return ""
}

// state decodes the state the hook got on stdin.
func (h hookRun) state(t *testing.T) specs.State {
	t.Helper()
	var st specs.State
	if err := json.Unmarshal(h.RawState, &st); err != nil {
		t.Fatalf("hook %s: state on stdin is not a state JSON: %v: %s", h.tag(), err, h.RawState)
	}
	return st
}

// probeHook is a hook, run from the host, that records itself in log.
func probeHook(log, tag string) specs.Hook {
	return specs.Hook{Path: hostProbePath(), Args: []string{"probe", "hook", log, tag}}
}

// readHookLog reads the records of a hook log (none if it does not exist).
func readHookLog(t *testing.T, path string) []hookRun {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var runs []hookRun
	for _, l := range lines(string(b)) {
		var h hookRun
		if err := json.Unmarshal([]byte(l), &h); err != nil {
			t.Fatalf("bad hook log line %q: %v", l, err)
		}
		runs = append(runs, h)
	}
	return runs
}

func hookTags(runs []hookRun) []string {
	tags := []string{}
	for _, h := range runs {
		tags = append(tags, h.tag())
	}
	return tags
}

// hookByTag returns the one record with the tag.
func hookByTag(t *testing.T, runs []hookRun, tag string) hookRun {
	t.Helper()
	var found []hookRun
	for _, h := range runs {
		if h.tag() == tag {
			found = append(found, h)
		}
	}
	if len(found) != 1 {
		t.Fatalf("hook %s ran %d times, want once; log: %v", tag, len(found), hookTags(runs))
	}
	return found[0]
}

func tagIndex(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// withHookSpec sets spec.hooks.
func withHookSpec(h *specs.Hooks) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Hooks = h }
}

// failingShellHook is a host shell hook that prints msg and exits 7.
func failingShellHook(msg string) specs.Hook {
	return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "echo " + msg + "; exit 7"}}
}

// assertCreateLeftNothing checks that a container whose create failed left nothing
// the runtime can see (the leak check covers mounts, cgroups, processes).
func assertCreateLeftNothing(t *testing.T, id string) {
	t.Helper()
	if fileExists(filepath.Join(stateRoot(t), id)) {
		t.Errorf("state dir of %s still exists after a failed create", id)
	}
	if r := rt(t, "state", id); r.Code == 0 {
		t.Errorf("state %s succeeds after a failed create: %s", id, r)
	}
	if r := rt(t, "list", "-q").ok(t); contains(lines(r.Stdout), id) {
		t.Errorf("list still shows %s after a failed create: %s", id, r)
	}
}

// TestHooksRunInLifecycleOrder checks that each of the six hook kinds runs
// once, at its point of the lifecycle (prestart, createRuntime and
// createContainer at create; startContainer before the process and
// poststart before start returns; poststop at delete), in the namespaces
// the spec says, and with the state JSON on stdin (id, bundle, status and,
// for the hooks in the runtime namespace, the init's host pid).
func TestHooksRunInLifecycleOrder(t *testing.T) {
	logDir := hostDir(t, nil)
	hostLog := filepath.Join(logDir, "hooks.log")
	const ctrLog = "/hooklog/hooks.log"
	bundle := newBundle(t,
		// The process records itself too, to order it against the hooks.
		withArgs("/bin/sh", "-c", "echo '{}' | probe hook "+ctrLog+" process; exec probe sleep"),
		withMount(specs.Mount{Destination: "/hooklog", Type: "bind", Source: logDir, Options: []string{"rbind"}}),
		withHookSpec(&specs.Hooks{
			Prestart:      []specs.Hook{probeHook(hostLog, "prestart")},
			CreateRuntime: []specs.Hook{probeHook(hostLog, "createRuntime")},
			// Runs in the container's mount namespace before pivot_root:
			// its path and the host log both resolve on the host fs.
			CreateContainer: []specs.Hook{probeHook(hostLog, "createContainer")},
			// Runs after pivot_root: path and log resolve in the rootfs.
			StartContainer: []specs.Hook{{Path: "/bin/probe", Args: []string{"probe", "hook", ctrLog, "startContainer"}}},
			Poststart:      []specs.Hook{probeHook(hostLog, "poststart")},
			Poststop:       []specs.Hook{probeHook(hostLog, "poststop")},
		}))
	id := newID(t)
	hostNS := hostNamespaces(t)

	rt(t, "create", "--bundle", bundle, id).ok(t)
	if got, want := hookTags(readHookLog(t, hostLog)), []string{"prestart", "createRuntime", "createContainer"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after create the hooks that ran are %v, want %v", got, want)
	}
	st := getState(t, id)
	ctrNS := namespacesOf(t, fmt.Sprint(st.Pid))

	rt(t, "start", id).ok(t)
	// poststart runs before start returns.
	if tags := hookTags(readHookLog(t, hostLog)); tagIndex(tags, "poststart") < 0 {
		t.Errorf("poststart has not run when start returned: %v", tags)
	}
	if !waitFor(10*time.Second, func() bool { return tagIndex(hookTags(readHookLog(t, hostLog)), "process") >= 0 }) {
		t.Fatalf("the container process did not run: %v", hookTags(readHookLog(t, hostLog)))
	}
	// The order of poststart against startContainer and the process is
	// TestPoststartRunsAfterStartContainerAndExec's business.
	tags := hookTags(readHookLog(t, hostLog))
	if len(tags) != 6 || !reflect.DeepEqual(tags[:3], []string{"prestart", "createRuntime", "createContainer"}) ||
		tagIndex(tags, "startContainer") < 0 || tagIndex(tags, "startContainer") > tagIndex(tags, "process") {
		t.Errorf("after start the log is %v, want prestart, createRuntime, createContainer, then startContainer before process, and poststart", tags)
	}

	rt(t, "kill", id, "KILL").ok(t)
	waitStatus(t, id, "stopped", 10*time.Second)
	if tags := hookTags(readHookLog(t, hostLog)); tagIndex(tags, "poststop") >= 0 {
		t.Errorf("poststop ran before delete: %v", tags)
	}
	rt(t, "delete", id).ok(t)
	runs := readHookLog(t, hostLog)
	if tags := hookTags(runs); len(tags) != 7 || tags[6] != "poststop" {
		t.Fatalf("after delete the log is %v, want poststop last", tags)
	}

	// runtime-spec: "creating" is step 2 of the lifecycle only; the
	// create-time hooks (steps 3-5) come after it and get "created" (as
	// with crun; runc 1.1 passes "creating").
	wantStatus := map[string]specs.ContainerState{
		"prestart": specs.StateCreated, "createRuntime": specs.StateCreated, "createContainer": specs.StateCreated,
		"startContainer": specs.StateCreated, "poststart": specs.StateRunning, "poststop": specs.StateStopped,
	}
	for tag, status := range wantStatus {
		h := hookByTag(t, runs, tag)
		s := h.state(t)
		if s.ID != id || s.Bundle != bundle || s.Status != status {
			t.Errorf("%s hook got state id=%q bundle=%q status=%q, want %q %q %q: %s",
				tag, s.ID, s.Bundle, s.Status, id, bundle, status, h.RawState)
		}
		if s.Version == "" {
			t.Errorf("%s hook got a state without ociVersion: %s", tag, h.RawState)
		}
		inContainer := tag == "createContainer" || tag == "startContainer"
		wantNS := hostNS
		if inContainer {
			wantNS = ctrNS
		}
		if h.MntNS != wantNS["mnt"] || h.PidNS != wantNS["pid"] {
			where := "runtime"
			if inContainer {
				where = "container"
			}
			t.Errorf("%s hook ran in mnt %s, pid %s; want the %s namespaces mnt %s, pid %s",
				tag, h.MntNS, h.PidNS, where, wantNS["mnt"], wantNS["pid"])
		}
		// The pid of the hooks in the runtime namespace is the init's as
		// the host sees it (TestHooksContainerNamespacePid covers the
		// others).
		if (tag == "prestart" || tag == "createRuntime" || tag == "poststart") && s.Pid != st.Pid {
			t.Errorf("%s hook got pid %d, want the init's %d", tag, s.Pid, st.Pid)
		}
	}
}

// TestHooksContainerNamespacePid checks the pid in the state of the hooks
// run in the container namespace: runtime-spec (state, "pid") says it is
// "the pid as seen by the container" there, which is 1 for the init of a
// new pid namespace (runc passes getpid() of the init).
func TestHooksContainerNamespacePid(t *testing.T) {
	logDir := hostDir(t, nil)
	hostLog := filepath.Join(logDir, "hooks.log")
	bundle := newBundle(t,
		withMount(specs.Mount{Destination: "/hooklog", Type: "bind", Source: logDir, Options: []string{"rbind"}}),
		withHookSpec(&specs.Hooks{
			CreateContainer: []specs.Hook{probeHook(hostLog, "createContainer")},
			StartContainer:  []specs.Hook{{Path: "/bin/probe", Args: []string{"probe", "hook", "/hooklog/hooks.log", "startContainer"}}},
		}))
	createStarted(t, bundle)
	// (start may return before the startContainer hook ran: see
	// TestPoststartRunsAfterStartContainerAndExec.)
	waitFor(5*time.Second, func() bool { return tagIndex(hookTags(readHookLog(t, hostLog)), "startContainer") >= 0 })
	runs := readHookLog(t, hostLog)
	for _, tag := range []string{"createContainer", "startContainer"} {
		h := hookByTag(t, runs, tag)
		if s := h.state(t); s.Pid != 1 {
			t.Errorf("%s hook (container namespace) got pid %d, want 1, the init's pid in its pid namespace: %s", tag, s.Pid, h.RawState)
		}
	}
}

// TestPoststartRunsAfterStartContainerAndExec checks the start order of
// the runtime-spec lifecycle: the startContainer hooks (step 7), then the
// user-specified program is executed (step 8), then the poststart hooks
// (step 9), all before start returns. The startContainer hook is slow on
// purpose.
func TestPoststartRunsAfterStartContainerAndExec(t *testing.T) {
	logDir := hostDir(t, nil)
	hostLog := filepath.Join(logDir, "hooks.log")
	bundle := newBundle(t,
		withMount(specs.Mount{Destination: "/hooklog", Type: "bind", Source: logDir, Options: []string{"rbind"}}),
		withHookSpec(&specs.Hooks{
			StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c",
				"sleep 0.3; echo '{}' | /bin/probe hook /hooklog/hooks.log startContainer"}}},
			Poststart: []specs.Hook{probeHook(hostLog, "poststart")},
		}))
	createStarted(t, bundle)
	runs := readHookLog(t, hostLog)
	if tags := hookTags(runs); !reflect.DeepEqual(tags, []string{"startContainer", "poststart"}) {
		t.Errorf("when start returned the hooks that had run were %v, want [startContainer poststart]", tags)
	}
	for _, h := range runs {
		if h.tag() == "poststart" && !strings.HasSuffix(h.PidExe, "/bin/probe") {
			t.Errorf("when the poststart hook ran the container process was %q, not yet the user-specified /bin/probe", h.PidExe)
		}
	}
}

// TestPoststartStateOfProgramThatExitedAtOnce checks the state a poststart
// hook gets when the program exits as soon as it is exec'd: status running
// and the init's pid (runtime-spec: pid is required when the status is
// running), never pid 0 because the program is already gone. Whether the
// program is gone before the runtime reads its status is a race, so it runs
// a few times.
func TestPoststartStateOfProgramThatExitedAtOnce(t *testing.T) {
	for i := 0; i < 5; i++ {
		logDir := hostDir(t, nil)
		hostLog := filepath.Join(logDir, "hooks.log")
		bundle := newBundle(t, withArgs("/bin/true"),
			withHookSpec(&specs.Hooks{Poststart: []specs.Hook{probeHook(hostLog, "poststart")}}))
		id := newID(t)
		rt(t, "create", "--bundle", bundle, id).ok(t)
		pid := getState(t, id).Pid
		rt(t, "start", id).ok(t)
		s := hookByTag(t, readHookLog(t, hostLog), "poststart").state(t)
		if s.Status != specs.StateRunning || s.Pid != pid {
			t.Errorf("run %d: poststart hook got status %q pid %d, want running and the init's pid %d", i, s.Status, s.Pid, pid)
		}
		waitStatus(t, id, "stopped", 10*time.Second)
		rt(t, "delete", id).ok(t)
	}
}

// TestHookArgsAndEnv checks that a hook gets exactly its args (args[0] as
// argv[0]) and its env, and an empty env when it has none (the process's,
// for startContainer).
func TestHookArgsAndEnv(t *testing.T) {
	logDir := hostDir(t, nil)
	log := filepath.Join(logDir, "hooks.log")
	withArgsEnv := func(tag string, env []string) specs.Hook {
		return specs.Hook{Path: hostProbePath(), Args: []string{"custom-argv0", "hook", log, tag, "a b", "", "--x=y"}, Env: env}
	}
	bundle := newBundle(t,
		withMount(specs.Mount{Destination: "/hooklog", Type: "bind", Source: logDir, Options: []string{"rbind"}}),
		withHookSpec(&specs.Hooks{
			Prestart:        []specs.Hook{probeHook(log, "prestart-noenv")},
			CreateRuntime:   []specs.Hook{withArgsEnv("createRuntime", []string{"FOO=bar baz", "EMPTY="})},
			CreateContainer: []specs.Hook{withArgsEnv("createContainer", []string{"WHERE=container"})},
			StartContainer:  []specs.Hook{{Path: "/bin/probe", Args: []string{"probe", "hook", "/hooklog/hooks.log", "startContainer-noenv"}}},
			Poststart:       []specs.Hook{withArgsEnv("poststart", []string{"A=1", "B=2"})},
		}))
	createStarted(t, bundle)
	runs := readHookLog(t, log)
	for tag, env := range map[string][]string{
		"createRuntime":   {"FOO=bar baz", "EMPTY="},
		"createContainer": {"WHERE=container"},
		"poststart":       {"A=1", "B=2"},
	} {
		h := hookByTag(t, runs, tag)
		if want := []string{"custom-argv0", "hook", log, tag, "a b", "", "--x=y"}; !reflect.DeepEqual(h.Argv, want) {
			t.Errorf("%s hook argv = %q, want %q", tag, h.Argv, want)
		}
		if !reflect.DeepEqual(h.Env, env) {
			t.Errorf("%s hook env = %q, want exactly %q", tag, h.Env, env)
		}
	}
	if h := hookByTag(t, runs, "prestart-noenv"); len(h.Env) != 0 {
		t.Errorf("prestart hook (no env in the config) got env %q, want none", h.Env)
	}
	// startContainer runs in the container just before the process, and
	// gets its environment when it has none of its own, as in runc
	// (TestParityHookContext).
	if h := hookByTag(t, runs, "startContainer-noenv"); !contains(h.Env, "TERM=xterm") {
		t.Errorf("startContainer hook (no env in the config) got env %q, want the process's", h.Env)
	}
}

// TestHookTimeoutKillsHook checks that a hook running past its timeout is
// killed and fails create with a timeout error, leaving nothing behind.
func TestHookTimeoutKillsHook(t *testing.T) {
	for _, kind := range []string{"createRuntime", "createContainer"} {
		t.Run(kind, func(t *testing.T) {
			marker := fmt.Sprintf("hook-timeout-marker-%d", counter.Add(1))
			one := 1
			h := specs.Hook{Path: hostProbePath(), Args: []string{"probe", "sleep", "60", marker}, Timeout: &one}
			hooks := &specs.Hooks{}
			if kind == "createRuntime" {
				hooks.CreateRuntime = []specs.Hook{h}
			} else {
				hooks.CreateContainer = []specs.Hook{h}
			}
			bundle := newBundle(t, withHookSpec(hooks))
			id := newID(t)
			start := time.Now()
			r := rt(t, "create", "--bundle", bundle, id).failed(t, "timeout")
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("create took %v with a 1s hook timeout: %s", d, r)
			}
			assertCreateLeftNothing(t, id)
			if !waitFor(5*time.Second, func() bool { return len(pidsWithCmdlineContaining(marker)) == 0 }) {
				t.Errorf("the timed-out hook still runs: pids %v", pidsWithCmdlineContaining(marker))
			}
		})
	}
}

// pidsWithCmdlineContaining lists live processes whose command line contains s.
func pidsWithCmdlineContaining(s string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(b), s) && pidAlive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestFailingCreateHookFailsCreate checks that a failing prestart,
// createRuntime or createContainer hook fails create with the hook's output
// in the error, stops the later hooks and leaves nothing behind.
func TestFailingCreateHookFailsCreate(t *testing.T) {
	for _, kind := range []string{"prestart", "createRuntime", "createContainer"} {
		t.Run(kind, func(t *testing.T) {
			log := filepath.Join(hostDir(t, nil), "hooks.log")
			msg := "hook-said-boom-" + kind
			hooks := &specs.Hooks{
				Prestart:        []specs.Hook{probeHook(log, "prestart")},
				CreateRuntime:   []specs.Hook{probeHook(log, "createRuntime")},
				CreateContainer: []specs.Hook{probeHook(log, "createContainer")},
				Poststop:        []specs.Hook{probeHook(log, "poststop")},
			}
			switch kind {
			case "prestart":
				hooks.Prestart = []specs.Hook{failingShellHook(msg)}
			case "createRuntime":
				hooks.CreateRuntime = []specs.Hook{failingShellHook(msg)}
			case "createContainer":
				hooks.CreateContainer = []specs.Hook{failingShellHook(msg)}
			}
			bundle := newBundle(t, withHookSpec(hooks))
			id := newID(t)
			rt(t, "create", "--bundle", bundle, id).failed(t, msg)
			assertCreateLeftNothing(t, id)
			tags := hookTags(readHookLog(t, log))
			all := []string{"prestart", "createRuntime", "createContainer"}
			for _, later := range all[tagIndex(all, kind)+1:] {
				if tagIndex(tags, later) >= 0 {
					t.Errorf("%s hook ran after the %s hook failed: %v", later, kind, tags)
				}
			}
		})
	}
}

// TestMissingOrRelativeHookPathFailsCreate checks that a hook whose path
// does not exist fails create, and that a relative hook path (of any
// kind) is refused at create, leaving nothing behind.
func TestMissingOrRelativeHookPathFailsCreate(t *testing.T) {
	missing := func(h *specs.Hooks) { h.CreateRuntime = []specs.Hook{{Path: "/nonexistent/berth-hook"}} }
	cases := map[string]func(*specs.Hooks){
		"missing-prestart":        func(h *specs.Hooks) { h.Prestart = []specs.Hook{{Path: "/nonexistent/berth-hook"}} },
		"missing-createRuntime":   missing,
		"missing-createContainer": func(h *specs.Hooks) { h.CreateContainer = []specs.Hook{{Path: "/nonexistent/berth-hook"}} },
		// Exists relative to the bundle, which is create's cwd here.
		"relative-createRuntime":  func(h *specs.Hooks) { h.CreateRuntime = []specs.Hook{{Path: "rootfs/bin/true"}} },
		"relative-startContainer": func(h *specs.Hooks) { h.StartContainer = []specs.Hook{{Path: "bin/true"}} },
		"relative-poststop":       func(h *specs.Hooks) { h.Poststop = []specs.Hook{{Path: "rootfs/bin/true"}} },
	}
	for name, set := range cases {
		t.Run(name, func(t *testing.T) {
			hooks := &specs.Hooks{}
			set(hooks)
			bundle := newBundle(t, withHookSpec(hooks))
			id := newID(t)
			r := rtWith(t, rtOpts{Dir: bundle}, "create", "--bundle", bundle, id).failed(t)
			if strings.HasPrefix(name, "missing") && !strings.Contains(r.Output(), "/nonexistent/berth-hook") {
				t.Errorf("error does not name the missing hook: %s", r)
			}
			assertCreateLeftNothing(t, id)
			// One error, the runtime's: the init that was let go must not
			// add "peer closed the connection" (runc prints several lines).
			if !runtimeIsRunc {
				time.Sleep(100 * time.Millisecond)
				if errs := lines(strings.TrimSpace(r.readStderr(t))); len(errs) != 1 {
					t.Errorf("a failed create printed %d lines, want one error: %q", len(errs), errs)
				}
			}
		})
	}
}

// TestFailingPoststartHookStopsContainer checks runtime-spec 1.3: when a
// poststart hook fails, start fails with its output and the container is
// stopped.
func TestFailingPoststartHookStopsContainer(t *testing.T) {
	bundle := newBundle(t, withHookSpec(&specs.Hooks{Poststart: []specs.Hook{failingShellHook("poststart-said-boom")}}))
	id := newID(t)
	rt(t, "create", "--bundle", bundle, id).ok(t)
	pid := getState(t, id).Pid
	rt(t, "start", id).failed(t, "poststart-said-boom")
	waitStatus(t, id, "stopped", 10*time.Second)
	if !waitFor(5*time.Second, func() bool { return !pidAlive(pid) }) {
		t.Errorf("init %d still alive after the poststart hook failed", pid)
	}
	rt(t, "delete", id).ok(t)
}

// TestFailingStartContainerHookStopsContainer checks that when a
// startContainer hook fails the process is never executed and the container
// ends up stopped (runtime-spec: "generate an error, stop the container").
func TestFailingStartContainerHookStopsContainer(t *testing.T) {
	bundle := newBundle(t,
		withArgs("/bin/sh", "-c", "touch /process-ran; exec probe sleep"),
		withHookSpec(&specs.Hooks{StartContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo startContainer-said-boom; exit 4"}}}}))
	id := newID(t)
	rt(t, "create", "--bundle", bundle, id).ok(t)
	r := rt(t, "start", id)
	if r.Code == 0 {
		// runc behaves so too: the init has already released start when
		// it runs the hook.
		t.Logf("start exited 0 though the startContainer hook failed: %s", r)
	}
	waitStatus(t, id, "stopped", 10*time.Second)
	if fileExists(filepath.Join(rootfsOf(bundle), "process-ran")) {
		t.Errorf("the process ran although its startContainer hook failed")
	}
	rt(t, "delete", id).ok(t)
}

// TestFailingPoststopHookOnlyWarns checks that a failing poststop hook is
// logged as a warning while delete succeeds and the later hooks still run.
func TestFailingPoststopHookOnlyWarns(t *testing.T) {
	log := filepath.Join(hostDir(t, nil), "hooks.log")
	bundle := newBundle(t, withProbe("exit", "0"),
		withHookSpec(&specs.Hooks{Poststop: []specs.Hook{failingShellHook("poststop-said-boom"), probeHook(log, "poststop-2")}}))
	id, _ := createStarted(t, bundle)
	waitStatus(t, id, "stopped", 10*time.Second)
	r := rt(t, "delete", id)
	if r.Code != 0 {
		t.Fatalf("delete failed because of a poststop hook: %s", r)
	}
	if !strings.Contains(r.Stderr, "poststop-said-boom") || !strings.Contains(strings.ToLower(r.Stderr), "warn") {
		t.Errorf("delete did not log a warning with the hook's output: %s", r)
	}
	if fileExists(filepath.Join(stateRoot(t), id)) {
		t.Errorf("state dir remains after delete")
	}
	if tags := hookTags(readHookLog(t, log)); !reflect.DeepEqual(tags, []string{"poststop-2"}) {
		t.Errorf("the poststop hook after the failing one: ran %v, want [poststop-2]", tags)
	}
}
