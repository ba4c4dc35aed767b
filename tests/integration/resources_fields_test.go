package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The linux.resources fields the older resource tests do not read back:
// CPU burst, idle and real-time, block I/O per-device limits, the limits
// only cgroup v1 has (refused on v2), useHierarchy and checkBeforeUpdate.
// The spec-field table (libcontainer/specfields) names these tests.

// TestResourcesCPUBurstIdleRealtime checks cpu.burst and cpu.idle in both
// cgroup versions and the real-time limits on v1: each is the value of the
// container's cgroup file while it is created.
func TestResourcesCPUBurstIdleRealtime(t *testing.T) {
	burst, idle := uint64(5000), int64(1)
	quota := &specs.LinuxCPU{Quota: cgI64(20000), Period: cgU64(100000), Burst: &burst}
	if cgroupV2 {
		requireV2Controllers(t, "cpu")
		_, pid, _ := createNotStarted(t, newBundle(t, withLinuxResources(&specs.LinuxResources{CPU: quota})))
		dir := unifiedCgroupDir(t, pid)
		wantCgFile(t, dir, "cpu.max.burst", "5000")
		_, pid, _ = createNotStarted(t, newBundle(t, withLinuxResources(&specs.LinuxResources{CPU: &specs.LinuxCPU{Idle: &idle}})))
		wantCgFile(t, unifiedCgroupDir(t, pid), "cpu.idle", "1")
		return
	}
	mnt := v1Mountpoint("cpu")
	if mnt == "" {
		t.Skip("no v1 cpu hierarchy is mounted")
	}
	for _, c := range []struct {
		file, want string
		cpu        *specs.LinuxCPU
	}{
		{"cpu.cfs_burst_us", "5000", quota},
		{"cpu.idle", "1", &specs.LinuxCPU{Idle: &idle}},
		{"cpu.rt_runtime_us", "1000", &specs.LinuxCPU{RealtimePeriod: cgU64(100000), RealtimeRuntime: cgI64(1000)}},
	} {
		t.Run(c.file, func(t *testing.T) {
			if !fileExists(filepath.Join(mnt, c.file)) {
				t.Skipf("this kernel has no %s", c.file)
			}
			bundle := newBundle(t, withLinuxResources(&specs.LinuxResources{CPU: c.cpu}))
			if c.cpu.RealtimeRuntime != nil && parentRTBudget(t) < *c.cpu.RealtimeRuntime {
				// The kernel gives a child only what its parent has: where
				// the suite's own cgroup has no real-time budget (a nested
				// host), create must fail naming the file.
				id := newID(t)
				rt(t, "create", "--bundle", bundle, id).failed(t, "cpu.rt_runtime_us")
				assertCreateLeftNothing(t, id)
				return
			}
			_, pid, _ := createNotStarted(t, bundle)
			wantCgFile(t, v1CgroupDir(t, pid, "cpu"), c.file, c.want)
		})
	}
}

// parentRTBudget is cpu.rt_runtime_us of the v1 cpu cgroup the suite runs
// in, under which its containers' cgroups are made.
func parentRTBudget(t *testing.T) int64 {
	t.Helper()
	dir := v1CgroupDir(t, os.Getpid(), "cpu")
	n, err := strconv.ParseInt(cgFile(t, dir, "cpu.rt_runtime_us"), 10, 64)
	if err != nil {
		t.Fatalf("%s/cpu.rt_runtime_us: %v", dir, err)
	}
	return n
}

// blockDevice returns the major:minor of a disk of this machine (not a
// loop or RAM disk), for per-device limits.
func blockDevice(t *testing.T) (int64, int64) {
	t.Helper()
	ents, _ := os.ReadDir("/sys/block")
	names := []string{}
	for _, e := range ents {
		if n := e.Name(); !strings.HasPrefix(n, "loop") && !strings.HasPrefix(n, "ram") && !strings.HasPrefix(n, "zram") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		t.Skip("no disk in /sys/block")
	}
	b, err := os.ReadFile(filepath.Join("/sys/block", names[0], "dev"))
	if err != nil {
		t.Fatal(err)
	}
	maj, min, _ := strings.Cut(strings.TrimSpace(string(b)), ":")
	ma, _ := strconv.ParseInt(maj, 10, 64)
	mi, _ := strconv.ParseInt(min, 10, 64)
	return ma, mi
}

