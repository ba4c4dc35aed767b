// Package syncmsg is the typed protocol between the runtime (parent) and the
// container's init while the container is being set up. Messages travel as
// JSON objects over a stream socketpair; the exchange is strictly
// request/response, so a reader never consumes a message meant for later.
package syncmsg

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"

	"github.com/berth-runtime/berth/libcontainer/seccomp"
)

// Type is the closed set of message kinds.
type Type string

// Message kinds, in the order they normally flow.
const (
	// Config (parent → init) carries the InitConfig.
	Config Type = "config"
	// Ready (init → parent): the container is fully set up; the init waits
	// only for Run and then for start.
	Ready Type = "ready"
	// Run (parent → init): state.json is written; go on and wait for start.
	Run Type = "run"
	// Error (init → parent): setup failed; Message says why.
	Error Type = "error"
	// Hooks (init → parent): the mounts are done, pivot_root has not
	// happened: run the prestart and createRuntime hooks now.
	Hooks Type = "hooks"
	// HooksDone (parent → init): those hooks succeeded.
	HooksDone Type = "hooksDone"
	// Seccomp (init → parent): the init is about to load a filter with a
	// notify listener, which it will hold at Fd; the runtime copies it
	// with pidfd_getfd once it is there and hands it to the seccomp agent.
	// (Sent before the load: after it, the init's own write may be a
	// notified syscall that nobody can answer yet.)
	Seccomp Type = "seccomp"
	// SeccompDone (parent → init): the agent has the fd.
	SeccompDone Type = "seccompDone"
)

// Message is one protocol message.
type Message struct {
	Type    Type        `json:"type"`
	Config  *InitConfig `json:"config,omitempty"`
	Message string      `json:"message,omitempty"`
	Fd      int         `json:"fd,omitempty"`
}

// InitConfig is everything the init needs beyond its inherited fds.
type InitConfig struct {
	ID      string      `json:"id"`
	Spec    *specs.Spec `json:"spec"`
	Rootfs  string      `json:"rootfs"`
	NoPivot bool        `json:"noPivot,omitempty"`
	// NoNewKeyring keeps the caller's session keyring.
	NoNewKeyring bool `json:"noNewKeyring,omitempty"`
	// PreserveFds is how many fds after stdio belong to the container.
	PreserveFds int `json:"preserveFds,omitempty"`
	// FifoFd is the init's O_PATH fd of the exec fifo.
	FifoFd int `json:"fifoFd"`
	// Seccomp is the compiled filter of the process (nil: none).
	Seccomp *seccomp.Program `json:"seccomp,omitempty"`
	// ConsoleFd is the init's fd of the console socket (0: no terminal).
	ConsoleFd int `json:"consoleFd,omitempty"`
	// MountFds are, per spec mount, the init's fd of a detached copy of
	// the bind mount's source (open_tree), made by the runtime where the
	// init, in its user namespace, may not reach the source; 0: none.
	MountFds []int `json:"mountFds,omitempty"`
	// UnshareCgroupNS asks the init to create its cgroup namespace itself,
	// after it has been placed in its cgroup.
	UnshareCgroupNS bool `json:"unshareCgroupNS,omitempty"`
	// JoinMountNS is a mount namespace the init joins (by path).
	JoinMountNS string `json:"joinMountNS,omitempty"`
	// Exec is true for a process joining a running container: only the
	// process setup is done, no rootfs and no exec fifo.
	Exec bool `json:"exec,omitempty"`
	// Process overrides Spec.Process (exec).
	Process *specs.Process `json:"process,omitempty"`
	// RuntimeHooks asks the init to stop for the runtime's hooks (Hooks).
	RuntimeHooks bool `json:"runtimeHooks,omitempty"`
	// State is the container's state for the hooks the init runs itself.
	State *specs.State `json:"state,omitempty"`
	// CgroupPaths are the container's cgroup directories, for cgroup mounts.
	CgroupPaths map[string]string `json:"cgroupPaths,omitempty"`
	// PrivatePidNS is true when the init is pid 1 of a new pid namespace.
	PrivatePidNS bool `json:"privatePidNS,omitempty"`
	// NewNetNS, UserNS, CgroupNS and MountNS say, from the runtime's plan,
	// whether the container has a network namespace of its own (to bring
	// lo up), is in a user namespace other than the host's (its own, or
	// the runtime's: rootless podman runs it in one), has a cgroup namespace, and has a
	// mount namespace (new or joined) to build its rootfs in: the init
	// does not read the spec's namespace list again.
	NewNetNS bool `json:"newNetNS,omitempty"`
	UserNS   bool `json:"userNS,omitempty"`
	CgroupNS bool `json:"cgroupNS,omitempty"`
	MountNS  bool `json:"mountNS,omitempty"`
}

// Conn is one end of the protocol.
type Conn struct {
	f   *os.File
	enc *json.Encoder
	dec *json.Decoder
}

// NewConn wraps f.
func NewConn(f *os.File) *Conn {
	return &Conn{f: f, enc: json.NewEncoder(f), dec: json.NewDecoder(f)}
}

// wire is a Message as it travels: the configuration stays raw JSON until
// a message has one, so that a process that never sends or receives one
// (the runtime's side of an exec, most messages of a create) does not
// build encoding/json's codec of the whole runtime-spec type: that cold
// set-up cost about 0.8 ms each way, more than the rest of the message.
type wire struct {
	Type    Type            `json:"type"`
	Config  json.RawMessage `json:"config,omitempty"`
	Message string          `json:"message,omitempty"`
	Fd      int             `json:"fd,omitempty"`
}

// Send writes one message.
func (c *Conn) Send(m Message) error {
	logrus.Debugf("sync: sending %q", m.Type)
	w := wire{Type: m.Type, Message: m.Message, Fd: m.Fd}
	if m.Config != nil {
		b, err := json.Marshal(m.Config)
		if err != nil {
			return fmt.Errorf("send %s: %w", m.Type, err)
		}
		w.Config = b
	}
	if err := c.enc.Encode(w); err != nil {
		return fmt.Errorf("send %s: %w", m.Type, err)
	}
	return nil
}

// ErrClosed is returned when the peer closed the connection.
var ErrClosed = errors.New("peer closed the connection")

// Recv reads one message. If it is an Error message, it is returned as an
// error.
func (c *Conn) Recv() (Message, error) {
	var w wire
	if err := c.dec.Decode(&w); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return Message{}, ErrClosed
		}
		return Message{}, fmt.Errorf("receive: %w", err)
	}
	m := Message{Type: w.Type, Message: w.Message, Fd: w.Fd}
	if len(w.Config) > 0 && string(w.Config) != "null" {
		m.Config = new(InitConfig)
		if err := json.Unmarshal(w.Config, m.Config); err != nil {
			return m, fmt.Errorf("receive %s: %w", w.Type, err)
		}
	}
	logrus.Debugf("sync: received %q", m.Type)
	if m.Type == Error {
		return m, errors.New(m.Message)
	}
	return m, nil
}

// Expect reads one message and checks its type.
func (c *Conn) Expect(t Type) (Message, error) {
	m, err := c.Recv()
	if err != nil {
		return m, err
	}
	if m.Type != t {
		return m, fmt.Errorf("protocol error: got %q, want %q", m.Type, t)
	}
	return m, nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.f.Close() }
