// Package conmontest runs Berth under conmon (Debian's conmon 2.1, the one
// podman 4.3 uses), called directly the way CRI-O calls it
// (internal/oci/runtime_oci.go): conmon gets the bundle, the runtime (a
// logging shim named "berth" that execs the runtime under test), the
// runtime's --root through --runtime-arg, a k8s-file log, an exit dir, a
// persist dir, an attach socket dir, and the two pipes _OCI_SYNCPIPE (fd 3,
// conmon sends the container pid or the create error back as JSON) and
// _OCI_STARTPIPE (fd 4, conmon waits for one byte before it forks). Exec
// goes through conmon too: CRI-O's ExecSync (`-e --sync`, exit code in the
// sync pipe, output in a log file) and podman's attached exec
// (`--api-version 1 -e --exec-attach`, output over the attach socket).
//
// Run as root from the repository root:
//
//	go test ./tests/conmon/                          # builds ./ as berth
//	BERTH_BIN=/usr/sbin/runc go test ./tests/conmon/ # validates the tests with runc
//
// Everything lives in one directory, $BERTH_TEST_TMPDIR or $TMPDIR, named
// berth-conmon-<tag>; containers are called <tag>-<name> and use the flat
// cgroupsPath /<tag>-<name>, so the tag is the suite's leak token and a
// container's id is the test's. conmon runs with TMPDIR in that directory
// (its console sockets go there) and with its working directory in the
// container's bundle (CRI-O's cmd.Dir), so a conmon left running is found
// by the leak check.
package conmontest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-runtime/berth/tests/internal/testkit"
	"golang.org/x/sys/unix"
)

// suite is what every test shares; it is set up once by TestMain.
type suite struct {
	tag       string // unique per run: container ids and cgroups start with it
	dir       string // everything the suite makes
	root      string // the runtime's --root
	exits     string // conmon --exit-dir
	socks     string // conmon --socket-dir-path
	rootfsTar string // the busybox rootfs, unpacked into each bundle
	spec      []byte // `<runtime> spec` output
	runtime   string // the runtime under test
	isRunc    bool
	cgroupV2  bool // /sys/fs/cgroup is cgroup2 (tests/run-v2.sh's view)
	shim      *testkit.Shim
	conmon    string
}

var s suite

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Println("tests/conmon needs root; skipping")
		return 0
	}
	conmon, err := exec.LookPath("conmon")
	if err != nil {
		fmt.Println("tests/conmon: conmon is not installed (make callers-deps):", err)
		return 1
	}
	b := make([]byte, 3)
	rand.Read(b)
	s.tag = "bcm" + hex.EncodeToString(b)
	base := os.Getenv("BERTH_TEST_TMPDIR")
	if base == "" {
		base = os.TempDir()
	}
	s.dir = filepath.Join(base, "berth-conmon-"+s.tag)
	s.conmon = conmon
	if err := setup(); err != nil {
		fmt.Println("tests/conmon setup:", err)
		os.RemoveAll(s.dir)
		return 1
	}
	code := m.Run()
	var left []string
	testkit.Eventually(10*time.Second, func() bool {
		left = testkit.Leaks(s.tag)
		return len(left) == 0
	})
	if st := testkit.DirEntries(s.root); len(st) > 0 {
		left = append(left, fmt.Sprintf("runtime state in %s: %v", s.root, st))
	}
	if len(left) > 0 {
		fmt.Printf("FAIL: left on the host after the suite (token %q):\n  %s\n", s.tag, strings.Join(left, "\n  "))
		fmt.Println("the suite's directory is kept:", s.dir)
		return 1
	}
	os.RemoveAll(s.dir)
	return code
}

func setup() error {
	for _, d := range []string{"root", "exits", "socks", "c"} {
		if err := os.MkdirAll(filepath.Join(s.dir, d), 0o755); err != nil {
			return err
		}
	}
	var fs unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &fs); err != nil {
		return err
	}
	s.cgroupV2 = fs.Type == unix.CGROUP2_SUPER_MAGIC
	s.root = filepath.Join(s.dir, "root")
	s.exits = filepath.Join(s.dir, "exits")
	s.socks = filepath.Join(s.dir, "socks")
	rt, err := testkit.BerthBinary(s.dir)
	if err != nil {
		return err
	}
	s.runtime = rt
	s.isRunc = strings.Contains(filepath.Base(rt), "runc")
	if s.shim, err = testkit.NewShim(filepath.Join(s.dir, "shim"), "berth", rt); err != nil {
		return err
	}
	tarball, err := testkit.RootfsTar()
	if err != nil {
		return err
	}
	s.rootfsTar = filepath.Join(s.dir, "rootfs.tar")
	if err := os.WriteFile(s.rootfsTar, tarball, 0o644); err != nil {
		return err
	}
	specDir := filepath.Join(s.dir, "spec")
	if err := os.MkdirAll(specDir, 0o755); err != nil {
		return err
	}
	if out, err := exec.Command(rt, "spec", "-b", specDir).CombinedOutput(); err != nil {
		return fmt.Errorf("%s spec: %v: %s", rt, err, out)
	}
	s.spec, err = os.ReadFile(filepath.Join(specDir, "config.json"))
	return err
}

