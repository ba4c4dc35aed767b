package oci

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const minimal = `{"ociVersion":"1.3.0","root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/"},"linux":{"namespaces":[{"type":"pid"},{"type":"uts"}]}}`

func writeBundle(t *testing.T, config string, withRootfs bool) string {
	t.Helper()
	dir := t.TempDir()
	if withRootfs {
		if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigName), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadMinimalBundle(t *testing.T) {
	b, err := Load(writeBundle(t, minimal, true))
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(b.Rootfs) || filepath.Base(b.Rootfs) != "rootfs" {
		t.Fatalf("rootfs = %q", b.Rootfs)
	}
}

func TestLoadRejectsBadBundles(t *testing.T) {
	tests := []struct {
		name, config string
		rootfs       bool
		want         string
	}{
		{"malformed json", `{"ociVersion": "1.3.0",`, true, "parse config.json"},
		{"wrong type", `{"ociVersion":"1.3.0","root":{"path":5}}`, true, "line 1"},
		{"trailing data", minimal + `{}`, true, "trailing data"},
		{"missing rootfs", minimal, false, "does not exist"},
		{"no version", strings.Replace(minimal, `"ociVersion":"1.3.0",`, "", 1), true, "ociVersion"},
		{"empty args", strings.Replace(minimal, `["sh"]`, `[]`, 1), true, "process.args"},
		{"relative cwd", strings.Replace(minimal, `"cwd":"/"`, `"cwd":"tmp"`, 1), true, "cwd"},
		{"unknown namespace", strings.Replace(minimal, `"uts"`, `"bogus"`, 1), true, "unknown namespace"},
		{"duplicate namespace", strings.Replace(minimal, `"uts"`, `"pid"`, 1), true, "twice"},
		{"hostname without uts", strings.Replace(strings.Replace(minimal, `{"type":"uts"}`, `{"type":"ipc"}`, 1), `"ociVersion":"1.3.0",`, `"ociVersion":"1.3.0","hostname":"x",`, 1), true, "uts"},
		{"maps without userns", strings.Replace(minimal, `"linux":{`, `"linux":{"uidMappings":[{"containerID":0,"hostID":1000,"size":1}],`, 1), true, "user namespace"},
		{"relative mount destination", strings.Replace(minimal, `"linux":{`, `"mounts":[{"destination":"proc","type":"proc"}],"linux":{`, 1), true, "absolute"},
		{"vm section", strings.Replace(minimal, `"linux":{`, `"vm":{"hypervisor":{"path":"/usr/bin/qemu"},"kernel":{"path":"/boot/vmlinuz"}},"linux":{`, 1), true, "vm is set"},
		{"no linux section", `{"ociVersion":"1.3.0","root":{"path":"rootfs"}}`, true, "linux section"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeBundle(t, tt.config, tt.rootfs))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

func TestLoadMissingConfig(t *testing.T) {
	_, err := Load(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "config.json not found") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte(`{"linux":{"namespaces":[{"type":"user","path":"/x"}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err == nil && s == nil {
			t.Fatal("nil spec without error")
		}
	})
}
