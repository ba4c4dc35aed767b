package libcontainer

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/libcontainer/caps"
	"github.com/berth-runtime/berth/libcontainer/cgroups"
	"github.com/berth-runtime/berth/libcontainer/seccomp"
)

// nsFlags maps namespace types to clone flags.
var nsFlags = map[specs.LinuxNamespaceType]uintptr{
	specs.PIDNamespace: unix.CLONE_NEWPID, specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.MountNamespace: unix.CLONE_NEWNS, specs.IPCNamespace: unix.CLONE_NEWIPC,
	specs.UTSNamespace: unix.CLONE_NEWUTS, specs.UserNamespace: unix.CLONE_NEWUSER,
	specs.CgroupNamespace: unix.CLONE_NEWCGROUP, specs.TimeNamespace: unix.CLONE_NEWTIME,
}

// nsJoin is one namespace joined by path.
type nsJoin struct {
	flag uintptr
	path string
}

// plan is what create derives from the spec once, before touching the host.
type plan struct {
	// cloneFlags are created by clone(2) itself (pure-Go path).
	cloneFlags uintptr
	// parentJoins are joined by the runtime's own thread before it forks
	// the init, which inherits them (net, ipc, uts, cgroup, pid).
	parentJoins []nsJoin
	// preJoins are joined by the C pre-stage in the init before the Go
	// runtime starts (user and time: setns needs a single thread there).
	preJoins []nsJoin
	// cgroupJoin is a cgroup namespace joined by path. The pre-stage joins
	// it, after the process is in its cgroup: a process whose parent had
	// joined it could not be born into its cgroup (clone3's
	// CLONE_INTO_CGROUP is ENOENT under nsdelegate, which systemd sets,
	// when the parent's own cgroup is outside the namespace's root).
	cgroupJoin string
	// preUnshare are created by the pre-stage after preJoins, so that they
	// belong to a joined user namespace; preFork asks it to fork after.
	preUnshare                                       uintptr
	preFork                                          bool
	joinMount                                        string
	unshareCgroupNS, newTimeNS, privatePidNS, userNS bool
	// timeOffsets are the new time namespace's clock offsets, which the
	// pre-stage writes.
	timeOffsets map[string]specs.LinuxTimeOffset
	// resources are the cgroup limits and device rules to set at create.
	resources *cgroups.Resources
	// seccomp is the compiled filter (nil: none).
	seccomp *seccomp.Program
}

func (p *plan) usePreStage() bool { return len(p.preJoins) > 0 }

// namespaced sysctls and the namespace each needs (runc's rules).
var ipcSysctls = map[string]bool{
	"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
	"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true, "kernel.shm_rmid_forced": true,
}

