package integration

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// probeFdTargets parses `probe fds` output into fd number -> target.
func probeFdTargets(out string) map[string]string {
	m := map[string]string{}
	for _, l := range lines(out) {
		if n, target, ok := strings.Cut(l, " -> "); ok {
			m[n] = target
		}
	}
	return m
}

// openExtraFiles creates n files named extra-0.. in a new directory, open for
// writing, closed at the end of the test.
func openExtraFiles(t *testing.T, n int) ([]*os.File, []string) {
	t.Helper()
	dir := newDir(t, "fd")
	var files []*os.File
	var paths []string
	for i := 0; i < n; i++ {
		p := filepath.Join(dir, fmt.Sprintf("extra-%d", i))
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		files = append(files, f)
		paths = append(paths, p)
	}
	return files, paths
}

// checkProbeFds checks that `probe fds` output shows exactly 0, 1, 2 and then
// the given targets at 3, 4, ...
func checkProbeFds(t *testing.T, out string, want []string) {
	t.Helper()
	nums := fdNumbers(out)
	wantNums := []string{"0", "1", "2"}
	for i := range want {
		wantNums = append(wantNums, fmt.Sprint(3+i))
	}
	if strings.Join(nums, ",") != strings.Join(wantNums, ",") {
		t.Errorf("open fds:\n%s\nwant exactly %v", out, wantNums)
		return
	}
	targets := probeFdTargets(out)
	for i, w := range want {
		if got := targets[fmt.Sprint(3+i)]; got != w {
			t.Errorf("fd %d -> %q, want %q", 3+i, got, w)
		}
	}
}

// TestPreserveFdsTwoFiles checks --preserve-fds 2: the runtime's fds 3 and
// 4 reach the container at the same numbers, and fd 5, which the runtime
// also has, does not.
func TestPreserveFdsTwoFiles(t *testing.T) {
	t.Run("run", func(t *testing.T) {
		files, paths := openExtraFiles(t, 3)
		bundle := newBundle(t, withProbe("fds"))
		r := rtWith(t, rtOpts{ExtraFiles: files}, "run", "--preserve-fds", "2", "--bundle", bundle, newID(t)).ok(t)
		checkProbeFds(t, r.Stdout, paths[:2])
	})
	t.Run("create+start", func(t *testing.T) {
		files, paths := openExtraFiles(t, 3)
		bundle := newBundle(t, withProbe("fds"))
		id := newID(t)
		cr := rtWith(t, rtOpts{ExtraFiles: files}, "create", "--preserve-fds", "2", "--bundle", bundle, id).ok(t)
		rt(t, "start", id).ok(t)
		waitStatus(t, id, "stopped", 10*time.Second)
		checkProbeFds(t, cr.readStdout(t), paths[:2])
	})
	t.Run("missing-fd-fails", func(t *testing.T) {
		// fd 3 and 4 are not open in the runtime.
		bundle := newBundle(t, withProbe("fds"))
		id := newID(t)
		rt(t, "run", "--preserve-fds", "2", "--bundle", bundle, id).failed(t)
		assertCreateLeftNothing(t, id)
	})
}

