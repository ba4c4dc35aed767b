package dockertest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRunForegroundOutputAndExitCode: a foreground run prints the
// container's output and exits with its exit code.
func TestRunForegroundOutputAndExitCode(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		// Several times: the exit is recorded asynchronously.
		for i := 0; i < 3; i++ {
			r := e.bd("run", "busybox", "sh", "-c", "echo hi; exit 3")
			if r.Out != "hi\n" || r.Code != 3 {
				t.Errorf("run %d: run busybox sh -c 'echo hi; exit 3': want stdout \"hi\\n\" and exit 3: %s", i, r)
			}
		}
		r := e.bd("run", "busybox", "sh", "-c", "echo out; echo err >&2")
		if r.Out != "out\n" || r.Err != "err\n" || r.Code != 0 {
			t.Errorf("want stdout out, stderr err, exit 0: %s", r)
		}
		// The container stays, exited, with the code recorded.
		for _, id := range e.containerDirs() {
			m := e.meta(id)
			if m.Status != "exited" {
				t.Errorf("container %s: status %q after the foreground run returned, want exited", id[:12], m.Status)
			}
		}
	})
}

// TestRunRm: --rm removes the container once it has exited; the foreground
// run still reports the output and the exit code.
func TestRunRm(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		r := e.bd("run", "--rm", "busybox", "sh", "-c", "echo bye; exit 4")
		if r.Out != "bye\n" || r.Code != 4 {
			t.Errorf("run --rm busybox sh -c 'echo bye; exit 4': want stdout bye and exit 4: %s", r)
		}
		if !eventually(3*time.Second, func() bool { return len(e.containerDirs()) == 0 }) {
			t.Errorf("run --rm: container still in the store: %v", e.containerDirs())
		}
		if a := e.mustBD("ps", "-a", "-q"); a != "" {
			t.Errorf("ps -a after run --rm: %q", a)
		}
		if l := e.findLeaks(); !l.empty() {
			t.Errorf("after run --rm:%s", l)
		}

		id := e.runD("--rm", "busybox", "sh", "-c", "sleep 0.2")
		if !eventually(5*time.Second, func() bool {
			_, err := os.Stat(filepath.Join(e.root, "containers", id))
			return os.IsNotExist(err)
		}) {
			t.Errorf("run -d --rm: container %s not removed after it exited", id[:12])
		}
		if l := e.findLeaks(); !l.empty() && !eventually(3*time.Second, func() bool { return e.findLeaks().empty() }) {
			t.Errorf("after run -d --rm:%s", e.findLeaks())
		}
	})
}

// TestRunInteractiveStdin: -i connects stdin; EOF on it reaches the
// container.
func TestRunInteractiveStdin(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		r := e.bdWith(bdOpts{stdin: []byte("abc\n"), timeout: 4 * time.Second}, "run", "-i", "busybox", "cat")
		if r.Out != "abc\n" || r.Code != 0 {
			t.Errorf("echo abc | run -i busybox cat: want abc and exit 0: %s", r)
		}
		// Without -i, stdin is /dev/null: cat ends at once.
		out, _, code := e.runWait("busybox", "cat")
		if out != "" || code != 0 {
			t.Errorf("run busybox cat without -i: out %q exit %d, want empty and 0", out, code)
		}
	})
}

// TestRunDetachedPrintsID: -d prints the ID and returns while the
// container runs.
func TestRunDetachedPrintsID(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		r := e.bd("run", "-d", "busybox", "sleep", "30")
		id := strings.TrimSpace(r.Out)
		if r.Code != 0 || !idRe.MatchString(id) {
			t.Fatalf("run -d: %s", r)
		}
		if r.Dur > scaled(5*time.Second) {
			t.Errorf("run -d took %v", r.Dur)
		}
		if m := e.meta(id); !pidAlive(m.Pid) || m.Status != "running" {
			t.Errorf("after run -d: pid %d alive %v, status %q", m.Pid, pidAlive(m.Pid), m.Status)
		}
		// A generated docker-style name.
		if n := e.meta(id).Name; n == "" || !strings.Contains(n, "_") {
			t.Errorf("generated name %q", n)
		}
		e.mustBD("rm", "-f", id)
	})
}

