package libcontainer

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	safeproc "github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/bundle"
	"github.com/berth-runtime/berth/libcontainer/cgroups"
	"github.com/berth-runtime/berth/libcontainer/exeseal"
	"github.com/berth-runtime/berth/libcontainer/hooks"
	"github.com/berth-runtime/berth/libcontainer/initp"
	"github.com/berth-runtime/berth/libcontainer/kernel"
	"github.com/berth-runtime/berth/libcontainer/notify"
	"github.com/berth-runtime/berth/libcontainer/procfs"
	"github.com/berth-runtime/berth/libcontainer/seccomp"
	"github.com/berth-runtime/berth/libcontainer/state"
	"github.com/berth-runtime/berth/libcontainer/syncmsg"
)

// CreateOpts are the create flags.
type CreateOpts struct {
	Root         string
	ID           string
	Bundle       *bundle.Bundle
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
}

// Create builds the container and leaves its init waiting for Start. On any
// error nothing is left behind: no process, cgroup or state directory.
func Create(o *CreateOpts) (c *Container, err error) {
	if !state.ValidID(o.ID) {
		return nil, ErrInvalidID
	}
	spec := o.Bundle.Spec
	p, err := makePlan(spec, seccompCache(o.Root))
	if err != nil {
		return nil, err
	}
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
	c = &Container{ID: o.ID, Dir: dir, lock: lock}
	var mgr *cgroups.Manager
	var initPid int
	defer func() {
		if err == nil {
			return
		}
		if initPid > 0 {
			unix.Kill(initPid, unix.SIGKILL)
			var ws unix.WaitStatus
			unix.Wait4(initPid, &ws, 0, nil)
		}
		if mgr != nil {
			mgr.Destroy()
		}
		os.RemoveAll(dir)
		dropCacheIfLast(filepath.Dir(dir))
		lock.Unlock()
	}()
	mgr, err = cgroups.New(spec.Linux.CgroupsPath, o.ID)
	if err != nil {
		return nil, err
	}
	st := &state.State{
		OCIVersion: spec.Version, ID: o.ID, Bundle: o.Bundle.Dir, Rootfs: o.Bundle.Rootfs,
		CgroupPaths: mgr.Paths, SharedPidNS: !p.privatePidNS && !hasJoin(p, unix.CLONE_NEWPID),
		Annotations: spec.Annotations,
	}
	if o.NotifySocket != "" {
		st.NotifySocket = o.NotifySocket
		if err = notify.Setup(dir, o.NotifySocket, spec); err != nil {
			return nil, err
		}
	}
	c.State = st
	// Written first so that a crash from here on leaves something that
	// "delete -f" can clean up completely.
	if err = st.Save(dir); err != nil {
		return nil, err
	}
	if err = state.WriteFileAtomic(filepath.Join(dir, state.ConfigFile), marshal(spec), 0o600); err != nil {
		return nil, err
	}
	if err = mgr.Create(); err != nil {
		return nil, err
	}
	if err = mgr.Set(p.resources); err != nil {
		return nil, err
	}
	initPid, err = spawn(o, c, p, mgr)
	return c, err
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
		PreserveFds: len(o.ExtraFiles), FifoFd: 3 + len(o.ExtraFiles) + 1, UnshareCgroupNS: p.unshareCgroupNS,
		JoinMountNS: p.joinMount, PrivatePidNS: p.privatePidNS,
		CgroupPaths: mgr.Paths,
	}
	l := &launch{
		plan: p, mgr: mgr, config: ic, process: spec.Process, dir: o.Bundle.Dir,
		extra: o.ExtraFiles, fifo: fifoFd, stdin: o.Stdin, stdout: o.Stdout, stderr: o.Stderr,
		uidMap: spec.Linux.UIDMappings, gidMap: spec.Linux.GIDMappings, console: o.ConsoleSocket,
	}
	// The create-time hooks (prestart, createRuntime, createContainer) are
	// steps 3-5 of runtime-spec's lifecycle, after the environment is made
	// (step 2, the only one that is "creating"): they get "created", as
	// with crun (runc 1.1 passes "creating").
	hookState := func(pid int) specs.State {
		return specs.State{Version: spec.Version, ID: o.ID, Status: specs.StateCreated, Pid: pid,
			Bundle: o.Bundle.Dir, Annotations: spec.Annotations}
	}
	l.hookState = hookState
	if h := spec.Hooks; h != nil {
		ic.RuntimeHooks = len(h.Prestart)+len(h.CreateRuntime) > 0
		l.runtimeHooks = func(pid int) error {
			st := hookState(pid)
			if err := hooks.RunAll("prestart", h.Prestart, st); err != nil {
				return err
			}
			return hooks.RunAll("createRuntime", h.CreateRuntime, st)
		}
	}
	pid, err := l.run(func(pid int) error {
		stat, err := procfs.ReadStat(pid)
		if err != nil {
			return fmt.Errorf("read init stat: %w", err)
		}
		c.State.InitPid, c.State.InitStartTime, c.State.Created = pid, stat.StartTime, time.Now().UTC()
		return c.State.Save(c.Dir)
	})
	c.initPid = pid
	return pid, err
}

