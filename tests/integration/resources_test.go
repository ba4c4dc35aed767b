package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Tests for linux.resources, update, pause/resume and ps. Every limit is
// checked twice: by the value of its cgroup file on the host (the cgroup
// found from /proc/<init pid>/cgroup) and by what a process in the
// container sees or suffers. Tests that need v1 controllers skip in the
// cgroup v2 view (tests/run-v2.sh), which has only hugetlb.

// createCheckStart creates a container from bundle, calls check with the
// init pid while the container is created (its cgroup is populated and
// limited, the process has not started), starts it, waits until it stops
// and returns its stdout.
func createCheckStart(t *testing.T, bundle string, check func(pid int)) (string, string) {
	t.Helper()
	id, pid, cr := createNotStarted(t, bundle)
	check(pid)
	rt(t, "start", id).ok(t)
	waitStatus(t, id, "stopped", 15*time.Second)
	return id, cr.readStdout(t)
}

// wantOutputLines checks that out has every one of want as a whole line,
// and none of notWant.
func wantOutputLines(t *testing.T, out string, want, notWant []string) {
	t.Helper()
	got := lines(out)
	for _, w := range want {
		if !contains(got, w) {
			t.Errorf("container output lacks line %q; got %q", w, out)
		}
	}
	for _, w := range notWant {
		if contains(got, w) {
			t.Errorf("container output has line %q; got %q", w, out)
		}
	}
}

// memswSupported reports whether the v1 memory controller accounts swap.
func memswSupported() bool {
	mnt := v1Mountpoint("memory")
	return mnt != "" && fileExists(filepath.Join(mnt, "memory.memsw.limit_in_bytes"))
}

// resOOMScript runs a subshell that grows a 100 MB string (busybox sh needs
// about twice that) and prints how the subshell ended. The subshell makes
// itself the OOM killer's first choice (raising oom_score_adj needs no
// privilege): otherwise the kernel may pick the parent shell, and nothing
// is printed (seen once in CI).
const resOOMScript = `(echo 1000 > /proc/self/oom_score_adj; x=$(head -c 100000000 /dev/zero | tr "\0" a); echo survived); echo "status $?"`

// TestResourcesMemoryLimitOOMKill checks memory.limit: memory.limit_in_bytes
// on the host, and a process that allocates more than the limit is killed
// by the OOM killer (SIGKILL, status 137) before it can print "survived".
func TestResourcesMemoryLimitOOMKill(t *testing.T) {
	skipInV2View(t, "memory")
	limit := cgMiB(32)
	mem := &specs.LinuxMemory{Limit: cgI64(limit)}
	if memswSupported() {
		// No swap either, so the limit holds on hosts with swap.
		mem.Swap = cgI64(limit)
	}
	bundle := newBundle(t, withShellCmd(resOOMScript+`; grep -x 'oom_kill_disable 0' /sys/fs/cgroup/memory/memory.oom_control`),
		withLinuxResources(&specs.LinuxResources{Memory: mem}))
	var dir string
	_, out := createCheckStart(t, bundle, func(pid int) {
		dir = v1CgroupDir(t, pid, "memory")
		wantCgFile(t, dir, "memory.limit_in_bytes", cgItoa(limit))
		if mem.Swap != nil {
			wantCgFile(t, dir, "memory.memsw.limit_in_bytes", cgItoa(limit))
		}
	})
	wantOutputLines(t, out, []string{"status 137", "oom_kill_disable 0"}, []string{"survived"})
	// The kernel counts the kill (memory.oom_control has oom_kill since 4.13).
	if n := cgKeyed(t, dir, "memory.oom_control", "oom_kill"); n == "0" {
		t.Errorf("%s/memory.oom_control reports oom_kill 0 after the container ran out of memory", dir)
	}

	// The same as a foreground run: the init itself is killed.
	r := runContainer(t, withShellCmd(`x=$(head -c 100000000 /dev/zero | tr "\0" a); echo survived`),
		withLinuxResources(&specs.LinuxResources{Memory: mem}))
	if r.Code != 137 || strings.Contains(r.Stdout, "survived") {
		t.Errorf("run of a container allocating past its memory limit: want exit 137 and no \"survived\"; %s", r)
	}
}

// TestResourcesMemoryReservationSwappinessOOMKillDisable checks
// memory.reservation, memory.swappiness and memory.disableOOMKiller on the
// host and in the container's own view of its memory cgroup. It does not
// make the container run out of memory (it would hang, not die).
func TestResourcesMemoryReservationSwappinessOOMKillDisable(t *testing.T) {
	skipInV2View(t, "memory")
	bundle := newBundle(t,
		withShellCmd(`cd /sys/fs/cgroup/memory && cat memory.limit_in_bytes memory.soft_limit_in_bytes memory.swappiness && grep oom_kill_disable memory.oom_control`),
		withLinuxResources(&specs.LinuxResources{Memory: &specs.LinuxMemory{
			Limit:            cgI64(cgMiB(64)),
			Reservation:      cgI64(cgMiB(16)),
			Swappiness:       cgU64(10),
			DisableOOMKiller: cgBool(true),
		}}))
	_, out := createCheckStart(t, bundle, func(pid int) {
		dir := v1CgroupDir(t, pid, "memory")
		wantCgFile(t, dir, "memory.limit_in_bytes", cgItoa(cgMiB(64)))
		wantCgFile(t, dir, "memory.soft_limit_in_bytes", cgItoa(cgMiB(16)))
		wantCgFile(t, dir, "memory.swappiness", "10")
		if got := cgKeyed(t, dir, "memory.oom_control", "oom_kill_disable"); got != "1" {
			t.Errorf("%s/memory.oom_control: oom_kill_disable = %q, want 1", dir, got)
		}
	})
	wantOutputLines(t, out, []string{cgItoa(cgMiB(64)), cgItoa(cgMiB(16)), "10", "oom_kill_disable 1"}, nil)
}

