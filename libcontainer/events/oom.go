package events

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The keys under which AddOOMCounters stores the OOM counters in
// Memory.Raw. They are the names cgroup v2 uses in memory.events, so a v2
// user finds the kernel's own names, and neither appears in memory.stat on
// v1 or v2, so nothing the kernel reports is overwritten.
const (
	RawOOM     = "oom"
	RawOOMKill = "oom_kill"
)

// ErrNoMemoryCgroup is returned by WatchOOM when the path map has no cgroup
// with the memory controller: a v2 cgroup without memory.events (the
// controller is not enabled for it, or the v2 directory of a hybrid host)
// and no v1 hierarchy holding "memory". Callers that can do without OOM
// notification, such as "events --stats", can test for it with errors.Is.
var ErrNoMemoryCgroup = errors.New("no memory cgroup: OOM events are not available")

// The files the OOM counters and notifications come from.
const (
	v1OOMControl   = "memory.oom_control"
	v1EventControl = "cgroup.event_control"
	v2MemoryEvents = "memory.events"
	v2CgroupEvents = "cgroup.events"
)

// memoryCgroup says where the memory controller of a path map is: the
// directory, and whether it is a v1 hierarchy. dir is "" when there is none.
//
// A v1 hierarchy that lists "memory" wins over the v2 directory, because
// on a hybrid host the v2 directory holds no memory files. The v2 directory
// is used only when memory.events is there, which is also how a pure v2
// cgroup without the memory controller is told apart.
func memoryCgroup(paths map[string]string) (dir string, v1 bool) {
	for key, p := range paths {
		if key == "" || p == "" {
			continue
		}
		for c := range strings.SplitSeq(key, ",") {
			if c == "memory" {
				return p, true
			}
		}
	}
	if p := paths[""]; p != "" {
		if _, err := os.Stat(filepath.Join(p, v2MemoryEvents)); err == nil {
			return p, false
		}
	}
	return "", false
}

// OOMCounters returns how many times the cgroup in paths ran out of memory
// (oom) and how many of its processes the kernel's OOM killer killed
// (oomKill), since the cgroup was created and counting its descendants.
//
// paths is Berth's cgroup path map: the key "" is the cgroup v2 directory,
// any other key is a v1 hierarchy named by its controllers ("memory",
// "cpu,cpuacct"). See memoryCgroup for which one is read.
//
// On v2 both numbers are the "oom" and "oom_kill" lines of memory.events.
// v1 keeps no count of OOM events, only of kills ("oom_kill" in
// memory.oom_control, since Linux 4.13), so there oom is oomKill, raised to
// 1 while the cgroup is under OOM ("under_oom 1") with nothing killed yet:
// that is a container paused by oom_kill_disable, which would otherwise show
// no OOM at all.
//
// A missing cgroup, controller or file gives zeros and no error, because
// a container that has no memory cgroup (or whose cgroup is being removed)
// has had no OOM that can be reported.
func OOMCounters(paths map[string]string) (oom, oomKill uint64, err error) {
	oom, oomKill, _, err = oomCounters(paths)
	return oom, oomKill, err
}

// oomCounters is OOMCounters that also says whether a counter file was
// found, so AddOOMCounters does not print zeros it did not read.
func oomCounters(paths map[string]string) (oom, oomKill uint64, found bool, err error) {
	dir, v1 := memoryCgroup(paths)
	if dir == "" {
		return 0, 0, false, nil
	}
	name := v2MemoryEvents
	if v1 {
		name = v1OOMControl
	}
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		if gone(err) {
			return 0, 0, false, nil
		}
		return 0, 0, false, err
	}
	if v1 {
		oom, oomKill, err = parseOOMControl(string(data))
	} else {
		oom, oomKill, err = parseMemoryEvents(string(data))
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("%s: %w", filepath.Join(dir, name), err)
	}
	return oom, oomKill, true, nil
}

// AddOOMCounters reads the OOM counters of the cgroup in paths (see
// OOMCounters) and stores them in s.Memory.Raw under RawOOM and RawOOMKill,
// so that "events --stats" shows them while keeping runc's schema. Nothing
// is stored when the cgroup has no counter file, so a zero in the output
// always means "read, and zero".
func AddOOMCounters(s *Stats, paths map[string]string) error {
	oom, kill, found, err := oomCounters(paths)
	if err != nil || !found {
		return err
	}
	if s.Memory.Raw == nil {
		s.Memory.Raw = make(map[string]uint64, 2)
	}
	s.Memory.Raw[RawOOM] = oom
	s.Memory.Raw[RawOOMKill] = kill
	return nil
}

// gone reports whether err means the cgroup file or directory no longer
// exists. kernfs answers ENODEV instead of ENOENT for a file of a cgroup
// removed after the file was looked up.
func gone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENODEV)
}

// parseOOMControl parses v1 memory.oom_control:
//
//	oom_kill_disable 0
//	under_oom 0
//	oom_kill 3
//
// See OOMCounters for how oom is derived.
func parseOOMControl(s string) (oom, oomKill uint64, err error) {
	kv, err := parseFlatKeyed(s)
	if err != nil {
		return 0, 0, err
	}
	oomKill = kv["oom_kill"]
	oom = max(oomKill, min(kv["under_oom"], 1))
	return oom, oomKill, nil
}

// parseMemoryEvents parses v2 memory.events ("low", "high", "max", "oom",
// "oom_kill", "oom_group_kill" lines) for the oom and oom_kill counters.
func parseMemoryEvents(s string) (oom, oomKill uint64, err error) {
	kv, err := parseFlatKeyed(s)
	if err != nil {
		return 0, 0, err
	}
	return kv["oom"], kv["oom_kill"], nil
}

// parseFlatKeyed parses a cgroup "flat keyed" file, one "key value" pair per
// line. It is strict about the lines it finds, so that a format change is an
// error rather than a silently wrong count; missing keys are simply absent,
// because which keys exist depends on the kernel version.
func parseFlatKeyed(s string) (map[string]uint64, error) {
	kv := make(map[string]uint64)
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		key, val, ok := strings.Cut(line, " ")
		if !ok || key == "" {
			return nil, fmt.Errorf("malformed line %q", line)
		}
		n, err := strconv.ParseUint(val, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("malformed line %q: %w", line, err)
		}
		kv[key] = n
	}
	return kv, sc.Err()
}
