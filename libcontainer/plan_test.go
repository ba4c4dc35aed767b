package libcontainer

import (
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func specWith(ns []specs.LinuxNamespace, mod func(*specs.Spec)) *specs.Spec {
	s := &specs.Spec{Version: "1.3.0", Process: &specs.Process{Args: []string{"true"}, Cwd: "/"},
		Linux: &specs.Linux{Namespaces: ns}}
	if mod != nil {
		mod(s)
	}
	return s
}

func TestMakePlanNewNamespacesUseCloneFlags(t *testing.T) {
	p, err := makePlan(specWith([]specs.LinuxNamespace{{Type: "pid"}, {Type: "network"}, {Type: "mount"}, {Type: "cgroup"}}, nil), "")
	if err != nil {
		t.Fatal(err)
	}
	if p.cloneFlags != unix.CLONE_NEWPID|unix.CLONE_NEWNET|unix.CLONE_NEWNS {
		t.Fatalf("cloneFlags = %#x", p.cloneFlags)
	}
	if !p.unshareCgroupNS || !p.privatePidNS || p.usePreStage() || p.preFork || p.preUnshare != 0 {
		t.Fatalf("plan = %+v", p)
	}
}

// A new time namespace is made by the pre-stage, which forks into it: the
// pid namespace goes with it so that the forked child is its pid 1.
func TestMakePlanNewTimeNamespaceForksInPreStage(t *testing.T) {
	p, err := makePlan(specWith([]specs.LinuxNamespace{{Type: "pid"}, {Type: "network"}, {Type: "time"}}, func(s *specs.Spec) {
		s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 5}, "boottime": {Secs: 7, Nanosecs: 1}}
	}), "")
	if err != nil {
		t.Fatal(err)
	}
	if p.cloneFlags != unix.CLONE_NEWNET || p.preUnshare != unix.CLONE_NEWPID|unix.CLONE_NEWTIME || !p.preFork || !p.privatePidNS {
		t.Fatalf("plan = %+v", p)
	}
	env := strings.Join(preStageEnv(p, nil), "\n")
	if !strings.Contains(env, "_BERTH_TIMENS_OFFSETS=boottime 7 1\nmonotonic 5 0\n") || !strings.Contains(env, "_BERTH_NSFORK=1") {
		t.Errorf("pre-stage env %q", env)
	}
}

func TestMakePlanUserJoinMovesEverythingToPreStage(t *testing.T) {
	p, err := makePlan(specWith([]specs.LinuxNamespace{
		{Type: "user", Path: "/proc/1/ns/user"}, {Type: "network", Path: "/proc/1/ns/net"},
		{Type: "pid"}, {Type: "mount"}, {Type: "uts"},
	}, nil), "")
	if err != nil {
		t.Fatal(err)
	}
	if p.cloneFlags != 0 || !p.preFork || p.preUnshare != unix.CLONE_NEWPID|unix.CLONE_NEWNS|unix.CLONE_NEWUTS {
		t.Fatalf("plan = %+v", p)
	}
	if len(p.parentJoins) != 1 || p.parentJoins[0].flag != unix.CLONE_NEWNET {
		t.Fatalf("parentJoins = %+v", p.parentJoins)
	}
}

func TestMakePlanRejects(t *testing.T) {
	maps := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1}}
	tests := []struct {
		name string
		spec *specs.Spec
		want string
	}{
		{"new userns without maps", specWith([]specs.LinuxNamespace{{Type: "user"}}, nil), "uidMappings"},
		{"join userns with maps", specWith([]specs.LinuxNamespace{{Type: "user", Path: "/x"}}, func(s *specs.Spec) {
			s.Linux.UIDMappings, s.Linux.GIDMappings = maps, maps
		}), "cannot be set"},
		{"host sysctl", specWith(nil, func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"vm.swappiness": "1"} }), "not in a separate kernel namespace"},
		{"net sysctl without netns", specWith(nil, func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"} }), "network namespace"},
		{"malformed capability", specWith(nil, func(s *specs.Spec) {
			s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: []string{"CAP_BO GUS"}}
		}), "CAP_BO GUS"},
		{"unknown rlimit", specWith(nil, func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_BOGUS"}}
		}), "RLIMIT_BOGUS"},
		{"seccomp bad action", specWith(nil, func(s *specs.Spec) { s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: "X"} }), "seccomp"},
		{"relative hook path", specWith(nil, func(s *specs.Spec) { s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "true"}}} }), "absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := makePlan(tt.spec, "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestMakePlanAllowsNamespacedSysctls(t *testing.T) {
	s := specWith([]specs.LinuxNamespace{{Type: "ipc"}, {Type: "network"}}, func(s *specs.Spec) {
		s.Linux.Sysctl = map[string]string{"kernel.shmmax": "1", "net.ipv4.ip_forward": "1", "fs.mqueue.msg_max": "10"}
	})
	if _, err := makePlan(s, ""); err != nil {
		t.Fatal(err)
	}
}

