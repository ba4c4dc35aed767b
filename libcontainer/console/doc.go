// Package console implements what an OCI runtime needs for
// process.terminal: allocating a pseudo-terminal inside the container,
// binding it to /dev/console, wiring it to the container process's stdio,
// handing the master to the caller over --console-socket, and, for the
// foreground case, proxying the master to the runtime's own terminal.
//
// Everything that touches the container's filesystem works on file
// descriptors that were verified with fstat/fstatfs rather than on paths
// that were merely looked up, because the container's /dev is controlled by
// the container image and, with shared mounts, possibly by another
// container racing us (the class of attacks behind CVE-2025-52565). In
// particular the pty peer is obtained with TIOCGPTPEER where available and
// /dev/console is bind-mounted from the peer descriptor, never from a
// /dev/pts/N path.
//
// The wire format used by SendConsole and RecvConsole is runc's: a single
// sendmsg whose payload is the master's file name and whose ancillary data is
// exactly one SCM_RIGHTS message carrying exactly one descriptor, so that
// existing --console-socket consumers (containerd, go-runc, recvtty) work
// unchanged.
package console
