package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/sys/userns"
	cg "github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/devices/config"
	"github.com/sirupsen/logrus"
	// Registers the device rule engines (v1 emulator, v2 eBPF filter);
	// without it the library refuses device rules.
	_ "github.com/opencontainers/cgroups/devices"
	"github.com/opencontainers/cgroups/fs"
	"github.com/opencontainers/cgroups/fs2"
)

// library returns opencontainers/cgroups' manager for these paths: fs2 on
// a pure v2 host, fs (v1) otherwise, as runc does on hybrid hosts.
func (m *Manager) library(r *cg.Resources) (cg.Manager, error) {
	if r == nil {
		r = &cg.Resources{}
	}
	c := &cg.Cgroup{Resources: r}
	if m.Mode == Unified {
		return fs2.NewManager(c, m.Paths[UnifiedKey])
	}
	paths := map[string]string{}
	for key, p := range m.Paths {
		if key == UnifiedKey || key == SystemdKey {
			continue // no controller to set, freeze or read
		}
		for _, sub := range strings.Split(key, ",") {
			paths[sub] = p
		}
	}
	return fs.NewManager(c, paths)
}

// Set writes the resource limits. Controllers the host lacks make it fail
// with an error naming the controller and the cgroup.
func (m *Manager) Set(res *Resources) error {
	if m.Unit != nil {
		return m.setSystemd(res)
	}
	r := &res.Resources
	if m.Mode != Unified && len(r.Unified) > 0 {
		return fmt.Errorf("invalid configuration: linux.resources.unified needs cgroup v2; this host is cgroup %s", m.Mode)
	}
	if m.Mode == Hybrid && len(r.HugetlbLimit) > 0 && !m.hasV1("hugetlb") {
		// This host has hugetlb only in its v2 tree: apply it there.
		if err := m.setUnifiedHugetlb(r); err != nil {
			return err
		}
		r2 := *r
		r2.HugetlbLimit = nil
		r = &r2
	}
	if m.Mode == Unified {
		if err := checkV1Only(r); err != nil {
			return err
		}
		if err := m.enableControllers(r); err != nil {
			return err
		}
		if err := m.checkBFQWeights(r); err != nil {
			return err
		}
	} else {
		r = m.withoutMissingLeafWeight(r)
		done, err := m.setDevicesV1InOrder(r)
		if err != nil {
			return err
		}
		if done {
			r2 := *r
			r2.Devices, r2.SkipDevices = nil, true
			r = &r2
		}
	}
	lib, err := m.library(r)
	if err != nil {
		return err
	}
	if err := lib.Set(r); err != nil {
		return fmt.Errorf("set cgroup resources: %w", err)
	}
	return m.setKernelMemory(res)
}

// checkV1Only refuses, on cgroup v2, the limits only v1 controllers have:
// the library's v2 manager would skip them without a word, and runtime-spec
// says an unsupported value MUST be an error.
func checkV1Only(r *cg.Resources) error {
	field := ""
	switch {
	case r.MemorySwappiness != nil:
		field = "memory.swappiness"
	case r.OomKillDisable:
		field = "memory.disableOOMKiller"
	case r.CpuRtRuntime != 0 || r.CpuRtPeriod != 0:
		field = "cpu.realtimeRuntime/realtimePeriod"
	case r.NetClsClassid != 0:
		field = "network.classID"
	case len(r.NetPrioIfpriomap) > 0:
		field = "network.priorities"
	default:
		return nil
	}
	return fmt.Errorf("invalid configuration: linux.resources.%s needs cgroup v1; this host is cgroup v2, which has no such limit", field)
}

// checkBFQWeights refuses per-device weights on a v2 cgroup without
// io.bfq.weight (no device uses the BFQ scheduler): the library would skip
// them silently.
func (m *Manager) checkBFQWeights(r *cg.Resources) error {
	if len(r.BlkioWeightDevice) == 0 {
		return nil
	}
	if f := filepath.Join(m.Paths[UnifiedKey], "io.bfq.weight"); !exists(f) {
		return fmt.Errorf("linux.resources.blockIO.weightDevice needs the BFQ I/O scheduler: there is no %s", f)
	}
	return nil
}

