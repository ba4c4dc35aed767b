package docker

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/bundle/image"
)

func syscallKill0(pid int) error { return unix.Kill(pid, 0) }

func storesFrom(s *Store) (*Store, *image.Store, error) {
	is, err := image.Open(filepath.Join(s.Root, "images"))
	return s, is, err
}

// Prune makes the store agree with reality after a crash or reboot:
// containers whose metadata says running while nothing runs are recorded
// as exited and removed with every stopped container; overlay mounts and
// directories under containers/ that belong to no container are removed.
func (s *Store) Prune(out io.Writer) error {
	metas, err := s.List()
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, m := range metas {
		ms := s.ForMeta(m)
		if ms.Running(m) {
			known[m.ID] = true
			continue
		}
		ms.settle(m)
		if err := ms.Remove(m, false); err != nil {
			return err
		}
		fmt.Fprintln(out, "Deleted: "+m.ID)
	}
	base := filepath.Join(s.Root, "containers") + "/"
	mounts, _ := mountinfo.GetMounts(mountinfo.PrefixFilter(base))
	for _, mnt := range mounts {
		rel := strings.TrimPrefix(mnt.Mountpoint, base)
		id, rest, _ := strings.Cut(rel, "/")
		if known[id] || rest != "rootfs" || mnt.FSType != "overlay" {
			continue
		}
		if err := unix.Unmount(mnt.Mountpoint, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount stale %s: %w", mnt.Mountpoint, err)
		}
		fmt.Fprintln(out, "Unmounted: "+mnt.Mountpoint)
	}
	entries, _ := os.ReadDir(base)
	for _, e := range entries {
		if known[e.Name()] || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if _, err := os.Stat(filepath.Join(base, e.Name(), "meta.json")); err == nil {
			continue
		}
		if err := s.RemoveDir(e.Name()); err != nil {
			return err
		}
		fmt.Fprintln(out, "Deleted: "+e.Name())
	}
	return nil
}
