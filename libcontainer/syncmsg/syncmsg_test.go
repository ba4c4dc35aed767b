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

// TestWireBytes pins the bytes of the messages the C exec stage writes
// and compares (execstage.c: json_send and await_run).
func TestWireBytes(t *testing.T) {
	for _, c := range []struct {
		m    Message
		want string
	}{
		{Message{Type: Run}, `{"type":"run"}` + "\n"},
		{Message{Type: Ready}, `{"type":"ready"}` + "\n"},
		{Message{Type: Error, Message: `exec: "x": no such file or directory`}, `{"type":"error","message":"exec: \"x\": no such file or directory"}` + "\n"},
	} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := NewConn(w).Send(c.m); err != nil {
			t.Fatal(err)
		}
		w.Close()
		b := make([]byte, 256)
		n, _ := r.Read(b)
		r.Close()
		if string(b[:n]) != c.want {
			t.Errorf("%+v on the wire: %q, want %q", c.m, b[:n], c.want)
		}
	}
}
