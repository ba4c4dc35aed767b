package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// keepArgOrder are the commands whose arguments after the container ID
// are not berth's own: a process's argv (exec) or ps(1)'s options (ps).
// runc marks the same two SkipArgReorder.
var keepArgOrder = map[string]bool{"exec": true, "ps": true}

// reorderArgs lets a command's flags follow its container ID, as runc's
// command line (urfave/cli v1) allows and scripts rely on: "update ID
// --memory 64m", "delete ID --force", "kill ID KILL --all". urfave/cli v2
// stops at the first argument that is not a flag, so the flags found after
// it are moved in front of it, each with its value when the flag takes
// one. "--" ends the reordering; exec and ps keep their order.
func reorderArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	i := 1
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "--" {
		if takesValue(app.Flags, args[i]) {
			i++
		}
		i++
	}
	if i >= len(args) {
		return args
	}
	cmd := app.Command(args[i])
	if cmd == nil || keepArgOrder[cmd.Name] {
		return args
	}
	var flags, rest []string
	tail := args[i+1:]
	for j := 0; j < len(tail); j++ {
		a := tail[j]
		if a == "--" {
			rest = append(rest, tail[j:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" || !isFlag(cmd.Flags, a) {
			rest = append(rest, a)
			continue
		}
		flags = append(flags, a)
		if takesValue(cmd.Flags, a) && j+1 < len(tail) {
			j++
			flags = append(flags, tail[j])
		}
	}
	out := append([]string{}, args[:i+1]...)
	out = append(out, flags...)
	return append(out, rest...)
}

// flagName is the name in "-x", "--name" or "--name=value".
func flagName(arg string) string {
	name := strings.TrimLeft(arg, "-")
	name, _, _ = strings.Cut(name, "=")
	return name
}

func lookupFlag(flags []cli.Flag, arg string) cli.Flag {
	name := flagName(arg)
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

func isFlag(flags []cli.Flag, arg string) bool { return lookupFlag(flags, arg) != nil }

// takesValue reports whether arg is a flag whose value is the next
// argument (not a boolean flag, no "=value" of its own).
func takesValue(flags []cli.Flag, arg string) bool {
	if strings.Contains(arg, "=") {
		return false
	}
	f := lookupFlag(flags, arg)
	if f == nil {
		return false
	}
	df, ok := f.(cli.DocGenerationFlag)
	return ok && df.TakesValue()
}
