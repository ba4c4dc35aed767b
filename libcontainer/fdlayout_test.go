package libcontainer

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/berth-runtime/berth/libcontainer/syncmsg"
)

// TestFdLayout: preserved fds keep 3.., each added file gets the next
// number, and the files are handed to exec.Cmd in that order.
func TestFdLayout(t *testing.T) {
	a, b, c, d := os.NewFile(100, "a"), os.NewFile(101, "b"), os.NewFile(102, "c"), os.NewFile(103, "d")
	l := newFdLayout([]*os.File{a, b})
	if n := l.add(c); n != 5 {
		t.Errorf("first added file at %d, want 5 (after the preserved 3 and 4)", n)
	}
	if n := l.add(d); n != 6 {
		t.Errorf("second added file at %d, want 6", n)
	}
	want := []*os.File{a, b, c, d}
	for i, f := range l.files {
		if f != want[i] {
			t.Errorf("file %d is %s, want %s", 3+i, filepath.Base(f.Name()), want[i].Name())
		}
	}
	if n := newFdLayout(nil).add(a); n != 3 {
		t.Errorf("with nothing preserved the first file is at %d, want 3", n)
	}
}

// TestLayOutFdsByMode: each mode's files land where fdLayout's order puts
// them (preserved, sync socket, fifo, console, bind sources, binary), and
// the config names the numbers the init reads from it.
func TestLayOutFdsPutsEachModesFilesInContractOrder(t *testing.T) {
	f := namedFiles(t, "p1", "p2", "sync", "fifo", "console", "src1", "src2", "exe")
	p1, p2, sync, fifo, console, src1, src2, exe := f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]
	cases := []struct {
		name      string
		mode      launchMode
		preserved []*os.File
		console   *os.File
		want      []*os.File
		wantSync  int
		wantExe   int
		wantFifo  int
		wantCons  int
		wantMount []int
	}{
		{name: "create", mode: &initMode{fifo: fifo},
			want: []*os.File{sync, fifo, exe}, wantSync: 3, wantExe: 5, wantFifo: 4},
		{name: "create with preserved fds and a terminal", mode: &initMode{fifo: fifo},
			preserved: []*os.File{p1, p2}, console: console,
			want: []*os.File{p1, p2, sync, fifo, console, exe}, wantSync: 5, wantExe: 8, wantFifo: 6, wantCons: 7},
		{name: "create with bind sources", mode: &initMode{fifo: fifo, mountSrcs: []*os.File{nil, src1, nil, src2}},
			console: console,
			want:    []*os.File{sync, fifo, console, src1, src2, exe}, wantSync: 3, wantExe: 8, wantFifo: 4, wantCons: 5,
			wantMount: []int{0, 6, 0, 7}},
		{name: "create in a user namespace without bind mounts", mode: &initMode{fifo: fifo, mountSrcs: []*os.File{nil}},
			want: []*os.File{sync, fifo, exe}, wantSync: 3, wantExe: 5, wantFifo: 4},
		{name: "exec", mode: &execMode{},
			want: []*os.File{sync, exe}, wantSync: 3, wantExe: 4},
		{name: "exec with preserved fds and a terminal", mode: &execMode{},
			preserved: []*os.File{p1}, console: console,
			want: []*os.File{p1, sync, console, exe}, wantSync: 4, wantExe: 6, wantCons: 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := &syncmsg.InitConfig{}
			l := &launch{mode: c.mode, config: cfg, extra: c.preserved, console: c.console}
			lay, syncFd, exeFd := l.layOutFds(sync, exe)
			if !slices.Equal(lay.files, c.want) {
				t.Errorf("files %v, want %v", names(lay.files), names(c.want))
			}
			if syncFd != c.wantSync || exeFd != c.wantExe {
				t.Errorf("sync socket at %d and binary at %d, want %d and %d", syncFd, exeFd, c.wantSync, c.wantExe)
			}
			if cfg.FifoFd != c.wantFifo || cfg.ConsoleFd != c.wantCons {
				t.Errorf("config fifo %d console %d, want %d and %d", cfg.FifoFd, cfg.ConsoleFd, c.wantFifo, c.wantCons)
			}
			if !slices.Equal(cfg.MountFds, c.wantMount) || (cfg.MountFds == nil) != (c.wantMount == nil) {
				t.Errorf("config mount fds %v, want %v", cfg.MountFds, c.wantMount)
			}
			if len(c.preserved) > 0 && &lay.files[0] == &c.preserved[0] {
				t.Error("the layout shares the caller's preserved slice")
			}
		})
	}
}

// namedFiles creates one empty file per name in a temporary directory:
// identities to compare, with names for the failure messages.
func namedFiles(t *testing.T, names ...string) []*os.File {
	t.Helper()
	dir := t.TempDir()
	fs := make([]*os.File, len(names))
	for i, name := range names {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		fs[i] = f
	}
	return fs
}

// names lists the files' names for a failure message.
func names(fs []*os.File) []string {
	res := make([]string, len(fs))
	for i, f := range fs {
		res[i] = filepath.Base(f.Name())
	}
	return res
}
