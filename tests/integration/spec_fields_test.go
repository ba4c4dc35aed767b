package integration

// runtime-spec fields Berth does not apply yet must be an error naming
// the field, never silently ignored (issue 14 builds them); the recursive
// mount attributes and nosymfollow are applied.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestUnappliedFieldsAreRefused: each field Berth does not apply yet (or a
// bad value of one it applies) fails create with one line naming it and
// leaves nothing behind; the process fields fail exec -p the same way.
func TestUnappliedFieldsAreRefused(t *testing.T) {
	for _, c := range []struct {
		field string
		mod   func(*specs.Spec)
	}{
		{"process.scheduler", func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: "SCHED_BOGUS"} }},
		{"process.ioPriority", func(s *specs.Spec) {
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 9}
		}},
		{"process.execCPUAffinity", func(s *specs.Spec) { s.Process.ExecCPUAffinity = &specs.CPUAffinity{Final: "3-1"} }},
		{"linux.personality", func(s *specs.Spec) { s.Linux.Personality = &specs.LinuxPersonality{Domain: "LINUX64"} }},
		{"linux.memoryPolicy", func(s *specs.Spec) { s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: "MPOL_BOGUS", Nodes: "0"} }},
		{"linux.intelRdt", func(s *specs.Spec) { s.Linux.IntelRdt = &specs.LinuxIntelRdt{ClosID: "x"} }}, // names resctrl where it is missing
	} {
		t.Run(strings.ReplaceAll(c.field, " ", "-"), func(t *testing.T) {
			id := newID(t)
			r := rt(t, "create", "--bundle", newBundle(t, withArgs("/bin/true"), c.mod), id)
			r.failed(t, c.field)
			if n := len(lines(r.Stderr)); n != 1 {
				t.Errorf("%d error lines, want one: %s", n, r)
			}
			assertCreateLeftNothing(t, id)
		})
	}
	t.Run("exec-p", func(t *testing.T) {
		id, _ := createStarted(t, newBundle(t, withArgs("/bin/probe", "sleep")))
		defer rt(t, "delete", "-f", id)
		for field, json := range map[string]string{
			"process.scheduler":    `"scheduler":{"policy":"SCHED_BOGUS"}`,
			"selinux":              `"selinuxLabel":"system_u:system_r:container_t:s0"`,
			"apparmor":             `"apparmorProfile":"berth-test"`,
			"RLIMIT_BOGUS":         `"rlimits":[{"type":"RLIMIT_BOGUS","hard":1,"soft":1}]`,
			"malformed capability": `"capabilities":{"bounding":["NOT A CAP"]}`,
			"ioPriority":           `"ioPriority":{"class":"IOPRIO_CLASS_BOGUS","priority":1}`,
			"execCPUAffinity":      `"execCPUAffinity":{"final":"3-1"}`,
		} {
			p := filepath.Join(newDir(t, "pj"), "process.json")
			if err := os.WriteFile(p, []byte(`{"args":["/bin/true"],"cwd":"/",`+json+`}`), 0o644); err != nil {
				t.Fatal(err)
			}
			rt(t, "exec", "-p", p, id).failed(t, field)
		}
	})
}

// TestRecursiveMountAttributes: rnosuid, rnodev, rnoexec and rro reach
// the submounts of an rbind (mount_setattr AT_RECURSIVE), and
// nosymfollow is a flag of the mount, not file system data.
func TestRecursiveMountAttributes(t *testing.T) {
	if !runtimeHasKernelFeature(t, "mount-setattr") {
		t.Skip("the kernel has no mount_setattr")
	}
	src := hostDir(t, nil)
	sub := filepath.Join(src, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(sub, unix.MNT_DETACH) })
	out := runOK(t, withProbe("mounts"), withMount(
		specs.Mount{Destination: "/vol", Type: "bind", Source: src, Options: []string{"rbind", "rnosuid", "rnodev", "rnoexec", "rro"}},
		specs.Mount{Destination: "/nsf", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosymfollow", "size=1m"}},
	))
	ms := parseMountinfo(out)
	for _, mp := range []string{"/vol", "/vol/sub"} {
		m, ok := findMount(ms, mp)
		if !ok {
			t.Errorf("%s is not mounted", mp)
			continue
		}
		for _, o := range []string{"ro", "nosuid", "nodev", "noexec"} {
			if !hasOption(m.Options, o) {
				t.Errorf("%s lacks %s: %s", mp, o, m.Options)
			}
		}
	}
	if m, ok := findMount(ms, "/nsf"); !ok || !hasOption(m.Options, "nosymfollow") {
		t.Errorf("/nsf is not nosymfollow: %+v", m)
	}
}

