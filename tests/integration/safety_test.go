package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// fdNumbers returns the fd numbers from `probe fds` output.
func fdNumbers(out string) []string {
	var fds []string
	for _, l := range lines(out) {
		n, _, _ := strings.Cut(l, " ")
		fds = append(fds, n)
	}
	return fds
}

// TestNoRuntimeFdLeaksIntoContainer checks that the container process has
// only stdin, stdout and stderr open.
func TestNoRuntimeFdLeaksIntoContainer(t *testing.T) {
	t.Run("run", func(t *testing.T) {
		out := runOK(t, withProbe("fds"))
		if fds := fdNumbers(out); strings.Join(fds, ",") != "0,1,2" {
			t.Errorf("open fds:\n%s\nwant only 0, 1, 2", out)
		}
	})
	t.Run("create+start", func(t *testing.T) {
		id, cr := createStarted(t, newBundle(t, withProbe("fds")))
		waitStatus(t, id, "stopped", 10*time.Second)
		out := cr.readStdout(t)
		if fds := fdNumbers(out); strings.Join(fds, ",") != "0,1,2" {
			t.Errorf("open fds:\n%s\nwant only 0, 1, 2", out)
		}
	})
}

// TestPreserveFdsPassesExtraFd checks --preserve-fds 1 with one extra fd.
func TestPreserveFdsPassesExtraFd(t *testing.T) {
	extraPath := filepath.Join(newDir(t, "fd"), "extra")
	extra, err := os.Create(extraPath)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	bundle := newBundle(t, withProbe("fds"))
	r := rtWith(t, rtOpts{ExtraFiles: []*os.File{extra}}, "run", "--preserve-fds", "1", "--bundle", bundle, newID(t)).ok(t)
	ls := lines(r.Stdout)
	if strings.Join(fdNumbers(r.Stdout), ",") != "0,1,2,3" {
		t.Fatalf("open fds:\n%s\nwant 0-3", r.Stdout)
	}
	if !strings.HasSuffix(ls[3], " -> "+extraPath) {
		t.Errorf("fd 3 = %q, want it to be %s", ls[3], extraPath)
	}
}

// TestSymlinkMountDestinationStaysInRootfs mounts onto a rootfs symlink
// that points at a host directory by absolute path: the mount must land
// inside the rootfs (or be refused), never on the host directory.
func TestSymlinkMountDestinationStaysInRootfs(t *testing.T) {
	victim := hostDir(t, map[string]string{"marker": "victim"})
	src := hostDir(t, map[string]string{"marker": "source"})
	bundle := newBundle(t,
		withArgs("/bin/sh", "-c", "cat /evil/marker; echo; touch /evil/pwned; echo done"),
		withMount(specs.Mount{Destination: "/evil", Type: "bind", Source: src, Options: []string{"rbind"}}))
	if err := os.Symlink(victim, filepath.Join(rootfsOf(bundle), "evil")); err != nil {
		t.Fatal(err)
	}
	id := newID(t)
	cr := rt(t, "create", "--bundle", bundle, id)
	if cr.Code != 0 {
		t.Logf("create refused the symlinked destination (acceptable): %s", cr)
	} else {
		for _, m := range hostMounts(t) {
			if m.MountPoint == victim || strings.HasPrefix(m.MountPoint, victim+"/") {
				t.Errorf("host mount appeared on the symlink target: %+v", m)
			}
		}
		rt(t, "start", id).ok(t)
		waitStatus(t, id, "stopped", 10*time.Second)
		out := cr.readStdout(t)
		if !strings.Contains(out, "source") || !strings.Contains(out, "done") {
			t.Errorf("mount not reachable through /evil inside the container: %q", out)
		}
		if !fileExists(filepath.Join(src, "pwned")) {
			t.Errorf("write through /evil did not reach the mount source")
		}
	}
	entries, _ := os.ReadDir(victim)
	if len(entries) != 1 || entries[0].Name() != "marker" {
		t.Errorf("host dir %s changed: %v", victim, entries)
	}
	if b, _ := os.ReadFile(filepath.Join(victim, "marker")); string(b) != "victim" {
		t.Errorf("host marker changed: %q", b)
	}
}

// TestCwdSymlinkOutsideRootIsContained sets process.cwd to a rootfs symlink
// that points at a host directory by absolute path: the process must not
// end up in the host directory.
func TestCwdSymlinkOutsideRootIsContained(t *testing.T) {
	victim := hostDir(t, map[string]string{"hostmarker": "host-secret"})
	bundle := newBundle(t,
		withArgs("/bin/sh", "-c", "cat hostmarker; probe write created-here; exit 0"),
		func(s *specs.Spec) { s.Process.Cwd = "/escape" })
	if err := os.Symlink(victim, filepath.Join(rootfsOf(bundle), "escape")); err != nil {
		t.Fatal(err)
	}
	r := rt(t, "run", "--bundle", bundle, newID(t))
	if r.Code != 0 {
		t.Logf("run refused the symlinked cwd (acceptable): %s", r)
	}
	if strings.Contains(r.Stdout, "host-secret") {
		t.Errorf("container read a host file through its cwd: %s", r)
	}
	if fileExists(filepath.Join(victim, "created-here")) {
		t.Errorf("container wrote into the host directory through its cwd")
	}
}