// setDevicesV1InOrder writes the device rules to the v1 devices cgroup one
// by one in the listed order (runtime-spec: "The runtime MUST apply entries
// in the listed order"), after a deny-all: the rules describe a container
// that starts with no device, as the library's rule engine reads them too.
// The kernel then keeps the allowed entries of devices.list in that order.
// The library would write its own minimal transition, sorted by device
// number; that is what a cgroup with running processes needs (no moment
// without devices), so it is left to do that, and to skip devices in a user
// namespace, where the kernel refuses the files. It reports whether it wrote
// the rules.
func (m *Manager) setDevicesV1InOrder(r *cg.Resources) (bool, error) {
	if r.SkipDevices || len(r.Devices) == 0 || userns.RunningInUserNS() {
		return false, nil
	}
	dir := m.v1Path("devices")
	if dir == "" {
		return false, nil
	}
	// A deny-all reaches the sub-cgroups too: any process below counts.
	if pids, err := readPidsRecursive(dir); err != nil || len(pids) > 0 {
		return false, nil
	}
	write := func(rule *config.Rule) error {
		file := "devices.deny"
		if rule.Allow {
			file = "devices.allow"
		}
		if err := cg.WriteFile(dir, file, rule.CgroupString()); err != nil {
			return fmt.Errorf("set device rule %q: %w", rule.CgroupString(), err)
		}
		return nil
	}
	denyAll := &config.Rule{Type: config.WildcardDevice, Major: config.Wildcard, Minor: config.Wildcard, Permissions: "rwm"}
	if err := write(denyAll); err != nil {
		return false, err
	}
	for _, rule := range r.Devices {
		if err := write(rule); err != nil {
			return false, err
		}
	}
	return true, nil
}

// setKernelMemory applies memory.kernelTCP on v1, where the kernel still
// has memory.kmem.tcp.limit_in_bytes, and warns about what it cannot apply:
// kernelTCP on v2 (no such limit) and memory.kernel (current kernels accept
// and ignore v1's memory.kmem.limit_in_bytes; v2 has none).
func (m *Manager) setKernelMemory(r *Resources) error {
	if r.Kernel != 0 {
		logrus.Warnf("memory.kernel ignored: kernel memory limits are deprecated and not enforced by current kernels")
	}
	if r.KernelTCP == 0 {
		return nil
	}
	if m.Mode == Unified {
		logrus.Warnf("memory.kernelTCP ignored: cgroup v2 has no TCP buffer limit")
		return nil
	}
	dir := m.v1Path("memory")
	if dir == "" {
		return errors.New("memory.kernelTCP: no v1 memory hierarchy is mounted")
	}
	if err := cg.WriteFile(dir, "memory.kmem.tcp.limit_in_bytes", fmt.Sprint(r.KernelTCP)); err != nil {
		return fmt.Errorf("set memory.kernelTCP: %w", err)
	}
	return nil
}

// withoutMissingLeafWeight drops the blkio leaf weights, with a warning,
// when the kernel has no blkio.leaf_weight file: only the CFQ scheduler had
// one and it left Linux in 5.0. The library would fail on the missing file;
// on cgroup v2 it ignores leaf weights anyway.
func (m *Manager) withoutMissingLeafWeight(r *cg.Resources) *cg.Resources {
	leaf := r.BlkioLeafWeight != 0
	for _, wd := range r.BlkioWeightDevice {
		leaf = leaf || wd.LeafWeight != 0
	}
	dir := m.v1Path("blkio")
	if !leaf || dir == "" || exists(filepath.Join(dir, "blkio.leaf_weight")) {
		return r
	}
	logrus.Warnf("blkio leaf weights ignored: the kernel has no %s", filepath.Join(dir, "blkio.leaf_weight"))
	r2 := *r
	r2.BlkioLeafWeight = 0
	r2.BlkioWeightDevice = nil
	for _, wd := range r.BlkioWeightDevice {
		if wd.Weight != 0 {
			r2.BlkioWeightDevice = append(r2.BlkioWeightDevice, cg.NewWeightDevice(wd.Major, wd.Minor, wd.Weight, 0))
		}
	}
	return &r2
}

// v1Path returns the directory of the v1 hierarchy that has ctrl, or "".
func (m *Manager) v1Path(ctrl string) string {
	for key, p := range m.Paths {
		if key != UnifiedKey && strings.Contains(","+key+",", ","+ctrl+",") {
			return p
		}
	}
	return ""
}

func (m *Manager) hasV1(ctrl string) bool {
	return m.v1Path(ctrl) != ""
}

