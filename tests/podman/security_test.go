package podmantest

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-runtime/berth/tests/internal/testkit"
)

// statusFields returns the fields of /proc/self/status as the container sees it.
func statusFields(t *testing.T, opts []string, fields ...string) map[string]string {
	t.Helper()
	r, _ := run(t, append([]string{"--rm"}, opts...), "cat", "/proc/self/status")
	if r.Code != 0 {
		t.Fatalf("%s", r)
	}
	got := map[string]string{}
	for _, l := range strings.Split(r.Out, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if ok {
			got[k] = strings.TrimSpace(v)
		}
	}
	for _, f := range fields {
		if _, ok := got[f]; !ok {
			t.Fatalf("/proc/self/status has no %s: %q", f, r.Out)
		}
	}
	return got
}

// capBit reports whether capability bit n is in the hex mask.
func capBit(t *testing.T, mask string, n uint) bool {
	t.Helper()
	v, err := strconv.ParseUint(mask, 16, 64)
	if err != nil {
		t.Fatalf("capability mask %q: %v", mask, err)
	}
	return v&(1<<n) != 0
}

const (
	capChown    = 0
	capNetAdmin = 12
)

// TestCapDropAndAdd: --cap-drop CHOWN removes CAP_CHOWN (chown fails),
// --cap-add NET_ADMIN adds CAP_NET_ADMIN; the default set has CAP_CHOWN and
// lacks CAP_NET_ADMIN.
func TestCapDropAndAdd(t *testing.T) {
	t.Parallel()
	def := statusFields(t, nil, "CapEff", "CapBnd")
	if !capBit(t, def["CapEff"], capChown) || capBit(t, def["CapEff"], capNetAdmin) {
		t.Errorf("default CapEff %s: want CHOWN and not NET_ADMIN", def["CapEff"])
	}
	got := statusFields(t, []string{"--cap-drop", "CHOWN", "--cap-add", "NET_ADMIN"}, "CapEff", "CapBnd")
	for _, f := range []string{"CapEff", "CapBnd"} {
		if capBit(t, got[f], capChown) || !capBit(t, got[f], capNetAdmin) {
			t.Errorf("%s %s: want NET_ADMIN and not CHOWN", f, got[f])
		}
	}
	r, _ := run(t, []string{"--rm", "--cap-drop", "CHOWN"}, "sh", "-c", "touch /f; chown 1000 /f 2>&1; echo rc=$?")
	if !strings.Contains(r.Out, "Operation not permitted") || !strings.HasSuffix(r.Out, "rc=1\n") {
		t.Errorf("chown without CAP_CHOWN: %s", r)
	}
}

// TestSeccomp: podman's default profile is a filter (Seccomp: 2),
// seccomp=unconfined has none, and no-new-privileges sets NoNewPrivs.
func TestSeccomp(t *testing.T) {
	t.Parallel()
	t.Run("Default", func(t *testing.T) {
		got := statusFields(t, nil, "Seccomp", "NoNewPrivs")
		if got["Seccomp"] != "2" || got["NoNewPrivs"] != "0" {
			t.Errorf("Seccomp %s NoNewPrivs %s, want 2 0", got["Seccomp"], got["NoNewPrivs"])
		}
	})
	t.Run("Unconfined", func(t *testing.T) {
		got := statusFields(t, []string{"--security-opt", "seccomp=unconfined"}, "Seccomp")
		if got["Seccomp"] != "0" {
			t.Errorf("Seccomp %s, want 0", got["Seccomp"])
		}
	})
	t.Run("NoNewPrivileges", func(t *testing.T) {
		got := statusFields(t, []string{"--security-opt", "no-new-privileges"}, "NoNewPrivs", "Seccomp")
		if got["NoNewPrivs"] != "1" || got["Seccomp"] != "2" {
			t.Errorf("NoNewPrivs %s Seccomp %s, want 1 2", got["NoNewPrivs"], got["Seccomp"])
		}
	})
}

// TestUserNamespaceUidmap: --uidmap/--gidmap run the container in a user
// namespace: root inside is uid 100000 on the host. Rootless, the map is
// of podman's own user namespace, whose ids 1-65536 are the user's
// subordinate ids (100000-165535 in the guest).
func TestUserNamespaceUidmap(t *testing.T) {
	t.Parallel()
	m := "0 100000 65536"
	if rootless {
		m = "0 1 65536"
	}
	spec := strings.ReplaceAll(m, " ", ":")
	opts := []string{"--uidmap", spec, "--gidmap", spec}
	id := runDetached(t, opts, "sleep", "1000")
	r := podman(t, "exec", id, "sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u")
	fields := strings.Fields(r.Out)
	if r.Code != 0 || strings.Join(fields, " ") != m+" "+m+" 0" {
		t.Errorf("inside: %s; want maps %s and uid 0", r, m)
	}
	status, err := os.ReadFile("/proc/" + containerPid(t, id) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(status), "\nUid:\t100000\t100000\t100000\t100000\n") {
		t.Errorf("the container's init on the host is not uid 100000:\n%s", status)
	}
	selfNS, _ := os.Readlink("/proc/self/ns/user")
	ctrNS, _ := os.Readlink("/proc/" + containerPid(t, id) + "/ns/user")
	if selfNS == ctrNS {
		t.Errorf("the container shares the host's user namespace %s", selfNS)
	}
}

// TestDefaultAppArmorProfile: on an AppArmor host podman gives every
// container its containers-default profile (apparmorProfile in the config)
// and the runtime must apply it; an explicit unconfined leaves it out. A
// runtime that ignores the field runs the container unconfined. Where
// AppArmor is off podman sets no profile, and the test says so.
func TestDefaultAppArmorProfile(t *testing.T) {
	t.Parallel()
	if !testkit.AppArmorEnabled() {
		t.Skip("AppArmor is not enabled on this host: podman sets no profile")
	}
	// podman 4.3 puts no profile in a rootless container's config (an
	// unprivileged user cannot load one); the container runs unconfined,
	// with runc as with Berth.
	skipRootless(t, "podman sets no AppArmor profile for a rootless container")
	r, _ := run(t, []string{"--rm"}, "cat", "/proc/self/attr/current")
	if got := strings.TrimSpace(r.Out); r.Code != 0 || !strings.HasPrefix(got, "containers-default-") || !strings.HasSuffix(got, "(enforce)") {
		t.Errorf("the container's AppArmor label: %s; want containers-default-* (enforce)", r)
	}
	r, _ = run(t, []string{"--rm", "--security-opt", "apparmor=unconfined"}, "cat", "/proc/self/attr/current")
	if got := strings.TrimSpace(r.Out); r.Code != 0 || got != "unconfined" {
		t.Errorf("with apparmor=unconfined: %s; want unconfined", r)
	}
}
