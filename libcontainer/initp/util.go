package initp

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func uintptrOf(gids []uint32) uintptr { return uintptr(unsafe.Pointer(&gids[0])) }

// withHome resolves duplicate entries (the last wins) and adds HOME from
// the container's /etc/passwd when the env lacks it or has it empty, as
// runc does; "/" when the user has no entry.
func withHome(env []string, uid uint32) []string {
	env, needHome := PrepareEnv(env)
	if !needHome {
		return env
	}
	home := "/"
	if f, err := os.Open("/etc/passwd"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			parts := strings.Split(sc.Text(), ":")
			if len(parts) >= 6 && parts[2] == strconv.FormatUint(uint64(uid), 10) {
				home = parts[5]
				break
			}
		}
		f.Close()
	}
	return append(env[:len(env):len(env)], "HOME="+home)
}

// PrepareEnv is the part of withHome that needs no container: it
// deduplicates env and drops an empty HOME (no home: replaced, as runc
// does); needHome says HOME must be added from the container's passwd.
// The C exec stage gets its result.
func PrepareEnv(env []string) (out []string, needHome bool) {
	env = dedupEnv(env)
	for i, e := range env {
		if e == "HOME=" {
			return append(env[:i:i], env[i+1:]...), true
		}
		if strings.HasPrefix(e, "HOME=") {
			return env, false
		}
	}
	return env, true
}

// dedupEnv keeps one entry per name, the last one given, at the place of
// that last one (what a shell or os/exec would do with the list, and what
// runc passes on).
func dedupEnv(env []string) []string {
	seen := make(map[string]bool, len(env))
	out := make([]string, 0, len(env))
	for i := len(env) - 1; i >= 0; i-- {
		name, _, _ := strings.Cut(env[i], "=")
		if seen[name] {
			continue
		}
		seen[name] = true
		out = append(out, env[i])
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// lookPath finds the executable in the container, with the container's PATH,
// so that a missing program is an error at create time.
func lookPath(file string, env []string, cwd string) (string, error) {
	if strings.Contains(file, "/") {
		p := file
		if !filepath.IsAbs(p) {
			p = filepath.Join(cwd, p)
		}
		if err := isExecutable(p); err != nil {
			return "", fmt.Errorf("exec: %q: %w", file, err)
		}
		return file, nil
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(cwd, dir)
		}
		p := filepath.Join(dir, file)
		if isExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", file)
}

func isExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errors.New("no such file or directory")
		}
		return err
	}
	if fi.IsDir() {
		return errors.New("is a directory")
	}
	if fi.Mode()&0o111 == 0 {
		return errors.New("permission denied")
	}
	return unix.Access(p, unix.X_OK)
}

// personalities are the execution domains runtime-spec names.
var personalities = map[specs.LinuxPersonalityDomain]uintptr{
	specs.PerLinux: 0x0000, specs.PerLinux32: 0x0008, // PER_LINUX, PER_LINUX32
}

// setPersonality applies linux.personality (the domain; runtime-spec
// defines no flags yet). execve keeps it for the container's program.
func setPersonality(p *specs.LinuxPersonality) error {
	if p == nil {
		return nil
	}
	d, ok := personalities[p.Domain]
	if !ok || len(p.Flags) > 0 {
		return fmt.Errorf("linux.personality: unknown domain %q or flags %q", p.Domain, p.Flags)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, d, 0, 0); e != 0 {
		return fmt.Errorf("linux.personality %s: %w", p.Domain, e)
	}
	return nil
}

// reopenDevNull replaces each of fds 0-2 that is the host's /dev/null
// (a caller's detached or closed stdio) with the container's own
// /dev/null, opened with the same access mode, as runc does: the
// process keeps no file of a mount outside its mount namespace, which
// CRIU could not look up at checkpoint time. The container's node is
// opened without following a symlink and used only if it is the null
// device.
func reopenDevNull() error {
	var null unix.Stat_t
	for fd := 0; fd < 3; fd++ {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err != nil {
			return fmt.Errorf("stdio fd %d: %w", fd, err)
		}
		nfd, err := unix.Open("/dev/null", flags&unix.O_ACCMODE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			continue // the config's /dev has none: keep the host's
		}
		if err := unix.Fstat(nfd, &null); err != nil || null.Mode&unix.S_IFMT != unix.S_IFCHR || null.Rdev != unix.Mkdev(1, 3) {
			unix.Close(nfd)
			return errors.New("the container's /dev/null is not the null device")
		}
		err = unix.Dup3(nfd, fd, 0)
		unix.Close(nfd)
		if err != nil {
			return fmt.Errorf("reopen /dev/null as fd %d: %w", fd, err)
		}
	}
	return nil
}
