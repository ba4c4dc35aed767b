// Package cgroups places a container's processes in their cgroup on cgroup
// v1, v2 and hybrid hosts (directories Berth makes, or a systemd unit with
// the systemd driver), applies the resource limits through
// opencontainers/cgroups, and kills and removes that cgroup on delete.
package cgroups

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/libcontainer/kernel"
	"github.com/berth-runtime/berth/libcontainer/procfs"
)

// Root is where cgroup file systems are mounted.
const Root = "/sys/fs/cgroup"

// UnifiedKey is the key of the cgroup v2 path in a path map (runc uses "").
const UnifiedKey = ""

// SystemdKey is the key of the named v1 hierarchy name=systemd, which has
// no controllers: systemd tracks processes with it on v1 and hybrid hosts.
// runc 1.1 places every container in it too (its fs driver's NameGroup),
// and so does Berth, so that tools reading /proc/<pid>/cgroup see the
// container's path there and not the path of whatever started it.
const SystemdKey = "name=systemd"

// Mode is the cgroup layout of the host.
type Mode int

// The three layouts runc and crun tell apart.
const (
	Legacy Mode = iota
	Hybrid
	Unified
)

func (m Mode) String() string {
	return [...]string{"v1", "hybrid", "v2"}[m]
}

// DetectMode looks at the file system types under /sys/fs/cgroup, as runc does.
func DetectMode() Mode {
	var st unix.Statfs_t
	if unix.Statfs(Root, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return Unified
	}
	if unix.Statfs(filepath.Join(Root, "unified"), &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return Hybrid
	}
	return Legacy
}

// Manager handles one container's cgroup directories.
type Manager struct {
	// Paths maps a v1 hierarchy (its controllers, comma separated) or
	// UnifiedKey to the absolute directory of the container's cgroup.
	Paths map[string]string
	// Mode is the host layout the paths were computed for.
	Mode Mode
	// Unit is the container's systemd unit (the systemd driver), nil with
	// cgroupfs.
	Unit *Unit
	// pending holds limits Set got before the unit existed.
	pending *Resources
}

// Sub returns a manager for an existing sub-cgroup of the container's
// (exec --cgroup): "path" on v2, "ctrl[,ctrl]:path" to pick v1 hierarchies.
func (m *Manager) Sub(spec string) (*Manager, error) {
	ctrls, sub, ok := strings.Cut(spec, ":")
	if !ok {
		ctrls, sub = "", spec
	}
	// A sub-cgroup is below the container's: no component may climb
	// (runc refuses them too), and an empty one is the container's own.
	for _, c := range strings.Split(sub, "/") {
		if c == ".." {
			return nil, fmt.Errorf("sub-cgroup %q is not inside the container's cgroup", sub)
		}
	}
	sub = filepath.Clean("/" + sub)
	if ctrls != "" && m.Mode == Unified {
		return nil, fmt.Errorf("sub-cgroup %q: controller names are for cgroup v1; on cgroup v2 give the path only", spec)
	}
	for _, c := range strings.Split(ctrls, ",") {
		if c == "" {
			continue
		}
		found := false
		for key := range m.Paths {
			if key != UnifiedKey && strings.Contains(","+key+",", ","+c+",") {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("sub-cgroup %q: %s is not a cgroup controller of the container", spec, c)
		}
	}
	res := &Manager{Paths: map[string]string{}, Mode: m.Mode}
	for key, p := range m.Paths {
		use := ctrls == ""
		for _, c := range strings.Split(ctrls, ",") {
			if c != "" && strings.Contains(","+key+",", ","+c+",") {
				use = true
			}
		}
		if !use {
			res.Paths[key] = p
			continue
		}
		d := filepath.Join(p, sub)
		if _, err := os.Stat(d); err != nil {
			if key == SystemdKey && ctrls == "" {
				// A caller makes sub-cgroups where the controllers
				// are; name=systemd has none: stay in the container's.
				res.Paths[key] = p
				continue
			}
			return nil, fmt.Errorf("sub-cgroup %s: %w", d, err)
		}
		res.Paths[key] = d
	}
	return res, nil
}

// FromPaths rebuilds a manager from saved paths.
func FromPaths(paths map[string]string) *Manager {
	m := &Manager{Paths: paths, Mode: Legacy}
	if p, ok := paths[UnifiedKey]; ok {
		m.Mode = Hybrid
		if !strings.HasPrefix(p, filepath.Join(Root, "unified")+"/") {
			m.Mode = Unified
		}
	}
	return m
}

// New computes the paths for cgroupsPath on this host. An absolute path is
// taken from the hierarchy root; a relative one is placed under the parent of
// Berth's own cgroup on v2 and under Berth's own cgroup on v1, as runc does;
// an empty one defaults to "berth-<id>".
func New(cgroupsPath, id string) (*Manager, error) {
	if cgroupsPath == "" {
		cgroupsPath = "berth-" + id
	}
	clean := filepath.Clean("/" + cgroupsPath)
	if clean == "/" {
		return nil, fmt.Errorf("cgroupsPath %q names the root cgroup", cgroupsPath)
	}
	abs := filepath.IsAbs(cgroupsPath)
	own, err := ownCgroups()
	if err != nil {
		return nil, err
	}
	m := &Manager{Paths: map[string]string{}, Mode: DetectMode()}
	join := func(mount, ownPath string, parentOfOwn bool) string {
		if abs {
			return filepath.Join(mount, clean)
		}
		base := ownPath
		if parentOfOwn {
			base = filepath.Dir(ownPath)
		}
		return filepath.Join(mount, base, clean)
	}
	switch m.Mode {
	case Unified:
		m.Paths[UnifiedKey] = join(Root, own[UnifiedKey], true)
	default:
		mounts, err := v1Mounts()
		if err != nil {
			return nil, err
		}
		for key, mnt := range mounts {
			m.Paths[key] = join(mnt, own[key], false)
		}
		if m.Mode == Hybrid {
			m.Paths[UnifiedKey] = join(filepath.Join(Root, "unified"), own[UnifiedKey], true)
		}
	}
	return m, nil
}

// ownCgroups parses /proc/self/cgroup into hierarchy key → path.
func ownCgroups() (map[string]string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	res := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		res[parts[1]] = parts[2]
	}
	return res, nil
}

