package testkit

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestDockerArchiveHasManifestConfigAndLayer(t *testing.T) {
	if _, err := os.Stat(Busybox); err != nil {
		t.Skip("no static busybox")
	}
	p := filepath.Join(t.TempDir(), "img.tar")
	if err := WriteDockerArchive(p, "localhost/x:y"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		files[h.Name] = data
	}
	var m []struct {
		Config           string
		RepoTags, Layers []string
	}
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil || len(m) != 1 {
		t.Fatalf("manifest.json: %v %s", err, files["manifest.json"])
	}
	if m[0].RepoTags[0] != "localhost/x:y" || files[m[0].Config] == nil || len(m[0].Layers) != 1 {
		t.Fatalf("manifest %+v does not match the archive", m[0])
	}
	layer := tar.NewReader(bytes.NewReader(files[m[0].Layers[0]]))
	names := map[string]bool{}
	for {
		h, err := layer.Next()
		if err != nil {
			break
		}
		names[h.Name] = true
	}
	for _, want := range []string{"bin/busybox", "bin/sh", "etc/passwd", "tmp/"} {
		if !names[want] {
			t.Errorf("layer lacks %s", want)
		}
	}
}

// TestRepoDirIsTheRepository: RepoDir is computed from this package's
// place in the tree (it moved once): it must hold go.mod.
func TestRepoDirIsTheRepository(t *testing.T) {
	if _, err := os.Stat(filepath.Join(RepoDir(), "go.mod")); err != nil {
		t.Fatalf("RepoDir() = %s has no go.mod: %v", RepoDir(), err)
	}
}
