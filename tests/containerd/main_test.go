// Package containerd runs containerd 1.6 with Berth as the runtime of its
// runc v2 shim (containerd-shim-runc-v2 with BinaryName = a logging shim
// named "berth"), and drives it two ways: ctr directly, and the CRI plugin
// through crictl, the path Kubernetes takes with a RuntimeClass whose
// handler is "berth".
//
// TestMain starts one containerd with its own config.toml, root, state,
// socket and runtime roots under a temp dir, imports a busybox image and a
// "pause" image made from it (nothing comes from a registry), runs the
// tests, stops containerd by its pid, and fails if containerd's log has an
// error of an unexpected kind or anything of the suite is left on the host.
package containerd

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/berth-runtime/berth/tests/internal/testkit"
)

const (
	image      = "localhost/berth-test/busybox:latest"
	pauseImage = "localhost/berth-test/pause:latest"
	criNS      = "k8s.io" // the CRI plugin's containerd namespace (fixed in 1.6)
)

// suite is what TestMain sets up for every test.
var suite struct {
	token     string // unique name: temp dir, ctr namespace, cgroup parents
	dir       string
	sock      string
	ns        string // ctr's containerd namespace
	shim      *testkit.Shim
	pathShim  *testkit.Shim // the same, named runc, first on the daemon's PATH
	ctrRoot   string        // runc root ctr's containers get (--runc-root)
	criRoot   string        // runc root of the CRI "berth" handler (options.Root)
	runcRoot  string        // runc root of the CRI "runc" handler
	cgParent  string        // CRI pods' cgroup parent
	crictl    string        // "" when missing: the CRI tests fail
	crictlErr error
	crictlCfg string
	daemon    *testkit.Daemon
	isRunc    bool // BERTH_BIN is runc: the tests validate themselves
}

var seq atomic.Int64

// uniq returns a short unique name with prefix.
func uniq(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, seq.Add(1))
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "tests/containerd needs root")
		return 1
	}
	for _, b := range []string{"containerd", "ctr", "containerd-shim-runc-v2", "script"} {
		if _, err := exec.LookPath(b); err != nil {
			fmt.Fprintf(os.Stderr, "tests/containerd needs %s (make callers-deps): %v\n", b, err)
			return 1
		}
	}
	rnd := make([]byte, 4)
	rand.Read(rnd)
	suite.token = "berth-ctrd-" + hex.EncodeToString(rnd)
	suite.dir = filepath.Join(os.TempDir(), suite.token)
	if err := os.MkdirAll(suite.dir, 0o711); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := setupAndRun(m)
	if code == 0 && os.Getenv("BERTH_KEEP_TMP") == "" {
		os.RemoveAll(suite.dir)
	} else {
		fmt.Fprintf(os.Stderr, "tests/containerd: kept %s\n", suite.dir)
	}
	return code
}

