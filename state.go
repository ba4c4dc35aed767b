package main

import (
	"encoding/json"
	"os"

	"github.com/urfave/cli/v2"
)

var stateCommand = &cli.Command{
	Name:      "state",
	Usage:     "output the state of a container",
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		ctr, err := loadContainer(c)
		if err != nil {
			return err
		}
		defer ctr.Release()
		data, err := json.MarshalIndent(ctr.OCIState(), "", "  ")
		if err != nil {
			return err
		}
		// runc prints no trailing newline.
		_, err = os.Stdout.Write(data)
		return err
	},
}
