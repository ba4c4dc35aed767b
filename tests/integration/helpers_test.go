// Package integration is a black-box test suite for a runc-compatible OCI
// runtime. It drives the binary named by $BERTH_BIN (or, when that is unset,
// the repo's berth built by TestMain) through its command line only, and
// checks what the container sees with the static probe program from
// tests/probe, which it copies into every test rootfs as /bin/probe.
//
// The suite needs root. It runs on both cgroup v1 (hybrid) and cgroup v2
// hosts; see tests/README.md.
package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Set by TestMain.
var (
	// berthBin is the absolute path of the runtime under test.
	berthBin string
	// runtimeIsRunc is true when berthBin is a runc binary (by basename):
	// Berth-only expectations are skipped then.
	runtimeIsRunc bool
	// workDir holds everything the suite creates; removed at the end.
	workDir string
	// templateRootfs is the busybox+probe rootfs that bundles are cloned from.
	templateRootfs string
	// cgroupV2 is true when /sys/fs/cgroup is a cgroup2 mount (unified mode).
	cgroupV2 bool
)

// cgroupRoot is where cgroup hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// defaultTimeout bounds a single runtime invocation.
const defaultTimeout = 30 * time.Second

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "integration: these tests need root; skipping all")
		return 0
	}
	var err error
	workDir, err = os.MkdirTemp(tempBase(), "berth-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	// Containers with user namespaces must be able to traverse to their
	// rootfs as an unprivileged host uid.
	if err := os.Chmod(workDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer removeWorkDir()

	if err := setup(); err != nil {
		fmt.Fprintln(os.Stderr, "integration: setup failed:", err)
		return 1
	}
	mode := "cgroup v1"
	if cgroupV2 {
		mode = "cgroup v2"
	}
	fmt.Fprintf(os.Stderr, "integration: runtime %s (%s)\n", berthBin, mode)
	return m.Run()
}

// tempBase is where the suite's temp dir goes: $BERTH_TEST_TMPDIR if set,
// else /dev/shm when it is an exec-allowed tmpfs (cloning a rootfs of a few
// hundred busybox symlinks per test is much faster there than on a disk),
// else the default temp dir.
func tempBase() string {
	if d := os.Getenv("BERTH_TEST_TMPDIR"); d != "" {
		return d
	}
	var st unix.Statfs_t
	if unix.Statfs("/dev/shm", &st) == nil && st.Type == unix.TMPFS_MAGIC && st.Flags&unix.ST_NOEXEC == 0 {
		return "/dev/shm"
	}
	return os.TempDir()
}

// setup finds or builds the runtime, builds the probe and lays out the
// template rootfs.
func setup() error {
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", cgroupRoot, err)
	}
	cgroupV2 = st.Type == unix.CGROUP2_SUPER_MAGIC

	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return err
	}
	goTool := findGo()

	berthBin = os.Getenv("BERTH_BIN")
	if berthBin == "" {
		berthBin = filepath.Join(workDir, "berth")
		cmd := exec.Command(goTool, "build", "-o", berthBin, ".")
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building berth in %s failed (set BERTH_BIN to test another runtime): %v\n%s", repo, err, out)
		}
	} else if !filepath.IsAbs(berthBin) {
		return fmt.Errorf("BERTH_BIN must be an absolute path, got %q", berthBin)
	}
	if fi, err := os.Stat(berthBin); err != nil || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("runtime %s is not an executable file (%v)", berthBin, err)
	}
	runtimeIsRunc = strings.Contains(filepath.Base(berthBin), "runc")

	// $BERTH_PROBE names a prebuilt probe (the guest suite has no Go).
	// Hook tests run it from workDir.
	probe := filepath.Join(workDir, "probe")
	if prebuilt := os.Getenv("BERTH_PROBE"); prebuilt != "" {
		if err := copyFile(prebuilt, probe, 0o755); err != nil {
			return err
		}
	} else {
		cmd := exec.Command(goTool, "build", "-o", probe, "./tests/probe")
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building the probe failed: %v\n%s", err, out)
		}
	}
	templateRootfs = filepath.Join(workDir, "template")
	return makeTemplate(templateRootfs, probe)
}

// findGo returns the go command to build with.
func findGo() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "/usr/local/go/bin/go"
}

