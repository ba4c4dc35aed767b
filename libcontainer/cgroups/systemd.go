package cgroups

import (
	"errors"
	"fmt"
	"os"
	"strings"

	cg "github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/systemd"
)

// The systemd cgroup driver (--systemd-cgroup): the container's cgroup is
// a transient scope systemd makes over D-Bus, with Delegate=yes, holding
// the init; limits are unit properties where systemd has them (so a
// daemon-reload keeps them) and cgroup files otherwise. The unit is made
// and its limits set by opencontainers/cgroups' systemd manager, the code
// runc uses, so unit properties match what callers expect from runc.

// Unit names a container's systemd unit: runc's cgroupsPath form
// "slice:prefix:name" is the scope prefix-name.scope in slice (a name
// ending in .slice is a slice unit instead).
type Unit struct {
	Slice, Prefix, Name string
	// User is true for a unit of the caller's own systemd user manager
	// (a rootless caller, over its session bus), false for the system's.
	User bool
}

// String is the cgroupsPath form, as saved in the state.
func (u *Unit) String() string { return u.Slice + ":" + u.Prefix + ":" + u.Name }

// UnitString is the saved form of the manager's unit, "" for cgroupfs.
func (m *Manager) UnitString() string {
	if m.Unit == nil {
		return ""
	}
	return m.Unit.String()
}

// ParseUnit reads a systemd cgroupsPath; an empty one is the default
// system.slice:berth:<id> (user.slice:berth:<id> for the user's manager),
// as runc's is system.slice:runc:<id>.
func ParseUnit(cgroupsPath, id string, user bool) (*Unit, error) {
	if cgroupsPath == "" {
		slice := "system.slice"
		if user {
			slice = "user.slice"
		}
		return &Unit{Slice: slice, Prefix: "berth", Name: id, User: user}, nil
	}
	parts := strings.Split(cgroupsPath, ":")
	if len(parts) != 3 {
		// runc's words.
		return nil, fmt.Errorf("expected cgroupsPath to be of format \"slice:prefix:name\" for systemd cgroups, got %q instead", cgroupsPath)
	}
	u := &Unit{Slice: parts[0], Prefix: parts[1], Name: parts[2], User: user}
	if u.Name == "" || strings.ContainsAny(cgroupsPath, "/") {
		return nil, fmt.Errorf("cgroupsPath %q: a systemd unit needs a name and no '/'", cgroupsPath)
	}
	return u, nil
}

// systemdSocket is where systemd listens on D-Bus for its root clients.
const systemdSocket = "/run/systemd/private"

// SystemdAvailable tells whether the systemd driver can work here: systemd
// runs, answers on D-Bus, and the host is cgroup v2.
func SystemdAvailable() bool {
	_, err := os.Stat(systemdSocket)
	return err == nil && systemd.IsRunningSystemd() && DetectMode() == Unified
}

// checkUserBus fails, naming what is missing, unless the caller's systemd
// user manager is reachable where the library looks for its session bus:
// $DBUS_SESSION_BUS_ADDRESS, or $XDG_RUNTIME_DIR/bus.
func checkUserBus() error {
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
		return nil
	}
	dir := os.Getenv("XDG_RUNTIME_DIR")
	if dir == "" {
		return errors.New("--systemd-cgroup as a rootless user needs the user's systemd: neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set")
	}
	bus := dir + "/bus"
	if _, err := os.Stat(bus); err != nil {
		return fmt.Errorf("--systemd-cgroup as a rootless user needs the user's systemd on D-Bus: no session bus %s (a systemd user session with dbus-user-session, or loginctl enable-linger)", bus)
	}
	return nil
}

// NewSystemd is New for the systemd driver: the unit's cgroup on a cgroup
// v2 host whose systemd answers on D-Bus; with user, a unit of the
// caller's systemd user manager (a rootless caller: runc's rule), whose
// Delegate=yes subtree the caller may write.
func NewSystemd(cgroupsPath, id string, user bool) (*Manager, error) {
	if _, err := os.Stat(systemdSocket); err != nil || !systemd.IsRunningSystemd() {
		return nil, fmt.Errorf("--systemd-cgroup: systemd is not running on this host (no D-Bus socket %s)", systemdSocket)
	}
	if mode := DetectMode(); mode != Unified {
		return nil, fmt.Errorf("--systemd-cgroup: Berth's systemd driver needs cgroup v2; this host is cgroup %s", mode)
	}
	if user {
		if err := checkUserBus(); err != nil {
			return nil, err
		}
	}
	u, err := ParseUnit(cgroupsPath, id, user)
	if err != nil {
		return nil, err
	}
	m := &Manager{Paths: map[string]string{}, Mode: Unified, Unit: u}
	lib, err := m.systemdLib(nil)
	if err != nil {
		return nil, err
	}
	m.Paths[UnifiedKey] = lib.Path("")
	return m, nil
}

// systemdLib is the library's manager for the unit, with resources r.
func (m *Manager) systemdLib(r *cg.Resources) (*systemd.UnifiedManager, error) {
	if r == nil {
		r = &cg.Resources{}
	}
	c := &cg.Cgroup{Parent: m.Unit.Slice, ScopePrefix: m.Unit.Prefix, Name: m.Unit.Name, Resources: r, Systemd: true, Rootless: m.Unit.User}
	lib, err := systemd.NewUnifiedManager(c, m.Paths[UnifiedKey])
	if err != nil {
		return nil, fmt.Errorf("systemd unit %s: %w", m.Unit, err)
	}
	return lib, nil
}

// startUnit makes the unit with pid in it, then sets the limits Set kept
// until there was a unit to give them to.
func (m *Manager) startUnit(pid int) error {
	lib, err := m.systemdLib(nil)
	if err != nil {
		return err
	}
	if p := m.Paths[UnifiedKey]; exists(p) {
		if pids, _ := readPids(p); len(pids) > 0 {
			return fmt.Errorf("container's cgroup is not empty: %d process(es) found (%s)", len(pids), p)
		}
	}
	if err := lib.Apply(pid); err != nil {
		return fmt.Errorf("systemd unit %s: %w", m.Unit, err)
	}
	if m.pending != nil {
		r := m.pending
		m.pending = nil
		return m.Set(r)
	}
	return nil
}

// setSystemd sets limits through the unit (properties, then files); before
// the unit exists it keeps them for startUnit.
func (m *Manager) setSystemd(res *Resources) error {
	if !exists(m.Paths[UnifiedKey]) {
		m.pending = res
		return nil
	}
	r := &res.Resources
	if err := checkV1Only(r); err != nil {
		return err
	}
	if err := m.checkBFQWeights(r); err != nil {
		return err
	}
	lib, err := m.systemdLib(r)
	if err != nil {
		return err
	}
	if err := lib.Set(r); err != nil {
		return fmt.Errorf("set cgroup resources through systemd unit %s: %w", m.Unit, err)
	}
	return m.setKernelMemory(res)
}

// destroySystemd kills what is left, stops the unit and removes what
// systemd leaves of its cgroup (sub-cgroups made under Delegate=yes).
func (m *Manager) destroySystemd() error {
	if err := m.KillAll(); err != nil {
		return err
	}
	lib, err := m.systemdLib(nil)
	if err != nil {
		return err
	}
	var errs []error
	if err := lib.Destroy(); err != nil {
		errs = append(errs, fmt.Errorf("stop systemd unit %s: %w", m.Unit, err))
	}
	if err := removeTree(m.Paths[UnifiedKey]); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
