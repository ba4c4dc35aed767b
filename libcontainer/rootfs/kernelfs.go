package rootfs

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// procfs and sysfs are mounted with the new mount API (fsopen, fsmount,
// move_mount; Linux 5.2, below the 5.10 floor) so that the runtime keeps a
// descriptor of the mount itself. The masked and read-only paths under them
// are then resolved beneath that descriptor, not by a path from the rootfs:
// a process that renames the rootfs's /proc directory while the container
// is set up (another container sharing the rootfs's directory, the race
// form of CVE-2019-19921) cannot make the masks land on an empty directory
// while the real procfs sits unmasked under another name. Where the new
// API is refused (a seccomp policy of an outer runtime, or an option it
// cannot express), the classic mount(2) is used and the masks resolve by
// path, checked after the mount as before.

// kernelMount is a procfs or sysfs mounted by fd.
type kernelMount struct {
	dest string // cleaned, absolute inside the rootfs
	fd   int    // the mount's root
}

// attrFlags are the mount(2) flags fsmount takes as mount attributes.
var attrFlags = map[uintptr]uint64{
	unix.MS_RDONLY: unix.MOUNT_ATTR_RDONLY, unix.MS_NOSUID: unix.MOUNT_ATTR_NOSUID,
	unix.MS_NODEV: unix.MOUNT_ATTR_NODEV, unix.MS_NOEXEC: unix.MOUNT_ATTR_NOEXEC,
	unix.MS_NOATIME: unix.MOUNT_ATTR_NOATIME, unix.MS_STRICTATIME: unix.MOUNT_ATTR_STRICTATIME,
	unix.MS_NODIRATIME: unix.MOUNT_ATTR_NODIRATIME, unix.MS_RELATIME: unix.MOUNT_ATTR_RELATIME,
}

// sbFlags are the mount(2) flags that are superblock flags, set with
// fsconfig by name.
var sbFlags = map[uintptr]string{
	unix.MS_SYNCHRONOUS: "sync", unix.MS_DIRSYNC: "dirsync", unix.MS_MANDLOCK: "mand",
	unix.MS_SILENT: "silent", unix.MS_LAZYTIME: "lazytime",
}

// errNoFdMount says the new mount API cannot express or was refused this
// mount; the caller falls back to mount(2).
var errNoFdMount = errors.New("not mountable by fd")

// newKernelFS makes a detached mount of a new typ file system with the
// flags and data options o and source (what mountinfo shows, as mount(2)
// would): the fd of its root.
func newKernelFS(typ, source string, o Options) (int, error) {
	var attr uint64
	var sb []string
	for f := uintptr(1); f != 0 && f <= o.Flags; f <<= 1 {
		if o.Flags&f == 0 {
			continue
		}
		if a, ok := attrFlags[f]; ok {
			attr |= a
		} else if name, ok := sbFlags[f]; ok {
			sb = append(sb, name)
		} else {
			return -1, errNoFdMount
		}
	}
	fs, err := unix.Fsopen(typ, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, errNoFdMount
	}
	defer unix.Close(fs)
	if source != "" {
		if err := unix.FsconfigSetString(fs, "source", source); err != nil {
			return -1, fmt.Errorf("source %s: %w", source, err)
		}
	}
	for _, name := range sb {
		if err := unix.FsconfigSetFlag(fs, name); err != nil {
			return -1, fmt.Errorf("option %s: %w", name, err)
		}
	}
	for _, opt := range strings.Split(o.Data, ",") {
		if opt == "" {
			continue
		}
		key, val, hasVal := strings.Cut(opt, "=")
		if hasVal {
			err = unix.FsconfigSetString(fs, key, val)
		} else {
			err = unix.FsconfigSetFlag(fs, key)
		}
		if err != nil {
			return -1, fmt.Errorf("option %s: %w", opt, err)
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		// A user namespace may not make this file system (sysfs without
		// its own network namespace): the caller's fallbacks apply.
		if errors.Is(err, unix.EPERM) {
			return -1, errNoFdMount
		}
		return -1, err
	}
	return unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, int(attr))
}

