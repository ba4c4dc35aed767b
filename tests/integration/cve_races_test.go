package integration

// The CVE suite's attacks that need a second actor: a process inside the
// container watching the runtime's exec (CVE-2016-9962), a /dev shared
// with another container holding planted pty links (CVE-2025-52565), a
// racing swap of the rootfs's /proc (the race form of CVE-2019-19921) and
// an overmount that redirects a procfs write (CVE-2025-52881). See
// cve_test.go for the suite and docs/security.md for the table.

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestCVE_2016_9962ExecNotInspectableWhileJoining: the container's PID 1
// (root in the container, no CAP_SYS_PTRACE) watches /proc while
// `exec` joins the container, and tries to open the exe and list the fds
// of every process that still runs a binary from outside the container:
// the runtime setting up the exec, holding the runtime's fds. Once such a
// process is visible in the container's pid namespace it must already be
// non-dumpable, so the watcher must find none. runc 1.1.5 passes (fixed in
// 1.0.0-rc3). A Berth built without its PR_SET_DUMPABLE calls fails this
// test (checked when it was written: the watcher lists the exec's fds).
func TestCVE_2016_9962ExecNotInspectableWhileJoining(t *testing.T) {
	bundle := newBundle(t, withArgs("/bin/probe", "watch-foreign", "/tmp/stop"),
		withMount(specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}}))
	id, cr := createStarted(t, bundle)
	const execs = 40
	for i := 0; i < execs; i++ {
		rt(t, "exec", id, "/bin/true").ok(t)
	}
	// The watcher (PID 1) exits as soon as the file exists, which may kill
	// this exec before it exits itself (137): its status says nothing.
	rt(t, "exec", id, "/bin/probe", "write", "/tmp/stop")
	waitStatus(t, id, "stopped", 20*time.Second)
	out := cr.readStdout(t)
	rt(t, "delete", id).ok(t)
	var scans int
	for _, l := range lines(out) {
		if strings.HasPrefix(l, "foreign ") {
			t.Errorf("the container's init could inspect a process joining it: %s", l)
		}
		if f := strings.Fields(l); len(f) == 4 && f[0] == "scans" {
			scans, _ = strconv.Atoi(f[1])
		}
	}
	if scans == 0 {
		t.Fatalf("the watcher did not report its scans: %q", out)
	}
	t.Logf("watcher: %d scans of /proc during %d execs", scans, execs)
}

