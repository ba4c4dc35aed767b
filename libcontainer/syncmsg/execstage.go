package syncmsg

import (
	"encoding/binary"
	"fmt"

	"github.com/berth-runtime/berth/libcontainer/seccomp"
)

// ExecStage is the configuration of the C exec stage
// (libcontainer/nsenter/execstage.c): what a process joining a container
// needs when it has none of the Go init's extras. The runtime has already
// resolved what does not need the container (the env's duplicates, the
// capability sets); the stage resolves HOME and the program inside it.
// It is sent instead of the Config message; the rest of the exchange
// (ready, run, error) is the JSON protocol's.
type ExecStage struct {
	Args []string
	// Env is deduplicated; AddHome asks for HOME from the container's
	// /etc/passwd (the env has none, or an empty one, removed).
	Env     []string
	AddHome bool
	Cwd     string
	UID     uint32
	GID     uint32
	Gids    []uint32
	Umask   uint32
	// NoNewPrivs also places the seccomp load after the capability drop.
	NoNewPrivs bool
	// Caps are the bounding, effective, inheritable, permitted and
	// ambient sets; LastCap is the kernel's highest capability.
	Caps    [5]uint64
	LastCap int
	// Seccomp is loaded without a listener (nil: none).
	Seccomp     *seccomp.Program
	PreserveFds int
}

// Record tags of the encoding, as execstage.c numbers them.
const (
	tagEnd = iota
	tagArg
	tagEnv
	tagCwd
	tagUID
	tagGID
	tagGids
	tagUmask
	tagNNP
	tagCaps
	tagSeccomp
	tagPreserve
	tagHome
)

// execStageMagic is "BXC1" read as a native-endian uint32.
const execStageMagic = 0x31435842

// Encode lays the configuration out for the C stage: a header (magic,
// body length) and records (tag, length, value) in native byte order,
// strings with their terminating NUL, ending with an empty tagEnd.
func (e *ExecStage) Encode() ([]byte, error) {
	if e.Seccomp != nil && e.Seccomp.Notify {
		return nil, fmt.Errorf("exec stage: a seccomp listener needs the Go init")
	}
	ne := binary.NativeEndian
	b := tlv(make([]byte, 8, 512))
	for _, a := range e.Args {
		b.str(tagArg, a)
	}
	for _, v := range e.Env {
		b.str(tagEnv, v)
	}
	b.str(tagCwd, e.Cwd)
	b.u32(tagUID, e.UID)
	b.u32(tagGID, e.GID)
	b.u32(tagUmask, e.Umask)
	b.u32(tagPreserve, uint32(e.PreserveFds))
	if len(e.Gids) > 0 {
		var g []byte
		for _, id := range e.Gids {
			g = ne.AppendUint32(g, id)
		}
		b.rec(tagGids, g)
	}
	if e.NoNewPrivs {
		b.rec(tagNNP, nil)
	}
	if e.AddHome {
		b.rec(tagHome, nil)
	}
	var c []byte
	for _, set := range e.Caps {
		c = ne.AppendUint64(c, set)
	}
	b.rec(tagCaps, ne.AppendUint32(c, uint32(e.LastCap)))
	if p := e.Seccomp; p != nil {
		if len(p.Raw) == 0 || len(p.Raw)%8 != 0 || len(p.Raw)/8 > 0xffff {
			return nil, fmt.Errorf("load seccomp filter: bad program size %d", len(p.Raw))
		}
		b.rec(tagSeccomp, append(ne.AppendUint64(nil, uint64(p.Flags)), p.Raw...))
	}
	b.rec(tagEnd, nil)
	ne.PutUint32(b[0:], execStageMagic)
	ne.PutUint32(b[4:], uint32(len(b)-8))
	return b, nil
}

// tlv is an encoding being built: records of (tag, length, value)
// in native byte order, as the C stage reads them.
type tlv []byte

func (b *tlv) rec(tag uint32, v []byte) {
	ne := binary.NativeEndian
	*b = append(ne.AppendUint32(ne.AppendUint32(*b, tag), uint32(len(v))), v...)
}

