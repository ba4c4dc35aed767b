package podmantest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-runtime/berth/tests/internal/testkit"
)

// TestRunOutputAndExitCode: the command's output comes back and `exit 3`
// makes podman exit 3.
func TestRunOutputAndExitCode(t *testing.T) {
	t.Parallel()
	r, _ := run(t, []string{"--rm"}, "sh", "-c", "echo hello from the container; exit 3")
	if r.Code != 3 || r.Out != "hello from the container\n" {
		t.Errorf("got %s; want exit 3 and the greeting", r)
	}
}

// TestRunMissingCommandExits127 checks podman's code for a command that is
// not found, and that podman read the runtime's JSON log (--log-format=json
// is passed because berth is in runtime_supports_json): the message is the
// plain error, not a logrus text line.
func TestRunMissingCommandExits127(t *testing.T) {
	t.Parallel()
	r, id := run(t, []string{"--rm"}, "no-such-command")
	if r.Code != 127 || !strings.Contains(r.Err, "executable file not found") {
		t.Errorf("got %s; want exit 127 and `executable file not found`", r)
	}
	if strings.Contains(r.Err, "level=error") {
		t.Errorf("podman shows a text log line, so it did not read the JSON log: %q", r.Err)
	}
	if !shim.Called("--log-format=json", "--log", "create", id) {
		t.Errorf("create of %s was not called with --log-format=json --log <file>", id)
	}
}

// TestRuntimeMissingFromSupportsJSONGetsTextLog shows why the configuration
// lists berth in runtime_supports_json: podman decides by the runtime's
// name, and without it podman passes neither --log-format=json nor --log,
// and shows the runtime's stderr (a logrus text line) as the error.
func TestRuntimeMissingFromSupportsJSONGetsTextLog(t *testing.T) {
	t.Parallel()
	c := testkit.Cmd{Env: []string{"CONTAINERS_CONF=" + filepath.Join(tmp, "containers-nojson.conf")}}
	cid := filepath.Join(tmp, "cids", fmt.Sprintf("nojson-%d.cid", seq.Add(1)))
	c.Args = []string{"run", "--rm", "--cidfile", cid, image, "no-such-command"}
	r := testkit.Run(t, withGlobals(c))
	b, _ := os.ReadFile(cid)
	id := strings.TrimSpace(string(b))
	if id == "" {
		t.Fatalf("no container ID: %s", r)
	}
	t.Cleanup(func() { removeContainer(t, id) })
	if !shim.Called("create", id) {
		t.Fatalf("the shim did not create %s", id)
	}
	if shim.Called("--log-format=json", "create", id) {
		t.Errorf("podman passed --log-format=json to a runtime outside runtime_supports_json")
	}
	if r.Code != 127 || !strings.Contains(r.Err, "executable file not found") || !strings.Contains(r.Err, "level=error") {
		t.Errorf("got %s; want exit 127 with the runtime's text log line", r)
	}
}

// TestRunRmRemovesContainer: --rm leaves no container in podman nor state
// in the runtime's root.
func TestRunRmRemovesContainer(t *testing.T) {
	t.Parallel()
	r, id := run(t, []string{"--rm"}, "true")
	if r.Code != 0 {
		t.Fatalf("%s", r)
	}
	if e := podman(t, "container", "exists", id); e.Code != 1 {
		t.Errorf("container %s still exists after run --rm: %s", id, e)
	}
	if left := stateLeft([]string{id}); len(left) > 0 {
		t.Errorf("%v", left)
	}
	if !shim.Called("delete", "--force", id) {
		t.Errorf("podman did not delete %s through the runtime", id)
	}
}

// TestRunDetachedIsListedUp: -d prints the ID, podman ps lists it Up, and
// its init pid is alive on the host.
func TestRunDetachedIsListedUp(t *testing.T) {
	t.Parallel()
	id := runDetached(t, nil, "sleep", "1000")
	ps := podmanOK(t, "ps", "--no-trunc", "--filter", "id="+id, "--format", "{{.ID}} {{.Status}}")
	if !strings.HasPrefix(ps, id+" Up") {
		t.Errorf("podman ps: %q; want %s Up ...", ps, id)
	}
	if got := inspect(t, id, "{{.State.Status}} {{.State.Running}}"); got != "running true" {
		t.Errorf("inspect state: %q", got)
	}
	pid := containerPid(t, id)
	if cmd, err := os.ReadFile("/proc/" + pid + "/cmdline"); err != nil || !strings.HasPrefix(string(cmd), "sleep\x001000") {
		t.Errorf("pid %s on the host: %q %v; want sleep 1000", pid, cmd, err)
	}
	if !shim.Called("start", id) {
		t.Errorf("podman did not start %s through the runtime", id)
	}
}

