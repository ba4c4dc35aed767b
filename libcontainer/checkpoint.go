//go:build berth_criu

package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/checkpoint-restore/go-criu/v7/rpc"
	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/berth-runtime/berth/libcontainer/criu"
	"github.com/berth-runtime/berth/libcontainer/rootfs"
	"github.com/berth-runtime/berth/libcontainer/rootless"
	"github.com/berth-runtime/berth/libcontainer/state"
)

// descriptorsFile, in the image directory, lists what the container's
// init had as fds 0, 1 and 2 at checkpoint time (runc's name and format:
// a JSON array of readlink results), so that restore can hand CRIU the new
// stdio in place of the pipes.
const descriptorsFile = "descriptors.json"

// errCheckpointCreated is runc's text for a container not started yet.
var errCheckpointCreated = errors.New("Container cannot be checkpointed in created state")

// CriuOpts are the flags checkpoint and restore share (runc's).
type CriuOpts struct {
	// ImagePath is the image directory; WorkPath, where CRIU logs (default
	// ImagePath).
	ImagePath, WorkPath                                       string
	TCPEstablished, ExtUnixSk, ShellJob, FileLocks, AutoDedup bool
	// ManageCgroupsMode is soft, full, strict, ignore or "" (CRIU's
	// default, soft).
	ManageCgroupsMode string
	// EmptyNs is the CLONE_NEW* flags of the namespaces CRIU must not dump
	// (checkpoint) or that stay empty (restore): --empty-ns.
	EmptyNs uint32
	// LazyPages migrates memory on demand (userfaultfd): the dump serves
	// the pages (from PageServer's address, or the image directory) and
	// the restore gets them from `criu lazy-pages` as the process
	// touches them.
	LazyPages bool
}

// CheckpointOpts are checkpoint's flags.
type CheckpointOpts struct {
	CriuOpts
	// ParentPath is the previous pre-dump, relative to ImagePath (CRIU's
	// rule): only the memory changed since then is dumped.
	ParentPath   string
	LeaveRunning bool
	PreDump      bool
	// PageServer is ADDRESS:PORT of a CRIU page server that receives the
	// memory pages instead of the image directory.
	PageServer string
	// StatusFd, with LazyPages, gets one \0 byte and is closed once the
	// dump is ready to serve pages (--status-fd): the restore side may
	// start then.
	StatusFd *os.File
}

// cgMode maps --manage-cgroups-mode to CRIU's.
func cgMode(mode string) (rpc.CriuCgMode, error) {
	switch mode {
	case "":
		return rpc.CriuCgMode_DEFAULT, nil
	case "soft":
		return rpc.CriuCgMode_SOFT, nil
	case "full":
		return rpc.CriuCgMode_FULL, nil
	case "strict":
		return rpc.CriuCgMode_STRICT, nil
	case "ignore":
		return rpc.CriuCgMode_IGNORE, nil
	}
	return 0, fmt.Errorf("invalid manage-cgroups-mode value %q (soft, full, strict or ignore)", mode)
}

// criuDirs are the open image and work directories; made lists those
// openCriuDirs made, for the caller to remove on failure.
type criuDirs struct {
	images, work *os.File
	workPath     string
	made         []string
	// inNS are the same directories opened in CRIU's mount namespace
	// (restore).
	inNS []*os.File
}

// openCriuDirs opens the image directory, made (0700) if missing when
// makeImages, and the work directory, made if missing.
func openCriuDirs(o *CriuOpts, makeImages bool) (*criuDirs, error) {
	if o.ImagePath == "" {
		return nil, errors.New("invalid directory to save checkpoint: --image-path is empty")
	}
	d := &criuDirs{workPath: o.WorkPath}
	if d.workPath == "" {
		d.workPath = o.ImagePath
	}
	open := func(p string, create bool) (*os.File, error) {
		if create {
			if err := os.Mkdir(p, 0o700); err == nil {
				d.made = append(d.made, p)
			} else if !errors.Is(err, os.ErrExist) {
				return nil, err
			}
		}
		f, err := os.Open(p)
		if err == nil {
			var st os.FileInfo
			if st, err = f.Stat(); err == nil && !st.IsDir() {
				f.Close()
				return nil, fmt.Errorf("%s is not a directory", p)
			}
		}
		return f, err
	}
	var err error
	if d.images, err = open(o.ImagePath, makeImages); err != nil {
		d.close(true)
		return nil, fmt.Errorf("image directory: %w", err)
	}
	if d.work, err = open(d.workPath, true); err != nil {
		d.close(true)
		return nil, fmt.Errorf("work directory: %w", err)
	}
	return d, nil
}

