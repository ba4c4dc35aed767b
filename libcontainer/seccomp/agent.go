package seccomp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ConnectAgent connects to the seccomp agent listening at s.ListenerPath.
// The runtime does it before the container's process exists, so that a
// profile whose notifications nobody could answer fails create instead of
// starting a process that waits forever (runc's message).
func ConnectAgent(s *specs.LinuxSeccomp) (*net.UnixConn, error) {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: s.ListenerPath, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("failed to connect with seccomp agent: %w", err)
	}
	return conn, nil
}

// SendToAgent hands the notify fd of a container process to the seccomp
// agent on conn (from ConnectAgent), as runtime-spec describes: one
// message with the ContainerProcessState JSON and the fd in SCM_RIGHTS.
func SendToAgent(conn *net.UnixConn, s *specs.LinuxSeccomp, fd int, pid int, st specs.State) error {
	msg := specs.ContainerProcessState{
		Version: specs.Version, Fds: []string{specs.SeccompFdName}, Pid: pid,
		Metadata: s.ListenerMetadata, State: st,
	}
	data, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if _, _, err := conn.WriteMsgUnix(data, unix.UnixRights(fd), nil); err != nil {
		return fmt.Errorf("send to seccomp agent %s: %w", s.ListenerPath, err)
	}
	return nil
}

// FetchListener copies the seccomp notify listener that process pid has
// announced it will hold at fd, waiting (polling every millisecond) until
// the filter is loaded there, or until stop is closed (the init reported
// an error or died). The init cannot tell the runtime when it is loaded:
// from then on every syscall the profile notifies (write, sendmsg, ...)
// waits for the agent, which does not have the listener yet.
func FetchListener(pid, fd int, stop <-chan struct{}) (*os.File, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		if nfd, err := unix.PidfdGetfd(pidfd, fd, 0); err == nil {
			if link, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(nfd)); link == "anon_inode:seccomp notify" {
				return os.NewFile(uintptr(nfd), "seccomp-notify"), nil
			}
			unix.Close(nfd)
		} else if !errors.Is(err, unix.EBADF) {
			return nil, fmt.Errorf("pidfd_getfd: %w", err)
		}
		select {
		case <-stop:
			return nil, errors.New("the container's init stopped before loading its seccomp filter")
		case <-tick.C:
		}
	}
}

// FetchFd copies fd number fd of process pid into this process
// (pidfd_getfd), so the init need not send it over a socket: sendmsg may
// itself be a syscall the filter hands to the agent.
func FetchFd(pid, fd int) (*os.File, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	nfd, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		return nil, fmt.Errorf("pidfd_getfd: %w", err)
	}
	return os.NewFile(uintptr(nfd), "seccomp-notify"), nil
}
