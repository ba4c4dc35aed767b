package rootfs

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want Options
	}{
		{"flags and data", []string{"nosuid", "noexec", "nodev", "mode=755", "size=65536k"},
			Options{Flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV, Data: "mode=755,size=65536k"}},
		{"rbind ro", []string{"rbind", "ro"}, Options{Flags: unix.MS_RDONLY, Bind: true, Recursive: true}},
		{"rw clears ro", []string{"ro", "rw"}, Options{Clear: unix.MS_RDONLY}},
		{"propagation", []string{"bind", "rslave"}, Options{Bind: true, Propagation: []uintptr{unix.MS_SLAVE | unix.MS_REC}}},
		{"tmpcopyup is not file system data", []string{"rw", "tmpcopyup", "size=1m"}, Options{Clear: unix.MS_RDONLY, CopyUp: true, Data: "size=1m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseOptions(tt.in)
			if got.Flags != tt.want.Flags || got.Clear != tt.want.Clear || got.Data != tt.want.Data ||
				got.Bind != tt.want.Bind || got.Recursive != tt.want.Recursive || got.CopyUp != tt.want.CopyUp || len(got.Propagation) != len(tt.want.Propagation) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestParseRecursiveOptions: the r* options become mount_setattr
// attributes; the last of a group wins; nosymfollow is a flag.
func TestParseRecursiveOptions(t *testing.T) {
	for _, c := range []struct {
		in         []string
		set, clear uint64
	}{
		{[]string{"rbind", "rro"}, unix.MOUNT_ATTR_RDONLY, 0},
		{[]string{"rro", "rrw"}, 0, unix.MOUNT_ATTR_RDONLY},
		{[]string{"rnosuid", "rnodev", "rnoexec"}, unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC, 0},
		{[]string{"rsuid"}, 0, unix.MOUNT_ATTR_NOSUID},
		{[]string{"rnoatime"}, unix.MOUNT_ATTR_NOATIME, unix.MOUNT_ATTR__ATIME},
		{[]string{"rnoatime", "rstrictatime"}, unix.MOUNT_ATTR_STRICTATIME, unix.MOUNT_ATTR__ATIME},
		{[]string{"rnosymfollow"}, unix.MOUNT_ATTR_NOSYMFOLLOW, 0},
	} {
		o := ParseOptions(c.in)
		if o.RecSet != c.set || o.RecClear != c.clear || o.Data != "" {
			t.Errorf("%q: set %#x clear %#x data %q; want %#x %#x", c.in, o.RecSet, o.RecClear, o.Data, c.set, c.clear)
		}
	}
	if o := ParseOptions([]string{"nosymfollow", "defaults"}); o.Flags != unix.MS_NOSYMFOLLOW || o.Data != "" {
		t.Errorf("nosymfollow, defaults: %+v", o)
	}
}

func FuzzParseOptions(f *testing.F) {
	f.Add("nosuid,mode=755")
	f.Fuzz(func(t *testing.T, s string) {
		o := ParseOptions([]string{s})
		if o.Flags&o.Clear != 0 {
			t.Fatalf("flag both set and cleared: %+v", o)
		}
		if o.RecSet&o.RecClear&^unix.MOUNT_ATTR__ATIME != 0 {
			t.Fatalf("recursive attribute both set and cleared: %+v", o)
		}
	})
}
