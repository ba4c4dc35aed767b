package image

import (
	"archive/tar"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/moby/go-archive/compression"
	digest "github.com/opencontainers/go-digest"
	ispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// maxJSON bounds the JSON documents (manifests, indexes, configs) read
// into memory, so that a hostile archive cannot make us allocate at will.
const maxJSON = 32 << 20

// source kinds, as recorded in an image's record.
const (
	kindRootfsTar  = "rootfs-tar"
	kindRootfsDir  = "rootfs-dir"
	kindOCI        = "oci-layout"
	kindDockerSave = "docker-archive"
	kindBusybox    = "busybox"
)

// pending is an image read and unpacked, not yet visible in the store.
type pending struct {
	rec    record
	layers []pendingLayer
	names  []string
}

// Import adds an image to the store and returns it. source is, told apart
// by content rather than by name:
//   - a rootfs tarball (plain or compressed): one layer;
//   - a rootfs directory: one layer holding a copy of it;
//   - an OCI image layout (index.json and blobs/), as a directory or a tar
//     archive; for a multi-platform index, the linux image for this
//     machine's architecture;
//   - a `docker save` archive (manifest.json, configs and layer tars), as
//     a tar archive (possibly compressed) or unpacked into a directory;
//   - "-": any of the archive forms, read from standard input.
//
// ref ("name" meaning "name:latest") names the image; a name already in
// use moves to the new image. With ref empty, a docker archive keeps its
// RepoTags and an OCI layout its io.containerd.image.name annotation; other
// images stay untagged. When an archive holds several images, the one named
// ref (if any) is imported, else the first.
//
// Every blob digest and layer diff ID is checked. Nothing becomes visible
// in the store until everything has been unpacked and checked, and a
// failed import leaves nothing behind.
func (s *Store) Import(source, ref string) (*Image, error) {
	var name string
	if ref != "" {
		var err error
		if name, err = normalizeName(ref); err != nil {
			return nil, err
		}
	}
	work, release, err := s.newWork()
	if err != nil {
		return nil, err
	}
	defer release()
	p, err := s.prepare(work, source, name)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", source, err)
	}
	img, err := s.commit(work, p)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", source, err)
	}
	return img, nil
}

// newWork makes a private directory under Root/tmp for an import and locks
// it, so that cleanTmp in another process knows it is alive. The directory
// is made under the shared store lock, which cleanTmp's exclusive one
// excludes, so it cannot be swept between creation and locking. release
// deletes it with whatever it still holds.
func (s *Store) newWork() (dir string, release func(), err error) {
	// The store's directories may have been removed since Open (prune,
	// a user); make them again first.
	if err := s.ensureDirs(); err != nil {
		return "", nil, err
	}
	unlock, err := s.lock(unix.LOCK_SH)
	if err != nil {
		return "", nil, err
	}
	defer unlock()
	dir, err = os.MkdirTemp(s.path(tmpDir), "import-")
	if err != nil {
		return "", nil, fmt.Errorf("image store: %w", err)
	}
	f, err := os.Open(dir)
	if err == nil {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("image store: lock %s: %w", dir, err)
	}
	return dir, func() {
		os.RemoveAll(dir)
		f.Close()
	}, nil
}

// prepare reads source into work and returns the image it makes.
func (s *Store) prepare(work, source, name string) (*pending, error) {
	if source == "-" {
		spool := filepath.Join(work, "stdin")
		f, err := os.OpenFile(spool, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, err
		}
		_, err = io.Copy(f, os.Stdin)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		source = spool
	}
	fi, err := os.Stat(source)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		switch dirKind(source) {
		case kindDockerSave:
			return s.fromDockerSave(work, source, name)
		case kindOCI:
			return s.fromOCILayout(work, source, name)
		}
		return s.fromRootfsDir(work, source, name)
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a file or directory")
	}
	src := filepath.Join(work, "src")
	kind, err := sniffArchive(source, src)
	if err != nil {
		return nil, err
	}
	switch kind {
	case kindDockerSave:
		return s.fromDockerSave(work, src, name)
	case kindOCI:
		return s.fromOCILayout(work, src, name)
	}
	return s.fromRootfsTar(work, source, name)
}

