package syncmsg

import (
	"errors"
	"os"
	"testing"
)

func TestParseStageReport(t *testing.T) {
	for _, c := range []struct {
		line    string
		want    StageReport
		wantErr string
	}{
		{"S", StageReport{}, ""},
		{"P42", StageReport{Forked: true, Pid: 42}, ""},
		{"M", StageReport{MapIDs: true}, ""},
		{"MX", StageReport{}, `pre-stage: bad report "MX"`},
		{"Ejoin user namespace: Operation not permitted", StageReport{}, "join user namespace: Operation not permitted"},
		{"P", StageReport{}, `pre-stage: bad report "P"`},
		{"P-1", StageReport{}, `pre-stage: bad report "P-1"`},
		{"Px", StageReport{}, `pre-stage: bad report "Px"`},
		{"", StageReport{}, `pre-stage: bad report ""`},
		{"X", StageReport{}, `pre-stage: bad report "X"`},
	} {
		got, err := ParseStageReport(c.line)
		if got != c.want || (err == nil) != (c.wantErr == "") || err != nil && err.Error() != c.wantErr {
			t.Errorf("ParseStageReport(%q) = %+v, %v; want %+v, %q", c.line, got, err, c.want, c.wantErr)
		}
	}
}

// TestReadStageReportStopsAtNewline: the JSON stream that follows on the
// socket is left unread; a closed socket is ErrClosed.
func TestReadStageReportStopsAtNewline(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w.WriteString("P7\n{\"type\":\"ready\"}\n")
	w.Close()
	rep, err := ReadStageReport(int(r.Fd()))
	if err != nil || rep != (StageReport{Forked: true, Pid: 7}) {
		t.Fatalf("ReadStageReport = %+v, %v", rep, err)
	}
	rest := make([]byte, 64)
	n, _ := r.Read(rest)
	if string(rest[:n]) != "{\"type\":\"ready\"}\n" {
		t.Errorf("the stream after the report was consumed: %q left", rest[:n])
	}
	if _, err := ReadStageReport(int(r.Fd())); !errors.Is(err, ErrClosed) {
		t.Errorf("at EOF: %v, want ErrClosed", err)
	}
}

func TestFifoFailureRoundTrip(t *testing.T) {
	if err := ParseFifoFailure(""); err != nil {
		t.Errorf("nothing read: %v, want nil", err)
	}
	in := errors.New("exec /bin/missing: no such file or directory")
	if err := ParseFifoFailure(string(FifoFailure(in))); err == nil || err.Error() != in.Error() {
		t.Errorf("round trip: %v, want %v", err, in)
	}
}
