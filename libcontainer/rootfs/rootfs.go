// Package rootfs builds a container's file system view inside its new mount
// namespace: it mounts every entry of config.json under the rootfs, creates
// /dev, switches root with pivot_root, and then masks and write-protects
// paths. Every destination is resolved inside the rootfs (a symlink can never
// lead a mount out of it) and mounted through a file descriptor, not a path
// that could be swapped afterwards.
package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/libcontainer/kernel"
	"github.com/berth-runtime/berth/libcontainer/rootless"
)

// Config is what the rootfs setup needs to know.
type Config struct {
	Spec    *specs.Spec
	Rootfs  string
	NoPivot bool
	// UserNS is true when the init is in a user namespace other than the
	// host's: device nodes cannot be created there and are bind-mounted.
	UserNS bool
	// CgroupNS is true when the container has its own cgroup namespace.
	CgroupNS bool
	// CgroupPaths are the container's cgroup directories on the host.
	CgroupPaths map[string]string
	// MountFds are, per spec mount, an fd of a detached copy of a bind
	// source made by the runtime (0: mount the source path).
	MountFds []int
	// BeforePivot runs once everything is mounted, in the container's
	// namespaces, before the root is switched (the createRuntime and
	// createContainer hooks' moment).
	BeforePivot func() error
}

// Prepare mounts everything under the rootfs, masks and write-protects
// paths, and switches to it. devNull is an fd of the host's /dev/null,
// verified by OpenDevNull.
func Prepare(c *Config, devNull int) error {
	if err := checkHostProc(); err != nil {
		return err
	}
	prop := uintptr(unix.MS_SLAVE | unix.MS_REC)
	if p := c.Spec.Linux.RootfsPropagation; p != "" {
		f, ok := PropagationFlag(p)
		if !ok {
			return fmt.Errorf("unknown rootfsPropagation %q", p)
		}
		prop = f
	}
	if err := unix.Mount("", "/", "", prop, ""); err != nil {
		return fmt.Errorf("set propagation of /: %w", err)
	}
	// pivot_root refuses a new root whose parent mount is shared (a shared
	// rootfsPropagation makes it so): make just that mount private.
	if err := makeParentMountPrivate(c.Rootfs); err != nil {
		return err
	}
	// The rootfs must be a mount point for pivot_root, and a private one so
	// that nothing mounted under it propagates back to the host.
	if err := unix.Mount(c.Rootfs, c.Rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind rootfs %s onto itself: %w", c.Rootfs, err)
	}
	if err := unix.Mount("", c.Rootfs, "", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make rootfs private: %w", err)
	}
	m, err := openMounter(c)
	if err != nil {
		return err
	}
	defer m.release()
	for i := range c.Spec.Mounts {
		m.cur = i
		if err := m.mount(&c.Spec.Mounts[i]); err != nil {
			return err
		}
	}
	defaultDev := needsDefaultDev(c.Spec)
	if defaultDev {
		if err := m.createDevices(defaultDevices, true); err != nil {
			return err
		}
	}
	if err := m.createDevices(c.Spec.Linux.Devices, false); err != nil {
		return err
	}
	// The links come after the config's devices (runc's order): a config
	// listing /dev/ptmx (a privileged container gets every host device)
	// must not have it resolved through the pts/ptmx link onto devpts.
	if defaultDev {
		if err := m.devSymlinks(); err != nil {
			return err
		}
	}
	if o := m.devReadonly; o != nil {
		if c.Spec.Process != nil && c.Spec.Process.Terminal {
			// The console is bound onto /dev/console later, inside the
			// container: the file must exist before /dev is read-only.
			fd, err := m.openDest("/dev/console", true)
			if err != nil {
				return fmt.Errorf("create /dev/console: %w", err)
			}
			unix.Close(fd)
		}
		if err := m.remount("/dev", *o); err != nil {
			return fmt.Errorf("make /dev read-only: %w", err)
		}
	}
	if c.BeforePivot != nil {
		if err := c.BeforePivot(); err != nil {
			return err
		}
	}
	// Masking happens before the root switch, with the host's verified
	// /dev/null and targets resolved inside the rootfs (crun's order): no
	// path the container controls is trusted.
	for _, p := range c.Spec.Linux.ReadonlyPaths {
		if err := m.readonlyPath(p); err != nil {
			return err
		}
	}
	for _, p := range c.Spec.Linux.MaskedPaths {
		if err := m.maskPath(p, devNull); err != nil {
			return err
		}
	}
	if err := m.checkKernelMounts(); err != nil {
		return err
	}
	if c.NoPivot {
		return moveRoot(c.Rootfs)
	}
	return pivotRoot(c.Rootfs)
}

