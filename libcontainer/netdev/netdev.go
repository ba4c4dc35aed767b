// Package netdev moves host network devices into a container's network
// namespace, as runtime-spec's linux.netDevices asks: under the name the
// config gives, with the permanent global addresses that the move itself
// drops added back, and up. It never moves a device back: when the
// namespace goes away the kernel returns physical devices to the initial
// namespace and destroys virtual ones.
package netdev

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Check runs before anything of the container exists: Validate, then every
// host device must exist in the caller's network namespace (the host's)
// and must not be a loopback device. It changes nothing. A netns-local
// device (a bridge) passes: the kernel's refusal comes from Move, which
// leaves that device on the host.
func Check(devs map[string]specs.LinuxNetDevice) error {
	if err := Validate(devs); err != nil {
		return err
	}
	if len(devs) == 0 {
		return nil
	}
	host, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netDevices: open netlink: %w", err)
	}
	defer host.Close()
	for _, name := range sortedNames(devs) {
		if _, err := hostLink(host, name); err != nil {
			return err
		}
	}
	return nil
}

// Move moves every device of devs from the caller's network namespace into
// the one open at nsFd (for example /proc/PID/ns/net of the container's
// init, which must already be in it), then, inside it, names it, adds back
// its permanent addresses of global scope and sets it up. nsFd stays open.
//
// The caller's threads must be in the network namespace that holds the
// devices (the host's; Berth's runtime leaves it only on a locked thread
// while it forks an init), with CAP_NET_ADMIN there and over the target
// and CAP_SYS_ADMIN to enter the target: host root has them, also when the
// target belongs to the container's user namespace. Nothing may be
// creating devices in the target meanwhile (call Move before the
// container's process can run), or a name found free may be taken before
// the device gets it.
//
// Devices with a fixed name go first, then templates ("eth%d"), each group
// in the order of the host names, so a template never takes a number a
// fixed name asks for. Before the first move Move checks every host device
// (as Check) and that no fixed name exists in the target namespace, so
// those errors leave every device on the host.
//
// A failure after that names the device. Devices handled before it are in
// the target namespace, named, with their addresses and up. The failing
// one is still on the host if its move failed; else it is in the target
// namespace, down, under its new name (or, for a template whose rename
// failed, the name it was moved under, which the error gives). Nothing is
// moved back: when the runtime destroys the container's namespace on
// failure, the kernel returns physical devices to the initial namespace
// (under their container names) and destroys virtual ones, as it does
// after a normal deletion. A namespace the container joined by path
// outlives the container and keeps them.
func Move(devs map[string]specs.LinuxNetDevice, nsFd int) error {
	if err := Validate(devs); err != nil {
		return err
	}
	if len(devs) == 0 {
		return nil
	}
	if err := checkTargetNS(nsFd); err != nil {
		return err
	}
	host, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netDevices: open netlink: %w", err)
	}
	defer host.Close()
	// The handle's socket is made inside the namespace (netlink does the
	// setns on a locked thread and returns it), so every later request
	// runs there whatever thread sends it.
	ns, err := netlink.NewHandleAt(netns.NsHandle(nsFd), unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netDevices: open netlink in the container's network namespace: %w", err)
	}
	defer ns.Close()

	order := moveOrder(devs)
	for _, name := range order {
		if _, err := hostLink(host, name); err != nil {
			return err
		}
		target := targetName(name, devs[name])
		if isTemplate(target) {
			continue
		}
		taken, err := exists(ns, target)
		if err != nil {
			return fmt.Errorf("netDevices: %q: look up %q in the container's network namespace: %w", name, target, err)
		}
		if taken {
			return fmt.Errorf("netDevices: cannot move %q: a device named %q already exists in the container's network namespace", name, target)
		}
	}
	for _, name := range order {
		if err := moveOne(host, ns, nsFd, name, targetName(name, devs[name])); err != nil {
			return err
		}
	}
	return nil
}

// moveOrder is the host names with fixed targets first, then templates,
// each sorted.
func moveOrder(devs map[string]specs.LinuxNetDevice) []string {
	var fixed, templated []string
	for _, name := range sortedNames(devs) {
		if isTemplate(targetName(name, devs[name])) {
			templated = append(templated, name)
		} else {
			fixed = append(fixed, name)
		}
	}
	return append(fixed, templated...)
}

