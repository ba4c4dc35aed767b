package state

import (
	"os"
	"path/filepath"
	"testing"
)

func TestValidID(t *testing.T) {
	tests := map[string]bool{
		"c1": true, "a.b-c_d+e": true, "": false, ".": false, "..": false,
		"../x": false, "a/b": false, "a b": false, "x\n": false,
	}
	for id, want := range tests {
		if got := ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
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
