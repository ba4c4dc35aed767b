// Package dockertest is the integration test suite for berth-docker: it
// drives scripts/berth-docker (and through it berth-docker-engine) exactly
// as a user does, once with berth as the OCI runtime and once with runc, and
// checks what the containers see and what is left on the host afterwards.
//
// Run it as root from the repository root, without make:
//
//	go test ./tests/berthdocker/                     # build berth and the engine, test both runtimes
//	go test ./tests/berthdocker/ -run 'TestSeed' -v  # one test
//	BERTH_BIN=/usr/local/bin/berth BERTH_DOCKER_ENGINE=/usr/local/bin/berth-docker-engine \
//		go test ./tests/berthdocker/               # test installed binaries instead of building
//	tests/run-v2.sh go test ./tests/berthdocker/     # in a cgroup v2 view of a hybrid host
//
// The whole package takes about a minute and a half. Tests of limits skip
// themselves when the needed cgroup controller is missing (the v2 view of a
// hybrid host has none).
//
// TestMain builds ./ (berth) and ./cmd/berth-docker-engine into a temp dir
// (the working tree's ./berth and ./berth-docker-engine are left alone)
// unless $BERTH_BIN / $BERTH_DOCKER_ENGINE name absolute paths. runc is
// /usr/sbin/runc (or $BERTH_DOCKER_TEST_RUNC, or runc on PATH); without it
// every runc subtest is skipped with that reason.
//
// Every test runs as TestX/berth and TestX/runc. Each gets its own
// /tmp/bdt* directory holding the engine's --root (r/) and --run-root (s/),
// and a one-line shim (rt) that logs each runtime call and execs the real
// runtime, so that the leak check knows every container ID the test made,
// including --rm containers that vanished before the test saw them. When a
// test ends, its remaining containers are removed with `rm -f` (the engine's
// own way), and then the test fails if anything is left: a mountinfo line
// mentioning its directory, a cgroup directory named after one of its
// container IDs (the engine uses cgroupsPath /berth-docker-<id>), an entry
// in its run-root (other than dot files such as berth's .seccomp-cache),
// or a process that mentions its directory (command line,
// environment) or sits in one of its containers' cgroups. Leftovers are
// then killed, deleted, unmounted or removed so one failure does not spoil
// the next test. berth-docker runs with TMPDIR inside the test's directory,
// and leaving anything there fails the test too.
package dockertest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/tests/internal/testkit"
)

var (
	// repoDir is the repository root.
	repoDir string
	// wrapper is scripts/berth-docker.
	wrapper string
	// engineBin is the berth-docker-engine under test.
	engineBin string
	// berthBin is the berth runtime under test.
	berthBin string
	// runcBin is runc, or "" when missing (runcMissing says why).
	runcBin, runcMissing string
	// buildDir holds the binaries TestMain built.
	buildDir string
	// cgroupV2 is true on a unified-mode host.
	cgroupV2 bool
)

// idRe matches a full container ID.
var idRe = regexp.MustCompile(`^[0-9a-f]{64}$`)

