package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/libcontainer/console"
)

// What runc 1.2 sends along the pidfd: the name of its init type, "standard"
// for a container's init and "setns" for an exec'd process. Callers written
// for runc ignore it or keep it as the received file's name; sending the same
// bytes keeps them working unchanged.
const (
	pidfdNameInit = "standard"
	pidfdNameExec = "setns"
)

// pidfdSocket is the caller's --pidfd-socket: a listening AF_UNIX stream
// socket that receives a pidfd of the new process over SCM_RIGHTS.
type pidfdSocket struct {
	conn *os.File
}

// dialPidfdSocket connects to path before anything is created, so that a
// path that is missing or not a listening socket fails the command cleanly.
// It returns nil when path is empty.
func dialPidfdSocket(path string) (*pidfdSocket, error) {
	if path == "" {
		return nil, nil
	}
	conn, err := console.DialSocket(path)
	if err != nil {
		return nil, fmt.Errorf("--pidfd-socket: %w", err)
	}
	return &pidfdSocket{conn: conn}, nil
}

// send opens a pidfd of pid, which must be our unreaped child so that the
// pid cannot have been reused, sends it with name and closes the connection.
func (s *pidfdSocket) send(pid int, name string) error {
	if s == nil {
		return nil
	}
	defer s.close()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("--pidfd-socket: pidfd_open %d: %w", pid, err)
	}
	pidfd := os.NewFile(uintptr(fd), "pidfd")
	defer pidfd.Close()
	if err := console.SendFd(s.conn, name, pidfd); err != nil {
		return fmt.Errorf("--pidfd-socket %s: send pidfd: %w", s.conn.Name(), err)
	}
	return nil
}

// close drops the connection without sending anything (the command failed).
func (s *pidfdSocket) close() {
	if s != nil {
		s.conn.Close()
	}
}
