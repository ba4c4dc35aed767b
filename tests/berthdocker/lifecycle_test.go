package dockertest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// termLoop is a container command that exits with code on SIGTERM (a pid
// namespace's init gets only the signals it handles).
func termLoop(code int) []string {
	return []string{"busybox", "sh", "-c", fmt.Sprintf(`trap "exit %d" TERM; while :; do sleep 0.1; done`, code)}
}

// TestMonitorRecordsExit: with no CLI around, the monitor records how the
// container ended, deletes it from the runtime and exits; the rootfs stays
// mounted until rm. With --rm it removes everything itself.
func TestMonitorRecordsExit(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		id := e.runD("busybox", "sh", "-c", "sleep 0.2; exit 3")
		m := e.meta(id)
		var m2 meta
		if !eventually(5*time.Second, func() bool { m2 = e.meta(id); return m2.Status == "exited" }) {
			t.Fatalf("meta status %q 5s after the container should have exited", m2.Status)
		}
		if m2.ExitCode != 3 || m2.FinishedAt.IsZero() || m2.FinishedAt.Before(m2.StartedAt) {
			t.Errorf("recorded exit %d at %v (started %v), want 3", m2.ExitCode, m2.FinishedAt, m2.StartedAt)
		}
		if !eventually(3*time.Second, func() bool { return !pidAlive(m.MonitorPid) }) {
			t.Errorf("monitor %d still alive", m.MonitorPid)
		}
		if _, err := os.Stat(filepath.Join(e.runRoot, id)); err == nil {
			t.Errorf("the runtime still has the exited container")
		}
		if l := e.findLeaks(); len(l.cgroups)+len(l.procs)+len(l.runState) != 0 {
			t.Errorf("the exited container left:%s", l)
		}
		if l := e.psLine(id, true); !strings.Contains(l, "Exited (3)") {
			t.Errorf("ps -a: %q", l)
		}

		id2 := e.runD("--rm", "busybox", "sh", "-c", "sleep 0.2; exit 3")
		if !eventually(5*time.Second, func() bool {
			_, err := os.Stat(filepath.Join(e.root, "containers", id2))
			return os.IsNotExist(err)
		}) {
			t.Errorf("--rm container %s still in the store", id2[:12])
		}
	})
}

// TestMonitorDetachedFromCaller: the monitor outlives the CLI without
// holding what the caller gave the CLI: a pipe passed as an extra fd
// reaches EOF when the CLI exits, and the caller's working directory is
// not pinned (it could not be unmounted otherwise).
func TestMonitorDetachedFromCaller(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer pr.Close()
		cwd := filepath.Join(e.dir, "cwd")
		os.Mkdir(cwd, 0o755)
		// fd 4: the engine's own fd 3 is the monitor's report pipe.
		null, _ := os.Open(os.DevNull)
		defer null.Close()
		r := e.bdWith(bdOpts{dir: cwd, extra: []*os.File{null, pw}}, "run", "-d", "busybox", "sleep", "100")
		pw.Close()
		id := strings.TrimSpace(r.Out)
		if r.Code != 0 {
			t.Fatalf("run -d: %s", r)
		}
		m := e.meta(id)
		eof := make(chan struct{})
		go func() {
			b := make([]byte, 1)
			pr.Read(b)
			close(eof)
		}()
		select {
		case <-eof:
		case <-time.After(2 * time.Second):
			fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", m.MonitorPid))
			var links []string
			for _, fd := range fds {
				l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", m.MonitorPid, fd.Name()))
				links = append(links, fd.Name()+"->"+l)
			}
			t.Errorf("the caller's pipe (fd 4 of the CLI) is still open after run -d returned: the monitor holds %v", links)
			pr.Close()
		}
		if wd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", m.MonitorPid)); wd == cwd {
			t.Errorf("the monitor's working directory is the caller's %s: it pins that file system", wd)
		}
		e.mustBD("rm", "-f", id)
	})
}