// makeTemplate creates a minimal rootfs: busybox with its applet symlinks,
// the probe, a passwd/group file and the usual mount points.
func makeTemplate(dir, probe string) error {
	for _, d := range []string{"bin", "dev", "proc", "sys", "etc", "root", "mnt", "run", "var", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		return err
	}
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		busybox = "/bin/busybox"
	}
	if err := copyFile(busybox, filepath.Join(dir, "bin", "busybox"), 0o755); err != nil {
		return fmt.Errorf("copying busybox (install busybox-static): %w", err)
	}
	if err := copyFile(probe, filepath.Join(dir, "bin", "probe"), 0o755); err != nil {
		return err
	}
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", applet)); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}

// cloneTree copies the directory tree src to dst: directories and symlinks
// are recreated and regular files are hard-linked (so a clone is cheap).
// Tests must not modify the hard-linked template files in place.
func cloneTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			return os.Chmod(target, info.Mode().Perm()|info.Mode()&(fs.ModeSticky))
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		default:
			if err := os.Link(path, target); err != nil {
				return copyFile(path, target, info.Mode().Perm())
			}
			return nil
		}
	})
}

// removeWorkDir removes the suite's temp dir, first detaching any mount that
// a misbehaving runtime left under it so RemoveAll cannot reach host files.
func removeWorkDir() {
	for _, mp := range mountsUnder(workDir) {
		_ = unix.Unmount(mp, unix.MNT_DETACH)
	}
	if len(mountsUnder(workDir)) > 0 {
		fmt.Fprintf(os.Stderr, "integration: mounts remain under %s; not removing it\n", workDir)
		return
	}
	_ = os.RemoveAll(workDir)
}

// ---------------------------------------------------------------------------
// Per-test environment: state root, container ids, bundles and leak checks.

// testEnv is what one test (or subtest) has created: its state root, the ids
// it handed out and its bundles. Its cleanup deletes the containers and
// checks nothing leaked.
type testEnv struct {
	root    string
	mu      sync.Mutex
	ids     []string
	bundles []string
}

var (
	envMu   sync.Mutex
	envs    = map[*testing.T]*testEnv{}
	counter atomic.Int64
)

// newDir creates a fresh, short-named, world-traversable directory under
// workDir. Short paths keep any socket a runtime puts in its state dir
// within the 108-byte sun_path limit.
func newDir(t *testing.T, kind string) string {
	t.Helper()
	dir := filepath.Join(workDir, kind, strconv.FormatInt(counter.Add(1), 10))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// getEnv returns t's environment, creating it (and registering its leak
// check) on first use.
func getEnv(t *testing.T) *testEnv {
	t.Helper()
	envMu.Lock()
	defer envMu.Unlock()
	if e := envs[t]; e != nil {
		return e
	}
	e := &testEnv{root: newDir(t, "s")}
	envs[t] = e
	t.Cleanup(func() {
		e.cleanup(t)
		envMu.Lock()
		delete(envs, t)
		envMu.Unlock()
	})
	return e
}

// stateRoot is the --root directory of t.
func stateRoot(t *testing.T) string { return getEnv(t).root }

// newID returns a container id unique to this run, "bt-<test hash>-<rand>",
// and registers it for deletion and leak checking.
func newID(t *testing.T) string {
	t.Helper()
	h := fnv.New32a()
	h.Write([]byte(t.Name()))
	id := fmt.Sprintf("bt-%08x-%06x", h.Sum32(), rand.Uint32()&0xffffff)
	e := getEnv(t)
	e.mu.Lock()
	e.ids = append(e.ids, id)
	e.mu.Unlock()
	return id
}

// markerName is a file put in each bundle's rootfs (its own inode, not
// hard-linked) so that a leaked process can be traced to its bundle through
// /proc/PID/root even after pivot_root.
const markerName = ".bt-marker"

// newBundle creates a bundle from defaultSpec, modified by each mod in turn,
// with a private clone of the template rootfs, and returns its directory.
func newBundle(t *testing.T, mods ...func(*specs.Spec)) string {
	t.Helper()
	e := getEnv(t)
	dir := newDir(t, "b")
	e.mu.Lock()
	e.bundles = append(e.bundles, dir)
	e.mu.Unlock()
	if err := cloneTree(templateRootfs, filepath.Join(dir, "rootfs")); err != nil {
		t.Fatalf("cloning rootfs: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rootfs", markerName), []byte(dir), 0o644); err != nil {
		t.Fatal(err)
	}
	s := defaultSpec()
	for _, mod := range mods {
		if mod != nil {
			mod(s)
		}
	}
	writeSpec(t, dir, s)
	return dir
}

// writeSpec writes s as dir/config.json.
func writeSpec(t *testing.T, dir string, s *specs.Spec) {
	t.Helper()
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// rootfsOf is the rootfs directory of a bundle made by newBundle.
func rootfsOf(bundle string) string { return filepath.Join(bundle, "rootfs") }

// defaultSpec is close to `runc spec` output: pid, network, ipc, uts and
// mount namespaces, the standard mounts, runc's default capabilities,
// RLIMIT_NOFILE 1024, runc's masked and read-only paths, no terminal and no
// linux.resources. Unlike `runc spec` the root is writable (tests that need
// a read-only root say so) and the process is `/bin/probe sleep`.
func defaultSpec() *specs.Spec {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Terminal: false,
			User:     specs.User{UID: 0, GID: 0},
			Args:     []string{"/bin/probe", "sleep"},
			Env: []string{
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"TERM=xterm",
			},
			Cwd: "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  caps,
				Effective: caps,
				Permitted: caps,
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: "rootfs"},
		Hostname: "berth-test",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace},
				{Type: specs.NetworkNamespace},
				{Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace},
				{Type: specs.MountNamespace},
			},
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
				"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
				"/proc/sched_debug", "/sys/firmware", "/proc/scsi",
			},
			ReadonlyPaths: []string{
				"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
			},
		},
	}
}

