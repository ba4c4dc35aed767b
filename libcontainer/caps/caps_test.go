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

func TestParseSetIgnoresCapsItCannotGrant(t *testing.T) {
	s, ignored, err := ParseSet([]string{"CAP_KILL", "CAP_BPF", "CAP_FROM_THE_FUTURE"}, 37)
	if err != nil || s != 1<<5 || len(ignored) != 2 || ignored[0] != "CAP_BPF" || ignored[1] != "CAP_FROM_THE_FUTURE" {
		t.Fatalf("ParseSet = %b, %q, %v; want only CAP_KILL, CAP_BPF and CAP_FROM_THE_FUTURE ignored", s, ignored, err)
	}
	s, ignored, err = ParseSet([]string{"CAP_KILL", "CAP_CHOWN"}, 40)
	if err != nil || s != 1<<5|1 || ignored != nil {
		t.Fatalf("ParseSet = %b, %q, %v", s, ignored, err)
	}
	for _, bad := range []string{"", "CAP_", "CAP_KILL ", "CAP_K-ILL", "CAP_KİLL"} {
		if _, _, err := ParseSet([]string{bad}, 40); err == nil {
			t.Errorf("malformed name %q accepted", bad)
		}
	}
}
