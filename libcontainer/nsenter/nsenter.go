// Package nsenter links the C pre-stage of "berth init" into the binary. It
// must be imported (blank) by package main: its constructor runs before the
// Go runtime starts threads, which is the only moment a Go program can join
// a user or time namespace. See nsenter.c for what it does and when.
package nsenter

/*
#cgo CFLAGS: -Wall -O2
extern void berth_nsenter(void);
void __attribute__((constructor)) berth_nsenter_init(void) { berth_nsenter(); }
*/
import "C"
