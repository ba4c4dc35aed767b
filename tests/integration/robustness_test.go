package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// robustGone checks that nothing of container id remains: no state dir,
// no cgroup directory, and `state` says it does not exist.
func robustGone(t *testing.T, id string) {
	t.Helper()
	if fileExists(filepath.Join(stateRoot(t), id)) {
		t.Errorf("state dir %s remains", filepath.Join(stateRoot(t), id))
	}
	if dirs := cgroupDirsMatching([]string{id}); len(dirs) > 0 {
		t.Errorf("cgroup dirs remain: %v", dirs)
	}
	rt(t, "state", id).failed(t, "container does not exist")
}

// robustLastLine returns the last non-empty line of the file at path.
func robustLastLine(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("log file not written: %v", err)
	}
	ls := lines(string(b))
	if len(ls) == 0 {
		t.Fatalf("log file %s is empty", path)
	}
	return ls[len(ls)-1]
}

// TestDeleteAfterInitKilledRemovesEverything SIGKILLs the init of a
// created and of a running container behind the runtime's back: the
// container becomes stopped and a plain delete (no -f) removes its state
// dir and cgroups.
func TestDeleteAfterInitKilledRemovesEverything(t *testing.T) {
	for _, started := range []bool{false, true} {
		name := "created"
		if started {
			name = "running"
		}
		t.Run(name, func(t *testing.T) {
			bundle := newBundle(t)
			id := newID(t)
			rt(t, "create", "--bundle", bundle, id).ok(t)
			if started {
				rt(t, "start", id).ok(t)
			}
			pid := getState(t, id).Pid
			if len(cgroupDirsMatching([]string{id})) == 0 {
				t.Fatalf("no cgroup dir named after %s before the kill", id)
			}
			if err := unix.Kill(pid, unix.SIGKILL); err != nil {
				t.Fatal(err)
			}
			waitStatus(t, id, "stopped", 10*time.Second)
			rt(t, "delete", id).ok(t)
			robustGone(t, id)
		})
	}
}

// TestDeleteStateDirWithoutStateJSON checks a state dir left by a create
// that died before writing state.json: delete -f removes it and exits 0;
// delete says the container does not exist and removes it too.
func TestDeleteStateDirWithoutStateJSON(t *testing.T) {
	for _, force := range []bool{true, false} {
		name := "delete"
		if force {
			name = "delete -f"
		}
		t.Run(name, func(t *testing.T) {
			id := newID(t)
			dir := filepath.Join(stateRoot(t), id)
			if err := os.Mkdir(dir, 0o711); err != nil {
				t.Fatal(err)
			}
			// What an interrupted create may have made already.
			if err := unix.Mkfifo(filepath.Join(dir, "exec.fifo"), 0o622); err != nil {
				t.Fatal(err)
			}
			if force {
				rt(t, "delete", "-f", id).ok(t)
			} else {
				rt(t, "delete", id).failed(t, "container does not exist")
			}
			if fileExists(dir) {
				t.Errorf("state dir %s remains", dir)
			}
			if r := rt(t, "list", "-q").ok(t); strings.Contains(r.Stdout, id) {
				t.Errorf("list still shows %s", id)
			}
		})
	}
}

// TestConcurrentForceDeletesAllSucceed runs five `delete -f` at once on
// one running container: each exits 0 and the container is gone.
func TestConcurrentForceDeletesAllSucceed(t *testing.T) {
	id, _ := createStarted(t, newBundle(t))
	pid := getState(t, id).Pid
	procs := make([]*rtProc, 5)
	for i := range procs {
		procs[i] = rtStart(t, rtOpts{}, "delete", "-f", id)
	}
	for _, p := range procs {
		r := p.wait(t)
		if r.Code != 0 {
			t.Errorf("concurrent delete -f failed: %s", r)
		}
		if strings.Contains(strings.ToLower(r.Output()), "panic") {
			t.Errorf("concurrent delete -f panicked: %s", r)
		}
	}
	if !waitFor(5*time.Second, func() bool { return !pidAlive(pid) }) {
		t.Errorf("init pid %d alive after the deletes", pid)
	}
	robustGone(t, id)
}