// idTokenRe finds container IDs anywhere in text.
var idTokenRe = regexp.MustCompile(`[0-9a-f]{64}`)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "tests/berthdocker: these tests need root; skipping all")
		return 0
	}
	var err error
	repoDir, err = filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintln(os.Stderr, "tests/berthdocker:", err)
		return 1
	}
	wrapper = filepath.Join(repoDir, "scripts", "berth-docker")
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err == nil {
		cgroupV2 = st.Type == unix.CGROUP2_SUPER_MAGIC
	}
	buildDir, err = os.MkdirTemp("", "bdt-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "tests/berthdocker:", err)
		return 1
	}
	defer os.RemoveAll(buildDir)
	if err := setup(); err != nil {
		fmt.Fprintln(os.Stderr, "tests/berthdocker: setup failed:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "tests/berthdocker: berth %s, engine %s, runc %q, cgroup v2 %v\n", berthBin, engineBin, runcBin, cgroupV2)
	return m.Run()
}

func setup() error {
	goTool := "go"
	if p, err := exec.LookPath("go"); err == nil {
		goTool = p
	} else if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		goTool = p
	} else {
		goTool = "/usr/local/go/bin/go"
	}
	build := func(env, out, pkg string) (string, error) {
		if p := os.Getenv(env); p != "" {
			if !filepath.IsAbs(p) {
				return "", fmt.Errorf("%s must be an absolute path, got %q", env, p)
			}
			return p, nil
		}
		bin := filepath.Join(buildDir, out)
		cmd := exec.Command(goTool, "build", "-tags", "osusergo netgo urfave_cli_no_docs", "-o", bin, pkg)
		cmd.Dir = repoDir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if o, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, o)
		}
		return bin, nil
	}
	var err error
	if berthBin, err = build("BERTH_BIN", "berth", "."); err != nil {
		return err
	}
	if engineBin, err = build("BERTH_DOCKER_ENGINE", "berth-docker-engine", "./cmd/berth-docker-engine"); err != nil {
		return err
	}
	for _, p := range []string{berthBin, engineBin, wrapper} {
		if fi, err := os.Stat(p); err != nil || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("%s is not an executable file (%v)", p, err)
		}
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		return fmt.Errorf("import-busybox needs a static /bin/busybox (busybox-static): %v", err)
	}
	runcBin = os.Getenv("BERTH_DOCKER_TEST_RUNC")
	if runcBin == "" {
		runcBin = "/usr/sbin/runc"
		if !fileExists(runcBin) {
			if p, err := exec.LookPath("runc"); err == nil {
				runcBin = p
			}
		}
	}
	if !fileExists(runcBin) {
		runcMissing = fmt.Sprintf("runc not found (%s, $BERTH_DOCKER_TEST_RUNC, PATH): the runc half of every test is skipped", runcBin)
		runcBin = ""
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// rtInfo is one OCI runtime the suite runs against.
type rtInfo struct {
	name, path string
}

// forEachRuntime runs f as subtests "berth" and "runc", each with a fresh
// env that has the busybox image imported.
func forEachRuntime(t *testing.T, f func(t *testing.T, e *env)) {
	forEachRuntimeOpt(t, true, f)
}

// forEachRuntimeNoImage is forEachRuntime with an empty image store.
func forEachRuntimeNoImage(t *testing.T, f func(t *testing.T, e *env)) {
	forEachRuntimeOpt(t, false, f)
}

func forEachRuntimeOpt(t *testing.T, withImage bool, f func(t *testing.T, e *env)) {
	t.Helper()
	for _, rt := range []rtInfo{{"berth", berthBin}, {"runc", runcBin}} {
		t.Run(rt.name, func(t *testing.T) {
			if rt.path == "" {
				t.Skip(runcMissing)
			}
			e := newEnv(t, rt)
			if withImage {
				e.mustBD("import-busybox")
			}
			f(t, e)
		})
	}
}

// env is one test's berth-docker installation.
type env struct {
	t       *testing.T
	rt      rtInfo
	dir     string // /tmp/bdtNNN
	root    string // --root
	runRoot string // --run-root
	shim    string // the logging runtime shim passed as --runtime
	calls   string // its log
}

func newEnv(t *testing.T, rt rtInfo) *env {
	t.Helper()
	dir, err := os.MkdirTemp("", "bdt")
	if err != nil {
		t.Fatal(err)
	}
	shim, err := testkit.NewShim(dir, "rt", rt.path)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, rt: rt, dir: dir, root: filepath.Join(dir, "r"), runRoot: filepath.Join(dir, "s"),
		shim: shim.Path, calls: shim.Log}
	t.Cleanup(e.teardown)
	return e
}

// result is one berth-docker invocation's outcome.
type result struct {
	Out, Err string
	Code     int
	Dur      time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("exit %d after %v\nstdout: %q\nstderr: %q", r.Code, r.Dur.Round(time.Millisecond), r.Out, r.Err)
}

