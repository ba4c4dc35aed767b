package syncmsg

import (
	"os"
	"testing"
)

// FuzzRecv feeds arbitrary bytes to the runtime<->init message reader, as a
// misbehaving peer would send them: Recv returns messages or errors, never
// panics, and stops at the end of the stream.
func FuzzRecv(f *testing.F) {
	for _, seed := range []string{
		`{"type":"config","config":{"preserveFds":1}}` + "\n",
		`{"type":"ready"}` + "\n" + `{"type":"run"}` + "\n",
		`{"type":"error","message":"boom"}` + "\n",
		`{"type":"seccomp","fd":7}`,
		`{"type":`, "\x00\xff", `[]`, `{"type":"config","config":{"spec":{"process":{"args":[1]}}}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Skip(err)
		}
		go func() {
			w.Write(data)
			w.Close()
		}()
		c := NewConn(r)
		for i := 0; i < 1000; i++ {
			if _, err := c.Recv(); err != nil {
				break
			}
		}
		r.Close()
	})
}
