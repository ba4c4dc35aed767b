package main

import (
	"testing"

	"github.com/berth-runtime/berth/libcontainer/apparmor"
	"github.com/berth-runtime/berth/libcontainer/specfields"
)

// TestFeaturesComeFromTheFieldTable: each features switch that stands for
// a runtime-spec field says what the field table says of that field.
func TestFeaturesComeFromTheFieldTable(t *testing.T) {
	l := currentFeatures().Linux
	for path, got := range map[string]*bool{
		"linux.resources.rdma":        l.Cgroup.Rdma,
		"process.selinuxLabel":        l.Selinux.Enabled,
		"linux.intelRdt.closID":       l.IntelRdt.Enabled,
		"mounts.uidMappings.hostID":   l.MountExtensions.IDMap.Enabled,
		"linux.netDevices.name":       l.NetDevices.Enabled,
		"linux.seccomp.defaultAction": l.Seccomp.Enabled,
	} {
		if got == nil || *got != specfields.IsApplied(path) {
			t.Errorf("features for %s = %v, the field table says applied=%v", path, got, specfields.IsApplied(path))
		}
	}
	if want := specfields.IsApplied("process.apparmorProfile") && apparmor.Enabled(); *l.Apparmor.Enabled != want {
		t.Errorf("features apparmor = %v, want %v (the field table and this host)", *l.Apparmor.Enabled, want)
	}
	if (l.MemoryPolicy != nil) != specfields.IsApplied("linux.memoryPolicy.mode") {
		t.Errorf("features memoryPolicy = %v, the field table says applied=%v", l.MemoryPolicy, specfields.IsApplied("linux.memoryPolicy.mode"))
	}
}
