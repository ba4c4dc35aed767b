package syncmsg

import (
	"errors"
	"os"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func pair(t *testing.T) (*Conn, *Conn) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	return NewConn(os.NewFile(uintptr(fds[0]), "a")), NewConn(os.NewFile(uintptr(fds[1]), "b"))
}

func TestRoundTripAndErrors(t *testing.T) {
	a, b := pair(t)
	defer a.Close()
	go func() {
		b.Send(Message{Type: Config, Config: &InitConfig{ID: "c1", Spec: &specs.Spec{Version: "1.3.0"}, FifoFd: 5}})
		b.Send(Message{Type: Error, Message: "mount proc: permission denied"})
		b.Close()
	}()
	m, err := a.Expect(Config)
	if err != nil || m.Config.ID != "c1" || m.Config.FifoFd != 5 || m.Config.Spec.Version != "1.3.0" {
		t.Fatalf("config: %+v, %v", m, err)
	}
	if _, err := a.Recv(); err == nil || err.Error() != "mount proc: permission denied" {
		t.Fatalf("error message not passed through: %v", err)
	}
	if _, err := a.Recv(); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed peer: %v", err)
	}
}

func TestExpectRejectsWrongType(t *testing.T) {
	a, b := pair(t)
	defer a.Close()
	defer b.Close()
	go b.Send(Message{Type: Ready})
	if _, err := a.Expect(Run); err == nil {
		t.Fatal("wrong message type accepted")
	}
}
