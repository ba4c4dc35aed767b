package libcontainer

import (
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-runtime/berth/libcontainer/caps"
	"github.com/berth-runtime/berth/libcontainer/initp"
	"github.com/berth-runtime/berth/libcontainer/syncmsg"
)

// EnvGoExec, set in the runtime's environment, keeps every exec on the Go
// init: the tests compare both stages with it.
const EnvGoExec = "_BERTH_GO_EXEC"

// execStage is the configuration of the C exec stage for proc
// (libcontainer/nsenter/execstage.c), or nil when the process needs the
// Go init: a terminal (the pty and the console socket), an AppArmor
// profile (written through pathrs-lite's verified procfs), a seccomp
// listener (handed to the agent), a scheduler, I/O priority or CPU
// affinity (rare, and parsed in Go). Only the pre-stage's process joins
// the mount namespace then, so the plan's mount join moves to it.
func execStage(proc *specs.Process, p *plan, preserveFds int) (*syncmsg.ExecStage, error) {
	if os.Getenv(EnvGoExec) != "" || proc.Terminal || proc.ApparmorProfile != "" ||
		proc.Scheduler != nil || proc.IOPriority != nil || proc.ExecCPUAffinity != nil ||
		p.seccomp != nil && p.seccomp.Notify {
		return nil, nil
	}
	lastCap := caps.LastCap()
	sets, _, err := caps.FromSpec(proc.Capabilities, lastCap) // checkProcess warned
	if err != nil {
		return nil, err
	}
	env, addHome := initp.PrepareEnv(proc.Env)
	umask := uint32(0o022)
	if proc.User.Umask != nil {
		umask = *proc.User.Umask
	}
	p.joinMountInPreStage()
	return &syncmsg.ExecStage{
		Args: proc.Args, Env: env, AddHome: addHome, Cwd: proc.Cwd,
		UID: proc.User.UID, GID: proc.User.GID, Gids: proc.User.AdditionalGids, Umask: umask,
		NoNewPrivs: proc.NoNewPrivileges,
		Caps:       [5]uint64{uint64(sets.Bounding), uint64(sets.Effective), uint64(sets.Inheritable), uint64(sets.Permitted), uint64(sets.Ambient)},
		LastCap:    lastCap, Seccomp: p.seccomp, PreserveFds: preserveFds,
	}, nil
}
