//go:build !berth_criu

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

// This build of berth leaves checkpoint and restore to berth-criu, the
// same command line built with CRIU's client (go-criu and protobuf, the
// berth_criu build tag), installed beside it. Linking them here cost every
// berth process (each container's init included) 0.35 ms of package
// initialisation and 1.6 MB of binary (docs/design.md); the two commands
// pay one execve instead.

// criuHelperName is berth-criu's file name, in berth's own directory.
const criuHelperName = "berth-criu"

// criuHelper is the path of berth-criu beside this binary (its real
// path: a symlink such as /usr/bin/runc -> berth is followed).
func criuHelper() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(self), criuHelperName), nil
}

// execCriuHelper replaces this process with berth-criu and the same
// arguments: the same pid (a caller waits for it), fds (--status-fd,
// preserved and console fds), directory and environment.
func execCriuHelper() error {
	path, err := criuHelper()
	if err == nil {
		err = unix.Access(path, unix.X_OK)
	}
	if err != nil {
		return fmt.Errorf("checkpoint and restore need %s beside berth (make install puts it there): %w", criuHelperName, err)
	}
	return syscall.Exec(path, append([]string{path}, os.Args[1:]...), os.Environ())
}

func checkpointAction(*cli.Context) error { return execCriuHelper() }

func restoreAction(*cli.Context) error { return execCriuHelper() }

// featuresFromHelper has berth-criu answer features, with its CRIU
// check, when it is there (true: it ran, or failed to start).
func featuresFromHelper() (bool, error) {
	path, err := criuHelper()
	if err != nil || unix.Access(path, unix.X_OK) != nil {
		return false, nil
	}
	return true, execCriuHelper()
}

// criuAnnotations say that checkpoint and restore cannot work: berth-criu
// is missing (with it, features is its answer).
func criuAnnotations(a map[string]string) map[string]string {
	a["org.opencontainers.runc.checkpoint.enabled"] = "false"
	a["org.berth-runtime.berth.checkpoint"] = "no: " + criuHelperName + " is not installed beside berth"
	return a
}
