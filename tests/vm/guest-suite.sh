#!/bin/bash
# Runs inside the guest (tests/vm/vm.sh run), from the share: the test
# binaries built on the host (repo/tests/*/NAME.test), berth and
# berth-docker-engine (bin/), the probe. Writes one log per suite and a
# summary (out/summary.txt) to out/, which vm.sh copies back to the host.
#
# Environment (set by tests/vm/run.sh):
#   SUITES       space-separated: integration docker (default both)
#   RUNTIMES     space-separated runtimes each suite runs against:
#                berth, runc (default berth); berth-docker's suite runs
#                once, with its runc half when runc is listed
#   TEST_RUN     a -test.run pattern for every suite (default: all)
#   TEST_TIMEOUT per suite (default 40m)
set -uo pipefail
share=$(pwd)
out=$share/out
mkdir -p "$out"
SUITES=${SUITES:-integration docker}
RUNTIMES=${RUNTIMES:-berth}
TEST_TIMEOUT=${TEST_TIMEOUT:-40m}

# Binaries run from the guest's disk, not the 9p share.
install -m 755 "$share/bin/berth" "$share/bin/berth-docker-engine" /usr/local/bin/
probe=/usr/local/lib/berth-test/probe
install -D -m 755 "$share/bin/probe" "$probe"
mkdir -p /var/tmp/berth-suites
cp -a "$share/repo" /var/tmp/berth-suites/
repo=/var/tmp/berth-suites/repo

{
	echo "kernel: $(uname -r)"
	echo "init: $(ps -p 1 -o comm=)"
	echo "cgroup: $(stat -fc %T /sys/fs/cgroup) controllers: $(cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null)"
	echo "apparmor: $(cat /sys/module/apparmor/parameters/enabled 2>/dev/null) profiles: $(wc -l < /sys/kernel/security/apparmor/profiles 2>/dev/null)"
	echo "systemd: $(systemctl is-system-running)"
	echo "runc: $(runc --version | head -1)"
	echo "berth: $(berth --version | head -1)"
} | tee "$out/host.txt"

runtime_path() {
	case $1 in
	berth) echo /usr/local/bin/berth ;;
	runc) command -v runc ;;
	*) echo "$1" ;;
	esac
}

rc=0
: > "$out/summary.txt"
for suite in $SUITES; do
	rts=$RUNTIMES
	docker_runc=/nonexistent-runc
	if [ "$suite" = docker ]; then
		# berth-docker's suite runs each test with berth and with runc
		# itself: once, with its runc half only when runc was asked for.
		case " $RUNTIMES " in *" runc "*) docker_runc=$(command -v runc) ;; esac
		rts=berth
	fi
	for rt in $rts; do
		bin=$repo/tests/$suite/$suite.test
		[ -x "$bin" ] || { echo "no test binary $bin" | tee -a "$out/summary.txt"; rc=1; continue; }
		log=$out/$suite-$rt.log
		args=(-test.v -test.count=1 -test.timeout "$TEST_TIMEOUT")
		[ -n "${TEST_RUN:-}" ] && args+=(-test.run "$TEST_RUN")
		echo "=== suite $suite runtime $rt ($(date +%T))"
		t0=$SECONDS
		(
			cd "$repo/tests/$suite" &&
			BERTH_TEST_TIME_SCALE=${BERTH_TEST_TIME_SCALE:-4} \
			BERTH_BIN=$(runtime_path "$rt") BERTH_PROBE=$probe \
			BERTH_DOCKER_ENGINE=/usr/local/bin/berth-docker-engine BERTH_DOCKER_TEST_RUNC=$docker_runc \
				"$bin" "${args[@]}"
		) > "$log" 2>&1
		src=$?
		pass=$(grep -c -- '--- PASS' "$log")
		fail=$(grep -c -- '--- FAIL' "$log")
		skip=$(grep -c -- '--- SKIP' "$log")
		line="suite=$suite runtime=$rt exit=$src pass=$pass fail=$fail skip=$skip seconds=$((SECONDS - t0))"
		echo "$line" | tee -a "$out/summary.txt"
		grep -- '--- FAIL' "$log" | sed 's/^/    /' | tee -a "$out/summary.txt"
		# runc is the reference: only berth's result decides the exit status
		[ "$rt" = berth ] && [ $src != 0 ] && rc=1
	done
done
rm -rf /var/tmp/berth-suites
exit $rc
