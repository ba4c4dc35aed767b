package integration

// Tests for process.terminal: the --console-socket protocol (runc's: one
// message whose data is the master's name and whose only ancillary data is
// one SCM_RIGHTS fd, the pty master), the pty inside the container (its own
// devpts, /dev/console for the init only, consoleSize, controlling tty), the
// foreground proxy of `run` and `exec -t` (raw mode, SIGWINCH, termios
// restored, exit code passed through) and runc's errors for the invalid
// combinations of terminal, detach and console socket.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// runc's error texts.
const (
	errTTYDetachNoSocket = "cannot allocate tty if runc will detach without setting console socket"
	errSocketNoTTY       = "cannot use console socket if runc will not detach or allocate tty"
)

// withTerminal sets process.terminal, and process.consoleSize when size is
// not nil.
func withTerminal(size *specs.Box) func(*specs.Spec) {
	return func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.ConsoleSize = size
	}
}

// ttyListen listens on a unix stream socket in a fresh short directory and
// returns the listener and its path.
func ttyListen(t *testing.T) (*net.UnixListener, string) {
	t.Helper()
	path := filepath.Join(newDir(t, "cs"), "c.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, path
}

// ttyRecvMaster accepts one connection on ln and reads the console message
// the way runc's consumers do (a 4096-byte buffer, room for exactly one
// fd). It fails the test unless the message is exactly one SCM_RIGHTS
// control message carrying exactly one fd that is a pty master. It returns
// the master (non-blocking, closed at the end of the test), its pty number
// (TIOCGPTN) and the connection, for checking that nothing else follows.
func ttyRecvMaster(t *testing.T, ln *net.UnixListener) (*os.File, uint32, *net.UnixConn) {
	t.Helper()
	if err := ln.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	conn, err := ln.AcceptUnix()
	if err != nil {
		t.Fatalf("no connection on the console socket: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	fd, name := recvOneFd(t, conn, "console message")
	ptn, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		unix.Close(fd)
		t.Fatalf("console message: the fd is not a pty master: TIOCGPTN: %v", err)
	}
	// Non-blocking, so that the poller can interrupt a pending read when
	// the file is closed.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		t.Fatalf("console message: set non-blocking: %v", err)
	}
	master := os.NewFile(uintptr(fd), name)
	t.Cleanup(func() { master.Close() })
	t.Logf("console message: name %q, pty number %d", name, ptn)
	return master, ptn, conn
}

// recvOneFd reads one message from conn the way runc's consumers do (a
// 4096-byte buffer, room for exactly one fd) and fails the test, closing
// whatever fds arrived, unless it is exactly one SCM_RIGHTS control message
// carrying exactly one fd, with a non-empty name as its data. what names the
// message in failures.
func recvOneFd(t *testing.T, conn *net.UnixConn, what string) (int, string) {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, flags, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Fatalf("reading the %s: %v", what, err)
	}
	msgs, perr := unix.ParseSocketControlMessage(oob[:oobn])
	var fds []int
	for i := range msgs {
		if msgs[i].Header.Level == unix.SOL_SOCKET && msgs[i].Header.Type == unix.SCM_RIGHTS {
			if got, err := unix.ParseUnixRights(&msgs[i]); err == nil {
				fds = append(fds, got...)
			}
		}
	}
	bad := func(format string, args ...any) {
		t.Helper()
		for _, fd := range fds {
			unix.Close(fd)
		}
		t.Fatalf(what+": "+format+" (data %q, %d oob bytes, flags %#x)", append(args, buf[:n], oobn, flags)...)
	}
	switch {
	case perr != nil:
		bad("parsing control messages: %v", perr)
	case flags&unix.MSG_CTRUNC != 0:
		bad("control data truncated: more than one fd or control message")
	case len(msgs) != 1:
		bad("%d control messages, want exactly 1", len(msgs))
	case msgs[0].Header.Level != unix.SOL_SOCKET || msgs[0].Header.Type != unix.SCM_RIGHTS:
		bad("control message level %d type %d, want SCM_RIGHTS", msgs[0].Header.Level, msgs[0].Header.Type)
	case len(fds) != 1:
		bad("%d fds, want exactly 1", len(fds))
	case n == 0:
		bad("empty data, want a name")
	case n >= len(buf):
		bad("name fills the 4096-byte buffer")
	}
	return fds[0], string(buf[:n])
}

