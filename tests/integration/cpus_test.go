package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cpusOf is the Cpus_allowed_list of /proc/<pid>/status ("self" for this
// process).
func cpusOf(t *testing.T, pid string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	return cpusIn(string(b))
}

// cpusIn is the Cpus_allowed_list of a /proc status file, or of grep's
// line of it.
func cpusIn(status string) string {
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestProcessesGetTheCallersCPUs: a berth command that starts or handles a
// container runs on one CPU (libcontainer/cpus), but nothing it starts may
// inherit that. The container's init, a process exec'd on each of the
// three paths, and the hooks that run from the runtime must all get the
// caller's CPUs, and so must the runtime once a foreground exec only waits.
func TestProcessesGetTheCallersCPUs(t *testing.T) {
	var own unix.CPUSet
	if err := unix.SchedGetaffinity(0, &own); err != nil {
		t.Fatal(err)
	}
	if own.Count() < 2 {
		t.Skip("one CPU: berth does not pin itself")
	}
	want := cpusOf(t, "self")
	logDir := hostDir(t, nil)
	hostLog := filepath.Join(logDir, "hooks.log")
	bundle := newBundle(t, withArgs("probe", "sleep"),
		withHookSpec(&specs.Hooks{
			CreateRuntime: []specs.Hook{probeHook(hostLog, "createRuntime")},
			Poststart:     []specs.Hook{probeHook(hostLog, "poststart")},
			Poststop:      []specs.Hook{probeHook(hostLog, "poststop")},
		}))
	id := newID(t)
	create := rtWith(t, rtOpts{Global: []string{"--debug"}}, "create", "--bundle", bundle, id).ok(t)
	// Without the pin this test would pass whatever the fork sites do
	// (runc does not pin itself: only the CPUs are compared).
	if !runtimeIsRunc && !strings.Contains(create.Stderr, "runtime pinned to CPU") {
		t.Fatalf("create did not pin itself (its debug log has no \"runtime pinned to CPU\"):\n%s", create.Stderr)
	}
	pid := strconv.Itoa(getState(t, id).Pid)
	if got := cpusOf(t, pid); got != want {
		t.Errorf("the container's init runs on CPUs %q, want the caller's %q", got, want)
	}
	rt(t, "start", id).ok(t)
	for _, path := range []struct{ name, env string }{
		{"direct", ""}, {"pre-stage", "_BERTH_PRESTAGE_EXEC=1"}, {"Go init", "_BERTH_GO_EXEC=1"},
	} {
		env := os.Environ()
		if path.env != "" {
			env = append(env, path.env)
		}
		r := rtWith(t, rtOpts{Env: env}, "exec", id, "sh", "-c", "grep Cpus_allowed_list /proc/self/status").ok(t)
		if got := cpusIn(r.Stdout); got != want {
			t.Errorf("a process exec'd on the %s path runs on CPUs %q, want the caller's %q", path.name, got, want)
		}
	}
	// A foreground exec that now only waits has given its threads back.
	waiting := rtStart(t, rtOpts{}, "exec", id, "sh", "-c", "echo ready; exec probe sleep")
	if !waitFor(10*time.Second, func() bool {
		b, _ := os.ReadFile(waiting.stdout.Name())
		return strings.Contains(string(b), "ready")
	}) {
		t.Fatal("the exec'd process did not start")
	}
	var runtimeCPUs []string
	waitFor(10*time.Second, func() bool {
		runtimeCPUs = threadCPUs(t, waiting.cmd.Process.Pid)
		return len(runtimeCPUs) > 0 && countOf(runtimeCPUs, want) == len(runtimeCPUs)
	})
	if countOf(runtimeCPUs, want) != len(runtimeCPUs) {
		t.Errorf("the threads of a waiting exec run on %v, want all on %q", runtimeCPUs, want)
	}
	rt(t, "kill", id, "KILL").ok(t)
	waiting.wait(t)
	waitStatus(t, id, "stopped", 10*time.Second)
	rt(t, "delete", id).ok(t)
	runs := readHookLog(t, hostLog)
	if len(runs) != 3 {
		t.Fatalf("%d hook runs, want createRuntime, poststart and poststop: %v", len(runs), hookTags(runs))
	}
	for _, h := range runs {
		if h.CPUs != want {
			t.Errorf("the %s hook runs on CPUs %q, want the caller's %q", h.tag(), h.CPUs, want)
		}
	}
}

// threadCPUs lists the Cpus_allowed_list of each thread of pid.
func threadCPUs(t *testing.T, pid int) []string {
	t.Helper()
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tids, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var cpus []string
	for _, tid := range tids {
		if b, err := os.ReadFile(filepath.Join(dir, tid.Name(), "status")); err == nil {
			cpus = append(cpus, cpusIn(string(b)))
		}
	}
	return cpus
}

func countOf(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}
