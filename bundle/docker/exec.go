package docker

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
)

// ExecOptions are the docker exec flags that reach the runtime's exec.
type ExecOptions struct {
	Env []string
	// User is USER[:GROUP]: names are the container's, so they are
	// resolved in its rootfs, not by the runtime.
	User    string
	Workdir string
	TTY     bool
	Detach  bool
	// Args is the command and its arguments.
	Args []string
}

// Exec runs a command in a running container through the runtime's exec,
// with the caller's stdio (a nil stdin is /dev/null). The command's exit
// code comes back as code with a nil error: docker exec exits with it.
func (s *Store) Exec(m *Meta, o *ExecOptions, stdin io.Reader, stdout, stderr io.Writer) (code int, err error) {
	if !s.Running(m) {
		return 0, fmt.Errorf("container %s is not running", m.ID[:12])
	}
	args, err := s.execArgs(m, o)
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(s.Runtime, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	return 0, err
}

// execArgs is the runtime's exec command line for o.
func (s *Store) execArgs(m *Meta, o *ExecOptions) ([]string, error) {
	args := []string{"--root", s.RunRoot, "exec"}
	for _, e := range o.Env {
		args = append(args, "--env", e)
	}
	if o.User != "" {
		uid, err := s.resolveUser(m, o.User)
		if err != nil {
			return nil, err
		}
		args = append(args, "--user", uid)
	}
	if o.Workdir != "" {
		args = append(args, "--cwd", o.Workdir)
	}
	if o.TTY {
		args = append(args, "--tty")
	}
	if o.Detach {
		args = append(args, "--detach")
	}
	return append(append(args, m.ID), o.Args...), nil
}

// resolveUser turns USER[:GROUP] names into uid:gid through the
// container's /etc/passwd and /etc/group.
func (s *Store) resolveUser(m *Meta, u string) (string, error) {
	usr, err := parseUser(u, filepath.Join(s.Dir(m.ID), "rootfs"))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d:%d", usr.UID, usr.GID), nil
}
