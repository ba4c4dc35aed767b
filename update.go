package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
)

var updateCommand = &cli.Command{
	Name:      "update",
	Usage:     "update container resource constraints",
	ArgsUsage: "<container-id>",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: `path to the file containing the resources to update or '-' to read from the standard input`},
		&cli.StringFlag{Name: "blkio-weight", Usage: "Specifies per cgroup weight, range is from 10 to 1000"},
		&cli.StringFlag{Name: "cpu-period", Usage: "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default"},
		&cli.StringFlag{Name: "cpu-quota", Usage: "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period"},
		&cli.StringFlag{Name: "cpu-burst", Usage: "CPU CFS burst limit (in usecs)"},
		&cli.StringFlag{Name: "cpu-share", Usage: "CPU shares (relative weight vs. other containers)"},
		&cli.StringFlag{Name: "cpu-rt-period", Usage: "CPU realtime period to be used for hardcapping (in usecs). 0 to use system default"},
		&cli.StringFlag{Name: "cpu-rt-runtime", Usage: "CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period"},
		&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPU(s) to use"},
		&cli.StringFlag{Name: "cpuset-mems", Usage: "Memory node(s) to use"},
		&cli.StringFlag{Name: "memory", Usage: "Memory limit (in bytes, or with a unit: 64m)"},
		&cli.StringFlag{Name: "memory-reservation", Usage: "Memory reservation or soft_limit (in bytes)"},
		&cli.StringFlag{Name: "memory-swap", Usage: "Total memory usage (memory + swap); set '-1' to enable unlimited swap"},
		&cli.IntFlag{Name: "pids-limit", Usage: "Maximum number of pids allowed in the container"},
		&cli.StringFlag{Name: "kernel-memory", Usage: "Kernel memory limit (deprecated: current kernels ignore it; warned about)"},
		&cli.StringFlag{Name: "kernel-memory-tcp", Usage: "Kernel memory limit for tcp buffers (in bytes, cgroup v1)"},
		&cli.StringFlag{Name: "cpu-idle", Usage: "set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE"},
		&cli.StringFlag{Name: "l3-cache-schema", Usage: "The string of Intel RDT/CAT L3 cache schema"},
		&cli.StringFlag{Name: "mem-bw-schema", Usage: "The string of Intel RDT/MBA memory bandwidth schema"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, 1); err != nil {
			return err
		}
		r, err := updateResources(c)
		if err != nil {
			return err
		}
		ctr, err := loadContainer(c)
		if err != nil {
			return err
		}
		defer ctr.Release()
		if c.IsSet("l3-cache-schema") || c.IsSet("mem-bw-schema") {
			if err := ctr.UpdateIntelRdt(c.String("l3-cache-schema"), c.String("mem-bw-schema")); err != nil {
				return err
			}
		}
		return ctr.Update(r)
	},
}

// updateResources reads --resources (a file or - for stdin) or builds the
// resources from the single-value flags. Device rules are dropped: update
// never changes them, as runc does not.
func updateResources(c *cli.Context) (*specs.LinuxResources, error) {
	r := &specs.LinuxResources{}
	if path := c.String("resources"); path != "" {
		var in io.Reader = os.Stdin
		if path != "-" {
			f, err := os.Open(path)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			in = f
		}
		if err := json.NewDecoder(in).Decode(r); err != nil {
			return nil, fmt.Errorf("decode resources: %w", err)
		}
		r.Devices = nil
		return r, nil
	}
	r.Memory = &specs.LinuxMemory{}
	r.CPU = &specs.LinuxCPU{}
	for _, f := range []struct {
		name string
		dst  **int64
		size bool
	}{
		{"memory", &r.Memory.Limit, true}, {"memory-reservation", &r.Memory.Reservation, true},
		{"memory-swap", &r.Memory.Swap, true}, {"cpu-quota", &r.CPU.Quota, false},
		{"cpu-rt-runtime", &r.CPU.RealtimeRuntime, false},
		{"kernel-memory", &r.Memory.Kernel, true}, {"kernel-memory-tcp", &r.Memory.KernelTCP, true},
	} {
		if !c.IsSet(f.name) {
			continue
		}
		v, err := parseInt(c.String(f.name), f.size)
		if err != nil {
			return nil, fmt.Errorf("invalid value for --%s: %w", f.name, err)
		}
		*f.dst = &v
	}
	for _, f := range []struct {
		name string
		dst  **uint64
	}{
		{"cpu-period", &r.CPU.Period}, {"cpu-share", &r.CPU.Shares}, {"cpu-rt-period", &r.CPU.RealtimePeriod},
		{"cpu-burst", &r.CPU.Burst},
	} {
		if !c.IsSet(f.name) {
			continue
		}
		v, err := strconv.ParseUint(c.String(f.name), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("invalid value for --%s: %w", f.name, err)
		}
		*f.dst = &v
	}
	if c.IsSet("cpu-idle") {
		v, err := strconv.ParseInt(c.String("cpu-idle"), 10, 64)
		if err != nil || (v != 0 && v != 1) {
			return nil, fmt.Errorf("invalid value for --cpu-idle: %q (0 or 1)", c.String("cpu-idle"))
		}
		r.CPU.Idle = &v
	}
	r.CPU.Cpus, r.CPU.Mems = c.String("cpuset-cpus"), c.String("cpuset-mems")
	if c.IsSet("pids-limit") {
		v := int64(c.Int("pids-limit"))
		r.Pids = &specs.LinuxPids{Limit: &v}
	}
	if c.IsSet("blkio-weight") {
		v, err := strconv.ParseUint(c.String("blkio-weight"), 10, 16)
		if err != nil {
			return nil, fmt.Errorf("invalid value for --blkio-weight: %w", err)
		}
		w := uint16(v)
		r.BlockIO = &specs.LinuxBlockIO{Weight: &w}
	}
	return r, nil
}

// parseInt parses a decimal number; with size, also "-1" and units
// (k, m, g, t, with or without b, base 1024) as docker and runc take them.
func parseInt(s string, size bool) (int64, error) {
	if !size {
		return strconv.ParseInt(s, 10, 64)
	}
	if s == "-1" {
		return -1, nil
	}
	t := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), "b")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		}
		if mult != 1 {
			t = t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 {
		return 0, errors.New("invalid size " + strconv.Quote(s))
	}
	return int64(v * float64(mult)), nil
}
