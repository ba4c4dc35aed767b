package cgroups

import (
	"strings"
	"testing"

	"github.com/opencontainers/cgroups/devices/config"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestToResourcesMapsEveryField(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	u64 := func(v uint64) *uint64 { return &v }
	u16 := func(v uint16) *uint16 { return &v }
	b := true
	classID := uint32(0x100001)
	r, err := ToResources(&specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Reservation: i64(32 << 20), Swap: i64(128 << 20),
			Swappiness: u64(10), DisableOOMKiller: &b, CheckBeforeUpdate: &b, Kernel: i64(8 << 20), KernelTCP: i64(4 << 20)},
		CPU: &specs.LinuxCPU{Shares: u64(512), Quota: i64(50000), Period: u64(100000), Burst: u64(1000),
			RealtimeRuntime: i64(10), RealtimePeriod: u64(20), Cpus: "0", Mems: "0", Idle: i64(1)},
		Pids: &specs.LinuxPids{Limit: i64(20)},
		BlockIO: &specs.LinuxBlockIO{Weight: u16(300), LeafWeight: u16(200),
			WeightDevice:          []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: u16(100)}},
			ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1000}}},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}},
		Network:        &specs.LinuxNetwork{ClassID: &classID, Priorities: []specs.LinuxInterfacePriority{{Name: "lo", Priority: 3}}},
		Unified:        map[string]string{"memory.high": "max"},
	})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"memory", r.Memory == 64<<20 && r.MemoryReservation == 32<<20 && r.MemorySwap == 128<<20 && *r.MemorySwappiness == 10 && r.OomKillDisable && r.MemoryCheckBeforeUpdate},
		{"kernel memory", r.Kernel == 8<<20 && r.KernelTCP == 4<<20},
		{"cpu", r.CpuShares == 512 && r.CpuQuota == 50000 && r.CpuPeriod == 100000 && *r.CpuBurst == 1000 && r.CpuRtRuntime == 10 && r.CpuRtPeriod == 20 && r.CpusetCpus == "0" && r.CpusetMems == "0" && *r.CPUIdle == 1},
		{"pids", *r.PidsLimit == 20},
		{"blkio", r.BlkioWeight == 300 && r.BlkioLeafWeight == 200 && len(r.BlkioWeightDevice) == 1 && r.BlkioThrottleReadBpsDevice[0].Rate == 1000},
		{"hugetlb", r.HugetlbLimit[0].Pagesize == "2MB" && r.HugetlbLimit[0].Limit == 4<<20},
		{"network", r.NetClsClassid == classID && r.NetPrioIfpriomap[0].Interface == "lo" && r.NetPrioIfpriomap[0].Priority == 3},
		{"unified", r.Unified["memory.high"] == "max"},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s not mapped: %+v", c.name, r)
		}
	}
}

func TestDeviceRulesKeepDefaultsAfterDenyAll(t *testing.T) {
	seven := int64(7)
	one := int64(1)
	rules, err := deviceRules([]specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: false, Type: "c", Major: &one, Minor: &seven, Access: "rwm"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rules[0].Allow || rules[0].Type != config.WildcardDevice {
		t.Fatalf("first rule should be the deny-all: %+v", rules[0])
	}
	last := rules[len(rules)-1]
	if last.Allow || last.Major != 1 || last.Minor != 7 || last.Permissions != "rw" {
		t.Fatalf("the config's own deny must come last, without mknod: %+v", last)
	}
	if len(rules) != 2+len(defaultAllowed) {
		t.Fatalf("got %d rules", len(rules))
	}
}

func TestDeviceRulesRejectBadInput(t *testing.T) {
	for _, d := range []specs.LinuxDeviceCgroup{{Type: "x"}, {Type: "c", Access: "rwx"}} {
		if _, err := deviceRules([]specs.LinuxDeviceCgroup{d}); err == nil {
			t.Errorf("rule %+v accepted", d)
		}
	}
}

// TestDeviceRulesOrder checks where the default devices go: after the last
// deny-all and after the config's allow rules that directly follow it, but
// before any later deny rule (which must still be able to take one away).
func TestDeviceRulesOrder(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	denyAll := specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"}
	allowFuse := specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: i64(10), Minor: i64(229), Access: "rwm"}
	allowSda := specs.LinuxDeviceCgroup{Allow: true, Type: "b", Major: i64(8), Minor: i64(0), Access: "r"}
	denyFull := specs.LinuxDeviceCgroup{Allow: false, Type: "c", Major: i64(1), Minor: i64(7), Access: "rw"}
	allowAll := specs.LinuxDeviceCgroup{Allow: true, Access: "rwm"}
	const d = "defaults"
	// With no rules of its own a config gets just the defaults.
	defaults, err := deviceRules(nil)
	if err != nil || len(defaults) != len(defaultAllowed) {
		t.Fatalf("deviceRules(nil) = %d rules, %v; want the %d defaults", len(defaults), err, len(defaultAllowed))
	}
	for _, c := range []struct {
		name string
		in   []specs.LinuxDeviceCgroup
		want []string // rule strings, d for the block of defaults
	}{
		{"deny-all only", []specs.LinuxDeviceCgroup{denyAll}, []string{"a *:* rwm", d}},
		{"allows after deny-all come first", []specs.LinuxDeviceCgroup{denyAll, allowFuse, allowSda},
			[]string{"a *:* rwm", "c 10:229 rwm", "b 8:0 r", d}},
		{"defaults before a later deny", []specs.LinuxDeviceCgroup{denyAll, allowFuse, denyFull, allowSda},
			[]string{"a *:* rwm", "c 10:229 rwm", d, "c 1:7 rw", "b 8:0 r"}},
		{"rules before the last deny-all stay before it", []specs.LinuxDeviceCgroup{allowAll, allowFuse, denyAll, allowSda},
			[]string{"a *:* rwm", "c 10:229 rwm", "a *:* rwm", "b 8:0 r", d}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rules, err := deviceRules(c.in)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, w := range c.want {
				if w != d {
					want = append(want, w)
					continue
				}
				for _, def := range defaults {
					want = append(want, def.CgroupString())
				}
			}
			var got []string
			for _, r := range rules {
				got = append(got, r.CgroupString())
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}