// dirKind tells an unpacked docker archive or OCI layout from a rootfs.
// manifest.json is tried first because `docker save` of docker 25 and later
// writes both forms, and its manifest.json carries the RepoTags.
func dirKind(dir string) string {
	isFile := func(name string) bool {
		fi, err := os.Stat(filepath.Join(dir, name))
		return err == nil && fi.Mode().IsRegular()
	}
	switch {
	case isFile("manifest.json"):
		return kindDockerSave
	case isFile("index.json") && (isFile("oci-layout") || isDir(filepath.Join(dir, "blobs"))):
		return kindOCI
	}
	return kindRootfsDir
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// sniffArchive reads a tar archive, plain or compressed, far enough to tell
// an image archive (OCI layout or docker save) from a rootfs tarball. An
// image archive is extracted into dst as it is read, so it is read once; a
// rootfs shows itself at its first entry that no image archive has (bin,
// etc, ...), so little is read twice.
func sniffArchive(file, dst string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	dr, err := compression.DecompressStream(f)
	if err != nil {
		return "", err
	}
	defer dr.Close()
	if err := os.Mkdir(dst, 0o700); err != nil {
		return "", err
	}
	root, err := os.OpenRoot(dst)
	if err != nil {
		return "", err
	}
	defer root.Close()
	tr := tar.NewReader(dr)
	top := map[string]bool{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("not a readable tar archive or directory: %w", err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name, err := entryName(hdr.Name)
		if err != nil {
			return "", err
		}
		if name == "" {
			continue
		}
		first, _, _ := strings.Cut(name, "/")
		if !imageArchiveName(first, name, hdr) {
			return kindRootfsTar, os.RemoveAll(dst)
		}
		top[first] = true
		if err := extractPlain(root, name, hdr, tr); err != nil {
			return "", fmt.Errorf("extract %s: %w", hdr.Name, err)
		}
	}
	// Read to the end so that a compressed archive checks its trailer.
	if _, err := io.Copy(io.Discard, dr); err != nil {
		return "", fmt.Errorf("read archive: %w", err)
	}
	switch {
	case top["manifest.json"]:
		return kindDockerSave, nil
	case top["index.json"]:
		return kindOCI, nil
	}
	return kindRootfsTar, os.RemoveAll(dst)
}

// imageArchiveName reports whether an entry can belong to an image
// archive: the top-level JSON files, OCI blobs, and the <id>/ directories
// and <id>.json configs of docker's legacy save format.
func imageArchiveName(first, name string, hdr *tar.Header) bool {
	switch first {
	case "manifest.json", "index.json", "oci-layout", "repositories":
		return name == first && hdr.Typeflag == tar.TypeReg
	case "blobs":
		return true
	}
	if isID(first) {
		return true
	}
	if id, ok := strings.CutSuffix(first, ".json"); ok && isID(id) {
		return name == first
	}
	return false
}

// extractPlain writes one entry of an image archive below root. Only what
// such archives hold is made: directories, files, and links (docker's
// legacy format links a repeated layer.tar to its first copy); anything
// else is skipped. os.Root keeps every path, symlinks included, inside.
func extractPlain(root *os.Root, name string, hdr *tar.Header, r io.Reader) error {
	if d := path.Dir(name); d != "." && hdr.Typeflag != tar.TypeDir {
		if err := root.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return root.MkdirAll(name, 0o700)
	case tar.TypeReg:
		root.Remove(name)
		f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	case tar.TypeSymlink:
		root.Remove(name)
		return root.Symlink(hdr.Linkname, name)
	case tar.TypeLink:
		target, err := entryName(hdr.Linkname)
		if err != nil {
			return err
		}
		root.Remove(name)
		return root.Link(target, name)
	}
	return nil
}

// fromRootfsTar makes a one-layer image of a rootfs tarball.
func (s *Store) fromRootfsTar(work, file, name string) (*pending, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	l, err := unpackLayer(work, f, "")
	if err != nil {
		return nil, err
	}
	return rootfsImage(l, ImageConfig{}, time.Now().UTC(), kindRootfsTar, "berth import "+file, name)
}

// fromRootfsDir makes a one-layer image of a copy of a directory.
func (s *Store) fromRootfsDir(work, dir, name string) (*pending, error) {
	if err := s.notOverlapping(dir); err != nil {
		return nil, err
	}
	l, err := layerFromDir(work, dir, time.Time{})
	if err != nil {
		return nil, err
	}
	return rootfsImage(l, ImageConfig{}, time.Now().UTC(), kindRootfsDir, "berth import "+dir, name)
}

// notOverlapping refuses a rootfs directory that contains the store or is
// inside it: copying it would copy the copy being made, or a layer.
func (s *Store) notOverlapping(dir string) error {
	src, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	if src, err = filepath.Abs(src); err != nil {
		return err
	}
	root, err := filepath.EvalSymlinks(s.Root)
	if err != nil {
		return err
	}
	within := func(a, b string) bool {
		rel, err := filepath.Rel(b, a)
		return err == nil && (rel == "." || filepath.IsLocal(rel))
	}
	if within(src, root) || within(root, src) {
		return fmt.Errorf("%s overlaps the image store %s", dir, s.Root)
	}
	return nil
}

// layerFromDir unpacks a copy of dir as a layer, by archiving it and
// unpacking the archive, so that a directory gets the same treatment (and
// the same kind of diff ID) as any layer tar.
func layerFromDir(work, dir string, mtime time.Time) (pendingLayer, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarDir(dir, pw, mtime)) }()
	l, err := unpackLayer(work, pr, "")
	pr.CloseWithError(errUnpackStopped) // stops tarDir if unpacking gave up
	return l, err
}

