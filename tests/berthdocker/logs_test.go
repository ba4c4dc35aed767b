package dockertest

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLogsStreams: logs keeps stdout and stderr apart and in order.
func TestLogsStreams(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		id := e.runD("busybox", "sh", "-c", "echo out1; echo err1 >&2; sleep 0.1; echo out2")
		e.mustBD("wait", id)
		r := e.bd("logs", id)
		if r.Code != 0 || r.Out != "out1\nout2\n" || r.Err != "err1\n" {
			t.Errorf("logs: want stdout out1 out2, stderr err1: %s", r)
		}
		// The log file is JSON lines {stream, log, time}.
		f, err := os.Open(filepath.Join(e.root, "containers", id, "container.log"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		n := 0
		for sc.Scan() {
			var l struct {
				Stream, Log string
				Time        time.Time
			}
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil || (l.Stream != "stdout" && l.Stream != "stderr") || l.Time.IsZero() {
				t.Errorf("log line %q: %v", sc.Text(), err)
			}
			n++
		}
		if n != 3 {
			t.Errorf("%d log lines, want 3", n)
		}
	})
}

// TestLogsTail: --tail N shows the last N lines. The lines are written
// apart so that each is a log record of its own (TestLogsTailCountsLines
// covers several lines in one record).
func TestLogsTail(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		id := e.runD("busybox", "sh", "-c", "echo one; sleep 0.1; echo two; sleep 0.1; echo three")
		e.mustBD("wait", id)
		if out := e.bd("logs", "--tail", "1", id).Out; out != "three\n" {
			t.Errorf("logs --tail 1: %q, want three", out)
		}
		if out := e.bd("logs", "--tail", "2", id).Out; out != "two\nthree\n" {
			t.Errorf("logs --tail 2: %q, want two three", out)
		}
		if out := e.bd("logs", "--tail", "0", id).Out; out != "" {
			t.Errorf("logs --tail 0: %q, want nothing", out)
		}
		if out := e.bd("logs", "--tail", "10", id).Out; out != "one\ntwo\nthree\n" {
			t.Errorf("logs --tail 10: %q", out)
		}
		e.failBD("", "logs", "--tail", "x", id)
	})
}

// TestLogsTailCountsLines: --tail counts lines of output, not the chunks
// the monitor happened to read (docker splits its log into lines).
func TestLogsTailCountsLines(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		// One write of three lines.
		id := e.runD("busybox", "sh", "-c", `printf "a\nb\nc\n"`)
		e.mustBD("wait", id)
		if out := e.bd("logs", "--tail", "1", id).Out; out != "c\n" {
			t.Errorf("logs --tail 1 after printf 'a\\nb\\nc\\n': %q, want \"c\\n\"", out)
		}
	})
}

// TestLogsTimestamps: -t prefixes every line with an RFC 3339 time.
func TestLogsTimestamps(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		before := time.Now().Add(-time.Second)
		id := e.runD("busybox", "sh", "-c", `echo one; sleep 0.05; printf "two\nthree\n"`)
		e.mustBD("wait", id)
		out := e.mustBD("logs", "-t", id)
		lines := strings.Split(out, "\n")
		if len(lines) != 3 {
			t.Fatalf("logs -t: %d lines, want 3:\n%s", len(lines), out)
		}
		for i, l := range lines {
			ts, text, _ := strings.Cut(l, " ")
			tm, err := time.Parse(time.RFC3339Nano, ts)
			if err != nil || tm.Before(before) || tm.After(time.Now()) {
				t.Errorf("logs -t line %d %q: no timestamp of this run (%v)", i, l, err)
			}
			if want := []string{"one", "two", "three"}[i]; text != want {
				t.Errorf("logs -t line %d: text %q, want %q", i, text, want)
			}
		}
	})
}

// TestLogsFollow: logs -f prints output as it comes and returns when the
// container exits.
func TestLogsFollow(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		id := e.runD("busybox", "sh", "-c", "for i in 1 2 3 4 5; do echo $i; sleep 0.2; done; echo last >&2")
		r := e.bdWith(bdOpts{timeout: 10 * time.Second}, "logs", "-f", id)
		if r.Code != 0 || r.Out != "1\n2\n3\n4\n5\n" || r.Err != "last\n" {
			t.Errorf("logs -f: want 1..5 and last on stderr, exit 0: %s", r)
		}
		if r.Dur < 500*time.Millisecond {
			t.Errorf("logs -f returned after %v: it did not follow the running container", r.Dur)
		}
		if m := e.meta(id); m.Status != "exited" {
			t.Errorf("logs -f returned while the container's status is %q", m.Status)
		}
		// On a stopped container, -f prints everything and returns.
		r = e.bdWith(bdOpts{timeout: 5 * time.Second}, "logs", "-f", id)
		if r.Code != 0 || r.Out != "1\n2\n3\n4\n5\n" {
			t.Errorf("logs -f on an exited container: %s", r)
		}
	})
}
