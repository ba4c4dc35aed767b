package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// stageProbe prints what the exec stage sets up: ids, capabilities,
// no_new_privs, cwd, env, umask, fds, rlimits, and whether the seccomp
// filter acts (mkdir is denied).
const stageProbe = "probe ids; probe caps; probe nnp; probe cwd; probe env; probe umask; probe fds; probe rlimits; probe syscall mkdir str:/tmp/stage-x 0755"

// errorMsg is the msg of the runtime's last level=error line.
var errorMsg = regexp.MustCompile(`level=error msg="((?:[^"\\]|\\.)*)"`)

// TestExecStagesAgree runs the same execs three ways: forked by the
// runtime itself into the C exec stage (the default where no user
// namespace is joined), through the pre-stage's "berth init" into the C
// exec stage (_BERTH_PRESTAGE_EXEC=1), and through the Go init
// (_BERTH_GO_EXEC=1); it requires the same output, exit code and error
// from all, in a container with a seccomp profile and in one with its own
// user namespace (where the runtime does not fork the process itself); the
// debug log must name the path each took, so that none silently falls
// back to another.
func TestExecStagesAgree(t *testing.T) {
	denyMkdir := withSeccompProfile(allowAllExcept(specs.LinuxSyscall{
		Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno}))
	procFile := filepath.Join(newDir(t, "xs"), "process.json")
	amb := []string{"CAP_NET_RAW", "CAP_KILL"}
	umask := uint32(0o077)
	b, err := json.Marshal(specs.Process{
		User: specs.User{UID: 1000, GID: 1000, Umask: &umask},
		Args: []string{"/bin/sh", "-c", stageProbe},
		Env:  []string{"PATH=/bin:/usr/bin", "X=1", "X=2"},
		Cwd:  "/tmp",
		Capabilities: &specs.LinuxCapabilities{Bounding: append(amb, "CAP_CHOWN"), Effective: amb,
			Permitted: amb, Inheritable: amb, Ambient: amb},
		NoNewPrivileges: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(procFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// Rlimits and oom_score_adj: the direct fork sets them in the child,
	// the pre-stage path from the runtime; one rlimit the host's hard
	// limit does not allow (raising it needs CAP_SYS_RESOURCE, which this
	// runner may lack: the error must then read the same on all paths).
	adj := 345
	limited := func(name string, hard uint64) string {
		b, err := json.Marshal(specs.Process{
			Args: []string{"/bin/sh", "-c", "ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj"},
			Env:  []string{"PATH=/bin"}, Cwd: "/", OOMScoreAdj: &adj,
			Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 512, Hard: hard}, {Type: "RLIMIT_CORE", Soft: 0, Hard: 0}},
		})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(filepath.Dir(procFile), name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	rlimitFile, tooHighFile := limited("rlimits.json", 1024), limited("too-high.json", 1<<40)
	sh := []string{"/bin/sh", "-c", stageProbe}
	cases := []struct {
		name       string
		flags, cmd []string
		fails      bool
	}{
		{"defaults", nil, sh, false},
		{"user and groups", []string{"-u", "1000:1000", "-g", "10", "-g", "20"}, sh, false},
		{"added capability", []string{"--cap", "CAP_SYS_ADMIN"}, sh, false},
		{"no_new_privs", []string{"--no-new-privs"}, sh, false},
		{"env, empty HOME and cwd", []string{"-e", "HOME=", "-e", "A=1", "-e", "A=2", "--cwd", "/tmp"}, sh, false},
		{"user without passwd entry", []string{"-u", "4321"}, sh, false},
		{"process.json with ambient capabilities and umask", []string{"-p", procFile}, nil, false},
		{"program relative to cwd", []string{"--cwd", "/bin"}, []string{"./probe", "cwd"}, false},
		{"program on a relative PATH entry", []string{"-e", "PATH=bin"}, []string{"probe", "cwd"}, false},
		{"exit status", nil, []string{"/bin/sh", "-c", "exit 3"}, false},
		{"program not on PATH", nil, []string{"no-such-program"}, true},
		{"missing program", nil, []string{"/no/such/program"}, true},
		{"directory as program", nil, []string{"/tmp"}, true},
		{"missing cwd", []string{"--cwd", "/no/such/dir"}, []string{"true"}, true},
		{"rlimits and oom_score_adj", []string{"-p", rlimitFile}, nil, false},
		{"rlimit above the hard limit", []string{"-p", tooHighFile}, nil, true},
	}
	containers := []struct {
		name string
		mods []func(*specs.Spec)
	}{
		{"seccomp", []func(*specs.Spec){denyMkdir}},
		{"user namespace", []func(*specs.Spec){denyMkdir, withNamespace(specs.LinuxNamespace{Type: specs.UserNamespace}),
			func(s *specs.Spec) {
				s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
				s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
			}}},
	}
	for _, ct := range containers {
		t.Run(ct.name, func(t *testing.T) {
			id, _ := execRunning(t, ct.mods...)
			root := stateRoot(t)
			// Where the runtime does not fork the process itself (a user
			// namespace is joined, or no clone3 into the cgroup:
			// berth-floor), the default is the pre-stage path, and the
			// explicit pre-stage run would repeat it.
			direct := ct.name != "user namespace" && runtimeHasKernelFeature(t, "clone-into-cgroup")
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					// The cases exec into the same container side by side
					// (three runs each, slow under emulation).
					t.Parallel()
					const forked = "exec: forked by the runtime"
					run := func(mode string) result {
						env := os.Environ()
						want, not := "exec through the C exec stage", forked
						switch mode {
						case "go":
							env, want = append(env, "_BERTH_GO_EXEC=1"), "exec through the Go init"
						case "prestage":
							env = append(env, "_BERTH_PRESTAGE_EXEC=1")
						case "direct":
							if direct {
								want, not = forked, "\x00"
							}
						}
						args := append(append(append([]string{"exec"}, c.flags...), id), c.cmd...)
						r := rtWith(t, rtOpts{NoRoot: true, Global: []string{"--root", root, "--debug"}, Env: env}, args...)
						if !strings.Contains(r.Stderr, want) || strings.Contains(r.Stderr, not) {
							t.Errorf("%s: the debug log does not say %q (or says %q):\n%s", mode, want, not, r.Stderr)
						}
						// The process's stdio are this run's files.
						r.Stdout = strings.NewReplacer(r.StdoutPath, "STDOUT", r.StderrPath, "STDERR").Replace(r.Stdout)
						return r
					}
					cr := run("direct")
					others := []struct {
						name string
						r    result
					}{{"Go init", run("go")}}
					if direct {
						others = append(others, struct {
							name string
							r    result
						}{"pre-stage", run("prestage")})
					}
					for _, o := range others {
						if cr.Code != o.r.Code || cr.Stdout != o.r.Stdout {
							t.Errorf("default: exit %d\n%s\n%s: exit %d\n%s", cr.Code, cr.Stdout, o.name, o.r.Code, o.r.Stdout)
						}
						if cm, om := lastError(cr.Stderr), lastError(o.r.Stderr); cm != om {
							t.Errorf("default error %q, %s error %q", cm, o.name, om)
						}
					}
					probed := len(c.cmd) == 3 && c.cmd[2] == stageProbe || len(c.flags) > 1 && c.flags[1] == procFile
					if last := lines(cr.Stdout); probed && (len(last) == 0 || last[len(last)-1] != "EPERM") {
						t.Errorf("mkdir under the seccomp profile did not fail with EPERM:\n%s", cr.Stdout)
					}
					cm := lastError(cr.Stderr)
					if c.name == "rlimits and oom_score_adj" && cr.Stdout != "512\n1024\n345\n" {
						t.Errorf("rlimit or oom_score_adj not applied:\n%s", cr.Stdout)
					}
					switch {
					case c.fails && (cr.Code == 0 || cm == ""):
						t.Errorf("exit %d, error %q: want a failure naming the problem", cr.Code, cm)
					case !c.fails && cm != "":
						t.Errorf("unexpected error %q: %s", cm, cr)
					case !c.fails && c.name != "exit status" && cr.Code != 0:
						t.Errorf("exit %d: %s", cr.Code, cr)
					}
				})
			}
		})
	}
}

