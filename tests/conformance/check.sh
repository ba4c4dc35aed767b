#!/bin/bash
# check.sh SUITE RUNTIME [SUITE-OPTION...]
#
# Runs the OCI validation suite script SUITE (oci-validation.sh) on RUNTIME
# (an absolute path) and compares each test's result with expected.tsv next
# to this script (see compare.sh). Extra options go to the suite, e.g.
# "-r 'hooks|devices'" to run some tests only (then the tests that did not
# run are not reported missing). The logs stay in the directory printed at
# the end. Needs root; do not run two at once (the suite's tests use fixed
# cgroup names; the suite waits for a lock).
set -euo pipefail

if [ $# -lt 2 ]; then
	echo "usage: $0 SUITE RUNTIME [SUITE-OPTION...]" >&2
	exit 2
fi
suite=$1 runtime=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
partial=
for a in "$@"; do
	case $a in -r | --run | --run=* | -x | --exclude | --exclude=*) partial=--partial ;; esac
done

out=$(mktemp -d "${TMPDIR:-/tmp}/berth-conformance.XXXXXX")
echo "conformance: $suite on $runtime; logs in $out"
if ! "$suite" -o "$out" "$@" "$runtime"; then
	echo "conformance: the suite did not run (see above)" >&2
	exit 2
fi
status=0
"$here/compare.sh" "$here/expected.tsv" "$out/summary.tsv" $partial || status=$?
echo "conformance: logs in $out (per test: logs/TEST.tap, logs/TEST.err)"
exit "$status"
