package libcontainer

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestMergeResourcesZeroMeansUnchanged(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	u64 := func(v uint64) *uint64 { return &v }
	old := &specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: i64(100), Swap: i64(200)},
		CPU:     &specs.LinuxCPU{Quota: i64(50000), Period: u64(100000), Cpus: "0"},
		Pids:    &specs.LinuxPids{Limit: i64(10)},
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
	}
	got := MergeResources(old, &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(300), Swap: i64(0)},
		CPU:    &specs.LinuxCPU{Quota: i64(20000), Period: u64(0)},
		Pids:   &specs.LinuxPids{Limit: i64(0)},
	})
	if *got.Memory.Limit != 300 || *got.Memory.Swap != 200 {
		t.Errorf("memory = %+v", got.Memory)
	}
	if *got.CPU.Quota != 20000 || *got.CPU.Period != 100000 || got.CPU.Cpus != "0" {
		t.Errorf("cpu = %+v", got.CPU)
	}
	if *got.Pids.Limit != 10 {
		t.Errorf("pids = %+v", got.Pids)
	}
	if len(got.Devices) != 1 {
		t.Errorf("devices changed: %+v", got.Devices)
	}
	if *old.Memory.Limit != 100 {
		t.Errorf("old resources were modified")
	}
}
