package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// The seccomp tests run `probe syscall NAME ARGS...` (prints "ok" or the
// errno name) and busybox commands under profiles.

// withSeccompProfile sets linux.seccomp.
func withSeccompProfile(sc *specs.LinuxSeccomp) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Linux.Seccomp = sc }
}

func errnoPtr(v uint) *uint { return &v }

// allowAllExcept is a profile allowing everything but the given rules.
func allowAllExcept(rules ...specs.LinuxSyscall) *specs.LinuxSeccomp {
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls:      rules,
	}
}

// probeSyscallResults runs one `probe syscall` per call (each "NAME ARG...") in
// one container and returns the results in order.
func probeSyscallResults(t *testing.T, sc *specs.LinuxSeccomp, calls ...string) []string {
	t.Helper()
	var script []string
	for _, c := range calls {
		script = append(script, "probe syscall "+c)
	}
	out := runOK(t, withArgs("/bin/sh", "-c", strings.Join(script, "; ")), withSeccompProfile(sc))
	got := lines(out)
	if len(got) != len(calls) {
		t.Fatalf("probe output %q for calls %q", out, calls)
	}
	return got
}

// TestSeccompErrnoDeniesMkdir checks SCMP_ACT_ERRNO without errnoRet:
// mkdir and mkdirat fail with EPERM, other calls work, and the filter is
// in place (Seccomp: 2).
func TestSeccompErrnoDeniesMkdir(t *testing.T) {
	sc := allowAllExcept(specs.LinuxSyscall{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno})
	out := runOK(t, withSeccompProfile(sc), withArgs("/bin/sh", "-c",
		"mkdir /tmp/x 2>&1; echo rc=$?; probe mkdir /tmp/y; probe syscall mkdir str:/tmp/z 0755; "+
			"touch /tmp/file && echo touch-ok; grep '^Seccomp:' /proc/self/status"))
	for _, want := range []string{"Operation not permitted", "rc=1", "\nEPERM\nEPERM\n", "touch-ok", "Seccomp:\t2"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestSeccompErrnoRetHonoured checks errnoRet on SCMP_ACT_ERRNO rules.
func TestSeccompErrnoRetHonoured(t *testing.T) {
	sc := allowAllExcept(
		specs.LinuxSyscall{Names: []string{"mkdirat"}, Action: specs.ActErrno, ErrnoRet: errnoPtr(uint(unix.EACCES))},
		specs.LinuxSyscall{Names: []string{"mkdir"}, Action: specs.ActErrno, ErrnoRet: errnoPtr(uint(unix.ENOSYS))},
		specs.LinuxSyscall{Names: []string{"rmdir"}, Action: specs.ActErrno, ErrnoRet: errnoPtr(uint(unix.EPERM))},
	)
	got := probeSyscallResults(t, sc, "mkdirat -100 str:/tmp/a 0755", "mkdir str:/tmp/b 0755", "rmdir str:/tmp")
	if want := []string{"EACCES", "ENOSYS", "EPERM"}; !reflect.DeepEqual(got, want) {
		t.Errorf("mkdirat, mkdir, rmdir gave %q, want %q", got, want)
	}
}

// TestSeccompFlagsAccepted checks that the filter flags runtime-spec
// lists load with the profile, which then works.
func TestSeccompFlagsAccepted(t *testing.T) {
	sc := allowAllExcept(specs.LinuxSyscall{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno})
	sc.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow, "SECCOMP_FILTER_FLAG_TSYNC"}
	if got := probeSyscallResults(t, sc, "mkdirat -100 str:/tmp/a 0755", "getpid"); !reflect.DeepEqual(got, []string{"EPERM", "ok"}) {
		t.Errorf("mkdirat, getpid gave %q, want EPERM ok", got)
	}
}

// TestSeccompArgumentOperators checks every comparison operator on an
// argument, using umask (which never fails by itself) with value 0x12, and
// that several conditions on one argument are ORed (as runc does).
func TestSeccompArgumentOperators(t *testing.T) {
	cases := []struct {
		name string
		args []specs.LinuxSeccompArg
		want map[string]string // umask argument -> result
	}{
		{"NE", []specs.LinuxSeccompArg{{Index: 0, Value: 0x12, Op: specs.OpNotEqual}}, map[string]string{"0x11": "EACCES", "0x12": "ok", "0x13": "EACCES"}},
		{"LT", []specs.LinuxSeccompArg{{Index: 0, Value: 0x12, Op: specs.OpLessThan}}, map[string]string{"0x11": "EACCES", "0x12": "ok", "0x13": "ok"}},
		{"LE", []specs.LinuxSeccompArg{{Index: 0, Value: 0x12, Op: specs.OpLessEqual}}, map[string]string{"0x11": "EACCES", "0x12": "EACCES", "0x13": "ok"}},
		{"EQ", []specs.LinuxSeccompArg{{Index: 0, Value: 0x12, Op: specs.OpEqualTo}}, map[string]string{"0x11": "ok", "0x12": "EACCES", "0x13": "ok"}},
		{"GE", []specs.LinuxSeccompArg{{Index: 0, Value: 0x12, Op: specs.OpGreaterEqual}}, map[string]string{"0x11": "ok", "0x12": "EACCES", "0x13": "EACCES"}},
		{"GT", []specs.LinuxSeccompArg{{Index: 0, Value: 0x12, Op: specs.OpGreaterThan}}, map[string]string{"0x11": "ok", "0x12": "ok", "0x13": "EACCES"}},
		{"MASKED_EQ", []specs.LinuxSeccompArg{{Index: 0, Value: 0xf0, ValueTwo: 0x10, Op: specs.OpMaskedEqual}}, map[string]string{"0x11": "EACCES", "0x1f": "EACCES", "0x21": "ok", "0x0": "ok"}},
		{"same-arg-ORed", []specs.LinuxSeccompArg{{Index: 0, Value: 0x11, Op: specs.OpEqualTo}, {Index: 0, Value: 0x13, Op: specs.OpEqualTo}}, map[string]string{"0x11": "EACCES", "0x12": "ok", "0x13": "EACCES"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc := allowAllExcept(specs.LinuxSyscall{Names: []string{"umask"}, Action: specs.ActErrno, ErrnoRet: errnoPtr(uint(unix.EACCES)), Args: c.args})
			var calls, want []string
			for arg, res := range c.want {
				calls = append(calls, "umask "+arg)
				want = append(want, res)
			}
			if got := probeSyscallResults(t, sc, calls...); !reflect.DeepEqual(got, want) {
				t.Errorf("%q gave %q, want %q", calls, got, want)
			}
		})
	}
}

// TestSeccompSocketArgumentFilters denies socket(AF_INET, ...) with EPERM,
// and AF_UNIX datagram sockets (type & 0xf == SOCK_DGRAM, whatever the
// flags: SCMP_CMP_MASKED_EQ, ANDed with a condition on arg 0) with EACCES.
func TestSeccompSocketArgumentFilters(t *testing.T) {
	sc := allowAllExcept(
		specs.LinuxSyscall{Names: []string{"socket"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: unix.AF_INET, Op: specs.OpEqualTo}}},
		specs.LinuxSyscall{Names: []string{"socket"}, Action: specs.ActErrno, ErrnoRet: errnoPtr(uint(unix.EACCES)),
			Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: unix.AF_UNIX, Op: specs.OpEqualTo},
				{Index: 1, Value: 0xf, ValueTwo: unix.SOCK_DGRAM, Op: specs.OpMaskedEqual},
			}},
	)
	calls := []string{
		fmt.Sprintf("socket %d %d 0", unix.AF_INET, unix.SOCK_STREAM),
		fmt.Sprintf("socket %d %d 0", unix.AF_INET, unix.SOCK_DGRAM),
		fmt.Sprintf("socket %d %d 0", unix.AF_UNIX, unix.SOCK_STREAM),
		fmt.Sprintf("socket %d %d 0", unix.AF_UNIX, unix.SOCK_DGRAM),
		fmt.Sprintf("socket %d %d 0", unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK),
		fmt.Sprintf("socket %d %d 0", unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC),
	}
	want := []string{"EPERM", "EPERM", "ok", "EACCES", "EACCES", "ok"}
	if got := probeSyscallResults(t, sc, calls...); !reflect.DeepEqual(got, want) {
		t.Errorf("%q gave %q, want %q", calls, got, want)
	}
}

