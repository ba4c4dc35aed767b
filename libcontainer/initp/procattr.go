package initp

// Process attributes of runtime-spec 1.1+ applied by the init just before
// the container's program: process.scheduler (sched_setattr),
// process.ioPriority (ioprio_set) and process.execCPUAffinity
// (sched_setaffinity). The same code runs for create and exec. Validation
// (names, ranges) is in ParseScheduler and friends, which the runtime
// calls first so that bad values fail create or exec with the field's
// name before anything exists.

import (
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

var schedPolicies = map[specs.LinuxSchedulerPolicy]uint32{
	specs.SchedOther: 0, specs.SchedFIFO: 1, specs.SchedRR: 2, specs.SchedBatch: 3,
	specs.SchedISO: 4, specs.SchedIdle: 5, specs.SchedDeadline: 6,
}

var schedFlags = map[specs.LinuxSchedulerFlag]uint64{
	specs.SchedFlagResetOnFork: 0x01, specs.SchedFlagReclaim: 0x02, specs.SchedFlagDLOverrun: 0x04,
	specs.SchedFlagKeepPolicy: 0x08, specs.SchedFlagKeepParams: 0x10, specs.SchedFlagUtilClampMin: 0x20,
	specs.SchedFlagUtilClampMax: 0x40,
}

// ParseScheduler turns process.scheduler into sched_setattr's attributes.
func ParseScheduler(s *specs.Scheduler) (*unix.SchedAttr, error) {
	pol, ok := schedPolicies[s.Policy]
	if !ok {
		return nil, fmt.Errorf("process.scheduler: unknown policy %q", s.Policy)
	}
	a := &unix.SchedAttr{Policy: pol, Nice: s.Nice, Priority: uint32(s.Priority),
		Runtime: s.Runtime, Deadline: s.Deadline, Period: s.Period}
	if s.Priority < 0 || s.Nice < -20 || s.Nice > 19 {
		return nil, fmt.Errorf("process.scheduler: priority %d or nice %d out of range", s.Priority, s.Nice)
	}
	for _, f := range s.Flags {
		v, ok := schedFlags[f]
		if !ok {
			return nil, fmt.Errorf("process.scheduler: unknown flag %q", f)
		}
		a.Flags |= v
	}
	return a, nil
}

var ioprioClasses = map[specs.IOPriorityClass]uintptr{
	specs.IOPRIO_CLASS_RT: 1, specs.IOPRIO_CLASS_BE: 2, specs.IOPRIO_CLASS_IDLE: 3,
}

// ParseIOPriority turns process.ioPriority into ioprio_set's value.
func ParseIOPriority(p *specs.LinuxIOPriority) (uintptr, error) {
	class, ok := ioprioClasses[p.Class]
	if !ok {
		return 0, fmt.Errorf("process.ioPriority: unknown class %q", p.Class)
	}
	if p.Priority < 0 || p.Priority > 7 {
		return 0, fmt.Errorf("process.ioPriority: priority %d is not 0-7", p.Priority)
	}
	return class<<13 | uintptr(p.Priority), nil
}

// ParseCPUList parses a cpu list ("0-3,7") of process.execCPUAffinity.
func ParseCPUList(list string) (*unix.CPUSet, error) {
	var set unix.CPUSet
	if strings.TrimSpace(list) == "" {
		return nil, fmt.Errorf("process.execCPUAffinity: empty cpu list")
	}
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 0 || b < a || b >= 1024 {
			return nil, fmt.Errorf("process.execCPUAffinity: bad cpu list %q", list)
		}
		for c := a; c <= b; c++ {
			set.Set(c)
		}
	}
	return &set, nil
}

// CheckProcessAttrs validates the three fields (the runtime calls it for
// create and exec).
func CheckProcessAttrs(p *specs.Process) error {
	if p == nil {
		return nil
	}
	if p.Scheduler != nil {
		if _, err := ParseScheduler(p.Scheduler); err != nil {
			return err
		}
	}
	if p.IOPriority != nil {
		if _, err := ParseIOPriority(p.IOPriority); err != nil {
			return err
		}
	}
	if a := p.ExecCPUAffinity; a != nil {
		for _, l := range []string{a.Initial, a.Final} {
			if l == "" {
				continue
			}
			if _, err := ParseCPUList(l); err != nil {
				return err
			}
		}
	}
	return nil
}

// applyInitialAffinity sets execCPUAffinity.initial, as early as the init
// can (runtime-spec: the affinity the process starts with).
func applyInitialAffinity(p *specs.Process) error {
	if p == nil || p.ExecCPUAffinity == nil || p.ExecCPUAffinity.Initial == "" {
		return nil
	}
	return setAffinity(p.ExecCPUAffinity.Initial)
}

