package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/libcontainer/cgroups"
	"github.com/berth-runtime/berth/libcontainer/hooks"
	"github.com/berth-runtime/berth/libcontainer/intelrdt"
	"github.com/berth-runtime/berth/libcontainer/kernel"
	"github.com/berth-runtime/berth/libcontainer/notify"
	"github.com/berth-runtime/berth/libcontainer/procfs"
	"github.com/berth-runtime/berth/libcontainer/seccomp"
	"github.com/berth-runtime/berth/libcontainer/state"
	"github.com/berth-runtime/berth/libcontainer/syncmsg"
)

// Container is a container known to the runtime root.
type Container struct {
	// ID is the container's ID; Dir its state directory.
	ID, Dir string
	// State is what was saved at create time.
	State *state.State
	lock  *state.Lock
	// initProc is set when this process is the init's parent (run).
	initPid int
	// lc caches lifecycle().
	lc *state.Lifecycle
	// execSpec is ExecSpec's, once read; execSeccomp the JSON of its
	// seccomp profile (nil: none).
	execSpec    *specs.Spec
	execSeccomp []byte
}

// Load finds container id under root and locks it. Call Release when done.
func Load(root, id string) (*Container, error) {
	if !state.ValidID(id) {
		return nil, ErrInvalidID
	}
	dir, err := state.Dir(root, id)
	if err != nil {
		return nil, err
	}
	lock, err := state.LockDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, ErrNotExist
		}
		return nil, err
	}
	st, err := state.Load(dir)
	if err != nil {
		lock.Unlock()
		if errors.Is(err, os.ErrNotExist) {
			return nil, ErrNotExist
		}
		return nil, err
	}
	return &Container{ID: id, Dir: dir, State: st, lock: lock}, nil
}

// Release unlocks the container.
func (c *Container) Release() { c.lock.Unlock() }

func (c *Container) cgroup() *cgroups.Manager {
	m := cgroups.FromPaths(c.State.CgroupPaths)
	if c.State.SystemdUnit != "" {
		// Saved by create from a valid unit: parsing cannot fail.
		m.Unit, _ = cgroups.ParseUnit(c.State.SystemdUnit, c.ID, c.State.SystemdUser)
	}
	return m
}

// Status derives the current status from the kernel.
func (c *Container) Status() string {
	return c.State.Status(c.Dir, c.cgroup().Frozen)
}

// OCIState is the state as "berth state" prints it: runc's superset of the
// OCI state.
type OCIState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
}

// OCIState returns the container's state.
func (c *Container) OCIState() OCIState {
	st := c.Status()
	pid := c.State.InitPid
	if st == state.Stopped {
		pid = 0
	}
	return OCIState{
		OCIVersion: c.State.OCIVersion, ID: c.ID, Pid: pid, Status: st, Bundle: c.State.Bundle,
		Rootfs: c.State.Rootfs, Created: c.State.Created, Annotations: c.State.Annotations, Owner: c.State.Owner,
	}
}

// SpecState is the runtime-spec state passed to hooks.
func (c *Container) SpecState() specs.State {
	s := c.OCIState()
	return specs.State{Version: s.OCIVersion, ID: s.ID, Status: specs.ContainerState(s.Status), Pid: s.Pid, Bundle: s.Bundle, Annotations: s.Annotations}
}

// Start releases the init of a created container: it opens the exec fifo,
// which lets the init's blocking open return, waits for its byte, and
// removes the fifo so the status becomes running.
func (c *Container) Start() error {
	logrus.Debugf("%s: start: releasing the init (pid %d)", c.ID, c.State.InitPid)
	switch st := c.Status(); st {
	case state.Created:
	case state.Stopped:
		return errors.New("cannot start a container that has stopped")
	case state.Running:
		return errors.New("cannot start an already running container")
	default:
		return fmt.Errorf("cannot start a container in the %s state", st)
	}
	if lc, err := c.lifecycle(); err == nil && !lc.HasProcess() {
		// Nothing to run: the spec says start must fail. The container
		// is stopped so that it can only be deleted.
		if err := c.kill(); err != nil {
			logrus.Warnf("%s: stopping the container that has no process: %v", c.ID, err)
		}
		return errors.New("cannot start a container that has no process (config.json has no process)")
	}
	var nl *notify.Listener
	if c.State.NotifySocket != "" {
		l, err := notify.Listen(c.Dir)
		if err != nil {
			return err
		}
		defer l.Close()
		nl = l
	}
	fifo := filepath.Join(c.Dir, state.FifoFile)
	// The pidfd first: opening the fifo releases the init, and a short
	// program may be gone a moment later.
	pidfd, err := c.pidfd()
	if err != nil {
		return err
	}
	defer unix.Close(pidfd)
	fd, err := unix.Open(fifo, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("wait for init: %w", err)
		}
		if fds[0].Revents&unix.POLLIN != 0 {
			break
		}
		if fds[1].Revents != 0 {
			return errors.New("container init exited before it was started")
		}
		if fds[0].Revents&unix.POLLHUP != 0 {
			// A writer came and went without writing: keep waiting for
			// the init or its death.
			fds[0].Events = 0
		}
	}
	var b [1]byte
	n, err := unix.Read(fd, b[:])
	if err != nil || n != 1 {
		return errors.New("container init did not signal execve readiness")
	}
	if err := os.Remove(fifo); err != nil {
		return err
	}
	// The init keeps its end open until execve closes it: EOF means the
	// container's program runs (or the init died); anything written is
	// why it failed (a startContainer hook, the exec itself).
	// (A program that has already exited is fine: it did run.)
	if err := syncmsg.ParseFifoFailure(readUntilEOF(fd)); err != nil {
		return err
	}
	if err := c.postStart(); err != nil {
		return err
	}
	if nl != nil {
		return nl.Forward(c.State.NotifySocket, c.State.InitPid, func() bool {
			return procfs.Alive(c.State.InitPid, c.State.InitStartTime)
		})
	}
	return nil
}

