package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/berth-runtime/berth/bundle/docker"
	"github.com/berth-runtime/berth/libcontainer/signals"
)

var startCmd = &cli.Command{
	Name: "start", Usage: "start stopped containers", ArgsUsage: "CONTAINER...",
	Action: func(c *cli.Context) error {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		return eachContainer(c, func(s *docker.Store, m *docker.Meta) error { return s.Start(exe, m) })
	},
}

var restartCmd = &cli.Command{
	Name: "restart", Usage: "restart containers", ArgsUsage: "CONTAINER...",
	Flags: []cli.Flag{stopTimeFlag()},
	Action: func(c *cli.Context) error {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		return eachContainer(c, func(s *docker.Store, m *docker.Meta) error {
			return s.Restart(exe, m, stopTime(c))
		})
	},
}

var stopCmd = &cli.Command{
	Name: "stop", Usage: "stop running containers", ArgsUsage: "CONTAINER...",
	Flags: []cli.Flag{stopTimeFlag()},
	Action: func(c *cli.Context) error {
		return eachContainer(c, func(s *docker.Store, m *docker.Meta) error {
			return s.Stop(m, stopTime(c))
		})
	},
}

// stopTimeFlag is -t of stop and restart: a flag of each command's own, so
// that neither sees the other's parsed value.
func stopTimeFlag() cli.Flag {
	return &cli.IntFlag{Name: "time", Aliases: []string{"t"}, Value: 10}
}

// stopTime is how long stop waits after the stop signal before SIGKILL.
func stopTime(c *cli.Context) time.Duration { return time.Duration(c.Int("time")) * time.Second }

var killCmd = &cli.Command{
	Name: "kill", Usage: "kill running containers", ArgsUsage: "CONTAINER...",
	Flags: []cli.Flag{&cli.StringFlag{Name: "signal", Aliases: []string{"s"}, Value: "KILL"}},
	Action: func(c *cli.Context) error {
		sig := c.String("signal")
		if _, err := signals.Parse(sig); err != nil {
			return err
		}
		return eachContainer(c, func(s *docker.Store, m *docker.Meta) error {
			if !s.Running(m) {
				return fmt.Errorf("cannot kill container: %s: container %s is not running", m.Name, m.ID[:12])
			}
			return s.Kill(m.ID, sig)
		})
	},
}

var rmCmd = &cli.Command{
	Name: "rm", Usage: "remove containers", ArgsUsage: "CONTAINER...",
	Flags: []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}}},
	Action: func(c *cli.Context) error {
		return eachContainer(c, func(s *docker.Store, m *docker.Meta) error { return s.Remove(m, c.Bool("force")) })
	},
}

var execCmd = &cli.Command{
	Name: "exec", Usage: "run a command in a running container", ArgsUsage: "CONTAINER COMMAND [ARG...]",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}},
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}},
		&cli.StringFlag{Name: "workdir", Aliases: []string{"w"}},
	},
	Action: func(c *cli.Context) error {
		s, m, err := find(c)
		if err != nil {
			return err
		}
		if c.NArg() < 2 {
			return errors.New(`"exec" requires at least 2 arguments: CONTAINER COMMAND`)
		}
		o := &docker.ExecOptions{
			Env: c.StringSlice("env"), User: c.String("user"), Workdir: c.String("workdir"),
			TTY: c.Bool("tty"), Detach: c.Bool("detach"), Args: c.Args().Tail(),
		}
		// Without -i the command's stdin is /dev/null, as docker's.
		var stdin io.Reader
		if c.Bool("interactive") {
			stdin = os.Stdin
		}
		code, err := s.Exec(m, o, stdin, os.Stdout, os.Stderr)
		if err != nil || code == 0 {
			return err
		}
		return ExitError(code)
	},
}

var waitCmd = &cli.Command{
	Name: "wait", Usage: "wait for containers to stop and print their exit codes", ArgsUsage: "CONTAINER...",
	Action: func(c *cli.Context) error {
		return eachFound(c, func(s *docker.Store, m *docker.Meta) error {
			fmt.Println(s.Wait(m))
			return nil
		})
	},
}

var pruneCmd = &cli.Command{
	Name: "prune", Usage: "reconcile after a crash or reboot and remove stopped containers",
	Action: func(c *cli.Context) error {
		s, _, err := stores(c)
		if err != nil {
			return err
		}
		return s.Prune(os.Stdout)
	},
}

// monitorCmd is the monitor's entry point: the engine runs itself with it
// (docker.Store.StartMonitor) and hands it the report pipe as fd 3.
var monitorCmd = &cli.Command{
	Name: "__monitor", Hidden: true,
	Action: func(c *cli.Context) error {
		s, _, err := stores(c)
		if err != nil {
			return err
		}
		return s.Monitor(c.Args().First(), os.NewFile(3, "report"))
	},
}
