package seccomp

import (
	"encoding/json"
	"fmt"
	"net"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// SendToAgent hands the notify fd of a container process to the seccomp
// agent listening at s.ListenerPath, as runtime-spec describes: one message
// with the ContainerProcessState JSON and the fd in SCM_RIGHTS.
func SendToAgent(s *specs.LinuxSeccomp, fd int, pid int, st specs.State) error {
	msg := specs.ContainerProcessState{
		Version: specs.Version, Fds: []string{specs.SeccompFdName}, Pid: pid,
		Metadata: s.ListenerMetadata, State: st,
	}
	data, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: s.ListenerPath, Net: "unix"})
	if err != nil {
		return fmt.Errorf("connect to seccomp agent %s: %w", s.ListenerPath, err)
	}
	defer conn.Close()
	if _, _, err := conn.WriteMsgUnix(data, unix.UnixRights(fd), nil); err != nil {
		return fmt.Errorf("send to seccomp agent %s: %w", s.ListenerPath, err)
	}
	return nil
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
