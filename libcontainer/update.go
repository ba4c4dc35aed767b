package libcontainer

import (
	"errors"
	"fmt"
	"path/filepath"

	cg "github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-runtime/berth/libcontainer/cgroups"
	"github.com/berth-runtime/berth/libcontainer/events"
	"github.com/berth-runtime/berth/libcontainer/intelrdt"
	"github.com/berth-runtime/berth/libcontainer/state"
)

// Update changes the resource limits of a live container. Fields that are
// nil or zero in u keep their current values (docker sends zeros for what it
// does not change); device rules are never changed. If the kernel refuses
// the new values, the old ones are put back.
func (c *Container) Update(u *specs.LinuxResources) error {
	spec, err := c.specToUpdate()
	if err != nil {
		return err
	}
	if err := c.requireCgroup(); err != nil {
		return err
	}
	old := spec.Linux.Resources
	if old == nil {
		old = &specs.LinuxResources{}
	}
	merged := MergeResources(old, u)
	mgr := c.cgroup()
	next, err := cgroups.ToResources(merged)
	if err != nil {
		return err
	}
	next.Devices, next.SkipDevices = nil, true
	if err := mgr.Set(next); err != nil {
		if prev, perr := cgroups.ToResources(old); perr == nil {
			prev.Devices, prev.SkipDevices = nil, true
			if rerr := mgr.Set(prev); rerr != nil {
				return errors.Join(err, fmt.Errorf("restore the previous limits: %w", rerr))
			}
		}
		return err
	}
	spec.Linux.Resources = merged
	return state.WriteFileAtomic(filepath.Join(c.Dir, state.ConfigFile), marshal(spec), 0o600)
}

// MergeResources returns old with every non-zero field of u applied.
func MergeResources(old, u *specs.LinuxResources) *specs.LinuxResources {
	m := *old
	if u == nil {
		return &m
	}
	if u.Memory != nil {
		mem := specs.LinuxMemory{}
		if old.Memory != nil {
			mem = *old.Memory
		}
		setI64(&mem.Limit, u.Memory.Limit)
		setI64(&mem.Reservation, u.Memory.Reservation)
		setI64(&mem.Swap, u.Memory.Swap)
		setI64(&mem.Kernel, u.Memory.Kernel)
		setI64(&mem.KernelTCP, u.Memory.KernelTCP)
		if u.Memory.Swappiness != nil {
			mem.Swappiness = u.Memory.Swappiness
		}
		if u.Memory.CheckBeforeUpdate != nil {
			mem.CheckBeforeUpdate = u.Memory.CheckBeforeUpdate
		}
		m.Memory = &mem
	}
	if u.CPU != nil {
		cpu := specs.LinuxCPU{}
		if old.CPU != nil {
			cpu = *old.CPU
		}
		setU64(&cpu.Shares, u.CPU.Shares)
		setI64(&cpu.Quota, u.CPU.Quota)
		setU64(&cpu.Period, u.CPU.Period)
		setU64(&cpu.Burst, u.CPU.Burst)
		setI64(&cpu.RealtimeRuntime, u.CPU.RealtimeRuntime)
		setU64(&cpu.RealtimePeriod, u.CPU.RealtimePeriod)
		if u.CPU.Cpus != "" {
			cpu.Cpus = u.CPU.Cpus
		}
		if u.CPU.Mems != "" {
			cpu.Mems = u.CPU.Mems
		}
		if u.CPU.Idle != nil {
			cpu.Idle = u.CPU.Idle
		}
		m.CPU = &cpu
	}
	if u.Pids != nil && u.Pids.Limit != nil && *u.Pids.Limit != 0 {
		m.Pids = &specs.LinuxPids{Limit: u.Pids.Limit}
	}
	if u.BlockIO != nil {
		b := specs.LinuxBlockIO{}
		if old.BlockIO != nil {
			b = *old.BlockIO
		}
		if u.BlockIO.Weight != nil && *u.BlockIO.Weight != 0 {
			b.Weight = u.BlockIO.Weight
		}
		if u.BlockIO.LeafWeight != nil && *u.BlockIO.LeafWeight != 0 {
			b.LeafWeight = u.BlockIO.LeafWeight
		}
		for _, l := range []struct{ dst, src *[]specs.LinuxThrottleDevice }{
			{&b.ThrottleReadBpsDevice, &u.BlockIO.ThrottleReadBpsDevice},
			{&b.ThrottleWriteBpsDevice, &u.BlockIO.ThrottleWriteBpsDevice},
			{&b.ThrottleReadIOPSDevice, &u.BlockIO.ThrottleReadIOPSDevice},
			{&b.ThrottleWriteIOPSDevice, &u.BlockIO.ThrottleWriteIOPSDevice},
		} {
			if len(*l.src) > 0 {
				*l.dst = *l.src
			}
		}
		if len(u.BlockIO.WeightDevice) > 0 {
			b.WeightDevice = u.BlockIO.WeightDevice
		}
		m.BlockIO = &b
	}
	if len(u.HugepageLimits) > 0 {
		m.HugepageLimits = u.HugepageLimits
	}
	if u.Network != nil {
		m.Network = u.Network
	}
	if len(u.Rdma) > 0 {
		m.Rdma = u.Rdma
	}
	if len(u.Unified) > 0 {
		uni := map[string]string{}
		for k, v := range old.Unified {
			uni[k] = v
		}
		for k, v := range u.Unified {
			uni[k] = v
		}
		m.Unified = uni
	}
	return &m
}

