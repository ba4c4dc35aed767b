package netdev

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The root tests move veth ends: the kernels Berth is tested on do not all
// build the dummy driver (this one does not), and every container host has
// veth. The peer stays on the host, so deleting it removes both ends
// wherever the moved one is.

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN on the host, CAP_SYS_ADMIN for a network namespace)")
	}
}

// linkPrefix is a per-test prefix for every host link the test makes, and
// registers (first, so it runs last) the check that none is left.
func linkPrefix(t *testing.T) string {
	t.Helper()
	p := fmt.Sprintf("bdt%05x", rand.Uint32()&0xfffff)
	t.Cleanup(func() {
		links, err := netlink.LinkList()
		if err != nil {
			t.Errorf("leak check: list host links: %v", err)
			return
		}
		for _, l := range links {
			if strings.HasPrefix(l.Attrs().Name, p) {
				t.Errorf("leak check: host link %q left behind", l.Attrs().Name)
			}
		}
	})
	return p
}

// newNetns makes an unnamed network namespace (no file under /run/netns to
// remove), returning the calling thread to its own first; closing the
// handle at cleanup frees it.
func newNetns(t *testing.T) netns.NsHandle {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatalf("get own network namespace: %v", err)
	}
	defer orig.Close()
	ns, newErr := netns.New()
	if err := netns.Set(orig); err != nil {
		// A second lock outlives the deferred unlock: the thread, maybe
		// still in the new namespace, dies with the test's goroutine
		// instead of running other goroutines there.
		runtime.LockOSThread()
		t.Fatalf("return to own network namespace: %v", err)
	}
	if newErr != nil {
		t.Fatalf("new network namespace: %v", newErr)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

func handleAt(t *testing.T, ns netns.NsHandle) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatalf("netlink handle in the test namespace: %v", err)
	}
	t.Cleanup(h.Close)
	return h
}

// newVeth makes name on the host with its peer name+"p", both removed at
// cleanup (deleting the peer takes the other end from whichever namespace
// it is in).
func newVeth(t *testing.T, h *netlink.Handle, name string) netlink.Link {
	t.Helper()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: 1400}, PeerName: name + "p"}
	if err := h.LinkAdd(v); err != nil {
		t.Fatalf("add veth %s: %v", name, err)
	}
	t.Cleanup(func() {
		for _, n := range []string{name + "p", name} {
			if l, err := h.LinkByName(n); err == nil {
				if err := h.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
					t.Errorf("delete %s: %v", n, err)
				}
			}
		}
	})
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatalf("find veth %s: %v", name, err)
	}
	return l
}

// env is what a root test works with: its link prefix (checked for
// leftovers at the end), a fresh network namespace standing for the
// container's, and netlink handles on both sides.
type env struct {
	prefix     string
	ns         netns.NsHandle
	host, inNS *netlink.Handle
}

func newEnv(t *testing.T) env {
	t.Helper()
	requireRoot(t)
	e := env{prefix: linkPrefix(t), ns: newNetns(t)}
	e.host, e.inNS = hostHandle(t), handleAt(t, e.ns)
	return e
}

// addInNS makes a veth pair inside the namespace; both ends go with it.
func (e env) addInNS(t *testing.T, name string) int {
	t.Helper()
	if err := e.inNS.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: "q" + name}); err != nil {
		t.Fatalf("add %s in the namespace: %v", name, err)
	}
	return mustLink(t, e.inNS, name, "the namespace").Attrs().Index
}

func hostHandle(t *testing.T) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandle()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func addAddr(t *testing.T, h *netlink.Handle, l netlink.Link, a *netlink.Addr) {
	t.Helper()
	if err := h.AddrAdd(l, a); err != nil {
		t.Fatalf("add %s to %s: %v", a.IPNet, l.Attrs().Name, err)
	}
}

func mustAddr(t *testing.T, s string) *netlink.Addr {
	t.Helper()
	a, err := netlink.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func assertGone(t *testing.T, h *netlink.Handle, name, where string) {
	t.Helper()
	if _, err := h.LinkByName(name); !errors.As(err, &netlink.LinkNotFoundError{}) {
		t.Errorf("%s still has %q (lookup: %v)", where, name, err)
	}
}

func mustLink(t *testing.T, h *netlink.Handle, name, where string) netlink.Link {
	t.Helper()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatalf("%s has no %q: %v", where, name, err)
	}
	return l
}

func assertUp(t *testing.T, l netlink.Link) {
	t.Helper()
	if l.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("%q is not up (flags %v)", l.Attrs().Name, l.Attrs().Flags)
	}
}

