package image

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// rootfsEntries is a rootfs with every kind of entry the store must keep.
func rootfsEntries() []ent {
	return []ent{
		dir("./"),
		dir("./bin/"),
		{name: "./bin/hello", body: "#!/bin/sh\necho hello\n", typ: tar.TypeReg, mode: 0o755},
		{name: "./bin/hello2", link: "./bin/hello", typ: tar.TypeLink, mode: 0o755}, // tar gives a link its inode's mode
		{name: "./bin/su", body: "setuid\n", typ: tar.TypeReg, mode: 0o4755},
		dir("./dev/"),
		{name: "./dev/null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3},
		{name: "./dev/loop9", typ: tar.TypeBlock, mode: 0o660, major: 7, minor: 9},
		{name: "./run/fifo", typ: tar.TypeFifo, mode: 0o600},
		symlink("./lib", "usr/lib"),
		symlink("./abs", "/etc/kept"),
		{name: "./home/user/file", body: "owned\n", typ: tar.TypeReg, mode: 0o640, uid: 1000, gid: 2000},
		{name: "./etc/attr", body: "x\n", typ: tar.TypeReg, xattrs: map[string]string{"user.berth": "yes"}},
		{name: "./tmp/", typ: tar.TypeDir, mode: 0o1777},
	}
}

// checkRootfs checks that a layer directory holds rootfsEntries faithfully.
func checkRootfs(t *testing.T, l string) {
	t.Helper()
	if got := readString(t, filepath.Join(l, "bin/hello")); got != "#!/bin/sh\necho hello\n" {
		t.Errorf("bin/hello = %q", got)
	}
	if st := lstat(t, filepath.Join(l, "bin/hello")); st.Mode&0o7777 != 0o755 || st.Nlink != 2 {
		t.Errorf("bin/hello mode %o nlink %d", st.Mode&0o7777, st.Nlink)
	}
	if a, b := lstat(t, filepath.Join(l, "bin/hello")), lstat(t, filepath.Join(l, "bin/hello2")); a.Ino != b.Ino {
		t.Errorf("bin/hello2 is not a hardlink of bin/hello")
	}
	if st := lstat(t, filepath.Join(l, "bin/su")); st.Mode&0o7777 != 0o4755 {
		t.Errorf("bin/su mode %o, want 4755", st.Mode&0o7777)
	}
	if st := lstat(t, filepath.Join(l, "dev/null")); st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 {
		t.Errorf("dev/null: mode %o rdev %d:%d", st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	if st := lstat(t, filepath.Join(l, "dev/loop9")); st.Mode&unix.S_IFMT != unix.S_IFBLK || unix.Major(st.Rdev) != 7 || unix.Minor(st.Rdev) != 9 {
		t.Errorf("dev/loop9: mode %o rdev %d:%d", st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	if st := lstat(t, filepath.Join(l, "run/fifo")); st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("run/fifo: mode %o", st.Mode)
	}
	for link, want := range map[string]string{"lib": "usr/lib", "abs": "/etc/kept"} {
		if got, err := os.Readlink(filepath.Join(l, link)); err != nil || got != want {
			t.Errorf("%s -> %q (%v), want %q", link, got, err, want)
		}
	}
	if st := lstat(t, filepath.Join(l, "home/user/file")); st.Uid != 1000 || st.Gid != 2000 || st.Mode&0o7777 != 0o640 {
		t.Errorf("home/user/file: %d:%d mode %o", st.Uid, st.Gid, st.Mode&0o7777)
	}
	if got := xattr(filepath.Join(l, "etc/attr"), "user.berth"); got != "yes" {
		t.Errorf("etc/attr user.berth = %q", got)
	}
	if st := lstat(t, filepath.Join(l, "tmp")); st.Mode&0o7777 != 0o1777 {
		t.Errorf("tmp mode %o", st.Mode&0o7777)
	}
	if st := lstat(t, l); st.Mode&0o7777 != 0o755 {
		t.Errorf("layer root mode %o", st.Mode&0o7777)
	}
}

func TestImportRootfsTarball(t *testing.T) {
	s := newStore(t)
	raw := mkTar(t, rootfsEntries()...)
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "rootfs.tar.gz"), gz(t, raw))
	writeFile(t, filepath.Join(src, "rootfs.tar"), raw)

	img, err := s.Import(filepath.Join(src, "rootfs.tar.gz"), "rootfs")
	if err != nil {
		t.Fatal(err)
	}
	if !isID(img.ID) || !reflect.DeepEqual(img.Names, []string{"rootfs:latest"}) || len(img.Layers) != 1 {
		t.Fatalf("image %+v", img)
	}
	if want := int64(len("#!/bin/sh\necho hello\n") + len("setuid\n") + len("owned\n") + len("x\n")); img.Size != want {
		t.Errorf("size %d, want %d", img.Size, want)
	}
	if want := filepath.Join(s.Root, "layers", sha(raw), "diff"); img.Layers[0] != want {
		t.Errorf("layer %s, want %s (named by diff ID)", img.Layers[0], want)
	}
	checkRootfs(t, img.Layers[0])

	// The same content uncompressed is the same layer, stored once.
	img2, err := s.Import(filepath.Join(src, "rootfs.tar"), "rootfs:plain")
	if err != nil {
		t.Fatal(err)
	}
	if img2.Layers[0] != img.Layers[0] || countLayers(t, s) != 1 {
		t.Errorf("same layer stored twice: %v %v", img.Layers, img2.Layers)
	}
	if img2.ID == img.ID {
		t.Errorf("two imports of a rootfs share an ID; docker gives each its own")
	}
}

func TestImportRootfsDir(t *testing.T) {
	s := newStore(t)
	// Build the directory by unpacking the reference tar with the system
	// tar, independent of the code under test.
	src := filepath.Join(t.TempDir(), "rootfs")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	tarball := filepath.Join(t.TempDir(), "r.tar")
	writeFile(t, tarball, mkTar(t, rootfsEntries()...))
	if out, err := exec.Command("tar", "--xattrs", "--xattrs-include=*", "--same-owner", "-xpf", tarball, "-C", src).CombinedOutput(); err != nil {
		t.Skipf("system tar cannot build the source dir: %v: %s", err, out)
	}
	if err := unix.Mknod(filepath.Join(src, "sock-not-archived"), unix.S_IFSOCK|0o600, 0); err != nil {
		t.Fatal(err)
	}
	img, err := s.Import(src, "dir:v1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(img.Names, []string{"dir:v1"}) || len(img.Layers) != 1 {
		t.Fatalf("image %+v", img)
	}
	checkRootfs(t, img.Layers[0])
	if _, err := os.Lstat(filepath.Join(img.Layers[0], "sock-not-archived")); err == nil {
		t.Errorf("socket was copied")
	}
	// A directory that holds the store would copy the copy being made.
	if _, err := s.Import(filepath.Dir(s.Root), "loop"); err == nil {
		t.Errorf("import of a directory holding the store succeeded")
	}
}

// checkWhiteoutLayers checks the overlayfs form of topLayer and the merged
// view of baseLayer below topLayer.
func checkWhiteoutLayers(t *testing.T, layers []string) {
	t.Helper()
	if len(layers) != 2 {
		t.Fatalf("layers %v", layers)
	}
	top := layers[1]
	st := lstat(t, filepath.Join(top, "etc/removed"))
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("etc/removed in the top layer: mode %o rdev %d, want a 0/0 char device", st.Mode, st.Rdev)
	}
	if got := xattr(filepath.Join(top, "opq"), "trusted.overlay.opaque"); got != "y" {
		t.Errorf("opq trusted.overlay.opaque = %q, want y", got)
	}
	for _, p := range []string{"etc/.wh.removed", "opq/.wh..wh..opq"} {
		if _, err := os.Lstat(filepath.Join(top, p)); err == nil {
			t.Errorf("%s left in the layer", p)
		}
	}
	if got := readString(t, filepath.Join(layers[0], "etc/removed")); got != "gone soon\n" {
		t.Errorf("base layer etc/removed = %q", got)
	}

	merged := mountOverlay(t, layers)
	if merged == "" {
		return
	}
	if _, err := os.Lstat(filepath.Join(merged, "etc/removed")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("etc/removed visible in the merged view (%v)", err)
	}
	if got := readString(t, filepath.Join(merged, "etc/kept")); got != "kept\n" {
		t.Errorf("etc/kept = %q", got)
	}
	entries, err := os.ReadDir(filepath.Join(merged, "opq"))
	if err != nil {
		t.Fatal(err)
	}
	if got := names(entries); !reflect.DeepEqual(got, []string{"new"}) {
		t.Errorf("opaque dir shows %v, want [new]", got)
	}
	if got := readString(t, filepath.Join(merged, "top")); got != "top layer\n" {
		t.Errorf("top = %q", got)
	}
}

func checkTestConfig(t *testing.T, c ImageConfig) {
	t.Helper()
	want := ImageConfig{
		Env: []string{"PATH=/bin", "FOO=bar"}, Cmd: []string{"-c", "echo hi"}, Entrypoint: []string{"/bin/sh"},
		WorkingDir: "/work", User: "1000:1000", StopSignal: "SIGUSR1",
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("config %+v, want %+v", c, want)
	}
}

func TestImportOCILayout(t *testing.T) {
	s := newStore(t)
	base, top := baseLayer(t), topLayer(t)
	layout := filepath.Join(t.TempDir(), "oci")
	cfgID := makeOCI(t, layout, [][]byte{base, top}, []bool{true, false}, testConfig(base, top), "docker.io/library/app:1.0")

	img, err := s.Import(layout, "")
	if err != nil {
		t.Fatal(err)
	}
	if img.ID != cfgID {
		t.Errorf("ID %s, want the config digest %s", img.ID, cfgID)
	}
	if !reflect.DeepEqual(img.Names, []string{"app:1.0"}) {
		t.Errorf("names %v, want the annotated name", img.Names)
	}
	if !img.Created.Equal(testTime) {
		t.Errorf("created %v, want the config's %v", img.Created, testTime)
	}
	checkTestConfig(t, img.Config)
	checkWhiteoutLayers(t, img.Layers)

	// The same layout as a tar archive (here gzipped), imported under a
	// name: the same image, nothing unpacked twice, the name added.
	arch := filepath.Join(t.TempDir(), "oci.tar.gz")
	writeFile(t, arch, gz(t, tarTree(t, layout)))
	img2, err := s.Import(arch, "other")
	if err != nil {
		t.Fatal(err)
	}
	if img2.ID != img.ID || !reflect.DeepEqual(img2.Names, []string{"app:1.0", "other:latest"}) {
		t.Errorf("archive import: %s %v", img2.ID, img2.Names)
	}
	if countLayers(t, s) != 2 {
		t.Errorf("%d layers stored, want 2", countLayers(t, s))
	}
	if imgs, err := s.List(); err != nil || len(imgs) != 1 {
		t.Errorf("List: %d images, %v", len(imgs), err)
	}

	// Removing one of two names only untags, even while in use.
	if err := s.Remove("other", func(string) bool { return true }); err != nil {
		t.Fatalf("untag: %v", err)
	}
	if img, err := s.Get(img.ID); err != nil || !reflect.DeepEqual(img.Names, []string{"app:1.0"}) {
		t.Errorf("after untag: %+v, %v", img, err)
	}
	if countLayers(t, s) != 2 {
		t.Errorf("untag removed layers")
	}
}

func TestImportDockerSave(t *testing.T) {
	s := newStore(t)
	base, top := baseLayer(t), topLayer(t)
	saved := filepath.Join(t.TempDir(), "saved")
	id := makeDockerSave(t, saved, [][]byte{base, top}, testConfig(base, top), []string{"myrepo/app:v1", "myrepo/app:latest"})
	arch := filepath.Join(t.TempDir(), "saved.tar")
	writeFile(t, arch, tarTree(t, saved))

	img, err := s.Import(arch, "")
	if err != nil {
		t.Fatal(err)
	}
	if img.ID != id {
		t.Errorf("ID %s, want sha256 of the config %s", img.ID, id)
	}
	if !reflect.DeepEqual(img.Names, []string{"myrepo/app:latest", "myrepo/app:v1"}) {
		t.Errorf("names %v, want the RepoTags", img.Names)
	}
	checkTestConfig(t, img.Config)
	checkWhiteoutLayers(t, img.Layers)

	// An OCI layout with the same layers shares them.
	layout := filepath.Join(t.TempDir(), "oci")
	cfg := testConfig(base, top)
	cfg.Config.Cmd = []string{"other"}
	makeOCI(t, layout, [][]byte{base, top}, []bool{true, true}, cfg, "")
	img2, err := s.Import(layout, "fromoci")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(img2.Layers, img.Layers) || countLayers(t, s) != 2 {
		t.Errorf("layers not shared: %v vs %v, %d stored", img2.Layers, img.Layers, countLayers(t, s))
	}
	// The unpacked directory form works too, and a name picks nothing
	// but itself.
	img3, err := s.Import(saved, "renamed:x")
	if err != nil {
		t.Fatal(err)
	}
	if img3.ID != id || !slices.Contains(img3.Names, "renamed:x") {
		t.Errorf("directory import: %s %v", img3.ID, img3.Names)
	}
}

func TestPathTraversalRefused(t *testing.T) {
	needRoot(t)
	marker := "berth-image-test-escape"
	cases := map[string][]byte{
		"dotdot": mkTar(t, file("ok", "fine\n"), file("../"+marker, "evil\n")),
		"symlink to /": mkTar(t, dir("etc/"), symlink("link", "/"),
			file("link/etc/"+marker, "evil\n")),
		"relative symlink up": mkTar(t, symlink("up", "../../../../../../../.."),
			file("up/tmp/"+marker, "evil\n")),
		"nested symlink": mkTar(t, dir("a/"), symlink("a/b", "/tmp"), file("a/b/"+marker, "evil\n")),
		"hardlink out":   mkTar(t, ent{name: "pw", link: "../../../../etc/passwd", typ: tar.TypeLink}),
		"hardlink through symlink": mkTar(t, symlink("l", "/etc"),
			ent{name: "pw", link: "l/passwd", typ: tar.TypeLink}),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			src := filepath.Join(t.TempDir(), "evil.tar")
			writeFile(t, src, data)
			_, err := s.Import(src, "evil")
			if err == nil || !strings.Contains(err.Error(), "path traversal") {
				t.Fatalf("import: %v, want a path traversal error", err)
			}
			assertNothingLeft(t, s)
			for _, p := range []string{"/etc/" + marker, "/tmp/" + marker, filepath.Join(s.Root, marker), filepath.Join(s.Root, tmpDir, marker)} {
				if _, err := os.Lstat(p); err == nil {
					os.Remove(p)
					t.Errorf("%s was written", p)
				}
			}

			// The same layer inside an OCI image, below a good one.
			base := baseLayer(t)
			layout := filepath.Join(t.TempDir(), "oci")
			makeOCI(t, layout, [][]byte{base, data}, []bool{false, true}, testConfig(base, data), "")
			if _, err := s.Import(layout, "evil"); err == nil || !strings.Contains(err.Error(), "path traversal") {
				t.Fatalf("OCI import: %v, want a path traversal error", err)
			}
			assertNothingLeft(t, s)
		})
	}
}