// TestConcurrentCreateSameIDOneWins runs two creates of one id at once,
// from different bundles: exactly one succeeds, the other reports the id
// as taken, and the winner's container is intact.
func TestConcurrentCreateSameIDOneWins(t *testing.T) {
	for round := 0; round < 3; round++ {
		id := newID(t)
		b1, b2 := newBundle(t), newBundle(t)
		p1 := rtStart(t, rtOpts{}, "create", "--bundle", b1, id)
		p2 := rtStart(t, rtOpts{}, "create", "--bundle", b2, id)
		r1, r2 := p1.wait(t), p2.wait(t)
		winner, loser, bundle := r1, r2, b1
		if r1.Code != 0 {
			winner, loser, bundle = r2, r1, b2
		}
		if winner.Code != 0 || loser.Code == 0 {
			t.Fatalf("round %d: want exactly one create to succeed:\n%s\n%s", round, r1, r2)
		}
		if !strings.Contains(loser.Output(), "container with given ID already exists") {
			t.Errorf("round %d: losing create does not say the id is taken: %s", round, loser)
		}
		if strings.Contains(strings.ToLower(loser.Output()+winner.Output()), "panic") {
			t.Errorf("round %d: panic:\n%s\n%s", round, r1, r2)
		}
		st := getState(t, id)
		if st.Status != "created" || !pidAlive(st.Pid) || st.Bundle != bundle {
			t.Errorf("round %d: winner's container after the race: %+v (want created, live pid, bundle %s)", round, st, bundle)
		}
		rt(t, "delete", "-f", id).ok(t)
		robustGone(t, id)
	}
}

// TestLogFileRecordsCreateFailure checks --log with both --log-format
// values on a create that fails: the last line of the log names the
// problem, as JSON with "level":"error" or as logrus text.
func TestLogFileRecordsCreateFailure(t *testing.T) {
	const exe = "/bin/no-such-logged-binary"
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			logFile := filepath.Join(newDir(t, "l"), "berth.log")
			bundle := newBundle(t, withArgs(exe))
			id := newID(t)
			r := rtWith(t, rtOpts{Global: []string{"--log", logFile, "--log-format", format}}, "create", "--bundle", bundle, id)
			r.failed(t)
			last := robustLastLine(t, logFile)
			var entry map[string]any
			isJSON := json.Unmarshal([]byte(last), &entry) == nil
			if format == "json" {
				if !isJSON {
					t.Fatalf("last log line is not JSON: %q", last)
				}
				if entry["level"] != "error" {
					t.Errorf("last log entry level = %v, want error: %q", entry["level"], last)
				}
				if msg, _ := entry["msg"].(string); !strings.Contains(msg, exe) {
					t.Errorf("last log entry msg = %q, want it to name %s", msg, exe)
				}
				if _, ok := entry["time"]; !ok {
					t.Errorf("last log entry has no time: %q", last)
				}
			} else {
				if isJSON || strings.HasPrefix(last, "{") {
					t.Errorf("last log line is JSON with --log-format text: %q", last)
				}
				if !strings.Contains(last, "level=error") || !strings.Contains(last, exe) {
					t.Errorf("last log line = %q, want level=error and %s", last, exe)
				}
			}
			// The error also reaches stderr, as with runc.
			if !strings.Contains(r.Stderr, exe) {
				t.Errorf("stderr does not name %s: %s", exe, r)
			}
			assertNothingLeft(t, id)
		})
	}
}

