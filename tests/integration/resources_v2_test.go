package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The resources tests for a real cgroup v2 hierarchy (a systemd host: the
// real-host guest of tests/vm), where the v1 tests of resources_test.go
// skip. The hybrid host's v2 view has only hugetlb, so there they skip
// naming the controller; in the guest every controller is there.

// requireV2Controllers skips unless this is cgroup v2 with every ctrl
// available to a container.
func requireV2Controllers(t *testing.T, ctrls ...string) {
	t.Helper()
	if !cgroupV2 {
		t.Skip("cgroup v2 only (the v1 variant is in resources_test.go)")
	}
	b, err := os.ReadFile(filepath.Join(cgroupRoot, "cgroup.controllers"))
	if err != nil {
		t.Fatal(err)
	}
	have := strings.Fields(string(b))
	for _, c := range ctrls {
		if !contains(have, c) {
			t.Skipf("the %s controller is not in this cgroup v2 hierarchy (%s has %q)", c, cgroupRoot, have)
		}
	}
}

// v2AllocScript grows a 40 MB string in a subshell (busybox needs about
// twice that) and says how the subshell ended: killed under a 32 MiB
// memory.max, fine under 256 MiB. Smaller than resOOMScript: under the
// guest's emulation 100 MB through tr takes too long. (v2 charges kernel
// memory too, so the exec'd init needs more headroom than on v1.)
const v2AllocScript = `(echo 1000 > /proc/self/oom_score_adj; x=$(head -c 40000000 /dev/zero | tr "\0" a); echo survived); echo "status $?"`

// TestResourcesV2MemoryMaxOOMKill checks memory.limit and swap on v2:
// memory.max, memory.swap.max (swap is limit+swap in the spec, so 0
// here), and that a process allocating past the limit is OOM-killed (137),
// counted in memory.events.
func TestResourcesV2MemoryMaxOOMKill(t *testing.T) {
	requireV2Controllers(t, "memory")
	limit := cgMiB(32)
	bundle := newBundle(t, withShellCmd(v2AllocScript),
		withLinuxResources(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: cgI64(limit), Swap: cgI64(limit)}}))
	id, pid, cr := createNotStarted(t, bundle)
	dir := unifiedCgroupDir(t, pid)
	wantCgFile(t, dir, "memory.max", cgItoa(limit))
	if fileExists(filepath.Join(dir, "memory.swap.max")) {
		wantCgFile(t, dir, "memory.swap.max", "0")
	}
	rt(t, "start", id).ok(t)
	waitStatus(t, id, "stopped", 60*time.Second)
	wantOutputLines(t, cr.readStdout(t), []string{"status 137"}, []string{"survived"})
	if n := cgKeyed(t, dir, "memory.events", "oom_kill"); n == "" || n == "0" {
		t.Errorf("%s/memory.events: oom_kill %q after the container ran out of memory", dir, n)
	}
	r := runContainer(t, withShellCmd(`x=$(head -c 40000000 /dev/zero | tr "\0" a); echo survived`),
		withLinuxResources(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: cgI64(limit), Swap: cgI64(limit)}}))
	if r.Code != 137 || strings.Contains(r.Stdout, "survived") {
		t.Errorf("run of a container allocating past its memory limit: want exit 137 and no \"survived\"; %s", r)
	}
}

// TestResourcesV2MemoryLow checks memory.reservation → memory.low.
func TestResourcesV2MemoryLow(t *testing.T) {
	requireV2Controllers(t, "memory")
	bundle := newBundle(t, withArgs("/bin/true"), withLinuxResources(&specs.LinuxResources{Memory: &specs.LinuxMemory{
		Limit: cgI64(cgMiB(64)), Reservation: cgI64(cgMiB(16)),
	}}))
	createCheckStart(t, bundle, func(pid int) {
		dir := unifiedCgroupDir(t, pid)
		wantCgFile(t, dir, "memory.max", cgItoa(cgMiB(64)))
		wantCgFile(t, dir, "memory.low", cgItoa(cgMiB(16)))
	})
}

// TestResourcesV2PidsMax checks pids.limit → pids.max and a fork loop
// that hits it.
func TestResourcesV2PidsMax(t *testing.T) {
	requireV2Controllers(t, "pids")
	bundle := newBundle(t,
		withShellCmd(`exec 2>&1; i=0; while [ $i -lt 10 ]; do sleep 30 & i=$((i+1)); done; echo forked-all`),
		withLinuxResources(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: cgI64(5)}}))
	var dir string
	_, out := createCheckStart(t, bundle, func(pid int) {
		dir = unifiedCgroupDir(t, pid)
		wantCgFile(t, dir, "pids.max", "5")
	})
	if strings.Contains(out, "forked-all") || !strings.Contains(out, "can't fork") {
		t.Errorf("fork loop under pids.max 5: %q, want \"can't fork\"", out)
	}
	if n := cgKeyed(t, dir, "pids.events", "max"); n == "" || n == "0" {
		t.Errorf("%s/pids.events: max %q, want fork failures counted", dir, n)
	}
}