// TestResourcesPidsLimit checks pids.limit: pids.max on the host, and a
// fork loop in the container that hits the limit ("can't fork").
func TestResourcesPidsLimit(t *testing.T) {
	skipInV2View(t, "pids")
	bundle := newBundle(t,
		withShellCmd(`exec 2>&1; cat /sys/fs/cgroup/pids/pids.max; i=0; while [ $i -lt 10 ]; do sleep 30 & i=$((i+1)); done; echo forked-all`),
		withLinuxResources(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: cgI64(5)}}))
	var dir string
	_, out := createCheckStart(t, bundle, func(pid int) {
		dir = v1CgroupDir(t, pid, "pids")
		wantCgFile(t, dir, "pids.max", "5")
	})
	wantOutputLines(t, out, []string{"5"}, []string{"forked-all"})
	if !strings.Contains(out, "can't fork") {
		t.Errorf("fork loop under pids.max 5 did not fail with \"can't fork\"; output %q", out)
	}
	if fileExists(filepath.Join(dir, "pids.events")) {
		if n := cgKeyed(t, dir, "pids.events", "max"); n == "0" {
			t.Errorf("%s/pids.events: max 0, want fork failures counted", dir)
		}
	}
}

// TestResourcesCPU checks cpu.shares/quota/period and cpus/mems: the cpu
// and cpuset files on the host, the container's view of them, the CPU
// affinity of its process (Cpus_allowed_list) and that a busy loop is
// throttled by the CFS quota.
func TestResourcesCPU(t *testing.T) {
	skipInV2View(t, "cpu")
	bundle := newBundle(t,
		withShellCmd(`grep Cpus_allowed_list /proc/self/status; cd /sys/fs/cgroup/cpu && cat cpu.shares cpu.cfs_quota_us cpu.cfs_period_us; echo spinning; while :; do :; done`),
		withLinuxResources(&specs.LinuxResources{CPU: &specs.LinuxCPU{
			Shares: cgU64(512),
			Quota:  cgI64(20000),
			Period: cgU64(100000),
			Cpus:   "0",
			Mems:   "0",
		}}))
	id, pid, cr := createNotStarted(t, bundle)
	cpuDir := v1CgroupDir(t, pid, "cpu")
	setDir := v1CgroupDir(t, pid, "cpuset")
	wantCgFile(t, cpuDir, "cpu.shares", "512")
	wantCgFile(t, cpuDir, "cpu.cfs_quota_us", "20000")
	wantCgFile(t, cpuDir, "cpu.cfs_period_us", "100000")
	wantCgFile(t, setDir, "cpuset.cpus", "0")
	wantCgFile(t, setDir, "cpuset.mems", "0")

	rt(t, "start", id).ok(t)
	out := waitOutput(t, cr.StdoutPath, "spinning", 10*time.Second)
	got := lines(out)
	if len(got) < 4 || strings.Join(strings.Fields(got[0]), " ") != "Cpus_allowed_list: 0" {
		t.Errorf("container's Cpus_allowed_list line = %q, want \"Cpus_allowed_list: 0\"", got)
	}
	wantOutputLines(t, out, []string{"512", "20000", "100000"}, nil)
	// A busy loop at 20% of one CPU is throttled in every 100 ms period.
	if !waitFor(3*time.Second, func() bool {
		n, _ := strconv.Atoi(cgKeyed(t, cpuDir, "cpu.stat", "nr_throttled"))
		return n >= 2
	}) {
		t.Errorf("busy loop under cfs_quota_us 20000 is not throttled: %s/cpu.stat = %q", cpuDir, cgFile(t, cpuDir, "cpu.stat"))
	}
	rt(t, "delete", "-f", id).ok(t)
}

// TestResourcesBlkioWeight checks blockIO.weight: blkio.bfq.weight (or
// blkio.weight with CFQ) on the host and in the container's view. The
// weight files exist in child cgroups only, so a container without limits
// shows first whether this kernel has them.
func TestResourcesBlkioWeight(t *testing.T) {
	skipInV2View(t, "blkio")
	if v1Mountpoint("blkio") == "" {
		t.Skip("no v1 blkio hierarchy is mounted")
	}
	probeID, probePid, _ := createNotStarted(t, newBundle(t))
	probeDir := v1CgroupDir(t, probePid, "blkio")
	file := ""
	for _, f := range []string{"blkio.bfq.weight", "blkio.weight"} {
		if fileExists(filepath.Join(probeDir, f)) {
			file = f
			break
		}
	}
	rt(t, "delete", "-f", probeID).ok(t)
	if file == "" {
		t.Skipf("a container's blkio cgroup (%s) has neither blkio.bfq.weight nor blkio.weight (kernel without BFQ/CFQ group scheduling): blkio weight cannot be set on this host", probeDir)
	}
	bundle := newBundle(t, withShellCmd("cat /sys/fs/cgroup/blkio/"+file),
		withLinuxResources(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: cgU16(300)}}))
	_, out := createCheckStart(t, bundle, func(pid int) {
		dir := v1CgroupDir(t, pid, "blkio")
		// blkio.weight holds "300"; blkio.bfq.weight "default 300".
		if got := strings.Fields(cgFile(t, dir, file)); len(got) == 0 || got[len(got)-1] != "300" {
			t.Errorf("%s/%s = %q, want weight 300", dir, file, got)
		}
	})
	if f := strings.Fields(out); len(f) == 0 || f[len(f)-1] != "300" {
		t.Errorf("container sees %s = %q, want weight 300", file, out)
	}
}

