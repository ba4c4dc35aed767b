// Package podmantest proves Berth under podman 4.3: podman (with conmon)
// calls Berth as its OCI runtime, exactly as it calls runc, for every
// scenario of issue 6 — run, logs, exec, stop, kill, pause, update, user
// namespaces, terminals, 20 containers at once — and the suite checks what
// the containers see from inside and what is on the host from outside.
//
// Run it as root from the repository root (as a normal user with a login
// session it is the rootless suite: rootless podman, the user's systemd as
// cgroup manager where it runs; tests/vm runs it so in the guest):
//
//	go test ./tests/podman/                          # builds ./ as berth
//	BERTH_BIN=/work/main/berth go test ./tests/podman/ -v
//	BERTH_BIN=/usr/sbin/runc go test ./tests/podman/  # validates the tests
//
// Everything podman keeps lives in one temp dir (berth-podman-*): the
// storage graph root and run root (storage.conf, driver overlay), podman's
// tmp dir, file locks, events file, network config dir and volume path
// (containers.conf, passed through CONTAINERS_CONF), plus TMPDIR for the
// resource files of `podman update`. The runtime is a shim called "berth"
// that logs each call and execs $BERTH_BIN (podman passes --log-format=json
// only to runtimes whose name is in runtime_supports_json). The image is
// testkit's busybox archive, loaded with `podman load`. Networking is
// off (netns = "none"): nothing comes from a registry or the network.
//
// At the end TestMain removes every container and image (podman rm -af,
// rmi -af), unmounts the graph root's own overlay mount if
// containers/storage left it, and fails the run if anything of the suite is left on the host:
// mounts, cgroup directories or processes mentioning the temp dir or a
// container ID the shim saw, or a container's state in the runtime's root
// (podman passes no --root, so that is /run/berth, or /run/runc for runc).
package podmantest

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-runtime/berth/tests/internal/testkit"
	"golang.org/x/sys/unix"
)

// image is the busybox image the suite loads.
const image = "localhost/berth-test/busybox:latest"

var (
	// tmp is the suite's temp dir; everything podman keeps is under it.
	tmp string
	// shim is the logging runtime podman calls.
	shim *testkit.Shim
	// berthBin is the runtime under test (the shim's target).
	berthBin string
	// podmanBin is podman.
	podmanBin string
	// globalArgs are podman's global flags that scope it to tmp.
	globalArgs []string
	// podmanEnv is added to podman's environment.
	podmanEnv []string
	// seq numbers cid files and names.
	seq atomic.Int64
	// rootless is true when a normal user runs the suite: rootless podman,
	// which runs the runtime in its user namespace.
	rootless bool
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if rootless = os.Geteuid() != 0; rootless && os.Getenv("XDG_RUNTIME_DIR") == "" {
		fmt.Fprintln(os.Stderr, "tests/podman: run as a normal user it is the rootless suite, which needs a login session's XDG_RUNTIME_DIR")
		return 1
	}
	var err error
	if podmanBin, err = exec.LookPath("podman"); err != nil {
		fmt.Fprintln(os.Stderr, "tests/podman: podman is not installed (make callers-deps):", err)
		return 1
	}
	if tmp, err = os.MkdirTemp("", "berth-podman-"); err != nil {
		fmt.Fprintln(os.Stderr, "tests/podman:", err)
		return 1
	}
	parentsBefore := libpodParents()
	code := func() int {
		if err := setup(); err != nil {
			fmt.Fprintln(os.Stderr, "tests/podman: setup:", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "tests/podman: runtime %s (via shim %s), podman %s, state in %s\n",
			berthBin, shim.Path, podmanBin, tmp)
		return m.Run()
	}()
	problems := teardown()
	problems = append(problems, removeLibpodParents(parentsBefore)...)
	if len(problems) > 0 {
		fmt.Fprintf(os.Stderr, "tests/podman: FAIL: left on the host after the suite:\n  %s\n", strings.Join(problems, "\n  "))
		code = 1
	}
	return code
}

// libpodParents are podman's cgroupfs parent cgroups (libpod_parent in
// every hierarchy, and its conmon child): podman makes them on first use
// and never removes them.
func libpodParents() map[string]bool {
	found := map[string]bool{}
	for _, pat := range []string{"/sys/fs/cgroup/libpod_parent", "/sys/fs/cgroup/*/libpod_parent", "/sys/fs/cgroup/*/*/libpod_parent"} {
		dirs, _ := filepath.Glob(pat)
		for _, d := range dirs {
			found[d] = true
		}
	}
	return found
}

// removeLibpodParents removes the libpod_parent cgroups that were not
// there before the suite (deepest first: a cgroup goes only when empty).
func removeLibpodParents(before map[string]bool) []string {
	var problems []string
	for top := range libpodParents() {
		if before[top] {
			continue
		}
		var dirs []string
		filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := os.Remove(dirs[i]); err != nil {
				problems = append(problems, "podman's parent cgroup left: "+err.Error())
			}
		}
	}
	return problems
}

