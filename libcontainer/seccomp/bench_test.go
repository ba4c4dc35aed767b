package seccomp

import (
	"testing"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-runtime/berth/libcontainer/caps"
)

// dockerProfile is docker's default profile as a container with every
// capability would get it (the largest variant).
func dockerProfile(b *testing.B) *specs.LinuxSeccomp {
	all := caps.Names()
	s := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: all}}}
	p, err := mobyseccomp.GetDefaultProfile(s)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkCompileDockerProfile measures what every container with
// docker's profile pays in its init: libseccomp compiling the filter.
func BenchmarkCompileDockerProfile(b *testing.B) {
	p := dockerProfile(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		prog, err := Compile(p)
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			b.ReportMetric(float64(prog.Len()), "insns")
		}
	}
}

// BenchmarkCompileDockerProfileCached is the same with the cache warm.
func BenchmarkCompileDockerProfileCached(b *testing.B) {
	p := dockerProfile(b)
	dir := b.TempDir()
	if _, err := CompileCached(p, dir); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := CompileCached(p, dir); err != nil {
			b.Fatal(err)
		}
	}
}