// TestResourcesBlkioLeafWeightWithoutKernelSupport checks that on a v1
// host whose kernel has no blkio.leaf_weight (only CFQ had it; it left
// Linux in 5.0) a blockIO.leafWeight is dropped with a warning and the
// container runs; on v2 leaf weights are ignored as runc ignores them.
func TestResourcesBlkioLeafWeightWithoutKernelSupport(t *testing.T) {
	v1 := !cgroupV2 && v1Mountpoint("blkio") != ""
	bundle := newBundle(t, withArgs("/bin/true"),
		withLinuxResources(&specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{LeafWeight: cgU16(300)}}))
	id := newID(t)
	r := rt(t, "create", "--bundle", bundle, id).ok(t)
	if v1 {
		dir := v1CgroupDir(t, getState(t, id).Pid, "blkio")
		if fileExists(filepath.Join(dir, "blkio.leaf_weight")) {
			t.Skipf("this kernel has %s/blkio.leaf_weight", dir)
		}
		if !strings.Contains(r.Stderr, "leaf weights ignored") {
			t.Errorf("create did not warn that the leaf weight was dropped: %s", r)
		}
	}
	rt(t, "start", id).ok(t)
	waitStatus(t, id, "stopped", 10*time.Second)
	rt(t, "delete", id).ok(t)
}

// resDevicesScript reports which of /dev/null, /dev/zero and /dev/full the
// container may use.
const resDevicesScript = `echo x > /dev/null && echo null-ok; head -c1 /dev/zero >/dev/null && echo zero-ok
if head -c1 /dev/full >/dev/null 2>/tmp/err; then echo full-ok; else echo full-denied; cat /tmp/err; fi`

// TestResourcesDevicesDenyRule checks device rules (v1 devices cgroup or
// the v2 eBPF filter): with deny-all the default devices still work, and a
// later rule denying c 1:7 takes /dev/full away. On v1 devices.list must
// not allow everything.
func TestResourcesDevicesDenyRule(t *testing.T) {
	denyAll := specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}
	denyFull := specs.LinuxDeviceCgroup{Allow: false, Type: "c", Major: cgI64(1), Minor: cgI64(7), Access: "rwm"}

	t.Run("deny-all+deny-full", func(t *testing.T) {
		bundle := newBundle(t, withShellCmd(resDevicesScript),
			withLinuxResources(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{denyAll, denyFull}}))
		_, out := createCheckStart(t, bundle, func(pid int) {
			if cgroupV2 {
				return // eBPF program: no file to read
			}
			list := lines(cgFile(t, v1CgroupDir(t, pid, "devices"), "devices.list"))
			if contains(list, "a *:* rwm") {
				t.Errorf("devices.list allows everything: %q", list)
			}
			if !contains(list, "c 1:3 rwm") {
				t.Errorf("devices.list lacks the default c 1:3 rwm (/dev/null): %q", list)
			}
			for _, l := range list {
				if f := strings.Fields(l); len(f) == 3 && f[0] == "c" && f[1] == "1:7" && strings.ContainsAny(f[2], "rw") {
					t.Errorf("devices.list still allows /dev/full: %q", l)
				}
			}
		})
		wantOutputLines(t, out, []string{"null-ok", "zero-ok", "full-denied"}, []string{"full-ok"})
		if !strings.Contains(out, "Operation not permitted") {
			t.Errorf("opening /dev/full did not fail with EPERM: %q", out)
		}
	})
	t.Run("deny-all", func(t *testing.T) {
		// Control: without the c 1:7 rule /dev/full is one of the defaults.
		out := runOK(t, withShellCmd(resDevicesScript),
			withLinuxResources(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{denyAll}}))
		wantOutputLines(t, out, []string{"null-ok", "zero-ok", "full-ok"}, []string{"full-denied"})
	})
}

// TestResourcesDevicesAppliedInListedOrder checks, on cgroup v1, that the
// config's device rules are applied in the listed order (runtime-spec:
// "The runtime MUST apply entries in the listed order"): the allowed
// entries of devices.list start with the config's own, in its order, and
// the default devices follow them. The container still sees the defaults.
func TestResourcesDevicesAppliedInListedOrder(t *testing.T) {
	if cgroupV2 {
		t.Skip("cgroup v2 has an eBPF program, no devices.list")
	}
	rules := []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: cgI64(10), Minor: cgI64(229), Access: "rwm"},
		{Allow: true, Type: "b", Major: cgI64(8), Minor: cgI64(20), Access: "rw"},
		{Allow: true, Type: "b", Major: cgI64(10), Minor: cgI64(200), Access: "r"},
	}
	bundle := newBundle(t, withShellCmd(resDevicesScript), withLinuxResources(&specs.LinuxResources{Devices: rules}))
	_, out := createCheckStart(t, bundle, func(pid int) {
		list := lines(cgFile(t, v1CgroupDir(t, pid, "devices"), "devices.list"))
		want := []string{"c 10:229 rwm", "b 8:20 rw", "b 10:200 r"}
		if len(list) < len(want)+1 || !reflect.DeepEqual(list[:len(want)], want) {
			t.Errorf("devices.list = %q, want it to start with the config's rules %q", list, want)
		}
		if !contains(list, "c 1:3 rwm") || !contains(list, "c *:* m") {
			t.Errorf("devices.list lacks the default devices: %q", list)
		}
	})
	wantOutputLines(t, out, []string{"null-ok", "zero-ok", "full-ok"}, []string{"full-denied"})
}