// bdOpts tweak one invocation.
type bdOpts struct {
	stdin   []byte
	timeout time.Duration
	// viaEnv passes the runtime, root and run-root as $BERTH_DOCKER_*
	// instead of global options.
	viaEnv bool
	// runtime replaces the env's runtime shim for this call.
	runtime string
	// dir is the CLI's working directory.
	dir string
	// extra are passed to the CLI as fds 3, 4, ...
	extra []*os.File
}

// bd runs `berth-docker --runtime SHIM --root R --run-root S args...`.
func (e *env) bd(args ...string) result { return e.bdWith(bdOpts{}, args...) }

func (e *env) bdWith(o bdOpts, args ...string) result {
	e.t.Helper()
	o.timeout = scaled(o.timeout)
	if o.timeout == 0 {
		o.timeout = scaled(30 * time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	rt := e.shim
	if o.runtime != "" {
		rt = o.runtime
	}
	full := append([]string{"--runtime", rt, "--root", e.root, "--run-root", e.runRoot}, args...)
	if o.viaEnv {
		full = args
	}
	cmd := exec.CommandContext(ctx, wrapper, full...)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BERTH_DOCKER_") {
			env = append(env, kv)
		}
	}
	// The engine's temp files (e.g. terminal sockets) go below the test's
	// dir, where teardown checks that none is left.
	cmd.Env = append(env, "BERTH_DOCKER_ENGINE="+engineBin, "TMPDIR="+e.tmp())
	if o.viaEnv {
		cmd.Env = append(cmd.Env, "BERTH_DOCKER_RUNTIME="+e.shim, "BERTH_DOCKER_ROOT="+e.root, "BERTH_DOCKER_RUNROOT="+e.runRoot)
	}
	// Files, not pipes: a process the CLI leaves behind (exec -d, a
	// detached monitor) must not keep us waiting for EOF.
	outF, errF := e.tmpFile(), e.tmpFile()
	defer os.Remove(outF.Name())
	defer os.Remove(errF.Name())
	defer outF.Close()
	defer errF.Close()
	cmd.Stdout, cmd.Stderr = outF, errF
	if o.stdin != nil {
		cmd.Stdin = bytes.NewReader(o.stdin)
	}
	cmd.Dir = o.dir
	cmd.ExtraFiles = o.extra
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	err := cmd.Run()
	r := result{Dur: time.Since(start)}
	out, _ := os.ReadFile(outF.Name())
	errb, _ := os.ReadFile(errF.Name())
	r.Out, r.Err = string(out), string(errb)
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.Code = -1
		r.Err += fmt.Sprintf("\n[test: killed after %v timeout]", o.timeout)
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	case err != nil:
		e.t.Fatalf("berth-docker %v: %v", args, err)
	}
	return r
}

// tmp is the TMPDIR given to berth-docker.
func (e *env) tmp() string {
	p := filepath.Join(e.dir, "tmp")
	os.MkdirAll(p, 0o755)
	return p
}

func (e *env) tmpFile() *os.File {
	f, err := os.CreateTemp(e.dir, "io")
	if err != nil {
		e.t.Fatal(err)
	}
	return f
}

// mustBD runs berth-docker, requires exit 0 and returns trimmed stdout.
func (e *env) mustBD(args ...string) string {
	e.t.Helper()
	r := e.bd(args...)
	if r.Code != 0 {
		e.t.Fatalf("berth-docker %s: %s", strings.Join(args, " "), r)
	}
	return strings.TrimSpace(r.Out)
}

// failBD runs berth-docker and requires a non-zero exit and, when want is
// not empty, an error message containing it.
func (e *env) failBD(want string, args ...string) result {
	e.t.Helper()
	r := e.bd(args...)
	if r.Code == 0 {
		e.t.Errorf("berth-docker %s succeeded, want an error: %s", strings.Join(args, " "), r)
	} else if want != "" && !strings.Contains(r.Err, want) {
		e.t.Errorf("berth-docker %s: error does not mention %q: %s", strings.Join(args, " "), want, r)
	}
	return r
}

