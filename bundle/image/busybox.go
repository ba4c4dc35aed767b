package image

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// DefaultBusybox is where ImportBusybox looks for busybox when not told.
const DefaultBusybox = "/bin/busybox"

// busyboxPath is the PATH of the busybox image, docker's usual default.
const busyboxPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ImportBusybox makes an image from the host's busybox (DefaultBusybox if
// busybox is empty), so that berth-docker can run containers without any
// image to download: /bin/busybox with a symlink in /bin for each applet
// it lists, /etc/passwd and /etc/group with root and nobody, a 1777 /tmp,
// and /proc, /sys and /dev to mount on; the command is "sh". The binary
// must be statically linked, since the image has no libraries for it.
//
// Every file is dated with the binary's modification time and the image
// with it too, so importing the same busybox again gives the same layer
// and the same image ID instead of a new copy. ref is as for Import.
func (s *Store) ImportBusybox(busybox, ref string) (*Image, error) {
	if busybox == "" {
		busybox = DefaultBusybox
	}
	var name string
	if ref != "" {
		var err error
		if name, err = normalizeName(ref); err != nil {
			return nil, err
		}
	}
	fi, err := os.Stat(busybox)
	if err != nil {
		return nil, err
	}
	if err := checkStatic(busybox); err != nil {
		return nil, err
	}
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", busybox, err)
	}
	work, release, err := s.newWork()
	if err != nil {
		return nil, err
	}
	defer release()
	rootfs := filepath.Join(work, "rootfs")
	mtime := fi.ModTime().UTC().Truncate(time.Second)
	if err := buildBusyboxRootfs(rootfs, busybox, strings.Fields(string(out))); err != nil {
		return nil, fmt.Errorf("busybox rootfs: %w", err)
	}
	l, err := layerFromDir(work, rootfs, mtime)
	if err != nil {
		return nil, fmt.Errorf("busybox rootfs: %w", err)
	}
	cfg := ImageConfig{Cmd: []string{"sh"}, Env: []string{busyboxPath}}
	p, err := rootfsImage(l, cfg, mtime, kindBusybox, "berth import-busybox", name)
	if err != nil {
		return nil, err
	}
	img, err := s.commit(work, p)
	if err != nil {
		return nil, fmt.Errorf("import busybox: %w", err)
	}
	return img, nil
}

// checkStatic refuses a dynamically linked binary: it would not run in an
// image that has no dynamic loader.
func checkStatic(file string) error {
	f, err := elf.Open(file)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; a static busybox is needed", file)
		}
	}
	return nil
}

// buildBusyboxRootfs lays the busybox rootfs out in dir.
func buildBusyboxRootfs(dir, busybox string, applets []string) error {
	dirs := []struct {
		name string
		mode os.FileMode
	}{
		{"", 0o755}, {"bin", 0o755}, {"dev", 0o755}, {"etc", 0o755}, {"proc", 0o555},
		{"root", 0o700}, {"sys", 0o555}, {"tmp", 0o777 | os.ModeSticky}, {"mnt", 0o755}, {"home", 0o755},
	}
	for _, d := range dirs {
		p := filepath.Join(dir, d.name)
		if err := os.Mkdir(p, 0o700); err != nil {
			return err
		}
		// Chmod, not Mkdir's mode: that one is cut by the umask and
		// drops the sticky bit.
		if err := os.Chmod(p, d.mode); err != nil {
			return err
		}
	}
	if err := copyFile(busybox, filepath.Join(dir, "bin", "busybox"), 0o755); err != nil {
		return err
	}
	for _, a := range applets {
		if a == "busybox" {
			continue // the binary itself is there
		}
		if a == "." || a == ".." || strings.ContainsAny(a, "/\x00") {
			return fmt.Errorf("odd applet name %q", a)
		}
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil {
			return err
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "bin", "sh")); err != nil {
		return errors.New("busybox has no sh applet")
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nnobody:x:65534:\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
		if err := os.Chmod(p, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// copyFile copies a regular file, following a symlinked source (busybox
// is often reached through one).
func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(dst, mode)
	}
	return err
}
