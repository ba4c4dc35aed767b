package integration

// The CVE regression suite: one black-box attack per advisory class of
// ../shared/notes/users-and-cves.md, named after the advisory (make
// security-test runs them: go test -run 'CVE|Attack' ./tests/integration).
// Each test says the attack, what must hold afterwards, and whether Debian's
// runc 1.1.5 (BERTH_BIN=/usr/sbin/runc) fails it. docs/security.md has the
// table. TestCVE_2019_5736InitBinaryCannotBeOverwritten is in
// safety_test.go.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestCVE_2019_19921ProcSymlinkRefused is the symlinked-/proc attack
// (CVE-2019-19921, its regression CVE-2023-27561, youki CVE-2025-54867): a
// rootfs whose /proc (or /sys) is a symlink to somewhere else, so that
// procfs, and the masks and read-only remounts made on it, land elsewhere.
// Create must fail with an error naming the path, and nothing may be
// mounted where the link points. runc 1.1.5 refuses /proc too ("must be
// mounted on ordinary directory"); it accepts a /sys symlink.
func TestCVE_2019_19921ProcSymlinkRefused(t *testing.T) {
	for _, dir := range []string{"proc", "sys"} {
		t.Run(dir, func(t *testing.T) {
			bundle := newBundle(t, withArgs("/bin/true"))
			rootfs := rootfsOf(bundle)
			elsewhere := filepath.Join(rootfs, "elsewhere")
			if err := os.Mkdir(elsewhere, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(filepath.Join(rootfs, dir)); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("/elsewhere", filepath.Join(rootfs, dir)); err != nil {
				t.Fatal(err)
			}
			id := newID(t)
			r := rt(t, "create", "--bundle", bundle, id)
			if r.Code == 0 {
				rt(t, "delete", "-f", id)
				t.Fatalf("create with /%s a symlink succeeded; want it refused", dir)
			}
			if !strings.Contains(r.Stderr, "/"+dir) {
				t.Errorf("the error does not name /%s: %s", dir, r)
			}
			if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
				t.Errorf("something was mounted where /%s points: %v", dir, entries)
			}
			assertCreateLeftNothing(t, id)
		})
	}
}

// TestAttackSysctlNameWalksOutOfProcSys: a config whose sysctl name climbs
// out of /proc/sys ("net.x/../../../../<host file>") to make the runtime
// write a host file. Berth refuses the name when it loads the bundle (and
// writes sysctls only through a private procfs handle); the host file must
// be unchanged.
// runc 1.1.5 writes sysctls after pivot_root, inside the container, so the
// host file is safe there too (its create fails on the missing file).
func TestAttackSysctlNameWalksOutOfProcSys(t *testing.T) {
	canary := filepath.Join(newDir(t, "canary"), "host-file")
	if err := os.WriteFile(canary, []byte("original"), 0o644); err != nil {
		t.Fatal(err)
	}
	key := "net.ipv4" + strings.Repeat("/..", 6) + canary
	bundle := newBundle(t, withArgs("/bin/true"), func(s *specs.Spec) {
		s.Linux.Sysctl = map[string]string{key: "pwned"}
	})
	id := newID(t)
	r := rt(t, "create", "--bundle", bundle, id)
	if r.Code == 0 {
		rt(t, "delete", "-f", id)
	}
	if b, _ := os.ReadFile(canary); string(b) != "original" {
		t.Fatalf("the host file %s now holds %q: a sysctl write left /proc/sys", canary, b)
	}
	if !runtimeIsRunc && (r.Code == 0 || !strings.Contains(r.Stderr, "invalid sysctl name")) {
		t.Errorf("create with sysctl %q: want it refused as not a valid name; %s", key, r)
	}
	assertCreateLeftNothing(t, id)
}

