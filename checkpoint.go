package main

import (
	"github.com/urfave/cli/v2"
)

// criuFlags are the flags checkpoint and restore share (runc's).
var criuFlags = []cli.Flag{
	&cli.StringFlag{Name: "image-path", Usage: "path for saving criu image files"},
	&cli.StringFlag{Name: "work-path", Usage: "path for saving work files and logs"},
	&cli.BoolFlag{Name: "tcp-established", Usage: "allow open tcp connections"},
	&cli.BoolFlag{Name: "ext-unix-sk", Usage: "allow external unix sockets"},
	&cli.BoolFlag{Name: "shell-job", Usage: "allow shell jobs"},
	&cli.BoolFlag{Name: "lazy-pages", Usage: "use userfaultfd to lazily restore memory pages"},
	&cli.BoolFlag{Name: "file-locks", Usage: "handle file locks, for safety"},
	&cli.StringFlag{Name: "manage-cgroups-mode", Usage: "cgroups mode: soft|full|strict|ignore (default: soft)"},
	&cli.StringSliceFlag{Name: "empty-ns", Usage: "create a namespace, but don't restore its properties"},
	&cli.BoolFlag{Name: "auto-dedup", Usage: "enable auto deduplication of memory images"},
}

var checkpointCommand = &cli.Command{
	Name:      "checkpoint",
	Usage:     "checkpoint a running container",
	ArgsUsage: "<container-id>",
	Description: `The checkpoint command saves the state of the container instance (CRIU).

Where CRIU cannot work on the host, it fails naming what CRIU's own check found, and the container is left as it was.`,
	Flags: append(append([]cli.Flag{}, criuFlags...),
		&cli.StringFlag{Name: "parent-path", Usage: "path for previous criu image files in pre-dump"},
		&cli.BoolFlag{Name: "leave-running", Usage: "leave the process running after checkpointing"},
		&cli.IntFlag{Name: "status-fd", Value: -1, Usage: "criu writes \\0 to this FD once lazy-pages is ready (only with --lazy-pages)"},
		&cli.StringFlag{Name: "page-server", Usage: "ADDRESS:PORT of the page server"},
		&cli.BoolFlag{Name: "pre-dump", Usage: "dump container's memory information only, leave the container running after this"},
	),
	Action: checkpointAction,
}