// withArgs sets process.args.
func withArgs(args ...string) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Process.Args = args }
}

// withProbe sets process.args to `/bin/probe args...`.
func withProbe(args ...string) func(*specs.Spec) {
	return withArgs(append([]string{"/bin/probe"}, args...)...)
}

// withoutNamespace removes the namespaces of the given types.
func withoutNamespace(types ...specs.LinuxNamespaceType) func(*specs.Spec) {
	return func(s *specs.Spec) {
		var kept []specs.LinuxNamespace
		for _, ns := range s.Linux.Namespaces {
			drop := false
			for _, typ := range types {
				drop = drop || ns.Type == typ
			}
			if !drop {
				kept = append(kept, ns)
			}
		}
		s.Linux.Namespaces = kept
	}
}

// withNamespace adds (or replaces) a namespace entry.
func withNamespace(ns specs.LinuxNamespace) func(*specs.Spec) {
	return func(s *specs.Spec) {
		withoutNamespace(ns.Type)(s)
		s.Linux.Namespaces = append(s.Linux.Namespaces, ns)
	}
}

// withMount appends mounts.
func withMount(ms ...specs.Mount) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Mounts = append(s.Mounts, ms...) }
}

// ---------------------------------------------------------------------------
// Running the runtime.

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

// ---------------------------------------------------------------------------
// Container helpers.

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

// waitFor polls cond until it returns true or the timeout expires.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
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

// pidAlive reports whether pid exists and is not a zombie.
func pidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

// hostNamespaces returns readlink(/proc/self/ns/*) of the test process.
func hostNamespaces(t *testing.T) map[string]string {
	t.Helper()
	return namespacesOf(t, "self")
}

// namespacesOf returns readlink(/proc/PID/ns/*).
func namespacesOf(t *testing.T, pid string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir("/proc/" + pid + "/ns")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		l, err := os.Readlink(filepath.Join("/proc", pid, "ns", e.Name()))
		if err == nil {
			out[e.Name()] = l
		}
	}
	return out
}

// mountEntry is one line of mountinfo.
type mountEntry struct {
	Root, MountPoint string
	Options          string // per-mount options
	Optional         string // optional fields, e.g. "shared:1"
	FSType, Source   string
	SuperOptions     string
}

// parseMountinfo parses /proc/PID/mountinfo text.
func parseMountinfo(text string) []mountEntry {
	var out []mountEntry
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 10 {
			continue
		}
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+2 >= len(f) {
			continue
		}
		e := mountEntry{
			Root:       unescapeMount(f[3]),
			MountPoint: unescapeMount(f[4]),
			Options:    f[5],
			Optional:   strings.Join(f[6:sep], " "),
			FSType:     f[sep+1],
			Source:     f[sep+2],
		}
		if sep+3 < len(f) {
			e.SuperOptions = f[sep+3]
		}
		out = append(out, e)
	}
	return out
}

