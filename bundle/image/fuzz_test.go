package image

import (
	"archive/tar"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// fuzzEntry kinds.
var fuzzTypes = []byte{tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink, tar.TypeReg}

// FuzzUnpackLayer unpacks hostile two-entry layers (names with "..",
// absolute names, symlinks followed by entries through them, hard links
// out of the layer, whiteouts): the unpacker may refuse a layer, but
// nothing may appear, change or vanish outside its work directory.
func FuzzUnpackLayer(f *testing.F) {
	for _, s := range [][6]any{
		{"../escape", "", uint8(0), "ok", "", uint8(0)},
		{"/etc/abs", "", uint8(0), "a/b", "", uint8(1)},
		{"l", "../../outside", uint8(2), "l/pwned", "", uint8(0)},
		{"h", "../outside/canary", uint8(3), "x", "", uint8(0)},
		{".wh.canary", "", uint8(0), "d/.wh..wh..opq", "", uint8(0)},
		{"d", "", uint8(1), "d/../../outside/new", "", uint8(0)},
		{"abs", "/", uint8(2), "abs/tmp/pwned", "", uint8(0)},
	} {
		f.Add(s[0].(string), s[1].(string), s[2].(uint8), s[3].(string), s[4].(string), s[5].(uint8))
	}
	f.Fuzz(func(t *testing.T, n1, l1 string, t1 uint8, n2, l2 string, t2 uint8) {
		needRoot(t)
		top := t.TempDir()
		work := filepath.Join(top, "work")
		outside := filepath.Join(top, "outside")
		for _, d := range []string{work, outside} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		canary := filepath.Join(outside, "canary")
		if err := os.WriteFile(canary, []byte("canary"), 0o644); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, e := range []struct {
			name, link string
			typ        uint8
		}{{n1, l1, t1}, {n2, l2, t2}} {
			typ := fuzzTypes[int(e.typ)%len(fuzzTypes)]
			h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: typ, Mode: 0o644, Uid: 0, Gid: 0}
			body := []byte("pwned")
			if typ == tar.TypeReg {
				h.Size = int64(len(body))
			}
			if typ == tar.TypeDir {
				h.Mode = 0o755
			}
			if tw.WriteHeader(h) != nil {
				return
			}
			if typ == tar.TypeReg {
				tw.Write(body)
			}
		}
		if tw.Close() != nil {
			return
		}
		unpackLayer(work, &buf, "")
		// Only the canary may be outside work.
		filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
			if err != nil || p == top || p == work || p == outside || p == canary {
				return nil
			}
			if rel, _ := filepath.Rel(work, p); rel == ".." || len(rel) > 2 && rel[:3] == "../" {
				t.Fatalf("the layer made %s outside its work dir (entries %q->%q %d, %q->%q %d)", p, n1, l1, t1, n2, l2, t2)
			}
			return nil
		})
		if b, err := os.ReadFile(canary); err != nil || string(b) != "canary" {
			t.Fatalf("the file outside the layer changed: %q %v (entries %q->%q %d, %q->%q %d)", b, err, n1, l1, t1, n2, l2, t2)
		}
	})
}
