#!/bin/bash
# tests/vm/run.sh: build Berth and its test binaries on this machine, boot
# the real-host guest (tests/vm/vm.sh) and run the suites there with
# tests/vm/guest-suite.sh. Results (one log per suite and runtime, and
# summary.txt) go to $VM_RESULTS (default tests/vm/results/).
#
#   tests/vm/run.sh                      # integration + berth-docker suites, berth only
#   SUITES=integration TEST_RUN='Exec' tests/vm/run.sh
#   RUNTIMES='berth runc' tests/vm/run.sh   # also against the guest's runc 1.1.5
#   VM_KERNEL=floor tests/vm/run.sh         # on Debian 11's 5.10, the kernel floor
#   SUITES='podman dockerd podman-rootless' tests/vm/run.sh   # the real callers
#
# Exit status: the guest script's (non-zero when a berth suite failed).
set -euo pipefail
cd "$(dirname "$0")/../.."
GO=${GO:-go}
TAGS='osusergo netgo urfave_cli_no_docs'
results=${VM_RESULTS:-tests/vm/results}
stage=$(mktemp -d "${TMPDIR:-/tmp}/berth-vm-stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/repo/scripts" "$stage/repo/tests"

make -s berth berth-docker-engine
cp berth berth-criu berth-docker-engine "$stage/bin/"
CGO_ENABLED=0 $GO build -o "$stage/bin/probe" ./tests/probe
cp scripts/berth-docker "$stage/repo/scripts/"
# podman-rootless is the podman suite run by the guest's unprivileged user
for s in $(printf '%s\n' ${SUITES:-integration berthdocker} | sed 's/-rootless$//' | sort -u); do
	mkdir -p "$stage/repo/tests/$s"
	$GO test -c -tags "$TAGS" -o "$stage/repo/tests/$s/$s.test" "./tests/$s"
done

envs=(-e "SUITES=${SUITES:-integration berthdocker}" -e "RUNTIMES=${RUNTIMES:-berth}")
[ -n "${TEST_RUN:-}" ] && envs+=(-e "TEST_RUN=$TEST_RUN")
for v in $(compgen -v TEST_RUN_); do envs+=(-e "$v=${!v}"); done
[ -n "${TEST_SKIP:-}" ] && envs+=(-e "TEST_SKIP=$TEST_SKIP")
for v in $(compgen -v TEST_SKIP_); do envs+=(-e "$v=${!v}"); done
[ -n "${TEST_TIMEOUT:-}" ] && envs+=(-e "TEST_TIMEOUT=$TEST_TIMEOUT")
rm -rf "$results"
mkdir -p "$results"
rc=0
tests/vm/vm.sh run -K "${VM_KERNEL:-stock}" -t "${VM_TIMEOUT:-3000}" -m "${VM_MEM:-3072M}" -o "$results" -f "$stage/bin" -f "$stage/repo" \
	"${envs[@]}" tests/vm/guest-suite.sh || rc=$?
echo "tests/vm/run.sh: results in $results (exit $rc)"
[ -f "$results/summary.txt" ] && cat "$results/summary.txt"
exit $rc