// Finish does what must happen inside the new root: rootfsPropagation and
// root.readonly.
func Finish(c *Config) error {
	if p := c.Spec.Linux.RootfsPropagation; p != "" {
		f, _ := PropagationFlag(p)
		if err := unix.Mount("", "/", "", f, ""); err != nil {
			return fmt.Errorf("set rootfsPropagation %s: %w", p, err)
		}
	}
	if c.Spec.Root.Readonly {
		if err := remountReadonly("/", false); err != nil {
			return fmt.Errorf("make root read-only: %w", err)
		}
	}
	return nil
}

type mounter struct {
	c      *Config
	rootfd int
	// root is rootfd as a File for pathrs-lite (see rootHandle).
	root *os.File
	// kernel are the procfs and sysfs mounts made by fd (kernelfs.go).
	kernel []kernelMount
	// cur is the index of the spec mount being made.
	cur int
	// devReadonly holds the options of a read-only tmpfs /dev, mounted
	// read-write until everything under it is made.
	devReadonly *Options
}

// openMounter opens the rootfs c.Rootfs (as rootfd, and a dup of it for
// pathrs-lite) for a mounter; release closes both.
func openMounter(c *Config) (*mounter, error) {
	rootfd, err := unix.Open(c.Rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open rootfs: %w", err)
	}
	rootDup, err := unix.FcntlInt(uintptr(rootfd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		unix.Close(rootfd)
		return nil, fmt.Errorf("open rootfs: %w", err)
	}
	return &mounter{c: c, rootfd: rootfd, root: os.NewFile(uintptr(rootDup), c.Rootfs)}, nil
}

// release is close, then the rootfs fd itself.
func (m *mounter) release() {
	m.close()
	unix.Close(m.rootfd)
}

func (m *mounter) close() {
	if m.root != nil {
		m.root.Close()
	}
	m.closeKernelMounts()
}

// resolve returns the host path of dest inside the rootfs.
func (m *mounter) resolve(dest string) (string, error) {
	return securejoin.SecureJoin(m.c.Rootfs, dest)
}

// openDest opens dest inside the rootfs, O_PATH, without leaving it,
// creating it first (a directory, or a file when isFile) if it is missing:
// through handles opened inside the root (see inroot.go), never a path.
// A dest that is (or passes) a dangling symlink is made where the symlink
// points, resolved inside the rootfs, as runc does.
func (m *mounter) openDest(dest string, isFile bool) (int, error) {
	rel := strings.TrimLeft(filepath.Clean("/"+dest), "/")
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := openat2(m.rootfd, rel, how)
	if !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	// Where to make it: SecureJoin resolves symlinks lexically inside the
	// root; whatever it says, the creating steps below follow no symlink
	// and the final open resolves inside the root again.
	target, err := m.inRoot(dest)
	if err != nil {
		return -1, err
	}
	if isFile {
		dir, base, err := m.parentOf(target)
		if err != nil {
			return -1, err
		}
		err = createFileAt(dir, base)
		dir.Close()
		if err != nil {
			return -1, err
		}
	} else {
		h, err := m.mkdirAll(target)
		if err != nil {
			return -1, err
		}
		h.Close()
	}
	return openat2(m.rootfd, rel, how)
}

// openat2 is unix.Openat2, whose absence (before 5.6) is named.
func openat2(dirfd int, path string, how *unix.OpenHow) (int, error) {
	fd, err := unix.Openat2(dirfd, path, how)
	return fd, kernel.Require("openat2(2)", "5.6", err)
}

// fdPath names fd for mount(2), which takes paths: the magic link of the
// calling thread's fd table. Prepare first checks (checkHostProc) that this
// /proc, the host's in the init's private mount namespace, is a procfs whose
// thread-self/fd nothing covers; no container mount can reach it (they all
// resolve inside the rootfs).
func fdPath(fd int) string { return "/proc/thread-self/fd/" + strconv.Itoa(fd) }

// checkHostProc checks that /proc is procfs and that thread-self/fd is
// reached on it without crossing a mount (RESOLVE_NO_XDEV).
func checkHostProc() error {
	proc, err := unix.Open("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /proc: %w", err)
	}
	defer unix.Close(proc)
	var st unix.Statfs_t
	if err := unix.Fstatfs(proc, &st); err != nil || st.Type != unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("/proc of the runtime is not procfs (magic %#x, %v)", st.Type, err)
	}
	fd, err := openat2(proc, "thread-self/fd", &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_XDEV | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return fmt.Errorf("/proc/thread-self/fd of the runtime is not plain procfs: %w", err)
	}
	return unix.Close(fd)
}

