package dockerdtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-runtime/berth/tests/internal/testkit"
)

// Remapped root: host uids/gids [usernsBase, usernsBase+65536) are
// the container's [0, 65536).
const usernsBase = "400000"

// testUserNamespaceRemap runs a second dockerd with --userns-remap (a
// daemon-wide option) for one container. dockerd reads the ranges from
// /etc/subuid and /etc/subgid, so this daemon runs in a mount namespace of
// its own where the suite's files are bind-mounted over them: the host's
// files are not touched, and every mount of that daemon goes away with it.
func testUserNamespaceRemap(t *testing.T, e *env) {
	dir := filepath.Join(e.dir, "userns")
	if err := os.MkdirAll(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	subuid, subgid := filepath.Join(dir, "subuid"), filepath.Join(dir, "subgid")
	for _, f := range []string{subuid, subgid} {
		if err := os.WriteFile(f, []byte("nobody:"+usernsBase+":65536\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shim, err := testkit.NewShim(filepath.Join(dir, "shim"), "berth", e.berth)
	if err != nil {
		t.Fatal(err)
	}
	wrap := func(args []string) []string {
		return append([]string{"unshare", "-m", "--propagation", "private", "sh", "-c",
			`mount --bind "$1" /etc/subuid && mount --bind "$2" /etc/subgid && shift 2 && exec "$@"`,
			"sh", subuid, subgid}, args...)
	}
	ns := e.ns + "u"
	// not named after ns: the leak check below runs before its removal
	cgParent := cgroupParent("berth-dockerd-" + strings.TrimPrefix(e.ns, "berthdk") + "-userns")
	// A second dockerd under emulation, with the other scenarios running,
	// may miss its own 15 s wait for the containerd it starts (dockerd
	// exits 1 "timeout waiting for containerd to start"; runc and Berth
	// alike, in the guest): start-up is retried, what a failed try left
	// is killed first.
	var d *testkit.Daemon
	var sock string
	for try := 1; try <= 3; try++ {
		if d, sock, err = startDockerd(dir, ns, cgParent, shim, []string{"--userns-remap", "nobody:nogroup"}, wrap); err == nil {
			break
		}
		t.Logf("user-namespace dockerd, start %d: %v", try, err)
		killProcessesUnder(dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	u := &env{dir: dir, sock: sock, cfgDir: e.cfgDir, ns: ns, cgParent: cgParent, berth: e.berth, shim: shim, daemon: d}
	// Registered before any container, so it runs after their removal.
	t.Cleanup(func() {
		root := rootFromCalls(shim.Calls())
		if left := testkit.DirEntries(root); root == "" || len(left) > 0 {
			t.Errorf("the runtime's state dir %q still holds %q", root, left)
		}
		if err := d.Stop(); err != nil {
			t.Error(err)
		}
		if !testkit.Eventually(15*time.Second, func() bool { return len(testkit.Leaks(dir, ns)) == 0 }) {
			t.Errorf("left by the user-namespace daemon: %q", testkit.Leaks(dir, ns))
		}
		removeCgroupParent(t, u.cgParent)
	})
	archive := filepath.Join(e.dir, "busybox.tar")
	u.must(t, "load", "-i", archive)

	id := u.runD(t, nil, "sleep", "120")
	assertCalled(t, shim, "create", id)
	r := u.docker(t, "exec", id, "sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; touch /f && ls -n /f")
	if f := strings.Fields(r.Out); r.Code != 0 || len(f) < 8 ||
		strings.Join(f[:7], " ") != "0 "+usernsBase+" 65536 0 "+usernsBase+" 65536 0" {
		t.Errorf("uid_map, gid_map, id -u in the remapped container: %s", r)
	}
	pid := u.pid(t, id)
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	if uid := strings.Fields(statusField(string(st), "Uid")); len(uid) == 0 || uid[0] != usernsBase {
		t.Errorf("the container's init runs as host uid %v, want %s", uid, usernsBase)
	}
}

// killProcessesUnder kills what a failed daemon start left running with
// dir in its command line, root or cwd (its containerd), and waits for it.
func killProcessesUnder(dir string) {
	for _, l := range testkit.Leaks(dir) {
		var pid int
		if _, err := fmt.Sscanf(l, "process %d:", &pid); err == nil && pid > 1 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	testkit.Eventually(10*time.Second, func() bool {
		for _, l := range testkit.Leaks(dir) {
			if strings.HasPrefix(l, "process ") {
				return false
			}
		}
		return true
	})
}
