package rootless

import (
	"github.com/berth-runtime/berth/libcontainer/cpus"

	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// OwnIDsOnly reports whether uids and gids map nothing but the caller's
// own effective uid and gid, one id each: the only maps an unprivileged
// process may write itself (user_namespaces(7); gid_map only once
// setgroups is denied). Anything else needs newuidmap and newgidmap.
func OwnIDsOnly(uids, gids []specs.LinuxIDMapping) bool {
	return ownID(uids, os.Geteuid()) && ownID(gids, os.Getegid())
}

// HostID is the host id that container id maps to in m.
func HostID(m []specs.LinuxIDMapping, id uint32) (uint32, bool) {
	for _, e := range m {
		if id >= e.ContainerID && uint64(id) < uint64(e.ContainerID)+uint64(e.Size) {
			return e.HostID + (id - e.ContainerID), true
		}
	}
	return 0, false
}

func ownID(m []specs.LinuxIDMapping, id int) bool {
	return len(m) == 1 && m[0].Size == 1 && int(m[0].HostID) == id
}

// IDMaps writes a user namespace's maps with the setuid helpers of the
// uidmap package, which check them against /etc/subuid and /etc/subgid.
type IDMaps struct {
	// NewUIDMap and NewGIDMap are the helpers' paths.
	NewUIDMap, NewGIDMap string
	UIDs, GIDs           []specs.LinuxIDMapping
}

// ErrNoHelpers is wrapped by FindIDMaps when newuidmap or newgidmap is not
// installed.
var ErrNoHelpers = errors.New("newuidmap and newgidmap (the uidmap package) are needed")

// FindIDMaps looks newuidmap and newgidmap up in $PATH, as runc does. The
// error says what the mappings need: the helpers and ranges for the user
// in /etc/subuid and /etc/subgid.
func FindIDMaps(uids, gids []specs.LinuxIDMapping) (*IDMaps, error) {
	m := &IDMaps{UIDs: uids, GIDs: gids}
	var missing []string
	for _, h := range []struct {
		name string
		path *string
	}{{"newuidmap", &m.NewUIDMap}, {"newgidmap", &m.NewGIDMap}} {
		p, err := exec.LookPath(h.name)
		if err != nil {
			missing = append(missing, h.name)
			continue
		}
		*h.path = p
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("rootless container: uidMappings %s and gidMappings %s map more than %s's own ids: %w, "+
			"with ranges for this user in /etc/subuid and /etc/subgid; %s not found in $PATH",
			FormatMappings(uids), FormatMappings(gids), userName(), ErrNoHelpers, strings.Join(missing, " and "))
	}
	return m, nil
}

// Write writes the uid and gid maps of the user namespace of process pid,
// which must be the caller's and not yet have maps.
func (m *IDMaps) Write(pid int) error {
	if err := runHelper(m.NewUIDMap, pid, m.UIDs, "/etc/subuid"); err != nil {
		return err
	}
	return runHelper(m.NewGIDMap, pid, m.GIDs, "/etc/subgid")
}

func runHelper(path string, pid int, maps []specs.LinuxIDMapping, file string) error {
	args := []string{strconv.Itoa(pid)}
	for _, e := range maps {
		args = append(args, strconv.FormatUint(uint64(e.ContainerID), 10),
			strconv.FormatUint(uint64(e.HostID), 10), strconv.FormatUint(uint64(e.Size), 10))
	}
	var out bytes.Buffer
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cpus.Run(cmd); err != nil {
		msg := strings.Join(strings.Fields(out.String()), " ")
		return fmt.Errorf("write the user namespace's maps %s with %s: %s (%v): %s must give %s these ids",
			FormatMappings(maps), path, msg, err, file, userName())
	}
	return nil
}

// FormatMappings is mappings as "containerID:hostID:size,...", the form
// errors and logs use.
func FormatMappings(maps []specs.LinuxIDMapping) string {
	parts := make([]string, len(maps))
	for i, e := range maps {
		parts[i] = fmt.Sprintf("%d:%d:%d", e.ContainerID, e.HostID, e.Size)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// userName is "name (uid N)" for the caller, or "uid N" without a name.
func userName() string {
	uid := strconv.Itoa(os.Geteuid())
	if u, err := user.LookupId(uid); err == nil {
		return u.Username + " (uid " + uid + ")"
	}
	return "uid " + uid
}
