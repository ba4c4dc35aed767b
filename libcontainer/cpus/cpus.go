// Package cpus gives the processes a berth command starts the CPU affinity
// of the command's caller, while the command itself runs on one CPU.
//
// The Go runtime of a short berth command spends much of its time handing
// work between threads (os/signal enables each signal with a round trip to
// a goroutine locked to its own thread; a locked goroutine resumes only on
// its thread). On a virtual machine each wakeup of a thread on another
// vCPU is an inter-processor interrupt and a halt exit: with the threads of
// a "berth exec" on one CPU, signal.Notify for every signal costs 0.3 ms
// instead of 1.7 ms. So berth's constructor (cpupin.go in package main)
// pins the commands that gain to the CPU they start on, before the Go
// runtime starts a thread; every thread inherits it. What must not inherit
// it is everything berth starts: the container's processes and the hooks.
// Forking restores the caller's affinity on the thread that forks, and
// Release gives it back to every thread for a command that then only waits.
package cpus

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// setSize is the number of CPUs a unix.CPUSet holds (glibc's CPU_SETSIZE).
const setSize = 1024

// The package's state is a process-wide kernel attribute's: main sets it
// once (SetPinned) before any command runs, and only Release clears it.
var (
	pinned   atomic.Bool
	original unix.CPUSet // the caller's affinity
	one      unix.CPUSet // the CPU this process runs on
	onCPU    int
)

// SetPinned records that this process was pinned to cpu, out of the
// caller's affinity orig.
func SetPinned(orig unix.CPUSet, cpu int) {
	original, onCPU = orig, cpu
	one.Zero()
	one.Set(cpu)
	pinned.Store(true)
}

// Pinned reports whether this process still runs on one CPU.
func Pinned() bool { return pinned.Load() }

// Original is the caller's affinity, and whether this process changed it.
func Original() (unix.CPUSet, bool) { return original, pinned.Load() }

// CPU is the CPU this process was pinned to.
func CPU() int { return onCPU }

// Format lists the CPUs of s as /proc's Cpus_allowed_list does ("0-3,6").
func Format(s unix.CPUSet) string {
	var b strings.Builder
	for i := 0; i < setSize; i++ {
		if !s.IsSet(i) {
			continue
		}
		j := i
		for j+1 < setSize && s.IsSet(j+1) {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(i))
		if j > i {
			b.WriteString("-" + strconv.Itoa(j))
		}
		i = j
	}
	return b.String()
}

// Forking runs start, which starts a process, on a thread with the caller's
// affinity, so the new process inherits that and not the pin.
func Forking(start func() error) error {
	if !pinned.Load() {
		return start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := restore(0); err != nil {
		return err
	}
	err := start()
	if pinned.Load() {
		unix.SchedSetaffinity(0, &one)
	}
	return err
}

// Run is cmd.Run with the start through Forking.
func Run(cmd *exec.Cmd) error {
	if err := Forking(cmd.Start); err != nil {
		return err
	}
	return cmd.Wait()
}

// Release gives every thread of this process the caller's affinity back:
// for a command that has started its process and now only waits for it
// (forwarding signals, copying a terminal), one busy CPU must not hold it
// up. A thread started meanwhile by a thread not yet released is found by
// the next pass; a pass that finds every thread released ends it.
func Release() error {
	if !pinned.Swap(false) {
		return nil
	}
	for pass := 0; pass < 100; pass++ {
		tids, err := threads()
		if err != nil {
			return err
		}
		done := true
		for _, tid := range tids {
			var s unix.CPUSet
			if unix.SchedGetaffinity(tid, &s) != nil || s != one {
				continue // exited, or not pinned
			}
			done = false
			// ESRCH: the thread has exited.
			if err := restore(tid); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("thread %d: %w", tid, err)
			}
		}
		if done {
			return nil
		}
	}
	return fmt.Errorf("restore the caller's CPU affinity: threads kept appearing")
}

// restore gives thread tid (0: this one) the caller's affinity. Where the
// caller's CPUs have all left this process's cpuset since it started
// (EINVAL), it gets every CPU of the cpuset instead, which is what a
// process started there would inherit.
func restore(tid int) error {
	err := unix.SchedSetaffinity(tid, &original)
	if err == unix.EINVAL {
		var all unix.CPUSet
		for i := 0; i < setSize; i++ {
			all.Set(i)
		}
		err = unix.SchedSetaffinity(tid, &all)
	}
	if err != nil {
		return fmt.Errorf("restore the caller's CPU affinity: %w", err)
	}
	return nil
}

func threads() ([]int, error) {
	d, err := os.Open("/proc/self/task")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	tids := make([]int, 0, len(names))
	for _, n := range names {
		if tid, err := strconv.Atoi(n); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}
