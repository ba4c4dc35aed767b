package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestLifecycleCreateStartKillDelete walks one container through
// created -> running -> stopped -> deleted and checks state at each step.
func TestLifecycleCreateStartKillDelete(t *testing.T) {
	bundle := newBundle(t, withProbe("signals"))
	id := newID(t)
	cr := rt(t, "create", "--bundle", bundle, id).ok(t)

	st := getState(t, id)
	if st.Status != "created" {
		t.Fatalf("status after create = %q, want created", st.Status)
	}
	if st.Pid <= 0 || !pidAlive(st.Pid) {
		t.Fatalf("created container pid %d is not a live process", st.Pid)
	}
	if st.ID != id || st.Bundle != bundle || st.Rootfs != rootfsOf(bundle) {
		t.Errorf("state id/bundle/rootfs = %q %q %q, want %q %q %q", st.ID, st.Bundle, st.Rootfs, id, bundle, rootfsOf(bundle))
	}
	createdPid := st.Pid

	rt(t, "start", id).ok(t)
	st = getState(t, id)
	if st.Status != "running" || st.Pid != createdPid {
		t.Fatalf("after start: status %q pid %d, want running pid %d", st.Status, st.Pid, createdPid)
	}
	waitOutput(t, cr.StdoutPath, "ready", 10*time.Second)

	rt(t, "kill", id, "USR1").ok(t)
	waitOutput(t, cr.StdoutPath, "SIGUSR1", 10*time.Second)

	st = waitStatus(t, id, "stopped", 10*time.Second)
	if st.Pid != 0 {
		t.Errorf("stopped container pid = %d, want 0", st.Pid)
	}
	rt(t, "delete", id).ok(t)
	if fileExists(filepath.Join(stateRoot(t), id)) {
		t.Errorf("state dir %s remains after delete", filepath.Join(stateRoot(t), id))
	}
	rt(t, "state", id).failed(t, "container does not exist")
}

// TestStateJSONHasExactlyRuncFields checks the set of keys in `state`
// output, with and without annotations.
func TestStateJSONHasExactlyRuncFields(t *testing.T) {
	for _, withAnnotations := range []bool{false, true} {
		t.Run("annotations="+strconv.FormatBool(withAnnotations), func(t *testing.T) {
			bundle := newBundle(t, func(s *specs.Spec) {
				if withAnnotations {
					s.Annotations = map[string]string{"org.example.key": "value"}
				}
			})
			id := newID(t)
			rt(t, "create", "--bundle", bundle, id).ok(t)
			r := rt(t, "state", id).ok(t)
			var m map[string]json.RawMessage
			if err := json.Unmarshal([]byte(r.Stdout), &m); err != nil {
				t.Fatalf("state is not a JSON object: %v\n%s", err, r)
			}
			want := []string{"ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner"}
			if withAnnotations {
				want = append(want, "annotations")
			}
			for _, k := range want {
				if _, ok := m[k]; !ok {
					t.Errorf("state lacks %q: %s", k, r.Stdout)
				}
			}
			for k := range m {
				if !contains(want, k) {
					t.Errorf("state has unexpected key %q: %s", k, r.Stdout)
				}
			}
			st := getState(t, id)
			if withAnnotations && st.Annotations["org.example.key"] != "value" {
				t.Errorf("annotations = %v", st.Annotations)
			}
			if st.Owner != "" && st.Owner != "root" {
				t.Errorf("owner = %q, want root (or empty)", st.Owner)
			}
			if time.Since(st.Created) > time.Hour || time.Until(st.Created) > time.Minute {
				t.Errorf("created = %v, not about now", st.Created)
			}
		})
	}
}

