package kernel

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// CloseOnExecFrom marks every fd >= from close-on-exec: with one
// close_range call where the kernel has CLOSE_RANGE_CLOEXEC, else one by
// one from /proc/self/fd (which lists the fds the process really has).
func CloseOnExecFrom(from int) error {
	if Has(CloseRangeCloexec) {
		err := unix.CloseRange(uint(from), ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
		if !Lacks(CloseRangeCloexec, err) {
			return err
		}
	}
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("list fds: %w", err)
	}
	names, err := d.Readdirnames(-1)
	own := int(d.Fd())
	if err != nil {
		d.Close()
		return fmt.Errorf("list fds: %w", err)
	}
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil || fd < from || fd == own {
			continue
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && err != unix.EBADF {
			d.Close()
			return fmt.Errorf("mark fd %d close-on-exec: %w", fd, err)
		}
	}
	// d itself was opened with O_CLOEXEC.
	return d.Close()
}
