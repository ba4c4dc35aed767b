package libcontainer

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"

	safeproc "github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/libcontainer/cgroups"
	"github.com/berth-runtime/berth/libcontainer/cpus"
	"github.com/berth-runtime/berth/libcontainer/exeseal"
	"github.com/berth-runtime/berth/libcontainer/initp"
	"github.com/berth-runtime/berth/libcontainer/kernel"
	"github.com/berth-runtime/berth/libcontainer/nskind"
	"github.com/berth-runtime/berth/libcontainer/procfs"
	"github.com/berth-runtime/berth/libcontainer/rootless"
	"github.com/berth-runtime/berth/libcontainer/seccomp"
	"github.com/berth-runtime/berth/libcontainer/syncmsg"
)

// launch starts a "berth init" process and drives the setup protocol with
// it. What differs between the container's init (create) and a process
// joining it (exec) is its mode (launchmode.go); the rest is shared.
type launch struct {
	mode    launchMode
	plan    *plan
	mgr     *cgroups.Manager
	config  *syncmsg.InitConfig
	process *specs.Process
	// dir is the init's working directory until it sets up its own.
	dir                   string
	extra                 []*os.File
	stdin, stdout, stderr *os.File
	uidMap, gidMap        []specs.LinuxIDMapping
	// console is the socket that receives the pty master (terminal).
	console *os.File
	// agent is the seccomp agent, connected before the init starts.
	agent *net.UnixConn
	// stage is the configuration of the C exec stage, which then replaces
	// the Go init (nil: the Go init runs).
	stage *syncmsg.ExecStage
}

// sendToAgent copies the init's seccomp notify listener, once its filter
// is loaded at fd, and gives it to the agent connected before the init
// started. The init's next message (an error) or its death stops the wait.
func (l *launch) sendToAgent(conn *syncmsg.Conn, pid, fd int) (next *recv, err error) {
	sc := l.config.Spec.Linux.Seccomp
	if sc == nil || l.agent == nil {
		return nil, errors.New("protocol error: unexpected seccomp fd")
	}
	stop := make(chan struct{})
	got := make(chan recv, 1)
	go func() {
		m, err := conn.Recv()
		got <- recv{m, err}
		close(stop)
	}()
	f, err := seccomp.FetchListener(pid, fd, stop)
	if err != nil {
		if r := <-got; r.err != nil && !errors.Is(r.err, syncmsg.ErrClosed) {
			return nil, r.err // the init's own error says more
		}
		return nil, err
	}
	defer f.Close()
	st := l.mode.hookState(pid)
	st.Status = specs.StateCreating
	if err := seccomp.SendToAgent(l.agent, sc, int(f.Fd()), pid, st); err != nil {
		return nil, err
	}
	if err := conn.Send(syncmsg.Message{Type: syncmsg.SeccompDone}); err != nil {
		return nil, err
	}
	r := <-got
	return &r, nil
}

// recv is one received message or the error instead.
type recv struct {
	m   syncmsg.Message
	err error
}

// run starts the process and drives the protocol until the init execs. It
// returns the pid of the process, also on error when one was started, so
// the caller can clean up.
func (l *launch) run() (pid int, err error) {
	if sc := l.config.Spec.Linux.Seccomp; sc != nil && seccomp.UsesNotify(sc) {
		if l.agent, err = seccomp.ConnectAgent(sc); err != nil {
			return 0, err
		}
		defer l.agent.Close()
	}
	exe, err := exeseal.Open()
	if err != nil {
		return 0, err
	}
	defer exe.Close()
	parentSock, childSock, err := syncSocket()
	if err != nil {
		return 0, err
	}
	defer parentSock.Close()
	cmd := l.command(childSock, exe)
	cgfd, err := l.cloneIntoCgroup(cmd)
	if err != nil {
		return 0, err
	}
	if cgfd >= 0 {
		defer unix.Close(cgfd)
	}
	cmd, err = l.startOrFallBack(cmd)
	// Only the init may hold the child's end, so that its death is EOF.
	childSock.Close()
	if err != nil {
		return 0, err
	}
	// Not born in its unified cgroup: the runtime moves it in; a systemd
	// unit that does not exist yet is started with it (ApplyUnified).
	moveUnified := cgfd >= 0 && !cmd.SysProcAttr.UseCgroupFD || cgfd < 0 && l.mgr.Unit != nil
	return l.setUp(cmd, parentSock, moveUnified)
}

