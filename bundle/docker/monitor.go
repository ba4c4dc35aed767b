package docker

import (
	"bufio"
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
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/libcontainer"
)

// LogLine is one line of a container's log: one chunk of one stream.
type LogLine struct {
	Stream string    `json:"stream"`
	Log    string    `json:"log"`
	Time   time.Time `json:"time"`
}

// LogFile is the log's name in the container dir.
const LogFile = "container.log"

// StartMonitor starts the container's monitor (self, with the hidden verb
// "__monitor"), which outlives the CLI, and waits until it reports that the
// container runs (or why not). exe is the berth-docker engine binary. For
// run -it the monitor first asks us to attach; the connection is returned.
func (s *Store) StartMonitor(exe, id string) (net.Conn, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	cmd := exec.Command(exe, "__monitor", id)
	cmd.Env = append(os.Environ(), "BERTH_DOCKER_ROOT="+s.Root, "BERTH_DOCKER_RUNROOT="+s.RunRoot,
		"BERTH_DOCKER_RUNTIME="+s.Runtime)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.ExtraFiles = []*os.File{w}
	// Not the caller's cwd: the monitor must not pin its file system.
	cmd.Dir = "/"
	// Its own session: it survives the terminal and the CLI.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, err
	}
	w.Close()
	cmd.Process.Release()
	br := bufio.NewReader(r)
	var conn net.Conn
	for {
		line, err := br.ReadString('\n')
		line = strings.TrimSpace(line)
		switch {
		case line == "ok":
			return conn, nil
		case strings.HasPrefix(line, "attach "):
			if conn, err = net.Dial("unix", strings.TrimPrefix(line, "attach ")); err != nil {
				return nil, err
			}
			continue
		case strings.HasPrefix(line, "error: "):
			return nil, errors.New(strings.TrimPrefix(line, "error: "))
		case err != nil:
			return nil, fmt.Errorf("monitor died before the container started: %w", err)
		}
		return nil, fmt.Errorf("monitor: unexpected report %q", line)
	}
}

