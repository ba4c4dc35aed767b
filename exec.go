package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/libcontainer"
)

var execCommand = &cli.Command{
	Name:      "exec",
	Usage:     "execute new process inside the container",
	ArgsUsage: "<container-id> <command> [command options]  || -p process.json <container-id>",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "console-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal"},
		&cli.StringFlag{Name: "pidfd-socket", Usage: "path to an AF_UNIX socket which will receive a pidfd of the process"},
		&cli.StringFlag{Name: "cwd", Usage: "current working directory in the container"},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set environment variables"},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "UID (format: <uid>[:<gid>])"},
		&cli.Int64SliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "additional gids"},
		&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "path to the process.json"},
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
		&cli.StringFlag{Name: "pid-file", Usage: "specify the file to write the process id to"},
		&cli.StringFlag{Name: "process-label", Usage: "set the asm process label for the process commonly used with selinux"},
		&cli.StringFlag{Name: "apparmor", Usage: "set the apparmor profile for the process"},
		&cli.BoolFlag{Name: "no-new-privs", Usage: "set the no new privileges value for the process"},
		&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "add a capability to the bounding set for the process"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "pass N additional file descriptors to the container"},
		&cli.StringFlag{Name: "cgroup", Usage: "run the process in an (existing) sub-cgroup(s)"},
		&cli.BoolFlag{Name: "ignore-paused", Usage: "allow exec in a paused container"},
	},
	Action: func(c *cli.Context) error {
		code, err := execProcess(c)
		if err != nil {
			return codedError{err, 255}
		}
		return exitError(code)
	},
}

func execProcess(c *cli.Context) (int, error) {
	if err := checkArgs(c, 1, -1); err != nil {
		return 0, err
	}
	pidFile, err := absPidFile(c.String("pid-file"))
	if err != nil {
		return 0, err
	}
	ctr, err := loadContainer(c)
	if err != nil {
		return 0, err
	}
	proc, err := execProcessSpec(c, ctr)
	if err != nil {
		ctr.Release()
		return 0, err
	}
	extra, err := preservedFiles(3, c.Int("preserve-fds"))
	if err != nil {
		ctr.Release()
		return 0, err
	}
	detach := c.Bool("detach")
	tty, err := newTTYSetup(proc.Terminal, detach, c.String("console-socket"))
	if err != nil {
		ctr.Release()
		return 0, err
	}
	pidfdSock, err := dialPidfdSocket(c.String("pidfd-socket"))
	if err != nil {
		ctr.Release()
		tty.close()
		return 0, err
	}
	tty.sizeFromStdin(proc)
	var sigs chan os.Signal
	if !detach {
		sigs = make(chan os.Signal, 64)
		signal.Notify(sigs)
	}
	pid, err := ctr.Exec(&libcontainer.ExecOpts{Process: proc, ExtraFiles: extra,
		IgnorePause: c.Bool("ignore-paused"), Cgroup: c.String("cgroup"), ConsoleSocket: tty.socket()})
	ctr.Release()
	if err != nil {
		pidfdSock.close()
		tty.close()
		return 0, err
	}
	if tty != nil {
		tty.sock.Close()
	}
	if err := pidfdSock.send(pid, pidfdNameExec); err != nil {
		// The caller cannot manage a process it has no pidfd for.
		tty.close()
		unix.Kill(pid, unix.SIGKILL)
		libcontainer.WaitPid(pid)
		return 0, err
	}
	waitTTY, err := tty.proxy()
	if err != nil {
		return 0, err
	}
	if err := writePidFile(pidFile, pid); err != nil {
		return 0, err
	}
	if detach {
		return 0, nil
	}
	releaseCPUs()
	go forwardTo(sigs, pid)
	code := libcontainer.WaitPid(pid)
	waitTTY()
	return code, nil
}

// execProcessSpec builds the process: from -p, or from the container's
// config.json process with the command line's changes.
func execProcessSpec(c *cli.Context, ctr *libcontainer.Container) (*specs.Process, error) {
	if path := c.String("process"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		p, err := parseProcessJSON(data)
		if err != nil {
			return nil, fmt.Errorf("parse process %s: %w", path, err)
		}
		return p, nil
	}
	if c.NArg() < 2 {
		return nil, errors.New("exec: no command given")
	}
	spec, err := ctr.ExecSpec()
	if err != nil {
		return nil, err
	}
	if spec.Process == nil {
		return nil, errors.New("exec: the container's config has no process to take defaults from; use --process")
	}
	// A copy: the engine shares spec.
	p := *spec.Process
	p.Args = c.Args().Slice()[1:]
	p.Terminal = c.Bool("tty")
	p.Env = append(append([]string{}, p.Env...), c.StringSlice("env")...)
	if cwd := c.String("cwd"); cwd != "" {
		p.Cwd = cwd
	}
	if u := c.String("user"); u != "" {
		uid, gid, hasGid := strings.Cut(u, ":")
		n, err := strconv.ParseUint(uid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("parsing %s as int for uid failed: %w", uid, err)
		}
		p.User.UID = uint32(n)
		if hasGid {
			n, err := strconv.ParseUint(gid, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("parsing %s as int for gid failed: %w", gid, err)
			}
			p.User.GID = uint32(n)
		}
	}
	p.User.AdditionalGids = append([]uint32(nil), p.User.AdditionalGids...)
	for _, g := range c.Int64Slice("additional-gids") {
		if g < 0 {
			return nil, fmt.Errorf("additional-gids must be a positive number %d", g)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(g))
	}
	if c.Bool("no-new-privs") {
		p.NoNewPrivileges = true
	}
	// Checked by the engine like create's: refused where the LSM is off.
	if a := c.String("apparmor"); a != "" {
		p.ApparmorProfile = a
	}
	if l := c.String("process-label"); l != "" {
		p.SelinuxLabel = l
	}
	if caps := c.StringSlice("cap"); len(caps) > 0 {
		pc := specs.LinuxCapabilities{}
		if p.Capabilities != nil {
			pc = *p.Capabilities
		}
		p.Capabilities = &pc
		for _, cp := range caps {
			p.Capabilities.Bounding = append(p.Capabilities.Bounding, cp)
			p.Capabilities.Effective = append(p.Capabilities.Effective, cp)
			p.Capabilities.Permitted = append(p.Capabilities.Permitted, cp)
			p.Capabilities.Ambient = append(p.Capabilities.Ambient, cp)
		}
	}
	return &p, nil
}

// forwardTo passes the signals berth receives to pid.
func forwardTo(sigs chan os.Signal, pid int) {
	for s := range sigs {
		sig := s.(unix.Signal)
		switch sig {
		case unix.SIGCHLD, unix.SIGURG, unix.SIGWINCH, unix.SIGPIPE:
			continue
		}
		unix.Kill(pid, sig)
	}
}

// parseProcessJSON reads an exec -p process.json.
func parseProcessJSON(data []byte) (*specs.Process, error) {
	var p specs.Process
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, err
	}
	if len(p.Args) == 0 {
		return nil, errors.New("process args cannot be empty")
	}
	return &p, nil
}
