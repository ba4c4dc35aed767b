// Package seccomp compiles a runtime-spec seccomp profile with libseccomp
// and loads it into the calling thread, the one that will execve the
// container's process.
package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// archs maps OCI architecture names to libseccomp's.
var archs = map[specs.Arch]string{
	specs.ArchX86: "x86", specs.ArchX86_64: "amd64", specs.ArchX32: "x32", specs.ArchARM: "arm",
	specs.ArchAARCH64: "arm64", specs.ArchMIPS: "mips", specs.ArchMIPS64: "mips64",
	specs.ArchMIPS64N32: "mips64n32", specs.ArchMIPSEL: "mipsel", specs.ArchMIPSEL64: "mipsel64",
	specs.ArchMIPSEL64N32: "mipsel64n32", specs.ArchPPC: "ppc", specs.ArchPPC64: "ppc64",
	specs.ArchPPC64LE: "ppc64le", specs.ArchS390: "s390", specs.ArchS390X: "s390x",
	specs.ArchRISCV64: "riscv64",
}

var operators = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpNotEqual: libseccomp.CompareNotEqual, specs.OpLessThan: libseccomp.CompareLess,
	specs.OpLessEqual: libseccomp.CompareLessOrEqual, specs.OpEqualTo: libseccomp.CompareEqual,
	specs.OpGreaterEqual: libseccomp.CompareGreaterEqual, specs.OpGreaterThan: libseccomp.CompareGreater,
	specs.OpMaskedEqual: libseccomp.CompareMaskedEqual,
}

// Actions, Operators and Archs list what is supported (for features).
func Actions() []string {
	return []string{"SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
		"SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY"}
}

// Operators lists the supported argument comparisons.
func Operators() []string {
	res := make([]string, 0, len(operators))
	for op := range operators {
		res = append(res, string(op))
	}
	return res
}

// Archs lists the supported architectures.
func Archs() []string {
	res := make([]string, 0, len(archs))
	for a := range archs {
		res = append(res, string(a))
	}
	return res
}

// Flags lists the supported filter flags.
func Flags() []string {
	return []string{"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"}
}

func action(a specs.LinuxSeccompAction, errnoRet *uint) (libseccomp.ScmpAction, error) {
	errno := uint(unix.EPERM)
	if errnoRet != nil {
		errno = *errnoRet
	}
	switch a {
	case specs.ActKill, specs.ActKillThread:
		return libseccomp.ActKillThread, nil
	case specs.ActKillProcess:
		return libseccomp.ActKillProcess, nil
	case specs.ActTrap:
		return libseccomp.ActTrap, nil
	case specs.ActErrno:
		return libseccomp.ActErrno.SetReturnCode(int16(errno)), nil
	case specs.ActTrace:
		return libseccomp.ActTrace.SetReturnCode(int16(errno)), nil
	case specs.ActAllow:
		return libseccomp.ActAllow, nil
	case specs.ActLog:
		return libseccomp.ActLog, nil
	case specs.ActNotify:
		return libseccomp.ActNotify, nil
	}
	return 0, fmt.Errorf("unknown seccomp action %q", a)
}

// Validate checks a profile without loading it, so a bad one fails create
// before anything exists.
func Validate(s *specs.LinuxSeccomp) error {
	f, err := build(s)
	if f != nil {
		f.Release()
	}
	return err
}

// Program is a compiled filter, ready to load. It travels from the
// runtime to the init as JSON.
type Program struct {
	// Raw is the BPF, 8 bytes an instruction in the kernel's layout
	// (struct sock_filter); bytes keep the JSON small and fast.
	Raw    []byte  `json:"raw"`
	Flags  uintptr `json:"flags"`
	Notify bool    `json:"notify,omitempty"`
}