func setupAndRun(m *testing.M) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "tests/containerd: "+format+"\n", a...)
		return 1
	}
	berth, err := testkit.BerthBinary(suite.dir)
	if err != nil {
		return fail("%v", err)
	}
	suite.isRunc = strings.Contains(filepath.Base(berth), "runc")
	// The shim is named "berth": the runtime name the caller is given.
	suite.shim, err = testkit.NewShim(filepath.Join(suite.dir, "bin"), "berth", berth)
	if err != nil {
		return fail("%v", err)
	}
	// ctr drops BinaryName for some options (see TestCtrUserNamespace);
	// the shim then runs "runc" from containerd's PATH, where this one is.
	suite.pathShim, err = testkit.NewShim(filepath.Join(suite.dir, "path-bin"), "runc", berth)
	if err != nil {
		return fail("%v", err)
	}
	suite.sock = filepath.Join(suite.dir, "containerd.sock")
	suite.ns = suite.token
	suite.ctrRoot = filepath.Join(suite.dir, "runtime-root-ctr")
	suite.criRoot = filepath.Join(suite.dir, "runtime-root-cri")
	suite.runcRoot = filepath.Join(suite.dir, "runtime-root-runc")
	suite.cgParent = "/" + suite.token + "-cri"
	suite.crictl, suite.crictlErr = findCrictl()
	suite.crictlCfg = filepath.Join(suite.dir, "crictl.yaml")
	crictlYAML := fmt.Sprintf("runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 30\n", suite.sock, suite.sock)
	if err := os.WriteFile(suite.crictlCfg, []byte(crictlYAML), 0o644); err != nil {
		return fail("%v", err)
	}
	cfg := filepath.Join(suite.dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(configTOML()), 0o644); err != nil {
		return fail("%v", err)
	}
	logPath := filepath.Join(suite.dir, "containerd.log")
	ready := func() error {
		return exec.Command("ctr", "-a", suite.sock, "version").Run()
	}
	env := []string{"PATH=" + filepath.Dir(suite.pathShim.Path) + ":" + os.Getenv("PATH")}
	suite.daemon, err = testkit.StartDaemon("containerd", logPath, env, ready, 30*time.Second,
		"containerd", "-c", cfg)
	if err != nil {
		return fail("%v", err)
	}
	code := func() int {
		if err := importImages(); err != nil {
			return fail("%v", err)
		}
		return m.Run()
	}()
	// Whatever a failed test left: remove it through containerd, so the
	// leak check below reports the leak once and the next run is clean.
	if n := cleanupAll(); n > 0 && code == 0 {
		fmt.Fprintf(os.Stderr, "tests/containerd: %d containers or pods were left by the tests\n", n)
		code = 1
	}
	if err := suite.daemon.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "tests/containerd: %v\n", err)
		code = 1
	}
	if bad := unexpectedLogLines(logPath); len(bad) > 0 {
		fmt.Fprintf(os.Stderr, "tests/containerd: containerd's log has errors of an unexpected kind:\n  %s\n", strings.Join(bad, "\n  "))
		code = 1
	}
	// The runtime roots must hold no container of ours.
	for _, root := range []string{filepath.Join(suite.ctrRoot, suite.ns), filepath.Join(suite.criRoot, criNS), filepath.Join(suite.runcRoot, criNS)} {
		if left := testkit.DirEntries(root); len(left) > 0 {
			fmt.Fprintf(os.Stderr, "tests/containerd: runtime state left in %s: %v\n", root, left)
			code = 1
		}
	}
	// The cgroup parents belong to the caller (kubelet for pods, ctr's
	// namespace dir), not the runtime: remove them as their owner would.
	// rmdir fails on a parent that still has a container's cgroup.
	removeCgroupParents(suite.cgParent, "/"+suite.ns)
	// Unmount the snapshots' and state mounts a killed daemon might leave.
	var left []string
	testkit.Eventually(10*time.Second, func() bool {
		left = testkit.Leaks(suite.token)
		return len(left) == 0
	})
	if len(left) > 0 {
		fmt.Fprintf(os.Stderr, "tests/containerd: left on the host (token %s):\n  %s\n", suite.token, strings.Join(left, "\n  "))
		code = 1
	}
	return code
}

// configTOML is containerd's configuration: everything under the suite's
// temp dir; the CRI plugin with "berth" (the shim with BinaryName = our
// logging shim) as default runtime and "runc" beside it for comparison.
func configTOML() string {
	d := suite.dir
	return fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
temp = %[3]q
# Plugins this suite does not use.
disabled_plugins = [
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.internal.v1.opt", "io.containerd.tracing.processor.v1.otlp",
]

[grpc]
  address = %[4]q

[ttrpc]
  address = %[5]q

[debug]
  level = "debug"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[6]q
  # The sandbox asks for an oom_score_adj that needs CAP_SYS_RESOURCE.
  restrict_oom_score_adj = true
  disable_cgroup = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    # No CNI: the pods use the host's network.
    bin_dir = %[7]q
    conf_dir = %[8]q
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "berth"
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.berth]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.berth.options]
        BinaryName = %[9]q
        Root = %[10]q
        SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        Root = %[11]q
        SystemdCgroup = false
