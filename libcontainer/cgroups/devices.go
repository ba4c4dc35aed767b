package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrDevicesV2 is returned when device rules cannot be enforced because the
// host has no v1 devices controller (cgroup v2 needs an eBPF program).
var ErrDevicesV2 = errors.New("device cgroup rules are not enforced on cgroup v2 yet")

func intPtr(v int64) *int64 { return &v }

// defaultAllowed are the devices every container may use (runtime-spec's
// default devices, plus ptys and the console), allowed after the config's
// own rules as runc does.
var defaultAllowed = []specs.LinuxDeviceCgroup{
	{Allow: true, Type: "c", Access: "m"}, {Allow: true, Type: "b", Access: "m"},
	{Allow: true, Type: "c", Major: intPtr(1), Minor: intPtr(3), Access: "rwm"},
	{Allow: true, Type: "c", Major: intPtr(1), Minor: intPtr(5), Access: "rwm"},
	{Allow: true, Type: "c", Major: intPtr(1), Minor: intPtr(7), Access: "rwm"},
	{Allow: true, Type: "c", Major: intPtr(1), Minor: intPtr(8), Access: "rwm"},
	{Allow: true, Type: "c", Major: intPtr(1), Minor: intPtr(9), Access: "rwm"},
	{Allow: true, Type: "c", Major: intPtr(5), Minor: intPtr(0), Access: "rwm"},
	{Allow: true, Type: "c", Major: intPtr(5), Minor: intPtr(1), Access: "rwm"},
	{Allow: true, Type: "c", Major: intPtr(5), Minor: intPtr(2), Access: "rwm"},
	{Allow: true, Type: "c", Major: intPtr(136), Access: "rwm"},
}

// SetDevices applies device rules on a new cgroup: deny everything, then
// the config's rules in order, then the default devices. On v1 this is the
// devices controller's allow/deny files; it is done before the init
// exists, so nothing can use a device in between.
func (m *Manager) SetDevices(rules []specs.LinuxDeviceCgroup) error {
	dir := ""
	for key, p := range m.Paths {
		if strings.Contains(","+key+",", ",devices,") {
			dir = p
		}
	}
	if dir == "" {
		return ErrDevicesV2
	}
	write := func(file, rule string) error {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(rule), 0); err != nil {
			return fmt.Errorf("write %q to %s: %w", rule, filepath.Join(dir, file), err)
		}
		return nil
	}
	if err := write("devices.deny", "a"); err != nil {
		return err
	}
	for _, r := range append(append([]specs.LinuxDeviceCgroup{}, rules...), defaultAllowed...) {
		rule, err := DeviceRule(r)
		if err != nil {
			return err
		}
		file := "devices.deny"
		if r.Allow {
			file = "devices.allow"
		}
		if err := write(file, rule); err != nil {
			return err
		}
	}
	return nil
}

// DeviceRule formats an OCI device rule the way the v1 devices files take
// it: "TYPE MAJOR:MINOR ACCESS".
func DeviceRule(r specs.LinuxDeviceCgroup) (string, error) {
	typ := r.Type
	switch typ {
	case "", "a":
		if r.Major == nil && r.Minor == nil && (r.Access == "" || r.Access == "rwm") {
			return "a", nil
		}
		typ = "a"
	case "c", "b":
	default:
		return "", fmt.Errorf("invalid device rule type %q", r.Type)
	}
	num := func(p *int64) string {
		if p == nil || *p < 0 {
			return "*"
		}
		return strconv.FormatInt(*p, 10)
	}
	access := r.Access
	if access == "" {
		access = "rwm"
	}
	for _, c := range access {
		if c != 'r' && c != 'w' && c != 'm' {
			return "", fmt.Errorf("invalid device rule access %q", r.Access)
		}
	}
	return fmt.Sprintf("%s %s:%s %s", typ, num(r.Major), num(r.Minor), access), nil
}
