package rootfs

import (
	"strings"

	"golang.org/x/sys/unix"
)

// Options is a parsed mount option list.
type Options struct {
	// Flags are set on the mount; Clear are flags the options turn off.
	Flags, Clear uintptr
	// Propagation flags applied after the mount (MS_SHARED, MS_REC, ...).
	Propagation []uintptr
	// Bind and Recursive come from "bind" and "rbind".
	Bind, Recursive bool
	// RecursiveRO is "rro": read-only applied to every submount.
	RecursiveRO bool
	// RecSet and RecClear are the mount attributes the recursive options
	// ("rro", "rnosuid", "rrelatime", ...) set and clear on the mount and
	// every submount (mount_setattr AT_RECURSIVE).
	RecSet, RecClear uint64
	// CopyUp is "tmpcopyup" (a runc extension): a tmpfs starts with a copy
	// of what its destination held.
	CopyUp bool
	// IDMap is "idmap" or "ridmap": the bind mount gets an ID mapping;
	// RecursiveIDMap ("ridmap") gives it to every submount too.
	IDMap, RecursiveIDMap bool
	// Data holds the options the file system interprets itself.
	Data string
}

var flagOptions = map[string]struct {
	clear bool
	flag  uintptr
}{
	"ro": {false, unix.MS_RDONLY}, "rw": {true, unix.MS_RDONLY},
	"nosuid": {false, unix.MS_NOSUID}, "suid": {true, unix.MS_NOSUID},
	"nodev": {false, unix.MS_NODEV}, "dev": {true, unix.MS_NODEV},
	"noexec": {false, unix.MS_NOEXEC}, "exec": {true, unix.MS_NOEXEC},
	"sync": {false, unix.MS_SYNCHRONOUS}, "async": {true, unix.MS_SYNCHRONOUS},
	"dirsync": {false, unix.MS_DIRSYNC}, "remount": {false, unix.MS_REMOUNT},
	"mand": {false, unix.MS_MANDLOCK}, "nomand": {true, unix.MS_MANDLOCK},
	"atime": {true, unix.MS_NOATIME}, "noatime": {false, unix.MS_NOATIME},
	"diratime": {true, unix.MS_NODIRATIME}, "nodiratime": {false, unix.MS_NODIRATIME},
	"relatime": {false, unix.MS_RELATIME}, "norelatime": {true, unix.MS_RELATIME},
	"strictatime": {false, unix.MS_STRICTATIME}, "nostrictatime": {true, unix.MS_STRICTATIME},
	"silent": {false, unix.MS_SILENT}, "loud": {true, unix.MS_SILENT},
	"iversion": {false, unix.MS_I_VERSION}, "noiversion": {true, unix.MS_I_VERSION},
	"lazytime": {false, unix.MS_LAZYTIME}, "nolazytime": {true, unix.MS_LAZYTIME},
	"nosymfollow": {false, unix.MS_NOSYMFOLLOW}, "symfollow": {true, unix.MS_NOSYMFOLLOW},
	// mount(8)'s "defaults" (rw, suid, dev, exec, async) is what no option
	// gives already.
	"defaults": {false, 0},
}

// recursiveOptions are the recursive mount attributes (runc 1.1+ and
// crun's names): set clears the other attributes of the same group.
var recursiveOptions = map[string]struct {
	set, clear uint64
}{
	"rro": {unix.MOUNT_ATTR_RDONLY, 0}, "rrw": {0, unix.MOUNT_ATTR_RDONLY},
	"rnosuid": {unix.MOUNT_ATTR_NOSUID, 0}, "rsuid": {0, unix.MOUNT_ATTR_NOSUID},
	"rnodev": {unix.MOUNT_ATTR_NODEV, 0}, "rdev": {0, unix.MOUNT_ATTR_NODEV},
	"rnoexec": {unix.MOUNT_ATTR_NOEXEC, 0}, "rexec": {0, unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime": {unix.MOUNT_ATTR_NODIRATIME, 0}, "rdiratime": {0, unix.MOUNT_ATTR_NODIRATIME},
	"rnosymfollow": {unix.MOUNT_ATTR_NOSYMFOLLOW, 0}, "rsymfollow": {0, unix.MOUNT_ATTR_NOSYMFOLLOW},
	// The atime mode is one field: setting one clears the whole group.
	"rrelatime": {unix.MOUNT_ATTR_RELATIME, unix.MOUNT_ATTR__ATIME}, "rnorelatime": {0, unix.MOUNT_ATTR__ATIME},
	"rnoatime": {unix.MOUNT_ATTR_NOATIME, unix.MOUNT_ATTR__ATIME}, "ratime": {0, unix.MOUNT_ATTR__ATIME},
	"rstrictatime": {unix.MOUNT_ATTR_STRICTATIME, unix.MOUNT_ATTR__ATIME}, "rnostrictatime": {0, unix.MOUNT_ATTR__ATIME},
}

var propagationOptions = map[string]uintptr{
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
	"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// KnownOptions lists the option words Berth interprets itself (for features).
func KnownOptions() []string {
	var res []string
	for k := range flagOptions {
		res = append(res, k)
	}
	for k := range propagationOptions {
		res = append(res, k)
	}
	for k := range recursiveOptions {
		res = append(res, k)
	}
	return append(res, "bind", "rbind", "tmpcopyup", "idmap", "ridmap")
}

// ParseOptions splits an OCI mount option list into flags and data.
func ParseOptions(opts []string) Options {
	var o Options
	var data []string
	for _, opt := range opts {
		if f, ok := flagOptions[opt]; ok {
			if f.clear {
				o.Flags &^= f.flag
				o.Clear |= f.flag
			} else {
				o.Flags |= f.flag
				o.Clear &^= f.flag
			}
			continue
		}
		if p, ok := propagationOptions[opt]; ok {
			o.Propagation = append(o.Propagation, p)
			continue
		}
		switch opt {
		case "bind":
			o.Bind = true
		case "rbind":
			o.Bind, o.Recursive = true, true
		case "rro", "rrw", "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec", "rexec", "rnodiratime", "rdiratime",
			"rnosymfollow", "rsymfollow", "rrelatime", "rnorelatime", "rnoatime", "ratime", "rstrictatime", "rnostrictatime":
			// The last option of a group wins (rro then rrw is rw); an
			// atime mode clears the whole atime field first.
			r := recursiveOptions[opt]
			o.RecSet = o.RecSet&^r.clear | r.set
			o.RecClear = o.RecClear&^r.set | r.clear
			o.RecursiveRO = o.RecSet&unix.MOUNT_ATTR_RDONLY != 0
		case "tmpcopyup":
			o.CopyUp = true
		case "idmap":
			o.IDMap = true
		case "ridmap":
			o.IDMap, o.RecursiveIDMap = true, true
		case "":
		default:
			data = append(data, opt)
		}
	}
	o.Data = strings.Join(data, ",")
	return o
}

// PropagationFlag parses a rootfsPropagation value.
func PropagationFlag(s string) (uintptr, bool) {
	p, ok := propagationOptions[s]
	return p, ok
}