// TestStopTimeoutKills: a container that ignores SIGTERM is killed after
// stop's -t seconds: Exited (137).
func TestStopTimeoutKills(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		id := e.runD("--name", "stubborn", "busybox", "sh", "-c", `trap "" TERM; sleep 100`)
		time.Sleep(200 * time.Millisecond) // let sh set its trap
		r := e.bd("stop", "-t", "1", "stubborn")
		if r.Code != 0 || strings.TrimSpace(r.Out) != "stubborn" {
			t.Errorf("stop -t 1: %s", r)
		}
		if r.Dur < 900*time.Millisecond || r.Dur > 5*time.Second {
			t.Errorf("stop -t 1 took %v, want about 1s", r.Dur)
		}
		if l := e.psLine(id, true); !strings.Contains(l, "Exited (137)") {
			t.Errorf("ps -a: %q, want Exited (137)", l)
		}
		// Stopping a stopped container is fine and quick.
		if r := e.bd("stop", "stubborn"); r.Code != 0 || r.Dur > 3*time.Second {
			t.Errorf("stop of a stopped container: %s", r)
		}
	})
}

// TestStopGraceful: the stop signal (SIGTERM) ends a container that handles
// it, with its own exit code, without waiting for the timeout.
func TestStopGraceful(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		id := e.runD(termLoop(9)...)
		time.Sleep(200 * time.Millisecond)
		r := e.bd("stop", id[:12])
		if r.Code != 0 || r.Dur > 5*time.Second {
			t.Errorf("stop: %s", r)
		}
		if m := e.meta(id); m.Status != "exited" || m.ExitCode != 9 {
			t.Errorf("after stop: status %q exit %d, want exited 9", m.Status, m.ExitCode)
		}
	})
}

// TestKillSignal: kill -s USR1 delivers the signal; plain kill is SIGKILL;
// killing a stopped container is an error.
func TestKillSignal(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		id := e.runD("busybox", "sh", "-c", `trap "echo got usr1; exit 7" USR1; while :; do sleep 0.1; done`)
		time.Sleep(200 * time.Millisecond)
		if r := e.bd("kill", "-s", "USR1", id); r.Code != 0 {
			t.Errorf("kill -s USR1: %s", r)
		}
		if out := e.mustBD("wait", id); out != "7" {
			t.Errorf("wait after USR1: %q, want 7", out)
		}
		if out := e.mustBD("logs", id); out != "got usr1" {
			t.Errorf("logs: %q", out)
		}
		e.failBD("is not running", "kill", id)

		id2 := e.runD("busybox", "sleep", "100")
		if r := e.bd("kill", id2); r.Code != 0 {
			t.Errorf("kill: %s", r)
		}
		if out := e.mustBD("wait", id2); out != "137" {
			t.Errorf("wait after kill: %q, want 137", out)
		}
		if l := e.psLine(id2, true); !strings.Contains(l, "Exited (137)") {
			t.Errorf("ps -a after kill: %q", l)
		}
		id3 := e.runD("busybox", "sleep", "100")
		e.failBD("", "kill", "-s", "NOSUCHSIG", id3)
		if l := e.psLine(id3, false); !strings.Contains(l, "Up") {
			t.Errorf("a bad signal name affected the container: %q", l)
		}
	})
}

// TestStartRestart: start and restart run a stopped container again over
// the same upper dir, under a new monitor.
func TestStartRestart(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		cmd := []string{"--name", "keeper", "busybox", "sh", "-c",
			`echo run >> /f; wc -l < /f; trap "exit 0" TERM; while :; do sleep 0.1; done`}
		id := e.runD(cmd...)
		upper := filepath.Join(e.root, "containers", id, "upper")
		first := e.meta(id)
		e.mustBD("stop", "keeper")

		if out := e.mustBD("start", "keeper"); out != "keeper" {
			t.Errorf("start printed %q", out)
		}
		m := e.meta(id)
		if m.Status != "running" || !pidAlive(m.Pid) || m.Pid == first.Pid || m.MonitorPid == first.MonitorPid {
			t.Errorf("after start: status %q pid %d (was %d) monitor %d (was %d)", m.Status, m.Pid, first.Pid, m.MonitorPid, first.MonitorPid)
		}
		if p := ppid(m.Pid); p != m.MonitorPid {
			t.Errorf("after start: the container's parent is %d, want the new monitor %d", p, m.MonitorPid)
		}
		if l := e.psLine(id, false); !strings.Contains(l, "Up") {
			t.Errorf("ps after start: %q", l)
		}
		// start of a running container does nothing.
		if r := e.bd("start", "keeper"); r.Code != 0 || e.meta(id).Pid != m.Pid {
			t.Errorf("start of a running container: %s", r)
		}

		if out := e.mustBD("restart", "-t", "2", "keeper"); out != "keeper" {
			t.Errorf("restart printed %q", out)
		}
		m3 := e.meta(id)
		if m3.Status != "running" || m3.Pid == m.Pid || !pidAlive(m3.Pid) {
			t.Errorf("after restart: status %q pid %d (was %d)", m3.Status, m3.Pid, m.Pid)
		}
		if !eventually(3*time.Second, func() bool { return strings.Contains(e.bd("logs", id).Out, "3") }) {
			t.Errorf("logs after start and restart: %q, want 1 2 3 (the file written by each run is kept)", e.bd("logs", id).Out)
		}
		if b, err := os.ReadFile(filepath.Join(upper, "f")); err != nil || string(b) != "run\nrun\nrun\n" {
			t.Errorf("upper dir file: %q %v, want three runs", b, err)
		}
		if gd, ok := e.inspect(id)["GraphDriver"].(map[string]any); !ok || gd["Data"].(map[string]any)["UpperDir"] != upper {
			t.Errorf("inspect GraphDriver: %v, want UpperDir %s", e.inspect(id)["GraphDriver"], upper)
		}
		// restart of an exited container starts it.
		e.mustBD("stop", "keeper")
		e.mustBD("restart", "keeper")
		if l := e.psLine(id, false); !strings.Contains(l, "Up") {
			t.Errorf("ps after restart of an exited container: %q", l)
		}
		e.mustBD("rm", "-f", "keeper")
	})
}

