package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The systemd cgroup driver (--systemd-cgroup), where systemd runs with
// cgroup v2 (the Debian guest): the container is a transient scope with
// Delegate=yes holding the init, its limits are unit properties, update
// changes them, and delete leaves no unit and no cgroup.

func requireSystemd(t *testing.T) {
	t.Helper()
	if !fileExists("/run/systemd/system") || !cgroupV2 {
		t.Skip("needs systemd with cgroup v2 (TestSystemdCgroupFlagFailsClearly covers hosts without)")
	}
}

func unitProps(t *testing.T, unit string, props ...string) map[string]string {
	t.Helper()
	out, err := exec.Command("systemctl", "show", unit, "-p", strings.Join(props, ",")).Output()
	if err != nil {
		t.Fatalf("systemctl show %s: %v", unit, err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

func unitLoaded(unit string) bool {
	out, _ := exec.Command("systemctl", "list-units", "--all", "--no-legend", unit).Output()
	return strings.TrimSpace(string(out)) != ""
}

func TestSystemdCgroupDriver(t *testing.T) {
	requireSystemd(t)
	sd := rtOpts{Global: []string{"--systemd-cgroup"}}
	for name, c := range map[string]struct {
		path string
		unit func(id string) (unit, dir string)
	}{
		"slice:prefix:name": {"system.slice:berth-test:", func(id string) (string, string) {
			return "berth-test-" + id + ".scope", "/sys/fs/cgroup/system.slice/berth-test-" + id + ".scope"
		}},
		"default": {"", func(id string) (string, string) {
			return "berth-" + id + ".scope", "/sys/fs/cgroup/system.slice/berth-" + id + ".scope"
		}},
	} {
		t.Run(name, func(t *testing.T) {
			id := newID(t)
			unit, dir := c.unit(id)
			cgPath := c.path
			if cgPath != "" {
				cgPath += id
			}
			bundle := newBundle(t, withArgs("/bin/probe", "sleep"), func(s *specs.Spec) { s.Linux.CgroupsPath = cgPath },
				withLinuxResources(&specs.LinuxResources{
					Memory: &specs.LinuxMemory{Limit: cgI64(cgMiB(64))},
					Pids:   &specs.LinuxPids{Limit: cgI64(50)},
					CPU:    &specs.LinuxCPU{Shares: cgU64(512)},
				}))
			rtWith(t, sd, "create", "--bundle", bundle, id).ok(t)
			t.Cleanup(func() { rtWith(t, sd, "delete", "-f", id) })
			pid := getState(t, id).Pid
			if got := procCgroups(t, pid)[""]; "/sys/fs/cgroup"+got != dir {
				t.Errorf("init's cgroup %s, want the unit's %s", got, dir)
			}
			p := unitProps(t, unit, "Delegate", "MemoryMax", "TasksMax", "ActiveState")
			if p["Delegate"] != "yes" || p["MemoryMax"] != cgItoa(cgMiB(64)) || p["TasksMax"] != "50" || p["ActiveState"] != "active" {
				t.Errorf("unit %s properties %v, want Delegate=yes MemoryMax=%d TasksMax=50 active", unit, p, cgMiB(64))
			}
			wantCgFile(t, dir, "memory.max", cgItoa(cgMiB(64)))
			wantCgFile(t, dir, "pids.max", "50")
			rtWith(t, sd, "start", id).ok(t)
			rtWith(t, sd, "update", "--memory", "128m", "--pids-limit", "60", id).ok(t)
			if p := unitProps(t, unit, "MemoryMax", "TasksMax"); p["MemoryMax"] != cgItoa(cgMiB(128)) || p["TasksMax"] != "60" {
				t.Errorf("after update the unit has %v, want MemoryMax=%d TasksMax=60", p, cgMiB(128))
			}
			wantCgFile(t, dir, "memory.max", cgItoa(cgMiB(128)))
			out := rtWith(t, sd, "exec", id, "cat", "/proc/self/cgroup").ok(t).Stdout
			if !strings.Contains(out, filepath.Base(dir)) {
				t.Errorf("exec'd process is not in the unit's cgroup: %q", out)
			}
			rtWith(t, sd, "delete", "-f", id).ok(t)
			if unitLoaded(unit) {
				t.Errorf("unit %s still listed after delete", unit)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("cgroup %s remains after delete: %v", dir, err)
			}
		})
	}
}

// TestSystemdCgroupDriverBadPath: a cgroupsPath not of the form
// slice:prefix:name fails create with runc's words, leaving nothing.
func TestSystemdCgroupDriverBadPath(t *testing.T) {
	requireSystemd(t)
	id := newID(t)
	bundle := newBundle(t, func(s *specs.Spec) { s.Linux.CgroupsPath = "/not/a/unit" })
	rtWith(t, rtOpts{Global: []string{"--systemd-cgroup"}}, "create", "--bundle", bundle, id).failed(t, "slice:prefix:name")
	assertCreateLeftNothing(t, id)
}

// TestSystemdCgroupDriverKill9DuringCreate: berth killed with SIGKILL in
// the middle of a systemd-driver create (its unit started, a createRuntime
// hook running) leaves a container that `delete -f` removes whole: no
// unit, no cgroup, no process.
func TestSystemdCgroupDriverKill9DuringCreate(t *testing.T) {
	requireSystemd(t)
	sd := rtOpts{Global: []string{"--systemd-cgroup"}}
	id := newID(t)
	unit, dir := "berth-"+id+".scope", "/sys/fs/cgroup/system.slice/berth-"+id+".scope"
	marks := hostDir(t, nil)
	mark := filepath.Join(marks, "hook-running")
	bundle := newBundle(t, withArgs("/bin/probe", "sleep"), withHookSpec(&specs.Hooks{
		CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "echo $$ > " + mark + "; exec sleep 60"}}},
	}))
	p := rtStart(t, sd, "create", "--bundle", bundle, id)
	if !waitFor(30*time.Second, func() bool { return fileExists(mark) }) {
		p.cmd.Process.Kill()
		t.Fatalf("the createRuntime hook never ran: %s", p.wait(t))
	}
	if !unitLoaded(unit) {
		t.Errorf("unit %s not started before the hooks", unit)
	}
	b, _ := os.ReadFile(mark)
	hook, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	p.wait(t)
	// the hook is berth's child, not the container's: it outlives berth
	if hook > 0 {
		syscall.Kill(hook, syscall.SIGKILL)
	}
	rtWith(t, sd, "delete", "-f", id).ok(t)
	if !waitFor(10*time.Second, func() bool { return !unitLoaded(unit) }) {
		t.Errorf("unit %s still listed after delete -f", unit)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("cgroup %s remains after delete -f: %v", dir, err)
	}
	if r := rt(t, "state", id); r.Code == 0 {
		t.Errorf("state of %s still there after delete -f: %s", id, r)
	}
}

