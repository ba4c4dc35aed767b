package docker

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/libcontainer/state"
)

// Meta is a container's metadata file: the seed's fields (id, name, pid,
// command, createdTime, status) plus what docker shows.
type Meta struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Pid         int       `json:"pid"`
	Command     string    `json:"command"`
	CreatedTime time.Time `json:"createdTime"`
	// Status is what the monitor last recorded: created, running, exited.
	// ps asks the runtime before trusting "running".
	Status     string    `json:"status"`
	Image      string    `json:"image"`
	ImageID    string    `json:"imageId"`
	ExitCode   int       `json:"exitCode"`
	StartedAt  time.Time `json:"startedAt,omitempty"`
	FinishedAt time.Time `json:"finishedAt,omitempty"`
	OOMKilled  bool      `json:"oomKilled"`
	StopSignal string    `json:"stopSignal,omitempty"`
	AutoRemove bool      `json:"autoRemove,omitempty"`
	MonitorPid int       `json:"monitorPid,omitempty"`
	// Runtime and RunRoot are the OCI runtime the container was made with:
	// every later verb uses them, whatever --runtime says then.
	Runtime string `json:"runtime,omitempty"`
	RunRoot string `json:"runRoot,omitempty"`
	// AttachSocket is where run -t attaches to the container's terminal.
	AttachSocket string     `json:"attachSocket,omitempty"`
	Options      RunOptions `json:"options"`
}

// Store keeps containers under Root/containers.
type Store struct {
	// Root is berth-docker's data dir (/var/lib/berth).
	Root string
	// RunRoot is the OCI runtime's --root for berth-docker's containers.
	RunRoot string
	// Runtime is the OCI runtime binary (berth or runc).
	Runtime string
}

// ForMeta is the store as the container m was created with: a container
// keeps the runtime (and its --root) it was made with, whatever --runtime
// says when a later verb reaches it.
func (s *Store) ForMeta(m *Meta) *Store {
	c := *s
	if m.Runtime != "" {
		c.Runtime = m.Runtime
	}
	if m.RunRoot != "" {
		c.RunRoot = m.RunRoot
	}
	return &c
}

// Dir is a container's directory: config.json, rootfs (the overlay
// mount point), upper, work, meta.json, container.log.
func (s *Store) Dir(id string) string { return filepath.Join(s.Root, "containers", id) }

// NewID makes a 64-hex container ID.
func NewID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// SaveMeta writes meta.json atomically.
func (s *Store) SaveMeta(m *Meta) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return state.WriteFileAtomic(filepath.Join(s.Dir(m.ID), "meta.json"), data, 0o644)
}

// LoadMeta reads a container's metadata by full ID.
func (s *Store) LoadMeta(id string) (*Meta, error) {
	data, err := os.ReadFile(filepath.Join(s.Dir(id), "meta.json"))
	if err != nil {
		return nil, err
	}
	var m Meta
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("container %s: bad metadata: %w", id, err)
	}
	return &m, nil
}

// List returns every container's metadata, newest first.
func (s *Store) List() ([]*Meta, error) {
	entries, err := os.ReadDir(filepath.Join(s.Root, "containers"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var res []*Meta
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if m, err := s.LoadMeta(e.Name()); err == nil {
			res = append(res, m)
		}
	}
	sort.Slice(res, func(i, j int) bool { return res[i].CreatedTime.After(res[j].CreatedTime) })
	return res, nil
}

// Find resolves a name, a full ID or a unique ID prefix, as docker does.
func (s *Store) Find(ref string) (*Meta, error) {
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	var matches []*Meta
	for _, m := range all {
		if m.Name == ref || m.ID == ref {
			return m, nil
		}
		if strings.HasPrefix(m.ID, ref) {
			matches = append(matches, m)
		}
	}
	if len(matches) == 1 && ref != "" {
		return matches[0], nil
	}
	if len(matches) > 1 {
		return nil, fmt.Errorf("multiple IDs found with provided prefix: %s", ref)
	}
	return nil, fmt.Errorf("No such container: %s", ref)
}

// MountRootfs mounts the overlay: the image layers (lowest first) below the
// container's own upper and work dirs.
func (s *Store) MountRootfs(id string, layers []string) error {
	dir := s.Dir(id)
	for _, d := range []string{"rootfs", "upper", "work"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if mounted, _ := s.rootfsMounted(id); mounted {
		return nil
	}
	lower := make([]string, len(layers))
	for i, l := range layers {
		// overlayfs lists the top lower dir first.
		lower[len(layers)-1-i] = l
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(lower, ":"),
		filepath.Join(dir, "upper"), filepath.Join(dir, "work"))
	if err := unix.Mount("overlay", filepath.Join(dir, "rootfs"), "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount overlay rootfs: %w", err)
	}
	return nil
}

// rootfsMounted checks /proc/self/mountinfo for the container's own overlay
// at its rootfs: the mount point exactly, of type overlay, with the
// container's upper dir, so a parent or unrelated mount never counts.
func (s *Store) rootfsMounted(id string) (bool, error) {
	target := filepath.Join(s.Dir(id), "rootfs")
	mounts, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(target))
	if err != nil {
		return false, err
	}
	upper := "upperdir=" + filepath.Join(s.Dir(id), "upper")
	for _, m := range mounts {
		if m.FSType == "overlay" && strings.Contains(","+m.VFSOptions+",", ","+upper+",") {
			return true, nil
		}
		if m.Mountpoint == target {
			return false, fmt.Errorf("%s is mounted, but not with the container's overlay (%s %s)", target, m.FSType, m.Source)
		}
	}
	return false, nil
}

// UnmountRootfs unmounts the container's overlay if, and only if, it is
// mounted there; a busy mount is retried for a while, then reported.
func (s *Store) UnmountRootfs(id string) error {
	target := filepath.Join(s.Dir(id), "rootfs")
	for i := 0; ; i++ {
		mounted, err := s.rootfsMounted(id)
		if err != nil || !mounted {
			return err
		}
		err = unix.Unmount(target, 0)
		if err == nil {
			continue // check again: it may have been mounted twice
		}
		if err != unix.EBUSY || i >= 50 {
			return fmt.Errorf("unmount %s: %w", target, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// RemoveDir removes the container's directory once its rootfs is
// unmounted; it never descends into a mounted rootfs.
func (s *Store) RemoveDir(id string) error {
	if err := s.UnmountRootfs(id); err != nil {
		return err
	}
	if mounted, _ := s.rootfsMounted(id); mounted {
		return fmt.Errorf("container %s: rootfs still mounted", id)
	}
	return os.RemoveAll(s.Dir(id))
}
