package integration

// Rootless: the runtime run by an unprivileged user (a throwaway account
// made per test) with a bundle from `spec --rootless`, state in
// $XDG_RUNTIME_DIR, no cgroup delegation on this host.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// rootlessUser is a throwaway account the runtime runs as, with its own
// $XDG_RUNTIME_DIR; its cleanup deletes what it left, checks that, and
// removes the account.
type rootlessUser struct {
	name     string
	uid, gid int
	// xdg is its XDG_RUNTIME_DIR (0700, its own).
	xdg string
	// subuid and subgid are the starts of the ranges useradd gave it in
	// /etc/subuid and /etc/subgid (0: none).
	subuid, subgid, subCount int
}

// newRootlessUser makes the account. Its cleanup runs before the test's
// leak check (which it must precede: the leak check's delete runs as root
// on the suite's state root, where these containers are not).
func newRootlessUser(t *testing.T) *rootlessUser {
	t.Helper()
	if _, err := exec.LookPath("useradd"); err != nil {
		t.Skip("useradd (passwd) is not installed")
	}
	getEnv(t)
	name := fmt.Sprintf("btrl%06x", rand.Uint32()&0xffffff)
	if out, err := retryLocked("useradd", "-M", "-U", "-s", "/usr/sbin/nologin", "-d", "/nonexistent", name); err != nil {
		t.Fatalf("useradd %s: %v\n%s", name, err, out)
	}
	u := &rootlessUser{name: name}
	t.Cleanup(func() { u.cleanup(t) })
	pw, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	u.uid, _ = strconv.Atoi(pw.Uid)
	u.gid, _ = strconv.Atoi(pw.Gid)
	u.subuid, u.subCount = subRange(t, "/etc/subuid", name)
	u.subgid, _ = subRange(t, "/etc/subgid", name)
	u.xdg = newDir(t, "x")
	if err := os.Chown(u.xdg, u.uid, u.gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(u.xdg, 0o700); err != nil {
		t.Fatal(err)
	}
	return u
}

// retryLocked runs a shadow tool, again while another one holds the
// passwd lock (a parallel suite may make users too).
func retryLocked(name string, args ...string) ([]byte, error) {
	var out []byte
	var err error
	for i := 0; i < 20; i++ {
		if out, err = exec.Command(name, args...).CombinedOutput(); err == nil || !strings.Contains(string(out), "lock") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return out, err
}

// subRange is the user's first range in a subordinate id file.
func subRange(t *testing.T, file, name string) (start, count int) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, 0
	}
	for _, l := range lines(string(b)) {
		f := strings.Split(l, ":")
		if len(f) == 3 && f[0] == name {
			start, _ = strconv.Atoi(f[1])
			count, _ = strconv.Atoi(f[2])
			return start, count
		}
	}
	return 0, 0
}

// stateDir is where the runtime keeps container id for this user.
func (u *rootlessUser) stateDir(id string) string { return filepath.Join(u.stateRoot(), id) }

func (u *rootlessUser) stateRoot() string {
	name := "berth"
	if runtimeIsRunc {
		name = "runc"
	}
	return filepath.Join(u.xdg, name)
}

// env is the user's environment for the runtime; without xdg it has no
// XDG_RUNTIME_DIR. path is $PATH ("" for the usual one).
func (u *rootlessUser) env(xdg bool, path string) []string {
	if path == "" {
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	env := []string{"HOME=/nonexistent", "USER=" + u.name, "LOGNAME=" + u.name, "PATH=" + path}
	if xdg {
		env = append(env, "XDG_RUNTIME_DIR="+u.xdg)
	}
	return env
}

func (u *rootlessUser) cred() *syscall.Credential {
	return &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid), Groups: []uint32{}}
}

// rt runs the runtime as the user, with its XDG_RUNTIME_DIR and no --root.
func (u *rootlessUser) rt(t *testing.T, args ...string) result {
	t.Helper()
	return u.rtWith(t, rtOpts{}, args...)
}

