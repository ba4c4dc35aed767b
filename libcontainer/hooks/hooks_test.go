package hooks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRunPassesStateArgsAndEnv(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	h := specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", `cat > "$OUT"; echo " $0 $1" >> "$OUT"`, "a0", "a1"}, Env: []string{"OUT=" + out}}
	if err := Run(h, specs.State{ID: "c1", Status: specs.StateCreating, Pid: 42, Bundle: "/b"}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(out)
	s := string(data)
	for _, want := range []string{`"id":"c1"`, `"status":"creating"`, `"pid":42`, "a0 a1"} {
		if !strings.Contains(s, want) {
			t.Errorf("hook saw %q, missing %q", s, want)
		}
	}
}

func TestRunFailureIncludesOutput(t *testing.T) {
	err := Run(specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "echo oops >&2; exit 3"}}, specs.State{})
	if err == nil || !strings.Contains(err.Error(), "oops") || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("err = %v", err)
	}
}

func TestRunTimeout(t *testing.T) {
	one := 1
	err := Run(specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "sleep 10"}, Timeout: &one}, specs.State{})
	if err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("err = %v", err)
	}
}

func TestRunAllStopsAtFirstFailureAndLoggedRunsAll(t *testing.T) {
	dir := t.TempDir()
	mark := func(n string) specs.Hook {
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "touch " + filepath.Join(dir, n)}}
	}
	fail := specs.Hook{Path: "/bin/false"}
	if err := RunAll("prestart", []specs.Hook{mark("a"), fail, mark("b")}, specs.State{}); err == nil || !strings.Contains(err.Error(), "error running hook #1 (prestart)") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "b")); err == nil {
		t.Fatal("a hook after the failing one ran")
	}
	if err := RunAllLogged("poststop", []specs.Hook{fail, mark("c")}, specs.State{}); err == nil {
		t.Fatal("failure not reported")
	}
	if _, err := os.Stat(filepath.Join(dir, "c")); err != nil {
		t.Fatal("poststop hooks after a failure did not run")
	}
}
