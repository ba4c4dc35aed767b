package main

import (
	"github.com/urfave/cli/v2"

	"github.com/berth-runtime/berth/libcontainer/signals"
)

var killCommand = &cli.Command{
	Name:      "kill",
	Usage:     "kill sends the specified signal (default: SIGTERM) to the container's init process",
	ArgsUsage: "<container-id> [signal]",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "send the specified signal to all processes inside the container"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 2); err != nil {
			return err
		}
		sigName := "SIGTERM"
		if c.NArg() == 2 {
			sigName = c.Args().Get(1)
		}
		sig, err := signals.Parse(sigName)
		if err != nil {
			return err
		}
		ctr, err := loadContainer(c)
		if err != nil {
			return err
		}
		defer ctr.Release()
		return ctr.Signal(sig, c.Bool("all"))
	},
}
