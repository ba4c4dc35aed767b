package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// containerMounts runs `probe mounts` in a container built with mods and
// parses the result.
func containerMounts(t *testing.T, mods ...func(*specs.Spec)) []mountEntry {
	t.Helper()
	return parseMountinfo(runOK(t, append(mods, withProbe("mounts"))...))
}

// TestBindMountReadOnlyAndReadWrite bind-mounts a host directory ro and rw.
func TestBindMountReadOnlyAndReadWrite(t *testing.T) {
	for _, ro := range []bool{true, false} {
		name := map[bool]string{true: "ro", false: "rw"}[ro]
		t.Run(name, func(t *testing.T) {
			src := hostDir(t, map[string]string{"file": "host-content"})
			opts := []string{"rbind"}
			if ro {
				opts = append(opts, "ro")
			}
			r := runContainer(t,
				withArgs("/bin/sh", "-c", "probe read /mnt/data/file; echo; probe write /mnt/data/new; exit 0"),
				withMount(specs.Mount{Destination: "/mnt/data", Type: "bind", Source: src, Options: opts}))
			r.ok(t)
			if !strings.Contains(r.Stdout, "host-content") {
				t.Errorf("bind mount content not visible: %q", r.Stdout)
			}
			_, err := os.Stat(filepath.Join(src, "new"))
			if ro {
				if !strings.Contains(r.Stdout, "read-only file system") {
					t.Errorf("write to ro bind mount: %q, want read-only file system error", r.Stdout)
				}
				if err == nil {
					t.Errorf("file written through ro bind mount appeared on the host")
				}
			} else {
				if !strings.Contains(r.Stdout, "ok") || err != nil {
					t.Errorf("write to rw bind mount: %q (host stat: %v)", r.Stdout, err)
				}
			}
		})
	}
}

// TestTmpfsMountHonoursSizeOption checks a tmpfs mount's size= option.
func TestTmpfsMountHonoursSizeOption(t *testing.T) {
	mounts := containerMounts(t, withMount(specs.Mount{
		Destination: "/mnt/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m", "mode=750"},
	}))
	m, ok := findMount(mounts, "/mnt/tmp")
	if !ok {
		t.Fatalf("no mount at /mnt/tmp")
	}
	if m.FSType != "tmpfs" || !hasOption(m.SuperOptions, "size=1024k") || !hasOption(m.SuperOptions, "mode=750") {
		t.Errorf("/mnt/tmp = %+v, want tmpfs with size=1024k,mode=750", m)
	}
}

// hostDirWithSubmount makes a host directory whose "sub" is a tmpfs
// mount, unmounted when the test ends.
func hostDirWithSubmount(t *testing.T) string {
	t.Helper()
	src := hostDir(t, nil)
	sub := filepath.Join(src, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("bt-sub", sub, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mounting a host tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(sub, unix.MNT_DETACH) })
	return src
}

// TestRbindIncludesSubmountsAndBindDoesNot bind-mounts a host directory that
// has a submount, recursively and not.
func TestRbindIncludesSubmountsAndBindDoesNot(t *testing.T) {
	src := hostDirWithSubmount(t)

	mounts := containerMounts(t, withMount(
		specs.Mount{Destination: "/mnt/rbind", Type: "bind", Source: src, Options: []string{"rbind"}},
		specs.Mount{Destination: "/mnt/bind", Type: "bind", Source: src, Options: []string{"bind"}},
	))
	if _, ok := findMount(mounts, "/mnt/rbind"); !ok {
		t.Errorf("no mount at /mnt/rbind")
	}
	if m, ok := findMount(mounts, "/mnt/rbind/sub"); !ok || m.FSType != "tmpfs" {
		t.Errorf("rbind lacks the submount: %+v", m)
	}
	if _, ok := findMount(mounts, "/mnt/bind"); !ok {
		t.Errorf("no mount at /mnt/bind")
	}
	if _, ok := findMount(mounts, "/mnt/bind/sub"); ok {
		t.Errorf("non-recursive bind carried the submount")
	}
}