// close closes the directories; failed removes those it made.
func (d *criuDirs) close(failed bool) {
	for _, f := range append([]*os.File{d.images, d.work}, d.inNS...) {
		if f != nil {
			f.Close()
		}
	}
	if failed {
		for i := len(d.made) - 1; i >= 0; i-- {
			os.RemoveAll(d.made[i])
		}
	}
}

// baseOpts are the CRIU options of both directions.
func (d *criuDirs) baseOpts(o *CriuOpts, logFile string) (*rpc.CriuOpts, error) {
	mode, err := cgMode(o.ManageCgroupsMode)
	if err != nil {
		return nil, err
	}
	return &rpc.CriuOpts{
		ImagesDirFd: proto.Int32(int32(d.images.Fd())), WorkDirFd: proto.Int32(int32(d.work.Fd())),
		LogLevel: proto.Int32(4), LogFile: proto.String(logFile),
		ManageCgroups: proto.Bool(mode != rpc.CriuCgMode_IGNORE), ManageCgroupsMode: mode.Enum(),
		ShellJob: proto.Bool(o.ShellJob), TcpEstablished: proto.Bool(o.TCPEstablished),
		ExtUnixSk: proto.Bool(o.ExtUnixSk), FileLocks: proto.Bool(o.FileLocks),
		EmptyNs: proto.Uint32(o.EmptyNs), AutoDedup: proto.Bool(o.AutoDedup),
		// A terminal's master is the caller's (the console socket's
		// receiver), outside the container: CRIU makes a new pair on
		// restore and hands the master over.
		OrphanPtsMaster: proto.Bool(true),
	}, nil
}

// Checkpoint dumps the running container to o.ImagePath with CRIU. Without
// LeaveRunning (or for a pre-dump) its processes are gone afterwards and
// the container is stopped (the command then deletes it, as runc does); a dump that fails leaves it running (CRIU
// resumes what it froze), and the directories it made are removed.
func (c *Container) Checkpoint(o *CheckpointOpts) (err error) {
	switch c.Status() {
	case state.Running, state.Paused:
	case state.Created:
		return errCheckpointCreated
	default:
		return ErrNotRunning
	}
	if err := criuNeedsRoot(); err != nil {
		return err
	}
	spec, err := c.Spec()
	if err != nil {
		return err
	}
	d, err := openCriuDirs(&o.CriuOpts, true)
	if err != nil {
		return err
	}
	defer func() { d.close(err != nil) }()
	logFile := "dump.log"
	typ := rpc.CriuReqType_DUMP
	if o.PreDump {
		logFile, typ = "pre-dump.log", rpc.CriuReqType_PRE_DUMP
	}
	opts, err := d.baseOpts(&o.CriuOpts, logFile)
	if err != nil {
		return err
	}
	pid := c.State.InitPid
	opts.Pid = proto.Int32(int32(pid))
	opts.Root = proto.String(c.State.Rootfs)
	opts.LeaveRunning = proto.Bool(o.LeaveRunning)
	if p := c.cgroup().FreezerPath(); p != "" {
		opts.FreezeCgroup = proto.String(p)
	}
	if o.ParentPath != "" {
		opts.ParentImg, opts.TrackMem = proto.String(o.ParentPath), proto.Bool(true)
	}
	if o.PageServer != "" {
		ps, err := pageServer(o.PageServer)
		if err != nil {
			return err
		}
		opts.Ps = ps
	}
	if opts.External, err = externalNamespaces(spec); err != nil {
		return err
	}
	call := &criu.Call{Type: typ, Opts: opts, LogDir: d.workPath}
	if o.LazyPages {
		if err := lazyPages(opts); err != nil {
			return err
		}
		call.Notify = statusReady(o.StatusFd)
	}
	if !o.PreDump {
		mounts, err := c.externalMounts(spec, c.State.Bundle)
		if err != nil {
			return err
		}
		for _, m := range mounts {
			// dumped under its own path as the key
			opts.ExtMnt = append(opts.ExtMnt, &rpc.ExtMountMap{Key: proto.String(m.dest), Val: proto.String(m.dest)})
		}
		opts.ExtMnt = append(opts.ExtMnt, maskedFileMounts(spec, pid)...)
		if err := saveDescriptors(d.images.Name(), pid); err != nil {
			return err
		}
	}
	logrus.Debugf("%s: criu %s into %s (pid %d, %d external mounts, external %v)", c.ID, typ, o.ImagePath, pid, len(opts.ExtMnt), opts.External)
	return runCriu(call, d.workPath)
}

