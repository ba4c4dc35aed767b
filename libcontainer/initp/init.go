// Package initp is the container's init before it becomes the user's
// process: it runs as "berth init" inside the new namespaces, receives its
// configuration from the runtime over the sync socket, builds the root
// file system, drops privileges, reports ready, waits for "start" on the exec
// fifo, and finally execs the container's program.
package initp

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/libcontainer/caps"
	"github.com/berth-runtime/berth/libcontainer/console"
	"github.com/berth-runtime/berth/libcontainer/hooks"
	"github.com/berth-runtime/berth/libcontainer/kernel"
	bprocfs "github.com/berth-runtime/berth/libcontainer/procfs"
	"github.com/berth-runtime/berth/libcontainer/rootfs"
	"github.com/berth-runtime/berth/libcontainer/seccomp"
	"github.com/berth-runtime/berth/libcontainer/syncmsg"
)

// Environment variables the runtime sets for the init.
const (
	EnvSyncFd = "_BERTH_SYNCFD"
	EnvExeFd  = "_BERTH_EXEFD"
)

// Main is the init's entry point. It never returns. The calling goroutine
// must be locked to the main thread: namespaces and credentials are
// per-thread and the final execve must happen on the thread that set them.
func Main() {
	// Die with the runtime until it lets us go (see run). The runtime
	// could not always ask for this at fork time.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		// Invariant 6 (the init dies with an unfinished runtime) rests
		// on this: without it, do not go on.
		fmt.Fprintf(os.Stderr, "berth init: set the parent-death signal: %v\n", err)
		os.Exit(1)
	}
	if fd, err := strconv.Atoi(os.Getenv(EnvExeFd)); err == nil {
		unix.Close(fd)
	}
	fd, err := strconv.Atoi(os.Getenv(EnvSyncFd))
	if err != nil {
		fmt.Fprintln(os.Stderr, "berth init: must be started by berth")
		os.Exit(1)
	}
	conn := syncmsg.NewConn(os.NewFile(uintptr(fd), "sync"))
	err = run(conn)
	// run only returns on failure; report it to the runtime if it still
	// listens, else to stderr. A runtime that hung up has failed the
	// create (or exec) and reports why itself: one error, the runtime's.
	if errors.Is(err, syncmsg.ErrClosed) {
		os.Exit(1)
	}
	if serr := conn.Send(syncmsg.Message{Type: syncmsg.Error, Message: err.Error()}); serr != nil {
		fmt.Fprintln(os.Stderr, "berth init:", err)
	}
	os.Exit(1)
}

