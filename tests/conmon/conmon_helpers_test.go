package conmontest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/berth-runtime/berth/tests/internal/testkit"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ctr is one container under conmon, laid out like CRI-O's: a container
// dir holding the bundle (config.json, rootfs, and conmon's pidfile, ctl
// and winsz fifos, attach socket), the persist dir (exit and oom files) and
// the k8s-file log.
type ctr struct {
	t         testing.TB
	id        string
	dir       string
	bundle    string
	persist   string
	logPath   string
	spec      specs.Spec
	conmonPid int // the daemonized conmon, from -P
	pid       int // the container's init, from the sync pipe
	execs     atomic.Int32
}

// newCtr makes a bundle whose process runs args, after the mods edit the
// spec, and registers the cleanup: `delete --force` (CRI-O's
// DeleteContainer), conmon must exit, and nothing of the container may be
// left (state dir, cgroups, processes, mounts).
func newCtr(t testing.TB, name string, args []string, mods ...func(*specs.Spec)) *ctr {
	t.Helper()
	c, err := makeCtr(name, args, mods...)
	if err != nil {
		t.Fatal(err)
	}
	c.t = t
	t.Cleanup(c.cleanup)
	return c
}

func makeCtr(name string, args []string, mods ...func(*specs.Spec)) (*ctr, error) {
	id := s.tag + "-" + name
	dir := filepath.Join(s.dir, "c", id)
	c := &ctr{id: id, dir: dir, bundle: filepath.Join(dir, "bundle"), persist: filepath.Join(dir, "persist"), logPath: filepath.Join(dir, "ctr.log")}
	for _, d := range []string{filepath.Join(c.bundle, "rootfs"), c.persist} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if out, err := exec.Command("tar", "-C", filepath.Join(c.bundle, "rootfs"), "-xf", s.rootfsTar).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("unpack rootfs: %v: %s", err, out)
	}
	if err := json.Unmarshal(s.spec, &c.spec); err != nil {
		return nil, err
	}
	c.spec.Process.Terminal = false
	c.spec.Process.Args = args
	c.spec.Linux.CgroupsPath = "/" + id
	for _, m := range mods {
		m(&c.spec)
	}
	b, err := json.MarshalIndent(&c.spec, "", "\t")
	if err != nil {
		return nil, err
	}
	return c, os.WriteFile(filepath.Join(c.bundle, "config.json"), b, 0o644)
}

func (c *ctr) cleanup() {
	t := c.t
	r := rt(t, "delete", "--force", c.id)
	if r.Code != 0 && !strings.Contains(r.Err, "does not exist") && !strings.Contains(r.Err, "not exist") {
		t.Errorf("cleanup: %s", r)
	}
	if c.conmonPid > 0 && !testkit.Eventually(10*time.Second, func() bool { return !pidAlive(c.conmonPid, "conmon") }) {
		t.Errorf("conmon %d of %s still running 10s after the container was deleted; killing it", c.conmonPid, c.id)
		syscall.Kill(c.conmonPid, syscall.SIGKILL)
	}
	if _, err := os.Stat(filepath.Join(s.root, c.id)); err == nil {
		t.Errorf("the runtime's state dir %s is still there", filepath.Join(s.root, c.id))
	}
	testkit.CheckNoLeaks(t, c.id)
	if !t.Failed() {
		os.RemoveAll(c.dir)
	}
}

// syncInfo is what conmon writes to the sync pipe: "pid" after create,
// "exit_code" after a legacy exec, "data" with --api-version 1.
type syncInfo struct {
	Pid      *int   `json:"pid"`
	ExitCode *int   `json:"exit_code"`
	Data     *int   `json:"data"`
	Message  string `json:"message"`
}

func (si syncInfo) String() string {
	f := func(p *int) string {
		if p == nil {
			return "-"
		}
		return strconv.Itoa(*p)
	}
	return fmt.Sprintf("{pid %s exit_code %s data %s message %q}", f(si.Pid), f(si.ExitCode), f(si.Data), si.Message)
}