// rootfsImage makes the image for a single rootfs layer, with an OCI
// config written for it, whose sha256 is the image ID as for any image.
func rootfsImage(l pendingLayer, cfg ImageConfig, created time.Time, kind, createdBy, name string) (*pending, error) {
	oc := ispec.Image{
		Created:  &created,
		Platform: ispec.Platform{Architecture: runtime.GOARCH, OS: "linux"},
		Config: ispec.ImageConfig{
			Env: cfg.Env, Cmd: cfg.Cmd, Entrypoint: cfg.Entrypoint,
			WorkingDir: cfg.WorkingDir, User: cfg.User, StopSignal: cfg.StopSignal,
		},
		RootFS:  ispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.Digest(l.diffID)}},
		History: []ispec.History{{Created: &created, CreatedBy: createdBy}},
	}
	data, err := json.Marshal(oc)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	p := &pending{
		rec: record{
			ID: hex.EncodeToString(sum[:]), Created: created, Config: cfg, Source: kind,
			Layers: []layerRef{{DiffID: l.diffID, Size: l.size}},
		},
		layers: []pendingLayer{l},
	}
	if name != "" {
		p.names = []string{name}
	}
	return p, nil
}

// dockerManifest is one entry of a `docker save` manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// fromDockerSave imports from an unpacked `docker save` archive.
func (s *Store) fromDockerSave(work, dir, name string) (*pending, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	data, err := readFile(root, "manifest.json")
	if err != nil {
		return nil, err
	}
	var ms []dockerManifest
	if err := json.Unmarshal(data, &ms); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	if len(ms) == 0 {
		return nil, errors.New("manifest.json lists no image")
	}
	m := ms[0]
	if name != "" {
	find:
		for _, c := range ms {
			for _, t := range c.RepoTags {
				if n, err := normalizeName(t); err == nil && n == name {
					m = c
					break find
				}
			}
		}
	}
	if m.Config == "" {
		return nil, errors.New("manifest.json: image without Config")
	}
	cfgData, err := readFile(root, m.Config)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(cfgData)
	p, err := s.fromConfig(work, hex.EncodeToString(sum[:]), cfgData, len(m.Layers), func(i int) (io.ReadCloser, error) {
		return root.Open(m.Layers[i])
	})
	if err != nil {
		return nil, err
	}
	p.rec.Source = kindDockerSave
	if name != "" {
		p.names = []string{name}
	} else {
		for _, t := range m.RepoTags {
			if n, err := normalizeName(t); err == nil {
				p.names = append(p.names, n)
			}
		}
	}
	return p, nil
}

