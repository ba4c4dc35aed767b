//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command probe reports facts about the process it runs as, from inside a
// container. The integration tests copy it (built static, CGO_ENABLED=0) into
// every test rootfs as /bin/probe and run it as the container's process.
//
// Usage: probe <what> [args...]
//
//	ids              JSON {uid,gid,euid,egid,groups}
//	caps             the Cap* lines of /proc/self/status
//	nnp              the NoNewPrivs value (0 or 1)
//	mounts           /proc/self/mountinfo
//	cwd              the working directory
//	env              the environment, one VAR=value per line
//	args [a...]      JSON array of os.Args[2:]
//	pid              the pid and ppid, "pid ppid"
//	rlimits          JSON {"RLIMIT_NOFILE":{"soft":..,"hard":..},...}; note that
//	                 Go raises its soft RLIMIT_NOFILE to the hard limit at start
//	hostname         the UTS nodename
//	domainname       the UTS domainname
//	ns               JSON {"net":"net:[4026531840]",...} for every /proc/self/ns entry
//	umask            the umask as 4 octal digits
//	oom              /proc/self/oom_score_adj
//	fds              one "N -> target" line per open fd
//	sysctl KEY       the value of /proc/sys/KEY (dots become slashes)
//	write PATH       create/append PATH; prints "ok" or "error: ..." (exit 1)
//	read PATH        prints the file's content, or "error: ..." (exit 1)
//	ls PATH          the names in a directory, one per line, sorted
//	stat PATH...     one line per path: "PATH char 1:3", "PATH link TARGET", "PATH dir", ...
//	cgroup           /proc/self/cgroup
//	exit N           exits with status N
//	sleep [SECS]     sleeps SECS seconds, or forever
//	signals [N]      handles every catchable signal, prints "ready", then the
//	                 name of each signal received; exits 0 after N (default 1)
//	timens           "monotonic S" and "boottime S" lines (seconds)
//	mkdir PATH       mkdir(2) (via mkdirat); prints "ok" or the errno name, e.g. "EPERM"
//	syscall NAME|NR [ARG...]
//	                 makes one raw system call; each ARG is a number (0x.. and
//	                 negative ones too) or "str:TEXT" (a pointer to TEXT);
//	                 prints "ok" or the errno name (see probe/extra.go)
//	notify-ready [MSG]
//	                 sends MSG (default "READY=1") to $NOTIFY_SOCKET (unixgram);
//	                 prints "ok" or "error: ..." (exit 1)
//	watch-foreign STOPFILE
//	                 until STOPFILE exists, looks for other processes whose
//	                 exe it may open but that run a binary from outside the
//	                 container; prints "foreign PID exe LINK fds [..]" for
//	                 each, then "scans N pids M" (probe/watch.go)
//	mempolicy        "mode N nodes 0xMASK": get_mempolicy of the process
//	hook FILE [TAG...]
//	                 for OCI hooks: appends one JSON line to FILE with argv, env,
//	                 the state read from stdin, getpid(), the mnt/pid
//	                 namespaces and the exe of the state's pid
//
// The probe avoids the Go runtime's poller (it uses raw syscalls for files) so
// that "fds" shows only what the process inherited. The go:debug settings at
// the top stop the Go runtime (1.25+) from keeping the cgroup CPU limit files
// open for its container-aware GOMAXPROCS, which would show up as extra fds.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: probe <what> [args...]")
	}
	what, args := os.Args[1], os.Args[2:]
	switch what {
	case "ids":
		ids()
	case "caps":
		statusLines("Cap")
	case "nnp":
		nnp()
	case "mounts":
		cat("/proc/self/mountinfo")
	case "cwd":
		wd, err := os.Getwd()
		check(err)
		fmt.Println(wd)
	case "env":
		for _, e := range os.Environ() {
			fmt.Println(e)
		}
	case "args":
		printJSON(args)
	case "pid":
		fmt.Println(os.Getpid(), os.Getppid())
	case "rlimits":
		rlimits()
	case "hostname", "domainname":
		uname(what)
	case "ns":
		namespaces()
	case "umask":
		old := unix.Umask(0)
		unix.Umask(old)
		fmt.Printf("%04o\n", old)
	case "oom":
		cat("/proc/self/oom_score_adj")
	case "fds":
		fds()
	case "sysctl":
		need(args, 1)
		cat("/proc/sys/" + strings.ReplaceAll(args[0], ".", "/"))
	case "write":
		need(args, 1)
		write(args[0])
	case "read":
		need(args, 1)
		read(args[0])
	case "ls":
		need(args, 1)
		ls(args[0])
	case "stat":
		for _, p := range args {
			statPath(p)
		}
	case "cgroup":
		cat("/proc/self/cgroup")
	case "exit":
		need(args, 1)
		n, err := strconv.Atoi(args[0])
		check(err)
		os.Exit(n)
	case "sleep":
		sleep(args)
	case "signals":
		signals(args)
	case "timens":
		timens()
	case "mkdir":
		need(args, 1)
		mkdir(args[0])
	case "syscall":
		need(args, 1)
		rawSyscall(args)
	case "notify-ready":
		notifyReady(args)
	case "hook":
		need(args, 1)
		hook(args[0])
	case "winsize":
		winsize()
	case "winsize-wait":
		winsizeWait(args)
	case "watch-foreign":
		need(args, 1)
		watchForeign(args[0])
	case "mempolicy":
		memPolicy()
	default:
		fail("probe: unknown command " + strconv.Quote(what))
	}
}

