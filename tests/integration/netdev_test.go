package integration

import (
	"fmt"
	"math/rand"
	"net"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/vishvananda/netlink"
)

// linux.netDevices: a host device moves into the container's new network
// namespace under the config's name, up, with its permanent global
// address; it is the container's until the namespace goes, when the
// kernel destroys a virtual device (and a veth's peer with it).

// hostVeth makes a veth pair on the host with names unique to the test,
// the first end with 192.0.2.X/24; the pair is removed at the end if it is
// still there.
func hostVeth(t *testing.T) (string, string) {
	t.Helper()
	base := fmt.Sprintf("btn%05d", rand.Intn(100000))
	a, b := base+"a", base+"b"
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: a}, PeerName: b}); err != nil {
		t.Skipf("cannot make a veth pair on this host: %v", err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(b); err == nil {
			netlink.LinkDel(l)
		}
	})
	l, err := netlink.LinkByName(a)
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := netlink.ParseAddr(fmt.Sprintf("192.0.2.%d/24", 1+rand.Intn(250)))
	if err := netlink.AddrAdd(l, addr); err != nil {
		t.Fatal(err)
	}
	return a, addr.IP.String()
}

func hostHasLink(name string) bool {
	_, err := netlink.LinkByName(name)
	return err == nil
}

// TestNetDevicesMovedRenamedAndUp: the device is in the container as
// eth5, up, with its address; gone from the host while the container
// lives; and after delete neither end of the veth is left on the host.
func TestNetDevicesMovedRenamedAndUp(t *testing.T) {
	dev, ip := hostVeth(t)
	peer := strings.TrimSuffix(dev, "a") + "b"
	bundle := newBundle(t,
		withNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace}),
		withArgs("/bin/sh", "-c", "cat /sys/class/net/eth5/operstate /sys/class/net/eth5/flags; ip -4 addr show eth5; echo listed; exec /bin/probe sleep"),
		func(s *specs.Spec) { s.Linux.NetDevices = map[string]specs.LinuxNetDevice{dev: {Name: "eth5"}} })
	id, cr := createStarted(t, bundle)
	out := waitOutput(t, cr.StdoutPath, "listed", 10*time.Second)
	got := lines(out)
	// A veth whose peer is down reports "lowerlayerdown"; up is the
	// IFF_UP bit of flags.
	if len(got) < 2 || (got[0] != "up" && got[0] != "lowerlayerdown" && got[0] != "unknown") || !flagUp(got[1]) {
		t.Errorf("eth5 in the container: operstate/flags %q, want the device up", got)
	}
	if !strings.Contains(out, "inet "+ip+"/24") {
		t.Errorf("eth5 in the container lacks its address %s/24:\n%s", ip, out)
	}
	if hostHasLink(dev) {
		t.Errorf("%s is still on the host while the container has it", dev)
	}
	rt(t, "delete", "-f", id).ok(t)
	if !waitFor(5*time.Second, func() bool { return !hostHasLink(peer) && !hostHasLink(dev) }) {
		t.Errorf("after delete the host still has %s or %s (the container's network namespace should have taken the veth)", dev, peer)
	}
}

func flagUp(hex string) bool {
	var v uint64
	_, err := fmt.Sscanf(hex, "0x%x", &v)
	return err == nil && v&uint64(net.FlagUp) != 0
}

// TestNetDevicesRefusals: a missing host device, or a config without a
// network namespace, fails create naming the problem and leaves nothing
// behind (the host device stays the host's).
func TestNetDevicesRefusals(t *testing.T) {
	dev, _ := hostVeth(t)
	for name, c := range map[string]struct {
		mod  func(*specs.Spec)
		want string
	}{
		"missing": {func(s *specs.Spec) {
			withNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace})(s)
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"btnmissing0": {}}
		}, "btnmissing0"},
		"host-netns": {func(s *specs.Spec) {
			withoutNamespace(specs.NetworkNamespace)(s)
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{dev: {}}
		}, "needs a network namespace"},
		"bad-name": {func(s *specs.Spec) {
			withNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace})(s)
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{dev: {Name: "a/b"}}
		}, "a/b"},
	} {
		t.Run(name, func(t *testing.T) {
			id := newID(t)
			rt(t, "create", "--bundle", newBundle(t, c.mod), id).failed(t, "netDevices", c.want)
			assertCreateLeftNothing(t, id)
			if !hostHasLink(dev) {
				t.Errorf("%s left the host after a refused create", dev)
			}
		})
	}
}
