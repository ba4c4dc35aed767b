// Command berth-docker-engine is the Go half of berth-docker: the wrapper
// script maps docker verbs onto it, and it drives the OCI runtime (berth,
// or runc with --runtime) through its command line only.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/berth-runtime/berth/bundle/docker"
	"github.com/berth-runtime/berth/libcontainer/kernel"
)

func main() {
	// Fds our caller left open (a pipe, make's jobserver) must not reach
	// the monitor, which lives as long as the container.
	if err := kernel.CloseOnExecFrom(3); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
	err := docker.App().Run(os.Args)
	var code docker.ExitError
	var runErr docker.RunError
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