// rt runs the runtime (through the shim) with the suite's --root, as CRI-O
// runs it for start, kill, update, pause, state and delete.
func rt(t testing.TB, args ...string) testkit.Result {
	t.Helper()
	return testkit.Run(t, testkit.Cmd{Args: append([]string{s.shim.Path, "--root", s.root}, args...), Timeout: 30 * time.Second})
}

// rtStdin is rt with stdin (update --resources -).
func rtStdin(t testing.TB, stdin []byte, args ...string) testkit.Result {
	t.Helper()
	return testkit.Run(t, testkit.Cmd{Args: append([]string{s.shim.Path, "--root", s.root}, args...), Stdin: stdin, Timeout: 30 * time.Second})
}

func mustRt(t testing.TB, args ...string) string {
	t.Helper()
	r := rt(t, args...)
	if r.Code != 0 {
		t.Fatalf("%s", r)
	}
	return r.Out
}

// ociState is the part of `state` the tests read.
type ociState struct {
	ID     string `json:"id"`
	Pid    int    `json:"pid"`
	Status string `json:"status"`
	Bundle string `json:"bundle"`
}

func state(t testing.TB, id string) ociState {
	t.Helper()
	var st ociState
	if err := json.Unmarshal([]byte(mustRt(t, "state", id)), &st); err != nil {
		t.Fatalf("state %s: %v", id, err)
	}
	return st
}

// logLine is one record of conmon's k8s-file log.
type logLine struct {
	Stream string // stdout or stderr
	Text   string
}

// readK8sLog parses a k8s-file log ("<time> <stream> <F|P> <text>"),
// joining partial records and dropping the terminal's carriage returns.
func readK8sLog(path string) ([]logLine, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var lines []logLine
	partial := map[string]string{}
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if l == "" {
			continue
		}
		f := strings.SplitN(l, " ", 4)
		if len(f) < 3 {
			return nil, fmt.Errorf("bad k8s-file record %q", l)
		}
		text := ""
		if len(f) == 4 {
			text = f[3]
		}
		if f[2] == "P" {
			partial[f[1]] += text
			continue
		}
		lines = append(lines, logLine{Stream: f[1], Text: strings.TrimRight(partial[f[1]]+text, "\r")})
		delete(partial, f[1])
	}
	return lines, nil
}

// streamText returns one stream's lines of a log, joined by newlines.
func streamText(lines []logLine, stream string) string {
	var b bytes.Buffer
	for _, l := range lines {
		if l.Stream == stream {
			b.WriteString(l.Text + "\n")
		}
	}
	return b.String()
}

// pidAlive reports whether pid is a live (non-zombie) process whose
// command line contains want.
func pidAlive(pid int, want string) bool {
	if pid <= 0 {
		return false
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := bytes.LastIndexByte(st, ')'); i > 0 && i+2 < len(st) && st[i+2] == 'Z' {
		return false
	}
	cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return bytes.Contains(cmd, []byte(want))
}

// ppidOf reads PPid from /proc/pid/status.
func ppidOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "PPid:"); ok {
			var p int
			fmt.Sscan(strings.TrimSpace(v), &p)
			return p
		}
	}
	return -1
}

// requireBerthRan fails the test unless the shim logged a call with all
// the words: conmon really ran the runtime under test.
func requireBerthRan(t testing.TB, words ...string) {
	t.Helper()
	if !s.shim.Called(words...) {
		t.Errorf("the runtime shim never saw a call with %q; calls:\n%s", words, strings.Join(s.shim.Calls(), "\n"))
	}
}

// needController skips the test when the cgroup controller is missing (the
// cgroup v2 view of this hybrid host has only hugetlb).
func needController(t *testing.T, name string) {
	t.Helper()
	if s.cgroupV2 {
		b, _ := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
		for _, c := range strings.Fields(string(b)) {
			if c == name {
				return
			}
		}
		t.Skipf("no %s controller in this cgroup v2 tree (cgroup.controllers: %q)", name, strings.TrimSpace(string(b)))
	}
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", name)); err != nil {
		t.Skipf("no %s cgroup v1 hierarchy: %v", name, err)
	}
}