// readUntilEOF reads the fifo until every writer has closed it.
func readUntilEOF(fd int) string {
	var out []byte
	buf := make([]byte, 4096)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err == unix.EINTR {
			continue
		}
		n, err := unix.Read(fd, buf)
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		if n <= 0 || err != nil {
			return string(out)
		}
		out = append(out, buf[:n]...)
	}
}

// postStart runs the poststart hooks. Runtime-spec 1.3: if one fails, the
// runtime generates an error and stops the container.
func (c *Container) postStart() error {
	lc, err := c.lifecycle()
	if err != nil || lc.Hooks == nil || len(lc.Hooks.Poststart) == 0 {
		return nil
	}
	if err := hooks.RunAll("poststart", lc.Hooks.Poststart, c.poststartState()); err != nil {
		if kerr := c.kill(); kerr != nil {
			return fmt.Errorf("%w (and stopping the container: %v)", err, kerr)
		}
		return err
	}
	return nil
}

// poststartState is the state the poststart hooks get. The program has
// been exec'd, so the container is running with its init's pid, even if a
// short program has already exited (runtime-spec: the pid is required when
// the status is running).
func (c *Container) poststartState() specs.State {
	st := c.SpecState()
	st.Status, st.Pid = specs.StateRunning, c.State.InitPid
	return st
}

// pidfd opens the init after checking it is still the recorded process, so
// a signal can never reach a process that reused the pid.
func (c *Container) pidfd() (int, error) {
	fd, err := unix.PidfdOpen(c.State.InitPid, 0)
	if errors.Is(err, unix.ENOSYS) {
		return -1, kernel.Require("pidfd_open(2)", "5.3", err)
	}
	if err != nil {
		return -1, ErrNotRunning
	}
	if !procfs.Alive(c.State.InitPid, c.State.InitStartTime) {
		unix.Close(fd)
		return -1, ErrNotRunning
	}
	return fd, nil
}

// Signal sends sig to the init. With all (or SIGKILL when the container
// shares the host's pid namespace) every process in its cgroup gets it.
func (c *Container) Signal(sig unix.Signal, all bool) error {
	logrus.Debugf("%s: kill: signal %d (all processes: %v)", c.ID, sig, all)
	st := c.Status()
	if st == state.Stopped {
		if all {
			return nil
		}
		return ErrNotRunning
	}
	if (all || sig == unix.SIGKILL && c.State.SharedPidNS) && c.hasCgroup(all) {
		if err := c.signalAll(sig); err != nil {
			return err
		}
		if sig == unix.SIGKILL && st == state.Paused {
			c.thaw()
		}
		return nil
	}
	fd, err := c.pidfd()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return ErrNotRunning
		}
		return fmt.Errorf("signal %d to init: %w", sig, err)
	}
	if sig == unix.SIGKILL && st == state.Paused {
		c.thaw()
	}
	return nil
}

// hasCgroup tells whether the container has a cgroup to find its
// processes in. One created rootless without delegation has none: only
// its init can be signalled (a private pid namespace dies with it), which
// an explicit --all is warned about.
func (c *Container) hasCgroup(all bool) bool {
	if len(c.State.CgroupPaths) > 0 {
		return true
	}
	if all {
		logrus.Warnf("%s: the container has no cgroup (created rootless without cgroup delegation): signalling its init only", c.ID)
	}
	return false
}

func (c *Container) signalAll(sig unix.Signal) error {
	m := c.cgroup()
	if sig == unix.SIGKILL {
		return m.KillAll()
	}
	pids, err := m.Pids()
	if err != nil {
		return err
	}
	for _, pid := range pids {
		unix.Kill(pid, sig)
	}
	return nil
}

