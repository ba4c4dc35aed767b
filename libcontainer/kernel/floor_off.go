//go:build !berth_kernel_floor

package kernel

// floorDisabled is empty in a normal build: every feature is tried.
var floorDisabled []Feature
