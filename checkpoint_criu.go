//go:build berth_criu

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/libcontainer"
)

// checkpointAction checkpoints the container through CRIU (berth-criu).
func checkpointAction(c *cli.Context) error {
	if err := checkArgs(c, 1, 1); err != nil {
		return err
	}
	co, err := criuOptions(c)
	if err != nil {
		return err
	}
	statusFd, err := statusFile(c.Int("status-fd"), co.LazyPages)
	if err != nil {
		return err
	}
	ctr, err := loadContainer(c)
	if err != nil {
		return err
	}
	defer ctr.Release()
	o := &libcontainer.CheckpointOpts{
		CriuOpts: co, ParentPath: c.String("parent-path"), LeaveRunning: c.Bool("leave-running"),
		PreDump: c.Bool("pre-dump"), PageServer: c.String("page-server"), StatusFd: statusFd,
	}
	if err := ctr.Checkpoint(o); err != nil {
		return err
	}
	if o.LeaveRunning || o.PreDump {
		return nil
	}
	// As runc: a container whose processes went into the image is
	// removed (cgroup, state); restore makes it again.
	return ctr.Delete(true)
}

// emptyNamespaces maps --empty-ns names (runtime-spec namespace types) to
// CLONE_NEW* flags.
var emptyNamespaces = map[specs.LinuxNamespaceType]uint32{
	specs.PIDNamespace: unix.CLONE_NEWPID, specs.NetworkNamespace: unix.CLONE_NEWNET, specs.MountNamespace: unix.CLONE_NEWNS,
	specs.UserNamespace: unix.CLONE_NEWUSER, specs.IPCNamespace: unix.CLONE_NEWIPC, specs.UTSNamespace: unix.CLONE_NEWUTS,
	specs.CgroupNamespace: unix.CLONE_NEWCGROUP,
}

// criuOptions reads the shared flags. The image path defaults to
// ./checkpoint, as runc's; paths are made absolute.
func criuOptions(c *cli.Context) (libcontainer.CriuOpts, error) {
	var o libcontainer.CriuOpts
	image := c.String("image-path")
	if image == "" {
		image = "checkpoint"
	}
	var err error
	if o.ImagePath, err = filepath.Abs(image); err != nil {
		return o, err
	}
	if w := c.String("work-path"); w != "" {
		if o.WorkPath, err = filepath.Abs(w); err != nil {
			return o, err
		}
	}
	for _, ns := range c.StringSlice("empty-ns") {
		f, ok := emptyNamespaces[specs.LinuxNamespaceType(ns)]
		if !ok {
			return o, fmt.Errorf("namespace %q is not supported", ns)
		}
		o.EmptyNs |= f
	}
	switch m := c.String("manage-cgroups-mode"); m {
	case "", "soft", "full", "strict", "ignore":
		o.ManageCgroupsMode = m
	default:
		return o, errors.New("invalid manage cgroups mode")
	}
	o.TCPEstablished, o.ExtUnixSk, o.ShellJob = c.Bool("tcp-established"), c.Bool("ext-unix-sk"), c.Bool("shell-job")
	o.FileLocks, o.AutoDedup, o.LazyPages = c.Bool("file-locks"), c.Bool("auto-dedup"), c.Bool("lazy-pages")
	return o, nil
}

// statusFile is --status-fd N as a file: an open descriptor this process
// inherited, writable, and only with --lazy-pages (nil for -1).
func statusFile(fd int, lazy bool) (*os.File, error) {
	if fd == -1 {
		return nil, nil
	}
	if !lazy {
		return nil, errors.New("--status-fd is only used with --lazy-pages")
	}
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return nil, fmt.Errorf("invalid --status-fd argument %d: %w", fd, err)
	}
	if flags&unix.O_ACCMODE == unix.O_RDONLY {
		return nil, fmt.Errorf("invalid --status-fd argument %d: not writable", fd)
	}
	return os.NewFile(uintptr(fd), "status-fd"), nil
}
