package dockertest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSeedTranscript is the seed session: import-busybox, a detached
// `top` named demo whose parent is its monitor, ps, stop, ps -a, rm.
func TestSeedTranscript(t *testing.T) {
	forEachRuntimeNoImage(t, func(t *testing.T, e *env) {
		out := e.mustBD("import-busybox")
		if !strings.HasPrefix(out, "sha256:") || len(out) != len("sha256:")+64 {
			t.Errorf("import-busybox printed %q, want sha256:<64 hex>", out)
		}
		if imgs := e.mustBD("images"); !strings.Contains(imgs, "busybox") || !strings.Contains(imgs, "latest") {
			t.Errorf("images does not list busybox:latest:\n%s", imgs)
		}

		r := e.bd("run", "-d", "--name", "demo", "busybox", "top")
		id := strings.TrimSpace(r.Out)
		if r.Code != 0 || !idRe.MatchString(id) {
			t.Fatalf("run -d --name demo busybox top: want a 64-hex id: %s", r)
		}
		cli := r // the CLI has exited; its pid is gone
		m := e.meta(id)
		if m.Name != "demo" || m.Status != "running" {
			t.Errorf("meta: name %q status %q, want demo running", m.Name, m.Status)
		}
		if !pidAlive(m.Pid) {
			t.Fatalf("meta pid %d is not alive", m.Pid)
		}
		if m.MonitorPid == 0 || !pidAlive(m.MonitorPid) {
			t.Fatalf("meta monitorPid %d is not alive", m.MonitorPid)
		}
		if p := ppid(m.Pid); p != m.MonitorPid {
			t.Errorf("container pid %d has parent %d, want the monitor %d", m.Pid, p, m.MonitorPid)
		}
		mcmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", m.MonitorPid))
		if want := "__monitor\x00" + id; !strings.Contains(string(mcmd), want) {
			t.Errorf("monitor %d command line %q, want berth-docker-engine __monitor %s", m.MonitorPid, mcmd, id)
		}
		if statusField(m.MonitorPid, "PPid") == fmt.Sprint(os.Getpid()) {
			t.Errorf("monitor %d is a child of the test, want it detached from the CLI", m.MonitorPid)
		}
		_ = cli

		line := e.psLine(id, false)
		if !strings.Contains(line, "Up ") || !strings.HasSuffix(strings.TrimSpace(line), "demo") {
			t.Errorf("ps line %q, want Up ... demo", line)
		}
		if q := e.mustBD("ps", "-q"); q != id[:12] {
			t.Errorf("ps -q printed %q, want %s", q, id[:12])
		}
		var row struct{ ID, Image, Command, Status, Names string }
		if err := json.Unmarshal([]byte(e.mustBD("ps", "--format", "json")), &row); err != nil {
			t.Errorf("ps --format json: %v", err)
		} else if row.ID != id[:12] || row.Names != "demo" || row.Image != "busybox" || !strings.HasPrefix(row.Status, "Up") {
			t.Errorf("ps --format json: %+v", row)
		}

		if out := e.mustBD("stop", "demo"); out != "demo" {
			t.Errorf("stop demo printed %q", out)
		}
		if line := e.psLine(id, false); line != "" {
			t.Errorf("ps still lists the stopped container: %q", line)
		}
		if line := e.psLine(id, true); !strings.Contains(line, "Exited (143)") {
			t.Errorf("ps -a line %q, want Exited (143)", line)
		}
		m2 := e.meta(id)
		if m2.Status != "exited" || m2.ExitCode != 143 || m2.FinishedAt.IsZero() {
			t.Errorf("meta after stop: status %q exit %d finished %v, want exited 143", m2.Status, m2.ExitCode, m2.FinishedAt)
		}
		if pidAlive(m.Pid) {
			t.Errorf("container pid %d still alive after stop", m.Pid)
		}
		if !eventually(3*time.Second, func() bool { return !pidAlive(m.MonitorPid) }) {
			t.Errorf("monitor %d still alive after the container exited", m.MonitorPid)
		}
		if _, err := os.Stat(filepath.Join(e.runRoot, id)); err == nil {
			t.Errorf("the runtime still has the stopped container (%s exists): the monitor should delete it", filepath.Join(e.runRoot, id))
		}

		if out := e.mustBD("rm", "demo"); out != "demo" {
			t.Errorf("rm demo printed %q", out)
		}
		if _, err := os.Stat(filepath.Join(e.root, "containers", id)); !os.IsNotExist(err) {
			t.Errorf("%s/containers/%s still exists after rm (%v)", e.root, id, err)
		}
		if a := e.mustBD("ps", "-a"); strings.Contains(a, "demo") {
			t.Errorf("ps -a still lists demo:\n%s", a)
		}
		if l := e.findLeaks(); !l.empty() {
			t.Errorf("right after rm:%s", l)
		}
	})
}