// TestMountFlagsNosuidNodevNoexec checks per-mount flags on tmpfs and bind
// mounts.
func TestMountFlagsNosuidNodevNoexec(t *testing.T) {
	src := hostDir(t, nil)
	flags := []string{"nosuid", "nodev", "noexec"}
	mounts := containerMounts(t, withMount(
		specs.Mount{Destination: "/mnt/tmpfs", Type: "tmpfs", Source: "tmpfs", Options: flags},
		specs.Mount{Destination: "/mnt/bind", Type: "bind", Source: src, Options: append([]string{"rbind"}, flags...)},
		specs.Mount{Destination: "/mnt/plain", Type: "tmpfs", Source: "tmpfs"},
	))
	for _, mp := range []string{"/mnt/tmpfs", "/mnt/bind"} {
		m, ok := findMount(mounts, mp)
		if !ok {
			t.Errorf("no mount at %s", mp)
			continue
		}
		for _, f := range flags {
			if !hasOption(m.Options, f) {
				t.Errorf("%s options %q lack %s", mp, m.Options, f)
			}
		}
	}
	if m, ok := findMount(mounts, "/mnt/plain"); !ok {
		t.Errorf("no mount at /mnt/plain")
	} else if hasOption(m.Options, "noexec") || hasOption(m.Options, "nosuid") {
		t.Errorf("/mnt/plain has flags it was not given: %q", m.Options)
	}
}

// TestDevHasStandardNodes checks the default device nodes and symlinks.
func TestDevHasStandardNodes(t *testing.T) {
	want := map[string]string{
		"/dev/null":    "char 1:3 0666",
		"/dev/zero":    "char 1:5 0666",
		"/dev/full":    "char 1:7 0666",
		"/dev/random":  "char 1:8 0666",
		"/dev/urandom": "char 1:9 0666",
		"/dev/tty":     "char 5:0 0666",
		"/dev/ptmx":    "link pts/ptmx",
		"/dev/fd":      "link /proc/self/fd",
		"/dev/stdin":   "link /proc/self/fd/0",
		"/dev/stdout":  "link /proc/self/fd/1",
		"/dev/stderr":  "link /proc/self/fd/2",
		"/dev/pts":     "dir",
		"/dev/shm":     "dir",
	}
	args := []string{"stat"}
	for p := range want {
		args = append(args, p)
	}
	out := runOK(t, withProbe(args...))
	got := map[string]string{}
	for _, l := range lines(out) {
		if p, rest, ok := strings.Cut(l, " "); ok {
			got[p] = rest
		}
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: %q, want %q", p, got[p], w)
		}
	}
}

// TestLinuxDevicesCreated checks a linux.devices entry.
func TestLinuxDevicesCreated(t *testing.T) {
	mode := os.FileMode(0o640)
	uid, gid := uint32(0), uint32(0)
	out := runOK(t, withProbe("stat", "/dev/bt-full"), func(s *specs.Spec) {
		s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{
			Path: "/dev/bt-full", Type: "c", Major: 1, Minor: 7, FileMode: &mode, UID: &uid, GID: &gid,
		})
	})
	if got := strings.TrimSpace(out); got != "/dev/bt-full char 1:7 0640" {
		t.Errorf("device: %q, want /dev/bt-full char 1:7 0640", got)
	}
}

// TestLinuxDevicesWithPtmxKeepsPtsLink checks a config that lists the
// host's /dev/ptmx among its devices, as privileged containers of
// containerd and docker do: the node is made and then replaced by the
// pts/ptmx link, instead of being resolved through the link onto devpts.
func TestLinuxDevicesWithPtmxKeepsPtsLink(t *testing.T) {
	mode := os.FileMode(0o666)
	uid, gid := uint32(0), uint32(0)
	out := runOK(t, withProbe("stat", "/dev/ptmx", "/dev/bt-tty"), func(s *specs.Spec) {
		s.Linux.Devices = append(s.Linux.Devices,
			specs.LinuxDevice{Path: "/dev/ptmx", Type: "c", Major: 5, Minor: 2, FileMode: &mode, UID: &uid, GID: &gid},
			specs.LinuxDevice{Path: "/dev/bt-tty", Type: "c", Major: 5, Minor: 0, FileMode: &mode, UID: &uid, GID: &gid})
	})
	want := "/dev/ptmx link pts/ptmx\n/dev/bt-tty char 5:0 0666"
	if got := strings.TrimSpace(out); got != want {
		t.Errorf("devices: %q, want %q", got, want)
	}
}

// firstNonEmpty returns the first of paths that exists on the host with
// content (a file with bytes, a directory with entries), or "".
func firstNonEmpty(paths ...string) string {
	for _, p := range paths {
		if entries, err := os.ReadDir(p); err == nil && len(entries) > 0 {
			return p
		}
		// Read a few bytes only: /proc/kcore's size is that of the
		// kernel's address space, too big for os.ReadFile on some hosts.
		if f, err := os.Open(p); err == nil {
			n, _ := f.Read(make([]byte, 16))
			f.Close()
			if n > 0 {
				return p
			}
		}
	}
	return ""
}