// ttyExpectEOF checks that the console connection carries nothing after the
// master and has been closed by the runtime.
func ttyExpectEOF(t *testing.T, conn *net.UnixConn) {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4*8))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if oobn > 0 {
		if msgs, perr := unix.ParseSocketControlMessage(oob[:oobn]); perr == nil {
			for i := range msgs {
				if fds, err := unix.ParseUnixRights(&msgs[i]); err == nil {
					for _, fd := range fds {
						unix.Close(fd)
					}
				}
			}
		}
	}
	switch {
	case n > 0 || oobn > 0:
		t.Errorf("console socket: a second message followed the master: data %q, %d oob bytes", buf[:n], oobn)
	case err == nil || errors.Is(err, io.EOF):
		// EOF: the runtime and the container closed their ends.
	default:
		t.Errorf("console socket not closed by the runtime after the process ended: %v", err)
	}
}

// ttyOutput collects everything read from a pty master in the background.
type ttyOutput struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	err  error
	done chan struct{}
}

func readTTY(f *os.File) *ttyOutput {
	o := &ttyOutput{done: make(chan struct{})}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := f.Read(b)
			o.mu.Lock()
			o.buf.Write(b[:max(n, 0)])
			if err != nil {
				o.err = err
			}
			o.mu.Unlock()
			if err != nil {
				close(o.done)
				return
			}
		}
	}()
	return o
}

// text is the output so far with the pty's \r removed.
func (o *ttyOutput) text() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.ReplaceAll(o.buf.String(), "\r", "")
}

// waitMatch waits until every pattern (multi-line mode) matches the output.
func (o *ttyOutput) waitMatch(t *testing.T, timeout time.Duration, patterns ...string) string {
	t.Helper()
	res := make([]*regexp.Regexp, len(patterns))
	for i, p := range patterns {
		res[i] = regexp.MustCompile("(?m)" + p)
	}
	var text string
	ok := waitFor(timeout, func() bool {
		text = o.text()
		for _, re := range res {
			if !re.MatchString(text) {
				return false
			}
		}
		return true
	})
	if !ok {
		for _, re := range res {
			if !re.MatchString(text) {
				t.Errorf("terminal output does not match %s", re)
			}
		}
		t.Fatalf("terminal output after %v:\n%s", timeout, text)
	}
	return text
}

