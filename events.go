package main

import (
	"encoding/json"
	"errors"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/berth-runtime/berth/libcontainer"
	"github.com/berth-runtime/berth/libcontainer/events"
)

var eventsCommand = &cli.Command{
	Name:      "events",
	Usage:     "display container events such as OOM notifications, cpu, memory, and IO usage statistics",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "set the stats collection interval"},
		&cli.BoolFlag{Name: "stats", Usage: "display the container's stats then exit"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		if c.Duration("interval") <= 0 {
			return errors.New("duration interval must be greater than 0")
		}
		ctr, err := loadContainer(c)
		if err != nil {
			return err
		}
		// A stream runs for the container's life: other commands on it
		// must not wait for us.
		ctr.Release()
		enc := json.NewEncoder(os.Stdout)
		stats := func() error {
			s, err := ctr.Stats()
			if err != nil {
				return err
			}
			es := events.FromCgroupStats(s)
			if err := events.AddOOMCounters(es, ctr.State.CgroupPaths); err != nil {
				return err
			}
			return enc.Encode(events.Event{Type: "stats", ID: ctr.ID, Data: es})
		}
		if c.Bool("stats") {
			return stats()
		}
		// Without a memory controller there are no OOM events to watch;
		// the stats stream still runs.
		var oomC <-chan struct{}
		var doneC <-chan struct{}
		w, err := events.WatchOOM(ctr.State.CgroupPaths)
		switch {
		case errors.Is(err, events.ErrNoMemoryCgroup):
		case err != nil:
			return err
		default:
			defer w.Close()
			oomC, doneC = w.C(), w.Done()
		}
		tick := time.NewTicker(c.Duration("interval"))
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				if err := stats(); err != nil {
					if errors.Is(err, libcontainer.ErrNotRunning) {
						return nil
					}
					return err
				}
			case <-oomC:
				if err := enc.Encode(events.Event{Type: "oom", ID: ctr.ID}); err != nil {
					return err
				}
			case <-doneC:
				return w.Err()
			}
		}
	},
}