// TestCVE_2022_29162ExecCapNotInheritable (also crun CVE-2022-27650, youki
// CVE-2025-27612): `exec --cap` gave the process inheritable capabilities,
// with which a file-capability binary run by a non-root user could gain
// them. CapInh must be all zeros for an exec'd process with --cap, and
// `spec` must write no inheritable set. runc 1.1.5 passes (fixed in 1.1.2).
func TestCVE_2022_29162ExecCapNotInheritable(t *testing.T) {
	id, _ := execRunning(t, withProbe("sleep"))
	out := rt(t, "exec", "--cap", "CAP_NET_ADMIN", "-u", "1000", id, "/bin/probe", "caps").ok(t).Stdout
	inh := ""
	for _, l := range lines(out) {
		if strings.HasPrefix(l, "CapInh:") {
			inh = strings.TrimSpace(strings.TrimPrefix(l, "CapInh:"))
		}
	}
	if inh != "0000000000000000" {
		t.Errorf("exec --cap CAP_NET_ADMIN: CapInh %q, want 0000000000000000\n%s", inh, out)
	}
	dir := newDir(t, "spec")
	rtWith(t, rtOpts{Dir: dir}, "spec").ok(t)
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "inheritable") {
		t.Errorf("spec writes an inheritable capability set")
	}
}

// TestCVE_2016_3697NumericUserIsAUid: a numeric user was looked up as a
// *name* in /etc/passwd, so an image with a user called "1234" with uid 0
// ran `-u 1234` as root. Also crun CVE-2026-30892 (`exec -u 1` ran as 0).
// The id must be the number given. runc 1.1.5 passes.
func TestCVE_2016_3697NumericUserIsAUid(t *testing.T) {
	id, _ := execRunning(t, withProbe("sleep"))
	for _, u := range []string{"1234", "1"} {
		out := rt(t, "exec", "-u", u, id, "/bin/probe", "ids").ok(t).Stdout
		if ids := parseExecIDs(t, out); strconv.Itoa(ids.UID) != u || ids.EUID != ids.UID {
			t.Errorf("exec -u %s runs as %+v, want uid %s", u, ids, u)
		}
	}
}

// TestCVE_2021_43784HugeConfigValues: runc's Go-to-C bootstrap message had
// a 16-bit length field; a value over 64 KiB (namespace path, hostname,
// annotation) could smuggle attributes that turned namespaces off. A
// 70 KB value must make create fail cleanly, or the container must still
// have all its namespaces. runc 1.1.5 passes.
func TestCVE_2021_43784HugeConfigValues(t *testing.T) {
	big := strings.Repeat("a", 70*1024)
	host := hostNamespaces(t)
	for name, mod := range map[string]func(*specs.Spec){
		"annotation": func(s *specs.Spec) { s.Annotations = map[string]string{"x": big} },
		"hostname":   func(s *specs.Spec) { s.Hostname = big },
		"ns-path": func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UTSNamespace, Path: "/" + big})
		},
	} {
		t.Run(name, func(t *testing.T) {
			bundle := newBundle(t, withProbe("ns"), mod)
			r := rt(t, "run", "--bundle", bundle, newID(t))
			if r.Code != 0 {
				return // refused: fine, if it left nothing (the leak check)
			}
			var ns map[string]string
			if err := json.Unmarshal([]byte(r.Stdout), &ns); err != nil {
				t.Fatalf("probe ns: %v\n%s", err, r)
			}
			for _, n := range []string{"pid", "net", "ipc", "mnt"} {
				if ns[n] == "" || ns[n] == host[n] {
					t.Errorf("with a 70 KB %s the container's %s namespace is the host's", name, n)
				}
			}
		})
	}
}

// TestCVE_2024_21626CwdThroughLeakedFd ("Leaky Vessels"): a runtime fd of
// the host (there: /sys/fs/cgroup) reached the container, and
// process.cwd=/proc/self/fd/N (or exec --cwd) started the process on the
// host's filesystem. For every N in 3..20, run and exec with that cwd
// must fail or leave the process's cwd inside the rootfs. runc 1.1.5 passes
// (fixed in 1.1.12).
func TestCVE_2024_21626CwdThroughLeakedFd(t *testing.T) {
	id, pid := execRunning(t, withProbe("sleep"))
	root := fmt.Sprintf("/proc/%d/root", pid)
	for n := 3; n <= 20; n++ {
		cwd := fmt.Sprintf("/proc/self/fd/%d", n)
		r := rt(t, "exec", "--cwd", cwd, id, "/bin/probe", "cwd")
		if r.Code == 0 && !strings.HasPrefix(strings.TrimSpace(r.Stdout), "/") {
			t.Errorf("exec --cwd %s: the process's cwd %q is not a path inside the rootfs", cwd, r.Stdout)
		}
		if r.Code == 0 {
			// cwd is printed as the process sees it: it must exist in
			// the container's root too.
			if _, err := os.Stat(filepath.Join(root, strings.TrimSpace(r.Stdout))); err != nil {
				t.Errorf("exec --cwd %s: cwd %q is not in the container's root", cwd, r.Stdout)
			}
		}
	}
	for _, n := range []int{3, 4, 5, 6, 7, 8} {
		cwd := fmt.Sprintf("/proc/self/fd/%d", n)
		r := runContainer(t, withProbe("cwd"), func(s *specs.Spec) { s.Process.Cwd = cwd })
		if r.Code == 0 && strings.Contains(r.Stdout, "cgroup") {
			t.Errorf("run with cwd %s started in %q", cwd, r.Stdout)
		}
	}
}