// setup writes the configuration, builds the shim and loads the image.
func setup() error {
	var err error
	if berthBin, err = testkit.BerthBinary(tmp); err != nil {
		return err
	}
	if shim, err = testkit.NewShim(filepath.Join(tmp, "bin"), "berth", berthBin); err != nil {
		return err
	}
	for _, d := range []string{"tmp", "podman-tmp", "cids", "networks", "volumes"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			return err
		}
	}
	nofile, nproc, err := defaultUlimits()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "containers.conf"), []byte(containersConf(shim.Path, nofile, nproc, true)), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "containers-nojson.conf"), []byte(containersConf(shim.Path, nofile, nproc, false)), 0o644); err != nil {
		return err
	}
	storage := fmt.Sprintf("[storage]\ndriver = \"overlay\"\ngraphroot = %q\nrunroot = %q\n",
		filepath.Join(tmp, "root"), filepath.Join(tmp, "runroot"))
	if err := os.WriteFile(filepath.Join(tmp, "storage.conf"), []byte(storage), 0o644); err != nil {
		return err
	}
	// No registries at all: a mistyped image name must not reach the network.
	if err := os.WriteFile(filepath.Join(tmp, "registries.conf"), []byte("unqualified-search-registries = []\n"), 0o644); err != nil {
		return err
	}
	globalArgs = []string{"--root", filepath.Join(tmp, "root"), "--runroot", filepath.Join(tmp, "runroot"),
		"--tmpdir", filepath.Join(tmp, "podman-tmp")}
	podmanEnv = []string{
		"CONTAINERS_CONF=" + filepath.Join(tmp, "containers.conf"),
		"CONTAINERS_STORAGE_CONF=" + filepath.Join(tmp, "storage.conf"),
		"CONTAINERS_REGISTRIES_CONF=" + filepath.Join(tmp, "registries.conf"),
		"TMPDIR=" + filepath.Join(tmp, "tmp"),
	}
	archive := filepath.Join(tmp, "busybox.tar")
	if err := testkit.WriteDockerArchive(archive, image); err != nil {
		return err
	}
	r := runPodman(testkit.Cmd{Args: []string{"load", "-i", archive}, Timeout: 2 * time.Minute})
	if r.Code != 0 || !strings.Contains(r.Out+r.Err, image) {
		return fmt.Errorf("podman load: %s", r)
	}
	return nil
}

// cgroupManager is podman's default on this host: systemd where systemd
// is the init (podman then passes --systemd-cgroup and a
// machine.slice:libpod:ID cgroupsPath), cgroupfs elsewhere.
func cgroupManager() string {
	if !testkit.SystemdRunning() {
		return "cgroupfs"
	}
	if rootless {
		// the user's own manager, if the session has one on D-Bus
		if _, err := os.Stat(filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "bus")); err != nil {
			return "cgroupfs"
		}
	}
	return "systemd"
}

// skipRootless skips a test that does not apply to rootless podman.
func skipRootless(t testing.TB, why string) {
	t.Helper()
	if rootless {
		t.Skip("rootless: " + why)
	}
}

