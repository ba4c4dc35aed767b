package integration

// Running the runtime under test: rt, rtStart, results, state and waits.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-runtime/berth/tests/internal/testkit"
)

// result is the outcome of one runtime invocation.
type result struct {
	Args   []string
	Stdout string
	Stderr string
	Code   int
	// StdoutPath is the file the runtime's (and so a pass-through
	// container's) stdout went to; it can be re-read later.
	StdoutPath string
	// StderrPath is where stderr went, for what a process that outlived
	// the runtime wrote there.
	StderrPath string
}

func (r result) String() string {
	return fmt.Sprintf("`%s` exited %d\nstdout: %q\nstderr: %q",
		strings.Join(r.Args, " "), r.Code, r.Stdout, r.Stderr)
}

// Output is stdout and stderr together, for error-message checks.
func (r result) Output() string { return r.Stdout + r.Stderr }

// ok fails the test unless the invocation exited 0.
func (r result) ok(t *testing.T) result {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("runtime failed: %s", r)
	}
	return r
}

// failed fails the test unless the invocation exited non-zero with every
// one of substrs in its output.
func (r result) failed(t *testing.T, substrs ...string) result {
	t.Helper()
	if r.Code == 0 {
		t.Fatalf("runtime succeeded, want failure: %s", r)
	}
	for _, s := range substrs {
		if !strings.Contains(r.Output(), s) {
			t.Errorf("output does not mention %q: %s", s, r)
		}
	}
	return r
}

