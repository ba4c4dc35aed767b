// Package docker is the library behind berth-docker: it turns an image and
// docker-style run options into an OCI bundle with docker's secure defaults,
// keeps each container's overlay rootfs and metadata, runs the per-container
// monitor, and carries out the docker verbs by calling the OCI runtime's CLI
// (berth, or runc) only. It knows nothing of a command line, so that the
// container logic can be read and tested apart from flags and output: the
// CLI (flags, tables, exit codes) lives in cmd/berth-docker-engine.
package docker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	mobyseccomp "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/bundle/image"
	"github.com/berth-runtime/berth/libcontainer/caps"
)

// RunOptions are the docker run flags berth-docker understands.
type RunOptions struct {
	Name        string
	Detach      bool
	Interactive bool
	TTY         bool
	Remove      bool
	Env         []string
	Workdir     string
	User        string
	Hostname    string
	Volumes     []string // HOST:CTR[:ro]
	Tmpfs       []string // PATH[:opts]
	ReadOnly    bool
	Memory      int64
	CPUs        float64
	CpusetCPUs  string
	PidsLimit   int64
	CapAdd      []string
	CapDrop     []string
	Privileged  bool
	SecurityOpt []string
	Entrypoint  *string
	Network     string // "none" (default: new netns with lo) or "host"
	Cmd         []string
}

// defaultCaps is docker's default capability set.
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

var maskedPaths = []string{
	"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
	"/sys/devices/virtual/powercap",
}

var readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}

// Spec builds the container's config.json from the image and the options.
// rootfs is the (overlay) root file system path.
func Spec(img *image.Image, o *RunOptions, id, rootfs string) (*specs.Spec, error) {
	args, err := command(img, o)
	if err != nil {
		return nil, err
	}
	env := mergeEnv(img.Config.Env, o.Env)
	cwd := "/"
	if img.Config.WorkingDir != "" {
		cwd = img.Config.WorkingDir
	}
	if o.Workdir != "" {
		cwd = o.Workdir
	}
	if !filepath.IsAbs(cwd) {
		return nil, fmt.Errorf("the working directory %q is invalid: it needs to be an absolute path", cwd)
	}
	user := img.Config.User
	if o.User != "" {
		user = o.User
	}
	u, err := parseUser(user, rootfs)
	if err != nil {
		return nil, err
	}
	capList, err := capabilities(o)
	if err != nil {
		return nil, err
	}
	hostname := o.Hostname
	if hostname == "" && o.Network != "host" {
		hostname = id[:12]
	}
	s := &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Terminal: o.TTY, Args: args, Env: env, Cwd: cwd, User: u,
			Capabilities: &specs.LinuxCapabilities{
				Bounding: capList, Effective: capList, Permitted: capList,
			},
			NoNewPrivileges: false,
		},
		Root:     &specs.Root{Path: rootfs, Readonly: o.ReadOnly},
		Hostname: hostname,
		Mounts:   defaultMounts(o.Privileged),
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace},
				{Type: specs.MountNamespace}, {Type: specs.CgroupNamespace},
			},
			CgroupsPath: cgroupsPath(id),
			Resources:   &specs.LinuxResources{},
		},
		Annotations: map[string]string{"org.berth-runtime.docker.id": id},
	}
	if o.Network != "host" {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	} else {
		s.Hostname = ""
		s.Linux.Namespaces = without(s.Linux.Namespaces, specs.UTSNamespace)
	}
	if !o.Privileged {
		s.Linux.MaskedPaths = maskedPaths
		s.Linux.ReadonlyPaths = readonlyPaths
		deny := false
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: deny, Access: "rwm"}}
	} else {
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	}
	if err := resources(s.Linux.Resources, o); err != nil {
		return nil, err
	}
	if err := volumes(s, o); err != nil {
		return nil, err
	}
	if err := securityOpts(s, o); err != nil {
		return nil, err
	}
	return s, nil
}

func without(ns []specs.LinuxNamespace, t specs.LinuxNamespaceType) []specs.LinuxNamespace {
	var res []specs.LinuxNamespace
	for _, n := range ns {
		if n.Type != t {
			res = append(res, n)
		}
	}
	return res
}