// rtWith is rt with options (Env, when set, replaces the user's).
func (u *rootlessUser) rtWith(t *testing.T, o rtOpts, args ...string) result {
	t.Helper()
	o.NoRoot, o.Cred = true, u.cred()
	if o.Env == nil {
		o.Env = u.env(true, "")
	}
	return rtWith(t, o, args...)
}

// bundle makes a bundle whose config is what `spec --rootless`, run as
// the user, writes, with the test rootfs and args, then edited by mods.
func (u *rootlessUser) bundle(t *testing.T, args []string, mods ...func(*specs.Spec)) string {
	t.Helper()
	dir := newDir(t, "spec")
	if err := os.Chown(dir, u.uid, u.gid); err != nil {
		t.Fatal(err)
	}
	u.rtWith(t, rtOpts{Dir: dir}, "spec", "--rootless").ok(t)
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(dir)
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	bundle := newBundle(t)
	s.Root.Path = rootfsOf(bundle)
	s.Process.Terminal = false
	s.Process.Args = args
	for _, mod := range mods {
		mod(&s)
	}
	writeSpec(t, bundle, &s)
	return bundle
}

// cleanup deletes, as the user, every container left in its state root,
// checks that nothing of it is left (state, processes), ends what is,
// removes the account and checks it is gone.
func (u *rootlessUser) cleanup(t *testing.T) {
	for _, id := range u.containers() {
		if r := u.rt(t, "delete", "--force", id); r.Code != 0 {
			t.Errorf("cleanup: delete --force %s as %s: %s", id, u.name, r)
		}
	}
	for _, id := range u.containers() {
		t.Errorf("leak: state dir %s", u.stateDir(id))
	}
	var pids []int
	waitFor(5*time.Second, func() bool {
		pids = u.processes()
		return len(pids) == 0
	})
	for _, pid := range pids {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		t.Errorf("leak: process %d of %s (%s)", pid, u.name, strings.ReplaceAll(string(cmdline), "\x00", " "))
		unix.Kill(pid, unix.SIGKILL)
	}
	waitFor(5*time.Second, func() bool { return len(u.processes()) == 0 })
	if out, err := retryLocked("userdel", u.name); err != nil {
		t.Errorf("cleanup: userdel %s: %v\n%s", u.name, err, out)
	}
	for _, f := range []string{"/etc/passwd", "/etc/group", "/etc/shadow", "/etc/subuid", "/etc/subgid"} {
		if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), u.name+":") {
			t.Errorf("leak: %s still has %s", f, u.name)
		}
	}
	if u.xdg != "" {
		os.RemoveAll(u.xdg)
		if fileExists(u.xdg) {
			t.Errorf("leak: %s", u.xdg)
		}
	}
}

// containers lists the container dirs in the user's state root.
func (u *rootlessUser) containers() []string {
	entries, _ := os.ReadDir(u.stateRoot())
	var ids []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			ids = append(ids, e.Name())
		}
	}
	return ids
}

// processes lists the live processes running as the user or as one of
// its subordinate uids.
func (u *rootlessUser) processes() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !pidAlive(pid) {
			continue
		}
		if uid, ok := procUID(pid); ok && (uid == u.uid || u.subCount > 0 && uid >= u.subuid && uid < u.subuid+u.subCount) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// procUID is the real uid of pid from /proc/PID/status.
func procUID(pid int) (int, bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Uid:"); ok {
			if fs := strings.Fields(rest); len(fs) > 0 {
				uid, err := strconv.Atoi(fs[0])
				return uid, err == nil
			}
		}
	}
	return 0, false
}

// idScript prints the uid inside and the uid and gid maps.
var idScript = []string{"/bin/sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/gid_map"}