// v1Mounts finds the mounted v1 hierarchies that have real controllers,
// and the named hierarchy name=systemd (SystemdKey); other named
// hierarchies are left alone, as runc does.
func v1Mounts() (map[string]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseV1Mounts(f)
}

// parseV1Mounts is v1Mounts reading mountinfo text from r.
func parseV1Mounts(r io.Reader) (map[string]string, error) {
	res := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		sep := strings.Index(line, " - ")
		if sep < 0 {
			continue
		}
		post := strings.Fields(line[sep+3:])
		if len(post) < 3 || post[0] != "cgroup" {
			continue
		}
		pre := strings.Fields(line[:sep])
		if len(pre) < 5 || !strings.HasPrefix(pre[4], Root+"/") {
			continue
		}
		var ctrls []string
		systemd := false
		for _, opt := range strings.Split(post[2], ",") {
			switch {
			case opt == SystemdKey:
				systemd = true
			case opt == "rw" || opt == "ro" || strings.HasPrefix(opt, "name=") || strings.Contains(opt, "="):
			case opt == "noprefix" || opt == "clone_children" || opt == "xattr" || opt == "cpuset_v2_mode":
			default:
				ctrls = append(ctrls, opt)
			}
		}
		switch {
		case len(ctrls) > 0:
			res[strings.Join(ctrls, ",")] = pre[4]
		case systemd:
			res[SystemdKey] = pre[4]
		}
	}
	return res, sc.Err()
}