func (m *Manager) setUnifiedHugetlb(r *cg.Resources) error {
	dir := m.Paths[UnifiedKey]
	if err := enableInAncestors(dir, filepath.Join(Root, "unified"), []string{"hugetlb"}); err != nil {
		return err
	}
	lib, err := fs2.NewManager(&cg.Cgroup{Resources: &cg.Resources{SkipDevices: true}}, dir)
	if err != nil {
		return err
	}
	if err := lib.Set(&cg.Resources{HugetlbLimit: r.HugetlbLimit, SkipDevices: true}); err != nil {
		return fmt.Errorf("set hugetlb limits in %s: %w", dir, err)
	}
	return nil
}

// enableControllers turns on, in every ancestor's cgroup.subtree_control,
// the v2 controllers the limits need (the kernel refuses the limit files
// otherwise). A controller the host lacks is reported by name.
func (m *Manager) enableControllers(r *cg.Resources) error {
	var need []string
	if r.Memory != 0 || r.MemoryReservation != 0 || r.MemorySwap != 0 || r.OomKillDisable || r.MemorySwappiness != nil {
		need = append(need, "memory")
	}
	if r.CpuShares != 0 || r.CpuQuota != 0 || r.CpuPeriod != 0 || r.CpuBurst != nil || r.CPUIdle != nil || r.CpuWeight != 0 {
		need = append(need, "cpu")
	}
	if r.CpusetCpus != "" || r.CpusetMems != "" {
		need = append(need, "cpuset")
	}
	if r.PidsLimit != nil {
		need = append(need, "pids")
	}
	if r.BlkioWeight != 0 || len(r.BlkioWeightDevice)+len(r.BlkioThrottleReadBpsDevice)+len(r.BlkioThrottleWriteBpsDevice)+
		len(r.BlkioThrottleReadIOPSDevice)+len(r.BlkioThrottleWriteIOPSDevice) > 0 {
		need = append(need, "io")
	}
	if len(r.HugetlbLimit) > 0 {
		need = append(need, "hugetlb")
	}
	if len(r.Rdma) > 0 {
		need = append(need, "rdma")
	}
	for k := range r.Unified {
		if ctrl, _, ok := strings.Cut(k, "."); ok && ctrl != "cgroup" {
			need = append(need, ctrl)
		}
	}
	if len(need) == 0 {
		return nil
	}
	return enableInAncestors(m.Paths[UnifiedKey], Root, need)
}

// enableInAncestors enables ctrls in the subtree_control of every directory
// from mount down to dir's parent.
func enableInAncestors(dir, mount string, ctrls []string) error {
	rel, err := filepath.Rel(mount, filepath.Dir(dir))
	if err != nil {
		return err
	}
	avail, _ := os.ReadFile(filepath.Join(mount, "cgroup.controllers"))
	for _, c := range ctrls {
		if !strings.Contains(" "+strings.TrimSpace(string(avail))+" ", " "+c+" ") {
			return fmt.Errorf("cgroup v2 controller %q is not available on this host (%s/cgroup.controllers: %q)",
				c, mount, strings.TrimSpace(string(avail)))
		}
	}
	cur := mount
	parts := []string{""}
	if rel != "." {
		parts = append(parts, strings.Split(rel, "/")...)
	}
	for _, p := range parts {
		cur = filepath.Join(cur, p)
		for _, c := range ctrls {
			err := os.WriteFile(filepath.Join(cur, "cgroup.subtree_control"), []byte("+"+c), 0)
			if err != nil && !errors.Is(err, os.ErrExist) {
				return fmt.Errorf("enable the %s controller in %s: %w", c, cur, err)
			}
		}
	}
	return nil
}

// Freeze freezes or thaws the container and returns once the kernel
// confirms it.
func (m *Manager) Freeze(frozen bool) error {
	lib, err := m.library(nil)
	if err != nil {
		return err
	}
	state := cg.Thawed
	if frozen {
		state = cg.Frozen
	}
	if err := lib.Freeze(state); err != nil {
		return fmt.Errorf("freeze: %w", err)
	}
	return nil
}

// Stats reads the container's resource usage.
func (m *Manager) Stats() (*cg.Stats, error) {
	lib, err := m.library(nil)
	if err != nil {
		return nil, err
	}
	return lib.GetStats()
}