// command is docker's rule: entrypoint (image's, or --entrypoint) followed
// by the command (the run arguments, else the image's Cmd; an --entrypoint
// override drops the image's Cmd).
func command(img *image.Image, o *RunOptions) ([]string, error) {
	entry := img.Config.Entrypoint
	cmd := img.Config.Cmd
	if o.Entrypoint != nil {
		entry = nil
		if *o.Entrypoint != "" {
			entry = []string{*o.Entrypoint}
		}
		cmd = nil
	}
	if len(o.Cmd) > 0 {
		cmd = o.Cmd
	}
	args := append(append([]string{}, entry...), cmd...)
	if len(args) == 0 {
		return nil, errors.New("no command specified")
	}
	return args, nil
}

// mergeEnv lets later KEY=VALUE entries replace earlier ones.
func mergeEnv(base, extra []string) []string {
	var res []string
	idx := map[string]int{}
	for _, e := range append(append([]string{}, base...), extra...) {
		k, _, _ := strings.Cut(e, "=")
		if i, ok := idx[k]; ok {
			res[i] = e
			continue
		}
		idx[k] = len(res)
		res = append(res, e)
	}
	if _, ok := idx["PATH"]; !ok {
		res = append(res, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	return res
}

// parseUser resolves USER[:GROUP] (names through the image's /etc/passwd
// and /etc/group, or numbers).
func parseUser(spec, rootfs string) (specs.User, error) {
	if spec == "" {
		return specs.User{}, nil
	}
	name, group, hasGroup := strings.Cut(spec, ":")
	uid, gid, err := lookup(filepath.Join(rootfs, "etc/passwd"), name, 2, 3)
	if err != nil {
		return specs.User{}, fmt.Errorf("unable to find user %s: %w", name, err)
	}
	if hasGroup {
		g, _, err := lookup(filepath.Join(rootfs, "etc/group"), group, 2, -1)
		if err != nil {
			return specs.User{}, fmt.Errorf("unable to find group %s: %w", group, err)
		}
		gid = g
	}
	return specs.User{UID: uint32(uid), GID: uint32(gid)}, nil
}

// lookup finds name (or a number) in a passwd/group style file and returns
// the fields idField and gidField (-1: none).
func lookup(file, name string, idField, gidField int) (int, int, error) {
	if n, err := strconv.Atoi(name); err == nil {
		gid := n
		if gidField >= 0 {
			if _, g, err := lookupByID(file, n, idField, gidField); err == nil {
				gid = g
			}
		}
		return n, gid, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) > idField && f[0] == name {
			id, _ := strconv.Atoi(f[idField])
			gid := id
			if gidField >= 0 && len(f) > gidField {
				gid, _ = strconv.Atoi(f[gidField])
			}
			return id, gid, nil
		}
	}
	return 0, 0, errors.New("no matching entries in " + filepath.Base(file))
}

func lookupByID(file string, id, idField, gidField int) (int, int, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) > gidField && f[idField] == strconv.Itoa(id) {
			g, _ := strconv.Atoi(f[gidField])
			return id, g, nil
		}
	}
	return 0, 0, errors.New("not found")
}

func capabilities(o *RunOptions) ([]string, error) {
	if o.Privileged {
		// Every capability we have ourselves, as docker grants: asking
		// for more than the runtime holds would only fail.
		return ownCapabilities(), nil
	}
	set := map[string]bool{}
	for _, c := range defaultCaps {
		set[c] = true
	}
	norm := func(c string) (string, error) {
		c = strings.ToUpper(c)
		if c == "ALL" {
			return c, nil
		}
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		if _, err := caps.Parse(c); err != nil {
			return "", err
		}
		return c, nil
	}
	for _, c := range o.CapDrop {
		n, err := norm(c)
		if err != nil {
			return nil, err
		}
		if n == "ALL" {
			set = map[string]bool{}
			continue
		}
		delete(set, n)
	}
	for _, c := range o.CapAdd {
		n, err := norm(c)
		if err != nil {
			return nil, err
		}
		if n == "ALL" {
			for _, a := range caps.Names() {
				set[a] = true
			}
			continue
		}
		set[n] = true
	}
	var res []string
	for _, c := range caps.Names() {
		if set[c] {
			res = append(res, c)
		}
	}
	return res, nil
}

// ownCapabilities lists the capabilities in our bounding set.
func ownCapabilities() []string {
	var res []string
	for i, name := range caps.Names() {
		if v, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(i), 0, 0, 0); err == nil && v == 1 {
			res = append(res, name)
		}
	}
	return res
}

