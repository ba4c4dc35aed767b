package seccomp

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
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

// TestCacheRefusesWhatItDidNotWrite plants and damages cache entries: each
// is removed and the profile compiled again, never loaded.
func TestCacheRefusesWhatItDidNotWrite(t *testing.T) {
	prof := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno}}}
	want, err := Compile(prof)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(prof)
	if err != nil {
		t.Fatal(err)
	}
	key := cacheKey(data)
	bogus := Program{Raw: make([]byte, 8), Flags: 0}
	planted := func(e cacheEntry) []byte { b, _ := e.encode(); return b }
	for name, plant := range map[string]func(dir string){
		"wrong sum": func(dir string) {
			os.WriteFile(filepath.Join(dir, key), planted(cacheEntry{Key: key, Sum: "00", Program: bogus}), 0o600)
		},
		"sum of another program": func(dir string) {
			os.WriteFile(filepath.Join(dir, key), planted(cacheEntry{Key: key, Sum: programSum(want), Program: bogus}), 0o600)
		},
		"other key": func(dir string) {
			os.WriteFile(filepath.Join(dir, key), planted(cacheEntry{Key: "x", Sum: programSum(&bogus), Program: bogus}), 0o600)
		},
		"group writable": func(dir string) {
			os.WriteFile(filepath.Join(dir, key), planted(cacheEntry{Key: key, Sum: programSum(&bogus), Program: bogus}), 0o600)
			os.Chmod(filepath.Join(dir, key), 0o620)
		},
		"symlink": func(dir string) {
			other := filepath.Join(t.TempDir(), "e")
			os.WriteFile(other, planted(cacheEntry{Key: key, Sum: programSum(&bogus), Program: bogus}), 0o600)
			os.Symlink(other, filepath.Join(dir, key))
		},
		"garbage": func(dir string) { os.WriteFile(filepath.Join(dir, key), []byte("\x00\x01 not json"), 0o600) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cache")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			plant(dir)
			if p := Cached(data, dir); p != nil {
				t.Fatalf("the lookup by JSON returned a planted program (%d bytes)", len(p.Raw))
			}
			plant(dir)
			got, err := CompileCached(prof, dir)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Raw, want.Raw) {
				t.Fatalf("loaded a planted program (%d bytes), want the compiled one (%d bytes)", len(got.Raw), len(want.Raw))
			}
			// The entry is now the runtime's own and is used, also when
			// looked up by the profile's JSON (exec).
			if p := loadEntry(filepath.Join(dir, key), key); p == nil || !bytes.Equal(p.Raw, want.Raw) {
				t.Errorf("the cache does not hold the compiled program afterwards")
			}
			if p := Cached(data, dir); p == nil || !bytes.Equal(p.Raw, want.Raw) {
				t.Errorf("the lookup by JSON does not find the compiled program")
			}
		})
	}
}

// TestCacheIsBounded writes more profiles than the cache keeps.
func TestCacheIsBounded(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	for i := 0; i < maxEntries+6; i++ {
		prof := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir"}, Action: specs.ActErrno, ErrnoRet: func(v uint) *uint { return &v }(uint(i + 1))}}}
		if _, err := CompileCached(prof, dir); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != maxEntries {
		t.Errorf("cache holds %d entries, want at most %d", len(entries), maxEntries)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("cache dir mode %v (%v), want 0700", fi.Mode().Perm(), err)
	}
	for _, e := range entries {
		if info, _ := e.Info(); info.Mode().Perm() != 0o600 {
			t.Errorf("entry %s mode %v, want 0600", e.Name(), info.Mode().Perm())
		}
	}
}
