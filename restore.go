package main

import (
	"os"
	"os/signal"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/libcontainer"
	"github.com/berth-runtime/berth/libcontainer/oci"
)

var restoreCommand = &cli.Command{
	Name:      "restore",
	Usage:     "restore a container from a previous checkpoint",
	ArgsUsage: "<container-id>",
	Description: `Restores the saved state of the container instance that was previously saved using the checkpoint command (CRIU).

The container gets its state directory and cgroup as create makes them, from the bundle's config.json; CRIU then restores its processes into them.`,
	Flags: append(append([]cli.Flag{}, criuFlags...),
		&cli.StringFlag{Name: "console-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal"},
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "path to the root of the bundle directory"},
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
		&cli.StringFlag{Name: "pid-file", Usage: "specify the file to write the process id to"},
		&cli.BoolFlag{Name: "no-subreaper", Usage: "disable the use of the subreaper used to reap reparented processes"},
		&cli.BoolFlag{Name: "no-pivot", Usage: "do not use pivot root to jail process inside rootfs (no effect: CRIU restores the mount namespace)"},
		&cli.StringFlag{Name: "lsm-profile", Usage: "Specify an LSM profile to be used during restore in the form of TYPE:NAME"},
		&cli.StringFlag{Name: "lsm-mount-context", Usage: "Specify an LSM mount context to be used during restore"},
	),
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		id, err := containerID(c)
		if err != nil {
			return err
		}
		co, err := criuOptions(c)
		if err != nil {
			return err
		}
		pidFile, err := absPidFile(c.String("pid-file"))
		if err != nil {
			return err
		}
		if c.Bool("no-pivot") {
			logrus.Warn("--no-pivot has no effect on restore: CRIU restores the container's mount namespace itself")
		}
		dir := c.String("bundle")
		if dir == "" {
			dir = "."
		}
		b, err := oci.Load(dir)
		if err != nil {
			return err
		}
		detach := c.Bool("detach")
		terminal := b.Spec.Process != nil && b.Spec.Process.Terminal
		tty, err := newTTYSetup(terminal, detach, c.String("console-socket"))
		if err != nil {
			return err
		}
		if !detach && !c.Bool("no-subreaper") {
			if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
				tty.close()
				return err
			}
		}
		var sigs chan os.Signal
		if !detach {
			sigs = make(chan os.Signal, 64)
			signal.Notify(sigs)
		}
		ctr, err := libcontainer.Restore(&libcontainer.RestoreOpts{
			CreateOpts: libcontainer.CreateOpts{
				Root: c.String("root"), ID: id, Bundle: b, ConsoleSocket: tty.socket(),
				SystemdCgroup: c.Bool("systemd-cgroup"), RootlessCgroups: rootlessCgroups,
			},
			CriuOpts: co, LsmProfile: c.String("lsm-profile"), LsmMountContext: c.String("lsm-mount-context"),
		})
		if err != nil {
			tty.close()
			return err
		}
		if tty != nil {
			tty.sock.Close()
		}
		if err := writePidFile(pidFile, ctr.InitPid()); err != nil {
			if derr := ctr.Delete(true); derr != nil {
				logrus.Warnf("cleaning up after the failed restore: %v", derr)
			}
			ctr.Release()
			tty.close()
			return err
		}
		waitTTY, err := tty.proxy()
		ctr.Release()
		if err != nil {
			warnDestroy(c.String("root"), id)
			return err
		}
		if detach {
			return nil
		}
		go forwardTo(sigs, ctr.InitPid())
		code := ctr.Wait()
		waitTTY()
		if err := destroy(c.String("root"), id); err != nil {
			return err
		}
		return exitError(code)
	},
}