// TestLogsKeepStdoutAndStderrApart: podman logs (conmon's k8s-file log)
// gives stdout on stdout and stderr on stderr.
func TestLogsKeepStdoutAndStderrApart(t *testing.T) {
	t.Parallel()
	id := runDetached(t, nil, "sh", "-c", "echo to-stdout; echo to-stderr >&2; echo more-stdout")
	if code := waitExit(t, id); code != "0" {
		t.Fatalf("exit %s", code)
	}
	r := podman(t, "logs", id)
	if r.Code != 0 || r.Out != "to-stdout\nmore-stdout\n" || r.Err != "to-stderr\n" {
		t.Errorf("podman logs: %s; want stdout to-stdout,more-stdout and stderr to-stderr", r)
	}
}

// TestWaitAndInspectExitCode: podman wait prints the exit code conmon
// recorded, and inspect shows it with the status exited.
func TestWaitAndInspectExitCode(t *testing.T) {
	t.Parallel()
	id := runDetached(t, nil, "sh", "-c", "sleep 0.2; exit 5")
	if code := waitExit(t, id); code != "5" {
		t.Errorf("podman wait: %q, want 5", code)
	}
	if got := inspect(t, id, "{{.State.Status}} {{.State.ExitCode}}"); got != "exited 5" {
		t.Errorf("inspect: %q, want exited 5", got)
	}
}

// TestNameEnvWorkdirUser: --name, -e, -w and --user 1000:1000.
func TestNameEnvWorkdirUser(t *testing.T) {
	t.Parallel()
	n := name(t)
	r, id := run(t, []string{"--name", n, "-e", "GREETING=hi there", "-w", "/home/user", "--user", "1000:1000"},
		"sh", "-c", `echo "$GREETING"; pwd; id -u; id -g; grep -E '^(Uid|Gid):' /proc/self/status`)
	want := "hi there\n/home/user\n1000\n1000\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\n"
	if r.Code != 0 || r.Out != want {
		t.Errorf("got %s; want %q", r, want)
	}
	if got := inspect(t, n, "{{.Id}}"); got != id {
		t.Errorf("inspect by name %s: %q, want %s", n, got, id)
	}
}

// TestHostname: --hostname sets the UTS name.
func TestHostname(t *testing.T) {
	t.Parallel()
	r, _ := run(t, []string{"--rm", "--hostname", "berth-box"}, "sh", "-c", "hostname; cat /proc/sys/kernel/hostname")
	if r.Code != 0 || r.Out != "berth-box\nberth-box\n" {
		t.Errorf("got %s", r)
	}
}

// TestStdinIntoRunI: stdin piped into `run -i` reaches the container.
func TestStdinIntoRunI(t *testing.T) {
	t.Parallel()
	r, _ := runWith(t, testkit.Cmd{Stdin: []byte("line one\nline two\n")}, []string{"--rm", "-i"}, "sh", "-c", "wc -l; echo done")
	if r.Code != 0 || strings.Fields(r.Out)[0] != "2" || !strings.HasSuffix(r.Out, "done\n") {
		t.Errorf("got %s; want 2 lines counted", r)
	}
}

// TestReadOnlyRoot: --read-only makes / read-only, while the tmpfs podman
// adds on /run, /tmp and /var/tmp (with runc's tmpcopyup) are writable and
// keep the image directories' modes.
func TestReadOnlyRoot(t *testing.T) {
	t.Parallel()
	r, _ := run(t, []string{"--rm", "--read-only"}, "sh", "-c",
		`touch /rootfile 2>&1; echo "root=$?"; for d in /run /tmp /var/tmp; do touch $d/f && echo "$d ok $(stat -c %a $d)"; done`)
	want := "touch: /rootfile: Read-only file system\nroot=1\n/run ok 755\n/tmp ok 1777\n/var/tmp ok 1777\n"
	if r.Code != 0 || r.Out != want {
		t.Errorf("got %s; want %q", r, want)
	}
}

