package docker

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/bundle/image"
	"github.com/berth-runtime/berth/libcontainer/state"
)

// Create makes a container: name, overlay rootfs, bundle and metadata.
// Nothing is left behind when it fails.
func (s *Store) Create(is *image.Store, ref string, o *RunOptions) (m *Meta, err error) {
	img, err := is.Get(ref)
	if err != nil {
		return nil, err
	}
	// Names are checked and taken under one lock, so two runs with the
	// same name cannot both win.
	unlock, err := s.lockNames()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := s.checkName(o.Name); err != nil {
		return nil, err
	}
	id := NewID()
	if o.Name == "" {
		o.Name = generateName(id)
	}
	dir := s.Dir(id)
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.RemoveDir(id)
		}
	}()
	if err = s.MountRootfs(id, img.Layers); err != nil {
		return nil, err
	}
	spec, err := Spec(img, o, id, filepath.Join(dir, "rootfs"))
	if err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return nil, err
	}
	if err = state.WriteFileAtomic(filepath.Join(dir, "config.json"), data, 0o600); err != nil {
		return nil, err
	}
	m = &Meta{
		ID: id, Name: o.Name, Command: strings.Join(spec.Process.Args, " "), CreatedTime: time.Now().UTC(),
		Status: "created", Image: ref, ImageID: img.ID, StopSignal: img.Config.StopSignal,
		// A foreground run removes the container itself once it has the
		// exit code; a detached one leaves that to the monitor.
		AutoRemove: o.Remove && o.Detach, Options: *o, Runtime: s.Runtime, RunRoot: s.RunRoot,
	}
	return m, s.SaveMeta(m)
}

// checkName refuses a name docker would refuse: malformed or taken. The
// empty name is fine: Create makes one up.
func (s *Store) checkName(name string) error {
	if name == "" {
		return nil
	}
	if !validName(name) {
		return fmt.Errorf("invalid container name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	all, err := s.List()
	if err != nil {
		return err
	}
	for _, other := range all {
		if other.Name == name {
			return fmt.Errorf("the container name %q is already in use by container %s", name, other.ID[:12])
		}
	}
	return nil
}

// lockNames takes the store-wide lock for name assignment.
func (s *Store) lockNames() (func(), error) {
	if err := os.MkdirAll(s.Root, 0o711); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(s.Root, "containers.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

func validName(n string) bool {
	for i, r := range n {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || i > 0 && strings.ContainsRune("_.-", r)
		if !ok {
			return false
		}
	}
	return n != ""
}

var adjectives = []string{"brave", "calm", "eager", "fond", "happy", "jolly", "keen", "lucid", "merry", "quiet", "swift", "witty"}
var nouns = []string{"anchor", "berth", "buoy", "deck", "harbor", "hull", "keel", "mast", "pier", "quay", "rudder", "sail"}

// generateName makes a docker-style adjective_noun name from the ID.
func generateName(id string) string {
	n, _ := strconv.ParseUint(id[:8], 16, 64)
	return adjectives[n%uint64(len(adjectives))] + "_" + nouns[(n/97)%uint64(len(nouns))] + "_" + id[:4]
}
