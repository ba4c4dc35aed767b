package main

// Commands for the terminal tests (see terminal_test.go):
//
//	winsize          the window size of fd 0 (TIOCGWINSZ), "ROWS COLS"
//	winsize-wait ROWS COLS
//	                 polls TIOCGWINSZ on fd 0 for up to 10s until it is
//	                 ROWS x COLS, then prints "ROWS COLS" (on timeout it
//	                 prints the last size seen and exits 1)

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

func winsize() {
	ws, err := unix.IoctlGetWinsize(0, unix.TIOCGWINSZ)
	check(err)
	fmt.Printf("%d %d\n", ws.Row, ws.Col)
}

func winsizeWait(args []string) {
	need(args, 2)
	rows, err := strconv.Atoi(args[0])
	check(err)
	cols, err := strconv.Atoi(args[1])
	check(err)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ws, err := unix.IoctlGetWinsize(0, unix.TIOCGWINSZ)
		check(err)
		if int(ws.Row) == rows && int(ws.Col) == cols {
			fmt.Printf("%d %d\n", ws.Row, ws.Col)
			return
		}
		if time.Now().After(deadline) {
			fmt.Printf("%d %d\n", ws.Row, ws.Col)
			os.Exit(1)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
