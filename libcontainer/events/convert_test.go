package events

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/opencontainers/cgroups"
)

// fullCgroupStats is a cgroups.Stats with every field FromCgroupStats reads
// set to a distinct value, so a field mapped to the wrong place shows.
func fullCgroupStats() *cgroups.Stats {
	psi := func(base float64) *cgroups.PSIStats {
		return &cgroups.PSIStats{
			Some: cgroups.PSIData{Avg10: base, Avg60: base + 1, Avg300: base + 2, Total: uint64(base) + 3},
			Full: cgroups.PSIData{Avg10: base + 4, Total: uint64(base) + 5},
		}
	}
	blk := func(v uint64) []cgroups.BlkioStatEntry {
		return []cgroups.BlkioStatEntry{{Major: 8, Minor: 0, Op: "Read", Value: v}, {Major: 8, Minor: 0, Op: "Write", Value: v + 1}}
	}
	return &cgroups.Stats{
		CpuStats: cgroups.CpuStats{
			CpuUsage: cgroups.CpuUsage{
				TotalUsage:              1000,
				PercpuUsage:             []uint64{600, 400},
				PercpuUsageInKernelmode: []uint64{100, 50},
				PercpuUsageInUsermode:   []uint64{500, 350},
				UsageInKernelmode:       150,
				UsageInUsermode:         850,
			},
			ThrottlingData: cgroups.ThrottlingData{Periods: 10, ThrottledPeriods: 3, ThrottledTime: 12345},
			PSI:            psi(1),
			BurstData:      cgroups.BurstData{BurstsPeriods: 7, BurstTime: 8},
		},
		CPUSetStats: cgroups.CPUSetStats{
			CPUs: []uint16{0, 1}, CPUExclusive: 1, Mems: []uint16{0}, MemHardwall: 2, MemExclusive: 3,
			MemoryMigrate: 4, MemorySpreadPage: 5, MemorySpreadSlab: 6, MemoryPressure: 7,
			SchedLoadBalance: 8, SchedRelaxDomainLevel: -1,
		},
		MemoryStats: cgroups.MemoryStats{
			Cache:          4096,
			Usage:          cgroups.MemoryData{Usage: 100, MaxUsage: 200, Failcnt: 1, Limit: 8 << 20},
			SwapUsage:      cgroups.MemoryData{Usage: 110, MaxUsage: 210, Failcnt: 2, Limit: 16 << 20},
			SwapOnlyUsage:  cgroups.MemoryData{Usage: 10, Limit: 8 << 20},
			KernelUsage:    cgroups.MemoryData{Usage: 120, MaxUsage: 220, Failcnt: 3, Limit: 1 << 62},
			KernelTCPUsage: cgroups.MemoryData{Usage: 130, MaxUsage: 230, Failcnt: 4, Limit: 1 << 61},
			UseHierarchy:   true,
			Stats:          map[string]uint64{"cache": 4096, "rss": 8192},
			PSI:            psi(10),
		},
		PidsStats: cgroups.PidsStats{Current: 3, Limit: 100},
		BlkioStats: cgroups.BlkioStats{
			IoServiceBytesRecursive: blk(1),
			IoServicedRecursive:     blk(3),
			IoQueuedRecursive:       blk(5),
			IoServiceTimeRecursive:  blk(7),
			IoWaitTimeRecursive:     blk(9),
			IoMergedRecursive:       blk(11),
			IoTimeRecursive:         blk(13),
			SectorsRecursive:        blk(15),
			PSI:                     psi(20),
			IoCostUsage:             blk(99),
		},
		HugetlbStats: map[string]cgroups.HugetlbStats{
			"2MB": {Usage: 2 << 20, MaxUsage: 4 << 20, Failcnt: 1},
			"1GB": {Failcnt: 0},
		},
		RdmaStats: cgroups.RdmaStats{RdmaCurrent: []cgroups.RdmaEntry{{Device: "mlx0", HcaHandles: 1}}},
		MiscStats: map[string]cgroups.MiscStats{"sev": {Usage: 1}},
	}
}

