package docker

import (
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/berth-runtime/berth/libcontainer/console"
)

// ttyServer is the monitor's side of a container with a terminal: it
// receives the pty master from the runtime's --console-socket, logs what
// the container prints, and relays attached clients (berth-docker run -t)
// to the terminal.
type ttyServer struct {
	dir     string // a short private dir for the sockets
	master  *os.File
	attach  net.Listener
	mu      sync.Mutex
	clients []net.Conn
	// attached is closed when the first client connects.
	attached chan struct{}
}

// newTTYServer makes the sockets; paths stay short (unix socket paths are
// limited to 108 bytes).
func newTTYServer() (*ttyServer, error) {
	dir, err := os.MkdirTemp("", "bd-tty-")
	if err != nil {
		return nil, err
	}
	return &ttyServer{dir: dir, attached: make(chan struct{})}, nil
}

func (t *ttyServer) consolePath() string { return filepath.Join(t.dir, "c.sock") }

// AttachPath is where clients connect.
func (t *ttyServer) AttachPath() string { return filepath.Join(t.dir, "a.sock") }

// receive listens on the console socket and returns a channel that gets
// the master once the runtime has sent it.
func (t *ttyServer) receive() (<-chan error, error) {
	l, err := net.Listen("unix", t.consolePath())
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() {
		defer l.Close()
		l.(*net.UnixListener).SetDeadline(time.Now().Add(time.Minute))
		conn, err := l.Accept()
		if err != nil {
			done <- err
			return
		}
		defer conn.Close()
		f, err := conn.(*net.UnixConn).File()
		if err != nil {
			done <- err
			return
		}
		defer f.Close()
		t.master, err = console.RecvConsole(f)
		done <- err
	}()
	return done, nil
}

// serve logs the terminal's output, fans it out to attached clients and
// feeds their input to the terminal, until the container's side closes.
func (t *ttyServer) serve(logf func([]byte)) (<-chan struct{}, error) {
	l, err := net.Listen("unix", t.AttachPath())
	if err != nil {
		return nil, err
	}
	t.attach = l
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.mu.Lock()
			t.clients = append(t.clients, c)
			if len(t.clients) == 1 {
				close(t.attached)
			}
			t.mu.Unlock()
			go func() {
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						t.master.Write(buf[:n])
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 32*1024)
		for {
			n, err := t.master.Read(buf)
			if n > 0 {
				logf(buf[:n])
				t.mu.Lock()
				for _, c := range t.clients {
					c.Write(buf[:n])
				}
				t.mu.Unlock()
			}
			if err != nil {
				return
			}
		}
	}()
	return done, nil
}

// close ends the attach sessions and removes the sockets.
func (t *ttyServer) close() {
	if t.attach != nil {
		t.attach.Close()
	}
	t.mu.Lock()
	for _, c := range t.clients {
		c.Close()
	}
	t.mu.Unlock()
	if t.master != nil {
		t.master.Close()
	}
	os.RemoveAll(t.dir)
}

// Attach relays our terminal to the container's over conn (run -it): raw
// mode while attached, restored after. It returns when the container's
// terminal closes.
func Attach(conn net.Conn, stdin *os.File, stdout *os.File) error {
	defer conn.Close()
	if console.IsTerminal(int(stdin.Fd())) {
		restore, err := console.MakeRaw(int(stdin.Fd()))
		if err == nil {
			defer restore()
		}
	}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := stdin.Read(buf)
			if n > 0 {
				conn.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 32*1024)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			stdout.Write(buf[:n])
		}
		if err != nil {
			return nil
		}
	}
}
