package specfields

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// leaf is a field of specs.Spec that holds a value (not an object), with
// the platforms its Go tag names ("" when it has none).
type leaf struct {
	path, platform string
}

// walk lists every leaf below t, by JSON name; slices, arrays, maps and
// pointers add no segment.
func walk(t reflect.Type, prefix, platform string, out *[]leaf) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		*out = append(*out, leaf{prefix, platform})
		return
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := strings.Split(f.Tag.Get("json"), ",")[0]
		p := platform
		if tag := f.Tag.Get("platform"); tag != "" {
			p = tag
		}
		if f.Anonymous && name == "" {
			walk(f.Type, prefix, p, out)
			continue
		}
		if name == "" || name == "-" {
			name = f.Name
		}
		if prefix != "" {
			name = prefix + "." + name
		}
		walk(f.Type, name, p, out)
	}
}

func specLeaves(t *testing.T) []leaf {
	var out []leaf
	walk(reflect.TypeOf(specs.Spec{}), "", "", &out)
	if len(out) < 200 {
		t.Fatalf("the walk found %d fields of specs.Spec; it is broken", len(out))
	}
	return out
}

// TestTableIsCompleteAndExact is the guard: every field of the
// runtime-spec Go types is covered by a row, every row covers a field,
// and no field of another platform is claimed as applied.
func TestTableIsCompleteAndExact(t *testing.T) {
	leaves := specLeaves(t)
	used := map[string]bool{}
	for _, l := range leaves {
		f, ok := Lookup(l.path)
		if !ok {
			t.Errorf("runtime-spec field %q is not in the table: apply it (with a test), refuse it, or say why the spec lets it be ignored", l.path)
			continue
		}
		used[f.Path] = true
		if l.platform != "" && !strings.Contains(l.platform, "linux") && f.Treatment == Applied {
			t.Errorf("%q is for %s only, but the table says %s", l.path, l.platform, f.Treatment)
		}
	}
	for _, f := range Table {
		if !used[f.Path] {
			t.Errorf("table row %q covers no runtime-spec field (renamed or removed upstream?)", f.Path)
		}
	}
}

// TestRowsAreJustified: applied and refused rows name their test, ignored
// rows say why, and no path is listed twice.
func TestRowsAreJustified(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range Table {
		if seen[f.Path] {
			t.Errorf("row %q is listed twice", f.Path)
		}
		seen[f.Path] = true
		switch {
		case f.Treatment != Ignored && f.Test == "":
			t.Errorf("row %q is %s but names no test", f.Path, f.Treatment)
		case f.Treatment == Ignored && f.Note == "":
			t.Errorf("row %q is ignored without a reason", f.Path)
		}
	}
}

// TestNamedTestsExist: every test the table (and its notes) names is a
// test function in the repository, so a renamed or deleted test cannot
// leave a row claiming coverage.
func TestNamedTestsExist(t *testing.T) {
	root := filepath.Join("..", "..")
	have := map[string]bool{}
	decl := regexp.MustCompile(`(?m)^func (Test\w+)\(`)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "results") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range decl.FindAllSubmatch(b, -1) {
			have[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	named := regexp.MustCompile(`\bTest[A-Z]\w+`)
	for _, f := range Table {
		for _, name := range append([]string{f.Test}, named.FindAllString(f.Note, -1)...) {
			if name != "" && !have[name] {
				t.Errorf("row %q names %s, which is not a test in this repository", f.Path, name)
			}
		}
	}
}

func TestLookup(t *testing.T) {
	for path, want := range map[string]string{
		"process.scheduler.policy":               "process.scheduler",
		"hooks.poststop.timeout":                 "hooks.*.timeout",
		"linux.resources.memory.limit":           "linux.resources.memory.limit",
		"windows.hyperv.utilityVMPath":           "windows",
		"linux.resources.blockIO.weightDevice.x": "",
	} {
		f, ok := Lookup(path)
		if got := f.Path; ok != (want != "") || got != want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", path, got, ok, want)
		}
	}
	if !IsApplied("linux.personality.domain") || IsApplied("process.selinuxLabel") || IsApplied("vm.kernel.path") {
		t.Errorf("IsApplied disagrees with the table")
	}
}

// TestDocsListTheTable keeps docs/spec-fields.md what Markdown renders.
func TestDocsListTheTable(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "spec-fields.md")
	want := Markdown()
	if os.Getenv("BERTH_UPDATE_DOCS") == "1" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Errorf("%s is not the table (err %v): run BERTH_UPDATE_DOCS=1 go test ./libcontainer/specfields/", path, err)
	}
}
