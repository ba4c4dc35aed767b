package testkit

import "testing"

func TestCgroupDirIn(t *testing.T) {
	const hybrid = "12:pids:/a\n4:cpu,cpuacct:/b\n1:name=systemd:/c\n0::/d\n"
	for _, c := range []struct {
		ctrl    string
		unified bool
		want    string
	}{
		{"pids", false, "/sys/fs/cgroup/pids/a"},
		{"cpuacct", false, "/sys/fs/cgroup/cpuacct/b"},
		{"memory", false, ""},
		{"memory", true, "/sys/fs/cgroup/d"},
	} {
		if got := CgroupDirIn(hybrid, c.ctrl, c.unified); got != c.want {
			t.Errorf("CgroupDirIn(%q, unified %v) = %q, want %q", c.ctrl, c.unified, got, c.want)
		}
	}
	if got := ParseProcCgroup(hybrid)["cpu,cpuacct"]; got != "/b" {
		t.Errorf("ParseProcCgroup: cpu,cpuacct = %q", got)
	}
}
