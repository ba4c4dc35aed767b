package docker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// ErrNoContainer is the runtime saying the container does not exist.
var ErrNoContainer = errors.New("container does not exist in the runtime")

// run calls the OCI runtime's CLI, the only way berth-docker drives it.
func (s *Store) run(args ...string) ([]byte, error) {
	cmd := exec.Command(s.Runtime, append([]string{"--root", s.RunRoot}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if strings.Contains(msg, "does not exist") {
			return nil, ErrNoContainer
		}
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("%s %s: %s", s.Runtime, args[0], lastLine(msg))
	}
	return out.Bytes(), nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	l := lines[len(lines)-1]
	// runc and berth log as logrus text: keep the message.
	if i := strings.Index(l, `msg="`); i >= 0 {
		l = strings.TrimSuffix(l[i+5:], `"`)
	}
	return l
}

// RuntimeState asks the runtime for a container's status and pid.
func (s *Store) RuntimeState(id string) (string, int, error) {
	out, err := s.run("state", id)
	if err != nil {
		return "", 0, err
	}
	var st struct {
		Status string `json:"status"`
		Pid    int    `json:"pid"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return "", 0, fmt.Errorf("runtime state: %w", err)
	}
	return st.Status, st.Pid, nil
}

// Running asks the runtime whether the container still runs: the truth
// even when the monitor was killed, which the metadata cannot tell.
func (s *Store) Running(m *Meta) bool {
	st, _, err := s.RuntimeState(m.ID)
	return err == nil && (st == "running" || st == "created" || st == "paused")
}

// Kill sends a signal through the runtime.
func (s *Store) Kill(id, sig string) error {
	_, err := s.run("kill", id, sig)
	return err
}

// DeleteRuntime removes the runtime's container (force: kill it first).
// A container the runtime does not know is fine.
func (s *Store) DeleteRuntime(id string, force bool) error {
	args := []string{"delete"}
	if force {
		args = append(args, "--force")
	}
	_, err := s.run(append(args, id)...)
	if errors.Is(err, ErrNoContainer) {
		return nil
	}
	return err
}
