package integration

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// assertNothingLeft checks that a failed create left no state dir and no
// cgroup for id.
func assertNothingLeft(t *testing.T, id string) {
	t.Helper()
	if fileExists(filepath.Join(stateRoot(t), id)) {
		t.Errorf("state dir for %s exists after failed create", id)
	}
	if dirs := cgroupDirsMatching([]string{id}); len(dirs) > 0 {
		t.Errorf("cgroup dirs exist after failed create: %v", dirs)
	}
	if r := rt(t, "list", "-q"); strings.Contains(r.Stdout, id) {
		t.Errorf("list shows %s after failed create", id)
	}
}

// TestCreateDuplicateIDFails checks the error for an id in use.
func TestCreateDuplicateIDFails(t *testing.T) {
	bundle := newBundle(t)
	id := newID(t)
	rt(t, "create", "--bundle", bundle, id).ok(t)
	pid := getState(t, id).Pid
	rt(t, "create", "--bundle", newBundle(t), id).failed(t, "container with given ID already exists")
	if st := getState(t, id); st.Status != "created" || st.Pid != pid {
		t.Errorf("original container changed: %+v", st)
	}
}

// TestCreateInvalidIDFails checks that ids with path elements are refused.
func TestCreateInvalidIDFails(t *testing.T) {
	bundle := newBundle(t)
	for _, id := range []string{"../x", "a/b", "..", "."} {
		t.Run(id, func(t *testing.T) {
			rt(t, "create", "--bundle", bundle, id).failed(t, "invalid container ID format")
			entries, _ := os.ReadDir(stateRoot(t))
			if len(entries) != 0 {
				t.Errorf("state root not empty after refused create: %v", entries)
			}
			if fileExists(filepath.Join(filepath.Dir(stateRoot(t)), "x")) {
				t.Errorf("create with id %q wrote outside the state root", id)
			}
		})
	}
}

// TestCreateMalformedConfigFails checks that bad config.json files are
// refused with an error and leave nothing behind.
func TestCreateMalformedConfigFails(t *testing.T) {
	cases := map[string]string{
		"not json":          "{ this is not json",
		"truncated":         `{"ociVersion": "1.0.2", "process": {"args": ["/bin/true"]`,
		"wrong field types": `{"ociVersion": "1.0.2", "process": {"args": "/bin/true", "cwd": 5}, "root": {"path": "rootfs"}}`,
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			bundle := newBundle(t)
			if err := os.WriteFile(filepath.Join(bundle, "config.json"), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			id := newID(t)
			r := rt(t, "create", "--bundle", bundle, id).failed(t)
			if strings.TrimSpace(r.Stderr) == "" || strings.Contains(r.Output(), "panic") {
				t.Errorf("want a clear error message: %s", r)
			}
			assertNothingLeft(t, id)
		})
	}
}

// TestCreateMissingRootfsFails checks create with no rootfs directory.
func TestCreateMissingRootfsFails(t *testing.T) {
	bundle := newBundle(t)
	if err := os.RemoveAll(rootfsOf(bundle)); err != nil {
		t.Fatal(err)
	}
	id := newID(t)
	rt(t, "create", "--bundle", bundle, id).failed(t)
	assertNothingLeft(t, id)
}

// TestCreateMissingExecutableFails checks that create (not start) fails
// when process.args[0] cannot be found, and names it.
func TestCreateMissingExecutableFails(t *testing.T) {
	for _, exe := range []string{"/bin/no-such-binary", "no-such-command"} {
		t.Run(exe, func(t *testing.T) {
			bundle := newBundle(t, withArgs(exe, "arg"))
			id := newID(t)
			rt(t, "create", "--bundle", bundle, id).failed(t, exe)
			assertNothingLeft(t, id)
		})
	}
}

// TestCreateRelativeCwdFails checks that process.cwd must be absolute.
func TestCreateRelativeCwdFails(t *testing.T) {
	bundle := newBundle(t, func(s *specs.Spec) { s.Process.Cwd = "tmp" })
	id := newID(t)
	r := rt(t, "create", "--bundle", bundle, id).failed(t)
	if !strings.Contains(strings.ToLower(r.Output()), "cwd") {
		t.Errorf("error does not mention cwd: %s", r)
	}
	assertNothingLeft(t, id)
}

