package docker

import (
	"os"
	"path/filepath"
	"testing"
)

func TestTailOffsetStartsAtTheLastNRecords(t *testing.T) {
	p := filepath.Join(t.TempDir(), LogFile)
	data := "a\nbb\nccc\n"
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		n    int
		want int64
	}{
		{0, 9},
		{1, 5},
		{2, 2},
		{3, 0},
		{10, 0},
	} {
		if got := tailOffset(p, tc.n); got != tc.want {
			t.Errorf("tailOffset(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
	if got := tailOffset(filepath.Join(t.TempDir(), "missing"), 1); got != 0 {
		t.Errorf("tailOffset of a missing log = %d, want 0", got)
	}
}