// fromOCILayout imports from an OCI image layout directory.
func (s *Store) fromOCILayout(work, dir, name string) (*pending, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	if data, err := readFile(root, "oci-layout"); err == nil {
		var l ispec.ImageLayout
		if err := json.Unmarshal(data, &l); err != nil {
			return nil, fmt.Errorf("oci-layout: %w", err)
		}
		if l.Version != ispec.ImageLayoutVersion {
			return nil, fmt.Errorf("oci-layout: unsupported version %q", l.Version)
		}
	}
	data, err := readFile(root, "index.json")
	if err != nil {
		return nil, err
	}
	var idx ispec.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	m, annotated, err := pickManifest(root, idx.Manifests, name, 0)
	if err != nil {
		return nil, err
	}
	cfgData, err := readBlob(root, m.Config)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(cfgData)
	p, err := s.fromConfig(work, hex.EncodeToString(sum[:]), cfgData, len(m.Layers), func(i int) (io.ReadCloser, error) {
		return openBlob(root, m.Layers[i])
	})
	if err != nil {
		return nil, err
	}
	p.rec.Source = kindOCI
	switch {
	case name != "":
		p.names = []string{name}
	case annotated != "":
		p.names = []string{annotated}
	}
	return p, nil
}

// Manifest media types that hold an image or point at several.
const (
	dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	dockerManifestV2   = "application/vnd.docker.distribution.manifest.v2+json"
	dockerConfig       = "application/vnd.docker.container.image.v1+json"
)

// errNotForUs marks a manifest that is not a linux image for this machine,
// so that the search goes on.
var errNotForUs = errors.New("no linux/" + runtime.GOARCH + " image")