func run(conn *syncmsg.Conn) error {
	ppid := os.Getppid()
	msg, err := conn.Expect(syncmsg.Config)
	if err != nil {
		return err
	}
	cfg := msg.Config
	spec := cfg.Spec
	if cfg.Spec == nil || cfg.Spec.Linux == nil {
		return errors.New("init: no linux config")
	}
	proc := spec.Process
	if cfg.Process != nil {
		proc = cfg.Process
	}
	if err := applyInitialAffinity(proc); err != nil {
		return err
	}
	procfd := -1
	if cfg.Exec {
		// Processes already in the container must not ptrace us or read
		// our fds while we still hold the runtime's (CVE-2016-9962);
		// execve resets this.
		if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
			return fmt.Errorf("set non-dumpable: %w", err)
		}
		if err := joinAndUnshare(cfg); err != nil {
			return err
		}
	} else if procfd, err = setupContainer(cfg, conn); err != nil {
		return err
	}
	if proc == nil {
		// A container without a process: it exists, it can never start.
		return holdWithoutProcess(conn, ppid)
	}
	if proc.Terminal {
		if err := setupTerminal(cfg, proc); err != nil {
			return err
		}
	}
	env := withHome(proc.Env, proc.User.UID)
	path, err := lookPath(proc.Args[0], env, proc.Cwd)
	if err != nil {
		return err
	}
	lastCap := caps.LastCap()
	sets, _, err := caps.FromSpec(proc.Capabilities, lastCap) // the runtime warned
	if err != nil {
		return err
	}
	if proc.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("set no_new_privs: %w", err)
		}
	}
	filter := cfg.Seccomp
	// From here on the container outlives the runtime that made it.
	if err := releasedByRuntime(conn, ppid, true); err != nil {
		return err
	}
	// No fd of the runtime may reach the container (CVE-2024-21626): all
	// beyond the preserved ones close on exec. Done before seccomp, which
	// may not know close_range.
	if err := kernel.CloseOnExecFrom(3 + cfg.PreserveFds); err != nil {
		return fmt.Errorf("mark fds close-on-exec: %w", err)
	}
	// Before seccomp, which may not allow personality(2).
	if !cfg.Exec {
		if err := setPersonality(spec.Linux.Personality); err != nil {
			return err
		}
		if err := applyMemoryPolicy(spec.Linux.MemoryPolicy); err != nil {
			return err
		}
	}
	if err := finalize(proc, sets, lastCap, filter, conn); err != nil {
		return err
	}
	// Closing the socket tells the runtime that setup is complete.
	conn.Close()
	if cfg.Exec {
		keepNofile()
		return fmt.Errorf("exec %s: %w", proc.Args[0], syscall.Exec(path, proc.Args, env))
	}
	fifo, err := waitForStart(procfd, cfg.FifoFd)
	if err != nil {
		return err
	}
	// From here "berth start" listens on the fifo: it sees EOF when execve
	// closes our end (close-on-exec), or a message when something failed.
	fail := func(err error) error {
		unix.Write(fifo, syncmsg.FifoFailure(err))
		unix.Close(fifo)
		os.Exit(1)
		return err
	}
	if h := spec.Hooks; h != nil && len(h.StartContainer) > 0 {
		st := *cfg.State
		st.Status, st.Pid = specs.StateCreated, os.Getpid()
		// As runc: a startContainer hook without its own env gets the
		// process's (it runs in the container, just before it).
		hs := append([]specs.Hook(nil), h.StartContainer...)
		for i := range hs {
			if hs[i].Env == nil {
				hs[i].Env = env
			}
		}
		if err := hooks.RunAll("startContainer", hs, st); err != nil {
			return fail(err)
		}
	}
	keepNofile()
	return fail(fmt.Errorf("exec %s: %w", proc.Args[0], syscall.Exec(path, proc.Args, env)))
}

// setupContainer builds the container around the init: namespaces it
// creates itself, network, names, sysctls, keyring and the root file system.
func setupContainer(cfg *syncmsg.InitConfig, conn *syncmsg.Conn) (procfd int, err error) {
	spec := cfg.Spec
	unix.Umask(0)
	if err := joinAndUnshare(cfg); err != nil {
		return -1, err
	}
	if cfg.NewNetNS {
		if err := loopbackUp(); err != nil {
			return -1, err
		}
	}
	if spec.Hostname != "" {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return -1, fmt.Errorf("set hostname %q: %w", spec.Hostname, err)
		}
	}
	if spec.Domainname != "" {
		if err := unix.Setdomainname([]byte(spec.Domainname)); err != nil {
			return -1, fmt.Errorf("set domainname %q: %w", spec.Domainname, err)
		}
	}
	if err := writeSysctls(spec.Linux.Sysctl); err != nil {
		return -1, err
	}
	if !cfg.NoNewKeyring {
		if _, err := unix.KeyctlJoinSessionKeyring("_ses." + cfg.ID); err != nil && !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EACCES) {
			return -1, fmt.Errorf("join session keyring: %w", err)
		}
	}
	devNull, err := rootfs.OpenDevNull()
	if err != nil {
		return -1, err
	}
	procfd, err = openProc()
	if err != nil {
		return -1, err
	}
	rc := &rootfs.Config{
		Spec: spec, Rootfs: cfg.Rootfs, NoPivot: cfg.NoPivot,
		UserNS:   cfg.UserNS,
		CgroupNS: cfg.CgroupNS, CgroupPaths: cfg.CgroupPaths,
		MountFds:    cfg.MountFds,
		BeforePivot: func() error { return runtimeHooks(cfg, conn) },
	}
	if cfg.MountNS {
		if err := rootfs.Prepare(rc, devNull); err != nil {
			return -1, err
		}
		if err := rootfs.Finish(rc); err != nil {
			return -1, err
		}
		if err := reopenDevNull(); err != nil {
			return -1, err
		}
	} else {
		if err := rc.BeforePivot(); err != nil {
			return -1, err
		}
		if err := unix.Chroot(cfg.Rootfs); err != nil {
			return -1, fmt.Errorf("chroot %s: %w", cfg.Rootfs, err)
		}
	}
	unix.Close(devNull)
	if spec.Process != nil {
		if err := os.MkdirAll(spec.Process.Cwd, 0o755); err != nil {
			return -1, fmt.Errorf("create cwd %s: %w", spec.Process.Cwd, err)
		}
	}
	return procfd, nil
}

