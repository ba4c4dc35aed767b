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
	// CopyUp is "tmpcopyup" (a runc extension): a tmpfs starts with a copy
	// of what its destination held.
	CopyUp bool
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
	return append(res, "bind", "rbind", "rro", "tmpcopyup")
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
		case "rro":
			o.RecursiveRO = true
		case "tmpcopyup":
			o.CopyUp = true
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
