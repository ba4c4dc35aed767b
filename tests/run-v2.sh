#!/bin/bash
# Runs a command in a cgroup v2 view of a cgroup v1 "hybrid" host: in a new
# mount namespace where the unified hierarchy (/sys/fs/cgroup/unified) is
# bind-mounted over /sys/fs/cgroup. The host's mounts are not changed.
# On a host that is already cgroup v2 it just runs the command.
#
#   tests/run-v2.sh go test ./tests/integration/
#   BERTH_BIN=/usr/sbin/runc tests/run-v2.sh go test ./tests/integration/ -v
set -euo pipefail

if [ $# -eq 0 ]; then
	echo "usage: $0 COMMAND [ARGS...]" >&2
	exit 2
fi
if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
	exec "$@"
fi
if [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" != cgroup2fs ]; then
	echo "$0: /sys/fs/cgroup/unified is not a cgroup2 mount; no v2 view available" >&2
	exit 1
fi
exec unshare -m -- /bin/bash -c '
	set -e
	mount --make-rprivate /
	mount --bind /sys/fs/cgroup/unified /sys/fs/cgroup
	exec "$@"
' run-v2 "$@"