// launch starts a "berth init" process: the container's init (create) or a
// process joining it (exec).
type launch struct {
	plan    *plan
	mgr     *cgroups.Manager
	config  *syncmsg.InitConfig
	process *specs.Process
	// dir is the init's working directory until it sets up its own.
	dir   string
	extra []*os.File
	// fifo is the exec fifo (create only).
	fifo                  *os.File
	stdin, stdout, stderr *os.File
	uidMap, gidMap        []specs.LinuxIDMapping
	// console is the socket that receives the pty master (terminal).
	console *os.File
	// hookState is the state the init's own hooks get; runtimeHooks runs
	// prestart and createRuntime when the init asks (create only).
	hookState    func(pid int) specs.State
	runtimeHooks func(pid int) error
}

// sendToAgent copies the init's seccomp notify fd and gives it to the
// agent named by the profile.
func (l *launch) sendToAgent(pid, fd int) error {
	sc := l.config.Spec.Linux.Seccomp
	if sc == nil || l.hookState == nil {
		return errors.New("protocol error: unexpected seccomp fd")
	}
	f, err := seccomp.FetchFd(pid, fd)
	if err != nil {
		return err
	}
	defer f.Close()
	st := l.hookState(pid)
	st.Status = specs.StateCreating
	return seccomp.SendToAgent(sc, int(f.Fd()), pid, st)
}

