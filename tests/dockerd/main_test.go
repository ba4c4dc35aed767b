// Package dockerdtest proves Berth under Debian's dockerd 20.10: a daemon
// started by the suite with everything under a temp dir (its own managed
// containerd, data root, exec root, socket, containerd namespace and cgroup
// parent) and Berth registered as the runtime "berth" through a logging
// shim; every scenario runs `docker run --runtime berth ...` with Debian's
// client /usr/bin/docker and checks what the container sees, what the
// host's cgroup files say, and that the shim log shows Berth ran it. At the
// end everything is removed, dockerd is stopped by its pid, and the suite
// fails if a mount, cgroup dir, state dir or process of its own is left.
package dockerdtest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-runtime/berth/tests/internal/testkit"
)

// dockerCLI is Debian's client: /usr/local/bin/docker is an unrelated,
// newer client that may shadow it in $PATH.
const dockerCLI = "/usr/bin/docker"

// image is the busybox image the suite builds and loads.
const image = "localhost/berth-test/busybox:latest"

// env is one dockerd with Berth as its runtime "berth".
type env struct {
	dir      string // the suite's temp dir: everything lives here
	sock     string // dockerd's API socket
	cfgDir   string // DOCKER_CONFIG for the client
	ns       string // containerd namespace (also a leak token)
	cgParent string // --cgroup-parent
	berth    string // the runtime binary the shim wraps
	shim     *testkit.Shim
	daemon   *testkit.Daemon

	mu  sync.Mutex
	ids []string // every container id the suite created: leak tokens
}

func TestMain(m *testing.M) {
	flag.Parse()
	// Most scenarios wait on dockerd, not on the CPU: run more of them at
	// once than the default (GOMAXPROCS) unless -parallel was given.
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", "8")
	}
	// testkit builds berth once per process: into a dir that outlives
	// each TestDockerd run (-count=N), removed at the end.
	var err error
	if buildDir, err = os.MkdirTemp("", "berth-dockerd-bin-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(buildDir)
	os.Exit(code)
}

// buildDir is where berth is built when BERTH_BIN is not set.
var buildDir string

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// requirements skips the suite when the host lacks what it needs.
func requirements(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for _, p := range []string{"/usr/sbin/dockerd", dockerCLI, "/usr/bin/containerd", "/usr/bin/containerd-shim-runc-v2", testkit.Busybox} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("needs %s (make callers-deps): %v", p, err)
		}
	}
}

// systemdDriver is whether dockerd uses its systemd cgroup driver: its
// default (20.10) on a cgroup v2 host that systemd runs, as a stock Debian
// or Ubuntu host is. Elsewhere the suite uses cgroupfs.
func systemdDriver() bool { return testkit.SystemdRunning() && testkit.Unified() }

// cgroupParent is the --cgroup-parent for a suite token: a directory name
// for cgroupfs, a top-level slice for the systemd driver (which takes
// "a-b.slice" as a inside a: so no dashes).
func cgroupParent(token string) string {
	if systemdDriver() {
		return strings.ReplaceAll(token, "-", "") + ".slice"
	}
	return token
}