`, filepath.Join(d, "root"), filepath.Join(d, "state"), filepath.Join(d, "tmp"),
		suite.sock, suite.sock+".ttrpc", pauseImage,
		filepath.Join(d, "cni-bin"), filepath.Join(d, "cni-conf"),
		suite.shim.Path, suite.criRoot, suite.runcRoot)
}

// findCrictl looks for crictl where `make callers-deps` installs it, then
// on PATH.
func findCrictl() (string, error) {
	if p := os.Getenv("CRICTL"); p != "" {
		return p, nil
	}
	if p := filepath.Join(testkit.RepoDir(), ".bin", "crictl"); isExec(p) {
		return p, nil
	}
	if p, err := exec.LookPath("crictl"); err == nil {
		return p, nil
	}
	return "", errors.New("crictl not found in .bin/ or on PATH: run `make callers-deps` (go install sigs.k8s.io/cri-tools/cmd/crictl@v1.37.0)")
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode()&0o111 != 0
}

// importImages imports the busybox image into ctr's namespace and CRI's,
// and the pause image (the same rootfs running `sleep inf`) into CRI's as
// its sandbox_image; CRI finds both in the local store and pulls nothing.
func importImages() error {
	img := filepath.Join(suite.dir, "busybox.tar")
	if err := testkit.WriteDockerArchive(img, image); err != nil {
		return err
	}
	pause := filepath.Join(suite.dir, "pause.tar")
	if err := withCmd(img, pause, pauseImage, []string{"sleep", "inf"}); err != nil {
		return fmt.Errorf("pause image: %w", err)
	}
	for _, imp := range []struct{ ns, file string }{{suite.ns, img}, {criNS, img}, {criNS, pause}} {
		out, err := exec.Command("ctr", "-a", suite.sock, "-n", imp.ns, "images", "import", imp.file).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ctr images import %s: %v\n%s", imp.file, err, out)
		}
	}
	return nil
}

// withCmd rewrites a docker-save archive into one tagged ref whose image
// config runs cmd.
func withCmd(src, dst, ref string, cmd []string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	type entry struct {
		hdr  *tar.Header
		data []byte
	}
	var entries []entry
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		entries = append(entries, entry{h, data})
		files[h.Name] = data
	}
	var manifest []map[string]any
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		return fmt.Errorf("manifest.json: %v", err)
	}
	oldCfg := manifest[0]["Config"].(string)
	var cfg map[string]any
	if err := json.Unmarshal(files[oldCfg], &cfg); err != nil {
		return err
	}
	cfg["config"].(map[string]any)["Cmd"] = cmd
	newCfg, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(newCfg)
	cfgName := hex.EncodeToString(sum[:]) + ".json"
	manifest[0]["Config"] = cfgName
	manifest[0]["RepoTags"] = []string{ref}
	newManifest, err := json.Marshal(manifest)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	put := func(h *tar.Header, data []byte) error {
		h.Size = int64(len(data))
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for _, e := range entries {
		switch e.hdr.Name {
		case oldCfg:
			h := *e.hdr
			h.Name = cfgName
			err = put(&h, newCfg)
		case "manifest.json":
			err = put(e.hdr, newManifest)
		default:
			err = put(e.hdr, e.data)
		}
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return os.WriteFile(dst, buf.Bytes(), 0o644)
}

// cleanupAll removes every CRI pod and ctr container still there and
// returns how many there were.
func cleanupAll() int {
	n := 0
	if suite.crictl != "" {
		out, _ := exec.Command(suite.crictl, "--config", suite.crictlCfg, "pods", "-q").Output()
		for _, id := range strings.Fields(string(out)) {
			n++
			exec.Command(suite.crictl, "--config", suite.crictlCfg, "rmp", "-f", id).Run()
		}
	}
	out, _ := exec.Command("ctr", "-a", suite.sock, "-n", suite.ns, "c", "ls", "-q").Output()
	for _, id := range strings.Fields(string(out)) {
		n++
		exec.Command("ctr", "-a", suite.sock, "-n", suite.ns, "task", "rm", "-f", id).Run()
		exec.Command("ctr", "-a", suite.sock, "-n", suite.ns, "c", "rm", id).Run()
	}
	return n
}

func removeCgroupParents(parents ...string) {
	for _, p := range parents {
		// pure cgroup v2 (the Debian guest): the parent is directly below
		syscall.Rmdir(filepath.Join("/sys/fs/cgroup", p))
	}
	ents, _ := os.ReadDir("/sys/fs/cgroup")
	for _, e := range ents {
		for _, p := range parents {
			syscall.Rmdir(filepath.Join("/sys/fs/cgroup", e.Name(), p))
		}
	}
}

// expectedLogErrors are the errors and warnings containerd 1.6 logs in this
// suite with runc as well as with Berth; none is about the runtime.
// referenceFailed records a container that the reference runc handler
// could not start (TestCRIHandlersAgree skips then): containerd's errors
// about it are the reference's, not Berth's.
func referenceFailed(id string) {
	refMu.Lock()
	refFailed = append(refFailed, id)
	refMu.Unlock()
}

func referenceFailures() []string {
	refMu.Lock()
	defer refMu.Unlock()
	return append([]string(nil), refFailed...)
}

var (
	refMu     sync.Mutex
	refFailed []string
)

var expectedLogErrors = []*regexp.Regexp{
	// No CNI configuration: the pods use the host's network.
	regexp.MustCompile(`msg="failed to load cni during init`),
	// The shim's log pipe closes when the shim exits (containerd races it).
	regexp.MustCompile(`msg="copy shim log" error="read /proc/self/fd/\d+: file already closed"`),
	// CRI's copy of a container's output when the container is removed
	// while it runs (rmp -f): the pipe is closed under it.
	regexp.MustCompile(`msg="Failed to pipe std(out|err) of container .*file already closed`),
	// Every shim's normal end: containerd reaps it and runs its clean-up
	// (the shim's messages are then checked one by one, below).
	regexp.MustCompile(`msg="cleaning up after shim disconnected"`),
	// That clean-up runs `delete --force` of the container the shim has
	// already deleted, and sometimes logs this although the runtime exited
	// 0 (with runc 1.1 as with Berth; a wrapper logging every non-zero exit
	// of the runtime logged none): the shim's reaper races go-runc for the
	// exit status.
	regexp.MustCompile(`msg="failed to remove runc container" error="[^ ]+ did not terminate successfully: exit status 255: " runtime=io.containerd.runc.v2`),
	// A create that failed on purpose (missing command) leaves no pid file.
	regexp.MustCompile(`msg="failed to read init pid file" error="open [^ ]*/init.pid: no such file or directory"`),
}

