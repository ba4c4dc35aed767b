package state

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad reads arbitrary state.json contents: Load refuses or returns a
// state that Save writes and Load reads back unchanged.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"ociVersion":"1.3.0","id":"c1","bundle":"/b","rootfs":"/b/rootfs","initPid":42,"initStartTime":123,"created":"2026-12-01T22:00:00Z","cgroupPaths":{"":"/sys/fs/cgroup/berth-c1"}}`))
	f.Add([]byte(`{"initPid":-1,"annotations":{"a":"b"}}`))
	f.Add([]byte(`null`))
	f.Add([]byte("\xff{"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, StateFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Load(dir)
		if err != nil {
			return
		}
		if err := s.Save(dir); err != nil {
			t.Fatalf("saving a loaded state: %v", err)
		}
		// Equal as saved (an empty map and no map are the same on disk).
		again, err := Load(dir)
		a, _ := json.Marshal(s)
		b, _ := json.Marshal(again)
		if err != nil || !bytes.Equal(a, b) {
			t.Fatalf("round trip: %s vs %s (%v)", a, b, err)
		}
	})
}
