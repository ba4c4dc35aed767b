package console

import (
	"bytes"
	"io"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestSetGetSize(t *testing.T) {
	master, peer, _ := hostPty(t)
	if err := SetSize(master, 24, 80); err != nil {
		t.Fatal(err)
	}
	for _, f := range []*os.File{master, peer} {
		if h, w, err := GetSize(f); err != nil || h != 24 || w != 80 {
			t.Fatalf("%s: %dx%d, %v", f.Name(), h, w, err)
		}
	}
	if err := SetSize(master, 1<<16, 80); err == nil {
		t.Fatal("SetSize accepted a height that does not fit in 16 bits")
	}
	if _, _, err := GetSize(devNull(t)); err == nil {
		t.Fatal("GetSize succeeded on /dev/null")
	}
}

func TestResizeFrom(t *testing.T) {
	_, hostPeer, _ := hostPty(t)
	ctrMaster, _, _ := hostPty(t)
	if err := SetSize(hostPeer, 50, 132); err != nil {
		t.Fatal(err)
	}
	if err := ResizeFrom(hostPeer, ctrMaster); err != nil {
		t.Fatal(err)
	}
	if h, w, err := GetSize(ctrMaster); err != nil || h != 50 || w != 132 {
		t.Fatalf("%dx%d, %v", h, w, err)
	}
}

func devNull(t *testing.T) *os.File {
	t.Helper()
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func termios(t *testing.T, fd int) unix.Termios {
	t.Helper()
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return *tio
}

func TestMakeRaw(t *testing.T) {
	_, peer, _ := hostPty(t)
	fd := int(peer.Fd())
	if !IsTerminal(fd) {
		t.Fatal("IsTerminal(peer) = false")
	}
	if IsTerminal(int(devNull(t).Fd())) {
		t.Fatal("IsTerminal(/dev/null) = true")
	}
	before := termios(t, fd)
	if before.Lflag&(unix.ICANON|unix.ECHO) == 0 || before.Oflag&unix.OPOST == 0 {
		t.Fatalf("fresh pty is not cooked: %+v", before)
	}

	restore, err := MakeRaw(fd)
	if err != nil {
		t.Fatal(err)
	}
	raw := termios(t, fd)
	if raw.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG|unix.IEXTEN|unix.ECHONL) != 0 {
		t.Errorf("Lflag still has cooked bits: %#x", raw.Lflag)
	}
	if raw.Iflag&(unix.ICRNL|unix.IXON|unix.BRKINT|unix.INLCR|unix.IGNCR|unix.ISTRIP|unix.PARMRK|unix.IGNBRK) != 0 {
		t.Errorf("Iflag still has cooked bits: %#x", raw.Iflag)
	}
	if raw.Oflag&unix.OPOST != 0 {
		t.Errorf("OPOST still set")
	}
	if raw.Cflag&unix.CSIZE != unix.CS8 || raw.Cflag&unix.PARENB != 0 {
		t.Errorf("Cflag %#x, want CS8 without PARENB", raw.Cflag)
	}
	if raw.Cc[unix.VMIN] != 1 || raw.Cc[unix.VTIME] != 0 {
		t.Errorf("VMIN=%d VTIME=%d", raw.Cc[unix.VMIN], raw.Cc[unix.VTIME])
	}

	if err := restore(); err != nil {
		t.Fatal(err)
	}
	if after := termios(t, fd); after != before {
		t.Fatalf("termios not restored:\n got %+v\nwant %+v", after, before)
	}

	if _, err := MakeRaw(int(devNull(t).Fd())); err == nil {
		t.Fatal("MakeRaw succeeded on /dev/null")
	}
}

func TestClearONLCR(t *testing.T) {
	master, peer, _ := hostPty(t)
	if termios(t, int(peer.Fd())).Oflag&unix.ONLCR == 0 {
		t.Skip("ONLCR not on by default")
	}
	if err := ClearONLCR(master); err != nil {
		t.Fatal(err)
	}
	if termios(t, int(peer.Fd())).Oflag&unix.ONLCR != 0 {
		t.Fatal("ONLCR still set on peer")
	}
	if _, err := peer.Write([]byte("a\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	if _, err := io.ReadFull(master, buf); err != nil || string(buf) != "a\n" {
		t.Fatalf("read %q, %v", buf, err)
	}
}

func TestProxy(t *testing.T) {
	master, peer, _ := hostPty(t)
	// Raw mode on the container side, so that the input is not echoed
	// back into the output we compare.
	if _, err := MakeRaw(int(peer.Fd())); err != nil {
		t.Fatal(err)
	}

	// The input is a pipe that stays open, like an interactive stdin.
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer inR.Close()
	defer inW.Close()

	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- NewProxy(master).Run(inR, &out) }()

	if _, err := inW.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(peer, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("container read %q, %v", buf, err)
	}
	if _, err := peer.Write([]byte("pong\r\n")); err != nil {
		t.Fatal(err)
	}
	// The container exits: its last peer descriptor goes away and the
	// master reports EIO, which must end Run cleanly.
	peer.Close()

	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the peer was closed")
	}
	if out.String() != "pong\r\n" {
		t.Fatalf("output %q", out.String())
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestProxyOutputError(t *testing.T) {
	master, peer, _ := hostPty(t)
	if _, err := peer.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := NewProxy(master).Run(nil, failWriter{}); err != io.ErrClosedPipe {
		t.Fatalf("Run = %v, want %v", err, io.ErrClosedPipe)
	}
}
