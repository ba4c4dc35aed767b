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
	p, err := m.resolve(d.Path)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
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
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := unix.Mknod(p, mode|perm, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))); err != nil {
		return err
	}
	if err := unix.Chmod(p, perm); err != nil {
		return err
	}
	uid, gid := 0, 0
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	return unix.Lchown(p, uid, gid)
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
		p, err := m.resolve(l[1])
		if err != nil {
			return err
		}
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSymlink == 0 && l[1] == "/dev/ptmx" {
			os.Remove(p)
		}
		if err := os.Symlink(l[0], p); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("symlink %s: %w", l[1], err)
		}
	}
	return nil
}
