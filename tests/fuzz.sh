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
for tg in "${targets[@]}"; do
	pkg=${tg%%:*} fn=${tg#*:}
	echo "== $fn ($pkg, $t)"
	$GO test -tags 'osusergo netgo urfave_cli_no_docs' -run '^$' -fuzz "^$fn\$" -fuzztime "$t" "$pkg" 2>&1 | grep -E 'elapsed|^(ok|FAIL|---)' | tail -3
	[ "${PIPESTATUS[0]}" = 0 ] || { echo "fuzz target $fn failed"; exit 1; }
done