// fail prints msg to stderr and exits 2.
func fail(msg string) {
	fmt.Fprintln(os.Stderr, msg)
	os.Exit(2)
}

func check(err error) {
	if err != nil {
		fail("probe: " + err.Error())
	}
}

func need(args []string, n int) {
	if len(args) < n {
		fail(fmt.Sprintf("probe %s: needs %d argument(s)", os.Args[1], n))
	}
}

func printJSON(v any) {
	b, err := json.Marshal(v)
	check(err)
	fmt.Println(string(b))
}

// readFile reads a whole file with raw syscalls (no poller, no extra fds
// left behind).
func readFile(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var out []byte
	buf := make([]byte, 64*1024)
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return out, nil
		}
		out = append(out, buf[:n]...)
	}
}

func cat(path string) {
	b, err := readFile(path)
	check(err)
	os.Stdout.Write(b)
}

func ids() {
	groups, err := unix.Getgroups()
	check(err)
	if groups == nil {
		groups = []int{}
	}
	printJSON(map[string]any{
		"uid": unix.Getuid(), "gid": unix.Getgid(),
		"euid": unix.Geteuid(), "egid": unix.Getegid(),
		"groups": groups,
	})
}

func statusLines(prefix string) {
	b, err := readFile("/proc/self/status")
	check(err)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, prefix) {
			fmt.Println(l)
		}
	}
}

func nnp() {
	b, err := readFile("/proc/self/status")
	check(err)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "NoNewPrivs:"); ok {
			fmt.Println(strings.TrimSpace(v))
			return
		}
	}
	fail("probe: NoNewPrivs not found")
}

var rlimitNames = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE,
	"RLIMIT_CPU": unix.RLIMIT_CPU, "RLIMIT_DATA": unix.RLIMIT_DATA,
	"RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE": unix.RLIMIT_NICE, "RLIMIT_NOFILE": unix.RLIMIT_NOFILE,
	"RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING, "RLIMIT_STACK": unix.RLIMIT_STACK,
}

func rlimits() {
	out := map[string]map[string]uint64{}
	for name, res := range rlimitNames {
		var rl unix.Rlimit
		// Prlimit reads the process's real limits; Getrlimit in Go may
		// report the values Go adjusted for RLIMIT_NOFILE at startup.
		check(unix.Prlimit(0, res, nil, &rl))
		out[name] = map[string]uint64{"soft": rl.Cur, "hard": rl.Max}
	}
	printJSON(out)
}

func uname(field string) {
	var u unix.Utsname
	check(unix.Uname(&u))
	b := u.Nodename[:]
	if field == "domainname" {
		b = u.Domainname[:]
	}
	fmt.Println(unix.ByteSliceToString(b))
}

