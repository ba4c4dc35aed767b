// Package hooks runs OCI lifecycle hooks: each gets the container's state
// JSON on stdin, its own args and env, and an optional timeout; a failure
// carries the hook's output so the caller sees why.
package hooks

import (
	"github.com/berth-runtime/berth/libcontainer/cpus"

	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
)

// Run runs one hook with st on its stdin.
func Run(h specs.Hook, st specs.State) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	ctx := context.Background()
	if h.Timeout != nil {
		if *h.Timeout <= 0 {
			return fmt.Errorf("hook %s: timeout must be positive, got %d", h.Path, *h.Timeout)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path)
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	}
	cmd.Env = h.Env
	if cmd.Env == nil {
		// An empty env, not the runtime's: hooks get only what the
		// config gives them.
		cmd.Env = []string{}
	}
	cmd.Stdin = bytes.NewReader(data)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A hook that forks a daemon keeping the output pipe open must not
	// hang us after the hook itself exits.
	cmd.WaitDelay = time.Second
	err = cpus.Run(cmd)
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("hook %s ran past specified timeout of %.1fs", h.Path, float64(*h.Timeout))
	}
	if err != nil {
		msg := strings.TrimSpace(out.String())
		if msg != "" {
			return fmt.Errorf("hook %s: %w: %s", h.Path, err, oneLine(msg))
		}
		return fmt.Errorf("hook %s: %w", h.Path, err)
	}
	return nil
}

// RunAll runs hooks in order and stops at the first failure, naming the
// kind of hook.
func RunAll(kind string, hs []specs.Hook, st specs.State) error {
	for i, h := range hs {
		logrus.Debugf("running %s hook #%d: %s %q", kind, i, h.Path, h.Args)
		if err := Run(h, st); err != nil {
			// runc's words: callers match "error running hook".
			return fmt.Errorf("error running hook #%d (%s): %w", i, kind, err)
		}
	}
	return nil
}

// RunAllLogged runs every hook even when some fail (poststop), returning
// all failures joined.
func RunAllLogged(kind string, hs []specs.Hook, st specs.State) error {
	var errs []error
	for i, h := range hs {
		logrus.Debugf("running %s hook #%d: %s %q", kind, i, h.Path, h.Args)
		if err := Run(h, st); err != nil {
			errs = append(errs, fmt.Errorf("error running hook #%d (%s): %w", i, kind, err))
		}
	}
	return errors.Join(errs...)
}

// oneLine keeps error messages on one line (callers read the last line).
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " | ")), " ")
}
