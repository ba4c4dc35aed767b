package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/libcontainer/cgroups"
	"github.com/berth-runtime/berth/libcontainer/idmap"
	"github.com/berth-runtime/berth/libcontainer/intelrdt"
	"github.com/berth-runtime/berth/libcontainer/netdev"
	"github.com/berth-runtime/berth/libcontainer/notify"
	"github.com/berth-runtime/berth/libcontainer/oci"
	"github.com/berth-runtime/berth/libcontainer/rootfs"
	"github.com/berth-runtime/berth/libcontainer/rootless"
	"github.com/berth-runtime/berth/libcontainer/state"
	"github.com/berth-runtime/berth/libcontainer/syncmsg"
)

// CreateOpts are the create flags.
type CreateOpts struct {
	Root         string
	ID           string
	Bundle       *oci.Bundle
	NoPivot      bool
	NoNewKeyring bool
	// ExtraFiles are passed to the container as fds 3, 4, ...
	ExtraFiles []*os.File
	// NotifySocket is the caller's NOTIFY_SOCKET, proxied for the container.
	NotifySocket string
	// ConsoleSocket receives the pty master when process.terminal is set.
	ConsoleSocket *os.File
	// Stdio of the container; nil means the runtime's own.
	Stdin, Stdout, Stderr *os.File
	// SystemdCgroup puts the container in a systemd unit (--systemd-cgroup).
	SystemdCgroup bool
	// RootlessCgroups leaves out the cgroups the caller may not create
	// (--rootless; rootless.go has the rules).
	RootlessCgroups bool
}

// Create builds the container and leaves its init waiting for Start. On any
// error nothing is left behind: no process, cgroup or state directory.
func Create(o *CreateOpts) (*Container, error) {
	if !state.ValidID(o.ID) {
		return nil, ErrInvalidID
	}
	spec := o.Bundle.Spec
	p, err := makePlan(spec, seccompCache(o.Root))
	if err != nil {
		return nil, err
	}
	debugPlan(o.ID, spec, p)
	mk, err := makeContainer(o, p)
	if err != nil {
		return nil, err
	}
	initPid, err := spawn(o, mk.c, p, mk.mgr)
	if err != nil {
		mk.undo(initPid)
		return nil, err
	}
	return mk.c, nil
}

// making is a container being made (by create or restore) until its first
// process runs: what undo must remove if that fails.
type making struct {
	c    *Container
	spec *specs.Spec
	// mgr is nil until the container's cgroups are its own to remove.
	mgr *cgroups.Manager
}

// makeContainer makes what create and restore share, for plan p: the locked state
// directory, state.json (first, so that a crash from there on leaves
// something "delete -f" removes completely) and config.json, and the
// cgroups with their limits. On error it has removed what it made.
func makeContainer(o *CreateOpts, p *plan) (mk *making, err error) {
	spec := o.Bundle.Spec
	if err := os.MkdirAll(o.Root, 0o700); err != nil {
		return nil, fmt.Errorf("create root %s: %w", o.Root, err)
	}
	dir, err := state.Dir(o.Root, o.ID)
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, ErrExist
		}
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	lock, err := state.LockDir(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	made := &making{c: &Container{ID: o.ID, Dir: dir, lock: lock}, spec: spec}
	mk = made
	defer func() {
		if err != nil {
			made.undo(0) // mk is nil by then
		}
	}()
	var mgr *cgroups.Manager
	if o.SystemdCgroup {
		// a rootless caller's unit is its own systemd user manager's
		mgr, err = cgroups.NewSystemd(spec.Linux.CgroupsPath, o.ID, o.RootlessCgroups)
	} else {
		mgr, err = cgroups.New(spec.Linux.CgroupsPath, o.ID)
	}
	if err != nil {
		return nil, err
	}
	st := &state.State{
		OCIVersion: spec.Version, ID: o.ID, Bundle: o.Bundle.Dir, Rootfs: o.Bundle.Rootfs,
		CgroupPaths: mgr.Paths, SystemdUnit: mgr.UnitString(), SystemdUser: mgr.Unit != nil && mgr.Unit.User,
		SharedPidNS: !p.privatePidNS && !hasJoin(p, unix.CLONE_NEWPID), Annotations: spec.Annotations,
	}
	if o.NotifySocket != "" {
		st.NotifySocket = o.NotifySocket
		if err = notify.Setup(dir, o.NotifySocket, spec); err != nil {
			return nil, err
		}
	}
	mk.c.State = st
	if err = st.Save(dir); err != nil {
		return nil, err
	}
	if err = state.WriteFileAtomic(filepath.Join(dir, state.ConfigFile), marshal(spec), 0o600); err != nil {
		return nil, err
	}
	logrus.Debugf("%s: cgroup paths %v", o.ID, mgr.Paths)
	if err = createCgroups(mgr, spec, o.RootlessCgroups); err != nil {
		// Create removed what it made; what existed before (a frozen or
		// busy cgroup it refused) is not ours to remove.
		return nil, err
	}
	mk.mgr = mgr
	if err = setCgroups(mgr, p.resources, o.RootlessCgroups); err != nil {
		return nil, err
	}
	return mk, nil
}