// wantOwnIDs checks idScript's output: root inside, only the caller's
// uid and gid outside.
func wantOwnIDs(t *testing.T, u *rootlessUser, out string) {
	t.Helper()
	l := lines(out)
	want := []string{"0", fmt.Sprintf("0 %d 1", u.uid), fmt.Sprintf("0 %d 1", u.gid)}
	if len(l) != 3 || l[0] != want[0] || strings.Join(strings.Fields(l[1]), " ") != want[1] ||
		strings.Join(strings.Fields(l[2]), " ") != want[2] {
		t.Errorf("inside the container: %q, want the lines %q", out, want)
	}
}

// TestRootlessRunIsRootInsideOnlyTheCallerOutside runs a container from
// `spec --rootless` as an unprivileged user: uid 0 inside, mapped to the
// caller's uid and gid alone; run removes its state again.
func TestRootlessRunIsRootInsideOnlyTheCallerOutside(t *testing.T) {
	u := newRootlessUser(t)
	bundle := u.bundle(t, idScript)
	id := newID(t)
	r := u.rt(t, "run", "--bundle", bundle, id).ok(t)
	wantOwnIDs(t, u, r.Stdout)
	if fileExists(u.stateDir(id)) {
		t.Errorf("run left its state dir %s", u.stateDir(id))
	}
}

// TestRootlessDetachedLifecycle: create, start, exec, kill and delete as
// the user, with the state in $XDG_RUNTIME_DIR/berth (0700 and sticky,
// as runc makes its own) and the init running as the user on the host.
func TestRootlessDetachedLifecycle(t *testing.T) {
	u := newRootlessUser(t)
	bundle := u.bundle(t, []string{"/bin/probe", "sleep"})
	id := newID(t)
	u.rt(t, "create", "--bundle", bundle, id).ok(t)
	if fi, err := os.Stat(u.stateRoot()); err != nil || fi.Mode()&(os.ModePerm|os.ModeSticky) != 0o700|os.ModeSticky {
		t.Errorf("state root %s: %v %v, want drwx-----T", u.stateRoot(), fi.Mode(), err)
	}
	if !fileExists(filepath.Join(u.stateDir(id), "state.json")) {
		t.Fatalf("no state in %s", u.stateDir(id))
	}
	var st containerState
	json.Unmarshal([]byte(u.rt(t, "state", id).ok(t).Stdout), &st)
	if st.Status != "created" || st.Pid <= 0 {
		t.Fatalf("state after create: %+v", st)
	}
	if uid, _ := procUID(st.Pid); uid != u.uid {
		t.Errorf("the init runs as host uid %d, want the caller's %d", uid, u.uid)
	}
	u.rt(t, "start", id).ok(t)
	if out := u.rt(t, "list", "-q").ok(t).Stdout; !contains(lines(out), id) {
		t.Errorf("list does not show %s: %q", id, out)
	}
	wantOwnIDs(t, u, u.rt(t, append([]string{"exec", id}, idScript...)...).ok(t).Stdout)
	u.rt(t, "exec", "--additional-gids", "5", id, "true").failed(t, "cannot set any additional groups in a rootless container")
	u.rt(t, "kill", id, "KILL").ok(t)
	if !waitFor(5*time.Second, func() bool { return !pidAlive(st.Pid) }) {
		t.Fatalf("init %d still alive after kill", st.Pid)
	}
	u.rt(t, "delete", id).ok(t)
	if fileExists(u.stateDir(id)) {
		t.Errorf("delete left %s", u.stateDir(id))
	}
}