// containersConf is the podman configuration of the suite: Berth (the shim)
// as the default runtime, the host's default cgroup manager, file events and file locks, no network,
// and default ulimits the host's hard limits allow. withJSON puts berth in
// runtime_supports_json (podman's own list plus berth).
func containersConf(runtime string, nofile, nproc uint64, withJSON bool) string {
	supportsJSON := `"crun", "runc", "kata", "runsc", "youki", "krun"`
	if withJSON {
		supportsJSON += `, "berth"`
	}
	return fmt.Sprintf(`[containers]
netns = "none"
default_ulimits = ["nofile=%[1]d:%[1]d", "nproc=%[2]d:%[2]d"]

[engine]
runtime = "berth"
runtime_supports_json = [%[3]s]
cgroup_manager = %[9]q
events_logger = "file"
events_logfile_path = %[4]q
lock_type = "file"
tmp_dir = %[5]q
volume_path = %[6]q

[engine.runtimes]
berth = [%[7]q]

[network]
network_config_dir = %[8]q
`, nofile, nproc, supportsJSON, filepath.Join(tmp, "events.log"), filepath.Join(tmp, "podman-tmp"),
		filepath.Join(tmp, "volumes"), runtime, filepath.Join(tmp, "networks"), cgroupManager())
}

// defaultUlimits picks nofile and nproc limits no higher than this
// process's hard limits (podman's defaults, 1048576, exceed them here and
// no runtime can raise a hard limit without CAP_SYS_RESOURCE).
func defaultUlimits() (nofile, nproc uint64, err error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, 0, err
	}
	nofile = min(rl.Max, 1024)
	if err := unix.Getrlimit(unix.RLIMIT_NPROC, &rl); err != nil {
		return 0, 0, err
	}
	nproc = min(rl.Max, 4096)
	return nofile, nproc, nil
}

// runPodman runs podman with the suite's flags and environment; it is
// usable without a *testing.T (setup, teardown).
func runPodman(c testkit.Cmd) testkit.Result {
	return testkit.Run(noT{}, withGlobals(c))
}

func withGlobals(c testkit.Cmd) testkit.Cmd {
	c.Args = append(append([]string{podmanBin}, globalArgs...), c.Args...)
	c.Env = append(append([]string{}, podmanEnv...), c.Env...)
	return c
}

// podman runs `podman <args>` and returns the result.
func podman(t testing.TB, args ...string) testkit.Result {
	t.Helper()
	return testkit.Run(t, withGlobals(testkit.Cmd{Args: args}))
}

// podmanIn runs podman with stdin.
func podmanIn(t testing.TB, stdin string, args ...string) testkit.Result {
	t.Helper()
	return testkit.Run(t, withGlobals(testkit.Cmd{Args: args, Stdin: []byte(stdin)}))
}

// podmanOK runs podman and fails the test unless it exits 0; it returns
// stdout without the trailing newline.
func podmanOK(t testing.TB, args ...string) string {
	t.Helper()
	r := podman(t, args...)
	if r.Code != 0 {
		t.Fatalf("%s", r)
	}
	return strings.TrimRight(r.Out, "\n")
}

// run runs `podman run --cidfile F <opts> image <cmd>` and returns the
// result and the container's ID (from the cid file, which podman writes
// even with --rm). It fails the test unless the shim log shows that the
// runtime under test created that container, with podman's JSON log.
// A cleanup removes the container if it is still there.
func run(t testing.TB, opts []string, cmd ...string) (testkit.Result, string) {
	t.Helper()
	return runWith(t, testkit.Cmd{}, opts, cmd...)
}

// runWith is run with extra command settings (stdin, timeout, env).
func runWith(t testing.TB, c testkit.Cmd, opts []string, cmd ...string) (testkit.Result, string) {
	t.Helper()
	cid := filepath.Join(tmp, "cids", fmt.Sprintf("%d.cid", seq.Add(1)))
	c.Args = append(append([]string{"run", "--cidfile", cid}, opts...), append([]string{image}, cmd...)...)
	r := testkit.Run(t, withGlobals(c))
	b, err := os.ReadFile(cid)
	id := strings.TrimSpace(string(b))
	if err != nil || id == "" {
		t.Fatalf("no container ID in %s (%v): %s", cid, err, r)
	}
	t.Cleanup(func() { removeContainer(t, id) })
	assertRanByRuntime(t, id)
	return r, id
}

