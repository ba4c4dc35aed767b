package console

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Device numbers and inode numbers that identify the genuine devpts objects.
// They are fixed by the kernel ABI (Documentation/admin-guide/devices.txt and
// fs/devpts/inode.c), so anything else found at these paths is an impostor.
const (
	ptmxMajor     = 5
	ptmxMinor     = 2
	ptmxIno       = 2
	ptsMajor      = 136 // UNIX98_PTY_SLAVE_MAJOR; devpts minors are 20 bits so it never changes.
	devptsMagic   = unix.DEVPTS_SUPER_MAGIC
	peerOpenFlags = unix.O_RDWR | unix.O_NOCTTY | unix.O_CLOEXEC
)

// AllocPty allocates a new pseudo-terminal from the devpts instance mounted
// at devpts (normally "/dev/pts", called from the container's init after
// pivot_root so that the container's own devpts instance is used).
//
// It returns the master, the peer (the "slave" end the container process will
// use as its terminal) and the peer's name as seen inside the container,
// "/dev/pts/N". Both files are close-on-exec; the caller decides what to
// pass on. The master's Name is the ptmx path it was opened from, which is
// what SendConsole transmits.
//
// The ptmx node and the peer are verified to be the real devpts objects
// (filesystem magic, device numbers, inode) before use, so a container that
// replaced them with symlinks, regular files or bind mounts from elsewhere
// gets an error instead of a terminal it controls.
func AllocPty(devpts string) (master *os.File, peer *os.File, name string, err error) {
	return allocPty(devpts, true)
}

// allocPty is AllocPty with the TIOCGPTPEER fast path optional, so tests can
// exercise the fallback used on kernels older than 4.13.
func allocPty(devpts string, usePeerIoctl bool) (master *os.File, peer *os.File, name string, err error) {
	ptmxPath := filepath.Join(devpts, "ptmx")

	// O_PATH|O_NOFOLLOW pins whatever is at the path without opening a
	// device or following a symlink, so the checks below and the reopen
	// that follows are guaranteed to see the same inode.
	pathFd, err := unix.Open(ptmxPath, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, "", &os.PathError{Op: "open", Path: ptmxPath, Err: err}
	}
	defer unix.Close(pathFd)

	ptmxStat, err := verifyPtmx(pathFd)
	if err != nil {
		return nil, nil, "", fmt.Errorf("%s: %w", ptmxPath, err)
	}

	// Reopening through the O_PATH descriptor's magic link opens exactly
	// the inode we verified; opening ptmxPath again would race with a swap.
	masterFd, err := unix.Open(fdPath(pathFd), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, "", fmt.Errorf("reopen %s: %w", ptmxPath, err)
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(masterFd)
		}
	}()

	// /proc itself is mounted by us, but checking the result costs two
	// syscalls and catches a /proc that is not what we think it is.
	if st, err := verifyPtmx(masterFd); err != nil {
		return nil, nil, "", fmt.Errorf("reopened %s: %w", ptmxPath, err)
	} else if st.Dev != ptmxStat.Dev || st.Ino != ptmxStat.Ino {
		return nil, nil, "", fmt.Errorf("reopened %s is a different inode", ptmxPath)
	}

	// New ptys start locked so nobody can open the peer before the master
	// owner is ready; we are ready.
	if err := unix.IoctlSetPointerInt(masterFd, unix.TIOCSPTLCK, 0); err != nil {
		return nil, nil, "", fmt.Errorf("unlockpt: %w", err)
	}
	n, err := unix.IoctlGetUint32(masterFd, unix.TIOCGPTN)
	if err != nil {
		return nil, nil, "", fmt.Errorf("ptsname: %w", err)
	}

	peerFd := -1
	if usePeerIoctl {
		peerFd, err = ptyPeer(masterFd)
		if err != nil && !errors.Is(err, unix.ENOTTY) && !errors.Is(err, unix.EINVAL) {
			return nil, nil, "", fmt.Errorf("ioctl TIOCGPTPEER: %w", err)
		}
	}
	if peerFd < 0 {
		// Kernels before 4.13 lack TIOCGPTPEER, so the peer has to be
		// opened by path. Use the devpts directory we were given (the same
		// instance as the master) and verify the result below.
		peerPath := filepath.Join(devpts, strconv.FormatUint(uint64(n), 10))
		peerFd, err = unix.Open(peerPath, peerOpenFlags|unix.O_NOFOLLOW, 0)
		if err != nil {
			return nil, nil, "", &os.PathError{Op: "open", Path: peerPath, Err: err}
		}
	}
	if err := verifyPeer(peerFd, n, uint64(ptmxStat.Dev)); err != nil {
		unix.Close(peerFd)
		return nil, nil, "", fmt.Errorf("pty peer %d: %w", n, err)
	}

	ok = true
	name = "/dev/pts/" + strconv.FormatUint(uint64(n), 10)
	return os.NewFile(uintptr(masterFd), ptmxPath), os.NewFile(uintptr(peerFd), name), name, nil
}

// ptyPeer opens the peer of a pty master without any path lookup.
func ptyPeer(masterFd int) (int, error) {
	// x/sys has no wrapper for an ioctl that takes an int by value and
	// returns a new descriptor, hence the raw syscall.
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(masterFd), uintptr(unix.TIOCGPTPEER), uintptr(peerOpenFlags))
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// verifyPtmx checks that fd is the ptmx node of a devpts instance.
func verifyPtmx(fd int) (*unix.Stat_t, error) {
	if err := onDevpts(fd); err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("fstat: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return nil, fmt.Errorf("not a character device (mode %#o)", st.Mode)
	}
	rdev := uint64(st.Rdev)
	if unix.Major(rdev) != ptmxMajor || unix.Minor(rdev) != ptmxMinor || st.Ino != ptmxIno {
		return nil, fmt.Errorf("not the devpts ptmx node (dev %d:%d ino %d)", unix.Major(rdev), unix.Minor(rdev), st.Ino)
	}
	return &st, nil
}

// verifyPeer checks that fd is pts number n on the devpts instance dev.
func verifyPeer(fd int, n uint32, dev uint64) error {
	if err := onDevpts(fd); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("fstat: %w", err)
	}
	rdev := uint64(st.Rdev)
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(rdev) != ptsMajor || unix.Minor(rdev) != n {
		return fmt.Errorf("not /dev/pts/%d (mode %#o dev %d:%d)", n, st.Mode, unix.Major(rdev), unix.Minor(rdev))
	}
	// A pts node from another devpts instance (for example the host's,
	// bind-mounted in) would have the right numbers but the wrong owner.
	if uint64(st.Dev) != dev {
		return errors.New("peer is not on the same devpts instance as ptmx")
	}
	return nil
}

func onDevpts(fd int) error {
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(fd, &sfs); err != nil {
		return fmt.Errorf("fstatfs: %w", err)
	}
	if uint64(sfs.Type) != devptsMagic {
		return fmt.Errorf("not on devpts (fs type %#x)", sfs.Type)
	}
	return nil
}

// fdPath names fd through procfs, which is how Linux lets an O_PATH
// descriptor be reopened or used as a mount source or target.
func fdPath(fd int) string {
	return "/proc/thread-self/fd/" + strconv.Itoa(fd)
}

// withFd runs fn on f's descriptor without f.Fd()'s side effect of switching
// a pollable file to blocking mode, and keeps f alive while fn runs.
func withFd(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var fnErr error
	if err := rc.Control(func(fd uintptr) { fnErr = fn(int(fd)) }); err != nil {
		return err
	}
	return fnErr
}
