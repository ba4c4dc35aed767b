package testkit

import (
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

var criuCheck struct {
	once sync.Once
	why  string
}

// CRIUProblem is why CRIU cannot work on this host (the first error line
// of `criu check`), or "" when it can: the checkpoint tests run where it
// is "" (the Debian 12 guest) and skip, naming it, elsewhere.
func CRIUProblem() string {
	criuCheck.once.Do(func() {
		out, err := exec.Command("criu", "check").CombinedOutput()
		if err != nil {
			first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
			criuCheck.why = strings.TrimSpace(first + " (" + err.Error() + ")")
		}
	})
	return criuCheck.why
}

// RequireCRIU skips t where CRIU cannot work.
func RequireCRIU(t testing.TB) {
	t.Helper()
	if p := CRIUProblem(); p != "" {
		t.Skipf("CRIU cannot work on this host: %s", p)
	}
}

// CountsPast polls read (a counter inside a container) until it returns
// more than n, and returns that value; it fails t after a minute (scaled).
func CountsPast(t testing.TB, what string, n int, read func() int) int {
	t.Helper()
	var got int
	if !Poll(60*time.Second, 200*time.Millisecond, func() bool { got = read(); return got > n }) {
		t.Fatalf("%s stuck at %d (want above %d)", what, got, n)
	}
	return got
}
