package syncmsg

// The two line formats beside the JSON stream: the C pre-stage's report
// on the sync socket (before the Go init exists) and the init's failure
// note on the exec fifo (after the runtime that made it has gone). Both
// are parsed here, next to the JSON protocol, so that each format has
// one writer's counterpart and one test.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// StageReport is the pre-stage's one line (libcontainer/nsenter):
// "S" (the init goes on in the same process), "P<pid>" (it forked into
// new pid or time namespaces; pid is the init) or "E<message>". Before it
// a pre-stage that made a user namespace for newuidmap sends "M": write
// my maps, then send one byte; its final report follows.
type StageReport struct {
	// Forked is true for "P": Pid is then the init's pid.
	Forked bool
	Pid    int
	// MapIDs is true for "M": the report that follows is the final one.
	MapIDs bool
}

// ParseStageReport parses one report line (without its newline). An "E"
// line is returned as the error it carries.
func ParseStageReport(line string) (StageReport, error) {
	switch {
	case line == "S":
		return StageReport{}, nil
	case line == "M":
		return StageReport{MapIDs: true}, nil
	case strings.HasPrefix(line, "P"):
		pid, err := strconv.Atoi(line[1:])
		if err != nil || pid <= 0 {
			return StageReport{}, fmt.Errorf("pre-stage: bad report %q", line)
		}
		return StageReport{Forked: true, Pid: pid}, nil
	case strings.HasPrefix(line, "E"):
		return StageReport{}, errors.New(line[1:])
	}
	return StageReport{}, fmt.Errorf("pre-stage: bad report %q", line)
}

// ReadStageReport reads the report line from fd one byte at a time (the
// JSON stream follows on the same socket and must not be read ahead).
func ReadStageReport(fd int) (StageReport, error) {
	var line []byte
	var b [1]byte
	for {
		n, err := unix.Read(fd, b[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return StageReport{}, ErrClosed
		}
		if b[0] == '\n' {
			break
		}
		line = append(line, b[0])
	}
	return ParseStageReport(string(line))
}

// FifoFailure is what the init writes on the exec fifo when it cannot run
// the container's program after start: "E" and why.
func FifoFailure(err error) []byte { return []byte("E" + err.Error()) }

// ParseFifoFailure turns what "start" read from the fifo before EOF into
// the init's error; nothing read (the program runs) is nil.
func ParseFifoFailure(data string) error {
	if data == "" {
		return nil
	}
	return errors.New(strings.TrimPrefix(data, "E"))
}