// A cgroup namespace joined by path is joined by the pre-stage (after the
// process is in its cgroup), except with a new user namespace made by
// clone, where only the parent may join it.
func TestMakePlanCgroupNamespaceJoin(t *testing.T) {
	cg := specs.LinuxNamespace{Type: "cgroup", Path: "/proc/1/ns/cgroup"}
	p, err := makePlan(specWith([]specs.LinuxNamespace{{Type: "pid"}, cg}, nil), "")
	if err != nil {
		t.Fatal(err)
	}
	if p.cgroupJoin != cg.Path || hasJoin(p, unix.CLONE_NEWCGROUP) || p.usePreStage() {
		t.Fatalf("plan = %+v, want the cgroup namespace joined by the pre-stage only", p)
	}
	env := strings.Join(preStageEnv(p, nil), "\n")
	if !strings.Contains(env, "_BERTH_NSJOIN="+strconv.Itoa(unix.CLONE_NEWCGROUP)+":"+cg.Path) {
		t.Errorf("pre-stage env %q lacks the cgroup namespace", env)
	}
	maps := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1}}
	p, err = makePlan(specWith([]specs.LinuxNamespace{{Type: "user"}, cg}, func(s *specs.Spec) {
		s.Linux.UIDMappings, s.Linux.GIDMappings = maps, maps
	}), "")
	if err != nil {
		t.Fatal(err)
	}
	if p.cgroupJoin != "" || !hasJoin(p, unix.CLONE_NEWCGROUP) {
		t.Fatalf("plan = %+v, want the cgroup namespace joined by the parent", p)
	}
}

// TestMakePlanWhatTheInitIsTold: the namespace facts the init receives in
// its config (it does not read the spec's list again).
func TestMakePlanWhatTheInitIsTold(t *testing.T) {
	for _, c := range []struct {
		name                              string
		ns                                []specs.LinuxNamespace
		newNet, userNS, cgroupNS, mountNS bool
	}{
		{"none", nil, false, false, false, false},
		{"new", []specs.LinuxNamespace{{Type: "network"}, {Type: "user"}, {Type: "cgroup"}, {Type: "mount"}}, true, true, true, true},
		{"joined", []specs.LinuxNamespace{{Type: "network", Path: "/proc/1/ns/net"}, {Type: "cgroup", Path: "/proc/1/ns/cgroup"}, {Type: "mount", Path: "/proc/1/ns/mnt"}}, false, false, true, true},
		{"joined user", []specs.LinuxNamespace{{Type: "user", Path: "/proc/1/ns/user"}, {Type: "mount"}}, false, true, false, true},
	} {
		p, err := makePlan(specWith(c.ns, func(s *specs.Spec) {
			for _, ns := range s.Linux.Namespaces {
				if ns.Type == specs.UserNamespace && ns.Path == "" {
					m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
					s.Linux.UIDMappings, s.Linux.GIDMappings = m, m
				}
			}
		}), "")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if p.newNetNS != c.newNet || p.userNS != c.userNS || p.cgroupNS != c.cgroupNS || p.mountNS != c.mountNS {
			t.Errorf("%s: newNet %v user %v cgroup %v mount %v; want %v %v %v %v", c.name,
				p.newNetNS, p.userNS, p.cgroupNS, p.mountNS, c.newNet, c.userNS, c.cgroupNS, c.mountNS)
		}
	}
}
