package main

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/berth-runtime/berth/libcontainer"
)

var deleteCommand = &cli.Command{
	Name:      "delete",
	Usage:     "delete any resources held by the container often used with detached container",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "Forcibly deletes the container if it is still running (uses SIGKILL)"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		force := c.Bool("force")
		ctr, err := loadContainer(c)
		if errors.Is(err, libcontainer.ErrNotExist) {
			// A directory without state.json is what a crashed create
			// leaves; it is removed either way.
			if _, rerr := libcontainer.RemoveLeftover(c.String("root"), c.Args().First()); rerr != nil {
				return rerr
			}
			if force {
				return nil
			}
		}
		if err != nil {
			return err
		}
		defer ctr.Release()
		return ctr.Delete(force)
	},
}
