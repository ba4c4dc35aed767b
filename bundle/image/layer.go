package image

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/moby/go-archive"
	"github.com/moby/go-archive/compression"
	"golang.org/x/sys/unix"
)

// pendingLayer is a layer of an import in progress.
type pendingLayer struct {
	diffID string // "sha256:<hex>"
	size   int64
	// dir is the unpacked layer (dir/diff and dir/layer.json) inside the
	// import's work directory, to be renamed into Root/layers; empty when
	// the store already has the layer.
	dir string
}

// errUnpackStopped tells filterLayer that the unpacker has stopped reading,
// so the filter's own failure to write is not the error to report.
var errUnpackStopped = errors.New("layer unpacking stopped")

// unpackLayer unpacks one layer tar (compressed or not) into a new
// directory under work, in overlayfs form. want, if set, is the diff ID the
// image config promises; the layer is refused if its content differs.
func unpackLayer(work string, r io.Reader, want string) (l pendingLayer, err error) {
	dir, err := os.MkdirTemp(work, "layer-")
	if err != nil {
		return l, err
	}
	diff := filepath.Join(dir, diffDir)
	// The layer root becomes the container's "/" where no upper layer
	// says otherwise, so it gets the usual 0755, not MkdirTemp's 0700.
	if err := os.Mkdir(diff, 0o755); err != nil {
		return l, err
	}
	if err := os.Chmod(diff, 0o755); err != nil {
		return l, err
	}
	dr, err := compression.DecompressStream(r)
	if err != nil {
		return l, fmt.Errorf("layer: %w", err)
	}
	defer dr.Close()

	// The diff ID is the hash of the stream as it is, not as it is
	// re-encoded for the unpacker, so hash before filtering.
	h := sha256.New()
	tee := io.TeeReader(dr, h)
	pr, pw := io.Pipe()
	type result struct {
		size int64
		err  error
	}
	done := make(chan result, 1)
	go func() {
		size, err := filterLayer(tee, pw)
		pw.CloseWithError(err)
		done <- result{size, err}
	}()
	uerr := archive.Unpack(pr, diff, &archive.TarOptions{WhiteoutFormat: archive.OverlayWhiteoutFormat})
	if uerr == nil {
		// Let the filter finish: it still has the end-of-archive blocks
		// to write and the rest of the input to hash.
		_, uerr = io.Copy(io.Discard, pr)
	}
	pr.CloseWithError(errUnpackStopped)
	res := <-done
	switch {
	case res.err != nil && !errors.Is(res.err, errUnpackStopped) && !errors.Is(res.err, io.ErrClosedPipe):
		// The filter's reason (a refused entry, a corrupt stream) is
		// what went wrong; the unpacker only saw the pipe break.
		return l, res.err
	case uerr != nil:
		return l, fmt.Errorf("layer: %w", uerr)
	case res.err != nil:
		return l, res.err
	}
	diffID := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if want != "" && want != diffID {
		return l, fmt.Errorf("layer content %s does not match the diff ID %s in the image config", diffID, want)
	}
	if err := writeJSON(filepath.Join(dir, layerJSON), layerInfo{DiffID: diffID, Size: res.size}); err != nil {
		return l, err
	}
	return pendingLayer{diffID: diffID, size: res.size, dir: dir}, nil
}

