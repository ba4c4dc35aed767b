// Command berth is a runc-compatible OCI container runtime.
//
// The Go runtime must not read cgroup files at start-up (every berth
// process, the container init included, pays for it, and the init would
// keep them open):
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/berth-runtime/berth/libcontainer/cpus"
	"github.com/berth-runtime/berth/libcontainer/idmap"
	"github.com/berth-runtime/berth/libcontainer/initp"
	_ "github.com/berth-runtime/berth/libcontainer/nsenter"
	"github.com/berth-runtime/berth/libcontainer/rootless"
)

// Set at build time with -ldflags.
var (
	version = "0.1.0-dev"
	commit  = ""
)

// specVersion is the runtime-spec version Berth implements.
const specVersion = "1.3.0"

func init() {
	// "berth init" is the container's init, started by berth itself. It must
	// run on the main thread, before the CLI machinery is touched.
	if len(os.Args) > 1 && os.Args[1] == "init" {
		runtime.GOMAXPROCS(1)
		runtime.LockOSThread()
		initp.Main()
	}
}

func main() {
	// The helper that holds a user namespace for an idmapped mount is this
	// binary too; it never reaches the command line.
	idmap.Hold()
	notePin()
	app := newApp()
	if err := app.Run(reorderArgs(app, os.Args)); err != nil {
		fatal(err)
	}
}

func newApp() *cli.App {
	cli.VersionPrinter = func(c *cli.Context) {
		fmt.Printf("berth version %s\ncommit: %s\nspec: %s\ngo: %s\n", version, commitString(), specVersion, runtime.Version())
	}
	app := &cli.App{
		Name:                      "berth",
		Usage:                     "Open Container Initiative runtime",
		Version:                   version,
		DisableSliceFlagSeparator: true,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "debug", Usage: "enable debug logging"},
			&cli.StringFlag{Name: "log", Usage: "set the log file to write berth logs to (default is '/dev/stderr')"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "set the log format ('text' (default), or 'json')"},
			&cli.StringFlag{Name: "root", Value: defaultRoot(), Usage: "root directory for storage of container state (this should be located in tmpfs)"},
			&cli.BoolFlag{Name: "systemd-cgroup", Usage: "enable systemd cgroup support, expects cgroupsPath to be of form \"slice:prefix:name\" for e.g. \"system.slice:runc:434234\""},
			&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "ignore cgroup permission errors ('true', 'false', or 'auto')"},
		},
		Before: setupGlobals,
		Commands: []*cli.Command{
			createCommand, startCommand, runCommand, execCommand, stateCommand, listCommand, killCommand,
			deleteCommand, specCommand, featuresCommand, updateCommand, pauseCommand, resumeCommand, psCommand, eventsCommand,
			checkpointCommand, restoreCommand,
		},
		ExitErrHandler: func(*cli.Context, error) {},
	}
	fixFlagNames(app)
	return app
}

func commitString() string {
	if commit == "" {
		return "unknown"
	}
	return commit
}

// defaultRoot is /run/berth for root, $XDG_RUNTIME_DIR/berth for anyone
// else (runc's rules: libcontainer/rootless).
func defaultRoot() string {
	root, _ := rootless.DefaultRoot("berth")
	return root
}

// commandsWithoutRoot are the commands that never touch the state root.
var commandsWithoutRoot = map[string]bool{"spec": true, "features": true, "help": true, "h": true, "": true}

// checkDefaultRoot runs when --root is not given. Under $XDG_RUNTIME_DIR
// the root is made as runc makes it (0700 and sticky, for every command);
// a caller who would keep it there but has no XDG_RUNTIME_DIR is told so
// when the system's default is not theirs to use.
func checkDefaultRoot(c *cli.Context, root string) error {
	if _, xdg := rootless.DefaultRoot("berth"); xdg {
		return rootless.PrepareXDGRoot(root)
	}
	if rootless.WantsXDGRoot() && !commandsWithoutRoot[c.Args().First()] {
		return rootless.CheckDefaultRoot(root)
	}
	return nil
}

// logToFile is true when --log names a file: errors then also go to stderr.
var logToFile bool

// rootExplicit is true when --root was given (list treats a missing
// default root as no containers, a missing explicit one as an error).
var rootExplicit bool

// rootlessCgroups is --rootless resolved ("auto": anyone but the host's
// root): create leaves out the cgroups the caller may not make.
var rootlessCgroups bool

func setupGlobals(c *cli.Context) error {
	if c.Bool("debug") {
		logrus.SetLevel(logrus.DebugLevel)
		logrus.SetReportCaller(true)
	}
	switch f := c.String("log-format"); f {
	case "text":
	case "json":
		logrus.SetFormatter(&logrus.JSONFormatter{})
	default:
		return fmt.Errorf("invalid log-format: %s", f)
	}
	if path := c.String("log"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
		if err != nil {
			return err
		}
		logrus.SetOutput(f)
		logToFile = true
	}
	if orig, ok := cpus.Original(); ok {
		logrus.Debugf("runtime pinned to CPU %d; what it starts gets the caller's CPUs %s", cpus.CPU(), cpus.Format(orig))
	}
	var err error
	if rootlessCgroups, err = rootless.Cgroups(c.String("rootless")); err != nil {
		return err
	}
	rootExplicit = c.IsSet("root")
	root := c.String("root")
	if root == "" {
		return fmt.Errorf("--root must not be empty")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	if abs == "/" {
		return fmt.Errorf("--root must not be /")
	}
	if !rootExplicit {
		if err := checkDefaultRoot(c, abs); err != nil {
			return err
		}
	}
	return c.Set("root", abs)
}

// exitError carries an exit code without an error message (run's status).
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// fatal logs err the way runc does (to the log, and to stderr as well when
// the log is a file) and exits 1. Exit codes from the container pass through.
func fatal(err error) {
	var ee exitError
	if errors.As(err, &ee) {
		os.Exit(int(ee))
	}
	code := 1
	var ce codedError
	if errors.As(err, &ce) {
		code = ce.code
		err = ce.err
	}
	msg := strings.TrimSpace(err.Error())
	logrus.Error(msg)
	if logToFile {
		fmt.Fprintln(os.Stderr, msg)
	}
	os.Exit(code)
}

// codedError is an error with a specific exit code (exec uses 255).
type codedError struct {
	err  error
	code int
}

func (e codedError) Error() string { return e.err.Error() }