func (m *mounter) mount(mnt *specs.Mount) error {
	o := ParseOptions(mnt.Options)
	typ := mnt.Type
	if typ == "bind" {
		o.Bind = true
	}
	var err error
	if _, kernelFS := kernelFS[typ]; !kernelFS || o.Bind {
		m.forgetKernelMounts(mnt.Destination)
	}
	// Options a bind mount cannot take (o.Data) are not passed on; the
	// runtime has warned about them (checkLinuxUnsupported).
	switch {
	case o.Bind:
		err = m.bind(mnt, o)
	case typ == "cgroup" || typ == "cgroup2":
		err = m.cgroup(mnt, o)
	default:
		err = m.fs(mnt, o, typ)
	}
	if err == nil && !o.Bind && o.RecSet|o.RecClear != 0 {
		// Binds get them with their remount; other mounts here.
		var fd int
		if fd, err = m.openExisting(mnt.Destination); err == nil {
			err = applyRecursive(fd, o)
			unix.Close(fd)
		}
	}
	if err != nil {
		return fmt.Errorf("mount %s (%s) on %s: %w%s", mnt.Source, typeName(typ, o), mnt.Destination, err, m.userNSHint(err, o))
	}
	return nil
}

// userNSHint says why a user namespace's root may be refused a mount the
// host's root could make: the kernel lets it mount only file systems made
// for it, and bind only what its host ids may reach.
func (m *mounter) userNSHint(err error, o Options) string {
	switch {
	case !m.c.UserNS:
		return ""
	case errors.Is(err, unix.EACCES) && o.Bind:
		uid, _ := rootless.HostID(m.c.Spec.Linux.UIDMappings, 0)
		return fmt.Sprintf(" (the container's root is host uid %d, which may not reach the source)", uid)
	case errors.Is(err, unix.EPERM):
		return " (in a user namespace the kernel allows only the file systems it lets an unprivileged user mount " +
			"(tmpfs, proc with its own pid namespace, sysfs with its own network namespace, devpts, mqueue, ...) and binds)"
	}
	return ""
}

func typeName(typ string, o Options) string {
	if o.Bind && typ == "" {
		return "bind"
	}
	return typ
}

// kernelFS are the file systems whose files the runtime and the kernel's
// protections rely on (masked and read-only paths, /proc/self/*): each is
// mounted only on a real directory of the rootfs and checked afterwards to
// be what was mounted (CVE-2019-19921, CVE-2023-27561).
var kernelFS = map[string]int64{"proc": unix.PROC_SUPER_MAGIC, "sysfs": unix.SYSFS_MAGIC}

