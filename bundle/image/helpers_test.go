package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	ispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// The tests unpack device nodes, chown files and set trusted.* xattrs, all
// of which need root.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

func newStore(t *testing.T) *Store {
	t.Helper()
	needRoot(t)
	s, err := Open(filepath.Join(t.TempDir(), "images"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ent is one entry of a test tar.
type ent struct {
	name, body, link string
	typ              byte
	mode             int64
	uid, gid         int
	major, minor     int64
	xattrs           map[string]string
}

var testTime = time.Unix(1700000000, 0)

func file(name, body string) ent { return ent{name: name, body: body, typ: tar.TypeReg} }
func dir(name string) ent        { return ent{name: name, typ: tar.TypeDir} }
func symlink(name, target string) ent {
	return ent{name: name, link: target, typ: tar.TypeSymlink}
}

func mkTar(t *testing.T, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{
			Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode, Uid: e.uid, Gid: e.gid,
			Devmajor: e.major, Devminor: e.minor, ModTime: testTime, Format: tar.FormatPAX,
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if e.typ == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		for k, v := range e.xattrs {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sha(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func writeFile(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// testConfig is an image config with every field the store keeps.
func testConfig(layers ...[]byte) ispec.Image {
	created := testTime.UTC()
	c := ispec.Image{
		Created:  &created,
		Platform: ispec.Platform{Architecture: runtime.GOARCH, OS: "linux"},
		Config: ispec.ImageConfig{
			Env: []string{"PATH=/bin", "FOO=bar"}, Cmd: []string{"-c", "echo hi"}, Entrypoint: []string{"/bin/sh"},
			WorkingDir: "/work", User: "1000:1000", StopSignal: "SIGUSR1",
		},
		RootFS: ispec.RootFS{Type: "layers"},
	}
	for _, l := range layers {
		c.RootFS.DiffIDs = append(c.RootFS.DiffIDs, digest.Digest("sha256:"+sha(l)))
	}
	return c
}

// The two layers of the whiteout tests: the second deletes etc/removed and
// makes opq opaque.
func baseLayer(t *testing.T) []byte {
	return mkTar(t, dir("etc/"), file("etc/removed", "gone soon\n"), file("etc/kept", "kept\n"),
		dir("opq/"), file("opq/old", "old\n"), dir("opq/sub/"), file("opq/sub/deep", "deep\n"))
}

func topLayer(t *testing.T) []byte {
	return mkTar(t, dir("etc/"), file("etc/.wh.removed", ""), dir("opq/"), file("opq/.wh..wh..opq", ""),
		file("opq/new", "new\n"), file("top", "top layer\n"))
}

// writeBlob stores data as a blob of the OCI layout at dir.
func writeBlob(t *testing.T, dir, mediaType string, data []byte) ispec.Descriptor {
	t.Helper()
	h := sha(data)
	writeFile(t, filepath.Join(dir, "blobs", "sha256", h), data)
	return ispec.Descriptor{MediaType: mediaType, Digest: digest.Digest("sha256:" + h), Size: int64(len(data))}
}

// makeOCI writes an OCI layout of one image: layers are uncompressed tars,
// gzipped in the layout when zip says so. It returns the config digest hex.
func makeOCI(t *testing.T, dir string, layers [][]byte, zip []bool, cfg ispec.Image, name string) string {
	t.Helper()
	cfgData := mustJSON(t, cfg)
	m := ispec.Manifest{
		MediaType: ispec.MediaTypeImageManifest,
		Config:    writeBlob(t, dir, ispec.MediaTypeImageConfig, cfgData),
	}
	m.SchemaVersion = 2
	for i, l := range layers {
		if zip[i] {
			m.Layers = append(m.Layers, writeBlob(t, dir, ispec.MediaTypeImageLayerGzip, gz(t, l)))
		} else {
			m.Layers = append(m.Layers, writeBlob(t, dir, ispec.MediaTypeImageLayer, l))
		}
	}
	md := writeBlob(t, dir, ispec.MediaTypeImageManifest, mustJSON(t, m))
	md.Platform = &ispec.Platform{Architecture: runtime.GOARCH, OS: "linux"}
	if name != "" {
		md.Annotations = map[string]string{"io.containerd.image.name": name, ispec.AnnotationRefName: "latest"}
	}
	idx := ispec.Index{MediaType: ispec.MediaTypeImageIndex, Manifests: []ispec.Descriptor{md}}
	idx.SchemaVersion = 2
	writeFile(t, filepath.Join(dir, "index.json"), mustJSON(t, idx))
	writeFile(t, filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`))
	return sha(cfgData)
}

// makeDockerSave writes an unpacked `docker save` archive in the legacy
// layout: <id>.json config, <layer>/layer.tar, manifest.json, repositories.
func makeDockerSave(t *testing.T, dir string, layers [][]byte, cfg ispec.Image, tags []string) string {
	t.Helper()
	cfgData := mustJSON(t, cfg)
	id := sha(cfgData)
	writeFile(t, filepath.Join(dir, id+".json"), cfgData)
	m := dockerManifest{Config: id + ".json", RepoTags: tags}
	for _, l := range layers {
		p := sha(l) + "/layer.tar"
		writeFile(t, filepath.Join(dir, p), l)
		writeFile(t, filepath.Join(dir, sha(l), "VERSION"), []byte("1.0"))
		m.Layers = append(m.Layers, p)
	}
	writeFile(t, filepath.Join(dir, "manifest.json"), mustJSON(t, []dockerManifest{m}))
	writeFile(t, filepath.Join(dir, "repositories"), []byte("{}"))
	return id
}

// tarTree packs a directory of plain files (an image archive) as a tar.
func tarTree(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if d.Type().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = tw.Write(data)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// assertNothingLeft checks that the store holds no image, layer, name or
// temporary file.
func assertNothingLeft(t *testing.T, s *Store) {
	t.Helper()
	for _, d := range []string{imagesDir, layersDir, tmpDir} {
		entries, err := os.ReadDir(s.path(d))
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 0 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("%s/ is not empty: %v", d, names)
		}
	}
	if _, err := os.Stat(s.path(refsFile)); err == nil {
		t.Errorf("refs.json was written")
	}
}

func countLayers(t *testing.T, s *Store) int {
	t.Helper()
	entries, err := os.ReadDir(s.path(layersDir))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

func readString(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func lstat(t *testing.T, p string) *unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return &st
}

func xattr(p, name string) string {
	buf := make([]byte, 256)
	n, err := unix.Lgetxattr(p, name, buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

// mountOverlay stacks layers (lowest first) with overlayfs and returns the
// merged directory, or "" (after logging why) where overlayfs cannot be
// mounted. The mount goes away when the test ends.
func mountOverlay(t *testing.T, layers []string) string {
	t.Helper()
	d := t.TempDir()
	merged, upper, work := filepath.Join(d, "merged"), filepath.Join(d, "upper"), filepath.Join(d, "work")
	for _, p := range []string{merged, upper, work} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	lower := make([]string, len(layers))
	for i, l := range layers {
		lower[len(layers)-1-i] = l
	}
	opts := "lowerdir=" + strings.Join(lower, ":") + ",upperdir=" + upper + ",workdir=" + work
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Logf("overlayfs mount not possible here, merged view not checked: %v", err)
		return ""
	}
	t.Cleanup(func() {
		if err := unix.Unmount(merged, 0); err != nil {
			t.Errorf("unmount %s: %v", merged, err)
		}
	})
	return merged
}

func names(entries []os.DirEntry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}
