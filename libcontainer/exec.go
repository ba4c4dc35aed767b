package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/libcontainer/nskind"
	"github.com/berth-runtime/berth/libcontainer/seccomp"
	"github.com/berth-runtime/berth/libcontainer/state"
	"github.com/berth-runtime/berth/libcontainer/syncmsg"
)

// ExecOpts describe a process to start in a running container.
type ExecOpts struct {
	Process     *specs.Process
	ExtraFiles  []*os.File
	IgnorePause bool
	// Cgroup is an existing sub-cgroup to start the process in.
	Cgroup string
	// ConsoleSocket receives the pty master when the process has a terminal.
	ConsoleSocket *os.File
}

// Exec starts a process inside the container: in all of its namespaces and
// its cgroup, with the given process's user, capabilities and rlimits. It
// returns the pid; the caller is its parent and may wait for it. It
// releases the container's lock once it has read what it needs.
func (c *Container) Exec(o *ExecOpts) (int, error) {
	switch st := c.Status(); st {
	case state.Stopped:
		return 0, errors.New("cannot exec in a stopped container")
	case state.Paused:
		if !o.IgnorePause {
			return 0, errors.New("cannot exec in a paused container") // runc's words
		}
	}
	spec, err := c.ExecSpec()
	if err != nil {
		return 0, err
	}
	if o.Process == nil || len(o.Process.Args) == 0 {
		return 0, errors.New("exec: process args must not be empty")
	}
	if err := checkProcess(o.Process); err != nil {
		return 0, err
	}
	logrus.Debugf("%s: exec %q (cwd %s, terminal %v)", c.ID, o.Process.Args, o.Process.Cwd, o.Process.Terminal)
	p, err := execPlan(spec, c.State.InitPid)
	if err != nil {
		return 0, err
	}
	if spec, p.seccomp, err = c.execSeccompProgram(spec); err != nil {
		return 0, err
	}
	stage, err := execStage(o.Process, p, len(o.ExtraFiles))
	if err != nil {
		return 0, err
	}
	if stage != nil {
		logrus.Debugf("%s: exec through the C exec stage", c.ID)
	} else {
		logrus.Debugf("%s: exec through the Go init", c.ID)
	}
	ic := &syncmsg.InitConfig{
		ID: c.ID, Spec: spec, Process: o.Process, Exec: true, PreserveFds: len(o.ExtraFiles),
		JoinMountNS: p.joinMount,
	}
	mgr := c.cgroup()
	if o.Cgroup != "" {
		if mgr, err = mgr.Sub(o.Cgroup); err != nil {
			return 0, err
		}
	}
	l := &launch{
		mode: &execMode{c: c, rdt: spec.Linux.IntelRdt}, plan: p, mgr: mgr, config: ic, process: o.Process, dir: "/", extra: o.ExtraFiles,
		console: o.ConsoleSocket, stage: stage,
	}
	// The lock is not needed to join the container, and holding it would
	// deadlock "exec --ignore-paused" against "resume": the new process
	// is frozen until the container is thawed.
	c.Release()
	pid, err := l.runExec()
	if err != nil && pid > 0 {
		unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, 0, nil)
	}
	return pid, err
}

// execSeccompProgram is the container's compiled seccomp program (nil:
// none), found by the JSON of its profile in the compile cache. Only when
// it is not cached, or hands syscalls to an agent (which needs the
// listener path and metadata), is the profile decoded; the spec returned
// then has it (a copy: spec is shared).
func (c *Container) execSeccompProgram(spec *specs.Spec) (*specs.Spec, *seccomp.Program, error) {
	data := c.execSeccomp
	if data == nil {
		return spec, nil, nil
	}
	cache := seccompCache(filepath.Dir(c.Dir))
	prog := seccomp.Cached(data, cache)
	if prog != nil && !prog.Notify {
		return spec, prog, nil
	}
	sc := new(specs.LinuxSeccomp)
	if err := json.Unmarshal(data, sc); err != nil {
		return nil, nil, fmt.Errorf("linux.seccomp of the config copy: %w", err)
	}
	withProfile, linux := *spec, *spec.Linux
	linux.Seccomp = sc
	withProfile.Linux = &linux
	var err error
	if prog == nil {
		prog, err = seccomp.CompileCachedJSON(sc, data, cache)
	}
	return &withProfile, prog, err
}

// execPlan joins every namespace of the container's init.
func execPlan(s *specs.Spec, initPid int) (*plan, error) {
	p := &plan{}
	for _, ns := range s.Linux.Namespaces {
		k, _ := nskind.ByType(ns.Type)
		path := "/proc/" + strconv.Itoa(initPid) + "/ns/" + k.Proc
		j := nsJoin{k.Flag, path}
		switch ns.Type {
		case specs.UserNamespace, specs.TimeNamespace:
			p.preJoins = append(p.preJoins, j)
			p.userNS = p.userNS || ns.Type == specs.UserNamespace
		case specs.MountNamespace:
			p.joinMount = path
		case specs.CgroupNamespace:
			p.cgroupJoin = path
		default:
			p.parentJoins = append(p.parentJoins, j)
		}
	}
	joinAfterUserNS(p)
	if p.usePreStage() {
		p.joinMountInPreStage()
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(initPid) + "/ns"); err != nil {
		return nil, fmt.Errorf("container init: %w", err)
	}
	return p, nil
}