// TestSystemdCgroupFlagFailsClearly: on a host without systemd,
// create --systemd-cgroup fails with exit 1 naming systemd's D-Bus socket
// and leaves nothing; other commands ignore the flag, as with runc.
func TestSystemdCgroupFlagFailsClearly(t *testing.T) {
	if fileExists("/run/systemd/system") {
		t.Skip("systemd runs here: the driver is used (TestSystemdCgroupDriver)")
	}
	// As runc: the flag only matters to create.
	rtWith(t, rtOpts{Global: []string{"--systemd-cgroup"}}, "list").ok(t)
	id := newID(t)
	r := rtWith(t, rtOpts{Global: []string{"--systemd-cgroup"}}, "create", "--bundle", newBundle(t), id)
	if r.Code != 1 || !strings.Contains(r.Output(), "systemd is not running") || !strings.Contains(r.Output(), "/run/systemd/private") {
		t.Errorf("create --systemd-cgroup without systemd: want exit 1 naming systemd and its D-Bus socket: %s", r)
	}
	assertCreateLeftNothing(t, id)
	if entries, _ := os.ReadDir(stateRoot(t)); len(entries) != 0 {
		t.Errorf("state root not empty after refused create: %v", entries)
	}
}

// TestRootlessFlagValues checks --rootless: true, false and auto are
// accepted, anything else is refused.
func TestRootlessFlagValues(t *testing.T) {
	for _, v := range []string{"true", "false", "auto"} {
		rtWith(t, rtOpts{Global: []string{"--rootless=" + v}}, "list").ok(t)
		rtWith(t, rtOpts{Global: []string{"--rootless", v}}, "list", "-q").ok(t)
	}
	r := rtWith(t, rtOpts{Global: []string{"--rootless=bogus"}}, "list").failed(t, "bogus")
	if strings.Contains(r.Stdout, "STATUS") {
		t.Errorf("list ran despite a bad --rootless: %s", r)
	}
}

// TestKillUnknownSignalSaysUnknownSignal checks the wording of kill's
// error for a bad signal name.
func TestKillUnknownSignalSaysUnknownSignal(t *testing.T) {
	id, _ := createStarted(t, newBundle(t))
	bad := []string{"NOSUCH", "SIGNOSUCH"}
	if !runtimeIsRunc {
		// runc 1.1 passes out-of-range numbers to kill(2) (EINVAL).
		bad = append(bad, "65", "0x9", "-1")
	}
	for _, sig := range bad {
		rt(t, "kill", id, sig).failed(t, "unknown signal", sig)
	}
	if st := getState(t, id); st.Status != "running" {
		t.Errorf("container is %q after failed kills, want running", st.Status)
	}
}

