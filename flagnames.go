package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// urfave/cli recomputes a flag's names on every lookup (cli.FlagNames runs
// a regexp over each name, to strip a v1-style "name, alias"), and before
// every action it asks IsSet of each of the command's flags, which looks
// through all the flags of the command and the app: for "exec", about a
// thousand regexp replacements, 0.6 ms of a 9 ms command. The names never
// change once the app is built, so each flag is wrapped in one that
// answers with the names computed once. Everything else is the embedded
// flag's own: parsing, help text (String formats the inner flag, so the
// help output is unchanged), DocGenerationFlag, VisibleFlag, RequiredFlag.

type boolFlag struct {
	*cli.BoolFlag
	names []string
}

func (f *boolFlag) Names() []string { return f.names }

type stringFlag struct {
	*cli.StringFlag
	names []string
}

func (f *stringFlag) Names() []string { return f.names }

type intFlag struct {
	*cli.IntFlag
	names []string
}

func (f *intFlag) Names() []string { return f.names }

type durationFlag struct {
	*cli.DurationFlag
	names []string
}

func (f *durationFlag) Names() []string { return f.names }

type stringSliceFlag struct {
	*cli.StringSliceFlag
	names []string
}

func (f *stringSliceFlag) Names() []string { return f.names }

type int64SliceFlag struct {
	*cli.Int64SliceFlag
	names []string
}

func (f *int64SliceFlag) Names() []string { return f.names }

// fixedNames is f wrapped to answer Names from names computed now, or f
// itself for a kind of flag Berth does not use.
func fixedNames(f cli.Flag) cli.Flag {
	switch t := f.(type) {
	case *cli.BoolFlag:
		return &boolFlag{t, flagNames(t.Name, t.Aliases)}
	case *cli.StringFlag:
		return &stringFlag{t, flagNames(t.Name, t.Aliases)}
	case *cli.IntFlag:
		return &intFlag{t, flagNames(t.Name, t.Aliases)}
	case *cli.DurationFlag:
		return &durationFlag{t, flagNames(t.Name, t.Aliases)}
	case *cli.StringSliceFlag:
		return &stringSliceFlag{t, flagNames(t.Name, t.Aliases)}
	case *cli.Int64SliceFlag:
		return &int64SliceFlag{t, flagNames(t.Name, t.Aliases)}
	}
	return f
}

// flagNames is cli.FlagNames without its regexp (0.1 ms of every berth
// process for a hundred flags): each name cut at its first comma or
// space, which is what cli's "[, ]+.*" removes. The slice is new and
// full, so a caller's append never writes into it.
func flagNames(name string, aliases []string) []string {
	names := make([]string, 0, 1+len(aliases))
	for _, n := range append([]string{name}, aliases...) {
		if i := strings.IndexAny(n, ", "); i >= 0 {
			n = n[:i]
		}
		names = append(names, n)
	}
	return names
}

// fixFlagNames wraps the flags of app, of its commands and subcommands,
// and the help and version flags cli adds to them.
func fixFlagNames(app *cli.App) {
	cli.HelpFlag = fixedNames(cli.HelpFlag)
	cli.VersionFlag = fixedNames(cli.VersionFlag)
	fixFlags(app.Flags)
	var walk func([]*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, c := range cmds {
			fixFlags(c.Flags)
			walk(c.Subcommands)
		}
	}
	walk(app.Commands)
}

func fixFlags(flags []cli.Flag) {
	for i, f := range flags {
		flags[i] = fixedNames(f)
	}
}
