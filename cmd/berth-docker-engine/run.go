package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/berth-runtime/berth/bundle/docker"
)

var runFlags = []cli.Flag{
	&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}},
	&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}},
	&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}},
	&cli.BoolFlag{Name: "rm"},
	&cli.StringFlag{Name: "name"},
	&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}},
	&cli.StringSliceFlag{Name: "env-file"},
	&cli.StringFlag{Name: "workdir", Aliases: []string{"w"}},
	&cli.StringFlag{Name: "user", Aliases: []string{"u"}},
	&cli.StringFlag{Name: "hostname", Aliases: []string{"h"}},
	&cli.StringSliceFlag{Name: "volume", Aliases: []string{"v"}},
	&cli.StringSliceFlag{Name: "tmpfs"},
	&cli.BoolFlag{Name: "read-only"},
	&cli.StringFlag{Name: "memory", Aliases: []string{"m"}},
	&cli.Float64Flag{Name: "cpus"},
	&cli.StringFlag{Name: "cpuset-cpus"},
	&cli.Int64Flag{Name: "pids-limit"},
	&cli.StringSliceFlag{Name: "cap-add"},
	&cli.StringSliceFlag{Name: "cap-drop"},
	&cli.BoolFlag{Name: "privileged"},
	&cli.StringSliceFlag{Name: "security-opt"},
	&cli.StringFlag{Name: "entrypoint"},
	&cli.StringFlag{Name: "network", Aliases: []string{"net"}, Value: "none"},
}

var runCmd = &cli.Command{
	Name: "run", Usage: "run a command in a new container", ArgsUsage: "IMAGE [COMMAND] [ARG...]",
	Flags:  runFlags,
	Action: run,
}

// run is docker run: create, start through the monitor, then either print
// the ID (-d) or stay with the container to its end.
func run(c *cli.Context) error {
	if c.NArg() < 1 {
		return errors.New(`"run" requires at least 1 argument: IMAGE`)
	}
	s, is, err := stores(c)
	if err != nil {
		return err
	}
	o, err := runOptions(c)
	if err != nil {
		return err
	}
	m, err := s.Create(is, c.Args().First(), o)
	if err != nil {
		return RunError{err, 125}
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if o.Interactive && !o.Detach && !o.TTY {
		go s.FeedStdin(m.ID, os.Stdin)
	}
	conn, err := s.StartMonitor(exe, m.ID)
	if err != nil {
		if o.Remove {
			s.RemoveDir(m.ID)
		}
		return startFailure(err)
	}
	if o.Detach {
		fmt.Println(m.ID)
		return nil
	}
	return foreground(s, m, conn)
}

// foreground is a run without -d: the container's output (or, with -t,
// its terminal) until it exits, then --rm, and its exit code as ours.
func foreground(s *docker.Store, m *docker.Meta, conn net.Conn) error {
	code, err := follow(s, m.ID, conn)
	if err != nil {
		return err
	}
	if m.Options.Remove {
		if err := s.Remove(m, true); err != nil {
			return err
		}
	}
	return ExitError(code)
}

// follow waits for the container's exit code; an attached terminal has
// shown the output already, so the log is not printed again.
func follow(s *docker.Store, id string, conn net.Conn) (int, error) {
	if conn == nil {
		return s.Follow(id, os.Stdout, os.Stderr)
	}
	if err := docker.Attach(conn, os.Stdin, os.Stdout); err != nil {
		return 0, err
	}
	return s.Follow(id, io.Discard, io.Discard)
}

// startFailure classifies why the container's command could not start.
func startFailure(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory"):
		return RunError{err, 127}
	case strings.Contains(msg, "permission denied") || strings.Contains(msg, "is a directory"):
		return RunError{err, 126}
	}
	return RunError{err, 125}
}

func runOptions(c *cli.Context) (*docker.RunOptions, error) {
	o := &docker.RunOptions{
		Name: c.String("name"), Detach: c.Bool("detach"), Interactive: c.Bool("interactive"), TTY: c.Bool("tty"),
		Remove: c.Bool("rm"), Env: c.StringSlice("env"), Workdir: c.String("workdir"), User: c.String("user"),
		Hostname: c.String("hostname"), Volumes: c.StringSlice("volume"), Tmpfs: c.StringSlice("tmpfs"),
		ReadOnly: c.Bool("read-only"), CPUs: c.Float64("cpus"), CpusetCPUs: c.String("cpuset-cpus"),
		PidsLimit: c.Int64("pids-limit"), CapAdd: c.StringSlice("cap-add"), CapDrop: c.StringSlice("cap-drop"),
		Privileged: c.Bool("privileged"), SecurityOpt: c.StringSlice("security-opt"), Network: c.String("network"),
		Cmd: c.Args().Tail(),
	}
	if o.Network != "none" && o.Network != "host" {
		return nil, fmt.Errorf("network %q is not supported: use none or host", o.Network)
	}
	if c.IsSet("entrypoint") {
		e := c.String("entrypoint")
		o.Entrypoint = &e
	}
	if v := c.String("memory"); v != "" {
		n, err := parseSize(v)
		if err != nil {
			return nil, fmt.Errorf("invalid argument %q for \"-m, --memory\" flag: %w", v, err)
		}
		o.Memory = n
	}
	for _, f := range c.StringSlice("env-file") {
		env, err := readEnvFile(f)
		if err != nil {
			return nil, err
		}
		o.Env = append(env, o.Env...)
	}
	return o, nil
}

// readEnvFile reads docker's --env-file: KEY=VALUE lines, # comments, and
// a bare KEY that takes our own value.
func readEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var env []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if !strings.Contains(l, "=") {
			l += "=" + os.Getenv(l)
		}
		env = append(env, l)
	}
	return env, sc.Err()
}

// parseSize takes docker's memory syntax: a number with b, k, m or g.
func parseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	switch {
	case strings.HasSuffix(t, "g"), strings.HasSuffix(t, "gb"):
		mult = 1 << 30
	case strings.HasSuffix(t, "m"), strings.HasSuffix(t, "mb"):
		mult = 1 << 20
	case strings.HasSuffix(t, "k"), strings.HasSuffix(t, "kb"):
		mult = 1 << 10
	}
	t = strings.TrimRight(t, "kmgb")
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v <= 0 {
		return 0, errors.New("invalid size")
	}
	return int64(v * float64(mult)), nil
}