// filterLayer copies a layer tar from r to w, refusing what could write
// outside the layer directory and dropping what must not reach it. It
// returns the total size of the regular files. See the package doc for why
// this is stricter than the unpacker's own confinement.
func filterLayer(r io.Reader, w io.Writer) (size int64, err error) {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	// symlinks holds the entries of this archive that are symlinks now;
	// an entry below one of them would be written wherever it points.
	symlinks := map[string]bool{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("layer: read archive: %w", err)
		}
		switch hdr.Typeflag {
		case tar.TypeXGlobalHeader:
			continue
		case tar.TypeGNUSparse:
			// tar.Reader has already filled the holes in.
			hdr.Typeflag = tar.TypeReg
		}
		name, err := entryName(hdr.Name)
		if err != nil {
			return 0, err
		}
		if name == "" {
			continue // the layer root itself: it keeps its 0755
		}
		if err := notThroughSymlink(hdr.Name, name, symlinks); err != nil {
			return 0, err
		}
		base := path.Base(name)
		if strings.HasPrefix(base, ".wh..wh.") && base != ".wh..wh..opq" {
			continue // aufs bookkeeping (.wh..wh.plnk and such), not content
		}
		isLink := false
		if hdr.Typeflag == tar.TypeLink {
			target, err := entryName(hdr.Linkname)
			if err != nil {
				return 0, err
			}
			if target == "" {
				return 0, fmt.Errorf("layer: hardlink %q to the layer root", hdr.Name)
			}
			if err := notThroughSymlink(hdr.Linkname, target, symlinks); err != nil {
				return 0, err
			}
			hdr.Linkname = target
			isLink = symlinks[target] // a hardlink to a symlink is one too
		}
		if hdr.Typeflag == tar.TypeSymlink || isLink {
			symlinks[name] = true
		} else {
			delete(symlinks, name)
		}
		for k := range hdr.PAXRecords {
			if strings.HasPrefix(k, "SCHILY.xattr.trusted.overlay.") || strings.HasPrefix(k, "SCHILY.xattr.user.overlay.") {
				delete(hdr.PAXRecords, k)
			}
		}
		// Xattrs mirrors the SCHILY.xattr records; the writer would put
		// the dropped ones back from it.
		hdr.Xattrs = nil //nolint:staticcheck // clearing the deprecated mirror on purpose
		hdr.Name = name
		// PAX can carry everything the reader found (long names, big
		// sizes, sub-second times, xattrs) without rounding anything.
		hdr.Format = tar.FormatPAX
		if hdr.Typeflag == tar.TypeReg {
			size += hdr.Size
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return 0, err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return 0, fmt.Errorf("layer: read %s: %w", hdr.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	// Whatever follows the end-of-archive blocks is still part of the
	// stream the diff ID hashes, and reading to the end makes a compressed
	// stream check its trailer, so truncation is caught here.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return 0, fmt.Errorf("layer: read archive: %w", err)
	}
	return size, nil
}

// entryName cleans an archive path into a path relative to the layer root
// ("" for the root itself). A leading "/" is dropped, as tar and docker do,
// since the name is then read relative to the layer root and cannot escape
// it; any ".." component is refused, because no honest layer needs one and
// one is the classic way out of the target directory.
func entryName(name string) (string, error) {
	rel := strings.TrimLeft(name, "/")
	for _, c := range strings.Split(rel, "/") {
		if c == ".." {
			return "", fmt.Errorf("layer: path traversal: entry %q has a \"..\" component", name)
		}
	}
	rel = path.Clean(rel)
	if rel == "." {
		return "", nil
	}
	return rel, nil
}

// notThroughSymlink refuses a path that goes through a symlink the same
// archive made earlier: such an entry would be written wherever the
// symlink points, which may be outside the layer.
func notThroughSymlink(orig, name string, symlinks map[string]bool) error {
	for i := 0; i < len(name); i++ {
		if name[i] == '/' && symlinks[name[:i]] {
			return fmt.Errorf("layer: path traversal: entry %q goes through the symlink %q", orig, name[:i])
		}
	}
	return nil
}

// tarDir writes dir as an uncompressed layer tar, so that a rootfs
// directory goes through the same unpacking as any layer. Unlike
// go-archive's Tar, it reports every file it cannot read instead of
// logging and skipping it, and keeps all extended attributes. If mtime is
// not zero, every entry gets it, which makes the layer (and so its diff ID)
// reproducible.
func tarDir(dir string, w io.Writer, mtime time.Time) error {
	tw := tar.NewWriter(w)
	type inode struct{ dev, ino uint64 }
	links := map[inode]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSocket != 0 {
			return nil // sockets cannot be archived; a live one means nothing in an image
		}
		var target string
		if fi.Mode()&fs.ModeSymlink != 0 {
			if target, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, target)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		hdr.Name = filepath.ToSlash(rel)
		hdr.Uname, hdr.Gname = "", "" // numeric ids are what count in a container
		hdr.Format = tar.FormatPAX
		if !mtime.IsZero() {
			hdr.ModTime, hdr.AccessTime, hdr.ChangeTime = mtime, time.Time{}, time.Time{}
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode().IsRegular() && st.Nlink > 1 {
			key := inode{uint64(st.Dev), st.Ino}
			if first, ok := links[key]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				links[key] = hdr.Name
			}
		}
		xattrs, err := readXattrs(p)
		if err != nil {
			return err
		}
		for k, v := range xattrs {
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = map[string]string{}
			}
			hdr.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := io.CopyN(tw, f, hdr.Size); err != nil {
			return fmt.Errorf("%s: %w (changed while being read?)", p, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rootfs: %w", err)
	}
	return tw.Close()
}

// readXattrs returns the extended attributes of p (not following a
// symlink).
func readXattrs(p string) (map[string]string, error) {
	buf := make([]byte, 4096)
	var n int
	var err error
	for {
		n, err = unix.Llistxattr(p, buf)
		if err != unix.ERANGE {
			break
		}
		buf = make([]byte, len(buf)*2)
	}
	switch {
	case err == unix.ENOTSUP:
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("list xattrs of %s: %w", p, err)
	}
	var out map[string]string
	for _, k := range strings.Split(string(buf[:n]), "\x00") {
		if k == "" {
			continue
		}
		val := make([]byte, 256)
		var vn int
		for {
			vn, err = unix.Lgetxattr(p, k, val)
			if err != unix.ERANGE {
				break
			}
			val = make([]byte, len(val)*4)
		}
		if err == unix.ENODATA {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("read xattr %s of %s: %w", k, p, err)
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = string(val[:vn])
	}
	return out, nil
}
