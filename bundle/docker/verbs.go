package docker

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/berth-runtime/berth/libcontainer/signals"
)

func find(c *cli.Context) (*Store, *Meta, error) {
	if c.NArg() < 1 {
		return nil, nil, fmt.Errorf("%q requires at least 1 argument", c.Command.Name)
	}
	s, _, err := stores(c)
	if err != nil {
		return nil, nil, err
	}
	m, err := s.Find(c.Args().First())
	if err != nil {
		return nil, nil, err
	}
	return s.forMeta(m), m, nil
}

// eachContainer runs f for every argument, docker style: all are tried,
// the names of the ones that worked are printed, errors are collected.
func eachContainer(c *cli.Context, f func(s *Store, m *Meta) error) error {
	s, _, err := stores(c)
	if err != nil {
		return err
	}
	if c.NArg() == 0 {
		return fmt.Errorf("%q requires at least 1 argument", c.Command.Name)
	}
	var errs []error
	for _, ref := range c.Args().Slice() {
		m, err := s.Find(ref)
		if err == nil {
			err = f(s.forMeta(m), m)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Println(ref)
	}
	return errors.Join(errs...)
}

// running reports the container's live state from the runtime.
func (s *Store) running(m *Meta) bool { return s.alive(m) }

var startCmd = &cli.Command{
	Name: "start", Usage: "start stopped containers", ArgsUsage: "CONTAINER...",
	Action: func(c *cli.Context) error {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		return eachContainer(c, func(s *Store, m *Meta) error { return s.Start(exe, m) })
	},
}

// Start starts a stopped container again, with the same upper dir.
func (s *Store) Start(exe string, m *Meta) error {
	if s.running(m) {
		return nil
	}
	s.DeleteRuntime(m.ID, true)
	if err := s.remount(m); err != nil {
		return err
	}
	conn, err := s.StartMonitor(exe, m.ID)
	if conn != nil {
		conn.Close()
	}
	return err
}

func (s *Store) remount(m *Meta) error {
	_, is, err := storesFrom(s)
	if err != nil {
		return err
	}
	img, err := is.Get(m.ImageID)
	if err != nil {
		return err
	}
	return s.MountRootfs(m.ID, img.Layers)
}

var restartCmd = &cli.Command{
	Name: "restart", Usage: "restart containers", ArgsUsage: "CONTAINER...",
	Flags: []cli.Flag{&cli.IntFlag{Name: "time", Aliases: []string{"t"}, Value: 10}},
	Action: func(c *cli.Context) error {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		return eachContainer(c, func(s *Store, m *Meta) error {
			if err := s.Stop(m, time.Duration(c.Int("time"))*time.Second); err != nil {
				return err
			}
			m, err := s.LoadMeta(m.ID)
			if err != nil {
				return err
			}
			return s.Start(exe, m)
		})
	},
}

var stopCmd = &cli.Command{
	Name: "stop", Usage: "stop running containers", ArgsUsage: "CONTAINER...",
	Flags: []cli.Flag{&cli.IntFlag{Name: "time", Aliases: []string{"t"}, Value: 10}},
	Action: func(c *cli.Context) error {
		return eachContainer(c, func(s *Store, m *Meta) error {
			return s.Stop(m, time.Duration(c.Int("time"))*time.Second)
		})
	},
}

// Stop sends the stop signal, then SIGKILL after timeout, and waits until
// the container has exited and the monitor has recorded it. Stopping a
// stopped container does nothing.
func (s *Store) Stop(m *Meta, timeout time.Duration) error {
	if !s.running(m) {
		s.settle(m)
		return nil
	}
	sig := m.StopSignal
	if sig == "" {
		sig = "SIGTERM"
	}
	if _, err := signals.Parse(sig); err != nil {
		sig = "SIGTERM"
	}
	if err := s.Kill(m.ID, sig); err != nil && !errors.Is(err, ErrNoContainer) {
		return err
	}
	if s.waitExit(m, timeout) {
		return nil
	}
	if err := s.Kill(m.ID, "SIGKILL"); err != nil && !errors.Is(err, ErrNoContainer) {
		return err
	}
	if !s.waitExit(m, 10*time.Second) {
		return fmt.Errorf("container %s did not stop", m.Name)
	}
	return nil
}

// waitExit waits until the runtime reports the container gone or stopped
// and the monitor (if alive) has written the exit.
func (s *Store) waitExit(m *Meta, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !s.running(m) {
			s.settle(m)
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// settle waits briefly for the monitor to record the exit; if there is no
// monitor (it was killed), it records what the runtime knows itself.
func (s *Store) settle(m *Meta) {
	for i := 0; i < 100; i++ {
		cur, err := s.LoadMeta(m.ID)
		if err != nil || cur.Status == "exited" {
			return
		}
		if cur.MonitorPid == 0 || syscallKill0(cur.MonitorPid) != nil {
			s.DeleteRuntime(m.ID, true)
			cur.Status, cur.FinishedAt = "exited", time.Now().UTC()
			if cur.ExitCode == 0 {
				cur.ExitCode = 255
			}
			s.SaveMeta(cur)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var killCmd = &cli.Command{
	Name: "kill", Usage: "kill running containers", ArgsUsage: "CONTAINER...",
	Flags: []cli.Flag{&cli.StringFlag{Name: "signal", Aliases: []string{"s"}, Value: "KILL"}},
	Action: func(c *cli.Context) error {
		sig := c.String("signal")
		if _, err := signals.Parse(sig); err != nil {
			return err
		}
		return eachContainer(c, func(s *Store, m *Meta) error {
			if !s.running(m) {
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
		return eachContainer(c, func(s *Store, m *Meta) error { return s.Remove(m, c.Bool("force")) })
	},
}

// Remove deletes a container and everything of it: the runtime's
// container, the overlay mount, the directory. A running one needs force.
func (s *Store) Remove(m *Meta, force bool) error {
	if s.running(m) {
		if !force {
			return fmt.Errorf("cannot remove container %s: container is running: stop the container before removing or force remove", m.Name)
		}
		if err := s.Kill(m.ID, "SIGKILL"); err != nil && !errors.Is(err, ErrNoContainer) {
			return err
		}
		s.waitExit(m, 10*time.Second)
	}
	if err := s.DeleteRuntime(m.ID, true); err != nil {
		return err
	}
	return s.RemoveDir(m.ID)
}

var psCmd = &cli.Command{
	Name: "ps", Usage: "list containers",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "all", Aliases: []string{"a"}},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}},
		&cli.StringFlag{Name: "format"},
	},
	Action: func(c *cli.Context) error {
		s, _, err := stores(c)
		if err != nil {
			return err
		}
		metas, err := s.List()
		if err != nil {
			return err
		}
		type row struct {
			ID, Image, Command, Created, Status, Names string
		}
		var rows []row
		for _, m := range metas {
			status := s.forMeta(m).Status(m)
			if !c.Bool("all") && !strings.HasPrefix(status, "Up") {
				continue
			}
			rows = append(rows, row{m.ID[:12], m.Image, m.Command, ago(m.CreatedTime) + " ago", status, m.Name})
		}
		switch {
		case c.Bool("quiet"):
			for _, r := range rows {
				fmt.Println(r.ID)
			}
		case c.String("format") == "json":
			enc := json.NewEncoder(os.Stdout)
			for _, r := range rows {
				enc.Encode(r)
			}
		default:
			w := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
			fmt.Fprintln(w, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tNAMES")
			for _, r := range rows {
				cmd := r.Command
				if len(cmd) > 20 {
					cmd = cmd[:19] + "…"
				}
				fmt.Fprintf(w, "%s\t%s\t%q\t%s\t%s\t%s\n", r.ID, r.Image, cmd, r.Created, r.Status, r.Names)
			}
			return w.Flush()
		}
		return nil
	},
}

// Status is docker's STATUS column, from the runtime's view of the
// container (the metadata only says how it ended).
func (s *Store) Status(m *Meta) string {
	st, _, err := s.RuntimeState(m.ID)
	switch {
	case err == nil && (st == "running" || st == "created"):
		return "Up " + ago(m.StartedAt)
	case err == nil && st == "paused":
		return "Up " + ago(m.StartedAt) + " (Paused)"
	}
	if m.Status == "created" {
		return "Created"
	}
	if m.Status == "running" {
		// The monitor is gone and so is the container: how it ended is
		// unknown.
		return "Exited (unknown)"
	}
	return fmt.Sprintf("Exited (%d) %s ago", m.ExitCode, ago(m.FinishedAt))
}

var logsCmd = &cli.Command{
	Name: "logs", Usage: "fetch the logs of a container", ArgsUsage: "CONTAINER",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}},
		&cli.StringFlag{Name: "tail", Value: "all"},
		&cli.BoolFlag{Name: "timestamps", Aliases: []string{"t"}},
	},
	Action: func(c *cli.Context) error {
		s, m, err := find(c)
		if err != nil {
			return err
		}
		off := int64(0)
		if t := c.String("tail"); t != "all" {
			n, err := strconv.Atoi(t)
			if err != nil || n < 0 {
				return fmt.Errorf("invalid --tail %q", t)
			}
			off = tailOffset(filepath.Join(s.Dir(m.ID), LogFile), n)
		}
		if !c.Bool("follow") {
			_, err := s.printLog(m.ID, off, os.Stdout, os.Stderr, c.Bool("timestamps"))
			return err
		}
		for {
			off, _ = s.printLog(m.ID, off, os.Stdout, os.Stderr, c.Bool("timestamps"))
			cur, err := s.LoadMeta(m.ID)
			if err != nil || !s.running(cur) {
				// The monitor writes the log: let it drain the
				// container's output and record the exit first, so that
				// what follows logs -f sees the container exited.
				if err == nil {
					s.settle(cur)
				}
				s.printLog(m.ID, off, os.Stdout, os.Stderr, c.Bool("timestamps"))
				return nil
			}
			time.Sleep(100 * time.Millisecond)
		}
	},
}

// tailOffset is the file offset of the last n log records.
func tailOffset(path string, n int) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	// Record starts, walking back from the end (every record ends in \n).
	end := len(data)
	for i := 0; i < n; i++ {
		j := strings.LastIndexByte(string(data[:max(end-1, 0)]), '\n')
		if j < 0 {
			return 0
		}
		end = j + 1
	}
	return int64(end)
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
		if !s.running(m) {
			return fmt.Errorf("container %s is not running", m.ID[:12])
		}
		args := []string{"--root", s.RunRoot, "exec"}
		for _, e := range c.StringSlice("env") {
			args = append(args, "--env", e)
		}
		if u := c.String("user"); u != "" {
			uid, err := s.resolveUser(m, u)
			if err != nil {
				return err
			}
			args = append(args, "--user", uid)
		}
		if w := c.String("workdir"); w != "" {
			args = append(args, "--cwd", w)
		}
		if c.Bool("tty") {
			args = append(args, "--tty")
		}
		if c.Bool("detach") {
			args = append(args, "--detach")
		}
		args = append(append(args, m.ID), c.Args().Tail()...)
		cmd := exec.Command(s.Runtime, args...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if c.Bool("interactive") {
			cmd.Stdin = os.Stdin
		}
		err = cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ExitError(ee.ExitCode())
		}
		return err
	},
}

// resolveUser turns USER[:GROUP] names into uid:gid through the
// container's /etc/passwd and /etc/group.
func (s *Store) resolveUser(m *Meta, u string) (string, error) {
	usr, err := parseUser(u, filepath.Join(s.Dir(m.ID), "rootfs"))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d:%d", usr.UID, usr.GID), nil
}

var inspectCmd = &cli.Command{
	Name: "inspect", Usage: "show a container's details as JSON", ArgsUsage: "CONTAINER...",
	Action: func(c *cli.Context) error {
		s, _, err := stores(c)
		if err != nil {
			return err
		}
		var out []map[string]any
		for _, ref := range c.Args().Slice() {
			m, err := s.Find(ref)
			if err != nil {
				return err
			}
			st, pid, rerr := s.forMeta(m).RuntimeState(m.ID)
			out = append(out, map[string]any{
				"Id": m.ID, "Name": "/" + m.Name, "Created": m.CreatedTime, "Image": m.ImageID,
				"Config": map[string]any{"Image": m.Image, "Cmd": m.Command},
				"State": map[string]any{
					"Status": dockerState(m, st, rerr), "Running": rerr == nil && st == "running", "Pid": pid,
					"ExitCode": m.ExitCode, "OOMKilled": m.OOMKilled, "StartedAt": m.StartedAt,
					"FinishedAt": m.FinishedAt,
				},
				"HostConfig": m.Options, "LogPath": filepath.Join(s.Dir(m.ID), LogFile),
				"GraphDriver": map[string]any{"Name": "overlay", "Data": map[string]string{
					"MergedDir": filepath.Join(s.Dir(m.ID), "rootfs"), "UpperDir": filepath.Join(s.Dir(m.ID), "upper"),
					"WorkDir": filepath.Join(s.Dir(m.ID), "work")}},
			})
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "    ")
		return enc.Encode(out)
	},
}

func dockerState(m *Meta, st string, err error) string {
	if err == nil && st != "stopped" {
		return st
	}
	if m.Status == "created" {
		return "created"
	}
	return "exited"
}

var waitCmd = &cli.Command{
	Name: "wait", Usage: "wait for containers to stop and print their exit codes", ArgsUsage: "CONTAINER...",
	Action: func(c *cli.Context) error {
		s, _, err := stores(c)
		if err != nil {
			return err
		}
		for _, ref := range c.Args().Slice() {
			m, err := s.Find(ref)
			if err != nil {
				return err
			}
			s := s.forMeta(m)
			for s.running(m) {
				time.Sleep(100 * time.Millisecond)
			}
			s.settle(m)
			if cur, err := s.LoadMeta(m.ID); err == nil {
				m = cur
			}
			fmt.Println(m.ExitCode)
		}
		return nil
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