// makePlan derives the plan. seccompCache is where compiled seccomp
// programs are kept ("" for none): the profile is compiled here, once, which
// also validates it before anything exists.
func makePlan(s *specs.Spec, seccompCache string) (*plan, error) {
	p := &plan{}
	var joinUser, joinTime bool
	for _, ns := range s.Linux.Namespaces {
		flag := nsFlags[ns.Type]
		if ns.Path == "" {
			switch ns.Type {
			case specs.CgroupNamespace:
				p.unshareCgroupNS = true
			case specs.TimeNamespace:
				p.newTimeNS = true
			default:
				p.cloneFlags |= flag
			}
			continue
		}
		switch ns.Type {
		case specs.UserNamespace:
			joinUser = true
			p.preJoins = append(p.preJoins, nsJoin{flag, ns.Path})
		case specs.TimeNamespace:
			joinTime = true
			p.preJoins = append(p.preJoins, nsJoin{flag, ns.Path})
		case specs.MountNamespace:
			p.joinMount = ns.Path
		case specs.CgroupNamespace:
			p.cgroupJoin = ns.Path
		default:
			p.parentJoins = append(p.parentJoins, nsJoin{flag, ns.Path})
		}
	}
	if p.cgroupJoin != "" && p.cloneFlags&unix.CLONE_NEWUSER != 0 {
		// Inside a user namespace it creates, the init lacks the privilege
		// to join a namespace of the host's: join it here, before the
		// fork (the init is then moved into its cgroup after it starts).
		p.parentJoins = append(p.parentJoins, nsJoin{unix.CLONE_NEWCGROUP, p.cgroupJoin})
		p.cgroupJoin = ""
	}
	p.privatePidNS = p.cloneFlags&unix.CLONE_NEWPID != 0
	p.userNS = p.cloneFlags&unix.CLONE_NEWUSER != 0 || joinUser
	if joinTime && p.cloneFlags&unix.CLONE_NEWUSER != 0 {
		return nil, errors.New("joining a time namespace together with a new user namespace is not supported")
	}
	if p.joinMount != "" && p.cloneFlags&unix.CLONE_NEWUSER != 0 {
		return nil, errors.New("joining a mount namespace together with a new user namespace is not supported")
	}
	if p.usePreStage() {
		// Everything new is created by the pre-stage, after the joins, so
		// that it belongs to the joined user namespace.
		p.preUnshare = p.cloneFlags &^ unix.CLONE_NEWPID
		p.preFork = p.cloneFlags&unix.CLONE_NEWPID != 0
		if p.preFork {
			p.preUnshare |= unix.CLONE_NEWPID
		}
		p.cloneFlags = 0
		if p.joinMount != "" {
			p.preJoins = append(p.preJoins, nsJoin{unix.CLONE_NEWNS, p.joinMount})
			p.joinMount = ""
		}
	}
	if p.newTimeNS {
		// A new time namespace is entered by a child of the process that
		// made it (execve enters it only on newer kernels: not on 6.1),
		// so the pre-stage creates it, writes its offsets and forks; a
		// new pid namespace moves there too, so that the forked child is
		// its pid 1.
		p.preUnshare |= unix.CLONE_NEWTIME
		if p.cloneFlags&unix.CLONE_NEWPID != 0 {
			p.cloneFlags &^= unix.CLONE_NEWPID
			p.preUnshare |= unix.CLONE_NEWPID
		}
		p.preFork = true
		p.timeOffsets = s.Linux.TimeOffsets
	}
	if s.Linux.UIDMappings != nil || s.Linux.GIDMappings != nil {
		if joinUser {
			return nil, errors.New("uidMappings/gidMappings cannot be set when joining an existing user namespace")
		}
	} else if p.cloneFlags&unix.CLONE_NEWUSER != 0 {
		return nil, errors.New("a new user namespace needs uidMappings and gidMappings")
	}
	res, err := resources(s.Linux.Resources)
	if err != nil {
		return nil, err
	}
	p.resources = res
	if err := checkUnsupported(s); err != nil {
		return nil, err
	}
	if s.Linux.Seccomp != nil {
		if p.seccomp, err = seccomp.CompileCached(s.Linux.Seccomp, seccompCache); err != nil {
			return nil, err
		}
	}
	if err := checkSysctls(s, p); err != nil {
		return nil, err
	}
	if s.Process != nil {
		if _, err := caps.FromSpec(s.Process.Capabilities, caps.LastCap()); err != nil {
			return nil, err
		}
		for _, r := range s.Process.Rlimits {
			if _, ok := rlimitByName[r.Type]; !ok {
				return nil, fmt.Errorf("unknown rlimit %q", r.Type)
			}
		}
	}
	return p, nil
}