// readSync decodes the next JSON message of a sync pipe, with a timeout.
func readSync(dec *json.Decoder, timeout time.Duration) (syncInfo, error) {
	ch := make(chan error, 1)
	var si syncInfo
	go func() { ch <- dec.Decode(&si) }()
	select {
	case err := <-ch:
		return si, err
	case <-time.After(timeout):
		return si, fmt.Errorf("no message from conmon in %v", timeout)
	}
}

// conmonRun is one conmon started with the _OCI_* pipes.
type conmonRun struct {
	cmd        *exec.Cmd
	sync       *os.File // parent end of _OCI_SYNCPIPE
	start      *os.File // parent end of _OCI_STARTPIPE
	attach     *os.File // parent end of _OCI_ATTACHPIPE, if asked
	syncDec    *json.Decoder
	outPath    string
	waitResult chan error
}

// startConmon starts conmon with args in dir and the pipes on fds 3, 4 (and
// 5 for the attach pipe), like CRI-O's CreateContainer/ExecSyncContainer
// and podman's startExec.
func startConmon(dir string, args []string, withAttach bool) (*conmonRun, error) {
	var closeAfter []*os.File
	defer func() {
		for _, f := range closeAfter {
			f.Close()
		}
	}()
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	startR, startW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	closeAfter = append(closeAfter, syncW, startR)
	cr := &conmonRun{sync: syncR, start: startW, syncDec: json.NewDecoder(syncR), outPath: filepath.Join(dir, fmt.Sprintf("conmon-%d.out", time.Now().UnixNano()))}
	cmd := exec.Command(s.conmon, args...)
	cmd.Dir = dir
	out, err := os.Create(cr.outPath)
	if err != nil {
		return nil, err
	}
	closeAfter = append(closeAfter, out)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.ExtraFiles = []*os.File{syncW, startR}
	cmd.Env = append(os.Environ(), "_OCI_SYNCPIPE=3", "_OCI_STARTPIPE=4", "TMPDIR="+s.dir)
	if withAttach {
		attachR, attachW, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		closeAfter = append(closeAfter, attachW)
		cr.attach = attachR
		cmd.ExtraFiles = append(cmd.ExtraFiles, attachW)
		cmd.Env = append(cmd.Env, "_OCI_ATTACHPIPE=5")
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	cr.cmd = cmd
	cr.waitResult = make(chan error, 1)
	go func() { cr.waitResult <- cmd.Wait() }()
	// CRI-O puts conmon in its cgroup here, then lets it go on.
	if _, err := startW.Write([]byte{0}); err != nil {
		cr.close()
		return nil, fmt.Errorf("write start pipe: %w", err)
	}
	return cr, nil
}

// wait waits for the conmon process started (the one that forks the
// daemon and exits, or with --sync the only one).
func (cr *conmonRun) wait(timeout time.Duration) error {
	select {
	case err := <-cr.waitResult:
		return err
	case <-time.After(timeout):
		cr.cmd.Process.Kill()
		<-cr.waitResult
		return fmt.Errorf("conmon did not exit in %v: %s", timeout, cr.output())
	}
}

func (cr *conmonRun) output() string {
	b, _ := os.ReadFile(cr.outPath)
	return string(b)
}

func (cr *conmonRun) close() {
	cr.sync.Close()
	cr.start.Close()
	if cr.attach != nil {
		cr.attach.Close()
	}
}

// createOpts are the per-container conmon options CRI-O sets.
type createOpts struct {
	terminal     bool // -t: conmon makes the console socket
	stdin        bool // -i: conmon makes a stdin pipe fed from the attach socket
	noPivot      bool // --no-pivot (CRI-O's no_pivot)
	noNewKeyring bool // --no-new-keyring
}

// errCreate is a create failure conmon reported through the sync pipe.
type errCreate struct{ msg string }

func (e *errCreate) Error() string { return "container create failed: " + e.msg }

// create runs conmon as CRI-O's CreateContainer does and returns when the
// runtime's create is done: the container pid, or the error conmon
// reported (pid -1 and the runtime's stderr).
func (c *ctr) create(o createOpts) error {
	args := []string{
		"-b", c.bundle,
		"-c", c.id,
		"--exit-dir", s.exits,
		"-l", c.logPath,
		"--log-level", "info",
		"-n", c.id,
		"-P", filepath.Join(c.dir, "conmon.pid"),
		"-p", filepath.Join(c.bundle, "pidfile"),
		"--persist-dir", c.persist,
		"-r", s.shim.Path,
		"--runtime-arg", "--root=" + s.root,
		"--socket-dir-path", s.socks,
		"-u", c.id,
	}
	if o.terminal {
		args = append(args, "-t")
	} else if o.stdin {
		args = append(args, "-i")
	}
	if o.noPivot {
		args = append(args, "--no-pivot")
	}
	if o.noNewKeyring {
		args = append(args, "--no-new-keyring")
	}
	cr, err := startConmon(c.bundle, args, false)
	if err != nil {
		return err
	}
	defer cr.close()
	if err := cr.wait(30 * time.Second); err != nil {
		return fmt.Errorf("conmon: %v: %s", err, cr.output())
	}
	if b, err := os.ReadFile(filepath.Join(c.dir, "conmon.pid")); err == nil {
		c.conmonPid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	} else {
		return fmt.Errorf("conmon wrote no -P pid file: %v", err)
	}
	si, err := readSync(cr.syncDec, 30*time.Second)
	if err != nil {
		return fmt.Errorf("reading the container pid from conmon: %v (conmon said %s)", err, cr.output())
	}
	if si.Pid == nil {
		return fmt.Errorf("conmon sent %s, no pid", si)
	}
	if *si.Pid == -1 {
		return &errCreate{msg: si.Message}
	}
	c.pid = *si.Pid
	return nil
}

// mustCreateStart creates the container under conmon and starts it (CRI-O's
// StartContainer is `runtime start`).
func (c *ctr) mustCreateStart(o createOpts) {
	c.t.Helper()
	if err := c.create(o); err != nil {
		c.t.Fatal(err)
	}
	mustRt(c.t, "start", c.id)
}

// exitFile is conmon's exit file for the container in --exit-dir.
func (c *ctr) exitFile() string { return filepath.Join(s.exits, c.id) }

// waitExit waits for conmon to record the container's exit code.
func (c *ctr) waitExit(timeout time.Duration) (int, error) {
	var b []byte
	if !testkit.Eventually(timeout, func() bool {
		var err error
		b, err = os.ReadFile(c.exitFile())
		return err == nil && len(b) > 0
	}) {
		return 0, fmt.Errorf("conmon wrote no exit file for %s in %v", c.id, timeout)
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

func (c *ctr) mustExit(want int) {
	c.t.Helper()
	code, err := c.waitExit(20 * time.Second)
	if err != nil {
		c.t.Fatal(err)
	}
	if code != want {
		c.t.Errorf("conmon recorded exit %d for %s, want %d", code, c.id, want)
	}
	// The persist dir has the same code (CRI-O reads either).
	if b, err := os.ReadFile(filepath.Join(c.persist, "exit")); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(want) {
		c.t.Errorf("persist-dir exit file: %q %v, want %d", b, err, want)
	}
	c.mustConmonExit()
}

// mustConmonExit fails unless conmon exits once its container has.
func (c *ctr) mustConmonExit() {
	c.t.Helper()
	if !testkit.Eventually(10*time.Second, func() bool { return !pidAlive(c.conmonPid, "conmon") }) {
		c.t.Errorf("conmon %d still running 10s after its container exited", c.conmonPid)
	}
}

// log returns the container's k8s-file log records.
func (c *ctr) log() []logLine {
	c.t.Helper()
	l, err := readK8sLog(c.logPath)
	if err != nil {
		c.t.Fatalf("log: %v", err)
	}
	return l
}

// waitLog waits until the container's stdout log contains want.
func (c *ctr) waitLog(want string, timeout time.Duration) bool {
	return testkit.Eventually(timeout, func() bool {
		l, _ := readK8sLog(c.logPath)
		return strings.Contains(streamText(l, "stdout"), want)
	})
}

// attachSocket is the path CRI-O and podman dial: <socket-dir>/<cuuid>/attach.
func attachSocket(cuuid string) string { return filepath.Join(s.socks, cuuid, "attach") }

func dialAttach(cuuid string) (*net.UnixConn, error) {
	return net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: attachSocket(cuuid), Net: "unixpacket"})
}

// attachOutput reads conmon's attach socket packets until EOF: each packet
// starts with the stream byte (2 stdout, 3 stderr).
type attachOutput struct{ stdout, stderr []byte }

func readAttach(conn *net.UnixConn, timeout time.Duration) (attachOutput, error) {
	var o attachOutput
	conn.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 65536)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			switch buf[0] {
			case 2:
				o.stdout = append(o.stdout, buf[1:n]...)
			case 3:
				o.stderr = append(o.stderr, buf[1:n]...)
			default:
				return o, fmt.Errorf("attach packet with stream byte %d", buf[0])
			}
		}
		if errors.Is(err, io.EOF) {
			return o, nil
		}
		if err != nil {
			return o, err
		}
	}
}