func TestFromCgroupStats(t *testing.T) {
	psi := func(base float64) *PSIStats {
		return &PSIStats{
			Some: PSIData{Avg10: base, Avg60: base + 1, Avg300: base + 2, Total: uint64(base) + 3},
			Full: PSIData{Avg10: base + 4, Total: uint64(base) + 5},
		}
	}
	blk := func(v uint64) []BlkioEntry {
		return []BlkioEntry{{Major: 8, Minor: 0, Op: "Read", Value: v}, {Major: 8, Minor: 0, Op: "Write", Value: v + 1}}
	}
	emptyBlkio := Blkio{
		IoServiceBytesRecursive: []BlkioEntry{}, IoServicedRecursive: []BlkioEntry{},
		IoQueuedRecursive: []BlkioEntry{}, IoServiceTimeRecursive: []BlkioEntry{},
		IoWaitTimeRecursive: []BlkioEntry{}, IoMergedRecursive: []BlkioEntry{},
		IoTimeRecursive: []BlkioEntry{}, SectorsRecursive: []BlkioEntry{},
	}

	tests := []struct {
		name string
		in   *cgroups.Stats
		want *Stats
	}{
		{name: "nil", in: nil, want: nil},
		{
			// What a fresh cgroup with no controllers gives: runc still
			// prints an empty hugetlb object, and empty (not nil) lists.
			name: "empty",
			in:   cgroups.NewStats(),
			want: &Stats{
				Memory:  Memory{Raw: map[string]uint64{}},
				Blkio:   emptyBlkio,
				Hugetlb: map[string]Hugetlb{},
			},
		},
		{
			name: "zero value",
			in:   &cgroups.Stats{},
			want: &Stats{Blkio: emptyBlkio, Hugetlb: map[string]Hugetlb{}},
		},
		{
			name: "full",
			in:   fullCgroupStats(),
			want: &Stats{
				CPU: Cpu{
					Usage: CpuUsage{
						Total: 1000, Percpu: []uint64{600, 400},
						PercpuKernel: []uint64{100, 50}, PercpuUser: []uint64{500, 350},
						Kernel: 150, User: 850,
					},
					Throttling: Throttling{Periods: 10, ThrottledPeriods: 3, ThrottledTime: 12345},
					PSI:        psi(1),
				},
				CPUSet: CPUSet{
					CPUs: []uint16{0, 1}, CPUExclusive: 1, Mems: []uint16{0}, MemHardwall: 2, MemExclusive: 3,
					MemoryMigrate: 4, MemorySpreadPage: 5, MemorySpreadSlab: 6, MemoryPressure: 7,
					SchedLoadBalance: 8, SchedRelaxDomainLevel: -1,
				},
				Memory: Memory{
					Cache:     4096,
					Usage:     MemoryEntry{Limit: 8 << 20, Usage: 100, Max: 200, Failcnt: 1},
					Swap:      MemoryEntry{Limit: 16 << 20, Usage: 110, Max: 210, Failcnt: 2},
					Kernel:    MemoryEntry{Limit: 1 << 62, Usage: 120, Max: 220, Failcnt: 3},
					KernelTCP: MemoryEntry{Limit: 1 << 61, Usage: 130, Max: 230, Failcnt: 4},
					Raw:       map[string]uint64{"cache": 4096, "rss": 8192},
					PSI:       psi(10),
				},
				Pids: Pids{Current: 3, Limit: 100},
				Blkio: Blkio{
					IoServiceBytesRecursive: blk(1),
					IoServicedRecursive:     blk(3),
					IoQueuedRecursive:       blk(5),
					IoServiceTimeRecursive:  blk(7),
					IoWaitTimeRecursive:     blk(9),
					IoMergedRecursive:       blk(11),
					IoTimeRecursive:         blk(13),
					SectorsRecursive:        blk(15),
					PSI:                     psi(20),
				},
				Hugetlb: map[string]Hugetlb{
					"2MB": {Usage: 2 << 20, Max: 4 << 20, Failcnt: 1},
					"1GB": {},
				},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := FromCgroupStats(tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("FromCgroupStats:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestFromCgroupStatsNoAliasing checks that the result can be changed (as
// AddOOMCounters does) without changing the caller's cgroups.Stats.
func TestFromCgroupStatsNoAliasing(t *testing.T) {
	in := fullCgroupStats()
	before := fullCgroupStats()
	s := FromCgroupStats(in)
	s.Memory.Raw[RawOOMKill] = 1
	s.CPU.Usage.Percpu[0] = 0
	s.CPU.Usage.PercpuKernel[0] = 0
	s.CPU.Usage.PercpuUser[0] = 0
	s.CPU.PSI.Some.Total = 0
	s.Memory.PSI.Some.Total = 0
	s.Blkio.PSI.Some.Total = 0
	s.Blkio.IoServiceBytesRecursive[0].Value = 0
	s.CPUSet.CPUs[0] = 9
	s.CPUSet.Mems[0] = 9
	if !reflect.DeepEqual(in, before) {
		t.Errorf("changing the result changed the input:\n got %+v\nwant %+v", in, before)
	}
}

// TestStatsJSON pins the printed JSON to runc's: key names, which zero
// values are left out and which are printed.
func TestStatsJSON(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{
			// A container with nothing to report still prints the objects
			// runc always prints: cpuset's flags, pids, blkio, an empty
			// hugetlb, intel_rdt, and a null network_interfaces.
			name: "empty stats event",
			in:   &Event{Type: "stats", ID: "c1", Data: FromCgroupStats(&cgroups.Stats{})},
			want: `{"type":"stats","id":"c1","data":{"cpu":{},"cpuset":{"cpu_exclusive":0,"mem_hardwall":0,"mem_exclusive":0,"memory_migrate":0,"memory_spread_page":0,"memory_spread_slab":0,"memory_pressure":0,"sched_load_balance":0,"sched_relax_domain_level":0},"memory":{},"pids":{},"blkio":{},"hugetlb":{},"intel_rdt":{},"network_interfaces":null}}`,
		},
		{
			name: "oom event",
			in:   &Event{Type: "oom", ID: "c1"},
			want: `{"type":"oom","id":"c1"}`,
		},
		{
			name: "memory",
			in: &Memory{
				Cache:     1,
				Usage:     MemoryEntry{Limit: 2, Usage: 3, Max: 4, Failcnt: 5},
				KernelTCP: MemoryEntry{Limit: 6},
				Raw:       map[string]uint64{RawOOM: 1, RawOOMKill: 1},
			},
			want: `{"cache":1,"usage":{"limit":2,"usage":3,"max":4,"failcnt":5},"kernelTCP":{"limit":6,"failcnt":0},"raw":{"oom":1,"oom_kill":1}}`,
		},
		{
			name: "cpu",
			in: &Cpu{
				Usage:      CpuUsage{Total: 1, Percpu: []uint64{1}, PercpuKernel: []uint64{0}, PercpuUser: []uint64{1}},
				Throttling: Throttling{Periods: 2, ThrottledPeriods: 3, ThrottledTime: 4},
				PSI:        &PSIStats{Some: PSIData{Avg10: 1.5}},
			},
			want: `{"usage":{"total":1,"percpu":[1],"percpu_kernel":[0],"percpu_user":[1],"kernel":0,"user":0},"throttling":{"periods":2,"throttledPeriods":3,"throttledTime":4},"psi":{"some":{"avg10":1.5,"avg60":0,"avg300":0,"total":0},"full":{"avg10":0,"avg60":0,"avg300":0,"total":0}}}`,
		},
		{
			name: "blkio and hugetlb",
			in: &Stats{
				Blkio:   Blkio{IoServiceBytesRecursive: []BlkioEntry{{Major: 8, Op: "Read", Value: 1}}, SectorsRecursive: []BlkioEntry{{Minor: 1}}, IoQueuedRecursive: []BlkioEntry{{}}},
				Hugetlb: map[string]Hugetlb{"2MB": {Usage: 1, Max: 2}},
			},
			want: `{"cpu":{},"cpuset":{"cpu_exclusive":0,"mem_hardwall":0,"mem_exclusive":0,"memory_migrate":0,"memory_spread_page":0,"memory_spread_slab":0,"memory_pressure":0,"sched_load_balance":0,"sched_relax_domain_level":0},"memory":{},"pids":{},"blkio":{"ioServiceBytesRecursive":[{"major":8,"op":"Read","value":1}],"ioQueueRecursive":[{}],"sectorsRecursive":[{"minor":1}]},"hugetlb":{"2MB":{"usage":1,"max":2,"failcnt":0}},"intel_rdt":{},"network_interfaces":null}`,
		},
		{
			name: "network interface and intel rdt",
			in: &Stats{
				IntelRdt: IntelRdt{
					L3CacheSchema: "L3:0=f", MBMStats: &[]MBMNumaNodeStats{{MBMTotalBytes: 1}},
					CMTStats: &[]CMTNumaNodeStats{{LLCOccupancy: 2}},
				},
				NetworkInterfaces: []*NetworkInterface{{Name: "eth0", RxBytes: 1, TxDropped: 2}},
			},
			want: `{"cpu":{},"cpuset":{"cpu_exclusive":0,"mem_hardwall":0,"mem_exclusive":0,"memory_migrate":0,"memory_spread_page":0,"memory_spread_slab":0,"memory_pressure":0,"sched_load_balance":0,"sched_relax_domain_level":0},"memory":{},"pids":{},"blkio":{},"hugetlb":null,"intel_rdt":{"l3_cache_schema":"L3:0=f","mbm_stats":[{"mbm_total_bytes":1,"mbm_local_bytes":0}],"cmt_stats":[{"llc_occupancy":2}]},"network_interfaces":[{"Name":"eth0","RxBytes":1,"RxPackets":0,"RxErrors":0,"RxDropped":0,"TxBytes":0,"TxPackets":0,"TxErrors":0,"TxDropped":2}]}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("JSON:\n got %s\nwant %s", b, tc.want)
			}
		})
	}
}
