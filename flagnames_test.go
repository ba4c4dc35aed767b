package main

import (
	"reflect"
	"slices"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestEveryFlagAnswersItsNamesOnce checks that every flag of the app, its
// commands and the help and version flags is wrapped (a new kind of flag
// would otherwise be looked up with a regexp again), and that the names
// are the ones cli computes.
func TestEveryFlagAnswersItsNamesOnce(t *testing.T) {
	app := newApp()
	check := func(where string, flags []cli.Flag) {
		for _, f := range flags {
			// A wrapper is one of this package's structs around the
			// flag it embeds first.
			v := reflect.ValueOf(f)
			if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct ||
				v.Elem().Type().PkgPath() != reflect.TypeOf(boolFlag{}).PkgPath() {
				t.Errorf("%s: flag %v (%T) is not wrapped", where, f.Names(), f)
				continue
			}
			inner := v.Elem().Field(0).Interface().(cli.Flag)
			if got, want := f.Names(), inner.Names(); !slices.Equal(got, want) || len(got) == 0 {
				t.Errorf("%s: names %v, cli says %v", where, got, want)
			}
		}
	}
	check("app", app.Flags)
	check("help/version", []cli.Flag{cli.HelpFlag, cli.VersionFlag})
	for _, c := range app.Commands {
		check(c.Name, c.Flags)
	}
	if again := fixedNames(cli.HelpFlag); again != cli.HelpFlag {
		t.Error("wrapping a wrapped flag made a new one")
	}
}

// TestWrappedFlagsParse runs exec's flags through the app: a value flag,
// an alias of a bool flag and a repeated slice flag all reach the action.
func TestWrappedFlagsParse(t *testing.T) {
	app := newApp()
	var got struct {
		detach bool
		cwd    string
		env    []string
		root   string
	}
	var cmd *cli.Command
	for _, c := range app.Commands {
		if c.Name == "exec" {
			cmd = c
		}
	}
	if cmd == nil {
		t.Fatal("no exec command")
	}
	saved := cmd.Action
	defer func() { cmd.Action = saved }()
	cmd.Action = func(c *cli.Context) error {
		got.detach, got.cwd, got.env, got.root = c.Bool("detach"), c.String("cwd"), c.StringSlice("env"), c.String("root")
		if !c.IsSet("d") || !c.IsSet("detach") || c.IsSet("tty") {
			t.Errorf("IsSet: d %v detach %v tty %v", c.IsSet("d"), c.IsSet("detach"), c.IsSet("tty"))
		}
		return nil
	}
	app.Before = nil
	err := app.Run([]string{"berth", "--root", "/r", "exec", "-d", "--cwd", "/w", "-e", "A=1", "-e", "B=2", "c1", "true"})
	if err != nil {
		t.Fatal(err)
	}
	if !got.detach || got.cwd != "/w" || !slices.Equal(got.env, []string{"A=1", "B=2"}) || got.root != "/r" {
		t.Errorf("parsed %+v", got)
	}
}

// TestFlagNamesIsClis compares the regexp-free names with cli.FlagNames
// for the shapes a name can have (a v1-style "name, alias" list, spaces,
// none), beyond the app's own flags that the test above compares.
func TestFlagNamesIsClis(t *testing.T) {
	cases := []struct {
		name    string
		aliases []string
	}{
		{"root", nil},
		{"detach", []string{"d"}},
		{"pid-file, p", nil},
		{"tty,t", []string{"x, y", "z ,w"}},
		{"a b", []string{" lead", ""}},
		{"", nil},
	}
	for _, c := range cases {
		got, want := flagNames(c.name, c.aliases), cli.FlagNames(c.name, c.aliases)
		if !slices.Equal(got, want) {
			t.Errorf("flagNames(%q, %q) = %q, cli.FlagNames says %q", c.name, c.aliases, got, want)
		}
	}
	aliases := []string{"d"}
	names := flagNames("detach", aliases)
	_ = append(names, "extra")
	if again := flagNames("detach", aliases); !slices.Equal(again, []string{"detach", "d"}) {
		t.Errorf("names changed to %q", again)
	}
	if cap(names) != len(names) {
		t.Errorf("names have spare capacity %d: a caller's append would share them", cap(names)-len(names))
	}
}
