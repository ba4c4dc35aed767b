package testkit

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ParseProcCgroup parses /proc/PID/cgroup text: each hierarchy's
// controller list ("cpu,cpuacct"; "" for the unified v2 line) to the
// process's path in it.
func ParseProcCgroup(text string) map[string]string {
	out := map[string]string{}
	for _, l := range strings.Split(text, "\n") {
		if f := strings.SplitN(l, ":", 3); len(f) == 3 {
			out[f[1]] = f[2]
		}
	}
	return out
}

// CgroupDirIn returns the host directory, under /sys/fs/cgroup, of the
// cgroup a /proc/PID/cgroup text names for controller ctrl: the v1
// hierarchy that has it, or with unified (a cgroup v2 host) the v2 one;
// "" when there is none.
func CgroupDirIn(procCgroup, ctrl string, unified bool) string {
	cgs := ParseProcCgroup(procCgroup)
	if unified {
		if p, ok := cgs[""]; ok {
			return filepath.Join("/sys/fs/cgroup", p)
		}
		return ""
	}
	for ctrls, p := range cgs {
		for _, c := range strings.Split(ctrls, ",") {
			if c == ctrl {
				return filepath.Join("/sys/fs/cgroup", ctrl, p)
			}
		}
	}
	return ""
}

// V1CgroupDir returns the host directory of pid's cgroup in the v1
// hierarchy that has controller ctrl (/sys/fs/cgroup/<ctrl>/<path>), read
// from /proc/<pid>/cgroup; ok is false when no v1 hierarchy has ctrl.
func V1CgroupDir(pid int, ctrl string) (dir string, ok bool, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", false, err
	}
	dir = CgroupDirIn(string(b), ctrl, false)
	return dir, dir != "", nil
}

// Unified reports whether /sys/fs/cgroup is a cgroup v2 mount (a pure v2
// host, or the v2 view of tests/run-v2.sh).
func Unified() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// SystemdRunning reports whether systemd is the host's init (sd_booted's
// test), so callers use their systemd cgroup driver by default.
func SystemdRunning() bool {
	fi, err := os.Stat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// AppArmorEnabled reports whether AppArmor is enabled, so that docker and
// podman give containers their default profiles.
func AppArmorEnabled() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && strings.TrimSpace(string(b)) == "Y"
}

// Limit names a cgroup setting the caller suites check on either cgroup
// version.
type Limit int

const (
	// LimitMemory: memory.limit_in_bytes (v1), memory.max (v2).
	LimitMemory Limit = iota
	// LimitMemorySwap, memory plus swap: memory.memsw.limit_in_bytes (v1),
	// memory.max + memory.swap.max (v2).
	LimitMemorySwap
	// LimitCPU, "QUOTA PERIOD": cpu.cfs_quota_us and cpu.cfs_period_us
	// (v1, -1 as "max"), cpu.max (v2).
	LimitCPU
	// LimitPids: pids.max.
	LimitPids
	// LimitFrozen, "1" or "0": freezer.state FROZEN (v1), cgroup.events'
	// frozen (v2).
	LimitFrozen
)

// ReadLimit reads limit l of pid's cgroup from the host, in the same form
// on cgroup v1 and v2.
func ReadLimit(pid int, l Limit) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", err
	}
	v2 := Unified()
	ctrl := map[Limit]string{LimitMemory: "memory", LimitMemorySwap: "memory", LimitCPU: "cpu", LimitPids: "pids", LimitFrozen: "freezer"}[l]
	dir := CgroupDirIn(string(b), ctrl, v2)
	if dir == "" {
		return "", fmt.Errorf("pid %d has no %s cgroup", pid, ctrl)
	}
	read := func(name string) (string, error) {
		v, err := os.ReadFile(filepath.Join(dir, name))
		return strings.TrimSpace(string(v)), err
	}
	both := func(a, b string) (string, string, error) {
		x, err := read(a)
		if err != nil {
			return "", "", err
		}
		y, err := read(b)
		return x, y, err
	}
	switch {
	case l == LimitMemory && v2:
		return read("memory.max")
	case l == LimitMemory:
		return read("memory.limit_in_bytes")
	case l == LimitMemorySwap && v2:
		mem, swap, err := both("memory.max", "memory.swap.max")
		if err != nil || mem == "max" || swap == "max" {
			return "max", err
		}
		m, err1 := strconv.ParseUint(mem, 10, 64)
		s, err2 := strconv.ParseUint(swap, 10, 64)
		if err1 != nil || err2 != nil {
			return "", fmt.Errorf("memory.max %q, memory.swap.max %q", mem, swap)
		}
		return strconv.FormatUint(m+s, 10), nil
	case l == LimitMemorySwap:
		return read("memory.memsw.limit_in_bytes")
	case l == LimitCPU && v2:
		return read("cpu.max")
	case l == LimitCPU:
		q, p, err := both("cpu.cfs_quota_us", "cpu.cfs_period_us")
		if q == "-1" {
			q = "max"
		}
		return q + " " + p, err
	case l == LimitPids:
		return read("pids.max")
	case l == LimitFrozen && v2:
		ev, err := read("cgroup.events")
		for _, line := range strings.Split(ev, "\n") {
			if v, ok := strings.CutPrefix(line, "frozen "); ok {
				return v, nil
			}
		}
		return "", fmt.Errorf("no frozen in %s/cgroup.events (%v)", dir, err)
	default:
		st, err := read("freezer.state")
		if st == "FROZEN" {
			return "1", err
		}
		return "0", err
	}
}