// openRealDir opens dest for a kernelFS mount: an existing directory
// reached without following any symlink (or a new one, made inside the
// rootfs), checked on the opened fd.
func (m *mounter) openRealDir(dest, typ string) (int, error) {
	how := &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	rel := strings.TrimLeft(filepath.Clean("/"+dest), "/")
	fd, err := openat2(m.rootfd, rel, how)
	if errors.Is(err, unix.ENOENT) {
		// Made where a missing dest resolves (inside the rootfs), then
		// opened again under the same rule.
		if fd, err = m.openDest(dest, false); err == nil {
			unix.Close(fd)
			fd, err = openat2(m.rootfd, rel, how)
		}
	}
	switch {
	case errors.Is(err, unix.ELOOP):
		return -1, fmt.Errorf("%s must be mounted on an ordinary directory: %s (or a directory on its path) is a symlink in the rootfs", typ, dest)
	case errors.Is(err, unix.ENOTDIR):
		return -1, fmt.Errorf("%s must be mounted on an ordinary directory: %s is not a directory in the rootfs", typ, dest)
	case err != nil:
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		unix.Close(fd)
		return -1, fmt.Errorf("%s must be mounted on an ordinary directory: %s is not one (%v)", typ, dest, err)
	}
	return fd, nil
}

// checkMountedFS opens dest again after the mount (no symlink followed)
// and checks by fstatfs that it is the file system just mounted.
func (m *mounter) checkMountedFS(dest, typ string, magic int64) error {
	fd, err := openat2(m.rootfd, strings.TrimLeft(filepath.Clean("/"+dest), "/"), &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return fmt.Errorf("check %s after mounting it: %w", dest, err)
	}
	defer unix.Close(fd)
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return fmt.Errorf("check %s after mounting it: %w", dest, err)
	}
	if st.Type != magic {
		return fmt.Errorf("%s is not %s after mounting %s on it (file system magic %#x)", dest, typ, typ, st.Type)
	}
	return nil
}

// fs mounts a file system of type typ at the destination.
func (m *mounter) fs(mnt *specs.Mount, o Options, typ string) (err error) {
	if typ == "tmpfs" {
		return m.tmpfs(mnt, o)
	}
	var fd int
	if magic, ok := kernelFS[typ]; ok {
		fd, err = m.openRealDir(mnt.Destination, typ)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err = m.mountKernelFS(fd, mnt.Destination, typ, mnt.Source, o); !errors.Is(err, errNoFdMount) {
			return err
		}
		err = nil // mount(2) below
		m.forgetKernelMounts(mnt.Destination)
		defer func() {
			if err == nil {
				err = m.checkMountedFS(mnt.Destination, typ, magic)
			}
		}()
	} else {
		fd, err = m.openDest(mnt.Destination, false)
		if err == nil {
			defer unix.Close(fd)
		}
	}
	if err != nil {
		return err
	}
	flags := o.Flags &^ unix.MS_REMOUNT
	if err = unix.Mount(mnt.Source, fdPath(fd), typ, flags, o.Data); err != nil {
		// A user namespace may mount sysfs only with a network namespace
		// of its own: bind the host's /sys read-only instead, as crun
		// does (runc 1.1 fails).
		if typ == "sysfs" && errors.Is(err, unix.EPERM) && m.c.UserNS {
			return m.bind(&specs.Mount{Source: "/sys", Destination: mnt.Destination}, sysfsFallback(flags))
		}
		return err
	}
	return m.propagate(mnt.Destination, o)
}

// sysfsFallback are the options of the bind of the host's /sys that
// stands in for a sysfs a user namespace may not mount (it needs its own
// network namespace): recursive, and read-only all the way down where
// mount_setattr can say so, since the bind brings the host's mounts below
// /sys along, which a new sysfs would not have.
func sysfsFallback(flags uintptr) Options {
	o := Options{Bind: true, Recursive: true, Flags: flags | unix.MS_RDONLY}
	// Probed, not assumed (Has is optimistic until a call fails): on a
	// kernel without it (5.10, 5.11) the bind is read-only at the top only.
	if kernel.Probe(kernel.MountSetattr) {
		o.RecSet = unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC
	}
	return o
}

