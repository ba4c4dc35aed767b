package main

import (
	"testing"

	"github.com/berth-runtime/berth/libcontainer/caps"
)

// FuzzProcessJSON reads exec -p process.json files, and the capability
// sets in them as exec turns them into masks: refused or parsed, never a
// panic; a parsed process has args.
func FuzzProcessJSON(f *testing.F) {
	for _, seed := range []string{
		`{"args":["sh","-c","id"],"cwd":"/","user":{"uid":1000,"gid":1000,"additionalGids":[5]},"env":["A=1"]}`,
		`{"args":["x"],"capabilities":{"bounding":["CAP_NET_ADMIN"],"effective":["CAP_NOPE"],"ambient":["CAP_SYS_ADMIN"]}}`,
		`{"args":[],"terminal":true}`,
		`{"args":["x"],"rlimits":[{"type":"RLIMIT_NOFILE","hard":1,"soft":2}],"oomScoreAdj":-1000}`,
		`{"args":["x"],"cwd":"/proc/self/fd/7"}`, `[]`, `{"args":"x"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseProcessJSON(data)
		if err != nil {
			return
		}
		if len(p.Args) == 0 {
			t.Fatal("a process without args was accepted")
		}
		_, _, _ = caps.FromSpec(p.Capabilities, caps.LastCap())
	})
}