// TestVolumesReadWriteAndReadOnly: -v host:ctr is writable and its writes
// reach the host; -v host:ctr:ro is not.
func TestVolumesReadWriteAndReadOnly(t *testing.T) {
	t.Parallel()
	rw, ro := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(ro, "given"), []byte("from-host"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, _ := run(t, []string{"--rm", "-v", rw + ":/rw", "-v", ro + ":/ro:ro"}, "sh", "-c",
		`echo written > /rw/out && echo rw-ok; cat /ro/given; echo; touch /ro/new 2>&1; echo "ro=$?"`)
	want := "rw-ok\nfrom-host\ntouch: /ro/new: Read-only file system\nro=1\n"
	if r.Code != 0 || r.Out != want {
		t.Errorf("got %s; want %q", r, want)
	}
	if b, err := os.ReadFile(filepath.Join(rw, "out")); err != nil || string(b) != "written\n" {
		t.Errorf("host side of the rw volume: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(ro, "new")); err == nil {
		t.Errorf("a file appeared in the read-only volume")
	}
}

// TestTmpfs: --tmpfs mounts a tmpfs with the given size; podman marks it
// tmpcopyup, so a tmpfs over an image directory starts with its contents.
func TestTmpfs(t *testing.T) {
	t.Parallel()
	r, _ := run(t, []string{"--rm", "--tmpfs", "/scratch:size=1m", "--tmpfs", "/etc"}, "sh", "-c",
		`grep -E ' /(scratch|etc) ' /proc/self/mountinfo | cut -d' ' -f5-; echo x > /scratch/f && cat /scratch/f; grep ^user: /etc/passwd`)
	lines := strings.Split(strings.TrimSpace(r.Out), "\n")
	if r.Code != 0 || len(lines) != 4 {
		t.Fatalf("got %s", r)
	}
	var scratch, etc string
	for _, l := range lines[:2] {
		switch f := strings.Fields(l); f[0] {
		case "/scratch":
			scratch = l
		case "/etc":
			etc = l
		}
	}
	if !strings.Contains(scratch, " - tmpfs ") || !strings.Contains(scratch, "size=1024k") {
		t.Errorf("/scratch mount: %q; want tmpfs size=1024k", scratch)
	}
	if !strings.Contains(etc, " - tmpfs ") {
		t.Errorf("/etc mount: %q; want tmpfs", etc)
	}
	if lines[2] != "x" || lines[3] != testkit.ImageUser {
		t.Errorf("got %q; want the write to /scratch and the image's /etc/passwd copied up", lines[2:])
	}
}

// TestParallelContainers runs 20 containers at once; each prints its own
// number and all are removed.
func TestParallelContainers(t *testing.T) {
	const n = 20
	var wg sync.WaitGroup
	results := make([]testkit.Result, n)
	ids := make([]string, n)
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cid := filepath.Join(tmp, "cids", fmt.Sprintf("parallel-%d-%d.cid", i, seq.Add(1)))
			results[i] = testkit.Run(t, withGlobals(testkit.Cmd{
				Args:    []string{"run", "--rm", "--cidfile", cid, image, "sh", "-c", fmt.Sprintf("echo container-%d", i)},
				Timeout: 2 * time.Minute,
			}))
			b, _ := os.ReadFile(cid)
			ids[i] = strings.TrimSpace(string(b))
		}()
	}
	wg.Wait()
	t.Logf("%d containers in parallel: %v", n, time.Since(start).Round(time.Millisecond))
	for i, r := range results {
		if r.Code != 0 || r.Out != fmt.Sprintf("container-%d\n", i) {
			t.Errorf("container %d: %s", i, r)
		}
		if ids[i] == "" {
			t.Errorf("container %d: no ID", i)
			continue
		}
		assertRanByRuntime(t, ids[i])
	}
	for _, id := range ids {
		if id != "" && podman(t, "container", "exists", id).Code != 1 {
			t.Errorf("container %s is still there", id)
			removeContainer(t, id)
		}
	}
	testkit.CheckNoLeaks(t, ids...)
	if left := stateLeft(ids); len(left) > 0 {
		t.Errorf("left after the parallel containers: %v", left)
	}
}
