package image

import (
	"errors"
	"fmt"
	"strings"
)

// normalizeName turns NAME[:TAG] into the "name:tag" form names are stored
// in: the tag defaults to "latest", and Docker Hub's "docker.io/" and
// "library/" prefixes are dropped, so that "busybox",
// "library/busybox:latest" and "docker.io/library/busybox" are one name,
// as docker shows them. Names follow docker's grammar (lower-case path
// components, an optional registry host) so that anything `docker` would
// refuse is refused here too.
func normalizeName(ref string) (string, error) {
	if ref == "" {
		return "", errors.New("invalid reference format: empty name")
	}
	if strings.Contains(ref, "@") {
		return "", fmt.Errorf("invalid reference format: %q: digest references are not supported", ref)
	}
	name, tag := ref, "latest"
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		name, tag = ref[:i], ref[i+1:]
	}
	for _, p := range []string{"docker.io/", "index.docker.io/"} {
		if rest, ok := strings.CutPrefix(name, p); ok {
			name = rest
			break
		}
	}
	if rest, ok := strings.CutPrefix(name, "library/"); ok && !strings.Contains(rest, "/") {
		name = rest
	}
	if !validRepo(name) || len(name) > 255 {
		return "", fmt.Errorf("invalid reference format: %q", ref)
	}
	if !validTag(tag) {
		return "", fmt.Errorf("invalid reference format: %q: bad tag %q", ref, tag)
	}
	if isID(name) {
		// docker refuses these too: they would be taken for image IDs.
		return "", fmt.Errorf("invalid repository name %q: cannot be a 64-byte hexadecimal string", name)
	}
	return name + ":" + tag, nil
}

// validRepo checks a repository name: an optional registry host (it has a
// dot or a port, or is localhost) followed by lower-case path components.
func validRepo(name string) bool {
	comps := strings.Split(name, "/")
	if len(comps) > 1 && (strings.ContainsAny(comps[0], ".:") || comps[0] == "localhost") {
		if !validDomain(comps[0]) {
			return false
		}
		comps = comps[1:]
	}
	for _, c := range comps {
		if !validComponent(c) {
			return false
		}
	}
	return true
}

// validComponent checks one path component: lower-case letters and digits,
// separated by ".", "_", "__" or any number of "-".
func validComponent(c string) bool {
	if c == "" || !isAlnum(c[0]) || !isAlnum(c[len(c)-1]) {
		return false
	}
	sep := ""
	for i := 0; i < len(c); i++ {
		ch := c[i]
		if isAlnum(ch) {
			if sep != "" && sep != "." && sep != "_" && sep != "__" && strings.Trim(sep, "-") != "" {
				return false
			}
			sep = ""
			continue
		}
		if ch != '.' && ch != '_' && ch != '-' {
			return false
		}
		sep += string(ch)
	}
	return true
}

func isAlnum(ch byte) bool { return ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' }

// validDomain checks HOST[:PORT], HOST being dot-separated labels.
func validDomain(d string) bool {
	host, port, hasPort := strings.Cut(d, ":")
	if hasPort {
		if port == "" {
			return false
		}
		for i := 0; i < len(port); i++ {
			if port[i] < '0' || port[i] > '9' {
				return false
			}
		}
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			ch := label[i]
			if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-') {
				return false
			}
		}
	}
	return true
}

// validTag checks a tag: up to 128 word characters, dots and dashes, not
// starting with a dot or dash.
func validTag(t string) bool {
	if t == "" || len(t) > 128 || t[0] == '.' || t[0] == '-' {
		return false
	}
	for i := 0; i < len(t); i++ {
		ch := t[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '.' || ch == '-') {
			return false
		}
	}
	return true
}
