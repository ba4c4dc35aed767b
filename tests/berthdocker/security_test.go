package dockertest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	capChown    = 0
	capNetAdmin = 12
	capSysAdmin = 21
)

func capEff(t *testing.T, e *env, args ...string) uint64 {
	t.Helper()
	out, _, code := e.runWait(append(args, "busybox", "grep", "CapEff", "/proc/self/status")...)
	if code != 0 {
		t.Fatalf("grep CapEff: exit %d", code)
	}
	return capSet(strings.TrimPrefix(strings.TrimSpace(out), "CapEff:"))
}

// TestDefaultCaps: docker's default set: CHOWN yes, NET_ADMIN and
// SYS_ADMIN no.
func TestDefaultCaps(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		c := capEff(t, e)
		if c != 0xa80425fb {
			t.Errorf("default CapEff %#x, want docker's 0xa80425fb", c)
		}
	})
}

func TestCapDrop(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		out, _, code := e.runWait("busybox", "sh", "-c", "touch /x && chown 1:1 /x && echo chowned")
		if out != "chowned\n" || code != 0 {
			t.Errorf("chown with the default caps: %q exit %d", out, code)
		}
		_, errOut, code := e.runWait("--cap-drop", "CHOWN", "busybox", "sh", "-c", "touch /x && chown 1:1 /x")
		if code == 0 || !strings.Contains(errOut, "Operation not permitted") {
			t.Errorf("--cap-drop CHOWN: chown should fail: err %q exit %d", errOut, code)
		}
		if c := capEff(t, e, "--cap-drop", "chown"); c&(1<<capChown) != 0 {
			t.Errorf("--cap-drop chown: CapEff %#x still has CAP_CHOWN", c)
		}
		if c := capEff(t, e, "--cap-drop", "ALL"); c != 0 {
			t.Errorf("--cap-drop ALL: CapEff %#x", c)
		}
		e.failBD("", "run", "--cap-drop", "NOSUCH", "busybox", "true")
	})
}

func TestCapAdd(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		_, errOut, code := e.runWait("busybox", "ip", "link", "set", "lo", "down")
		if code == 0 || !strings.Contains(errOut, "not permitted") {
			t.Errorf("ip link set lo down without NET_ADMIN: err %q exit %d", errOut, code)
		}
		out, _, code := e.runWait("--cap-add", "NET_ADMIN", "busybox", "sh", "-c", "ip link set lo down && echo down")
		if out != "down\n" || code != 0 {
			t.Errorf("--cap-add NET_ADMIN: ip link set lo down: %q exit %d", out, code)
		}
		if c := capEff(t, e, "--cap-add", "CAP_NET_ADMIN"); c != 0xa80425fb|1<<capNetAdmin {
			t.Errorf("--cap-add CAP_NET_ADMIN: CapEff %#x", c)
		}
	})
}

// TestPrivileged: --privileged gets every capability the caller has (as
// docker/containerd do), no seccomp, and a writable /sys.
func TestPrivileged(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		hostCaps := capSet(statusField(os.Getpid(), "CapEff"))
		r := e.bd("run", "-d", "--privileged", "busybox", "sh", "-c",
			"grep -E 'CapEff|Seccomp:' /proc/self/status; mount -t tmpfs t /mnt && echo mounted")
		if r.Code != 0 {
			t.Fatalf("run --privileged (this host's own CapEff is %#x): %s", hostCaps, r)
		}
		id := strings.TrimSpace(r.Out)
		code := e.mustBD("wait", id)
		out := e.mustBD("logs", id)
		if code != "0" || !strings.Contains(out, "mounted") {
			t.Errorf("--privileged: mount should work: exit %s, %q", code, out)
		}
		if c := capSet(strings.TrimPrefix(grepLine(out, "CapEff:"), "CapEff:")); c != hostCaps {
			t.Errorf("--privileged: CapEff %#x, want the caller's %#x", c, hostCaps)
		}
		if l := grepLine(out, "Seccomp:"); !strings.HasSuffix(l, "0") {
			t.Errorf("--privileged: %q, want no seccomp", l)
		}
	})
}

func TestNoNewPrivileges(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		out, _, _ := e.runWait("busybox", "grep", "NoNewPrivs", "/proc/self/status")
		if !strings.HasSuffix(strings.TrimSpace(out), "0") {
			t.Errorf("default: %q, want NoNewPrivs 0", out)
		}
		for _, opt := range []string{"no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"} {
			out, _, _ := e.runWait("--security-opt", opt, "busybox", "grep", "NoNewPrivs", "/proc/self/status")
			if !strings.HasSuffix(strings.TrimSpace(out), "1") {
				t.Errorf("--security-opt %s: %q, want NoNewPrivs 1", opt, out)
			}
		}
		e.failBD("invalid --security-opt", "run", "--security-opt", "bogus", "busybox", "true")
		e.requireNoContainers()
	})
}

// TestSeccomp: the default profile is in force and blocks unshare(2)
// without CAP_SYS_ADMIN (here: a user namespace, which needs no
// capability); seccomp=unconfined lifts it; seccomp=FILE loads a profile.
func TestSeccomp(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		out, _, _ := e.runWait("busybox", "grep", "Seccomp:", "/proc/self/status")
		if !strings.HasSuffix(strings.TrimSpace(out), "2") {
			t.Errorf("default: %q, want Seccomp 2 (filter)", out)
		}
		_, errOut, code := e.runWait("busybox", "unshare", "-U", "true")
		if code == 0 || !strings.Contains(errOut, "not permitted") {
			t.Errorf("default profile: unshare -U should be blocked: err %q exit %d", errOut, code)
		}
		out, errOut, code = e.runWait("--security-opt", "seccomp=unconfined", "busybox", "sh", "-c",
			"grep Seccomp: /proc/self/status; unshare -U true && echo unshared")
		if code != 0 || !strings.Contains(out, "unshared") || !strings.Contains(out, "Seccomp:\t0") {
			t.Errorf("seccomp=unconfined: out %q err %q exit %d", out, errOut, code)
		}
		prof := filepath.Join(e.dir, "deny-mkdir.json")
		os.WriteFile(prof, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}`), 0o644)
		out, errOut, code = e.runWait("--security-opt", "seccomp="+prof, "busybox", "sh", "-c", "touch /f && echo touched; mkdir /d")
		if out != "touched\n" || code == 0 || !strings.Contains(errOut, "not permitted") {
			t.Errorf("seccomp=%s: want touch to work and mkdir to fail: out %q err %q exit %d", prof, out, errOut, code)
		}
		e.failBD("seccomp profile", "run", "--security-opt", "seccomp="+filepath.Join(e.dir, "missing.json"), "busybox", "true")
		e.requireNoContainers()
	})
}

// TestMaskedPaths: docker's masked and read-only /proc paths.
func TestMaskedPaths(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		out, _, _ := e.runWait("busybox", "sh", "-c", "wc -c < /proc/interrupts; echo 1 > /proc/sys/kernel/printk && echo wrote")
		if f := strings.Fields(out); len(f) == 0 || f[0] != "0" || strings.Contains(out, "wrote") {
			t.Errorf("masked /proc/interrupts (want 0 bytes) and read-only /proc/sys (want no write): %q", out)
		}
	})
}