// TestWait: wait blocks until the container exits and prints its code.
func TestWait(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		id := e.runD("busybox", "sh", "-c", "sleep 0.7; exit 5")
		r := e.bd("wait", id)
		if r.Code != 0 || strings.TrimSpace(r.Out) != "5" {
			t.Errorf("wait: %s", r)
		}
		if r.Dur < 300*time.Millisecond {
			t.Errorf("wait returned after %v, before the container exited", r.Dur)
		}
		// Again on the exited container, and on two at once.
		id2 := e.runD("busybox", "sh", "-c", "exit 6")
		if out := e.mustBD("wait", id, id2); out != "5\n6" {
			t.Errorf("wait of two: %q, want 5 and 6", out)
		}
		e.failBD("No such container", "wait", "nosuch")
	})
}

// TestExec: exec's output, exit code, -u, -w, -e, -i and -d.
func TestExec(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		id := e.runD("--name", "ex", "busybox", "sleep", "100")
		r := e.bd("exec", "ex", "sh", "-c", "echo out; echo err >&2; exit 4")
		if r.Out != "out\n" || r.Err != "err\n" || r.Code != 4 {
			t.Errorf("exec output and exit code: %s", r)
		}
		if out := e.mustBD("exec", "-u", "1000:1000", "ex", "id"); !strings.HasPrefix(out, "uid=1000 gid=1000") {
			t.Errorf("exec -u 1000:1000: %q", out)
		}
		if out := e.mustBD("exec", "-u", "nobody", "ex", "id", "-u"); out != "65534" {
			t.Errorf("exec -u nobody: %q", out)
		}
		if out := e.mustBD("exec", "-w", "/tmp", "ex", "pwd"); out != "/tmp" {
			t.Errorf("exec -w /tmp: %q", out)
		}
		if out := e.mustBD("exec", "-e", "FOO=bar", "ex", "sh", "-c", "echo $FOO"); out != "bar" {
			t.Errorf("exec -e: %q", out)
		}
		r = e.bdWith(bdOpts{stdin: []byte("hello\n"), timeout: 10 * time.Second}, "exec", "-i", "ex", "cat")
		if r.Out != "hello\n" || r.Code != 0 {
			t.Errorf("exec -i: %s", r)
		}
		r = e.bdWith(bdOpts{stdin: []byte("hello\n"), timeout: 10 * time.Second}, "exec", "ex", "cat")
		if r.Out != "" || r.Code != 0 {
			t.Errorf("exec without -i must not pass stdin: %s", r)
		}
		r = e.bd("exec", "-d", "ex", "sh", "-c", "sleep 0.3; touch /done")
		if r.Code != 0 || r.Dur > 3*time.Second {
			t.Errorf("exec -d: %s", r)
		}
		if !eventually(5*time.Second, func() bool { return e.bd("exec", "ex", "test", "-e", "/done").Code == 0 }) {
			t.Errorf("exec -d: the detached process did not run")
		}
		if r := e.bd("exec", "ex", "nosuchcmd"); r.Code == 0 {
			t.Errorf("exec of a missing command succeeded: %s", r)
		}
		e.mustBD("kill", id)
		e.mustBD("wait", id)
		e.failBD("is not running", "exec", "ex", "true")
	})
}

