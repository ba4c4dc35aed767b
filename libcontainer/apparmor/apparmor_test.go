package apparmor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckProfile(t *testing.T) {
	dir := t.TempDir()
	old := securityfs
	securityfs = dir
	t.Cleanup(func() { securityfs = old })
	if err := os.WriteFile(filepath.Join(dir, "profiles"), []byte("docker-default (enforce)\nwith space (complain)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"unconfined", "docker-default", "with space"} {
		if err := CheckProfile(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	err := CheckProfile("berth-no-such-profile")
	if err == nil || !strings.Contains(err.Error(), `"berth-no-such-profile"`) {
		t.Errorf("a profile that is not loaded: err = %v, want one naming it", err)
	}
	// Without securityfs in the runtime's mount namespace (podman's for a
	// user-namespace container) the check is the init's write.
	securityfs = filepath.Join(dir, "missing")
	if err := CheckProfile("berth-no-such-profile"); err != nil {
		t.Errorf("without securityfs: %v, want the check left to the init", err)
	}
}
