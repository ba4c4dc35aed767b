// Package exeseal gives the container's init a copy of the Berth binary that
// nothing in the container can write to (CVE-2019-5736), without copying it:
// a detached, read-only bind mount of the binary file. A container process
// that reaches the binary through /proc/PID/exe gets EROFS, and the mount
// lives in no mount namespace, so the container cannot remount it. If the
// kernel lacks the new mount API, it falls back to a sealed memfd copy.
package exeseal

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Open returns an fd from which the init can be executed.
func Open() (*os.File, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, "/proc/self/exe", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err == nil {
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
		if err = unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err == nil {
			return os.NewFile(uintptr(fd), "berth-exe"), nil
		}
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
	fd, err := unix.MemfdCreate("berth-exe", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
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
