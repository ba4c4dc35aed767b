package podmantest

import (
	"strings"
	"testing"
)

// TestExec runs `podman exec` (conmon calls the runtime's exec with
// --process and --detach) into one running container.
func TestExec(t *testing.T) {
	t.Parallel()
	id := runDetached(t, nil, "sleep", "1000")
	t.Run("OutputAndExitCode", func(t *testing.T) {
		r := podman(t, "exec", id, "sh", "-c", "echo from-exec; exit 9")
		if r.Code != 9 || r.Out != "from-exec\n" {
			t.Errorf("got %s; want from-exec and exit 9", r)
		}
		if !shim.Called("--log-format=json", "exec", "--process", "--detach", id) {
			t.Errorf("no `exec --process ... --detach %s` in the shim log", id)
		}
	})
	t.Run("MissingCommandExits127", func(t *testing.T) {
		r := podman(t, "exec", id, "no-such-command")
		if r.Code != 127 || !strings.Contains(r.Err, "executable file not found") {
			t.Errorf("got %s; want exit 127", r)
		}
	})
	t.Run("User", func(t *testing.T) {
		r := podman(t, "exec", "-u", "1000:1000", id, "sh", "-c", "id -u; id -g")
		if r.Code != 0 || r.Out != "1000\n1000\n" {
			t.Errorf("got %s", r)
		}
	})
	t.Run("Workdir", func(t *testing.T) {
		r := podman(t, "exec", "-w", "/home/user", id, "pwd")
		if r.Code != 0 || r.Out != "/home/user\n" {
			t.Errorf("got %s", r)
		}
	})
	t.Run("Env", func(t *testing.T) {
		r := podman(t, "exec", "-e", "EXEC_VAR=exec value", id, "sh", "-c", `echo "$EXEC_VAR"`)
		if r.Code != 0 || r.Out != "exec value\n" {
			t.Errorf("got %s", r)
		}
	})
	t.Run("Terminal", func(t *testing.T) {
		r := podman(t, "exec", "-t", id, "sh", "-c", "tty; test -t 1 && echo stdout-is-a-tty")
		// A terminal turns \n into \r\n.
		if r.Code != 0 || !strings.HasPrefix(r.Out, "/dev/pts/") || !strings.Contains(r.Out, "\r\nstdout-is-a-tty\r\n") {
			t.Errorf("got %s; want a pty", r)
		}
	})
	t.Run("Stdin", func(t *testing.T) {
		r := podmanIn(t, "to exec stdin\n", "exec", "-i", id, "cat")
		if r.Code != 0 || r.Out != "to exec stdin\n" {
			t.Errorf("got %s", r)
		}
	})
	t.Run("SeesSameContainer", func(t *testing.T) {
		r := podman(t, "exec", id, "cat", "/proc/1/cmdline")
		if r.Code != 0 || r.Out != "sleep\x001000\x00" {
			t.Errorf("got %s; want the container's pid 1 (sleep 1000)", r)
		}
	})
}
