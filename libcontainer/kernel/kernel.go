// Package kernel is the one place that knows which kernel APIs Berth uses
// beyond the oldest kernel it supports (Floor), the release that added each,
// and what Berth does on a kernel (or under a seccomp filter) without it:
// either a fallback that keeps every guarantee, or a one-line error that
// names the missing feature and the release that has it.
//
// Detection is by use, not by version number: a call that fails with
// ENOSYS (or EINVAL for a flag the kernel does not know) takes the fallback
// and the process remembers it. Distribution kernels backport features, and
// a container manager's seccomp profile can hide a syscall (docker's default
// profile answers clone3 with ENOSYS), so a version check would be wrong in
// both directions.
//
// Built with the tag berth_kernel_floor, every feature newer than Floor
// reports itself missing without being tried, so the fallbacks run on any
// kernel: that is how the tests force them (make integration-floor).
package kernel

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Floor is the oldest kernel release Berth supports (Debian 11, Amazon
// Linux 2, RHEL 9's 5.14 and everything newer are above it). Everything
// Berth cannot do without is at most this old; see docs/design.md.
const Floor = "5.10"

// Feature is a kernel API newer than Floor, or one that a seccomp filter
// around the runtime may refuse, that Berth has a fallback for.
type Feature int

const (
	// CloneIntoCgroup is clone3 with CLONE_INTO_CGROUP (5.7): the init is
	// born inside its cgroup. Without it the runtime moves the process in
	// (cgroup.procs) before it has its configuration, before it can fork.
	CloneIntoCgroup Feature = iota
	// CloseRangeCloexec is close_range with CLOSE_RANGE_CLOEXEC (5.11).
	// Without it every fd is marked close-on-exec one by one from
	// /proc/self/fd.
	CloseRangeCloexec
	// MountSetattr is mount_setattr (5.12). Without it the init's binary is
	// sealed as a memfd copy, readonlyPaths are made read-only with a bind
	// remount of their top mount (as runc does), and the mount options
	// that only it can apply (rro, idmap) are an error naming it.
	MountSetattr
	// CgroupKill is cgroup.kill (5.14). Without it delete -f freezes the
	// cgroup and signals its processes one by one.
	CgroupKill
	// MemfdExec is memfd_create's MFD_EXEC (6.3): an executable memfd
	// under vm.memfd_noexec=1. Older kernels do not know the flag and
	// every memfd is executable there.
	MemfdExec
	numFeatures
)

// Info describes a Feature for features and docs.
type Info struct {
	Name    string `json:"name"`
	API     string `json:"api"`
	Since   string `json:"since"`
	Without string `json:"without"`
}

var infos = [numFeatures]Info{
	CloneIntoCgroup:   {"clone-into-cgroup", "clone3(CLONE_INTO_CGROUP)", "5.7", "the runtime moves the process into its cgroup before it is configured"},
	CloseRangeCloexec: {"close-range-cloexec", "close_range(CLOSE_RANGE_CLOEXEC)", "5.11", "fds are marked close-on-exec one by one from /proc/self/fd"},
	MountSetattr:      {"mount-setattr", "mount_setattr(2)", "5.12", "sealed memfd copy of the binary, runc-style read-only remount of readonlyPaths; rro and idmap mounts refused"},
	CgroupKill:        {"cgroup-kill", "cgroup.kill", "5.14", "delete -f freezes the cgroup and kills each process"},
	MemfdExec:         {"memfd-exec", "memfd_create(MFD_EXEC)", "6.3", "memfd_create without the flag (every memfd is executable before 6.3)"},
}

// Features lists every Feature with whether this process found it.
func Features() []Info { return infos[:] }

// missing[f] is set once f was found absent (or is disabled by the build).
var missing [numFeatures]atomic.Bool

func init() {
	for _, f := range floorDisabled {
		missing[f].Store(true)
	}
}

// Has reports whether f has not been found missing (so it is worth trying).
func Has(f Feature) bool { return !missing[f].Load() }

// Lacks records that a call needing f failed with err, and reports
// whether err means the kernel (or a seccomp filter) lacks f, so the
// caller should take its fallback. Any other error is the caller's to
// report.
func Lacks(f Feature, err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) ||
		(f != CloneIntoCgroup && errors.Is(err, unix.EINVAL)) ||
		(f == CloneIntoCgroup && errors.Is(err, unix.EPERM)) {
		missing[f].Store(true)
		return true
	}
	return false
}

// Name returns f's name as features and the docs print it.
func (f Feature) Name() string { return infos[f].Name }

// Require wraps err, from a call that needs an API without a fallback
// (since the given release), into one line naming the API, the release
// and this kernel's, when err says the kernel lacks it; otherwise it
// returns err unchanged.
func Require(api, since string, err error) error {
	if err == nil || !(errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP)) {
		return err
	}
	return fmt.Errorf("%s needs Linux %s or later (this kernel is %s; Berth supports %s and later): %w", api, since, Release(), Floor, err)
}

// Release is the running kernel's release (uname -r).
func Release() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return "unknown"
	}
	return strings.TrimRight(string(u.Release[:]), "\x00")
}

// FloorBuild reports whether this binary was built with berth_kernel_floor.
func FloorBuild() bool { return len(floorDisabled) > 0 }
