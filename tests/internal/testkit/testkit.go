// Package testkit is what the test suites share (tests/integration,
// tests/berthdocker and the caller suites tests/podman, tests/containerd,
// tests/dockerd, tests/conmon): polling and process checks, a Berth binary
// to test, a logging shim that proves a caller really ran Berth, a busybox
// image built on the spot (nothing comes from a registry), commands with
// timeouts, daemons started and stopped by their pid, and a leak check
// scoped to the tokens a suite owns (its temp dir, its cgroup parent), so
// that suites can run side by side.
package testkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RepoDir returns the repository root, found from this source file.
func RepoDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

var (
	berthOnce sync.Once
	berthPath string
	berthErr  error
)

// BerthBinary returns the berth binary under test: $BERTH_BIN (an absolute
// path) or one built from the repository into dir once per process.
func BerthBinary(dir string) (string, error) {
	berthOnce.Do(func() {
		if p := os.Getenv("BERTH_BIN"); p != "" {
			if !filepath.IsAbs(p) {
				berthErr = fmt.Errorf("BERTH_BIN must be an absolute path, got %q", p)
				return
			}
			berthPath = p
			return
		}
		berthPath = filepath.Join(dir, "berth-bin", "berth")
		// berth and, beside it, berth-criu (checkpoint and restore), as
		// make berth builds them.
		for _, b := range []struct{ tags, out string }{
			{"osusergo netgo urfave_cli_no_docs", berthPath},
			{"osusergo netgo urfave_cli_no_docs berth_criu", filepath.Join(dir, "berth-bin", "berth-criu")},
		} {
			cmd := exec.Command(GoTool(), "build", "-tags", b.tags,
				"-ldflags", "-linkmode external -extldflags -static", "-o", b.out, ".")
			cmd.Dir = RepoDir()
			cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
			if out, err := cmd.CombinedOutput(); err != nil {
				berthErr = fmt.Errorf("go build %s: %v\n%s", filepath.Base(b.out), err, out)
				return
			}
		}
	})
	return berthPath, berthErr
}

// GoTool returns the go command.
func GoTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "/usr/local/go/bin/go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Shim is an executable script named like the runtime it wraps that appends
// each invocation's arguments to a log before it execs the runtime. Callers
// pick features by the runtime's name (podman's runtime_supports_json), so
// the shim for Berth is called "berth".
type Shim struct {
	Path string // the script
	Log  string // one line per call: the arguments
}

// NewShim writes dir/name wrapping target.
func NewShim(dir, name, target string) (*Shim, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	s := &Shim{Path: filepath.Join(dir, name), Log: filepath.Join(dir, name+".calls")}
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$*\" >> '%s'\nexec '%s' \"$@\"\n", s.Log, target)
	if err := os.WriteFile(s.Path, []byte(script), 0o755); err != nil {
		return nil, err
	}
	return s, nil
}

