// Package criu runs CRIU's RPC service (`criu swrk`) for checkpoint and
// restore: one request over a SOCK_SEQPACKET socketpair, the notifications
// CRIU sends while it works (each answered by the caller), one response.
//
// The messages are go-criu's (github.com/checkpoint-restore/go-criu/v7/rpc),
// the protocol CRIU itself defines. The loop is here rather than go-criu's
// Criu type because restore must put CRIU's own process in the container's
// cgroup before it restores anything, and must receive the pty master CRIU
// sends with the orphan-pts-master notification; that type allows neither.
package criu

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/checkpoint-restore/go-criu/v7/rpc"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"
)

// Binary is the criu executable, looked up on PATH.
var Binary = "criu"

// Call is one request to CRIU.
type Call struct {
	Type rpc.CriuReqType
	Opts *rpc.CriuOpts
	// Files are passed to CRIU as its fds 4, 5, ... (InheritFd, StatusFd
	// and JoinNs name them by those numbers).
	Files []*os.File
	// Started, if set, is called with CRIU's pid before the request is
	// sent (restore moves CRIU into the container's cgroup there).
	Started func(pid int) error
	// Notify, if set, answers CRIU's notifications (Opts.NotifyScripts is
	// set for it). fd is the descriptor CRIU sent with the notification
	// (orphan-pts-master), or -1; Notify owns it.
	Notify func(script string, pid int, fd int) error
	// LogDir is the host path of the directory CRIU logs into (the work
	// directory), named in errors with Opts.LogFile.
	LogDir string
	// Stdin, Stdout and Stderr are CRIU's fds 0-2 (nil: /dev/null). A
	// restore's InheritFd entries name them: the restored process gets
	// them in place of the pipes it had.
	Stdin, Stdout, Stderr *os.File
	// Start, if set, starts CRIU's command (restore starts it in a mount
	// namespace of its own); the default is cmd.Start.
	Start func(cmd *exec.Cmd) error
	// Features is the request's feature set (FEATURE_CHECK); Answer, once
	// Run returns nil, is CRIU's final answer.
	Features *rpc.CriuFeatures
	Answer   *rpc.CriuResp
}

// FirstFd is the number CRIU's process gives to Files[0].
const FirstFd = 4

// Run starts CRIU, sends the request, answers the notifications and
// returns once CRIU has answered and exited.
func (c *Call) Run() (err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("criu: socketpair: %w", err)
	}
	client := os.NewFile(uintptr(fds[0]), "criu-client")
	server := os.NewFile(uintptr(fds[1]), "criu-server")
	defer client.Close()
	cmd := exec.Command(Binary, "swrk", "3")
	cmd.ExtraFiles = append([]*os.File{server}, c.Files...)
	if c.Stdin != nil {
		cmd.Stdin = c.Stdin
	}
	if c.Stdout != nil {
		cmd.Stdout = c.Stdout
	}
	if c.Stderr != nil {
		cmd.Stderr = c.Stderr
	}
	start := c.Start
	if start == nil {
		start = (*exec.Cmd).Start
	}
	err = start(cmd)
	server.Close()
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return errors.New("criu is not installed (it is looked up on PATH)")
		}
		return fmt.Errorf("start criu: %w", err)
	}
	defer func() {
		client.Close()
		// After a pre-dump CRIU waits for the dump that would follow
		// and exits non-zero when the socket closes instead: its answer
		// was the result.
		if werr := cmd.Wait(); werr != nil && err == nil && c.Type != rpc.CriuReqType_PRE_DUMP {
			err = fmt.Errorf("criu swrk: %w", werr)
		}
	}()
	if c.Started != nil {
		if err := c.Started(cmd.Process.Pid); err != nil {
			cmd.Process.Kill()
			return err
		}
	}
	if c.Notify != nil {
		c.Opts.NotifyScripts = proto.Bool(true)
	}
	req := &rpc.CriuReq{Type: c.Type.Enum(), Opts: c.Opts, Features: c.Features}
	for {
		resp, fd, err := roundTrip(client, req)
		if err != nil {
			cmd.Process.Kill()
			return err
		}
		if !resp.GetSuccess() {
			return c.failure(resp)
		}
		if resp.GetType() != rpc.CriuReqType_NOTIFY {
			if resp.GetType() != c.Type {
				return fmt.Errorf("criu: answer of type %s to a %s request", resp.GetType(), c.Type)
			}
			c.Answer = resp
			return nil
		}
		n := resp.GetNotify()
		if c.Notify == nil {
			if fd >= 0 {
				unix.Close(fd)
			}
		} else if err := c.Notify(n.GetScript(), int(n.GetPid()), fd); err != nil {
			// CRIU is told, so that it undoes what it did (a dump resumes
			// the tree, a restore kills what it restored).
			roundTrip(client, &rpc.CriuReq{Type: rpc.CriuReqType_NOTIFY.Enum(), NotifySuccess: proto.Bool(false)})
			return fmt.Errorf("criu %s notification: %w", n.GetScript(), err)
		}
		req = &rpc.CriuReq{Type: rpc.CriuReqType_NOTIFY.Enum(), NotifySuccess: proto.Bool(true)}
	}
}