// runD runs `run -d args...` and returns the new container's ID. A start
// failure that is runc 1.1's Go init hitting a tiny pids limit
// (pthread_create failed) is retried, with a log line.
func (e *env) runD(args ...string) string {
	e.t.Helper()
	for attempt := 1; ; attempt++ {
		r := e.bd(append([]string{"run", "-d"}, args...)...)
		id := strings.TrimSpace(r.Out)
		if r.Code == 0 {
			if !idRe.MatchString(id) {
				e.t.Fatalf("run -d printed %q, want a 64-hex ID", r.Out)
			}
			return id
		}
		if attempt < 4 && e.threadStartFailure() {
			e.t.Logf("run -d %v: the runtime's init could not start a thread under the pids limit (attempt %d), retrying: %s", args, attempt, strings.TrimSpace(r.Err))
			e.rmAll()
			continue
		}
		e.t.Fatalf("run -d %s: %s", strings.Join(args, " "), r)
	}
}

// threadStartFailure reports whether a container of this env failed to
// start because the runtime's init could not create a thread.
func (e *env) threadStartFailure() bool {
	found := false
	for _, id := range e.containerDirs() {
		for _, f := range []string{"container.log", "runtime.log"} {
			b, _ := os.ReadFile(filepath.Join(e.root, "containers", id, f))
			if bytes.Contains(b, []byte("pthread_create failed")) {
				found = true
			}
		}
	}
	return found
}

// runWait runs a container detached, waits for it, and returns its exit
// code (from `wait`) and its logged stdout and stderr; the container is
// removed. This avoids depending on the foreground `run` path, which has
// tests of its own.
func (e *env) runWait(args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	id := e.runD(args...)
	w := e.bd("wait", id)
	if w.Code != 0 {
		e.t.Fatalf("wait %s: %s", id, w)
	}
	code, err := strconv.Atoi(strings.TrimSpace(w.Out))
	if err != nil {
		e.t.Fatalf("wait printed %q, want an exit code", w.Out)
	}
	l := e.bd("logs", id)
	if l.Code != 0 {
		e.t.Fatalf("logs %s: %s", id, l)
	}
	e.mustBD("rm", id)
	return l.Out, l.Err, code
}