// waitEnd waits until reading the master fails and returns that error: EIO
// once every fd of the peer is closed (how Linux reports a hung-up pty).
func (o *ttyOutput) waitEnd(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-o.done:
	case <-time.After(timeout):
		t.Fatalf("the pty master still reads (the peer is still open) after %v; output:\n%s", timeout, o.text())
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

// wantHangup checks that the output ended with EIO, the peer's last close.
func (o *ttyOutput) wantHangup(t *testing.T, timeout time.Duration) {
	t.Helper()
	if err := o.waitEnd(t, timeout); !errors.Is(err, unix.EIO) {
		t.Errorf("reading the master ended with %v, want EIO (peer closed)", err)
	}
}

// ttyWrite writes s to the master.
func ttyWrite(t *testing.T, master *os.File, s string) {
	t.Helper()
	if _, err := master.WriteString(s); err != nil {
		t.Fatalf("writing to the pty master: %v", err)
	}
}

// consoleMountCount counts the mounts on /dev/console in pid's mount
// namespace.
func consoleMountCount(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range parseMountinfo(string(b)) {
		if m.MountPoint == "/dev/console" {
			n++
		}
	}
	return n
}

// TestTerminalConsoleSocketCreateStart drives an interactive shell as the
// container's init through the master received on --console-socket: the
// message follows runc's protocol, the pty is the container's own
// /dev/pts/0, /dev/console is that pty (char 136:0), and once the shell
// exits the master hangs up and the container is stopped and deletable.
func TestTerminalConsoleSocketCreateStart(t *testing.T) {
	bundle := newBundle(t, withArgs("/bin/sh"), withTerminal(nil))
	id := newID(t)
	ln, sock := ttyListen(t)

	create := rtStart(t, rtOpts{}, "create", "--console-socket", sock, "--bundle", bundle, id)
	master, ptn, conn := ttyRecvMaster(t, ln)
	create.wait(t).ok(t)
	if ptn != 0 {
		t.Errorf("master is pty %d, want 0 (the container's own devpts numbers from 0)", ptn)
	}
	if st := getState(t, id); st.Status != "created" {
		t.Fatalf("state after create is %q, want created", st.Status)
	}
	out := readTTY(master)
	rt(t, "start", id).ok(t)

	// /dev/tty works only with a controlling terminal; what is written
	// to /dev/console must come out of this master.
	ttyWrite(t, master, "echo $((6*7)); tty; ls -l /dev/console; echo ctty-ok >/dev/tty; echo via-console >/dev/console; exit 5\n")
	text := out.waitMatch(t, 15*time.Second,
		`^42$`,
		`^/dev/pts/0$`,
		`^c[-rwxsStT]{9}\s+\d+\s+\S+\s+\S+\s+136,\s+0\s.*/dev/console$`,
		`^ctty-ok$`,
		`^via-console$`)
	t.Logf("terminal output:\n%s", text)

	out.wantHangup(t, 15*time.Second)
	ttyExpectEOF(t, conn)
	st := waitStatus(t, id, "stopped", 10*time.Second)
	if pidAlive(st.Pid) {
		t.Errorf("init %d still alive with state stopped", st.Pid)
	}
	rt(t, "delete", id).ok(t)
	if r := rt(t, "state", id); r.Code == 0 {
		t.Errorf("state succeeds after delete: %s", r)
	}
}

// TestTerminalConsoleSizeRunDetached checks process.consoleSize with
// `run -d --console-socket`: the init's terminal has the size before the
// process starts.
func TestTerminalConsoleSizeRunDetached(t *testing.T) {
	bundle := newBundle(t, withArgs("/bin/sh", "-c", "probe winsize; tty"),
		withTerminal(&specs.Box{Height: 30, Width: 100}))
	id := newID(t)
	ln, sock := ttyListen(t)

	run := rtStart(t, rtOpts{}, "run", "-d", "--console-socket", sock, "--bundle", bundle, id)
	master, _, conn := ttyRecvMaster(t, ln)
	out := readTTY(master)
	run.wait(t).ok(t)

	out.waitMatch(t, 15*time.Second, `^30 100$`, `^/dev/pts/0$`)
	out.wantHangup(t, 15*time.Second)
	ttyExpectEOF(t, conn)
	waitStatus(t, id, "stopped", 10*time.Second)
	rt(t, "delete", id).ok(t)
}

// TestTerminalExecConsoleSocket execs terminal processes into a running
// container that has no terminal itself, with `exec -d -t --console-socket`
// and with a process.json (terminal, consoleSize): each gets its own pty in
// the container's devpts as its controlling tty, resizes through the master
// reach it, and /dev/console is left alone (no mount, same node as before).
func TestTerminalExecConsoleSocket(t *testing.T) {
	id, initPid := execRunning(t)
	root := stateRoot(t)
	consoleBefore := strings.TrimSpace(rt(t, "exec", id, "probe", "stat", "/dev/console").ok(t).Stdout)
	if n := consoleMountCount(t, initPid); n != 0 {
		t.Fatalf("container without terminal has %d mounts on /dev/console", n)
	}

	t.Run("tty-flag", func(t *testing.T) {
		ln, sock := ttyListen(t)
		pidFile := filepath.Join(newDir(t, "xp"), "exec.pid")
		x := rtStart(t, rtOpts{NoRoot: true, Global: []string{"--root", root}},
			"exec", "-d", "-t", "--console-socket", sock, "--pid-file", pidFile, id, "/bin/sh")
		master, ptn, conn := ttyRecvMaster(t, ln)
		x.wait(t).ok(t)
		if ptn != 0 {
			t.Errorf("exec's master is pty %d, want 0 (first pty of the container's devpts)", ptn)
		}
		pid := readPidFile(t, pidFile)
		if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 25, Col: 90}); err != nil {
			t.Fatal(err)
		}
		out := readTTY(master)
		ttyWrite(t, master, "probe winsize-wait 25 90; tty; echo ctty-ok >/dev/tty; probe stat /dev/console; exit 3\n")
		out.waitMatch(t, 15*time.Second, `^25 90$`, `^/dev/pts/0$`, `^ctty-ok$`, "^"+regexp.QuoteMeta(consoleBefore)+"$")
		out.wantHangup(t, 15*time.Second)
		ttyExpectEOF(t, conn)
		if !waitFor(5*time.Second, func() bool { return !pidAlive(pid) }) {
			t.Errorf("exec'd shell %d still alive after exit", pid)
		}
	})

	t.Run("process-json", func(t *testing.T) {
		ln, sock := ttyListen(t)
		dir := newDir(t, "xp")
		proc := specs.Process{
			Terminal:    true,
			ConsoleSize: &specs.Box{Height: 20, Width: 70},
			Args:        []string{"/bin/sh", "-c", "probe winsize; tty; probe stat /dev/console"},
			Env:         []string{"PATH=/bin"},
			Cwd:         "/",
		}
		b, err := json.Marshal(proc)
		if err != nil {
			t.Fatal(err)
		}
		procFile := filepath.Join(dir, "process.json")
		if err := os.WriteFile(procFile, b, 0o644); err != nil {
			t.Fatal(err)
		}
		x := rtStart(t, rtOpts{NoRoot: true, Global: []string{"--root", root}},
			"exec", "-d", "--console-socket", sock, "-p", procFile, "--pid-file", filepath.Join(dir, "exec.pid"), id)
		master, _, conn := ttyRecvMaster(t, ln)
		out := readTTY(master)
		x.wait(t).ok(t)
		out.waitMatch(t, 15*time.Second, `^20 70$`, `^/dev/pts/\d+$`, "^"+regexp.QuoteMeta(consoleBefore)+"$")
		out.wantHangup(t, 15*time.Second)
		ttyExpectEOF(t, conn)
	})

	if n := consoleMountCount(t, initPid); n != 0 {
		t.Errorf("exec with a terminal left %d mounts on /dev/console", n)
	}
	if after := strings.TrimSpace(rt(t, "exec", id, "probe", "stat", "/dev/console").ok(t).Stdout); after != consoleBefore {
		t.Errorf("/dev/console changed by exec -t: before %q, after %q", consoleBefore, after)
	}
}

