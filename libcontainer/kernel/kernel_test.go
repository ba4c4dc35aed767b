package kernel

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func TestLacksClassifiesErrors(t *testing.T) {
	for _, c := range []struct {
		f    Feature
		err  error
		want bool
	}{
		{CloseRangeCloexec, unix.EINVAL, true},
		{CloseRangeCloexec, unix.EBADF, false},
		{MountSetattr, unix.ENOSYS, true},
		{MountSetattr, unix.EPERM, false},
		// clone3: EINVAL is a bad argument, EPERM a seccomp filter.
		{CloneIntoCgroup, unix.EINVAL, false},
		{CloneIntoCgroup, &os.PathError{Op: "fork/exec", Path: "/x", Err: unix.EPERM}, true},
		{CloneIntoCgroup, nil, false},
	} {
		missing[c.f].Store(false)
		if got := Lacks(c.f, c.err); got != c.want {
			t.Errorf("Lacks(%s, %v) = %v, want %v", c.f.Name(), c.err, got, c.want)
		}
		if Has(c.f) == c.want {
			t.Errorf("after Lacks(%s, %v): Has = %v", c.f.Name(), c.err, Has(c.f))
		}
		missing[c.f].Store(false)
	}
	for _, f := range floorDisabled {
		missing[f].Store(true)
	}
}

func TestRequireNamesTheKernel(t *testing.T) {
	err := Require("openat2(2)", "5.6", unix.ENOSYS)
	want := "openat2(2) needs Linux 5.6 or later (this kernel is " + Release() + "; Berth supports " + Floor + " and later): function not implemented"
	if err == nil || err.Error() != want {
		t.Fatalf("Require = %v, want %q", err, want)
	}
	if !errors.Is(err, unix.ENOSYS) {
		t.Error("Require does not wrap the errno")
	}
	if err := Require("x", "1", unix.EPERM); err != unix.EPERM {
		t.Errorf("Require changed an unrelated error: %v", err)
	}
}

// TestCloseOnExecFromFallback marks fds close-on-exec with close_range and
// with the /proc/self/fd walk, and checks both.
func TestCloseOnExecFromFallback(t *testing.T) {
	for _, fallback := range []bool{false, true} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		// os.Pipe sets O_CLOEXEC: clear it to see it set again.
		for _, f := range []*os.File{r, w} {
			if _, err := unix.FcntlInt(f.Fd(), unix.F_SETFD, 0); err != nil {
				t.Fatal(err)
			}
		}
		was := Has(CloseRangeCloexec)
		missing[CloseRangeCloexec].Store(fallback || !was)
		err = CloseOnExecFrom(int(r.Fd()))
		missing[CloseRangeCloexec].Store(!was)
		if err != nil {
			t.Fatalf("fallback=%v: %v", fallback, err)
		}
		for _, f := range []*os.File{r, w} {
			fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
			if err != nil || fl&unix.FD_CLOEXEC == 0 {
				t.Errorf("fallback=%v: fd %d flags %#x (%v), want FD_CLOEXEC", fallback, f.Fd(), fl, err)
			}
		}
		r.Close()
		w.Close()
	}
}

// TestProbeMatchesUse checks each probe against a real use of the API on
// this kernel (features must not claim what fails, or miss what works).
func TestProbeMatchesUse(t *testing.T) {
	if FloorBuild() {
		for _, f := range floorDisabled {
			if Probe(f) {
				t.Errorf("floor build: Probe(%s) = true", f.Name())
			}
		}
		return
	}
	closeRange := unix.CloseRange(1<<20, 1<<20, unix.CLOSE_RANGE_CLOEXEC) == nil
	if got := Probe(CloseRangeCloexec); got != closeRange {
		t.Errorf("Probe(close-range-cloexec) = %v, close_range says %v", got, closeRange)
	}
	fd, err := unix.MemfdCreate("t", unix.MFD_EXEC)
	if err == nil {
		unix.Close(fd)
	}
	if got := Probe(MemfdExec); got != (err == nil) {
		t.Errorf("Probe(memfd-exec) = %v, memfd_create says %v", got, err)
	}
	err = unix.MountSetattr(-1, "", unix.AT_EMPTY_PATH, &unix.MountAttr{})
	if got := Probe(MountSetattr); got != (err != unix.ENOSYS) {
		t.Errorf("Probe(mount-setattr) = %v, mount_setattr says %v", got, err)
	}
	if os.Geteuid() == 0 {
		t.Logf("clone-into-cgroup %v, cgroup-kill %v on %s", Probe(CloneIntoCgroup), Probe(CgroupKill), Release())
	}
}

func TestReleaseAtLeast(t *testing.T) {
	for _, c := range []struct {
		rel  string
		want bool
	}{{"6.1.0-50-amd64", true}, {"5.14.0-427.el9.x86_64", true}, {"5.10.0-30-amd64", false}, {"4.19.0", false}, {"junk", false}} {
		if got := releaseAtLeast(c.rel, 5, 14); got != c.want {
			t.Errorf("releaseAtLeast(%q, 5.14) = %v", c.rel, got)
		}
	}
}