func setI64(dst **int64, v *int64) {
	if v != nil && *v != 0 {
		x := *v
		*dst = &x
	}
}

func setU64(dst **uint64, v *uint64) {
	if v != nil && *v != 0 {
		x := *v
		*dst = &x
	}
}

// Pids lists the host pids of every process in the container's cgroup.
func (c *Container) Pids() ([]int, error) {
	if c.Status() == state.Stopped {
		return nil, ErrNotRunning
	}
	return c.cgroup().Pids()
}

// CgroupOOMKills reports how many processes the kernel's OOM killer has
// killed in the cgroup that linux.cgroupsPath names (memory.events
// oom_kill on v2, memory.oom_control on v1), whichever OCI runtime made
// it. It works while the cgroup exists, so a monitor can read it after a
// container's process exited and before delete removes the cgroup. This
// is the API the docker-style front end uses for docker's
// State.OOMKilled (with berth or runc underneath).
func CgroupOOMKills(cgroupsPath string) (uint64, error) {
	mgr, err := cgroups.New(cgroupsPath, "")
	if err != nil {
		return 0, err
	}
	_, kills, err := events.OOMCounters(mgr.Paths)
	return kills, err
}

// Stats reads the container's cgroup statistics.
func (c *Container) Stats() (*cg.Stats, error) {
	if c.Status() == state.Stopped {
		return nil, ErrNotRunning
	}
	st, err := c.cgroup().Stats()
	if err != nil && c.Status() == state.Stopped {
		// Deleted while its files were read (ENODEV or ENOENT from a
		// cgroup being removed): the container is gone, not broken.
		return nil, ErrNotRunning
	}
	return st, err
}

// UpdateIntelRdt writes update's --l3-cache-schema and --mem-bw-schema to
// the container's resctrl group ("" leaves one as it is). It needs resctrl
// and a container made with linux.intelRdt, as with runc.
func (c *Container) UpdateIntelRdt(l3, mb string) error {
	if !intelrdt.Mounted(intelrdt.Root) {
		return errIntelRdtNeedsResctrl
	}
	spec, err := c.specToUpdate()
	if err != nil {
		return err
	}
	rdt := spec.Linux.IntelRdt
	if rdt == nil {
		return errors.New("the container has no linux.intelRdt to update")
	}
	return intelrdt.Update(intelrdt.Root, c.ID, rdt, l3, mb)
}

// specToUpdate is the config copy of a container that can still be
// updated (not stopped).
func (c *Container) specToUpdate() (*specs.Spec, error) {
	if st := c.Status(); st == state.Stopped {
		return nil, ErrNotRunning
	}
	return c.Spec()
}
