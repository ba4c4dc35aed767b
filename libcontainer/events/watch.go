package events

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrWatcherClosed is what Watcher.Err returns after Close stopped the
// watcher, to tell that apart from the cgroup going away (nil).
var ErrWatcherClosed = errors.New("OOM watcher closed")

// Watcher reports the OOM kills of one cgroup as they happen, for "berth
// events". It is made by WatchOOM.
//
// It runs one goroutine that sleeps in a read of an inotify (v2) or eventfd
// (v1) descriptor. Both descriptors are non-blocking and handed to the Go
// runtime's poller, which is what lets Close wake that read without
// signals, timeouts or polling.
type Watcher struct {
	c      chan struct{}
	done   chan struct{}
	quit   chan struct{}
	exited chan struct{}
	file   *os.File
	once   sync.Once
	// err is written once by the goroutine before it closes done, and read
	// only after done is closed, so it needs no lock.
	err error
}

// C delivers one value per OOM event of the cgroup (see WatchOOM for what
// counts as one). It is unbuffered and never closed: the watcher waits for
// each value to be received before it reads further notifications (the
// kernel keeps counting meanwhile, so nothing is lost), and every value is
// received before Done is closed, so a consumer selecting on C and Done
// prints each OOM before it sees the end.
func (w *Watcher) C() <-chan struct{} { return w.c }

// Done is closed when the watcher has stopped: the cgroup went away (its
// processes all exited on v2, the directory was removed on v1 and v2), Close
// was called, or reading notifications failed. Err tells which.
func (w *Watcher) Done() <-chan struct{} { return w.done }

// Err returns why Done was closed: nil when the cgroup went away,
// ErrWatcherClosed after Close, or the error that stopped the watcher. It
// returns nil while Done is still open.
func (w *Watcher) Err() error {
	select {
	case <-w.done:
		return w.err
	default:
		return nil
	}
}

// Close stops the watcher and releases its descriptors. It returns once the
// goroutine has exited, so no value is sent on C after Close returns. It
// may be called more than once, and from any goroutine.
func (w *Watcher) Close() error {
	w.once.Do(func() {
		close(w.quit)
		// Wakes the goroutine's Read with os.ErrClosed; the poller holds the
		// descriptor open until that Read has returned.
		w.file.Close()
	})
	<-w.exited
	return nil
}

// WatchOOM starts watching the cgroup in paths (Berth's path map, as for
// OOMCounters) for OOM events. Only events after the call are reported.
//
// On cgroup v2 it watches memory.events and cgroup.events with inotify.
// Each change of memory.events is followed by a re-read, and one value is
// sent per increase of its "oom_kill" counter, so changes of the other lines
// ("high", "max") are not OOMs and several kills between two reads are not
// one. The cgroup is gone when cgroup.events says "populated 0", checked
// also at the start (a container whose processes have all exited will not
// change it again), or when the kernel drops the watches (IN_DELETE_SELF,
// IN_IGNORED, IN_UNMOUNT), which a removed directory outside cgroupfs does.
// Before Done is closed memory.events is read once more, because the last
// kill usually empties the cgroup and both files change together.
//
// On cgroup v1 it registers an eventfd for memory.oom_control through
// cgroup.event_control, as runc does. The kernel signals it once per OOM-
// killer run in the cgroup, which is one per kill in the normal case, but
// also a run that finds a victim already exiting, or that only pauses the
// tasks because oom_kill_disable is set; runc reports those too, and so does
// Berth. One value is sent per signal (the eventfd sums the signals that
// arrive between two reads). When the cgroup is removed the kernel signals
// the eventfd once more; that signal is recognised by cgroup.event_control
// being gone, and is not reported. v1 has no "populated" notification, so
// there Done waits for the removal ("berth delete").
//
// It returns ErrNoMemoryCgroup when paths has no cgroup with the memory
// controller. The caller must call Close.
func WatchOOM(paths map[string]string) (*Watcher, error) {
	dir, v1 := memoryCgroup(paths)
	if dir == "" {
		return nil, ErrNoMemoryCgroup
	}
	if v1 {
		return watchV1(dir)
	}
	return watchV2(dir)
}