// tmpfs mounts a tmpfs at the destination. As with runc, a destination that
// already exists lends the tmpfs its mode (an explicit mode= still wins, as
// in runc 1.2), and with tmpcopyup the tmpfs starts with a copy of what the
// destination held: the directory is opened before the tmpfs covers it and
// read through that fd afterwards.
func (m *mounter) tmpfs(mnt *specs.Mount, o Options) error {
	p, err := m.resolve(mnt.Destination)
	if err != nil {
		return err
	}
	_, statErr := os.Lstat(p)
	existed := statErr == nil
	fd, err := m.openDest(mnt.Destination, false)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	data := o.Data
	if existed {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return err
		}
		data = strings.TrimSuffix(fmt.Sprintf("mode=%04o,%s", st.Mode&0o7777, data), ",")
	}
	flags := o.Flags &^ unix.MS_REMOUNT
	if cleanDest(mnt.Destination) == "/dev" && flags&unix.MS_RDONLY != 0 {
		// A read-only /dev still gets its mount points (pts, shm,
		// mqueue), devices and links: made read-only at the end, as runc
		// does (Prepare, devReadonly).
		flags &^= unix.MS_RDONLY
		m.devReadonly = &o
	}
	src := -1
	if o.CopyUp && existed {
		// Filled first and made read-only afterwards.
		flags &^= unix.MS_RDONLY
		if src, err = unix.Open(fdPath(fd), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			return fmt.Errorf("open for tmpcopyup: %w", err)
		}
		defer unix.Close(src)
	}
	if err := unix.Mount(mnt.Source, fdPath(fd), "tmpfs", flags, data); err != nil {
		return err
	}
	if src >= 0 {
		dst, err := m.openDest(mnt.Destination, false)
		if err != nil {
			return err
		}
		defer unix.Close(dst)
		dir, err := unix.Open(fdPath(dst), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(dir)
		if err := copyTree(src, dir); err != nil {
			return fmt.Errorf("tmpcopyup: %w", err)
		}
		if o.Flags&unix.MS_RDONLY != 0 {
			if err := m.remount(mnt.Destination, o); err != nil {
				return err
			}
		}
	}
	return m.propagate(mnt.Destination, o)
}

// bind bind-mounts a host path, then applies the flags with a remount
// (the kernel ignores them on the bind itself).
func (m *mounter) bind(mnt *specs.Mount, o Options) error {
	src := mnt.Source
	if !filepath.IsAbs(src) {
		// Relative sources are relative to the bundle, i.e. the cwd.
		abs, err := filepath.Abs(src)
		if err != nil {
			return err
		}
		src = abs
	}
	tree := 0
	if m.cur < len(m.c.MountFds) {
		tree = m.c.MountFds[m.cur]
	}
	var isDir bool
	if tree > 0 {
		var st unix.Stat_t
		if err := unix.Fstat(tree, &st); err != nil {
			return err
		}
		isDir = st.Mode&unix.S_IFMT == unix.S_IFDIR
	} else {
		fi, err := os.Stat(src)
		if err != nil {
			return err
		}
		isDir = fi.IsDir()
	}
	fd, err := m.openDest(mnt.Destination, !isDir)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if tree > 0 {
		// The runtime's detached copy of the source (openBindSources).
		err := unix.MoveMount(tree, "", fd, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
		unix.Close(tree)
		if err != nil {
			return fmt.Errorf("move_mount: %w", err)
		}
	} else {
		flags := uintptr(unix.MS_BIND)
		if o.Recursive {
			flags |= unix.MS_REC
		}
		if err := unix.Mount(src, fdPath(fd), "", flags, ""); err != nil {
			return err
		}
	}
	if o.Flags&^(unix.MS_REC|unix.MS_REMOUNT|unix.MS_BIND) != 0 || o.RecSet|o.RecClear != 0 {
		if err := m.remount(mnt.Destination, o); err != nil {
			return err
		}
	}
	return m.propagate(mnt.Destination, o)
}

// remount applies o's flags to the mount now at dest.
func (m *mounter) remount(dest string, o Options) error {
	fd, err := m.openDest(dest, false)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	target := fdPath(fd)
	flags := o.Flags | unix.MS_REMOUNT | unix.MS_BIND
	err = unix.Mount("", target, "", flags, "")
	if errors.Is(err, unix.EPERM) {
		// Flags locked by a user namespace must be kept: add what the
		// mount already has.
		var st unix.Statfs_t
		if unix.Statfs(target, &st) == nil {
			flags |= lockedFlags(st.Flags)
			err = unix.Mount("", target, "", flags, "")
		}
	}
	if err != nil {
		return fmt.Errorf("remount: %w", err)
	}
	return applyRecursive(fd, o)
}

// applyRecursive sets the recursive mount attributes of o (rro, rnosuid,
// ...) on the mount at fd and every mount below it.
func applyRecursive(fd int, o Options) error {
	if o.RecSet|o.RecClear == 0 {
		return nil
	}
	const what = "the recursive mount options (rro, rnosuid, ...): mount_setattr(2)"
	if !kernel.Has(kernel.MountSetattr) {
		return kernel.Require(what, "5.12", unix.ENOSYS)
	}
	attr := unix.MountAttr{Attr_set: o.RecSet, Attr_clr: o.RecClear}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
		kernel.Lacks(kernel.MountSetattr, err)
		return fmt.Errorf("apply the recursive mount options: %w", kernel.Require(what, "5.12", err))
	}
	return nil
}

