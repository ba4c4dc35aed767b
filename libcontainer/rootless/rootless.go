// Package rootless holds what changes when Berth runs without privilege:
// who counts as rootless (runc's rules, so that callers switching runtimes
// see the same defaults), where the state root goes, which resource fields
// need a cgroup the caller may not have, and the newuidmap/newgidmap
// helpers that write a user namespace's subordinate id ranges.
package rootless

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/moby/sys/userns"
	"golang.org/x/sys/unix"
)

// EUID reports whether the runtime runs with an effective uid other than 0
// (runc's RootlessEUID): it may then write no id map beyond its own ids,
// open no mount as the host's administrator, and usually create no cgroup.
func EUID() bool { return os.Geteuid() != 0 }

// InUserNS reports whether the runtime is in a user namespace other than
// the initial one, where even uid 0 is not the host's root.
func InUserNS() bool { return userns.RunningInUserNS() }

// WantsXDGRoot reports whether the default state root belongs under
// $XDG_RUNTIME_DIR (runc 1.1's shouldHonorXDGRuntimeDir, before it looks
// at the variable): for any uid but 0, and for uid 0 in a user namespace
// unless $USER says root (a root session keeps /run/berth as before).
func WantsXDGRoot() bool {
	if EUID() {
		return true
	}
	if !InUserNS() {
		return false
	}
	u, ok := os.LookupEnv("USER")
	return !ok || u != "root"
}

// Cgroups reports, from --rootless ("true", "false" or "auto"), whether
// cgroups the caller may not create are left out rather than fail create.
// auto is runc's rule for its cgroupfs driver: anyone but uid 0 of the
// initial user namespace.
func Cgroups(flag string) (bool, error) {
	switch flag {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "auto":
		return EUID() || InUserNS(), nil
	}
	return false, fmt.Errorf("invalid value %q for --rootless: must be true, false or auto", flag)
}

// DefaultRoot returns the state root to use when --root is not given:
// $XDG_RUNTIME_DIR/<name> when WantsXDGRoot and the variable is set (xdg
// is then true), else /run/<name>, as runc chooses /run/runc.
func DefaultRoot(name string) (root string, xdg bool) {
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" && WantsXDGRoot() {
		return filepath.Join(dir, name), true
	}
	return filepath.Join("/run", name), false
}

// PrepareXDGRoot makes the state root under $XDG_RUNTIME_DIR as runc 1.1
// does: 0700, with the sticky bit, which the XDG base directory
// specification says keeps a file from being pruned by age.
func PrepareXDGRoot(root string) error {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return fmt.Errorf("%w: the path in $XDG_RUNTIME_DIR must be writable by the user", err)
	}
	if err := os.Chmod(root, 0o700|os.ModeSticky); err != nil {
		return fmt.Errorf("%w: you should check permission of the path in $XDG_RUNTIME_DIR", err)
	}
	return nil
}

// CheckDefaultRoot is called when the caller would keep its state under
// $XDG_RUNTIME_DIR but the variable is not set, so that root is the
// system's default. Where the caller may create or write it (runc then
// simply uses /run/runc) it returns nil; else the one-line error says what
// is missing, where runc would say only "mkdir /run/runc: permission
// denied".
func CheckDefaultRoot(root string) error {
	dir := root
	for {
		if _, err := os.Stat(dir); err == nil || dir == "/" {
			break
		}
		dir = filepath.Dir(dir)
	}
	if unix.Faccessat(unix.AT_FDCWD, dir, unix.W_OK|unix.X_OK, unix.AT_EACCESS) == nil {
		return nil
	}
	uid := os.Geteuid()
	return fmt.Errorf("XDG_RUNTIME_DIR is not set: berth run by uid %d keeps its state in $XDG_RUNTIME_DIR/berth, "+
		"and the default root %s is not writable by this user; set XDG_RUNTIME_DIR (usually /run/user/%d) or pass --root",
		uid, root, uid)
}
