package libcontainer

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/libcontainer/apparmor"
	"github.com/berth-runtime/berth/libcontainer/caps"
	"github.com/berth-runtime/berth/libcontainer/cgroups"
	"github.com/berth-runtime/berth/libcontainer/idmap"
	"github.com/berth-runtime/berth/libcontainer/initp"
	"github.com/berth-runtime/berth/libcontainer/intelrdt"
	"github.com/berth-runtime/berth/libcontainer/kernel"
	"github.com/berth-runtime/berth/libcontainer/netdev"
	"github.com/berth-runtime/berth/libcontainer/nskind"
	"github.com/berth-runtime/berth/libcontainer/oci"
	"github.com/berth-runtime/berth/libcontainer/rootfs"
	"github.com/berth-runtime/berth/libcontainer/rootless"
	"github.com/berth-runtime/berth/libcontainer/seccomp"
)

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
	// newNetNS, cgroupNS and mountNS are what the init needs to know of
	// the namespaces (InitConfig): a new network namespace, any cgroup
	// namespace, a mount namespace new or joined.
	newNetNS, cgroupNS, mountNS bool
	// timeOffsets are the new time namespace's clock offsets, which the
	// pre-stage writes.
	timeOffsets map[string]specs.LinuxTimeOffset
	// resources are the cgroup limits and device rules to set at create.
	resources *cgroups.Resources
	// seccomp is the compiled filter (nil: none).
	seccomp *seccomp.Program
	// denySetgroups: the runtime, not root, writes the new user
	// namespace's maps itself, which the kernel allows for gid_map only
	// once setgroups is denied. idMaps are written by newuidmap and
	// newgidmap instead, for the pre-stage (rootless.go).
	denySetgroups bool
	idMaps        *rootless.IDMaps
}

func (p *plan) usePreStage() bool { return len(p.preJoins) > 0 }

// joinMountInPreStage has the pre-stage join the mount namespace, after
// the others (a joined user namespace, or the C exec stage, which has no
// Go init to do it).
func (p *plan) joinMountInPreStage() {
	if p.joinMount != "" {
		p.preJoins = append(p.preJoins, nsJoin{unix.CLONE_NEWNS, p.joinMount})
		p.joinMount = ""
	}
}

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
		flag := nskind.Flag(ns.Type)
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
	p.newNetNS = p.cloneFlags&unix.CLONE_NEWNET != 0
	p.cgroupNS = oci.HasNamespace(s, specs.CgroupNamespace)
	p.mountNS = p.cloneFlags&unix.CLONE_NEWNS != 0 || p.joinMount != ""
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
		p.joinMountInPreStage()
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
	if err := planRootless(s, p); err != nil {
		return nil, err
	}
	return p, nil
}

// checkProcess is the one validator of a process, for create's
// process and exec's (flags or -p process.json) alike: capabilities,
// rlimits, LSM labels, scheduler, I/O priority and CPU affinity.
func checkProcess(p *specs.Process) error {
	if p == nil {
		return nil
	}
	if err := checkCaps(p); err != nil {
		return err
	}
	if err := checkRootlessProcess(p); err != nil {
		return err
	}
	for _, r := range p.Rlimits {
		if _, ok := rlimitByName[r.Type]; !ok {
			return fmt.Errorf("unknown rlimit %q", r.Type)
		}
	}
	return checkProcessUnsupported(p)
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
	if err := checkProcess(s.Process); err != nil {
		return err
	}
	if err := checkLinuxUnsupported(s); err != nil {
		return err
	}
	if s.Linux.MountLabel != "" {
		if selinuxEnabled() {
			return errors.New("SELinux labels are not supported yet")
		}
		// Without SELinux, files have no label to set and nothing checks
		// one: the mount label cannot make the container less confined
		// than the host allows. crun ignores it the same way (runc 1.1
		// passes "context=" to the kernel, which refuses the mounts).
		logrus.Warnf("linux.mountLabel %q ignored: SELinux is not enabled on this host", s.Linux.MountLabel)
	}
	return nil
}