// str is a string record, with its terminating NUL.
func (b *tlv) str(tag uint32, s string) { b.rec(tag, append([]byte(s), 0)) }

func (b *tlv) u32(tag uint32, v uint32) { b.rec(tag, binary.NativeEndian.AppendUint32(nil, v)) }

// SendExecStage writes the C stage's configuration (instead of Config).
func (c *Conn) SendExecStage(e *ExecStage) error {
	b, err := e.Encode()
	if err != nil {
		return err
	}
	if _, err := c.f.Write(b); err != nil {
		return fmt.Errorf("send exec stage: %w", err)
	}
	return nil
}

// ExecFork is what the runtime's direct exec (berth_exec_fork in
// execstage.c) needs besides the stage: it forks the process itself, so
// the child joins, moves and limits itself before the stage's work. Fds
// are the runtime's; the child joins the namespaces in Joins' order.
type ExecFork struct {
	Stage *ExecStage
	// Sync is the child's end of the sync socket (errors; EOF at execve).
	Sync int
	// PidNS is joined by the forking thread (-1: none): the child is born
	// in it. Cgroup is a cgroup2 directory it is born in (-1: none).
	PidNS, Cgroup int
	Joins         []ForkJoin
	// V1Tasks are the v1 "tasks" files the child writes "0" to.
	V1Tasks     []string
	Rlimits     []ForkRlimit
	OOMScoreAdj *int
	// Fds become the program's 0, 1, 2 and its preserved fds.
	Fds []int
	// Sealed is the sealed copy of the binary (exeseal) the child runs the
	// stage from (-1: from the runtime's own, which nothing in the
	// container can write); it then reads the stage from Sync.
	Sealed int
}

// ForkJoin is a namespace the child joins: its CLONE_NEW* flag and fd.
type ForkJoin struct{ Flag, Fd int }

// ForkRlimit is an rlimit the child sets on itself; Name is its spec name
// (for the error).
type ForkRlimit struct {
	Resource   int
	Soft, Hard uint64
	Name       string
}

// Record tags after the stage's, as execstage.c's F_* numbers them.
const (
	forkEnd = iota
	forkSync
	forkPidNS
	forkCgroup
	forkJoin
	forkV1Tasks
	forkRlimit
	forkOOMAdj
	forkFds
	forkSealed
)

// Encode is the stage's encoding followed by the fork's records (same
// layout), ending with an empty forkEnd.
func (f *ExecFork) Encode() ([]byte, error) {
	stage, err := f.Stage.Encode()
	if err != nil {
		return nil, err
	}
	ne := binary.NativeEndian
	b := tlv(stage)
	b.u32(forkSync, uint32(f.Sync))
	if f.PidNS >= 0 {
		b.u32(forkPidNS, uint32(f.PidNS))
	}
	if f.Cgroup >= 0 {
		b.u32(forkCgroup, uint32(f.Cgroup))
	}
	for _, j := range f.Joins {
		b.rec(forkJoin, ne.AppendUint32(ne.AppendUint32(nil, uint32(j.Flag)), uint32(j.Fd)))
	}
	for _, t := range f.V1Tasks {
		b.str(forkV1Tasks, t)
	}
	for _, r := range f.Rlimits {
		v := ne.AppendUint64(ne.AppendUint64(ne.AppendUint32(nil, uint32(r.Resource)), r.Soft), r.Hard)
		b.rec(forkRlimit, append(append(v, r.Name...), 0))
	}
	if f.OOMScoreAdj != nil {
		b.u32(forkOOMAdj, uint32(int32(*f.OOMScoreAdj)))
	}
	var fds []byte
	for _, fd := range f.Fds {
		fds = ne.AppendUint32(fds, uint32(fd))
	}
	b.rec(forkFds, fds)
	if f.Sealed >= 0 {
		b.u32(forkSealed, uint32(f.Sealed))
	}
	b.rec(forkEnd, nil)
	return b, nil
}
