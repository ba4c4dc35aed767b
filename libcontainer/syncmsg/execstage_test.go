package syncmsg

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/berth-runtime/berth/libcontainer/seccomp"
)

// TestExecStageEncoding checks the layout execstage.c reads: the "BXC1"
// header with the body's length, then (tag, length, value) records in
// native byte order, strings NUL-terminated, and an empty end record.
func TestExecStageEncoding(t *testing.T) {
	prog := &seccomp.Program{Raw: bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 3), Flags: 4}
	e := &ExecStage{
		Args: []string{"sh", "-c", "x"}, Env: []string{"A=1"}, AddHome: true, Cwd: "/tmp",
		UID: 1000, GID: 100, Gids: []uint32{5, 7}, Umask: 0o077, NoNewPrivs: true,
		Caps: [5]uint64{1, 2, 3, 4, 5}, LastCap: 40, Seccomp: prog, PreserveFds: 2,
	}
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if string(b[:4]) != "BXC1" || binary.NativeEndian.Uint32(b) != execStageMagic {
		t.Fatalf("header %q", b[:4])
	}
	ne := binary.NativeEndian
	if n := ne.Uint32(b[4:]); int(n) != len(b)-8 {
		t.Fatalf("body length %d, want %d", n, len(b)-8)
	}
	got := records(t, b[8:])
	u32 := func(v uint32) string { return string(ne.AppendUint32(nil, v)) }
	var caps []byte
	for _, c := range e.Caps {
		caps = ne.AppendUint64(caps, c)
	}
	want := []rec{
		{tagArg, "sh\x00"}, {tagArg, "-c\x00"}, {tagArg, "x\x00"}, {tagEnv, "A=1\x00"}, {tagCwd, "/tmp\x00"},
		{tagUID, u32(1000)}, {tagGID, u32(100)}, {tagUmask, u32(0o077)}, {tagPreserve, u32(2)},
		{tagGids, u32(5) + u32(7)}, {tagNNP, ""}, {tagHome, ""},
		{tagCaps, string(caps) + u32(40)},
		{tagSeccomp, string(ne.AppendUint64(nil, 4)) + string(prog.Raw)},
		{tagEnd, ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("records\n%+v\nwant\n%+v", got, want)
	}
}

// TestExecStageRefusesWhatNeedsTheGoInit: a listener must go to the
// agent, and a malformed program must not reach the kernel.
func TestExecStageRefusesWhatNeedsTheGoInit(t *testing.T) {
	for _, p := range []*seccomp.Program{
		{Raw: make([]byte, 8), Notify: true},
		{Raw: make([]byte, 7)},
		{},
	} {
		if _, err := (&ExecStage{Args: []string{"true"}, Cwd: "/", Seccomp: p}).Encode(); err == nil {
			t.Errorf("program %+v encoded", p)
		}
	}
}

// rec is one record of the encoding.
type rec struct {
	tag uint32
	val string
}

// records splits body into its records, up to the end record (tag 0),
// which must be the last bytes.
func records(t *testing.T, body []byte) []rec {
	t.Helper()
	ne := binary.NativeEndian
	var got []rec
	for {
		tag, n := ne.Uint32(body), ne.Uint32(body[4:])
		got = append(got, rec{tag, string(body[8 : 8+n])})
		body = body[8+n:]
		if tag == tagEnd {
			if len(body) != 0 {
				t.Fatalf("%d bytes after the end record", len(body))
			}
			return got
		}
	}
}

// TestExecForkEncoding pins the fork's records after the stage's, in the
// layout execstage.c's parse_fork reads: fds as u32, rlimits as resource,
// soft, hard and the NUL-terminated name, the oom_score_adj as an i32.
func TestExecForkEncoding(t *testing.T) {
	adj := -17
	f := &ExecFork{
		Stage: &ExecStage{Args: []string{"true"}, Cwd: "/"}, Sync: 9, PidNS: 11, Cgroup: -1,
		Joins:       []ForkJoin{{Flag: 0x40000000, Fd: 12}},
		V1Tasks:     []string{"/sys/fs/cgroup/pids/x/tasks"},
		Rlimits:     []ForkRlimit{{Resource: 7, Soft: 512, Hard: 1024, Name: "RLIMIT_NOFILE"}},
		OOMScoreAdj: &adj, Fds: []int{0, 1, 2, 5}, Sealed: 13,
	}
	b, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	stage, _ := f.Stage.Encode()
	if !bytes.HasPrefix(b, stage) {
		t.Fatal("the fork's encoding does not start with the stage's")
	}
	ne := binary.NativeEndian
	u32 := func(v uint32) string { return string(ne.AppendUint32(nil, v)) }
	u64 := func(v uint64) string { return string(ne.AppendUint64(nil, v)) }
	got := records(t, b[len(stage):])
	want := []rec{
		{forkSync, u32(9)}, {forkPidNS, u32(11)}, {forkJoin, u32(0x40000000) + u32(12)},
		{forkV1Tasks, "/sys/fs/cgroup/pids/x/tasks\x00"},
		{forkRlimit, u32(7) + u64(512) + u64(1024) + "RLIMIT_NOFILE\x00"},
		{forkOOMAdj, u32(uint32(0xffffffef))}, {forkFds, u32(0) + u32(1) + u32(2) + u32(5)}, {forkSealed, u32(13)}, {forkEnd, ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("records\n%+v\nwant\n%+v", got, want)
	}
}
