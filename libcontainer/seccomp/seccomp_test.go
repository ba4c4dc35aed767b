package seccomp

import (
	"os"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestValidate(t *testing.T) {
	errno := uint(1)
	tests := []struct {
		name string
		prof specs.LinuxSeccomp
		want string
	}{
		{"allow list", specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: &errno,
			Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86},
			Syscalls: []specs.LinuxSyscall{{Names: []string{"read", "no_such_syscall"}, Action: specs.ActAllow},
				{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
					{Index: 0, Value: 0, Op: specs.OpEqualTo}, {Index: 0, Value: 8, Op: specs.OpEqualTo}}},
				{Names: []string{"clone"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
					{Index: 0, Value: 0x7E020000, Op: specs.OpMaskedEqual}}}}}, ""},
		{"unknown action", specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_BOGUS"}, "unknown seccomp action"},
		{"unknown rule action", specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: "NOPE"}}}, "unknown seccomp action"},
		{"unknown arch", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"SCMP_ARCH_Z80"}}, "architecture"},
		{"unknown operator", specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Op: "SCMP_CMP_WHAT"}}}}}, "operator"},
		{"unknown flag", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_NOPE"}}, "flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(&tt.prof)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestENOSYSForSyscallsNewerThanTheProfile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	// A profile that only knows old syscalls, with an EPERM default: a
	// newer syscall (close_range, 436) must get ENOSYS, a known but
	// unlisted older one (getcwd, 79) EPERM, and a listed one must work.
	prof := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{
		Names: []string{"read", "write", "exit", "exit_group", "futex", "rt_sigreturn", "mmap", "munmap",
			"rt_sigprocmask", "sigaltstack", "nanosleep", "getpid", "gettid", "tgkill", "madvise", "sched_yield",
			"clone", "mprotect", "epoll_pwait", "rt_sigaction"},
		Action: specs.ActAllow,
	}}}
	prog, err := Compile(prof)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan [3]error, 1)
	go func() {
		runtime.LockOSThread() // the thread dies with the filter
		if _, err := prog.Load(); err != nil {
			errs <- [3]error{err}
			return
		}
		_, _, e1 := unix.RawSyscall(unix.SYS_CLOSE_RANGE, 1000, 1000, 0)
		_, _, e2 := unix.RawSyscall(unix.SYS_GETCWD, 0, 0, 0)
		_, _, e3 := unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0)
		errs <- [3]error{errOrNil(e1), errOrNil(e2), errOrNil(e3)}
	}()
	got := <-errs
	if got[0] != unix.ENOSYS || got[1] != unix.EPERM || got[2] != nil {
		t.Fatalf("close_range: %v (want ENOSYS), getcwd: %v (want EPERM), getpid: %v (want success)", got[0], got[1], got[2])
	}
}

func errOrNil(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}
