package integration

// The per-test leak check: what a test left behind (state, cgroups, mounts, processes).

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// cleanup force-deletes every container of the test and then checks that
// nothing was left behind: mounts, cgroups, state dirs or processes.
func (e *testEnv) cleanup(t *testing.T) {
	e.mu.Lock()
	ids := append([]string(nil), e.ids...)
	bundles := append([]string(nil), e.bundles...)
	e.mu.Unlock()

	// Also delete anything in the root that was not made with newID.
	if entries, err := os.ReadDir(e.root); err == nil {
		for _, ent := range entries {
			if ent.IsDir() && !contains(ids, ent.Name()) {
				ids = append(ids, ent.Name())
			}
		}
	}
	for _, id := range ids {
		p := rtStartNoT(e.root, "delete", "--force", id)
		if p == nil {
			continue
		}
		if r, err := p.finish(); err != nil {
			t.Errorf("cleanup: %v", err)
		} else if r.Code != 0 && fileExists(filepath.Join(e.root, id)) {
			t.Errorf("cleanup: delete --force %s failed: %s", id, r)
		}
	}

	var leaks []string
	waitFor(5*time.Second, func() bool {
		leaks = e.findLeaks(ids, bundles)
		return len(leaks) == 0
	})
	for _, l := range leaks {
		t.Errorf("leak: %s", l)
	}

	// Protect the host before removing anything: kill leaked container
	// processes and detach leaked mounts.
	if len(leaks) > 0 {
		for _, pid := range bundleProcesses(bundles) {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		// Leaked cgroups are empty once their processes are gone; remove
		// them deepest first so they do not pile up on the host.
		waitFor(2*time.Second, func() bool {
			dirs := cgroupDirsMatching(ids)
			for i := len(dirs) - 1; i >= 0; i-- {
				_ = unix.Rmdir(dirs[i])
			}
			return len(cgroupDirsMatching(ids)) == 0
		})
	}
	safe := true
	for _, dir := range append(bundles, e.root) {
		for _, mp := range mountsUnder(dir) {
			_ = unix.Unmount(mp, unix.MNT_DETACH)
		}
		if len(mountsUnder(dir)) > 0 {
			safe = false
		}
	}
	if safe {
		for _, dir := range append(bundles, e.root) {
			_ = os.RemoveAll(dir)
		}
	}
}

// findLeaks lists what is left of the given containers and bundles.
func (e *testEnv) findLeaks(ids, bundles []string) []string {
	var leaks []string
	// (1) mounts mentioning a bundle or the state root.
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			for _, dir := range append(bundles, e.root) {
				if strings.Contains(line, dir+"/") || strings.HasSuffix(line, dir) || strings.Contains(line, dir+" ") {
					leaks = append(leaks, "mount: "+line)
					break
				}
			}
		}
	}
	// (2) cgroup directories named after a container.
	for _, dir := range cgroupDirsMatching(ids) {
		leaks = append(leaks, "cgroup: "+dir)
	}
	// (3) state directories.
	for _, id := range ids {
		if fileExists(filepath.Join(e.root, id)) {
			leaks = append(leaks, "state dir: "+filepath.Join(e.root, id))
		}
	}
	// (4) processes living in a bundle.
	for _, pid := range bundleProcesses(bundles) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		leaks = append(leaks, fmt.Sprintf("process %d (%s)", pid, strings.ReplaceAll(string(cmdline), "\x00", " ")))
	}
	return leaks
}

// cgroupDirsMatching walks the cgroup mounts (to depth 5) for directories
// whose name contains one of ids.
func cgroupDirsMatching(ids []string) []string {
	if len(ids) == 0 {
		return nil
	}
	var found []string
	base := strings.Count(cgroupRoot, "/")
	_ = filepath.WalkDir(cgroupRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if !d.IsDir() {
			return nil
		}
		if strings.Count(path, "/")-base > 5 {
			return fs.SkipDir
		}
		name := d.Name()
		for _, id := range ids {
			if strings.Contains(name, id) {
				found = append(found, path)
				break
			}
		}
		return nil
	})
	return found
}

// bundleProcesses returns live processes whose root, cwd or command line
// points into one of the bundles, or whose root holds the bundle's marker
// file (which catches pivoted container processes).
func bundleProcesses(bundles []string) []int {
	type key struct{ dev, ino uint64 }
	markers := map[key]bool{}
	for _, b := range bundles {
		var st unix.Stat_t
		if unix.Stat(filepath.Join(rootfsOf(b), markerName), &st) == nil {
			markers[key{st.Dev, st.Ino}] = true
		}
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == self || !pidAlive(pid) {
			continue
		}
		proc := "/proc/" + ent.Name()
		hit := false
		root, _ := os.Readlink(proc + "/root")
		cwd, _ := os.Readlink(proc + "/cwd")
		cmdline, _ := os.ReadFile(proc + "/cmdline")
		for _, b := range bundles {
			if root == rootfsOf(b) || strings.HasPrefix(root, b+"/") ||
				cwd == b || strings.HasPrefix(cwd, b+"/") ||
				bytes.Contains(cmdline, []byte(b+"/")) || bytes.Contains(cmdline, []byte(b+"\x00")) {
				hit = true
			}
		}
		if !hit && len(markers) > 0 {
			var st unix.Stat_t
			if unix.Stat(proc+"/root/"+markerName, &st) == nil && markers[key{st.Dev, st.Ino}] {
				hit = true
			}
		}
		if hit {
			pids = append(pids, pid)
		}
	}
	return pids
}