// syncSocket makes the socketpair of the setup protocol: the parent's end
// and the one the init inherits (fdLayout places it).
func syncSocket() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("create sync socket: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "sync-parent"), os.NewFile(uintptr(fds[1]), "sync-child"), nil
}

// command builds the "berth init" command: the sealed binary run through
// its fd (no path on the host to swap), the fds in fdLayout's order and
// the plan's clone attributes.
func (l *launch) command(childSock, exe *os.File) *exec.Cmd {
	lay, syncFd, exeFd := l.layOutFds(childSock, exe)
	return &exec.Cmd{
		Path:   "/proc/self/fd/" + strconv.Itoa(exeFd),
		Args:   []string{"berth", "init"},
		Env:    l.env(syncFd, exeFd),
		Stdin:  orStd(l.stdin, os.Stdin),
		Stdout: orStd(l.stdout, os.Stdout),
		Stderr: orStd(l.stderr, os.Stderr),
		// The init's cwd is the bundle, so relative bind sources resolve.
		Dir:         l.dir,
		ExtraFiles:  lay.files,
		SysProcAttr: l.sysProcAttr(),
	}
}

// env is the init's environment: where its sync socket and binary are,
// the pre-stage's work and the mode's word to it. The container's process
// gets its own env.
func (l *launch) env(syncFd, exeFd int) []string {
	// The init is short-lived Go: one P and no GC make its runtime start
	// faster and lighter.
	env := []string{initp.EnvSyncFd + "=" + strconv.Itoa(syncFd), initp.EnvExeFd + "=" + strconv.Itoa(exeFd),
		"GOMAXPROCS=1", "GOGC=off"}
	var v1 []string
	if preStageJoinsV1(l.plan) {
		v1 = l.mgr.V1Paths()
	}
	env = append(env, preStageEnv(l.plan, v1)...)
	if l.stage != nil {
		env = append(env, "_BERTH_EXECSTAGE=1")
	}
	return l.mode.appendEnv(env)
}

// preStageJoinsV1 reports whether the pre-stage moves the process into its
// v1 cgroups itself: not when it starts in a new user namespace, where it
// may not write host cgroup files; then the runtime moves it, before it
// gets its configuration.
func preStageJoinsV1(p *plan) bool {
	return p.cloneFlags&unix.CLONE_NEWUSER == 0
}

// sysProcAttr is how the init is cloned: in the plan's new namespaces, in a
// session of its own and killed with the runtime.
func (l *launch) sysProcAttr() *syscall.SysProcAttr {
	p := l.plan
	attr := &syscall.SysProcAttr{
		Cloneflags: p.cloneFlags,
		Setsid:     true,
		Pdeathsig:  unix.SIGKILL,
	}
	if hasJoin(p, unix.CLONE_NEWPID) {
		// Go's child code kills itself when getppid() differs from the
		// parent's pid, which is always so in a joined pid namespace (the
		// parent is invisible there: getppid() is 0). The init sets its
		// parent-death signal itself instead.
		attr.Pdeathsig = 0
	}
	if p.cloneFlags&unix.CLONE_NEWUSER != 0 {
		attr.UidMappings = idMap(l.uidMap)
		attr.GidMappings = idMap(l.gidMap)
		attr.GidMappingsEnableSetgroups = !l.plan.denySetgroups
		// Become the namespace's root before exec, so the init has every
		// capability inside it (host uid 0 is usually not mapped).
		attr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}
	}
	return attr
}

