package integration

// Tests for --pidfd-socket (runc 1.2): the runtime connects to the caller's
// listening socket and sends one message whose data is runc's init type
// ("standard" for create/run, "setns" for exec) and whose only ancillary
// data is one SCM_RIGHTS fd, a pidfd of the container's init or of the
// exec'd process. The caller must be able to signal the process through it
// (runc's tests/cmd/pidfd-kill does exactly that). A path that is missing or
// not a listening socket fails the command and leaves nothing behind.

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The payloads runc 1.2 sends with the pidfd.
const (
	pidfdNameInit = "standard"
	pidfdNameExec = "setns"
)

// pidfdRecv accepts one connection on ln and reads the pidfd message the way
// runc's cmsg.RecvFile does (a 4096-byte buffer, room for exactly one fd).
// It fails the test unless the message carries exactly one fd and that fd is
// a pidfd. It returns the pidfd (closed at the end of the test), the pid it
// refers to (the "Pid:" line of its fdinfo) and the message's data.
func pidfdRecv(t *testing.T, ln *net.UnixListener, p *rtProc) (pidfd *os.File, pid int, name string) {
	t.Helper()
	conn := pidfdAccept(t, ln, p)
	defer conn.Close()
	fd, name := recvOneFd(t, conn, "pidfd message")
	pidfd = os.NewFile(uintptr(fd), "pidfd")
	t.Cleanup(func() { pidfd.Close() })
	// Nothing follows the message, and the runtime has closed its end.
	if m, err := conn.Read(make([]byte, 1)); m != 0 || err == nil {
		t.Errorf("pidfd socket: %d more bytes after the message (err %v), want EOF", m, err)
	}
	return pidfd, pidfdPid(t, pidfd), name
}

// pidfdAccept accepts the runtime's connection on ln, failing at once with
// the runtime's output if it exits without having connected.
func pidfdAccept(t *testing.T, ln *net.UnixListener, p *rtProc) *net.UnixConn {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); {
		exited := false
		select {
		case <-p.done:
			exited = true // a connection it made is still queued
		default:
		}
		if err := ln.SetDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		conn, err := ln.AcceptUnix()
		if err == nil {
			return conn
		}
		if exited {
			t.Fatalf("the runtime exited without connecting to the pidfd socket: %s", p.wait(t))
		}
	}
	t.Fatal("no connection on the pidfd socket in 20 s")
	return nil
}

// pidfdPid reads the pid a pidfd refers to from its fdinfo; only pidfds have
// a "Pid:" line there.
func pidfdPid(t *testing.T, f *os.File) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(int(f.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines(string(b)) {
		if v, ok := strings.CutPrefix(l, "Pid:"); ok {
			pid, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatalf("fdinfo Pid line %q: %v", l, err)
			}
			return pid
		}
	}
	t.Fatalf("received fd is not a pidfd: no Pid line in its fdinfo:\n%s", b)
	return 0
}