// Monitor is the monitor process's body: it is the container's subreaper,
// holds its stdio, writes the log, records how the container ended, deletes
// it from the runtime and carries out --rm. report is the pipe to the CLI.
func (s *Store) Monitor(id string, report *os.File) error {
	fail := func(err error) error {
		fmt.Fprintf(report, "error: %s\n", oneLine(err.Error()))
		report.Close()
		return err
	}
	m, err := s.LoadMeta(id)
	if err != nil {
		return fail(err)
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fail(err)
	}
	dir := s.Dir(id)
	outR, outW, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	stdin, err := s.stdin(m)
	if err != nil {
		return fail(err)
	}
	pidFile := filepath.Join(dir, "init.pid")
	os.Remove(pidFile)
	// The runtime's errors go to a log of their own: its stderr is the
	// container's, which the init keeps (a pipe copied by os/exec would
	// never reach EOF).
	rtLog := filepath.Join(dir, "runtime.log")
	args := []string{"--root", s.RunRoot, "--log", rtLog, "create", "--bundle", dir, "--pid-file", pidFile}
	// With a terminal the container's stdio is a pty whose master the
	// runtime sends to our console socket.
	var tty *ttyServer
	var gotMaster <-chan error
	if m.Options.TTY {
		if tty, err = newTTYServer(); err != nil {
			return fail(err)
		}
		defer tty.close()
		if gotMaster, err = tty.receive(); err != nil {
			return fail(err)
		}
		args = append(args, "--console-socket", tty.consolePath())
	}
	create := exec.Command(s.Runtime, append(args, id)...)
	create.Stdin, create.Stdout, create.Stderr = stdin, outW, errW
	err = create.Run()
	outW.Close()
	errW.Close()
	stdin.Close()
	if err == nil && tty != nil {
		if err = <-gotMaster; err != nil {
			s.DeleteRuntime(id, true)
		}
	}
	if err != nil {
		s.DeleteRuntime(id, true)
		m.Status, m.ExitCode, m.FinishedAt = "exited", 127, time.Now().UTC()
		s.SaveMeta(m)
		logData, _ := os.ReadFile(rtLog)
		msg := lastLine(string(logData))
		if msg == "" {
			msg = err.Error()
		}
		return fail(fmt.Errorf("create: %s", msg))
	}
	log, err := os.OpenFile(filepath.Join(dir, LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		s.DeleteRuntime(id, true)
		return fail(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range []struct {
		r    *os.File
		name string
	}{{outR, "stdout"}, {errR, "stderr"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			copyLog(p.r, p.name, log, &mu)
		}()
	}
	var ttyDone <-chan struct{}
	if tty != nil {
		ttyDone, err = tty.serve(func(b []byte) {
			mu.Lock()
			json.NewEncoder(log).Encode(LogLine{Stream: "stdout", Log: string(b), Time: time.Now().UTC()})
			mu.Unlock()
		})
		if err != nil {
			s.DeleteRuntime(id, true)
			return fail(err)
		}
		m.AttachSocket = tty.AttachPath()
		if m.Options.Interactive && !m.Options.Detach {
			// docker attaches before it starts: nothing the container
			// prints first is lost, and its input is there from the start.
			fmt.Fprintf(report, "attach %s\n", tty.AttachPath())
			select {
			case <-tty.attached:
			case <-time.After(30 * time.Second):
			}
		}
	}
	if _, err := s.run("start", id); err != nil {
		s.DeleteRuntime(id, true)
		m.Status, m.ExitCode, m.FinishedAt = "exited", 126, time.Now().UTC()
		s.SaveMeta(m)
		return fail(err)
	}
	data, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	m.Pid, m.Status, m.StartedAt, m.MonitorPid = pid, "running", time.Now().UTC(), os.Getpid()
	m.FinishedAt, m.ExitCode, m.OOMKilled = time.Time{}, 0, false
	if err := s.SaveMeta(m); err != nil {
		s.DeleteRuntime(id, true)
		return fail(err)
	}
	fmt.Fprintln(report, "ok")
	report.Close()

	code := waitFor(pid)
	if ttyDone != nil {
		select {
		case <-ttyDone:
		case <-time.After(2 * time.Second):
		}
	}
	// The streams end when every process holding them is gone; do not
	// wait forever for a daemonised grandchild.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	oom := s.oomKilled(id)
	s.DeleteRuntime(id, true)
	if m2, err := s.LoadMeta(id); err == nil {
		m = m2
	}
	m.Status, m.ExitCode, m.FinishedAt, m.OOMKilled, m.MonitorPid = "exited", code, time.Now().UTC(), oom, 0
	s.SaveMeta(m)
	if m.AutoRemove {
		return s.RemoveDir(id)
	}
	return nil
}

// stdin is the container's stdin: /dev/null, or with -i a fifo in the
// container dir that "berth-docker run -i" (or attach) writes to.
func (s *Store) stdin(m *Meta) (*os.File, error) {
	if !m.Options.Interactive {
		return os.Open(os.DevNull)
	}
	p := filepath.Join(s.Dir(m.ID), "stdin")
	if err := unix.Mkfifo(p, 0o600); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, err
	}
	if m.Options.Detach {
		// Nobody writes now: keep it open (read-write, so there is always
		// a writer) like docker's -di, rather than an immediate EOF.
		return os.OpenFile(p, os.O_RDWR, 0)
	}
	// The foreground CLI opens the write end: the container reads its
	// stdin, then EOF when the CLI's stdin ends.
	return os.OpenFile(p, os.O_RDONLY, 0)
}

// FeedStdin copies r into the container's stdin fifo, which the monitor
// makes for run -i; r's EOF closes the container's stdin. The fifo may not
// be there yet when the monitor has only just started.
func (s *Store) FeedStdin(id string, r io.Reader) {
	p := filepath.Join(s.Dir(id), "stdin")
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(p); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return
	}
	io.Copy(f, r)
	f.Close()
}

// waitFor reaps children (we are a subreaper) until pid exits; it returns
// the exit code docker reports (128+n for signal n).
func waitFor(pid int) int {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			// Not our child (the monitor was restarted): poll.
			for unix.Kill(pid, 0) == nil {
				time.Sleep(100 * time.Millisecond)
			}
			return 255
		}
		if got != pid {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}

// oomKilled reads the container's OOM-kill counter (libcontainer's
// exported CgroupOOMKills) before the runtime removes its cgroup.
func (s *Store) oomKilled(id string) bool {
	kills, err := libcontainer.CgroupOOMKills(cgroupsPath(id))
	return err == nil && kills > 0
}

// cgroupsPath is flat (no shared parent directory that nobody would remove).
func cgroupsPath(id string) string { return "/berth-docker-" + id }

// copyLog writes one record per line of the stream (a last partial line
// is written when the stream ends, or once it reaches 16 KiB).
func copyLog(r io.ReadCloser, stream string, w io.Writer, mu *sync.Mutex) {
	defer r.Close()
	enc := json.NewEncoder(w)
	emit := func(b []byte) {
		mu.Lock()
		enc.Encode(LogLine{Stream: stream, Log: string(b), Time: time.Now().UTC()})
		mu.Unlock()
	}
	br := bufio.NewReaderSize(r, 16*1024)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 && (err == nil || err == bufio.ErrBufferFull || err == io.EOF) {
			emit(line)
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
