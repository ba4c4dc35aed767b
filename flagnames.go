package main

import (
	"slices"

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

// fixedNames is f wrapped to answer Names from a copy computed now (its
// capacity clipped, so a caller's append never writes into it), or f
// itself for a kind of flag Berth does not use.
func fixedNames(f cli.Flag) cli.Flag {
	names := slices.Clip(f.Names())
	switch t := f.(type) {
	case *cli.BoolFlag:
		return &boolFlag{t, names}
	case *cli.StringFlag:
		return &stringFlag{t, names}
	case *cli.IntFlag:
		return &intFlag{t, names}
	case *cli.DurationFlag:
		return &durationFlag{t, names}
	case *cli.StringSliceFlag:
		return &stringSliceFlag{t, names}
	case *cli.Int64SliceFlag:
		return &int64SliceFlag{t, names}
	}
	return f
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
