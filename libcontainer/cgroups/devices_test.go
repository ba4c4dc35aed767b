package cgroups

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestDeviceRule(t *testing.T) {
	tests := []struct {
		in      specs.LinuxDeviceCgroup
		want    string
		wantErr bool
	}{
		{specs.LinuxDeviceCgroup{Access: "rwm"}, "a", false},
		{specs.LinuxDeviceCgroup{Type: "c", Major: intPtr(1), Minor: intPtr(3), Access: "rw"}, "c 1:3 rw", false},
		{specs.LinuxDeviceCgroup{Type: "b", Major: intPtr(8), Access: "m"}, "b 8:* m", false},
		{specs.LinuxDeviceCgroup{Type: "x"}, "", true},
		{specs.LinuxDeviceCgroup{Type: "c", Access: "rwx"}, "", true},
	}
	for _, tt := range tests {
		got, err := DeviceRule(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("DeviceRule(%+v) = %q, %v; want %q, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
