package console

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// maxNameLen is the size of the buffer runc's receivers (recvtty, go-runc,
// containerd) read the name into; they reject a name that fills it.
const maxNameLen = 4096

// maxRecvFds bounds how many descriptors RecvConsole makes room for. Only
// one is valid, but leaving room for a few means a misbehaving sender's
// extras arrive as descriptors we can close instead of being silently
// dropped behind MSG_CTRUNC.
const maxRecvFds = 8

// defaultMasterName is sent when the master has no name. A zero-length
// payload on a stream socket carries no ancillary data, so some name must be
// sent; this is the one runc's master would have.
const defaultMasterName = "/dev/ptmx"

// SendConsole sends master over the connected AF_UNIX socket sock using
// runc's --console-socket protocol: one sendmsg whose payload is
// master.Name() and whose ancillary data is a single SCM_RIGHTS message
// carrying master's descriptor.
func SendConsole(sock *os.File, master *os.File) error {
	name := master.Name()
	if name == "" {
		name = defaultMasterName
	}
	if err := SendFd(sock, name, master); err != nil {
		return fmt.Errorf("send console: %w", err)
	}
	return nil
}

// SendFd sends f's descriptor over the connected AF_UNIX socket sock the way
// runc's cmsg.SendRawFd does, which its receivers (recvtty, go-runc,
// containerd, runc's pidfd-kill) expect: one sendmsg whose payload is name
// and whose ancillary data is a single SCM_RIGHTS message carrying the one
// descriptor. The name must be non-empty (an empty payload on a stream
// socket carries no ancillary data) and shorter than the receivers' buffer.
func SendFd(sock *os.File, name string, f *os.File) error {
	if name == "" {
		return errors.New("empty name")
	}
	if len(name) >= maxNameLen {
		return fmt.Errorf("name too long (%d bytes)", len(name))
	}
	rc, err := sock.SyscallConn()
	if err != nil {
		return err
	}
	return withFd(f, func(fd int) error {
		rights := unix.UnixRights(fd)
		var sendErr error
		err := rc.Write(func(sfd uintptr) bool {
			for {
				var n int
				// MSG_NOSIGNAL: a vanished receiver must be an error,
				// not a SIGPIPE that kills the sender.
				n, sendErr = unix.SendmsgN(int(sfd), []byte(name), rights, nil, unix.MSG_NOSIGNAL)
				switch {
				case sendErr == unix.EINTR:
					continue
				case sendErr == unix.EAGAIN:
					return false // wait for the poller, then retry
				case sendErr == nil && n != len(name):
					// The descriptor went with the first byte; the
					// rest cannot be resent without sending it twice.
					sendErr = io.ErrShortWrite
				}
				return true
			}
		})
		if err == nil {
			err = sendErr
		}
		if err != nil {
			return fmt.Errorf("sendmsg: %w", err)
		}
		return nil
	})
}

// RecvConsole receives a pty master sent with SendConsole (or by runc) on
// sock. It reads into a 4096-byte buffer like runc's receivers, requires
// exactly one SCM_RIGHTS message with exactly one descriptor, and requires
// that descriptor to be a pty master. The returned file is close-on-exec and
// is named by the received payload.
func RecvConsole(sock *os.File) (*os.File, error) {
	rc, err := sock.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("recv console: %w", err)
	}
	buf := make([]byte, maxNameLen)
	oob := make([]byte, unix.CmsgSpace(4*maxRecvFds))
	var n, oobn, flags int
	var recvErr error
	err = rc.Read(func(sfd uintptr) bool {
		for {
			// MSG_CMSG_CLOEXEC closes the window in which a concurrent
			// fork+exec could inherit the received master.
			n, oobn, flags, _, recvErr = unix.Recvmsg(int(sfd), buf, oob, unix.MSG_CMSG_CLOEXEC)
			switch recvErr {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false
			}
			return true
		}
	})
	if err == nil {
		err = recvErr
	}
	if err != nil {
		return nil, fmt.Errorf("recv console: %w", err)
	}

	fds, parseErr := rightsIn(oob[:oobn])
	fail := func(err error) (*os.File, error) {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("recv console: %w", err)
	}
	switch {
	case parseErr != nil:
		return fail(parseErr)
	case n == 0 && oobn == 0:
		return fail(io.ErrUnexpectedEOF)
	case flags&unix.MSG_CTRUNC != 0:
		return fail(errors.New("control message truncated"))
	case n >= maxNameLen:
		return fail(fmt.Errorf("name too long (%d bytes)", n))
	case len(fds) != 1:
		return fail(fmt.Errorf("got %d descriptors, want exactly 1", len(fds)))
	}
	if _, err := unix.IoctlGetUint32(fds[0], unix.TIOCGPTN); err != nil {
		return fail(fmt.Errorf("received descriptor is not a pty master: %w", err))
	}
	return os.NewFile(uintptr(fds[0]), string(buf[:n])), nil
}

// rightsIn returns every descriptor carried in oob, so that all of them can
// be closed if the message is rejected. It fails if any control message is
// not SCM_RIGHTS or if there is not exactly one control message.
func rightsIn(oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("parse control message: %w", err)
	}
	var fds []int
	var bad error
	for i := range msgs {
		if msgs[i].Header.Level != unix.SOL_SOCKET || msgs[i].Header.Type != unix.SCM_RIGHTS {
			bad = fmt.Errorf("unexpected control message (level %d type %d)", msgs[i].Header.Level, msgs[i].Header.Type)
			continue
		}
		got, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			bad = fmt.Errorf("parse SCM_RIGHTS: %w", err)
			continue
		}
		fds = append(fds, got...)
	}
	if bad == nil && len(msgs) != 1 {
		bad = fmt.Errorf("got %d control messages, want exactly 1", len(msgs))
	}
	return fds, bad
}

// DialSocket connects to the AF_UNIX SOCK_STREAM socket at path (the
// --console-socket or --pidfd-socket created by the caller) and returns the
// connection as a close-on-exec file suitable for SendConsole and SendFd.
//
// Paths too long for sockaddr_un are reached through an O_PATH descriptor of
// the socket and its /proc/self/fd name, because callers such as containerd
// place sockets in deep state directories.
func DialSocket(path string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("dial socket: %w", err)
	}
	addr := path
	var sa unix.RawSockaddrUnix
	if len(path) >= len(sa.Path) {
		pfd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			unix.Close(fd)
			return nil, &os.PathError{Op: "dial", Path: path, Err: err}
		}
		defer unix.Close(pfd)
		addr = fdPath(pfd)
	}
	for {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: addr})
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "dial", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}
