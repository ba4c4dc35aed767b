package libcontainer

import (
	"os"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-runtime/berth/libcontainer/state"
)

// TestPoststartStateKeepsPidOfExitedProgram checks that the poststart hooks
// get status running and the init's pid even when the program has already
// exited (a wrong start time makes the recorded init count as gone).
func TestPoststartStateKeepsPidOfExitedProgram(t *testing.T) {
	c := &Container{ID: "c1", Dir: t.TempDir(), State: &state.State{
		OCIVersion: "1.3.0", ID: "c1", Bundle: "/bundle", InitPid: os.Getpid(), InitStartTime: 1,
		Annotations: map[string]string{"k": "v"},
	}}
	if st := c.SpecState(); st.Status != specs.StateStopped || st.Pid != 0 {
		t.Fatalf("test set-up: the init should count as stopped, state is %+v", st)
	}
	st := c.poststartState()
	if st.Status != specs.StateRunning || st.Pid != os.Getpid() || st.ID != "c1" || st.Bundle != "/bundle" || st.Annotations["k"] != "v" {
		t.Errorf("poststart state = %+v, want running with pid %d, id c1, bundle /bundle and the annotations", st, os.Getpid())
	}
}
