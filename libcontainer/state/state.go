// Package state owns a container's directory under the runtime root:
// the small state.json, the copy of config.json, the exec fifo and the lock
// that serialises commands on one container. The status is never stored: it
// is derived from kernel facts each time it is asked for.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/libcontainer/procfs"
)

// File names inside a container directory.
const (
	StateFile  = "state.json"
	ConfigFile = "config.json"
	FifoFile   = "exec.fifo"
)

// Status values, as the OCI state and runc print them.
const (
	Created = "created"
	Running = "running"
	Paused  = "paused"
	Stopped = "stopped"
)

// State is what Berth persists about a container.
type State struct {
	OCIVersion    string            `json:"ociVersion"`
	ID            string            `json:"id"`
	Bundle        string            `json:"bundle"`
	Rootfs        string            `json:"rootfs"`
	InitPid       int               `json:"initPid"`
	InitStartTime uint64            `json:"initStartTime"`
	Created       time.Time         `json:"created"`
	Owner         string            `json:"owner,omitempty"`
	CgroupPaths   map[string]string `json:"cgroupPaths,omitempty"`
	// SystemdUnit is the container's systemd unit as slice:prefix:name
	// (the systemd cgroup driver), empty with cgroupfs.
	SystemdUnit string `json:"systemdUnit,omitempty"`
	// SystemdUser is true when the unit is the user's systemd manager's
	// (a rootless caller's), not the system's.
	SystemdUser bool `json:"systemdUser,omitempty"`
	// SharedPidNS is true when the container has no pid namespace of its own,
	// so killing its init does not kill the rest of its processes.
	SharedPidNS bool `json:"sharedPidNS,omitempty"`
	// NotifySocket is the caller's NOTIFY_SOCKET that start forwards to.
	NotifySocket string            `json:"notifySocket,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// ValidID reports whether id is an acceptable container ID: runc's rule
// (^[\w+\-.]+$: ASCII letters, digits and _ + - . only), never "." or "..".
// A byte loop, not a regexp: compiling one at package init cost every
// berth process 60 µs.
func ValidID(id string) bool {
	if id == "" || id == "." || id == ".." || len(id) > 1024 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '_', c == '+', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}

// Dir returns the container directory for id under root, resolved so that it
// can never point outside root.
func Dir(root, id string) (string, error) {
	return securejoin.SecureJoin(root, id)
}

// Load reads the state of the container in dir.
func Load(dir string) (*State, error) {
	data, err := procfs.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(dir, StateFile), err)
	}
	return &s, nil
}

// Save writes the state atomically: a crash leaves the old or the new file,
// never a torn one.
func (s *State) Save(dir string) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, StateFile), data, 0o600)
}

// LoadSpec reads the copy of config.json kept in the container directory.
func LoadSpec(dir string) (*specs.Spec, error) {
	var spec specs.Spec
	if err := loadConfig(dir, &spec); err != nil {
		return nil, err
	}
	return &spec, nil
}

// Lifecycle is what start and delete read of the config copy: its hooks,
// whether it has a process, and its resctrl group. Decoding only these
// spares a fresh process the reflection set-up of the whole runtime-spec
// type (0.6-1.2 ms cold against 0.12-0.35 ms here; docs/design.md).
type Lifecycle struct {
	// Process is the raw process object: nil or null when there is none.
	Process json.RawMessage `json:"process"`
	Hooks   *specs.Hooks    `json:"hooks,omitempty"`
	Linux   *struct {
		IntelRdt *specs.LinuxIntelRdt `json:"intelRdt,omitempty"`
	} `json:"linux,omitempty"`
}

// HasProcess reports whether the config has a process to run.
func (l *Lifecycle) HasProcess() bool {
	return len(l.Process) > 0 && string(l.Process) != "null"
}

// LoadLifecycle reads the Lifecycle part of the config copy in dir.
func LoadLifecycle(dir string) (*Lifecycle, error) {
	var l Lifecycle
	if err := loadConfig(dir, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// LoadExecSpec reads what exec needs of the config copy in dir: the
// version, the process (the defaults of an exec), and the namespaces,
// seccomp profile and resctrl group it joins. Like Lifecycle, it spares
// a fresh process the reflection set-up of the rest of the runtime-spec
// type (the mounts, resources, devices, hooks). The other fields are
// zero. The seccomp profile is returned as its JSON (nil: none), not in
// the spec: exec finds its compiled program by those bytes and decodes
// the profile only when it has to compile it or talk to an agent.
func LoadExecSpec(dir string) (spec *specs.Spec, seccompJSON json.RawMessage, err error) {
	var v struct {
		Version string         `json:"ociVersion"`
		Process *specs.Process `json:"process,omitempty"`
		Linux   *struct {
			Namespaces []specs.LinuxNamespace `json:"namespaces,omitempty"`
			Seccomp    json.RawMessage        `json:"seccomp,omitempty"`
			IntelRdt   *specs.LinuxIntelRdt   `json:"intelRdt,omitempty"`
		} `json:"linux,omitempty"`
	}
	if err := loadConfig(dir, &v); err != nil {
		return nil, nil, err
	}
	s := &specs.Spec{Version: v.Version, Process: v.Process}
	if l := v.Linux; l != nil {
		s.Linux = &specs.Linux{Namespaces: l.Namespaces, IntelRdt: l.IntelRdt}
		if len(l.Seccomp) > 0 && string(l.Seccomp) != "null" {
			seccompJSON = l.Seccomp
		}
	}
	return s, seccompJSON, nil
}

// loadConfig decodes the config copy in dir into v.
func loadConfig(dir string, v any) error {
	data, err := procfs.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("parse %s: %w", filepath.Join(dir, ConfigFile), err)
	}
	return nil
}

// WriteFileAtomic writes data to a temporary file in the same directory and
// renames it over path. It does not fsync: the state root is a tmpfs, and
// what matters is that a crashed command leaves the old or the new file.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir, base := filepath.Split(path)
	f, err := os.CreateTemp(dir, "."+base+"-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// Status derives the container's status from the kernel: the init must be
// the very process recorded (pid and start time) and not a zombie; while the
// exec fifo exists the init has not been released yet; a frozen cgroup means
// paused.
func (s *State) Status(dir string, frozen func() bool) string {
	if !procfs.Alive(s.InitPid, s.InitStartTime) {
		return Stopped
	}
	if frozen != nil && frozen() {
		return Paused
	}
	if _, err := os.Lstat(filepath.Join(dir, FifoFile)); err == nil {
		return Created
	}
	return Running
}

// Lock is an exclusive lock on one container directory.
type Lock struct {
	fd   int
	held bool
}

// LockDir takes the lock on dir, waiting for any other Berth command that
// holds it. It fails with os.ErrNotExist when dir is gone.
func LockDir(dir string) (*Lock, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	// The directory may have been deleted while we waited.
	if _, err := os.Stat(filepath.Join(dir)); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &Lock{fd: fd, held: true}, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() {
	if l != nil && l.held {
		unix.Close(l.fd)
		l.held = false
	}
}