// TestResourcesBlockIOThrottleDevices checks the four throttle lists:
// blkio.throttle.* on v1, io.max on v2, for a disk of this machine.
func TestResourcesBlockIOThrottleDevices(t *testing.T) {
	maj, min := blockDevice(t)
	dev := func(rate uint64) []specs.LinuxThrottleDevice {
		d := specs.LinuxThrottleDevice{Rate: rate}
		d.Major, d.Minor = maj, min
		return []specs.LinuxThrottleDevice{d}
	}
	res := &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
		ThrottleReadBpsDevice: dev(1 << 20), ThrottleWriteBpsDevice: dev(2 << 20),
		ThrottleReadIOPSDevice: dev(300), ThrottleWriteIOPSDevice: dev(400),
	}}
	id := strconv.FormatInt(maj, 10) + ":" + strconv.FormatInt(min, 10)
	if cgroupV2 {
		requireV2Controllers(t, "io")
		_, pid, _ := createNotStarted(t, newBundle(t, withLinuxResources(res)))
		got := cgFile(t, unifiedCgroupDir(t, pid), "io.max")
		want := id + " rbps=1048576 wbps=2097152 riops=300 wiops=400"
		if !contains(lines(got), want) {
			t.Errorf("io.max = %q, want the line %q", got, want)
		}
		return
	}
	skipInV2View(t, "blkio")
	if v1Mountpoint("blkio") == "" {
		t.Skip("no v1 blkio hierarchy is mounted")
	}
	_, pid, _ := createNotStarted(t, newBundle(t, withLinuxResources(res)))
	dir := v1CgroupDir(t, pid, "blkio")
	for file, want := range map[string]string{
		"blkio.throttle.read_bps_device": "1048576", "blkio.throttle.write_bps_device": "2097152",
		"blkio.throttle.read_iops_device": "300", "blkio.throttle.write_iops_device": "400",
	} {
		if got := cgFile(t, dir, file); !contains(lines(got), id+" "+want) {
			t.Errorf("%s = %q, want the line %q", file, got, id+" "+want)
		}
	}
}

// TestResourcesV1OnlyLimitsRefusedOnV2: swappiness, the OOM-killer switch,
// real-time CPU time and the network classifiers exist in cgroup v1 only;
// on v2 create fails naming the field and leaves nothing behind, where the
// cgroup library alone would skip them without a word.
func TestResourcesV1OnlyLimitsRefusedOnV2(t *testing.T) {
	skipUnlessV2View(t)
	for _, c := range []struct {
		field string
		res   *specs.LinuxResources
	}{
		{"memory.swappiness", &specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: cgU64(10)}}},
		{"memory.disableOOMKiller", &specs.LinuxResources{Memory: &specs.LinuxMemory{DisableOOMKiller: cgBool(true)}}},
		{"cpu.realtimeRuntime", &specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: cgI64(1000), RealtimePeriod: cgU64(100000)}}},
		{"network.classID", &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: cgU32(0x100001)}}},
		{"network.priorities", &specs.LinuxResources{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "lo", Priority: 5}}}}},
	} {
		t.Run(c.field, func(t *testing.T) {
			id := newID(t)
			r := rt(t, "create", "--bundle", newBundle(t, withLinuxResources(c.res)), id).failed(t, "linux.resources."+c.field, "cgroup v2")
			if n := len(lines(r.Stderr)); n != 1 {
				t.Errorf("%d error lines, want one: %s", n, r)
			}
			assertCreateLeftNothing(t, id)
		})
	}
}

// TestResourcesUseHierarchy: true is what every kernel does and is
// accepted; false cannot be had and is refused naming the field.
func TestResourcesUseHierarchy(t *testing.T) {
	mem := func(v bool) func(*specs.Spec) {
		return withLinuxResources(&specs.LinuxResources{Memory: &specs.LinuxMemory{UseHierarchy: &v}})
	}
	id, _ := createStarted(t, newBundle(t, withArgs("/bin/true"), mem(true)))
	rt(t, "delete", "-f", id).ok(t)
	id = newID(t)
	rt(t, "create", "--bundle", newBundle(t, mem(false)), id).failed(t, "useHierarchy")
	assertCreateLeftNothing(t, id)
}