// TestCVE_2025_31133DevNullSymlinkNotUsedForMasking: maskedPaths files are
// masked by bind-mounting /dev/null; with the container's /dev shared (a
// bind mount, as with a volume or another container's /dev) and its null
// replaced by a symlink to /proc/sys/kernel/core_pattern, runc bound that
// file read-write over the masked path, a way to the host's core_pattern.
// Berth masks with the host's /dev/null, verified as char 1:3 on an fd.
// The masked file (/proc/timer_list or another that has content) must
// read empty (not core_pattern's content);
// nothing is written. runc 1.1.5 FAILS this test (fixed in 1.2.8).
func TestCVE_2025_31133DevNullSymlinkNotUsedForMasking(t *testing.T) {
	pattern, err := os.ReadFile("/proc/sys/kernel/core_pattern")
	if err != nil {
		t.Fatal(err)
	}
	shared := hostDir(t, nil)
	if err := os.Symlink("/proc/sys/kernel/core_pattern", filepath.Join(shared, "null")); err != nil {
		t.Fatal(err)
	}
	masked := firstNonEmpty("/proc/timer_list", "/proc/keys", "/proc/sched_debug", "/proc/kcore")
	if masked == "" {
		t.Skip("no maskable /proc file has content on this host")
	}
	r := runContainer(t, withArgs("/bin/probe", "read", masked), func(s *specs.Spec) {
		var ms []specs.Mount
		for _, m := range s.Mounts {
			if m.Destination != "/dev" && !strings.HasPrefix(m.Destination, "/dev/") {
				ms = append(ms, m)
			}
		}
		s.Mounts = append(ms, specs.Mount{Destination: "/dev", Type: "bind", Source: shared, Options: []string{"rbind", "rw"}})
		s.Linux.MaskedPaths = []string{masked}
	})
	if strings.TrimSpace(r.Stdout) == strings.TrimSpace(string(pattern)) {
		t.Fatalf("masked %s reads %q, the host's core_pattern: it was masked with the planted /dev/null symlink", masked, r.Stdout)
	}
	if r.Code == 0 && r.Stdout != "" {
		t.Errorf("masked %s is not empty: %q", masked, r.Stdout)
	}
	t.Logf("run: %s", r)
}

// TestCVE_2026_41579DevSymlinkOutOfRootfs (also crun CVE-2026-47766): an
// image whose /dev is a symlink out of the rootfs made runc create the
// /dev links (and device nodes) in a host directory. The host directory
// must get no entries.
func TestCVE_2026_41579DevSymlinkOutOfRootfs(t *testing.T) {
	canary := hostDir(t, nil)
	bundle := newBundle(t, withArgs("/bin/true"))
	rootfs := rootfsOf(bundle)
	if err := os.RemoveAll(filepath.Join(rootfs, "dev")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(strings.Repeat("../", 12)+strings.TrimPrefix(canary, "/"), filepath.Join(rootfs, "dev")); err != nil {
		t.Fatal(err)
	}
	rt(t, "run", "--bundle", bundle, newID(t))
	if entries, _ := os.ReadDir(canary); len(entries) != 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("the host directory the image's /dev points at got %v", names)
	}
}

// TestCVE_2023_25809CgroupfsReadOnly: /sys/fs/cgroup was left writable
// (rootless runc without a cgroup namespace), so a container could write
// the host's cgroups. In the default config every cgroup mount inside is
// read-only and mkdir there fails. runc 1.1.5 passes.
func TestCVE_2023_25809CgroupfsReadOnly(t *testing.T) {
	out := runOK(t, withArgs("/bin/sh", "-c", "probe mkdir /sys/fs/cgroup/bt-escape; grep ' /sys/fs/cgroup' /proc/self/mountinfo"))
	ls := lines(out)
	if len(ls) < 2 || ls[0] == "ok" {
		t.Errorf("mkdir under /sys/fs/cgroup: %q, want it refused", out)
	}
	for _, l := range ls[1:] {
		// "... - FSTYPE SOURCE SUPEROPTS": every cgroup file system is
		// mounted read-only (v1's tmpfs holding them is the container's).
		_, after, _ := strings.Cut(l, " - ")
		f := strings.Fields(l)
		if strings.HasPrefix(after, "cgroup") && len(f) > 5 && !hasOption(f[5], "ro") {
			t.Errorf("cgroup mount is not read-only: %s", l)
		}
	}
}