// TestPersonalityLinux32: linux.personality LINUX32 makes the program see
// a 32-bit machine (uname -m), as setarch linux32 would.
func TestPersonalityLinux32(t *testing.T) {
	out := runOK(t, withArgs("/bin/sh", "-c", "uname -m"), func(s *specs.Spec) {
		s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32}
	})
	if got := strings.TrimSpace(out); got != "i686" && got != "i386" && got != "armv8l" && got != "armv7l" {
		t.Errorf("uname -m with LINUX32 is %q, want a 32-bit machine", got)
	}
	if out := runOK(t, withArgs("/bin/sh", "-c", "uname -m"), func(s *specs.Spec) {
		s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux}
	}); strings.TrimSpace(out) != strings.TrimSpace(hostUname(t)) {
		t.Errorf("uname -m with LINUX is %q, want the host's", out)
	}
}

func hostUname(t *testing.T) string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	return unix.ByteSliceToString(u.Machine[:])
}

// TestProcessSchedulerIOPriorityAffinity: process.scheduler (policy and
// nice), process.ioPriority and process.execCPUAffinity as the program
// sees them (/proc/self/stat, ionice, taskset), for run and for exec -p.
func TestProcessSchedulerIOPriorityAffinity(t *testing.T) {
	const script = `awk '{print "sched", $41, $19}' /proc/self/stat; ionice -p $$; taskset -p $$`
	check := func(t *testing.T, what, out string) {
		t.Helper()
		for _, want := range []string{"sched 3 5", "prio 6", "affinity mask: 1"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", what, want, out)
			}
		}
	}
	attrs := func(p *specs.Process) {
		p.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch, Nice: 5}
		p.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 6}
		p.ExecCPUAffinity = &specs.CPUAffinity{Initial: "0", Final: "0"}
	}
	out := runOK(t, withArgs("/bin/sh", "-c", script), func(s *specs.Spec) { attrs(s.Process) })
	check(t, "run", out)

	id, _ := createStarted(t, newBundle(t, withArgs("/bin/probe", "sleep")))
	defer rt(t, "delete", "-f", id)
	p := &specs.Process{Args: []string{"/bin/sh", "-c", script}, Cwd: "/", Env: []string{"PATH=/bin:/usr/bin"}}
	attrs(p)
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	pj := filepath.Join(newDir(t, "pj"), "process.json")
	if err := os.WriteFile(pj, b, 0o644); err != nil {
		t.Fatal(err)
	}
	check(t, "exec -p", rt(t, "exec", "-p", pj, id).ok(t).Stdout)
}

// TestMemoryPolicy: linux.memoryPolicy MPOL_BIND on node 0 (this host's
// only node) is the program's policy (get_mempolicy: mode 2, mask 0x1);
// MPOL_INTERLEAVE is mode 3.
func TestMemoryPolicy(t *testing.T) {
	for mode, want := range map[specs.MemoryPolicyModeType]string{specs.MpolBind: "mode 2 nodes 0x1", specs.MpolInterleave: "mode 3 nodes 0x1"} {
		out := runOK(t, withProbe("mempolicy"), func(s *specs.Spec) {
			s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: mode, Nodes: "0"}
		})
		if strings.TrimSpace(out) != want {
			t.Errorf("%s: the program's policy is %q, want %q", mode, out, want)
		}
	}
}

// TestBindMountDataOptionsWarned: options a bind mount cannot take (file
// system data such as "mode=755") are not applied; runc 1.1, crun and the
// OCI validation suite expect the container to run, so Berth runs it and
// says, in a warning naming them, that they were ignored.
func TestBindMountDataOptionsWarned(t *testing.T) {
	bundle := newBundle(t, withArgs("/bin/true"), withMount(specs.Mount{
		Destination: "/mnt", Type: "bind", Source: hostDir(t, nil), Options: []string{"bind", "mode=755", "size=1k"}}))
	r := rt(t, "run", "--bundle", bundle, newID(t)).ok(t)
	if !strings.Contains(r.Stderr, "mode=755,size=1k") || !strings.Contains(r.Stderr, "level=warning") {
		t.Errorf("no warning naming the ignored options: %s", r)
	}
}