// undo removes what makeContainer made, after killing pid (the first
// process, if there is one yet).
func (mk *making) undo(pid int) {
	if pid > 0 {
		unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, 0, nil)
	}
	id := mk.c.ID
	if mk.mgr != nil {
		if err := mk.mgr.Destroy(); err != nil {
			logrus.Warnf("%s: removing the cgroups after the failed create: %v", id, err)
		}
	}
	if rdt := mk.spec.Linux.IntelRdt; rdt != nil && intelrdt.Mounted(intelrdt.Root) {
		if err := intelrdt.Remove(intelrdt.Root, id, rdt); err != nil {
			logrus.Warnf("%s: removing the resctrl groups after the failed create: %v", id, err)
		}
	}
	os.RemoveAll(mk.c.Dir)
	dropCacheIfLast(filepath.Dir(mk.c.Dir))
	mk.c.Release()
}

// spawn starts the init, places it in its cgroup, drives the setup
// protocol, saves the state and returns the init's pid.
func spawn(o *CreateOpts, c *Container, p *plan, mgr *cgroups.Manager) (int, error) {
	spec := o.Bundle.Spec
	fifo := filepath.Join(c.Dir, state.FifoFile)
	if err := unix.Mkfifo(fifo, 0o622); err != nil {
		return 0, fmt.Errorf("create exec fifo: %w", err)
	}
	// The umask must not take the others' write bit: a container user
	// that is not root opens it through its fd to say it is ready.
	if err := os.Chmod(fifo, 0o622); err != nil {
		return 0, fmt.Errorf("chmod exec fifo: %w", err)
	}
	if err := chownToContainerRoot(fifo, spec); err != nil {
		return 0, err
	}
	fifoFd, err := os.OpenFile(fifo, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open exec fifo: %w", err)
	}
	defer fifoFd.Close()
	ic := &syncmsg.InitConfig{
		ID: o.ID, Spec: spec, Rootfs: o.Bundle.Rootfs, NoPivot: o.NoPivot, NoNewKeyring: o.NoNewKeyring,
		PreserveFds: len(o.ExtraFiles), UnshareCgroupNS: p.unshareCgroupNS,
		JoinMountNS: p.joinMount, PrivatePidNS: p.privatePidNS,
		NewNetNS: p.newNetNS, UserNS: p.userNS || rootless.InUserNS(), CgroupNS: p.cgroupNS, MountNS: p.mountNS,
		CgroupPaths: mgr.Paths,
	}
	m := &initMode{c: c, spec: spec, bundle: o.Bundle.Dir, fifo: fifoFd}
	if runtimeOpensBindSources(spec, p) {
		srcs, err := openBindSources(spec, o.Bundle.Dir, p.userNS)
		if err != nil {
			return 0, err
		}
		defer closeFiles(srcs)
		m.mountSrcs = srcs
	}
	if h := spec.Hooks; h != nil {
		ic.RuntimeHooks = len(h.Prestart)+len(h.CreateRuntime) > 0
	}
	l := &launch{
		mode: m, plan: p, mgr: mgr, config: ic, process: spec.Process, dir: o.Bundle.Dir,
		extra: o.ExtraFiles, stdin: o.Stdin, stdout: o.Stdout, stderr: o.Stderr,
		uidMap: spec.Linux.UIDMappings, gidMap: spec.Linux.GIDMappings, console: o.ConsoleSocket,
	}
	pid, err := l.run()
	c.initPid = pid
	return pid, err
}

// moveNetDevices moves linux.netDevices into the network namespace of the
// init pid, before it is configured: its sysctls and the create-time
// hooks see the devices.
func moveNetDevices(pid int, devs map[string]specs.LinuxNetDevice) error {
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return fmt.Errorf("linux.netDevices: open the container's network namespace: %w", err)
	}
	defer ns.Close()
	return netdev.Move(devs, int(ns.Fd()))
}

// seccompCache is where compiled seccomp programs are kept under root.
func seccompCache(root string) string { return filepath.Join(root, ".seccomp-cache") }

func oomScoreAdj(p *specs.Process) *int {
	if p == nil {
		return nil
	}
	return p.OOMScoreAdj
}

