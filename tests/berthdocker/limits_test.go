package dockertest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// requireController skips the test when the host cannot limit with a
// cgroup controller (e.g. the v2 view of a hybrid host, tests/run-v2.sh,
// which has none of memory, cpu, cpuset, pids).
func requireController(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if cgroupV2 {
			b, _ := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
			if !strings.Contains(" "+strings.TrimSpace(string(b))+" ", " "+name+" ") {
				t.Skipf("cgroup v2 controller %s is not available (cgroup.controllers: %q)", name, strings.TrimSpace(string(b)))
			}
		} else if !fileExists(filepath.Join("/sys/fs/cgroup", name)) {
			t.Skipf("no cgroup v1 %s hierarchy", name)
		}
	}
}

// TestMemoryLimit: -m sets the memory cgroup limit.
func TestMemoryLimit(t *testing.T) {
	requireController(t, "memory")
	forEachRuntime(t, func(t *testing.T, e *env) {
		id := e.runD("-m", "32m", "busybox", "sleep", "100")
		pid := e.meta(id).Pid
		file, want := "memory.limit_in_bytes", "33554432"
		if cgroupV2 {
			file = "memory.max"
		}
		p := cgroupFile(t, pid, "memory", file)
		if !strings.Contains(p, "/berth-docker-"+id) {
			t.Errorf("memory cgroup %s is not /berth-docker/<id>", p)
		}
		if got := readTrim(t, p); got != want {
			t.Errorf("%s = %s, want %s", p, got, want)
		}
		e.mustBD("rm", "-f", id)
	})
}

// TestMemoryOOMKilled: a container that outgrows -m is OOM-killed: exit
// 137 and inspect's OOMKilled.
func TestMemoryOOMKilled(t *testing.T) {
	requireController(t, "memory")
	forEachRuntime(t, func(t *testing.T, e *env) {
		id := e.runD("--name", "hog", "-m", "16m", "busybox", "sh", "-c", `x=$(head -c 100000000 /dev/zero|tr "\0" a)`)
		if out := e.mustBD("wait", id); out != "137" {
			t.Errorf("wait: %q, want 137", out)
		}
		st, _ := e.inspect("hog")["State"].(map[string]any)
		if st["OOMKilled"] != true || st["ExitCode"] != float64(137) {
			t.Errorf("inspect State: OOMKilled %v ExitCode %v, want true 137", st["OOMKilled"], st["ExitCode"])
		}
		// A container that is not OOM-killed says so.
		out, _, code := e.runWait("-m", "16m", "busybox", "true")
		_ = out
		if code != 0 {
			t.Errorf("-m 16m busybox true: exit %d", code)
		}
		e.failBD("", "run", "-m", "1m", "busybox", "true")
		e.requireNoContainersExcept(id)
	})
}

// requireNoContainersExcept fails if the store holds other containers.
func (e *env) requireNoContainersExcept(keep ...string) {
	e.t.Helper()
	k := map[string]bool{}
	for _, id := range keep {
		k[id] = true
	}
	for _, d := range e.containerDirs() {
		if !k[d] {
			e.t.Errorf("unexpected container %s left in the store", d)
		}
	}
}

// TestCPULimits: --cpus sets the CFS quota; --cpuset-cpus the CPU set.
func TestCPULimits(t *testing.T) {
	requireController(t, "cpu", "cpuset")
	forEachRuntime(t, func(t *testing.T, e *env) {
		id := e.runD("--cpus", "0.5", "--cpuset-cpus", "0", "busybox", "sleep", "100")
		pid := e.meta(id).Pid
		if cgroupV2 {
			if got := readTrim(t, cgroupFile(t, pid, "cpu", "cpu.max")); got != "50000 100000" {
				t.Errorf("cpu.max = %q, want 50000 100000", got)
			}
		} else {
			if got := readTrim(t, cgroupFile(t, pid, "cpu", "cpu.cfs_quota_us")); got != "50000" {
				t.Errorf("cpu.cfs_quota_us = %q, want 50000", got)
			}
			if got := readTrim(t, cgroupFile(t, pid, "cpu", "cpu.cfs_period_us")); got != "100000" {
				t.Errorf("cpu.cfs_period_us = %q, want 100000", got)
			}
		}
		if got := readTrim(t, cgroupFile(t, pid, "cpuset", "cpuset.cpus")); got != "0" {
			t.Errorf("cpuset.cpus = %q, want 0", got)
		}
		if out := e.mustBD("exec", id, "sh", "-c", "grep Cpus_allowed_list /proc/self/status"); !strings.HasSuffix(out, "\t0") {
			t.Errorf("inside: %q, want CPU 0 only", out)
		}
		e.mustBD("rm", "-f", id)
	})
}

// TestPidsLimit: --pids-limit 5 makes the sixth process's fork fail.
func TestPidsLimit(t *testing.T) {
	requireController(t, "pids")
	forEachRuntime(t, func(t *testing.T, e *env) {
		id := e.runD("--pids-limit", "5", "busybox", "sh", "-c",
			"sleep 0.3; for i in 1 2 3 4 5 6 7 8; do sleep 5 & done; echo all-forked")
		if got := readTrimIfExists(cgroupFileOfContainer(e, id, "pids", "pids.max")); got != "5" && got != "" {
			t.Errorf("pids.max = %q, want 5", got)
		}
		code := e.mustBD("wait", id)
		r := e.bd("logs", id)
		if strings.Contains(r.Out, "all-forked") || !strings.Contains(r.Err, "fork") || code == "0" {
			t.Errorf("--pids-limit 5: want a failed fork: exit %s, logs: %s", code, r)
		}
	})
}

// cgroupFileOfContainer is cgroupFile for a container's init, "" if it has
// already exited.
func cgroupFileOfContainer(e *env, id, controller, file string) string {
	pid := e.meta(id).Pid
	if !pidAlive(pid) {
		return ""
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return ""
	}
	return cgroupFileIn(string(b), controller, file)
}

func readTrimIfExists(p string) string {
	if p == "" {
		return ""
	}
	b, _ := os.ReadFile(p)
	return strings.TrimSpace(string(b))
}