// pidfdKill sends SIGKILL through the pidfd and waits until the pidfd
// reports the process has exited.
func pidfdKill(t *testing.T, pidfd *os.File) {
	t.Helper()
	if err := unix.PidfdSendSignal(int(pidfd.Fd()), unix.SIGKILL, nil, 0); err != nil {
		t.Fatalf("pidfd_send_signal: %v", err)
	}
	fds := []unix.PollFd{{Fd: int32(pidfd.Fd()), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, 10000); n != 1 || err != nil {
		t.Fatalf("pidfd not readable 10 s after SIGKILL (n %d, err %v)", n, err)
	}
}

// TestPidfdSocketCreate: create sends a pidfd of the waiting init before it
// returns, and killing through it stops the container.
func TestPidfdSocketCreate(t *testing.T) {
	bundle := newBundle(t, withProbe("sleep"))
	id := newID(t)
	ln, sock := ttyListen(t)
	create := rtStart(t, rtOpts{}, "create", "--pidfd-socket", sock, "--bundle", bundle, id)
	pidfd, pid, name := pidfdRecv(t, ln, create)
	create.wait(t).ok(t)
	if name != pidfdNameInit {
		t.Errorf("pidfd message data %q, want runc's %q", name, pidfdNameInit)
	}
	if st := getState(t, id); st.Status != "created" || st.Pid != pid {
		t.Fatalf("pidfd refers to pid %d; state: pid %d, status %s", pid, st.Pid, st.Status)
	}
	pidfdKill(t, pidfd)
	waitStatus(t, id, "stopped", 10*time.Second)
	rt(t, "delete", id).ok(t)
}

// TestPidfdSocketRunDetached: run -d sends a pidfd of the running init.
func TestPidfdSocketRunDetached(t *testing.T) {
	bundle := newBundle(t, withProbe("sleep"))
	id := newID(t)
	ln, sock := ttyListen(t)
	run := rtStart(t, rtOpts{}, "run", "-d", "--pidfd-socket", sock, "--bundle", bundle, id)
	pidfd, pid, name := pidfdRecv(t, ln, run)
	run.wait(t).ok(t)
	if name != pidfdNameInit {
		t.Errorf("pidfd message data %q, want runc's %q", name, pidfdNameInit)
	}
	if st := getState(t, id); st.Status != "running" || st.Pid != pid {
		t.Fatalf("pidfd refers to pid %d; state: pid %d, status %s", pid, st.Pid, st.Status)
	}
	pidfdKill(t, pidfd)
	waitStatus(t, id, "stopped", 10*time.Second)
}

// TestPidfdSocketRunForeground: a foreground run passes the init's pidfd
// on, and ends with the status of the init killed through it.
func TestPidfdSocketRunForeground(t *testing.T) {
	bundle := newBundle(t, withProbe("sleep"))
	id := newID(t)
	ln, sock := ttyListen(t)
	run := rtStart(t, rtOpts{}, "run", "--pidfd-socket", sock, "--bundle", bundle, id)
	pidfd, pid, _ := pidfdRecv(t, ln, run)
	if st := waitStatus(t, id, "running", 10*time.Second); st.Pid != pid {
		t.Fatalf("pidfd refers to pid %d, the init is %d", pid, st.Pid)
	}
	pidfdKill(t, pidfd)
	if r := run.wait(t); r.Code != 128+int(unix.SIGKILL) {
		t.Errorf("run exited %d after its init was killed, want %d: %s", r.Code, 128+int(unix.SIGKILL), r)
	}
}

// TestPidfdSocketExec: exec -d and a foreground exec send a pidfd of the
// exec'd process (not of the init), with runc's "setns" data.
func TestPidfdSocketExec(t *testing.T) {
	id, initPid := execRunning(t)
	root := stateRoot(t)

	t.Run("detached", func(t *testing.T) {
		ln, sock := ttyListen(t)
		pidFile := filepath.Join(newDir(t, "xp"), "exec.pid")
		x := rtStart(t, rtOpts{NoRoot: true, Global: []string{"--root", root}},
			"exec", "-d", "--pidfd-socket", sock, "--pid-file", pidFile, id, "probe", "sleep")
		pidfd, pid, name := pidfdRecv(t, ln, x)
		x.wait(t).ok(t)
		t.Cleanup(func() { unix.Kill(pid, unix.SIGKILL) })
		if name != pidfdNameExec {
			t.Errorf("pidfd message data %q, want runc's %q", name, pidfdNameExec)
		}
		if want := readPidFile(t, pidFile); pid != want {
			t.Fatalf("pidfd refers to pid %d, the exec'd process is %d", pid, want)
		}
		pidfdKill(t, pidfd)
		if !waitFor(5*time.Second, func() bool { return !pidAlive(pid) }) {
			t.Errorf("exec'd process %d alive after a SIGKILL through its pidfd", pid)
		}
	})

	t.Run("foreground", func(t *testing.T) {
		ln, sock := ttyListen(t)
		x := rtStart(t, rtOpts{NoRoot: true, Global: []string{"--root", root}},
			"exec", "--pidfd-socket", sock, id, "probe", "sleep")
		pidfd, pid, name := pidfdRecv(t, ln, x)
		if name != pidfdNameExec {
			t.Errorf("pidfd message data %q, want runc's %q", name, pidfdNameExec)
		}
		inNS, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/pid")
		initNS, _ := os.Readlink("/proc/" + strconv.Itoa(initPid) + "/ns/pid")
		if pid == initPid || inNS == "" || inNS != initNS {
			t.Errorf("pidfd refers to pid %d (pid ns %q), not an exec'd process of the container (init %d, %q)",
				pid, inNS, initPid, initNS)
		}
		pidfdKill(t, pidfd)
		if r := x.wait(t); r.Code != 128+int(unix.SIGKILL) {
			t.Errorf("exec exited %d after its process was killed, want %d: %s", r.Code, 128+int(unix.SIGKILL), r)
		}
	})

	if st := getState(t, id); st.Status != "running" || st.Pid != initPid {
		t.Errorf("container after the execs: pid %d, status %s; want %d running", st.Pid, st.Status, initPid)
	}
}

// TestPidfdSocketErrors: a missing path, a path that is not a socket, and a
// receiver that hangs up before the pidfd is sent each fail the command
// with the path and the reason, and leave no container, no process and no
// exec'd process behind (the leak check covers state, cgroups and mounts).
func TestPidfdSocketErrors(t *testing.T) {
	missing := func(t *testing.T) (string, string) {
		return filepath.Join(newDir(t, "ps"), "nope.sock"), "no such file or directory"
	}
	regular := func(t *testing.T) (string, string) {
		path := filepath.Join(newDir(t, "ps"), "file")
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		return path, "connection refused"
	}
	paths := []struct {
		name string
		make func(t *testing.T) (path, reason string)
	}{{"missing", missing}, {"regular-file", regular}}

	for _, p := range paths {
		for _, cmd := range [][]string{{"create"}, {"run", "-d"}, {"run"}} {
			t.Run(strings.Join(cmd, "")+"-"+p.name, func(t *testing.T) {
				bundle := newBundle(t, withProbe("sleep"))
				id := newID(t)
				path, reason := p.make(t)
				args := append(append([]string{}, cmd...), "--pidfd-socket", path, "--bundle", bundle, id)
				r := rt(t, args...).failed(t, "--pidfd-socket", path, reason)
				if n := len(lines(r.Stderr)); n != 1 {
					t.Errorf("%d lines on stderr, want one: %s", n, r)
				}
				assertCreateLeftNothing(t, id)
			})
		}
	}

	t.Run("exec", func(t *testing.T) {
		id, _ := execRunning(t)
		root := stateRoot(t)
		before := psJSONPids(t, id)
		for _, p := range paths {
			for _, detach := range []bool{true, false} {
				name := p.name
				if detach {
					name = "detached-" + name
				}
				t.Run(name, func(t *testing.T) {
					path, reason := p.make(t)
					args := []string{"exec", "--pidfd-socket", path, id, "probe", "sleep"}
					if detach {
						args = append(args[:1], append([]string{"-d"}, args[1:]...)...)
					}
					r := rtIn(t, root, args...).failed(t, "--pidfd-socket", path, reason)
					if r.Code != 255 {
						t.Errorf("exec exited %d, want 255", r.Code)
					}
				})
			}
		}
		if after := psJSONPids(t, id); len(after) != len(before) {
			t.Errorf("failed execs left processes: before %v, after %v", before, after)
		}
	})

	// The receiver accepts and hangs up while create runs its hooks; the
	// pidfd cannot be delivered, so create fails and removes the container.
	t.Run("receiver-gone", func(t *testing.T) {
		dir := hostDir(t, nil)
		goOn := filepath.Join(dir, "go-on")
		bundle := newBundle(t, withProbe("sleep"), func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c",
				"while [ ! -e " + goOn + " ]; do /bin/sleep 0.01; done"}}}}
		})
		id := newID(t)
		ln, sock := ttyListen(t)
		create := rtStart(t, rtOpts{}, "create", "--pidfd-socket", sock, "--bundle", bundle, id)
		pidfdAccept(t, ln, create).Close()
		if err := os.WriteFile(goOn, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		create.wait(t).failed(t, "--pidfd-socket", "send pidfd")
		assertCreateLeftNothing(t, id)
	})
}
