// Package notify proxies sd_notify from a container to the caller's
// NOTIFY_SOCKET, as runc does: the container gets a socket of Berth's
// (bind-mounted where it expects NOTIFY_SOCKET), and "berth start" (or run)
// passes the container's READY=1 on to the host socket.
package notify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Dir is the directory in the container's state dir holding the socket.
const Dir = "notify"

// sockName is the socket's name in Dir.
const sockName = "notify.sock"

// Setup makes the directory for the container's socket in stateDir and
// changes the spec so the container sees it where hostSocket's directory
// is, with NOTIFY_SOCKET pointing at it.
func Setup(stateDir, hostSocket string, spec *specs.Spec) error {
	if !filepath.IsAbs(hostSocket) {
		return fmt.Errorf("NOTIFY_SOCKET %q must be an absolute path", hostSocket)
	}
	dir := filepath.Join(stateDir, Dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	inner := filepath.Join(filepath.Dir(hostSocket), sockName)
	spec.Mounts = append(spec.Mounts, specs.Mount{
		Destination: filepath.Dir(hostSocket), Source: dir, Type: "bind",
		Options: []string{"bind", "nosuid", "noexec", "nodev"},
	})
	if spec.Process != nil {
		spec.Process.Env = append(withoutNotify(spec.Process.Env), "NOTIFY_SOCKET="+inner)
	}
	return nil
}

func withoutNotify(env []string) []string {
	var res []string
	for _, e := range env {
		if !strings.HasPrefix(e, "NOTIFY_SOCKET=") {
			res = append(res, e)
		}
	}
	return res
}

// Listener is the container-side socket, bound before the container is
// released so that an early READY=1 is not lost.
type Listener struct{ fd int }

// Listen binds the container's socket in stateDir.
func Listen(stateDir string) (*Listener, error) {
	path := filepath.Join(stateDir, Dir, sockName)
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	os.Remove(path)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	// The container's user may be anyone.
	os.Chmod(path, 0o777)
	return &Listener{fd: fd}, nil
}

// Close closes the socket.
func (l *Listener) Close() { unix.Close(l.fd) }

// Forward waits until the container says READY=1 (or alive reports it
// gone) and sends READY=1 with MAINPID=pid to hostSocket.
func (l *Listener) Forward(hostSocket string, pid int, alive func() bool) error {
	buf := make([]byte, 4096)
	tv := unix.NsecToTimeval(int64(100 * time.Millisecond))
	unix.SetsockoptTimeval(l.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	for {
		n, _, err := unix.Recvfrom(l.fd, buf, 0)
		if err == unix.EAGAIN || err == unix.EINTR {
			if !alive() {
				return errors.New("container exited before it was ready")
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("notify socket: %w", err)
		}
		for _, line := range strings.Split(string(buf[:n]), "\n") {
			if line == "READY=1" {
				return send(hostSocket, fmt.Sprintf("READY=1\nMAINPID=%d\n", pid))
			}
		}
	}
}

func send(hostSocket, msg string) error {
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: hostSocket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify host socket %s: %w", hostSocket, err)
	}
	defer c.Close()
	_, err = c.Write([]byte(msg))
	return err
}