// run starts the process and drives the protocol. beforeRun is called
// once the init is ready and before it is let go (create saves the state
// there). It returns the pid of the process, also on error when one was
// started, so the caller can clean up.
func (l *launch) run(beforeRun func(pid int) error) (pid int, err error) {
	p := l.plan
	exe, err := exeseal.Open()
	if err != nil {
		return 0, err
	}
	defer exe.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("create sync socket: %w", err)
	}
	parentSock, childSock := os.NewFile(uintptr(fds[0]), "sync-parent"), os.NewFile(uintptr(fds[1]), "sync-child")
	defer parentSock.Close()
	// The container's preserved fds come first, at 3..3+N: a contract
	// callers rely on.
	extra := append(append([]*os.File{}, l.extra...), childSock)
	if l.fifo != nil {
		extra = append(extra, l.fifo)
	}
	if l.console != nil {
		l.config.ConsoleFd = 3 + len(extra)
		extra = append(extra, l.console)
	}
	extra = append(extra, exe)
	base := 3 + len(l.extra)
	exeFd := 3 + len(extra) - 1
	cmd := &exec.Cmd{
		Path: "/proc/self/fd/" + strconv.Itoa(exeFd),
		Args: []string{"berth", "init"},
		// The init is short-lived Go: one P and no GC make its runtime start
		// faster and lighter. The container's process gets its own env.
		Env: []string{initp.EnvSyncFd + "=" + strconv.Itoa(base), initp.EnvExeFd + "=" + strconv.Itoa(exeFd),
			"GOMAXPROCS=1", "GOGC=off"},
		Stdin:  orStd(l.stdin, os.Stdin),
		Stdout: orStd(l.stdout, os.Stdout),
		Stderr: orStd(l.stderr, os.Stderr),
		// The init's cwd is the bundle, so relative bind sources resolve.
		Dir:        l.dir,
		ExtraFiles: extra,
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: p.cloneFlags,
			Setsid:     true,
			Pdeathsig:  unix.SIGKILL,
		},
	}
	if hasJoin(p, unix.CLONE_NEWPID) {
		// Go's child code kills itself when getppid() differs from the
		// parent's pid, which is always so in a joined pid namespace (the
		// parent is invisible there: getppid() is 0). The init sets its
		// parent-death signal itself instead.
		cmd.SysProcAttr.Pdeathsig = 0
	}
	if p.cloneFlags&unix.CLONE_NEWUSER != 0 {
		cmd.SysProcAttr.UidMappings = idMap(l.uidMap)
		cmd.SysProcAttr.GidMappings = idMap(l.gidMap)
		cmd.SysProcAttr.GidMappingsEnableSetgroups = true
		// Become the namespace's root before exec, so the init has every
		// capability inside it (host uid 0 is usually not mapped).
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}
	}
	// The pre-stage moves the process into its v1 cgroups itself, unless it
	// starts in a new user namespace, where it may not write host cgroup
	// files: then we move it, before it gets its configuration.
	selfJoin := p.cloneFlags&unix.CLONE_NEWUSER == 0
	var v1 []string
	if selfJoin {
		v1 = l.mgr.V1Paths()
	}
	cmd.Env = append(cmd.Env, preStageEnv(p, v1)...)
	if l.config.Exec {
		cmd.Env = append(cmd.Env, "_BERTH_EXEC=1")
	}
	cgfd, err := l.mgr.OpenUnified()
	if err != nil {
		return 0, fmt.Errorf("open cgroup: %w", err)
	}
	// moveUnified: the runtime moves the process into its unified cgroup
	// once the pre-stage has reported, before the init has its
	// configuration (so before it can fork).
	moveUnified := false
	if cgfd >= 0 {
		defer unix.Close(cgfd)
		if kernel.Has(kernel.CloneIntoCgroup) && !hasJoin(p, unix.CLONE_NEWCGROUP) && !cpusetNeedsAttach(cgfd) {
			// Born inside its cgroup: there is no moment at which the
			// init could fork outside it.
			cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, cgfd
		} else {
			// A parent in a joined cgroup namespace cannot clone into a
			// cgroup under nsdelegate (ENOENT); a child cloned into a
			// cpuset it does not share with its parent keeps the parent's
			// CPUs and memory nodes before Linux 6.3.
			moveUnified = true
		}
	}
	err = l.start(cmd)
	if err != nil && cmd.SysProcAttr.UseCgroupFD && kernel.Lacks(kernel.CloneIntoCgroup, err) {
		// clone3 refused: a seccomp filter around the runtime (docker's
		// default profile answers ENOSYS) or a kernel before 5.7.
		logrus.Debugf("clone3 into cgroup: %v; moving the process in after start", err)
		cmd = restartable(cmd)
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = false, 0
		moveUnified = true
		err = l.start(cmd)
	}
	childSock.Close()
	if err != nil {
		return 0, err
	}
	pid = cmd.Process.Pid
	conn := syncmsg.NewConn(parentSock)
	fail := func(err error) (int, error) {
		return pid, initError(cmd, err)
	}
	if pid, err = preStageHandshake(parentSock, cmd); err != nil {
		return fail(err)
	}
	if !selfJoin {
		if err := l.mgr.ApplyV1(pid); err != nil {
			return fail(err)
		}
	}
	if moveUnified {
		if err := l.mgr.ApplyUnified(pid); err != nil {
			return fail(err)
		}
	}
	if adj := oomScoreAdj(l.process); adj != nil {
		if err := writeOOMScoreAdj(pid, *adj); err != nil {
			return fail(fmt.Errorf("set oom_score_adj %d: %w", *adj, err))
		}
	}
	if l.hookState != nil {
		st := l.hookState(pid)
		l.config.State = &st
	}
	l.config.Seccomp = p.seccomp
	if err := conn.Send(syncmsg.Message{Type: syncmsg.Config, Config: l.config}); err != nil {
		return fail(err)
	}
	for {
		m, err := conn.Recv()
		if err != nil {
			return fail(err)
		}
		if m.Type == syncmsg.Ready {
			break
		}
		if m.Type != syncmsg.Hooks || l.runtimeHooks == nil {
			return fail(fmt.Errorf("protocol error: unexpected %q", m.Type))
		}
		if err := l.runtimeHooks(pid); err != nil {
			return fail(err)
		}
		if err := conn.Send(syncmsg.Message{Type: syncmsg.HooksDone}); err != nil {
			return fail(err)
		}
	}
	if l.process != nil {
		if err := setRlimits(pid, l.process.Rlimits); err != nil {
			return fail(err)
		}
	}
	if beforeRun != nil {
		if err := beforeRun(pid); err != nil {
			return fail(err)
		}
	}
	if err := conn.Send(syncmsg.Message{Type: syncmsg.Run}); err != nil {
		return fail(err)
	}
	// The init switches to the process's user and capabilities, loads its
	// seccomp filter (handing a notify listener to the agent), then closes
	// the socket; anything else is a failure it reports.
	for {
		m, err := conn.Recv()
		if errors.Is(err, syncmsg.ErrClosed) {
			break
		}
		if err == nil && m.Type == syncmsg.Seccomp {
			err = l.sendToAgent(pid, m.Fd)
			if err == nil {
				err = conn.Send(syncmsg.Message{Type: syncmsg.SeccompDone})
			}
			if err == nil {
				continue
			}
		} else if err == nil {
			err = fmt.Errorf("protocol error: unexpected %q", m.Type)
		}
		return fail(err)
	}
	if cmd.Process.Pid == pid {
		// The process is waited for with wait4 by whoever needs its exit
		// status; os/exec must not hold on to it.
		cmd.Process.Release()
	}
	return pid, nil
}