// TestRootlessKillAllWithoutCgroupSignalsTheInit: with no cgroup to list
// the processes in, kill --all and delete -f of a running container still
// end it (its init, and with it the private pid namespace).
func TestRootlessKillAllWithoutCgroupSignalsTheInit(t *testing.T) {
	u := newRootlessUser(t)
	id := newID(t)
	u.rt(t, "run", "-d", "--bundle", u.bundle(t, []string{"/bin/probe", "sleep"}), id).ok(t)
	var st containerState
	json.Unmarshal([]byte(u.rt(t, "state", id).ok(t).Stdout), &st)
	u.rt(t, "kill", "--all", id, "KILL").ok(t)
	if !waitFor(5*time.Second, func() bool { return !pidAlive(st.Pid) }) {
		t.Fatalf("init %d still alive after kill --all", st.Pid)
	}
	u.rt(t, "delete", id).ok(t)
	id2 := newID(t)
	u.rt(t, "run", "-d", "--bundle", u.bundle(t, []string{"/bin/probe", "sleep"}), id2).ok(t)
	u.rt(t, "delete", "--force", id2).ok(t)
	if fileExists(u.stateDir(id2)) {
		t.Errorf("delete --force left %s", u.stateDir(id2))
	}
}

// TestRootlessWithoutXDGRuntimeDirFails: a user without XDG_RUNTIME_DIR
// gets one line saying so (runc: "mkdir /run/runc: permission denied"),
// and nothing is made; spec needs no state root and still works.
func TestRootlessWithoutXDGRuntimeDirFails(t *testing.T) {
	u := newRootlessUser(t)
	bundle := u.bundle(t, idScript)
	before, _ := os.ReadDir("/run/berth")
	for _, args := range [][]string{{"run", "--bundle", bundle, newID(t)}, {"list"}} {
		r := u.rtWith(t, rtOpts{Env: u.env(false, "")}, args...).failed(t, "XDG_RUNTIME_DIR")
		if n := len(lines(r.Stderr)); n != 1 {
			t.Errorf("%s: %d lines of error, want one: %q", args[0], n, r.Stderr)
		}
	}
	if after, _ := os.ReadDir("/run/berth"); len(after) != len(before) {
		t.Errorf("/run/berth changed: %d entries, was %d", len(after), len(before))
	}
	dir := newDir(t, "spec")
	os.Chown(dir, u.uid, u.gid)
	u.rtWith(t, rtOpts{Env: u.env(false, ""), Dir: dir}, "spec", "--rootless").ok(t)
}

// TestRootlessLimitsWithoutDelegationFail: runc 1.1's rule, a limit the
// container cannot have without a cgroup fails create, and the error
// names the field and the missing delegation; nothing is left.
func TestRootlessLimitsWithoutDelegationFail(t *testing.T) {
	u := newRootlessUser(t)
	limit := int64(64 << 20)
	bundle := u.bundle(t, idScript, func(s *specs.Spec) {
		s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
	})
	id := newID(t)
	want := []string{"memory"}
	if !runtimeIsRunc {
		want = append(want, "linux.resources.memory.limit", "delegation")
	}
	u.rt(t, "run", "--bundle", bundle, id).failed(t, want...)
	if fileExists(u.stateDir(id)) {
		t.Errorf("failed create left %s", u.stateDir(id))
	}
}

// TestRootlessCgroupsPathWithoutDelegationFails: a cgroupsPath the user
// may not create is an error (runc: the permission error), not skipped.
func TestRootlessCgroupsPathWithoutDelegationFails(t *testing.T) {
	u := newRootlessUser(t)
	id := newID(t)
	bundle := u.bundle(t, idScript, func(s *specs.Spec) { s.Linux.CgroupsPath = "/" + id })
	want := []string{"permission denied"}
	if !runtimeIsRunc {
		want = append(want, "cgroupsPath", "delegated")
	}
	u.rt(t, "run", "--bundle", bundle, id).failed(t, want...)
}