// TestCVE_2025_52565ConsoleNotBoundFromPlantedLink: the container's /dev
// is shared (a bind mount of a host directory, as another container or a
// volume can arrange) and holds, where the terminal's devpts would be,
// symlinks: pts/ptmx to a real ptmx (of a devpts instance bound in beside
// it) and pts/0..3 to /decoy, a plain file. runc bound "/dev/pts/N" by path
// onto /dev/console, following such a link, so /dev/console became a file
// the attacker chose (there, writable procfs files). What must hold:
// create refuses, or /dev/console inside is a pty on devpts; the decoy is
// never what /dev/console is, and is unchanged. runc 1.1.5 fails to
// create here too (it opens the planted peer by path for stdio and
// TIOCSCTTY fails), so this test cannot show its bug.
func TestCVE_2025_52565ConsoleNotBoundFromPlantedLink(t *testing.T) {
	devpts := hostDir(t, nil)
	if err := unix.Mount("devpts", devpts, "devpts", 0, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		t.Skipf("cannot mount a devpts instance: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(devpts, unix.MNT_DETACH) })
	shared := hostDir(t, map[string]string{"ptmx-real": ""})
	if err := unix.Mount(filepath.Join(devpts, "ptmx"), filepath.Join(shared, "ptmx-real"), "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(filepath.Join(shared, "ptmx-real"), unix.MNT_DETACH) })
	links := map[string]string{"ptmx": "pts/ptmx", "pts/ptmx": "../ptmx-real"}
	for i := 0; i < 4; i++ {
		links["pts/"+strconv.Itoa(i)] = "/decoy"
	}
	if err := os.Mkdir(filepath.Join(shared, "pts"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(shared, name)); err != nil {
			t.Fatal(err)
		}
	}
	out := hostDir(t, nil)
	bundle := newBundle(t, withArgs("/bin/sh", "-c", "probe stat /dev/console >/out/r"), withTerminal(nil),
		func(s *specs.Spec) {
			var ms []specs.Mount
			for _, m := range s.Mounts {
				if m.Destination != "/dev" && !strings.HasPrefix(m.Destination, "/dev/") {
					ms = append(ms, m)
				}
			}
			s.Mounts = append(ms,
				specs.Mount{Destination: "/dev", Type: "bind", Source: shared, Options: []string{"rbind", "rw"}},
				specs.Mount{Destination: "/out", Type: "bind", Source: out, Options: []string{"bind"}})
		})
	decoy := filepath.Join(rootfsOf(bundle), "decoy")
	if err := os.WriteFile(decoy, []byte("decoy\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, sock := ttyListen(t)
	masters := acceptConsoles(t, ln)
	id := newID(t)
	r := rt(t, "create", "--console-socket", sock, "--bundle", bundle, id)
	if r.Code != 0 {
		t.Logf("create refused: %s", r)
		assertCreateLeftNothing(t, id)
	} else {
		rt(t, "start", id).ok(t)
		waitStatus(t, id, "stopped", 20*time.Second)
		rt(t, "delete", id).ok(t)
		got, _ := os.ReadFile(filepath.Join(out, "r"))
		if !regexp.MustCompile(`^/dev/console char 136:\d+ \d{4}$`).MatchString(strings.TrimSpace(string(got))) {
			t.Errorf("/dev/console inside is %q, want a pty (char 136:N)", got)
		}
	}
	if b, _ := os.ReadFile(decoy); string(b) != "decoy\n" {
		t.Errorf("the decoy changed: %q", b)
	}
	ln.Close()
	if n := <-masters; n > 1 {
		t.Errorf("%d consoles were sent for one container", n)
	}
}

// acceptConsoles accepts console-socket connections on ln until the test
// ends, keeping each received master open meanwhile; the channel gives the
// number of masters received, once the listener closes.
func acceptConsoles(t *testing.T, ln *net.UnixListener) <-chan int {
	count := make(chan int, 1)
	var files []*os.File
	go func() {
		n := 0
		defer func() {
			for _, f := range files {
				f.Close()
			}
			count <- n
		}()
		for {
			c, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			buf, oob := make([]byte, 4096), make([]byte, 4096)
			_, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
			c.Close()
			if err != nil {
				continue
			}
			msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
			for _, m := range msgs {
				fds, _ := unix.ParseUnixRights(&m)
				for _, fd := range fds {
					files = append(files, os.NewFile(uintptr(fd), "master"))
					n++
				}
			}
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return count
}

// TestCVE_2019_19921RacingProcSwap is the race form of the symlinked
// /proc: while the runtime sets up the rootfs, a process swaps the
// rootfs's real /proc directory with a symlink to /elsewhere
// (renameat2 RENAME_EXCHANGE in a loop, as a second container sharing the
// rootfs's directory can), so that procfs lands under one name and the
// masks and the read-only /proc/sys are looked for under the other.
// Each create must either fail with one error line and leave nothing
// behind, or give a container in which every procfs mount, under whatever
// name the race left it, has its masks (/proc/timer_list) and a read-only sys;
// nothing is mounted at /elsewhere. runc 1.1.5 checks /proc by path
// before mounting it and masks by path, a window a bounded race may not
// hit.
func TestCVE_2019_19921RacingProcSwap(t *testing.T) {
	masked := strings.TrimPrefix(firstNonEmpty("/proc/timer_list", "/proc/keys", "/proc/kcore"), "/proc/")
	if masked == "" {
		t.Skip("none of the default masked /proc files exists on this host")
	}
	const attempts = 20
	refused := 0
	for i := 0; i < attempts; i++ {
		bundle := newBundle(t, withArgs("/bin/sh", "-c",
			"probe read /proc/self/mountinfo 2>/dev/null || probe read /proc-evil/self/mountinfo"))
		rootfs := rootfsOf(bundle)
		elsewhere := filepath.Join(rootfs, "elsewhere")
		if err := os.Mkdir(elsewhere, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/elsewhere", filepath.Join(rootfs, "proc-evil")); err != nil {
			t.Fatal(err)
		}
		stop := swapLoop(filepath.Join(rootfs, "proc"), filepath.Join(rootfs, "proc-evil"))
		id := newID(t)
		cr := rt(t, "create", "--bundle", bundle, id)
		stop()
		if cr.Code != 0 {
			refused++
			if n := len(lines(cr.Stderr)); n != 1 {
				t.Errorf("attempt %d: refused with %d error lines: %s", i, n, cr)
			}
			assertCreateLeftNothing(t, id)
			continue
		}
		rt(t, "start", id).ok(t)
		waitStatus(t, id, "stopped", 20*time.Second)
		out := cr.readStdout(t)
		rt(t, "delete", id).ok(t)
		ms := parseMountinfo(out)
		procs := 0
		for _, m := range ms {
			if m.FSType != "proc" || m.Root != "/" {
				continue // not a procfs mount's root (a read-only path's bind)
			}
			procs++
			if _, ok := findMount(ms, m.MountPoint+"/"+masked); !ok {
				t.Errorf("attempt %d: procfs at %s has no mask on %s", i, m.MountPoint, masked)
			}
			if s, ok := findMount(ms, m.MountPoint+"/sys"); !ok || !hasOption(s.Options, "ro") {
				t.Errorf("attempt %d: procfs at %s has a writable sys", i, m.MountPoint)
			}
		}
		if procs == 0 {
			t.Errorf("attempt %d: the container has no procfs: %q", i, out)
		}
		if _, ok := findMount(ms, "/elsewhere"); ok {
			t.Errorf("attempt %d: something is mounted at /elsewhere", i)
		}
		if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
			t.Fatalf("attempt %d: /elsewhere got %d entries", i, len(entries))
		}
	}
	t.Logf("%d of %d creates refused (the swap caught mid-setup), the rest had every procfs masked", refused, attempts)
}

// swapLoop exchanges a and b (renameat2 RENAME_EXCHANGE) as fast as it can
// until the returned stop is called.
func swapLoop(a, b string) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				return
			default:
			}
			unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
		}
	}()
	return func() { close(done); <-finished }
}

// TestCVE_2025_52881SysctlWriteNotRedirected: a mount arranged over a
// procfs file (here a config bind mount of a host file over
// /proc/sys/net/ipv4/ip_forward; in the advisory a shared-mount race did
// it, to send writes to another procfs file) must not receive the
// runtime's procfs write: Berth writes sysctls through a private procfs
// instance that no container mount covers. The host file must be
// unchanged and, if the container ran, its own net namespace's
// ip_forward must be 1 (read through a second, uncovered procfs mount).
// runc 1.1.5 refuses bind mounts inside /proc, so it passes.
func TestCVE_2025_52881SysctlWriteNotRedirected(t *testing.T) {
	decoyDir := hostDir(t, map[string]string{"decoy": "decoy\n"})
	decoy := filepath.Join(decoyDir, "decoy")
	bundle := newBundle(t, withArgs("/bin/probe", "read", "/proc2/sys/net/ipv4/ip_forward"),
		withMount(
			specs.Mount{Destination: "/proc/sys/net/ipv4/ip_forward", Type: "bind", Source: decoy, Options: []string{"bind", "rw"}},
			specs.Mount{Destination: "/proc2", Type: "proc", Source: "proc"}),
		func(s *specs.Spec) {
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
			s.Linux.ReadonlyPaths = nil
		})
	id := newID(t)
	r := rt(t, "run", "--bundle", bundle, id)
	if b, _ := os.ReadFile(decoy); string(b) != "decoy\n" {
		t.Errorf("the sysctl write landed in the file mounted over /proc/sys/net/ipv4/ip_forward: it now holds %q", b)
	}
	if r.Code != 0 {
		t.Logf("run refused: %s", r)
		assertCreateLeftNothing(t, id)
		return
	}
	if strings.TrimSpace(r.Stdout) != "1" {
		t.Errorf("the container's ip_forward is %q, want 1 (the sysctl was not applied)", r.Stdout)
	}
}