// TestLogJSONRecordsErrors checks --log FILE --log-format json on a failing
// command.
func TestLogJSONRecordsErrors(t *testing.T) {
	logFile := filepath.Join(newDir(t, "l"), "log.json")
	r := rtWith(t, rtOpts{Global: []string{"--log", logFile, "--log-format", "json"}}, "state", newID(t))
	if r.Code == 0 {
		t.Fatalf("state of a missing container succeeded: %s", r)
	}
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatalf("log file not written: %v", err)
	}
	found := false
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var entry map[string]any
		if err := json.Unmarshal(line, &entry); err != nil {
			t.Errorf("log line is not JSON: %q", line)
			continue
		}
		if entry["level"] == "error" {
			found = true
			if msg, _ := entry["msg"].(string); !strings.Contains(msg, "container does not exist") {
				t.Errorf("error entry msg = %q, want it to mention the cause", msg)
			}
		}
	}
	if !found {
		t.Errorf("no \"level\":\"error\" line in log:\n%s", b)
	}
}

// TestVersionOutput checks --version.
func TestVersionOutput(t *testing.T) {
	r := rtWith(t, rtOpts{NoRoot: true}, "--version").ok(t)
	ls := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	hasSpec := false
	for _, l := range ls {
		hasSpec = hasSpec || strings.HasPrefix(l, "spec: ")
	}
	if !hasSpec {
		t.Errorf("--version has no `spec: ` line:\n%s", r.Stdout)
	}
	if runtimeIsRunc {
		t.Skip("runtime under test is runc; not checking the berth version line")
	}
	if !strings.HasPrefix(ls[0], "berth version ") {
		t.Errorf("first line = %q, want `berth version ...`", ls[0])
	}
}

// TestRelativeRootIsUsable checks that a relative --root works and names
// the same directory as its absolute form.
func TestRelativeRootIsUsable(t *testing.T) {
	root := stateRoot(t)
	rel := rtOpts{NoRoot: true, Dir: filepath.Dir(root)}
	bundle := newBundle(t)
	id := newID(t)
	rtWith(t, rel, "--root", filepath.Base(root), "create", "--bundle", bundle, id).ok(t)
	if !fileExists(filepath.Join(root, id)) {
		t.Fatalf("state not under %s", root)
	}
	// The absolute root, from another directory, sees it.
	if st := getState(t, id); st.Status != "created" {
		t.Errorf("status = %q", st.Status)
	}
	rtWith(t, rel, "--root", filepath.Base(root), "delete", "-f", id).ok(t)
}

// TestSpecWritesUsableConfig checks `spec -b DIR`.
func TestSpecWritesUsableConfig(t *testing.T) {
	bundle := newBundle(t)
	cfg := filepath.Join(bundle, "config.json")
	if err := os.Remove(cfg); err != nil {
		t.Fatal(err)
	}
	rt(t, "spec", "-b", bundle).ok(t)
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatalf("spec did not write config.json: %v", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("spec output is not a valid spec: %v", err)
	}
	if s.Version == "" || s.Root == nil || s.Root.Path != "rootfs" || s.Process == nil {
		t.Fatalf("spec output lacks ociVersion/root/process: %s", b)
	}
	// The default spec wants a terminal, which create cannot give without
	// --console-socket; everything else is used as generated.
	s.Process.Terminal = false
	s.Process.Args = []string{"/bin/probe", "sleep"}
	writeSpec(t, bundle, &s)
	id := newID(t)
	rt(t, "create", "--bundle", bundle, id).ok(t)
	if st := getState(t, id); st.Status != "created" {
		t.Errorf("status = %q", st.Status)
	}
}

// TestSpecRefusesToOverwrite checks that spec keeps an existing config.json.
func TestSpecRefusesToOverwrite(t *testing.T) {
	dir := newDir(t, "spec")
	cfg := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfg, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	rt(t, "spec", "-b", dir).failed(t, "config.json")
	if b, _ := os.ReadFile(cfg); string(b) != "keep me" {
		t.Errorf("config.json was overwritten: %q", b)
	}
}
