package main

import (
	"encoding/json"
	"os"
	"sort"

	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/urfave/cli/v2"

	"github.com/berth-runtime/berth/libcontainer/caps"
	"github.com/berth-runtime/berth/libcontainer/kernel"
	"github.com/berth-runtime/berth/libcontainer/rootfs"
	"github.com/berth-runtime/berth/libcontainer/seccomp"
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

// currentFeatures lists only what Berth really implements; it grows as
// features land.
func currentFeatures() *features.Features {
	t, f := true, false
	opts := rootfs.KnownOptions()
	sort.Strings(opts)
	return &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specVersion,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions:  opts,
		Linux: &features.Linux{
			Namespaces:   []string{"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"},
			Capabilities: caps.Names(),
			Cgroup:       &features.Cgroup{V1: &t, V2: &t, Systemd: &f, SystemdUser: &f, Rdma: &f},
			Seccomp: &features.Seccomp{Enabled: &t, Actions: seccomp.Actions(), Operators: sorted(seccomp.Operators()),
				Archs: sorted(seccomp.Archs()), KnownFlags: seccomp.Flags(), SupportedFlags: seccomp.Flags()},
			Apparmor: &features.Apparmor{Enabled: &f},
			Selinux:  &features.Selinux{Enabled: &f},
			IntelRdt: &features.IntelRdt{Enabled: &f},
			MountExtensions: &features.MountExtensions{
				IDMap: &features.IDMap{Enabled: &f},
			},
		},
		Annotations: kernelAnnotations(map[string]string{
			"org.berth-runtime.berth.version": version,
			"org.berth-runtime.berth.commit":  commitString(),
		}),
		PotentiallyUnsafeConfigAnnotations: []string{"bundle"},
	}
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

func sorted(s []string) []string {
	sort.Strings(s)
	return s
}
