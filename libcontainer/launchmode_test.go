package libcontainer

import (
	"reflect"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestLaunchModesDiffer: what each mode tells the pre-stage and how it
// answers the init's request for the runtime's hooks.
func TestLaunchModesDifferInEnvAndHooksRequest(t *testing.T) {
	withHooks := &specs.Spec{Hooks: &specs.Hooks{}}
	cases := []struct {
		name      string
		mode      launchMode
		wantEnv   []string
		wantHooks string // the error of a Hooks request; "" for none
	}{
		{name: "create", mode: &initMode{c: &Container{ID: "c1"}, spec: withHooks},
			wantEnv: []string{"A=1"}},
		{name: "create without hooks", mode: &initMode{c: &Container{ID: "c1"}, spec: &specs.Spec{}},
			wantEnv: []string{"A=1"}, wantHooks: `protocol error: unexpected "hooks"`},
		{name: "exec", mode: &execMode{},
			wantEnv: []string{"A=1", "_BERTH_EXEC=1"}, wantHooks: `protocol error: unexpected "hooks"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if env := c.mode.appendEnv([]string{"A=1"}); !slices.Equal(env, c.wantEnv) {
				t.Errorf("env %q, want %q", env, c.wantEnv)
			}
			err := c.mode.runtimeHooks(42)
			if got := errString(err); got != c.wantHooks {
				t.Errorf("hooks request: %q, want %q", got, c.wantHooks)
			}
		})
	}
}

// TestInitModeHookStateIsCreated: the create-time hooks get "created" with
// the init's pid, as crun passes it.
func TestInitModeHookStateIsCreated(t *testing.T) {
	spec := &specs.Spec{Version: "1.2.0", Annotations: map[string]string{"a": "b"}}
	m := &initMode{c: &Container{ID: "c1"}, spec: spec, bundle: "/b"}
	want := specs.State{Version: "1.2.0", ID: "c1", Status: specs.StateCreated, Pid: 42, Bundle: "/b",
		Annotations: map[string]string{"a": "b"}}
	if got := m.hookState(42); !reflect.DeepEqual(got, want) {
		t.Errorf("hook state %+v, want %+v", got, want)
	}
}

// errString is err's text, "" for nil.
func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