func lockedFlags(stf int64) uintptr {
	var f uintptr
	for _, p := range []struct {
		st   int64
		flag uintptr
	}{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_RDONLY, unix.MS_RDONLY}, {unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
		{unix.ST_NODIRATIME, unix.MS_NODIRATIME},
	} {
		if stf&p.st != 0 {
			f |= p.flag
		}
	}
	return f
}

// propagate applies propagation options to the mount at dest.
func (m *mounter) propagate(dest string, o Options) error {
	if len(o.Propagation) == 0 {
		return nil
	}
	fd, err := m.openDest(dest, false)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for _, p := range o.Propagation {
		if err := unix.Mount("", fdPath(fd), "", p, ""); err != nil {
			return fmt.Errorf("set propagation: %w", err)
		}
	}
	return nil
}

// cgroup mounts the container's cgroups. With a cgroup namespace the
// kernel shows only the container's subtree; without one, the container's
// own directories are bind-mounted so that the host's tree stays hidden.
func (m *mounter) cgroup(mnt *specs.Mount, o Options) error {
	flags := o.Flags &^ unix.MS_REMOUNT
	unified, hasUnified := m.c.CgroupPaths[""]
	if hasUnified && !strings.HasPrefix(unified, "/sys/fs/cgroup/unified/") || len(m.c.CgroupPaths) == 0 && mnt.Type == "cgroup2" {
		return m.cgroupOne(mnt.Destination, "cgroup2", "cgroup2", "", unified, flags)
	}
	// v1 or hybrid: a tmpfs holding one mount per hierarchy.
	fd, err := m.openDest(mnt.Destination, false)
	if err != nil {
		return err
	}
	err = unix.Mount("tmpfs", fdPath(fd), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755")
	unix.Close(fd)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(m.c.CgroupPaths))
	for k := range m.c.CgroupPaths {
		// The unified tree of a hybrid host is left out, as runc does
		// (it mounts only the cgroup v1 hierarchies): a systemd in the
		// container would see the host as hybrid and run differently than
		// under runc. See docs/cgroups.md.
		if k != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, key := range keys {
		dir, src, data := key, "cgroup", key
		if name, ok := strings.CutPrefix(key, "name="); ok {
			// A named hierarchy: its directory is its name, as on
			// the host (/sys/fs/cgroup/systemd for name=systemd).
			dir, src = name, name
		}
		if err := m.cgroupOne(filepath.Join(mnt.Destination, dir), src, "cgroup", data, m.c.CgroupPaths[key], flags); err != nil {
			return err
		}
		if strings.Contains(key, ",") {
			for _, c := range strings.Split(key, ",") {
				p, err := m.resolve(filepath.Join(mnt.Destination, c))
				if err == nil {
					os.Symlink(key, p)
				}
			}
		}
	}
	if flags&unix.MS_RDONLY != 0 {
		return m.remount(mnt.Destination, Options{Flags: unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC})
	}
	return nil
}

// cgroupOne mounts one hierarchy at dest: a new mount of type typ (source
// src, options data) in a cgroup namespace, else a bind of hostPath.
func (m *mounter) cgroupOne(dest, src, typ, data, hostPath string, flags uintptr) error {
	fd, err := m.openDest(dest, false)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if m.c.CgroupNS || hostPath == "" {
		return unix.Mount(src, fdPath(fd), typ, flags, data)
	}
	if err := unix.Mount(hostPath, fdPath(fd), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	fd2, err := m.openDest(dest, false)
	if err != nil {
		return err
	}
	defer unix.Close(fd2)
	return unix.Mount("", fdPath(fd2), "", flags|unix.MS_BIND|unix.MS_REMOUNT, "")
}

// makeParentMountPrivate makes the mount that holds rootfs private.
func makeParentMountPrivate(rootfs string) error {
	mounts, err := mountinfo.GetMounts(mountinfo.ParentsFilter(rootfs))
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	parent := "/"
	for _, m := range mounts {
		if len(m.Mountpoint) > len(parent) {
			parent = m.Mountpoint
		}
	}
	if err := unix.Mount("", parent, "", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make %s private: %w", parent, err)
	}
	return nil
}

// pivotRoot makes rootfs the root and detaches the old one.
func pivotRoot(rootfs string) error {
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(oldroot)
	newroot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(newroot)
	if err := unix.Fchdir(newroot); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root %s: %w", rootfs, err)
	}
	if err := unix.Fchdir(oldroot); err != nil {
		return err
	}
	// The old root must not propagate the unmount to the host.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root slave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	return unix.Chdir("/")
}

// moveRoot is --no-pivot: move the rootfs over / and chroot into it.
func moveRoot(rootfs string) error {
	if err := hideHostKernelFS(rootfs); err != nil {
		return err
	}
	if err := unix.Chdir(rootfs); err != nil {
		return err
	}
	if err := unix.Mount(rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move rootfs to /: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	return unix.Chdir("/")
}

// hideHostKernelFS detaches, in the container's mount namespace, every
// procfs and sysfs mount outside the rootfs before a --no-pivot chroot.
// pivot_root would take them away with the old root; a chroot leaves them
// in the namespace, where the kernel counts them as fully visible and so
// lets the container mount a fresh, unmasked procfs or sysfs (from a user
// namespace of its own). Each is made a slave first, so the unmount never
// reaches the host; where it cannot be unmounted, it is covered with an
// empty tmpfs. (runc does the same.)
func hideHostKernelFS(rootfs string) error {
	mounts, err := mountinfo.GetMounts(func(i *mountinfo.Info) (skip, stop bool) {
		inRoot := i.Mountpoint == rootfs || strings.HasPrefix(i.Mountpoint, rootfs+"/")
		return inRoot || (i.FSType != "proc" && i.FSType != "sysfs"), false
	})
	if err != nil {
		return fmt.Errorf("--no-pivot: read mountinfo: %w", err)
	}
	// Deepest first, so that a mount under another goes before it.
	sort.Slice(mounts, func(a, b int) bool { return len(mounts[a].Mountpoint) > len(mounts[b].Mountpoint) })
	for _, mi := range mounts {
		p := mi.Mountpoint
		if err := unix.Mount("", p, "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("--no-pivot: make %s a slave: %w", p, err)
		}
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil {
			if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EPERM) {
				return fmt.Errorf("--no-pivot: unmount the host's %s: %w", p, err)
			}
			if err := unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0"); err != nil {
				return fmt.Errorf("--no-pivot: cover the host's %s: %w", p, err)
			}
		}
	}
	return nil
}

