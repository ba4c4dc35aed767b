package console

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// MountConsole makes /dev/console (inside the container, after pivot_root)
// refer to peer by bind-mounting the peer descriptor onto it, creating
// /dev/console as an empty 0600 file first if it does not exist.
//
// The mount source is the already-verified peer descriptor and the target is
// an O_PATH descriptor of /dev/console, so a container that swaps
// /dev/pts/N or /dev/console for a symlink cannot redirect the mount to a
// file of its choosing.
//
// peer must come from a devpts mounted in the caller's mount namespace (as
// AllocPty("/dev/pts") in the container's init gives): the kernel refuses,
// with EINVAL, to bind a mount that belongs to another namespace.
func MountConsole(peer *os.File) error {
	return mountConsoleAt(peer, "/dev/console")
}

func mountConsoleAt(peer *os.File, path string) error {
	// O_EXCL means an existing /dev/console, whatever it is, is never
	// opened (opening a device has side effects) and never followed.
	fd, err := unix.Open(path, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC, 0o600)
	if err == nil {
		unix.Close(fd)
	} else if !errors.Is(err, unix.EEXIST) {
		return &os.PathError{Op: "create", Path: path, Err: err}
	}

	target, err := unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(target)

	// With O_NOFOLLOW an O_PATH open of a symlink succeeds and returns the
	// link itself; mounting on that would follow it, so refuse. Only a
	// file or a device node is a sensible console mount point.
	var st unix.Stat_t
	if err := unix.Fstat(target, &st); err != nil {
		return &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if m := st.Mode & unix.S_IFMT; m != unix.S_IFREG && m != unix.S_IFCHR {
		return fmt.Errorf("%s: refusing to mount console over file of mode %#o", path, st.Mode)
	}

	return withFd(peer, func(src int) error {
		treeErr := bindViaOpenTree(src, target)
		if treeErr == nil {
			return nil
		}
		// open_tree/move_mount need Linux 5.2 and may be refused where a
		// classic bind mount is not; the procfs form is equally
		// descriptor-based, just older.
		if procErr := bindViaProc(src, target); procErr != nil {
			return fmt.Errorf("bind console onto %s: open_tree: %v; mount: %w", path, treeErr, procErr)
		}
		return nil
	})
}

// bindViaOpenTree clones a mount of exactly the inode src refers to and
// attaches it on target, with no path resolution at all.
func bindViaOpenTree(src, target int) error {
	tree, err := unix.OpenTree(src, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	if err != nil {
		return fmt.Errorf("open_tree: %w", err)
	}
	defer unix.Close(tree)
	if err := unix.MoveMount(tree, "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	return nil
}

// bindViaProc bind-mounts src onto target through their /proc/self/fd magic
// links, which resolve to the open files rather than to whatever their
// original paths now name.
func bindViaProc(src, target int) error {
	if err := unix.Mount(fdPath(src), fdPath(target), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("mount: %w", err)
	}
	return nil
}

// SetupStdio makes peer the calling process's stdin, stdout and stderr and
// its controlling terminal. The caller must already be a session leader
// without a controlling terminal (setsid), as the container's init is.
// The new descriptors 0-2 are not close-on-exec, so they survive the exec of
// the container process; peer itself may be closed afterwards.
func SetupStdio(peer *os.File) error {
	return withFd(peer, func(fd int) error {
		for i := 0; i <= 2; i++ {
			if fd == i {
				// dup3 rejects equal descriptors; clearing FD_CLOEXEC
				// gives the same result.
				if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
					return fmt.Errorf("clear close-on-exec on fd %d: %w", fd, err)
				}
				continue
			}
			if err := unix.Dup3(fd, i, 0); err != nil {
				return fmt.Errorf("dup3 %d to %d: %w", fd, i, err)
			}
		}
		// Argument 0: never steal a terminal that is already some other
		// session's controlling terminal.
		if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
			return fmt.Errorf("ioctl TIOCSCTTY: %w", err)
		}
		return nil
	})
}