// cloneIntoCgroup opens the unified cgroup (-1: none) and, where the kernel
// can, has cmd born inside it: then there is no moment at which the init
// could fork outside it. Otherwise the runtime moves the process in once
// the pre-stage has reported, before the init has its configuration (so
// before it can fork).
func (l *launch) cloneIntoCgroup(cmd *exec.Cmd) (cgfd int, err error) {
	cgfd, err = l.mgr.OpenUnified()
	if err != nil {
		return 0, fmt.Errorf("open cgroup: %w", err)
	}
	// A parent in a joined cgroup namespace cannot clone into a cgroup
	// under nsdelegate (ENOENT); a child cloned into a cpuset it does not
	// share with its parent keeps the parent's CPUs and memory nodes before
	// Linux 6.3.
	if cgfd >= 0 && kernel.Has(kernel.CloneIntoCgroup) && !hasJoin(l.plan, unix.CLONE_NEWCGROUP) &&
		!cpusetNeedsAttach(cgfd) {
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, cgfd
	}
	return cgfd, nil
}

// startOrFallBack starts cmd, and again without clone3 into the cgroup
// when that is refused: a seccomp filter around the runtime (docker's
// default profile answers ENOSYS) or a kernel before 5.7. It returns the
// command that was started.
func (l *launch) startOrFallBack(cmd *exec.Cmd) (*exec.Cmd, error) {
	err := l.start(cmd)
	if err != nil && cmd.SysProcAttr.UseCgroupFD && kernel.Lacks(kernel.CloneIntoCgroup, err) {
		logrus.Debugf("clone3 into cgroup: %v; moving the process in after start", err)
		cmd = restartable(cmd)
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = false, 0
		err = l.start(cmd)
	}
	return cmd, err
}

// setUp drives the started process from the pre-stage's report to its
// exec and lets os/exec forget it. A failure is the init's own message if
// it sent one, else how it died.
func (l *launch) setUp(cmd *exec.Cmd, sock *os.File, moveUnified bool) (int, error) {
	conn := syncmsg.NewConn(sock)
	// The pid is the pre-stage's forked init from here, 0 if it did not
	// report.
	pid, err := preStageHandshake(sock, cmd, l.plan.idMaps)
	if err == nil {
		err = l.configure(conn, pid, moveUnified)
	}
	if err == nil {
		err = l.handOver(conn, pid)
	}
	if err != nil {
		return pid, initError(cmd, err)
	}
	if cmd.Process.Pid == pid {
		// The process is waited for with wait4 by whoever needs its exit
		// status; os/exec must not hold on to it.
		cmd.Process.Release()
	}
	return pid, nil
}

// configure places the process in its cgroups and sets its oom score
// before it has its configuration (so before it can fork), sends the
// configuration and waits until the init is ready.
func (l *launch) configure(conn *syncmsg.Conn, pid int, moveUnified bool) error {
	if err := l.joinCgroups(pid, moveUnified); err != nil {
		return err
	}
	if adj := oomScoreAdj(l.process); adj != nil {
		if err := writeOOMScoreAdj(pid, *adj); err != nil {
			return fmt.Errorf("set oom_score_adj %d: %w", *adj, err)
		}
	}
	if err := l.mode.beforeConfig(pid); err != nil {
		return err
	}
	var err error
	if l.stage != nil {
		err = conn.SendExecStage(l.stage)
	} else {
		st := l.mode.hookState(pid)
		l.config.State = &st
		l.config.Seccomp = l.plan.seccomp
		err = conn.Send(syncmsg.Message{Type: syncmsg.Config, Config: l.config})
	}
	if err != nil {
		return err
	}
	return l.awaitReady(conn, pid)
}

// joinCgroups moves the process into the cgroups it did not join itself:
// the v1 ones where the pre-stage could not (preStageJoinsV1), the unified
// one where it was not born inside it.
func (l *launch) joinCgroups(pid int, moveUnified bool) error {
	if !preStageJoinsV1(l.plan) {
		if err := l.mgr.ApplyV1(pid); err != nil {
			return err
		}
	}
	if moveUnified {
		return l.mgr.ApplyUnified(pid)
	}
	return nil
}

// awaitReady waits for the init's Ready, answering its requests for the
// runtime's hooks on the way (the mode decides whether there may be any).
func (l *launch) awaitReady(conn *syncmsg.Conn, pid int) error {
	for {
		m, err := conn.Recv()
		if err != nil {
			return err
		}
		switch m.Type {
		case syncmsg.Ready:
			return nil
		case syncmsg.Hooks:
			if err := l.mode.runtimeHooks(pid); err != nil {
				return err
			}
			if err := conn.Send(syncmsg.Message{Type: syncmsg.HooksDone}); err != nil {
				return err
			}
		default:
			return unexpected(m.Type)
		}
	}
}

