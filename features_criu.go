//go:build berth_criu

package main

import (
	"os"

	"github.com/berth-runtime/berth/libcontainer/criu"
)

// criuAnnotations say whether checkpoint and restore work on this host,
// with CRIU's reason when not.
func criuAnnotations(a map[string]string) map[string]string {
	ok, why := "true", "yes"
	dir, err := os.MkdirTemp("", "berth-features-")
	if err == nil {
		err = criu.Check(dir)
		os.RemoveAll(dir)
	}
	if err != nil {
		ok, why = "false", "no: "+err.Error()
	}
	a[checkpointEnabledKey] = ok
	a[checkpointBerthKey] = why
	return a
}
