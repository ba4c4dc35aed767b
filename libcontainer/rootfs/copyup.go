package rootfs

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// copyTree copies the contents of the directory src into the directory dst
// (both open fds), keeping each entry's type, owner and exact mode, as
// runc's tmpcopyup does. Every entry is opened relative to its parent with
// O_NOFOLLOW: a symlink in the image is copied, never followed.
func copyTree(src, dst int) error {
	dup, err := unix.Dup(src)
	if err != nil {
		return err
	}
	dir := os.NewFile(uintptr(dup), "copyup-source")
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, name := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(src, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("stat %s: %w", name, err)
		}
		if err := copyEntry(src, dst, name, &st); err != nil {
			return fmt.Errorf("copy %s: %w", name, err)
		}
	}
	return nil
}

// copyEntry copies the entry name of src, whose stat is st, into dst.
func copyEntry(src, dst int, name string, st *unix.Stat_t) error {
	const openFlags = unix.O_NOFOLLOW | unix.O_CLOEXEC
	mode := st.Mode & 0o7777
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		if err := unix.Mkdirat(dst, name, 0o700); err != nil {
			return err
		}
		s, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_DIRECTORY|openFlags, 0)
		if err != nil {
			return err
		}
		defer unix.Close(s)
		d, err := unix.Openat(dst, name, unix.O_RDONLY|unix.O_DIRECTORY|openFlags, 0)
		if err != nil {
			return err
		}
		defer unix.Close(d)
		if err := copyTree(s, d); err != nil {
			return err
		}
		return ownAndMode(d, st)
	case unix.S_IFREG:
		s, err := unix.Openat(src, name, unix.O_RDONLY|openFlags, 0)
		if err != nil {
			return err
		}
		sf := os.NewFile(uintptr(s), name)
		defer sf.Close()
		d, err := unix.Openat(dst, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|openFlags, 0o600)
		if err != nil {
			return err
		}
		df := os.NewFile(uintptr(d), name)
		defer df.Close()
		if _, err := io.Copy(df, sf); err != nil {
			return err
		}
		return ownAndMode(d, st)
	case unix.S_IFLNK:
		target, err := readlinkat(src, name)
		if err != nil {
			return err
		}
		if err := unix.Symlinkat(target, dst, name); err != nil {
			return err
		}
		return unix.Fchownat(dst, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW)
	default: // devices, fifos, sockets
		if err := unix.Mknodat(dst, name, st.Mode, int(st.Rdev)); err != nil {
			return err
		}
		if err := unix.Fchownat(dst, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		return unix.Fchmodat(dst, name, mode, 0)
	}
}

// ownAndMode gives fd st's owner, then its mode (chown clears set-id bits).
func ownAndMode(fd int, st *unix.Stat_t) error {
	if err := unix.Fchown(fd, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	return unix.Fchmod(fd, st.Mode&0o7777)
}

// readlinkat reads the symlink name in dir.
func readlinkat(dir int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dir, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}
