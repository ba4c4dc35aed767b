// Package intelrdt applies linux.intelRdt through the resctrl file system
// (Intel RDT / AMD QoS): the container's CTRL_MON group (closID, or one
// named after the container), its schemata lines, an optional MON group,
// and the tasks file, following runtime-spec 1.3's rules on which group is
// created, compared, or left alone.
package intelrdt

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Root is where the kernel documents resctrl's mount point.
const Root = "/sys/fs/resctrl"

const superMagic = 0x7655821 // RDTGROUP_SUPER_MAGIC

// Mounted tells whether resctrl is mounted at root.
func Mounted(root string) bool {
	var st unix.Statfs_t
	return unix.Statfs(root, &st) == nil && st.Type == superMagic
}

// lines is what goes to the schemata file, in the spec's order:
// l3CacheSchema, memBwSchema, then schemata.
func lines(r *specs.LinuxIntelRdt) []string {
	var out []string
	for _, l := range []string{r.L3CacheSchema, r.MemBwSchema} {
		if l != "" {
			out = append(out, l)
		}
	}
	return append(out, r.Schemata...)
}

// Check validates r against the resctrl at root before anything is made:
// no newlines, memBwSchema starting with "MB:", every schemata resource
// one this host's resctrl has (info/<RESOURCE>), and a closID without
// schemata naming an existing group.
func Check(root string, r *specs.LinuxIntelRdt) error {
	if strings.ContainsAny(r.ClosID, "\n") || strings.Contains(r.ClosID, "..") || strings.Contains(strings.Trim(r.ClosID, "/"), "/") {
		return fmt.Errorf("linux.intelRdt.closID %q is not a group name", r.ClosID)
	}
	if r.MemBwSchema != "" && !strings.HasPrefix(r.MemBwSchema, "MB:") {
		return fmt.Errorf("linux.intelRdt.memBwSchema %q must start with MB:", r.MemBwSchema)
	}
	for _, l := range lines(r) {
		if strings.Contains(l, "\n") {
			return fmt.Errorf("linux.intelRdt: schema %q contains a newline", l)
		}
		res, _, ok := strings.Cut(strings.TrimSpace(l), ":")
		if !ok {
			return fmt.Errorf("linux.intelRdt: schema %q is not RESOURCE:ID=VALUE;...", l)
		}
		if _, err := os.Stat(filepath.Join(root, "info", res)); err != nil {
			return fmt.Errorf("linux.intelRdt: schema %q: this host's resctrl has no %s resource (%s)", l, res, filepath.Join(root, "info"))
		}
	}
	if r.ClosID != "" && r.ClosID != "/" && len(lines(r)) == 0 {
		if _, err := os.Stat(filepath.Join(root, r.ClosID)); err != nil {
			return fmt.Errorf("linux.intelRdt.closID %q: no such resctrl group and no schemata to make it with", r.ClosID)
		}
	}
	return nil
}

// groupDir is the container's CTRL_MON group: the root for closID "/",
// closID's group, or one named after the container.
func groupDir(root, id string, r *specs.LinuxIntelRdt) string {
	switch r.ClosID {
	case "/":
		return root
	case "":
		return filepath.Join(root, id)
	}
	return filepath.Join(root, r.ClosID)
}

// Apply puts pid (the container's init) in its group, making the group
// and writing the schemata as the spec says; on error, what it made is
// removed.
func Apply(root, id string, r *specs.LinuxIntelRdt, pid int) (err error) {
	dir := groupDir(root, id, r)
	want := lines(r)
	made := false
	switch err := os.Mkdir(dir, 0o755); {
	case err == nil:
		made = true
	case !errors.Is(err, os.ErrExist):
		return fmt.Errorf("linux.intelRdt: make resctrl group %s: %w", dir, err)
	case r.ClosID != "" && len(want) > 0:
		// An existing closID group is shared: its schemata must be ours.
		if err := compare(dir, want); err != nil {
			return err
		}
		want = nil
	}
	defer func() {
		if err != nil {
			Remove(root, id, r)
			if made && r.ClosID != "" {
				os.Remove(dir)
			}
		}
	}()
	for _, l := range want {
		if err := writeLine(filepath.Join(dir, "schemata"), l); err != nil {
			return fmt.Errorf("linux.intelRdt: write %q to %s/schemata: %w", l, dir, err)
		}
	}
	tasks := dir
	if r.EnableMonitoring {
		tasks = filepath.Join(dir, "mon_groups", id)
		if err := os.Mkdir(tasks, 0o755); err != nil {
			return fmt.Errorf("linux.intelRdt.enableMonitoring: make MON group %s: %w", tasks, err)
		}
	}
	return Join(tasks, pid)
}

