package console

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func socketPair(t *testing.T) (a, b *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b = os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
	t.Cleanup(func() {
		a.Close()
		b.Close()
	})
	return a, b
}

func TestSendRecvConsole(t *testing.T) {
	master, peer, _ := hostPty(t)
	a, b := socketPair(t)

	if err := SendConsole(a, master); err != nil {
		t.Fatalf("SendConsole: %v", err)
	}
	got, err := RecvConsole(b)
	if err != nil {
		t.Fatalf("RecvConsole: %v", err)
	}
	defer got.Close()
	if got.Name() != master.Name() {
		t.Errorf("name = %q, want %q", got.Name(), master.Name())
	}
	if g, w := ptyNumber(t, got), ptyNumber(t, master); g != w {
		t.Errorf("received pty %d, sent %d", g, w)
	}
	flags, err := unix.FcntlInt(got.Fd(), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("received fd not close-on-exec (flags %d, err %v)", flags, err)
	}
	if _, err := peer.Write([]byte("via socket")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("via socket"))
	if _, err := io.ReadFull(got, buf); err != nil || string(buf) != "via socket" {
		t.Fatalf("read received master: %q, %v", buf, err)
	}
}

// TestSendConsoleRuncWire receives with the exact checks runc's
// utils.RecvFile / recvtty and go-runc apply, to pin the wire format.
func TestSendConsoleRuncWire(t *testing.T) {
	master, _, _ := hostPty(t)
	a, b := socketPair(t)
	if err := SendConsole(a, master); err != nil {
		t.Fatal(err)
	}
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(b.Fd()), name, oob, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n >= 4096 || oobn != unix.CmsgSpace(4) {
		t.Fatalf("n=%d oobn=%d", n, oobn)
	}
	if string(name[:n]) != master.Name() {
		t.Fatalf("payload %q, want %q", name[:n], master.Name())
	}
	scms, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(scms) != 1 {
		t.Fatalf("scms=%d err=%v", len(scms), err)
	}
	fds, err := unix.ParseUnixRights(&scms[0])
	if err != nil || len(fds) != 1 {
		t.Fatalf("fds=%v err=%v", fds, err)
	}
	defer unix.Close(fds[0])
	if _, err := unix.IoctlGetUint32(fds[0], unix.TIOCGPTN); err != nil {
		t.Fatalf("not a pty master: %v", err)
	}
}

func TestSendConsoleUnnamedMaster(t *testing.T) {
	master, _, _ := hostPty(t)
	a, b := socketPair(t)
	dup, err := unix.FcntlInt(master.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	unnamed := os.NewFile(uintptr(dup), "")
	defer unnamed.Close()
	if err := SendConsole(a, unnamed); err != nil {
		t.Fatal(err)
	}
	got, err := RecvConsole(b)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if got.Name() != "/dev/ptmx" {
		t.Fatalf("name = %q", got.Name())
	}
}

func TestRecvConsoleRejects(t *testing.T) {
	requireRoot(t)
	master, _, _ := hostPty(t)
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	mfd, nfd := int(master.Fd()), int(devNull.Fd())

	tests := []struct {
		name string
		send func(fd int) error
		want string
	}{
		{"no fd", func(fd int) error {
			return unix.Sendmsg(fd, []byte("/dev/ptmx"), nil, nil, 0)
		}, "got 0 descriptors"},
		{"two fds in one message", func(fd int) error {
			return unix.Sendmsg(fd, []byte("/dev/ptmx"), unix.UnixRights(mfd, mfd), nil, 0)
		}, "got 2 descriptors"},
		{"two messages", func(fd int) error {
			oob := append(unix.UnixRights(mfd), unix.UnixRights(mfd)...)
			return unix.Sendmsg(fd, []byte("/dev/ptmx"), oob, nil, 0)
		}, "descriptors"},
		{"not a pty", func(fd int) error {
			return unix.Sendmsg(fd, []byte("/dev/null"), unix.UnixRights(nfd), nil, 0)
		}, "not a pty master"},
		{"name too long", func(fd int) error {
			return unix.Sendmsg(fd, []byte(strings.Repeat("x", 5000)), unix.UnixRights(mfd), nil, 0)
		}, "name too long"},
		{"eof", func(fd int) error {
			return unix.Shutdown(fd, unix.SHUT_WR)
		}, io.ErrUnexpectedEOF.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := socketPair(t)
			if err := tt.send(int(a.Fd())); err != nil {
				t.Fatal(err)
			}
			before := openFds(t)
			got, err := RecvConsole(b)
			if err == nil {
				got.Close()
				t.Fatal("RecvConsole accepted a bad message")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not mention %q", err, tt.want)
			}
			if after := openFds(t); after != before {
				t.Fatalf("RecvConsole leaked descriptors: %d open before, %d after", before, after)
			}
		})
	}
}

