#!/bin/bash
# compare.sh EXPECTED SUMMARY [--partial]
#
# Compares the per-test results of an OCI validation run (SUMMARY, the
# summary.tsv that oci-validation.sh writes) with EXPECTED (expected.tsv:
# test, status, ok, reason; '#' starts a comment). Exits 1 on a regression:
#   - a test expected PASS that did not pass;
#   - a test expected FAIL or ERROR that now passes fewer assertions ("ok")
#     than the file says (for a test expected PASS only its status counts);
#   - a test that is in one file and not in the other (with --partial, as
#     for a run limited with -r, tests that did not run are fine).
# A test marked FLAKY may end any way. Tests that do better than expected
# (pass, or pass more assertions) are listed as a note asking to update
# EXPECTED; they do not fail the check.
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
	echo "usage: $0 EXPECTED SUMMARY [--partial]" >&2
	exit 2
fi
expected=$1 summary=$2 partial=0
[ "${3:-}" = --partial ] && partial=1
for f in "$expected" "$summary"; do
	[ -r "$f" ] || { echo "compare.sh: cannot read $f" >&2; exit 2; }
done

awk -F'\t' -v partial="$partial" -v expfile="$expected" '
	# expected.tsv: test, status, ok, reason
	FILENAME == expfile {
		if ($0 ~ /^#/ || $0 ~ /^[ \t]*$/) next
		if (NF < 3 || $2 !~ /^(PASS|FAIL|ERROR|FLAKY)$/ || $3 !~ /^[0-9]+$/) {
			printf "compare.sh: %s:%d: bad line (want test<TAB>PASS|FAIL|ERROR|FLAKY<TAB>ok<TAB>reason): %s\n", FILENAME, FNR, $0 > "/dev/stderr"
			bad = 1; next
		}
		want[$1] = $2; wantok[$1] = $3; why[$1] = $4; order[++n] = $1
		next
	}
	# summary.tsv: test, status, ok, not_ok, ...
	FNR == 1 { next }
	{ got[$1] = $2; gotok[$1] = $3 }
	END {
		if (bad) exit 2
		for (t in got) if (!(t in want)) {
			printf "NEW        %-34s %s (ok=%s): not in the expectation file\n", t, got[t], gotok[t]
			fail++
		}
		for (i = 1; i <= n; i++) {
			t = order[i]
			if (!(t in got)) {
				if (!partial) { printf "MISSING    %-34s expected %s, did not run\n", t, want[t]; fail++ }
				continue
			}
			ran++
			if (want[t] == "FLAKY") {
				printf "flaky      %-34s %s (ok=%s): %s\n", t, got[t], gotok[t], why[t]
				continue
			}
			if (want[t] == "PASS" && got[t] != "PASS") {
				printf "REGRESSION %-34s expected PASS, got %s (ok=%s)\n", t, got[t], gotok[t]
				fail++; continue
			}
			# A passing test may count its assertions differently on another
			# host (skips): only its status matters.
			if (want[t] == "PASS") continue
			if (got[t] == "PASS") {
				printf "IMPROVED   %-34s expected %s, got PASS (ok=%s)\n", t, want[t], gotok[t]
				better++; continue
			}
			if (gotok[t] + 0 < wantok[t] + 0) {
				printf "REGRESSION %-34s %s with ok=%s, expected at least ok=%s\n", t, got[t], gotok[t], wantok[t]
				fail++; continue
			}
			if (gotok[t] + 0 > wantok[t] + 0) {
				printf "IMPROVED   %-34s %s with ok=%s, expected ok=%s\n", t, got[t], gotok[t], wantok[t]
				better++
			}
		}
		printf "conformance: %d tests compared, %d regression(s), %d improvement(s)\n", ran, fail, better
		if (better) printf "note: some tests do better than tests/conformance/expected.tsv says: update it (status, ok count and reason)\n"
		exit fail ? 1 : 0
	}
' "$expected" "$summary"