func TestCorruptArchive(t *testing.T) {
	s := newStore(t)
	raw := mkTar(t, file("a", strings.Repeat("some content ", 10000)), file("b", "b\n"))
	z := gz(t, raw)
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "trunc.tar.gz"), z[:len(z)/2])
	if _, err := s.Import(filepath.Join(src, "trunc.tar.gz"), "trunc"); err == nil {
		t.Fatal("truncated gzip imported")
	}
	assertNothingLeft(t, s)

	// Only the gzip trailer missing: every tar entry is there, but the
	// stream is still incomplete.
	writeFile(t, filepath.Join(src, "notrailer.tar.gz"), z[:len(z)-4])
	if _, err := s.Import(filepath.Join(src, "notrailer.tar.gz"), "trunc"); err == nil {
		t.Fatal("gzip without its trailer imported")
	}
	assertNothingLeft(t, s)

	writeFile(t, filepath.Join(src, "garbage"), []byte("this is not an archive at all\n"))
	if _, err := s.Import(filepath.Join(src, "garbage"), "x"); err == nil {
		t.Fatal("garbage imported")
	}
	assertNothingLeft(t, s)

	// An OCI layout whose second layer blob is tampered with: the good
	// first layer must not stay behind either.
	base, top := baseLayer(t), topLayer(t)
	layout := filepath.Join(t.TempDir(), "oci")
	makeOCI(t, layout, [][]byte{base, top}, []bool{true, false}, testConfig(base, top), "")
	blob := filepath.Join(layout, "blobs", "sha256", sha(top))
	tampered := []byte(readString(t, blob))
	tampered[len(tampered)/3] ^= 0xff
	writeFile(t, blob, tampered)
	if _, err := s.Import(layout, "tampered"); err == nil {
		t.Fatal("tampered blob imported")
	}
	assertNothingLeft(t, s)

	// A config whose diff IDs do not match the layers.
	layout2 := filepath.Join(t.TempDir(), "oci")
	makeOCI(t, layout2, [][]byte{base, top}, []bool{true, true}, testConfig(top, base), "")
	if _, err := s.Import(layout2, "mismatch"); err == nil || !strings.Contains(err.Error(), "diff ID") {
		t.Fatalf("mismatched diff IDs: %v", err)
	}
	assertNothingLeft(t, s)
}