// setupTerminal allocates the pty in the container's devpts, binds its
// peer over /dev/console (container init only), hands the master to the
// console socket and makes the peer our stdio and controlling terminal.
func setupTerminal(cfg *syncmsg.InitConfig, proc *specs.Process) error {
	if cfg.ConsoleFd <= 0 {
		return errors.New("process.terminal is set but there is no console socket")
	}
	sock := os.NewFile(uintptr(cfg.ConsoleFd), "console-socket")
	defer sock.Close()
	master, peer, _, err := console.AllocPty("/dev/pts")
	if err != nil {
		return fmt.Errorf("allocate pty: %w", err)
	}
	defer master.Close()
	defer peer.Close()
	// As runc: the terminal belongs to the process's user (its group stays
	// devpts's gid=, tty).
	if err := peer.Chown(int(proc.User.UID), -1); err != nil {
		return fmt.Errorf("chown the pty to uid %d: %w", proc.User.UID, err)
	}
	if sz := proc.ConsoleSize; sz != nil {
		if err := console.SetSize(master, sz.Height, sz.Width); err != nil {
			return fmt.Errorf("set console size: %w", err)
		}
	}
	if !cfg.Exec {
		if err := console.MountConsole(peer); err != nil {
			return fmt.Errorf("mount /dev/console: %w", err)
		}
	}
	if err := console.SendConsole(sock, master); err != nil {
		return fmt.Errorf("send pty master to the console socket: %w", err)
	}
	if err := console.SetupStdio(peer); err != nil {
		return fmt.Errorf("make the pty the process's terminal: %w", err)
	}
	return nil
}

// runtimeHooks has the runtime run prestart and createRuntime (in its own
// namespaces), then runs createContainer here, in the container's.
func runtimeHooks(cfg *syncmsg.InitConfig, conn *syncmsg.Conn) error {
	if cfg.RuntimeHooks {
		if err := conn.Send(syncmsg.Message{Type: syncmsg.Hooks}); err != nil {
			return err
		}
		if _, err := conn.Expect(syncmsg.HooksDone); err != nil {
			return err
		}
	}
	if h := cfg.Spec.Hooks; h != nil && len(h.CreateContainer) > 0 {
		// Hooks in the container's namespaces see its pid as it sees it,
		// and run in its rootfs (runc's working directory there), so that
		// relative paths like ./lib/... name the container's files.
		if err := unix.Chdir(cfg.Rootfs); err != nil {
			return fmt.Errorf("chdir to the rootfs for createContainer hooks: %w", err)
		}
		st := *cfg.State
		st.Pid = os.Getpid()
		return hooks.RunAll("createContainer", h.CreateContainer, st)
	}
	return nil
}

// releasedByRuntime is the step that lets the init outlive the runtime:
// it says Ready, waits for Run, then clears the parent-death signal (design
// invariant 6). If the runtime died before Run arrived (the init has been
// reparented meanwhile), the init exits, first killing its process group
// when group is true (what the container's init may have started).
func releasedByRuntime(conn *syncmsg.Conn, ppid int, group bool) error {
	if err := conn.Send(syncmsg.Message{Type: syncmsg.Ready}); err != nil {
		return err
	}
	if _, err := conn.Expect(syncmsg.Run); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("clear the parent-death signal: %w", err)
	}
	if os.Getppid() != ppid {
		if group {
			unix.Kill(0, unix.SIGKILL)
		}
		os.Exit(1)
	}
	return nil
}

// holdWithoutProcess finishes the protocol for a container that has no
// process and then keeps its namespaces alive until it is deleted.
func holdWithoutProcess(conn *syncmsg.Conn, ppid int) error {
	if err := releasedByRuntime(conn, ppid, false); err != nil {
		return err
	}
	if err := kernel.CloseOnExecFrom(3); err != nil {
		return err
	}
	conn.Close()
	for {
		unix.Pause()
	}
}