// lazyPages asks for lazy migration once CRIU says it can do it here.
func lazyPages(opts *rpc.CriuOpts) error {
	if err := criu.CheckLazyPages(); err != nil {
		return err
	}
	opts.LazyPages = proto.Bool(true)
	return nil
}

// statusReady answers CRIU's notifications during a lazy dump: at
// status-ready (the pages can be served) it writes \0 to f and closes it.
// CRIU since 3.15 says so by this notification rather than by writing to
// a status fd of its own.
func statusReady(f *os.File) func(script string, pid, fd int) error {
	return func(script string, _ int, fd int) error {
		if fd >= 0 {
			unix.Close(fd)
		}
		if script != "status-ready" || f == nil {
			return nil
		}
		_, err := f.Write([]byte{0})
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
}

// runCriu runs call. When it fails, CRIU's own check tells whether CRIU
// cannot work on this host at all (a kernel it does not support), and
// that one-line reason is the error; CRIU fails such a host before it
// touches any process. The check runs only then: a second criu process
// on every checkpoint and restore would cost as much as a small dump.
func runCriu(call *criu.Call, dir string) error {
	err := call.Run()
	if err != nil {
		if cerr := criu.Check(dir); cerr != nil {
			return cerr
		}
	}
	return err
}

// criuNeedsRoot refuses a caller CRIU cannot serve: it dumps and restores
// only as the host's root.
func criuNeedsRoot() error {
	if os.Geteuid() != 0 || rootless.InUserNS() {
		return errors.New("checkpoint and restore need the host's root: CRIU cannot dump or restore a rootless container")
	}
	return nil
}

// pageServer parses --page-server ADDRESS:PORT.
func pageServer(s string) (*rpc.CriuPageServerInfo, error) {
	host, port, err := net.SplitHostPort(s)
	if err == nil {
		var n int
		if n, err = strconv.Atoi(port); err == nil && n > 0 && n < 65536 {
			return &rpc.CriuPageServerInfo{Address: proto.String(host), Port: proto.Int32(int32(n))}, nil
		}
	}
	return nil, fmt.Errorf("invalid --page-server %q: want ADDRESS:PORT", s)
}

// externalNS are the namespaces that, joined by path, CRIU leaves out of
// the dump and restore expects to exist (by the key, as an inherited fd).
var externalNS = []struct {
	typ      specs.LinuxNamespaceType
	criuName string
	key      string
}{
	{specs.NetworkNamespace, "net", "extRootNetNS"},
	{specs.PIDNamespace, "pid", "extRootPidNS"},
}

// externalNamespaces names the namespaces joined by path that CRIU must
// treat as external: "net[INODE]:KEY".
func externalNamespaces(spec *specs.Spec) ([]string, error) {
	var out []string
	for _, e := range externalNS {
		p := nsPath(spec, e.typ)
		if p == "" {
			continue
		}
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			return nil, fmt.Errorf("%s namespace %s: %w", e.typ, p, err)
		}
		out = append(out, fmt.Sprintf("%s[%d]:%s", e.criuName, st.Ino, e.key))
	}
	return out, nil
}