// TestResourcesHugetlbLimit checks hugepageLimits: on a hybrid host the v1
// side has no hugetlb hierarchy and the limit lands in the unified tree;
// in the v2 view it lands in the container's cgroup. Only the file value
// is checked: using huge pages would need pages reserved on the host.
func TestResourcesHugetlbLimit(t *testing.T) {
	if !hugepage2MBSupported() {
		t.Skip("the kernel has no 2 MB huge pages (/sys/kernel/mm/hugepages/hugepages-2048kB)")
	}
	limit := uint64(2 * cgMiB(2))
	bundle := newBundle(t, withLinuxResources(&specs.LinuxResources{
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: limit}},
	}))
	id, pid, _ := createNotStarted(t, bundle)
	rt(t, "start", id).ok(t)
	dir := unifiedCgroupDir(t, pid)
	wantCgFile(t, dir, "hugetlb.2MB.max", cgUtoa(limit))
	if !cgroupHasPid(dir, pid) {
		t.Errorf("%s/cgroup.procs does not list the init %d: the limit does not apply to it", dir, pid)
	}
	if !cgroupV2 && v1Mountpoint("hugetlb") != "" {
		wantCgFile(t, v1CgroupDir(t, pid, "hugetlb"), "hugetlb.2MB.limit_in_bytes", cgUtoa(limit))
	}
}

// TestResourcesNetClsClassID checks network.classID: net_cls.classid when
// the v1 net_cls controller is mounted; otherwise create must fail with an
// error naming net_cls and leave nothing behind.
func TestResourcesNetClsClassID(t *testing.T) {
	skipInV2View(t, "net_cls")
	classID := uint32(0x100001)
	bundle := newBundle(t, withShellCmd("cat /sys/fs/cgroup/net_cls/net_cls.classid"),
		withLinuxResources(&specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: cgU32(classID)}}))
	if v1Mountpoint("net_cls") != "" {
		_, out := createCheckStart(t, bundle, func(pid int) {
			wantCgFile(t, v1CgroupDir(t, pid, "net_cls"), "net_cls.classid", strconv.Itoa(int(classID)))
		})
		wantOutputLines(t, out, []string{strconv.Itoa(int(classID))}, nil)
		return
	}
	t.Logf("net_cls is not mounted on this host: create must fail")
	id := newID(t)
	rt(t, "create", "--bundle", bundle, id).failed(t, "net_cls")
	assertNothingLeft(t, id)
	rt(t, "state", id).failed(t, "container does not exist")
	if pids := bundleProcesses([]string{bundle}); len(pids) > 0 {
		t.Errorf("processes left after failed create: %v", pids)
	}
}

// TestResourcesUnified checks linux.resources.unified: on a v1/hybrid host
// create fails with an error about cgroup v2 and leaves nothing behind; in
// the v2 view a cgroup.* key (which needs no controller) is written.
func TestResourcesUnified(t *testing.T) {
	if !cgroupV2 {
		bundle := newBundle(t, withLinuxResources(&specs.LinuxResources{Unified: map[string]string{"memory.high": "67108864"}}))
		id := newID(t)
		rt(t, "create", "--bundle", bundle, id).failed(t, "cgroup v2")
		assertNothingLeft(t, id)
		return
	}
	bundle := newBundle(t, withLinuxResources(&specs.LinuxResources{Unified: map[string]string{"cgroup.max.descendants": "7"}}))
	_, pid, _ := createNotStarted(t, bundle)
	wantCgFile(t, unifiedCgroupDir(t, pid), "cgroup.max.descendants", "7")
}