// roundTrip sends req and reads the answer, with the descriptor passed
// along with it if there was one (-1 otherwise).
func roundTrip(sock *os.File, req *rpc.CriuReq) (*rpc.CriuResp, int, error) {
	b, err := proto.Marshal(req)
	if err != nil {
		return nil, -1, err
	}
	if _, err := sock.Write(b); err != nil {
		return nil, -1, fmt.Errorf("criu: send request: %w", err)
	}
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, -1, fmt.Errorf("criu: read answer: %w", err)
	}
	if n == 0 {
		return nil, -1, errors.New("criu exited without answering")
	}
	fd := -1
	if oobn > 0 {
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(msgs) > 0 {
			if fds, err := unix.ParseUnixRights(&msgs[0]); err == nil && len(fds) > 0 {
				fd = fds[0]
				for _, extra := range fds[1:] {
					unix.Close(extra)
				}
			}
		}
	}
	resp := &rpc.CriuResp{}
	if err := proto.Unmarshal(buf[:n], resp); err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		return nil, -1, fmt.Errorf("criu: parse answer: %w", err)
	}
	return resp, fd, nil
}

// failure is the one-line error of a request CRIU refused: runc's words
// (containerd and podman look for them), then the first error of the log.
func (c *Call) failure(resp *rpc.CriuResp) error {
	msg := fmt.Sprintf("criu failed: type %s errno %d", resp.GetType(), resp.GetCrErrno())
	if m := resp.GetCrErrmsg(); m != "" {
		msg += ": " + m
	}
	if c.LogDir != "" && c.Opts.GetLogFile() != "" {
		log := filepath.Join(c.LogDir, c.Opts.GetLogFile())
		if first := FirstError(log); first != "" {
			msg += ": " + first
		}
		msg += " (log file: " + log + ")"
	}
	return errors.New(msg)
}

// FirstError returns CRIU's first error line in the log at path, without
// its "Error (file:line): " prefix, or "" when there is none.
func FirstError(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		l := s.Text()
		i := strings.Index(l, "Error (")
		if i < 0 {
			continue
		}
		l = l[i:]
		if j := strings.Index(l, "): "); j >= 0 {
			l = l[j+3:]
		}
		return strings.TrimSpace(l)
	}
	return ""
}

// Check asks CRIU whether it can checkpoint and restore on this host. It
// logs into dir (removing its log afterwards); when CRIU cannot work, the
// error names the first problem CRIU found.
func Check(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	const logName = "criu-check.log"
	defer os.Remove(filepath.Join(dir, logName))
	c := &Call{Type: rpc.CriuReqType_CHECK, Opts: &rpc.CriuOpts{
		ImagesDirFd: proto.Int32(int32(d.Fd())), WorkDirFd: proto.Int32(int32(d.Fd())),
		LogFile: proto.String(logName), LogLevel: proto.Int32(2),
	}}
	if err := c.Run(); err != nil {
		if first := FirstError(filepath.Join(dir, logName)); first != "" {
			return fmt.Errorf("CRIU cannot work on this host: criu check: %s", first)
		}
		return fmt.Errorf("CRIU cannot work on this host: %w", err)
	}
	return nil
}

// CheckLazyPages asks CRIU whether it can migrate memory lazily here
// (userfaultfd with the non-cooperative events it needs); the error says
// why not.
func CheckLazyPages() error {
	c := &Call{Type: rpc.CriuReqType_FEATURE_CHECK, Features: &rpc.CriuFeatures{LazyPages: proto.Bool(true)}}
	if err := c.Run(); err != nil {
		return fmt.Errorf("--lazy-pages: CRIU's feature check failed: %w", err)
	}
	if !c.Answer.GetFeatures().GetLazyPages() {
		return errors.New("--lazy-pages: CRIU cannot do lazy pages on this host (it needs userfaultfd with non-cooperative events)")
	}
	return nil
}