func namespaces() {
	names, err := readDirNames("/proc/self/ns")
	check(err)
	out := map[string]string{}
	for _, n := range names {
		target, err := os.Readlink("/proc/self/ns/" + n)
		check(err)
		out[n] = target
	}
	printJSON(out)
}

// readDirNames lists a directory with raw getdents so that no fd other than
// the one it opens (and closes) is involved. It also returns that fd's number
// so callers listing /proc/self/fd can skip it.
func readDirNamesFd(path string) ([]string, int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var names []string
	buf := make([]byte, 32*1024)
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fd, &os.PathError{Op: "getdents", Path: path, Err: err}
		}
		if n <= 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
	sort.Strings(names)
	return names, fd, nil
}

func readDirNames(path string) ([]string, error) {
	names, _, err := readDirNamesFd(path)
	return names, err
}

func fds() {
	names, self, err := readDirNamesFd("/proc/self/fd")
	check(err)
	nums := []int{}
	for _, n := range names {
		i, err := strconv.Atoi(n)
		if err == nil && i != self {
			nums = append(nums, i)
		}
	}
	sort.Ints(nums)
	// One write: a test that polls the output file for content (the
	// program of exec -d outlives the command) never reads half a list.
	var b strings.Builder
	for _, i := range nums {
		target, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", i))
		if err != nil {
			// Closed between listing and readlink: it was not a real leak.
			continue
		}
		fmt.Fprintf(&b, "%d -> %s\n", i, target)
	}
	_, err = os.Stdout.WriteString(b.String())
	check(err)
}

func write(path string) {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_APPEND|unix.O_CLOEXEC, 0o644)
	if err == nil {
		_, err = unix.Write(fd, []byte("probe\n"))
		unix.Close(fd)
	}
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("ok")
}

func read(path string) {
	b, err := readFile(path)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	os.Stdout.Write(b)
}

func ls(path string) {
	names, err := readDirNames(path)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	for _, n := range names {
		if n != "." && n != ".." {
			fmt.Println(n)
		}
	}
}

func statPath(p string) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		fmt.Printf("%s missing: %v\n", p, err)
		return
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		fmt.Printf("%s char %d:%d %04o\n", p, unix.Major(st.Rdev), unix.Minor(st.Rdev), st.Mode&0o7777)
	case unix.S_IFBLK:
		fmt.Printf("%s block %d:%d %04o\n", p, unix.Major(st.Rdev), unix.Minor(st.Rdev), st.Mode&0o7777)
	case unix.S_IFLNK:
		target, err := os.Readlink(p)
		check(err)
		fmt.Printf("%s link %s\n", p, target)
	case unix.S_IFDIR:
		fmt.Printf("%s dir\n", p)
	case unix.S_IFREG:
		fmt.Printf("%s file\n", p)
	default:
		fmt.Printf("%s other\n", p)
	}
}

func sleep(args []string) {
	if len(args) > 0 {
		n, err := strconv.ParseFloat(args[0], 64)
		check(err)
		time.Sleep(time.Duration(n * float64(time.Second)))
		return
	}
	for {
		time.Sleep(time.Hour)
	}
}

// catchable lists the signals the probe installs handlers for.
var catchable = []syscall.Signal{
	unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2,
	unix.SIGPIPE, unix.SIGALRM, unix.SIGTERM, unix.SIGCONT,
	unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, unix.SIGWINCH,
}

func signals(args []string) {
	count := 1
	if len(args) > 0 {
		n, err := strconv.Atoi(args[0])
		check(err)
		count = n
	}
	ch := make(chan os.Signal, 32)
	sigs := make([]os.Signal, len(catchable))
	for i, s := range catchable {
		sigs[i] = s
	}
	signal.Notify(ch, sigs...)
	fmt.Println("ready")
	for i := 0; i < count; i++ {
		s := (<-ch).(syscall.Signal)
		fmt.Println(unix.SignalName(s))
	}
}

func timens() {
	for _, c := range []struct {
		name string
		id   int32
	}{{"monotonic", unix.CLOCK_MONOTONIC}, {"boottime", unix.CLOCK_BOOTTIME}} {
		var ts unix.Timespec
		check(unix.ClockGettime(c.id, &ts))
		fmt.Printf("%s %d\n", c.name, ts.Sec)
	}
}
