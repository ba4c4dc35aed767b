package main

// watch-foreign, for the CVE-2016-9962 test (and mempolicy): a process inside the
// container that looks, as fast as it can, for processes whose files it may
// inspect although they run a binary from outside the container (a runtime
// still setting up an exec).

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// watchForeign scans /proc until stopFile exists. For every other process
// whose /proc/PID/exe it may open (ptrace read access: same uid and
// dumpable), it compares that file with the one the link's path names
// inside the container; a mismatch is a binary from outside, whose fds it
// then lists. It prints one "foreign PID exe LINK fds [..]" line per such
// process and finally "scans N pids M".
func watchForeign(stopFile string) {
	self := os.Getpid()
	seen := map[int]bool{}
	reported := map[int]bool{}
	scans := 0
	for {
		if _, err := os.Lstat(stopFile); err == nil {
			break
		}
		ents, err := os.ReadDir("/proc")
		check(err)
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == self {
				continue
			}
			seen[pid] = true
			if reported[pid] {
				continue
			}
			if what := foreignExe(pid); what != "" {
				reported[pid] = true
				fmt.Printf("foreign %d %s\n", pid, what)
			}
		}
		scans++
	}
	fmt.Printf("scans %d pids %d\n", scans, len(seen))
}

// foreignExe returns "" unless pid's executable can be opened by us and is
// not the file its path names inside the container.
func foreignExe(pid int) string {
	dir := "/proc/" + strconv.Itoa(pid)
	fd, err := unix.Open(dir+"/exe", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return "" // not ours to inspect (non-dumpable), or gone
	}
	defer unix.Close(fd)
	var st, in unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return ""
	}
	link, err := os.Readlink(dir + "/exe")
	if err != nil || link == "" {
		return "" // exiting: its exe is gone
	}
	if unix.Stat(link, &in) == nil && in.Dev == st.Dev && in.Ino == st.Ino {
		return ""
	}
	var fds []string
	if ents, err := os.ReadDir(dir + "/fd"); err == nil {
		for _, e := range ents {
			target, _ := os.Readlink(dir + "/fd/" + e.Name())
			fds = append(fds, e.Name()+"="+target)
		}
	}
	sort.Strings(fds)
	return fmt.Sprintf("exe %q fds %q", link, fds)
}

// memPolicy prints the calling thread's memory policy (get_mempolicy):
// "mode N nodes 0xMASK" (the first 64 nodes).
func memPolicy() {
	var mode int32
	nodes := make([]uint64, 16)
	_, _, e := unix.RawSyscall6(unix.SYS_GET_MEMPOLICY, uintptr(unsafe.Pointer(&mode)),
		uintptr(unsafe.Pointer(&nodes[0])), uintptr(len(nodes)*64), 0, 0, 0)
	if e != 0 {
		fmt.Printf("error: %v\n", e)
		os.Exit(1)
	}
	fmt.Printf("mode %d nodes %#x\n", mode, nodes[0])
}