// startDockerd starts a dockerd with Berth (through shim) as runtime
// "berth", everything under dir. extra are more dockerd flags; wrap, if
// set, turns the dockerd command line into the one to start.
func startDockerd(dir, ns, cgParent string, shim *testkit.Shim, extra []string, wrap func([]string) []string) (*testkit.Daemon, string, error) {
	cfg := map[string]any{"runtimes": map[string]any{"berth": map[string]any{"path": shim.Path}}}
	b, _ := json.Marshal(cfg)
	cfgFile := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(cfgFile, b, 0o644); err != nil {
		return nil, "", err
	}
	sock := filepath.Join(dir, "docker.sock")
	args := []string{"/usr/sbin/dockerd",
		"--config-file", cfgFile,
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"),
		"-H", "unix://" + sock,
		"--containerd-namespace", ns,
		"--containerd-plugins-namespace", ns + "-plugins",
		"--iptables=false", "--ip-masq=false", "--bridge=none", "--userland-proxy=false",
		"--storage-driver", "overlay2",
		"--exec-opt", "native.cgroupdriver=" + map[bool]string{true: "systemd", false: "cgroupfs"}[systemdDriver()],
		"--cgroup-parent", cgParent,
		"--default-ulimit", "nofile=1024:1024",
	}
	args = append(args, extra...)
	if wrap != nil {
		args = wrap(args)
	}
	ready := func() error {
		out, err := exec.Command(dockerCLI, "-H", "unix://"+sock, "version", "--format", "{{.Server.Version}}").CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	d, err := testkit.StartDaemon("dockerd", filepath.Join(dir, "dockerd.log"),
		[]string{"DOCKER_CONFIG=" + filepath.Join(dir, "cfg")}, ready, 60*time.Second, args...)
	return d, sock, err
}

func TestDockerd(t *testing.T) {
	requirements(t)
	start := time.Now()
	dir, err := os.MkdirTemp("", "berth-dockerd-")
	if err != nil {
		t.Fatal(err)
	}
	// Traversable by the remapped root of the user-namespace daemon, whose
	// data root lives below.
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	berth, err := testkit.BerthBinary(buildDir)
	if err != nil {
		t.Fatal(err)
	}
	shim, err := testkit.NewShim(filepath.Join(dir, "shim"), "berth", berth)
	if err != nil {
		t.Fatal(err)
	}
	tag := randHex(4)
	e := &env{dir: dir, cfgDir: filepath.Join(dir, "cfg"), ns: "berthdk" + tag, cgParent: cgroupParent("berth-dockerd-" + tag), berth: berth, shim: shim}
	os.MkdirAll(e.cfgDir, 0o700)
	t.Logf("berth: %s; everything under %s; containerd namespace %s; cgroup parent %s", berth, dir, e.ns, e.cgParent)

	e.daemon, e.sock, err = startDockerd(dir, e.ns, e.cgParent, shim, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.teardown(t) })
	t.Logf("dockerd pid %d ready after %v", e.daemon.Pid(), time.Since(start).Round(time.Millisecond))

	archive := filepath.Join(dir, "busybox.tar")
	if err := testkit.WriteDockerArchive(archive, image); err != nil {
		t.Fatal(err)
	}
	if out := e.must(t, "load", "-i", archive); !strings.Contains(out, image) {
		t.Fatalf("docker load printed %q", out)
	}

	t.Run("scenarios", func(t *testing.T) {
		for _, s := range scenarios {
			s := s
			t.Run(s.name, func(t *testing.T) {
				t.Parallel()
				s.fn(t, e)
			})
		}
	})
	t.Logf("scenarios done after %v", time.Since(start).Round(time.Millisecond))
}

// scenario is one behaviour checked through dockerd.
type scenario struct {
	name string
	fn   func(t *testing.T, e *env)
}

// teardown removes every container, checks the runtime's state dir is
// empty, stops dockerd (and with it its containerd and the shims), removes
// the cgroup parent and fails the test if anything of the suite is left.
func (e *env) teardown(t *testing.T) {
	if r := e.docker(t, "ps", "-aq", "--no-trunc"); r.Code == 0 && strings.TrimSpace(r.Out) != "" {
		ids := strings.Fields(r.Out)
		t.Errorf("containers left by the scenarios: %q", ids)
		e.docker(t, append([]string{"rm", "-f"}, ids...)...)
	}
	root := e.runtimeRoot()
	if root == "" {
		t.Errorf("no --root in the shim log:\n%s", strings.Join(e.shim.Calls(), "\n"))
	} else if left := testkit.DirEntries(root); len(left) > 0 {
		t.Errorf("the runtime's state dir %s still holds %q", root, left)
	}
	if err := e.daemon.Stop(); err != nil {
		t.Error(err)
	}
	// dockerd stops its containerd on its way out; the shims end with
	// their containers.
	var procs []string
	testkit.Eventually(15*time.Second, func() bool {
		procs = nil
		for _, l := range testkit.Leaks(e.dir, e.ns) {
			if strings.HasPrefix(l, "process") {
				procs = append(procs, l)
			}
		}
		return len(procs) == 0
	})
	if len(procs) > 0 {
		t.Errorf("processes left after dockerd stopped: %q", procs)
	}
	removeCgroupParent(t, e.cgParent)
	e.mu.Lock()
	for _, id := range e.ids {
		if _, err := os.Stat(e.shimSocket(id)); err == nil {
			t.Errorf("the shim socket %s of %s is left", e.shimSocket(id), id)
		}
	}
	tokens := append([]string{e.dir, e.ns, e.cgParent}, e.ids...)
	e.mu.Unlock()
	testkit.CheckNoLeaks(t, tokens...)
	if t.Failed() {
		// What is left is the suite's own (it names one of its tokens):
		// remove it so that the next run starts clean.
		sweep(testkit.Leaks(tokens...))
		t.Logf("kept %s for inspection; dockerd log tail:\n%s", e.dir, e.daemon.Tail(40))
		return
	}
	if err := os.RemoveAll(e.dir); err != nil {
		t.Errorf("remove %s: %v", e.dir, err)
	}
}