// unexpectedLogLines returns containerd's (and its shims') error and
// warning messages that match none of expectedLogErrors. The shim's own
// messages that containerd reports in one "cleanup warnings" line are
// checked one by one.
func unexpectedLogLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return []string{err.Error()}
	}
	isProblem := func(l string) bool {
		return strings.Contains(l, "level=error") || strings.Contains(l, "level=warning") || strings.Contains(l, "level=fatal")
	}
	expected := func(l string) bool {
		for _, id := range referenceFailures() {
			if strings.Contains(l, id) {
				return true
			}
		}
		for _, re := range expectedLogErrors {
			if re.MatchString(l) {
				return true
			}
		}
		return false
	}
	var bad []string
	for _, l := range strings.Split(string(b), "\n") {
		if _, inner, ok := strings.Cut(l, `msg="cleanup warnings `); ok {
			inner = strings.TrimSuffix(strings.TrimSpace(inner), `"`)
			for _, m := range strings.Split(inner, `\n`) {
				m = strings.ReplaceAll(m, `\"`, `"`)
				if isProblem(m) && !expected(m) {
					bad = append(bad, "shim clean-up: "+m)
				}
			}
			continue
		}
		if isProblem(l) && !expected(l) {
			bad = append(bad, l)
		}
	}
	return bad
}

// requireBerthRan fails the test unless the shim log shows the runtime
// under test created id (the caller really ran Berth, not runc).
func requireBerthRan(t *testing.T, id string) {
	t.Helper()
	requireRanBy(t, suite.shim, id)
}

func requireRanBy(t *testing.T, shim *testkit.Shim, id string) {
	t.Helper()
	if !shim.Called("create", id) {
		t.Errorf("the berth shim log has no `create ... %s`: the caller did not run the runtime under test", id)
	}
}
