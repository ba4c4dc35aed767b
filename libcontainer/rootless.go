package libcontainer

// What create does differently when the runtime is not root (see
// docs/design.md, "Rootless"): the user namespace's maps, the cgroups the
// caller may not have, and the checks that say what is missing before
// anything exists.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/libcontainer/cgroups"
	"github.com/berth-runtime/berth/libcontainer/oci"
	"github.com/berth-runtime/berth/libcontainer/rootfs"
	"github.com/berth-runtime/berth/libcontainer/rootless"
	"github.com/berth-runtime/berth/libcontainer/syncmsg"
)

// errNoAdditionalGids is runc's text for the same refusal.
var errNoAdditionalGids = errors.New("cannot set any additional groups in a rootless container")

// planRootless adapts the plan to a runtime that is not root (runc's
// rootless EUID) and refuses, naming what is missing, what it cannot make.
func planRootless(s *specs.Spec, p *plan) error {
	logSysfsFallback(s, p)
	if !rootless.EUID() {
		return nil
	}
	if !p.userNS {
		return fmt.Errorf("rootless container requires user namespaces: berth runs as uid %d, "+
			"which may create no other namespace outside one (add a user namespace with uidMappings and gidMappings, "+
			"as berth spec --rootless does)", os.Geteuid())
	}
	for _, m := range s.Mounts {
		if err := checkRootlessMount(s, m); err != nil {
			return err
		}
	}
	if p.cloneFlags&unix.CLONE_NEWUSER == 0 {
		return nil // a joined user namespace has its maps
	}
	if rootless.OwnIDsOnly(s.Linux.UIDMappings, s.Linux.GIDMappings) {
		// The runtime writes the maps itself; the kernel then wants
		// setgroups denied first (user_namespaces(7)).
		p.denySetgroups = true
		return nil
	}
	maps, err := rootless.FindIDMaps(s.Linux.UIDMappings, s.Linux.GIDMappings)
	if err != nil {
		return err
	}
	useIDMapHelpers(p, maps)
	return nil
}

// useIDMapHelpers moves the new user namespace to the pre-stage: only a
// process outside it may run newuidmap on it, and it must exist before
// the namespaces it is to own. The pre-stage unshares it first (the
// CLONE_NEWUSER in preUnshare), has the runtime write its maps, becomes
// its root, then unshares the rest, forking into a new pid namespace.
func useIDMapHelpers(p *plan, maps *rootless.IDMaps) {
	p.idMaps = maps
	flags := p.cloneFlags
	p.cloneFlags = 0
	p.preUnshare |= flags &^ unix.CLONE_NEWPID
	if flags&unix.CLONE_NEWPID != 0 {
		p.preUnshare |= unix.CLONE_NEWPID
		p.preFork = true
	}
}

// joinAfterUserNS moves, for a rootless runtime, the joins of an exec
// from the runtime's thread to the pre-stage, after the user namespace:
// setns into a namespace needs CAP_SYS_ADMIN over it and in the caller's
// own user namespace, which only the container's root has. A joined pid
// namespace is entered by a fork there.
func joinAfterUserNS(p *plan) {
	if !rootless.EUID() || !p.userNS {
		return
	}
	for _, j := range p.parentJoins {
		p.preJoins = append(p.preJoins, j)
		p.preFork = p.preFork || j.flag == unix.CLONE_NEWPID
	}
	p.parentJoins = nil
}

// checkRootlessMount refuses, before anything exists, the mounts the
// runtime cannot make without privilege: uid=/gid= options naming ids
// outside the maps (runc's rootlessEUIDMount) and idmapped mounts, which
// need CAP_SYS_ADMIN over the file system's owner (the host).
func checkRootlessMount(s *specs.Spec, m specs.Mount) error {
	o := rootfs.ParseOptions(m.Options)
	if o.IDMap || len(m.UIDMappings)+len(m.GIDMappings) > 0 {
		return fmt.Errorf("mount %s: idmapped mounts need CAP_SYS_ADMIN in the host's user namespace, "+
			"which a rootless runtime (uid %d) does not have", m.Destination, os.Geteuid())
	}
	for _, opt := range strings.Split(o.Data, ",") {
		kind, val, ok := strings.Cut(opt, "=")
		if !ok || kind != "uid" && kind != "gid" {
			continue
		}
		var id uint32
		if _, err := fmt.Sscan(val, &id); err != nil {
			continue // not an id: the file system's own option
		}
		maps := s.Linux.UIDMappings
		if kind == "gid" {
			maps = s.Linux.GIDMappings
		}
		if _, ok := rootless.HostID(maps, id); !ok {
			return fmt.Errorf("cannot specify %s=%d mount option for rootless container: mount %s (%s) on %s: "+
				"%s %d is not in the container's %sMappings %s",
				kind, id, m.Source, m.Type, m.Destination, kind, id, kind, rootless.FormatMappings(maps))
		}
	}
	return nil
}