// sweep kills the leaked processes and detaches the leaked mounts that
// testkit.Leaks listed.
func sweep(leaks []string) {
	for _, l := range leaks {
		switch {
		case strings.HasPrefix(l, "process "):
			f := strings.Fields(l)
			if pid, err := strconv.Atoi(strings.TrimSuffix(f[1], ":")); err == nil && pid > 1 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		case strings.HasPrefix(l, "mount: "):
			if f := strings.Fields(strings.TrimPrefix(l, "mount: ")); len(f) > 4 {
				syscall.Unmount(f[4], syscall.MNT_DETACH)
			}
		}
	}
}

// runtimeRoot is the --root dockerd's shim gives the runtime, read from
// the shim log (dockerd 20.10: <exec-root>/runtime-runc/<namespace>).
func (e *env) runtimeRoot() string {
	return rootFromCalls(e.shim.Calls())
}

func rootFromCalls(calls []string) string {
	for _, c := range calls {
		f := strings.Fields(c)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "--root" {
				return f[i+1]
			}
		}
	}
	return ""
}

// shimSocket is the socket containerd 1.6's runc v2 shim listens on for a
// container: /run/containerd/s/<sha256(containerd address/namespace/id)>,
// outside the suite's temp dir whatever the daemon's configuration.
func (e *env) shimSocket(id string) string {
	sum := sha256.Sum256([]byte(filepath.Join(e.dir, "exec", "containerd", "containerd.sock", e.ns, id)))
	return filepath.Join("/run/containerd/s", hex.EncodeToString(sum[:]))
}

// removeCgroupParent removes the (empty) cgroup parent directories dockerd
// created in every hierarchy; runc and Berth remove only the containers'.
func removeCgroupParent(t *testing.T, name string) {
	if systemdDriver() {
		// the slice dockerd's scopes were started in: empty now, but a
		// unit until it is stopped
		if out, err := exec.Command("systemctl", "stop", name).CombinedOutput(); err != nil {
			t.Errorf("systemctl stop %s: %v: %s", name, err, out)
		}
	}
	var dirs []string
	filepath.WalkDir("/sys/fs/cgroup", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if strings.Contains(filepath.Base(p), name) {
			dirs = append(dirs, p)
			return fs.SkipDir
		}
		return nil
	})
	for _, d := range dirs {
		// Children first: a container cgroup left inside is a leak and is
		// reported by the leak check, but removed so the next run is clean.
		var sub []string
		filepath.WalkDir(d, func(p string, de fs.DirEntry, err error) error {
			if err == nil && de.IsDir() {
				sub = append(sub, p)
			}
			return nil
		})
		sort.Sort(sort.Reverse(sort.StringSlice(sub)))
		for _, s := range sub {
			if s != d {
				t.Errorf("cgroup left inside the parent: %s", s)
			}
			if err := os.Remove(s); err != nil {
				t.Errorf("remove cgroup %s: %v", s, err)
			}
		}
	}
}

// docker runs the Debian client against the suite's dockerd.
func (e *env) docker(t testing.TB, args ...string) testkit.Result {
	t.Helper()
	return e.dockerWith(t, nil, 60*time.Second, args...)
}

func (e *env) dockerWith(t testing.TB, stdin []byte, timeout time.Duration, args ...string) testkit.Result {
	t.Helper()
	return testkit.Run(t, testkit.Cmd{
		Args:    append([]string{dockerCLI, "-H", "unix://" + e.sock}, args...),
		Env:     []string{"DOCKER_CONFIG=" + e.cfgDir},
		Stdin:   stdin,
		Timeout: timeout,
	})
}

// must runs docker and fails the test unless it exits 0; it returns the
// trimmed stdout.
func (e *env) must(t testing.TB, args ...string) string {
	t.Helper()
	r := e.docker(t, args...)
	if r.Code != 0 {
		t.Fatalf("%s", r)
	}
	return strings.TrimSpace(r.Out)
}

