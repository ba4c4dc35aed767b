package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// nsFile maps OCI namespace types to their /proc/PID/ns entry.
var nsFile = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace:     "pid",
	specs.NetworkNamespace: "net",
	specs.IPCNamespace:     "ipc",
	specs.UTSNamespace:     "uts",
	specs.MountNamespace:   "mnt",
	specs.CgroupNamespace:  "cgroup",
	specs.UserNamespace:    "user",
	specs.TimeNamespace:    "time",
}

// probeNamespaces runs `probe ns` in a container built with mods.
func probeNamespaces(t *testing.T, mods ...func(*specs.Spec)) map[string]string {
	t.Helper()
	out := runOK(t, append(mods, withProbe("ns"))...)
	var ns map[string]string
	if err := json.Unmarshal([]byte(out), &ns); err != nil {
		t.Fatalf("probe ns output: %v\n%s", err, out)
	}
	return ns
}

// allNamespaces requests pid, network, ipc, uts, mount and cgroup.
func allNamespaces(s *specs.Spec) {
	withNamespace(specs.LinuxNamespace{Type: specs.CgroupNamespace})(s)
}

// TestHostnameAndDomainnameSet checks spec hostname and domainname.
func TestHostnameAndDomainnameSet(t *testing.T) {
	out := runOK(t, withArgs("/bin/sh", "-c", "probe hostname; probe domainname"), func(s *specs.Spec) {
		s.Hostname = "bt-host"
		s.Domainname = "bt.example.org"
	})
	if got := lines(out); len(got) != 2 || got[0] != "bt-host" || got[1] != "bt.example.org" {
		t.Errorf("hostname/domainname = %q, want bt-host, bt.example.org", got)
	}
}

// TestRequestedNamespacesDifferFromHost checks that each requested
// namespace type is new and the others are the host's.
func TestRequestedNamespacesDifferFromHost(t *testing.T) {
	host := hostNamespaces(t)
	ns := probeNamespaces(t, allNamespaces)
	for _, typ := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.MountNamespace, specs.CgroupNamespace} {
		name := nsFile[typ]
		if ns[name] == "" || ns[name] == host[name] {
			t.Errorf("%s namespace %q is not new (host %q)", typ, ns[name], host[name])
		}
	}
	for _, name := range []string{"user", "time"} {
		if host[name] != "" && ns[name] != host[name] {
			t.Errorf("%s namespace %q differs from the host's %q though not requested", name, ns[name], host[name])
		}
	}
}

// TestOmittedNamespaceIsHosts removes one namespace type at a time and
// checks the container shares the host's.
func TestOmittedNamespaceIsHosts(t *testing.T) {
	host := hostNamespaces(t)
	for _, typ := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.CgroupNamespace} {
		t.Run(string(typ), func(t *testing.T) {
			ns := probeNamespaces(t, allNamespaces, withoutNamespace(typ), func(s *specs.Spec) {
				if typ == specs.UTSNamespace {
					s.Hostname = "" // a hostname needs a private UTS namespace
				}
			})
			name := nsFile[typ]
			if ns[name] != host[name] {
				t.Errorf("%s namespace %q, want the host's %q", typ, ns[name], host[name])
			}
		})
	}
}

// TestJoinNetworkNamespaceByPath joins the net namespace of a process made
// with unshare(1).
func TestJoinNetworkNamespaceByPath(t *testing.T) {
	holder := exec.Command("unshare", "--net", "sleep", "120")
	if err := holder.Start(); err != nil {
		t.Skipf("unshare not usable: %v", err)
	}
	t.Cleanup(func() {
		_ = holder.Process.Kill()
		_ = holder.Wait()
	})
	hostNet, _ := os.Readlink("/proc/self/ns/net")
	nsPath := fmt.Sprintf("/proc/%d/ns/net", holder.Process.Pid)
	var want string
	if !waitFor(5*time.Second, func() bool {
		want, _ = os.Readlink(nsPath)
		return want != "" && want != hostNet
	}) {
		t.Fatalf("unshare --net did not create a namespace (got %q)", want)
	}
	ns := probeNamespaces(t, withNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: nsPath}))
	if ns["net"] != want {
		t.Errorf("container net namespace = %q, want %q", ns["net"], want)
	}
}

// TestLoopbackIsUpInNewNetworkNamespace checks lo has IFF_UP.
func TestLoopbackIsUpInNewNetworkNamespace(t *testing.T) {
	out := strings.TrimSpace(runOK(t, withProbe("read", "/sys/class/net/lo/flags")))
	flags, err := strconv.ParseUint(strings.TrimPrefix(out, "0x"), 16, 32)
	if err != nil {
		t.Fatalf("lo flags %q: %v", out, err)
	}
	if flags&unix.IFF_UP == 0 {
		t.Errorf("lo flags %#x lack IFF_UP", flags)
	}
}

