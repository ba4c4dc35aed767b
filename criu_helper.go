//go:build !berth_criu

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
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
// path: a symlink such as /usr/bin/runc -> berth is followed), or why it
// cannot be run.
func criuHelper() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	path := filepath.Join(filepath.Dir(self), criuHelperName)
	return path, unix.Access(path, unix.X_OK)
}

// execCriuHelper replaces this process with berth-criu and the same
// arguments: the same pid (a caller waits for it), fds (--status-fd,
// preserved and console fds), directory and environment.
func execCriuHelper() error {
	path, err := criuHelper()
	if err != nil {
		return fmt.Errorf("checkpoint and restore need %s beside berth (make install puts it there): %w", criuHelperName, err)
	}
	return syscall.Exec(path, append([]string{path}, os.Args[1:]...), os.Environ())
}

func checkpointAction(*cli.Context) error { return execCriuHelper() }

func restoreAction(*cli.Context) error { return execCriuHelper() }

// criuAnnotations are berth-criu's answer to whether checkpoint and
// restore work here (its CRIU check is go-criu's): it runs `berth-criu
// features` and copies the two annotations. The rest of features is this
// binary's own (a berth-floor build reports its own kernel floor).
func criuAnnotations(a map[string]string) map[string]string {
	no := func(why string) map[string]string {
		a[checkpointEnabledKey], a[checkpointBerthKey] = "false", "no: "+why
		return a
	}
	path, err := criuHelper()
	if err != nil {
		return no(criuHelperName + " is not installed beside berth")
	}
	out, err := exec.Command(path, "features").Output()
	var f struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err == nil {
		err = json.Unmarshal(out, &f)
	}
	if err != nil || f.Annotations[checkpointEnabledKey] == "" {
		return no(fmt.Sprintf("%s features: %v", criuHelperName, err))
	}
	a[checkpointEnabledKey], a[checkpointBerthKey] = f.Annotations[checkpointEnabledKey], f.Annotations[checkpointBerthKey]
	return a
}
