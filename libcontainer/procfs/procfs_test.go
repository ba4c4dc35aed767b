package procfs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Stat
		wantErr bool
	}{
		{"plain", "42 (sh) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 12345 1000 10 18446744073709551615", Stat{'S', 1, 12345}, false},
		{"paren in comm", "42 (a) b) (c) Z 7 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 99 1000 10", Stat{'Z', 7, 99}, false},
		{"truncated", "42 (sh) S 1 42", Stat{}, true},
		{"no paren", "garbage", Stat{}, true},
		{"bad start", "42 (sh) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 x 1000", Stat{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStat([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("1 (init) S 0 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 5 0 0"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseStat(data)
	})
}

func TestReadStatus(t *testing.T) {
	st, err := ReadStatus(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st["Pid"] != strconv.Itoa(os.Getpid()) || st["Cpus_allowed_list"] == "" {
		t.Errorf("status fields %q %q", st["Pid"], st["Cpus_allowed_list"])
	}
}

func TestReadFileIsOsReadFile(t *testing.T) {
	dir := t.TempDir()
	big := bytes.Repeat([]byte("0123456789"), 300) // past the first buffer
	for name, data := range map[string][]byte{"empty": {}, "small": []byte("1\n"), "big": big} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(p)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: got %d bytes, %v; want %d bytes", name, len(got), err, len(data))
		}
	}
	// /proc files report no size: read to EOF.
	want, _ := os.ReadFile("/proc/self/status")
	got, err := ReadFile("/proc/self/status")
	if err != nil || len(got) == 0 || !bytes.HasPrefix(got, want[:5]) {
		t.Errorf("/proc/self/status: %q, %v", got, err)
	}
	missing := filepath.Join(dir, "missing")
	_, err = ReadFile(missing)
	_, osErr := os.ReadFile(missing)
	if !errors.Is(err, os.ErrNotExist) || err == nil || osErr == nil || err.Error() != osErr.Error() {
		t.Errorf("missing file: %v, want os.ReadFile's %v", err, osErr)
	}
	if _, err := ReadFile(dir); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("a directory: %v, want EISDIR", err)
	}
}
