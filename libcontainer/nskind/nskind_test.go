package nskind

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestTableIsComplete: every namespace type runtime-spec names is in the
// table once, with a distinct flag and proc entry, and the lookups agree.
func TestTableIsComplete(t *testing.T) {
	types := []specs.LinuxNamespaceType{specs.PIDNamespace, specs.NetworkNamespace, specs.MountNamespace,
		specs.IPCNamespace, specs.UTSNamespace, specs.UserNamespace, specs.CgroupNamespace, specs.TimeNamespace}
	if len(All) != len(types) {
		t.Fatalf("%d kinds, want %d", len(All), len(types))
	}
	flags, procs := map[uintptr]bool{}, map[string]bool{}
	for _, typ := range types {
		k, ok := ByType(typ)
		if !ok || k.Flag == 0 || k.Proc == "" || k.Own == "" {
			t.Fatalf("%s: %+v %v", typ, k, ok)
		}
		if flags[k.Flag] || procs[k.Proc] {
			t.Errorf("%s: flag or proc entry shared with another kind", typ)
		}
		flags[k.Flag], procs[k.Proc] = true, true
		if back, ok := ByFlag(k.Flag); !ok || back.Type != typ {
			t.Errorf("ByFlag(%#x) = %v, want %s", k.Flag, back.Type, typ)
		}
	}
	if _, ok := ByType("bogus"); ok || Flag("bogus") != 0 {
		t.Error("an unknown type was found")
	}
}