// TestInspect: inspect's JSON for a running and an exited container.
func TestInspect(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		id := e.runD(append([]string{"--name", "insp", "-e", "X=1"}, termLoop(9)...)...)
		v := e.inspect("insp")
		st, _ := v["State"].(map[string]any)
		m := e.meta(id)
		if v["Id"] != id || v["Name"] != "/insp" || st["Running"] != true || st["Status"] != "running" ||
			st["Pid"] != float64(m.Pid) || st["OOMKilled"] != false {
			t.Errorf("inspect of a running container: %v", v)
		}
		if cfg, _ := v["Config"].(map[string]any); cfg["Image"] != "busybox" {
			t.Errorf("inspect Config: %v", v["Config"])
		}
		if hc, _ := v["HostConfig"].(map[string]any); fmt.Sprint(hc["Env"]) != "[X=1]" {
			t.Errorf("inspect HostConfig.Env: %v", hc["Env"])
		}
		if lp, _ := v["LogPath"].(string); lp != filepath.Join(e.root, "containers", id, "container.log") {
			t.Errorf("inspect LogPath %q", lp)
		}
		e.mustBD("stop", "insp")
		v = e.inspect(id[:8])
		st, _ = v["State"].(map[string]any)
		if st["Running"] != false || st["Status"] != "exited" || st["ExitCode"] != float64(9) {
			t.Errorf("inspect of an exited container: %v", st)
		}
		if fa, _ := st["FinishedAt"].(string); fa == "" || strings.HasPrefix(fa, "0001") {
			t.Errorf("inspect FinishedAt %q", fa)
		}
		e.failBD("No such container", "inspect", "nosuch")
	})
}

// TestRmRunning: rm refuses a running container; rm -f removes it and
// everything of it.
func TestRmRunning(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		id := e.runD("--name", "busy", "busybox", "sleep", "100")
		m := e.meta(id)
		e.failBD("container is running", "rm", "busy")
		if l := e.psLine(id, false); !strings.Contains(l, "Up") || !pidAlive(m.Pid) {
			t.Errorf("refused rm affected the container: %q", l)
		}
		if out := e.mustBD("rm", "-f", "busy"); out != "busy" {
			t.Errorf("rm -f printed %q", out)
		}
		if pidAlive(m.Pid) {
			t.Errorf("container pid %d alive after rm -f", m.Pid)
		}
		e.requireNoContainers()
		if l := e.findLeaks(); !l.empty() && !eventually(3*time.Second, func() bool { return e.findLeaks().empty() }) {
			t.Errorf("after rm -f:%s", e.findLeaks())
		}
		// Several at once; an unknown one is reported, the others removed.
		a := e.runD("busybox", "true")
		b := e.runD("busybox", "true")
		e.mustBD("wait", a, b)
		r := e.bd("rm", a, "nosuch", b[:12])
		if r.Code == 0 || !strings.Contains(r.Err, "No such container: nosuch") || r.Out != a+"\n"+b[:12]+"\n" {
			t.Errorf("rm a nosuch b: %s", r)
		}
		e.requireNoContainers()
	})
}

