package integration

// Reading mountinfo: parsing, finding mounts and their options.

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// mountEntry is one line of mountinfo.
type mountEntry struct {
	Root, MountPoint string
	Options          string // per-mount options
	Optional         string // optional fields, e.g. "shared:1"
	FSType, Source   string
	SuperOptions     string
}

// parseMountinfo parses /proc/PID/mountinfo text.
func parseMountinfo(text string) []mountEntry {
	var out []mountEntry
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 10 {
			continue
		}
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+2 >= len(f) {
			continue
		}
		e := mountEntry{
			Root:       unescapeMount(f[3]),
			MountPoint: unescapeMount(f[4]),
			Options:    f[5],
			Optional:   strings.Join(f[6:sep], " "),
			FSType:     f[sep+1],
			Source:     f[sep+2],
		}
		if sep+3 < len(f) {
			e.SuperOptions = f[sep+3]
		}
		out = append(out, e)
	}
	return out
}

// unescapeMount undoes the octal escapes (\040 etc.) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// findMount returns the last (topmost) mount at mountPoint.
func findMount(mounts []mountEntry, mountPoint string) (mountEntry, bool) {
	var found mountEntry
	ok := false
	for _, m := range mounts {
		if m.MountPoint == mountPoint {
			found, ok = m, true
		}
	}
	return found, ok
}

// hasOption reports whether the comma-separated list opts contains opt.
func hasOption(opts, opt string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == opt {
			return true
		}
	}
	return false
}

// hostMounts parses the test process's mountinfo.
func hostMounts(t *testing.T) []mountEntry {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return parseMountinfo(string(b))
}

// mountsUnder returns the host mount points at or below dir, deepest first.
func mountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range parseMountinfo(string(b)) {
		if m.MountPoint == dir || strings.HasPrefix(m.MountPoint, dir+"/") {
			out = append(out, m.MountPoint)
		}
	}
	// Later lines are mounted on top of / inside earlier ones.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}