// thaw lets frozen tasks receive a SIGKILL on cgroup v1. It is best
// effort: a kill that follows a failed thaw is reported by the kill.
func (c *Container) thaw() {
	if err := c.cgroup().Freeze(false); err != nil {
		logrus.Warnf("%s: thaw before kill: %v", c.ID, err)
	}
}

// Delete removes the container as runc does: a stopped one is destroyed; a
// created one is killed and destroyed; a running or paused one only with
// force.
func (c *Container) Delete(force bool) error {
	switch st := c.Status(); st {
	case state.Stopped:
	case state.Created:
		if err := c.kill(); err != nil {
			return err
		}
	default:
		if !force {
			return fmt.Errorf("cannot delete container %s that is not stopped: %s", c.ID, st)
		}
		if err := c.kill(); err != nil {
			return err
		}
	}
	return c.Destroy()
}

// kill sends SIGKILL and waits until the init is gone.
func (c *Container) kill() error {
	fd, err := c.pidfd()
	if err != nil {
		return nil // already gone
	}
	defer unix.Close(fd)
	if err := c.Signal(unix.SIGKILL, false); err != nil && !errors.Is(err, ErrNotRunning) {
		return err
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		n, err := unix.Poll(fds, 100)
		if err == unix.EINTR {
			continue
		}
		if n > 0 || !procfs.Alive(c.State.InitPid, c.State.InitStartTime) {
			return nil
		}
	}
	return errors.New("container init still running")
}

// Destroy kills anything left, removes the cgroup and the state directory,
// then runs the poststop hooks; their failures are logged, not fatal, as
// the spec says.
func (c *Container) Destroy() error {
	logrus.Debugf("%s: delete: removing the cgroups %v and the state", c.ID, c.State.CgroupPaths)
	lc, err := c.lifecycle()
	if err != nil {
		// The poststop hooks are in the config copy; say they cannot run
		// rather than skip them silently.
		logrus.Warnf("%s: poststop hooks not run: %v", c.ID, err)
	}
	st := c.SpecState()
	st.Status, st.Pid = specs.StateStopped, 0
	if err := c.cgroup().Destroy(); err != nil {
		return err
	}
	if lc != nil && lc.Linux != nil && lc.Linux.IntelRdt != nil && intelrdt.Mounted(intelrdt.Root) {
		if err := intelrdt.Remove(intelrdt.Root, c.ID, lc.Linux.IntelRdt); err != nil {
			logrus.Warnf("%s: remove the resctrl groups: %v", c.ID, err)
		}
	}
	if err := os.RemoveAll(c.Dir); err != nil {
		return fmt.Errorf("remove state directory: %w", err)
	}
	dropCacheIfLast(filepath.Dir(c.Dir))
	if lc != nil && lc.Hooks != nil && len(lc.Hooks.Poststop) > 0 {
		if err := hooks.RunAllLogged("poststop", lc.Hooks.Poststop, st); err != nil {
			logrus.Warn(err.Error())
		}
	}
	return nil
}

// dropCacheIfLast removes the root's seccomp cache once no container is
// left in it: a caller that is done with a root finds it empty (the cache
// only pays off while containers are made beside each other).
func dropCacheIfLast(root string) {
	if ids, err := List(root); err == nil && len(ids) == 0 {
		if err := seccomp.DropCache(seccompCache(root)); err != nil {
			logrus.Warnf("remove the seccomp cache: %v", err)
		}
	}
}

// RemoveLeftover removes a container directory that has no state.json (a
// create that crashed before writing it); it is all that is left.
func RemoveLeftover(root, id string) (bool, error) {
	if !state.ValidID(id) {
		return false, ErrInvalidID
	}
	dir, err := state.Dir(root, id)
	if err != nil {
		return false, err
	}
	if _, err := os.Stat(dir); err != nil {
		return false, nil
	}
	err = os.RemoveAll(dir)
	dropCacheIfLast(root)
	return true, err
}

// List returns the IDs of every container under root.
func List(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		// Dot directories are Berth's own (the seccomp cache).
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// Spec reads the copy of config.json saved at create time.
func (c *Container) Spec() (*specs.Spec, error) { return state.LoadSpec(c.Dir) }

// ExecSpec is the part of the config copy exec needs (state.LoadExecSpec,
// whose seccomp profile is kept in c.execSeccomp), read once per command:
// the command's defaults and the engine's Exec share it, and neither may
// modify it.
func (c *Container) ExecSpec() (*specs.Spec, error) {
	if c.execSpec == nil {
		s, sc, err := state.LoadExecSpec(c.Dir)
		if err != nil {
			return nil, err
		}
		c.execSpec, c.execSeccomp = s, sc
	}
	return c.execSpec, nil
}

// lifecycle is the part of the config copy start and delete need, read
// once per command.
func (c *Container) lifecycle() (*state.Lifecycle, error) {
	if c.lc == nil {
		lc, err := state.LoadLifecycle(c.Dir)
		if err != nil {
			return nil, err
		}
		c.lc = lc
	}
	return c.lc, nil
}

func marshal(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
