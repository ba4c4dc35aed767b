package libcontainer

import "github.com/berth-runtime/berth/libcontainer/state"

// Pause freezes every process of the container and returns once the
// kernel confirms they are frozen.
func (c *Container) Pause() error {
	switch c.Status() {
	case state.Running, state.Created:
	case state.Paused:
		return ErrPaused
	default:
		return ErrNotRunning
	}
	if err := c.requireCgroup(); err != nil {
		return err
	}
	return c.cgroup().Freeze(true)
}

// Resume thaws a paused container.
func (c *Container) Resume() error {
	if c.Status() != state.Paused {
		return ErrNotPaused
	}
	if err := c.requireCgroup(); err != nil {
		return err
	}
	return c.cgroup().Freeze(false)
}

// requireCgroup refuses, for what only a cgroup can do, a container that
// has none (created rootless without delegation).
func (c *Container) requireCgroup() error {
	if len(c.State.CgroupPaths) == 0 {
		return errNoCgroup
	}
	return nil
}
