package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/berth-runtime/berth/libcontainer"
)

var listCommand = &cli.Command{
	Name:  "list",
	Usage: "lists containers started by berth with the given root",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: `select one of: table or json`},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "display only container IDs"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 0, 0); err != nil {
			return err
		}
		states, err := listStates(c)
		if err != nil {
			return err
		}
		if c.Bool("quiet") {
			for _, s := range states {
				fmt.Println(s.ID)
			}
			return nil
		}
		switch f := c.String("format"); f {
		case "table":
			w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
			fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
			for _, s := range states {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
			}
			return w.Flush()
		case "json":
			return json.NewEncoder(os.Stdout).Encode(states)
		default:
			return fmt.Errorf("invalid format option %q", f)
		}
	},
}

func listStates(c *cli.Context) ([]libcontainer.OCIState, error) {
	root := c.String("root")
	ids, err := libcontainer.List(root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !rootExplicit {
			return nil, nil
		}
		return nil, err
	}
	// Each container is read on its own (its lock, state.json, the
	// kernel's word on its init and freezer), so a few workers read them
	// side by side; the output keeps List's order.
	// Each worker takes the next index itself: a channel of indexes woke
	// a sleeping worker's thread for every container.
	got := make([]*libcontainer.OCIState, len(ids))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(len(ids), 2*runtime.GOMAXPROCS(0)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(ids) {
					return
				}
				got[i] = listOne(root, ids[i])
			}
		}()
	}
	wg.Wait()
	var states []libcontainer.OCIState
	for _, s := range got {
		if s != nil {
			states = append(states, *s)
		}
	}
	return states, nil
}

// listOne is one container's line of list, nil (with a warning) when it
// cannot be loaded.
func listOne(root, id string) *libcontainer.OCIState {
	ctr, err := libcontainer.Load(root, id)
	if err != nil {
		logrus.Warnf("load container %s: %v", id, err)
		return nil
	}
	defer ctr.Release()
	s := ctr.OCIState()
	s.Owner = owner(ctr.Dir)
	return &s
}

// owner names the user owning the container directory.
func owner(dir string) string {
	fi, err := os.Stat(dir)
	if err != nil {
		return ""
	}
	return ownerNames.name(fi.Sys().(*syscall.Stat_t).Uid)
}

// ownerNames remembers the user names list has looked up: a lookup reads
// and parses /etc/passwd (osusergo), and the containers of a root almost
// all have the same owner.
var ownerNames = &uidNames{names: map[uint32]string{}}

type uidNames struct {
	mu    sync.Mutex
	names map[uint32]string
}

// name is uid's user name, "#uid" when it has none.
func (n *uidNames) name(uid uint32) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s, ok := n.names[uid]; ok {
		return s
	}
	s := "#" + strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		s = u.Username
	}
	n.names[uid] = s
	return s
}
