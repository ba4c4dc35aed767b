package main

import (
	"fmt"
	"time"

	"github.com/berth-runtime/berth/bundle/docker"
)

// statusColumn words a container's status as docker's STATUS column does.
func statusColumn(st docker.Status) string {
	switch st.State {
	case docker.StateUp:
		return "Up " + ago(st.Since)
	case docker.StatePaused:
		return "Up " + ago(st.Since) + " (Paused)"
	case docker.StateCreated:
		return "Created"
	case docker.StateUnknown:
		return "Exited (unknown)"
	}
	return fmt.Sprintf("Exited (%d) %s ago", st.ExitCode, ago(st.Since))
}

// ago is docker's rough age of a time: seconds, minutes, hours, then days.
func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d seconds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

// humanSize is docker's image SIZE: one decimal, powers of 1024.
func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fGB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fkB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}