func remountReadonly(path string, recursive bool) error {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return err
	}
	flags := uintptr(unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY) | lockedFlags(st.Flags)
	if recursive {
		flags |= unix.MS_REC
	}
	return unix.Mount("", path, "", flags, "")
}

// openExisting opens p inside the rootfs, O_PATH, without creating it:
// beneath the procfs or sysfs mount that holds it, if it is under one
// mounted by fd.
func (m *mounter) openExisting(p string) (int, error) {
	if fd, ok, err := m.openUnderKernelFS(p); ok {
		return fd, err
	}
	return openat2(m.rootfd, strings.TrimLeft(p, "/"), &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
}

// readonlyPath bind-mounts p onto itself read-only (keeping submounts). A
// missing path is skipped, as runc does.
func (m *mounter) readonlyPath(p string) error {
	target, err := m.openExisting(p)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("readonly path %s: %w", p, err)
	}
	defer unix.Close(target)
	tree, err := unix.OpenTree(target, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE|unix.AT_EMPTY_PATH)
	if err != nil {
		return fmt.Errorf("readonly path %s: %w", p, kernel.Require("open_tree(2)", "5.2", err))
	}
	defer unix.Close(tree)
	attrDone := false
	if kernel.Has(kernel.MountSetattr) {
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
		err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr)
		if err != nil && !kernel.Lacks(kernel.MountSetattr, err) {
			return fmt.Errorf("readonly path %s: %w", p, err)
		}
		attrDone = err == nil
	}
	if err := unix.MoveMount(tree, "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("readonly path %s: %w", p, err)
	}
	if attrDone {
		return nil
	}
	// Without mount_setattr (before 5.12): remount the new bind mount
	// read-only, reached through a fresh fd, as runc does (its submounts,
	// if any, keep their flags).
	moved, err := m.openExisting(p)
	if err != nil {
		return fmt.Errorf("readonly path %s: %w", p, err)
	}
	defer unix.Close(moved)
	if err := remountReadonlyNosuid(fdPath(moved)); err != nil {
		return fmt.Errorf("readonly path %s: %w", p, err)
	}
	return nil
}

