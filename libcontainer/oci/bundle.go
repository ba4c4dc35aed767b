// Package oci loads an OCI runtime bundle (config.json plus its root
// filesystem) and checks it before any state is created, so that bad input
// is refused while the host is still untouched.
package oci

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-runtime/berth/libcontainer/nskind"
)

// ConfigName is the name of the runtime configuration inside a bundle.
const ConfigName = "config.json"

// Bundle is a loaded and validated bundle.
type Bundle struct {
	// Dir is the absolute path of the bundle directory.
	Dir string
	// Rootfs is the absolute path of the root filesystem.
	Rootfs string
	// Spec is the parsed config.json.
	Spec *specs.Spec
}

// Load reads dir/config.json, parses it strictly enough to name the first
// problem, and validates it.
func Load(dir string) (*Bundle, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("bundle %q: %w", dir, err)
	}
	data, err := os.ReadFile(filepath.Join(abs, ConfigName))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("bundle %s: config.json not found", abs)
		}
		return nil, fmt.Errorf("bundle %s: %w", abs, err)
	}
	spec, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", abs, err)
	}
	b := &Bundle{Dir: abs, Spec: spec}
	if err := b.validate(); err != nil {
		return nil, err
	}
	return b, nil
}

// Parse decodes config.json. Unknown fields are allowed (the spec is
// extensible), but a field of the wrong type or trailing garbage is an error.
func Parse(data []byte) (*specs.Spec, error) {
	var spec specs.Spec
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&spec); err != nil {
		return nil, fmt.Errorf("parse config.json: %w", describeJSONError(data, err))
	}
	if dec.More() {
		return nil, errors.New("parse config.json: trailing data after the JSON object")
	}
	return &spec, nil
}

// describeJSONError adds the line number to a JSON syntax or type error.
func describeJSONError(data []byte, err error) error {
	var offset int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		offset = se.Offset
	case errors.As(err, &te):
		offset = te.Offset
	}
	if offset < 0 || offset > int64(len(data)) {
		return err
	}
	line := 1 + bytes.Count(data[:offset], []byte("\n"))
	return fmt.Errorf("line %d: %w", line, err)
}

func (b *Bundle) validate() error {
	s := b.Spec
	if s.Version == "" {
		return errors.New("config.json: ociVersion is empty")
	}
	if s.VM != nil {
		// A hypervisor-based runtime's section: Berth would run the
		// container without the virtual machine it asks for.
		return errors.New("config.json: vm is set: berth runs containers on this kernel, not in virtual machines")
	}
	if s.Root == nil || s.Root.Path == "" {
		return errors.New("config.json: root.path is not set")
	}
	root := s.Root.Path
	if !filepath.IsAbs(root) {
		root = filepath.Join(b.Dir, root)
	}
	fi, err := os.Stat(root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rootfs %s does not exist", root)
		}
		return fmt.Errorf("rootfs %s: %w", root, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("rootfs %s is not a directory", root)
	}
	b.Rootfs = filepath.Clean(root)
	if s.Linux == nil {
		return errors.New("config.json: linux section is missing (only Linux containers are supported)")
	}
	if p := s.Process; p != nil {
		if len(p.Args) == 0 || p.Args[0] == "" {
			return errors.New("config.json: process.args must not be empty")
		}
		if p.Cwd == "" || !filepath.IsAbs(p.Cwd) {
			return fmt.Errorf("config.json: process.cwd %q must be an absolute path", p.Cwd)
		}
		for _, e := range p.Env {
			if !strings.Contains(e, "=") {
				return fmt.Errorf("config.json: process.env entry %q is not KEY=VALUE", e)
			}
		}
	}
	for i, m := range s.Mounts {
		if m.Destination == "" {
			return fmt.Errorf("config.json: mounts[%d]: destination is empty", i)
		}
		if !filepath.IsAbs(m.Destination) {
			return fmt.Errorf("config.json: mounts[%d]: destination %q must be absolute", i, m.Destination)
		}
	}
	if err := validateNamespaces(s.Linux); err != nil {
		return err
	}
	if (s.Hostname != "" || s.Domainname != "") && !HasNamespace(s, specs.UTSNamespace) {
		return errors.New("config.json: hostname/domainname need a private uts namespace")
	}
	return nil
}

// HasNamespace reports whether the spec lists a namespace of type t (new or joined).
func HasNamespace(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	if s.Linux == nil {
		return false
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

func validateNamespaces(l *specs.Linux) error {
	seen := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range l.Namespaces {
		if _, ok := nskind.ByType(ns.Type); !ok {
			return fmt.Errorf("config.json: unknown namespace type %q", ns.Type)
		}
		if seen[ns.Type] {
			return fmt.Errorf("config.json: namespace %q is listed twice", ns.Type)
		}
		seen[ns.Type] = true
		if ns.Path != "" && !filepath.IsAbs(ns.Path) {
			return fmt.Errorf("config.json: namespace %s path %q must be absolute", ns.Type, ns.Path)
		}
	}
	hasUser := seen[specs.UserNamespace]
	if (len(l.UIDMappings) > 0 || len(l.GIDMappings) > 0) && !hasUser {
		return errors.New("config.json: uidMappings/gidMappings need a user namespace")
	}
	if len(l.TimeOffsets) > 0 && !seen[specs.TimeNamespace] {
		return errors.New("config.json: timeOffsets need a time namespace")
	}
	if l.Sysctl != nil {
		for k := range l.Sysctl {
			if strings.Contains(k, "..") || strings.HasPrefix(k, "/") {
				return fmt.Errorf("config.json: invalid sysctl name %q", k)
			}
		}
	}
	return nil
}
