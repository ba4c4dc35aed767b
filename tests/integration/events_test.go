package integration

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// eventLine is one line of `events` output.
type eventLine struct {
	Type string          `json:"type"`
	ID   string          `json:"id"`
	Data json.RawMessage `json:"data"`
}

func TestEventsStatsPrintsOneStatsEvent(t *testing.T) {
	bundle := newBundle(t, withArgs("sleep", "100"))
	id, _ := createStarted(t, bundle)
	out := rt(t, "events", "--stats", id).ok(t).Stdout
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one line, got %q", out)
	}
	var ev eventLine
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil {
		t.Fatalf("not JSON: %v: %q", err, lines[0])
	}
	if ev.Type != "stats" || ev.ID != id {
		t.Fatalf("event = %+v", ev)
	}
	var data struct {
		Pids struct {
			Current uint64 `json:"current"`
		} `json:"pids"`
		CPU    map[string]any `json:"cpu"`
		Memory map[string]any `json:"memory"`
	}
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		t.Fatal(err)
	}
	if cgroupV2 {
		// Only hugetlb exists in the v2 view: no pids/cpu/memory numbers.
		return
	}
	if data.Pids.Current < 1 || data.CPU == nil || data.Memory == nil {
		t.Fatalf("stats missing numbers: %s", ev.Data)
	}
	rt(t, "delete", "-f", id).ok(t)
}

func TestEventsStreamEndsWhenContainerGoes(t *testing.T) {
	bundle := newBundle(t, withArgs("sleep", "100"))
	id, _ := createStarted(t, bundle)
	p := rtStart(t, rtOpts{}, "events", "--interval", "100ms", id)
	time.Sleep(400 * time.Millisecond)
	rt(t, "delete", "-f", id).ok(t)
	res := p.wait(t)
	if res.Code != 0 {
		t.Fatalf("events exited %d: %s", res.Code, res.Output())
	}
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		var ev eventLine
		if json.Unmarshal([]byte(l), &ev) == nil && ev.Type == "stats" && ev.ID == id {
			n++
		}
	}
	if n < 2 {
		t.Fatalf("want several stats events before the end, got %d: %q", n, res.Stdout)
	}
}

func TestEventsReportsOOMKill(t *testing.T) {
	if cgroupV2 {
		t.Skip("no memory controller in the v2 view of this host")
	}
	bundle := newBundle(t,
		withArgs("/bin/sh", "-c", `sleep 0.5; x=$(head -c 100000000 /dev/zero | tr "\0" a); sleep 100`),
		withLinuxResources(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: cgI64(16 << 20)}}))
	id, _ := createStarted(t, bundle)
	p := rtStart(t, rtOpts{}, "events", "--interval", "10s", id)
	ok := waitFor(10*time.Second, func() bool {
		out := rt(t, "events", "--stats", id)
		return strings.Contains(out.Stdout, `"oom_kill":1`) || out.Code != 0
	})
	if !ok {
		t.Fatal("oom_kill counter never reached 1 in events --stats")
	}
	rt(t, "delete", "-f", id)
	res := p.wait(t)
	if !strings.Contains(res.Stdout, `{"type":"oom","id":"`+id+`"}`) {
		t.Fatalf("no oom event in the stream: %q", res.Stdout)
	}
}

func TestEventsErrors(t *testing.T) {
	rt(t, "events", "--stats", "no-such-container").failed(t, "container does not exist")
	bundle := newBundle(t, withArgs("true"))
	id, _ := createStarted(t, bundle)
	waitStatus(t, id, "stopped", 5*time.Second)
	rt(t, "events", "--stats", id).failed(t, "container not running")
	rt(t, "events", "--interval", "0s", id).failed(t, "interval")
	rt(t, "delete", id).ok(t)
}
