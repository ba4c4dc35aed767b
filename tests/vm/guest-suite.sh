#!/bin/bash
# Runs inside the guest (tests/vm/vm.sh run), from the share: the test
# binaries built on the host (repo/tests/*/NAME.test), berth and
# berth-docker-engine (bin/), the probe. Writes one log per suite and a
# summary (out/summary.txt) to out/, which vm.sh copies back to the host.
#
# Environment (set by tests/vm/run.sh):
#   SUITES       space-separated: integration berthdocker (default both),
#                podman dockerd (the real callers, as root, with their
#                defaults on this host: systemd cgroup driver, AppArmor),
#                podman-rootless (the podman suite run by the unprivileged
#                user of the image, under its systemd user manager)
#   RUNTIMES     space-separated runtimes each suite runs against:
#                berth, runc (default berth); berth-docker's suite runs
#                once, with its runc half when runc is listed
#   TEST_RUN     a -test.run pattern for every suite (default: all);
#                TEST_RUN_<suite> (podman_rootless for podman-rootless)
#                one for that suite only
#   TEST_SKIP    a -test.skip pattern for every suite (default: none);
#                TEST_SKIP_<suite> one for that suite only
#   TEST_TIMEOUT per suite (default 40m)
set -uo pipefail
share=$(pwd)
out=$share/out
mkdir -p "$out"
SUITES=${SUITES:-integration berthdocker}
RUNTIMES=${RUNTIMES:-berth}
TEST_TIMEOUT=${TEST_TIMEOUT:-40m}

# Binaries run from the guest's disk, not the 9p share.
install -m 755 "$share/bin/berth" "$share/bin/berth-criu" "$share/bin/berth-docker-engine" /usr/local/bin/
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

# seconds DURATION: a go test -timeout duration (40m, 90s, 1h) in seconds.
seconds() {
	case $1 in
	*h) echo $((${1%h} * 3600)) ;;
	*m) echo $((${1%m} * 60)) ;;
	*s) echo "${1%s}" ;;
	*) echo "$1" ;;
	esac
}

# watchdog SECS SUITE: shortly before the suite's own timeout, record what
# every process is doing (the go test timeout's goroutine dump cannot show
# a berth process or a kernel wait), into out/ and on the console stream.
watchdog() {
	sleep "$1" || return
	{
		echo "=== watchdog: suite $2 still running after $1 s ($(date +%T))"
		ps -eo pid,ppid,stat,wchan:32,etimes,args --forest | grep -v '\[.*\]$'
		local p
		for p in $(ps -eo pid=,stat= | awk '$2 ~ /^D/ {print $1}'); do
			echo "--- /proc/$p/stack ($(cat /proc/$p/comm 2>/dev/null))"
			cat "/proc/$p/stack" 2>/dev/null
		done
		echo "--- berth list"
		berth list 2>&1
		echo "--- memory"
		grep -E 'MemTotal|MemAvailable|Committed_AS' /proc/meminfo
		echo "--- dmesg (hung tasks, OOM)"
		dmesg | tail -40
	} > "$out/watchdog-$2.txt" 2>&1
	tail -60 "$out/watchdog-$2.txt"
}

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
	if [ "$suite" = berthdocker ]; then
		# berth-docker's suite runs each test with berth and with runc
		# itself: once, with its runc half only when runc was asked for.
		case " $RUNTIMES " in *" runc "*) docker_runc=$(command -v runc) ;; esac
		rts=berth
	fi
	for rt in $rts; do
		pkg=${suite%-rootless}
		bin=$repo/tests/$pkg/$pkg.test
		as=()
		if [ "$suite" != "$pkg" ]; then
			# the image's unprivileged user, as a login would have it
			uid=$(id -u berthuser)
			as=(runuser -u berthuser -- env HOME=/home/berthuser USER=berthuser
				XDG_RUNTIME_DIR=/run/user/$uid DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/$uid/bus)
		fi
		[ -x "$bin" ] || { echo "no test binary $bin" | tee -a "$out/summary.txt"; rc=1; continue; }
		log=$out/$suite-$rt.log
		args=(-test.v -test.count=1 -test.timeout "$TEST_TIMEOUT")
		# TEST_RUN_<suite> (dashes as underscores) overrides TEST_RUN
		run_var=TEST_RUN_${suite//-/_}
		run_pat=${!run_var:-${TEST_RUN:-}}
		[ -n "$run_pat" ] && args+=(-test.run "$run_pat")
		skip_var=TEST_SKIP_${suite//-/_}
		skip_pat=${!skip_var:-${TEST_SKIP:-}}
		[ -n "$skip_pat" ] && args+=(-test.skip "$skip_pat")
		echo "=== suite $suite runtime $rt ($(date +%T))"
		t0=$SECONDS
		watchdog $(($(seconds "$TEST_TIMEOUT") - 60)) "$suite-$rt" &
		wd=$!
		(
			cd "$repo/tests/$pkg" &&
			BERTH_TEST_TIME_SCALE=${BERTH_TEST_TIME_SCALE:-4} \
			BERTH_BIN=$(runtime_path "$rt") BERTH_PROBE=$probe \
			BERTH_DOCKER_ENGINE=/usr/local/bin/berth-docker-engine BERTH_DOCKER_TEST_RUNC=$docker_runc \
				"${as[@]}" "$bin" "${args[@]}"
		) > "$log" 2>&1
		src=$?
		kill $wd 2>/dev/null
		wait $wd 2>/dev/null
		pass=$(grep -c -- '--- PASS' "$log")
		fail=$(grep -c -- '--- FAIL' "$log")
		skip=$(grep -c -- '--- SKIP' "$log")
		line="suite=$suite runtime=$rt exit=$src pass=$pass fail=$fail skip=$skip seconds=$((SECONDS - t0))"
		echo "$line" | tee -a "$out/summary.txt"
		grep -- '--- FAIL' "$log" | sed 's/^/    /' | tee -a "$out/summary.txt"
		# what each failing test said (its first 12 lines logged, under
		# === RUN/CONT/NAME), so the CI output names the cause, not just the test
		[ "$fail" != 0 ] && awk '
			/^=== (RUN|CONT|PAUSE|NAME) / { cur = $3; if ($2 != "PAUSE") buf[cur] = buf[cur]; next }
			/^ *--- FAIL: / { n = $3; if (n in buf && buf[n] != "") printf "  >> %s\n%s", n, buf[n]; delete buf[n]; next }
			/^ *--- (PASS|SKIP): / { delete buf[$3]; next }
			cur != "" && nl[cur]++ < 12 { buf[cur] = buf[cur] "       " $0 "\n" }
		' "$log" | head -80 | tee -a "$out/summary.txt"
		# a suite that failed outside any test (its TestMain's setup or its
		# leak check after the tests, a crash): the log's end says why
		if [ "$src" != 0 ] && [ "$fail" = 0 ]; then
			echo "  >> exit $src with no failing test; the log ends:"
			tail -25 "$log" | sed 's/^/       /'
		fi | tee -a "$out/summary.txt"
		# runc is the reference: only berth's result decides the exit status
		[ "$rt" = berth ] && [ $src != 0 ] && rc=1
	done
done
rm -rf /var/tmp/berth-suites
exit $rc
