package main

import (
	"encoding/json"
	"os"
	"sort"

	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/urfave/cli/v2"

	"github.com/berth-runtime/berth/libcontainer/apparmor"
	"github.com/berth-runtime/berth/libcontainer/caps"
	"github.com/berth-runtime/berth/libcontainer/cgroups"
	"github.com/berth-runtime/berth/libcontainer/initp"
	"github.com/berth-runtime/berth/libcontainer/kernel"
	"github.com/berth-runtime/berth/libcontainer/nskind"
	"github.com/berth-runtime/berth/libcontainer/rootfs"
	"github.com/berth-runtime/berth/libcontainer/seccomp"
	"github.com/berth-runtime/berth/libcontainer/specfields"
)

// The annotations that say whether checkpoint and restore work on this
// host: runc's key (which CRI-O reads) and Berth's, with the reason.
const (
	checkpointEnabledKey = "org.opencontainers.runc.checkpoint.enabled"
	checkpointBerthKey   = "org.berth-runtime.berth.checkpoint"
)

var featuresCommand = &cli.Command{
	Name:  "features",
	Usage: "show the enabled features",
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 0, 0); err != nil {
			return err
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "    ")
		return enc.Encode(currentFeatures())
	},
}

// currentFeatures lists only what Berth implements: what depends on a
// runtime-spec field is read from the field table (libcontainer/specfields),
// whose guard test fails on any field it does not cover.
func currentFeatures() *features.Features {
	t, systemd := true, cgroups.SystemdAvailable()
	applied := func(path string) *bool {
		v := specfields.IsApplied(path)
		return &v
	}
	opts := rootfs.KnownOptions()
	sort.Strings(opts)
	var hooks []string
	for _, h := range []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"} {
		if specfields.IsApplied("hooks." + h + ".path") {
			hooks = append(hooks, h)
		}
	}
	f := &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specVersion,
		Hooks:         hooks,
		MountOptions:  opts,
		Linux: &features.Linux{
			Namespaces:   nskind.Types(),
			Capabilities: caps.Names(),
			Cgroup: &features.Cgroup{V1: &t, V2: &t, Systemd: &systemd, SystemdUser: new(bool),
				Rdma: applied("linux.resources.rdma")},
			Seccomp: &features.Seccomp{Enabled: applied("linux.seccomp.defaultAction"), Actions: seccomp.Actions(),
				Operators: sorted(seccomp.Operators()), Archs: sorted(seccomp.Archs()),
				KnownFlags: seccomp.Flags(), SupportedFlags: seccomp.Flags()},
			Apparmor:        &features.Apparmor{Enabled: and(applied("process.apparmorProfile"), apparmor.Enabled())},
			Selinux:         &features.Selinux{Enabled: applied("process.selinuxLabel")},
			IntelRdt:        &features.IntelRdt{Enabled: applied("linux.intelRdt.closID")},
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: applied("mounts.uidMappings.hostID")}},
			NetDevices:      &features.NetDevices{Enabled: applied("linux.netDevices.name")},
		},
		Annotations: criuAnnotations(kernelAnnotations(map[string]string{
			"org.berth-runtime.berth.version": version,
			"org.berth-runtime.berth.commit":  commitString(),
		})),
		PotentiallyUnsafeConfigAnnotations: []string{"bundle"},
	}
	if specfields.IsApplied("linux.memoryPolicy.mode") {
		f.Linux.MemoryPolicy = &features.MemoryPolicy{Modes: initp.MemoryPolicyModes(), Flags: initp.MemoryPolicyFlags()}
	}
	return f
}

// kernelAnnotations adds what depends on the running kernel: its release,
// the oldest Berth supports, and for each newer API Berth can do without
// whether this kernel has it ("yes", or "no: " and what Berth does
// instead).
func kernelAnnotations(a map[string]string) map[string]string {
	const prefix = "org.berth-runtime.berth.kernel"
	a[prefix+".release"] = kernel.Release()
	a[prefix+".floor"] = kernel.Floor
	for i, info := range kernel.Features() {
		v := "yes"
		if !kernel.Probe(kernel.Feature(i)) {
			v = "no: " + info.Without
		}
		a[prefix+"."+info.Name] = v + " (" + info.API + ", Linux " + info.Since + ")"
	}
	return a
}

// and is a features switch that also needs the host: true only where
// both are.
func and(b *bool, host bool) *bool {
	v := *b && host
	return &v
}

func sorted(s []string) []string {
	sort.Strings(s)
	return s
}