// rtViaShell runs the runtime (with --root) through `sh -c 'ENV exec
// runtime "$@"'`, so that $$ in envAssign is the runtime's own pid, with
// files as the shell's fds 3, 4, .... It returns stdout, stderr and the exit
// code.
func rtViaShell(t *testing.T, envAssign string, files []*os.File, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTimeout)
	defer cancel()
	full := append([]string{"--root", stateRoot(t)}, args...)
	cmd := exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", envAssign + ` exec "$0" "$@"`, berthBin}, full...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.ExtraFiles = files
	cmd.Dir = workDir
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	r := result{Args: cmd.Args, Stdout: stdout.String(), Stderr: stderr.String()}
	if ctx.Err() != nil {
		t.Fatalf("runtime timed out: %s", r)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestListenFdsSocketActivation checks systemd socket activation: with
// LISTEN_PID set to the runtime's pid, its LISTEN_FDS fds (from 3) reach
// the container first, with LISTEN_FDS=N and LISTEN_PID=1 in its env, and
// the --preserve-fds ones follow them. With another LISTEN_PID nothing is
// passed.
func TestListenFdsSocketActivation(t *testing.T) {
	const script = "probe env; exec probe fds"
	t.Run("listen-fds-then-preserved", func(t *testing.T) {
		files, paths := openExtraFiles(t, 3)
		bundle := newBundle(t, withArgs("/bin/sh", "-c", script))
		r := rtViaShell(t, "LISTEN_PID=$$ LISTEN_FDS=2", files, "run", "--preserve-fds", "1", "--bundle", bundle, newID(t)).ok(t)
		env, fds, _ := strings.Cut(r.Stdout, "0 -> ")
		for _, want := range []string{"LISTEN_FDS=2", "LISTEN_PID=1"} {
			if !contains(lines(env), want) {
				t.Errorf("container env lacks %s:\n%s", want, env)
			}
		}
		checkProbeFds(t, "0 -> "+fds, paths)
	})
	t.Run("other-pid-ignored", func(t *testing.T) {
		files, _ := openExtraFiles(t, 1)
		bundle := newBundle(t, withArgs("/bin/sh", "-c", script))
		r := rtViaShell(t, "LISTEN_PID=1 LISTEN_FDS=1", files, "run", "--bundle", bundle, newID(t)).ok(t)
		env, fds, _ := strings.Cut(r.Stdout, "0 -> ")
		if strings.Contains(env, "LISTEN_") {
			t.Errorf("container env has LISTEN_* though LISTEN_PID was not the runtime's:\n%s", env)
		}
		checkProbeFds(t, "0 -> "+fds, nil)
	})
}

// TestNotifySocketStartWaitsForReady checks the sd_notify proxy: with
// NOTIFY_SOCKET=<dir>/host.sock the container gets NOTIFY_SOCKET=
// <dir>/notify.sock (its own socket, in a directory where host.sock is not
// visible), and start returns only after the container sent READY=1 there,
// having sent "READY=1\nMAINPID=<init pid>" to host.sock.
func TestNotifySocketStartWaitsForReady(t *testing.T) {
	dir := filepath.Join(hostDir(t, nil), "n")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	hostSock := filepath.Join(dir, "host.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: hostSock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const delay = 0.5
	bundle := newBundle(t, withArgs("/bin/sh", "-c", fmt.Sprintf(
		`echo "NS=$NOTIFY_SOCKET"; sleep %v; probe notify-ready; ls "$(dirname "$NOTIFY_SOCKET")"; exec probe sleep`, delay)))
	// runc reads NOTIFY_SOCKET at create and at start; Berth at create.
	t.Setenv("NOTIFY_SOCKET", hostSock)
	id := newID(t)
	cr := rt(t, "create", "--bundle", bundle, id).ok(t)
	pid := getState(t, id).Pid
	begin := time.Now()
	rt(t, "start", id).ok(t)
	took := time.Since(begin)
	if took < time.Duration(delay*0.8*float64(time.Second)) {
		t.Errorf("start returned after %v, before the container's READY=1 (sent after %vs)", took, delay)
	}
	// The message must be there already when start returns.
	conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no message on the host socket when start returned: %v", err)
	}
	msg := string(buf[:n])
	fields := lines(msg)
	if !contains(fields, "READY=1") || !contains(fields, fmt.Sprintf("MAINPID=%d", pid)) {
		t.Errorf("host socket got %q, want READY=1 and MAINPID=%d", msg, pid)
	}
	// The probe prints "ok" (or "error: ...") after its send, which may
	// come a moment after start has returned.
	var out string
	waitFor(5*time.Second, func() bool {
		b, _ := os.ReadFile(cr.StdoutPath)
		out = string(b)
		return contains(lines(out), "ok") || strings.Contains(out, "error:")
	})
	ls := lines(out)
	if want := "NS=" + filepath.Join(dir, "notify.sock"); len(ls) == 0 || ls[0] != want {
		t.Errorf("container NOTIFY_SOCKET line %q, want %q", ls, want)
	}
	if !contains(ls, "ok") {
		t.Errorf("probe notify-ready failed in the container: %q", out)
	}
	if strings.Contains(out, "host.sock") {
		t.Errorf("the container sees the host socket in its NOTIFY_SOCKET directory: %q", out)
	}
}
