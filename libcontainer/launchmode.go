package libcontainer

import (
	"fmt"
	"os"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-runtime/berth/libcontainer/hooks"
	"github.com/berth-runtime/berth/libcontainer/intelrdt"
	"github.com/berth-runtime/berth/libcontainer/procfs"
	"github.com/berth-runtime/berth/libcontainer/state"
	"github.com/berth-runtime/berth/libcontainer/syncmsg"
)

// launchMode is what a launch does differently for the container's init
// (initMode, create) and for a process joining the container (execMode,
// exec), as runc's initProcess and setnsProcess differ: the launch calls it
// at these steps instead of guessing the mode from which of its fields are
// set.
type launchMode interface {
	// addFifo places the exec fifo in the init's fd layout, after the sync
	// socket (fdLayout's order), and records its number in cfg.
	addFifo(lay *fdLayout, cfg *syncmsg.InitConfig)
	// addMountSources places the detached bind sources after the console
	// socket and records their numbers in cfg.
	addMountSources(lay *fdLayout, cfg *syncmsg.InitConfig)
	// appendEnv adds what the init's pre-stage must know of the mode
	// before it reads its configuration.
	appendEnv(env []string) []string
	// hookState is the state the init's hooks and the seccomp agent get.
	hookState(pid int) specs.State
	// runtimeHooks answers the init's syncmsg.Hooks request.
	runtimeHooks(pid int) error
	// beforeConfig runs once the process is in its namespaces and
	// cgroups, before it is sent its configuration.
	beforeConfig(pid int) error
	// beforeRun runs once the init is ready and before it is let go.
	beforeRun(pid int) error
}

// initMode launches the container's init: it has the exec fifo, the bind
// sources, the runtime's create-time hooks and the state to save.
type initMode struct {
	c      *Container
	spec   *specs.Spec
	bundle string
	// fifo is the O_PATH fd of the exec fifo the init waits on until start.
	fifo *os.File
	// mountSrcs are detached copies of bind sources, by spec mount index
	// (nil: none), passed to the init as config.MountFds.
	mountSrcs []*os.File
}

// addFifo always places the fifo: every init waits on it until start.
func (m *initMode) addFifo(lay *fdLayout, cfg *syncmsg.InitConfig) {
	cfg.FifoFd = lay.add(m.fifo)
}

// addMountSources places the sources that were opened; MountFds is made
// only when there is one, so a container without them sends none.
func (m *initMode) addMountSources(lay *fdLayout, cfg *syncmsg.InitConfig) {
	for i, f := range m.mountSrcs {
		if f == nil {
			continue
		}
		if cfg.MountFds == nil {
			cfg.MountFds = make([]int, len(m.mountSrcs))
		}
		cfg.MountFds[i] = lay.add(f)
	}
}

// appendEnv adds nothing: the pre-stage's default is to make a container.
func (m *initMode) appendEnv(env []string) []string { return env }

// hookState is "created": the create-time hooks (prestart, createRuntime,
// createContainer) are steps 3-5 of runtime-spec's lifecycle, after the
// environment is made (step 2, the only one that is "creating"), as with
// crun (runc 1.1 passes "creating").
func (m *initMode) hookState(pid int) specs.State {
	return specs.State{Version: m.spec.Version, ID: m.c.ID, Status: specs.StateCreated, Pid: pid,
		Bundle: m.bundle, Annotations: m.spec.Annotations}
}

// runtimeHooks runs prestart and createRuntime in the runtime's namespaces
// while the init waits between its mounts and pivot_root. An init asked
// for hooks only when the spec has some; a request without them is the
// protocol broken.
func (m *initMode) runtimeHooks(pid int) error {
	h := m.spec.Hooks
	if h == nil {
		return unexpected(syncmsg.Hooks)
	}
	st := m.hookState(pid)
	if err := hooks.RunAll("prestart", h.Prestart, st); err != nil {
		return err
	}
	return hooks.RunAll("createRuntime", h.CreateRuntime, st)
}

// beforeRun saves the state with the init's pid and start time before the
// init can exec, so the container can be found (and cleaned up) from here
// on.
func (m *initMode) beforeRun(pid int) error {
	if rdt := m.spec.Linux.IntelRdt; rdt != nil {
		if err := intelrdt.Apply(intelrdt.Root, m.c.ID, rdt, pid); err != nil {
			return err
		}
	}
	stat, err := procfs.ReadStat(pid)
	if err != nil {
		return fmt.Errorf("read init stat: %w", err)
	}
	st := m.c.State
	st.InitPid, st.InitStartTime, st.Created = pid, stat.StartTime, time.Now().UTC()
	return st.Save(m.c.Dir)
}

// beforeConfig moves linux.netDevices into the init's network namespace:
// its sysctls and the create-time hooks then see the devices.
func (m *initMode) beforeConfig(pid int) error {
	if devs := m.spec.Linux.NetDevices; len(devs) > 0 {
		return moveNetDevices(pid, devs)
	}
	return nil
}

// execMode launches a process joining a running container.
type execMode struct {
	c *Container
	// rdt is the container's linux.intelRdt, whose group the process
	// joins too.
	rdt *specs.LinuxIntelRdt
}

// beforeConfig has nothing to do: the devices are the container's.
func (*execMode) beforeConfig(int) error { return nil }

// addFifo adds nothing: only the container's init waits for start.
func (*execMode) addFifo(*fdLayout, *syncmsg.InitConfig) {}

// addMountSources adds nothing: an exec makes no mounts.
func (*execMode) addMountSources(*fdLayout, *syncmsg.InitConfig) {}

// appendEnv tells the pre-stage it joins a container rather than making
// one.
func (*execMode) appendEnv(env []string) []string { return append(env, "_BERTH_EXEC=1") }

// hookState is the container's own state: an exec runs no hooks, but the
// seccomp agent is told which container the process is in.
func (m *execMode) hookState(int) specs.State { return m.c.SpecState() }

// runtimeHooks refuses: the runtime's hooks belong to create.
func (*execMode) runtimeHooks(int) error { return unexpected(syncmsg.Hooks) }

// beforeRun checks that the init is still the one whose namespaces were
// joined: the container's lock was released before the launch.
func (m *execMode) beforeRun(pid int) error {
	if m.c.Status() == state.Stopped {
		return ErrNotRunning
	}
	if m.rdt != nil {
		return intelrdt.Join(intelrdt.TasksDir(intelrdt.Root, m.c.ID, m.rdt), pid)
	}
	return nil
}

// unexpected is the error for a message the protocol does not allow at
// this point.
func unexpected(t syncmsg.Type) error {
	return fmt.Errorf("protocol error: unexpected %q", t)
}
