package libcontainer

import (
	"os"
	"strconv"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/libcontainer/cpus"
	"github.com/berth-runtime/berth/libcontainer/exeseal"
	"github.com/berth-runtime/berth/libcontainer/kernel"
	"github.com/berth-runtime/berth/libcontainer/nsenter"
	"github.com/berth-runtime/berth/libcontainer/state"
	"github.com/berth-runtime/berth/libcontainer/syncmsg"
)

// EnvPreStageExec, set in the runtime's environment, keeps every exec the
// C exec stage takes on the pre-stage path (a "berth init" exec'd first):
// the tests compare it with the direct fork.
const EnvPreStageExec = "_BERTH_PRESTAGE_EXEC"

// runExec starts an exec's process: forked by the runtime itself when it
// can be (execDirect), else through "berth init".
func (l *launch) runExec() (int, error) {
	if pid, done, err := l.execDirect(); done {
		return pid, err
	}
	return l.run()
}

// execDirect forks the process of an exec the C exec stage takes straight
// from the runtime (nsenter.ExecFork): no binary is exec'd before the
// program and there is no ready/run exchange, which was ~1.5 ms of a 8 ms
// exec. It is for a process that joins no user or time namespace (then
// the child may do itself what the runtime did: rlimits, oom_score_adj,
// v1 cgroups, setns), is born in its cgroup2 directory when there is one
// (CLONE_INTO_CGROUP) and joins no Intel RDT group. done is false when it
// did not apply or nothing was started; the caller then takes the
// pre-stage path, which reports any error itself.
func (l *launch) execDirect() (pid int, done bool, err error) {
	m, isExec := l.mode.(*execMode)
	p := l.plan
	if !isExec || l.stage == nil || p.userNS || m.rdt != nil || os.Getenv(EnvPreStageExec) != "" {
		return 0, false, nil
	}
	for _, j := range p.preJoins {
		if j.flag != unix.CLONE_NEWNS {
			return 0, false, nil // a time namespace: the pre-stage's fork
		}
	}
	cgfd, err := l.mgr.OpenUnified()
	if err != nil {
		return 0, false, nil
	}
	if cgfd >= 0 {
		defer unix.Close(cgfd)
		if !kernel.Has(kernel.CloneIntoCgroup) || cpusetNeedsAttach(cgfd) {
			return 0, false, nil
		}
	} else if l.mgr.Unit != nil {
		return 0, false, nil
	}
	f := &syncmsg.ExecFork{Stage: l.stage, PidNS: -1, Cgroup: cgfd, OOMScoreAdj: oomScoreAdj(l.process), Sealed: -1}
	if !exeReadOnly() {
		exe, err := exeseal.Open()
		if err != nil {
			return 0, false, nil
		}
		defer exe.Close()
		f.Sealed = int(exe.Fd())
	}
	var opened []int
	defer func() {
		for _, fd := range opened {
			unix.Close(fd)
		}
	}()
	joins := append(append([]nsJoin(nil), p.parentJoins...), p.preJoins...)
	if p.cgroupJoin != "" {
		joins = append(joins, nsJoin{unix.CLONE_NEWCGROUP, p.cgroupJoin})
	}
	for _, j := range joins {
		fd, err := unix.Open(j.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return 0, false, nil
		}
		opened = append(opened, fd)
		if j.flag == unix.CLONE_NEWPID {
			f.PidNS = fd
		} else {
			f.Joins = append(f.Joins, syncmsg.ForkJoin{Flag: int(j.flag), Fd: fd})
		}
	}
	// The namespaces are open: they are the init's if it still runs now
	// (the container's lock was released before the launch).
	if m.c.Status() == state.Stopped {
		return 0, true, ErrNotRunning
	}
	for _, dir := range l.mgr.V1Paths() {
		f.V1Tasks = append(f.V1Tasks, dir+"/tasks")
	}
	for _, r := range l.process.Rlimits {
		f.Rlimits = append(f.Rlimits, syncmsg.ForkRlimit{Resource: rlimitByName[r.Type], Soft: r.Soft, Hard: r.Hard, Name: r.Type})
	}
	for _, file := range append([]*os.File{orStd(l.stdin, os.Stdin), orStd(l.stdout, os.Stdout), orStd(l.stderr, os.Stderr)}, l.extra...) {
		f.Fds = append(f.Fds, int(file.Fd()))
	}
	parentSock, childSock, err := syncSocket()
	if err != nil {
		return 0, true, err
	}
	defer parentSock.Close()
	f.Sync = int(childSock.Fd())
	conf, err := f.Encode()
	if err != nil {
		childSock.Close()
		return 0, true, err
	}
	var spoiled bool
	err = cpus.Forking(func() (err error) {
		pid, spoiled, err = nsenter.ExecFork(conf)
		return err
	})
	childSock.Close()
	if err != nil {
		logrus.Debugf("exec: direct fork: %v; through the pre-stage", err)
		return 0, false, nil
	}
	if spoiled {
		logrus.Debugf("exec: this thread cannot return to the runtime's pid namespace; it stays locked")
	}
	logrus.Debugf("exec: forked by the runtime (pid %s), no pre-stage", strconv.Itoa(pid))
	conn := syncmsg.NewConn(parentSock)
	if f.Sealed >= 0 {
		if err := conn.SendExecStage(l.stage); err != nil {
			// The child failed before the sealed copy: its report is
			// waiting on the socket.
			if rerr := l.awaitExec(conn, pid); rerr != nil {
				return pid, true, rerr
			}
			return pid, true, err
		}
	}
	return pid, true, l.awaitExec(conn, pid)
}

// exeReadOnly reports whether the runtime's binary is on a read-only
// mount (an immutable /usr, a store): then nothing in a container can
// write it through /proc/PID/exe, and the direct exec's child runs the
// stage without going through a sealed copy.
func exeReadOnly() bool {
	var st unix.Statfs_t
	return unix.Statfs("/proc/self/exe", &st) == nil && st.Flags&unix.ST_RDONLY != 0
}
