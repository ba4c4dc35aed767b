// Command berth-docker-engine is the Go half of berth-docker: the wrapper
// script maps docker verbs onto it, and it drives the OCI runtime (berth,
// or runc with --runtime) through its command line only. It is the command
// line alone: flags, output and exit codes; the containers themselves are
// bundle/docker's.
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/berth-runtime/berth/libcontainer/kernel"
)

func main() {
	// Fds our caller left open (a pipe, make's jobserver) must not reach
	// the monitor, which lives as long as the container.
	if err := kernel.CloseOnExecFrom(3); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
	err := app().Run(os.Args)
	var code ExitError
	var runErr RunError
	switch {
	case err == nil:
	case errors.As(err, &code):
		os.Exit(int(code))
	case errors.As(err, &runErr):
		fmt.Fprintln(os.Stderr, "Error:", runErr.Err)
		os.Exit(runErr.Code)
	default:
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

// ExitError carries a container's exit code to main.
type ExitError int

// Error is never printed: main exits with the code, silently, as docker
// does with the container's.
func (e ExitError) Error() string { return "exit status " + strconv.Itoa(int(e)) }

// RunError is a failed run with docker's exit code: 125 for the engine,
// 126 for a command that cannot be run, 127 for one that does not exist.
type RunError struct {
	Err  error
	Code int
}

// Error is the cause alone: main prints it and exits with the code.
func (e RunError) Error() string { return e.Err.Error() }