// applyProcessAttrs applies scheduler, ioPriority and the final affinity
// to the calling thread, the one that execs the program, while it still
// has the privileges they may need.
func applyProcessAttrs(p *specs.Process) error {
	if p.Scheduler != nil {
		a, err := ParseScheduler(p.Scheduler)
		if err != nil {
			return err
		}
		if err := unix.SchedSetAttr(0, a, 0); err != nil {
			return fmt.Errorf("process.scheduler: sched_setattr: %w", err)
		}
	}
	if p.IOPriority != nil {
		v, err := ParseIOPriority(p.IOPriority)
		if err != nil {
			return err
		}
		const whoProcess = 1 // IOPRIO_WHO_PROCESS
		if _, _, e := unix.RawSyscall(unix.SYS_IOPRIO_SET, whoProcess, 0, v); e != 0 {
			return fmt.Errorf("process.ioPriority: ioprio_set: %w", e)
		}
	}
	if a := p.ExecCPUAffinity; a != nil && a.Final != "" {
		return setAffinity(a.Final)
	}
	return nil
}

func setAffinity(list string) error {
	set, err := ParseCPUList(list)
	if err != nil {
		return err
	}
	if err := unix.SchedSetaffinity(0, set); err != nil {
		return fmt.Errorf("process.execCPUAffinity %q: sched_setaffinity: %w", list, err)
	}
	return nil
}

// Kernel values of linux.memoryPolicy (include/uapi/linux/mempolicy.h).
var mpolModes = map[specs.MemoryPolicyModeType]uintptr{
	specs.MpolDefault: 0, specs.MpolPreferred: 1, specs.MpolBind: 2, specs.MpolInterleave: 3,
	specs.MpolLocal: 4, specs.MpolPreferredMany: 5, specs.MpolWeightedInterleave: 6,
}

var mpolFlags = map[specs.MemoryPolicyFlagType]uintptr{
	specs.MpolFStaticNodes: 1 << 15, specs.MpolFRelativeNodes: 1 << 14, specs.MpolFNumaBalancing: 1 << 13,
}

// MemoryPolicyModes and MemoryPolicyFlags are the linux.memoryPolicy
// names Berth knows, for `berth features`.
func MemoryPolicyModes() []string { return sortedKeys(mpolModes) }

// MemoryPolicyFlags: see MemoryPolicyModes.
func MemoryPolicyFlags() []string { return sortedKeys(mpolFlags) }

func sortedKeys[K ~string, V any](m map[K]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, string(k))
	}
	sort.Strings(out)
	return out
}

// ParseMemoryPolicy turns linux.memoryPolicy into set_mempolicy's mode
// (with its flags) and node mask.
func ParseMemoryPolicy(p *specs.LinuxMemoryPolicy) (mode uintptr, nodes []uint64, err error) {
	mode, ok := mpolModes[p.Mode]
	if !ok {
		return 0, nil, fmt.Errorf("linux.memoryPolicy: unknown mode %q", p.Mode)
	}
	for _, f := range p.Flags {
		v, ok := mpolFlags[f]
		if !ok {
			return 0, nil, fmt.Errorf("linux.memoryPolicy: unknown flag %q", f)
		}
		mode |= v
	}
	if p.Nodes == "" {
		if p.Mode != specs.MpolDefault && p.Mode != specs.MpolLocal {
			return 0, nil, fmt.Errorf("linux.memoryPolicy: mode %s needs nodes", p.Mode)
		}
		return mode, nil, nil
	}
	set, err := ParseCPUList(p.Nodes)
	if err != nil {
		return 0, nil, fmt.Errorf("linux.memoryPolicy: bad nodes %q", p.Nodes)
	}
	nodes = make([]uint64, 16) // 1024 nodes, as ParseCPUList's range
	for n := 0; n < 1024; n++ {
		if set.IsSet(n) {
			nodes[n/64] |= 1 << (n % 64)
		}
	}
	return mode, nodes, nil
}

// applyMemoryPolicy sets linux.memoryPolicy on the calling thread; execve
// keeps it for the container's program.
func applyMemoryPolicy(p *specs.LinuxMemoryPolicy) error {
	if p == nil {
		return nil
	}
	mode, nodes, err := ParseMemoryPolicy(p)
	if err != nil {
		return err
	}
	var ptr, max uintptr
	if nodes != nil {
		ptr, max = uintptr(unsafe.Pointer(&nodes[0])), uintptr(len(nodes)*64+1)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SET_MEMPOLICY, mode, ptr, max); e != 0 {
		return fmt.Errorf("linux.memoryPolicy: set_mempolicy: %w", e)
	}
	runtime.KeepAlive(nodes)
	return nil
}