// TestSeccompUnknownSyscallNamesSkipped checks that names the runtime's
// libseccomp does not know are skipped: the rest of the rule applies.
func TestSeccompUnknownSyscallNamesSkipped(t *testing.T) {
	sc := allowAllExcept(
		specs.LinuxSyscall{Names: []string{"berth_no_such_syscall"}, Action: specs.ActErrno},
		specs.LinuxSyscall{Names: []string{"mkdirat", "berth_no_such_syscall_2", "mkdir"}, Action: specs.ActErrno},
	)
	if got := probeSyscallResults(t, sc, "mkdirat -100 str:/tmp/a 0755", "mkdir str:/tmp/b 0755", "getpid"); !reflect.DeepEqual(got, []string{"EPERM", "EPERM", "ok"}) {
		t.Errorf("mkdirat, mkdir, getpid gave %q, want EPERM EPERM ok", got)
	}
}

// TestSeccompInvalidProfileFailsCreate checks that profiles the runtime
// cannot apply fail create, naming the problem, and leave nothing behind.
func TestSeccompInvalidProfileFailsCreate(t *testing.T) {
	rule := func(r specs.LinuxSyscall) *specs.LinuxSeccomp { return allowAllExcept(r) }
	cases := []struct {
		name    string
		profile *specs.LinuxSeccomp
		raw     any // replaces linux.seccomp in the JSON when set
		mention string
	}{
		{"unknown-rule-action", rule(specs.LinuxSyscall{Names: []string{"mkdir"}, Action: "SCMP_ACT_BOGUS"}), nil, "SCMP_ACT_BOGUS"},
		{"unknown-default-action", &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOPE"}, nil, "SCMP_ACT_NOPE"},
		{"unknown-operator", rule(specs.LinuxSyscall{Names: []string{"umask"}, Action: specs.ActErrno,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: "SCMP_CMP_BOGUS"}}}), nil, "SCMP_CMP_BOGUS"},
		{"unknown-architecture", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"SCMP_ARCH_BOGUS"}}, nil, "SCMP_ARCH_BOGUS"},
		{"unknown-flag", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_BOGUS"}}, nil, "SECCOMP_FILTER_FLAG_BOGUS"},
		{"notify-without-listener", rule(specs.LinuxSyscall{Names: []string{"mkdir"}, Action: specs.ActNotify}), nil, "listenerPath"},
		{"bad-json-type-defaultAction", nil, map[string]any{"defaultAction": 5}, "defaultAction"},
		{"bad-json-type-syscalls", nil, map[string]any{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": "mkdir"}, "syscalls"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bundle := newBundle(t, withSeccompProfile(c.profile))
			if c.raw != nil {
				editConfigJSON(t, bundle, func(cfg map[string]any) {
					cfg["linux"].(map[string]any)["seccomp"] = c.raw
				})
			}
			id := newID(t)
			rt(t, "create", "--bundle", bundle, id).failed(t, c.mention)
			assertCreateLeftNothing(t, id)
		})
	}
}

