// Package nsenter links the C pre-stage of "berth init" into the binary. It
// must be imported (blank) by package main: its constructor runs before the
// Go runtime starts threads, which is the only moment a Go program can join
// a user or time namespace. See nsenter.c for what it does and when.
package nsenter

/*
#cgo CFLAGS: -Wall -O2
#include <stdint.h>
extern void berth_nsenter(void);
void __attribute__((constructor)) berth_nsenter_init(void) { berth_nsenter(); }
extern int berth_exec_fork(char *conf, uint32_t len, char *err, int errlen, int *pidp);
*/
import "C"

import (
	"bytes"
	"errors"
	"runtime"
	"unsafe"
)

// ExecFork forks the process of an exec from this process (execstage.c's
// berth_exec_fork): conf is syncmsg.ExecFork's encoding. It returns the
// child's pid, or an error with pid 0 when nothing was started. The
// calling thread joins the container's pid namespace for the fork. Where
// it cannot go back (a runtime in a user namespace that does not own its
// own pid namespace: rootless podman), the child is started all the same
// and the goroutine stays locked to the thread, so that nothing else runs
// on it (spoiled is true), as startInNamespaces does in Go.
func ExecFork(conf []byte) (pid int, spoiled bool, err error) {
	runtime.LockOSThread()
	var msg [1024]byte
	var cpid C.int
	r := C.berth_exec_fork((*C.char)(unsafe.Pointer(&conf[0])), C.uint32_t(len(conf)),
		(*C.char)(unsafe.Pointer(&msg[0])), C.int(len(msg)), &cpid)
	if r == -2 {
		if cpid == 0 { // no child either
			text, _, _ := bytes.Cut(msg[:], []byte{0})
			return 0, true, errors.New(string(text))
		}
		return int(cpid), true, nil
	}
	runtime.UnlockOSThread()
	if r < 0 {
		text, _, _ := bytes.Cut(msg[:], []byte{0})
		return 0, false, errors.New(string(text))
	}
	return int(cpid), false, nil
}
