package dockertest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// storeSnapshot lists the image store's files (path, size) so that a
// failed import can be shown to have changed nothing.
func storeSnapshot(t *testing.T, e *env) string {
	t.Helper()
	root := filepath.Join(e.root, "images")
	var lines []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if strings.HasPrefix(rel, "layers/") && strings.Count(rel, "/") > 2 {
			return nil // the layer's content: its dir is enough
		}
		info, _ := d.Info()
		sz := int64(0)
		if info != nil && !d.IsDir() {
			sz = info.Size()
		}
		lines = append(lines, fmt.Sprintf("%s %d", rel, sz))
		return nil
	})
	refs, _ := os.ReadFile(filepath.Join(root, "refs.json"))
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\nrefs: " + string(refs)
}

// rootfsTar makes a tar of a minimal busybox rootfs.
func rootfsTar(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	tw.WriteHeader(&tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bb))})
	tw.Write(bb)
	for _, a := range []string{"sh", "echo", "cat"} {
		tw.WriteHeader(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777})
	}
	msg := []byte("from a tarball\n")
	tw.WriteHeader(&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "etc/motd", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(msg))})
	tw.Write(msg)
	tw.Close()
	return buf.Bytes()
}

// TestImportRunRmi: import a rootfs tarball, list it, run it, remove it.
func TestImportRunRmi(t *testing.T) {
	forEachRuntimeNoImage(t, func(t *testing.T, e *env) {
		src := filepath.Join(e.dir, "rootfs.tar.gz")
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(rootfsTar(t))
		zw.Close()
		os.WriteFile(src, gz.Bytes(), 0o644)
		out := e.mustBD("import", src, "mini:1.0")
		if !strings.HasPrefix(out, "sha256:") {
			t.Errorf("import printed %q", out)
		}
		if imgs := e.mustBD("images"); !strings.Contains(imgs, "mini") || !strings.Contains(imgs, "1.0") {
			t.Errorf("images:\n%s", imgs)
		}
		if q := e.mustBD("images", "-q"); q != out[len("sha256:"):len("sha256:")+12] {
			t.Errorf("images -q: %q", q)
		}
		o, _, code := e.runWait("mini:1.0", "cat", "/etc/motd")
		if o != "from a tarball\n" || code != 0 {
			t.Errorf("run mini:1.0 cat /etc/motd: %q exit %d", o, code)
		}
		if out := e.mustBD("rmi", "mini:1.0"); out != "Untagged: mini:1.0" {
			t.Errorf("rmi printed %q", out)
		}
		if imgs := e.mustBD("images", "-q"); imgs != "" {
			t.Errorf("images after rmi: %q", imgs)
		}
		layers, _ := os.ReadDir(filepath.Join(e.root, "images", "layers"))
		if len(layers) != 0 {
			t.Errorf("layers left after rmi of the only image: %d", len(layers))
		}
		e.failBD("No such image", "rmi", "mini:1.0")
	})
}

// TestImportCorrupt: a corrupt or truncated archive is refused and leaves
// the image store as it was.
func TestImportCorrupt(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		before := storeSnapshot(t, e)
		good := rootfsTar(t)
		junk := make([]byte, 5000)
		rand.Read(junk)
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(good)
		zw.Close()
		cases := []struct {
			name string
			data []byte
		}{
			{"random.tar", junk},
			{"truncated.tar", good[:len(good)/2]},
			{"truncated.tar.gz", gz.Bytes()[:gz.Len()/2]},
			{"garbage.tar.gz", append([]byte{0x1f, 0x8b, 8, 0}, junk...)},
		}
		for _, c := range cases {
			name, data := c.name, c.data
			p := filepath.Join(e.dir, name)
			os.WriteFile(p, data, 0o644)
			r := e.bd("import", p, "bad:"+strings.ReplaceAll(name, ".", "-"))
			if r.Code == 0 {
				t.Errorf("import of %s succeeded: %s", name, r)
			}
			if after := storeSnapshot(t, e); after != before {
				t.Errorf("import of %s changed the image store:\nbefore:\n%s\nafter:\n%s", name, before, after)
			}
			tmp, _ := os.ReadDir(filepath.Join(e.root, "images", "tmp"))
			if len(tmp) != 0 {
				t.Errorf("import of %s left %d entries in images/tmp", name, len(tmp))
			}
		}
		e.failBD("", "import", filepath.Join(e.dir, "missing.tar"), "bad:missing")
		if imgs := e.mustBD("images"); strings.Contains(imgs, "bad") {
			t.Errorf("images after failed imports:\n%s", imgs)
		}
		// The store still works.
		if o, _, _ := e.runWait("busybox", "echo", "ok"); o != "ok\n" {
			t.Errorf("run after failed imports: %q", o)
		}
	})
}

