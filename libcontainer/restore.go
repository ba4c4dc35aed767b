//go:build berth_criu

package libcontainer

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/checkpoint-restore/go-criu/v7/rpc"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/berth-runtime/berth/libcontainer/console"
	"github.com/berth-runtime/berth/libcontainer/criu"
	"github.com/berth-runtime/berth/libcontainer/procfs"
	"github.com/berth-runtime/berth/libcontainer/rootfs"
	"github.com/berth-runtime/berth/libcontainer/state"
)

// RestoreOpts are restore's flags: create's (the bundle, the console
// socket, the cgroup driver) and CRIU's.
type RestoreOpts struct {
	CreateOpts
	CriuOpts
	// LsmProfile and LsmMountContext replace the checkpoint's AppArmor or
	// SELinux process label and SELinux mount context.
	LsmProfile, LsmMountContext string
}

// joinNS are the namespaces other than net and pid (external, see
// externalNS) that restore joins by path, by CRIU's names.
var joinNS = map[specs.LinuxNamespaceType]string{
	specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts", specs.MountNamespace: "mnt", specs.UserNamespace: "user",
}

// Restore makes container o.ID running again from the checkpoint in
// o.ImagePath, with the bundle's config: its state directory and cgroup
// as create makes them, then CRIU restores the processes into them. The
// restored init is a child of this process. On any error nothing is left:
// no process, cgroup, state directory or mount.
func Restore(o *RestoreOpts) (_ *Container, err error) {
	if !state.ValidID(o.ID) {
		return nil, ErrInvalidID
	}
	if err := criuNeedsRoot(); err != nil {
		return nil, err
	}
	spec := o.Bundle.Spec
	p, err := makePlan(spec, seccompCache(o.Root))
	if err != nil {
		return nil, err
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Path != "" && (ns.Type == specs.CgroupNamespace || ns.Type == specs.TimeNamespace) {
			return nil, fmt.Errorf("restore: a %s namespace joined by path cannot be restored (CRIU cannot join one)", ns.Type)
		}
	}
	if o.ImagePath == "" {
		return nil, errors.New("invalid directory to restore checkpoint: --image-path is empty")
	}
	fds, err := loadDescriptors(o.ImagePath)
	if err != nil {
		return nil, err
	}
	d, err := openCriuDirs(&o.CriuOpts, false)
	if err != nil {
		return nil, err
	}
	defer func() { d.close(err != nil) }()
	if _, err := cgMode(o.ManageCgroupsMode); err != nil {
		return nil, err
	}
	// What create would have made in the rootfs, CRIU only mounts onto.
	if err := rootfs.MakeMountpoints(o.Bundle.Rootfs, o.Bundle.Dir, spec.Mounts); err != nil {
		return nil, err
	}
	mk, err := makeContainer(&o.CreateOpts, p)
	if err != nil {
		return nil, err
	}
	c := mk.c
	pid := 0
	defer func() {
		if err != nil {
			mk.undo(pid)
		}
	}()
	call, err := restoreCall(o, c, mk, d, fds)
	if err != nil {
		return nil, err
	}
	defer closeFiles(call.Files)
	call.Notify = func(script string, npid, fd int) error {
		switch script {
		case "setup-namespaces":
			// The namespaces exist, nothing runs in them yet: the
			// runtime's hooks of create run here, as create runs them.
			if spec.Hooks == nil {
				return nil
			}
			return (&initMode{c: c, spec: spec, bundle: o.Bundle.Dir}).runtimeHooks(npid)
		case "post-restore":
			pid = npid
			return c.restored(npid)
		case "orphan-pts-master":
			master := os.NewFile(uintptr(fd), "/dev/ptmx")
			defer master.Close()
			if o.ConsoleSocket == nil {
				return errors.New("the checkpoint has a terminal: restore it with --console-socket")
			}
			return console.SendConsole(o.ConsoleSocket, master)
		}
		if fd >= 0 {
			unix.Close(fd)
		}
		return nil
	}
	logrus.Debugf("%s: criu RESTORE from %s (%d external mounts, %d inherited fds)", o.ID, o.ImagePath, len(call.Opts.ExtMnt), len(call.Opts.InheritFd))
	if err = runCriu(call, d.workPath); err != nil {
		return nil, err
	}
	if pid == 0 {
		return nil, errors.New("restore: CRIU reported no restored process")
	}
	if spec.Process != nil && spec.Process.NoNewPrivileges {
		warnNoNewPrivsLost(pid)
	}
	if err = c.postStart(); err != nil {
		return nil, err
	}
	return c, nil
}