func TestLayerSharingAndRemove(t *testing.T) {
	s := newStore(t)
	base := baseLayer(t)
	top1 := mkTar(t, file("one", "1\n"))
	top2 := mkTar(t, file("two", "2\n"))
	la, lb := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	makeOCI(t, la, [][]byte{base, top1}, []bool{true, true}, testConfig(base, top1), "")
	makeOCI(t, lb, [][]byte{base, top2}, []bool{false, false}, testConfig(base, top2), "")
	a, err := s.Import(la, "a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Import(lb, "b")
	if err != nil {
		t.Fatal(err)
	}
	if a.Layers[0] != b.Layers[0] || countLayers(t, s) != 3 {
		t.Fatalf("base not shared: %v %v, %d layers", a.Layers, b.Layers, countLayers(t, s))
	}

	err = s.Remove("a", func(id string) bool { return id == a.ID })
	var inUse *InUseError
	if !errors.As(err, &inUse) || err.Error() != "image is being used by a container" {
		t.Fatalf("Remove in use: %v", err)
	}
	if _, err := s.Get("a"); err != nil {
		t.Fatalf("refused Remove removed the image: %v", err)
	}

	if err := s.Remove("a", func(string) bool { return false }); err != nil {
		t.Fatal(err)
	}
	var nf *NotFoundError
	if _, err := s.Get("a"); !errors.As(err, &nf) || err.Error() != "No such image: a" {
		t.Errorf("Get removed image: %v", err)
	}
	if countLayers(t, s) != 2 {
		t.Errorf("%d layers after Remove, want 2", countLayers(t, s))
	}
	for _, l := range b.Layers {
		if _, err := os.Stat(filepath.Join(l, ".")); err != nil {
			t.Errorf("layer of b gone: %v", err)
		}
	}
	if _, err := os.Stat(a.Layers[1]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a's own layer still there: %v", err)
	}
	if err := s.Remove(b.ID, nil); err != nil {
		t.Fatal(err)
	}
	assertNothingLeftButRefs(t, s)
}

// assertNothingLeftButRefs is assertNothingLeft for a store that has had
// images (so refs.json exists, empty).
func assertNothingLeftButRefs(t *testing.T, s *Store) {
	t.Helper()
	if got := strings.TrimSpace(readString(t, s.path(refsFile))); got != "{}" {
		t.Errorf("refs.json = %s", got)
	}
	os.Remove(s.path(refsFile))
	assertNothingLeft(t, s)
}

func TestGetNamesAndPrefixes(t *testing.T) {
	s := newStore(t)
	src := filepath.Join(t.TempDir(), "r.tar")
	writeFile(t, src, mkTar(t, file("f", "f\n")))
	first, err := s.Import(src, "x")
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"x", "x:latest", "docker.io/library/x", first.ID, first.ID[:12], "sha256:" + first.ID} {
		img, err := s.Get(ref)
		if err != nil || img.ID != first.ID {
			t.Errorf("Get(%q) = %v, %v", ref, img, err)
		}
	}

	// The name moves to a newer image; the old one stays, untagged.
	second, err := s.Import(src, "x")
	if err != nil {
		t.Fatal(err)
	}
	if img, err := s.Get("x"); err != nil || img.ID != second.ID {
		t.Errorf("Get(x) after re-import = %v, %v", img, err)
	}
	if img, err := s.Get(first.ID); err != nil || len(img.Names) != 0 {
		t.Errorf("old image: %+v, %v", img, err)
	}

	// Ambiguous prefixes: with 17 images two share a first hex digit.
	byFirst := map[byte]int{}
	byFirst[first.ID[0]]++
	byFirst[second.ID[0]]++
	for i := 0; i < 15; i++ {
		img, err := s.Import(src, "")
		if err != nil {
			t.Fatal(err)
		}
		byFirst[img.ID[0]]++
	}
	for c, n := range byFirst {
		if n < 2 {
			continue
		}
		_, err := s.Get(string(c))
		if err == nil || !strings.Contains(err.Error(), "multiple IDs found with provided prefix") {
			t.Errorf("Get(%q) with %d matches: %v", string(c), n, err)
		}
		break
	}
	if countLayers(t, s) != 1 {
		t.Errorf("%d layers for one content", countLayers(t, s))
	}
	if imgs, err := s.List(); err != nil || len(imgs) != 17 {
		t.Errorf("List: %d, %v", len(imgs), err)
	}
	var nf *NotFoundError
	if _, err := s.Get("nonexistent"); !errors.As(err, &nf) || err.Error() != "No such image: nonexistent" {
		t.Errorf("Get(nonexistent): %v", err)
	}
	if _, err := s.Get("abcdefg"); !errors.As(err, &nf) {
		t.Errorf("Get(non-hex): %v", err)
	}
}

