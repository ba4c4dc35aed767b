#!/bin/bash
# tests/bench/extra.sh: what lifecycle-bench.sh does not measure, for the
# start-up issue's other targets, in one interleaved run:
#   exec-cpu    user+sys CPU of one `exec true` (the runtime and every
#               process it reaped, from bash's time: what a node pays per
#               exec probe)
#   list-500    `list` of a root holding 500 created containers
#   delete-f    `delete -f` of a running container
# Medians of N samples (BENCH_N, default 20) per runtime, with ratios
# against the first runtime. A runtime written RT@v2 runs in a mount
# namespace whose /sys/fs/cgroup is the host's cgroup2 tree (the v2 view of
# a hybrid host, as lifecycle-bench.sh --unified-ns).
#
#   tests/bench/extra.sh ./berth@v2 crun@v2 runc
set -euo pipefail
export LC_ALL=C
[ "${1:-}" = --inner ] && { shift; inner=1; } || inner=0
n=${BENCH_N:-20}
many=${BENCH_MANY:-500}

# since OP T0: prints "OP ms", the milliseconds since $EPOCHREALTIME T0.
since() {
	awk -v op="$1" -v t0="$2" -v t1="$EPOCHREALTIME" 'BEGIN {printf "%s %.2f\n", op, (t1 - t0) * 1000}'
}

# inner OP RT ROOT BUNDLE: one measurement series, printed as "OP value".
run_inner() {
	local TIMEFORMAT='%3U %3S'
	local op=$1 rt=$2 root=$3 bundle=$4 i id t0
	case $op in
	exec-cpu)
		"$rt" --root "$root" run -d --bundle "$bundle/sleep" xs </dev/null >/dev/null 2>&1
		for ((i = 0; i < n; i++)); do
			# bash's time: the rusage of the runtime and what it reaped, in ms
			{ time "$rt" --root "$root" exec xs true </dev/null >/dev/null 2>&1; } 2>"$root/t"
			awk '{printf "exec-cpu %.2f\n", ($1 + $2) * 1000}' "$root/t"
		done
		"$rt" --root "$root" delete -f xs >/dev/null 2>&1 ;;
	list-500)
		for ((i = 0; i < many; i++)); do
			"$rt" --root "$root" create --bundle "$bundle/sleep" "l$i" </dev/null >/dev/null 2>&1
		done
		for ((i = 0; i < n; i++)); do
			t0=$EPOCHREALTIME
			"$rt" --root "$root" list >/dev/null 2>&1
			since "list-$many" "$t0"
		done
		for ((i = 0; i < many; i++)); do "$rt" --root "$root" delete -f "l$i" >/dev/null 2>&1; done ;;
	delete-f)
		for ((i = 0; i < n; i++)); do
			id=d$i
			"$rt" --root "$root" run -d --bundle "$bundle/sleep" "$id" </dev/null >/dev/null 2>&1
			t0=$EPOCHREALTIME
			"$rt" --root "$root" delete -f "$id" >/dev/null 2>&1
			since delete-f "$t0"
		done ;;
	esac
}
if ((inner)); then
	run_inner "$@"
	exit
fi

[ $# -ge 1 ] || { echo "usage: $0 RT[@v2]..." >&2; exit 2; }
work=$(mktemp -d /tmp/berth-bench-extra.XXXXXX)
trap 'rm -rf --one-file-system "$work"' EXIT
mkdir -p "$work/rootfs/bin" "$work/sleep"
cp /bin/busybox "$work/rootfs/bin/busybox"
for a in sh true sleep; do ln -s busybox "$work/rootfs/bin/$a"; done
runc spec --bundle "$work/sleep"
jq --arg r "$work/rootfs" '.root.path = $r | .process.terminal = false | .process.args = ["sleep", "100000"] | del(.linux.resources)' \
	"$work/sleep/config.json" >"$work/c" && mv "$work/c" "$work/sleep/config.json"
self=$(readlink -f "$0")
declare -A med
labels=()
for spec in "$@"; do
	rt=${spec%@v2}
	label=$(basename "$rt"); [ "$rt" = "$spec" ] || label="$label (v2)"
	labels+=("$label")
	root="$work/root-${#labels[@]}"
	mkdir -p "$root"
	for op in exec-cpu list-500 delete-f; do
		if [ "$rt" != "$spec" ]; then
			out=$(BENCH_N=$n BENCH_MANY=$many unshare -m sh -c 'mount --make-rprivate / && mount --bind /sys/fs/cgroup/unified /sys/fs/cgroup && exec "$@"' \
				sh "$self" --inner "$op" "$(readlink -f "$(command -v "$rt")")" "$root" "$work")
		else
			out=$(BENCH_N=$n BENCH_MANY=$many "$self" --inner "$op" "$(readlink -f "$(command -v "$rt")")" "$root" "$work")
		fi
		med["$label/$op"]=$(awk '{print $2}' <<<"$out" | sort -n | awk '{a[NR] = $1} END {if (NR) print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2); else print "-"}')
	done
done
printf '%-12s' median
for l in "${labels[@]}"; do printf ' %16s' "$l"; done
for l in "${labels[@]:1}"; do printf ' %14s' "${l%% *}/${labels[0]%% *}"; done
echo
for op in exec-cpu list-500 delete-f; do
	unit=ms; [ $op = exec-cpu ] && unit="ms cpu"
	printf '%-12s' "$op"
	for l in "${labels[@]}"; do printf ' %16s' "$(printf %.2f "${med[$l/$op]}") $unit"; done
	for l in "${labels[@]:1}"; do printf ' %13.2fx' "$(echo "${med[$l/$op]} / ${med[${labels[0]}/$op]}" | bc -l)"; done
	echo
done
echo "(N=$n per op; list-500 lists $many created containers; exec-cpu is the user+sys time of the runtime and the processes it reaped)"
