package main

import (
	"os/user"
	"testing"
)

// TestOwnerNamesLooksUpOnce: the first lookup of a uid is the passwd
// database's answer ("#uid" without an entry), later ones come from the
// cache even if the database changed.
func TestOwnerNamesLooksUpOnce(t *testing.T) {
	n := &uidNames{names: map[uint32]string{}}
	want := "#0"
	if u, err := user.LookupId("0"); err == nil {
		want = u.Username
	}
	if got := n.name(0); got != want {
		t.Errorf("name(0) = %q, want %q", got, want)
	}
	if got := n.name(4000000001); got != "#4000000001" {
		t.Errorf("a uid without an entry: %q", got)
	}
	n.names[0] = "cached"
	if got := n.name(0); got != "cached" {
		t.Errorf("second lookup of uid 0 = %q, not the cached name", got)
	}
}