// restoreCall is the CRIU request of Restore: c's cgroups, mounts,
// namespaces and stdio mapped onto what the checkpoint recorded.
func restoreCall(o *RestoreOpts, c *Container, mk *making, d *criuDirs, fds []string) (*criu.Call, error) {
	spec := o.Bundle.Spec
	opts, err := d.baseOpts(&o.CriuOpts, "restore.log")
	if err != nil {
		return nil, err
	}
	opts.Root = proto.String(o.Bundle.Rootfs)
	if o.LazyPages {
		// CRIU then hands the restored memory's userfaultfd to the
		// `criu lazy-pages` daemon whose socket is in the work directory.
		if err := lazyPages(opts); err != nil {
			return nil, err
		}
	}
	opts.RstSibling = proto.Bool(true)
	opts.EvasiveDevices = proto.Bool(true)
	if o.LsmProfile != "" {
		opts.LsmProfile = proto.String(o.LsmProfile)
	}
	if o.LsmMountContext != "" {
		opts.LsmMountContext = proto.String(o.LsmMountContext)
	}
	mounts, err := c.externalMounts(spec, o.Bundle.Dir)
	if err != nil {
		return nil, err
	}
	for _, m := range mounts {
		opts.ExtMnt = append(opts.ExtMnt, &rpc.ExtMountMap{Key: proto.String(m.dest), Val: proto.String(m.source)})
	}
	if len(spec.Linux.MaskedPaths) > 0 {
		opts.ExtMnt = append(opts.ExtMnt, &rpc.ExtMountMap{Key: proto.String("/dev/null"), Val: proto.String("/dev/null")})
	}
	call := &criu.Call{Type: rpc.CriuReqType_RESTORE, Opts: opts, LogDir: d.workPath,
		Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr}
	if call.Stdin == nil {
		call.Stdin, call.Stdout, call.Stderr = os.Stdin, os.Stdout, os.Stderr
	}
	// The pipes the init had are replaced by our stdio (CRIU's 0-2).
	for i, s := range fds {
		if strings.HasPrefix(s, "pipe:") {
			opts.InheritFd = append(opts.InheritFd, &rpc.InheritFd{Key: proto.String(s), Fd: proto.Int32(int32(i))})
		}
	}
	for _, e := range externalNS {
		p := nsPath(spec, e.typ)
		if p == "" {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			closeFiles(call.Files)
			return nil, fmt.Errorf("%s namespace %s: %w", e.typ, p, err)
		}
		opts.InheritFd = append(opts.InheritFd, &rpc.InheritFd{Key: proto.String(e.key), Fd: proto.Int32(int32(criu.FirstFd + len(call.Files)))})
		call.Files = append(call.Files, f)
	}
	for _, ns := range spec.Linux.Namespaces {
		if name, ok := joinNS[ns.Type]; ok && ns.Path != "" {
			opts.JoinNs = append(opts.JoinNs, &rpc.JoinNamespace{Ns: proto.String(name), NsFile: proto.String(ns.Path)})
		}
	}
	// CRIU itself goes into the container's cgroups first, and restores
	// the processes relative to where it is.
	call.Started = func(criuPid int) error {
		if err := mk.mgr.ApplyV1(criuPid); err != nil {
			return err
		}
		if err := mk.mgr.ApplyUnified(criuPid); err != nil {
			return err
		}
		roots, err := cgroupRoots(criuPid)
		opts.CgRoot = roots
		return err
	}
	call.Start = func(cmd *exec.Cmd) error {
		return startWithRootMounted(cmd, o.Bundle.Rootfs, func() error {
			// CRIU works in its directories (and mounts its cgroup yard
			// there): they must be on mounts of its own namespace.
			images, err := os.Open(d.images.Name())
			if err != nil {
				return err
			}
			work, err := os.Open(d.workPath)
			if err != nil {
				images.Close()
				return err
			}
			d.inNS = []*os.File{images, work}
			opts.ImagesDirFd, opts.WorkDirFd = proto.Int32(int32(images.Fd())), proto.Int32(int32(work.Fd()))
			return nil
		})
	}
	return call, nil
}

// cgroupRoots are pid's cgroups, as CRIU's cgroup roots.
func cgroupRoots(pid int) ([]*rpc.CgroupRoot, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var roots []*rpc.CgroupRoot
	s := bufio.NewScanner(f)
	for s.Scan() {
		parts := strings.SplitN(s.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		roots = append(roots, &rpc.CgroupRoot{Ctrl: proto.String(parts[1]), Path: proto.String(parts[2])})
	}
	return roots, s.Err()
}

// startWithRootMounted starts cmd (CRIU) from a thread with a mount
// namespace of its own, a copy of the host's (slave mounts) in which root is
// bind-mounted onto itself: CRIU wants the rootfs to be a mount point, and
// the bind must neither show on the host nor outlive CRIU. prepare runs
// there first (what CRIU must find on its own mounts is opened by it).
// The thread is never handed back to the Go scheduler: it ends with its
// goroutine.
func startWithRootMounted(cmd *exec.Cmd, root string, prepare func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- func() error {
			if err := unix.Unshare(unix.CLONE_FS | unix.CLONE_NEWNS); err != nil {
				return fmt.Errorf("restore: unshare a mount namespace for CRIU: %w", err)
			}
			// Slaves, not private: nothing made here reaches the host,
			// and the copies stay in the host's peer groups, from which
			// CRIU copies the sharing of the external mounts it restores
			// (a container's mounts are slaves of the host's).
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
				return fmt.Errorf("restore: make CRIU's mounts slaves: %w", err)
			}
			if err := unix.Mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
				return fmt.Errorf("restore: bind the rootfs %s onto itself: %w", root, err)
			}
			if err := prepare(); err != nil {
				return err
			}
			return cmd.Start()
		}()
	}()
	return <-errc
}

// restored records pid, CRIU's restored init, as the container's: from
// here on state, kill, exec and delete act on it as on a started one.
func (c *Container) restored(pid int) error {
	stat, err := procfs.ReadStat(pid)
	if err != nil {
		return fmt.Errorf("read the restored init's stat: %w", err)
	}
	c.initPid = pid
	st := c.State
	st.InitPid, st.InitStartTime, st.Created = pid, stat.StartTime, time.Now().UTC()
	return st.Save(c.Dir)
}

// warnNoNewPrivsLost says so when CRIU restored pid without the
// no_new_privs its config asks for: CRIU (3.17) does not carry the bit,
// and no process can set it on another. The seccomp filter and the
// capability sets are restored.
func warnNoNewPrivsLost(pid int) {
	if st, err := procfs.ReadStatus(pid); err == nil && st["NoNewPrivs"] == "0" {
		logrus.Warnf("CRIU restored the container's init without no_new_privs (noNewPrivileges is true in its config): CRIU does not restore it; its seccomp filter and capabilities are restored")
	}
}