// readStdout re-reads the file stdout went to.
func (r result) readStdout(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(r.StdoutPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// readStderr re-reads the file stderr went to.
func (r result) readStderr(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(r.StderrPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// rtOpts adjusts a runtime invocation.
type rtOpts struct {
	// Global are extra global flags, placed after --root and before args.
	Global []string
	// NoRoot leaves out the --root flag.
	NoRoot bool
	// Dir is the working directory (default: workDir).
	Dir string
	// Stdin is the runtime's stdin (default /dev/null).
	Stdin *os.File
	// ExtraFiles are passed as fds 3, 4, ...
	ExtraFiles []*os.File
	// Timeout bounds the invocation (default defaultTimeout).
	Timeout time.Duration
	// Bin is the runtime binary (default berthBin).
	Bin string
	// Env replaces the runtime's environment (nil: the suite's).
	Env []string
	// Cred runs the runtime as another user (nil: root).
	Cred *syscall.Credential
}

// rt runs the runtime with `--root <test root>` prepended and returns its
// output and exit code. It never fails the test by itself unless the
// runtime cannot be started or times out.
func rt(t *testing.T, args ...string) result {
	t.Helper()
	return rtWith(t, rtOpts{}, args...)
}

// rtWith is rt with options.
func rtWith(t *testing.T, o rtOpts, args ...string) result {
	t.Helper()
	return rtStart(t, o, args...).wait(t)
}

// rtProc is a runtime invocation in progress.
type rtProc struct {
	cmd            *exec.Cmd
	cancel         context.CancelFunc
	ctx            context.Context
	args           []string
	stdout, stderr *os.File
	done           chan struct{}
	waitErr        error
	res            *result
}

// rtStart starts the runtime without waiting for it. The runtime's stdout
// and stderr go to files (never pipes), so a detached container that
// inherits them cannot keep wait from returning.
func rtStart(t *testing.T, o rtOpts, args ...string) *rtProc {
	t.Helper()
	full := []string{}
	if !o.NoRoot {
		full = append(full, "--root", stateRoot(t))
	}
	full = append(full, o.Global...)
	full = append(full, args...)
	timeout := o.Timeout
	if timeout == 0 {
		timeout = defaultTimeout
	}
	outDir := filepath.Join(workDir, "out")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	stdout, err := os.CreateTemp(outDir, "stdout-")
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.CreateTemp(outDir, "stderr-")
	if err != nil {
		t.Fatal(err)
	}
	// Let an unprivileged container process (user namespace tests) write
	// to the files it inherits.
	_ = stdout.Chmod(0o666)
	_ = stderr.Chmod(0o666)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	bin := berthBin
	if o.Bin != "" {
		bin = o.Bin
	}
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if o.Stdin != nil {
		cmd.Stdin = o.Stdin
	}
	cmd.ExtraFiles = o.ExtraFiles
	cmd.Env = o.Env
	if o.Cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: o.Cred}
	}
	cmd.Dir = o.Dir
	if cmd.Dir == "" {
		cmd.Dir = workDir
	}
	p := &rtProc{cmd: cmd, ctx: ctx, cancel: cancel, args: full, stdout: stdout, stderr: stderr, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", berthBin, err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p
}

// wait waits for the invocation to finish and returns its result.
func (p *rtProc) wait(t *testing.T) result {
	t.Helper()
	r, err := p.finish()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// finish is wait without a *testing.T, for cleanups.
func (p *rtProc) finish() (result, error) {
	if p.res != nil {
		return *p.res, nil
	}
	<-p.done
	defer p.cancel()
	code := 0
	if p.waitErr != nil {
		var ee *exec.ExitError
		if !errors.As(p.waitErr, &ee) {
			return result{}, fmt.Errorf("running %v: %w", p.args, p.waitErr)
		}
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	}
	p.stdout.Close()
	p.stderr.Close()
	out, _ := os.ReadFile(p.stdout.Name())
	errOut, _ := os.ReadFile(p.stderr.Name())
	if p.ctx.Err() == context.DeadlineExceeded {
		return result{}, fmt.Errorf("runtime timed out and was killed: %s %s\nstdout: %q\nstderr: %q",
			berthBin, strings.Join(p.args, " "), out, errOut)
	}
	r := result{Args: p.args, Stdout: string(out), Stderr: string(errOut), Code: code, StdoutPath: p.stdout.Name(), StderrPath: p.stderr.Name()}
	p.res = &r
	return r, nil
}

// containerState is the JSON printed by `state`.
type containerState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations"`
}

// getState runs `state id` and decodes it, failing the test on error.
func getState(t *testing.T, id string) containerState {
	t.Helper()
	r := rt(t, "state", id).ok(t)
	var st containerState
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
		t.Fatalf("state output is not JSON: %v\n%s", err, r)
	}
	return st
}

// waitStatus polls `state` until the container has the wanted status.
func waitStatus(t *testing.T, id, want string, timeout time.Duration) containerState {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := getState(t, id)
		if st.Status == want {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s is %q after %v, want %q", id, st.Status, timeout, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitFor polls cond every 20ms until it returns true or the timeout
// expires.
func waitFor(timeout time.Duration, cond func() bool) bool {
	return testkit.PollExact(timeout, 20*time.Millisecond, cond)
}

// waitOutput waits until the file at path contains substr and returns its
// content.
func waitOutput(t *testing.T, path, substr string, timeout time.Duration) string {
	t.Helper()
	var content string
	if !waitFor(timeout, func() bool {
		b, _ := os.ReadFile(path)
		content = string(b)
		return strings.Contains(content, substr)
	}) {
		t.Fatalf("%q did not appear in the container output within %v; got %q", substr, timeout, content)
	}
	return content
}

// runOK runs a container (foreground `run`) from a fresh bundle and returns
// its stdout, failing the test if it does not exit 0.
func runOK(t *testing.T, mods ...func(*specs.Spec)) string {
	t.Helper()
	return runContainer(t, mods...).ok(t).Stdout
}

// runContainer runs a container (foreground `run`) from a fresh bundle.
func runContainer(t *testing.T, mods ...func(*specs.Spec)) result {
	t.Helper()
	bundle := newBundle(t, mods...)
	return rt(t, "run", "--bundle", bundle, newID(t))
}

// createStarted creates and starts a container from bundle and waits until
// it is running; it returns the id and the create result (whose StdoutPath
// receives the container's stdout).
func createStarted(t *testing.T, bundle string) (string, result) {
	t.Helper()
	id := newID(t)
	cr := rt(t, "create", "--bundle", bundle, id).ok(t)
	rt(t, "start", id).ok(t)
	return id, cr
}

// rtStartNoT starts a runtime invocation for cleanup use.
func rtStartNoT(root string, args ...string) *rtProc {
	full := append([]string{"--root", root}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), defaultTimeout)
	cmd := exec.CommandContext(ctx, berthBin, full...)
	stdout, err1 := os.CreateTemp(workDir, "cleanup-")
	stderr, err2 := os.CreateTemp(workDir, "cleanup-")
	if err1 != nil || err2 != nil {
		cancel()
		return nil
	}
	cmd.Stdout, cmd.Stderr, cmd.Dir = stdout, stderr, workDir
	p := &rtProc{cmd: cmd, ctx: ctx, cancel: cancel, args: full, stdout: stdout, stderr: stderr, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p
}
