package main

import (
	"os"
	"strconv"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/berth-runtime/berth/libcontainer"
	"github.com/berth-runtime/berth/libcontainer/oci"
)

// createFlags are shared by create and run.
var createFlags = []cli.Flag{
	&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "path to the root of the bundle directory, defaults to the current directory"},
	&cli.StringFlag{Name: "console-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal"},
	&cli.StringFlag{Name: "pidfd-socket", Usage: "path to an AF_UNIX socket which will receive a pidfd of the container's init"},
	&cli.StringFlag{Name: "pid-file", Usage: "specify the file to write the process id to"},
	&cli.BoolFlag{Name: "no-pivot", Usage: "do not use pivot root to jail process inside rootfs"},
	&cli.BoolFlag{Name: "no-new-keyring", Usage: "do not create a new session keyring for the container"},
	&cli.IntFlag{Name: "preserve-fds", Usage: "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)"},
}

var createCommand = &cli.Command{
	Name:      "create",
	Usage:     "create a container",
	ArgsUsage: "<container-id>",
	Flags: append(append([]cli.Flag{}, createFlags...),
		// go-runc may append --detach to create; it changes nothing.
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Hidden: true}),
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		ctr, _, err := createContainer(c, true)
		if err != nil {
			return err
		}
		ctr.Release()
		return nil
	},
}

// createContainer does create's work for create and run: it returns with
// the init waiting on the exec fifo and the pid file written.
func createContainer(c *cli.Context, detach bool) (*libcontainer.Container, *ttySetup, error) {
	id, err := containerID(c)
	if err != nil {
		return nil, nil, err
	}
	pidFile, err := absPidFile(c.String("pid-file"))
	if err != nil {
		return nil, nil, err
	}
	dir := c.String("bundle")
	if dir == "" {
		dir = "."
	}
	b, err := oci.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	logrus.Debugf("bundle %s: config.json loaded (ociVersion %s, rootfs %s)", b.Dir, b.Spec.Version, b.Rootfs)
	terminal := b.Spec.Process != nil && b.Spec.Process.Terminal
	tty, err := newTTYSetup(terminal, detach, c.String("console-socket"))
	if err != nil {
		return nil, nil, err
	}
	tty.sizeFromStdin(b.Spec.Process)
	// Socket-activation fds come first, then --preserve-fds ones: both
	// land at 3.. in the container, in that order (runc's contract).
	listen := listenFds()
	if len(listen) > 0 && b.Spec.Process != nil {
		b.Spec.Process.Env = append(b.Spec.Process.Env, "LISTEN_FDS="+strconv.Itoa(len(listen)), "LISTEN_PID=1")
	}
	extra, err := preservedFiles(3+len(listen), c.Int("preserve-fds"))
	if err != nil {
		tty.close()
		return nil, nil, err
	}
	pidfdSock, err := dialPidfdSocket(c.String("pidfd-socket"))
	if err != nil {
		tty.close()
		return nil, nil, err
	}
	ctr, err := libcontainer.Create(&libcontainer.CreateOpts{
		Root: c.String("root"), ID: id, Bundle: b, NoPivot: c.Bool("no-pivot"),
		NoNewKeyring: c.Bool("no-new-keyring"), ExtraFiles: append(listen, extra...),
		NotifySocket: os.Getenv("NOTIFY_SOCKET"), ConsoleSocket: tty.socket(),
		SystemdCgroup: c.Bool("systemd-cgroup"), RootlessCgroups: rootlessCgroups,
	})
	if err != nil {
		pidfdSock.close()
		tty.close()
		return nil, nil, err
	}
	err = pidfdSock.send(ctr.InitPid(), pidfdNameInit)
	if err == nil {
		err = writePidFile(pidFile, ctr.InitPid())
	}
	if err != nil {
		if derr := ctr.Delete(true); derr != nil {
			logrus.Warnf("cleaning up after the failed create: %v", derr)
		}
		ctr.Release()
		tty.close()
		return nil, nil, err
	}
	if tty != nil {
		// The init has its copy; ours would keep the socket open.
		tty.sock.Close()
	}
	return ctr, tty, nil
}
