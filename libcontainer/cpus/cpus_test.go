package cpus

import (
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

func TestFormatIsProcsList(t *testing.T) {
	set := func(cpus ...int) unix.CPUSet {
		var s unix.CPUSet
		for _, c := range cpus {
			s.Set(c)
		}
		return s
	}
	for _, c := range []struct {
		s    unix.CPUSet
		want string
	}{
		{set(0), "0"},
		{set(0, 1), "0-1"},
		{set(0, 1, 2, 3, 6), "0-3,6"},
		{set(1, 3, 5), "1,3,5"},
		{set(1023), "1023"},
		{set(), ""},
	} {
		if got := Format(c.s); got != c.want {
			t.Errorf("Format(%v) = %q, want %q", c.s, got, c.want)
		}
	}
}

// pinAll puts every thread of this process on one CPU, as berth's
// constructor does for a whole process, and records it.
func pinAll(t *testing.T) (orig unix.CPUSet) {
	t.Helper()
	if err := unix.SchedGetaffinity(0, &orig); err != nil {
		t.Fatal(err)
	}
	if orig.Count() < 2 {
		t.Skip("needs two CPUs")
	}
	cpu := -1
	for i := 0; i < setSize && cpu < 0; i++ {
		if orig.IsSet(i) {
			cpu = i
		}
	}
	var one unix.CPUSet
	one.Set(cpu)
	tids, err := threads()
	if err != nil {
		t.Fatal(err)
	}
	for _, tid := range tids {
		unix.SchedSetaffinity(tid, &one)
	}
	SetPinned(orig, cpu)
	t.Cleanup(func() {
		pinned.Store(false)
		tids, _ := threads()
		for _, tid := range tids {
			unix.SchedSetaffinity(tid, &orig)
		}
	})
	return orig
}

func TestForkingGivesTheChildTheCallersCPUs(t *testing.T) {
	orig := pinAll(t)
	var out []byte
	err := Forking(func() error {
		cmd := exec.Command("grep", "Cpus_allowed_list", "/proc/self/status")
		var b strings.Builder
		cmd.Stdout = &b
		if err := cmd.Start(); err != nil {
			return err
		}
		err := cmd.Wait()
		out = []byte(b.String())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(strings.TrimPrefix(string(out), "Cpus_allowed_list:")), Format(orig); got != want {
		t.Errorf("the child runs on %q, want the caller's %q", got, want)
	}
	// The forking thread is pinned again.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var s unix.CPUSet
	unix.SchedGetaffinity(0, &s)
	if s.Count() != 1 {
		t.Errorf("after Forking this thread runs on %s, want one CPU", Format(s))
	}
}

func TestReleaseUnpinsEveryThread(t *testing.T) {
	orig := pinAll(t)
	// Threads started while pinned inherit the pin.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			<-stop
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	if err := Release(); err != nil {
		t.Fatal(err)
	}
	if Pinned() {
		t.Error("still pinned after Release")
	}
	tids, err := threads()
	if err != nil {
		t.Fatal(err)
	}
	for _, tid := range tids {
		var s unix.CPUSet
		if unix.SchedGetaffinity(tid, &s) == nil && s != orig {
			t.Errorf("thread %d runs on %s after Release, want %s", tid, Format(s), Format(orig))
		}
	}
	if err := Release(); err != nil {
		t.Errorf("a second Release: %v", err)
	}
}