// chownToContainerRoot lets the container's root open the fifo when it is
// not the host's root.
func chownToContainerRoot(path string, s *specs.Spec) error {
	uid, gid := hostID(s.Linux.UIDMappings), hostID(s.Linux.GIDMappings)
	if uid == 0 && gid == 0 {
		return nil
	}
	return chownFifoRootless(os.Chown(path, uid, gid))
}

// debugPlan writes what create is about to do as debug records (--debug):
// the namespaces made and joined and the mounts, in config order.
func debugPlan(id string, spec *specs.Spec, p *plan) {
	if !logrus.IsLevelEnabled(logrus.DebugLevel) {
		return
	}
	var made, joined []string
	for _, ns := range spec.Linux.Namespaces {
		if ns.Path == "" {
			made = append(made, string(ns.Type))
		} else {
			joined = append(joined, string(ns.Type)+"="+ns.Path)
		}
	}
	logrus.Debugf("%s: namespaces: new %v, joined %v (user namespace %v)", id, made, joined, p.userNS)
	for i, m := range spec.Mounts {
		logrus.Debugf("%s: mount #%d: %s (%s) on %s, options %v", id, i, m.Source, m.Type, m.Destination, m.Options)
	}
	if h := spec.Hooks; h != nil {
		logrus.Debugf("%s: hooks: %d prestart, %d createRuntime, %d createContainer, %d startContainer, %d poststart, %d poststop",
			id, len(h.Prestart), len(h.CreateRuntime), len(h.CreateContainer), len(h.StartContainer), len(h.Poststart), len(h.Poststop))
	}
}

// openBindSources makes, for each bind mount of spec, a detached copy of
// its source (open_tree OPEN_TREE_CLONE, recursive for rbind) while the
// runtime still has the host's view and credentials. The init of a
// container with a user namespace mounts these instead of the paths: a
// source it cannot reach as the container's root (a 0700 directory of host
// root, as podman's and Kubernetes' volumes often are) would fail with
// "permission denied". Relative sources are relative to the bundle.
func openBindSources(spec *specs.Spec, bundleDir string, userNS bool) ([]*os.File, error) {
	srcs := make([]*os.File, len(spec.Mounts))
	for i, m := range spec.Mounts {
		o := rootfs.ParseOptions(m.Options)
		idmapped := o.IDMap || len(m.UIDMappings) > 0
		if m.Type != "bind" && !o.Bind || !userNS && !idmapped {
			continue
		}
		src := bindSource(m, bundleDir)
		flags := unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC
		if o.Recursive {
			flags |= unix.AT_RECURSIVE
		}
		fd, err := unix.OpenTree(unix.AT_FDCWD, src, uint(flags))
		if err != nil {
			closeFiles(srcs)
			return nil, fmt.Errorf("mount %s (bind) on %s: open the source: %w", m.Source, m.Destination, err)
		}
		srcs[i] = os.NewFile(uintptr(fd), src)
		if idmapped {
			if err := idmapTree(fd, m, spec.Linux, userNS, o.RecursiveIDMap); err != nil {
				closeFiles(srcs)
				return nil, err
			}
		}
	}
	return srcs, nil
}

// bindSource is m's source, a relative one taken relative to the bundle.
func bindSource(m specs.Mount, bundleDir string) string {
	if filepath.IsAbs(m.Source) {
		return m.Source
	}
	return filepath.Join(bundleDir, m.Source)
}

// hasIDMappedMount tells whether a mount asks for an ID mapping.
func hasIDMappedMount(spec *specs.Spec) bool {
	for _, m := range spec.Mounts {
		if len(m.UIDMappings) > 0 || rootfs.ParseOptions(m.Options).IDMap {
			return true
		}
	}
	return false
}

// idmapTree gives the detached copy tree of m its ID mapping, through a
// user namespace made for it by the runtime (which has the host's view).
func idmapTree(tree int, m specs.Mount, linux *specs.Linux, userNS, recursive bool) error {
	uids, gids, err := idmap.Mappings(m, linux, userNS)
	if err != nil {
		return err
	}
	ns, err := idmap.UsernsFd("/proc/self/exe", uids, gids)
	if err != nil {
		return fmt.Errorf("mount %s: %w", m.Destination, err)
	}
	defer ns.Close()
	if err := idmap.Apply(tree, ns, recursive); err != nil {
		hint := ""
		if errors.Is(err, unix.EINVAL) {
			hint = " (its file system cannot be idmapped on this kernel)"
		}
		return fmt.Errorf("mount %s (idmapped) from %s%s: %w", m.Destination, m.Source, hint, err)
	}
	return nil
}

func closeFiles(fs []*os.File) {
	for _, f := range fs {
		if f != nil {
			f.Close()
		}
	}
}
