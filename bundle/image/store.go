package image

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultRoot is where berth-docker keeps images when it is not told
// otherwise.
const DefaultRoot = "/var/lib/berth/images"

// Store is an image store rooted at a directory. Every method takes its
// location from Root, so any number of stores (for example one per test)
// can live side by side; the zero value is not usable, call Open.
type Store struct {
	// Root is the absolute directory holding the store's files.
	Root string
}

// Image is an imported image as the rest of berth-docker needs it.
type Image struct {
	// ID is the 64-hex sha256 of the image config: the config blob of an
	// OCI or docker image, or the config Import made for a rootfs.
	ID string
	// Names are the "name:tag" references that point at the image, sorted.
	Names []string
	// Created is when the image was made, per its config.
	Created time.Time
	// Size is the sum of the layers' regular file sizes, uncompressed.
	Size int64
	// Config holds the parts of the image config that shape a container.
	Config ImageConfig
	// Layers are the unpacked layer directories, lowest first, each usable
	// as an overlayfs lowerdir (overlayfs lists them topmost first).
	Layers []string
}

// ImageConfig is the subset of the OCI/docker image config ("config" in
// the config JSON) that the container spec is built from; field names and
// JSON keys follow the OCI image spec.
type ImageConfig struct {
	// Env is the default environment, KEY=VALUE.
	Env []string `json:"Env,omitempty"`
	// Cmd is the default command, or the default arguments to Entrypoint.
	Cmd []string `json:"Cmd,omitempty"`
	// Entrypoint is the command that Cmd (or the run arguments) follow.
	Entrypoint []string `json:"Entrypoint,omitempty"`
	// WorkingDir is the initial working directory.
	WorkingDir string `json:"WorkingDir,omitempty"`
	// User is USER[:GROUP], names or numbers, resolved in the rootfs.
	User string `json:"User,omitempty"`
	// StopSignal is the signal `stop` sends first, e.g. "SIGTERM".
	StopSignal string `json:"StopSignal,omitempty"`
}

// NotFoundError says that a reference names no image. Its text is
// docker's, because scripts match on it.
type NotFoundError struct {
	// Ref is the reference as the caller gave it.
	Ref string
}

// Error returns docker's wording, "No such image: REF".
func (e *NotFoundError) Error() string { return "No such image: " + e.Ref }

// InUseError says that Remove refused because a container uses the image.
type InUseError struct {
	// ID is the image's ID.
	ID string
}

// Error returns the fixed text berth-docker reports; the ID is in the
// struct for callers that want to say more.
func (e *InUseError) Error() string { return "image is being used by a container" }

// record is an image's metadata file, Root/images/<id>.json. Names are not
// in it: refs.json alone says which name points where.
type record struct {
	ID      string      `json:"id"`
	Created time.Time   `json:"created"`
	Config  ImageConfig `json:"config"`
	Layers  []layerRef  `json:"layers"`
	// Source says what kind of input the image came from, for people
	// reading the file.
	Source string `json:"source,omitempty"`
}

// layerRef names one layer of an image by its diff ID.
type layerRef struct {
	DiffID string `json:"diffID"` // "sha256:<64 hex>"
	Size   int64  `json:"size"`
}

// layerInfo is Root/layers/<hex>/layer.json, written before the layer is
// renamed into place so that a layer reused by a later import knows its size.
type layerInfo struct {
	DiffID string `json:"diffID"`
	Size   int64  `json:"size"`
}

const (
	imagesDir = "images"
	layersDir = "layers"
	tmpDir    = "tmp"
	refsFile  = "refs.json"
	lockFile  = "lock"
	diffDir   = "diff"
	layerJSON = "layer.json"
)

// Open returns the store at root (DefaultRoot if empty), creating its
// directories. The root is made absolute because layer paths handed out
// are used as overlayfs mount options, which must not depend on the cwd.
func Open(root string) (*Store, error) {
	if root == "" {
		root = DefaultRoot
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("image store %q: %w", root, err)
	}
	s := &Store{Root: abs}
	if err := s.ensureDirs(); err != nil {
		return nil, err
	}
	return s, nil
}

// ensureDirs creates the store's directories. The root is 0700 because
// layers hold other people's setuid binaries and device nodes, which a
// host user must not be able to reach through the store.
func (s *Store) ensureDirs() error {
	if err := os.MkdirAll(s.Root, 0o700); err != nil {
		return fmt.Errorf("image store: %w", err)
	}
	for _, d := range []string{imagesDir, layersDir, tmpDir} {
		if err := os.Mkdir(filepath.Join(s.Root, d), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("image store: %w", err)
		}
	}
	return nil
}