// checkTargetNS refuses an fd that is not a network namespace, or is the
// caller's own: "moving" there would only rename a host device, which
// then stays on the host after the container is gone.
func checkTargetNS(nsFd int) error {
	t, err := unix.IoctlRetInt(nsFd, unix.NS_GET_NSTYPE)
	if err != nil {
		return fmt.Errorf("netDevices: fd %d: not a namespace: %w", nsFd, err)
	}
	if t != unix.CLONE_NEWNET {
		return fmt.Errorf("netDevices: fd %d is not a network namespace", nsFd)
	}
	var target, own unix.Stat_t
	if err := unix.Fstat(nsFd, &target); err != nil {
		return fmt.Errorf("netDevices: stat fd %d: %w", nsFd, err)
	}
	if err := unix.Stat("/proc/thread-self/ns/net", &own); err != nil {
		return fmt.Errorf("netDevices: stat own network namespace: %w", err)
	}
	if target.Dev == own.Dev && target.Ino == own.Ino {
		return errors.New("netDevices: the container shares the runtime's network namespace: there is nowhere to move devices to")
	}
	return nil
}

// hostLink finds a device to move; the error is the one line a user acts on.
func hostLink(host *netlink.Handle, name string) (netlink.Link, error) {
	l, err := host.LinkByName(name)
	if errors.As(err, &netlink.LinkNotFoundError{}) {
		return nil, fmt.Errorf("netDevices: host device %q not found", name)
	}
	if err != nil {
		return nil, fmt.Errorf("netDevices: look up host device %q: %w", name, err)
	}
	if l.Attrs().Flags&net.FlagLoopback != 0 {
		return nil, fmt.Errorf("netDevices: host device %q is a loopback device, which cannot be moved", name)
	}
	return l, nil
}

func exists(h *netlink.Handle, name string) (bool, error) {
	_, err := h.LinkByName(name)
	if errors.As(err, &netlink.LinkNotFoundError{}) {
		return false, nil
	}
	return err == nil, err
}

func moveOne(host, ns *netlink.Handle, nsFd int, name, target string) error {
	link, err := hostLink(host, name)
	if err != nil {
		return err
	}
	// Read before the move: the kernel drops every address of a device
	// that changes namespace.
	addrs, err := keptAddrs(host, link)
	if err != nil {
		return fmt.Errorf("netDevices: %q: list addresses: %w", name, err)
	}
	// A template's final name is known only after the kernel has picked
	// it, so the device travels under a name we can find it by, then
	// takes the template inside (rename keeps the index; a move may not).
	moveName := target
	if isTemplate(target) {
		if moveName, err = freeName(ns, name); err != nil {
			return fmt.Errorf("netDevices: %q: %w", name, err)
		}
	}
	if err := setNSAndName(link.Attrs().Index, moveName, nsFd); err != nil {
		hint := ""
		if errors.Is(err, unix.EINVAL) {
			// What a netns-local device (a bridge, say) gets; Check
			// cannot see that flag through netlink on every kernel.
			hint = " (the kernel does not move netns-local devices such as bridges)"
		}
		return fmt.Errorf("netDevices: move %q into the container's network namespace as %q: %w%s", name, moveName, err, hint)
	}
	moved, err := ns.LinkByName(moveName)
	if err != nil {
		return fmt.Errorf("netDevices: %q: find it as %q in the container's network namespace: %w", name, moveName, err)
	}
	if isTemplate(target) {
		if err := ns.LinkSetName(moved, target); err != nil {
			return fmt.Errorf("netDevices: %q: rename to %q in the container's network namespace: %w", name, target, err)
		}
		if moved, err = ns.LinkByIndex(moved.Attrs().Index); err != nil {
			return fmt.Errorf("netDevices: %q: find it after renaming to %q: %w", name, target, err)
		}
	}
	final := moved.Attrs().Name
	for _, a := range addrs {
		a := readdable(a, name, final)
		if err := ns.AddrAdd(moved, &a); err != nil {
			return fmt.Errorf("netDevices: %q (%q in the container): add address %s: %w", name, final, a.IPNet, err)
		}
	}
	if err := ns.LinkSetUp(moved); err != nil {
		return fmt.Errorf("netDevices: %q (%q in the container): set up: %w", name, final, err)
	}
	return nil
}

