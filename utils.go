package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/berth-runtime/berth/libcontainer"
	"github.com/berth-runtime/berth/libcontainer/state"
)

// checkArgs enforces the number of positional arguments.
func checkArgs(c *cli.Context, min, max int) error {
	n := c.NArg()
	if n < min || (max >= 0 && n > max) {
		switch {
		case max == min:
			return fmt.Errorf("%q requires exactly %d argument(s)", c.Command.Name, min)
		case n < min:
			return fmt.Errorf("%q requires a minimum of %d argument(s)", c.Command.Name, min)
		default:
			return fmt.Errorf("%q requires a maximum of %d argument(s)", c.Command.Name, max)
		}
	}
	return nil
}

// containerID returns the first argument, checked.
func containerID(c *cli.Context) (string, error) {
	id := c.Args().First()
	if id == "" {
		return "", errors.New("container id cannot be empty")
	}
	if !state.ValidID(id) {
		return "", libcontainer.ErrInvalidID
	}
	return id, nil
}

// loadContainer loads the container named by the first argument.
func loadContainer(c *cli.Context) (*libcontainer.Container, error) {
	id, err := containerID(c)
	if err != nil {
		return nil, err
	}
	return libcontainer.Load(c.String("root"), id)
}

// onContainer loads the container named by the only argument, runs f on
// it under its lock, and releases it.
func onContainer(c *cli.Context, f func(*libcontainer.Container) error) error {
	if err := checkArgs(c, 1, 1); err != nil {
		return err
	}
	ctr, err := loadContainer(c)
	if err != nil {
		return err
	}
	defer ctr.Release()
	return f(ctr)
}

// writePidFile writes pid atomically, decimal with no newline, as go-runc
// and conmon expect.
func writePidFile(path string, pid int) error {
	if path == "" {
		return nil
	}
	return state.WriteFileAtomic(path, []byte(strconv.Itoa(pid)), 0o644)
}

// absPidFile makes the pid file path absolute before anything changes cwd.
func absPidFile(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	return filepath.Abs(p)
}

// listenFds returns the socket-activation fds systemd passed to berth
// (LISTEN_FDS for LISTEN_PID = our pid), starting at fd 3.
func listenFds() []*os.File {
	pid, err := strconv.Atoi(os.Getenv("LISTEN_PID"))
	if err != nil || pid != os.Getpid() {
		return nil
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n <= 0 {
		return nil
	}
	files := make([]*os.File, n)
	for i := range files {
		files[i] = os.NewFile(uintptr(3+i), "LISTEN_FD_"+strconv.Itoa(3+i))
	}
	return files
}

// preservedFiles wraps fds first..first+n-1, checking that each exists.
func preservedFiles(first, n int) ([]*os.File, error) {
	var files []*os.File
	for i := 0; i < n; i++ {
		fd := first + i
		if _, err := os.Stat("/proc/self/fd/" + strconv.Itoa(fd)); err != nil {
			return nil, fmt.Errorf("--preserve-fds: fd %d is not open", fd)
		}
		files = append(files, os.NewFile(uintptr(fd), "preserved-"+strconv.Itoa(fd)))
	}
	return files, nil
}
