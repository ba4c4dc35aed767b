package intelrdt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// No machine these tests run on has RDT hardware, so they use a directory
// laid out like resctrl (info/L3, info/MB, groups with schemata and tasks).
// Where the kernel differs (mkdir makes a group's files; rmdir removes a
// group with its files), the test does that part itself.

func fakeRoot(t *testing.T, groups map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"info/L3", "info/MB"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for g, schemata := range groups {
		if err := os.MkdirAll(filepath.Join(root, g, "mon_groups"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, g, "schemata"), []byte(schemata), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// kernelRmdir stands in for rmdir on resctrl, which takes a group's files
// with it.
func kernelRmdir(t *testing.T, dir string) {
	for _, f := range []string{"tasks", "schemata"} {
		os.Remove(filepath.Join(dir, f))
	}
}

func TestApplyMakesContainerGroupInSpecOrder(t *testing.T) {
	root := fakeRoot(t, nil)
	r := &specs.LinuxIntelRdt{L3CacheSchema: "L3:0=7f0", MemBwSchema: "MB:0=20", Schemata: []string{"L3:1=1f", "MB:1=70"}}
	if err := Check(root, r); err != nil {
		t.Fatal(err)
	}
	if err := Apply(root, "ctr", r, 42); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "ctr")
	if got, want := read(t, filepath.Join(dir, "schemata")), "L3:0=7f0\nMB:0=20\nL3:1=1f\nMB:1=70\n"; got != want {
		t.Errorf("schemata writes = %q, want %q (l3CacheSchema, memBwSchema, then schemata)", got, want)
	}
	if got := read(t, filepath.Join(dir, "tasks")); got != "42\n" {
		t.Errorf("tasks = %q, want 42", got)
	}
	kernelRmdir(t, dir)
	if err := Remove(root, "ctr", r); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the group named after the container remains after Remove: %v", err)
	}
}

func TestClosIDGroupIsComparedAndKept(t *testing.T) {
	root := fakeRoot(t, map[string]string{"gold": "    L3:0=07f0;1=001f\n    MB:0= 20;1= 70\n"})
	same := &specs.LinuxIntelRdt{ClosID: "gold", Schemata: []string{"L3:0=7f0;1=1f", "MB:0=20;1=70"}}
	if err := Apply(root, "ctr", same, 7); err != nil {
		t.Fatalf("matching schemata (padded by the kernel): %v", err)
	}
	if got := read(t, filepath.Join(root, "gold", "schemata")); strings.Contains(got, "L3:0=7f0;1=1f") {
		t.Errorf("an existing closID group's schemata was written: %q", got)
	}
	if got := read(t, filepath.Join(root, "gold", "tasks")); got != "7\n" {
		t.Errorf("tasks = %q, want 7", got)
	}
	other := &specs.LinuxIntelRdt{ClosID: "gold", L3CacheSchema: "L3:0=ff"}
	if err := Apply(root, "ctr2", other, 8); err == nil || !strings.Contains(err.Error(), "different schema") {
		t.Errorf("a different schema for an existing closID group: err = %v", err)
	}
	if err := Remove(root, "ctr", same); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "gold")); err != nil {
		t.Errorf("the closID group was removed: %v", err)
	}
}

func TestMonitoringGroup(t *testing.T) {
	root := fakeRoot(t, map[string]string{"gold": "L3:0=ff\n"})
	r := &specs.LinuxIntelRdt{ClosID: "gold", EnableMonitoring: true}
	if err := Apply(root, "ctr", r, 9); err != nil {
		t.Fatal(err)
	}
	mon := filepath.Join(root, "gold", "mon_groups", "ctr")
	if got := read(t, filepath.Join(mon, "tasks")); got != "9\n" || TasksDir(root, "ctr", r) != mon {
		t.Errorf("MON group tasks = %q (TasksDir %s), want 9 in %s", got, TasksDir(root, "ctr", r), mon)
	}
	kernelRmdir(t, mon)
	if err := Remove(root, "ctr", r); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(mon); !os.IsNotExist(err) {
		t.Errorf("the MON group remains: %v", err)
	}
}

func TestCheckRefuses(t *testing.T) {
	root := fakeRoot(t, nil)
	os.RemoveAll(filepath.Join(root, "info", "MB"))
	for want, r := range map[string]*specs.LinuxIntelRdt{
		"no such resctrl group":  {ClosID: "missing"},
		"must start with MB:":    {MemBwSchema: "L3:0=1"},
		"no MB resource":         {Schemata: []string{"MB:0=10"}},
		"not a group name":       {ClosID: "../escape"},
		"contains a newline":     {Schemata: []string{"L3:0=f\nMB:0=1"}},
		"not RESOURCE:ID=VALUE;": {Schemata: []string{"bogus"}},
	} {
		if err := Check(root, r); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check(%+v) = %v, want an error with %q", r, err, want)
		}
	}
}
