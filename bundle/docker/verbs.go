package docker

import (
	"errors"
	"fmt"
	"time"

	"github.com/berth-runtime/berth/libcontainer/signals"
)

// Start starts a stopped container again, with the same upper dir.
func (s *Store) Start(exe string, m *Meta) error {
	if s.Running(m) {
		return nil
	}
	s.DeleteRuntime(m.ID, true)
	if err := s.remount(m); err != nil {
		return err
	}
	conn, err := s.StartMonitor(exe, m.ID)
	if conn != nil {
		conn.Close()
	}
	return err
}

func (s *Store) remount(m *Meta) error {
	_, is, err := storesFrom(s)
	if err != nil {
		return err
	}
	img, err := is.Get(m.ImageID)
	if err != nil {
		return err
	}
	return s.MountRootfs(m.ID, img.Layers)
}

// Restart stops the container and starts it again. The metadata is read
// again in between: Start must see the exit the monitor recorded.
func (s *Store) Restart(exe string, m *Meta, timeout time.Duration) error {
	if err := s.Stop(m, timeout); err != nil {
		return err
	}
	m, err := s.LoadMeta(m.ID)
	if err != nil {
		return err
	}
	return s.Start(exe, m)
}

// Stop sends the stop signal, then SIGKILL after timeout, and waits until
// the container has exited and the monitor has recorded it. Stopping a
// stopped container does nothing.
func (s *Store) Stop(m *Meta, timeout time.Duration) error {
	if !s.Running(m) {
		s.settle(m)
		return nil
	}
	sig := m.StopSignal
	if sig == "" {
		sig = "SIGTERM"
	}
	if _, err := signals.Parse(sig); err != nil {
		sig = "SIGTERM"
	}
	if err := s.Kill(m.ID, sig); err != nil && !errors.Is(err, ErrNoContainer) {
		return err
	}
	if s.waitExit(m, timeout) {
		return nil
	}
	if err := s.Kill(m.ID, "SIGKILL"); err != nil && !errors.Is(err, ErrNoContainer) {
		return err
	}
	if !s.waitExit(m, 10*time.Second) {
		return fmt.Errorf("container %s did not stop", m.Name)
	}
	return nil
}

// waitExit waits until the runtime reports the container gone or stopped
// and the monitor (if alive) has written the exit.
func (s *Store) waitExit(m *Meta, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !s.Running(m) {
			s.settle(m)
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// Wait blocks until the container has exited and its exit is recorded,
// and returns the exit code: docker wait prints the code the container
// ended with, which the monitor may still be writing down.
func (s *Store) Wait(m *Meta) int {
	for s.Running(m) {
		time.Sleep(100 * time.Millisecond)
	}
	s.settle(m)
	if cur, err := s.LoadMeta(m.ID); err == nil {
		m = cur
	}
	return m.ExitCode
}

// settle waits briefly for the monitor to record the exit; if there is no
// monitor (it was killed), it records what the runtime knows itself.
func (s *Store) settle(m *Meta) {
	for i := 0; i < 100; i++ {
		cur, err := s.LoadMeta(m.ID)
		if err != nil || cur.Status == "exited" {
			return
		}
		if cur.MonitorPid == 0 || syscallKill0(cur.MonitorPid) != nil {
			s.DeleteRuntime(m.ID, true)
			cur.Status, cur.FinishedAt = "exited", time.Now().UTC()
			if cur.ExitCode == 0 {
				cur.ExitCode = 255
			}
			s.SaveMeta(cur)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Remove deletes a container and everything of it: the runtime's
// container, the overlay mount, the directory. A running one needs force.
func (s *Store) Remove(m *Meta, force bool) error {
	if s.Running(m) {
		if !force {
			return fmt.Errorf("cannot remove container %s: container is running: stop the container before removing or force remove", m.Name)
		}
		if err := s.Kill(m.ID, "SIGKILL"); err != nil && !errors.Is(err, ErrNoContainer) {
			return err
		}
		s.waitExit(m, 10*time.Second)
	}
	if err := s.DeleteRuntime(m.ID, true); err != nil {
		return err
	}
	return s.RemoveDir(m.ID)
}

// ImagesInUse is the set of image IDs that containers are made from:
// removing one would take the layers from under a container's overlay,
// stopped or not.
func (s *Store) ImagesInUse() (map[string]bool, error) {
	metas, err := s.List()
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, m := range metas {
		used[m.ImageID] = true
	}
	return used, nil
}

// State is what a container is doing by the runtime's account; the
// metadata alone only says how it ended.
type State string

// The states docker's STATUS column tells apart.
const (
	StateUp      State = "up"      // running, or created and about to run
	StatePaused  State = "paused"  // frozen by the runtime
	StateCreated State = "created" // made, never started
	StateExited  State = "exited"  // ended, and the monitor recorded how
	StateUnknown State = "unknown" // ended unwatched: the monitor died too
)

// Status is a container's state with the facts docker's STATUS column
// shows next to it; the wording is the CLI's.
type Status struct {
	State State
	// Since is when it started (up, paused) or finished (exited).
	Since time.Time
	// ExitCode is how it ended (exited).
	ExitCode int
}

// Status asks the runtime, not the metadata, what the container does now:
// the monitor may be gone without having recorded anything.
func (s *Store) Status(m *Meta) Status {
	st, _, err := s.RuntimeState(m.ID)
	switch {
	case err == nil && (st == "running" || st == "created"):
		return Status{State: StateUp, Since: m.StartedAt}
	case err == nil && st == "paused":
		return Status{State: StatePaused, Since: m.StartedAt}
	}
	switch m.Status {
	case "created":
		return Status{State: StateCreated}
	case "running":
		return Status{State: StateUnknown}
	}
	return Status{State: StateExited, Since: m.FinishedAt, ExitCode: m.ExitCode}
}
