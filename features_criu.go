//go:build berth_criu

package main

import (
	"os"

	"github.com/berth-runtime/berth/libcontainer/criu"
)

// featuresFromHelper leaves features to this binary: it is berth-criu.
func featuresFromHelper() (bool, error) { return false, nil }

// criuAnnotations say whether checkpoint and restore work on this host:
// runc's key (which CRI-O reads) and Berth's, with CRIU's reason when not.
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
	a["org.opencontainers.runc.checkpoint.enabled"] = ok
	a["org.berth-runtime.berth.checkpoint"] = why
	return a
}
