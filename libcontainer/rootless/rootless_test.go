package rootless

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestLimits(t *testing.T) {
	u64 := func(v uint64) *uint64 { return &v }
	i64 := func(v int64) *int64 { return &v }
	for _, c := range []struct {
		name string
		r    *specs.LinuxResources
		want []Limit
	}{
		{"nil", nil, nil},
		{"devices only", &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}, nil},
		{"empty groups", &specs.LinuxResources{Memory: &specs.LinuxMemory{}, CPU: &specs.LinuxCPU{}}, nil},
		{"memory and pids", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 20)}, Pids: &specs.LinuxPids{Limit: i64(10)}},
			[]Limit{{"linux.resources.memory.limit", "memory"}, {"linux.resources.pids.limit", "pids"}}},
		{"swappiness 0 is a value", &specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: u64(0)}},
			[]Limit{{"linux.resources.memory.swappiness", "memory"}}},
		{"cpu and cpuset", &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(512), Cpus: "0"}},
			[]Limit{{"linux.resources.cpu.shares", "cpu"}, {"linux.resources.cpu.cpus", "cpuset"}}},
		{"block io", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{Rate: 1}}}},
			[]Limit{{"linux.resources.blockIO.throttleReadBpsDevice", "blkio"}}},
		{"hugetlb", &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 1}}},
			[]Limit{{"linux.resources.hugepageLimits", "hugetlb"}}},
		{"network", &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: new(uint32), Priorities: []specs.LinuxInterfacePriority{{Name: "lo"}}}},
			[]Limit{{"linux.resources.network.classID", "net_cls"}, {"linux.resources.network.priorities", "net_prio"}}},
		{"unified", &specs.LinuxResources{Unified: map[string]string{"memory.max": "1M", "cgroup.freeze": "0"}},
			[]Limit{{"linux.resources.unified.cgroup.freeze", ""}, {"linux.resources.unified.memory.max", "memory"}}},
		{"rdma", &specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx5_0": {}}},
			[]Limit{{"linux.resources.rdma.mlx5_0", "rdma"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Limits(c.r); !reflect.DeepEqual(got, c.want) {
				t.Errorf("Limits = %v, want %v", got, c.want)
			}
		})
	}
}

func TestHostID(t *testing.T) {
	m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}}
	for _, c := range []struct {
		id, want uint32
		ok       bool
	}{{0, 1000, true}, {1, 100000, true}, {65536, 165535, true}, {65537, 0, false}} {
		if got, ok := HostID(m, c.id); got != c.want || ok != c.ok {
			t.Errorf("HostID(%d) = %d, %v; want %d, %v", c.id, got, ok, c.want, c.ok)
		}
	}
	if _, ok := HostID(nil, 0); ok {
		t.Error("HostID of no mappings found an id")
	}
}

func TestOwnIDsOnly(t *testing.T) {
	uid, gid := uint32(os.Geteuid()), uint32(os.Getegid())
	own := func(id uint32) []specs.LinuxIDMapping {
		return []specs.LinuxIDMapping{{ContainerID: 0, HostID: id, Size: 1}}
	}
	for _, c := range []struct {
		name       string
		uids, gids []specs.LinuxIDMapping
		want       bool
	}{
		{"own ids", own(uid), own(gid), true},
		{"own ids at another container id", []specs.LinuxIDMapping{{ContainerID: 5, HostID: uid, Size: 1}}, own(gid), true},
		{"another uid", own(uid + 1), own(gid), false},
		{"a range", []specs.LinuxIDMapping{{ContainerID: 0, HostID: uid, Size: 2}}, own(gid), false},
		{"two entries", append(own(uid), specs.LinuxIDMapping{ContainerID: 1, HostID: 100000, Size: 10}), own(gid), false},
		{"another gid", own(uid), own(gid + 1), false},
		{"none", nil, nil, false},
	} {
		if got := OwnIDsOnly(c.uids, c.gids); got != c.want {
			t.Errorf("%s: OwnIDsOnly = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestFormatMappings(t *testing.T) {
	m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 1, HostID: 100000, Size: 65536}}
	if got := FormatMappings(m); got != "[0:1000:1,1:100000:65536]" {
		t.Errorf("FormatMappings = %q", got)
	}
}

func TestCgroupsFlag(t *testing.T) {
	auto := EUID() || InUserNS()
	for flag, want := range map[string]bool{"true": true, "false": false, "auto": auto} {
		if got, err := Cgroups(flag); err != nil || got != want {
			t.Errorf("Cgroups(%q) = %v, %v; want %v", flag, got, err, want)
		}
	}
	for _, bad := range []string{"maybe", "", "1"} {
		if _, err := Cgroups(bad); err == nil || !strings.Contains(err.Error(), "true, false or auto") {
			t.Errorf("Cgroups(%q) = %v", bad, err)
		}
	}
}

func TestDefaultRoot(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/4242")
	root, xdg := DefaultRoot("berth")
	if WantsXDGRoot() != xdg || xdg && root != "/run/user/4242/berth" || !xdg && root != "/run/berth" {
		t.Errorf("DefaultRoot = %q, %v (WantsXDGRoot %v)", root, xdg, WantsXDGRoot())
	}
	t.Setenv("XDG_RUNTIME_DIR", "")
	if root, xdg := DefaultRoot("berth"); root != "/run/berth" || xdg {
		t.Errorf("DefaultRoot without XDG_RUNTIME_DIR = %q, %v", root, xdg)
	}
}

func TestPrepareXDGRootMode(t *testing.T) {
	root := filepath.Join(t.TempDir(), "a", "berth")
	if err := PrepareXDGRoot(root); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(root)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&(os.ModePerm|os.ModeSticky) != 0o700|os.ModeSticky {
		t.Errorf("root mode %v, want drwx-----T", fi.Mode())
	}
}
