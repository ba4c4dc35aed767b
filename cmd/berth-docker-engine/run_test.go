package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestParseSizeTakesDockersMemorySyntax(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "512", want: 512},
		{in: "64k", want: 64 << 10},
		{in: "64KB", want: 64 << 10},
		{in: "16m", want: 16 << 20},
		{in: " 1.5g ", want: 3 << 29},
		{in: "2gb", want: 2 << 30},
		{in: "0", bad: true},
		{in: "-1m", bad: true},
		{in: "lots", bad: true},
		{in: "", bad: true},
	} {
		got, err := parseSize(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("parseSize(%q) = %d, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v, want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestReadEnvFileSkipsCommentsAndTakesBareKeysFromOurEnv(t *testing.T) {
	t.Setenv("BD_TEST_BARE", "from-host")
	p := filepath.Join(t.TempDir(), "env")
	data := "# a comment\n\nA=1\n  B = two words \nBD_TEST_BARE\n"
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readEnvFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"A=1", "B = two words", "BD_TEST_BARE=from-host"}
	if !slices.Equal(got, want) {
		t.Errorf("readEnvFile = %q, want %q", got, want)
	}
}
