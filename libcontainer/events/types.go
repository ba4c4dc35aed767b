// Package events holds what "berth events" prints and where its numbers come
// from: the JSON types of runc's event stream, the conversion from the
// cgroup statistics of github.com/opencontainers/cgroups to those types, the
// cgroup OOM counters, and a watcher that reports OOM kills as they happen.
//
// The types copy runc's types/events.go field for field and tag for tag
// (runc v1.4, the release built on opencontainers/cgroups v0.0.6), because
// tools that parse "runc events" output must be able to parse Berth's
// unchanged. runc's schema has no OOM counters; Berth reports them as the
// keys "oom" and "oom_kill" of Memory.Raw (see AddOOMCounters) rather than
// as new fields, so the schema stays runc's.
package events

import "github.com/opencontainers/cgroups"

// Event is one line of "berth events" output. Type is "stats" (Data is a
// *Stats) or "oom" (no Data), as in runc.
type Event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

// Stats is the "data" of a stats event. runc keeps it apart from the cgroups
// library's Stats so that the printed JSON does not change when the library
// does; Berth inherits the same shape for the same reason.
type Stats struct {
	CPU               Cpu                 `json:"cpu"`
	CPUSet            CPUSet              `json:"cpuset"`
	Memory            Memory              `json:"memory"`
	Pids              Pids                `json:"pids"`
	Blkio             Blkio               `json:"blkio"`
	Hugetlb           map[string]Hugetlb  `json:"hugetlb"`
	IntelRdt          IntelRdt            `json:"intel_rdt"`
	NetworkInterfaces []*NetworkInterface `json:"network_interfaces"`
}

// PSIData is one line of a pressure file. It is an alias, as in runc, so the
// cgroups library's PSI values are printed without conversion.
type PSIData = cgroups.PSIData

// PSIStats is the "some" and "full" lines of a pressure file (an alias for
// the same reason as PSIData).
type PSIStats = cgroups.PSIStats

// Hugetlb is the usage of one huge page size; the key of Stats.Hugetlb is
// the page size ("2MB", "1GB").
type Hugetlb struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// BlkioEntry is one device/operation counter of the blkio (v1) or io (v2)
// controller.
type BlkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

