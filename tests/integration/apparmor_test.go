package integration

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// AppArmor (process.apparmorProfile, exec --apparmor): where AppArmor is
// enabled (the Debian guest), the init asks for the profile on its
// execve; the process runs confined by it. A profile that is not loaded
// fails create naming it.

// loadTestProfile loads a permissive profile that denies writes to
// /tmp/denied, with a name unique to the test, and unloads it at the end.
func loadTestProfile(t *testing.T) string {
	t.Helper()
	b, _ := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	if !strings.HasPrefix(string(b), "Y") || !fileExists("/sys/kernel/security/apparmor") {
		t.Skip("AppArmor is not enabled on this host (TestCVE_2019_16884NoUnconfinedStart checks the refusal)")
	}
	parser, err := exec.LookPath("apparmor_parser")
	if err != nil {
		t.Skip("no apparmor_parser to load a test profile")
	}
	name := fmt.Sprintf("berth-test-%06d", rand.Intn(1000000))
	profile := "profile " + name + " flags=(attach_disconnected,mediate_deleted) {\n" +
		"  file,\n  capability,\n  network,\n  signal,\n  ptrace,\n  unix,\n  mount,\n  umount,\n  pivot_root,\n" +
		"  deny /tmp/denied w,\n}\n"
	cmd := exec.Command(parser, "-r")
	cmd.Stdin = strings.NewReader(profile)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("apparmor_parser -r: %v: %s", err, out)
	}
	t.Cleanup(func() {
		cmd := exec.Command(parser, "-R")
		cmd.Stdin = strings.NewReader(profile)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("apparmor_parser -R %s: %v: %s", name, err, out)
		}
	})
	return name
}

func TestAppArmorProfileApplied(t *testing.T) {
	name := loadTestProfile(t)
	out := runOK(t, func(s *specs.Spec) { s.Process.ApparmorProfile = name },
		withArgs("/bin/sh", "-c", "cat /proc/self/attr/current; touch /tmp/allowed && echo allowed; touch /tmp/denied || echo denied"))
	if got := lines(out); len(got) != 3 || got[0] != name+" (enforce)" || got[1] != "allowed" || got[2] != "denied" {
		t.Errorf("container under %s: %q, want [%q allowed denied]", name, got, name+" (enforce)")
	}

	t.Run("exec", func(t *testing.T) {
		id, _ := createStarted(t, newBundle(t, withArgs("/bin/probe", "sleep")))
		defer rt(t, "delete", "-f", id)
		if got := strings.TrimSpace(rt(t, "exec", "--apparmor", name, id, "cat", "/proc/self/attr/current").ok(t).Stdout); got != name+" (enforce)" {
			t.Errorf("exec --apparmor %s: attr/current %q", name, got)
		}
		rt(t, "exec", "--apparmor", "berth-not-loaded", id, "true").failed(t, "berth-not-loaded", "not loaded")
	})

	// CVE-2019-16884 with AppArmor on: a tmpfs over /proc/self/attr in the
	// container must not swallow the profile (the init writes through a
	// procfs of its own): the process is confined or does not run.
	t.Run("attr-hidden-by-a-mount", func(t *testing.T) {
		r := runContainer(t, func(s *specs.Spec) { s.Process.ApparmorProfile = name },
			withMount(specs.Mount{Destination: "/proc/self/attr", Type: "tmpfs", Source: "tmpfs"}),
			withArgs("/bin/sh", "-c", "touch /tmp/denied && echo UNCONFINED || echo denied"))
		if strings.Contains(r.Stdout, "UNCONFINED") {
			t.Errorf("with /proc/self/attr covered by a tmpfs the process ran unconfined: %s", r)
		}
	})

	t.Run("not-loaded", func(t *testing.T) {
		id := newID(t)
		rt(t, "create", "--bundle", newBundle(t, func(s *specs.Spec) { s.Process.ApparmorProfile = "berth-not-loaded" }), id).
			failed(t, "berth-not-loaded", "not loaded")
		assertCreateLeftNothing(t, id)
	})
}