// TestRmiInUse: rmi of an image a container uses is refused, also for an
// exited container; once the container is gone, rmi works.
func TestRmiInUse(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		id := e.runD("busybox", "sleep", "100")
		e.failBD("being used by a container", "rmi", "busybox")
		e.mustBD("kill", id)
		e.mustBD("wait", id)
		e.failBD("being used by a container", "rmi", "busybox")
		if imgs := e.mustBD("images"); !strings.Contains(imgs, "busybox") {
			t.Errorf("busybox gone after a refused rmi:\n%s", imgs)
		}
		e.mustBD("rm", id)
		e.mustBD("rmi", "busybox")
	})
}

// TestRunFailures: run errors leave nothing behind.
func TestRunFailures(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		e.failBD("No such image: nosuch", "run", "nosuch", "true")
		e.failBD("No such image", "run", "-d", "busybox:nosuchtag", "true")
		id := e.runD("--name", "taken", "busybox", "sleep", "100")
		e.failBD(`name "taken" is already in use`, "run", "--name", "taken", "busybox", "true")
		if l := e.psLine(id, false); !strings.Contains(l, "taken") {
			t.Errorf("the first container named taken: %q", l)
		}
		e.mustBD("rm", "-f", "taken")
		e.failBD("invalid volume specification", "run", "-v", "/nonexistent/dir:/x", "busybox", "true")
		e.failBD("invalid volume specification", "run", "-v", "relative:/x", "busybox", "true")
		e.failBD("invalid volume specification", "run", "-v", e.dir+":relative", "busybox", "true")
		e.failBD("invalid volume specification", "run", "-v", e.dir+":/x:zz", "busybox", "true")
		e.failBD("invalid volume specification", "run", "-v", e.dir, "busybox", "true")
		e.failBD(`invalid argument "abc"`, "run", "-m", "abc", "busybox", "true")
		e.failBD("", "run", "-m", "-5m", "busybox", "true")
		e.failBD("", "run", "--cpus", "-1", "busybox", "true")
		e.failBD("requires at least 1 argument", "run")
		e.requireNoContainers()
		if l := e.findLeaks(); !l.empty() {
			t.Errorf("after failed runs:%s", l)
		}
	})
}

// TestRunCommandNotFound: a missing command fails the run and leaves an
// exited container (docker exits 127 here); --rm removes it.
func TestRunCommandNotFound(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		r := e.bd("run", "busybox", "nosuchcmd")
		if r.Code == 0 || !strings.Contains(r.Err, "nosuchcmd") {
			t.Errorf("run busybox nosuchcmd: %s", r)
		}
		if r.Code != 127 {
			t.Errorf("run busybox nosuchcmd exits %d, want docker's 127; stderr %q", r.Code, r.Err)
		}
		if r := e.bd("run", "no-such-image"); r.Code != 125 {
			t.Errorf("run of an unknown image exits %d, want docker's 125: %s", r.Code, r)
		}
		for _, id := range e.containerDirs() {
			if m := e.meta(id); m.Status != "exited" || m.ExitCode != 127 {
				t.Errorf("container after the failed start: %+v, want exited 127", m)
			}
		}
		e.rmAll()
		r = e.bd("run", "--rm", "busybox", "nosuchcmd")
		if r.Code == 0 {
			t.Errorf("run --rm busybox nosuchcmd: %s", r)
		}
		e.requireNoContainers()
		if l := e.findLeaks(); !l.empty() {
			t.Errorf("after the failed run --rm:%s", l)
		}
	})
}

// TestWrapper: the script's docker-style aliases (container ls, container
// remove, image ls, image rm) with the settings in the environment, then
// with global options before the verb, as docker allows; and its help.
func TestWrapper(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, e *env) {
		id := e.runD("busybox", "sleep", "100")
		env := bdOpts{viaEnv: true}
		if r := e.bdWith(env, "ps", "-q"); r.Out != id[:12]+"\n" {
			t.Errorf("ps -q with $BERTH_DOCKER_ROOT etc.: %s", r)
		}
		if r := e.bdWith(env, "container", "ls", "-q"); r.Out != id[:12]+"\n" {
			t.Errorf("container ls -q: %s", r)
		}
		if r := e.bd("container", "ls", "-q"); r.Out != id[:12]+"\n" {
			t.Errorf("--root ... container ls -q: %s", r)
		}
		if r := e.bdWith(env, "container", "remove", "-f", id); r.Out != id+"\n" {
			t.Errorf("container remove -f: %s", r)
		}
		e.rmAll()
		if r := e.bdWith(env, "image", "ls"); !strings.Contains(r.Out, "REPOSITORY") || !strings.Contains(r.Out, "busybox") {
			t.Errorf("image ls should list images: %s", r)
		}
		if r := e.bdWith(env, "image", "rm", "busybox"); r.Code != 0 || !strings.Contains(r.Out, "Untagged: busybox") {
			t.Errorf("image rm busybox should remove the image: %s", r)
		}
		cmd := exec.Command(wrapper, "--help")
		cmd.Env = append(os.Environ(), "BERTH_DOCKER_ENGINE="+engineBin)
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "run") {
			t.Errorf("berth-docker --help: %v\n%s", err, out)
		}
	})
}