// TestResourcesV2CPU checks cpu.shares (→ cpu.weight, runc's conversion),
// quota and period (→ cpu.max), cpus and mems (→ cpuset.cpus/.mems, and the
// process's affinity), and that a busy loop is throttled.
func TestResourcesV2CPU(t *testing.T) {
	requireV2Controllers(t, "cpu", "cpuset")
	bundle := newBundle(t,
		withShellCmd(`grep Cpus_allowed_list /proc/self/status; echo spinning; while :; do :; done`),
		withLinuxResources(&specs.LinuxResources{CPU: &specs.LinuxCPU{
			Shares: cgU64(512), Quota: cgI64(20000), Period: cgU64(100000), Cpus: "0", Mems: "0",
		}}))
	id, pid, cr := createNotStarted(t, bundle)
	dir := unifiedCgroupDir(t, pid)
	// The conversion of opencontainers/cgroups, as runc does it (its
	// formula changed in 2025: 1024 shares are weight 100).
	wantCgFile(t, dir, "cpu.weight", strconv.FormatUint(cgroups.ConvertCPUSharesToCgroupV2Value(512), 10))
	wantCgFile(t, dir, "cpu.max", "20000 100000")
	wantCgFile(t, dir, "cpuset.cpus", "0")
	wantCgFile(t, dir, "cpuset.mems", "0")
	rt(t, "start", id).ok(t)
	out := waitOutput(t, cr.StdoutPath, "spinning", 20*time.Second)
	if got := lines(out); len(got) < 1 || strings.Join(strings.Fields(got[0]), " ") != "Cpus_allowed_list: 0" {
		t.Errorf("container's Cpus_allowed_list line = %q, want \"Cpus_allowed_list: 0\"", got)
	}
	if !waitFor(5*time.Second, func() bool {
		n, _ := strconv.Atoi(cgKeyed(t, dir, "cpu.stat", "nr_throttled"))
		return n >= 2
	}) {
		t.Errorf("busy loop under cpu.max 20000 100000 is not throttled: %s/cpu.stat = %q", dir, cgFile(t, dir, "cpu.stat"))
	}
	rt(t, "delete", "-f", id).ok(t)
}

// TestResourcesV2IOWeight checks blockIO.weight: io.bfq.weight where BFQ
// is there, else io.weight with runc's conversion 1+(w-10)*9999/990.
func TestResourcesV2IOWeight(t *testing.T) {
	requireV2Controllers(t, "io")
	bundle := newBundle(t, withArgs("/bin/true"),
		withLinuxResources(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: cgU16(300)}}))
	createCheckStart(t, bundle, func(pid int) {
		dir := unifiedCgroupDir(t, pid)
		file, want := "io.bfq.weight", "300"
		if !fileExists(filepath.Join(dir, file)) {
			file, want = "io.weight", strconv.Itoa(1+(300-10)*9999/990)
		}
		if !fileExists(filepath.Join(dir, file)) {
			t.Skipf("%s has neither io.bfq.weight nor io.weight", dir)
		}
		// "default 300"
		if got := strings.Fields(cgFile(t, dir, file)); len(got) < 2 || got[1] != want {
			t.Errorf("%s/%s = %q, want default %s", dir, file, got, want)
		}
	})
}

// TestUpdateV2MemoryAndPids checks `update --memory --pids-limit` on v2:
// the files change and exec'd processes get the new limits; -1 lifts one.
func TestUpdateV2MemoryAndPids(t *testing.T) {
	requireV2Controllers(t, "memory", "pids")
	bundle := newBundle(t, withArgs("/bin/sleep", "1000"), withLinuxResources(&specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: cgI64(cgMiB(32)), Swap: cgI64(cgMiB(32))},
		// 8: an exec'd init is a Go program whose threads count too
		// (about five before it execs), and the fork loop must still hit
		// the limit (the shell and eight sleeps).
		Pids: &specs.LinuxPids{Limit: cgI64(8)},
	}))
	id, _ := createStarted(t, bundle)
	dir := unifiedCgroupDir(t, getState(t, id).Pid)
	wantCgFile(t, dir, "memory.max", cgItoa(cgMiB(32)))
	wantCgFile(t, dir, "pids.max", "8")
	// The allocation first: an exec'd init is a Go program whose threads
	// count against pids.max too, so it comes before the fork loop has
	// used the pids up (as in TestUpdateMemoryAndPids).
	before := rtWith(t, rtOpts{Timeout: 90 * time.Second}, "exec", id, "/bin/sh", "-c", v2AllocScript).ok(t).Stdout
	wantOutputLines(t, before, []string{"status 137"}, []string{"survived"})
	if out := rt(t, "exec", id, "/bin/sh", "-c", resForkScript).Stdout; !strings.Contains(out, "can't fork") || strings.Contains(out, "forked-all") {
		t.Errorf("8 forks under pids.max 8 did not fail: %q", out)
	}

	rt(t, "update", "--memory", "256m", "--memory-swap", "256m", "--pids-limit", "20", id).ok(t)
	wantCgFile(t, dir, "memory.max", cgItoa(cgMiB(256)))
	wantCgFile(t, dir, "pids.max", "20")
	after := rtWith(t, rtOpts{Timeout: 90 * time.Second}, "exec", id, "/bin/sh", "-c", v2AllocScript).ok(t).Stdout
	wantOutputLines(t, after, []string{"survived", "status 0"}, nil)
	if out := rt(t, "exec", id, "/bin/sh", "-c", resForkScript).Stdout; !strings.Contains(out, "forked-all") {
		t.Errorf("8 forks under pids.max 20 failed: %q", out)
	}
	rt(t, "update", "--pids-limit", "-1", id).ok(t)
	wantCgFile(t, dir, "pids.max", "max")
	wantCgFile(t, dir, "memory.max", cgItoa(cgMiB(256)))
}