// setNSAndName moves a device and names it in one request, so it never
// sits in the target namespace under its host name (which may be taken
// there). A recent kernel (6.18 here) refuses a name taken in the target
// before it moves anything; older ones may move first and then fail the
// rename, which is one reason Move checks the names itself beforehand.
func setNSAndName(index int, name string, nsFd int) error {
	req := nl.NewNetlinkRequest(unix.RTM_SETLINK, unix.NLM_F_ACK)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(index)
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(name)))
	req.AddData(nl.NewRtAttr(unix.IFLA_NET_NS_FD, nl.Uint32Attr(uint32(nsFd))))
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// freeName is the name a template's device travels under: its host name
// if that is free in the target namespace, else a random one.
func freeName(ns *netlink.Handle, host string) (string, error) {
	name := host
	for range 8 {
		taken, err := exists(ns, name)
		if err != nil {
			return "", fmt.Errorf("look up %q in the container's network namespace: %w", name, err)
		}
		if !taken {
			return name, nil
		}
		name = fmt.Sprintf("bnd%012x", rand.Uint64()&(1<<48-1))
	}
	return "", errors.New("no free temporary name in the container's network namespace")
}

// keptAddrs lists the addresses runtime-spec says survive the move:
// permanent (IFA_F_PERMANENT) with global scope (RT_SCOPE_UNIVERSE), of
// any family. A dump interrupted by a concurrent change may be incomplete,
// so it is read again.
func keptAddrs(h *netlink.Handle, link netlink.Link) ([]netlink.Addr, error) {
	var all []netlink.Addr
	var err error
	for range 5 {
		all, err = h.AddrList(link, netlink.FAMILY_ALL)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	var kept []netlink.Addr
	for _, a := range all {
		if a.IPNet != nil && a.Flags&unix.IFA_F_PERMANENT != 0 && a.Scope == unix.RT_SCOPE_UNIVERSE {
			kept = append(kept, a)
		}
	}
	return kept, nil
}

// settableFlags are the address flags RTM_NEWADDR takes as configuration;
// the others (permanent, secondary, tentative, deprecated, ...) are state
// the kernel derives again.
const settableFlags = unix.IFA_F_NODAD | unix.IFA_F_HOMEADDRESS | unix.IFA_F_MANAGETEMPADDR |
	unix.IFA_F_NOPREFIXROUTE | unix.IFA_F_MCAUTOJOIN

// readdable is a as it must be added on the renamed device: configuration
// flags only, lifetimes kept (a permanent address is valid forever but may
// have a finite preferred lifetime), and the IPv4 label renamed as the
// kernel renames labels when a device is renamed in place.
func readdable(a netlink.Addr, oldName, newName string) netlink.Addr {
	b := netlink.Addr{
		IPNet:       a.IPNet,
		Peer:        a.Peer,
		Broadcast:   a.Broadcast,
		Scope:       a.Scope,
		Flags:       a.Flags & settableFlags,
		ValidLft:    a.ValidLft,
		PreferedLft: a.PreferedLft,
		Label:       relabel(a.Label, oldName, newName),
	}
	// netlink computes a broadcast address when none is given; an address
	// that had none must stay without (IPv4zero means "none" to it).
	if a.IP.To4() != nil && a.Broadcast == nil {
		b.Broadcast = net.IPv4zero
	}
	return b
}

// relabel follows the kernel's inetdev_changename: a label that is the
// device name becomes the new name, "old:suffix" becomes "new:suffix"
// (the name cut so the suffix fits), and any other label is kept.
func relabel(label, oldName, newName string) string {
	if label == oldName {
		return ""
	}
	suffix, ok := strings.CutPrefix(label, oldName)
	if !ok || !strings.HasPrefix(suffix, ":") {
		return label
	}
	if len(newName)+len(suffix) >= ifNameSize {
		newName = newName[:ifNameSize-1-len(suffix)]
	}
	return newName + suffix
}