// TestResourcesMissingV2ControllerFailsCreate checks, in the v2 view (only
// hugetlb is available), that a limit whose controller is missing fails
// create with an error naming the controller and leaves nothing behind.
func TestResourcesMissingV2ControllerFailsCreate(t *testing.T) {
	skipUnlessV2View(t)
	for _, c := range []struct {
		ctrl string
		res  *specs.LinuxResources
	}{
		{"memory", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: cgI64(cgMiB(32))}}},
		{"pids", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: cgI64(10)}}},
		{"cpu", &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: cgU64(512)}}},
	} {
		t.Run(c.ctrl, func(t *testing.T) {
			if ctrls, _ := os.ReadFile(filepath.Join(cgroupRoot, "cgroup.controllers")); contains(strings.Fields(string(ctrls)), c.ctrl) {
				t.Skipf("this cgroup v2 host has the %s controller", c.ctrl)
			}
			bundle := newBundle(t, withLinuxResources(c.res))
			id := newID(t)
			r := rt(t, "create", "--bundle", bundle, id).failed(t, "controller")
			// The name as a word: "cpu" must not be matched by "cpuset".
			if !regexp.MustCompile(`\b` + c.ctrl + `\b`).MatchString(r.Output()) {
				t.Errorf("create error does not name the %s controller: %s", c.ctrl, r)
			}
			assertNothingLeft(t, id)
			if pids := bundleProcesses([]string{bundle}); len(pids) > 0 {
				t.Errorf("processes left after failed create: %v", pids)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// update

// resAllocScript allocates about 20 MB in a subshell and reports its fate.
const resAllocScript = `(echo 1000 > /proc/self/oom_score_adj; x=$(head -c 10000000 /dev/zero | tr "\0" a); echo survived); echo "status $?"`

// resForkScript starts 8 background sleeps in a subshell and reports whether
// all forks worked; then it kills the sleeps with shell builtins only (no
// fork), also when the subshell died of a failed fork.
const resForkScript = `exec 2>&1; f=/tmp/forked.$$; : > $f
(i=0; while [ $i -lt 8 ]; do sleep 30 & echo $! >> $f; i=$((i+1)); done; echo forked-all)
while read p; do kill $p; done < $f`

// TestUpdateMemoryAndPids checks `update --memory 64m --pids-limit 20`:
// the files change and processes started by exec get the new limits.
func TestUpdateMemoryAndPids(t *testing.T) {
	skipInV2View(t, "memory and pids")
	bundle := newBundle(t, withArgs("/bin/sleep", "1000"), withLinuxResources(&specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: cgI64(cgMiB(16))},
		Pids:   &specs.LinuxPids{Limit: cgI64(6)},
	}))
	id, _ := createStarted(t, bundle)
	pid := getState(t, id).Pid
	memDir, pidsDir := v1CgroupDir(t, pid, "memory"), v1CgroupDir(t, pid, "pids")
	wantCgFile(t, memDir, "memory.limit_in_bytes", cgItoa(cgMiB(16)))
	wantCgFile(t, pidsDir, "pids.max", "6")

	before := rt(t, "exec", id, "/bin/sh", "-c", resAllocScript).Stdout
	wantOutputLines(t, before, []string{"status 137"}, []string{"survived"})
	if out := rt(t, "exec", id, "/bin/sh", "-c", resForkScript).Stdout; !strings.Contains(out, "can't fork") || strings.Contains(out, "forked-all") {
		t.Errorf("8 forks under pids.max 6 did not fail: %q", out)
	}

	rt(t, "update", "--memory", "64m", "--pids-limit", "20", id).ok(t)
	wantCgFile(t, memDir, "memory.limit_in_bytes", cgItoa(cgMiB(64)))
	wantCgFile(t, pidsDir, "pids.max", "20")

	after := rt(t, "exec", id, "/bin/sh", "-c", resAllocScript).Stdout
	wantOutputLines(t, after, []string{"survived", "status 0"}, nil)
	if out := rt(t, "exec", id, "/bin/sh", "-c", resForkScript).Stdout; !strings.Contains(out, "forked-all") {
		t.Errorf("8 forks under pids.max 20 failed: %q", out)
	}
	if st := getState(t, id); st.Status != "running" || st.Pid != pid {
		t.Errorf("after update: %+v, want running with pid %d", st, pid)
	}
	// -1 lifts the limit, as with runc.
	rt(t, "update", "--pids-limit", "-1", id).ok(t)
	wantCgFile(t, pidsDir, "pids.max", "max")
	wantCgFile(t, memDir, "memory.limit_in_bytes", cgItoa(cgMiB(64)))
}

// resTunScript reports whether the container may open /dev/net/tun (opening
// it needs no capability; using it would).
const resTunScript = `if : < /dev/net/tun; then echo tun-ok; else echo tun-denied; fi`

// TestUpdateResourcesFromStdin checks `update --resources -` with the JSON
// containerd and docker send: zeros for what does not change, and a
// deny-all device rule that must be ignored. The config allows one device
// beyond the defaults (/dev/net/tun), which a deny-all would take away.
func TestUpdateResourcesFromStdin(t *testing.T) {
	skipInV2View(t, "memory, cpu and pids")
	if !fileExists("/dev/net/tun") {
		t.Skip("the host has no /dev/net/tun")
	}
	bundle := newBundle(t, withLinuxResources(&specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
			{Allow: true, Type: "c", Major: cgI64(10), Minor: cgI64(200), Access: "rwm"},
		},
		Memory: &specs.LinuxMemory{Limit: cgI64(cgMiB(32))},
		CPU:    &specs.LinuxCPU{Shares: cgU64(512), Quota: cgI64(50000), Period: cgU64(100000)},
		Pids:   &specs.LinuxPids{Limit: cgI64(10)},
	}), func(s *specs.Spec) {
		mode := os.FileMode(0o666)
		s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{
			Path: "/dev/net/tun", Type: "c", Major: 10, Minor: 200, FileMode: &mode, UID: cgU32(0), GID: cgU32(0)})
	})
	id, _ := createStarted(t, bundle)
	pid := getState(t, id).Pid
	memDir, cpuDir, pidsDir, devDir := v1CgroupDir(t, pid, "memory"), v1CgroupDir(t, pid, "cpu"),
		v1CgroupDir(t, pid, "pids"), v1CgroupDir(t, pid, "devices")
	devicesBefore := cgFile(t, devDir, "devices.list")
	if !contains(lines(devicesBefore), "c 10:200 rwm") {
		t.Errorf("devices.list lacks the config's c 10:200 rwm:\n%s", devicesBefore)
	}
	wantOutputLines(t, rt(t, "exec", id, "/bin/sh", "-c", resTunScript).Stdout, []string{"tun-ok"}, nil)

	in := filepath.Join(hostDir(t, map[string]string{"resources.json": `{
	"devices": [{"allow": false, "access": "rwm"}],
	"memory": {"limit": 50331648, "reservation": 0, "swap": 0, "kernel": 0, "kernelTCP": 0},
	"cpu": {"shares": 0, "quota": 0, "period": 0, "realtimeRuntime": 0, "realtimePeriod": 0, "cpus": "", "mems": ""},
	"pids": {"limit": 0},
	"blockIO": {"weight": 0}
}`}), "resources.json")
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rtWith(t, rtOpts{Stdin: f}, "update", "--resources", "-", id).ok(t)

	wantCgFile(t, memDir, "memory.limit_in_bytes", "50331648")
	wantCgFile(t, cpuDir, "cpu.shares", "512")
	wantCgFile(t, cpuDir, "cpu.cfs_quota_us", "50000")
	wantCgFile(t, cpuDir, "cpu.cfs_period_us", "100000")
	wantCgFile(t, pidsDir, "pids.max", "10")
	if after := cgFile(t, devDir, "devices.list"); after != devicesBefore {
		t.Errorf("update applied device rules: devices.list was\n%s\nnow\n%s", devicesBefore, after)
	}
	out := rt(t, "exec", id, "/bin/sh", "-c", resDevicesScript+"\n"+resTunScript).Stdout
	wantOutputLines(t, out, []string{"null-ok", "zero-ok", "full-ok", "tun-ok"}, nil)
}

