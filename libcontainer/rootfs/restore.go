package rootfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// MakeMountpoints makes, for a restore, the destinations of mounts that
// are missing in the rootfs at root, as create made them (a file for the
// bind mount of a file, else a directory) and through the same handles
// (inroot.go): CRIU mounts onto them but does not make them. A destination
// on a tmpfs or under a bind mount of the list is left alone: CRIU brings
// back the tmpfs's contents, and the bind's source has its own. Relative
// bind sources are relative to bundleDir.
func MakeMountpoints(root, bundleDir string, mounts []specs.Mount) error {
	m, err := openMounter(&Config{Rootfs: root})
	if err != nil {
		return err
	}
	defer m.release()
	var covering []string
	for _, mnt := range mounts {
		if o := ParseOptions(mnt.Options); mnt.Type == "tmpfs" || mnt.Type == "bind" || o.Bind {
			covering = append(covering, filepath.Clean("/"+mnt.Destination))
		}
	}
	for _, mnt := range mounts {
		dest := filepath.Clean("/" + mnt.Destination)
		if mnt.Type == "cgroup" || mnt.Type == "cgroup2" || under(dest, covering) {
			continue // made by the mount of /sys, or brought back by CRIU
		}
		isFile := false
		if o := ParseOptions(mnt.Options); mnt.Type == "bind" || o.Bind {
			src := mnt.Source
			if !filepath.IsAbs(src) {
				src = filepath.Join(bundleDir, src)
			}
			st, err := os.Stat(src)
			if err != nil {
				return fmt.Errorf("mount %s on %s: %w", mnt.Source, mnt.Destination, err)
			}
			isFile = !st.IsDir()
		}
		fd, err := m.openDest(dest, isFile)
		if err != nil {
			return fmt.Errorf("make the mount point %s: %w", mnt.Destination, err)
		}
		unix.Close(fd)
	}
	return nil
}

// under reports whether p lies strictly below one of dirs.
func under(p string, dirs []string) bool {
	for _, d := range dirs {
		if d != p && strings.HasPrefix(p, strings.TrimSuffix(d, "/")+"/") {
			return true
		}
	}
	return false
}