// TestPruneAfterCrash: the monitor and the container were killed (as in a
// crash): the metadata still says running. prune records the exit and
// removes the container and everything of it; a running container stays.
func TestPruneAfterCrash(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		keep := e.runD("--name", "keep", "busybox", "sleep", "100")
		done := e.runD("busybox", "true")
		e.mustBD("wait", done)
		id := e.runD("--name", "crashed", "busybox", "sleep", "100")
		m := e.meta(id)
		unix.Kill(m.MonitorPid, syscall.SIGKILL)
		unix.Kill(m.Pid, syscall.SIGKILL)
		if !eventually(3*time.Second, func() bool { return !pidAlive(m.Pid) && !pidAlive(m.MonitorPid) }) {
			t.Fatalf("could not kill the container %d and its monitor %d", m.Pid, m.MonitorPid)
		}
		if s := e.meta(id).Status; s != "running" {
			t.Fatalf("status after the crash %q, want running (nothing recorded the exit)", s)
		}
		if l := e.psLine(id, false); l != "" {
			t.Errorf("ps lists the dead container as running: %q", l)
		}
		if l := e.psLine(id, true); !strings.Contains(l, "Exited") {
			t.Errorf("ps -a: %q, want Exited", l)
		}
		r := e.bd("prune")
		if r.Code != 0 || !strings.Contains(r.Out, "Deleted: "+id) || !strings.Contains(r.Out, "Deleted: "+done) {
			t.Errorf("prune: %s", r)
		}
		if strings.Contains(r.Out, keep) {
			t.Errorf("prune removed a running container: %s", r)
		}
		if d := e.containerDirs(); len(d) != 1 || d[0] != keep {
			t.Errorf("containers after prune: %v, want only %s", d, keep[:12])
		}
		for _, gone := range []string{id, done} {
			if _, err := os.Stat(filepath.Join(e.runRoot, gone)); err == nil {
				t.Errorf("runtime state of %s left after prune", gone[:12])
			}
			if l := e.findLeaks(); strings.Contains(l.String(), gone) {
				t.Errorf("after prune:%s", l)
			}
		}
		if l := e.psLine(keep, false); !strings.Contains(l, "Up") {
			t.Errorf("the running container after prune: %q", l)
		}
	})
}

// TestPruneStaleMount: an overlay mount or a directory under containers/
// that belongs to no container is removed by prune.
func TestPruneStaleDir(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		stale := filepath.Join(e.root, "containers", strings.Repeat("ab", 32))
		if err := os.MkdirAll(filepath.Join(stale, "upper"), 0o755); err != nil {
			t.Fatal(err)
		}
		r := e.bd("prune")
		if r.Code != 0 || !strings.Contains(r.Out, "Deleted: "+filepath.Base(stale)) {
			t.Errorf("prune of a stale dir: %s", r)
		}
		e.requireNoContainers()
	})
}

// TestMonitorKilled: with its monitor SIGKILLed, a container keeps
// running; ps asks the runtime and shows it Up; rm -f removes everything.
func TestMonitorKilled(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		id := e.runD("--name", "orphan", "busybox", "sleep", "100")
		m := e.meta(id)
		unix.Kill(m.MonitorPid, syscall.SIGKILL)
		if !eventually(3*time.Second, func() bool { return !pidAlive(m.MonitorPid) }) {
			t.Fatalf("monitor %d did not die", m.MonitorPid)
		}
		time.Sleep(200 * time.Millisecond)
		if !pidAlive(m.Pid) {
			t.Fatalf("the container %d died with its monitor", m.Pid)
		}
		if l := e.psLine(id, false); !strings.Contains(l, "Up") {
			t.Errorf("ps after the monitor died: %q, want Up", l)
		}
		if v := e.inspect(id); v["State"].(map[string]any)["Running"] != true {
			t.Errorf("inspect after the monitor died: %v", v["State"])
		}
		if out := e.mustBD("exec", "orphan", "echo", "still"); out != "still" {
			t.Errorf("exec after the monitor died: %q", out)
		}
		if out := e.mustBD("rm", "-f", "orphan"); out != "orphan" {
			t.Errorf("rm -f printed %q", out)
		}
		if pidAlive(m.Pid) {
			t.Errorf("container %d alive after rm -f", m.Pid)
		}
		e.requireNoContainers()
		if l := e.findLeaks(); !l.empty() && !eventually(3*time.Second, func() bool { return e.findLeaks().empty() }) {
			t.Errorf("after rm -f:%s", e.findLeaks())
		}
	})
}

// TestMonitorKilledThenStop: stop of a container whose monitor is gone
// stops it and records an exit.
func TestMonitorKilledThenStop(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		id := e.runD(termLoop(9)...)
		m := e.meta(id)
		unix.Kill(m.MonitorPid, syscall.SIGKILL)
		eventually(3*time.Second, func() bool { return !pidAlive(m.MonitorPid) })
		if r := e.bd("stop", "-t", "2", id); r.Code != 0 {
			t.Errorf("stop: %s", r)
		}
		if pidAlive(m.Pid) {
			t.Errorf("container %d alive after stop", m.Pid)
		}
		if m2 := e.meta(id); m2.Status != "exited" {
			t.Errorf("after stop without a monitor: status %q, want exited", m2.Status)
		}
		if l := e.psLine(id, true); !strings.Contains(l, "Exited (") {
			t.Errorf("ps -a: %q", l)
		}
		if _, err := os.Stat(filepath.Join(e.runRoot, id)); err == nil {
			t.Errorf("runtime state left after stop")
		}
	})
}