// joinAndUnshare enters the namespaces the runtime could not create for us.
func joinAndUnshare(cfg *syncmsg.InitConfig) error {
	if cfg.JoinMountNS != "" {
		// setns(CLONE_NEWNS) refuses a thread that shares its fs_struct.
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			return fmt.Errorf("unshare fs: %w", err)
		}
		fd, err := unix.Open(cfg.JoinMountNS, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open mount namespace: %w", err)
		}
		err = unix.Setns(fd, unix.CLONE_NEWNS)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("join mount namespace %s: %w", cfg.JoinMountNS, err)
		}
	}
	if cfg.UnshareCgroupNS {
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("create cgroup namespace: %w", err)
		}
	}
	return nil
}

// loopbackUp sets IFF_UP on lo in the new network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	return nil
}

// writeSysctls writes through the host's /proc/sys before pivot_root: the
// init already lives in the container's namespaces, so namespaced keys land
// in the container. The runtime refused non-namespaced keys beforehand.
// Each file is opened through a private procfs handle (pathrs-lite: a
// fresh fsopen("proc") instance where the kernel allows it, resolved
// without crossing mounts or following symlinks), so no mount arranged in
// the rootfs or on the host's /proc can redirect the write
// (CVE-2025-52881 class).
func writeSysctls(m map[string]string) error {
	if len(m) == 0 {
		return nil
	}
	proc, err := procfs.OpenProcRoot()
	if err != nil {
		return fmt.Errorf("open procfs for sysctls: %w", err)
	}
	defer proc.Close()
	for k, v := range m {
		if err := writeProcFile(proc, "sys/"+strings.ReplaceAll(k, ".", "/"), v); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", k, v, err)
		}
	}
	return nil
}

// changeProfileOnExec asks AppArmor to confine this thread's next execve
// with profile, through a verified procfs handle (a fresh procfs instance
// where the kernel allows, resolved without crossing mounts), so a /proc
// arranged by the image cannot swallow the write and leave the process
// unconfined (CVE-2019-16884). The thread is the locked one that execs.
func changeProfileOnExec(profile string) error {
	if profile == "" {
		return nil
	}
	proc, err := procfs.OpenProcRoot()
	if err != nil {
		return fmt.Errorf("apparmor profile %q: open procfs: %w", profile, err)
	}
	defer proc.Close()
	// Linux 5.8+ has the per-LSM directory; older kernels only attr/exec.
	h, closer, err := proc.OpenThreadSelf("attr/apparmor/exec")
	if err != nil {
		h, closer, err = proc.OpenThreadSelf("attr/exec")
	}
	if err != nil {
		return fmt.Errorf("apparmor profile %q: open attr/exec: %w", profile, err)
	}
	defer closer()
	defer h.Close()
	if err := bprocfs.WriteHandle(h, "exec "+profile); err != nil {
		return fmt.Errorf("apparmor profile %q: %w", profile, err)
	}
	return nil
}

// writeProcFile writes v to /proc/<sub> through the verified handle.
func writeProcFile(proc *procfs.Handle, sub, v string) error {
	h, err := proc.OpenRoot(sub)
	if err != nil {
		return err
	}
	defer h.Close()
	return bprocfs.WriteHandle(h, v)
}

// openProc opens the host's procfs and checks it is one; it is used after
// pivot_root to reopen the exec fifo without trusting the container's /proc.
func openProc() (int, error) {
	fd, err := unix.Open("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil || st.Type != unix.PROC_SUPER_MAGIC {
		unix.Close(fd)
		return -1, errors.New("/proc is not procfs")
	}
	return fd, nil
}