// unescapeMount undoes the octal escapes (\040 etc.) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// findMount returns the last (topmost) mount at mountPoint.
func findMount(mounts []mountEntry, mountPoint string) (mountEntry, bool) {
	var found mountEntry
	ok := false
	for _, m := range mounts {
		if m.MountPoint == mountPoint {
			found, ok = m, true
		}
	}
	return found, ok
}

// hasOption reports whether the comma-separated list opts contains opt.
func hasOption(opts, opt string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == opt {
			return true
		}
	}
	return false
}

// hostMounts parses the test process's mountinfo.
func hostMounts(t *testing.T) []mountEntry {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return parseMountinfo(string(b))
}

// mountsUnder returns the host mount points at or below dir, deepest first.
func mountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range parseMountinfo(string(b)) {
		if m.MountPoint == dir || strings.HasPrefix(m.MountPoint, dir+"/") {
			out = append(out, m.MountPoint)
		}
	}
	// Later lines are mounted on top of / inside earlier ones.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// ---------------------------------------------------------------------------
// Leak checking.

// cleanup force-deletes every container of the test and then checks that
// nothing was left behind: mounts, cgroups, state dirs or processes.
func (e *testEnv) cleanup(t *testing.T) {
	e.mu.Lock()
	ids := append([]string(nil), e.ids...)
	bundles := append([]string(nil), e.bundles...)
	e.mu.Unlock()

	// Also delete anything in the root that was not made with newID.
	if entries, err := os.ReadDir(e.root); err == nil {
		for _, ent := range entries {
			if ent.IsDir() && !contains(ids, ent.Name()) {
				ids = append(ids, ent.Name())
			}
		}
	}
	for _, id := range ids {
		p := rtStartNoT(e.root, "delete", "--force", id)
		if p == nil {
			continue
		}
		if r, err := p.finish(); err != nil {
			t.Errorf("cleanup: %v", err)
		} else if r.Code != 0 && fileExists(filepath.Join(e.root, id)) {
			t.Errorf("cleanup: delete --force %s failed: %s", id, r)
		}
	}

	var leaks []string
	waitFor(5*time.Second, func() bool {
		leaks = e.findLeaks(ids, bundles)
		return len(leaks) == 0
	})
	for _, l := range leaks {
		t.Errorf("leak: %s", l)
	}

	// Protect the host before removing anything: kill leaked container
	// processes and detach leaked mounts.
	if len(leaks) > 0 {
		for _, pid := range bundleProcesses(bundles) {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		// Leaked cgroups are empty once their processes are gone; remove
		// them deepest first so they do not pile up on the host.
		waitFor(2*time.Second, func() bool {
			dirs := cgroupDirsMatching(ids)
			for i := len(dirs) - 1; i >= 0; i-- {
				_ = unix.Rmdir(dirs[i])
			}
			return len(cgroupDirsMatching(ids)) == 0
		})
	}
	safe := true
	for _, dir := range append(bundles, e.root) {
		for _, mp := range mountsUnder(dir) {
			_ = unix.Unmount(mp, unix.MNT_DETACH)
		}
		if len(mountsUnder(dir)) > 0 {
			safe = false
		}
	}
	if safe {
		for _, dir := range append(bundles, e.root) {
			_ = os.RemoveAll(dir)
		}
	}
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// findLeaks lists what is left of the given containers and bundles.
func (e *testEnv) findLeaks(ids, bundles []string) []string {
	var leaks []string
	// (1) mounts mentioning a bundle or the state root.
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			for _, dir := range append(bundles, e.root) {
				if strings.Contains(line, dir+"/") || strings.HasSuffix(line, dir) || strings.Contains(line, dir+" ") {
					leaks = append(leaks, "mount: "+line)
					break
				}
			}
		}
	}
	// (2) cgroup directories named after a container.
	for _, dir := range cgroupDirsMatching(ids) {
		leaks = append(leaks, "cgroup: "+dir)
	}
	// (3) state directories.
	for _, id := range ids {
		if fileExists(filepath.Join(e.root, id)) {
			leaks = append(leaks, "state dir: "+filepath.Join(e.root, id))
		}
	}
	// (4) processes living in a bundle.
	for _, pid := range bundleProcesses(bundles) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		leaks = append(leaks, fmt.Sprintf("process %d (%s)", pid, strings.ReplaceAll(string(cmdline), "\x00", " ")))
	}
	return leaks
}

