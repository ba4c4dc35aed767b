// Package apparmor answers whether the host enforces AppArmor and whether
// a profile is loaded; the init applies process.apparmorProfile itself
// (initp), as the last step before execve.
package apparmor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

const enabledParam = "/sys/module/apparmor/parameters/enabled"

// securityfs is AppArmor's securityfs directory (a variable for tests).
var securityfs = "/sys/kernel/security/apparmor"

// Enabled tells whether AppArmor is on: the module's parameter says so.
// securityfs is not asked: a caller may run the runtime in a mount
// namespace of its own without it (podman does for a container with a
// user namespace), where AppArmor is enforced all the same.
func Enabled() bool {
	b, err := os.ReadFile(enabledParam)
	return err == nil && bytes.HasPrefix(b, []byte("Y"))
}

// CheckProfile fails, naming the profile, unless it is loaded; the kernel
// would otherwise refuse it only at execve, when the container's process
// can no longer report why. "unconfined" is always there.
func CheckProfile(name string) error {
	if name == "unconfined" {
		return nil
	}
	f, err := os.Open(securityfs + "/profiles")
	if errors.Is(err, fs.ErrNotExist) {
		// No securityfs in this mount namespace (see Enabled): the
		// init's write of the profile fails, naming it, if it is not
		// loaded.
		return nil
	}
	if err != nil {
		return fmt.Errorf("apparmor profile %q: list the loaded profiles: %w", name, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// Lines are "NAME (MODE)"; a name may contain spaces.
		l := sc.Text()
		if i := strings.LastIndex(l, " ("); i >= 0 && l[:i] == name {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("apparmor profile %q: read the loaded profiles: %w", name, err)
	}
	return fmt.Errorf("apparmor profile %q is not loaded (not in %s/profiles)", name, securityfs)
}