// Compile turns the profile into BPF. The runtime does it (through
// CompileCached) before the init exists: libseccomp needs memory the
// container's rlimits may deny, and its compile is the slow part. The load
// happens in the init as late as possible.
func Compile(s *specs.LinuxSeccomp) (*Program, error) {
	f, err := build(s)
	if err != nil {
		return nil, err
	}
	defer f.Release()
	fd, err := unix.MemfdCreate("seccomp", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("compile seccomp filter: %w", err)
	}
	mf := os.NewFile(uintptr(fd), "seccomp")
	defer mf.Close()
	if err := f.ExportBPF(mf); err != nil {
		return nil, fmt.Errorf("compile seccomp filter: %w", err)
	}
	raw, err := io.ReadAll(io.NewSectionReader(mf, 0, 1<<24))
	if err != nil {
		return nil, fmt.Errorf("compile seccomp filter: %w", err)
	}
	if len(raw) == 0 || len(raw)%8 != 0 {
		return nil, fmt.Errorf("compile seccomp filter: bad program size %d", len(raw))
	}
	p := &Program{Raw: raw}
	if stub := enosysStub(s); stub != nil {
		p.Raw = append(encode(stub), raw...)
	}
	if UsesNotify(s) {
		p.Notify = true
		p.Flags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
	}
	for _, flag := range s.Flags {
		switch flag {
		case "SECCOMP_FILTER_FLAG_LOG":
			p.Flags |= unix.SECCOMP_FILTER_FLAG_LOG
		case "SECCOMP_FILTER_FLAG_SPEC_ALLOW":
			p.Flags |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		}
	}
	return p, nil
}

// auditArch is the AUDIT_ARCH value of the native architecture, for the
// ENOSYS stub; 0 where Berth has no stub.
func auditArch() uint32 {
	switch runtime.GOARCH {
	case "amd64":
		return 0xc000003e
	case "arm64":
		return 0xc00000b7
	}
	return 0
}

// enosysStub returns BPF that answers ENOSYS for native syscalls newer than
// every syscall the profile names, instead of the default action: a libc
// that meets ENOSYS falls back to an older call (clone3 → clone), while
// EPERM or a kill breaks it. This is what runc patches into its filters. It
// is prepended to the program: every jump in it is relative and the stub
// falls through into the program unchanged. No stub when the default action
// already allows.
func enosysStub(s *specs.LinuxSeccomp) []unix.SockFilter {
	arch := auditArch()
	if arch == 0 || s.DefaultAction == specs.ActAllow || s.DefaultAction == specs.ActLog {
		return nil
	}
	maxNr := -1
	for _, rule := range s.Syscalls {
		for _, name := range rule.Names {
			if sc, err := libseccomp.GetSyscallFromName(name); err == nil && int(sc) > maxNr {
				maxNr = int(sc)
			}
		}
	}
	if maxNr < 0 {
		return nil
	}
	const (
		ldAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jge   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		jgt   = unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K
		ret   = unix.BPF_RET | unix.BPF_K
		// x32 system calls share x86_64's audit arch with this bit set.
		x32Bit = 0x40000000
	)
	return []unix.SockFilter{
		{Code: ldAbs, K: 4},                                          // 0: seccomp_data.arch
		{Code: jeq, K: arch, Jt: 0, Jf: 4},                           // 1: not native → program
		{Code: ldAbs, K: 0},                                          // 2: seccomp_data.nr
		{Code: jge, K: x32Bit, Jt: 2, Jf: 0},                         // 3: x32 → program
		{Code: jgt, K: uint32(maxNr), Jt: 0, Jf: 1},                  // 4: known → program
		{Code: ret, K: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)}, // 5
	}
}

// encode lays instructions out as the kernel reads them.
func encode(insns []unix.SockFilter) []byte {
	out := make([]byte, 8*len(insns))
	for i, in := range insns {
		b := out[i*8:]
		binary.NativeEndian.PutUint16(b[0:], in.Code)
		b[2], b[3] = in.Jt, in.Jf
		binary.NativeEndian.PutUint32(b[4:], in.K)
	}
	return out
}

// Len is the number of instructions.
func (p *Program) Len() int { return len(p.Raw) / 8 }

// Load installs the program on the calling thread. With SCMP_ACT_NOTIFY
// rules it returns the listener fd for the agent, else -1.
func (p *Program) Load() (int, error) {
	if len(p.Raw) == 0 || len(p.Raw)%8 != 0 || len(p.Raw)/8 > 0xffff {
		return -1, fmt.Errorf("load seccomp filter: bad program size %d", len(p.Raw))
	}
	prog := unix.SockFprog{Len: uint16(len(p.Raw) / 8), Filter: (*unix.SockFilter)(unsafe.Pointer(&p.Raw[0]))}
	r, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, p.Flags, uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(p)
	if e != 0 {
		return -1, fmt.Errorf("load seccomp filter: %w", e)
	}
	if p.Notify {
		return int(r), nil
	}
	return -1, nil
}