// runOpts are the options every scenario's `docker run` gets.
func (e *env) runOpts(cidfile string) []string {
	return []string{"run", "--runtime", "berth", "--network", "none", "--cidfile", cidfile}
}

// run runs `docker run <opts> image cmd...` and returns its result and the
// container's id (from --cidfile). The container is removed at the end of
// the test unless it was --rm.
func (e *env) run(t *testing.T, opts []string, cmd ...string) (testkit.Result, string) {
	t.Helper()
	return e.runIn(t, nil, opts, cmd...)
}

func (e *env) runIn(t *testing.T, stdin []byte, opts []string, cmd ...string) (testkit.Result, string) {
	t.Helper()
	cidfile := filepath.Join(e.dir, "cid-"+randHex(8))
	args := append(append(e.runOpts(cidfile), opts...), image)
	r := e.dockerWith(t, stdin, 60*time.Second, append(args, cmd...)...)
	b, _ := os.ReadFile(cidfile)
	os.Remove(cidfile)
	id := strings.TrimSpace(string(b))
	if id != "" {
		e.track(t, id)
	}
	return r, id
}

// runD starts a detached container and returns its id.
func (e *env) runD(t *testing.T, opts []string, cmd ...string) string {
	t.Helper()
	r, id := e.run(t, append([]string{"-d"}, opts...), cmd...)
	if r.Code != 0 || id == "" {
		t.Fatalf("%s", r)
	}
	return id
}

// track records a container id as a leak token and removes the container
// when the test ends.
func (e *env) track(t *testing.T, id string) {
	e.mu.Lock()
	e.ids = append(e.ids, id)
	e.mu.Unlock()
	t.Cleanup(func() {
		r := e.docker(t, "rm", "-f", id)
		if r.Code != 0 && !strings.Contains(r.Err, "No such container") {
			t.Errorf("cleanup: %s", r)
		}
	})
}

// assertBerth fails unless dockerd's shim ran Berth (the logging shim)
// to create the container.
func (e *env) assertBerth(t *testing.T, id string) {
	t.Helper()
	assertCalled(t, e.shim, "create", id)
}

func assertCalled(t *testing.T, s *testkit.Shim, words ...string) {
	t.Helper()
	if !s.Called(words...) {
		t.Errorf("the runtime shim was never called with %q; calls:\n%s", words, strings.Join(s.Calls(), "\n"))
	}
}

// pid is the container's init pid as dockerd reports it.
func (e *env) pid(t *testing.T, id string) int {
	t.Helper()
	p, err := strconv.Atoi(e.must(t, "inspect", "-f", "{{.State.Pid}}", id))
	if err != nil || p <= 0 {
		t.Fatalf("inspect pid of %s: %d %v", id, p, err)
	}
	return p
}

// wait waits for the container to exit and returns its exit code.
func (e *env) wait(t *testing.T, id string) int {
	t.Helper()
	out := e.must(t, "wait", id)
	c, err := strconv.Atoi(out)
	if err != nil {
		t.Fatalf("docker wait printed %q", out)
	}
	return c
}

// limitOf reads a cgroup setting of the process from the host, in the
// same form on cgroup v1 and v2 (testkit.ReadLimit).
func limitOf(t *testing.T, pid int, l testkit.Limit) string {
	t.Helper()
	v, err := testkit.ReadLimit(pid, l)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// devicesList is the v1 device cgroup's rules of the process; "" on
// cgroup v2, where the rules are an eBPF program.
func devicesList(t *testing.T, pid int) string {
	t.Helper()
	dir, ok, err := testkit.V1CgroupDir(pid, "devices")
	if err != nil || !ok {
		return ""
	}
	v, err := os.ReadFile(filepath.Join(dir, "devices.list"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(v))
}

// statusField returns a field of /proc/self/status as the container's
// process sees it.
func statusField(status, name string) string {
	for _, l := range strings.Split(status, "\n") {
		if strings.HasPrefix(l, name+":") {
			return strings.TrimSpace(strings.TrimPrefix(l, name+":"))
		}
	}
	return ""
}

// capBit reports whether capability number n is in the hex mask.
func capBit(mask string, n uint) bool {
	v, err := strconv.ParseUint(mask, 16, 64)
	return err == nil && v&(1<<n) != 0
}