// editConfigJSON edits a bundle's config.json as generic JSON.
func editConfigJSON(t *testing.T, bundle string, edit func(map[string]any)) {
	t.Helper()
	path := filepath.Join(bundle, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	edit(cfg)
	if b, err = json.Marshal(cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// dockerDefaultProfile is Docker's default profile (moby/profiles/seccomp)
// for the container's capabilities (its bounding set) on this machine:
// GetDefaultProfile is Docker's own conversion (defaultAction,
// defaultErrnoRet, archMap's entry for the native arch with its
// sub-architectures, and the rules whose includes/excludes match the caps,
// the arch and the kernel).
func dockerDefaultProfile(t *testing.T) *specs.LinuxSeccomp {
	t.Helper()
	sc, err := mobyseccomp.GetDefaultProfile(defaultSpec())
	if err != nil {
		t.Fatalf("docker default profile: %v", err)
	}
	if sc.DefaultAction != specs.ActErrno || len(sc.Syscalls) < 10 || len(sc.Architectures) == 0 {
		t.Fatalf("unexpected docker default profile: action %s, %d rules, archs %v", sc.DefaultAction, len(sc.Syscalls), sc.Architectures)
	}
	return sc
}

// TestSeccompDockerDefaultProfile runs busybox and probe system calls under
// Docker's default profile, comparing with a container without seccomp:
// ordinary commands work, calls the profile does not allow get its
// default errno (EPERM, or defaultErrnoRet), rules with errnoRet (clone3)
// and argument filters (personality, socket domains) apply, and a syscall
// newer than every one the profile names gets ENOSYS, not the default
// action.
func TestSeccompDockerDefaultProfile(t *testing.T) {
	calls := []struct{ name, call string }{
		{"keyctl", "keyctl 0 0xfffffffffffffffd 0"}, // KEYCTL_GET_KEYRING_ID(session): not in the profile
		{"personality-query", "personality 0xffffffff"},
		{"personality-read-implies-exec", "personality 0x400000"},
		{"clone3", "clone3 0 0"},                           // errnoRet ENOSYS without CAP_SYS_ADMIN
		{"socket-alg", "socket 38 5 0"},                    // AF_ALG: not an allowed domain
		{"socket-unix", "socket 1 1 0"},                    // AF_UNIX
		{"socket-inet", "socket 2 2 0"},                    // AF_INET
		{"open_tree_attr", "open_tree_attr -1 str: 0 0 0"}, // 467: newer than the profile's syscalls
	}
	script := "ls / >/dev/null && cat /etc/passwd >/dev/null && ps >/dev/null && echo busybox-ok; grep '^Seccomp:' /proc/self/status"
	for _, c := range calls {
		script += "; echo " + c.name + "=$(probe syscall " + c.call + ")"
	}
	results := func(out string) map[string]string {
		res := map[string]string{}
		for _, l := range lines(out) {
			if k, v, ok := strings.Cut(l, "="); ok {
				res[k] = v
			}
		}
		return res
	}
	control := results(runOK(t, withArgs("/bin/sh", "-c", script)))
	profile := dockerDefaultProfile(t)

	t.Run("default", func(t *testing.T) {
		out := runOK(t, withArgs("/bin/sh", "-c", script), withSeccompProfile(profile))
		if !strings.Contains(out, "busybox-ok") || !strings.Contains(out, "Seccomp:\t2") {
			t.Errorf("busybox commands failed or no filter under the docker profile:\n%s", out)
		}
		got := results(out)
		t.Logf("without seccomp: %v", control)
		t.Logf("docker profile:  %v", got)
		want := map[string]string{
			"keyctl": "EPERM", "personality-query": "ok", "personality-read-implies-exec": "EPERM",
			"clone3": "ENOSYS", "socket-alg": "EPERM", "socket-unix": "ok", "socket-inet": "ok",
			"open_tree_attr": "ENOSYS",
		}
		for name, w := range want {
			if got[name] != w {
				t.Errorf("%s: got %q under the docker profile, want %q (without seccomp: %q)", name, got[name], w, control[name])
			}
		}
		// The same calls without seccomp, to show the profile made the
		// difference.
		for _, name := range []string{"keyctl", "personality-read-implies-exec", "socket-unix", "socket-inet"} {
			if control[name] != "ok" {
				t.Errorf("%s fails without seccomp too (%q): the check proves nothing", name, control[name])
			}
		}
		for _, name := range []string{"clone3", "open_tree_attr", "socket-alg"} {
			if control[name] == want[name] {
				t.Logf("%s gives %q without seccomp too (old kernel?)", name, control[name])
			}
		}
	})
	t.Run("defaultErrnoRet", func(t *testing.T) {
		p := *profile
		p.DefaultErrnoRet = errnoPtr(uint(unix.EACCES))
		got := results(runOK(t, withArgs("/bin/sh", "-c", script), withSeccompProfile(&p)))
		if got["keyctl"] != "EACCES" || got["socket-alg"] != "EACCES" || got["clone3"] != "ENOSYS" {
			t.Errorf("with defaultErrnoRet EACCES: keyctl %q, socket-alg %q, clone3 %q; want EACCES, EACCES, ENOSYS (its own errnoRet)",
				got["keyctl"], got["socket-alg"], got["clone3"])
		}
	})
}

// agentMessage is what the seccomp agent received.
type agentMessage struct {
	State  specs.ContainerProcessState
	Raw    string
	NumFds int
	FdLink string
	Err    error
}

// seccompAgent listens on path (AF_UNIX stream), takes one message with the
// container process state and the notify fd, and answers every
// notification with respond until the test ends.
type seccompAgent struct {
	mu      sync.Mutex
	msg     *agentMessage
	got     chan struct{}
	stop    chan struct{}
	done    chan struct{}
	names   []string
	respond func(id uint64) libseccomp.ScmpNotifResp
}

func startSeccompAgent(t *testing.T, path string, respond func(id uint64) libseccomp.ScmpNotifResp) *seccompAgent {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	a := &seccompAgent{got: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{}), respond: respond}
	t.Cleanup(func() {
		close(a.stop)
		l.Close()
		<-a.done
	})
	go a.serve(l)
	return a
}

func (a *seccompAgent) serve(l *net.UnixListener) {
	defer close(a.done)
	msg := &agentMessage{}
	fd := -1
	defer func() {
		if fd >= 0 {
			unix.Close(fd)
		}
	}()
	func() {
		defer close(a.got)
		a.msg = msg
		l.SetDeadline(time.Now().Add(defaultTimeout))
		conn, err := l.AcceptUnix()
		if err != nil {
			msg.Err = err
			return
		}
		defer conn.Close()
		buf := make([]byte, 1<<16)
		oob := make([]byte, unix.CmsgSpace(4*8))
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			msg.Err = err
			return
		}
		msg.Raw = string(buf[:n])
		if err := json.Unmarshal(buf[:n], &msg.State); err != nil {
			msg.Err = fmt.Errorf("message is not a ContainerProcessState: %w", err)
		}
		cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			msg.Err = errors.Join(msg.Err, err)
			return
		}
		for i := range cmsgs {
			fds, err := unix.ParseUnixRights(&cmsgs[i])
			if err != nil {
				continue
			}
			msg.NumFds += len(fds)
			for _, f := range fds {
				if fd < 0 {
					fd = f
				} else {
					unix.Close(f)
				}
			}
		}
		if fd >= 0 {
			msg.FdLink, _ = os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		}
	}()
	if fd < 0 {
		return
	}
	for {
		select {
		case <-a.stop:
			return
		default:
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, 100)
		if err == unix.EINTR || n == 0 {
			continue
		}
		if err != nil || pfd[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 && pfd[0].Revents&unix.POLLIN == 0 {
			return
		}
		req, err := libseccomp.NotifReceive(libseccomp.ScmpFd(fd))
		if err != nil {
			continue
		}
		name, _ := req.Data.Syscall.GetName()
		a.mu.Lock()
		a.names = append(a.names, name)
		a.mu.Unlock()
		resp := a.respond(req.ID)
		_ = libseccomp.NotifRespond(libseccomp.ScmpFd(fd), &resp)
	}
}

// message waits for the agent's message.
func (a *seccompAgent) message(t *testing.T) *agentMessage {
	t.Helper()
	select {
	case <-a.got:
	case <-time.After(defaultTimeout):
		t.Fatal("the seccomp agent got no connection")
	}
	return a.msg
}

func (a *seccompAgent) notified() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.names...)
}