// lastError is the msg of the last level=error line in a runtime's
// stderr ("" if none).
func lastError(stderr string) string {
	m := errorMsg.FindAllStringSubmatch(stderr, -1)
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1][1]
}

// TestExecFindsTheProgramCreateCompiled: exec looks the container's
// compiled seccomp program up by the JSON of the profile in its config
// copy, which is the encoding create hashed, so one cache entry serves
// both and exec compiles nothing; the filter it loads still acts.
func TestExecFindsTheProgramCreateCompiled(t *testing.T) {
	root := newDir(t, "sr")
	bundle := newBundle(t, withArgs("/bin/probe", "sleep"), withSeccompProfile(allowAllExcept(specs.LinuxSyscall{
		Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno})))
	id := newID(t)
	rtIn(t, root, "create", "--bundle", bundle, id).ok(t)
	t.Cleanup(func() { rtIn(t, root, "delete", "-f", id) })
	rtIn(t, root, "start", id).ok(t)
	cache := filepath.Join(root, ".seccomp-cache")
	entries := func() map[string]int64 {
		t.Helper()
		des, err := os.ReadDir(cache)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]int64{}
		for _, de := range des {
			fi, err := de.Info()
			if err != nil {
				t.Fatal(err)
			}
			m[de.Name()] = fi.ModTime().UnixNano()
		}
		return m
	}
	before := entries()
	if len(before) != 1 {
		t.Fatalf("create left %d cache entries, want 1: %v", len(before), before)
	}
	for _, goInit := range []bool{false, true} {
		env := os.Environ()
		if goInit {
			env = append(env, "_BERTH_GO_EXEC=1")
		}
		r := rtWith(t, rtOpts{NoRoot: true, Global: []string{"--root", root}, Env: env},
			"exec", id, "/bin/probe", "syscall", "mkdir", "str:/tmp/x", "0755")
		if strings.TrimSpace(r.Stdout) != "EPERM" {
			t.Errorf("mkdir in an exec (Go init %v): %s, want EPERM", goInit, r)
		}
	}
	if after := entries(); !reflect.DeepEqual(after, before) {
		t.Errorf("exec changed the cache: %v, was %v", after, before)
	}
}