// runDetached starts a detached container and returns its ID.
func runDetached(t testing.TB, opts []string, cmd ...string) string {
	t.Helper()
	r, id := run(t, append([]string{"-d"}, opts...), cmd...)
	if r.Code != 0 || strings.TrimSpace(r.Out) != id {
		t.Fatalf("run -d: %s (cid file says %s)", r, id)
	}
	return id
}

// removeContainer removes a container without waiting for a stop timeout.
// podman 4.3's removal of a user-namespace container sometimes fails with
// "unlinkat …/userdata/shm: device or resource busy" while other containers
// are being created (reproduced with runc and Berth alike, about 1 in 15
// with creates running in parallel; most likely a copy of the shm mount in a
// new container's mount namespace keeps podman's umount from going through).
// A second rm succeeds; only a repeated failure fails the test.
func removeContainer(t testing.TB, id string) {
	t.Helper()
	var r testkit.Result
	for attempt := 1; attempt <= 3; attempt++ {
		if r = podman(t, "rm", "-f", "-t", "0", "--ignore", id); r.Code == 0 {
			return
		}
		t.Logf("cleanup, attempt %d: %s", attempt, r)
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("cleanup: %s", r)
}

// assertRanByRuntime checks the shim log for the create of id with
// --log-format=json, the proof that podman ran the runtime under test (and
// not runc or crun) with its JSON error log.
func assertRanByRuntime(t testing.TB, id string) {
	t.Helper()
	if !shim.Called("--log-format=json", "create", id) {
		t.Fatalf("the shim log has no `--log-format=json ... create ... %s`: podman did not run the runtime under test", id)
	}
}

// name returns a unique container name.
func name(t testing.TB) string {
	return fmt.Sprintf("bp-%s-%d", strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())), seq.Add(1))
}

// inspect returns `podman inspect --format <format> id`.
func inspect(t testing.TB, id, format string) string {
	t.Helper()
	return podmanOK(t, "inspect", "--format", format, id)
}

// waitExit runs `podman wait` and returns the exit code it prints.
func waitExit(t testing.TB, id string) string {
	t.Helper()
	return podmanOK(t, "wait", id)
}

// containerPid is the container's init pid on the host.
func containerPid(t testing.TB, id string) string {
	t.Helper()
	pid := inspect(t, id, "{{.State.Pid}}")
	if pid == "" || pid == "0" {
		t.Fatalf("container %s has no pid", id)
	}
	return pid
}

