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
	"testing"
	"time"

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

// ---------------------------------------------------------------------------
// Running the runtime.

// ---------------------------------------------------------------------------
// Container helpers.

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// ---------------------------------------------------------------------------
// Leak checking.

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// Cgroup helpers.

// ---------------------------------------------------------------------------
// Misc.

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