// remountReadonlyNosuid makes the bind mount at path read-only, nosuid
// and nodev, keeping the flags a user namespace has locked.
func remountReadonlyNosuid(path string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return err
	}
	flags := uintptr(unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV) | lockedFlags(st.Flags)
	return unix.Mount("", path, "", flags, "")
}

// maskPath hides p: a file is covered by the verified /dev/null, a directory
// by an empty read-only tmpfs. Both are mounted onto an fd of the target.
func (m *mounter) maskPath(p string, devNull int) error {
	target, err := m.openExisting(p)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("mask %s: %w", p, err)
	}
	defer unix.Close(target)
	var st unix.Stat_t
	if err := unix.Fstat(target, &st); err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	var src int
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		src, err = emptyTmpfs()
	} else {
		src, err = unix.OpenTree(devNull, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	}
	if err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	defer unix.Close(src)
	if err := unix.MoveMount(src, "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	return nil
}

// emptyTmpfs makes a detached, read-only, empty tmpfs.
func emptyTmpfs() (int, error) {
	fs, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, kernel.Require("fsopen(2)", "5.2", err)
	}
	defer unix.Close(fs)
	if err := unix.FsconfigSetString(fs, "size", "0"); err != nil {
		return -1, err
	}
	if err := unix.FsconfigSetString(fs, "mode", "0755"); err != nil {
		return -1, err
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return -1, err
	}
	return unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC)
}

// OpenDevNull opens the host's /dev/null and checks that it really is the
// null device, so masking can never bind something else (CVE-2025-31133).
func OpenDevNull() (int, error) {
	fd, err := unix.Open("/dev/null", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		unix.Close(fd)
		return -1, errors.New("/dev/null is not the null device")
	}
	return fd, nil
}
