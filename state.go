package main

import (
	"encoding/json"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/berth-runtime/berth/libcontainer"
)

var stateCommand = &cli.Command{
	Name:      "state",
	Usage:     "output the state of a container",
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		return onContainer(c, func(ctr *libcontainer.Container) error {
			data, err := json.MarshalIndent(ctr.OCIState(), "", "  ")
			if err != nil {
				return err
			}
			// runc prints no trailing newline.
			_, err = os.Stdout.Write(data)
			return err
		})
	},
}