// limit reads a cgroup setting of the container's init from the host, in
// the same form on cgroup v1 and v2 (testkit.ReadLimit).
func limit(t testing.TB, id string, l testkit.Limit) string {
	t.Helper()
	pid, err := strconv.Atoi(containerPid(t, id))
	if err != nil {
		t.Fatal(err)
	}
	v, err := testkit.ReadLimit(pid, l)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// readTrim reads a file and trims white space.
func readTrim(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// isRunc is true when the runtime under test is runc (validating the
// tests themselves).
func isRunc() bool { return strings.Contains(filepath.Base(berthBin), "runc") }

// runtimeRoots are the state roots the runtime was used with: every
// --root podman passed, or the runtime's default when it passed none.
func runtimeRoots() []string {
	roots := map[string]bool{}
	for _, c := range shim.Calls() {
		f := strings.Fields(c)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "--root" {
				roots[f[i+1]] = true
			} else if strings.HasPrefix(f[i], "--root=") {
				roots[strings.TrimPrefix(f[i], "--root=")] = true
			}
		}
	}
	if len(roots) == 0 {
		// the runtimes' defaults: under rootless podman the runtime runs
		// in a user namespace and uses $XDG_RUNTIME_DIR
		base := "/run"
		if rootless {
			base = os.Getenv("XDG_RUNTIME_DIR")
		}
		if isRunc() {
			return []string{filepath.Join(base, "runc")}
		}
		return []string{filepath.Join(base, "berth")}
	}
	var out []string
	for r := range roots {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// createdIDs are the IDs of every container the runtime created.
func createdIDs() []string {
	seen := map[string]bool{}
	var ids []string
	for _, c := range shim.Calls() {
		f := strings.Fields(c)
		for i, w := range f {
			if w == "create" && len(f) > i+1 {
				id := f[len(f)-1]
				if !seen[id] {
					seen[id] = true
					ids = append(ids, id)
				}
				break
			}
		}
	}
	return ids
}

// stateLeft lists the containers among ids that still have state in one of
// the runtime's roots.
func stateLeft(ids []string) []string {
	var out []string
	for _, root := range runtimeRoots() {
		for _, id := range ids {
			if _, err := os.Lstat(filepath.Join(root, id)); err == nil {
				out = append(out, "runtime state: "+filepath.Join(root, id))
			}
		}
	}
	return out
}

// teardown removes every container and image, unmounts the graph root,
// checks for leaks and removes the temp dir. It returns what was left.
func teardown() []string {
	var problems []string
	if shim != nil && globalArgs != nil {
		rm := func() testkit.Result {
			return runPodman(testkit.Cmd{Args: []string{"rm", "-af", "-t", "0"}, Timeout: 2 * time.Minute})
		}
		if r := rm(); r.Code != 0 {
			if r = rm(); r.Code != 0 { // see removeContainer
				problems = append(problems, "podman rm -af: "+r.String())
			}
		}
		if r := runPodman(testkit.Cmd{Args: []string{"rmi", "-af"}, Timeout: 2 * time.Minute}); r.Code != 0 {
			problems = append(problems, "podman rmi -af: "+r.String())
		}
		ids := createdIDs()
		// Container mounts (overlay, shm), cgroups, conmon and container
		// processes must be gone now that podman removed every container.
		var left []string
		testkit.Eventually(10*time.Second, func() bool {
			left = append(testkit.Leaks(ids...), stateLeft(ids)...)
			return len(left) == 0
		})
		problems = append(problems, left...)
	}
	// containers/storage may keep the graph root's overlay directory
	// mounted (a private bind of itself) after the last container is
	// gone; that one is expected and unmounted here. Anything else under
	// tmp is a leak.
	_ = unix.Unmount(filepath.Join(tmp, "root", "overlay"), unix.MNT_DETACH)
	if rootless && globalArgs != nil {
		// The image's files belong to the user's subordinate ids: only
		// the user namespace may remove them. Then rootless podman's pause
		// process (which holds that namespace) goes.
		// containers/storage's bind of the overlay directory over itself
		// is in podman's own mount namespace there, so it is unmounted in
		// that namespace first.
		overlay := filepath.Join(tmp, "root", "overlay")
		script := `if mountpoint -q "$1"; then umount -l "$1"; fi; rm -rf "$2" "$3"`
		r := runPodman(testkit.Cmd{Args: []string{"unshare", "sh", "-c", script, "sh",
			overlay, filepath.Join(tmp, "root"), filepath.Join(tmp, "runroot")}, Timeout: 2 * time.Minute})
		if r.Code != 0 {
			problems = append(problems, "podman unshare rm: "+r.String())
		}
		if b, err := os.ReadFile(filepath.Join(tmp, "podman-tmp", "pause.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		}
	}
	if left := testkit.Leaks(tmp); len(left) > 0 {
		problems = append(problems, left...)
	}
	if len(problems) == 0 {
		if err := os.RemoveAll(tmp); err != nil {
			problems = append(problems, "remove "+tmp+": "+err.Error())
		}
	} else {
		// So that the next run starts clean: the mounts go, the files stay
		// for a look.
		unmountUnder(tmp)
		problems = append(problems, "(the suite's files are kept in "+tmp+")")
	}
	return problems
}

// unmountUnder unmounts every mount point under dir, deepest first.
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			points = append(points, f[4])
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	for _, p := range points {
		_ = unix.Unmount(p, unix.MNT_DETACH)
	}
}

// noT lets testkit.Run work outside a test: a command that cannot be
// started is reported in the result instead of failing a test.
type noT struct{ testing.TB }

func (noT) Helper() {}
func (noT) Fatal(args ...any) {
	panic(fmt.Sprint(args...))
}
func (noT) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
