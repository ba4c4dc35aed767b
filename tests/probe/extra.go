package main

// Commands for the hook, seccomp and sd_notify tests: mkdir, syscall,
// notify-ready and hook (see the usage at the top of main.go).

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// errnoResult prints "ok" for a nil error, else the errno's name (EPERM).
func errnoResult(err error) {
	if err == nil {
		fmt.Println("ok")
		return
	}
	if e, ok := err.(unix.Errno); ok {
		if name := unix.ErrnoName(e); name != "" {
			fmt.Println(name)
			return
		}
		fmt.Printf("errno%d\n", int(e))
		return
	}
	fmt.Println("error:", err)
}

func mkdir(path string) {
	errnoResult(unix.Mkdir(path, 0o755))
}

// syscallNumbers are the names "probe syscall" knows; any other call can
// be given by number.
var syscallNumbers = map[string]uintptr{
	"add_key":        unix.SYS_ADD_KEY,
	"clone3":         unix.SYS_CLONE3,
	"getpgid":        unix.SYS_GETPGID,
	"getpid":         unix.SYS_GETPID,
	"getppid":        unix.SYS_GETPPID,
	"kcmp":           unix.SYS_KCMP,
	"keyctl":         unix.SYS_KEYCTL,
	"listxattrat":    unix.SYS_LISTXATTRAT,
	"mkdir":          unix.SYS_MKDIR,
	"mkdirat":        unix.SYS_MKDIRAT,
	"mseal":          unix.SYS_MSEAL,
	"open_tree_attr": unix.SYS_OPEN_TREE_ATTR,
	"personality":    unix.SYS_PERSONALITY,
	"reboot":         unix.SYS_REBOOT,
	"rmdir":          unix.SYS_RMDIR,
	"setns":          unix.SYS_SETNS,
	"socket":         unix.SYS_SOCKET,
	"swapon":         unix.SYS_SWAPON,
	"umask":          unix.SYS_UMASK,
	"unshare":        unix.SYS_UNSHARE,
}

// rawSyscall runs `syscall NAME|NR [ARG...]`.
func rawSyscall(args []string) {
	nr, ok := syscallNumbers[args[0]]
	if !ok {
		n, err := strconv.ParseUint(args[0], 0, 32)
		if err != nil {
			fail("probe syscall: unknown system call " + strconv.Quote(args[0]))
		}
		nr = uintptr(n)
	}
	if len(args) > 7 {
		fail("probe syscall: at most 6 arguments")
	}
	var a [6]uintptr
	var keep [][]byte
	for i, s := range args[1:] {
		if text, ok := strings.CutPrefix(s, "str:"); ok {
			b := append([]byte(text), 0)
			keep = append(keep, b)
			a[i] = uintptr(unsafe.Pointer(&b[0]))
			continue
		}
		if u, err := strconv.ParseUint(s, 0, 64); err == nil {
			a[i] = uintptr(u)
			continue
		}
		n, err := strconv.ParseInt(s, 0, 64)
		if err != nil {
			fail("probe syscall: bad argument " + strconv.Quote(s))
		}
		a[i] = uintptr(n)
	}
	_, _, e := unix.Syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5])
	runtime.KeepAlive(keep)
	if e != 0 {
		errnoResult(e)
		return
	}
	errnoResult(nil)
}

// notifyReady sends an sd_notify message to $NOTIFY_SOCKET.
func notifyReady(args []string) {
	msg := "READY=1"
	if len(args) > 0 {
		msg = args[0]
	}
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		fmt.Println("error: NOTIFY_SOCKET is not set")
		os.Exit(1)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err == nil {
		err = unix.Sendto(fd, []byte(msg), 0, &unix.SockaddrUnix{Name: path})
		unix.Close(fd)
	}
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("ok")
}

// hookRecord is what `probe hook` appends to its file, one JSON per line.
type hookRecord struct {
	Argv  []string        `json:"argv"`
	Env   []string        `json:"env"`
	State json.RawMessage `json:"state"`
	Pid   int             `json:"pid"`
	MntNS string          `json:"mntns"`
	PidNS string          `json:"pidns"`
	Cwd   string          `json:"cwd"`
	// PidExe is readlink /proc/<state.pid>/exe when the state has a pid:
	// what that process runs when the hook runs.
	PidExe string `json:"pidExe,omitempty"`
	// CPUs is the hook's Cpus_allowed_list.
	CPUs string `json:"cpus"`
}

// hook records how it was run as an OCI hook and exits 0.
func hook(file string) {
	in, err := io.ReadAll(os.Stdin)
	check(err)
	rec := hookRecord{Argv: os.Args, Env: os.Environ(), Pid: os.Getpid()}
	if rec.Env == nil {
		rec.Env = []string{}
	}
	if json.Valid(in) {
		rec.State = in
	} else {
		rec.State, _ = json.Marshal(string(in))
	}
	rec.MntNS, _ = os.Readlink("/proc/self/ns/mnt")
	rec.PidNS, _ = os.Readlink("/proc/self/ns/pid")
	rec.Cwd, _ = os.Getwd()
	rec.CPUs = cpusAllowed()
	var st struct {
		Pid int `json:"pid"`
	}
	if json.Unmarshal(in, &st) == nil && st.Pid > 0 {
		rec.PidExe, _ = os.Readlink("/proc/" + strconv.Itoa(st.Pid) + "/exe")
	}
	b, err := json.Marshal(rec)
	check(err)
	fd, err := unix.Open(file, unix.O_WRONLY|unix.O_CREAT|unix.O_APPEND|unix.O_CLOEXEC, 0o644)
	check(err)
	// One write: records of concurrent hooks never interleave.
	_, err = unix.Write(fd, append(b, '\n'))
	check(err)
	check(unix.Close(fd))
}

// cpusAllowed is this process's Cpus_allowed_list from /proc.
func cpusAllowed() string {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
