package integration

// The CVE regression suite: one black-box attack per advisory class of
// ../shared/notes/users-and-cves.md, named after the advisory (make
// security-test runs them: go test -run 'CVE|Attack' ./tests/integration).
// Each test says the attack, what must hold afterwards, and whether Debian's
// runc 1.1.5 (BERTH_BIN=/usr/sbin/runc) fails it. docs/security.md has the
// table. TestCVE_2019_5736InitBinaryCannotBeOverwritten is in
// safety_test.go.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestCVE_2019_19921ProcSymlinkRefused is the symlinked-/proc attack
// (CVE-2019-19921, its regression CVE-2023-27561, youki CVE-2025-54867): a
// rootfs whose /proc (or /sys) is a symlink to somewhere else, so that
// procfs, and the masks and read-only remounts made on it, land elsewhere.
// Create must fail with an error naming the path, and nothing may be
// mounted where the link points. runc 1.1.5 refuses /proc too ("must be
// mounted on ordinary directory"); it accepts a /sys symlink.
func TestCVE_2019_19921ProcSymlinkRefused(t *testing.T) {
	for _, dir := range []string{"proc", "sys"} {
		t.Run(dir, func(t *testing.T) {
			bundle := newBundle(t, withArgs("/bin/true"))
			rootfs := rootfsOf(bundle)
			elsewhere := filepath.Join(rootfs, "elsewhere")
			if err := os.Mkdir(elsewhere, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(filepath.Join(rootfs, dir)); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("/elsewhere", filepath.Join(rootfs, dir)); err != nil {
				t.Fatal(err)
			}
			id := newID(t)
			r := rt(t, "create", "--bundle", bundle, id)
			if r.Code == 0 {
				rt(t, "delete", "-f", id)
				t.Fatalf("create with /%s a symlink succeeded; want it refused", dir)
			}
			if !strings.Contains(r.Stderr, "/"+dir) {
				t.Errorf("the error does not name /%s: %s", dir, r)
			}
			if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
				t.Errorf("something was mounted where /%s points: %v", dir, entries)
			}
			assertCreateLeftNothing(t, id)
		})
	}
}

// TestAttackSysctlNameWalksOutOfProcSys: a config whose sysctl name climbs
// out of /proc/sys ("net.x/../../../../<host file>") to make the runtime
// write a host file. Berth refuses the name when it loads the bundle (and
// writes sysctls only through a private procfs handle); the host file must
// be unchanged.
// runc 1.1.5 writes sysctls after pivot_root, inside the container, so the
// host file is safe there too (its create fails on the missing file).
func TestAttackSysctlNameWalksOutOfProcSys(t *testing.T) {
	canary := filepath.Join(newDir(t, "canary"), "host-file")
	if err := os.WriteFile(canary, []byte("original"), 0o644); err != nil {
		t.Fatal(err)
	}
	key := "net.ipv4" + strings.Repeat("/..", 6) + canary
	bundle := newBundle(t, withArgs("/bin/true"), func(s *specs.Spec) {
		s.Linux.Sysctl = map[string]string{key: "pwned"}
	})
	id := newID(t)
	r := rt(t, "create", "--bundle", bundle, id)
	if r.Code == 0 {
		rt(t, "delete", "-f", id)
	}
	if b, _ := os.ReadFile(canary); string(b) != "original" {
		t.Fatalf("the host file %s now holds %q: a sysctl write left /proc/sys", canary, b)
	}
	if !runtimeIsRunc && (r.Code == 0 || !strings.Contains(r.Stderr, "invalid sysctl name")) {
		t.Errorf("create with sysctl %q: want it refused as not a valid name; %s", key, r)
	}
	assertCreateLeftNothing(t, id)
}