// checkUnsupported refuses what this version cannot do rather than
// ignoring it.
func checkUnsupported(s *specs.Spec) error {
	if h := s.Hooks; h != nil {
		for _, l := range [][]specs.Hook{h.Prestart, h.CreateRuntime, h.CreateContainer, h.StartContainer, h.Poststart, h.Poststop} {
			for _, hk := range l {
				if !filepath.IsAbs(hk.Path) {
					return fmt.Errorf("hook path %q must be absolute", hk.Path)
				}
				if hk.Timeout != nil && *hk.Timeout <= 0 {
					return fmt.Errorf("hook %s: timeout must be positive", hk.Path)
				}
			}
		}
	}
	if s.Process != nil && s.Process.ApparmorProfile != "" {
		return errors.New("apparmor is not enabled on this host")
	}
	procLabel := s.Process != nil && s.Process.SelinuxLabel != ""
	if procLabel || s.Linux.MountLabel != "" {
		if selinuxEnabled() {
			return errors.New("SELinux labels are not supported yet")
		}
		if procLabel {
			// Refused as runc refuses it: the process would run
			// unconfined although the config asks otherwise.
			return errors.New("selinux is not enabled on this host")
		}
		// Without SELinux, files have no label to set and nothing checks
		// one: the mount label cannot make the container less confined
		// than the host allows. crun ignores it the same way (runc 1.1
		// passes "context=" to the kernel, which refuses the mounts).
		logrus.Warnf("linux.mountLabel %q ignored: SELinux is not enabled on this host", s.Linux.MountLabel)
	}
	return nil
}

// selinuxEnabled tells whether the host has SELinux: selinuxfs mounted at
// /sys/fs/selinux, as libselinux checks.
func selinuxEnabled() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/selinux", &st) == nil && st.Type == unix.SELINUX_MAGIC
}

// resources converts linux.resources for the cgroup library. The device
// rules always apply: with none in the config the container still gets only
// the default devices, never the host's (as with runc).
func resources(r *specs.LinuxResources) (*cgroups.Resources, error) {
	if r == nil {
		r = &specs.LinuxResources{}
	}
	res, err := cgroups.ToResources(r)
	if err != nil {
		return nil, fmt.Errorf("linux.resources: %w", err)
	}
	return res, nil
}

// checkSysctls refuses keys that would change the host: only keys of a
// namespace the container owns are allowed.
func checkSysctls(s *specs.Spec, p *plan) error {
	for k := range s.Linux.Sysctl {
		switch {
		case ipcSysctls[k] || strings.HasPrefix(k, "fs.mqueue."):
			if p.cloneFlags&unix.CLONE_NEWIPC == 0 && !hasJoin(p, unix.CLONE_NEWIPC) {
				return fmt.Errorf("sysctl %q is not allowed as it conflicts with the OCI %q namespace", k, "ipc")
			}
		case strings.HasPrefix(k, "net."):
			if p.cloneFlags&unix.CLONE_NEWNET == 0 && !hasJoin(p, unix.CLONE_NEWNET) {
				return fmt.Errorf("sysctl %q is not allowed in the hosts network namespace", k)
			}
		case k == "kernel.hostname" || k == "kernel.domainname":
			if p.cloneFlags&unix.CLONE_NEWUTS == 0 {
				return fmt.Errorf("sysctl %q is not allowed in the hosts uts namespace", k)
			}
		default:
			return fmt.Errorf("sysctl %q is not in a separate kernel namespace", k)
		}
	}
	return nil
}

func hasJoin(p *plan, flag uintptr) bool {
	for _, j := range p.parentJoins {
		if j.flag == flag {
			return true
		}
	}
	return false
}

var rlimitByName = map[string]int{
	"RLIMIT_CPU": unix.RLIMIT_CPU, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_DATA": unix.RLIMIT_DATA,
	"RLIMIT_STACK": unix.RLIMIT_STACK, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK,
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE, "RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME": unix.RLIMIT_RTTIME,
}

// setRlimits applies process.rlimits to pid from the runtime, which may
// raise limits that the init could not raise from inside a user namespace.
func setRlimits(pid int, rl []specs.POSIXRlimit) error {
	for _, r := range rl {
		res := rlimitByName[r.Type]
		want := unix.Rlimit{Cur: r.Soft, Max: r.Hard}
		if err := unix.Prlimit(pid, res, &want, nil); err != nil {
			var cur unix.Rlimit
			unix.Prlimit(pid, res, nil, &cur)
			return fmt.Errorf("set %s to soft %d hard %d: %w (the host's hard limit is %s)",
				r.Type, r.Soft, r.Hard, err, limitString(cur.Max))
		}
	}
	return nil
}

func limitString(v uint64) string {
	if v == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return fmt.Sprint(v)
}
