package netdev

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ifNameSize is the kernel's IFNAMSIZ: a name and its NUL must fit.
const ifNameSize = 16

// template is the only pattern runtime-spec allows, and only as a suffix:
// the kernel then picks the lowest free number in the target namespace.
const template = "%d"

// Validate checks what can be checked without the host: every host name
// and target name is a name the kernel accepts (shorter than 16 bytes; no
// '/', ':', whitespace or NUL; not "." or ".."), a target may end in the
// template "%d" and contain no other '%', the loopback device is neither
// moved nor targeted (every network namespace has its own "lo"), and no two
// entries ask for the same fixed target name. It returns the first problem
// in the order of the host names.
func Validate(devs map[string]specs.LinuxNetDevice) error {
	claimed := make(map[string]string, len(devs))
	for _, host := range sortedNames(devs) {
		if err := checkName(host, false); err != nil {
			return fmt.Errorf("netDevices: host device %q: %w", host, err)
		}
		if host == "lo" {
			return errors.New(`netDevices: the loopback device "lo" cannot be moved: every network namespace has its own`)
		}
		target := targetName(host, devs[host])
		if err := checkName(target, true); err != nil {
			return fmt.Errorf("netDevices: %q: name %q: %w", host, target, err)
		}
		if target == "lo" {
			return fmt.Errorf(`netDevices: %q: name "lo" exists in every network namespace`, host)
		}
		if isTemplate(target) {
			// The kernel gives each template a different number.
			continue
		}
		if other, ok := claimed[target]; ok {
			return fmt.Errorf("netDevices: %q and %q both have the name %q in the container", other, host, target)
		}
		claimed[target] = host
	}
	return nil
}

// checkName applies the kernel's dev_valid_name rules, which would otherwise
// surface as a bare EINVAL from the move; allowTemplate admits a trailing
// "%d" (the kernel would accept it anywhere, runtime-spec only at the end).
func checkName(name string, allowTemplate bool) error {
	switch {
	case name == "":
		return errors.New("empty interface name")
	case len(name) >= ifNameSize:
		return fmt.Errorf("interface names are at most %d bytes", ifNameSize-1)
	case name == "." || name == "..":
		return errors.New("not a valid interface name")
	}
	if i := strings.IndexFunc(name, badNameRune); i >= 0 {
		return fmt.Errorf("interface names cannot contain %q", name[i])
	}
	if !strings.Contains(name, "%") {
		return nil
	}
	if !allowTemplate {
		return errors.New("interface names cannot contain '%'")
	}
	prefix, ok := strings.CutSuffix(name, template)
	if !ok || strings.Contains(prefix, "%") {
		return errors.New(`a template must end in "%d" and have no other '%'`)
	}
	if prefix == "" {
		return errors.New(`a template needs a name before "%d"`)
	}
	return nil
}

// badNameRune is the kernel's list (slash, colon, isspace) plus NUL, which
// would cut the name short on its way through netlink.
func badNameRune(r rune) bool {
	switch r {
	case '/', ':', ' ', '\t', '\n', '\v', '\f', '\r', 0:
		return true
	}
	return false
}

// isTemplate reports whether name asks the kernel to pick the number.
func isTemplate(name string) bool { return strings.HasSuffix(name, template) }

// targetName is the device's name inside the container: the host name
// unless the entry gives one.
func targetName(host string, d specs.LinuxNetDevice) string {
	if d.Name == "" {
		return host
	}
	return d.Name
}

func sortedNames(devs map[string]specs.LinuxNetDevice) []string {
	names := make([]string, 0, len(devs))
	for n := range devs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
