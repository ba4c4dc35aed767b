package main

import (
	"errors"
	"os"
	"os/signal"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/libcontainer/console"
)

// ttySetup is how a process with a terminal gets its pty master out: to the
// caller's --console-socket, or (foreground) to us through a socketpair so
// that we proxy the terminal ourselves.
type ttySetup struct {
	// sock goes to the init; recv is our end in foreground mode.
	sock, recv *os.File
}

// newTTYSetup applies runc's rules for terminal, detach and console socket.
func newTTYSetup(terminal, detach bool, socketPath string) (*ttySetup, error) {
	switch {
	case socketPath != "" && (!detach || !terminal):
		return nil, errors.New("cannot use console socket if runc will not detach or allocate tty")
	case terminal && socketPath != "":
		sock, err := console.DialSocket(socketPath)
		if err != nil {
			return nil, err
		}
		return &ttySetup{sock: sock}, nil
	case terminal && detach:
		return nil, errors.New("cannot allocate tty if runc will detach without setting console socket")
	case terminal:
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		return &ttySetup{sock: os.NewFile(uintptr(fds[0]), "console"), recv: os.NewFile(uintptr(fds[1]), "console-recv")}, nil
	}
	return nil, nil
}

// sizeFromStdin gives a foreground terminal process the size of our own
// terminal before it starts (unless the config sets one), so that its first
// look at the window size is right; the proxy's resizes come later.
func (t *ttySetup) sizeFromStdin(p *specs.Process) {
	if t == nil || t.recv == nil || p == nil || p.ConsoleSize != nil || !console.IsTerminal(int(os.Stdin.Fd())) {
		return
	}
	if h, w, err := console.GetSize(os.Stdin); err == nil && h > 0 && w > 0 {
		p.ConsoleSize = &specs.Box{Height: h, Width: w}
	}
}

// socket is the file to pass to the init (nil without a terminal).
func (t *ttySetup) socket() *os.File {
	if t == nil {
		return nil
	}
	return t.sock
}

// close drops our copies once the init has its own.
func (t *ttySetup) close() {
	if t == nil {
		return
	}
	t.sock.Close()
	if t.recv != nil {
		t.recv.Close()
	}
}

// proxy receives the master (foreground only) and copies between it and
// our stdio, with the host terminal raw and resized on SIGWINCH. The
// returned function waits for the container's output to end and restores
// the host terminal.
func (t *ttySetup) proxy() (func(), error) {
	if t == nil || t.recv == nil {
		return func() {}, nil
	}
	master, err := console.RecvConsole(t.recv)
	t.recv.Close()
	t.recv = nil
	if err != nil {
		return nil, err
	}
	// As runc's foreground terminal: "\n" comes out as "\n", not
	// "\r\n", which is what callers logging our stdout rely on. (A
	// caller with its own --console-socket keeps the pty as it is.)
	if err := console.ClearONLCR(master); err != nil {
		master.Close()
		return nil, err
	}
	restore := func() error { return nil }
	if console.IsTerminal(int(os.Stdin.Fd())) {
		r, err := console.MakeRaw(int(os.Stdin.Fd()))
		if err != nil {
			master.Close()
			return nil, err
		}
		restore = r
		console.ResizeFrom(os.Stdin, master)
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		go func() {
			for range winch {
				console.ResizeFrom(os.Stdin, master)
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		console.NewProxy(master).Run(os.Stdin, os.Stdout)
		close(done)
	}()
	return func() {
		<-done
		master.Close()
		restore()
	}, nil
}
