package kernel

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Probe asks the kernel whether it has f, without using it for real (for
// berth features; the runtime itself detects by use). A berth_kernel_floor
// build reports false for everything it disables.
func Probe(f Feature) bool {
	if missing[f].Load() {
		return false
	}
	switch f {
	case CloneIntoCgroup:
		return probeCloneIntoCgroup()
	case CloseRangeCloexec:
		// An empty range past every fd: 0 where the flag is known,
		// EINVAL where it is not.
		return unix.CloseRange(^uint(0), ^uint(0), unix.CLOSE_RANGE_CLOEXEC) == nil
	case MountSetattr:
		err := unix.MountSetattr(-1, "", 0, &unix.MountAttr{})
		return err != unix.ENOSYS
	case CgroupKill:
		return probeCgroupKill()
	case MemfdExec:
		fd, err := unix.MemfdCreate("berth-probe", unix.MFD_CLOEXEC|unix.MFD_EXEC)
		if err != nil {
			return false
		}
		unix.Close(fd)
		return true
	}
	return false
}

// cloneArgs is struct clone_args up to its cgroup field (CLONE_ARGS_SIZE_VER2).
type cloneArgs struct {
	flags, pidfd, childTID, parentTID, exitSignal, stack, stackSize, tls, setTID, setTIDSize, cgroup uint64
}

// probeCloneIntoCgroup calls clone3 with CLONE_INTO_CGROUP and a cgroup fd
// that cannot be open: EBADF means the kernel knows the flag (and no
// process is made); EINVAL that it does not; ENOSYS or EPERM that clone3
// is missing or filtered.
func probeCloneIntoCgroup() bool {
	args := cloneArgs{flags: unix.CLONE_INTO_CGROUP, exitSignal: uint64(unix.SIGCHLD), cgroup: 0x7fffffff}
	_, _, errno := unix.RawSyscall(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args), 0)
	return errno == unix.EBADF
}

// probeCgroupKill looks for cgroup.kill in the unified cgroup of this
// process (the root cgroup has none), or in a child of the root.
func probeCgroupKill() bool {
	root := "/sys/fs/cgroup"
	var st unix.Statfs_t
	if unix.Statfs(root, &st) != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		root = "/sys/fs/cgroup/unified"
	}
	if f, err := os.Open("/proc/self/cgroup"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if rest, ok := strings.CutPrefix(s.Text(), "0::"); ok && rest != "/" {
				if _, err := os.Stat(filepath.Join(root, rest, "cgroup.kill")); err == nil {
					f.Close()
					return true
				}
			}
		}
		f.Close()
	}
	dirs, _ := os.ReadDir(root)
	for _, d := range dirs {
		if d.IsDir() {
			_, err := os.Stat(filepath.Join(root, d.Name(), "cgroup.kill"))
			return err == nil
		}
	}
	// No cgroup to look in (an empty hierarchy): the release decides.
	return ReleaseAtLeast(5, 14)
}

// ReleaseAtLeast reports whether the running kernel is major.minor or
// newer. Only for behaviour no call can detect; features are detected by
// use.
func ReleaseAtLeast(major, minor int) bool { return releaseAtLeast(Release(), major, minor) }

// releaseAtLeast compares a release such as "6.1.0-50-amd64" with
// major.minor.
func releaseAtLeast(release string, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(release, "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}
