package libcontainer

import "golang.org/x/sys/unix"

// Wait reaps children until the init exits (the caller is a subreaper, so
// orphans of the container come here too) and returns its exit code, 128+n
// when a signal killed it.
func (c *Container) Wait() int { return WaitPid(c.initPid) }

// WaitPid reaps children until pid exits (the caller may be a subreaper, so
// orphans come here too) and returns its exit code, 128+n for signal n.
func WaitPid(want int) int {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 255
		}
		if pid != want {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}

// InitPid returns the init's pid.
func (c *Container) InitPid() int { return c.State.InitPid }
