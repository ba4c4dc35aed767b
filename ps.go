package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/berth-runtime/berth/libcontainer"
)

var psCommand = &cli.Command{
	Name:      "ps",
	Usage:     "ps displays the processes running inside a container",
	ArgsUsage: "<container-id> [ps options]",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: `select one of: table or json`},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, -1); err != nil {
			return err
		}
		ctr, err := loadContainer(c)
		if err != nil {
			return err
		}
		pids, err := ctr.Pids()
		ctr.Release()
		if errors.Is(err, libcontainer.ErrNotRunning) {
			// A stopped container has no processes: an empty list, as
			// runc prints.
			pids, err = nil, nil
		}
		if err != nil {
			return err
		}
		switch f := c.String("format"); f {
		case "json":
			if pids == nil {
				pids = []int{}
			}
			return json.NewEncoder(os.Stdout).Encode(pids)
		case "table":
			return psTable(pids, c.Args().Slice()[1:])
		default:
			return fmt.Errorf("invalid format option %q", f)
		}
	},
}

// psTable runs the host's ps with the given options (default -ef) and keeps
// the header and the lines of the container's processes.
func psTable(pids []int, args []string) error {
	if len(args) == 0 {
		args = []string{"-ef"}
	}
	out, err := exec.Command("ps", args...).Output()
	if err != nil {
		return fmt.Errorf("ps: %w", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	col := -1
	for i, h := range strings.Fields(lines[0]) {
		if h == "PID" {
			col = i
		}
	}
	if col < 0 {
		return fmt.Errorf("ps output has no PID column")
	}
	in := map[int]bool{}
	for _, p := range pids {
		in[p] = true
	}
	var b bytes.Buffer
	b.WriteString(lines[0] + "\n")
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= col {
			continue
		}
		if p, err := strconv.Atoi(f[col]); err == nil && in[p] {
			b.WriteString(l + "\n")
		}
	}
	_, err = os.Stdout.Write(b.Bytes())
	return err
}
