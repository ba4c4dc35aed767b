package console

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// hostPty allocates a pty on the host's /dev/pts and closes it at cleanup.
func hostPty(t *testing.T) (master, peer *os.File, name string) {
	t.Helper()
	requireRoot(t)
	master, peer, name, err := AllocPty("/dev/pts")
	if err != nil {
		t.Fatalf("AllocPty: %v", err)
	}
	t.Cleanup(func() {
		master.Close()
		peer.Close()
	})
	return master, peer, name
}

func ptyNumber(t *testing.T, master *os.File) uint32 {
	t.Helper()
	var n uint32
	err := withFd(master, func(fd int) (err error) {
		n, err = unix.IoctlGetUint32(fd, unix.TIOCGPTN)
		return err
	})
	if err != nil {
		t.Fatalf("TIOCGPTN: %v", err)
	}
	return n
}

func rdev(t *testing.T, f *os.File) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := withFd(f, func(fd int) error { return unix.Fstat(fd, &st) }); err != nil {
		t.Fatal(err)
	}
	return uint64(st.Rdev)
}

func checkPair(t *testing.T, master, peer *os.File, name string) {
	t.Helper()
	if !regexp.MustCompile(`^/dev/pts/[0-9]+$`).MatchString(name) {
		t.Fatalf("name = %q", name)
	}
	n := ptyNumber(t, master)
	if want := "/dev/pts/" + strconv.Itoa(int(n)); name != want {
		t.Fatalf("name = %q, TIOCGPTN says %q", name, want)
	}
	if peer.Name() != name {
		t.Errorf("peer.Name() = %q, want %q", peer.Name(), name)
	}
	if r := rdev(t, peer); unix.Major(r) != 136 || unix.Minor(r) != n {
		t.Fatalf("peer rdev %d:%d, want 136:%d", unix.Major(r), unix.Minor(r), n)
	}
	for _, f := range []*os.File{master, peer} {
		flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("%s: not close-on-exec (flags %d, err %v)", f.Name(), flags, err)
		}
	}

	// No newline: ONLCR would turn it into \r\n on the master side.
	if _, err := peer.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(master, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("read master: %q, %v", buf, err)
	}
	if _, err := master.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	buf = make([]byte, 16)
	k, err := peer.Read(buf)
	if err != nil || string(buf[:k]) != "ping\n" {
		t.Fatalf("read peer: %q, %v", buf[:k], err)
	}
}

func TestAllocPty(t *testing.T) {
	master, peer, name := hostPty(t)
	if master.Name() != "/dev/pts/ptmx" {
		t.Errorf("master.Name() = %q", master.Name())
	}
	checkPair(t, master, peer, name)
}

func TestAllocPtyWithoutPeerIoctl(t *testing.T) {
	requireRoot(t)
	master, peer, name, err := allocPty("/dev/pts", false)
	if err != nil {
		t.Fatalf("allocPty: %v", err)
	}
	defer master.Close()
	defer peer.Close()
	checkPair(t, master, peer, name)
}

func TestAllocPtyRejectsImpostors(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name  string
		setup func(t *testing.T, ptmx string)
		want  string
	}{
		{"missing", func(t *testing.T, ptmx string) {}, "no such file"},
		{"regular file", func(t *testing.T, ptmx string) {
			if err := os.WriteFile(ptmx, nil, 0o666); err != nil {
				t.Fatal(err)
			}
		}, "not on devpts"},
		{"symlink to devpts ptmx", func(t *testing.T, ptmx string) {
			if err := os.Symlink("/dev/pts/ptmx", ptmx); err != nil {
				t.Fatal(err)
			}
		}, "not on devpts"},
		{"symlink to /dev/ptmx", func(t *testing.T, ptmx string) {
			if err := os.Symlink("/dev/ptmx", ptmx); err != nil {
				t.Fatal(err)
			}
		}, "not on devpts"},
		{"char device 5:2 off devpts", func(t *testing.T, ptmx string) {
			if err := unix.Mknod(ptmx, unix.S_IFCHR|0o666, int(unix.Mkdev(5, 2))); err != nil {
				t.Skipf("mknod: %v", err)
			}
		}, "not on devpts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, filepath.Join(dir, "ptmx"))
			m, p, _, err := AllocPty(dir)
			if err == nil {
				m.Close()
				p.Close()
				t.Fatal("AllocPty accepted an impostor ptmx")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestVerifyPtmxRejectsPeer(t *testing.T) {
	_, peer, _ := hostPty(t)
	// A pts node is on devpts and a char device but is not ptmx.
	if _, err := verifyPtmx(int(peer.Fd())); err == nil {
		t.Fatal("verifyPtmx accepted a pts node")
	}
}

func TestVerifyPeerRejectsWrongNumber(t *testing.T) {
	master, peer, _ := hostPty(t)
	n := ptyNumber(t, master)
	var st unix.Stat_t
	if err := unix.Fstat(int(peer.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if err := verifyPeer(int(peer.Fd()), n, uint64(st.Dev)); err != nil {
		t.Fatalf("verifyPeer rejected the real peer: %v", err)
	}
	if err := verifyPeer(int(peer.Fd()), n+1, uint64(st.Dev)); err == nil {
		t.Fatal("verifyPeer accepted the wrong pts number")
	}
	if err := verifyPeer(int(peer.Fd()), n, uint64(st.Dev)+1); err == nil {
		t.Fatal("verifyPeer accepted a node from another devpts instance")
	}
}