// nsPath is the path of the namespace of type t the spec joins, or "".
func nsPath(spec *specs.Spec, t specs.LinuxNamespaceType) string {
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == t {
			return ns.Path
		}
	}
	return ""
}

func hasNamespace(spec *specs.Spec, t specs.LinuxNamespaceType) bool {
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

// extMount is a mount of the container whose source lies outside it: CRIU
// records it by dest and restore maps it to source.
type extMount struct{ dest, source string }

// externalMounts lists the container's mounts of things outside it: bind
// mounts, the host's cgroup directories where the container has no cgroup
// namespace, and in a user namespace the devices (bind-mounted from the
// host). dest is relative to the rootfs as create resolved it.
func (c *Container) externalMounts(spec *specs.Spec, bundleDir string) ([]extMount, error) {
	var out []extMount
	add := func(dest, src string) error {
		p, err := securejoin.SecureJoin(c.State.Rootfs, dest)
		if err != nil {
			return err
		}
		out = append(out, extMount{dest: "/" + strings.TrimPrefix(strings.TrimPrefix(p, c.State.Rootfs), "/"), source: src})
		return nil
	}
	for _, m := range spec.Mounts {
		o := rootfs.ParseOptions(m.Options)
		switch {
		case m.Type == "bind" || o.Bind:
			if err := add(m.Destination, bindSource(m, bundleDir)); err != nil {
				return nil, err
			}
		case m.Type == "cgroup" || m.Type == "cgroup2":
			if hasNamespace(spec, specs.CgroupNamespace) {
				continue // a mount of its own in its cgroup namespace
			}
			for _, b := range cgroupBinds(m.Destination, c.State.CgroupPaths) {
				if err := add(b.dest, b.source); err != nil {
					return nil, err
				}
			}
		}
	}
	if hasNamespace(spec, specs.UserNamespace) {
		for _, d := range rootfs.DeviceMountPaths(spec) {
			if err := add(d, d); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// cgroupBinds are the bind mounts create made for a cgroup mount at dest
// without a cgroup namespace (rootfs.go, cgroup): on v2 the container's
// own directory at dest, on v1 one per hierarchy under dest.
func cgroupBinds(dest string, paths map[string]string) []extMount {
	if p, ok := paths[""]; ok && !strings.HasPrefix(p, "/sys/fs/cgroup/unified/") {
		return []extMount{{dest: dest, source: p}}
	}
	var out []extMount
	for key, p := range paths {
		if key == "" {
			continue
		}
		dir := key
		if name, ok := strings.CutPrefix(key, "name="); ok {
			dir = name
		}
		out = append(out, extMount{dest: filepath.Join(dest, dir), source: p})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].dest < out[j].dest })
	return out
}

// maskedFileMounts are the masked paths that are files: create covered
// them with the host's /dev/null, which CRIU records under that key.
func maskedFileMounts(spec *specs.Spec, pid int) []*rpc.ExtMountMap {
	var out []*rpc.ExtMountMap
	for _, p := range spec.Linux.MaskedPaths {
		st, err := os.Stat(fmt.Sprintf("/proc/%d/root%s", pid, filepath.Clean("/"+p)))
		if err != nil || st.IsDir() {
			continue
		}
		out = append(out, &rpc.ExtMountMap{Key: proto.String(p), Val: proto.String("/dev/null")})
	}
	return out
}

// saveDescriptors writes descriptors.json: what fds 0-2 of pid are.
func saveDescriptors(imageDir string, pid int) error {
	fds := make([]string, 3)
	for i := range fds {
		fds[i], _ = os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, i))
	}
	b, err := json.Marshal(fds)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(imageDir, descriptorsFile), b, 0o600)
}

// loadDescriptors reads descriptors.json from an image directory.
func loadDescriptors(imageDir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(imageDir, descriptorsFile))
	if err != nil {
		return nil, fmt.Errorf("not a checkpoint image directory: %w", err)
	}
	var fds []string
	if err := json.Unmarshal(b, &fds); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(imageDir, descriptorsFile), err)
	}
	return fds, nil
}
