package main

import (
	"os"
	"os/signal"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/libcontainer"
)

var runCommand = &cli.Command{
	Name:      "run",
	Usage:     "create and run a container",
	ArgsUsage: "<container-id>",
	Flags: append(append([]cli.Flag{}, createFlags...),
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
		&cli.BoolFlag{Name: "keep", Usage: "do not delete the container after it exits"},
		&cli.BoolFlag{Name: "no-subreaper", Usage: "disable the use of the subreaper used to reap reparented processes"},
	),
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		detach := c.Bool("detach")
		if !detach && !c.Bool("no-subreaper") {
			// Orphans of the container come to us, not to PID 1.
			if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
				return err
			}
		}
		var sigs chan os.Signal
		if !detach {
			sigs = make(chan os.Signal, 64)
			signal.Notify(sigs)
		}
		ctr, tty, err := createContainer(c, detach)
		if err != nil {
			return err
		}
		// With a terminal, the master arrives once the init has set it
		// up, before start: proxy it from now on.
		waitTTY, err := tty.proxy()
		if err != nil {
			ctr.Release()
			warnDestroy(c.String("root"), ctr.ID)
			return err
		}
		// Other commands (kill, state) must be able to act on the container
		// while it runs in the foreground.
		ctr.Release()
		if err := startLocked(ctr, c.String("root")); err != nil {
			warnDestroy(c.String("root"), ctr.ID)
			waitTTY()
			return err
		}
		if detach {
			return nil
		}
		releaseCPUs()
		go forwardTo(sigs, ctr.InitPid())
		code := ctr.Wait()
		waitTTY()
		if !c.Bool("keep") {
			if err := destroy(c.String("root"), ctr.ID); err != nil {
				return err
			}
		}
		return exitError(code)
	},
}

func startLocked(ctr *libcontainer.Container, root string) error {
	c, err := libcontainer.Load(root, ctr.ID)
	if err != nil {
		return err
	}
	defer c.Release()
	return c.Start()
}

// warnDestroy is destroy on a path that already fails: its own error is
// logged, the first one is what the caller reports.
func warnDestroy(root, id string) {
	if err := destroy(root, id); err != nil {
		logrus.Warnf("removing the container after the failure: %v", err)
	}
}

// destroy removes a container whose init has exited (or kills it first).
func destroy(root, id string) error {
	c, err := libcontainer.Load(root, id)
	if err != nil {
		return err
	}
	defer c.Release()
	return c.Delete(true)
}