// globalAddrs is "ip/len label brd X" for every address of scope global on l.
func globalAddrs(t *testing.T, h *netlink.Handle, l netlink.Link) []string {
	t.Helper()
	all, err := h.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatalf("list addresses of %q: %v", l.Attrs().Name, err)
	}
	var out []string
	for _, a := range all {
		if a.Scope != unix.RT_SCOPE_UNIVERSE {
			continue
		}
		s := a.IPNet.String()
		if a.IP.To4() != nil {
			s += fmt.Sprintf(" label %s brd %v", a.Label, a.Broadcast)
		}
		if a.Flags&unix.IFA_F_PERMANENT == 0 {
			s += " dynamic"
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func hasAddr(t *testing.T, h *netlink.Handle, l netlink.Link, cidr string) bool {
	t.Helper()
	all, err := h.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatalf("list addresses of %q: %v", l.Attrs().Name, err)
	}
	for _, a := range all {
		if a.IPNet.String() == cidr {
			return true
		}
	}
	return false
}

func TestMoveRenamesAndKeepsOnlyPermanentGlobalAddresses(t *testing.T) {
	e := newEnv(t)
	dev := e.prefix + "a"
	l := newVeth(t, e.host, dev)

	addAddr(t, e.host, l, mustAddr(t, "192.0.2.10/24"))             // broadcast computed by netlink
	addAddr(t, e.host, l, mustAddr(t, "192.0.2.11/24 "+dev+":web")) // secondary, labelled
	addAddr(t, e.host, l, &netlink.Addr{IPNet: mustAddr(t, "198.51.100.5/24").IPNet, Broadcast: net.IPv4zero})
	addAddr(t, e.host, l, &netlink.Addr{IPNet: mustAddr(t, "169.254.7.7/16").IPNet, Scope: unix.RT_SCOPE_LINK})
	addAddr(t, e.host, l, mustAddr(t, "2001:db8:7::10/64"))
	addAddr(t, e.host, l, mustAddr(t, "fe80::7/64")) // link scope
	addAddr(t, e.host, l, &netlink.Addr{IPNet: mustAddr(t, "2001:db8:8::10/64").IPNet, ValidLft: 3600, PreferedLft: 1800})
	if got := globalAddrs(t, e.host, l); !slices.Contains(got, "2001:db8:8::10/64 dynamic") {
		t.Fatalf("setup: the address with a lifetime should not be permanent: %q", got)
	}
	mac := l.Attrs().HardwareAddr.String()

	if err := Check(map[string]specs.LinuxNetDevice{dev: {Name: "ctr0"}}); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if err := Move(map[string]specs.LinuxNetDevice{dev: {Name: "ctr0"}}, int(e.ns)); err != nil {
		t.Fatalf("Move: %v", err)
	}

	assertGone(t, e.host, dev, "the host")
	assertGone(t, e.inNS, dev, "the namespace")
	moved := mustLink(t, e.inNS, "ctr0", "the namespace")
	assertUp(t, moved)
	if moved.Attrs().MTU != 1400 || moved.Attrs().HardwareAddr.String() != mac {
		t.Errorf("attributes not kept: mtu %d mac %s, want 1400 %s", moved.Attrs().MTU, moved.Attrs().HardwareAddr, mac)
	}
	want := []string{
		"192.0.2.10/24 label ctr0 brd 192.0.2.255",
		"192.0.2.11/24 label ctr0:web brd 192.0.2.255",
		"198.51.100.5/24 label ctr0 brd <nil>",
		"2001:db8:7::10/64",
	}
	if got := globalAddrs(t, e.inNS, moved); !slices.Equal(got, want) {
		t.Errorf("global addresses in the namespace:\n got %q\nwant %q", got, want)
	}
	for _, a := range []string{"169.254.7.7/16", "fe80::7/64"} {
		if hasAddr(t, e.inNS, moved, a) {
			t.Errorf("link-scope %s was carried over", a)
		}
	}
}

func TestMoveRefusesANameTakenInTheNamespaceAndMovesNothing(t *testing.T) {
	e := newEnv(t)
	before := e.addInNS(t, "ctr0")
	a, b := e.prefix+"a", e.prefix+"b"
	la := newVeth(t, e.host, a)
	newVeth(t, e.host, b)
	addAddr(t, e.host, la, mustAddr(t, "192.0.2.20/24"))

	// a sorts first: a check made device by device would have moved it.
	err := Move(map[string]specs.LinuxNetDevice{a: {Name: "x0"}, b: {Name: "ctr0"}}, int(e.ns))
	want := fmt.Sprintf(`netDevices: cannot move %q: a device named "ctr0" already exists in the container's network namespace`, b)
	if err == nil || err.Error() != want {
		t.Fatalf("Move: %v\nwant %q", err, want)
	}
	// Both stay on the host as they were.
	la = mustLink(t, e.host, a, "the host")
	mustLink(t, e.host, b, "the host")
	if !hasAddr(t, e.host, la, "192.0.2.20/24") {
		t.Errorf("%s lost its address", a)
	}
	assertGone(t, e.inNS, "x0", "the namespace")
	if got := mustLink(t, e.inNS, "ctr0", "the namespace").Attrs().Index; got != before {
		t.Errorf("the namespace's own ctr0 changed: index %d, was %d", got, before)
	}
}

func TestMoveWithAMissingHostDeviceMovesNothing(t *testing.T) {
	e := newEnv(t)
	a, missing := e.prefix+"a", e.prefix+"z"
	newVeth(t, e.host, a)
	err := Move(map[string]specs.LinuxNetDevice{a: {}, missing: {}}, int(e.ns))
	want := fmt.Sprintf("netDevices: host device %q not found", missing)
	if err == nil || err.Error() != want {
		t.Fatalf("Move: %v\nwant %q", err, want)
	}
	mustLink(t, e.host, a, "the host")
	assertGone(t, e.inNS, a, "the namespace")
}

func TestMoveTemplateTakesTheLowestFreeNumberAfterFixedNames(t *testing.T) {
	e := newEnv(t)
	a, b := e.prefix+"a", e.prefix+"b"
	// eth0 is taken, and so is a's own host name: a cannot travel under
	// it and must take a temporary one.
	e.addInNS(t, "eth0")
	e.addInNS(t, a)
	la := newVeth(t, e.host, a)
	newVeth(t, e.host, b)
	addAddr(t, e.host, la, mustAddr(t, "192.0.2.30/24 "+a+":1"))
	addAddr(t, e.host, la, mustAddr(t, "2001:db8:30::1/64"))

	// a sorts first but has a template: b's fixed eth1 is placed first,
	// so a gets eth2, not eth1.
	devs := map[string]specs.LinuxNetDevice{a: {Name: "eth%d"}, b: {Name: "eth1"}}
	if err := Check(devs); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if err := Move(devs, int(e.ns)); err != nil {
		t.Fatalf("Move: %v", err)
	}
	assertGone(t, e.host, a, "the host")
	assertGone(t, e.host, b, "the host")
	assertUp(t, mustLink(t, e.inNS, "eth1", "the namespace"))
	eth2 := mustLink(t, e.inNS, "eth2", "the namespace")
	assertUp(t, eth2)
	want := []string{"192.0.2.30/24 label eth2:1 brd 192.0.2.255", "2001:db8:30::1/64"}
	if got := globalAddrs(t, e.inNS, eth2); !slices.Equal(got, want) {
		t.Errorf("eth2's global addresses:\n got %q\nwant %q", got, want)
	}
	links, err := e.inNS.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, "bnd") {
			t.Errorf("temporary name %q left in the namespace", l.Attrs().Name)
		}
	}
}

