package integration

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Helpers for resources_test.go: finding a container's cgroup files on the
// host, in either cgroup mode, from /proc/<pid>/cgroup.

// skipInV2View skips a test that needs v1 controllers when the suite runs
// in the cgroup v2 view, where only the hugetlb controller exists.
func skipInV2View(t *testing.T, what string) {
	t.Helper()
	if cgroupV2 {
		t.Skipf("needs the v1 %s controller; the cgroup v2 view has only hugetlb", what)
	}
}

// skipUnlessV2View skips a test that is about the cgroup v2 view only.
func skipUnlessV2View(t *testing.T) {
	t.Helper()
	if !cgroupV2 {
		t.Skip("cgroup v2 view only (run under tests/run-v2.sh)")
	}
}

// v1Mountpoint returns where the v1 hierarchy holding ctrl is mounted, or ""
// if no such hierarchy is mounted.
func v1Mountpoint(ctrl string) string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	for _, m := range parseMountinfo(string(b)) {
		if m.FSType != "cgroup" || !strings.HasPrefix(m.MountPoint, cgroupRoot+"/") {
			continue
		}
		if hasOption(m.SuperOptions, ctrl) {
			return m.MountPoint
		}
	}
	return ""
}

// v1CgroupDir returns the host directory of pid's cgroup in the v1
// hierarchy that holds ctrl.
func v1CgroupDir(t *testing.T, pid int, ctrl string) string {
	t.Helper()
	mnt := v1Mountpoint(ctrl)
	if mnt == "" {
		t.Fatalf("no v1 %s hierarchy is mounted", ctrl)
	}
	for key, path := range procCgroups(t, pid) {
		if hasOption(key, ctrl) {
			return filepath.Join(mnt, path)
		}
	}
	t.Fatalf("/proc/%d/cgroup has no %s line: %v", pid, ctrl, procCgroups(t, pid))
	return ""
}

// unifiedCgroupDir returns the host directory of pid's cgroup in the
// unified hierarchy: /sys/fs/cgroup/<path> in v2 mode, the unified tree
// /sys/fs/cgroup/unified/<path> on a hybrid host.
func unifiedCgroupDir(t *testing.T, pid int) string {
	t.Helper()
	path, ok := procCgroups(t, pid)[""]
	if !ok {
		t.Fatalf("/proc/%d/cgroup has no unified (0::) line", pid)
	}
	if cgroupV2 {
		return filepath.Join(cgroupRoot, path)
	}
	var st unix.Statfs_t
	uni := filepath.Join(cgroupRoot, "unified")
	if unix.Statfs(uni, &st) != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		t.Skipf("%s is not a cgroup2 mount: not a hybrid host", uni)
	}
	return filepath.Join(uni, path)
}

// cgFile reads dir/name, trimmed, failing the test if it cannot be read.
func cgFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("reading cgroup file: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// wantCgFile checks that dir/name holds want.
func wantCgFile(t *testing.T, dir, name, want string) {
	t.Helper()
	if got := cgFile(t, dir, name); got != want {
		t.Errorf("%s/%s = %q, want %q", dir, name, got, want)
	}
}

// cgKeyed returns the value of key in a "key value" per line cgroup file
// (memory.oom_control, cpu.stat, ...), or "" if the key is missing.
func cgKeyed(t *testing.T, dir, name, key string) string {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(cgFile(t, dir, name)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == key {
			return f[1]
		}
	}
	return ""
}

// createNotStarted creates (but does not start) a container from bundle and
// returns its id, the init pid and the create result, whose StdoutPath
// receives the container's stdout once it is started.
func createNotStarted(t *testing.T, bundle string) (string, int, result) {
	t.Helper()
	id := newID(t)
	cr := rt(t, "create", "--bundle", bundle, id).ok(t)
	return id, getState(t, id).Pid, cr
}

// withLinuxResources sets linux.resources.
func withLinuxResources(r *specs.LinuxResources) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Linux.Resources = r }
}

// withShellCmd sets process.args to `sh -c script` (busybox sh).
func withShellCmd(script string) func(*specs.Spec) {
	return withArgs("/bin/sh", "-c", script)
}

func cgI64(v int64) *int64    { return &v }
func cgU64(v uint64) *uint64  { return &v }
func cgU16(v uint16) *uint16  { return &v }
func cgU32(v uint32) *uint32  { return &v }
func cgBool(v bool) *bool     { return &v }
func cgItoa(v int64) string   { return strconv.FormatInt(v, 10) }
func cgUtoa(v uint64) string  { return strconv.FormatUint(v, 10) }
func cgMiB(n int64) int64     { return n << 20 }
func cgPidStr(pid int) string { return strconv.Itoa(pid) }

// hugepage2MBSupported reports whether the kernel has 2 MB huge pages.
func hugepage2MBSupported() bool {
	return fileExists("/sys/kernel/mm/hugepages/hugepages-2048kB")
}

// readCounterFile reads the integer a container's counter loop writes to a
// file in its rootfs; -1 if it cannot be read yet.
func readCounterFile(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return -1
	}
	return n
}

// pauseCounterScript is a container process that writes an ever-increasing
// counter to /tmp/counter every 50 ms.
const pauseCounterScript = `i=0; while :; do i=$((i+1)); echo $i > /tmp/counter.new; mv /tmp/counter.new /tmp/counter; sleep 0.05; done`

// waitCounterAdvances waits until the counter at path goes past from.
func waitCounterAdvances(t *testing.T, path string, from int, timeout time.Duration) int {
	t.Helper()
	n := from
	if !waitFor(timeout, func() bool {
		n = readCounterFile(path)
		return n > from
	}) {
		t.Fatalf("counter %s stays at %d for %v; the container makes no progress", path, n, timeout)
	}
	return n
}

// inotifyWatch is an inotify instance watching one file.
type inotifyWatch struct {
	fd   int
	path string
}

// watchFileModify watches path for IN_MODIFY, which the VFS reports for every
// successful write(2), to kernfs (cgroup) files too. The watch is closed
// when the test ends.
func watchFileModify(t *testing.T, path string) *inotifyWatch {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatalf("inotify_init1: %v", err)
	}
	if _, err := unix.InotifyAddWatch(fd, path, unix.IN_MODIFY); err != nil {
		unix.Close(fd)
		t.Fatalf("inotify_add_watch %s: %v", path, err)
	}
	w := &inotifyWatch{fd: fd, path: path}
	t.Cleanup(w.close)
	return w
}

func (w *inotifyWatch) close() {
	if w.fd >= 0 {
		unix.Close(w.fd)
		w.fd = -1
	}
}

// modified reports whether an IN_MODIFY event has been queued.
func (w *inotifyWatch) modified() (bool, error) {
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(w.fd, buf)
		if err == unix.EAGAIN {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("reading inotify events for %s: %w", w.path, err)
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			// struct inotify_event: wd int32, mask, cookie, len uint32, name.
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			nameLen := int(binary.NativeEndian.Uint32(buf[off+12:]))
			if mask&unix.IN_MODIFY != 0 {
				return true, nil
			}
			off += unix.SizeofInotifyEvent + nameLen
		}
	}
}
