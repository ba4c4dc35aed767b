package events

import (
	"maps"

	"github.com/opencontainers/cgroups"
)

// FromCgroupStats converts the statistics read by the cgroups library into
// the event schema, with the same mapping as runc's convertLibcontainerStats
// so that identical cgroup files print identical JSON. It returns nil for a
// nil s, as runc does when it has no cgroup statistics.
//
// The result shares no memory with s: memory.stat is copied into
// Memory.Raw (runc aliases it) so that AddOOMCounters can add its keys
// without writing into the caller's cgroups.Stats, and the per-CPU slices
// are copied for the same reason.
//
// IntelRdt and NetworkInterfaces are left empty: they do not come from the
// cgroup, and a nil NetworkInterfaces prints as null, as runc prints it for
// a container without interface statistics.
func FromCgroupStats(cg *cgroups.Stats) *Stats {
	if cg == nil {
		return nil
	}
	var s Stats
	s.Pids.Current = cg.PidsStats.Current
	s.Pids.Limit = cg.PidsStats.Limit

	u := cg.CpuStats.CpuUsage
	s.CPU.Usage.Kernel = u.UsageInKernelmode
	s.CPU.Usage.User = u.UsageInUsermode
	s.CPU.Usage.Total = u.TotalUsage
	s.CPU.Usage.Percpu = cloneSlice(u.PercpuUsage)
	s.CPU.Usage.PercpuKernel = cloneSlice(u.PercpuUsageInKernelmode)
	s.CPU.Usage.PercpuUser = cloneSlice(u.PercpuUsageInUsermode)
	s.CPU.Throttling.Periods = cg.CpuStats.ThrottlingData.Periods
	s.CPU.Throttling.ThrottledPeriods = cg.CpuStats.ThrottlingData.ThrottledPeriods
	s.CPU.Throttling.ThrottledTime = cg.CpuStats.ThrottlingData.ThrottledTime
	s.CPU.PSI = clonePSI(cg.CpuStats.PSI)

	// A conversion rather than a field copy: it stops compiling if the
	// cgroups library's CPUSetStats gains or loses a field, which is when
	// this schema would need a decision.
	s.CPUSet = CPUSet(cg.CPUSetStats)
	s.CPUSet.CPUs = cloneSlice(s.CPUSet.CPUs)
	s.CPUSet.Mems = cloneSlice(s.CPUSet.Mems)

	m := cg.MemoryStats
	s.Memory.Cache = m.Cache
	s.Memory.Kernel = memoryEntry(m.KernelUsage)
	s.Memory.KernelTCP = memoryEntry(m.KernelTCPUsage)
	s.Memory.Swap = memoryEntry(m.SwapUsage)
	s.Memory.Usage = memoryEntry(m.Usage)
	s.Memory.Raw = maps.Clone(m.Stats)
	s.Memory.PSI = clonePSI(m.PSI)

	b := cg.BlkioStats
	s.Blkio.IoServiceBytesRecursive = blkioEntries(b.IoServiceBytesRecursive)
	s.Blkio.IoServicedRecursive = blkioEntries(b.IoServicedRecursive)
	s.Blkio.IoQueuedRecursive = blkioEntries(b.IoQueuedRecursive)
	s.Blkio.IoServiceTimeRecursive = blkioEntries(b.IoServiceTimeRecursive)
	s.Blkio.IoWaitTimeRecursive = blkioEntries(b.IoWaitTimeRecursive)
	s.Blkio.IoMergedRecursive = blkioEntries(b.IoMergedRecursive)
	s.Blkio.IoTimeRecursive = blkioEntries(b.IoTimeRecursive)
	s.Blkio.SectorsRecursive = blkioEntries(b.SectorsRecursive)
	s.Blkio.PSI = clonePSI(b.PSI)

	// Always a map, never nil, so that "hugetlb" prints as {} and not null
	// when there are no huge page sizes, as in runc.
	s.Hugetlb = make(map[string]Hugetlb, len(cg.HugetlbStats))
	for size, h := range cg.HugetlbStats {
		s.Hugetlb[size] = Hugetlb{Usage: h.Usage, Max: h.MaxUsage, Failcnt: h.Failcnt}
	}
	return &s
}

// memoryEntry renames the cgroups library's MaxUsage to the schema's Max.
func memoryEntry(d cgroups.MemoryData) MemoryEntry {
	return MemoryEntry{Limit: d.Limit, Usage: d.Usage, Max: d.MaxUsage, Failcnt: d.Failcnt}
}

// blkioEntries converts a blkio list. The result is empty but not nil for
// an empty input, as runc's; either way omitempty leaves the key out.
func blkioEntries(in []cgroups.BlkioStatEntry) []BlkioEntry {
	out := make([]BlkioEntry, 0, len(in))
	for _, e := range in {
		out = append(out, BlkioEntry(e))
	}
	return out
}

// cloneSlice copies s, keeping nil as nil so that omitempty behaves as it
// would on the original.
func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}

// clonePSI copies a pressure record so the result does not point into the
// caller's cgroups.Stats.
func clonePSI(p *PSIStats) *PSIStats {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}
