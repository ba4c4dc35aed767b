package libcontainer

import (
	"errors"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/libcontainer/cgroups"
	"github.com/berth-runtime/berth/libcontainer/rootless"
)

func TestCheckDeniedCgroups(t *testing.T) {
	denied := &os.PathError{Op: "access", Path: "/sys/fs/cgroup/memory", Err: unix.EACCES}
	v1 := func() *cgroups.Manager {
		return &cgroups.Manager{Mode: cgroups.Hybrid, Paths: map[string]string{
			"memory": "/sys/fs/cgroup/memory/c", "cpu,cpuacct": "/sys/fs/cgroup/cpu,cpuacct/c",
			"pids": "/sys/fs/cgroup/pids/c", cgroups.SystemdKey: "/sys/fs/cgroup/systemd/c",
			cgroups.UnifiedKey: "/sys/fs/cgroup/unified/c",
		}}
	}
	v2 := &cgroups.Manager{Mode: cgroups.Unified, Paths: map[string]string{cgroups.UnifiedKey: "/sys/fs/cgroup/c"}}
	mem := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: new(int64)}}
	*mem.Memory.Limit = 1 << 20
	devs := &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}
	for _, c := range []struct {
		name    string
		mgr     *cgroups.Manager
		linux   specs.Linux
		denied  []string
		wantErr string
	}{
		{"nothing denied", v1(), specs.Linux{Resources: mem}, nil, ""},
		{"no limits", v1(), specs.Linux{}, []string{"memory", "pids", cgroups.UnifiedKey}, ""},
		{"device rules are not limits", v1(), specs.Linux{Resources: devs}, []string{"memory", "devices"}, ""},
		{"limit of a denied controller", v1(), specs.Linux{Resources: mem}, []string{"memory"},
			"linux.resources.memory.limit needs the memory cgroup"},
		{"limit of a writable controller", v1(), specs.Linux{Resources: mem}, []string{"pids"}, ""},
		{"cgroupsPath", v1(), specs.Linux{CgroupsPath: "/mine/c"}, []string{"pids"}, `cgroupsPath "/mine/c"`},
		{"name=systemd is best effort", v1(), specs.Linux{CgroupsPath: "/mine/c"}, []string{cgroups.SystemdKey}, ""},
		{"v2 limit", v2, specs.Linux{Resources: mem}, []string{cgroups.UnifiedKey}, "needs the container's cgroup"},
		{"v2 without limits", v2, specs.Linux{}, []string{cgroups.UnifiedKey}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := map[string]error{}
			for _, k := range c.denied {
				d[k] = denied
			}
			linux := c.linux
			err := checkDeniedCgroups(c.mgr, &specs.Spec{Linux: &linux}, d)
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Errorf("checkDeniedCgroups = %v, want %q", err, c.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "delegat") {
				t.Errorf("the error does not name the missing delegation: %v", err)
			}
		})
	}
}

func TestCheckRootlessMount(t *testing.T) {
	s := &specs.Spec{Linux: &specs.Linux{
		UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}},
		GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}, {ContainerID: 5, HostID: 100005, Size: 1}},
	}}
	for _, c := range []struct {
		name    string
		m       specs.Mount
		wantErr string
	}{
		{"no ids", specs.Mount{Destination: "/dev/pts", Type: "devpts", Options: []string{"newinstance", "mode=0620"}}, ""},
		{"mapped gid", specs.Mount{Destination: "/dev/pts", Type: "devpts", Options: []string{"gid=5"}}, ""},
		{"mapped uid", specs.Mount{Destination: "/t", Type: "tmpfs", Options: []string{"uid=0"}}, ""},
		{"unmapped uid", specs.Mount{Destination: "/t", Type: "tmpfs", Options: []string{"uid=1000"}},
			"cannot specify uid=1000 mount option for rootless container"},
		{"unmapped gid", specs.Mount{Destination: "/t", Type: "tmpfs", Options: []string{"gid=6"}}, "gid 6 is not in the container's gidMappings"},
		{"not a number", specs.Mount{Destination: "/t", Type: "fuse", Options: []string{"uid=me"}}, ""},
		{"idmapped", specs.Mount{Destination: "/d", Type: "bind", Source: "/d", Options: []string{"rbind", "idmap"}}, "idmapped mounts need CAP_SYS_ADMIN"},
	} {
		err := checkRootlessMount(s, c.m)
		if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%s: checkRootlessMount = %v, want %q", c.name, err, c.wantErr)
		}
	}
}

func TestUseIDMapHelpersMovesNamespacesToThePreStage(t *testing.T) {
	p := &plan{cloneFlags: unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS, userNS: true}
	useIDMapHelpers(p, &rootless.IDMaps{})
	if p.cloneFlags != 0 {
		t.Errorf("clone flags %#x left for clone", p.cloneFlags)
	}
	if want := uintptr(unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS); p.preUnshare != want || !p.preFork {
		t.Errorf("pre-stage unshares %#x (fork %v), want %#x and a fork", p.preUnshare, p.preFork, want)
	}
	if p.idMaps == nil {
		t.Error("no maps for the pre-stage's report")
	}
}

func TestChownFifoRootless(t *testing.T) {
	other := errors.New("other")
	if err := chownFifoRootless(other); err != other {
		t.Errorf("chownFifoRootless(other) = %v", err)
	}
	want := error(unix.EPERM)
	if rootless.EUID() {
		want = nil
	}
	if err := chownFifoRootless(unix.EPERM); err != want {
		t.Errorf("chownFifoRootless(EPERM) = %v, want %v", err, want)
	}
}