// TestExecByARuntimeInAUserNamespace is rootless podman's layout: the
// runtime runs as root of a user namespace it did not make the pid
// namespace of (unshare --user --map-root-user), and the container has no
// user namespace of its own. The direct exec joins the container's pid
// namespace on the runtime's thread and cannot go back to the runtime's
// (setns needs CAP_SYS_ADMIN over the owner of that namespace); the exec
// must still run, with the thread left locked, as the Go path does.
func TestExecByARuntimeInAUserNamespace(t *testing.T) {
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare(1)")
	}
	bundle := newBundle(t, withProbe("sleep"), func(s *specs.Spec) {
		// What root of a user namespace can mount: no cgroup (no
		// delegation), a devpts without the unmapped gid 5.
		var kept []specs.Mount
		for _, m := range s.Mounts {
			switch m.Destination {
			case "/sys/fs/cgroup":
				continue
			case "/dev/pts":
				m.Options = []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}
			}
			kept = append(kept, m)
		}
		s.Mounts = kept
		s.Linux.Resources = nil
	})
	root, id := filepath.Join(newDir(t, "userns-exec"), "root"), newID(t)
	script := `set -e
"$1" --root "$2" run -d --bundle "$3" "$4"
"$1" --root "$2" --debug exec "$4" sh -c 'echo exec-ran; cat /proc/1/cmdline | tr "\0" " "; echo' || echo "exec failed: $?"
"$1" --root "$2" delete -f "$4"`
	out, err := exec.Command("unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script,
		"sh", berthBin, root, bundle, id).CombinedOutput()
	if err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, "exec-ran") || !strings.Contains(s, "/bin/probe sleep") || strings.Contains(s, "exec failed") {
		t.Errorf("the exec did not run in the container:\n%s", s)
	}
	if !strings.Contains(s, "exec: forked by the runtime") && runtimeHasKernelFeature(t, "clone-into-cgroup") {
		t.Errorf("the exec did not take the direct fork, which this test is for:\n%s", s)
	}
	if ents, _ := os.ReadDir(root); len(ents) != 0 {
		t.Errorf("the state root still holds %d entries", len(ents))
	}
}
