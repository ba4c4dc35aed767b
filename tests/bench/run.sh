#!/bin/bash
# tests/bench/run.sh (make bench): Berth's start-up and lifecycle latency,
# CPU time and peak memory against runc and crun on this machine, in one
# interleaved run so that the ratios share its conditions.
# lifecycle-bench.sh is the project's shared benchmark, kept here so that
# `make bench` works on any machine; the ratios are against berth (the
# first runtime), so crun/berth < 1 means crun is faster.
#
# On a pure cgroup v2 host the three run as they are. On a v1 "hybrid"
# host (v1 controllers, a cgroup2 tree at /sys/fs/cgroup/unified) crun
# cannot run on v1, so the first table has berth and crun in the v2 view
# (--unified-ns) and runc as it runs here (v1), and a second has berth
# against runc, both on v1. tests/bench/extra.sh then adds CPU time per
# exec, list with 500 containers and delete -f of a running one.
#
#   make bench                    # BENCH_N=40 samples per operation
#   BENCH_N=100 BENCH_ARGS='--gap 200' make bench
#   BENCH_RUNTIMES='./berth crun' make bench   # other runtimes, as given
set -euo pipefail
cd "$(dirname "$0")/../.."
bench=tests/bench/lifecycle-bench.sh
n=${BENCH_N:-40}
# shellcheck disable=SC2086
args=(-n "$n" ${BENCH_ARGS:-})
have() { command -v "$1" >/dev/null; }
for rt in runc crun; do
	have "$rt" || { echo "make bench: $rt is not installed (make deps installs it)" >&2; exit 1; }
done
if [ -n "${BENCH_RUNTIMES:-}" ]; then
	# shellcheck disable=SC2086
	exec "$bench" "${args[@]}" $BENCH_RUNTIMES
fi
if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
	echo "== cgroup v2: berth, crun, runc"
	"$bench" "${args[@]}" ./berth crun runc
	tests/bench/extra.sh ./berth crun runc
	exit
fi
if [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
	echo "== berth and crun in the cgroup v2 view of this hybrid host (--unified-ns), runc on v1"
	"$bench" "${args[@]}" ./berth --unified-ns crun --unified-ns runc
	tests/bench/extra.sh ./berth@v2 crun@v2 runc
fi
echo "== cgroup v1: berth, runc"
"$bench" "${args[@]}" ./berth runc