// TestUpdateCheckBeforeUpdateRefusesLimitBelowUsage: on cgroup v2 (v1's
// kernel refuses such a limit itself), memory.checkBeforeUpdate makes an
// update below the memory in use fail and keep the old limit.
func TestUpdateCheckBeforeUpdateRefusesLimitBelowUsage(t *testing.T) {
	requireV2Controllers(t, "memory")
	id, _ := createStarted(t, newBundle(t,
		withShellCmd(`x=$(head -c 20000000 /dev/zero | tr "\0" a); echo grown; sleep 1000`),
		withLinuxResources(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: cgI64(cgMiB(256))}})))
	defer rt(t, "delete", "-f", id)
	dir := unifiedCgroupDir(t, getState(t, id).Pid)
	if !waitFor(60*time.Second, func() bool {
		n, _ := strconv.ParseInt(strings.TrimSpace(cgFile(t, dir, "memory.current")), 10, 64)
		return n > cgMiB(16)
	}) {
		t.Fatalf("the container's memory.current never passed 16 MiB: %s", cgFile(t, dir, "memory.current"))
	}
	p := filepath.Join(newDir(t, "upd"), "r.json")
	if err := os.WriteFile(p, []byte(`{"memory":{"limit":8388608,"checkBeforeUpdate":true}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	rt(t, "update", "--resources", p, id).failed(t, "memory")
	wantCgFile(t, dir, "memory.max", cgItoa(cgMiB(256)))
}

// TestResourcesRdmaNamesWhatIsMissing: rdma limits go to the rdma
// controller (rdma.max); where the controller or the device is missing
// (every machine these tests run on has no RDMA device), create fails
// naming rdma and leaves nothing behind.
func TestResourcesRdmaNamesWhatIsMissing(t *testing.T) {
	const dev = "berth_nodev0"
	if fileExists(filepath.Join("/sys/class/infiniband", dev)) {
		t.Skipf("this host has an RDMA device %s", dev)
	}
	hca := uint32(2)
	id := newID(t)
	res := &specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{dev: {HcaHandles: &hca}}}
	rt(t, "create", "--bundle", newBundle(t, withLinuxResources(res)), id).failed(t, "rdma")
	assertCreateLeftNothing(t, id)
}

// TestResourcesBlockIOWeightDevice: a per-device weight needs the BFQ
// scheduler on that device. Without it create fails naming the weight;
// with the disk switched to BFQ for the test (and back after), the weight
// is in blkio.bfq.weight_device (v1) or io.bfq.weight (v2).
func TestResourcesBlockIOWeightDevice(t *testing.T) {
	maj, min := blockDevice(t)
	id := strconv.FormatInt(maj, 10) + ":" + strconv.FormatInt(min, 10)
	sched := filepath.Join("/sys/dev/block", id, "queue/scheduler")
	b, err := os.ReadFile(sched)
	if err == nil && !strings.Contains(string(b), "bfq") {
		// Debian builds BFQ as a module; load it for the test.
		if exec.Command("modprobe", "bfq").Run() == nil {
			t.Cleanup(func() { exec.Command("rmmod", "bfq").Run() })
			b, err = os.ReadFile(sched)
		}
	}
	if err != nil || !strings.Contains(string(b), "bfq") {
		t.Skipf("the disk %s has no BFQ scheduler to choose (%s: %q)", id, sched, b)
	}
	var file, ctrl string
	switch {
	case cgroupV2:
		requireV2Controllers(t, "io")
		file = "io.bfq.weight"
	case v1Mountpoint("blkio") != "":
		skipInV2View(t, "blkio")
		file, ctrl = "blkio.bfq.weight_device", "blkio"
	default:
		t.Skip("no blkio hierarchy is mounted")
	}
	wd := specs.LinuxWeightDevice{Weight: cgU16(500)}
	wd.Major, wd.Minor = maj, min
	res := &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{wd}}}
	current := regexp.MustCompile(`\[(\S+)\]`).FindStringSubmatch(string(b))
	if len(current) == 2 && current[1] != "bfq" {
		cid := newID(t)
		rt(t, "create", "--bundle", newBundle(t, withLinuxResources(res)), cid).failed(t, "weight")
		assertCreateLeftNothing(t, cid)
	}
	if err := os.WriteFile(sched, []byte("bfq"), 0o644); err != nil {
		t.Skipf("cannot switch %s to bfq: %v", id, err)
	}
	if len(current) == 2 {
		t.Cleanup(func() { os.WriteFile(sched, []byte(current[1]), 0o644) })
	}
	_, pid, _ := createNotStarted(t, newBundle(t, withLinuxResources(res)))
	dir := ""
	if ctrl == "" {
		dir = unifiedCgroupDir(t, pid)
	} else {
		dir = v1CgroupDir(t, pid, ctrl)
	}
	if got := cgFile(t, dir, file); !contains(lines(got), id+" 500") {
		t.Errorf("%s = %q, want the line %q", file, got, id+" 500")
	}
}

// TestUpdateCPUIdleAndRdtSchemas: update --cpu-idle reaches cpu.idle; the
// Intel RDT schemas fail naming resctrl where it is not mounted (every
// host these tests run on), changing nothing.
func TestUpdateCPUIdleAndRdtSchemas(t *testing.T) {
	id, _ := createStarted(t, newBundle(t, withArgs("/bin/sleep", "1000")))
	defer rt(t, "delete", "-f", id)
	for _, flag := range []string{"--l3-cache-schema=L3:0=f", "--mem-bw-schema=MB:0=50"} {
		if !fileExists("/sys/fs/resctrl/schemata") {
			rt(t, "update", flag, id).failed(t, "resctrl")
		}
	}
	rt(t, "update", "--cpu-idle", "2", id).failed(t, "--cpu-idle")
	pid := getState(t, id).Pid
	switch {
	case cgroupV2:
		dir := unifiedCgroupDir(t, pid)
		if !fileExists(filepath.Join(dir, "cpu.idle")) {
			t.Skip("no cpu controller in the container's v2 cgroup")
		}
		rt(t, "update", "--cpu-idle", "1", id).ok(t)
		wantCgFile(t, dir, "cpu.idle", "1")
	case fileExists(filepath.Join(v1Mountpoint("cpu"), "cpu.idle")):
		rt(t, "update", "--cpu-idle", "1", id).ok(t)
		wantCgFile(t, v1CgroupDir(t, pid, "cpu"), "cpu.idle", "1")
	default:
		t.Skip("this kernel has no cpu.idle")
	}
}
