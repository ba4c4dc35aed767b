// Package nskind is the one table of Linux namespace kinds: the
// runtime-spec type, the clone flag and the /proc/PID/ns entries. Every
// other place (validation, the plan, exec's joins, the runtime's own
// setns) looks namespaces up here.
package nskind

import (
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Kind is one namespace kind.
type Kind struct {
	Type specs.LinuxNamespaceType
	Flag uintptr
	// Proc is its /proc/PID/ns entry; Own is the entry that names the
	// calling thread's current one to come back to after a setns (the
	// *_for_children entries for pid and time, whose setns only affects
	// children).
	Proc, Own string
}

// All lists every kind runtime-spec defines for Linux.
var All = []Kind{
	{specs.PIDNamespace, unix.CLONE_NEWPID, "pid", "pid_for_children"},
	{specs.NetworkNamespace, unix.CLONE_NEWNET, "net", "net"},
	{specs.MountNamespace, unix.CLONE_NEWNS, "mnt", "mnt"},
	{specs.IPCNamespace, unix.CLONE_NEWIPC, "ipc", "ipc"},
	{specs.UTSNamespace, unix.CLONE_NEWUTS, "uts", "uts"},
	{specs.UserNamespace, unix.CLONE_NEWUSER, "user", "user"},
	{specs.CgroupNamespace, unix.CLONE_NEWCGROUP, "cgroup", "cgroup"},
	{specs.TimeNamespace, unix.CLONE_NEWTIME, "time", "time_for_children"},
}

// ByType finds the kind of a runtime-spec namespace type.
func ByType(t specs.LinuxNamespaceType) (Kind, bool) {
	for _, k := range All {
		if k.Type == t {
			return k, true
		}
	}
	return Kind{}, false
}

// ByFlag finds the kind of a clone flag.
func ByFlag(flag uintptr) (Kind, bool) {
	for _, k := range All {
		if k.Flag == flag {
			return k, true
		}
	}
	return Kind{}, false
}

// Flag is the clone flag of t (0 for an unknown type, which validation
// refuses first).
func Flag(t specs.LinuxNamespaceType) uintptr {
	k, _ := ByType(t)
	return k.Flag
}

// Types lists the runtime-spec type names of every kind, sorted, for
// `berth features`.
func Types() []string {
	out := make([]string, 0, len(All))
	for _, k := range All {
		out = append(out, string(k.Type))
	}
	sort.Strings(out)
	return out
}
