package console

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// inMountNS runs fn on an OS thread that has its own private mount
// namespace, so that the bind mounts under test never reach the host. The
// thread is discarded afterwards by returning without UnlockOSThread.
//
// fn gets a pty allocated inside the new namespace: like the container's
// init, a bind source must be a mount of the caller's own namespace, so a
// pty opened before unshare could not be mounted (EINVAL).
func inMountNS(t *testing.T, fn func(master, peer *os.File) error) {
	t.Helper()
	requireRoot(t)
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			errc <- fmt.Errorf("skip: unshare: %w", err)
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			errc <- fmt.Errorf("make / private: %w", err)
			return
		}
		master, peer, _, err := AllocPty("/dev/pts")
		if err != nil {
			errc <- err
			return
		}
		defer master.Close()
		defer peer.Close()
		errc <- fn(master, peer)
	}()
	if err := <-errc; err != nil {
		if strings.HasPrefix(err.Error(), "skip: ") {
			t.Skip(err)
		}
		t.Fatal(err)
	}
}

// checkConsole verifies that path now is the pty whose master is given.
func checkConsole(path string, master, peer *os.File) error {
	var want, got unix.Stat_t
	if err := unix.Fstat(int(peer.Fd()), &want); err != nil {
		return err
	}
	if err := unix.Stat(path, &got); err != nil {
		return err
	}
	if got.Rdev != want.Rdev || got.Dev != want.Dev || got.Ino != want.Ino {
		return fmt.Errorf("%s is rdev %#x ino %d, want the peer (rdev %#x ino %d)", path, got.Rdev, got.Ino, want.Rdev, want.Ino)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|unix.O_NOCTTY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write([]byte("console")); err != nil {
		return err
	}
	buf := make([]byte, 7)
	if _, err := io.ReadFull(master, buf); err != nil || string(buf) != "console" {
		return fmt.Errorf("master read %q, %v", buf, err)
	}
	return nil
}

func TestMountConsole(t *testing.T) {
	dir := t.TempDir()
	inMountNS(t, func(master, peer *os.File) error {
		// Missing target: created, then bound.
		console := filepath.Join(dir, "console")
		if err := mountConsoleAt(peer, console); err != nil {
			return err
		}
		if err := checkConsole(console, master, peer); err != nil {
			return err
		}
		// Existing regular file (what an image ships): bound over.
		existing := filepath.Join(dir, "existing")
		if err := os.WriteFile(existing, []byte("x"), 0o644); err != nil {
			return err
		}
		if err := mountConsoleAt(peer, existing); err != nil {
			return err
		}
		return checkConsole(existing, master, peer)
	})
}

func TestMountConsoleBindMethods(t *testing.T) {
	dir := t.TempDir()
	for name, bind := range map[string]func(src, target int) error{
		"open_tree": bindViaOpenTree,
		"procfs":    bindViaProc,
	} {
		t.Run(name, func(t *testing.T) {
			inMountNS(t, func(master, peer *os.File) error {
				path := filepath.Join(dir, name)
				if err := os.WriteFile(path, nil, 0o600); err != nil {
					return err
				}
				target, err := unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
				if err != nil {
					return err
				}
				defer unix.Close(target)
				if err := bind(int(peer.Fd()), target); err != nil {
					return err
				}
				return checkConsole(path, master, peer)
			})
		})
	}
}

func TestMountConsoleRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "console")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	inMountNS(t, func(_, peer *os.File) error {
		if err := mountConsoleAt(peer, link); err == nil {
			return fmt.Errorf("mounted through a symlink")
		}
		var st unix.Stat_t
		if err := unix.Stat(victim, &st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			return fmt.Errorf("symlink target was mounted over")
		}
		return nil
	})
}

// TestSetupStdio runs SetupStdio in a child (it replaces stdio and acquires
// a controlling terminal, neither of which the test process may do) and
// has the child report through an extra pipe.
func TestSetupStdio(t *testing.T) {
	if os.Getenv("BERTH_CONSOLE_STDIO_CHILD") == "1" {
		setupStdioChild()
		return
	}
	requireRoot(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSetupStdio$")
	cmd.Env = append(os.Environ(), "BERTH_CONSOLE_STDIO_CHILD=1")
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &unix.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		t.Fatal(err)
	}
	w.Close()
	report, _ := io.ReadAll(r)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v; report: %s", err, report)
	}
	if strings.TrimSpace(string(report)) != "ok" {
		t.Fatalf("child report: %s", report)
	}
}

func setupStdioChild() {
	out := os.NewFile(3, "report")
	fail := func(format string, args ...any) {
		fmt.Fprintf(out, format+"\n", args...)
		os.Exit(1)
	}
	master, peer, _, err := AllocPty("/dev/pts")
	if err != nil {
		fail("AllocPty: %v", err)
	}
	var want unix.Stat_t
	if err := unix.Fstat(int(peer.Fd()), &want); err != nil {
		fail("fstat: %v", err)
	}
	if err := SetupStdio(peer); err != nil {
		fail("SetupStdio: %v", err)
	}
	peer.Close()
	for fd := 0; fd <= 2; fd++ {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Rdev != want.Rdev {
			fail("fd %d is not the peer (%v)", fd, err)
		}
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC != 0 {
			fail("fd %d is close-on-exec (%v)", fd, err)
		}
	}
	// Field 7 of /proc/self/stat is the controlling terminal's device.
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		fail("%v", err)
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	ttyNr, err := strconv.ParseUint(fields[4], 10, 64)
	if err != nil {
		fail("tty_nr: %v", err)
	}
	if ttyNr != encodeTTYNr(uint64(want.Rdev)) {
		fail("controlling tty %#x, want %#x", ttyNr, encodeTTYNr(uint64(want.Rdev)))
	}
	// Output now goes to the pty: prove it by reading it from the master.
	fmt.Print("on the tty")
	got, err := bufio.NewReader(master).Peek(len("on the tty"))
	if err != nil || string(got) != "on the tty" {
		fail("master read %q, %v", got, err)
	}
	fmt.Fprintln(out, "ok")
	os.Exit(0)
}

// encodeTTYNr is the kernel's old_encode_dev-style encoding used for tty_nr
// in /proc/PID/stat: minor bits 0-7 and 20-31, major bits 8-19.
func encodeTTYNr(rdev uint64) uint64 {
	major, minor := uint64(unix.Major(rdev)), uint64(unix.Minor(rdev))
	return (minor & 0xff) | (major&0xfff)<<8 | (minor&^0xff)<<12
}
