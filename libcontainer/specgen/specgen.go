// Package specgen builds the template configuration that "berth spec" writes.
//
// The output must match "runc spec" (and "runc spec --rootless") field for
// field, because scripts and documentation written for runc edit that file by
// path and expect the same starting point. The only intended difference is
// ociVersion, which names the runtime-spec version Berth is built against.
package specgen

import (
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Default returns a fresh copy of the template that "runc spec" emits.
//
// Every call builds a new value so callers may edit the result freely without
// affecting later calls.
func Default() *specs.Spec {
	// runc's template grants only the few capabilities an interactive shell
	// needs; a wider set would silently weaken containers that users start
	// from this file without reviewing it.
	caps := func() []string {
		return []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	}
	return &specs.Spec{
		Version: specs.Version,
		Root: &specs.Root{
			Path:     "rootfs",
			Readonly: true,
		},
		Process: &specs.Process{
			Terminal: true,
			User:     specs.User{},
			Args:     []string{"sh"},
			Env: []string{
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"TERM=xterm",
			},
			Cwd:             "/",
			NoNewPrivileges: true,
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  caps(),
				Permitted: caps(),
				Effective: caps(),
				Ambient:   caps(),
			},
			Rlimits: []specs.POSIXRlimit{{
				Type: "RLIMIT_NOFILE",
				Hard: 1024,
				Soft: 1024,
			}},
		},
		Hostname: "runc",
		Mounts: []specs.Mount{
			{
				Destination: "/proc",
				Type:        "proc",
				Source:      "proc",
			},
			{
				Destination: "/dev",
				Type:        "tmpfs",
				Source:      "tmpfs",
				Options:     []string{"nosuid", "strictatime", "mode=755", "size=65536k"},
			},
			{
				Destination: "/dev/pts",
				Type:        "devpts",
				Source:      "devpts",
				Options:     []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"},
			},
			{
				Destination: "/dev/shm",
				Type:        "tmpfs",
				Source:      "shm",
				Options:     []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"},
			},
			{
				Destination: "/dev/mqueue",
				Type:        "mqueue",
				Source:      "mqueue",
				Options:     []string{"nosuid", "noexec", "nodev"},
			},
			{
				Destination: "/sys",
				Type:        "sysfs",
				Source:      "sysfs",
				Options:     []string{"nosuid", "noexec", "nodev", "ro"},
			},
			{
				Destination: "/sys/fs/cgroup",
				Type:        "cgroup",
				Source:      "cgroup",
				Options:     []string{"nosuid", "noexec", "nodev", "relatime", "ro"},
			},
		},
		Linux: &specs.Linux{
			MaskedPaths: []string{
				"/proc/acpi",
				"/proc/asound",
				"/proc/kcore",
				"/proc/keys",
				"/proc/latency_stats",
				"/proc/timer_list",
				"/proc/timer_stats",
				"/proc/sched_debug",
				"/sys/firmware",
				"/proc/scsi",
			},
			ReadonlyPaths: []string{
				"/proc/bus",
				"/proc/fs",
				"/proc/irq",
				"/proc/sys",
				"/proc/sysrq-trigger",
			},
			Resources: &specs.LinuxResources{
				// Deny all device access up front so that anything the
				// container may open has to be granted explicitly.
				Devices: []specs.LinuxDeviceCgroup{{
					Allow:  false,
					Access: "rwm",
				}},
			},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace},
				{Type: specs.NetworkNamespace},
				{Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace},
				{Type: specs.MountNamespace},
			},
		},
	}
}

// ToRootless rewrites s in place into the form "runc spec --rootless" emits,
// so that an unprivileged user can run it.
//
// It maps the caller's effective uid and gid to root inside a new user
// namespace. A nil s is left alone; a nil s.Linux is created because the
// user namespace and mappings have to live there.
func ToRootless(s *specs.Spec) {
	if s == nil {
		return
	}
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}

	// A new network namespace would hold only a loopback device, since an
	// unprivileged user cannot connect it to the host, so the container
	// shares the host's instead. Any user namespace entry already present is
	// dropped so the one appended below is the only one.
	var namespaces []specs.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		switch ns.Type {
		case specs.NetworkNamespace, specs.UserNamespace:
		default:
			namespaces = append(namespaces, ns)
		}
	}
	s.Linux.Namespaces = append(namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})

	// Without privilege only a single-id mapping of oneself can be written to
	// uid_map/gid_map, so that is all the template offers.
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{
		HostID:      uint32(os.Geteuid()),
		ContainerID: 0,
		Size:        1,
	}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{
		HostID:      uint32(os.Getegid()),
		ContainerID: 0,
		Size:        1,
	}}

	var mounts []specs.Mount
	for _, m := range s.Mounts {
		// A fresh sysfs may only be mounted by an owner of the network
		// namespace, which a rootless container does not have, so the
		// host's /sys is bind-mounted read-only instead.
		if filepath.Clean(m.Destination) == "/sys" {
			mounts = append(mounts, specs.Mount{
				Destination: "/sys",
				Type:        "none",
				Source:      "/sys",
				Options:     []string{"rbind", "nosuid", "noexec", "nodev", "ro"},
			})
			continue
		}
		// Only the single mapped id exists in the namespace, so any uid= or
		// gid= option (such as devpts' gid=5) would make the mount fail.
		var options []string
		for _, o := range m.Options {
			if !strings.HasPrefix(o, "uid=") && !strings.HasPrefix(o, "gid=") {
				options = append(options, o)
			}
		}
		m.Options = options
		mounts = append(mounts, m)
	}
	s.Mounts = mounts

	// Cgroup limits generally cannot be written by an unprivileged user, and
	// runc's rootless template omits them entirely.
	s.Linux.Resources = nil
}