// handOver sets the ready init's rlimits from the runtime (which may raise
// what the init could not from inside a user namespace), runs the mode's
// last step, lets the init go and follows it to its exec.
func (l *launch) handOver(conn *syncmsg.Conn, pid int) error {
	if l.process != nil {
		if err := setRlimits(pid, l.process.Rlimits); err != nil {
			return err
		}
	}
	if err := l.mode.beforeRun(pid); err != nil {
		return err
	}
	if err := conn.Send(syncmsg.Message{Type: syncmsg.Run}); err != nil {
		return err
	}
	return l.awaitExec(conn, pid)
}

// awaitExec follows the init from Run to its execve: it switches to the
// process's user and capabilities, loads its seccomp filter (handing a
// notify listener to the agent), then closes the socket; anything else is
// a failure it reports.
func (l *launch) awaitExec(conn *syncmsg.Conn, pid int) error {
	var pending *recv
	for {
		var m syncmsg.Message
		var err error
		if pending != nil {
			m, err, pending = pending.m, pending.err, nil
		} else {
			m, err = conn.Recv()
		}
		if errors.Is(err, syncmsg.ErrClosed) {
			logrus.Debugf("sync: the init closed the connection (about to exec)")
			return nil
		}
		if err == nil && m.Type == syncmsg.Seccomp {
			// The agent's answer comes with the init's next message.
			if pending, err = l.sendToAgent(conn, pid, m.Fd); err == nil {
				continue
			}
		} else if err == nil {
			err = unexpected(m.Type)
		}
		return err
	}
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
	cpuset, err := readAt(cgfd, "cpuset.cpus.effective")
	if err != nil {
		return false // no cpuset controller in this cgroup
	}
	mems, _ := readAt(cgfd, "cpuset.mems.effective")
	own, err := procfs.ReadStatus(os.Getpid())
	if err != nil {
		return true
	}
	// The child gets the caller's CPUs where the runtime runs on one
	// (cpus.Forking), not the runtime's own.
	allowed := own["Cpus_allowed_list"]
	if orig, pinned := cpus.Original(); pinned {
		allowed = cpus.Format(orig)
	}
	// Both sides are the kernel's own list format ("0-3,8"), trimmed.
	return cpuset != allowed || mems != own["Mems_allowed_list"]
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

// orStd is f, or the runtime's own stream def when the caller gave none.
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

// idMap converts the spec's id mappings to the form os/exec writes for a
// new user namespace.
func idMap(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	res := make([]syscall.SysProcIDMap, len(m))
	for i, e := range m {
		res[i] = syscall.SysProcIDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)}
	}
	return res
}

// hostID is the host id that m maps the container's 0 to (0: unmapped).
func hostID(m []specs.LinuxIDMapping) int {
	id, _ := rootless.HostID(m, 0)
	return int(id)
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
	return cpus.Forking(func() error { return startJoined(cmd, joins) })
}

// startJoined is startInNamespaces on the thread Forking gives it.
func startJoined(cmd *exec.Cmd, joins []nsJoin) error {
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

// nsFile is the calling thread's /proc entry for the namespace kind of
// flag (to return to after a setns).
func nsFile(flag uintptr) string {
	k, _ := nskind.ByFlag(flag)
	return k.Own
}

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

// preStageHandshake reads the pre-stage's report (syncmsg.StageReport):
// the pid of the forked init, or that it stayed in the same process. maps
// are written for a user namespace the pre-stage makes (nil: none).
func preStageHandshake(sock *os.File, cmd *exec.Cmd, maps *rootless.IDMaps) (int, error) {
	rep, err := readStageReport(sock, cmd.Process.Pid, maps)
	if err != nil {
		return 0, err
	}
	if !rep.Forked {
		return cmd.Process.Pid, nil
	}
	if err := cmd.Wait(); err != nil {
		return 0, fmt.Errorf("pre-stage: %w", err)
	}
	return rep.Pid, nil
}
