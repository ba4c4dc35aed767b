package integration

// Making test bundles: the default spec, the with* edits, host directories.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// markerName is a file put in each bundle's rootfs (its own inode, not
// hard-linked) so that a leaked process can be traced to its bundle through
// /proc/PID/root even after pivot_root.
const markerName = ".bt-marker"

// newBundle creates a bundle from defaultSpec, modified by each mod in turn,
// with a private clone of the template rootfs, and returns its directory.
func newBundle(t *testing.T, mods ...func(*specs.Spec)) string {
	t.Helper()
	e := getEnv(t)
	dir := newDir(t, "b")
	e.mu.Lock()
	e.bundles = append(e.bundles, dir)
	e.mu.Unlock()
	if err := cloneTree(templateRootfs, filepath.Join(dir, "rootfs")); err != nil {
		t.Fatalf("cloning rootfs: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rootfs", markerName), []byte(dir), 0o644); err != nil {
		t.Fatal(err)
	}
	s := defaultSpec()
	for _, mod := range mods {
		if mod != nil {
			mod(s)
		}
	}
	writeSpec(t, dir, s)
	return dir
}

// writeSpec writes s as dir/config.json.
func writeSpec(t *testing.T, dir string, s *specs.Spec) {
	t.Helper()
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// rootfsOf is the rootfs directory of a bundle made by newBundle.
func rootfsOf(bundle string) string { return filepath.Join(bundle, "rootfs") }

// defaultSpec is close to `runc spec` output: pid, network, ipc, uts and
// mount namespaces, the standard mounts, runc's default capabilities,
// RLIMIT_NOFILE 1024, runc's masked and read-only paths, no terminal and no
// linux.resources. Unlike `runc spec` the root is writable (tests that need
// a read-only root say so) and the process is `/bin/probe sleep`.
func defaultSpec() *specs.Spec {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Terminal: false,
			User:     specs.User{UID: 0, GID: 0},
			Args:     []string{"/bin/probe", "sleep"},
			Env: []string{
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"TERM=xterm",
			},
			Cwd: "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  caps,
				Effective: caps,
				Permitted: caps,
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Root:     &specs.Root{Path: "rootfs"},
		Hostname: "berth-test",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace},
				{Type: specs.NetworkNamespace},
				{Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace},
				{Type: specs.MountNamespace},
			},
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
				"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
				"/proc/sched_debug", "/sys/firmware", "/proc/scsi",
			},
			ReadonlyPaths: []string{
				"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
			},
		},
	}
}

// withArgs sets process.args.
func withArgs(args ...string) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Process.Args = args }
}

// withProbe sets process.args to `/bin/probe args...`.
func withProbe(args ...string) func(*specs.Spec) {
	return withArgs(append([]string{"/bin/probe"}, args...)...)
}

// withoutNamespace removes the namespaces of the given types.
func withoutNamespace(types ...specs.LinuxNamespaceType) func(*specs.Spec) {
	return func(s *specs.Spec) {
		var kept []specs.LinuxNamespace
		for _, ns := range s.Linux.Namespaces {
			drop := false
			for _, typ := range types {
				drop = drop || ns.Type == typ
			}
			if !drop {
				kept = append(kept, ns)
			}
		}
		s.Linux.Namespaces = kept
	}
}

// withNamespace adds (or replaces) a namespace entry.
func withNamespace(ns specs.LinuxNamespace) func(*specs.Spec) {
	return func(s *specs.Spec) {
		withoutNamespace(ns.Type)(s)
		s.Linux.Namespaces = append(s.Linux.Namespaces, ns)
	}
}

// withMount appends mounts.
func withMount(ms ...specs.Mount) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Mounts = append(s.Mounts, ms...) }
}

// hostDir creates a directory outside any bundle, with the given files.
func hostDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := newDir(t, "h")
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if len(mountsUnder(dir)) == 0 {
			os.RemoveAll(dir)
		}
	})
	return dir
}