func TestRunEnv(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		out, _, code := e.runWait("-e", "FOO=bar", "-e", "PATH=/bin", "busybox", "sh", "-c", `echo "$FOO|$PATH"`)
		if out != "bar|/bin\n" || code != 0 {
			t.Errorf("-e: out %q exit %d", out, code)
		}
		f := filepath.Join(e.dir, "envfile")
		os.WriteFile(f, []byte("# comment\nA=1\n\nB=two words\nC=fromfile\n"), 0o644)
		out, _, _ = e.runWait("--env-file", f, "-e", "C=flag", "busybox", "sh", "-c", `echo "$A|$B|$C"`)
		if out != "1|two words|flag\n" {
			t.Errorf("--env-file (and -e overriding it): got %q, want \"1|two words|flag\"", out)
		}
		e.failBD("", "run", "--env-file", filepath.Join(e.dir, "missing"), "busybox", "true")
		e.requireNoContainers()
	})
}

func TestRunWorkdir(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		out, _, _ := e.runWait("-w", "/tmp", "busybox", "pwd")
		if out != "/tmp\n" {
			t.Errorf("-w /tmp: pwd printed %q", out)
		}
		// A missing directory is created, as docker does.
		out, _, code := e.runWait("-w", "/new/dir", "busybox", "pwd")
		if out != "/new/dir\n" || code != 0 {
			t.Errorf("-w /new/dir: pwd printed %q, exit %d", out, code)
		}
		e.failBD("", "run", "-w", "relative", "busybox", "pwd")
		e.requireNoContainers()
	})
}

func TestRunUser(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		out, _, _ := e.runWait("-u", "1000:1000", "busybox", "id")
		if !strings.HasPrefix(out, "uid=1000 gid=1000") {
			t.Errorf("-u 1000:1000: id printed %q", out)
		}
		out, _, _ = e.runWait("-u", "nobody", "busybox", "id", "-u")
		if out != "65534\n" {
			t.Errorf("-u nobody: id -u printed %q", out)
		}
		e.failBD("unable to find user", "run", "-u", "nosuchuser", "busybox", "id")
		e.requireNoContainers()
	})
}

func TestRunHostname(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		out, _, _ := e.runWait("--hostname", "myhost", "busybox", "hostname")
		if out != "myhost\n" {
			t.Errorf("--hostname myhost: %q", out)
		}
		out, _, _ = e.runWait("-h", "short", "busybox", "hostname")
		if out != "short\n" {
			t.Errorf("-h short: %q", out)
		}
		id := e.runD("busybox", "sh", "-c", "hostname; sleep 0.1")
		e.mustBD("wait", id)
		if out := e.mustBD("logs", id); out != id[:12] {
			t.Errorf("default hostname %q, want the short ID %s", out, id[:12])
		}
	})
}

func TestRunVolumes(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		host := filepath.Join(e.dir, "vol")
		os.Mkdir(host, 0o755)
		os.WriteFile(filepath.Join(host, "in"), []byte("hostdata\n"), 0o644)

		out, _, code := e.runWait("-v", host+":/data", "busybox", "sh", "-c", "cat /data/in && echo ctr > /data/out")
		if out != "hostdata\n" || code != 0 {
			t.Errorf("-v rw: out %q exit %d", out, code)
		}
		if b, _ := os.ReadFile(filepath.Join(host, "out")); string(b) != "ctr\n" {
			t.Errorf("-v rw: the container's write is not on the host: %q", b)
		}

		out, errOut, code := e.runWait("-v", host+":/data:ro", "busybox", "sh", "-c", "cat /data/in; echo x > /data/ro")
		if out != "hostdata\n" || code == 0 || !strings.Contains(errOut, "Read-only file system") {
			t.Errorf("-v ro: want the read to work and the write to fail: out %q err %q exit %d", out, errOut, code)
		}
		if _, err := os.Stat(filepath.Join(host, "ro")); err == nil {
			t.Errorf("-v ro: the write reached the host")
		}
		// The host directory is untouched by the container's removal.
		if _, err := os.Stat(filepath.Join(host, "in")); err != nil {
			t.Errorf("host file gone after the containers were removed: %v", err)
		}
	})
}