// cpusetNeedsAttach reports whether a process cloned into the cgroup cgfd
// would miss its cpuset: before Linux 6.3 (kernel commit "cgroup/cpuset:
// Make cpuset_fork() handle CLONE_INTO_CGROUP properly") such a child keeps
// its parent's CPU affinity and memory nodes, so on those kernels a cgroup
// whose effective cpuset differs from the runtime's own is joined by a
// cgroup.procs write (cpuset_attach applies both). The fix cannot be
// detected by a call, hence the release check.
func cpusetNeedsAttach(cgfd int) bool {
	if kernel.ReleaseAtLeast(6, 3) {
		return false
	}
	cpus, err := readAt(cgfd, "cpuset.cpus.effective")
	if err != nil {
		return false // no cpuset controller in this cgroup
	}
	mems, _ := readAt(cgfd, "cpuset.mems.effective")
	own, err := procfs.ReadStatus(os.Getpid())
	if err != nil {
		return true
	}
	// Both sides are the kernel's own list format ("0-3,8"), trimmed.
	return cpus != own["Cpus_allowed_list"] || mems != own["Mems_allowed_list"]
}

// readAt reads a small file below the directory fd dir.
func readAt(dir int, name string) (string, error) {
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	var buf [512]byte
	n, err := unix.Read(fd, buf[:])
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(buf[:n])), nil
}

// writeOOMScoreAdj writes /proc/PID/oom_score_adj through a private,
// verified procfs handle (pathrs-lite), not a path another mount could
// redirect.
func writeOOMScoreAdj(pid, adj int) error {
	proc, err := safeproc.OpenProcRoot()
	if err != nil {
		return err
	}
	defer proc.Close()
	h, err := proc.OpenPid(pid, "oom_score_adj")
	if err != nil {
		return err
	}
	defer h.Close()
	return procfs.WriteHandle(h, strconv.Itoa(adj))
}

