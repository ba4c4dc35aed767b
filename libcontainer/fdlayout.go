package libcontainer

import "os"

// fdLayout is the only place that numbers the files a "berth init"
// inherits; the init reads the numbers from its config and environment.
// The container's preserved fds come first, at 3.. (a contract callers
// rely on: LISTEN_FDS, --preserve-fds); then, in the order layOutFds adds
// them, the sync socket, the exec fifo (create), the console socket
// (terminal), the bind sources (user namespace) and the sealed berth
// binary last.
type fdLayout struct {
	files []*os.File
}

// newFdLayout starts a layout with the preserved fds at 3.., copied so that
// adding to it leaves the caller's slice alone.
func newFdLayout(preserved []*os.File) *fdLayout {
	return &fdLayout{files: append([]*os.File(nil), preserved...)}
}

// add places f next and returns its fd number in the init.
func (l *fdLayout) add(f *os.File) int {
	l.files = append(l.files, f)
	return 3 + len(l.files) - 1
}

// layOutFds places the launch's files in fdLayout's order, the mode adding
// its own (the exec fifo, the bind sources) in their places, and records
// in the init's config the numbers it reads from there. The sync socket's
// and the binary's numbers, which the init reads from its environment, are
// returned.
func (l *launch) layOutFds(sync, exe *os.File) (lay *fdLayout, syncFd, exeFd int) {
	lay = newFdLayout(l.extra)
	syncFd = lay.add(sync)
	l.mode.addFifo(lay, l.config)
	if l.console != nil {
		l.config.ConsoleFd = lay.add(l.console)
	}
	l.mode.addMountSources(lay, l.config)
	return lay, syncFd, lay.add(exe)
}