func TestNormalizeName(t *testing.T) {
	good := map[string]string{
		"busybox":                      "busybox:latest",
		"busybox:1.36":                 "busybox:1.36",
		"docker.io/library/busybox":    "busybox:latest",
		"library/busybox:x":            "busybox:x",
		"docker.io/me/app":             "me/app:latest",
		"localhost:5000/a/b:v1.2-rc_3": "localhost:5000/a/b:v1.2-rc_3",
		"quay.io/a__b/c-d.e:t":         "quay.io/a__b/c-d.e:t",
	}
	for in, want := range good {
		if got, err := normalizeName(in); err != nil || got != want {
			t.Errorf("normalizeName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "Upper", "a:", "a::b", "a/../b", "-a", "a-", "a..b", "a@sha256:00", "a:.tag", "a b", strings.Repeat("ab", 32)} {
		if got, err := normalizeName(in); err == nil {
			t.Errorf("normalizeName(%q) = %q, want an error", in, got)
		}
	}
}

func TestImportBusybox(t *testing.T) {
	s := newStore(t)
	const bb = "/bin/busybox"
	if _, err := os.Stat(bb); err != nil {
		t.Skip("no /bin/busybox")
	}
	if checkStatic(bb) != nil {
		t.Skip("/bin/busybox is not static")
	}
	img, err := s.ImportBusybox("", "busybox")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(img.Config.Cmd, []string{"sh"}) || !reflect.DeepEqual(img.Config.Env, []string{busyboxPath}) ||
		!reflect.DeepEqual(img.Names, []string{"busybox:latest"}) || len(img.Layers) != 1 {
		t.Fatalf("image %+v", img)
	}
	l := img.Layers[0]
	if got, err := os.Readlink(filepath.Join(l, "bin/sh")); err != nil || got != "busybox" {
		t.Errorf("bin/sh -> %q, %v", got, err)
	}
	if _, err := os.Lstat(filepath.Join(l, "bin/busybox")); err != nil {
		t.Error(err)
	}
	if passwd := readString(t, filepath.Join(l, "etc/passwd")); !strings.HasPrefix(passwd, "root:x:0:0:") || !strings.Contains(passwd, "\nnobody:x:65534:65534:") {
		t.Errorf("etc/passwd = %q", passwd)
	}
	if group := readString(t, filepath.Join(l, "etc/group")); !strings.Contains(group, "root:x:0:") || !strings.Contains(group, "nobody:x:65534:") {
		t.Errorf("etc/group = %q", group)
	}
	if st := lstat(t, filepath.Join(l, "tmp")); st.Mode&0o7777 != 0o1777 {
		t.Errorf("tmp mode %o", st.Mode&0o7777)
	}
	for _, d := range []string{"proc", "sys", "dev"} {
		if fi, err := os.Stat(filepath.Join(l, d)); err != nil || !fi.IsDir() {
			t.Errorf("/%s: %v", d, err)
		}
	}

	// It runs: a shell in a chroot of the merged view (or of the layer
	// itself where overlayfs is not available).
	root := mountOverlay(t, img.Layers)
	if root == "" {
		root = l
	}
	cmd := exec.Command("/bin/sh", "-c", "echo hello from busybox; id -un; ls /bin/ls")
	cmd.Env = img.Config.Env
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "hello from busybox\nroot\n/bin/ls\n" {
		t.Errorf("run in the rootfs: %v: %q", err, out)
	}

	// Importing the same busybox again gives the same image and layer.
	again, err := s.ImportBusybox(bb, "bb:again")
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != img.ID || countLayers(t, s) != 1 {
		t.Errorf("re-import: ID %s vs %s, %d layers", again.ID, img.ID, countLayers(t, s))
	}
}

func TestConcurrentImportsAndStaleTmp(t *testing.T) {
	s := newStore(t)
	// Debris of an import that crashed: nobody holds its lock.
	stale := filepath.Join(s.Root, tmpDir, "import-crashed")
	writeFile(t, filepath.Join(stale, "layer-1", "diff", "f"), []byte("x"))

	base, top := baseLayer(t), topLayer(t)
	layout := filepath.Join(t.TempDir(), "oci")
	id := makeOCI(t, layout, [][]byte{base, top}, []bool{true, false}, testConfig(base, top), "")
	const n = 4
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			_, err := s.Import(layout, "c:"+string(rune('a'+i)))
			errs <- err
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	img, err := s.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(img.Names, []string{"c:a", "c:b", "c:c", "c:d"}) || countLayers(t, s) != 2 {
		t.Errorf("names %v, %d layers", img.Names, countLayers(t, s))
	}
	if entries, _ := os.ReadDir(filepath.Join(s.Root, tmpDir)); len(entries) != 0 {
		t.Errorf("tmp/ not cleaned: %v", names(entries))
	}
	checkWhiteoutLayers(t, img.Layers)
}

func TestImportMultiPlatformIndex(t *testing.T) {
	s := newStore(t)
	base, top := baseLayer(t), topLayer(t)
	layout := filepath.Join(t.TempDir(), "oci")
	id := makeOCI(t, layout, [][]byte{base, top}, []bool{true, false}, testConfig(base, top), "")
	// Wrap our manifest in a nested index, after a manifest for another
	// architecture whose blobs do not even exist: it must not be read.
	data, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx ispec.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		t.Fatal(err)
	}
	other := "s390x"
	if runtime.GOARCH == other {
		other = "amd64"
	}
	foreign := ispec.Descriptor{
		MediaType: ispec.MediaTypeImageManifest, Digest: digest.Digest("sha256:" + strings.Repeat("0", 64)), Size: 10,
		Platform: &ispec.Platform{OS: "linux", Architecture: other},
	}
	attestation := ispec.Descriptor{
		MediaType: ispec.MediaTypeImageManifest, Digest: digest.Digest("sha256:" + strings.Repeat("1", 64)), Size: 10,
		Platform:    &ispec.Platform{OS: "unknown", Architecture: "unknown"},
		Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest"},
	}
	inner := ispec.Index{MediaType: ispec.MediaTypeImageIndex, Manifests: []ispec.Descriptor{foreign, attestation, idx.Manifests[0]}}
	inner.SchemaVersion = 2
	d := writeBlob(t, layout, ispec.MediaTypeImageIndex, mustJSON(t, inner))
	d.Annotations = map[string]string{ispec.AnnotationRefName: "multi.example.com/app:2"}
	idx.Manifests = []ispec.Descriptor{d}
	writeFile(t, filepath.Join(layout, "index.json"), mustJSON(t, idx))

	img, err := s.Import(layout, "")
	if err != nil {
		t.Fatal(err)
	}
	if img.ID != id || !reflect.DeepEqual(img.Names, []string{"multi.example.com/app:2"}) {
		t.Errorf("image %s %v", img.ID, img.Names)
	}
}

// docker 25 and later save an OCI layout whose manifest.json points into
// blobs/.
func TestImportDockerSaveOCIStyle(t *testing.T) {
	s := newStore(t)
	base, top := baseLayer(t), topLayer(t)
	dir := filepath.Join(t.TempDir(), "saved")
	id := makeOCI(t, dir, [][]byte{base, top}, []bool{false, false}, testConfig(base, top), "ignored:tag")
	m := []dockerManifest{{
		Config:   "blobs/sha256/" + id,
		RepoTags: []string{"new/style:v25"},
		Layers:   []string{"blobs/sha256/" + sha(base), "blobs/sha256/" + sha(top)},
	}}
	writeFile(t, filepath.Join(dir, "manifest.json"), mustJSON(t, m))
	arch := filepath.Join(t.TempDir(), "saved.tar")
	writeFile(t, arch, tarTree(t, dir))
	img, err := s.Import(arch, "")
	if err != nil {
		t.Fatal(err)
	}
	if img.ID != id || !reflect.DeepEqual(img.Names, []string{"new/style:v25"}) {
		t.Errorf("image %s %v", img.ID, img.Names)
	}
	checkWhiteoutLayers(t, img.Layers)
}
