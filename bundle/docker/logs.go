package docker

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LogOptions are docker logs' choices of what to print; the CLI parses
// them so that the log's format stays the library's business.
type LogOptions struct {
	// Tail is how many records from the end to print; negative: all.
	Tail       int
	Follow     bool
	Timestamps bool
}

// Logs prints a container's log. With Follow it keeps printing until the
// container has exited and the monitor has drained its output, so that
// whatever runs after logs -f sees the container exited.
func (s *Store) Logs(m *Meta, o LogOptions, stdout, stderr io.Writer) error {
	off := int64(0)
	if o.Tail >= 0 {
		off = tailOffset(filepath.Join(s.Dir(m.ID), LogFile), o.Tail)
	}
	if !o.Follow {
		_, err := s.printLog(m.ID, off, stdout, stderr, o.Timestamps)
		return err
	}
	for {
		off, _ = s.printLog(m.ID, off, stdout, stderr, o.Timestamps)
		cur, err := s.LoadMeta(m.ID)
		if err != nil || !s.Running(cur) {
			// The monitor writes the log: let it drain the container's
			// output and record the exit first.
			if err == nil {
				s.settle(cur)
			}
			s.printLog(m.ID, off, stdout, stderr, o.Timestamps)
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Follow prints the container's log as it grows until the container has
// exited, then returns its exit code (foreground run, logs -f).
func (s *Store) Follow(id string, stdout, stderr io.Writer) (int, error) {
	var off int64
	for {
		m, err := s.LoadMeta(id)
		if err != nil {
			// --rm removed it: the log went with it.
			return 0, nil
		}
		exited := m.Status == "exited"
		off, err = s.printLog(id, off, stdout, stderr, false)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, err
		}
		if exited {
			s.printLog(id, off, stdout, stderr, false)
			return m.ExitCode, nil
		}
		if m.Status == "running" && !s.Running(m) {
			// The container is gone; the monitor is about to record how
			// (or is dead itself: settle records what is known).
			s.settle(m)
			continue
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// printLog prints log records from offset on and returns the new offset.
func (s *Store) printLog(id string, off int64, stdout, stderr io.Writer, stamps bool) (int64, error) {
	f, err := os.Open(filepath.Join(s.Dir(id), LogFile))
	if err != nil {
		return off, err
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return off, err
	}
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return off, nil
		}
		off += int64(len(line))
		var l LogLine
		if json.Unmarshal(line, &l) != nil {
			continue
		}
		w := stdout
		if l.Stream == "stderr" {
			w = stderr
		}
		if stamps {
			fmt.Fprint(w, l.Time.Format(time.RFC3339Nano)+" ")
		}
		fmt.Fprint(w, l.Log)
	}
}

// tailOffset is the file offset of the last n log records.
func tailOffset(path string, n int) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	// Record starts, walking back from the end (every record ends in \n).
	end := len(data)
	for i := 0; i < n; i++ {
		j := strings.LastIndexByte(string(data[:max(end-1, 0)]), '\n')
		if j < 0 {
			return 0
		}
		end = j + 1
	}
	return int64(end)
}