func TestRunTmpfs(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		out, _, code := e.runWait("--tmpfs", "/scratch", "--tmpfs", "/sized:size=1m", "busybox", "sh", "-c",
			"grep -E ' /(scratch|sized) ' /proc/mounts; echo x > /scratch/f && cat /scratch/f")
		if code != 0 || !strings.Contains(out, "tmpfs /scratch tmpfs") || !strings.Contains(out, "tmpfs /sized tmpfs") ||
			!strings.HasSuffix(out, "x\n") {
			t.Errorf("--tmpfs: exit %d, out:\n%s", code, out)
		}
		if l := grepLine(out, "tmpfs /sized "); !strings.Contains(l, "size=1024k") {
			t.Errorf("--tmpfs /sized:size=1m: mount line %q lacks size=1024k", l)
		}
	})
}

func TestRunReadOnly(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		_, errOut, code := e.runWait("--read-only", "busybox", "sh", "-c", "echo x > /f")
		if code == 0 || !strings.Contains(errOut, "Read-only file system") {
			t.Errorf("--read-only: writing / should fail: err %q exit %d", errOut, code)
		}
		// --tmpfs gives a writable place on a read-only root.
		out, _, code := e.runWait("--read-only", "--tmpfs", "/tmp", "busybox", "sh", "-c", "echo x > /tmp/f && cat /tmp/f")
		if out != "x\n" || code != 0 {
			t.Errorf("--read-only --tmpfs /tmp: out %q exit %d", out, code)
		}
	})
}

func TestRunEntrypoint(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		out, _, _ := e.runWait("--entrypoint", "echo", "busybox", "hello", "world")
		if out != "hello world\n" {
			t.Errorf("--entrypoint echo busybox hello world: %q", out)
		}
		out, _, _ = e.runWait("--entrypoint", "/bin/hostname", "-h", "ep", "busybox")
		if out != "ep\n" {
			t.Errorf("--entrypoint /bin/hostname (no command): %q", out)
		}
	})
}

func TestRunNetwork(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		out, _, _ := e.runWait("busybox", "sh", "-c", "ls /sys/class/net")
		if strings.Fields(out) == nil || strings.Join(strings.Fields(out), " ") != "lo" {
			t.Errorf("default (--network none): interfaces %q, want only lo", out)
		}
		out, _, _ = e.runWait("--network", "none", "busybox", "sh", "-c", "ls /sys/class/net; ip -o link show lo")
		if f := strings.Fields(out); len(f) == 0 || f[0] != "lo" || !strings.Contains(out, "UP") {
			t.Errorf("--network none: want lo only, up: %q", out)
		}
		hostIfs, _ := os.ReadDir("/sys/class/net")
		hostName, _ := os.Hostname()
		out, _, _ = e.runWait("--network", "host", "busybox", "sh", "-c", "ls /sys/class/net | wc -l; hostname")
		f := strings.Fields(out)
		if len(f) != 2 || f[0] != strconv.Itoa(len(hostIfs)) || f[1] != hostName {
			t.Errorf("--network host: got %q, want %d interfaces and hostname %s", out, len(hostIfs), hostName)
		}
		e.failBD("not supported", "run", "--network", "bridge", "busybox", "true")
		e.requireNoContainers()
	})
}

// TestRunTTY: -t was refused at first ("not supported yet"); then it must
// leave nothing behind. Once supported, the container's stdio is a
// terminal, detached (logs) and in the foreground (output, exit code).
func TestRunTTY(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		r := e.bdWith(bdOpts{timeout: 10 * time.Second}, "run", "-t", "busybox", "sh", "-c", "test -t 0 && test -t 1 && echo tty; exit 3")
		if r.Code != 0 && strings.Contains(r.Err, "not supported") {
			t.Logf("-t is not supported: %s", strings.TrimSpace(r.Err))
			e.failBD("not supported", "run", "-it", "busybox", "true")
			e.requireNoContainers()
			return
		}
		if !strings.Contains(r.Out, "tty") || r.Code != 3 {
			t.Errorf("run -t busybox sh -c 'test -t 0 && test -t 1 && echo tty; exit 3': want tty and exit 3: %s", r)
		}
		id := e.runD("-t", "busybox", "sh", "-c", "test -t 1 && echo tty; exit 4")
		if out := e.mustBD("wait", id); out != "4" {
			t.Errorf("run -d -t: wait printed %q, want 4", out)
		}
		if out := e.mustBD("logs", id); !strings.Contains(out, "tty") {
			t.Errorf("run -d -t: logs %q, want tty", out)
		}
		e.mustBD("rm", id)
	})
}
