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

// preservedFiles wraps fds 3..3+n-1, checking that each exists.
func preservedFiles(n int) ([]*os.File, error) {
	var files []*os.File
	for i := 0; i < n; i++ {
		fd := 3 + i
		if _, err := os.Stat("/proc/self/fd/" + strconv.Itoa(fd)); err != nil {
			return nil, fmt.Errorf("--preserve-fds: fd %d is not open", fd)
		}
		files = append(files, os.NewFile(uintptr(fd), "preserved-"+strconv.Itoa(fd)))
	}
	return files, nil
}
