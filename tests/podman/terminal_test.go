package podmantest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRunTerminal: run -t gives the container a pty (its output comes back
// with \r\n) even when podman's own stdin is not a terminal.
func TestRunTerminal(t *testing.T) {
	t.Parallel()
	r, _ := run(t, []string{"--rm", "-t"}, "sh", "-c", "tty; test -t 0 && test -t 1 && echo both-ttys")
	if r.Code != 0 || !strings.HasPrefix(r.Out, "/dev/pts/") || !strings.HasSuffix(r.Out, "\r\nboth-ttys\r\n") {
		t.Errorf("got %s; want a pty", r)
	}
}

// TestRunInteractiveTerminal drives `podman run -it` from a real terminal
// (a pty this test opens, of 33 rows and 101 columns): the container's
// shell gets a pty of the same size, reads what is typed and its exit code
// is podman's.
func TestRunInteractiveTerminal(t *testing.T) {
	t.Parallel()
	master, slave, err := openPty()
	if err != nil {
		t.Fatalf("open a pty: %v", err)
	}
	defer master.Close()
	if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 101}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n := name(t)
	cid := filepath.Join(tmp, "cids", n+".cid")
	cmd := exec.CommandContext(ctx, podmanBin, append(append([]string{}, globalArgs...),
		"run", "-it", "--rm", "--name", n, "--cidfile", cid, image, "sh")...)
	cmd.Env = append(os.Environ(), podmanEnv...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	t.Cleanup(func() { removeContainer(t, n) })

	var mu sync.Mutex
	var out bytes.Buffer
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 4096)
		for {
			k, err := master.Read(buf)
			mu.Lock()
			out.Write(buf[:k])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	output := func() string { mu.Lock(); defer mu.Unlock(); return out.String() }
	waitFor := func(s string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(output(), s) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q from podman run -it; got %q", s, output())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("# ") // the shell's prompt
	// The arithmetic is done by the shell, so the marker only appears in the
	// output, not in the echo of what was typed.
	if _, err := master.Write([]byte("tty; stty size; echo marker-$((6*7)); exit 4\r")); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	select {
	case <-readDone:
	case <-time.After(5 * time.Second): // something else holds the pty open
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 4 {
		t.Errorf("podman run -it: %v, want exit 4; output %q", err, output())
	}
	got := output()
	for _, want := range []string{"\r\n/dev/pts/0\r\n", "\r\n33 101\r\n", "\r\nmarker-42\r\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q: %q", want, got)
		}
	}
	if id := inspectIDOfRemoved(t, n); id != "" {
		t.Errorf("run -it --rm left container %s", id)
	}
	b, _ := os.ReadFile(cid)
	id := strings.TrimSpace(string(b))
	assertRanByRuntime(t, id)
	if !shim.Called("create", "--console-socket", id) {
		t.Errorf("no create of %s with --console-socket in the shim log", id)
	}
}

// inspectIDOfRemoved returns the ID of container n if it still exists.
func inspectIDOfRemoved(t *testing.T, n string) string {
	t.Helper()
	r := podman(t, "container", "exists", n)
	if r.Code == 0 {
		return podmanOK(t, "inspect", "--format", "{{.Id}}", n)
	}
	return ""
}

// openPty opens a new pty pair and returns its master and its slave.
func openPty() (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, slave, nil
}
