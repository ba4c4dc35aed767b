package seccomp

import (
	"encoding/json"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// FuzzCompile feeds linux.seccomp profiles (JSON) to the compiler: it may
// refuse them, never panic, and what it accepts is a whole number of BPF
// instructions.
func FuzzCompile(f *testing.F) {
	for _, seed := range []string{
		`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"}]}`,
		`{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],"syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":1,"args":[{"index":1,"value":448,"op":"SCMP_CMP_MASKED_EQ","valueTwo":448}]}]}`,
		`{"defaultAction":"SCMP_ACT_KILL_PROCESS","flags":["SECCOMP_FILTER_FLAG_LOG"],"syscalls":[{"names":["nosuchsyscall"],"action":"SCMP_ACT_ALLOW"}]}`,
		`{"defaultAction":"SCMP_ACT_NOTIFY","listenerPath":"/x","syscalls":[]}`,
		`{"defaultAction":"SCMP_ACT_TRACE","syscalls":[{"names":["open"],"action":"SCMP_ACT_LOG","args":[{"index":9,"value":1,"op":"SCMP_CMP_EQ"}]}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s specs.LinuxSeccomp
		if json.Unmarshal(data, &s) != nil {
			return
		}
		p, err := Compile(&s)
		if err == nil && len(p.Raw)%8 != 0 {
			t.Fatalf("program of %d bytes is not whole instructions", len(p.Raw))
		}
	})
}
