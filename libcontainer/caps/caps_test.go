package caps

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"CAP_CHOWN", 0, false}, {"chown", 0, false}, {"CAP_SYS_ADMIN", 21, false},
		{"CAP_CHECKPOINT_RESTORE", 40, false}, {"CAP_BOGUS", 0, true}, {"", 0, true},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Parse(%q) = %d, %v; want %d, err %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseSetRejectsCapsBeyondKernel(t *testing.T) {
	if _, err := ParseSet([]string{"CAP_BPF"}, 37); err == nil {
		t.Fatal("CAP_BPF accepted on a kernel whose last cap is 37")
	}
	s, err := ParseSet([]string{"CAP_KILL", "CAP_CHOWN"}, 40)
	if err != nil || s != 1<<5|1 {
		t.Fatalf("ParseSet = %b, %v", s, err)
	}
}
