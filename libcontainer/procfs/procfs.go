// Package procfs reads the few /proc facts Berth relies on, parsed strictly,
// so that a process is identified by its pid and its start time together and
// a recycled pid is never mistaken for a container's init.
package procfs

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// ReadFile is os.ReadFile for the small files every command reads
// (state.json, /proc/PID/stat, a cgroup's freeze state) through the bare
// fd: an os.File also sets up the poller for each open (two fcntl, an
// epoll_ctl that a regular file refuses, two fcntl back), five of its
// nine syscalls, 500 times over in a list. Its errors are os.ReadFile's.
func ReadFile(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	for err == unix.EINTR {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// Stat is the part of /proc/PID/stat that Berth uses.
type Stat struct {
	// State is the one-letter process state (R, S, D, Z, X, ...).
	State byte
	// PPid is the parent pid.
	PPid int
	// StartTime is field 22, in clock ticks since boot.
	StartTime uint64
}

// ReadStat parses /proc/PID/stat.
func ReadStat(pid int) (Stat, error) {
	data, err := ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, err
	}
	return ParseStat(data)
}

// ParseStat parses the contents of a /proc/PID/stat file. The command name
// may contain spaces and parentheses, so fields are counted from the last ')'.
func ParseStat(data []byte) (Stat, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 || i+2 >= len(data) {
		return Stat{}, fmt.Errorf("malformed stat line %q", data)
	}
	fields := bytes.Fields(data[i+2:])
	// fields[0] is field 3 (state); starttime is field 22 → index 19.
	if len(fields) < 20 || len(fields[0]) != 1 {
		return Stat{}, fmt.Errorf("malformed stat line %q", data)
	}
	ppid, err := strconv.Atoi(string(fields[1]))
	if err != nil {
		return Stat{}, fmt.Errorf("malformed stat ppid: %w", err)
	}
	start, err := strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return Stat{}, fmt.Errorf("malformed stat starttime: %w", err)
	}
	return Stat{State: fields[0][0], PPid: ppid, StartTime: start}, nil
}

// Alive reports whether pid is the same process that started at startTime
// and has not exited (a zombie counts as exited).
func Alive(pid int, startTime uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := ReadStat(pid)
	if err != nil {
		return false
	}
	return st.StartTime == startTime && st.State != 'Z' && st.State != 'X'
}

// ReadStatus returns the fields of /proc/PID/status ("Name:\tvalue"
// lines), values trimmed.
func ReadStatus(pid int) (map[string]string, error) {
	b, err := ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil, err
	}
	fields := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	return fields, nil
}

// WriteHandle writes v to the procfs file h refers to (an O_PATH handle
// from pathrs-lite's procfs), reopened for writing through pathrs-lite's
// Reopen, which checks the /proc it goes through.
func WriteHandle(h *os.File, v string) error {
	f, err := pathrs.Reopen(h, unix.O_WRONLY)
	if err != nil {
		return err
	}
	_, err = f.Write([]byte(v))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