// TestSeccompNotifyAgent checks SCMP_ACT_NOTIFY: the runtime connects to
// listenerPath and sends one message, the runtime-spec
// ContainerProcessState (fds ["seccompFd"], pid, metadata, state) with the
// notify fd in SCM_RIGHTS; the agent's answers (fake success, EPERM) are
// what mkdir returns in the container.
func TestSeccompNotifyAgent(t *testing.T) {
	cases := []struct {
		name  string
		resp  func(id uint64) libseccomp.ScmpNotifResp
		wants []string
	}{
		{"fake-success", func(id uint64) libseccomp.ScmpNotifResp {
			return libseccomp.ScmpNotifResp{ID: id, Val: 0, Error: 0, Flags: 0}
		}, []string{"rc=0", "absent"}},
		{"eperm", func(id uint64) libseccomp.ScmpNotifResp {
			// libseccomp-golang negates Error for the kernel.
			return libseccomp.ScmpNotifResp{ID: id, Error: int32(unix.EPERM)}
		}, []string{"Operation not permitted", "rc=1", "absent"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sock := filepath.Join(hostDir(t, nil), "agent.sock")
			agent := startSeccompAgent(t, sock, c.resp)
			sc := allowAllExcept(specs.LinuxSyscall{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActNotify})
			sc.ListenerPath, sc.ListenerMetadata = sock, "hello"
			bundle := newBundle(t, withSeccompProfile(sc), withArgs("/bin/sh", "-c",
				"mkdir /tmp/agentdir 2>&1; echo rc=$?; if [ -d /tmp/agentdir ]; then echo exists; else echo absent; fi"))
			id := newID(t)
			r := rtWith(t, rtOpts{Timeout: 20 * time.Second}, "run", "--bundle", bundle, id).ok(t)
			for _, w := range c.wants {
				if !strings.Contains(r.Output(), w) {
					t.Errorf("output lacks %q: %s", w, r)
				}
			}
			m := agent.message(t)
			if m.Err != nil {
				t.Fatalf("agent: %v (message %q)", m.Err, m.Raw)
			}
			st := m.State
			if st.Version == "" || !reflect.DeepEqual(st.Fds, []string{"seccompFd"}) || st.Pid <= 0 || st.Metadata != "hello" {
				t.Errorf("message: ociVersion %q, fds %q, pid %d, metadata %q; want a version, [seccompFd], a pid, hello: %s",
					st.Version, st.Fds, st.Pid, st.Metadata, m.Raw)
			}
			if st.State.ID != id || st.State.Bundle != bundle || st.State.Pid <= 0 || st.State.Status != specs.StateCreating {
				t.Errorf("message state: id %q bundle %q pid %d status %q, want %q %q >0 creating: %s",
					st.State.ID, st.State.Bundle, st.State.Pid, st.State.Status, id, bundle, m.Raw)
			}
			if m.NumFds != 1 || !strings.Contains(m.FdLink, "seccomp") {
				t.Errorf("message carried %d fds (first: %q), want one seccomp notify fd", m.NumFds, m.FdLink)
			}
			names := agent.notified()
			if !contains(names, "mkdir") && !contains(names, "mkdirat") {
				t.Errorf("the agent was notified of %q, want mkdir or mkdirat", names)
			}
		})
	}
}