func TestCheckAcceptsAHostDeviceAndRefusesLoopback(t *testing.T) {
	e := newEnv(t)
	a := e.prefix + "a"
	newVeth(t, e.host, a)
	if err := Check(map[string]specs.LinuxNetDevice{a: {Name: "eth%d"}}); err != nil {
		t.Fatalf("Check: %v", err)
	}
	err := Check(map[string]specs.LinuxNetDevice{a: {}, "lo": {Name: "lo0"}})
	if err == nil || !strings.Contains(err.Error(), `loopback device "lo"`) {
		t.Fatalf("Check with lo: %v", err)
	}
}

// A bridge is netns-local: Check cannot tell, the move fails and the
// bridge stays where it was.
func TestMoveOfANetnsLocalDeviceFailsAndLeavesItOnTheHost(t *testing.T) {
	e := newEnv(t)
	br := e.prefix + "br"
	if err := e.host.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: br}}); err != nil {
		t.Skipf("no bridge driver: %v", err)
	}
	t.Cleanup(func() {
		if l, err := e.host.LinkByName(br); err == nil {
			if err := e.host.LinkDel(l); err != nil {
				t.Errorf("delete %s: %v", br, err)
			}
		}
	})
	err := Move(map[string]specs.LinuxNetDevice{br: {Name: "br0"}}, int(e.ns))
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("move %q", br)) || !strings.Contains(err.Error(), "netns-local") {
		t.Fatalf("Move of a bridge: %v", err)
	}
	mustLink(t, e.host, br, "the host")
	assertGone(t, e.inNS, "br0", "the namespace")
}