// TestRootlessWithoutDelegationRunsWithoutCgroup: without limits the
// container runs in the caller's own cgroups, with a warning (Berth), and
// its /sys/fs/cgroup is read-only (CVE-2023-25809).
func TestRootlessWithoutDelegationRunsWithoutCgroup(t *testing.T) {
	u := newRootlessUser(t)
	id := newID(t)
	bundle := u.bundle(t, []string{"/bin/sh", "-c", "grep ' /sys/fs/cgroup' /proc/self/mounts; " +
		"for f in $(awk '{print $2}' /proc/self/mounts | grep ^/sys/fs/cgroup); do test -e $f && echo exists $f; done; " +
		"mkdir /sys/fs/cgroup/x"})
	r := u.rt(t, "run", "--bundle", bundle, id)
	if !runtimeIsRunc && !strings.Contains(r.Stderr, "no cgroup delegation") {
		t.Errorf("no warning about the missing cgroups: %s", r)
	}
	if !strings.Contains(r.Stderr, "Read-only file system") {
		t.Errorf("mkdir /sys/fs/cgroup/x did not fail with EROFS: %s", r)
	}
	// The last mount at each point that exists is the one seen (runc's
	// test_ro_cgroup_mount): the rbind of /sys brings the host's cgroup
	// mounts along, under the runtime's.
	top, seen := map[string]string{}, map[string]bool{}
	for _, m := range lines(r.Stdout) {
		if mp, ok := strings.CutPrefix(m, "exists "); ok {
			seen[mp] = true
		} else if f := strings.Fields(m); len(f) >= 4 {
			top[f[1]] = f[3]
		}
	}
	if len(seen) == 0 {
		t.Errorf("no /sys/fs/cgroup mount: %s", r)
	}
	for mp := range seen {
		if !hasOption(top[mp], "ro") {
			t.Errorf("writable cgroup mount %s (%s) in a rootless container", mp, top[mp])
		}
	}
	if dirs := cgroupDirsMatching([]string{id}); len(dirs) > 0 {
		t.Errorf("cgroups made for %s: %v", id, dirs)
	}
}

// TestRootlessSysfsFallsBackToReadOnlyBind: a sysfs mount (runc spec's,
// not spec --rootless's rbind) in a user namespace without a network
// namespace of its own becomes a read-only bind of the host's /sys, which
// --debug says. runc 1.1 refuses it: the kernel does.
func TestRootlessSysfsFallsBackToReadOnlyBind(t *testing.T) {
	u := newRootlessUser(t)
	bundle := u.bundle(t, []string{"/bin/sh", "-c", "grep ' /sys ' /proc/self/mounts; touch /sys/kernel/x"}, func(s *specs.Spec) {
		for i, m := range s.Mounts {
			if m.Destination == "/sys" {
				s.Mounts[i] = specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}}
			}
		}
	})
	r := u.rtWith(t, rtOpts{Global: []string{"--debug"}}, "run", "--bundle", bundle, newID(t))
	if !strings.Contains(r.Stderr, "Read-only file system") {
		t.Errorf("touch under /sys did not fail with EROFS: %s", r)
	}
	l := lines(r.Stdout)
	if len(l) == 0 || !strings.HasPrefix(l[0], "sysfs /sys sysfs ") || !hasOption(strings.Fields(l[0])[3], "ro") {
		t.Errorf("no read-only sysfs on /sys: %s", r)
	}
	if !runtimeIsRunc && !strings.Contains(r.Stderr, "the host's /sys is bound there instead") {
		t.Errorf("--debug does not say /sys is bound: %s", r)
	}
}

// TestRootlessSubordinateIDsWithoutNewuidmapFail: a map wider than the
// caller's own ids needs newuidmap; without it (not on $PATH) create
// fails naming it and /etc/subuid.
func TestRootlessSubordinateIDsWithoutNewuidmapFail(t *testing.T) {
	u := newRootlessUser(t)
	if u.subCount == 0 {
		t.Skip("useradd gave the user no /etc/subuid range")
	}
	bundle := u.bundle(t, idScript, u.withSubIDs)
	id := newID(t)
	want := []string{"newuidmap"}
	if !runtimeIsRunc {
		want = append(want, "/etc/subuid")
	}
	u.rtWith(t, rtOpts{Env: u.env(true, newDir(t, "nopath"))}, "run", "--bundle", bundle, id).failed(t, want...)
	if fileExists(u.stateDir(id)) {
		t.Errorf("failed create left %s", u.stateDir(id))
	}
}