// execProcess is the container's process with other args, as CRI-O's
// prepareProcessExec makes it; mods edit it.
func (c *ctr) execProcess(t testing.TB, dir string, args []string, tty bool, mods ...func(*specs.Process)) string {
	t.Helper()
	p := *c.spec.Process
	p.Args = args
	p.Terminal = tty
	for _, m := range mods {
		m(&p)
	}
	b, err := json.Marshal(&p)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "process.json")
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// execResult is an exec's outcome as the caller sees it.
type execResult struct {
	stdout, stderr string
	code           int
	message        string // conmon's message when the runtime failed
}

// execSync runs args in the container through conmon the way CRI-O's
// ExecSyncContainer does: `-e --sync` with a legacy (no --api-version)
// exec, the exit code from the sync pipe, the output from the log file.
func (c *ctr) execSync(t testing.TB, args []string, tty bool, mods ...func(*specs.Process)) execResult {
	t.Helper()
	return c.execSyncTimeout(t, 30, args, tty, mods...)
}

// execSyncTimeout is execSync with conmon's -T (seconds), CRI-O's probe
// timeout.
func (c *ctr) execSyncTimeout(t testing.TB, timeout int, args []string, tty bool, mods ...func(*specs.Process)) execResult {
	t.Helper()
	dir := filepath.Join(c.dir, fmt.Sprintf("execsync-%d", c.execs.Add(1)))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	proc := c.execProcess(t, dir, args, tty, mods...)
	logPath := filepath.Join(dir, "log")
	cargs := []string{
		"-c", c.id,
		"-n", c.id,
		"-r", s.shim.Path,
		"-p", filepath.Join(dir, "pid"),
		"-e",
		"-l", logPath,
		"--socket-dir-path", s.socks,
		"--log-level", "info",
		"--sync",
	}
	if tty {
		cargs = append(cargs, "-t")
	}
	cargs = append(cargs, "-T", strconv.Itoa(timeout), "--exec-process-spec", proc, "--runtime-arg", "--root="+s.root)
	cr, err := startConmon(dir, cargs, false)
	if err != nil {
		t.Fatal(err)
	}
	defer cr.close()
	waitErr := cr.wait(40 * time.Second)
	si, err := readSync(cr.syncDec, 5*time.Second)
	if err != nil {
		t.Fatalf("exec: no exit code from conmon: %v (wait: %v) %s", err, waitErr, cr.output())
	}
	if si.ExitCode == nil {
		t.Fatalf("exec: conmon sent %s, no exit_code", si)
	}
	res := execResult{code: *si.ExitCode, message: si.Message}
	if res.code != -1 || res.message != "" {
		lines, err := readK8sLog(logPath)
		if err != nil {
			t.Fatalf("exec log: %v", err)
		}
		res.stdout, res.stderr = streamText(lines, "stdout"), streamText(lines, "stderr")
	}
	return res
}

