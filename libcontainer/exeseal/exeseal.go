// Package exeseal gives the container's init a copy of the Berth binary that
// nothing in the container can write to (CVE-2019-5736), without copying it:
// a detached, read-only bind mount of the binary file. A container process
// that reaches the binary through /proc/PID/exe gets EROFS, and the mount
// lives in no mount namespace, so the container cannot remount it.
//
// The mount needs open_tree (5.2) and mount_setattr (5.12). Where either is
// missing (kernel 5.10/5.11, or a seccomp filter around the runtime), or
// refused (no CAP_SYS_ADMIN), the binary is copied into a sealed memfd
// instead: write, grow and shrink seals make it just as immutable, at the
// cost of one copy per create or exec (see docs/design.md for the figure).
package exeseal

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/libcontainer/kernel"
)

// Open returns an fd from which the init can be executed.
func Open() (*os.File, error) {
	if !kernel.Has(kernel.MountSetattr) {
		return memfdCopy()
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, "/proc/self/exe", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err == nil {
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
		err = unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr)
		if err == nil {
			return os.NewFile(uintptr(fd), "berth-exe"), nil
		}
		kernel.Lacks(kernel.MountSetattr, err)
		unix.Close(fd)
	}
	return memfdCopy()
}

// memfdCopy copies the binary into a sealed memfd.
func memfdCopy() (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	defer src.Close()
	fd, err := memfdCreate("berth-exe", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("seal berth binary: %w", err)
	}
	f := os.NewFile(uintptr(fd), "berth-exe")
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal berth binary: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal berth binary: %w", err)
	}
	return f, nil
}

// memfdCreate makes an executable memfd: with MFD_EXEC where the kernel
// knows it (6.3+, needed under vm.memfd_noexec=1), else without, as every
// memfd of an older kernel is executable.
func memfdCreate(name string, flags int) (int, error) {
	if kernel.Has(kernel.MemfdExec) {
		fd, err := unix.MemfdCreate(name, flags|unix.MFD_EXEC)
		if !kernel.Lacks(kernel.MemfdExec, err) {
			return fd, err
		}
	}
	return unix.MemfdCreate(name, flags)
}
