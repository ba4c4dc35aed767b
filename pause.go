package main

import "github.com/urfave/cli/v2"

var pauseCommand = &cli.Command{
	Name:      "pause",
	Usage:     "pause suspends all processes inside the container",
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
		return ctr.Pause()
	},
}

var resumeCommand = &cli.Command{
	Name:      "resume",
	Usage:     "resumes all processes that have been previously paused",
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
		return ctr.Resume()
	},
}