// TestPidFileIsDecimalWithoutNewline checks --pid-file on create.
func TestPidFileIsDecimalWithoutNewline(t *testing.T) {
	bundle := newBundle(t)
	id := newID(t)
	pidFile := filepath.Join(newDir(t, "p"), "pid")
	rt(t, "create", "--bundle", bundle, "--pid-file", pidFile, id).ok(t)
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9]+$`).Match(b) {
		t.Fatalf("pid file content %q is not bare decimal", b)
	}
	pid, _ := strconv.Atoi(string(b))
	if st := getState(t, id); st.Pid != pid {
		t.Errorf("pid file says %d, state says %d", pid, st.Pid)
	}
}

// TestRunForwardsStdoutAndDeletesContainer checks that a foreground run
// passes the container's stdout through and removes the container.
func TestRunForwardsStdoutAndDeletesContainer(t *testing.T) {
	bundle := newBundle(t, withArgs("/bin/echo", "hello from the container"))
	id := newID(t)
	r := rt(t, "run", "--bundle", bundle, id).ok(t)
	if strings.TrimSpace(r.Stdout) != "hello from the container" {
		t.Errorf("stdout = %q", r.Stdout)
	}
	rt(t, "state", id).failed(t, "container does not exist")
	if fileExists(filepath.Join(stateRoot(t), id)) {
		t.Errorf("state dir remains after run")
	}
}

// TestRunPropagatesExitCode checks that run exits with the container's
// exit status.
func TestRunPropagatesExitCode(t *testing.T) {
	for _, code := range []int{0, 1, 3, 42} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			r := runContainer(t, withProbe("exit", strconv.Itoa(code)))
			if r.Code != code {
				t.Errorf("exit code = %d, want %d: %s", r.Code, code, r)
			}
		})
	}
}

// TestRunKilledBySignalExits128PlusSignal kills a foreground container
// with SIGKILL and expects run to exit 137.
func TestRunKilledBySignalExits128PlusSignal(t *testing.T) {
	bundle := newBundle(t)
	id := newID(t)
	p := rtStart(t, rtOpts{}, "run", "--bundle", bundle, id)
	if !waitFor(10*time.Second, func() bool {
		r := rt(t, "state", id)
		return r.Code == 0 && strings.Contains(r.Stdout, `"running"`)
	}) {
		r := p.wait(t)
		t.Fatalf("container never ran: %s", r)
	}
	rt(t, "kill", id, "KILL").ok(t)
	r := p.wait(t)
	if r.Code != 128+int(syscall.SIGKILL) {
		t.Errorf("run exit code = %d, want %d: %s", r.Code, 128+int(syscall.SIGKILL), r)
	}
}

// TestRunKeepLeavesStoppedContainer checks run --keep.
func TestRunKeepLeavesStoppedContainer(t *testing.T) {
	bundle := newBundle(t, withProbe("exit", "0"))
	id := newID(t)
	rt(t, "run", "--keep", "--bundle", bundle, id).ok(t)
	st := getState(t, id)
	if st.Status != "stopped" {
		t.Errorf("status after run --keep = %q, want stopped", st.Status)
	}
	rt(t, "delete", id).ok(t)
	rt(t, "state", id).failed(t, "container does not exist")
}

// TestRunDetachedLeavesRunningContainer checks run -d.
func TestRunDetachedLeavesRunningContainer(t *testing.T) {
	bundle := newBundle(t)
	id := newID(t)
	r := rt(t, "run", "-d", "--bundle", bundle, id).ok(t)
	if r.Code != 0 {
		t.Fatalf("run -d: %s", r)
	}
	st := getState(t, id)
	if st.Status != "running" || !pidAlive(st.Pid) {
		t.Fatalf("after run -d: status %q pid %d", st.Status, st.Pid)
	}
	rt(t, "kill", id, "KILL").ok(t)
	waitStatus(t, id, "stopped", 10*time.Second)
	rt(t, "delete", id).ok(t)
}

// TestListFormats checks list's table, -q and -f json outputs.
func TestListFormats(t *testing.T) {
	// Empty root first.
	r := rt(t, "list").ok(t)
	ls := lines(r.Stdout)
	if len(ls) != 1 || strings.Join(strings.Fields(ls[0]), " ") != "ID PID STATUS BUNDLE CREATED OWNER" {
		t.Errorf("empty list = %q, want just the header", r.Stdout)
	}
	if r := rt(t, "list", "-f", "json").ok(t); strings.TrimSpace(r.Stdout) != "null" {
		t.Errorf("empty list -f json = %q, want null", r.Stdout)
	}
	if r := rt(t, "list", "-q").ok(t); strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("empty list -q = %q, want nothing", r.Stdout)
	}

	bundle := newBundle(t)
	id := newID(t)
	rt(t, "create", "--bundle", bundle, id).ok(t)
	st := getState(t, id)

	r = rt(t, "list").ok(t)
	ls = lines(r.Stdout)
	if len(ls) != 2 {
		t.Fatalf("list = %q, want header and one row", r.Stdout)
	}
	if got := strings.Join(strings.Fields(ls[0]), " "); got != "ID PID STATUS BUNDLE CREATED OWNER" {
		t.Errorf("header = %q", ls[0])
	}
	row := strings.Fields(ls[1])
	if len(row) < 6 || row[0] != id || row[1] != strconv.Itoa(st.Pid) || row[2] != "created" || row[3] != bundle {
		t.Errorf("row = %q, want id %s pid %d created %s ...", ls[1], id, st.Pid, bundle)
	}
	if len(row) >= 6 && row[len(row)-1] != "root" {
		t.Errorf("owner column = %q, want root", row[len(row)-1])
	}
	// Columns are aligned: every column of the row starts where the
	// header's does.
	for _, col := range []string{"PID", "STATUS", "BUNDLE"} {
		i := strings.Index(ls[0], col)
		if i <= 0 || i >= len(ls[1]) || ls[1][i-1] != ' ' || ls[1][i] == ' ' {
			t.Errorf("column %s is not aligned:\n%s\n%s", col, ls[0], ls[1])
		}
	}

	if r := rt(t, "list", "-q").ok(t); strings.TrimSpace(r.Stdout) != id {
		t.Errorf("list -q = %q, want %q", r.Stdout, id)
	}

	r = rt(t, "list", "-f", "json").ok(t)
	var arr []map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &arr); err != nil {
		t.Fatalf("list -f json is not an array: %v\n%s", err, r)
	}
	if len(arr) != 1 || arr[0]["id"] != id || arr[0]["status"] != "created" || arr[0]["bundle"] != bundle {
		t.Errorf("list -f json = %s", r.Stdout)
	}
	if pid, _ := arr[0]["pid"].(float64); int(pid) != st.Pid {
		t.Errorf("list -f json pid = %v, want %d", arr[0]["pid"], st.Pid)
	}
}

// TestKillSignalForms sends signals in the accepted spellings and checks
// the container's init receives them.
func TestKillSignalForms(t *testing.T) {
	cases := []struct {
		name   string
		args   []string // after the id
		expect string   // signal the probe should report; "" = killed
	}{
		{"default is TERM", nil, "SIGTERM"},
		{"number", []string{"10"}, "SIGUSR1"},
		{"short name", []string{"USR2"}, "SIGUSR2"},
		{"SIG name", []string{"SIGHUP"}, "SIGHUP"},
		{"KILL", []string{"KILL"}, ""},
		{"SIGKILL", []string{"SIGKILL"}, ""},
		{"number 9", []string{"9"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bundle := newBundle(t, withProbe("signals"))
			id, cr := createStarted(t, bundle)
			waitOutput(t, cr.StdoutPath, "ready", 10*time.Second)
			rt(t, append([]string{"kill", id}, tc.args...)...).ok(t)
			if tc.expect != "" {
				waitOutput(t, cr.StdoutPath, tc.expect, 10*time.Second)
			}
			waitStatus(t, id, "stopped", 10*time.Second)
		})
	}
}

// TestKillAllFlagAccepted checks kill -a / --all.
func TestKillAllFlagAccepted(t *testing.T) {
	for _, flag := range []string{"-a", "--all"} {
		t.Run(flag, func(t *testing.T) {
			id, _ := createStarted(t, newBundle(t))
			rt(t, "kill", flag, id, "KILL").ok(t)
			waitStatus(t, id, "stopped", 10*time.Second)
		})
	}
}

// TestKillUnknownSignalFails checks that a bad signal name is refused and
// named in the error.
func TestKillUnknownSignalFails(t *testing.T) {
	id, _ := createStarted(t, newBundle(t))
	rt(t, "kill", id, "NOTASIGNAL").failed(t, "NOTASIGNAL")
	if st := getState(t, id); st.Status != "running" {
		t.Errorf("container is %q after a failed kill, want running", st.Status)
	}
}

// TestKillStoppedContainerFails checks the error for signalling a stopped
// container.
func TestKillStoppedContainerFails(t *testing.T) {
	bundle := newBundle(t, withProbe("exit", "0"))
	id, _ := createStarted(t, bundle)
	waitStatus(t, id, "stopped", 10*time.Second)
	rt(t, "kill", id, "TERM").failed(t, "container not running")
}

// TestDeleteRunningWithoutForceFails checks that delete refuses a running
// container and leaves it alone.
func TestDeleteRunningWithoutForceFails(t *testing.T) {
	id, _ := createStarted(t, newBundle(t))
	rt(t, "delete", id).failed(t)
	if st := getState(t, id); st.Status != "running" || !pidAlive(st.Pid) {
		t.Errorf("after refused delete: status %q pid %d", st.Status, st.Pid)
	}
}

// TestDeleteCreatedWithoutForceKillsAndRemoves checks that a created (not
// yet started) container can be deleted without -f.
func TestDeleteCreatedWithoutForceKillsAndRemoves(t *testing.T) {
	bundle := newBundle(t)
	id := newID(t)
	rt(t, "create", "--bundle", bundle, id).ok(t)
	pid := getState(t, id).Pid
	rt(t, "delete", id).ok(t)
	rt(t, "state", id).failed(t, "container does not exist")
	if !waitFor(5*time.Second, func() bool { return !pidAlive(pid) }) {
		t.Errorf("init pid %d still alive after delete", pid)
	}
}

// TestDeleteForceRemovesRunningContainer checks delete -f.
func TestDeleteForceRemovesRunningContainer(t *testing.T) {
	for _, flag := range []string{"-f", "--force"} {
		t.Run(flag, func(t *testing.T) {
			id, _ := createStarted(t, newBundle(t))
			pid := getState(t, id).Pid
			rt(t, "delete", flag, id).ok(t)
			rt(t, "state", id).failed(t, "container does not exist")
			if !waitFor(5*time.Second, func() bool { return !pidAlive(pid) }) {
				t.Errorf("init pid %d still alive after delete -f", pid)
			}
		})
	}
}

// TestDeleteForceOnMissingContainerSucceeds checks delete -f on an unknown id.
func TestDeleteForceOnMissingContainerSucceeds(t *testing.T) {
	rt(t, "delete", "-f", newID(t)).ok(t)
}

// TestDeleteMissingContainerFails checks delete on an unknown id.
func TestDeleteMissingContainerFails(t *testing.T) {
	rt(t, "delete", newID(t)).failed(t, "container does not exist")
}

// TestStartOnlyFromCreated checks start on running, stopped and missing
// containers.
func TestStartOnlyFromCreated(t *testing.T) {
	t.Run("running", func(t *testing.T) {
		id, _ := createStarted(t, newBundle(t))
		rt(t, "start", id).failed(t)
	})
	t.Run("stopped", func(t *testing.T) {
		id, _ := createStarted(t, newBundle(t, withProbe("exit", "0")))
		waitStatus(t, id, "stopped", 10*time.Second)
		rt(t, "start", id).failed(t)
	})
	t.Run("missing", func(t *testing.T) {
		rt(t, "start", newID(t)).failed(t, "container does not exist")
	})
}

// TestListManyKeepsOrderAndStatus: list reads its containers side by side;
// with more containers than workers, in three states, every one is listed
// once, in List's (sorted) order, with its own status and pid.
func TestListManyKeepsOrderAndStatus(t *testing.T) {
	bundle := newBundle(t)
	want := map[string]string{}
	var ids []string
	for i := 0; i < 12; i++ {
		id := fmt.Sprintf("%s-%02d", newID(t), i)
		rt(t, "create", "--bundle", bundle, id).ok(t)
		switch i % 3 {
		case 1:
			rt(t, "start", id).ok(t)
			want[id] = "running"
		case 2:
			rt(t, "kill", id, "KILL").ok(t)
			waitFor(10*time.Second, func() bool { return getState(t, id).Status == "stopped" })
			want[id] = "stopped"
		default:
			want[id] = "created"
		}
		ids = append(ids, id)
	}
	t.Cleanup(func() {
		for _, id := range ids {
			rt(t, "delete", "-f", id)
		}
	})
	r := rt(t, "list", "-f", "json").ok(t)
	var got []struct {
		ID     string `json:"id"`
		Pid    int    `json:"pid"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &got); err != nil {
		t.Fatalf("list -f json: %v\n%s", err, r)
	}
	if len(got) != len(ids) {
		t.Fatalf("list has %d containers, want %d: %s", len(got), len(ids), r.Stdout)
	}
	for i, s := range got {
		if i > 0 && got[i-1].ID >= s.ID {
			t.Errorf("list is not in order: %s before %s", got[i-1].ID, s.ID)
		}
		st := getState(t, s.ID)
		if s.Status != want[s.ID] || s.Pid != st.Pid {
			t.Errorf("%s: listed %s pid %d, want %s pid %d", s.ID, s.Status, s.Pid, want[s.ID], st.Pid)
		}
	}
}
