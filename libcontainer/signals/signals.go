// Package signals converts between the signal names users type (for example
// on "berth kill") and Linux signal numbers.
//
// Parsing accepts everything runc's kill accepts for signals 1 through 64,
// plus the real-time names (SIGRTMIN+n, SIGRTMAX-n) that "kill -l" prints,
// so that orchestrators sending e.g. SIGRTMIN+3 to systemd work unchanged.
package signals

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const (
	// maxSignal is the kernel's _NSIG on every architecture except MIPS;
	// kill(2) rejects anything larger, so failing here gives a clearer error.
	maxSignal = 64

	// rtMin is glibc's SIGRTMIN rather than the kernel's 32: glibc keeps 32
	// and 33 for its threading library, and bash, util-linux and Docker all
	// count RTMIN from 34, so that is what "SIGRTMIN+3" means to users.
	rtMin = 34
	rtMax = maxSignal
)

// Parse returns the signal named by s.
//
// s may be a decimal number from 1 to 64, or a name with or without the
// "SIG" prefix in any letter case, such as "KILL", "SIGkill", "SIGRTMIN+3"
// or "RTMAX-2". The traditional aliases IOT, CLD and POLL are accepted too.
// Any other input yields the error `unknown signal "<s>"`, which is runc's
// wording, with s quoted as given.
func Parse(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > maxSignal { // 0 probes that the process exists
			return 0, unknown(s)
		}
		return unix.Signal(n), nil
	}
	// Folding only ASCII keeps look-alikes such as "ſigkill" (long s, which
	// strings.ToUpper maps to 'S') from being taken for real names.
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return 0, unknown(s)
		}
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if sig := lookup(name); sig != 0 {
		return sig, nil
	}
	return 0, unknown(s)
}

// unknown builds the single error Parse returns, so callers and tests can
// rely on its exact text.
func unknown(s string) error {
	return fmt.Errorf("unknown signal %q", s)
}

// lookup resolves an upper-case name without its "SIG" prefix, returning 0
// when it names no signal.
func lookup(name string) unix.Signal {
	switch name {
	case "IOT":
		return unix.SIGIOT
	case "CLD":
		return unix.SIGCLD
	case "POLL":
		return unix.SIGPOLL
	case "RTMIN":
		return rtMin
	case "RTMAX":
		return rtMax
	}
	if off, ok := strings.CutPrefix(name, "RTMIN+"); ok {
		if n, ok := offset(off); ok {
			return rtMin + unix.Signal(n)
		}
		return 0
	}
	if off, ok := strings.CutPrefix(name, "RTMAX-"); ok {
		if n, ok := offset(off); ok {
			return rtMax - unix.Signal(n)
		}
		return 0
	}
	return unix.SignalNum("SIG" + name)
}

// offset parses the n of RTMIN+n or RTMAX-n. Only plain digits are allowed
// because strconv.Atoi would also take a sign, letting "RTMIN+-2" through.
func offset(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n <= rtMax-rtMin
}

// Name returns the conventional name of sig, as "kill -l" prints it:
// "SIGKILL", "SIGRTMIN+3", "SIGRTMAX-2".
//
// Numbers with no name (32 and 33, which glibc reserves, and anything out of
// range) come back in decimal. For every signal Parse accepts, Parse(Name(sig))
// returns sig.
func Name(sig unix.Signal) string {
	if n := unix.SignalName(sig); n != "" {
		return n
	}
	switch {
	case sig == rtMin:
		return "SIGRTMIN"
	case sig == rtMax:
		return "SIGRTMAX"
	// Like bash, name the lower half from RTMIN and the upper half from
	// RTMAX so that the offsets stay small and match "kill -l" exactly.
	case sig > rtMin && sig <= rtMin+(rtMax-rtMin)/2:
		return "SIGRTMIN+" + strconv.Itoa(int(sig-rtMin))
	case sig > rtMin+(rtMax-rtMin)/2 && sig < rtMax:
		return "SIGRTMAX-" + strconv.Itoa(int(rtMax-sig))
	}
	return strconv.Itoa(int(sig))
}