// finalize switches to the container's user and capabilities: the order is
// runc's (bounding set, then ids with KEEPCAPS, then the capability sets).
// The seccomp filter goes in as late as it can: before the capability drop
// when it needs CAP_SYS_ADMIN (no no_new_privs), else after everything.
func finalize(proc *specs.Process, sets *caps.Sets, lastCap int, filter *seccomp.Program, conn *syncmsg.Conn) error {
	if err := unix.Chdir(proc.Cwd); err != nil {
		return fmt.Errorf("chdir to cwd %s: %w", proc.Cwd, err)
	}
	if err := verifyCwd(); err != nil {
		return err
	}
	// While the init still has its privileges (a real-time policy needs
	// CAP_SYS_NICE) and before seccomp.
	if err := applyProcessAttrs(proc); err != nil {
		return err
	}
	// The profile takes effect at execve; written here, while the init is
	// still privileged and before seccomp, as runc does.
	if err := changeProfileOnExec(proc.ApparmorProfile); err != nil {
		return err
	}
	if filter != nil && !proc.NoNewPrivileges {
		if err := loadSeccomp(filter, conn); err != nil {
			return err
		}
	}
	if err := caps.DropBounding(sets.Bounding, lastCap); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set keepcaps: %w", err)
	}
	if err := setIDs(proc.User); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("clear keepcaps: %w", err)
	}
	if err := sets.Apply(); err != nil {
		return err
	}
	umask := 0o022
	if proc.User.Umask != nil {
		umask = int(*proc.User.Umask)
	}
	unix.Umask(umask)
	if filter != nil && proc.NoNewPrivileges {
		return loadSeccomp(filter, conn)
	}
	return nil
}

// loadSeccomp installs the filter and, if it has a notify listener, lets
// the runtime take the listener for the agent before closing ours. The
// listener's fd number is announced before the load (a free number kept
// by a placeholder, which the listener then replaces): after the load, any
// syscall of ours may be one the agent must answer.
func loadSeccomp(filter *seccomp.Program, conn *syncmsg.Conn) error {
	if !filter.Notify {
		_, err := filter.Load()
		return err
	}
	slot, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("reserve an fd for the seccomp listener: %w", err)
	}
	defer unix.Close(slot)
	if err := conn.Send(syncmsg.Message{Type: syncmsg.Seccomp, Fd: slot}); err != nil {
		return err
	}
	fd, err := filter.Load()
	if err != nil {
		return err
	}
	if fd != slot {
		// dup3 is not something a profile can usefully notify, and it
		// replaces the placeholder atomically.
		if err := unix.Dup3(fd, slot, unix.O_CLOEXEC); err != nil {
			return fmt.Errorf("move the seccomp listener to fd %d: %w", slot, err)
		}
		unix.Close(fd)
	}
	_, err = conn.Expect(syncmsg.SeccompDone)
	return err
}

// setIDs changes groups, gid and uid of this thread only: the execve that
// follows runs from this thread, and the rest of the process goes away.
func setIDs(u specs.User) error {
	gids := make([]uint32, len(u.AdditionalGids))
	copy(gids, u.AdditionalGids)
	var p uintptr
	if len(gids) > 0 {
		p = uintptrOf(gids)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(gids)), p, 0); e != 0 {
		if !(e == unix.EPERM && len(gids) == 0) {
			return fmt.Errorf("setgroups %v: %w", gids, e)
		}
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); e != 0 {
		return fmt.Errorf("setgid %d: %w", u.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); e != 0 {
		return fmt.Errorf("setuid %d: %w", u.UID, e)
	}
	return nil
}

// verifyCwd refuses a working directory outside the container's root, which
// is what a leaked host fd used as cwd looks like (CVE-2024-21626).
func verifyCwd() error {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Getcwd(buf)
	if err != nil {
		return fmt.Errorf("current working directory is outside of the container root: %w", err)
	}
	if n == 0 || buf[0] != '/' {
		return errors.New("current working directory is outside of the container root")
	}
	return nil
}

// waitForStart blocks until "berth start" opens the exec fifo for reading,
// then tells it we were released. The returned write end stays open (it
// closes on exec) so that start can tell a successful execve from a
// failure.
func waitForStart(procfd, fifoFd int) (int, error) {
	fd, err := unix.Openat(procfd, "thread-self/fd/"+strconv.Itoa(fifoFd), unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open exec fifo: %w", err)
	}
	if _, err := unix.Write(fd, []byte("0")); err != nil {
		return -1, fmt.Errorf("write exec fifo: %w", err)
	}
	unix.Close(fifoFd)
	unix.Close(procfd)
	return fd, nil
}

// keepNofile makes the Go runtime forget the RLIMIT_NOFILE it saw at start
// up, so that execve does not "restore" it over the limit the runtime set.
func keepNofile() {
	var r syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r) == nil {
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
	}
}