// readPidFile reads a decimal pid file.
func readPidFile(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		t.Fatalf("pid file content %q is not a pid", b)
	}
	return pid
}

// testPty is a pty the test owns, to run the runtime on as a user's
// terminal would.
type testPty struct {
	master, peer *os.File
}

// openTestPty opens /dev/ptmx, unlocks it, opens the peer and sets the
// window size.
func openTestPty(t *testing.T, rows, cols uint16) testPty {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetUint32(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	if err := unix.IoctlSetWinsize(int(peer.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatal(err)
	}
	return testPty{master: master, peer: peer}
}

func (p testPty) termios(t *testing.T) *unix.Termios {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(p.peer.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio
}

// runOnPty runs the runtime (with --root) with the pty's peer as its
// stdin, stdout, stderr and controlling terminal, in its own session, as a
// shell would for a foreground job. It returns a channel that receives the
// exit code.
func runOnPty(t *testing.T, p testPty, args ...string) <-chan int {
	t.Helper()
	cmd := exec.Command(berthBin, append([]string{"--root", stateRoot(t)}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = p.peer, p.peer, p.peer
	cmd.Dir = workDir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	codes := make(chan int, 1)
	exited := make(chan struct{})
	go func() {
		err := cmd.Wait()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
		} else if err != nil {
			code = -1
		}
		close(exited)
		codes <- code
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	return codes
}

// checkForegroundTTY runs args (a foreground `run` or `exec -t` whose
// process is shScript below) on a 40x120 test pty and checks the proxy:
// the container sees the host terminal's size and its own /dev/pts/0, the
// host terminal is raw while the runtime runs, a resize of the host
// terminal reaches the container (SIGWINCH), input is relayed, the
// container's exit code is the runtime's and the host termios is restored.
func checkForegroundTTY(t *testing.T, wantCode int, args ...string) {
	t.Helper()
	p := openTestPty(t, 40, 120)
	before := p.termios(t)
	if before.Lflag&unix.ICANON == 0 || before.Lflag&unix.ECHO == 0 {
		t.Fatalf("fresh pty is not in cooked mode: lflag %#x", before.Lflag)
	}
	out := readTTY(p.master)
	codes := runOnPty(t, p, args...)

	out.waitMatch(t, 20*time.Second, `^40 120$`, `^/dev/pts/0$`, `^ctty-ok$`)
	during := p.termios(t)
	if during.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 || during.Iflag&unix.ICRNL != 0 {
		t.Errorf("host terminal not in raw mode while the runtime proxies it: iflag %#x lflag %#x", during.Iflag, during.Lflag)
	}

	// Resize the host terminal (the kernel sends SIGWINCH to the
	// runtime, its foreground process group), then release the
	// container's `read`.
	if err := unix.IoctlSetWinsize(int(p.master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 50, Col: 132}); err != nil {
		t.Fatal(err)
	}
	ttyWrite(t, p.master, "go\r")

	var code int
	select {
	case code = <-codes:
	case <-time.After(30 * time.Second):
		t.Fatalf("runtime still running after 30s; terminal output:\n%s", out.text())
	}
	// The runtime's last output may still be in the host pty when its exit
	// status arrives: give the reader a moment to drain it.
	var text string
	waitFor(5*time.Second, func() bool {
		text = out.text()
		return regexp.MustCompile(`(?m)^50 132$`).MatchString(text) && strings.Contains(text, "got go")
	})
	if !regexp.MustCompile(`(?m)^50 132$`).MatchString(text) {
		t.Errorf("resizing the host terminal did not reach the container (want a line \"50 132\")")
	}
	if !strings.Contains(text, "got go") {
		t.Errorf("input typed on the host terminal did not reach the container (want \"got go\")")
	}
	if code != wantCode {
		t.Errorf("runtime exited %d, want the container's %d", code, wantCode)
	}
	after := p.termios(t)
	if after.Iflag != before.Iflag || after.Oflag != before.Oflag || after.Cflag != before.Cflag ||
		after.Lflag != before.Lflag || after.Cc != before.Cc {
		t.Errorf("host termios not restored after the runtime exited:\nbefore %+v\nafter  %+v", *before, *after)
	}
	if t.Failed() {
		t.Logf("terminal output:\n%s", text)
	}
}

// shScript is the terminal process of the foreground tests; exit code N.
func shScript(n int) string {
	return fmt.Sprintf("probe winsize; tty; echo ctty-ok >/dev/tty; read x; echo got $x; probe winsize-wait 50 132; exit %d", n)
}

// TestTerminalForegroundRun runs `run` with terminal:true and no console
// socket on a terminal: the runtime proxies the pty itself.
func TestTerminalForegroundRun(t *testing.T) {
	bundle := newBundle(t, withArgs("/bin/sh", "-c", shScript(7)), withTerminal(nil))
	id := newID(t)
	checkForegroundTTY(t, 7, "run", "--bundle", bundle, id)
	if r := rt(t, "state", id); r.Code == 0 {
		t.Errorf("container still exists after foreground run: %s", r)
	}
}

// TestTerminalForegroundExec runs `exec -t` without a console socket on a
// terminal, into a container without a terminal.
func TestTerminalForegroundExec(t *testing.T) {
	id, initPid := execRunning(t)
	checkForegroundTTY(t, 9, "exec", "-t", id, "/bin/sh", "-c", shScript(9))
	if n := consoleMountCount(t, initPid); n != 0 {
		t.Errorf("exec -t left %d mounts on /dev/console", n)
	}
	if st := getState(t, id); st.Status != "running" {
		t.Errorf("container is %q after exec -t, want running", st.Status)
	}
}

// TestTerminalErrors checks runc's rules for terminal, detach and console
// socket, and a console socket that cannot be reached: each fails with a
// clear error before anything is created and connects to no socket.
func TestTerminalErrors(t *testing.T) {
	// noConnection checks that nobody connected to ln.
	noConnection := func(t *testing.T, ln *net.UnixListener) {
		t.Helper()
		_ = ln.SetDeadline(time.Now().Add(300 * time.Millisecond))
		if c, err := ln.Accept(); err == nil {
			c.Close()
			t.Errorf("the runtime connected to the console socket although it failed")
		}
	}

	t.Run("create-terminal-without-socket", func(t *testing.T) {
		bundle := newBundle(t, withTerminal(nil))
		id := newID(t)
		r := rt(t, "create", "--bundle", bundle, id).failed(t, errTTYDetachNoSocket)
		if r.Code != 1 {
			t.Errorf("exit code %d, want 1", r.Code)
		}
		assertCreateLeftNothing(t, id)
	})

	t.Run("run-detach-terminal-without-socket", func(t *testing.T) {
		bundle := newBundle(t, withTerminal(nil))
		id := newID(t)
		r := rt(t, "run", "-d", "--bundle", bundle, id).failed(t, errTTYDetachNoSocket)
		if r.Code != 1 {
			t.Errorf("exit code %d, want 1", r.Code)
		}
		assertCreateLeftNothing(t, id)
	})

	t.Run("create-socket-without-terminal", func(t *testing.T) {
		bundle := newBundle(t)
		id := newID(t)
		ln, sock := ttyListen(t)
		r := rt(t, "create", "--console-socket", sock, "--bundle", bundle, id).failed(t, errSocketNoTTY)
		if r.Code != 1 {
			t.Errorf("exit code %d, want 1", r.Code)
		}
		noConnection(t, ln)
		assertCreateLeftNothing(t, id)
	})

	// runc refuses a console socket whenever it does not detach, even
	// with a terminal: the foreground runtime is the terminal's consumer.
	t.Run("run-foreground-with-socket", func(t *testing.T) {
		bundle := newBundle(t, withArgs("/bin/sh", "-c", "exit 0"), withTerminal(nil))
		id := newID(t)
		ln, sock := ttyListen(t)
		r := rt(t, "run", "--console-socket", sock, "--bundle", bundle, id).failed(t, errSocketNoTTY)
		if r.Code != 1 {
			t.Errorf("exit code %d, want 1", r.Code)
		}
		noConnection(t, ln)
		assertCreateLeftNothing(t, id)
	})

	t.Run("exec", func(t *testing.T) {
		id, _ := execRunning(t)
		root := stateRoot(t)
		pids := psJSONPids(t, id)
		for _, c := range []struct {
			name, want string
			args       func(sock string) []string
		}{
			{"detach-tty-without-socket", errTTYDetachNoSocket,
				func(string) []string { return []string{"exec", "-d", "-t", id, "probe", "sleep"} }},
			{"detach-socket-without-tty", errSocketNoTTY,
				func(sock string) []string {
					return []string{"exec", "-d", "--console-socket", sock, id, "probe", "sleep"}
				}},
			// runc: a console socket needs detach even with -t.
			{"foreground-tty-with-socket", errSocketNoTTY,
				func(sock string) []string {
					return []string{"exec", "-t", "--console-socket", sock, id, "probe", "exit", "0"}
				}},
		} {
			t.Run(c.name, func(t *testing.T) {
				ln, sock := ttyListen(t)
				rtIn(t, root, c.args(sock)...).failed(t, c.want)
				noConnection(t, ln)
			})
		}
		if after := psJSONPids(t, id); len(after) != len(pids) {
			t.Errorf("failed execs left processes: before %v, after %v", pids, after)
		}
	})

	t.Run("missing-socket", func(t *testing.T) {
		bundle := newBundle(t, withTerminal(nil))
		id := newID(t)
		missing := filepath.Join(newDir(t, "cs"), "nope.sock")
		rt(t, "create", "--console-socket", missing, "--bundle", bundle, id).
			failed(t, missing, "no such file or directory")
		assertCreateLeftNothing(t, id)
	})

	t.Run("socket-path-not-a-socket", func(t *testing.T) {
		bundle := newBundle(t, withTerminal(nil))
		id := newID(t)
		path := filepath.Join(newDir(t, "cs"), "file")
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		rt(t, "create", "--console-socket", path, "--bundle", bundle, id).failed(t, path, "connection refused")
		assertCreateLeftNothing(t, id)
	})
}
