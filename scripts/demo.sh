#!/bin/bash
# The README's main job: make a busybox bundle from the host's busybox-static,
# then run a detached container through its whole lifecycle with ./berth.
set -euo pipefail
cd "$(dirname "$0")/.."
BERTH=${BERTH:-$PWD/berth}
work=$(mktemp -d /tmp/berth-demo.XXXXXX)
root=$work/state
trap '"$BERTH" --root "$root" delete -f demo >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

mkdir -p "$work/bundle/rootfs/bin"
cp /bin/busybox "$work/bundle/rootfs/bin/busybox"
for cmd in $("$work/bundle/rootfs/bin/busybox" --list); do
	[ "$cmd" = busybox ] || ln -sf busybox "$work/bundle/rootfs/bin/$cmd"
done
"$BERTH" spec -b "$work/bundle"
# A detached container must not keep a terminal: run a long sleep instead.
sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"sleep", "3600"/' "$work/bundle/config.json"

set -x
"$BERTH" --root "$root" run -d -b "$work/bundle" demo
"$BERTH" --root "$root" list
"$BERTH" --root "$root" state demo
echo
"$BERTH" --root "$root" exec demo sh -c 'echo "hello from $(hostname), pid $$"'
"$BERTH" --root "$root" kill demo KILL
sleep 0.2
"$BERTH" --root "$root" state demo | grep '"status"'
"$BERTH" --root "$root" delete demo
"$BERTH" --root "$root" list
set +x

# The seed's flow with berth-docker: a busybox image from the host's
# busybox-static, a detached named container, ps, stop, rm.
export BERTH_DOCKER_ROOT=$work/docker BERTH_DOCKER_RUNROOT=$work/docker-run
export BERTH_DOCKER_ENGINE=${BERTH_DOCKER_ENGINE:-$PWD/berth-docker-engine}
export PATH=$(dirname "$BERTH"):$PATH
bd=scripts/berth-docker
trap '"$bd" rm -f demo >/dev/null 2>&1 || true; "$BERTH" --root "$root" delete -f demo >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
set -x
"$bd" import-busybox
"$bd" images
"$bd" run -d --name demo busybox top
"$bd" ps
"$bd" exec demo sh -c 'echo "hello from $(hostname)"'
"$bd" stop demo
"$bd" ps -a
"$bd" rm demo
"$bd" ps -a
