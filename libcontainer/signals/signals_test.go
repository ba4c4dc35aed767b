package signals

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestParseZero: 0 is the "does it exist" probe runc's kill accepts.
func TestParseZero(t *testing.T) {
	if sig, err := Parse("0"); err != nil || sig != 0 {
		t.Errorf(`Parse("0") = %v, %v; want 0, nil`, sig, err)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want unix.Signal // 0 means Parse must fail
	}{
		// Numbers, as runc accepts them.
		{"1", unix.SIGHUP}, {"9", unix.SIGKILL}, {"15", unix.SIGTERM},
		{"32", 32}, {"33", 33}, {"64", 64}, {"+9", 9}, {"09", 9},
		{"65", 0}, {"-1", 0}, {"-9", 0}, {"99999999999999999999", 0},
		{" 9", 0}, {"9 ", 0}, {"0x9", 0},

		// Names in every spelling runc accepts.
		{"KILL", unix.SIGKILL}, {"SIGKILL", unix.SIGKILL}, {"kill", unix.SIGKILL},
		{"sigkill", unix.SIGKILL}, {"SigKill", unix.SIGKILL}, {"TERM", unix.SIGTERM},
		{"SIGWINCH", unix.SIGWINCH}, {"usr1", unix.SIGUSR1}, {"SIGSTKFLT", unix.SIGSTKFLT},

		// Aliases glibc defines.
		{"IOT", unix.SIGABRT}, {"SIGCLD", unix.SIGCHLD}, {"poll", unix.SIGIO},

		// Real-time names.
		{"SIGRTMIN", 34}, {"RTMIN", 34}, {"rtmin", 34}, {"SIGRTMIN+3", 37},
		{"sigrtmin+3", 37}, {"RTMIN+0", 34}, {"RTMIN+30", 64}, {"RTMIN+030", 64},
		{"SIGRTMAX", 64}, {"RTMAX-2", 62}, {"RTMAX-0", 64}, {"RTMAX-30", 34},
		{"RTMIN+31", 0}, {"RTMAX-31", 0}, {"RTMIN+", 0}, {"RTMAX-", 0},
		{"RTMIN+-2", 0}, {"RTMIN++2", 0}, {"RTMIN-1", 0}, {"RTMAX+1", 0},
		{"RTMIN+1x", 0}, {"RTMIN+0001", 35}, {"RTMIN+99999999999999999999", 0}, {"RTMIN 3", 0},

		// Nonsense.
		{"", 0}, {"SIG", 0}, {"FOO", 0}, {"SIGFOO", 0}, {"SIGSIGKILL", 0},
		{"SIG9", 0}, {"KILL ", 0}, {"ſigkill", 0}, {"sıgkıll", 0},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.want == 0 {
			want := fmt.Sprintf("unknown signal %q", tt.in)
			if err == nil || err.Error() != want {
				t.Errorf("Parse(%q) = %d, %v; want error %s", tt.in, got, err, want)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

// TestParseErrorText pins runc's wording, which scripts match on.
func TestParseErrorText(t *testing.T) {
	_, err := Parse("FOO")
	if err == nil || err.Error() != `unknown signal "FOO"` {
		t.Fatalf("Parse(FOO) error = %v", err)
	}
}

func TestName(t *testing.T) {
	tests := []struct {
		in   unix.Signal
		want string
	}{
		{unix.SIGKILL, "SIGKILL"}, {unix.SIGTERM, "SIGTERM"}, {unix.SIGIOT, "SIGABRT"},
		{32, "32"}, {33, "33"}, {34, "SIGRTMIN"}, {37, "SIGRTMIN+3"}, {49, "SIGRTMIN+15"},
		{50, "SIGRTMAX-14"}, {62, "SIGRTMAX-2"}, {64, "SIGRTMAX"},
		{0, "0"}, {65, "65"}, {-1, "-1"},
	}
	for _, tt := range tests {
		if got := Name(tt.in); got != tt.want {
			t.Errorf("Name(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNameMatchesKillL(t *testing.T) {
	// killL is bash's "kill -l" listing on Linux/amd64, which Name must
	// reproduce so that berth's output reads like every other tool's.
	killL := map[unix.Signal]string{
		1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP",
		6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1",
		11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM",
		16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP",
		21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG", 24: "SIGXCPU", 25: "SIGXFSZ",
		26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO", 30: "SIGPWR",
		31: "SIGSYS", 34: "SIGRTMIN", 35: "SIGRTMIN+1", 36: "SIGRTMIN+2", 37: "SIGRTMIN+3",
		38: "SIGRTMIN+4", 39: "SIGRTMIN+5", 40: "SIGRTMIN+6", 41: "SIGRTMIN+7", 42: "SIGRTMIN+8",
		43: "SIGRTMIN+9", 44: "SIGRTMIN+10", 45: "SIGRTMIN+11", 46: "SIGRTMIN+12", 47: "SIGRTMIN+13",
		48: "SIGRTMIN+14", 49: "SIGRTMIN+15", 50: "SIGRTMAX-14", 51: "SIGRTMAX-13", 52: "SIGRTMAX-12",
		53: "SIGRTMAX-11", 54: "SIGRTMAX-10", 55: "SIGRTMAX-9", 56: "SIGRTMAX-8", 57: "SIGRTMAX-7",
		58: "SIGRTMAX-6", 59: "SIGRTMAX-5", 60: "SIGRTMAX-4", 61: "SIGRTMAX-3", 62: "SIGRTMAX-2",
		63: "SIGRTMAX-1", 64: "SIGRTMAX",
	}
	for sig, want := range killL {
		if got := Name(sig); got != want {
			t.Errorf("Name(%d) = %q, kill -l says %q", sig, got, want)
		}
	}
}

// TestRoundTrip covers every accepted number, in every spelling Parse
// allows, so no signal is left that Name prints but Parse rejects.
func TestRoundTrip(t *testing.T) {
	for sig := unix.Signal(1); sig <= 64; sig++ {
		name := Name(sig)
		for _, s := range []string{name, strings.ToLower(name), strings.TrimPrefix(name, "SIG")} {
			if got, err := Parse(s); err != nil || got != sig {
				t.Errorf("Parse(%q) = %d, %v; want %d (from Name(%d))", s, got, err, sig, sig)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "0", "9", "64", "65", "-1", "+9", "KILL", "SIGKILL", "kill", "SIGRTMIN+3",
		"RTMAX-2", "RTMIN+", "RTMIN+-1", "SIG", "FOO", "ſigkill", "IOT", "sigcld",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sig, err := Parse(s)
		if err != nil {
			if want := fmt.Sprintf("unknown signal %q", s); err.Error() != want {
				t.Fatalf("Parse(%q) error %q, want %q", s, err, want)
			}
			return
		}
		if sig < 0 || sig > 64 {
			t.Fatalf("Parse(%q) = %d, outside 0..64", s, sig)
		}
		name := Name(sig)
		back, err := Parse(name)
		if err != nil || back != sig {
			t.Fatalf("Parse(%q) = %d, but Parse(Name(%d) = %q) = %d, %v", s, sig, sig, name, back, err)
		}
	})
}