func defaultMounts(privileged bool) []specs.Mount {
	sysOpts := []string{"nosuid", "noexec", "nodev", "ro"}
	if privileged {
		sysOpts = []string{"nosuid", "noexec", "nodev"}
	}
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: sysOpts},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=67108864"}},
	}
}

func resources(r *specs.LinuxResources, o *RunOptions) error {
	if o.Memory < 0 {
		return fmt.Errorf("invalid memory limit %d", o.Memory)
	}
	if o.Memory > 0 {
		if o.Memory < 6*1024*1024 {
			return errors.New("minimum memory limit allowed is 6MB")
		}
		m := o.Memory
		r.Memory = &specs.LinuxMemory{Limit: &m}
	}
	if o.CPUs < 0 {
		return fmt.Errorf("invalid cpus %v", o.CPUs)
	}
	if o.CPUs > 0 || o.CpusetCPUs != "" {
		r.CPU = &specs.LinuxCPU{Cpus: o.CpusetCPUs}
		if o.CPUs > 0 {
			period := uint64(100000)
			quota := int64(o.CPUs * float64(period))
			r.CPU.Period, r.CPU.Quota = &period, &quota
		}
	}
	if o.PidsLimit != 0 {
		p := o.PidsLimit
		r.Pids = &specs.LinuxPids{Limit: &p}
	}
	return nil
}

// volumes adds -v HOST:CTR[:ro] binds and --tmpfs mounts.
func volumes(s *specs.Spec, o *RunOptions) error {
	for _, v := range o.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
			return fmt.Errorf("invalid volume specification: %q", v)
		}
		host, ctr := parts[0], parts[1]
		if !filepath.IsAbs(host) {
			return fmt.Errorf("invalid volume specification: %q: the host path must be absolute (named volumes are not supported)", v)
		}
		if !filepath.IsAbs(ctr) {
			return fmt.Errorf("invalid volume specification: %q: the container path must be absolute", v)
		}
		if _, err := os.Stat(host); err != nil {
			return fmt.Errorf("invalid volume specification: %q: %w", v, err)
		}
		opts := []string{"rbind", "rprivate"}
		if len(parts) == 3 {
			switch parts[2] {
			case "ro":
				opts = append(opts, "ro")
			case "rw":
			default:
				return fmt.Errorf("invalid volume specification: %q: unknown mode %q", v, parts[2])
			}
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: ctr, Type: "bind", Source: host, Options: opts})
	}
	for _, t := range o.Tmpfs {
		path, opts, _ := strings.Cut(t, ":")
		if !filepath.IsAbs(path) {
			return fmt.Errorf("invalid tmpfs specification %q: the path must be absolute", t)
		}
		mo := []string{"nosuid", "nodev", "noexec"}
		if opts != "" {
			mo = append(mo, strings.Split(opts, ",")...)
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: path, Type: "tmpfs", Source: "tmpfs", Options: mo})
	}
	return nil
}

// securityOpts applies --security-opt and docker's default seccomp profile
// (github.com/moby/profiles/seccomp, adjusted to the capabilities).
func securityOpts(s *specs.Spec, o *RunOptions) error {
	profile := "default"
	if o.Privileged {
		profile = "unconfined"
	}
	for _, opt := range o.SecurityOpt {
		k, v, _ := strings.Cut(opt, "=")
		if k == "seccomp" && !strings.Contains(opt, "=") {
			k, v, _ = strings.Cut(opt, ":")
		}
		switch {
		case opt == "no-new-privileges" || opt == "no-new-privileges=true" || opt == "no-new-privileges:true":
			s.Process.NoNewPrivileges = true
		case k == "seccomp":
			profile = v
		default:
			return fmt.Errorf("invalid --security-opt: %q", opt)
		}
	}
	switch profile {
	case "unconfined":
		return nil
	case "default", "":
		sc, err := mobyseccomp.GetDefaultProfile(s)
		if err != nil {
			return fmt.Errorf("docker default seccomp profile: %w", err)
		}
		s.Linux.Seccomp = sc
	default:
		data, err := os.ReadFile(profile)
		if err != nil {
			return fmt.Errorf("opening seccomp profile (%s) failed: %w", profile, err)
		}
		sc, err := mobyseccomp.LoadProfile(string(data), s)
		if err != nil {
			return fmt.Errorf("loading seccomp profile (%s) failed: %w", profile, err)
		}
		s.Linux.Seccomp = sc
	}
	return nil
}