// Create makes every directory. An existing cgroup that already holds
// processes is refused, so two containers never share one by accident. On
// error, whatever was made is removed again. The name=systemd directory is
// best effort, as in runc: it limits nothing, so where it cannot be made
// (say, a read-only mount in a nested container) the container goes without
// it and its key is dropped from Paths.
func (m *Manager) Create() (err error) {
	if m.Unit != nil {
		// systemd makes the unit's cgroup, with the init (ApplyUnified).
		return nil
	}
	var made []string
	defer func() {
		if err != nil {
			for i := len(made) - 1; i >= 0; i-- {
				unix.Rmdir(made[i])
			}
		}
	}()
	for key, p := range m.Paths {
		created, err := mkdirAll(p)
		if err != nil && key == SystemdKey {
			logrus.Debugf("not placing the container in name=systemd: create cgroup %s: %v", p, err)
			for i := len(created) - 1; i >= 0; i-- {
				unix.Rmdir(created[i])
			}
			delete(m.Paths, key)
			continue
		}
		made = append(made, created...)
		if err != nil {
			return fmt.Errorf("create cgroup %s: %w", p, err)
		}
		if len(created) == 0 {
			if pids, _ := readPids(p); len(pids) > 0 {
				return fmt.Errorf("container's cgroup is not empty: %d process(es) found (%s)", len(pids), p) // runc 1.2's words
			}
		}
		// A process started in a frozen cgroup (its own freezer, or an
		// ancestor's) would wait there forever, and so would create.
		if m.frozenAt(key, p) {
			return fmt.Errorf("container's cgroup unexpectedly frozen: %s (thaw it before creating a container in it)", p)
		}
		if strings.Contains(","+key+",", ",cpuset,") {
			if err := fillCpuset(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// mkdirAll creates p and its missing parents, returning what it created.
func mkdirAll(p string) ([]string, error) {
	var missing []string
	for d := p; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		missing = append(missing, d)
	}
	var made []string
	for i := len(missing) - 1; i >= 0; i-- {
		err := unix.Mkdir(missing[i], 0o755)
		if err == unix.EEXIST {
			continue // made meanwhile by another create: not ours to remove
		}
		if err != nil {
			return made, err
		}
		made = append(made, missing[i])
	}
	return made, nil
}

// fillCpuset fills the empty cpuset.cpus and cpuset.mems of a v1 cpuset
// cgroup and of its ancestors from their parents, top down (runc's
// copyIfNeeded): the kernel leaves them empty in a new cgroup and refuses
// tasks then. Ancestors that this create did not make are filled too,
// since another create may have made one and not filled it yet.
func fillCpuset(p string) error {
	files := [2]string{"cpuset.cpus", "cpuset.mems"}
	read := func(d string) (vals [2][]byte, err error) {
		for i, f := range files {
			b, err := os.ReadFile(filepath.Join(d, f))
			if err != nil {
				return vals, fmt.Errorf("read %s: %w", filepath.Join(d, f), err)
			}
			vals[i] = bytes.TrimSpace(b)
		}
		return vals, nil
	}
	// Up to the first ancestor that has both, noting the ones that lack one.
	type level struct {
		dir  string
		vals [2][]byte
	}
	var empty []level
	var vals [2][]byte
	for d := p; ; d = filepath.Dir(d) {
		cur, err := read(d)
		if err != nil {
			return err
		}
		if len(cur[0]) > 0 && len(cur[1]) > 0 {
			vals = cur
			break
		}
		empty = append(empty, level{d, cur})
	}
	// Then down again, each empty file from its parent's value.
	for i := len(empty) - 1; i >= 0; i-- {
		for j, f := range files {
			if len(empty[i].vals[j]) > 0 {
				vals[j] = empty[i].vals[j]
				continue
			}
			if err := os.WriteFile(filepath.Join(empty[i].dir, f), vals[j], 0); err != nil {
				return fmt.Errorf("write %s: %w", filepath.Join(empty[i].dir, f), err)
			}
		}
	}
	return nil
}

// OpenUnified opens the v2 directory (pure v2, or the unified tree of a
// hybrid host) for clone3(CLONE_INTO_CGROUP). It returns -1 when there is
// none.
func (m *Manager) OpenUnified() (int, error) {
	p, ok := m.Paths[UnifiedKey]
	if !ok || m.Unit != nil && !exists(p) {
		// No cgroup yet: systemd makes it with the process in it.
		return -1, nil
	}
	return unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

// ApplyV1 moves the whole process pid into every v1 hierarchy. It is the
// slow path (the kernel waits for an RCU grace period); a process that can
// move itself uses the pre-stage instead.
func (m *Manager) ApplyV1(pid int) error {
	s := []byte(strconv.Itoa(pid))
	for _, p := range m.V1Paths() {
		if err := os.WriteFile(filepath.Join(p, "cgroup.procs"), s, 0); err != nil {
			return fmt.Errorf("join cgroup %s: %w", p, err)
		}
	}
	return nil
}

// ApplyUnified moves the whole process pid into the unified cgroup: the
// path for a process that could not be born there (clone3 hidden by a
// seccomp filter, or a cgroup namespace its parent had joined).
func (m *Manager) ApplyUnified(pid int) error {
	p, ok := m.Paths[UnifiedKey]
	if m.Unit != nil && !exists(p) {
		return m.startUnit(pid)
	}
	if !ok {
		return nil
	}
	if err := os.WriteFile(filepath.Join(p, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
		return fmt.Errorf("join cgroup %s: %w", p, err)
	}
	return nil
}

// V1Paths lists the v1 directories (name=systemd's included), which a
// process joins by writing to their tasks or cgroup.procs files.
func (m *Manager) V1Paths() []string {
	var res []string
	for key, p := range m.Paths {
		if key != UnifiedKey {
			res = append(res, p)
		}
	}
	sort.Strings(res)
	return res
}

// Pids lists every process in the container's cgroup.
func (m *Manager) Pids() ([]int, error) {
	p := m.primary()
	if p == "" {
		return nil, nil
	}
	return readPidsRecursive(p)
}

// primary is the path whose process list is authoritative.
func (m *Manager) primary() string {
	if p, ok := m.Paths[UnifiedKey]; ok {
		return p
	}
	for key, p := range m.Paths {
		if strings.Contains(","+key+",", ",pids,") || strings.Contains(","+key+",", ",freezer,") {
			return p
		}
	}
	for _, p := range m.Paths {
		return p
	}
	return ""
}

func readPids(dir string) ([]int, error) {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range bytes.Fields(data) {
		if n, err := strconv.Atoi(string(f)); err == nil {
			pids = append(pids, n)
		}
	}
	return pids, nil
}

func readPidsRecursive(dir string) ([]int, error) {
	var all []int
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		pids, err := readPids(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		all = append(all, pids...)
		return nil
	})
	return all, err
}

// frozenAt reports whether the cgroup p (of hierarchy key) is frozen,
// by itself or through an ancestor: v1's freezer.state says FROZEN or
// FREEZING for both; v2's cgroup.events "frozen 1" is the effective state.
func (m *Manager) frozenAt(key, p string) bool {
	switch {
	case key == UnifiedKey && m.Mode == Unified:
		v, err := os.ReadFile(filepath.Join(p, "cgroup.events"))
		if err != nil {
			return false
		}
		for _, l := range strings.Split(string(v), "\n") {
			if l == "frozen 1" {
				return true
			}
		}
		return false
	case strings.Contains(","+key+",", ",freezer,"):
		v, err := os.ReadFile(filepath.Join(p, "freezer.state"))
		return err == nil && strings.TrimSpace(string(v)) != "THAWED"
	}
	return false
}

// FreezerPath is the directory whose freezer holds the whole container:
// the unified cgroup on a pure v2 host, the v1 freezer's elsewhere; "" when
// the container has neither.
func (m *Manager) FreezerPath() string {
	if p, ok := m.Paths[UnifiedKey]; ok && m.Mode == Unified {
		return p
	}
	for key, p := range m.Paths {
		if strings.Contains(","+key+",", ",freezer,") {
			return p
		}
	}
	return ""
}

// Frozen reports whether the cgroup freezer holds the container.
func (m *Manager) Frozen() bool {
	if p, ok := m.Paths[UnifiedKey]; ok && m.Mode == Unified {
		v, err := procfs.ReadFile(filepath.Join(p, "cgroup.freeze"))
		return err == nil && strings.TrimSpace(string(v)) == "1"
	}
	for key, p := range m.Paths {
		if strings.Contains(","+key+",", ",freezer,") {
			v, err := procfs.ReadFile(filepath.Join(p, "freezer.state"))
			return err == nil && strings.TrimSpace(string(v)) != "THAWED"
		}
	}
	return false
}

// KillAll sends SIGKILL to every process in the cgroup: through cgroup.kill
// where the kernel has it (also in the unified tree of a hybrid host), else
// one by one until the cgroup is empty.
func (m *Manager) KillAll() error {
	if p, ok := m.Paths[UnifiedKey]; ok && kernel.Has(kernel.CgroupKill) {
		err := os.WriteFile(filepath.Join(p, "cgroup.kill"), []byte("1"), 0)
		if err == nil || errors.Is(err, os.ErrNotExist) && !exists(p) {
			return nil
		}
	}
	for i := 0; i < 100; i++ {
		pids, err := m.Pids()
		if err != nil || len(pids) == 0 {
			return err
		}
		for _, pid := range pids {
			unix.Kill(pid, unix.SIGKILL)
		}
		time.Sleep(time.Millisecond)
	}
	return errors.New("processes keep appearing in the cgroup")
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Destroy kills what is left in the cgroup, waits until it is empty, and
// removes every directory, deepest first. Missing directories are fine.
func (m *Manager) Destroy() error {
	if m.Unit != nil {
		return m.destroySystemd()
	}
	if err := m.KillAll(); err != nil {
		return err
	}
	var errs []error
	for _, p := range m.Paths {
		if err := removeTree(p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeTree removes dir and any child cgroups, retrying while the kernel is
// still tearing down exited tasks.
func removeTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	delay := 100 * time.Microsecond
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := unix.Rmdir(dir)
		if err == nil || err == unix.ENOENT {
			return nil
		}
		if err != unix.EBUSY || time.Now().After(deadline) {
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		time.Sleep(delay)
		if delay < 10*time.Millisecond {
			delay *= 2
		}
	}
}