// execAttach runs args in the container through conmon the way podman's
// exec does: `--api-version 1 -e --exec-attach` with an exec session dir
// as the bundle; the caller waits for the attach pipe, dials the session's
// attach socket, sends input (then closes its write side when stdin is
// set), releases the start pipe a second time so conmon runs
// `runtime exec`, reads the pid and then the exit code from the sync pipe.
func (c *ctr) execAttach(t testing.TB, args []string, tty, stdin bool, input string) (attachOutput, execResult) {
	t.Helper()
	n := c.execs.Add(1)
	session := fmt.Sprintf("%s-x%d", c.id, n)
	dir := filepath.Join(c.dir, fmt.Sprintf("exec-%d", n))
	exitDir := filepath.Join(dir, "exits")
	if err := os.MkdirAll(exitDir, 0o755); err != nil {
		t.Fatal(err)
	}
	proc := c.execProcess(t, dir, args, tty)
	cargs := []string{
		"--api-version", "1",
		"-c", c.id,
		"-u", session,
		"-r", s.shim.Path,
		"-b", dir,
		"-p", filepath.Join(dir, "exec_pid"),
		"-P", filepath.Join(dir, "conmon.pid"),
		"-n", c.id,
		"--exit-dir", exitDir,
		"--socket-dir-path", s.socks,
		"-l", "k8s-file:" + filepath.Join(dir, "exec_log"),
		"--log-level", "info",
		"--runtime-arg", "--root=" + s.root,
	}
	if tty {
		cargs = append(cargs, "-t")
	}
	if stdin {
		cargs = append(cargs, "-i")
	}
	cargs = append(cargs, "-e", "--exec-attach", "--exec-process-spec", proc)
	cr, err := startConmon(dir, cargs, true)
	if err != nil {
		t.Fatal(err)
	}
	defer cr.close()
	if err := cr.wait(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	var conmonPid int
	if b, err := os.ReadFile(filepath.Join(dir, "conmon.pid")); err == nil {
		conmonPid, _ = strconv.Atoi(string(b))
	} else {
		t.Fatalf("exec conmon wrote no -P pid file: %v", err)
	}
	if si, err := readSync(json.NewDecoder(cr.attach), 20*time.Second); err != nil {
		t.Fatalf("attach pipe: %v %s", err, cr.output())
	} else if si.Data == nil || *si.Data != 0 {
		t.Fatalf("attach pipe said %s", si)
	}
	conn, err := dialAttach(session)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if input != "" {
		if _, err := conn.Write([]byte(input)); err != nil {
			t.Fatal(err)
		}
	}
	if stdin {
		conn.CloseWrite()
	}
	if _, err := cr.start.Write([]byte{0}); err != nil {
		t.Fatalf("second start-pipe write: %v", err)
	}
	si, err := readSync(cr.syncDec, 30*time.Second)
	if err != nil || si.Data == nil {
		t.Fatalf("exec pid from conmon: %v %s", err, si)
	}
	if *si.Data <= 0 {
		return attachOutput{}, execResult{code: -1, message: si.Message}
	}
	out, rerr := readAttach(conn, 30*time.Second)
	if rerr != nil {
		t.Errorf("reading the attach socket: %v", rerr)
	}
	si, err = readSync(cr.syncDec, 30*time.Second)
	if err != nil || si.Data == nil {
		t.Fatalf("exec exit code from conmon: %v %s", err, si)
	}
	if b, err := os.ReadFile(filepath.Join(exitDir, c.id)); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(*si.Data) {
		t.Errorf("exec exit file %q %v, sync pipe said %d", b, err, *si.Data)
	}
	if !testkit.Eventually(10*time.Second, func() bool { return !pidAlive(conmonPid, "conmon") }) {
		t.Errorf("exec conmon %d still running 10s after the exec ended", conmonPid)
	}
	return out, execResult{stdout: string(out.stdout), stderr: string(out.stderr), code: *si.Data, message: si.Message}
}