// TestUpdateFailureKeepsOldLimit checks that an update the kernel refuses
// (a memory limit below the current usage) exits non-zero, leaves the old
// limit in place and the container running, and is not remembered.
func TestUpdateFailureKeepsOldLimit(t *testing.T) {
	skipInV2View(t, "memory")
	bundle := newBundle(t,
		withShellCmd(`x=$(head -c 4000000 /dev/zero | tr "\0" a); echo holding; exec sleep 1000`),
		withLinuxResources(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: cgI64(cgMiB(32))}}))
	id, cr := createStarted(t, bundle)
	pid := getState(t, id).Pid
	memDir, pidsDir := v1CgroupDir(t, pid, "memory"), v1CgroupDir(t, pid, "pids")
	waitOutput(t, cr.StdoutPath, "holding", 10*time.Second)
	usage := cgFile(t, memDir, "memory.usage_in_bytes")

	r := rt(t, "update", "--memory", "4k", id)
	if r.Code == 0 {
		t.Errorf("update --memory 4k with %s bytes in use succeeded: %s", usage, r)
	}
	wantCgFile(t, memDir, "memory.limit_in_bytes", cgItoa(cgMiB(32)))
	if st := getState(t, id); st.Status != "running" || !pidAlive(pid) {
		t.Errorf("container after the failed update: %+v", st)
	}
	// A later update of something else must not bring the refused value back.
	rt(t, "update", "--pids-limit", "30", id).ok(t)
	wantCgFile(t, pidsDir, "pids.max", "30")
	wantCgFile(t, memDir, "memory.limit_in_bytes", cgItoa(cgMiB(32)))
}

// TestUpdateErrors checks update on a missing and a stopped container and
// with invalid values.
func TestUpdateErrors(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		rt(t, "update", "--pids-limit", "10", newID(t)).failed(t, "container does not exist")
	})
	t.Run("stopped", func(t *testing.T) {
		bundle := newBundle(t, withProbe("exit", "0"))
		id, _ := createStarted(t, bundle)
		waitStatus(t, id, "stopped", 10*time.Second)
		rt(t, "update", "--pids-limit", "10", id).failed(t, "container not running")
		rt(t, "update", "--memory", "64m", id).failed(t, "container not running")
	})
	t.Run("invalid", func(t *testing.T) {
		bundle := newBundle(t)
		id, _ := createStarted(t, bundle)
		pid := getState(t, id).Pid
		var memDir, before string
		if !cgroupV2 {
			memDir = v1CgroupDir(t, pid, "memory")
			before = cgFile(t, memDir, "memory.limit_in_bytes")
		}
		rt(t, "update", "--memory", "abc", id).failed(t, "memory")
		rt(t, "update", "--pids-limit", "abc", id).failed(t)
		rt(t, "update", "--cpu-share", "-5", id).failed(t)
		rt(t, "update", "--resources", filepath.Join(hostDir(t, nil), "missing.json"), id).failed(t)
		bad := filepath.Join(hostDir(t, map[string]string{"bad.json": `{"memory": {"limit": "lots"}}`}), "bad.json")
		rt(t, "update", "--resources", bad, id).failed(t)
		if memDir != "" {
			wantCgFile(t, memDir, "memory.limit_in_bytes", before)
		}
		if st := getState(t, id); st.Status != "running" {
			t.Errorf("container after invalid updates: %+v", st)
		}
	})
}

// ---------------------------------------------------------------------------
// pause and resume

// freezerState returns what the host's freezer says of the container:
// freezer.state (v1) or cgroup.freeze (v2).
func freezerState(t *testing.T, pid int) (file, value string) {
	t.Helper()
	if cgroupV2 {
		dir := unifiedCgroupDir(t, pid)
		return filepath.Join(dir, "cgroup.freeze"), cgFile(t, dir, "cgroup.freeze")
	}
	dir := v1CgroupDir(t, pid, "freezer")
	return filepath.Join(dir, "freezer.state"), cgFile(t, dir, "freezer.state")
}

// listStatusOf returns the STATUS column of `list` for id.
func listStatusOf(t *testing.T, id string) string {
	t.Helper()
	r := rt(t, "list").ok(t)
	for _, l := range lines(r.Stdout) {
		if f := strings.Fields(l); len(f) >= 3 && f[0] == id {
			return f[2]
		}
	}
	t.Fatalf("list does not show %s: %s", id, r)
	return ""
}

// startCounterContainer starts a container running pauseCounterScript (plus a
// background sleep) and waits until the counter moves.
func startCounterContainer(t *testing.T) (id string, pid int, counter string) {
	t.Helper()
	bundle := newBundle(t, withShellCmd("sleep 1000 & "+pauseCounterScript))
	id, _ = createStarted(t, bundle)
	counter = filepath.Join(rootfsOf(bundle), "tmp", "counter")
	waitCounterAdvances(t, counter, 1, 10*time.Second)
	return id, getState(t, id).Pid, counter
}

// TestPauseResume checks pause and resume: state and list, the freezer
// file on the host, and that a process stops and resumes making progress.
func TestPauseResume(t *testing.T) {
	id, pid, counter := startCounterContainer(t)
	running := "THAWED"
	frozen := "FROZEN"
	if cgroupV2 {
		running, frozen = "0", "1"
	}

	rt(t, "pause", id).ok(t)
	if st := getState(t, id); st.Status != "paused" {
		t.Errorf("state after pause = %q, want paused", st.Status)
	}
	if s := listStatusOf(t, id); s != "paused" {
		t.Errorf("list shows %q after pause, want paused", s)
	}
	if file, v := freezerState(t, pid); v != frozen {
		t.Errorf("%s = %q after pause, want %q", file, v, frozen)
	}
	// Give a write in flight time to land, then watch for 300 ms (6 ticks).
	time.Sleep(60 * time.Millisecond)
	n := readCounterFile(counter)
	time.Sleep(300 * time.Millisecond)
	if m := readCounterFile(counter); m != n {
		t.Errorf("counter moved from %d to %d while paused", n, m)
	}

	rt(t, "resume", id).ok(t)
	if st := getState(t, id); st.Status != "running" {
		t.Errorf("state after resume = %q, want running", st.Status)
	}
	if s := listStatusOf(t, id); s != "running" {
		t.Errorf("list shows %q after resume, want running", s)
	}
	if file, v := freezerState(t, pid); v != running {
		t.Errorf("%s = %q after resume, want %q", file, v, running)
	}
	waitCounterAdvances(t, counter, readCounterFile(counter), 5*time.Second)
}

