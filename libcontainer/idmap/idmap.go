// Package idmap makes idmapped mounts (runtime-spec mounts[].uidMappings,
// gidMappings and the idmap/ridmap options): a detached copy of a bind
// source gets MOUNT_ATTR_IDMAP with a user namespace holding the mount's
// mappings, before the container's init attaches it.
package idmap

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// HoldEnv, set to "1", makes a berth process hold its user namespace open
// until its stdin closes (see Hold).
const HoldEnv = "_BERTH_USERNS_HOLD"

// Hold is the whole life of the helper UsernsFd starts: it waits for its
// stdin to close, then exits. main calls it first.
func Hold() {
	if os.Getenv(HoldEnv) != "1" {
		return
	}
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// UsernsFd returns an fd of a new user namespace with the given mappings.
// The kernel only makes a user namespace for a new process, so a helper
// (the berth binary exe, holding still in Hold) is started in one, the
// mappings are written by os/exec before it runs, and its namespace is
// opened; the helper then exits. Go cannot fork without exec, and a
// holder that is the runtime itself needs nothing from the host.
func UsernsFd(exe string, uids, gids []specs.LinuxIDMapping) (*os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cmd := &exec.Cmd{
		Path:   exe,
		Args:   []string{"berth-userns"},
		Env:    []string{HoldEnv + "=1", "GOMAXPROCS=1", "GOGC=off"},
		Stdin:  r,
		Stderr: os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags:  unix.CLONE_NEWUSER,
			UidMappings: sysMap(uids),
			GidMappings: sysMap(gids),
			Pdeathsig:   unix.SIGKILL,
		},
	}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("make a user namespace for the mapping: %w", err)
	}
	ns, err := os.Open("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/ns/user")
	w.Close()
	if werr := cmd.Wait(); werr != nil && err == nil {
		err = fmt.Errorf("the user namespace helper: %w", werr)
	}
	if err != nil {
		if ns != nil {
			ns.Close()
		}
		return nil, err
	}
	return ns, nil
}

func sysMap(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, e := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)}
	}
	return out
}

// Apply gives the detached mount tree the mapping of the user namespace
// userns: to the top mount, or with recursive to every mount in it.
func Apply(tree int, userns *os.File, recursive bool) error {
	flags := unix.AT_EMPTY_PATH
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(userns.Fd())}
	if err := unix.MountSetattr(tree, "", uint(flags), &attr); err != nil {
		return fmt.Errorf("mount_setattr MOUNT_ATTR_IDMAP: %w", err)
	}
	return nil
}

// Mappings returns the mount's own mappings, or, for the idmap and ridmap
// options without any, the container's user namespace mappings (which the
// spec allows); an error when there are none to use.
func Mappings(m specs.Mount, linux *specs.Linux, userNS bool) (uids, gids []specs.LinuxIDMapping, err error) {
	switch {
	case len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0:
		if len(m.UIDMappings) == 0 || len(m.GIDMappings) == 0 {
			return nil, nil, fmt.Errorf("mount %s: uidMappings and gidMappings must be given together", m.Destination)
		}
		return m.UIDMappings, m.GIDMappings, nil
	case userNS && linux != nil && len(linux.UIDMappings) > 0:
		return linux.UIDMappings, linux.GIDMappings, nil
	default:
		return nil, nil, fmt.Errorf("mount %s: idmap needs uidMappings/gidMappings or a container user namespace with mappings", m.Destination)
	}
}