// newWatcher makes the watcher around file and starts run in its
// goroutine. run returns why it stopped (see Err).
func newWatcher(file *os.File, run func(*Watcher) error) *Watcher {
	w := &Watcher{
		c:      make(chan struct{}),
		done:   make(chan struct{}),
		quit:   make(chan struct{}),
		exited: make(chan struct{}),
		file:   file,
	}
	go func() {
		defer close(w.exited)
		w.err = run(w)
		// Closed here too, not only by Close, so that the descriptors (and
		// on v1 the kernel's registration, which goes with the eventfd) are
		// released as soon as the cgroup is gone even if Close comes late.
		w.file.Close()
		close(w.done)
	}()
	return w
}

// send delivers n events on C. It returns false if Close was called before
// they were all received.
func (w *Watcher) send(n uint64) bool {
	for ; n > 0; n-- {
		select {
		case w.c <- struct{}{}:
		case <-w.quit:
			return false
		}
	}
	return true
}

// readErr turns a failed Read into the watcher's result: ErrWatcherClosed
// if Close caused it, the error otherwise.
func (w *Watcher) readErr(what string, err error) error {
	select {
	case <-w.quit:
		return ErrWatcherClosed
	default:
		return fmt.Errorf("read %s: %w", what, err)
	}
}

// watchV1 registers an eventfd for the OOM notifications of the v1 memory
// cgroup dir.
func watchV1(dir string) (*Watcher, error) {
	ctl, err := os.Open(filepath.Join(dir, v1OOMControl))
	if err != nil {
		return nil, err
	}
	// The kernel only needs the file while it handles the registration
	// write; it keeps a reference to the eventfd, not to this file.
	defer ctl.Close()
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, os.NewSyscallError("eventfd", err)
	}
	// os.NewFile sees O_NONBLOCK and registers the descriptor with the
	// runtime poller, so Close can interrupt a Read.
	ev := os.NewFile(uintptr(efd), "eventfd")
	reg := fmt.Sprintf("%d %d", efd, ctl.Fd())
	if err := os.WriteFile(filepath.Join(dir, v1EventControl), []byte(reg), 0); err != nil {
		ev.Close()
		return nil, fmt.Errorf("register OOM eventfd: %w", err)
	}
	return newWatcher(ev, func(w *Watcher) error { return w.runV1(dir) }), nil
}

// runV1 is the v1 watcher's loop: one eventfd read per wake-up.
func (w *Watcher) runV1(dir string) error {
	var buf [8]byte
	for {
		n, err := w.file.Read(buf[:])
		if err != nil {
			return w.readErr("eventfd", err)
		}
		if n != len(buf) {
			return fmt.Errorf("read eventfd: %d bytes", n)
		}
		count := binary.NativeEndian.Uint64(buf[:])
		// cgroup.event_control is gone once the directory is removed, which
		// the kernel does before it sends the removal signal.
		if _, err := os.Lstat(filepath.Join(dir, v1EventControl)); gone(err) {
			// count includes the removal signal; anything above it were
			// OOMs that arrived just before.
			if !w.send(count - 1) {
				return ErrWatcherClosed
			}
			return nil
		}
		if !w.send(count) {
			return ErrWatcherClosed
		}
	}
}

// watchV2 sets up inotify on the files of the v2 cgroup dir.
func watchV2(dir string) (*Watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, os.NewSyscallError("inotify_init1", err)
	}
	ino := os.NewFile(uintptr(fd), "inotify")
	// IN_DELETE_SELF is not sent by cgroupfs, which is why cgroup.events is
	// watched at all; it is asked for so that a removal elsewhere (and the
	// unit tests, on tmpfs) ends the watcher too.
	const mask = unix.IN_MODIFY | unix.IN_DELETE_SELF
	memWd, err := unix.InotifyAddWatch(fd, filepath.Join(dir, v2MemoryEvents), mask)
	if err != nil {
		ino.Close()
		return nil, fmt.Errorf("inotify watch %s: %w", v2MemoryEvents, err)
	}
	if _, err := unix.InotifyAddWatch(fd, filepath.Join(dir, v2CgroupEvents), mask); err != nil {
		ino.Close()
		return nil, fmt.Errorf("inotify watch %s: %w", v2CgroupEvents, err)
	}
	// The baseline is read after the watches exist: a kill between the two
	// is then either in the baseline or announced by inotify, never neither.
	_, kills, err := readMemoryEvents(dir)
	if err != nil {
		ino.Close()
		return nil, err
	}
	return newWatcher(ino, func(w *Watcher) error { return w.runV2(dir, memWd, kills) }), nil
}