// TestRootlessSystemdCgroupDriver: a rootless caller with --systemd-cgroup
// gets a scope of its own systemd user manager (as podman's rootless
// default asks): the init in user@UID.service's user.slice, limits of the
// controllers the manager delegates (memory, pids) set as unit properties
// and files, update through the unit, and after delete no unit and no
// cgroup. The test starts the user manager of a throwaway account the way
// logind does for a login (systemctl start user@UID.service).
func TestRootlessSystemdCgroupDriver(t *testing.T) {
	requireSystemd(t)
	u := newRootlessUser(t)
	svc := fmt.Sprintf("user@%d.service", u.uid)
	if out, err := exec.Command("systemctl", "start", svc).CombinedOutput(); err != nil {
		t.Fatalf("systemctl start %s: %v: %s", svc, err, out)
	}
	// after the user's cleanup in order, before it in time: stopping the
	// manager ends its processes and removes /run/user/UID
	t.Cleanup(func() {
		exec.Command("systemctl", "stop", svc, fmt.Sprintf("user-runtime-dir@%d.service", u.uid)).Run()
	})
	os.RemoveAll(u.xdg)
	u.xdg = fmt.Sprintf("/run/user/%d", u.uid)
	if !waitFor(20*time.Second, func() bool { return fileExists(filepath.Join(u.xdg, "bus")) }) {
		t.Fatalf("no session bus %s/bus after starting %s (dbus-user-session)", u.xdg, svc)
	}
	userctl := func(args ...string) string {
		cmd := exec.Command("systemctl", append([]string{"--user"}, args...)...)
		cmd.Env = u.env(true, "")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: u.cred()}
		out, _ := cmd.Output()
		return string(out)
	}
	sd := rtOpts{Global: []string{"--systemd-cgroup"}}
	id := newID(t)
	unit := "berth-" + id + ".scope"
	bundle := u.bundle(t, []string{"/bin/probe", "sleep"}, withLinuxResources(&specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: cgI64(cgMiB(64))},
		Pids:   &specs.LinuxPids{Limit: cgI64(50)},
	}))
	u.rtWith(t, sd, "run", "-d", "--bundle", bundle, id).ok(t)
	t.Cleanup(func() { u.rtWith(t, sd, "delete", "-f", id) })
	var st containerState
	if err := json.Unmarshal([]byte(u.rt(t, "state", id).ok(t).Stdout), &st); err != nil {
		t.Fatal(err)
	}
	cg := procCgroups(t, st.Pid)[""]
	dir := "/sys/fs/cgroup" + cg
	if want := fmt.Sprintf("/user.slice/user-%d.slice/%s/user.slice/%s", u.uid, svc, unit); cg != want {
		t.Errorf("the init's cgroup is %s, want %s", cg, want)
	}
	props := userctl("show", unit, "-p", "ActiveState,Delegate,MemoryMax,TasksMax")
	for _, want := range []string{"ActiveState=active", "Delegate=yes", "MemoryMax=" + cgItoa(cgMiB(64)), "TasksMax=50"} {
		if !strings.Contains(props, want) {
			t.Errorf("the user's unit %s: %q, want %s", unit, props, want)
		}
	}
	wantCgFile(t, dir, "memory.max", cgItoa(cgMiB(64)))
	wantCgFile(t, dir, "pids.max", "50")
	u.rtWith(t, sd, "update", "--memory", "128m", id).ok(t)
	wantCgFile(t, dir, "memory.max", cgItoa(cgMiB(128)))
	u.rtWith(t, sd, "delete", "-f", id).ok(t)
	if !waitFor(10*time.Second, func() bool { return !strings.Contains(userctl("list-units", "--all", "--no-legend", unit), unit) }) {
		t.Errorf("the user's unit %s still listed after delete", unit)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("cgroup %s remains after delete: %v", dir, err)
	}
}
