package netdev

import (
	"os"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestValidateNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		devs map[string]specs.LinuxNetDevice
		err  string // substring; "" means valid
	}{
		{"empty map", nil, ""},
		{"host name kept", map[string]specs.LinuxNetDevice{"eth1": {}}, ""},
		{"rename", map[string]specs.LinuxNetDevice{"eth1": {Name: "ctr0"}}, ""},
		{"15 bytes", map[string]specs.LinuxNetDevice{"eth1": {Name: "abcdefghijklmno"}}, ""},
		{"16 bytes", map[string]specs.LinuxNetDevice{"eth1": {Name: "abcdefghijklmnop"}}, `name "abcdefghijklmnop": interface names are at most 15 bytes`},
		{"host name 16 bytes", map[string]specs.LinuxNetDevice{"abcdefghijklmnop": {}}, `host device "abcdefghijklmnop": interface names are at most 15 bytes`},
		{"slash", map[string]specs.LinuxNetDevice{"eth1": {Name: "a/b"}}, `cannot contain '/'`},
		{"colon", map[string]specs.LinuxNetDevice{"eth1": {Name: "eth0:1"}}, `cannot contain ':'`},
		{"space", map[string]specs.LinuxNetDevice{"eth1": {Name: "a b"}}, `cannot contain ' '`},
		{"tab", map[string]specs.LinuxNetDevice{"eth1": {Name: "a\tb"}}, `cannot contain '\t'`},
		{"newline in host name", map[string]specs.LinuxNetDevice{"eth\n1": {}}, `cannot contain '\n'`},
		{"NUL", map[string]specs.LinuxNetDevice{"eth1": {Name: "a\x00b"}}, `cannot contain '\x00'`},
		{"dot", map[string]specs.LinuxNetDevice{"eth1": {Name: "."}}, `name ".": not a valid interface name`},
		{"dotdot", map[string]specs.LinuxNetDevice{"eth1": {Name: ".."}}, `not a valid interface name`},
		{"dots inside are fine", map[string]specs.LinuxNetDevice{"eth1": {Name: "vlan.10"}}, ""},
		{"template", map[string]specs.LinuxNetDevice{"eth1": {Name: "eth%d"}}, ""},
		{"template 15 bytes", map[string]specs.LinuxNetDevice{"eth1": {Name: "abcdefghijklm%d"}}, ""},
		{"template 16 bytes", map[string]specs.LinuxNetDevice{"eth1": {Name: "abcdefghijklmn%d"}}, "at most 15 bytes"},
		{"template not a suffix", map[string]specs.LinuxNetDevice{"eth1": {Name: "eth%dx"}}, `must end in "%d"`},
		{"two templates", map[string]specs.LinuxNetDevice{"eth1": {Name: "e%d%d"}}, `no other '%'`},
		{"other verb", map[string]specs.LinuxNetDevice{"eth1": {Name: "eth%s"}}, `must end in "%d"`},
		{"bare percent", map[string]specs.LinuxNetDevice{"eth1": {Name: "eth%"}}, `must end in "%d"`},
		{"template alone", map[string]specs.LinuxNetDevice{"eth1": {Name: "%d"}}, `needs a name before "%d"`},
		{"template as host name", map[string]specs.LinuxNetDevice{"eth%d": {}}, `host device "eth%d": interface names cannot contain '%'`},
		{"empty host name", map[string]specs.LinuxNetDevice{"": {Name: "x"}}, `host device "": empty interface name`},
		{"move lo", map[string]specs.LinuxNetDevice{"lo": {Name: "x"}}, `loopback device "lo" cannot be moved`},
		{"target lo", map[string]specs.LinuxNetDevice{"eth1": {Name: "lo"}}, `"eth1": name "lo" exists in every network namespace`},
		{"two renamed alike", map[string]specs.LinuxNetDevice{"eth1": {Name: "ctr0"}, "eth2": {Name: "ctr0"}}, `"eth1" and "eth2" both have the name "ctr0"`},
		{"rename onto another's kept name", map[string]specs.LinuxNetDevice{"eth1": {}, "eth2": {Name: "eth1"}}, `"eth1" and "eth2" both have the name "eth1"`},
		{"swap names", map[string]specs.LinuxNetDevice{"eth1": {Name: "eth2"}, "eth2": {Name: "eth1"}}, ""},
		{"same template twice", map[string]specs.LinuxNetDevice{"eth1": {Name: "net%d"}, "eth2": {Name: "net%d"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.devs)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.err != "" && err == nil:
				t.Fatalf("Validate accepted it, want an error containing %q", tc.err)
			case err != nil && !strings.Contains(err.Error(), tc.err):
				t.Fatalf("Validate: %v\nwant it to contain %q", err, tc.err)
			case err != nil && (!strings.HasPrefix(err.Error(), "netDevices: ") || strings.Contains(err.Error(), "\n")):
				t.Fatalf("error is not one line starting with netDevices: %q", err)
			}
		})
	}
}

func TestRelabelFollowsTheKernelsRenameRule(t *testing.T) {
	for _, tc := range []struct{ label, old, new, want string }{
		{"", "eth1", "ctr0", ""},
		{"eth1", "eth1", "ctr0", ""}, // no label: the kernel uses the device's name
		{"eth1:1", "eth1", "ctr0", "ctr0:1"},
		{"eth1:web", "eth1", "abcdefghijklmn", "abcdefghijk:web"},
		{"other", "eth1", "ctr0", "other"},
		{"eth10", "eth1", "ctr0", "eth10"}, // another device's name, not a suffix
	} {
		if got := relabel(tc.label, tc.old, tc.new); got != tc.want {
			t.Errorf("relabel(%q, %q, %q) = %q, want %q", tc.label, tc.old, tc.new, got, tc.want)
		}
		if got := relabel(tc.label, tc.old, tc.new); len(got) >= ifNameSize {
			t.Errorf("relabel(%q, %q, %q) = %q: too long for a label", tc.label, tc.old, tc.new, got)
		}
	}
}

func TestMoveOrderPutsFixedNamesBeforeTemplates(t *testing.T) {
	devs := map[string]specs.LinuxNetDevice{
		"d": {Name: "eth%d"}, "a": {Name: "eth%d"}, "c": {}, "b": {Name: "eth0"},
	}
	want := []string{"b", "c", "a", "d"}
	if got := moveOrder(devs); !slices.Equal(got, want) {
		t.Fatalf("moveOrder = %q, want %q", got, want)
	}
}

// Looking links up needs no privilege, so a missing device is checked as
// any user.
func TestCheckMissingHostDeviceNamesIt(t *testing.T) {
	err := Check(map[string]specs.LinuxNetDevice{"bdtmissing0": {Name: "ctr0"}})
	want := `netDevices: host device "bdtmissing0" not found`
	if err == nil || err.Error() != want {
		t.Fatalf("Check: %v, want %q", err, want)
	}
}

func TestMoveRefusesAnFdThatIsNotANetworkNamespace(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"/proc/self/ns/uts", "is not a network namespace"},
		{"/dev/null", "not a namespace"},
		{"/proc/thread-self/ns/net", "shares the runtime's network namespace"},
	} {
		f, err := os.Open(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		err = Move(map[string]specs.LinuxNetDevice{"bdtmissing0": {}}, int(f.Fd()))
		f.Close()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Move into %s: %v, want an error containing %q", tc.path, err, tc.want)
		}
	}
}