// mountKernelFS mounts a new typ file system on the directory fd target,
// by fd; the mount is recorded for the masks under dest. It returns
// errNoFdMount where the classic mount(2) must be used instead.
func (m *mounter) mountKernelFS(target int, dest, typ, source string, o Options) error {
	mfd, err := newKernelFS(typ, source, o)
	if err != nil {
		return err
	}
	if err := unix.MoveMount(mfd, "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		unix.Close(mfd)
		return fmt.Errorf("move_mount: %w", err)
	}
	for _, p := range o.Propagation {
		if err := unix.Mount("", fdPath(mfd), "", p, ""); err != nil {
			unix.Close(mfd)
			return fmt.Errorf("set propagation: %w", err)
		}
	}
	m.forgetKernelMounts(dest)
	m.kernel = append(m.kernel, kernelMount{dest: cleanDest(dest), fd: mfd})
	return nil
}

// forgetKernelMounts drops the recorded kernel mounts that a mount at dest
// covers: paths under them then resolve by path, to what is on top.
func (m *mounter) forgetKernelMounts(dest string) {
	dest = cleanDest(dest)
	kept := m.kernel[:0]
	for _, k := range m.kernel {
		if isUnder(k.dest, dest) {
			unix.Close(k.fd)
			continue
		}
		kept = append(kept, k)
	}
	m.kernel = kept
}

// openUnderKernelFS opens p beneath the recorded kernel mount that holds it
// (the deepest), never leaving that mount's tree; ok is false when p is
// under none of them.
func (m *mounter) openUnderKernelFS(p string) (fd int, ok bool, err error) {
	p = cleanDest(p)
	var best *kernelMount
	for i := range m.kernel {
		k := &m.kernel[i]
		if isUnder(p, k.dest) && (best == nil || len(k.dest) > len(best.dest)) {
			best = k
		}
	}
	if best == nil {
		return -1, false, nil
	}
	rel := strings.TrimLeft(strings.TrimPrefix(p, best.dest), "/")
	if rel == "" {
		rel = "."
	}
	fd, err = openat2(best.fd, rel, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	})
	return fd, true, err
}

// checkKernelMounts checks, after every mount and mask, that each kernel
// file system mounted by fd is still what its destination names in the
// rootfs (no symlink followed, same mount): a directory renamed meanwhile
// fails the create rather than leave the container without its /proc.
func (m *mounter) checkKernelMounts() error {
	for _, k := range m.kernel {
		fd, err := openat2(m.rootfd, strings.TrimLeft(k.dest, "/"), &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err != nil {
			return fmt.Errorf("%s changed while the container was set up: %w", k.dest, err)
		}
		same, err := sameMount(fd, k.fd)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("check %s: %w", k.dest, err)
		}
		if !same {
			return fmt.Errorf("%s changed while the container was set up: it is no longer the file system mounted there", k.dest)
		}
	}
	return nil
}

// sameMount reports whether a and b are the root of the same mount.
func sameMount(a, b int) (bool, error) {
	var sa, sb unix.Statx_t
	const mask = unix.STATX_MNT_ID | unix.STATX_INO
	if err := unix.Statx(a, "", unix.AT_EMPTY_PATH, mask, &sa); err != nil {
		return false, err
	}
	if err := unix.Statx(b, "", unix.AT_EMPTY_PATH, mask, &sb); err != nil {
		return false, err
	}
	return sa.Mnt_id == sb.Mnt_id && sa.Ino == sb.Ino, nil
}

func (m *mounter) closeKernelMounts() {
	for _, k := range m.kernel {
		unix.Close(k.fd)
	}
	m.kernel = nil
}

func cleanDest(p string) string { return filepath.Clean("/" + p) }

// isUnder reports whether p is dir or inside it (both cleaned).
func isUnder(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}
