package console

import (
	"fmt"
	"math"
	"os"

	"golang.org/x/sys/unix"
)

// SetSize sets the window size of the terminal f (a pty master or peer;
// both ends share one size) to height rows by width columns.
func SetSize(f *os.File, height, width uint) error {
	if height > math.MaxUint16 || width > math.MaxUint16 {
		return fmt.Errorf("console size %dx%d out of range", height, width)
	}
	ws := unix.Winsize{Row: uint16(height), Col: uint16(width)}
	return withFd(f, func(fd int) error {
		if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &ws); err != nil {
			return fmt.Errorf("ioctl TIOCSWINSZ: %w", err)
		}
		return nil
	})
}

// GetSize returns the window size of the terminal f in rows and columns.
func GetSize(f *os.File) (height, width uint, err error) {
	err = withFd(f, func(fd int) error {
		ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
		if err != nil {
			return fmt.Errorf("ioctl TIOCGWINSZ: %w", err)
		}
		height, width = uint(ws.Row), uint(ws.Col)
		return nil
	})
	return height, width, err
}

// ResizeFrom copies the window size of src (typically the user's terminal,
// on SIGWINCH) to dst (typically the container's pty master).
func ResizeFrom(src *os.File, dst *os.File) error {
	h, w, err := GetSize(src)
	if err != nil {
		return err
	}
	return SetSize(dst, h, w)
}

// IsTerminal reports whether fd refers to a terminal.
func IsTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// MakeRaw puts the terminal fd into raw mode, as cfmakeraw(3) does, so that
// keystrokes (including ^C and ^Z) reach the container's terminal instead of
// being interpreted by the host's line discipline. It returns a function that
// restores the previous settings; the caller should call it before exiting.
// MakeRaw fails if fd is not a terminal (check with IsTerminal first when
// stdin may be a pipe or file).
func MakeRaw(fd int) (restore func() error, err error) {
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, fmt.Errorf("ioctl TCGETS: %w", err)
	}
	raw := *old
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN] = 1
	raw.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return nil, fmt.Errorf("ioctl TCSETS: %w", err)
	}
	saved := *old
	return func() error {
		if err := unix.IoctlSetTermios(fd, unix.TCSETS, &saved); err != nil {
			return fmt.Errorf("restore terminal: ioctl TCSETS: %w", err)
		}
		return nil
	}, nil
}

// ClearONLCR turns off the \n to \r\n output translation of the terminal f.
// New Linux ptys have it on; when the runtime relays container output to a
// terminal that does its own translation, leaving it on would double the
// carriage returns. On a master it changes the peer's settings, which is
// what runc's receiving side does.
func ClearONLCR(f *os.File) error {
	return withFd(f, func(fd int) error {
		t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		if err != nil {
			return fmt.Errorf("ioctl TCGETS: %w", err)
		}
		t.Oflag &^= unix.ONLCR
		if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
			return fmt.Errorf("ioctl TCSETS: %w", err)
		}
		return nil
	})
}