// TestRootlessSubordinateIDsWithNewuidmap: with newuidmap and the user's
// /etc/subuid range the container has 65537 ids (root is the caller, the
// rest subordinate), and a file chowned to one of them inside belongs to
// the matching subordinate uid.
func TestRootlessSubordinateIDsWithNewuidmap(t *testing.T) {
	if _, err := exec.LookPath("newuidmap"); err != nil {
		t.Skip("newuidmap (uidmap) is not installed")
	}
	u := newRootlessUser(t)
	if u.subCount == 0 {
		t.Skip("useradd gave the user no /etc/subuid range")
	}
	bundle := u.bundle(t, []string{"/bin/sh", "-c", "id -u; cat /proc/self/uid_map; touch /tmp/f; chown 1000:1000 /tmp/f; stat -c '%u %g' /tmp/f; sleep 100"},
		u.withSubIDs, withMount(specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=1777"}}),
		func(s *specs.Spec) {
			c := s.Process.Capabilities
			c.Bounding, c.Effective, c.Permitted = append(c.Bounding, "CAP_CHOWN"), append(c.Effective, "CAP_CHOWN"), append(c.Permitted, "CAP_CHOWN")
		})
	id := newID(t)
	cr := u.rt(t, "create", "--bundle", bundle, id).ok(t)
	var st containerState
	json.Unmarshal([]byte(u.rt(t, "state", id).ok(t).Stdout), &st)
	u.rt(t, "start", id).ok(t)
	out := waitOutput(t, cr.StdoutPath, "1000 1000", 10*time.Second)
	l := lines(out)
	wantMap := []string{fmt.Sprintf("0 %d 1", u.uid), fmt.Sprintf("1 %d %d", u.subuid, u.subCount)}
	if len(l) < 4 || l[0] != "0" || strings.Join(strings.Fields(l[1]), " ") != wantMap[0] ||
		strings.Join(strings.Fields(l[2]), " ") != wantMap[1] {
		t.Errorf("inside: %q, want uid 0 and the maps %q", out, wantMap)
	}
	if uid, _ := procUID(st.Pid); uid != u.uid {
		t.Errorf("the init runs as host uid %d, want the caller's %d", uid, u.uid)
	}
	u.rt(t, "delete", "--force", id).ok(t)
}

// withSubIDs maps root to the caller and 1..subCount to its subordinate
// ranges, as podman does.
func (u *rootlessUser) withSubIDs(s *specs.Spec) {
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(u.uid), Size: 1},
		{ContainerID: 1, HostID: uint32(u.subuid), Size: uint32(u.subCount)}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(u.gid), Size: 1},
		{ContainerID: 1, HostID: uint32(u.subgid), Size: uint32(u.subCount)}}
}

// TestUserNamespaceSysfsWithoutNetNSAsRoot: the same sysfs fallback for
// root's container with a user namespace and the host's network
// namespace (the kernel refuses that sysfs whoever asks; runc 1.1 fails).
func TestUserNamespaceSysfsWithoutNetNSAsRoot(t *testing.T) {
	r := runContainer(t, joinUserNSMappings, withoutNamespace(specs.NetworkNamespace),
		withArgs("/bin/sh", "-c", "grep ' /sys ' /proc/self/mounts; touch /sys/kernel/x"))
	if !strings.Contains(r.Stderr, "Read-only file system") {
		t.Errorf("touch under /sys did not fail with EROFS: %s", r)
	}
	if l := lines(r.Stdout); len(l) == 0 || !strings.HasPrefix(l[0], "sysfs /sys sysfs ") || !hasOption(strings.Fields(l[0])[3], "ro") {
		t.Errorf("no read-only sysfs on /sys: %s", r)
	}
}
