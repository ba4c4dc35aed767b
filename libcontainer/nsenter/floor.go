//go:build berth_kernel_floor

package nsenter

// The floor build (libcontainer/kernel) leaves the C stages' newer kernel
// APIs untried too, so that their fallbacks run in the tests.

// #cgo CFLAGS: -DBERTH_KERNEL_FLOOR
import "C"
