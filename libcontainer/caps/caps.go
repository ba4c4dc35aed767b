// Package caps maps capability names to numbers and applies the five
// capability sets of an OCI process to the calling thread.
package caps

import (
	"fmt"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// names lists every capability the kernel headers know, by number.
var names = [...]string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// Names returns every known capability name.
func Names() []string { return append([]string(nil), names[:]...) }

// Parse turns a capability name (with or without the CAP_ prefix, any case)
// into its number.
func Parse(name string) (int, error) {
	n := strings.ToUpper(name)
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	for i, c := range names {
		if c == n {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown capability %q", name)
}

// Set is a capability bit mask.
type Set uint64

// ParseSet turns a list of names into a mask. Well-formed names that this
// build or the running kernel does not know (a capability newer than
// either) are left out and returned as ignored: runtime-spec says they are
// logged as a warning and the runtime SHOULD NOT fail. A malformed name
// (not CAP_ and upper-case letters, digits and underscores) is an error:
// no kernel will ever have it, so it can only be a mistake in the config.
func ParseSet(list []string, lastCap int) (s Set, ignored []string, err error) {
	for _, name := range list {
		if !wellFormed(name) {
			return 0, nil, fmt.Errorf("malformed capability name %q", name)
		}
		n, err := Parse(name)
		if err != nil || n > lastCap {
			ignored = append(ignored, name)
			continue
		}
		s |= 1 << uint(n)
	}
	return s, ignored, nil
}

// wellFormed reports whether name looks like a capability: CAP_ (or
// nothing, as Parse allows) and then letters, digits and underscores.
func wellFormed(name string) bool {
	n := strings.TrimPrefix(strings.ToUpper(name), "CAP_")
	if n == "" {
		return false
	}
	for _, c := range n {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Sets is a parsed process.capabilities.
type Sets struct {
	Bounding, Effective, Inheritable, Permitted, Ambient Set
}

// LastCap is the highest capability number the kernel supports, read
// once per process (an exec asks for it twice: the process check and the
// exec stage's sets).
var LastCap = sync.OnceValue(readLastCap)

func readLastCap() int {
	var data [8]byte
	fd, err := unix.Open("/proc/sys/kernel/cap_last_cap", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return len(names) - 1
	}
	defer unix.Close(fd)
	n, _ := unix.Read(fd, data[:])
	v := 0
	for _, c := range data[:max(n, 0)] {
		if c < '0' || c > '9' {
			break
		}
		v = v*10 + int(c-'0')
	}
	if v == 0 {
		return len(names) - 1
	}
	return v
}

// FromSpec parses all five sets; ignored lists the names left out (see
// ParseSet), once each.
func FromSpec(c *specs.LinuxCapabilities, lastCap int) (sets *Sets, ignored []string, err error) {
	if c == nil {
		return &Sets{}, nil, nil
	}
	var s Sets
	seen := map[string]bool{}
	for _, p := range []struct {
		dst  *Set
		src  []string
		name string
	}{
		{&s.Bounding, c.Bounding, "bounding"}, {&s.Effective, c.Effective, "effective"},
		{&s.Inheritable, c.Inheritable, "inheritable"}, {&s.Permitted, c.Permitted, "permitted"},
		{&s.Ambient, c.Ambient, "ambient"},
	} {
		var ign []string
		if *p.dst, ign, err = ParseSet(p.src, lastCap); err != nil {
			return nil, nil, fmt.Errorf("process.capabilities.%s: %w", p.name, err)
		}
		for _, n := range ign {
			if !seen[n] {
				seen[n] = true
				ignored = append(ignored, n)
			}
		}
	}
	return &s, ignored, nil
}

// DropBounding removes every capability not in keep from the bounding set.
// It needs CAP_SETPCAP, so it runs before the user switch.
func DropBounding(keep Set, lastCap int) error {
	for i := 0; i <= lastCap; i++ {
		if keep&(1<<uint(i)) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(i), 0, 0, 0); err != nil && err != unix.EINVAL {
			return fmt.Errorf("drop %s from the bounding set: %w", names[i], err)
		}
	}
	return nil
}

// notInBounding names the requested capabilities the calling thread cannot
// grant because they are not in its bounding set.
func (s *Sets) notInBounding() []string {
	var res []string
	for i, name := range names {
		if (s.Permitted|s.Effective|s.Inheritable)&(1<<uint(i)) == 0 {
			continue
		}
		if v, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(i), 0, 0, 0); err == nil && v == 0 {
			res = append(res, name)
		}
	}
	return res
}

// Apply sets the effective, permitted and inheritable sets of the calling
// thread, then raises the ambient ones.
func (s *Sets) Apply() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for i := 0; i < 2; i++ {
		data[i].Effective = uint32(s.Effective >> (32 * i))
		data[i].Permitted = uint32(s.Permitted >> (32 * i))
		data[i].Inheritable = uint32(s.Inheritable >> (32 * i))
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		if missing := s.notInBounding(); len(missing) > 0 {
			return fmt.Errorf("set capabilities: %w (berth itself does not have %s)", err, strings.Join(missing, ", "))
		}
		return fmt.Errorf("set capabilities: %w", err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	for i := range names {
		// The kernel only raises an ambient capability that is both
		// permitted and inheritable; runc skips the others the same way.
		if s.Ambient&(1<<uint(i)) == 0 || s.Permitted&s.Inheritable&(1<<uint(i)) == 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(i), 0, 0); err != nil {
			return fmt.Errorf("raise ambient %s: %w", names[i], err)
		}
	}
	return nil
}