// TestNamesAndPrefixes: containers are found by name, full ID and unique ID
// prefix; an ambiguous prefix is an error.
func TestNamesAndPrefixes(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		id := e.runD("--name", "alpha", "busybox", "sleep", "100")
		for _, ref := range []string{"alpha", id, id[:12], id[:5]} {
			if v := e.inspect(ref); v["Id"] != id {
				t.Errorf("inspect %s: Id %v", ref, v["Id"])
			}
		}
		if out := e.mustBD("exec", id[:6], "echo", "ok"); out != "ok" {
			t.Errorf("exec by prefix: %q", out)
		}
		// Make containers until two share a first hex digit.
		seen := map[byte]string{id[0]: id}
		var a, b string
		for i := 0; i < 17 && a == ""; i++ {
			n := e.runD("busybox", "true")
			if o, ok := seen[n[0]]; ok {
				a, b = o, n
			}
			seen[n[0]] = n
		}
		if a == "" {
			t.Fatal("no two IDs share a first digit after 18 containers")
		}
		p := commonPrefix(a, b)
		e.failBD("multiple IDs found", "inspect", p)
		if v := e.inspect(a[:len(p)+1]); v["Id"] != a {
			t.Errorf("inspect %s: %v", a[:len(p)+1], v["Id"])
		}
		e.failBD("No such container", "inspect", "zzz")
		e.failBD("invalid container name", "run", "--name", "bad/name", "busybox", "true")
		e.failBD("invalid container name", "run", "--name", "-x", "busybox", "true")
	})
}

func commonPrefix(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return a[:i]
}

// TestNameMayLookLikeIDPrefix: names and IDs are separate in docker: a
// name that happens to be a prefix of another container's ID is free.
func TestNameMayLookLikeIDPrefix(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		id := e.runD("busybox", "sleep", "100")
		r := e.bd("run", "-d", "--name", id[:3], "busybox", "true")
		if r.Code != 0 {
			t.Errorf("run --name %s (a prefix of container %s's ID): %s", id[:3], id[:12], r)
		}
	})
}

// TestConcurrentSameName: of several runs racing for one name, exactly one
// gets it (three rounds of eight).
func TestConcurrentSameName(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		for round := 0; round < 3; round++ {
			var wg sync.WaitGroup
			res := make([]result, 8)
			for i := range res {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res[i] = e.bd("run", "-d", "--name", "same", "busybox", "sleep", "100")
				}()
			}
			wg.Wait()
			ok := 0
			for _, r := range res {
				if r.Code == 0 {
					ok++
				}
			}
			n := 0
			for _, d := range e.containerDirs() {
				if e.meta(d).Name == "same" {
					n++
				}
			}
			if ok != 1 || n != 1 {
				t.Errorf("round %d: 8 concurrent run -d --name same: %d succeeded, %d containers named same; want 1 and 1", round, ok, n)
				return
			}
			e.rmAll()
		}
	})
}

// TestOtherRuntimeLater: a container keeps the runtime it was created
// with: verbs given another --runtime (here: created with runc, then ps and
// rm -f with berth) still see it running and remove all of it.
func TestOtherRuntimeLater(t *testing.T) {
	if runcBin == "" {
		t.Skip(runcMissing)
	}
	e := newEnv(t, rtInfo{"runc", runcBin})
	e.mustBD("import-busybox")
	id := e.runD("busybox", "sleep", "100")
	pid := e.meta(id).Pid
	other := bdOpts{runtime: berthBin}
	if r := e.bdWith(other, "ps", "-q"); r.Out != id[:12]+"\n" {
		t.Errorf("ps with --runtime berth of a container made with runc: %s", r)
	}
	r := e.bdWith(other, "rm", "-f", id)
	if r.Code != 0 {
		t.Errorf("rm -f with --runtime berth: %s", r)
	}
	if pidAlive(pid) {
		t.Errorf("rm -f with --runtime berth returned %d but the container (pid %d) still runs", r.Code, pid)
	}
}
