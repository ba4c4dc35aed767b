package events

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParseOOMControl(t *testing.T) {
	tests := []struct {
		name         string
		in           string
		oom, oomKill uint64
		wantErr      bool
	}{
		{name: "no oom", in: "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"},
		{name: "kills", in: "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", oom: 3, oomKill: 3},
		// oom_kill_disable: the tasks are paused, nothing is killed, but the
		// cgroup is out of memory and that must show.
		{name: "paused under oom", in: "oom_kill_disable 1\nunder_oom 1\noom_kill 0\n", oom: 1},
		{name: "under oom after kills", in: "oom_kill_disable 0\nunder_oom 1\noom_kill 2\n", oom: 2, oomKill: 2},
		// Before Linux 4.13 there is no oom_kill line.
		{name: "old kernel", in: "oom_kill_disable 0\nunder_oom 0\n"},
		{name: "old kernel under oom", in: "oom_kill_disable 1\nunder_oom 1\n", oom: 1},
		{name: "no trailing newline", in: "oom_kill_disable 0\nunder_oom 0\noom_kill 7", oom: 7, oomKill: 7},
		{name: "empty", in: ""},
		{name: "bad value", in: "oom_kill_disable 0\nunder_oom 0\noom_kill x\n", wantErr: true},
		{name: "no value", in: "oom_kill\n", wantErr: true},
		{name: "negative", in: "oom_kill -1\n", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oom, kill, err := parseOOMControl(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if oom != tc.oom || kill != tc.oomKill {
				t.Errorf("got oom %d, oom_kill %d; want %d, %d", oom, kill, tc.oom, tc.oomKill)
			}
		})
	}
}

func TestParseMemoryEvents(t *testing.T) {
	tests := []struct {
		name         string
		in           string
		oom, oomKill uint64
		wantErr      bool
	}{
		{name: "none", in: "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"},
		{name: "counts", in: "low 0\nhigh 12\nmax 40\noom 5\noom_kill 4\noom_group_kill 0\n", oom: 5, oomKill: 4},
		// Kernels before 4.13 have no oom_kill, before 5.19 no oom_group_kill.
		{name: "old kernel", in: "low 0\nhigh 0\nmax 3\noom 2\n", oom: 2},
		{name: "big", in: "oom 18446744073709551615\noom_kill 1\n", oom: 1<<64 - 1, oomKill: 1},
		{name: "empty", in: ""},
		{name: "garbage", in: "oom=1\n", wantErr: true},
		{name: "overflow", in: "oom 18446744073709551616\n", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oom, kill, err := parseMemoryEvents(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if oom != tc.oom || kill != tc.oomKill {
				t.Errorf("got oom %d, oom_kill %d; want %d, %d", oom, kill, tc.oom, tc.oomKill)
			}
		})
	}
}

// fakeCgroup makes a directory holding the given files, standing in for a
// cgroup directory.
func fakeCgroup(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestOOMCounters(t *testing.T) {
	v1 := fakeCgroup(t, map[string]string{v1OOMControl: "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"})
	v2 := fakeCgroup(t, map[string]string{v2MemoryEvents: "low 0\nhigh 0\nmax 9\noom 3\noom_kill 2\n"})
	// The v2 directory of a hybrid host: no memory files.
	unified := fakeCgroup(t, map[string]string{"cgroup.events": "populated 1\nfrozen 0\n"})
	// A v1 memory directory whose files are gone (cgroup being removed).
	empty := t.TempDir()
	bad := fakeCgroup(t, map[string]string{v2MemoryEvents: "oom lots\n"})

	tests := []struct {
		name         string
		paths        map[string]string
		oom, oomKill uint64
		found        bool
		wantErr      bool
	}{
		{name: "nil map", paths: nil},
		{name: "no memory controller", paths: map[string]string{"cpu,cpuacct": v1, "pids": v1}},
		{name: "v1", paths: map[string]string{"memory": v1, "cpu,cpuacct": empty}, oom: 2, oomKill: 2, found: true},
		{name: "v1 combined hierarchy", paths: map[string]string{"cpu,memory": v1}, oom: 2, oomKill: 2, found: true},
		{name: "v1 named like memory", paths: map[string]string{"memoryx": v1, "name=memory": v1}},
		{name: "v2", paths: map[string]string{"": v2}, oom: 3, oomKill: 2, found: true},
		{name: "hybrid", paths: map[string]string{"": unified, "memory": v1}, oom: 2, oomKill: 2, found: true},
		// Even if the v2 directory had memory files, a v1 memory hierarchy
		// is where the memory controller is.
		{name: "v1 wins", paths: map[string]string{"": v2, "memory": v1}, oom: 2, oomKill: 2, found: true},
		{name: "v2 without memory controller", paths: map[string]string{"": unified}},
		{name: "v1 file missing", paths: map[string]string{"memory": empty}},
		{name: "v1 dir missing", paths: map[string]string{"memory": filepath.Join(empty, "gone")}},
		{name: "v2 dir missing", paths: map[string]string{"": filepath.Join(empty, "gone")}},
		{name: "bad file", paths: map[string]string{"": bad}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oom, kill, err := OOMCounters(tc.paths)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if oom != tc.oom || kill != tc.oomKill {
				t.Errorf("got oom %d, oom_kill %d; want %d, %d", oom, kill, tc.oom, tc.oomKill)
			}

			s := &Stats{}
			err = AddOOMCounters(s, tc.paths)
			if (err != nil) != tc.wantErr {
				t.Fatalf("AddOOMCounters err = %v, want error %v", err, tc.wantErr)
			}
			var want map[string]uint64
			if tc.found {
				want = map[string]uint64{RawOOM: tc.oom, RawOOMKill: tc.oomKill}
			}
			if !reflect.DeepEqual(s.Memory.Raw, want) {
				t.Errorf("Raw = %v, want %v", s.Memory.Raw, want)
			}
		})
	}
}

// TestAddOOMCountersKeepsRaw checks that the counters are added to
// memory.stat's keys, not put in their place.
func TestAddOOMCountersKeepsRaw(t *testing.T) {
	v2 := fakeCgroup(t, map[string]string{v2MemoryEvents: "oom 1\noom_kill 1\n"})
	s := &Stats{Memory: Memory{Raw: map[string]uint64{"anon": 4096}}}
	if err := AddOOMCounters(s, map[string]string{"": v2}); err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"anon": 4096, "oom": 1, "oom_kill": 1}
	if !reflect.DeepEqual(s.Memory.Raw, want) {
		t.Errorf("Raw = %v, want %v", s.Memory.Raw, want)
	}
}