// TestPauseResumeErrors checks resume of a running container, pause of a
// paused one and both on a stopped container.
func TestPauseResumeErrors(t *testing.T) {
	id, _ := createStarted(t, newBundle(t))
	rt(t, "resume", id).failed(t, "container not paused")
	rt(t, "pause", id).ok(t)
	rt(t, "pause", id).failed(t)
	if st := getState(t, id); st.Status != "paused" {
		t.Errorf("state after a second pause = %q, want paused", st.Status)
	}
	rt(t, "resume", id).ok(t)

	stopped, _ := createStarted(t, newBundle(t, withProbe("exit", "0")))
	waitStatus(t, stopped, "stopped", 10*time.Second)
	rt(t, "pause", stopped).failed(t)
	rt(t, "resume", stopped).failed(t)
	if st := getState(t, stopped); st.Status != "stopped" {
		t.Errorf("stopped container is %q after pause/resume", st.Status)
	}
	rt(t, "pause", newID(t)).failed(t, "container does not exist")
}

// TestPausedContainerKillDelete checks that a paused container can be
// killed with SIGKILL and deleted, or deleted with -f, leaving nothing.
func TestPausedContainerKillDelete(t *testing.T) {
	for _, how := range []string{"kill-9+delete-f", "delete-f"} {
		t.Run(how, func(t *testing.T) {
			id, pid, _ := startCounterContainer(t)
			pids := psJSONPids(t, id)
			rt(t, "pause", id).ok(t)
			if how == "kill-9+delete-f" {
				rt(t, "kill", id, "9").ok(t)
				waitStatus(t, id, "stopped", 5*time.Second)
			}
			rt(t, "delete", "-f", id).ok(t)
			for _, p := range append(pids, pid) {
				if !waitFor(5*time.Second, func() bool { return !pidAlive(p) }) {
					t.Errorf("process %d of the paused container survives", p)
				}
			}
			rt(t, "state", id).failed(t, "container does not exist")
			if dirs := cgroupDirsMatching([]string{id}); len(dirs) > 0 {
				t.Errorf("cgroup dirs remain: %v", dirs)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// ps

// psJSONPids runs `ps -f json` and decodes the pid list.
func psJSONPids(t *testing.T, id string) []int {
	t.Helper()
	r := rt(t, "ps", "-f", "json", id).ok(t)
	var pids []int
	if err := json.Unmarshal([]byte(r.Stdout), &pids); err != nil {
		t.Fatalf("ps -f json output is not a JSON array of pids: %v\n%s", err, r)
	}
	return pids
}

func pidListHas(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// TestPs checks `ps` in its json and table forms and with ps options.
func TestPs(t *testing.T) {
	bundle := newBundle(t, withShellCmd("sleep 1000 & exec /bin/probe sleep"))
	id, _ := createStarted(t, bundle)
	pid := getState(t, id).Pid
	var pids []int
	// The background sleep is a forked shell until it execs sleep.
	isSleep := func(p int) bool {
		comm, _ := os.ReadFile("/proc/" + cgPidStr(p) + "/comm")
		return strings.TrimSpace(string(comm)) == "sleep"
	}
	// And the init is the shell until it execs the probe.
	initIsProbe := func() bool {
		comm, _ := os.ReadFile("/proc/" + cgPidStr(pid) + "/comm")
		return strings.TrimSpace(string(comm)) == "probe"
	}
	if !waitFor(5*time.Second, func() bool {
		pids = psJSONPids(t, id)
		return len(pids) == 2 && (isSleep(pids[0]) || isSleep(pids[1])) && initIsProbe()
	}) {
		t.Fatalf("ps -f json = %v, want the init (the probe) and its sleep child", pids)
	}
	if !pidListHas(pids, pid) {
		t.Errorf("ps -f json = %v lacks the init %d", pids, pid)
	}
	for _, p := range pids {
		if p == pid {
			continue
		}
		comm, _ := os.ReadFile("/proc/" + cgPidStr(p) + "/comm")
		if strings.TrimSpace(string(comm)) != "sleep" {
			t.Errorf("ps -f json lists %d (%q), want the container's sleep", p, comm)
		}
	}

	checkTable := func(args []string, wantHeader []string, wantInit []string) {
		t.Helper()
		r := rt(t, append([]string{"ps", id}, args...)...).ok(t)
		ls := lines(r.Stdout)
		if len(ls) == 0 {
			t.Fatalf("ps printed nothing: %s", r)
		}
		header := strings.Fields(ls[0])
		col := -1
		for i, h := range header {
			if h == "PID" {
				col = i
			}
		}
		for _, h := range wantHeader {
			if !contains(header, h) {
				t.Errorf("ps %v header %q lacks %s", args, ls[0], h)
			}
		}
		if col < 0 {
			t.Fatalf("ps %v header %q has no PID column", args, ls[0])
		}
		found := map[int]bool{}
		for _, l := range ls[1:] {
			f := strings.Fields(l)
			if len(f) <= col {
				t.Errorf("short ps line %q", l)
				continue
			}
			p, err := strconv.Atoi(f[col])
			if err != nil || !pidListHas(pids, p) {
				t.Errorf("ps %v lists a process outside the container: %q", args, l)
			}
			found[p] = true
			if p == pid && wantInit != nil && strings.Join(f, " ") != strings.Join(wantInit, " ") {
				t.Errorf("ps %v init line = %q, want %q", args, l, strings.Join(wantInit, " "))
			}
		}
		if !found[pid] {
			t.Errorf("ps %v has no line for the init %d:\n%s", args, pid, r.Stdout)
		}
	}
	checkTable(nil, []string{"PID", "CMD"}, nil)
	checkTable([]string{"-o", "pid,comm"}, []string{"PID", "COMMAND"}, []string{cgPidStr(pid), "probe"})
	checkTable([]string{"-o", "pid,ppid,args"}, []string{"PID", "PPID", "COMMAND"}, nil)
}

// TestPsStoppedAndMissing checks that ps fails on a stopped and on a
// missing container.
func TestPsStoppedAndMissing(t *testing.T) {
	id, _ := createStarted(t, newBundle(t, withProbe("exit", "0")))
	waitStatus(t, id, "stopped", 10*time.Second)
	// A stopped container has no processes: an empty list, exit 0 (runc;
	// TestParityPsOfStoppedContainer); a missing one is an error.
	rt(t, "ps", id).ok(t)
	rt(t, "ps", "-f", "json", id).ok(t)
	rt(t, "ps", newID(t)).failed(t, "container does not exist")
}

// ---------------------------------------------------------------------------
// cgroup.kill

// TestKillAllAndDeleteUseCgroupKill checks that `kill --all ID KILL` and
// `delete -f` of a container with several processes kill them all through
// the unified cgroup's cgroup.kill (a write the kernel reports to inotify
// as IN_MODIFY) and that delete removes every cgroup directory.
func TestKillAllAndDeleteUseCgroupKill(t *testing.T) {
	for _, how := range []string{"kill-all", "delete-f"} {
		t.Run(how, func(t *testing.T) {
			bundle := newBundle(t, withShellCmd("sleep 1000 & sleep 1000 & exec /bin/probe sleep"))
			id, _ := createStarted(t, bundle)
			pid := getState(t, id).Pid
			var pids []int
			if !waitFor(5*time.Second, func() bool { pids = psJSONPids(t, id); return len(pids) == 3 }) {
				t.Fatalf("ps -f json = %v, want the init and two sleeps", pids)
			}
			uni := unifiedCgroupDir(t, pid)
			killFile := filepath.Join(uni, "cgroup.kill")
			if !fileExists(killFile) {
				t.Skipf("%s does not exist (kernel before 5.14)", killFile)
			}
			if !runtimeHasKernelFeature(t, "cgroup-kill") {
				t.Skip("the runtime does without cgroup.kill (berth-floor): TestDeleteForceKillsEveryProcess covers its fallback")
			}
			dirs := []string{uni}
			if !cgroupV2 {
				for _, ctrl := range []string{"memory", "pids", "freezer", "devices", "cpu"} {
					dirs = append(dirs, v1CgroupDir(t, pid, ctrl))
				}
			}
			w := watchFileModify(t, killFile)

			if how == "kill-all" {
				rt(t, "kill", "--all", id, "KILL").ok(t)
				waitStatus(t, id, "stopped", 5*time.Second)
			} else {
				rt(t, "delete", "-f", id).ok(t)
			}
			for _, p := range pids {
				if !waitFor(5*time.Second, func() bool { return !pidAlive(p) }) {
					t.Errorf("process %d survives %s", p, how)
				}
			}
			if ok, err := w.modified(); err != nil {
				t.Error(err)
			} else if !ok {
				t.Errorf("%s did not write %s", how, killFile)
			}
			w.close()
			if how == "kill-all" {
				rt(t, "delete", id).ok(t)
			}
			for _, d := range dirs {
				if fileExists(d) {
					t.Errorf("cgroup %s remains after delete", d)
				}
			}
		})
	}
}

// TestResourcesKernelTCPLimitAndUpdate checks memory.kernelTCP on v1:
// memory.kmem.tcp.limit_in_bytes on the host at create and after
// `update --kernel-memory-tcp`; memory.kernel, which current kernels ignore,
// does not fail the create. In the v2 view, which has no TCP buffer limit,
// both are warned about and the container still runs.
func TestResourcesKernelTCPLimitAndUpdate(t *testing.T) {
	bundle := newBundle(t, withArgs("/bin/sleep", "1000"), withLinuxResources(&specs.LinuxResources{
		Memory: &specs.LinuxMemory{KernelTCP: cgI64(cgMiB(16)), Kernel: cgI64(cgMiB(64))},
	}))
	if cgroupV2 {
		id, res := createStarted(t, bundle)
		if !strings.Contains(res.Stderr, "memory.kernelTCP ignored") || !strings.Contains(res.Stderr, "memory.kernel ignored") {
			t.Errorf("create in the v2 view did not warn about kernelTCP and kernel: %s", res)
		}
		if st := getState(t, id); st.Status != "running" {
			t.Errorf("state %+v, want running", st)
		}
		return
	}
	skipInV2View(t, "memory")
	id, _ := createStarted(t, bundle)
	memDir := v1CgroupDir(t, getState(t, id).Pid, "memory")
	wantCgFile(t, memDir, "memory.kmem.tcp.limit_in_bytes", cgItoa(cgMiB(16)))
	rt(t, "update", "--kernel-memory-tcp", "32m", id).ok(t)
	wantCgFile(t, memDir, "memory.kmem.tcp.limit_in_bytes", cgItoa(cgMiB(32)))
	// A later update of something else keeps it.
	rt(t, "update", "--memory", "128m", id).ok(t)
	wantCgFile(t, memDir, "memory.kmem.tcp.limit_in_bytes", cgItoa(cgMiB(32)))
}
