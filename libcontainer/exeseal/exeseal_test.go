package exeseal

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSealedBinaryCannotBeWritten(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for open_tree")
	}
	f, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(f.Fd())), os.O_WRONLY, 0)
	if err == nil {
		t.Fatal("the sealed binary was opened for writing")
	}
	if !errors.Is(err, unix.EROFS) && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.ETXTBSY) {
		t.Fatalf("unexpected error %v", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		t.Fatalf("sealed fd is not a regular file: %v", err)
	}
}

// TestMemfdFallbackIsSealedAndExecutable checks the copy used where the
// detached mount cannot be made (before 5.12): it cannot be written, grown
// or shrunk, and it runs.
func TestMemfdFallbackIsSealedAndExecutable(t *testing.T) {
	f, err := memfdCopy()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte("x"), 0); !errors.Is(err, unix.EPERM) {
		t.Errorf("write to the sealed copy: %v, want EPERM", err)
	}
	if err := f.Truncate(1); !errors.Is(err, unix.EPERM) {
		t.Errorf("truncate of the sealed copy: %v, want EPERM", err)
	}
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	if err != nil || seals&unix.F_SEAL_SEAL == 0 {
		t.Errorf("seals %#x (%v), want F_SEAL_SEAL among them", seals, err)
	}
	// The test binary is the copy: run it for its list of tests.
	out, err := exec.Command("/proc/self/fd/"+strconv.Itoa(int(f.Fd())), "-test.list", "TestMemfdFallback").Output()
	if err != nil || !strings.Contains(string(out), "TestMemfdFallbackIsSealedAndExecutable") {
		t.Errorf("running the sealed copy: %v, output %q", err, out)
	}
}