// start starts cmd in the plan's namespaces.
func (l *launch) start(cmd *exec.Cmd) error {
	p := l.plan
	if p.cloneFlags&unix.CLONE_NEWUSER != 0 {
		// Go's child enters cmd.Dir only once it is the new user
		// namespace's root, which may not search the path to the bundle
		// (dockerd --userns-remap keeps bundles under a 0700 exec root).
		// runc's init enters the user namespace after it has its working
		// directory; likewise, the child inherits ours, set to the bundle.
		cmd.Dir = ""
		return inDir(l.dir, func() error { return startInNamespaces(cmd, p.parentJoins) })
	}
	return startInNamespaces(cmd, p.parentJoins)
}

// restartable returns a fresh Cmd with the settings of cmd, whose Start
// failed (an exec.Cmd cannot be started twice).
func restartable(cmd *exec.Cmd) *exec.Cmd {
	attr := *cmd.SysProcAttr
	return &exec.Cmd{Path: cmd.Path, Args: cmd.Args, Env: cmd.Env, Dir: cmd.Dir,
		Stdin: cmd.Stdin, Stdout: cmd.Stdout, Stderr: cmd.Stderr,
		ExtraFiles: cmd.ExtraFiles, SysProcAttr: &attr}
}

// seccompCache is where compiled seccomp programs are kept under root.
func seccompCache(root string) string { return filepath.Join(root, ".seccomp-cache") }

func oomScoreAdj(p *specs.Process) *int {
	if p == nil {
		return nil
	}
	return p.OOMScoreAdj
}

func orStd(f, def *os.File) *os.File {
	if f != nil {
		return f
	}
	return def
}

// initError turns a failed setup into one error: the init's own message if
// it sent one, else how it died.
func initError(cmd *exec.Cmd, err error) error {
	if !errors.Is(err, syncmsg.ErrClosed) || cmd.ProcessState != nil {
		return err
	}
	cmd.Process.Kill()
	if werr := cmd.Wait(); werr != nil {
		return fmt.Errorf("container init exited during setup: %w", werr)
	}
	return errors.New("container init exited during setup")
}

func idMap(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	res := make([]syscall.SysProcIDMap, len(m))
	for i, e := range m {
		res[i] = syscall.SysProcIDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)}
	}
	return res
}

// chownToContainerRoot lets the container's root open the fifo when it is
// not the host's root.
func chownToContainerRoot(path string, s *specs.Spec) error {
	uid, gid := hostID(s.Linux.UIDMappings), hostID(s.Linux.GIDMappings)
	if uid == 0 && gid == 0 {
		return nil
	}
	return os.Chown(path, uid, gid)
}

func hostID(m []specs.LinuxIDMapping) int {
	for _, e := range m {
		if e.ContainerID == 0 {
			return int(e.HostID)
		}
	}
	return 0
}

// inDir runs fn with the process's working directory set to dir, and then
// returns to the previous one (through an fd: it may have no name).
func inDir(dir string, fn func() error) error {
	prev, err := unix.Open(".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open working directory: %w", err)
	}
	defer unix.Close(prev)
	if err := unix.Chdir(dir); err != nil {
		return fmt.Errorf("chdir to %s: %w", dir, err)
	}
	err = fn()
	if cerr := unix.Fchdir(prev); cerr != nil && err == nil {
		err = fmt.Errorf("return to the working directory: %w", cerr)
	}
	return err
}

