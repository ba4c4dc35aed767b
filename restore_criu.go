//go:build berth_criu

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

// restoreAction restores the container through CRIU (berth-criu).
func restoreAction(c *cli.Context) error {
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
}
