package cgroups

import (
	"encoding/json"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// FuzzToResources converts linux.resources as `update --resources` and
// config.json give them: refused or converted, never a panic.
func FuzzToResources(f *testing.F) {
	for _, seed := range []string{
		`{"memory":{"limit":67108864,"swap":-1,"reservation":1},"cpu":{"shares":512,"quota":20000,"period":100000,"cpus":"0-1"},"pids":{"limit":10}}`,
		`{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}]}`,
		`{"blockIO":{"weight":300,"weightDevice":[{"major":8,"minor":0,"weight":10}],"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1000}]}}`,
		`{"unified":{"memory.high":"max"},"hugepageLimits":[{"pageSize":"2MB","limit":0}],"rdma":{"mlx":{"hcaHandles":1}}}`,
		`{"devices":[{"allow":true,"type":"x","access":"q"}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r specs.LinuxResources
		if json.Unmarshal(data, &r) != nil {
			return
		}
		ToResources(&r)
	})
}
