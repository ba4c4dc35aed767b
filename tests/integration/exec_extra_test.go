package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestExecIntoPausedContainerRefusedUnlessIgnorePaused(t *testing.T) {
	bundle := newBundle(t, withArgs("sleep", "100"))
	id, _ := createStarted(t, bundle)
	rt(t, "pause", id).ok(t)
	rt(t, "exec", id, "true").failed(t, "cannot exec in a paused container")
	// With --ignore-paused the exec is allowed: the new process is born in
	// the frozen cgroup, so it completes once the container is resumed.
	p := rtStart(t, rtOpts{}, "exec", "--ignore-paused", id, "sh", "-c", "echo thawed")
	time.Sleep(300 * time.Millisecond)
	rt(t, "resume", id).ok(t)
	if r := p.wait(t); r.Code != 0 || !strings.Contains(r.Stdout, "thawed") {
		t.Fatalf("exec --ignore-paused: %s", r)
	}
	rt(t, "delete", "-f", id).ok(t)
}

func TestExecCapFlagAddsCapability(t *testing.T) {
	bundle := newBundle(t, withArgs("sleep", "100"), func(s *specs.Spec) {
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}, Permitted: []string{"CAP_KILL"}, Effective: []string{"CAP_KILL"}}
	})
	id, _ := createStarted(t, bundle)
	out := rt(t, "exec", "--cap", "CAP_NET_ADMIN", id, "grep", "CapBnd", "/proc/self/status").ok(t).Stdout
	// CAP_KILL is bit 5, CAP_NET_ADMIN bit 12: 0x1020.
	if !strings.Contains(out, "0000000000001020") {
		t.Fatalf("CapBnd = %q, want CAP_KILL and CAP_NET_ADMIN", out)
	}
	rt(t, "delete", "-f", id).ok(t)
}

func TestExecBadProcessJSONFails(t *testing.T) {
	bundle := newBundle(t, withArgs("sleep", "100"))
	id, _ := createStarted(t, bundle)
	bad := filepath.Join(t.TempDir(), "process.json")
	os.WriteFile(bad, []byte(`{"args": "not-a-list"}`), 0o644)
	r := rt(t, "exec", "-p", bad, id)
	if r.Code != 255 || !strings.Contains(r.Stderr, "process") {
		t.Fatalf("exec with a bad process.json: %s", r)
	}
	empty := filepath.Join(t.TempDir(), "empty.json")
	os.WriteFile(empty, []byte(`{"args": [], "cwd": "/"}`), 0o644)
	rt(t, "exec", "-p", empty, id).failed(t, "args")
	rt(t, "delete", "-f", id).ok(t)
}

func TestContainerWithoutProcessCreatesButCannotStart(t *testing.T) {
	bundle := newBundle(t, func(s *specs.Spec) { s.Process = nil })
	id := newID(t)
	rt(t, "create", "--bundle", bundle, id).ok(t)
	if st := getState(t, id); st.Status != "created" || st.Pid <= 0 {
		t.Fatalf("state after create = %+v", st)
	}
	rt(t, "start", id).failed(t, "no process")
	if st := getState(t, id); st.Status != "stopped" {
		t.Fatalf("state after the failed start = %+v, want stopped", st)
	}
	rt(t, "delete", id).ok(t)
}
