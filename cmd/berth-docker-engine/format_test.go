package main

import (
	"testing"
	"time"

	"github.com/berth-runtime/berth/bundle/docker"
)

func TestHumanSizeRoundsToOneDecimalInPowersOf1024(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{
		{0, "0B"},
		{1023, "1023B"},
		{1536, "1.5kB"},
		{5 << 20, "5.0MB"},
		{3 << 29, "1.5GB"},
	} {
		if got := humanSize(tc.in); got != tc.want {
			t.Errorf("humanSize(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestStatusColumnWordsEachStateAsDockerDoes(t *testing.T) {
	since := time.Now().Add(-3*time.Minute - time.Second)
	for _, tc := range []struct {
		in   docker.Status
		want string
	}{
		{docker.Status{State: docker.StateUp, Since: since}, "Up 3 minutes"},
		{docker.Status{State: docker.StatePaused, Since: since}, "Up 3 minutes (Paused)"},
		{docker.Status{State: docker.StateCreated}, "Created"},
		{docker.Status{State: docker.StateUnknown}, "Exited (unknown)"},
		{docker.Status{State: docker.StateExited, Since: since, ExitCode: 3}, "Exited (3) 3 minutes ago"},
	} {
		if got := statusColumn(tc.in); got != tc.want {
			t.Errorf("statusColumn(%+v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