// TestUserNamespaceMapsIDs maps container root to host uid/gid 100000 and
// checks both views.
func TestUserNamespaceMapsIDs(t *testing.T) {
	bundle := newBundle(t,
		withArgs("/bin/sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; echo mapped; exec /bin/probe sleep"),
		withNamespace(specs.LinuxNamespace{Type: specs.UserNamespace}),
		func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		})
	id, cr := createStarted(t, bundle)
	out := waitOutput(t, cr.StdoutPath, "mapped", 10*time.Second)
	maps := lines(out)
	if len(maps) < 2 || strings.Join(strings.Fields(maps[0]), " ") != "0 100000 65536" || strings.Join(strings.Fields(maps[1]), " ") != "0 100000 65536" {
		t.Errorf("uid_map/gid_map inside = %q, want `0 100000 65536` twice", maps)
	}
	pid := getState(t, id).Pid
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "Uid:") || strings.HasPrefix(l, "Gid:") {
			if f := strings.Fields(l); len(f) < 2 || f[1] != "100000" {
				t.Errorf("host view %q, want 100000", l)
			}
		}
	}
	if ns := namespacesOf(t, strconv.Itoa(pid)); ns["user"] == hostNamespaces(t)["user"] {
		t.Errorf("container shares the host user namespace")
	}
}

// TestUserNamespaceBundleBehindPrivateDir: the bundle sits below a 0700
// directory that the user namespace's root cannot search (dockerd with
// --userns-remap keeps its bundles under a 0700 exec root) while the rootfs
// is reachable; the container starts, as it does with runc.
func TestUserNamespaceBundleBehindPrivateDir(t *testing.T) {
	shared := newBundle(t,
		withArgs("/bin/sh", "-c", "cat /proc/self/uid_map"),
		joinUserNSMappings)
	private := newDir(t, "private")
	if err := os.Chmod(private, 0o700); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(private, "bundle")
	if err := os.Mkdir(bundle, 0o711); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(shared, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	s.Root.Path = rootfsOf(shared)
	writeSpec(t, bundle, &s)
	out := rt(t, "run", "--bundle", bundle, newID(t)).ok(t).Stdout
	if got := strings.Join(strings.Fields(out), " "); got != "0 100000 65536" {
		t.Errorf("uid_map inside = %q, want `0 100000 65536`", out)
	}
}

// TestTimeNamespaceOffsets checks linux.timeOffsets in a time namespace.
func TestTimeNamespaceOffsets(t *testing.T) {
	const monoOff, bootOff = 86400, 2 * 86400
	var before unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &before); err != nil {
		t.Fatal(err)
	}
	out := runOK(t, withProbe("timens"),
		withNamespace(specs.LinuxNamespace{Type: specs.TimeNamespace}),
		func(s *specs.Spec) {
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{
				"monotonic": {Secs: monoOff},
				"boottime":  {Secs: bootOff},
			}
		})
	var boot unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &boot); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, l := range lines(out) {
		var name string
		var v int64
		if _, err := fmt.Sscanf(l, "%s %d", &name, &v); err == nil {
			got[name] = v
		}
	}
	// The container ran after `before`; allow 60s for the run itself.
	if d := got["monotonic"] - before.Sec - monoOff; d < 0 || d > 60 {
		t.Errorf("monotonic inside %d, host %d: offset off by %ds, want +%d", got["monotonic"], before.Sec, d, monoOff)
	}
	if d := got["boottime"] - boot.Sec - bootOff; d < -60 || d > 1 {
		t.Errorf("boottime inside %d, host %d: offset off by %ds, want +%d", got["boottime"], boot.Sec, d, bootOff)
	}
}

// TestCgroupNamespaceHidesHostPath checks /proc/self/cgroup shows only "/"
// inside a cgroup namespace.
func TestCgroupNamespaceHidesHostPath(t *testing.T) {
	out := runOK(t, withProbe("cgroup"), allNamespaces)
	cg := parseCgroupFile(out)
	if len(cg) == 0 {
		t.Fatalf("empty /proc/self/cgroup: %q", out)
	}
	for ctrl, path := range cg {
		if path != "/" {
			t.Errorf("cgroup %q path %q inside cgroup namespace, want /", ctrl, path)
		}
	}
	if cgroupV2 {
		if _, ok := cg[""]; !ok {
			t.Errorf("no unified (0::) line: %q", out)
		}
	}
}