// checkRootlessProcess refuses what a rootless runtime cannot give a
// process (create's and exec's alike): additional groups, as runc does.
func checkRootlessProcess(p *specs.Process) error {
	if rootless.EUID() && len(p.User.AdditionalGids) > 0 {
		return errNoAdditionalGids
	}
	return nil
}

// logSysfsFallback says, at debug level, that a sysfs mount will be a
// read-only bind of the host's /sys: a user namespace may mount sysfs
// only with a network namespace of its own (the kernel's check), and the
// init falls back to the bind where the mount is refused.
func logSysfsFallback(s *specs.Spec, p *plan) {
	if !p.userNS || hasNetNS(s) || !logrus.IsLevelEnabled(logrus.DebugLevel) {
		return
	}
	for _, m := range s.Mounts {
		if m.Type == "sysfs" && !rootfs.ParseOptions(m.Options).Bind {
			logrus.Debugf("mount sysfs on %s: a user namespace without its own network namespace may not mount sysfs; "+
				"the host's /sys is bound there instead (recursive, read-only)", m.Destination)
		}
	}
}

// runtimeOpensBindSources tells whether create opens the bind sources for
// the init (openBindSources). A rootless runtime may not (open_tree's
// clone needs CAP_SYS_ADMIN) and reaches no more than its init: the init
// binds them by path.
func runtimeOpensBindSources(spec *specs.Spec, p *plan) bool {
	return (p.userNS || hasIDMappedMount(spec)) && !rootless.EUID()
}

// readStageReport reads the pre-stage's report; when it asks for the maps
// of the user namespace it made (maps non-nil), they are written with the
// helpers for process pid and it is told to go on.
func readStageReport(sock *os.File, pid int, maps *rootless.IDMaps) (syncmsg.StageReport, error) {
	rep, err := syncmsg.ReadStageReport(int(sock.Fd()))
	if err != nil || !rep.MapIDs {
		return rep, err
	}
	if maps == nil {
		return rep, errors.New("protocol error: the pre-stage asked for user namespace maps")
	}
	if err := maps.Write(pid); err != nil {
		// It waits for us: nothing else would end it before we exit.
		unix.Kill(pid, unix.SIGKILL)
		return rep, err
	}
	if _, err := sock.Write([]byte{1}); err != nil {
		return rep, fmt.Errorf("tell the pre-stage its maps are written: %w", err)
	}
	return syncmsg.ReadStageReport(int(sock.Fd()))
}

// createCgroups makes the container's cgroups. In rootless cgroup mode
// (--rootless, by default any caller but the host's root) a hierarchy the
// caller may not write is left out, as runc 1.1 does, unless the config
// needs it: a cgroupsPath, or a limit of its controller.
func createCgroups(mgr *cgroups.Manager, spec *specs.Spec, rootlessCgroups bool) error {
	if !rootlessCgroups || mgr.Unit != nil {
		// A systemd unit is the manager's: the system's, or for a
		// rootless caller its own user manager's, which delegates.
		return mgr.Create()
	}
	denied := map[string]error{}
	for key, p := range mgr.Paths {
		if err := cgroupWritable(p); err != nil {
			denied[key] = err
		}
	}
	if err := checkDeniedCgroups(mgr, spec, denied); err != nil {
		return err
	}
	for key := range denied {
		delete(mgr.Paths, key)
	}
	if len(denied) > 0 {
		warnNoCgroups(mgr, spec, denied)
	}
	return mgr.Create()
}

// cgroupWritable checks that the caller could make and join the cgroup p:
// write and search on its nearest existing directory (mkdir), or write on
// its cgroup.procs where it exists.
func cgroupWritable(p string) error {
	target, mode := filepath.Join(p, "cgroup.procs"), uint32(unix.W_OK)
	if _, err := os.Stat(p); err != nil {
		target, mode = filepath.Dir(p), unix.W_OK|unix.X_OK
		for {
			if _, err := os.Stat(target); err == nil || target == "/" {
				break
			}
			target = filepath.Dir(target)
		}
	}
	if err := unix.Faccessat(unix.AT_FDCWD, target, mode, unix.AT_EACCESS); err != nil {
		return &os.PathError{Op: "access", Path: target, Err: err}
	}
	return nil
}