// TestCVE_2019_16884NoUnconfinedStart: a volume over /proc with fake
// attr files made runc's LSM label write land in a plain file, so the
// container ran unconfined. Berth applies no LSM label on this host: a
// config asking for one (AppArmor, SELinux process label) must fail to
// create, never start unconfined. runc 1.1.5 passes (it refuses AppArmor
// where it is not enabled).
func TestCVE_2019_16884NoUnconfinedStart(t *testing.T) {
	if fileExists("/sys/kernel/security/apparmor") || fileExists("/sys/fs/selinux/enforce") {
		t.Skip("this host has an LSM: the label is applied, not refused")
	}
	for name, mod := range map[string]func(*specs.Spec){
		"apparmor": func(s *specs.Spec) { s.Process.ApparmorProfile = "bt-profile" },
		"selinux":  func(s *specs.Spec) { s.Process.SelinuxLabel = "system_u:system_r:container_t:s0" },
	} {
		t.Run(name, func(t *testing.T) {
			bundle := newBundle(t, withArgs("/bin/true"), mod, withMount(specs.Mount{
				Destination: "/proc/self/attr", Type: "tmpfs", Source: "tmpfs"}))
			id := newID(t)
			if r := rt(t, "create", "--bundle", bundle, id); r.Code == 0 {
				rt(t, "delete", "-f", id)
				t.Fatalf("create with a %s label on a host without it succeeded", name)
			}
			assertCreateLeftNothing(t, id)
		})
	}
}

// raceVolume is a host directory shared with the container (bound at
// /vol) whose "a" is swapped, as fast as the kernel allows, between a real
// directory and a symlink to victim (renameat2 RENAME_EXCHANGE), until stop
// is called: another container with the same volume could do this.
func raceVolume(t *testing.T, victim string) (vol string, stop func()) {
	t.Helper()
	vol = hostDir(t, nil)
	if err := os.MkdirAll(filepath.Join(vol, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(vol, "b")); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		a, b := filepath.Join(vol, "a"), filepath.Join(vol, "b")
		for {
			select {
			case <-done:
				return
			default:
			}
			unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
		}
	}()
	return vol, func() { close(done); <-finished }
}

// TestCVE_2021_30465And2024_45310RacingVolume: mount destinations (and the
// directories made for them) inside a shared volume whose component a
// racing process swaps with a symlink to a host directory. CVE-2021-30465:
// runc bind-mounted over a host path (there, the host's /); CVE-2024-45310:
// runc's MkdirAll made directories on the host. After bounded attempts the
// host directory must be empty and have nothing mounted on it. runc 1.1.5
// is vulnerable to CVE-2024-45310 (fixed in 1.1.14), but a bounded race
// may not catch it on a given run.
func TestCVE_2021_30465And2024_45310RacingVolume(t *testing.T) {
	victim := hostDir(t, nil)
	vol, stop := raceVolume(t, victim)
	defer stop()
	const attempts = 30
	for i := 0; i < attempts; i++ {
		bundle := newBundle(t, withArgs("/bin/true"), withMount(
			specs.Mount{Destination: "/vol", Type: "bind", Source: vol, Options: []string{"rbind"}},
			specs.Mount{Destination: "/vol/a/x/y", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}},
			specs.Mount{Destination: "/vol/a/z", Type: "bind", Source: hostDir(t, nil), Options: []string{"bind"}},
		))
		rt(t, "run", "--bundle", bundle, newID(t))
		if entries, _ := os.ReadDir(victim); len(entries) != 0 {
			t.Fatalf("attempt %d: the host directory behind the racing symlink got %d entries", i, len(entries))
		}
		if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), " "+victim+" ") || strings.Contains(string(mi), " "+victim+"/") {
			t.Fatalf("attempt %d: something is mounted on the host directory %s", i, victim)
		}
	}
}