// Calls returns the logged invocations, one string of arguments each.
func (s *Shim) Calls() []string {
	b, err := os.ReadFile(s.Log)
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

// Called reports whether some logged invocation contains every word.
func (s *Shim) Called(words ...string) bool {
	for _, c := range s.Calls() {
		fields := " " + c + " "
		ok := true
		for _, w := range words {
			if !strings.Contains(fields, " "+w+" ") {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// Result is one command's outcome.
type Result struct {
	Args     []string
	Out, Err string
	Code     int // -1 when killed by the timeout
}

func (r Result) String() string {
	return fmt.Sprintf("%s: exit %d\nstdout: %q\nstderr: %q", strings.Join(r.Args, " "), r.Code, r.Out, r.Err)
}

// Cmd describes one command to run.
type Cmd struct {
	Args    []string
	Env     []string // added to the environment
	Stdin   []byte
	Timeout time.Duration // default 60s; scaled (Scaled)
	Dir     string
}

// Scaled stretches a time bound by $BERTH_TEST_TIME_SCALE (an integer,
// default 1): the real-host guest runs under software emulation, several
// times slower than a host (tests/vm/guest-suite.sh sets it). Run's
// timeouts and Poll's (Eventually's) bounds are scaled.
func Scaled(d time.Duration) time.Duration {
	if n, err := strconv.Atoi(os.Getenv("BERTH_TEST_TIME_SCALE")); err == nil && n > 1 {
		return d * time.Duration(n)
	}
	return d
}

// Run runs the command and returns its result; it fails the test only when
// the command cannot be started at all. Output goes to files, not pipes, so
// a process the command leaves behind cannot keep Run waiting.
func Run(t testing.TB, c Cmd) Result {
	t.Helper()
	if c.Timeout == 0 {
		c.Timeout = 60 * time.Second
	}
	c.Timeout = Scaled(c.Timeout)
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Args[0], c.Args[1:]...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Dir = c.Dir
	if c.Stdin != nil {
		cmd.Stdin = bytes.NewReader(c.Stdin)
	}
	outF, err := os.CreateTemp("", "testkit-out")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(outF.Name())
	defer outF.Close()
	errF, err := os.CreateTemp("", "testkit-err")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(errF.Name())
	defer errF.Close()
	cmd.Stdout, cmd.Stderr = outF, errF
	cmd.WaitDelay = 2 * time.Second
	err = cmd.Run()
	out, _ := os.ReadFile(outF.Name())
	errb, _ := os.ReadFile(errF.Name())
	r := Result{Args: c.Args, Out: string(out), Err: string(errb)}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.Code = -1
		r.Err += fmt.Sprintf("\n[testkit: killed after %v]", c.Timeout)
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v", strings.Join(c.Args, " "), err)
	}
	return r
}

// Eventually polls cond every 50ms until it holds or timeout passes.
func Eventually(timeout time.Duration, cond func() bool) bool {
	return Poll(timeout, 50*time.Millisecond, cond)
}

// Poll calls cond every interval until it holds (true) or timeout has
// passed (false); cond runs at least once.
func Poll(timeout, interval time.Duration, cond func() bool) bool {
	return PollExact(Scaled(timeout), interval, cond)
}

// PollExact is Poll without Scaled: for a suite whose waits are also
// negative checks (a condition that must not come true within the bound),
// which scaling would only make slower (the integration suite's waitFor).
func PollExact(timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
}

// PidAlive reports whether pid is a live process: it exists and is not a
// zombie (or dead, state X) in /proc/PID/stat.
func PidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || len(s) <= i+2 || s[i+2] != 'Z' && s[i+2] != 'X'
}

// Daemon is a long-running caller (containerd, dockerd) started by a suite.
type Daemon struct {
	Name string
	Log  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// StartDaemon starts args with its output in logPath, then waits until
// ready returns nil (or the daemon dies, or timeout passes).
func StartDaemon(name, logPath string, env []string, ready func() error, timeout time.Duration, args ...string) (*Daemon, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer lf.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d := &Daemon{Name: name, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() { d.err = cmd.Wait(); close(d.done) }()
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-d.done:
			return nil, fmt.Errorf("%s exited during start-up (%v): %s", name, d.err, d.Tail(30))
		default:
		}
		rerr := ready()
		if rerr == nil {
			return d, nil
		}
		if time.Now().After(deadline) {
			d.Stop()
			return nil, fmt.Errorf("%s not ready after %v: %v\n%s", name, timeout, rerr, d.Tail(30))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Pid is the daemon's process id.
func (d *Daemon) Pid() int { return d.cmd.Process.Pid }

// Stop sends SIGTERM to the daemon's pid, waits up to 20s, then SIGKILLs it.
func (d *Daemon) Stop() error {
	select {
	case <-d.done:
		return nil
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		return nil
	case <-time.After(20 * time.Second):
	}
	d.cmd.Process.Kill()
	<-d.done
	return fmt.Errorf("%s (pid %d) ignored SIGTERM for 20s and was killed", d.Name, d.Pid())
}

// Tail returns the last n lines of the daemon's log.
func (d *Daemon) Tail(n int) string {
	b, _ := os.ReadFile(d.Log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