// startInNamespaces starts cmd from a thread that has joined the given
// namespaces, so the child inherits them (a pid namespace only applies to
// children). The thread goes back to its own namespaces afterwards.
func startInNamespaces(cmd *exec.Cmd, joins []nsJoin) error {
	if len(joins) == 0 {
		return cmd.Start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var restore []nsJoin
	var restoreFds []int
	defer func() {
		for i, r := range restore {
			if err := unix.Setns(restoreFds[i], int(r.flag)); err != nil {
				// This thread can no longer be trusted; let it die with
				// the goroutine rather than be reused.
				runtime.LockOSThread()
			}
			unix.Close(restoreFds[i])
		}
	}()
	for _, j := range joins {
		own, err := unix.Open("/proc/thread-self/ns/"+nsFile(j.flag), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		fd, err := unix.Open(j.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			unix.Close(own)
			return fmt.Errorf("open namespace %s: %w", j.path, err)
		}
		err = unix.Setns(fd, int(j.flag))
		unix.Close(fd)
		if err != nil {
			unix.Close(own)
			return fmt.Errorf("join %s namespace %s: %w", nsFile(j.flag), j.path, err)
		}
		restore = append([]nsJoin{j}, restore...)
		restoreFds = append([]int{own}, restoreFds...)
	}
	return cmd.Start()
}

func nsFile(flag uintptr) string {
	switch flag {
	case unix.CLONE_NEWPID:
		return "pid_for_children"
	case unix.CLONE_NEWNET:
		return "net"
	case unix.CLONE_NEWIPC:
		return "ipc"
	case unix.CLONE_NEWUTS:
		return "uts"
	case unix.CLONE_NEWCGROUP:
		return "cgroup"
	case unix.CLONE_NEWNS:
		return "mnt"
	case unix.CLONE_NEWUSER:
		return "user"
	case unix.CLONE_NEWTIME:
		return "time_for_children"
	}
	return "?"
}

// Wait reaps children until the init exits (the caller is a subreaper, so
// orphans of the container come here too) and returns its exit code, 128+n
// when a signal killed it.
func (c *Container) Wait() int { return WaitPid(c.initPid) }

// WaitPid reaps children until pid exits (the caller may be a subreaper, so
// orphans come here too) and returns its exit code, 128+n for signal n.
func WaitPid(want int) int {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 255
		}
		if pid != want {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}

// InitPid returns the init's pid.
func (c *Container) InitPid() int { return c.State.InitPid }

// preStageEnv describes the pre-stage's work to the C code in nsenter.
func preStageEnv(p *plan, v1Cgroups []string) []string {
	var joins []string
	for _, j := range p.preJoins {
		joins = append(joins, fmt.Sprintf("%d:%s", j.flag, j.path))
	}
	if p.cgroupJoin != "" {
		joins = append(joins, fmt.Sprintf("%d:%s", unix.CLONE_NEWCGROUP, p.cgroupJoin))
	}
	env := []string{
		"_BERTH_NSJOIN=" + strings.Join(joins, "\n"),
		"_BERTH_NSUNSHARE=" + strconv.FormatUint(uint64(p.preUnshare), 10),
		"_BERTH_CGROUPS=" + strings.Join(v1Cgroups, "\n"),
	}
	if p.preFork {
		env = append(env, "_BERTH_NSFORK=1")
	}
	if len(p.timeOffsets) > 0 {
		var b strings.Builder
		clocks := make([]string, 0, len(p.timeOffsets))
		for clock := range p.timeOffsets {
			clocks = append(clocks, clock)
		}
		sort.Strings(clocks)
		for _, clock := range clocks {
			off := p.timeOffsets[clock]
			fmt.Fprintf(&b, "%s %d %d\n", clock, off.Secs, off.Nanosecs)
		}
		env = append(env, "_BERTH_TIMENS_OFFSETS="+b.String())
	}
	return env
}

// preStageHandshake reads the pre-stage's report: the pid of the forked
// init, or that it stayed in the same process.
func preStageHandshake(sock *os.File, cmd *exec.Cmd) (int, error) {
	var line []byte
	var b [1]byte
	for {
		n, err := unix.Read(int(sock.Fd()), b[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return 0, syncmsg.ErrClosed
		}
		if b[0] == '\n' {
			break
		}
		line = append(line, b[0])
	}
	s := string(line)
	switch {
	case s == "S":
		return cmd.Process.Pid, nil
	case strings.HasPrefix(s, "P"):
		pid, err := strconv.Atoi(s[1:])
		if err != nil {
			return 0, fmt.Errorf("pre-stage: bad report %q", s)
		}
		if err := cmd.Wait(); err != nil {
			return 0, fmt.Errorf("pre-stage: %w", err)
		}
		return pid, nil
	case strings.HasPrefix(s, "E"):
		return 0, errors.New(s[1:])
	}
	return 0, fmt.Errorf("pre-stage: bad report %q", s)
}