// Join writes pid to the tasks file of dir.
func Join(dir string, pid int) error {
	if err := writeLine(filepath.Join(dir, "tasks"), strconv.Itoa(pid)); err != nil {
		return fmt.Errorf("linux.intelRdt: add %d to %s/tasks: %w", pid, dir, err)
	}
	return nil
}

// writeLine makes one write of line to a resctrl file: the kernel takes
// each write as one update (offsets mean nothing there); appending keeps
// every line in a plain file, which is what the unit tests read.
func writeLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// TasksDir is the directory whose tasks file a process of the container
// (an exec) joins.
func TasksDir(root, id string, r *specs.LinuxIntelRdt) string {
	dir := groupDir(root, id, r)
	if r.EnableMonitoring {
		return filepath.Join(dir, "mon_groups", id)
	}
	return dir
}

// Remove deletes what the container owns: its MON group, and the group
// named after it (closID unset). A closID group, made by us or not, stays,
// as the spec says.
func Remove(root, id string, r *specs.LinuxIntelRdt) error {
	dir := groupDir(root, id, r)
	var errs []error
	if r.EnableMonitoring {
		if err := os.Remove(filepath.Join(dir, "mon_groups", id)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if r.ClosID == "" {
		if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// compare checks that every domain value of each wanted line is what the
// group's schemata file has (the kernel pads and reorders, so values are
// compared as numbers: bitmasks in hex, bandwidth in decimal).
func compare(dir string, want []string) error {
	b, err := os.ReadFile(filepath.Join(dir, "schemata"))
	if err != nil {
		return fmt.Errorf("linux.intelRdt: read %s/schemata: %w", dir, err)
	}
	have := map[string]map[string]uint64{}
	for _, l := range strings.Split(string(b), "\n") {
		if res, doms, err := parseLine(l); err == nil {
			have[res] = doms
		}
	}
	for _, l := range want {
		res, doms, err := parseLine(l)
		if err != nil {
			return fmt.Errorf("linux.intelRdt: schema %q: %w", l, err)
		}
		for d, v := range doms {
			if cur, ok := have[res][d]; !ok || cur != v {
				return fmt.Errorf("linux.intelRdt: closID group %s has a different schema for %s (want %q, the group's schemata: %q)",
					dir, res, l, strings.TrimSpace(string(b)))
			}
		}
	}
	return nil
}

// parseLine splits "L3:0=7f0;1=1f" into its resource and domain values.
func parseLine(l string) (string, map[string]uint64, error) {
	res, rest, ok := strings.Cut(strings.TrimSpace(l), ":")
	if !ok || res == "" {
		return "", nil, errors.New("not RESOURCE:ID=VALUE;...")
	}
	base := 16
	if strings.HasPrefix(res, "MB") {
		base = 10
	}
	doms := map[string]uint64{}
	for _, dv := range strings.Split(rest, ";") {
		d, v, ok := strings.Cut(strings.TrimSpace(dv), "=")
		if !ok {
			return "", nil, fmt.Errorf("domain %q is not ID=VALUE", dv)
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), base, 64)
		if err != nil {
			return "", nil, fmt.Errorf("domain %q: %w", dv, err)
		}
		doms[strings.TrimSpace(d)] = n
	}
	return res, doms, nil
}

// Update writes new L3 and MB schemas ("" for none) to the container's
// group, after checking them as Check does.
func Update(root, id string, r *specs.LinuxIntelRdt, l3, mb string) error {
	u := &specs.LinuxIntelRdt{L3CacheSchema: l3, MemBwSchema: mb}
	if err := Check(root, u); err != nil {
		return err
	}
	dir := groupDir(root, id, r)
	for _, l := range lines(u) {
		if err := writeLine(filepath.Join(dir, "schemata"), l); err != nil {
			return fmt.Errorf("linux.intelRdt: write %q to %s/schemata: %w", l, dir, err)
		}
	}
	return nil
}
