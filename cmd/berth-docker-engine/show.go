package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/berth-runtime/berth/bundle/docker"
)

// psRow is one container as ps shows it; its field names are the keys of
// --format json.
type psRow struct {
	ID, Image, Command, Created, Status, Names string
}

var psCmd = &cli.Command{
	Name: "ps", Usage: "list containers",
	Flags: []cli.Flag{
		&cli.BoolFlag{Name: "all", Aliases: []string{"a"}},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}},
		&cli.StringFlag{Name: "format"},
	},
	Action: func(c *cli.Context) error {
		rows, err := psRows(c)
		if err != nil {
			return err
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
			return psTable(rows)
		}
		return nil
	},
}

// psRows are the containers ps lists: the running ones, or with -a all.
func psRows(c *cli.Context) ([]psRow, error) {
	s, _, err := stores(c)
	if err != nil {
		return nil, err
	}
	metas, err := s.List()
	if err != nil {
		return nil, err
	}
	var rows []psRow
	for _, m := range metas {
		status := statusColumn(s.ForMeta(m).Status(m))
		if !c.Bool("all") && !strings.HasPrefix(status, "Up") {
			continue
		}
		rows = append(rows, psRow{m.ID[:12], m.Image, m.Command, ago(m.CreatedTime) + " ago", status, m.Name})
	}
	return rows, nil
}

// psTable prints docker's ps table, the command cut to fit.
func psTable(rows []psRow) error {
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
		o := docker.LogOptions{Tail: -1, Follow: c.Bool("follow"), Timestamps: c.Bool("timestamps")}
		if t := c.String("tail"); t != "all" {
			n, err := strconv.Atoi(t)
			if err != nil || n < 0 {
				return fmt.Errorf("invalid --tail %q", t)
			}
			o.Tail = n
		}
		return s.Logs(m, o, os.Stdout, os.Stderr)
	},
}

var inspectCmd = &cli.Command{
	Name: "inspect", Usage: "show a container's details as JSON", ArgsUsage: "CONTAINER...",
	Action: func(c *cli.Context) error {
		var out []map[string]any
		err := eachFound(c, func(s *docker.Store, m *docker.Meta) error {
			out = append(out, inspectDoc(s, m))
			return nil
		})
		if err != nil {
			return err
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "    ")
		return enc.Encode(out)
	},
}

// inspectDoc is the part of docker's inspect document that berth-docker
// can fill in, under docker's keys.
func inspectDoc(s *docker.Store, m *docker.Meta) map[string]any {
	st, pid, rerr := s.RuntimeState(m.ID)
	dir := s.Dir(m.ID)
	return map[string]any{
		"Id": m.ID, "Name": "/" + m.Name, "Created": m.CreatedTime, "Image": m.ImageID,
		"Config": map[string]any{"Image": m.Image, "Cmd": m.Command},
		"State": map[string]any{
			"Status": dockerState(m, st, rerr), "Running": rerr == nil && st == "running", "Pid": pid,
			"ExitCode": m.ExitCode, "OOMKilled": m.OOMKilled, "StartedAt": m.StartedAt,
			"FinishedAt": m.FinishedAt,
		},
		"HostConfig": m.Options, "LogPath": filepath.Join(dir, docker.LogFile),
		"GraphDriver": map[string]any{"Name": "overlay", "Data": map[string]string{
			"MergedDir": filepath.Join(dir, "rootfs"), "UpperDir": filepath.Join(dir, "upper"),
			"WorkDir": filepath.Join(dir, "work")}},
	}
}

// dockerState is inspect's State.Status: the runtime's word while the
// container exists there, else what the metadata recorded.
func dockerState(m *docker.Meta, st string, err error) string {
	if err == nil && st != "stopped" {
		return st
	}
	if m.Status == "created" {
		return "created"
	}
	return "exited"
}
