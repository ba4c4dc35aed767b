package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/berth-runtime/berth/libcontainer/oci"
	"github.com/berth-runtime/berth/libcontainer/specgen"
)

var specCommand = &cli.Command{
	Name:  "spec",
	Usage: "create a new specification file",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "bundle", Aliases: []string{"b"}, Usage: "path to the root of the bundle directory"},
		&cli.BoolFlag{Name: "rootless", Usage: "generate a configuration for a rootless container"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 0, 0); err != nil {
			return err
		}
		s := specgen.Default()
		if c.Bool("rootless") {
			specgen.ToRootless(s)
		}
		path := filepath.Join(c.String("bundle"), oci.ConfigName)
		if _, err := os.Stat(path); err == nil {
			return errors.New("File " + oci.ConfigName + " exists. Remove it first")
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		data, err := json.MarshalIndent(s, "", "\t")
		if err != nil {
			return err
		}
		if err := os.WriteFile(path, data, 0o666); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	},
}
