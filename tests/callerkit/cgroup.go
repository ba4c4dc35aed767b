package callerkit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// V1CgroupDir returns the host directory of pid's cgroup in the v1
// hierarchy that has controller ctrl (/sys/fs/cgroup/<ctrl>/<path>), read
// from /proc/<pid>/cgroup; ok is false when no v1 hierarchy has ctrl.
func V1CgroupDir(pid int, ctrl string) (dir string, ok bool, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", false, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.SplitN(l, ":", 3)
		if len(f) != 3 {
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			if c == ctrl {
				return filepath.Join("/sys/fs/cgroup", ctrl, f[2]), true, nil
			}
		}
	}
	return "", false, nil
}
