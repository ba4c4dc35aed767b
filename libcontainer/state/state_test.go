package state

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestValidID(t *testing.T) {
	tests := map[string]bool{
		"c1": true, "a.b-c_d+e": true, "": false, ".": false, "..": false,
		"../x": false, "a/b": false, "a b": false, "x\n": false,
		"Z9": true, "caf\u00e9": false, "x\x00": false, strings.Repeat("a", 1025): false,
	}
	for id, want := range tests {
		if got := ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
}

// TestValidIDIsRuncsRegexp checks the byte loop against runc's rule as a
// regexp, for every byte alone and between two letters.
func TestValidIDIsRuncsRegexp(t *testing.T) {
	runcs := regexp.MustCompile(`^[\w+\-.]+$`)
	for b := 0; b < 256; b++ {
		for _, id := range []string{string([]byte{byte(b)}), "a" + string([]byte{byte(b)}) + "z"} {
			want := id != "." && runcs.MatchString(id)
			if got := ValidID(id); got != want {
				t.Errorf("ValidID(%q) = %v, runc's rule says %v", id, got, want)
			}
		}
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := &State{ID: "c1", Bundle: "/b", InitPid: 42, InitStartTime: 7, CgroupPaths: map[string]string{"": "/sys/fs/cgroup/x"}}
	if err := s.Save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "c1" || got.InitPid != 42 || got.CgroupPaths[""] != "/sys/fs/cgroup/x" {
		t.Fatalf("round trip lost data: %+v", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestStatusOfDeadInitIsStopped(t *testing.T) {
	dir := t.TempDir()
	s := &State{InitPid: os.Getpid(), InitStartTime: 1}
	if got := s.Status(dir, nil); got != Stopped {
		t.Fatalf("status with wrong start time = %s, want stopped", got)
	}
	s.InitPid = 0
	if got := s.Status(dir, nil); got != Stopped {
		t.Fatalf("status with pid 0 = %s, want stopped", got)
	}
}

func TestDirStaysInsideRoot(t *testing.T) {
	root := t.TempDir()
	d, err := Dir(root, "../../etc")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(d) != root && !filepath.HasPrefix(d, root) {
		t.Fatalf("Dir escaped root: %s", d)
	}
}

// TestLifecycleReadsWhatStartAndDeleteNeed: the narrow read of the config
// copy sees the same process, hooks and resctrl group as the whole spec.
func TestLifecycleReadsWhatStartAndDeleteNeed(t *testing.T) {
	cases := []struct {
		config       string
		process      bool
		poststop     int
		intelRdtCLOS string
	}{
		{`{"ociVersion":"1.2.0","process":{"args":["true"],"cwd":"/"}}`, true, 0, ""},
		{`{"ociVersion":"1.2.0"}`, false, 0, ""},
		{`{"ociVersion":"1.2.0","process":null}`, false, 0, ""},
		{`{"ociVersion":"1.2.0","process":{"args":["true"]},"hooks":{"poststop":[{"path":"/bin/a"},{"path":"/bin/b"}]},` +
			`"linux":{"intelRdt":{"closID":"c1"},"namespaces":[{"type":"pid"}]}}`, true, 2, "c1"},
	}
	for _, c := range cases {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(c.config), 0o600); err != nil {
			t.Fatal(err)
		}
		lc, err := LoadLifecycle(dir)
		if err != nil {
			t.Fatalf("%s: %v", c.config, err)
		}
		spec, err := LoadSpec(dir)
		if err != nil {
			t.Fatal(err)
		}
		if lc.HasProcess() != c.process || (spec.Process != nil) != c.process {
			t.Errorf("%s: HasProcess %v, spec.Process %v, want %v", c.config, lc.HasProcess(), spec.Process != nil, c.process)
		}
		n := 0
		if lc.Hooks != nil {
			n = len(lc.Hooks.Poststop)
		}
		if n != c.poststop {
			t.Errorf("%s: %d poststop hooks, want %d", c.config, n, c.poststop)
		}
		clos := ""
		if lc.Linux != nil && lc.Linux.IntelRdt != nil {
			clos = lc.Linux.IntelRdt.ClosID
		}
		if clos != c.intelRdtCLOS {
			t.Errorf("%s: intelRdt closID %q, want %q", c.config, clos, c.intelRdtCLOS)
		}
	}
	if _, err := LoadLifecycle(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("no config copy: %v, want ErrNotExist", err)
	}
}
