//go:build berth_kernel_floor

package kernel

// floorDisabled lists what a berth_kernel_floor build pretends is missing:
// everything newer than Floor, and clone3's CLONE_INTO_CGROUP (which a
// seccomp filter around the runtime can hide on any kernel).
var floorDisabled = []Feature{CloneIntoCgroup, CloseRangeCloexec, MountSetattr, CgroupKill, MemfdExec}
