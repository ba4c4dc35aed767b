package cgroups

import (
	"errors"
	"fmt"
	"strings"

	cg "github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/devices/config"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Resources are the limits to set: the library's form plus the v1 kernel
// memory limits, which the library no longer applies.
type Resources struct {
	cg.Resources
	// KernelTCP is memory.kernelTCP, v1's memory.kmem.tcp.limit_in_bytes
	// (0: unset).
	KernelTCP int64
	// Kernel is memory.kernel. Kernels since 5.16 accept and ignore v1's
	// memory.kmem.limit_in_bytes, and v2 has no such limit: it is only
	// warned about.
	Kernel int64
}

// ToResources converts runtime-spec resources into the library's form, the
// way runc's specconv does. Device rules get the default devices appended.
func ToResources(r *specs.LinuxResources) (*Resources, error) {
	res := &Resources{}
	if r == nil {
		return res, nil
	}
	devs, err := deviceRules(r.Devices)
	if err != nil {
		return nil, err
	}
	res.Devices = devs
	if m := r.Memory; m != nil {
		if m.UseHierarchy != nil && !*m.UseHierarchy {
			// Linux 5.11 removed non-hierarchical accounting ("mm: memcg:
			// deprecate the non-hierarchical mode"); cgroup v2 never had it.
			return nil, errors.New("memory.useHierarchy false: memory is always accounted hierarchically (no kernel since 5.11 can do otherwise)")
		}
		res.Memory = deref(m.Limit)
		res.MemoryReservation = deref(m.Reservation)
		res.MemorySwap = deref(m.Swap)
		res.MemorySwappiness = m.Swappiness
		if m.DisableOOMKiller != nil {
			res.OomKillDisable = *m.DisableOOMKiller
		}
		if m.CheckBeforeUpdate != nil {
			res.MemoryCheckBeforeUpdate = *m.CheckBeforeUpdate
		}
		res.Kernel = deref(m.Kernel)
		res.KernelTCP = deref(m.KernelTCP)
	}
	if c := r.CPU; c != nil {
		res.CpuShares = derefU(c.Shares)
		// cgroup v2 has cpu.weight; the library leaves the conversion
		// (runc's formula) to its caller. v1 uses CpuShares only.
		res.CpuWeight = cg.ConvertCPUSharesToCgroupV2Value(res.CpuShares)
		res.CpuQuota = deref(c.Quota)
		res.CpuBurst = c.Burst
		res.CpuPeriod = derefU(c.Period)
		res.CpuRtRuntime = deref(c.RealtimeRuntime)
		res.CpuRtPeriod = derefU(c.RealtimePeriod)
		res.CpusetCpus = c.Cpus
		res.CpusetMems = c.Mems
		res.CPUIdle = c.Idle
	}
	if p := r.Pids; p != nil {
		limit := p.Limit
		res.PidsLimit = limit
	}
	if b := r.BlockIO; b != nil {
		res.BlkioWeight = derefU16(b.Weight)
		res.BlkioLeafWeight = derefU16(b.LeafWeight)
		for _, wd := range b.WeightDevice {
			res.BlkioWeightDevice = append(res.BlkioWeightDevice,
				cg.NewWeightDevice(wd.Major, wd.Minor, derefU16(wd.Weight), derefU16(wd.LeafWeight)))
		}
		for _, l := range []struct {
			src []specs.LinuxThrottleDevice
			dst *[]*cg.ThrottleDevice
		}{
			{b.ThrottleReadBpsDevice, &res.BlkioThrottleReadBpsDevice},
			{b.ThrottleWriteBpsDevice, &res.BlkioThrottleWriteBpsDevice},
			{b.ThrottleReadIOPSDevice, &res.BlkioThrottleReadIOPSDevice},
			{b.ThrottleWriteIOPSDevice, &res.BlkioThrottleWriteIOPSDevice},
		} {
			for _, td := range l.src {
				*l.dst = append(*l.dst, cg.NewThrottleDevice(td.Major, td.Minor, td.Rate))
			}
		}
	}
	for _, h := range r.HugepageLimits {
		res.HugetlbLimit = append(res.HugetlbLimit, &cg.HugepageLimit{Pagesize: h.Pagesize, Limit: h.Limit})
	}
	if n := r.Network; n != nil {
		if n.ClassID != nil {
			res.NetClsClassid = *n.ClassID
		}
		for _, p := range n.Priorities {
			res.NetPrioIfpriomap = append(res.NetPrioIfpriomap, &cg.IfPrioMap{Interface: p.Name, Priority: int64(p.Priority)})
		}
	}
	if len(r.Rdma) > 0 {
		res.Rdma = map[string]cg.LinuxRdma{}
		for name, v := range r.Rdma {
			res.Rdma[name] = cg.LinuxRdma{HcaHandles: v.HcaHandles, HcaObjects: v.HcaObjects}
		}
	}
	if len(r.Unified) > 0 {
		res.Unified = r.Unified
	}
	return res, nil
}

func intPtr(v int64) *int64 { return &v }

// defaultAllowed are the devices every container may use (runtime-spec's
// default devices, plus ptys and the console), allowed after the config's
// own rules as runc does.
var defaultAllowed = []specs.LinuxDeviceCgroup{
	{Allow: true, Type: "c", Access: "m"}, {Allow: true, Type: "b", Access: "m"},
	{Allow: true, Type: "c", Major: intPtr(1), Minor: intPtr(3), Access: "rwm"},
	{Allow: true, Type: "c", Major: intPtr(1), Minor: intPtr(5), Access: "rwm"},
	{Allow: true, Type: "c", Major: intPtr(1), Minor: intPtr(7), Access: "rwm"},
	{Allow: true, Type: "c", Major: intPtr(1), Minor: intPtr(8), Access: "rwm"},
	{Allow: true, Type: "c", Major: intPtr(1), Minor: intPtr(9), Access: "rwm"},
	{Allow: true, Type: "c", Major: intPtr(5), Minor: intPtr(0), Access: "rwm"},
	{Allow: true, Type: "c", Major: intPtr(5), Minor: intPtr(1), Access: "rwm"},
	{Allow: true, Type: "c", Major: intPtr(5), Minor: intPtr(2), Access: "rwm"},
	{Allow: true, Type: "c", Major: intPtr(136), Access: "rwm"},
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func derefU(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}

func derefU16(p *uint16) uint16 {
	if p == nil {
		return 0
	}
	return *p
}

// deviceRules converts the config's device rules and adds the devices every
// container may use (runtime-spec's default devices, ptys, console) after
// the config's last deny-all rule: a deny-all cannot take them away, but a
// later explicit rule of the config can (runc appends them at the end, so a
// config could never deny /dev/full, say). They go after the config's allow
// rules that directly follow that deny-all, just before its first later
// deny rule: allow rules commute, so the result is the same, and the
// config's own rules keep the first places, in their order (on cgroup v1
// devices.list shows them so).
func deviceRules(in []specs.LinuxDeviceCgroup) ([]*config.Rule, error) {
	at := 0
	for i, d := range in {
		if !d.Allow && (d.Type == "" || d.Type == "a") && d.Major == nil && d.Minor == nil {
			at = i + 1
		}
	}
	var after []specs.LinuxDeviceCgroup
	for _, d := range in[at:] {
		if !d.Allow && (d.Type == "c" || d.Type == "b") && strings.Contains(d.Access, "m") {
			// The defaults allow mknod of any c and b node; the kernel's
			// rule engine cannot carve one device out of that, so such a
			// deny keeps to reading and writing, which is what stops use.
			d.Access = strings.ReplaceAll(d.Access, "m", "")
			if d.Access == "" {
				continue
			}
		}
		after = append(after, d)
	}
	allows := 0
	for allows < len(after) && after[allows].Allow {
		allows++
	}
	all := append([]specs.LinuxDeviceCgroup{}, in[:at]...)
	all = append(append(append(all, after[:allows]...), defaultAllowed...), after[allows:]...)
	var out []*config.Rule
	for _, d := range all {
		t := config.WildcardDevice
		switch d.Type {
		case "", "a":
		case "c", "u":
			t = config.CharDevice
		case "b":
			t = config.BlockDevice
		case "p":
			t = config.FifoDevice
		default:
			return nil, fmt.Errorf("invalid device rule type %q", d.Type)
		}
		perms := config.Permissions(d.Access)
		if perms == "" {
			perms = "rwm"
		}
		for _, c := range perms {
			if c != 'r' && c != 'w' && c != 'm' {
				return nil, fmt.Errorf("invalid device rule access %q", d.Access)
			}
		}
		rule := &config.Rule{Type: t, Major: config.Wildcard, Minor: config.Wildcard, Permissions: perms, Allow: d.Allow}
		if d.Major != nil {
			rule.Major = *d.Major
		}
		if d.Minor != nil {
			rule.Minor = *d.Minor
		}
		out = append(out, rule)
	}
	return out, nil
}
