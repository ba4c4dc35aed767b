package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// Every file the runtime makes inside the rootfs (mount targets, device
// nodes) is made relative to a directory handle that was opened inside the
// root, with no symlink followed at the step that creates, chmods or chowns:
// a rootfs or volume that another container shares cannot swap a path
// component between the check and the use (CVE-2024-45310, CVE-2021-30465,
// CVE-2025-31133 / 52565 / 52881). The walk that creates missing
// directories is filepath-securejoin's pathrs-lite MkdirAllHandle, which
// resolves inside the root and hands back an O_PATH handle of what it made
// (see docs/security.md for why a library and not our own walker).

// rootHandle returns the rootfs as an *os.File for pathrs-lite: a dup of
// rootfd that the mounter owns (a File closes its fd when it is collected).
func (m *mounter) rootHandle() *os.File { return m.root }

// mkdirAll creates dir inside the rootfs as needed and returns an O_PATH
// handle of it.
func (m *mounter) mkdirAll(dir string) (*os.File, error) {
	return pathrs.MkdirAllHandle(m.rootHandle(), dir, 0o755)
}

// parentOf returns a handle of p's parent directory inside the rootfs
// (created as needed) and p's last component.
func (m *mounter) parentOf(p string) (*os.File, string, error) {
	clean := filepath.Clean("/" + p)
	base := filepath.Base(clean)
	if clean == "/" || base == "." || base == ".." {
		return nil, "", fmt.Errorf("%q names no file inside the rootfs", p)
	}
	dir, err := m.mkdirAll(filepath.Dir(clean))
	if err != nil {
		return nil, "", err
	}
	return dir, base, nil
}

// createFileAt makes an empty regular file base in dir if nothing is there
// (a symlink there is never followed).
func createFileAt(dir *os.File, base string) error {
	fd, err := unix.Openat(int(dir.Fd()), base, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

// resolvedParent is parentOf for p resolved inside the rootfs first
// (SecureJoin: symlinks followed lexically, never out of the root).
func (m *mounter) resolvedParent(p string) (*os.File, string, error) {
	target, err := m.inRoot(p)
	if err != nil {
		return nil, "", err
	}
	return m.parentOf(target)
}

// inRoot is p resolved inside the rootfs, relative to it.
func (m *mounter) inRoot(p string) (string, error) {
	target, err := m.resolve(p)
	if err != nil {
		return "", err
	}
	return filepath.Rel(m.c.Rootfs, target)
}