func openFds(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestDialSocket(t *testing.T) {
	dir := t.TempDir()
	// The second path does not fit in sockaddr_un and must go through
	// /proc/self/fd.
	long := filepath.Join(dir, strings.Repeat("d", 100))
	if err := os.Mkdir(long, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{"short": filepath.Join(dir, "s"), "long": filepath.Join(long, "console.sock")} {
		t.Run(name, func(t *testing.T) {
			ln, err := listenUnix(path)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()

			conn, err := DialSocket(path)
			if err != nil {
				t.Fatalf("DialSocket(%d-byte path): %v", len(path), err)
			}
			defer conn.Close()
			if conn.Name() != path {
				t.Errorf("Name() = %q", conn.Name())
			}
			flags, err := unix.FcntlInt(conn.Fd(), unix.F_GETFD, 0)
			if err != nil || flags&unix.FD_CLOEXEC == 0 {
				t.Errorf("socket not close-on-exec (flags %d, err %v)", flags, err)
			}
			typ, err := unix.GetsockoptInt(int(conn.Fd()), unix.SOL_SOCKET, unix.SO_TYPE)
			if err != nil || typ != unix.SOCK_STREAM {
				t.Errorf("SO_TYPE = %d, %v", typ, err)
			}

			srv, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			if _, err := conn.Write([]byte("hi")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 2)
			if _, err := io.ReadFull(srv, buf); err != nil || string(buf) != "hi" {
				t.Fatalf("server read %q, %v", buf, err)
			}
		})
	}

	if _, err := DialSocket(filepath.Join(dir, "missing")); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("dial missing socket: %v, want ENOENT", err)
	}
}

// listenUnix listens on path, going through a short /proc/self/fd name of
// the directory when path is too long for sockaddr_un.
func listenUnix(path string) (net.Listener, error) {
	if len(path) < 100 {
		return net.Listen("unix", path)
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	return net.Listen("unix", filepath.Join(fdPath(int(dir.Fd())), filepath.Base(path)))
}

// TestConsoleSocketEndToEnd does what runc create does with
// --console-socket: dial the caller's socket, send the master, and lets the
// caller (here a net.UnixConn, as containerd uses) receive it.
func TestConsoleSocketEndToEnd(t *testing.T) {
	master, peer, _ := hostPty(t)
	path := filepath.Join(t.TempDir(), "console.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	sock, err := DialSocket(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := SendConsole(sock, master); err != nil {
		t.Fatal(err)
	}
	sock.Close()

	conn, err := ln.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	f, err := conn.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := RecvConsole(f)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if err := SetSize(got, 33, 77); err != nil {
		t.Fatal(err)
	}
	if h, w, err := GetSize(peer); err != nil || h != 33 || w != 77 {
		t.Fatalf("peer size %dx%d, %v", h, w, err)
	}
}

// TestSendFdRuncWire sends a pidfd the way --pidfd-socket does and receives
// it with runc's cmsg.RecvFile checks (payload under 4096 bytes, exactly one
// SCM_RIGHTS descriptor); names it cannot carry are refused before sending.
func TestSendFdRuncWire(t *testing.T) {
	pidfd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		t.Skipf("pidfd_open: %v", err)
	}
	f := os.NewFile(uintptr(pidfd), "pidfd")
	defer f.Close()
	a, b := socketPair(t)
	for _, bad := range []string{"", strings.Repeat("x", maxNameLen)} {
		if err := SendFd(a, bad, f); err == nil {
			t.Errorf("SendFd with a %d-byte name succeeded", len(bad))
		}
	}
	if err := SendFd(a, "standard", f); err != nil {
		t.Fatal(err)
	}
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(b.Fd()), name, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	if string(name[:n]) != "standard" || oobn != unix.CmsgSpace(4) {
		t.Fatalf("payload %q, oobn=%d", name[:n], oobn)
	}
	fds, err := rightsIn(oob[:oobn])
	if err != nil || len(fds) != 1 {
		t.Fatalf("fds=%v err=%v", fds, err)
	}
	defer unix.Close(fds[0])
	if err := unix.PidfdSendSignal(fds[0], 0, nil, 0); err != nil {
		t.Fatalf("received fd is not a usable pidfd: %v", err)
	}
}