// checkProcessUnsupported refuses the process fields Berth does not apply
// yet, naming each (runtime-spec: unsupported values MUST be an error,
// never silently ignored). exec -p uses it too.
func checkProcessUnsupported(p *specs.Process) error {
	if p == nil {
		return nil
	}
	switch {
	case p.ApparmorProfile != "" && !apparmor.Enabled():
		// runc's text: the profile cannot be applied, so the process would
		// run less confined than the config asks.
		return errors.New("apparmor is not enabled on this host")
	case p.ApparmorProfile != "":
		if err := apparmor.CheckProfile(p.ApparmorProfile); err != nil {
			return err
		}
	case p.SelinuxLabel != "" && selinuxEnabled():
		return errors.New("SELinux labels are not supported yet")
	case p.SelinuxLabel != "":
		// Refused as runc refuses it: the process would run unconfined
		// although the config asks otherwise.
		return errors.New("selinux is not enabled on this host")
	}
	return initp.CheckProcessAttrs(p)
}

// checkLinuxUnsupported refuses the linux fields and mount features Berth
// does not apply yet, naming each.
func checkLinuxUnsupported(s *specs.Spec) error {
	l := s.Linux
	switch {
	case l.Personality != nil && l.Personality.Domain != specs.PerLinux && l.Personality.Domain != specs.PerLinux32:
		return fmt.Errorf("linux.personality: unknown domain %q (LINUX or LINUX32)", l.Personality.Domain)
	case l.Personality != nil && len(l.Personality.Flags) > 0:
		return fmt.Errorf("linux.personality: flags %q: runtime-spec defines none", l.Personality.Flags)
	case len(l.NetDevices) > 0 && !hasNetNS(s):
		return errors.New("linux.netDevices needs a network namespace: the config has none, so the devices would stay the host's")
	case len(l.NetDevices) > 0:
		if err := netdev.Check(l.NetDevices); err != nil {
			return err
		}
	case l.IntelRdt != nil && !intelrdt.Mounted(intelrdt.Root):
		return errIntelRdtNeedsResctrl
	case l.IntelRdt != nil:
		if err := intelrdt.Check(intelrdt.Root, l.IntelRdt); err != nil {
			return err
		}
	}
	if l.MemoryPolicy != nil {
		if _, _, err := initp.ParseMemoryPolicy(l.MemoryPolicy); err != nil {
			return err
		}
	}
	for _, m := range s.Mounts {
		if err := checkIDMapped(s, m); err != nil {
			return err
		}
		if o := rootfs.ParseOptions(m.Options); (m.Type == "bind" || o.Bind) && o.Data != "" {
			// A bind mount has no file system to give them to. runc 1.1
			// and crun drop them silently and the OCI validation suite
			// sends some ("mode=755,size=1k" on a bind of /etc): say so,
			// and go on.
			logrus.Warnf("mount %s (bind) on %s: ignoring options a bind mount cannot take: %q", m.Source, m.Destination, o.Data)
		}
	}
	return nil
}

// checkIDMapped refuses an idmapped mount Berth cannot make: not a bind
// mount (the mapping goes on a detached copy of the source), a kernel
// without mount_setattr, or no mapping to use.
func checkIDMapped(s *specs.Spec, m specs.Mount) error {
	o := rootfs.ParseOptions(m.Options)
	if !o.IDMap && len(m.UIDMappings)+len(m.GIDMappings) == 0 {
		return nil
	}
	if m.Type != "bind" && !o.Bind {
		return fmt.Errorf("mount %s (%s): idmapped mounts must be bind mounts", m.Destination, m.Type)
	}
	if !kernel.Has(kernel.MountSetattr) {
		return fmt.Errorf("mount %s: idmapped mounts need mount_setattr (Linux 5.12); this kernel is %s", m.Destination, kernel.Release())
	}
	_, _, err := idmap.Mappings(m, s.Linux, hasNewUserNS(s))
	return err
}

// hasNetNS tells whether the container has a network namespace of its
// own (new, or joined by path).
func hasNetNS(s *specs.Spec) bool {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			return true
		}
	}
	return false
}

// hasNewUserNS tells whether the container gets a new user namespace.
func hasNewUserNS(s *specs.Spec) bool {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.UserNamespace && ns.Path == "" {
			return true
		}
	}
	return false
}

var errIntelRdtNeedsResctrl = errors.New("linux.intelRdt needs resctrl: /sys/fs/resctrl is not mounted on this host")

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

// checkCaps refuses malformed capability names and warns, in runc 1.2's
// words, about those this kernel or build cannot grant, which are left out
// (runtime-spec: logged as a warning, the runtime SHOULD NOT fail).
func checkCaps(p *specs.Process) error {
	_, ignored, err := caps.FromSpec(p.Capabilities, caps.LastCap())
	if err != nil {
		return err
	}
	if len(ignored) > 0 {
		logrus.Warnf("ignoring unknown or unavailable capabilities: %v", ignored)
	}
	return nil
}