// meta is the part of <root>/containers/<id>/meta.json the tests read.
type meta struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Pid        int       `json:"pid"`
	Status     string    `json:"status"`
	ExitCode   int       `json:"exitCode"`
	OOMKilled  bool      `json:"oomKilled"`
	MonitorPid int       `json:"monitorPid"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
}

func (e *env) meta(id string) meta {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.root, "containers", id, "meta.json"))
	if err != nil {
		e.t.Fatalf("meta.json of %s: %v", id, err)
	}
	var m meta
	if err := json.Unmarshal(b, &m); err != nil {
		e.t.Fatalf("meta.json of %s: %v\n%s", id, err, b)
	}
	return m
}

// inspect returns `inspect id`'s single element.
func (e *env) inspect(id string) map[string]any {
	e.t.Helper()
	out := e.mustBD("inspect", id)
	var v []map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v) != 1 {
		e.t.Fatalf("inspect %s: want a one-element JSON array (%v): %s", id, err, out)
	}
	return v[0]
}

// psLine returns the `ps` (or `ps -a`) line of the container, or "".
func (e *env) psLine(id string, all bool) string {
	e.t.Helper()
	args := []string{"ps"}
	if all {
		args = append(args, "-a")
	}
	for _, l := range strings.Split(e.mustBD(args...), "\n") {
		if strings.HasPrefix(l, id[:12]+" ") {
			return l
		}
	}
	return ""
}

// containerDirs lists <root>/containers.
func (e *env) containerDirs() []string {
	entries, _ := os.ReadDir(filepath.Join(e.root, "containers"))
	var res []string
	for _, d := range entries {
		res = append(res, d.Name())
	}
	return res
}

// requireNoContainers fails unless the container store is empty.
func (e *env) requireNoContainers() {
	e.t.Helper()
	if d := e.containerDirs(); len(d) != 0 {
		e.t.Errorf("containers left in %s/containers: %v", e.root, d)
	}
}

// rmAll removes every container with `rm -f`.
func (e *env) rmAll() {
	for _, id := range e.containerDirs() {
		e.bd("rm", "-f", id)
	}
}

// ids returns every container ID this env has seen: in the runtime shim's
// log and in the container store.
func (e *env) ids() []string {
	set := map[string]bool{}
	if b, err := os.ReadFile(e.calls); err == nil {
		for _, id := range idTokenRe.FindAllString(string(b), -1) {
			set[id] = true
		}
	}
	for _, d := range e.containerDirs() {
		if idRe.MatchString(d) {
			set[d] = true
		}
	}
	var res []string
	for id := range set {
		res = append(res, id)
	}
	sort.Strings(res)
	return res
}

// eventually polls cond every 50ms until it holds or d (scaled) has
// passed.
func eventually(d time.Duration, cond func() bool) bool { return testkit.Eventually(d, cond) }

// pidAlive is true for a live, non-zombie process.
func pidAlive(pid int) bool { return testkit.PidAlive(pid) }

// statusField returns a field of /proc/PID/status.
func statusField(pid int, field string) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == field {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func ppid(pid int) int {
	n, _ := strconv.Atoi(statusField(pid, "PPid"))
	return n
}

// cgroupFile is the host path of file in the cgroup of pid for a v1
// controller (or the unified hierarchy on v2).
func cgroupFile(t *testing.T, pid int, controller, file string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatalf("cgroup of %d: %v", pid, err)
	}
	p := cgroupFileIn(string(b), controller, file)
	if p == "" {
		t.Fatalf("pid %d has no %s cgroup:\n%s", pid, controller, b)
	}
	return p
}

// cgroupFileIn finds file's host path in the cgroup a /proc/PID/cgroup
// text names for controller (the unified hierarchy on v2); "" if none.
func cgroupFileIn(procCgroup, controller, file string) string {
	if dir := testkit.CgroupDirIn(procCgroup, controller, cgroupV2); dir != "" {
		return filepath.Join(dir, file)
	}
	return ""
}

func readTrim(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// capSet parses a Cap* hex mask.
func capSet(hex string) uint64 {
	v, _ := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
	return v
}

// grepLine returns the first line of text starting with prefix.
func grepLine(text, prefix string) string {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) {
			return sc.Text()
		}
	}
	return ""
}

// ---- leak check ----

// leaks lists what the test left on the host.
type leaks struct {
	mounts   []string // mount points
	cgroups  []string // directories
	runState []string // run-root entries
	procs    []int
	procDesc []string
}

func (l leaks) empty() bool {
	return len(l.mounts)+len(l.cgroups)+len(l.runState)+len(l.procs) == 0
}

func (l leaks) String() string {
	var b strings.Builder
	for _, m := range l.mounts {
		fmt.Fprintf(&b, "\n  mount %s", m)
	}
	for _, c := range l.cgroups {
		fmt.Fprintf(&b, "\n  cgroup %s", c)
	}
	for _, s := range l.runState {
		fmt.Fprintf(&b, "\n  runtime state %s", s)
	}
	for _, p := range l.procDesc {
		fmt.Fprintf(&b, "\n  process %s", p)
	}
	return b.String()
}

// findLeaks looks for anything of this env's left on the host.
func (e *env) findLeaks() leaks {
	var l leaks
	if f, err := os.Open("/proc/self/mountinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if strings.Contains(sc.Text(), e.dir+"/") {
				fields := strings.Fields(sc.Text())
				mp := sc.Text()
				if len(fields) > 4 {
					mp = unescapeMount(fields[4])
				}
				l.mounts = append(l.mounts, mp)
			}
		}
		f.Close()
	}
	ids := e.ids()
	idSet := map[string]bool{}
	for _, id := range ids {
		idSet[id] = true
	}
	if len(ids) > 0 {
		filepath.WalkDir("/sys/fs/cgroup", func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if strings.Count(strings.TrimPrefix(p, "/sys/fs/cgroup"), "/") > 6 {
				return fs.SkipDir
			}
			if idSet[d.Name()] {
				l.cgroups = append(l.cgroups, p)
				return fs.SkipDir
			}
			return nil
		})
	}
	if entries, err := os.ReadDir(e.runRoot); err == nil {
		for _, d := range entries {
			// Not a container: berth keeps a seccomp cache there.
			if !strings.HasPrefix(d.Name(), ".") {
				l.runState = append(l.runState, d.Name())
			}
		}
	}
	procs, _ := os.ReadDir("/proc")
	self := os.Getpid()
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == self || !pidAlive(pid) {
			continue
		}
		why := ""
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		environ, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		switch {
		case bytes.Contains(cmdline, []byte(e.dir+"/")):
			why = "command line"
		case bytes.Contains(environ, []byte(e.dir+"/")):
			why = "environment"
		default:
			for _, id := range idTokenRe.FindAllString(string(cg), -1) {
				if idSet[id] {
					why = "cgroup of container " + id[:12]
					break
				}
			}
		}
		if why != "" {
			l.procs = append(l.procs, pid)
			l.procDesc = append(l.procDesc, fmt.Sprintf("%d (%s) [%s]", pid,
				strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " ")), why))
		}
	}
	return l
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

// teardown removes what is left through the engine, then fails the test
// for anything still on the host, and cleans that up.
func (e *env) teardown() {
	t := e.t
	if left := e.containerDirs(); len(left) > 0 {
		for _, id := range left {
			if r := e.bd("rm", "-f", id); r.Code != 0 {
				t.Errorf("teardown: rm -f %s: %s", id, r)
			}
		}
	}
	var l leaks
	// The monitor exits just after recording the exit; give it a moment.
	eventually(5*time.Second, func() bool { l = e.findLeaks(); return l.empty() })
	if tmp, _ := os.ReadDir(filepath.Join(e.dir, "tmp")); len(tmp) > 0 {
		var names []string
		for _, d := range tmp {
			names = append(names, d.Name())
		}
		t.Errorf("berth-docker left temp files in its TMPDIR: %v", names)
	}
	if !l.empty() {
		t.Errorf("leaked after the test (and after rm -f of every container):%s", l)
		for _, pid := range l.procs {
			unix.Kill(pid, syscall.SIGKILL)
		}
		for _, id := range l.runState {
			exec.Command(e.rt.path, "--root", e.runRoot, "delete", "-f", id).Run()
		}
		eventually(3*time.Second, func() bool {
			for _, pid := range l.procs {
				if pidAlive(pid) {
					return false
				}
			}
			return true
		})
		sort.Sort(sort.Reverse(sort.StringSlice(l.cgroups)))
		for _, c := range l.cgroups {
			os.Remove(c)
		}
	}
	// Unmount anything left below the dir, deepest first, before removing
	// it: never descend into a mounted rootfs (or a bind of a host dir).
	mounts := e.findLeaks().mounts
	sort.Sort(sort.Reverse(sort.StringSlice(mounts)))
	for _, m := range mounts {
		unix.Unmount(m, unix.MNT_DETACH)
	}
	if rest := e.findLeaks().mounts; len(rest) > 0 {
		t.Errorf("not removing %s: still mounted: %v", e.dir, rest)
		return
	}
	os.RemoveAll(e.dir)
}

// scaled is testkit.Scaled, for the suite's own time bounds.
func scaled(d time.Duration) time.Duration { return testkit.Scaled(d) }
