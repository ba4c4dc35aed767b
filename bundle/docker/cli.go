package docker

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/bundle/image"
	"github.com/berth-runtime/berth/libcontainer/state"
)

// App is the berth-docker command line. The wrapper script maps docker
// verbs onto it.
func App() *cli.App {
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

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func stores(c *cli.Context) (*Store, *image.Store, error) {
	root := c.String("root")
	rt := c.String("runtime")
	if !strings.Contains(rt, "/") {
		if p, err := exec.LookPath(rt); err == nil {
			rt = p
		}
	}
	s := &Store{Root: root, RunRoot: c.String("run-root"), Runtime: rt}
	is, err := image.Open(filepath.Join(root, "images"))
	return s, is, err
}

// ExitError carries a container's exit code to main.
type ExitError int

func (e ExitError) Error() string { return "exit status " + strconv.Itoa(int(e)) }

var importCmd = &cli.Command{
	Name: "import", Usage: "import an image: rootfs tarball or directory, OCI layout, or docker save archive",
	ArgsUsage: "SOURCE NAME[:TAG]",
	Action: func(c *cli.Context) error {
		if c.NArg() != 2 {
			return errors.New(`"import" requires exactly 2 arguments: SOURCE NAME[:TAG]`)
		}
		_, is, err := stores(c)
		if err != nil {
			return err
		}
		img, err := is.Import(c.Args().Get(0), c.Args().Get(1))
		if err != nil {
			return err
		}
		fmt.Println("sha256:" + img.ID)
		return nil
	},
}

var importBusyboxCmd = &cli.Command{
	Name: "import-busybox", Usage: "make an image from the host's static busybox", ArgsUsage: "[NAME[:TAG]]",
	Flags: []cli.Flag{&cli.StringFlag{Name: "busybox", Value: "/bin/busybox"}},
	Action: func(c *cli.Context) error {
		_, is, err := stores(c)
		if err != nil {
			return err
		}
		ref := "busybox:latest"
		if c.NArg() > 0 {
			ref = c.Args().First()
		}
		img, err := is.ImportBusybox(c.String("busybox"), ref)
		if err != nil {
			return err
		}
		fmt.Println("sha256:" + img.ID)
		return nil
	},
}

var imagesCmd = &cli.Command{
	Name: "images", Usage: "list images",
	Flags: []cli.Flag{&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}}},
	Action: func(c *cli.Context) error {
		_, is, err := stores(c)
		if err != nil {
			return err
		}
		imgs, err := is.List()
		if err != nil {
			return err
		}
		if c.Bool("quiet") {
			for _, i := range imgs {
				fmt.Println(i.ID[:12])
			}
			return nil
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
		fmt.Fprintln(w, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
		for _, i := range imgs {
			names := i.Names
			if len(names) == 0 {
				names = []string{"<none>:<none>"}
			}
			for _, n := range names {
				repo, tag, _ := strings.Cut(n, ":")
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", repo, tag, i.ID[:12], ago(i.Created)+" ago", humanSize(i.Size))
			}
		}
		return w.Flush()
	},
}

var rmiCmd = &cli.Command{
	Name: "rmi", Usage: "remove images", ArgsUsage: "IMAGE...",
	Action: func(c *cli.Context) error {
		s, is, err := stores(c)
		if err != nil {
			return err
		}
		metas, err := s.List()
		if err != nil {
			return err
		}
		inUse := func(id string) bool {
			for _, m := range metas {
				if m.ImageID == id {
					return true
				}
			}
			return false
		}
		for _, ref := range c.Args().Slice() {
			if err := is.Remove(ref, inUse); err != nil {
				return err
			}
			fmt.Println("Untagged: " + ref)
		}
		return nil
	},
}

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
	Flags: runFlags,
	Action: func(c *cli.Context) error {
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
		var stdinDone chan struct{}
		if o.Interactive && !o.Detach && !o.TTY {
			stdinDone = make(chan struct{})
			go func() {
				defer close(stdinDone)
				feedStdin(s, m.ID)
			}()
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
		var code int
		if conn != nil {
			if err := Attach(conn, os.Stdin, os.Stdout); err != nil {
				return err
			}
			code, err = s.Follow(m.ID, io.Discard, io.Discard)
		} else {
			code, err = s.Follow(m.ID, os.Stdout, os.Stderr)
		}
		if err != nil {
			return err
		}
		if o.Remove {
			if err := s.Remove(m, true); err != nil {
				return err
			}
		}
		return ExitError(code)
	},
}

// RunError is a failed run with docker's exit code: 125 for the engine,
// 126 for a command that cannot be run, 127 for one that does not exist.
type RunError struct {
	Err  error
	Code int
}

func (e RunError) Error() string { return e.Err.Error() }

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

// feedStdin copies our stdin into the container's stdin fifo; EOF closes
// the container's stdin.
func feedStdin(s *Store, id string) {
	p := filepath.Join(s.Dir(id), "stdin")
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(p); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return
	}
	io.Copy(f, os.Stdin)
	f.Close()
}

