package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func dev(path string, major, minor int64) specs.LinuxDevice {
	mode := os.FileMode(0o666)
	return specs.LinuxDevice{Path: path, Type: "c", Major: major, Minor: minor, FileMode: &mode}
}

// defaultDevices are the nodes every container gets (runtime-spec "Default
// Devices").
var defaultDevices = []specs.LinuxDevice{
	dev("/dev/null", 1, 3), dev("/dev/zero", 1, 5), dev("/dev/full", 1, 7),
	dev("/dev/random", 1, 8), dev("/dev/urandom", 1, 9), dev("/dev/tty", 5, 0),
}

// needsDefaultDev is false when the config bind-mounts a /dev of its own.
func needsDefaultDev(s *specs.Spec) bool {
	for _, m := range s.Mounts {
		if filepath.Clean(m.Destination) == "/dev" {
			o := ParseOptions(m.Options)
			if o.Bind || m.Type == "bind" {
				return false
			}
		}
	}
	return true
}

// createDevices makes device nodes. In a user namespace mknod is not
// allowed, so the host's node of the same path is bind-mounted instead.
func (m *mounter) createDevices(devs []specs.LinuxDevice, defaults bool) error {
	for _, d := range devs {
		if err := m.createDevice(d); err != nil {
			if defaults && m.c.UserNS {
				continue
			}
			return fmt.Errorf("create device %s: %w", d.Path, err)
		}
	}
	return nil
}

func (m *mounter) createDevice(d specs.LinuxDevice) error {
	if !filepath.IsAbs(d.Path) {
		return errors.New("device path must be absolute")
	}
	if m.c.UserNS {
		// Bind the host node over an empty file.
		fd, err := m.openDest(d.Path, true)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return unix.Mount(d.Path, fdPath(fd), "", unix.MS_BIND, "")
	}
	var mode uint32
	switch d.Type {
	case "c", "u":
		mode = unix.S_IFCHR
	case "b":
		mode = unix.S_IFBLK
	case "p":
		mode = unix.S_IFIFO
	default:
		return fmt.Errorf("unknown device type %q", d.Type)
	}
	perm := uint32(0o666)
	if d.FileMode != nil {
		perm = uint32(*d.FileMode & 0o7777)
	}
	uid, gid := 0, 0
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	// Made in its parent directory's handle, without following a symlink
	// at any step (see inroot.go): what is there is unlinked (a planted
	// symlink is removed, never followed), the node made, opened O_PATH
	// without following, checked to be that node, then chmod and chown on
	// it.
	dir, base, err := m.resolvedParent(d.Path)
	if err != nil {
		return err
	}
	defer dir.Close()
	dirfd := int(dir.Fd())
	if err := unix.Unlinkat(dirfd, base, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	rdev := unix.Mkdev(uint32(d.Major), uint32(d.Minor))
	if err := unix.Mknodat(dirfd, base, mode|perm, int(rdev)); err != nil {
		return err
	}
	fd, err := openat2(dirfd, base, &unix.OpenHow{Flags: unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS})
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != mode || (mode != unix.S_IFIFO && st.Rdev != rdev) {
		return fmt.Errorf("%s was replaced while it was made", d.Path)
	}
	if err := unix.Fchmodat(unix.AT_FDCWD, fdPath(fd), perm, 0); err != nil {
		return err
	}
	return unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH)
}

// devSymlinks creates the standard /dev links.
func (m *mounter) devSymlinks() error {
	links := [][2]string{
		{"/proc/self/fd", "/dev/fd"}, {"/proc/self/fd/0", "/dev/stdin"},
		{"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"},
		{"pts/ptmx", "/dev/ptmx"},
	}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links, [2]string{"/proc/kcore", "/dev/core"})
	}
	for _, l := range links {
		if err := m.symlinkIn(l[0], l[1]); err != nil {
			return fmt.Errorf("symlink %s: %w", l[1], err)
		}
	}
	return nil
}

// symlinkIn makes the link p -> target inside the rootfs, in p's parent's
// handle; a /dev/ptmx that is not a link is replaced by it.
func (m *mounter) symlinkIn(target, p string) error {
	dir, base, err := m.resolvedParent(p)
	if err != nil {
		return err
	}
	defer dir.Close()
	dirfd := int(dir.Fd())
	var st unix.Stat_t
	if p == "/dev/ptmx" && unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT != unix.S_IFLNK {
		unix.Unlinkat(dirfd, base, 0)
	}
	if err := unix.Symlinkat(target, dirfd, base); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	return nil
}

// DeviceMountPaths are the device paths a container in a user namespace
// has bind-mounted from the host (createDevices): the default devices
// where the config does not bring its own /dev, and linux.devices.
func DeviceMountPaths(s *specs.Spec) []string {
	var out []string
	if needsDefaultDev(s) {
		for _, d := range defaultDevices {
			out = append(out, d.Path)
		}
	}
	for _, d := range s.Linux.Devices {
		out = append(out, d.Path)
	}
	return out
}