// TestMaskedPathsHideContent checks default and custom maskedPaths, for
// files and directories.
func TestMaskedPathsHideContent(t *testing.T) {
	cases := []struct {
		name, path string
		probe      string // read or ls
	}{
		// Default masked paths that have content on this host.
		{"default file", firstNonEmpty("/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"), "read"},
		{"default dir", firstNonEmpty("/sys/firmware", "/proc/acpi", "/proc/scsi", "/proc/asound"), "ls"},
		{"custom file", "/etc/secret", "read"},
		{"custom dir", "/secret-dir", "ls"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.path == "" {
				t.Skip("no default masked path of this kind has content on this host")
			}
			bundle := newBundle(t, withProbe(tc.probe, tc.path), func(s *specs.Spec) {
				s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/etc/secret", "/secret-dir")
			})
			rootfs := rootfsOf(bundle)
			if err := os.WriteFile(filepath.Join(rootfs, "etc/secret"), []byte("secret"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(rootfs, "secret-dir"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(rootfs, "secret-dir/inner"), []byte("secret"), 0o644); err != nil {
				t.Fatal(err)
			}
			r := rt(t, "run", "--bundle", bundle, newID(t)).ok(t)
			if r.Stdout != "" {
				t.Errorf("masked %s shows %q, want nothing", tc.path, r.Stdout)
			}
		})
	}
}

// TestReadonlyPathsRefuseWrites checks default and custom readonlyPaths.
func TestReadonlyPathsRefuseWrites(t *testing.T) {
	cases := []struct {
		name, file string
		wantErr    bool
	}{
		{"default /proc/sys", "/proc/sys/kernel/domainname", true},
		{"custom dir", "/data/new", true},
		{"outside readonly path", "/other/new", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bundle := newBundle(t, withProbe("write", tc.file), func(s *specs.Spec) {
				s.Linux.ReadonlyPaths = append(s.Linux.ReadonlyPaths, "/data")
			})
			for _, d := range []string{"data", "other"} {
				if err := os.Mkdir(filepath.Join(rootfsOf(bundle), d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			r := rt(t, "run", "--bundle", bundle, newID(t))
			if tc.wantErr {
				if r.Code == 0 || !strings.Contains(r.Stdout, "read-only file system") {
					t.Errorf("write %s: %s; want read-only file system error", tc.file, r)
				}
			} else if r.Code != 0 || strings.TrimSpace(r.Stdout) != "ok" {
				t.Errorf("write %s: %s; want ok", tc.file, r)
			}
		})
	}
}

// TestReadonlyRootRefusesWrites checks root.readonly.
func TestReadonlyRootRefusesWrites(t *testing.T) {
	out := runOK(t,
		withArgs("/bin/sh", "-c", "probe write /newfile; probe write /dev/shm/newfile; exit 0"),
		func(s *specs.Spec) { s.Root.Readonly = true })
	ls := lines(out)
	if len(ls) != 2 || !strings.Contains(ls[0], "read-only file system") || ls[1] != "ok" {
		t.Errorf("writes to / and /dev/shm: %q; want read-only error, then ok", ls)
	}
	m, ok := findMount(containerMounts(t, func(s *specs.Spec) { s.Root.Readonly = true }), "/")
	if !ok || !hasOption(m.Options, "ro") {
		t.Errorf("root mount %+v is not ro", m)
	}
}

// TestRootfsPropagation checks linux.rootfsPropagation on the container's
// root mount.
func TestRootfsPropagation(t *testing.T) {
	for _, prop := range []string{"shared", "private"} {
		t.Run(prop, func(t *testing.T) {
			m, ok := findMount(containerMounts(t, func(s *specs.Spec) { s.Linux.RootfsPropagation = prop }), "/")
			if !ok {
				t.Fatal("no root mount")
			}
			shared := strings.Contains(m.Optional, "shared:")
			if prop == "shared" && !shared {
				t.Errorf("root optional fields %q, want shared:N", m.Optional)
			}
			if prop == "private" && (shared || strings.Contains(m.Optional, "master:")) {
				t.Errorf("root optional fields %q, want none", m.Optional)
			}
		})
	}
}

// TestSysctlApplied checks linux.sysctl in the container's namespaces and
// that the host is untouched.
func TestSysctlApplied(t *testing.T) {
	cases := map[string]string{
		"net.ipv4.ip_forward": "1",
		"kernel.shmmax":       "123456789",
	}
	for key, val := range cases {
		t.Run(key, func(t *testing.T) {
			hostFile := "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
			before, _ := os.ReadFile(hostFile)
			t.Cleanup(func() {
				// Put the host value back if a broken runtime changed it.
				if after, _ := os.ReadFile(hostFile); len(before) > 0 && string(after) != string(before) {
					_ = os.WriteFile(hostFile, before, 0o644)
				}
			})
			out := runOK(t, withProbe("sysctl", key), func(s *specs.Spec) {
				s.Linux.Sysctl = map[string]string{key: val}
			})
			if strings.TrimSpace(out) != val {
				t.Errorf("%s inside = %q, want %q", key, out, val)
			}
			if after, _ := os.ReadFile(hostFile); string(after) != string(before) {
				t.Errorf("host %s changed from %q to %q", key, before, after)
			}
		})
	}
}

// TestNoPivotRuns checks run --no-pivot.
func TestNoPivotRuns(t *testing.T) {
	bundle := newBundle(t, withArgs("/bin/sh", "-c", "cat /.bt-marker; echo; probe write /tmp/x"))
	r := rt(t, "run", "--no-pivot", "--bundle", bundle, newID(t)).ok(t)
	if ls := lines(r.Stdout); len(ls) != 2 || ls[0] != bundle || ls[1] != "ok" {
		t.Errorf("output %q, want the bundle's marker and ok", r.Stdout)
	}
}

// hostHasSELinux tells whether selinuxfs is mounted (the host has SELinux).
func hostHasSELinux() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/selinux", &st) == nil && st.Type == unix.SELINUX_MAGIC
}

// TestMountLabelIgnoredWithoutSELinux checks that linux.mountLabel is
// accepted and not applied when the host has no SELinux (as crun does): the
// container runs, its mounts carry no context= option, and the runtime
// warns that the label was ignored. A process label is still refused (as
// runc refuses it): the process would run unconfined.
func TestMountLabelIgnoredWithoutSELinux(t *testing.T) {
	if hostHasSELinux() {
		t.Skip("the host has SELinux")
	}
	const label = "system_u:object_r:svirt_sandbox_file_t:s0:c715,c811"
	withLabel := func(s *specs.Spec) { s.Linux.MountLabel = label }
	r := runContainer(t, withLabel, withProbe("mounts")).ok(t)
	if !strings.Contains(r.Stderr, "mountLabel") || !strings.Contains(r.Stderr, "ignored") {
		t.Errorf("no warning that the mount label was ignored: %q", r.Stderr)
	}
	mounts := parseMountinfo(r.Stdout)
	for _, dst := range []string{"/dev", "/dev/shm", "/dev/mqueue"} {
		m, ok := findMount(mounts, dst)
		if !ok {
			t.Errorf("no mount at %s", dst)
			continue
		}
		if strings.Contains(m.SuperOptions, "context=") || strings.Contains(m.Options, "context=") {
			t.Errorf("%s was mounted with an SELinux context: %+v", dst, m)
		}
	}

	bundle := newBundle(t, func(s *specs.Spec) { s.Process.SelinuxLabel = "system_u:system_r:svirt_lxc_net_t:s0:c1,c2" })
	id := newID(t)
	rt(t, "create", "--bundle", bundle, id).failed(t, "selinux is not enabled")
	assertCreateLeftNothing(t, id)
}

// TestTmpfsCopyUpCopiesDestinationContents mounts a tmpfs with runc's
// tmpcopyup extension (podman puts it on every tmpfs it adds, e.g. /run and
// /tmp of a --read-only container) over a directory of the image: the
// tmpfs starts with a copy of the directory (owners, exact modes, symlinks
// as symlinks), and writes to it do not reach the image. A tmpfs over an
// existing directory takes that directory's mode (runc does the same).
func TestTmpfsCopyUpCopiesDestinationContents(t *testing.T) {
	bundle := newBundle(t,
		withArgs("/bin/sh", "-c", `stat -c '%a %u:%g %F %n' /data /data/f /data/sub /data/sub/l /keep; `+
			`cat /data/f; echo; readlink /data/sub/l; ls -A /keep; echo new > /data/new; `+
			`grep -E ' /(data|keep) ' /proc/self/mountinfo | cut -d' ' -f5,9`),
		withMount(
			specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "tmpcopyup"}},
			specs.Mount{Destination: "/keep", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid"}},
		))
	rootfs := rootfsOf(bundle)
	mk := func(p string, mode os.FileMode, uid int) {
		t.Helper()
		if err := os.Chown(p, uid, uid); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"data", "data/sub", "keep"} {
		if err := os.Mkdir(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(rootfs, "data/f"), []byte("image-content"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "keep/hidden"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../f", filepath.Join(rootfs, "data/sub/l")); err != nil {
		t.Fatal(err)
	}
	mk(filepath.Join(rootfs, "data"), 0o750|os.ModeSetgid, 1000)
	mk(filepath.Join(rootfs, "data/f"), 0o604, 1000)
	mk(filepath.Join(rootfs, "data/sub"), 0o711, 1001)
	mk(filepath.Join(rootfs, "keep"), 0o750, 0)
	r := rt(t, "run", "--bundle", bundle, newID(t)).ok(t)
	want := []string{
		"2750 0:0 directory /data", // the mount point itself: runc copies the contents, not the owner
		"604 1000:1000 regular file /data/f",
		"711 1001:1001 directory /data/sub",
		"777 0:0 symbolic link /data/sub/l",
		"750 0:0 directory /keep",
		"image-content",
		"../f",
		"/data tmpfs", "/keep tmpfs",
	}
	got := lines(r.Stdout)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("container saw:\n%s\nwant:\n%s", r.Stdout, strings.Join(want, "\n"))
	}
	if fileExists(filepath.Join(rootfs, "data/new")) {
		t.Errorf("a write to the tmpfs reached the image's /data")
	}
}

// TestTmpfsExplicitModeWinsOverDestinationMode mounts a tmpfs with mode=700
// over an existing 0755 directory: the option wins (runc 1.2 and later; runc
// 1.1 chmods the tmpfs to the directory's mode afterwards).
func TestTmpfsExplicitModeWinsOverDestinationMode(t *testing.T) {
	out := runOK(t, withArgs("stat", "-c", "%a", "/mnt"),
		withMount(specs.Mount{Destination: "/mnt", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=700"}}))
	if got := strings.TrimSpace(out); got != "700" {
		t.Errorf("tmpfs with mode=700 over /mnt (0755) has mode %s, want 700", got)
	}
}

// TestRecursiveReadonlyBindMount bind-mounts a host directory that has a
// submount with rbind,rro: the submount is read-only inside too (ro alone
// leaves it writable). rro needs mount_setattr (Linux 5.12): a runtime
// without it must refuse the mount with an error naming it, never mount
// the submount writable.
func TestRecursiveReadonlyBindMount(t *testing.T) {
	if runtimeIsRunc {
		t.Skip("runc 1.1 has no rro (added in 1.2)")
	}
	src := hostDirWithSubmount(t)
	mods := []func(*specs.Spec){
		withArgs("/bin/sh", "-c", "probe write /mnt/data/top; echo; probe write /mnt/data/sub/new; exit 0"),
		withMount(specs.Mount{Destination: "/mnt/data", Type: "bind", Source: src, Options: []string{"rbind", "rro"}}),
	}
	if !runtimeHasKernelFeature(t, "mount-setattr") {
		r := runContainer(t, mods...)
		if r.Code == 0 || !strings.Contains(r.Stderr, "mount_setattr") || !strings.Contains(r.Stderr, "5.12") {
			t.Fatalf("rro without mount_setattr: exit %d, stderr %q; want an error naming mount_setattr and 5.12", r.Code, r.Stderr)
		}
		return
	}
	r := runContainer(t, mods...)
	r.ok(t)
	if got := strings.Count(r.Stdout, "read-only file system"); got != 2 {
		t.Errorf("writes under an rro mount: %q, want both refused (read-only file system)", r.Stdout)
	}
	for _, p := range []string{"top", "sub/new"} {
		if _, err := os.Stat(filepath.Join(src, p)); err == nil {
			t.Errorf("%s was written through the rro mount", p)
		}
	}
}

// TestProcAndSysfsLookAsMounted: procfs and sysfs (mounted by fd, see
// libcontainer/rootfs/kernelfs.go) show in mountinfo as mount(2) would
// have made them: the config's source and type, nosuid/nodev/noexec, and
// sysfs read-only as the default config asks. Callers and the OCI suite
// find the mounts by these fields.
func TestProcAndSysfsLookAsMounted(t *testing.T) {
	ms := parseMountinfo(runOK(t, withProbe("mounts")))
	for _, want := range []struct{ dest, typ, source string }{{"/proc", "proc", "proc"}, {"/sys", "sysfs", "sysfs"}} {
		m, ok := findMount(ms, want.dest)
		if !ok || m.FSType != want.typ || m.Source != want.source {
			t.Errorf("%s: %+v, want type %s source %s", want.dest, m, want.typ, want.source)
			continue
		}
		for _, o := range []string{"nosuid", "nodev", "noexec"} {
			if want.dest == "/sys" && !hasOption(m.Options, o) {
				t.Errorf("%s lacks %s: %s", want.dest, o, m.Options)
			}
		}
		if want.dest == "/sys" && !hasOption(m.Options, "ro") {
			t.Errorf("/sys is not read-only: %s", m.Options)
		}
	}
}
