package seccomp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// The compile cache: <root>/.seccomp-cache/<key>, key = sha256 of the
// profile, libseccomp's version and the architecture. An entry is used
// only if it is a regular file of the runtime's own user, not readable or
// writable by anyone else, no bigger than maxEntryBytes, names its own key
// and carries the sha256 of its program: anything else (damaged, planted,
// a link) is removed and the profile compiled again, never loaded. An
// entry is a JSON header line (key, sum, flags, notify) and the program's
// bytes: decoding them as JSON (base64) cost 0.15-0.2 ms of every exec
// with docker's default profile. At most
// maxEntries are kept, the least recently written go first. The directory
// is the runtime root's (0700); it goes when the last container of the
// root is deleted (DropCache), so a root a caller is done with is empty.
const (
	maxEntries    = 64
	maxEntryBytes = 1 << 20
	cacheVersion  = "v3"
)

// cacheEntry is what an entry file holds.
type cacheEntry struct {
	Key     string
	Sum     string
	Program Program
}

// entryHeader is an entry's first line; the program's bytes follow it.
type entryHeader struct {
	Key    string  `json:"key"`
	Sum    string  `json:"sum"`
	Flags  uintptr `json:"flags"`
	Notify bool    `json:"notify,omitempty"`
}

// encode lays the entry out as its file holds it.
func (e *cacheEntry) encode() ([]byte, error) {
	h, err := json.Marshal(entryHeader{Key: e.Key, Sum: e.Sum, Flags: e.Program.Flags, Notify: e.Program.Notify})
	if err != nil {
		return nil, err
	}
	return append(append(h, '\n'), e.Program.Raw...), nil
}

// decodeEntry parses an entry file (it does not check it: loadEntry does).
func decodeEntry(data []byte) (cacheEntry, error) {
	head, raw, ok := bytes.Cut(data, []byte{'\n'})
	if !ok {
		return cacheEntry{}, errors.New("no header line")
	}
	var h entryHeader
	if err := json.Unmarshal(head, &h); err != nil {
		return cacheEntry{}, err
	}
	return cacheEntry{Key: h.Key, Sum: h.Sum, Program: Program{Raw: raw, Flags: h.Flags, Notify: h.Notify}}, nil
}

// CompileCached is Compile with the cache in dir ("" for none).
func CompileCached(s *specs.LinuxSeccomp, dir string) (*Program, error) {
	if dir == "" {
		return Compile(s)
	}
	data, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return CompileCachedJSON(s, data, dir)
}

// Cached returns the program cached in dir for the profile whose JSON
// encoding is data, or nil: exec looks the container's program up by the
// bytes of its config copy (json.Marshal's, as create hashes them) and so
// skips decoding and re-encoding the profile, 0.5-0.9 ms of a fresh
// process for docker's default profile.
func Cached(data []byte, dir string) *Program {
	if dir == "" {
		return nil
	}
	key := cacheKey(data)
	return loadEntry(filepath.Join(dir, key), key)
}

// CompileCachedJSON is CompileCached for s whose JSON encoding, data, the
// caller already has.
func CompileCachedJSON(s *specs.LinuxSeccomp, data []byte, dir string) (*Program, error) {
	if dir == "" {
		return Compile(s)
	}
	key := cacheKey(data)
	path := filepath.Join(dir, key)
	if p := loadEntry(path, key); p != nil {
		return p, nil
	}
	p, err := Compile(s)
	if err != nil {
		return nil, err
	}
	storeEntry(dir, key, p)
	return p, nil
}

// cacheKey names the entry of the profile encoded as data, for this
// libseccomp and architecture.
func cacheKey(data []byte) string {
	maj, mnr, mic := libseccomp.GetLibraryVersion()
	h := sha256.New()
	h.Write(data)
	fmt.Fprintf(h, "|libseccomp %d.%d.%d|%s|%s", maj, mnr, mic, runtime.GOARCH, cacheVersion)
	return hex.EncodeToString(h.Sum(nil))
}

func programSum(p *Program) string {
	h := sha256.New()
	h.Write(p.Raw)
	fmt.Fprintf(h, "|%d|%v", p.Flags, p.Notify)
	return hex.EncodeToString(h.Sum(nil))
}

// loadEntry returns the cached program at path, or nil (after removing
// the file) when it is not one the runtime wrote.
func loadEntry(path, key string) *Program {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		if err != unix.ENOENT {
			os.Remove(path)
		}
		return nil
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || int(st.Uid) != os.Geteuid() ||
		st.Mode&0o077 != 0 || st.Size > maxEntryBytes {
		os.Remove(path)
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(f, maxEntryBytes+1))
	if err != nil {
		os.Remove(path)
		return nil
	}
	e, err := decodeEntry(data)
	if err != nil || e.Key != key || e.Program.Len() == 0 || e.Sum != programSum(&e.Program) {
		os.Remove(path)
		return nil
	}
	return &e.Program
}

// storeEntry writes the entry atomically (temp file 0600, rename) and
// keeps the cache within maxEntries. Failures only cost a later compile.
func storeEntry(dir, key string, p *Program) {
	e := cacheEntry{Key: key, Sum: programSum(p), Program: *p}
	data, err := e.encode()
	if err != nil || os.MkdirAll(dir, 0o700) != nil {
		return
	}
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() || fi.Mode().Perm()&0o077 != 0 {
		return
	}
	f, err := os.CreateTemp(dir, ".tmp-")
	if err != nil {
		return
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if werr != nil || cerr != nil || os.Rename(f.Name(), filepath.Join(dir, key)) != nil {
		os.Remove(f.Name())
		return
	}
	prune(dir)
}

// prune removes the oldest entries beyond maxEntries.
func prune(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) <= maxEntries {
		return
	}
	type aged struct {
		name string
		mod  int64
	}
	var all []aged
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			continue
		}
		if info, err := e.Info(); err == nil {
			all = append(all, aged{e.Name(), info.ModTime().UnixNano()})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].mod < all[j].mod })
	for i := 0; i < len(all)-maxEntries; i++ {
		os.Remove(filepath.Join(dir, all[i].name))
	}
}

// DropCache removes the cache directory dir.
func DropCache(dir string) error { return os.RemoveAll(dir) }