// readMemoryEvents reads the oom and oom_kill counters of memory.events.
func readMemoryEvents(dir string) (oom, oomKill uint64, err error) {
	data, err := os.ReadFile(filepath.Join(dir, v2MemoryEvents))
	if err != nil {
		return 0, 0, err
	}
	oom, oomKill, err = parseMemoryEvents(string(data))
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", filepath.Join(dir, v2MemoryEvents), err)
	}
	return oom, oomKill, nil
}

// populated reads "populated" from cgroup.events. A file without the line
// counts as populated, so that a format change cannot end the watcher early.
func populated(dir string) (bool, error) {
	data, err := os.ReadFile(filepath.Join(dir, v2CgroupEvents))
	if err != nil {
		return false, err
	}
	kv, err := parseFlatKeyed(string(data))
	if err != nil {
		return false, fmt.Errorf("%s: %w", filepath.Join(dir, v2CgroupEvents), err)
	}
	p, ok := kv["populated"]
	return !ok || p != 0, nil
}

// inotifyEvents is what one inotify read asks the v2 loop to look at.
type inotifyEvents struct {
	kills    bool // memory.events may have a new oom_kill count
	populate bool // cgroup.events may say the cgroup is empty
	gone     bool // a watch was dropped: the files are gone
}

// parseInotify decodes the events in buf (as read from the inotify
// descriptor) into what has to be re-read. Events are decoded with
// encoding/binary from struct inotify_event's layout (int wd; u32 mask,
// cookie, len; name[len]) rather than with unsafe.
func parseInotify(buf []byte, memWd int) (inotifyEvents, error) {
	var ev inotifyEvents
	for len(buf) > 0 {
		if len(buf) < unix.SizeofInotifyEvent {
			return ev, fmt.Errorf("short inotify event: %d bytes", len(buf))
		}
		wd := int(int32(binary.NativeEndian.Uint32(buf[0:4])))
		mask := binary.NativeEndian.Uint32(buf[4:8])
		nameLen := binary.NativeEndian.Uint32(buf[12:16])
		size := unix.SizeofInotifyEvent + int(nameLen)
		if size > len(buf) {
			return ev, fmt.Errorf("short inotify event: %d of %d bytes", len(buf), size)
		}
		buf = buf[size:]
		switch {
		case mask&unix.IN_Q_OVERFLOW != 0:
			// Events were lost: look at everything again.
			ev.kills, ev.populate = true, true
		case mask&(unix.IN_DELETE_SELF|unix.IN_IGNORED|unix.IN_UNMOUNT) != 0:
			ev.gone = true
		case mask&unix.IN_MODIFY != 0 && wd == memWd:
			ev.kills = true
		case mask&unix.IN_MODIFY != 0:
			ev.populate = true
		}
	}
	return ev, nil
}

// runV2 is the v2 watcher's loop. kills is the oom_kill count already
// accounted for.
func (w *Watcher) runV2(dir string, memWd int, kills uint64) error {
	// A whole page: room for many events per read, and far more than the
	// minimum of one event with the longest name.
	buf := make([]byte, 4096)
	// The first round only checks cgroup.events: see WatchOOM.
	ev := inotifyEvents{populate: true}
	for {
		if ev.kills || ev.populate || ev.gone {
			_, n, err := readMemoryEvents(dir)
			switch {
			case gone(err):
				ev.gone = true
			case err != nil:
				return err
			case n > kills:
				if !w.send(n - kills) {
					return ErrWatcherClosed
				}
				kills = n
			}
		}
		if ev.populate && !ev.gone {
			p, err := populated(dir)
			switch {
			case gone(err):
				ev.gone = true
			case err != nil:
				return err
			case !p:
				ev.gone = true
			}
		}
		if ev.gone {
			return nil
		}
		n, err := w.file.Read(buf)
		if err != nil {
			return w.readErr("inotify", err)
		}
		if ev, err = parseInotify(buf[:n], memWd); err != nil {
			return err
		}
	}
}