// checkDeniedCgroups applies runc 1.1's rules to the hierarchies the
// caller may not write: with cgroupsPath set they are an error, and so is
// any limit of their controllers; name=systemd is always best effort.
func checkDeniedCgroups(mgr *cgroups.Manager, spec *specs.Spec, denied map[string]error) error {
	for _, key := range sortedKeys(denied) {
		if key == cgroups.SystemdKey {
			continue
		}
		if cp := spec.Linux.CgroupsPath; cp != "" {
			return fmt.Errorf("rootless container: cgroupsPath %q: uid %d may not create %s (%v): "+
				"that cgroup is not delegated to this user (make it theirs, or leave cgroupsPath out to run without a cgroup)",
				cp, os.Geteuid(), mgr.Paths[key], denied[key])
		}
	}
	for _, l := range rootless.Limits(spec.Linux.Resources) {
		key, ok := controllerKey(mgr, l.Controller)
		if err := denied[key]; ok && err != nil {
			return fmt.Errorf("rootless container: %s needs the %s cgroup, and uid %d may not create %s (%v): "+
				"there is no cgroup delegation to this user (give it a cgroup of its own, on cgroup v2 systemd's Delegate=yes, "+
				"and set cgroupsPath below it), or remove the limit",
				l.Field, controllerName(mgr, l.Controller), os.Geteuid(), mgr.Paths[key], err)
		}
	}
	return nil
}

// controllerKey is the key of mgr.Paths whose hierarchy applies limits of
// the v1 controller ctrl: the one cgroup on v2, a v1 hierarchy that has it,
// else (hybrid) the unified tree.
func controllerKey(mgr *cgroups.Manager, ctrl string) (string, bool) {
	if mgr.Mode == cgroups.Unified || ctrl == "" {
		_, ok := mgr.Paths[cgroups.UnifiedKey]
		return cgroups.UnifiedKey, ok
	}
	for key := range mgr.Paths {
		if key != cgroups.UnifiedKey && strings.Contains(","+key+",", ","+ctrl+",") {
			return key, true
		}
	}
	_, ok := mgr.Paths[cgroups.UnifiedKey]
	return cgroups.UnifiedKey, ok
}

func controllerName(mgr *cgroups.Manager, ctrl string) string {
	if mgr.Mode == cgroups.Unified || ctrl == "" {
		return "container's"
	}
	return ctrl
}

// warnNoCgroups says which hierarchies the container goes without, and
// what that costs.
func warnNoCgroups(mgr *cgroups.Manager, spec *specs.Spec, denied map[string]error) {
	keys := sortedKeys(denied)
	if len(keys) == 1 && keys[0] == cgroups.SystemdKey {
		logrus.Debugf("not placing the container in name=systemd: %v", denied[keys[0]])
		return
	}
	what := "any cgroup"
	if len(mgr.Paths) > 0 {
		what = "the cgroups " + strings.Join(keys, ", ")
	}
	logrus.Warnf("rootless: uid %d may not create %s (%v; no cgroup delegation): the container runs without them "+
		"and their limits, and kill --all and delete signal its init only", os.Geteuid(), what, denied[keys[0]])
	if len(mgr.Paths) == 0 && !oci.HasNamespace(spec, specs.PIDNamespace) {
		// runc 1.2's warning for the same configuration.
		logrus.Warn("Creating a rootless container with no cgroup and no private pid namespace. " +
			"Such configuration is strongly discouraged (as it is impossible to properly kill all container's processes).")
	}
}

func sortedKeys(m map[string]error) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// setCgroups writes the limits and device rules. A container without any
// cgroup has nothing to write to (and createCgroups has refused its
// limits); in rootless mode device rules are not written either: the
// kernel takes them only from the host's root (v1's devices.deny needs
// CAP_SYS_ADMIN, v2's filter a BPF program), and runc ignores their
// failure there.
func setCgroups(mgr *cgroups.Manager, res *cgroups.Resources, rootlessCgroups bool) error {
	if len(mgr.Paths) == 0 {
		return nil
	}
	if rootlessCgroups && (rootless.EUID() || rootless.InUserNS()) {
		r := *res
		r.Devices, r.SkipDevices = nil, true
		res = &r
	}
	return mgr.Set(res)
}

// chownFifoRootless is chownToContainerRoot's answer to EPERM from a
// rootless runtime, which may give away no file: the fifo is 0622, so the
// container's root opens it for writing anyway.
func chownFifoRootless(err error) error {
	if errors.Is(err, unix.EPERM) && rootless.EUID() {
		return nil
	}
	return err
}