// TestCVE_2019_5736InitBinaryCannotBeOverwritten is the runc /proc/self/exe
// attack: a container process holds an O_PATH fd of /proc/<init>/exe while
// the runtime's init runs, and once the init has exec'd the container's
// program (so the binary is no longer busy) reopens it for writing to
// replace the runtime's binary on the host. The init must run from
// something that cannot be written: a read-only detached mount of the
// binary, or a sealed memfd copy where the kernel lacks mount_setattr
// (berth-floor takes that path). The runtime under attack is a copy, so a
// vulnerable runtime only spoils the copy.
func TestCVE_2019_5736InitBinaryCannotBeOverwritten(t *testing.T) {
	victim, before := runtimeCopy(t, "cve5736")
	o := rtOpts{Bin: victim}
	id := newID(t)
	rtWith(t, o, "create", "--bundle", newBundle(t, withProbe("sleep")), id).ok(t)
	pid := getState(t, id).Pid
	held, err := unix.Open(fmt.Sprintf("/proc/%d/exe", pid), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open the init's exe: %v", err)
	}
	defer unix.Close(held)
	rtWith(t, o, "start", id).ok(t)
	if !waitFor(10*time.Second, func() bool {
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		return strings.HasSuffix(exe, "/bin/probe")
	}) {
		t.Fatal("the init did not exec the container's program")
	}
	writeThroughHeldExe(t, held, victim, before)
	rtWith(t, o, "delete", "-f", id).ok(t)
}

// runtimeCopy is a copy of the runtime under test, to be attacked (a
// vulnerable runtime only spoils the copy), and its bytes.
func runtimeCopy(t *testing.T, dir string) (string, []byte) {
	t.Helper()
	victim := filepath.Join(newDir(t, dir), filepath.Base(berthBin))
	if err := copyFile(berthBin, victim, 0o755); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	return victim, before
}

// writeThroughHeldExe is the attack's last step: reopen the held exe of a
// process that has gone (or moved on) for writing, and write. It must
// fail, and victim must still hold before.
func writeThroughHeldExe(t *testing.T, held int, victim string, before []byte) {
	t.Helper()
	w, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", held), os.O_WRONLY, 0)
	if err == nil {
		_, err = w.WriteAt([]byte("PWNED"), 0)
		w.Close()
	}
	if err == nil {
		t.Error("the process's binary was opened and written through the held fd")
	} else {
		t.Logf("writing the process's binary: %v", err)
	}
	after, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatalf("the runtime's binary on the host was changed (CVE-2019-5736)")
	}
}

// TestCVE_2019_5736ExecCannotReachTheRuntimeBinary is the same attack on
// an exec: the runtime forks the exec's process itself, so until that
// process execs it is the runtime's own binary, and a program that is (or
// names as its script interpreter) /proc/self/exe would become the host's
// file, which the container could write through /proc/PID/exe once no
// process runs it. The exec'd /proc/self/exe here is made to block (the
// copy's pre-stage waits for a configuration on stdin), its exe is held,
// it is killed, and writing through the held fd must fail: the process
// must have run a sealed copy or a binary on a read-only mount.
func TestCVE_2019_5736ExecCannotReachTheRuntimeBinary(t *testing.T) {
	victim, before := runtimeCopy(t, "cve5736x")
	o := rtOpts{Bin: victim}
	id := newID(t)
	rtWith(t, o, "run", "-d", "--bundle", newBundle(t, withProbe("sleep")), id).ok(t)
	defer rtWith(t, o, "delete", "-f", id)
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdinW.Close()
	pidFile := filepath.Join(newDir(t, "cve5736x-pid"), "pid")
	o.Stdin = stdinR
	rtWith(t, o, "exec", "-d", "--pid-file", pidFile, "-e", "_BERTH_SYNCFD=0", "-e", "_BERTH_EXECSTAGE=direct",
		id, "/proc/self/exe").ok(t)
	stdinR.Close()
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	held, err := unix.Open(fmt.Sprintf("/proc/%d/exe", pid), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open the exec'd process's exe: %v", err)
	}
	defer unix.Close(held)
	exe, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", held))
	t.Logf("the exec'd /proc/self/exe ran %s", exe)
	unix.Kill(pid, unix.SIGKILL)
	if !waitFor(10*time.Second, func() bool {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		return err != nil || strings.Contains(string(st), ") Z ")
	}) {
		t.Fatal("the exec'd process did not die")
	}
	writeThroughHeldExe(t, held, victim, before)
}
