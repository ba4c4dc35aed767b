package testkit

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Leaks lists what on the host still mentions one of the tokens (a suite's
// temp dir, its cgroup parent, container IDs): mountinfo lines, cgroup
// directories (any hierarchy under /sys/fs/cgroup), and processes whose
// command line, cgroup, root or cwd mentions one, and, where systemd runs,
// units (of the system manager, or of the user's for an unprivileged
// suite). Tokens must be specific enough not to match the host's own things.
func Leaks(tokens ...string) []string {
	var toks []string
	for _, t := range tokens {
		if t != "" {
			toks = append(toks, t)
		}
	}
	if len(toks) == 0 {
		return nil
	}
	has := func(s string) bool {
		for _, t := range toks {
			if strings.Contains(s, t) {
				return true
			}
		}
		return false
	}
	var out []string
	if mi, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, l := range strings.Split(string(mi), "\n") {
			if l != "" && has(l) {
				out = append(out, "mount: "+l)
			}
		}
	}
	seen := map[string]bool{}
	filepath.WalkDir("/sys/fs/cgroup", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if has(strings.TrimPrefix(p, "/sys/fs/cgroup")) {
			if real, err := filepath.EvalSymlinks(p); err == nil && !seen[real] {
				seen[real] = true
				out = append(out, "cgroup dir: "+p)
			}
			return fs.SkipDir
		}
		return nil
	})
	self := os.Getpid()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		base := "/proc/" + e.Name()
		cmdline, _ := os.ReadFile(base + "/cmdline")
		cmd := strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
		cg, _ := os.ReadFile(base + "/cgroup")
		root, _ := os.Readlink(base + "/root")
		cwd, _ := os.Readlink(base + "/cwd")
		if has(cmd) || has(string(cg)) || has(root) || has(cwd) {
			if len(cmdline) == 0 {
				continue // a zombie or kernel thread on its way out
			}
			out = append(out, fmt.Sprintf("process %d: %s", pid, cmd))
		}
	}
	if SystemdRunning() {
		args := []string{"list-units", "--all", "--plain", "--no-legend", "--no-pager"}
		if os.Geteuid() != 0 {
			args = append([]string{"--user"}, args...)
		}
		units, _ := exec.Command("systemctl", args...).Output()
		for _, l := range strings.Split(string(units), "\n") {
			if l != "" && has(l) {
				out = append(out, "systemd unit: "+strings.TrimSpace(l))
			}
		}
	}
	sort.Strings(out)
	return out
}

// CheckNoLeaks fails the test if Leaks(tokens...) is not empty after a
// grace period of 10s (teardown of a caller is often asynchronous).
func CheckNoLeaks(t testing.TB, tokens ...string) {
	t.Helper()
	var left []string
	Eventually(10*time.Second, func() bool {
		left = Leaks(tokens...)
		return len(left) == 0
	})
	if len(left) > 0 {
		t.Errorf("left on the host after the suite (tokens %q):\n  %s", tokens, strings.Join(left, "\n  "))
	}
}

// DirEntries lists the names in dir, without dot files; a missing dir is
// empty.
func DirEntries(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	return names
}
