package console

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Proxy relays between a pty master and the runtime's own stdio, for
// foreground "run" and "exec" with a terminal, where no --console-socket
// consumer exists and the runtime itself must play the terminal emulator.
type Proxy struct {
	master *os.File
}

// NewProxy returns a Proxy for master. The Proxy does not take ownership:
// the caller closes master after Run returns.
func NewProxy(master *os.File) *Proxy {
	return &Proxy{master: master}
}

// Run copies stdin to the master in the background and the master's output
// to stdout in the foreground, returning when the master reports end of
// output: EOF, or EIO, which is how Linux reports that every descriptor of
// the peer has been closed (so the caller must close its own copy of the
// peer before calling Run). It returns nil in that case and the first copy
// error otherwise. A nil stdin means no input is relayed.
//
// The input copy is not waited for: a read from an interactive stdin cannot
// be interrupted, and once the container's terminal is gone its input no
// longer matters. It ends by itself on stdin EOF or on the first failed write
// to the master (e.g. once the master is closed).
func (p *Proxy) Run(stdin io.Reader, stdout io.Writer) error {
	// The master is wrapped in masterReader and masterWriter to hide
	// os.File's ReaderFrom/WriterTo, whose splice/sendfile attempts are
	// pointless on a tty and would only obscure the EIO we look for.
	if stdin != nil {
		go func() {
			_, _ = io.Copy(masterWriter{p.master}, stdin)
		}()
	}
	_, err := io.Copy(stdout, masterReader{p.master})
	if err == nil || errors.Is(err, unix.EIO) {
		return nil
	}
	return err
}

// masterReader and masterWriter expose only Read and Write, keeping io.Copy
// on its plain read/write loop.
type masterReader struct{ f *os.File }

func (r masterReader) Read(b []byte) (int, error) { return r.f.Read(b) }

type masterWriter struct{ f *os.File }

func (w masterWriter) Write(b []byte) (int, error) { return w.f.Write(b) }
