#!/bin/bash
# tests/fuzz.sh: runs every fuzz target of the parsers of untrusted input
# for FUZZTIME each (default 30s; make fuzz). CI runs each for a few
# seconds (make fuzz-smoke), so the harnesses cannot rot. A crash leaves
# its input in the package's testdata/fuzz/ directory: check it in as a
# regular test case.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
t=${FUZZTIME:-30s}
targets=(
	./libcontainer/oci:FuzzParse             # config.json loading and validation
	./libcontainer/rootfs:FuzzParseOptions   # mount options
	./libcontainer/seccomp:FuzzCompile       # seccomp profile conversion
	./libcontainer/syncmsg:FuzzRecv          # runtime <-> init messages
	./libcontainer/state:FuzzLoad            # state.json
	./libcontainer/cgroups:FuzzToResources   # linux.resources, update --resources
	./libcontainer/signals:FuzzParse         # kill's signal names
	./libcontainer/procfs:FuzzParseStat      # /proc/PID/stat
	./bundle/image:FuzzUnpackLayer           # berth-docker's image layers
	.:FuzzProcessJSON                        # exec -p process.json
)
# Go's fuzzing coordinator can fail a target just past -fuzztime with a
# bare "context deadline exceeded" and no input (a race between its
# deadline context and the workers' child context; golang/go#51484). A real
# finding always prints "Failing input written to" and leaves the input in
# testdata/fuzz/, so only that bare failure is run again (up to 3 times).
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for tg in "${targets[@]}"; do
	pkg=${tg%%:*} fn=${tg#*:}
	for try in 1 2 3; do
		echo "== $fn ($pkg, $t, try $try)"
		rc=0
		$GO test -tags 'osusergo netgo urfave_cli_no_docs' -run '^$' -fuzz "^$fn\$" -fuzztime "$t" "$pkg" >"$out" 2>&1 || rc=$?
		grep -E 'elapsed|^(ok|FAIL|---)' "$out" | tail -3
		[ "$rc" = 0 ] && break
		if grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written to' "$out" && [ "$try" -lt 3 ]; then
			echo "fuzz target $fn: Go's coordinator deadline race (no input found), running it again"
			continue
		fi
		tail -40 "$out"
		echo "fuzz target $fn failed"
		exit 1
	done
done