// cgroupDirsMatching walks the cgroup mounts (to depth 5) for directories
// whose name contains one of ids.
func cgroupDirsMatching(ids []string) []string {
	if len(ids) == 0 {
		return nil
	}
	var found []string
	base := strings.Count(cgroupRoot, "/")
	_ = filepath.WalkDir(cgroupRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if !d.IsDir() {
			return nil
		}
		if strings.Count(path, "/")-base > 5 {
			return fs.SkipDir
		}
		name := d.Name()
		for _, id := range ids {
			if strings.Contains(name, id) {
				found = append(found, path)
				break
			}
		}
		return nil
	})
	return found
}

// bundleProcesses returns live processes whose root, cwd or command line
// points into one of the bundles, or whose root holds the bundle's marker
// file (which catches pivoted container processes).
func bundleProcesses(bundles []string) []int {
	type key struct{ dev, ino uint64 }
	markers := map[key]bool{}
	for _, b := range bundles {
		var st unix.Stat_t
		if unix.Stat(filepath.Join(rootfsOf(b), markerName), &st) == nil {
			markers[key{st.Dev, st.Ino}] = true
		}
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == self || !pidAlive(pid) {
			continue
		}
		proc := "/proc/" + ent.Name()
		hit := false
		root, _ := os.Readlink(proc + "/root")
		cwd, _ := os.Readlink(proc + "/cwd")
		cmdline, _ := os.ReadFile(proc + "/cmdline")
		for _, b := range bundles {
			if root == rootfsOf(b) || strings.HasPrefix(root, b+"/") ||
				cwd == b || strings.HasPrefix(cwd, b+"/") ||
				bytes.Contains(cmdline, []byte(b+"/")) || bytes.Contains(cmdline, []byte(b+"\x00")) {
				hit = true
			}
		}
		if !hit && len(markers) > 0 {
			var st unix.Stat_t
			if unix.Stat(proc+"/root/"+markerName, &st) == nil && markers[key{st.Dev, st.Ino}] {
				hit = true
			}
		}
		if hit {
			pids = append(pids, pid)
		}
	}
	return pids
}

// ---------------------------------------------------------------------------
// Cgroup helpers.

// procCgroups parses /proc/PID/cgroup into controller-list -> path, e.g.
// "" -> "/x" for the v2 line and "pids" -> "/x" for v1.
func procCgroups(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	return parseCgroupFile(string(b))
}

// parseCgroupFile parses /proc/*/cgroup text.
func parseCgroupFile(text string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) == 3 {
			out[parts[1]] = parts[2]
		}
	}
	return out
}

// cgroupDirOf returns the host directory of pid's cgroup in a hierarchy
// that must exist in both modes: the unified one in v2 mode, pids in v1.
func cgroupDirOf(t *testing.T, pid int) (ctrlPath, dir string) {
	t.Helper()
	cg := procCgroups(t, pid)
	if cgroupV2 {
		return cg[""], filepath.Join(cgroupRoot, cg[""])
	}
	return cg["pids"], filepath.Join(cgroupRoot, "pids", cg["pids"])
}

// ---------------------------------------------------------------------------
// Misc.

// hostDir creates a directory outside any bundle, with the given files.
func hostDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := newDir(t, "h")
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if len(mountsUnder(dir)) == 0 {
			os.RemoveAll(dir)
		}
	})
	return dir
}

// lines splits output into trimmed non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

var (
	kernelFeaturesOnce sync.Once
	kernelFeatures     map[string]string
)

// runtimeHasKernelFeature reports whether the runtime says it uses the
// kernel API name (libcontainer/kernel's names) on this host: `features`
// annotates each with "yes" or "no: ...". A runtime without the annotation
// (runc) is taken to use it.
func runtimeHasKernelFeature(t *testing.T, name string) bool {
	t.Helper()
	kernelFeaturesOnce.Do(func() {
		out, err := exec.Command(berthBin, "features").Output()
		if err != nil {
			return
		}
		var f struct {
			Annotations map[string]string `json:"annotations"`
		}
		if json.Unmarshal(out, &f) == nil {
			kernelFeatures = f.Annotations
		}
	})
	v, ok := kernelFeatures["org.berth-runtime.berth.kernel."+name]
	return !ok || strings.HasPrefix(v, "yes")
}