func runOptions(c *cli.Context) (*RunOptions, error) {
	o := &RunOptions{
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

// Create makes a container: name, overlay rootfs, bundle and metadata.
// Nothing is left behind when it fails.
func (s *Store) Create(is *image.Store, ref string, o *RunOptions) (m *Meta, err error) {
	img, err := is.Get(ref)
	if err != nil {
		return nil, err
	}
	// Names are checked and taken under one lock, so two runs with the
	// same name cannot both win.
	unlock, err := s.lockNames()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if o.Name != "" {
		if !validName(o.Name) {
			return nil, fmt.Errorf("invalid container name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", o.Name)
		}
		all, err := s.List()
		if err != nil {
			return nil, err
		}
		for _, other := range all {
			if other.Name == o.Name {
				return nil, fmt.Errorf("the container name %q is already in use by container %s", o.Name, other.ID[:12])
			}
		}
	}
	id := NewID()
	if o.Name == "" {
		o.Name = generateName(id)
	}
	dir := s.Dir(id)
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.RemoveDir(id)
		}
	}()
	if err = s.MountRootfs(id, img.Layers); err != nil {
		return nil, err
	}
	spec, err := Spec(img, o, id, filepath.Join(dir, "rootfs"))
	if err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return nil, err
	}
	if err = state.WriteFileAtomic(filepath.Join(dir, "config.json"), data, 0o600); err != nil {
		return nil, err
	}
	name := ref
	if len(img.Names) > 0 && !strings.HasPrefix(img.ID, ref) {
		name = ref
	}
	m = &Meta{
		ID: id, Name: o.Name, Command: strings.Join(spec.Process.Args, " "), CreatedTime: time.Now().UTC(),
		Status: "created", Image: name, ImageID: img.ID, StopSignal: img.Config.StopSignal,
		// A foreground run removes the container itself once it has the
		// exit code; a detached one leaves that to the monitor.
		AutoRemove: o.Remove && o.Detach, Options: *o, Runtime: s.Runtime, RunRoot: s.RunRoot,
	}
	return m, s.SaveMeta(m)
}

// lockNames takes the store-wide lock for name assignment.
func (s *Store) lockNames() (func(), error) {
	if err := os.MkdirAll(s.Root, 0o711); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(s.Root, "containers.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

func validName(n string) bool {
	for i, r := range n {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || i > 0 && strings.ContainsRune("_.-", r)
		if !ok {
			return false
		}
	}
	return n != ""
}

var adjectives = []string{"brave", "calm", "eager", "fond", "happy", "jolly", "keen", "lucid", "merry", "quiet", "swift", "witty"}
var nouns = []string{"anchor", "berth", "buoy", "deck", "harbor", "hull", "keel", "mast", "pier", "quay", "rudder", "sail"}

// generateName makes a docker-style adjective_noun name from the ID.
func generateName(id string) string {
	n, _ := strconv.ParseUint(id[:8], 16, 64)
	return adjectives[n%uint64(len(adjectives))] + "_" + nouns[(n/97)%uint64(len(nouns))] + "_" + id[:4]
}

// Follow prints the container's log as it grows until the container has
// exited, then returns its exit code (foreground run, logs -f).
func (s *Store) Follow(id string, stdout, stderr io.Writer) (int, error) {
	var off int64
	for {
		m, err := s.LoadMeta(id)
		if err != nil {
			// --rm removed it: the log went with it.
			return 0, nil
		}
		exited := m.Status == "exited"
		off, err = s.printLog(id, off, stdout, stderr, false)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, err
		}
		if exited {
			s.printLog(id, off, stdout, stderr, false)
			return m.ExitCode, nil
		}
		if m.Status == "running" && !s.alive(m) {
			// The container is gone; the monitor is about to record how
			// (or is dead itself: settle records what is known).
			s.settle(m)
			continue
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// printLog prints log records from offset on and returns the new offset.
func (s *Store) printLog(id string, off int64, stdout, stderr io.Writer, stamps bool) (int64, error) {
	f, err := os.Open(filepath.Join(s.Dir(id), LogFile))
	if err != nil {
		return off, err
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return off, err
	}
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return off, nil
		}
		off += int64(len(line))
		var l LogLine
		if json.Unmarshal(line, &l) != nil {
			continue
		}
		w := stdout
		if l.Stream == "stderr" {
			w = stderr
		}
		if stamps {
			fmt.Fprint(w, l.Time.Format(time.RFC3339Nano)+" ")
		}
		fmt.Fprint(w, l.Log)
	}
}

// alive asks the runtime whether the container still runs: the truth even
// when the monitor was killed.
func (s *Store) alive(m *Meta) bool {
	st, _, err := s.RuntimeState(m.ID)
	return err == nil && (st == "running" || st == "created" || st == "paused")
}

func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d seconds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fGB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fkB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}
