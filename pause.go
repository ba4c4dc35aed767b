package main

import (
	"github.com/urfave/cli/v2"

	"github.com/berth-runtime/berth/libcontainer"
)

var pauseCommand = &cli.Command{
	Name:      "pause",
	Usage:     "pause suspends all processes inside the container",
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		return onContainer(c, (*libcontainer.Container).Pause)
	},
}

var resumeCommand = &cli.Command{
	Name:      "resume",
	Usage:     "resumes all processes that have been previously paused",
	ArgsUsage: "<container-id>",
	Action: func(c *cli.Context) error {
		return onContainer(c, (*libcontainer.Container).Resume)
	},
}
