package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/berth-runtime/berth/bundle/docker"
	"github.com/berth-runtime/berth/bundle/image"
)

// app is the berth-docker command line. The wrapper script maps docker
// verbs onto it.
func app() *cli.App {
	// docker's -h is --hostname; help stays reachable as --help.
	cli.HelpFlag = &cli.BoolFlag{Name: "help", Usage: "show help"}
	return &cli.App{
		Name:                   "berth-docker",
		Usage:                  "docker-style containers on an OCI runtime (berth by default)",
		UseShortOptionHandling: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "runtime", Value: envOr("BERTH_DOCKER_RUNTIME", "berth"), Usage: "OCI runtime binary (berth, runc, ...)"},
			&cli.StringFlag{Name: "root", Value: envOr("BERTH_DOCKER_ROOT", "/var/lib/berth"), Usage: "images and containers"},
			&cli.StringFlag{Name: "run-root", Value: envOr("BERTH_DOCKER_RUNROOT", "/run/berth-docker"), Usage: "the runtime's --root"},
		},
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{
			importCmd, importBusyboxCmd, imagesCmd, rmiCmd, runCmd, startCmd, restartCmd, stopCmd, killCmd,
			rmCmd, psCmd, logsCmd, execCmd, inspectCmd, waitCmd, pruneCmd, monitorCmd,
		},
	}
}

// envOr lets the monitor, which the engine starts with these variables
// set, find the same stores as the verb that started it.
func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// stores opens the container and image stores the global flags name.
func stores(c *cli.Context) (*docker.Store, *image.Store, error) {
	root := c.String("root")
	rt := c.String("runtime")
	if !strings.Contains(rt, "/") {
		if p, err := exec.LookPath(rt); err == nil {
			rt = p
		}
	}
	s := &docker.Store{Root: root, RunRoot: c.String("run-root"), Runtime: rt}
	is, err := image.Open(filepath.Join(root, "images"))
	return s, is, err
}

// find is the container the first argument names, with the store as the
// container was made with.
func find(c *cli.Context) (*docker.Store, *docker.Meta, error) {
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
	return s.ForMeta(m), m, nil
}

// eachContainer runs f for every argument, docker style: all are tried,
// the names of the ones that worked are printed, errors are collected.
func eachContainer(c *cli.Context, f func(s *docker.Store, m *docker.Meta) error) error {
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
			err = f(s.ForMeta(m), m)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Println(ref)
	}
	return errors.Join(errs...)
}

// eachFound runs f for every argument in turn and stops at the first that
// fails or names no container: inspect and wait print all or nothing of
// the argument that failed.
func eachFound(c *cli.Context, f func(s *docker.Store, m *docker.Meta) error) error {
	s, _, err := stores(c)
	if err != nil {
		return err
	}
	for _, ref := range c.Args().Slice() {
		m, err := s.Find(ref)
		if err != nil {
			return err
		}
		if err := f(s.ForMeta(m), m); err != nil {
			return err
		}
	}
	return nil
}
