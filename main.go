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
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/berth-runtime/berth/libcontainer/initp"
	_ "github.com/berth-runtime/berth/libcontainer/nsenter"
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
	app := newApp()
	if err := app.Run(os.Args); err != nil {
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
			&cli.BoolFlag{Name: "systemd-cgroup", Usage: "enable systemd cgroup support (not available yet)"},
			&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "ignore cgroup permission errors ('true', 'false', or 'auto')"},
		},
		Before: setupGlobals,
		Commands: []*cli.Command{
			createCommand, startCommand, runCommand, execCommand, stateCommand, listCommand, killCommand,
			deleteCommand, specCommand, featuresCommand, updateCommand, pauseCommand, resumeCommand, psCommand, eventsCommand,
		},
		ExitErrHandler: func(*cli.Context, error) {},
	}
	return app
}

func commitString() string {
	if commit == "" {
		return "unknown"
	}
	return commit
}

// defaultRoot is /run/berth for root, $XDG_RUNTIME_DIR/berth otherwise.
func defaultRoot() string {
	if os.Geteuid() != 0 {
		if xdg := os.Getenv("XDG_RUNTIME_DIR"); xdg != "" {
			return filepath.Join(xdg, "berth")
		}
	}
	return "/run/berth"
}

// logToFile is true when --log names a file: errors then also go to stderr.
var logToFile bool

// rootExplicit is true when --root was given (list treats a missing
// default root as no containers, a missing explicit one as an error).
var rootExplicit bool

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
	if c.Bool("systemd-cgroup") {
		return fmt.Errorf("--systemd-cgroup: the systemd cgroup driver is not available in this version of berth; use cgroupfs")
	}
	switch c.String("rootless") {
	case "true", "false", "auto":
	default:
		return fmt.Errorf("invalid value %q for --rootless: must be true, false or auto", c.String("rootless"))
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
	return c.Set("root", abs)
}

// exitError carries an exit code without an error message (run's status).
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// fatal logs err the way runc does (to the log, and to stderr as well when
// the log is a file) and exits 1. Exit codes from the container pass through.
func fatal(err error) {
	if code, ok := err.(exitError); ok {
		os.Exit(int(code))
	}
	code := 1
	if ce, ok := err.(codedError); ok {
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

var _ io.Writer = os.Stderr