func (s *Store) path(elem ...string) string {
	return filepath.Join(append([]string{s.Root}, elem...)...)
}

// layerDir is where the layer with the given diff ID lives.
func (s *Store) layerDir(diffID string) string {
	return s.path(layersDir, strings.TrimPrefix(diffID, "sha256:"))
}

// lock takes the store-wide flock: shared (unix.LOCK_SH) for readers so
// they see refs and records that agree, exclusive (unix.LOCK_EX) for
// anything that changes refs, records or layers, so that concurrent
// berth-docker processes never interleave those changes. A missing store
// reads as empty, so a shared lock on it is a no-op.
func (s *Store) lock(how int) (unlock func(), err error) {
	f, err := os.OpenFile(s.path(lockFile), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		if how == unix.LOCK_SH && errors.Is(err, fs.ErrNotExist) {
			return func() {}, nil
		}
		return nil, fmt.Errorf("lock image store: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock image store: %w", err)
	}
	return func() { f.Close() }, nil
}

// state is one consistent reading of the store's metadata.
type state struct {
	refs    map[string]string
	records map[string]*record
}

// readState loads the store's state under the shared lock, which the
// caller releases with unlock when it is done reading.
func (s *Store) readState() (st *state, unlock func(), err error) {
	if unlock, err = s.lock(unix.LOCK_SH); err != nil {
		return nil, nil, err
	}
	if st, err = s.load(); err != nil {
		unlock()
		return nil, nil, err
	}
	return st, unlock, nil
}