// Blkio is the block I/O accounting. The camelCase tags are runc's, kept
// although the rest of the schema uses snake_case.
type Blkio struct {
	IoServiceBytesRecursive []BlkioEntry `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []BlkioEntry `json:"ioServicedRecursive,omitempty"`
	IoQueuedRecursive       []BlkioEntry `json:"ioQueueRecursive,omitempty"`
	IoServiceTimeRecursive  []BlkioEntry `json:"ioServiceTimeRecursive,omitempty"`
	IoWaitTimeRecursive     []BlkioEntry `json:"ioWaitTimeRecursive,omitempty"`
	IoMergedRecursive       []BlkioEntry `json:"ioMergedRecursive,omitempty"`
	IoTimeRecursive         []BlkioEntry `json:"ioTimeRecursive,omitempty"`
	SectorsRecursive        []BlkioEntry `json:"sectorsRecursive,omitempty"`
	PSI                     *PSIStats    `json:"psi,omitempty"`
}

// Pids is the number of tasks in the cgroup and its pids.max (0 = no limit).
type Pids struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

// Throttling is the CFS bandwidth throttling of the cgroup.
type Throttling struct {
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledTime    uint64 `json:"throttledTime,omitempty"`
}

// CpuUsage is the CPU time used since the cgroup was created, in
// nanoseconds. The name keeps runc's spelling so code ported from runc
// compiles unchanged.
type CpuUsage struct {
	Total        uint64   `json:"total,omitempty"`
	Percpu       []uint64 `json:"percpu,omitempty"`
	PercpuKernel []uint64 `json:"percpu_kernel,omitempty"`
	PercpuUser   []uint64 `json:"percpu_user,omitempty"`
	Kernel       uint64   `json:"kernel"`
	User         uint64   `json:"user"`
}

// Cpu is the CPU accounting of the cgroup (runc's spelling, see CpuUsage).
type Cpu struct {
	Usage      CpuUsage   `json:"usage,omitzero"`
	Throttling Throttling `json:"throttling,omitzero"`
	PSI        *PSIStats  `json:"psi,omitempty"`
}

// CPUSet is the cpuset configuration and state of the cgroup. Its fields are
// those of cgroups.CPUSetStats in the same order, which lets FromCgroupStats
// convert it directly and makes the build fail if the two ever diverge.
type CPUSet struct {
	CPUs                  []uint16 `json:"cpus,omitempty"`
	CPUExclusive          uint64   `json:"cpu_exclusive"`
	Mems                  []uint16 `json:"mems,omitempty"`
	MemHardwall           uint64   `json:"mem_hardwall"`
	MemExclusive          uint64   `json:"mem_exclusive"`
	MemoryMigrate         uint64   `json:"memory_migrate"`
	MemorySpreadPage      uint64   `json:"memory_spread_page"`
	MemorySpreadSlab      uint64   `json:"memory_spread_slab"`
	MemoryPressure        uint64   `json:"memory_pressure"`
	SchedLoadBalance      uint64   `json:"sched_load_balance"`
	SchedRelaxDomainLevel int64    `json:"sched_relax_domain_level"`
}

// MemoryEntry is one memory counter: its limit, current usage, peak usage
// (Max) and how often the limit was hit (Failcnt), all in bytes but Failcnt.
type MemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// Memory is the memory accounting of the cgroup. Raw holds memory.stat,
// plus the OOM counters under RawOOM and RawOOMKill when AddOOMCounters
// was used.
type Memory struct {
	Cache     uint64            `json:"cache,omitempty"`
	Usage     MemoryEntry       `json:"usage,omitzero"`
	Swap      MemoryEntry       `json:"swap,omitzero"`
	Kernel    MemoryEntry       `json:"kernel,omitzero"`
	KernelTCP MemoryEntry       `json:"kernelTCP,omitzero"`
	Raw       map[string]uint64 `json:"raw,omitempty"`
	PSI       *PSIStats         `json:"psi,omitempty"`
}

// L3CacheInfo is the read-only Intel RDT L3 cache information.
type L3CacheInfo struct {
	CbmMask    string `json:"cbm_mask,omitempty"`
	MinCbmBits uint64 `json:"min_cbm_bits,omitempty"`
	NumClosids uint64 `json:"num_closids,omitempty"`
}

// MemBwInfo is the read-only Intel RDT memory bandwidth information.
type MemBwInfo struct {
	BandwidthGran uint64 `json:"bandwidth_gran,omitempty"`
	DelayLinear   uint64 `json:"delay_linear,omitempty"`
	MinBandwidth  uint64 `json:"min_bandwidth,omitempty"`
	NumClosids    uint64 `json:"num_closids,omitempty"`
}

// MBMNumaNodeStats is the memory bandwidth monitoring of one NUMA node. runc
// takes it from its intelrdt package; Berth has none, so it is declared here
// with runc's tags.
type MBMNumaNodeStats struct {
	MBMTotalBytes uint64 `json:"mbm_total_bytes"`
	MBMLocalBytes uint64 `json:"mbm_local_bytes"`
}

// CMTNumaNodeStats is the cache monitoring of one NUMA node (declared here
// for the same reason as MBMNumaNodeStats).
type CMTNumaNodeStats struct {
	LLCOccupancy uint64 `json:"llc_occupancy"`
}

// IntelRdt is the Intel RDT (resctrl) state of the container. Berth does not
// manage resctrl groups yet, so it stays empty; it is declared so that the
// "intel_rdt" object is printed as runc prints it.
type IntelRdt struct {
	L3CacheInfo       *L3CacheInfo        `json:"l3_cache_info,omitempty"`
	L3CacheSchemaRoot string              `json:"l3_cache_schema_root,omitempty"`
	L3CacheSchema     string              `json:"l3_cache_schema,omitempty"`
	MemBwInfo         *MemBwInfo          `json:"mem_bw_info,omitempty"`
	MemBwSchemaRoot   string              `json:"mem_bw_schema_root,omitempty"`
	MemBwSchema       string              `json:"mem_bw_schema,omitempty"`
	Schemata          []string            `json:"schemata,omitempty"`
	MBMStats          *[]MBMNumaNodeStats `json:"mbm_stats,omitempty"`
	CMTStats          *[]CMTNumaNodeStats `json:"cmt_stats,omitempty"`
}

// NetworkInterface is the traffic of one interface in the container's
// network namespace. It has no JSON tags because runc's has none: the keys
// are the Go field names.
type NetworkInterface struct {
	Name string

	RxBytes   uint64
	RxPackets uint64
	RxErrors  uint64
	RxDropped uint64
	TxBytes   uint64
	TxPackets uint64
	TxErrors  uint64
	TxDropped uint64
}
