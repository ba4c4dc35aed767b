// Package libcontainer is Berth's engine: it turns a validated bundle into a
// container and carries out the lifecycle operations on it. The command-line
// layer only parses flags and formats output; everything that touches the
// kernel lives here or in the sub-packages.
package libcontainer

import "errors"

// Sentinel errors whose texts callers (containerd, podman, go-runc) match on.
// They are runc's texts and must not change.
var (
	ErrExist      = errors.New("container with given ID already exists")
	ErrInvalidID  = errors.New("invalid container ID format")
	ErrNotExist   = errors.New("container does not exist")
	ErrPaused     = errors.New("container paused")
	ErrNotRunning = errors.New("container not running")
	ErrNotPaused  = errors.New("container not paused")
)

// errNoCgroup is what pause, resume and update say of a container that
// was created rootless without cgroup delegation.
var errNoCgroup = errors.New("the container has no cgroup: it was created rootless, without a cgroup delegated to its user " +
	"(pause, resume and update need one; see --rootless)")