// load reads refs.json and every image record. Records are few and small,
// so reading them all keeps lookups simple and consistent.
func (s *Store) load() (*state, error) {
	st := &state{refs: map[string]string{}, records: map[string]*record{}}
	data, err := os.ReadFile(s.path(refsFile))
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &st.refs); err != nil {
			return nil, fmt.Errorf("image store %s: %w", s.path(refsFile), err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("image store: %w", err)
	}
	entries, err := os.ReadDir(s.path(imagesDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("image store: %w", err)
	}
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !isID(id) {
			continue // temporary files of a write in progress
		}
		data, err := os.ReadFile(s.path(imagesDir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
		var r record
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("image store %s: %w", s.path(imagesDir, e.Name()), err)
		}
		if r.ID != id {
			return nil, fmt.Errorf("image store %s: records image %q", s.path(imagesDir, e.Name()), r.ID)
		}
		st.records[id] = &r
	}
	return st, nil
}

// names lists, sorted, the references that point at id.
func (st *state) names(id string) []string {
	var names []string
	for n, i := range st.refs {
		if i == id {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// image turns a record into the Image callers see. A layer that occurs
// more than once keeps only its topmost place: overlayfs refuses a lowerdir
// given twice, and the topmost copy already hides or re-applies everything
// the lower one did, so the view is the same.
func (s *Store) image(st *state, r *record) *Image {
	img := &Image{ID: r.ID, Names: st.names(r.ID), Created: r.Created, Config: r.Config}
	seen := map[string]bool{}
	var rev []string
	for i := len(r.Layers) - 1; i >= 0; i-- {
		l := r.Layers[i]
		img.Size += l.Size
		if seen[l.DiffID] {
			continue
		}
		seen[l.DiffID] = true
		rev = append(rev, filepath.Join(s.layerDir(l.DiffID), diffDir))
	}
	for i := len(rev) - 1; i >= 0; i-- {
		img.Layers = append(img.Layers, rev[i])
	}
	return img
}

// List returns every image, newest first as `docker images` shows them.
func (s *Store) List() ([]*Image, error) {
	st, unlock, err := s.readState()
	if err != nil {
		return nil, err
	}
	defer unlock()
	imgs := make([]*Image, 0, len(st.records))
	for _, r := range st.records {
		imgs = append(imgs, s.image(st, r))
	}
	sort.Slice(imgs, func(i, j int) bool {
		if !imgs[i].Created.Equal(imgs[j].Created) {
			return imgs[i].Created.After(imgs[j].Created)
		}
		return imgs[i].ID < imgs[j].ID
	})
	return imgs, nil
}

// Get finds an image by "name[:tag]" (tag defaults to latest), by full ID,
// or by a prefix of its ID that no other image shares; an ID may carry a
// "sha256:" prefix. Names win over ID prefixes, as in docker, so a name
// that happens to be hex still means the name.
func (s *Store) Get(ref string) (*Image, error) {
	st, unlock, err := s.readState()
	if err != nil {
		return nil, err
	}
	defer unlock()
	id, _, err := st.resolve(ref)
	if err != nil {
		return nil, err
	}
	return s.image(st, st.records[id]), nil
}

// resolve finds the image ref means; name is the normalized name when ref
// was a name rather than an ID.
func (st *state) resolve(ref string) (id, name string, err error) {
	if n, err := normalizeName(ref); err == nil {
		if id, ok := st.refs[n]; ok && st.records[id] != nil {
			return id, n, nil
		}
	}
	p := strings.TrimPrefix(ref, "sha256:")
	if p != "" && len(p) <= 64 && isHex(p) {
		var found []string
		for id := range st.records {
			if strings.HasPrefix(id, p) {
				found = append(found, id)
			}
		}
		switch {
		case len(found) == 1:
			return found[0], "", nil
		case len(found) > 1:
			return "", "", fmt.Errorf("multiple IDs found with provided prefix: %s", ref)
		}
	}
	return "", "", &NotFoundError{Ref: ref}
}

// Remove deletes an image, docker-style. Given a name that is one of
// several on its image, it only removes that name. Otherwise (the last
// name, or an ID) it removes the image with all its names, unless inUse
// (which may be nil) reports that a container uses it, and then deletes
// every layer that no remaining image refers to.
func (s *Store) Remove(ref string, inUse func(id string) bool) error {
	unlock, err := s.lock(unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := s.load()
	if err != nil {
		return err
	}
	id, name, err := st.resolve(ref)
	if err != nil {
		return err
	}
	if name != "" && len(st.names(id)) > 1 {
		delete(st.refs, name)
		return s.writeRefs(st.refs)
	}
	if inUse != nil && inUse(id) {
		return &InUseError{ID: id}
	}
	// Names go first: if we stop half way, what is left is an untagged
	// image or unreferenced layers, which the next Remove sweeps, never a
	// name pointing at nothing.
	for _, n := range st.names(id) {
		delete(st.refs, n)
	}
	if err := s.writeRefs(st.refs); err != nil {
		return err
	}
	if err := os.Remove(s.path(imagesDir, id+".json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove image %s: %w", id, err)
	}
	delete(st.records, id)
	return s.sweepLayers(st)
}

// sweepLayers deletes the layers that no image in st refers to, including
// any left by an interrupted import or removal, and clears stale temporary
// directories. Each layer is first renamed out of layers/ so that no
// half-deleted layer is ever visible there. The caller holds the exclusive
// lock.
func (s *Store) sweepLayers(st *state) error {
	used := map[string]bool{}
	for _, r := range st.records {
		for _, l := range r.Layers {
			used[strings.TrimPrefix(l.DiffID, "sha256:")] = true
		}
	}
	entries, err := os.ReadDir(s.path(layersDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("image store: %w", err)
	}
	for _, e := range entries {
		if used[e.Name()] {
			continue
		}
		grave, err := os.MkdirTemp(s.path(tmpDir), "gc-")
		if err != nil {
			return fmt.Errorf("remove layer %s: %w", e.Name(), err)
		}
		if err := os.Rename(s.path(layersDir, e.Name()), filepath.Join(grave, "layer")); err != nil {
			return fmt.Errorf("remove layer %s: %w", e.Name(), err)
		}
	}
	s.cleanTmp()
	return nil
}

// cleanTmp deletes what interrupted imports and removals left in Root/tmp.
// An import in progress holds an flock on its own directory, so anything
// that can be locked here belongs to nobody. The caller holds the exclusive
// store lock, which keeps new imports from creating directories meanwhile.
func (s *Store) cleanTmp() {
	entries, _ := os.ReadDir(s.path(tmpDir))
	for _, e := range entries {
		p := s.path(tmpDir, e.Name())
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			os.RemoveAll(p)
		}
		f.Close()
	}
}

// writeRefs replaces refs.json.
func (s *Store) writeRefs(refs map[string]string) error {
	return writeJSON(s.path(refsFile), refs)
}

// writeJSON writes v to path atomically: a reader sees the old file or the
// new one, and after a crash the file is one or the other, never torn.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(data, '\n'))
}

func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s + strings.Repeat("0", len(s)%2))
	return err == nil && strings.ToLower(s) == s
}

// isID reports whether s has the form of an image ID.
func isID(s string) bool { return len(s) == 64 && isHex(s) }
