package integration

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Idmapped mounts (mounts[].uidMappings/gidMappings, idmap, ridmap): the
// runtime gives a detached copy of the bind source MOUNT_ATTR_IDMAP with a
// user namespace holding the mapping; the files' owners are then seen
// through it, from a container with or without its own user namespace.

func requireIDMap(t *testing.T) {
	t.Helper()
	if !runtimeHasKernelFeature(t, "mount-setattr") {
		t.Skip("the kernel has no mount_setattr: idmapped mounts are refused (TestIDMappedMountRefusals)")
	}
}

var oneToThousand = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}

// TestIDMappedMountWithoutUserNamespace: files owned by root on disk are
// seen as 1000:1000 through a mapping 0 -> 1000, and as root through the
// same bind without one.
func TestIDMappedMountWithoutUserNamespace(t *testing.T) {
	requireIDMap(t)
	src := idmapSource(t, "f")
	out := runOK(t, withArgs("/bin/sh", "-c", "stat -c %u:%g /mapped/f /plain/f"), withMount(
		specs.Mount{Destination: "/mapped", Type: "bind", Source: src, Options: []string{"bind", "idmap"},
			UIDMappings: oneToThousand, GIDMappings: oneToThousand},
		specs.Mount{Destination: "/plain", Type: "bind", Source: src, Options: []string{"bind"}},
	))
	if got := lines(out); len(got) != 2 || got[0] != "1000:1000" || got[1] != "0:0" {
		t.Errorf("owners through the idmapped and the plain bind = %q, want [1000:1000 0:0]", got)
	}
}

// TestIDMappedMountUsesContainerUserNamespace: "idmap" without mappings in
// a container with a user namespace (0 -> 100000) uses its mappings: a
// host root's file is the container root's, which can write there, and
// what it writes is root's on the host. Without idmap the same file is
// the overflow id's.
func TestIDMappedMountUsesContainerUserNamespace(t *testing.T) {
	requireIDMap(t)
	src := idmapSource(t, "f")
	userns := func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	}
	out := runOK(t, userns, withArgs("/bin/sh", "-c", "stat -c %u /mnt/f /root/f; echo new > /mnt/g && echo wrote"),
		withMount(
			specs.Mount{Destination: "/mnt", Type: "bind", Source: src, Options: []string{"bind", "idmap"}},
			specs.Mount{Destination: "/root", Type: "bind", Source: src, Options: []string{"bind", "ro"}},
		))
	if got := lines(out); len(got) != 3 || got[0] != "0" || got[1] != "65534" || got[2] != "wrote" {
		t.Errorf("container output = %q, want [0 65534 wrote]", got)
	}
	st, err := os.Stat(filepath.Join(src, "g"))
	if err != nil {
		t.Fatalf("the container's write through the idmapped mount: %v", err)
	}
	if uid := fileOwner(st); uid != 0 {
		t.Errorf("file written by the container's root is owned by %d on the host, want 0", uid)
	}
}

// TestIDMappedMountRecursive: ridmap maps the submounts of an rbind too;
// idmap maps the top mount only.
func TestIDMappedMountRecursive(t *testing.T) {
	requireIDMap(t)
	src := idmapSource(t, "f")
	sub := filepath.Join(src, "sub")
	inner := idmapSource(t, "f")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	bindMount(t, inner, sub)
	out := runOK(t, withArgs("/bin/sh", "-c", "stat -c %u /r/f /r/sub/f /i/f /i/sub/f"), withMount(
		specs.Mount{Destination: "/r", Type: "bind", Source: src, Options: []string{"rbind", "ridmap"},
			UIDMappings: oneToThousand, GIDMappings: oneToThousand},
		specs.Mount{Destination: "/i", Type: "bind", Source: src, Options: []string{"rbind", "idmap"},
			UIDMappings: oneToThousand, GIDMappings: oneToThousand},
	))
	if got := strings.Join(lines(out), " "); got != "1000 1000 1000 0" {
		t.Errorf("owners via ridmap (top, sub) and idmap (top, sub) = %q, want \"1000 1000 1000 0\"", got)
	}
}

// TestIDMappedMountRefusals: what cannot be mapped fails create naming the
// mount, leaving nothing behind.
func TestIDMappedMountRefusals(t *testing.T) {
	src := hostDir(t, nil)
	cases := map[string]specs.Mount{
		"must be bind mounts": {Destination: "/mnt", Type: "tmpfs", Source: "tmpfs", Options: []string{"idmap"},
			UIDMappings: oneToThousand, GIDMappings: oneToThousand},
		"idmap needs": {Destination: "/mnt", Type: "bind", Source: src, Options: []string{"bind", "idmap"}},
		"together":    {Destination: "/mnt", Type: "bind", Source: src, Options: []string{"bind", "idmap"}, UIDMappings: oneToThousand},
	}
	if !runtimeHasKernelFeature(t, "mount-setattr") {
		cases = map[string]specs.Mount{"mount_setattr": {Destination: "/mnt", Type: "bind", Source: src, Options: []string{"bind", "idmap"},
			UIDMappings: oneToThousand, GIDMappings: oneToThousand}}
	}
	for want, m := range cases {
		t.Run(strings.ReplaceAll(want, " ", "-"), func(t *testing.T) {
			id := newID(t)
			rt(t, "create", "--bundle", newBundle(t, withMount(m)), id).failed(t, "mount /mnt", want)
			assertCreateLeftNothing(t, id)
		})
	}
}

// idmapSource makes a directory holding the named files (root's, as the
// suite runs as root) on the disk under /var/tmp: the suite's work dir may
// be a tmpfs, which kernels before 6.3 cannot idmap.
func idmapSource(t *testing.T, files ...string) string {
	t.Helper()
	dir, err := os.MkdirTemp("/var/tmp", "berth-idmap-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if len(mountsUnder(dir)) == 0 {
			os.RemoveAll(dir)
		}
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// bindMount bind-mounts src on dst on the host for the test's life.
func bindMount(t *testing.T, src, dst string) {
	t.Helper()
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind %s on %s: %v", src, dst, err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dst, unix.MNT_DETACH) })
}

func fileOwner(fi os.FileInfo) int {
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}