// UsesNotify reports whether the profile hands syscalls to an agent.
func UsesNotify(s *specs.LinuxSeccomp) bool {
	if s.DefaultAction == specs.ActNotify {
		return true
	}
	for _, r := range s.Syscalls {
		if r.Action == specs.ActNotify {
			return true
		}
	}
	return false
}

func build(s *specs.LinuxSeccomp) (*libseccomp.ScmpFilter, error) {
	if UsesNotify(s) && s.ListenerPath == "" {
		return nil, errors.New("seccomp: SCMP_ACT_NOTIFY needs listenerPath")
	}
	if s.DefaultAction == specs.ActNotify {
		return nil, errors.New("seccomp: SCMP_ACT_NOTIFY cannot be the default action")
	}
	def, err := action(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("seccomp defaultAction: %w", err)
	}
	f, err := libseccomp.NewFilter(def)
	if err != nil {
		return nil, fmt.Errorf("create seccomp filter: %w", err)
	}
	fail := func(err error) (*libseccomp.ScmpFilter, error) {
		f.Release()
		return nil, err
	}
	// The runtime sets no_new_privs itself, as the process asks.
	if err := f.SetNoNewPrivsBit(false); err != nil {
		return fail(err)
	}
	for _, a := range s.Architectures {
		name, ok := archs[a]
		if !ok {
			return fail(fmt.Errorf("unknown seccomp architecture %q", a))
		}
		arch, err := libseccomp.GetArchFromString(name)
		if err != nil {
			return fail(fmt.Errorf("seccomp architecture %q: %w", a, err))
		}
		if err := f.AddArch(arch); err != nil {
			return fail(fmt.Errorf("add seccomp architecture %q: %w", a, err))
		}
	}
	for _, flag := range s.Flags {
		switch flag {
		case "SECCOMP_FILTER_FLAG_TSYNC":
			// The filter is loaded by the thread that execs the process,
			// which then has no other thread: synchronising threads is
			// what happens anyway.
		case "SECCOMP_FILTER_FLAG_LOG":
			err = f.SetLogBit(true)
		case "SECCOMP_FILTER_FLAG_SPEC_ALLOW":
			err = f.SetSSB(true)
		default:
			err = fmt.Errorf("unknown seccomp flag %q", flag)
		}
		if err != nil {
			return fail(err)
		}
	}
	for _, rule := range s.Syscalls {
		act, err := action(rule.Action, rule.ErrnoRet)
		if err != nil {
			return fail(fmt.Errorf("seccomp rule %s: %w", strings.Join(rule.Names, ","), err))
		}
		if act == def {
			continue
		}
		for _, name := range rule.Names {
			sc, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				// Unknown to this libseccomp or architecture: skipped,
				// as runc does, so one profile fits every kernel.
				continue
			}
			if err := addRule(f, sc, act, rule.Args); err != nil {
				return fail(fmt.Errorf("seccomp rule for %s: %w", name, err))
			}
		}
	}
	return f, nil
}

// addRule adds one syscall's rule. Conditions on distinct arguments are
// ANDed in one rule; several conditions on the same argument become one
// rule each (ORed), as runc does, since libseccomp refuses them together.
func addRule(f *libseccomp.ScmpFilter, sc libseccomp.ScmpSyscall, act libseccomp.ScmpAction, args []specs.LinuxSeccompArg) error {
	if len(args) == 0 {
		return f.AddRule(sc, act)
	}
	var conds []libseccomp.ScmpCondition
	seen := map[uint]bool{}
	repeated := false
	for _, a := range args {
		op, ok := operators[a.Op]
		if !ok {
			return fmt.Errorf("unknown seccomp operator %q", a.Op)
		}
		c, err := libseccomp.MakeCondition(a.Index, op, a.Value, a.ValueTwo)
		if err != nil {
			return err
		}
		repeated = repeated || seen[a.Index]
		seen[a.Index] = true
		conds = append(conds, c)
	}
	if !repeated {
		return f.AddRuleConditional(sc, act, conds)
	}
	for _, c := range conds {
		if err := f.AddRuleConditional(sc, act, []libseccomp.ScmpCondition{c}); err != nil {
			return err
		}
	}
	return nil
}