// pickManifest chooses the image to import among descriptors (of index.json
// or of a nested index): the ones named name if any are, else all; then the
// first that is a linux image for this machine, following nested indexes.
// It also returns the name the chosen top-level descriptor is annotated with.
func pickManifest(root *os.Root, descs []ispec.Descriptor, name string, depth int) (*ispec.Manifest, string, error) {
	if depth > 4 {
		return nil, "", errors.New("indexes nested too deep")
	}
	if name != "" {
		var named []ispec.Descriptor
		for _, d := range descs {
			if annotatedName(d) == name {
				named = append(named, d)
			}
		}
		if len(named) > 0 {
			descs = named
		}
	}
	for _, d := range descs {
		if !platformOK(d.Platform) || d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			continue
		}
		data, err := readBlob(root, d)
		if err != nil {
			return nil, "", err
		}
		var doc struct {
			MediaType string             `json:"mediaType"`
			Manifests []ispec.Descriptor `json:"manifests"`
			Config    *ispec.Descriptor  `json:"config"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, "", fmt.Errorf("manifest %s: %w", d.Digest, err)
		}
		switch {
		case doc.Manifests != nil || doc.MediaType == ispec.MediaTypeImageIndex || doc.MediaType == dockerManifestList:
			m, _, err := pickManifest(root, doc.Manifests, "", depth+1)
			if errors.Is(err, errNotForUs) {
				continue
			}
			return m, annotatedName(d), err
		case doc.Config != nil:
			switch doc.Config.MediaType {
			case ispec.MediaTypeImageConfig, dockerConfig, "":
			default:
				continue // an artifact, not a container image
			}
			var m ispec.Manifest
			if err := json.Unmarshal(data, &m); err != nil {
				return nil, "", fmt.Errorf("manifest %s: %w", d.Digest, err)
			}
			return &m, annotatedName(d), nil
		}
		return nil, "", fmt.Errorf("manifest %s: unsupported media type %q", d.Digest, doc.MediaType)
	}
	return nil, "", errNotForUs
}

// platformOK reports whether a descriptor's platform (nil: unknown) can
// run here. The architecture variant is not checked: what we could compare
// it with is not known reliably.
func platformOK(p *ispec.Platform) bool {
	return p == nil || (p.OS == "" || p.OS == "linux") && (p.Architecture == "" || p.Architecture == runtime.GOARCH)
}

// annotatedName is the image name a descriptor is annotated with, in
// stored form, or "". containerd's full name is preferred; the OCI ref.name
// is often just a tag ("latest"), which names nothing on its own.
func annotatedName(d ispec.Descriptor) string {
	n := d.Annotations["io.containerd.image.name"]
	if n == "" {
		n = d.Annotations[ispec.AnnotationRefName]
		if !strings.ContainsAny(n, ":/") {
			return ""
		}
	}
	if n, err := normalizeName(n); err == nil {
		return n
	}
	return ""
}

// fromConfig reads an image config and unpacks its layers; open(i) opens
// the i-th layer tar. A layer the store (or this import) already has, per
// the config's diff IDs, is not read at all.
func (s *Store) fromConfig(work, id string, cfgData []byte, nlayers int, open func(i int) (io.ReadCloser, error)) (*pending, error) {
	var oc ispec.Image
	if err := json.Unmarshal(cfgData, &oc); err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	if oc.OS != "" && oc.OS != "linux" {
		return nil, fmt.Errorf("image is for %s, not linux", oc.OS)
	}
	diffIDs := oc.RootFS.DiffIDs
	if len(diffIDs) != nlayers {
		return nil, fmt.Errorf("image config lists %d diff IDs for %d layers", len(diffIDs), nlayers)
	}
	p := &pending{rec: record{
		ID: id, Created: time.Now().UTC(),
		Config: ImageConfig{
			Env: oc.Config.Env, Cmd: oc.Config.Cmd, Entrypoint: oc.Config.Entrypoint,
			WorkingDir: oc.Config.WorkingDir, User: oc.Config.User, StopSignal: oc.Config.StopSignal,
		},
	}}
	if oc.Created != nil {
		p.rec.Created = oc.Created.UTC()
	}
	here := map[string]int64{} // diff ID -> size, for layers this import unpacked
	for i, d := range diffIDs {
		want := string(d)
		if hx, ok := strings.CutPrefix(want, "sha256:"); !ok || !isID(hx) {
			return nil, fmt.Errorf("image config: unsupported diff ID %q", want)
		}
		l := pendingLayer{diffID: want}
		if size, ok := here[want]; ok {
			l.size = size
		} else if info, ok := s.storedLayer(want); ok {
			l.size = info.Size
		} else {
			rc, err := open(i)
			if err != nil {
				return nil, fmt.Errorf("layer %d: %w", i+1, err)
			}
			l, err = unpackLayer(work, rc, want)
			rc.Close()
			if err != nil {
				return nil, fmt.Errorf("layer %d: %w", i+1, err)
			}
			here[want] = l.size
		}
		p.layers = append(p.layers, l)
		p.rec.Layers = append(p.rec.Layers, layerRef{DiffID: l.diffID, Size: l.size})
	}
	return p, nil
}

// storedLayer returns the store's layer with the given diff ID, if it has
// it. Only a hint while unpacking: commit checks again under the lock.
func (s *Store) storedLayer(diffID string) (layerInfo, bool) {
	var info layerInfo
	data, err := os.ReadFile(filepath.Join(s.layerDir(diffID), layerJSON))
	if err != nil || json.Unmarshal(data, &info) != nil || info.DiffID != diffID {
		return info, false
	}
	return info, true
}

// readFile reads a small file of an archive.
func readFile(root *os.Root, name string) ([]byte, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxJSON+1))
	if err == nil && len(data) > maxJSON {
		err = fmt.Errorf("%s: larger than %d bytes", name, maxJSON)
	}
	return data, err
}

// readBlob reads a small blob of an OCI layout, checked against its
// descriptor.
func readBlob(root *os.Root, d ispec.Descriptor) ([]byte, error) {
	if d.Size > maxJSON {
		return nil, fmt.Errorf("blob %s: larger than %d bytes", d.Digest, maxJSON)
	}
	rc, err := openBlob(root, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, maxJSON+1))
}

// openBlob opens a blob of an OCI layout. Reading it to the end fails if
// its size or digest is not the descriptor's.
func openBlob(root *os.Root, d ispec.Descriptor) (io.ReadCloser, error) {
	// Parsed by hand: go-digest's accessors panic on a digest without ":".
	alg, enc, _ := strings.Cut(string(d.Digest), ":")
	var h hash.Hash
	switch alg {
	case "sha256":
		h = sha256.New()
	case "sha512":
		h = sha512.New()
	default:
		return nil, fmt.Errorf("blob %q: unsupported digest", d.Digest)
	}
	// The check also keeps the digest from naming a path outside blobs/.
	if len(enc) != h.Size()*2 || !isHex(enc) {
		return nil, fmt.Errorf("blob %q: malformed digest", d.Digest)
	}
	f, err := root.Open(path.Join("blobs", alg, enc))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	return &checkedBlob{f: f, h: h, want: enc, size: d.Size, d: d.Digest}, nil
}

// checkedBlob hashes a blob as it is read and turns a mismatch into a read
// error at the end, so that a bad blob fails the import wherever it is read.
type checkedBlob struct {
	f    *os.File
	h    hash.Hash
	want string
	size int64
	n    int64
	d    digest.Digest
}

func (b *checkedBlob) Read(p []byte) (int, error) {
	n, err := b.f.Read(p)
	b.h.Write(p[:n])
	b.n += int64(n)
	if err == io.EOF {
		if b.n != b.size {
			return n, fmt.Errorf("blob %s: %d bytes, descriptor says %d", b.d, b.n, b.size)
		}
		if got := hex.EncodeToString(b.h.Sum(nil)); got != b.want {
			return n, fmt.Errorf("blob %s: content digest is %s", b.d, got)
		}
	}
	return n, err
}

func (b *checkedBlob) Close() error { return b.f.Close() }

// commit makes a prepared image visible: layers renamed into place, the
// record written, names moved. It runs under the exclusive lock, and undoes
// what it did if any step fails, so the store never shows half an image.
func (s *Store) commit(work string, p *pending) (img *Image, err error) {
	unlock, err := s.lock(unix.LOCK_EX)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Make the unpacked files durable before renames make them visible,
	// so a crash cannot leave a visible layer with lost contents.
	if fd, err := unix.Open(work, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
		unix.Syncfs(fd)
		unix.Close(fd)
	}
	var added []string
	recPath := s.path(imagesDir, p.rec.ID+".json")
	wroteRecord := false
	defer func() {
		if err == nil {
			return
		}
		if wroteRecord {
			os.Remove(recPath)
		}
		for i, dst := range added {
			// Back into work, which release deletes.
			os.Rename(dst, filepath.Join(work, fmt.Sprintf("undo-%d", i)))
		}
	}()
	for _, l := range p.layers {
		dst := s.layerDir(l.diffID)
		if _, err := os.Lstat(dst); err == nil {
			continue
		}
		if l.dir == "" {
			return nil, fmt.Errorf("layer %s was removed while importing; try again", l.diffID)
		}
		if err := os.Rename(l.dir, dst); err != nil {
			return nil, fmt.Errorf("store layer: %w", err)
		}
		added = append(added, dst)
	}
	if _, err := os.Stat(recPath); errors.Is(err, fs.ErrNotExist) {
		if err := writeJSON(recPath, &p.rec); err != nil {
			return nil, err
		}
		wroteRecord = true
	}
	st, err := s.load()
	if err != nil {
		return nil, err
	}
	if len(p.names) > 0 {
		for _, n := range p.names {
			st.refs[n] = p.rec.ID
		}
		if err := s.writeRefs(st.refs); err != nil {
			return nil, err
		}
	}
	// Our own work directory is locked through another descriptor, so
	// this only clears what crashed imports left.
	s.cleanTmp()
	r := st.records[p.rec.ID]
	if r == nil {
		return nil, errors.New("image record vanished")
	}
	return s.image(st, r), nil
}