// TestPidFilesWrittenWithoutLeftovers checks that the pid files of create
// and exec -d are the only files in their directory afterwards (they are
// written through a temp file and a rename).
func TestPidFilesWrittenWithoutLeftovers(t *testing.T) {
	dir := newDir(t, "pf")
	id := newID(t)
	rt(t, "create", "--bundle", newBundle(t), "--pid-file", filepath.Join(dir, "init.pid"), id).ok(t)
	rt(t, "start", id).ok(t)
	r := rt(t, "exec", "-d", "--pid-file", filepath.Join(dir, "exec.pid"), id, "/bin/probe", "sleep").ok(t)
	// Replacing an existing pid file works too.
	rt(t, "exec", "-d", "--pid-file", filepath.Join(dir, "exec.pid"), id, "/bin/probe", "sleep").ok(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "exec.pid,init.pid" {
		t.Errorf("pid file dir holds %q, want only exec.pid and init.pid: %s", names, r)
	}
	for _, n := range []string{"init.pid", "exec.pid"} {
		fi, err := os.Stat(filepath.Join(dir, n))
		if err == nil && fi.Mode().Perm()&0o044 != 0o044 {
			t.Errorf("%s mode %v is not world/group readable", n, fi.Mode())
		}
	}
}

// TestFeaturesJSON checks `features`: a JSON object with the spec version
// range and the namespaces Berth supports.
func TestFeaturesJSON(t *testing.T) {
	r := rtWith(t, rtOpts{NoRoot: true}, "features").ok(t)
	var f struct {
		OCIVersionMin string `json:"ociVersionMin"`
		OCIVersionMax string `json:"ociVersionMax"`
		Linux         struct {
			Namespaces []string `json:"namespaces"`
		} `json:"linux"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &f); err != nil {
		t.Fatalf("features output is not JSON: %v\n%s", err, r)
	}
	if f.OCIVersionMin == "" {
		t.Errorf("ociVersionMin is empty")
	}
	if !runtimeIsRunc && f.OCIVersionMax != "1.3.0" {
		t.Errorf("ociVersionMax = %q, want 1.3.0", f.OCIVersionMax)
	}
	for _, ns := range []string{"user", "time", "pid", "network", "mount", "ipc", "uts", "cgroup"} {
		if !contains(f.Linux.Namespaces, ns) {
			t.Errorf("linux.namespaces %v lacks %q", f.Linux.Namespaces, ns)
		}
	}
}

// TestListMissingRoot checks list when the state root does not exist: the
// default root (not created yet) lists nothing; an explicit --root that
// does not exist is an error.
func TestListMissingRoot(t *testing.T) {
	t.Run("explicit", func(t *testing.T) {
		missing := filepath.Join(newDir(t, "lr"), "missing")
		rtWith(t, rtOpts{NoRoot: true}, "--root", missing, "list").failed(t, missing)
		if fileExists(missing) {
			t.Errorf("list created the missing root %s", missing)
		}
	})
	t.Run("default", func(t *testing.T) {
		// A private, empty /run gives a missing default root without
		// touching the host's.
		cmd := exec.Command("unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
			`mount -t tmpfs bt-run /run || exit 99; "$0" list; rc=$?; ls -A /run; exit $rc`, berthBin)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Skipf("unshare not usable: %v", err)
		}
		if code == 99 {
			t.Skipf("cannot mount a private /run: %s", out)
		}
		ls := lines(string(out))
		if code != 0 || len(ls) == 0 || strings.Join(strings.Fields(ls[0]), " ") != "ID PID STATUS BUNDLE CREATED OWNER" {
			t.Fatalf("list with a missing default root exited %d:\n%s\nwant just the header", code, out)
		}
		for _, l := range ls[1:] {
			if strings.Contains(l, "berth") && !runtimeIsRunc {
				t.Errorf("list created the default root: /run holds %q", l)
			}
		}
	})
}

// TestConcurrentStateAndListDuringDelete runs state and list while a
// running container is force-deleted: none of them may panic or print a
// half-written state.
func TestConcurrentStateAndListDuringDelete(t *testing.T) {
	id, _ := createStarted(t, newBundle(t))
	del := rtStart(t, rtOpts{}, "delete", "-f", id)
	var lists, states []*rtProc
	for i := 0; i < 3; i++ {
		lists = append(lists, rtStart(t, rtOpts{}, "list", "-f", "json"))
		states = append(states, rtStart(t, rtOpts{}, "state", id))
	}
	if r := del.wait(t); r.Code != 0 {
		t.Errorf("delete -f failed: %s", r)
	}
	for _, p := range lists {
		r := p.wait(t)
		var v []map[string]any
		if r.Code != 0 {
			t.Errorf("list failed during a delete: %s", r)
		} else if strings.TrimSpace(r.Stdout) != "null" && json.Unmarshal([]byte(r.Stdout), &v) != nil {
			t.Errorf("list output is not JSON: %s", r)
		}
		if strings.Contains(strings.ToLower(r.Output()), "panic") {
			t.Errorf("list panicked: %s", r)
		}
	}
	for _, p := range states {
		r := p.wait(t)
		var v map[string]any
		if r.Code == 0 {
			if json.Unmarshal([]byte(r.Stdout), &v) != nil {
				t.Errorf("state output is not JSON: %s", r)
			}
		} else if !strings.Contains(r.Output(), "container does not exist") {
			t.Errorf("state failed with an unexpected error during a delete: %s", r)
		}
		if strings.Contains(strings.ToLower(r.Output()), "panic") {
			t.Errorf("state panicked: %s", r)
		}
	}
	robustGone(t, id)
}
