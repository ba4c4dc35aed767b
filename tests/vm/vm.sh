#!/bin/bash
# tests/vm/vm.sh - the real-host guest: a throw-away Debian 12 (bookworm)
# QEMU guest that looks like the hosts Berth's users run (systemd PID 1,
# pure cgroup v2 with every controller, AppArmor enforcing, Debian's stock
# 6.1 kernel) and runs one script in it as root.
#
#   tests/vm/vm.sh build [--force]   build the cached image (debootstrap + mkfs.ext4 -d)
#   tests/vm/vm.sh run [opts] SCRIPT boot, run SCRIPT as root, stream its output, power off
#        -f PATH  copy a file or dir into the share (guest: /mnt/host/<basename>); repeatable
#        -e K=V   export an environment variable to SCRIPT; repeatable
#        -o DIR   after the run, copy the share's out/ dir (results the script wrote) to DIR
#        -t SECS  hard timeout for the whole VM (default 900)
#        -m MEM   guest memory (default 1536M)   -c N  vCPUs (default: the host's, at most 4)
#        -k       keep the run directory (console log, share) for debugging
#        -K KERN  stock (Debian 12's 6.1, default) or floor (Debian 11's 5.10,
#                 the oldest kernel Berth supports)
#   tests/vm/vm.sh shell             boot interactively (serial on stdio; Ctrl-a x quits)
#
# Exit status of `run` is SCRIPT's; 124 = the VM timed out, 125 = the guest
# never reported a status (console log kept, path printed).
#
# The root disk is opened with snapshot=on: every boot starts from the
# pristine image and nothing a test does persists. The script and its files
# travel over a 9p share (/mnt/host in the guest, also the script's cwd);
# its output comes back over a virtio-serial port.
#
# Environment: BERTH_VM_DIR (default /var/tmp/berth-vm), BERTH_VM_ACCEL=auto|kvm|tcg,
# BERTH_VM_MIRROR (default http://deb.debian.org/debian).
#
# Needs qemu-system-x86, qemu-utils, debootstrap, e2fsprogs, curl and xz-utils
# (make vm-deps).
# Where /dev/kvm is real hardware virtualisation (kvm_intel/kvm_amd) the guest
# runs under KVM; otherwise (no /dev/kvm, or a kvm_pvm one that cannot run a
# stock kernel) under TCG, software emulation: several times slower, fine for
# correctness, never for speed.
set -euo pipefail

VMDIR=${BERTH_VM_DIR:-/var/tmp/berth-vm}
IMGDIR=$VMDIR/image
MIRROR=${BERTH_VM_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
# Bump IMAGE_VERSION when the guest configuration below changes: the cached
# image is rebuilt when its stamp differs.
IMAGE_VERSION=4
# The floor kernel: Debian 11's 5.10 (the oldest release Berth supports),
# installed beside the stock 6.1 one and booted with -K floor.
FLOOR_SUITE=bullseye-security
FLOOR_MIRROR=${BERTH_VM_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# What the guest has: a normal systemd host, plus what the suites run
# (busybox-static for the test rootfs, runc as the reference runtime,
# util-linux's unshare/nsenter, iproute2, jq, tar), and the real callers
# with what they need on such a host: podman (containernetworking-plugins:
# its network stack does not configure without it), docker.io with its
# containerd, uidmap and dbus-user-session for rootless podman under the
# user's own systemd; criu for checkpoint and restore.
PACKAGES=linux-image-amd64,systemd,systemd-sysv,udev,dbus,apparmor,apparmor-utils,runc,busybox-static,kmod,initramfs-tools,iproute2,procps,jq,tar,util-linux,mount,psmisc,libseccomp2,podman,containernetworking-plugins,docker.io,containerd,uidmap,dbus-user-session,criu
IMG_SIZE=4G
# ROOTLESS_USER is the guest's unprivileged user (uid 1000, subordinate ids
# 100000-165535, lingering: its systemd user manager runs from boot), who
# runs rootless podman and berth.
ROOTLESS_USER=berthuser

log() { echo "vm.sh: $*" >&2; }
die() { log "$*"; exit 1; }

stamp() { echo "v$IMAGE_VERSION $SUITE $MIRROR $PACKAGES $IMG_SIZE $FLOOR_SUITE"; }

# add_floor_kernel installs the newest 5.10 kernel of Debian 11 into the
# tree R (dpkg -x: only its files, the image is bookworm's) with an
# initramfs, and copies it to the image dir as vmlinuz-floor/initrd-floor.
add_floor_kernel() {
	local R=$1 pkg file deb kver
	read -r pkg file < <(curl -fsS "$FLOOR_MIRROR/dists/$FLOOR_SUITE/main/binary-amd64/Packages.xz" | xz -d |
		awk '/^Package: linux-image-5\.10\.0-[0-9]+-amd64$/{p=$2} /^Filename:/{if(p){print p, $2; p=""}}' |
		sort -V | tail -1) || die "cannot read the $FLOOR_SUITE package list"
	[ -n "$file" ] || die "no 5.10 kernel in $FLOOR_SUITE"
	deb="$VMDIR/cache/$(basename "$file")"
	if [ ! -f "$deb" ]; then
		curl -fsS -o "$deb.part" "$FLOOR_MIRROR/$file" || die "download of $file failed"
		mv "$deb.part" "$deb"
	fi
	# not straight into R: extracting lib/ would replace the usr-merge
	# symlink /lib -> usr/lib with a directory
	local x="$VMDIR/floor-kernel.x"
	rm -rf "$x"
	dpkg-deb -x "$deb" "$x"
	cp -a "$x/boot/." "$R/boot/"
	cp -a "$x/lib/modules/." "$R/usr/lib/modules/"
	rm -rf "$x"
	kver=${pkg#linux-image-}
	chroot "$R" depmod "$kver"
	chroot "$R" update-initramfs -c -k "$kver" >> "$VMDIR/initramfs.log" 2>&1 || die "update-initramfs for $kver failed"
	cp "$R/boot/vmlinuz-$kver" "$IMGDIR/vmlinuz-floor"
	cp "$R/boot/initrd.img-$kver" "$IMGDIR/initrd-floor"
	log "floor kernel $kver"
}

# configure_rootfs prepares the debootstrapped tree: a quiet, fast boot and
# the runner unit that executes /mnt/host/test.sh once the system is up.
configure_rootfs() {
	local R=$1
	echo vmguest > "$R/etc/hostname"
	printf '127.0.0.1\tlocalhost\n127.0.1.1\tvmguest\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$R/etc/hosts"
	# the disk is pristine at every boot (snapshot=on): no fsck
	echo '/dev/vda / ext4 rw,errors=remount-ro 0 0' > "$R/etc/fstab"
	chroot "$R" passwd -d root >/dev/null
	ln -sf /dev/null "$R/etc/systemd/system/systemd-firstboot.service"
	rm -f "$R"/etc/systemd/system/timers.target.wants/*.timer
	ln -sf /dev/null "$R/etc/systemd/system/e2scrub_reap.service"
	ln -sf /dev/null "$R/etc/systemd/system/modprobe@drm.service"
	# the suites start their own dockerd and containerd (under a temp dir);
	# podman's boot-time units (auto-update, restart) cost a minute of
	# every emulated boot and nothing here uses them
	local u
	for u in docker.service docker.socket containerd.service \
		podman-auto-update.service podman-auto-update.timer podman-restart.service \
		podman-clean-transient.service; do
		ln -sf /dev/null "$R/etc/systemd/system/$u"
	done
	chroot "$R" useradd -m -u 1000 -s /bin/bash "$ROOTLESS_USER"
	echo "$ROOTLESS_USER:100000:65536" > "$R/etc/subuid"
	echo "$ROOTLESS_USER:100000:65536" > "$R/etc/subgid"
	mkdir -p "$R/var/lib/systemd/linger"
	touch "$R/var/lib/systemd/linger/$ROOTLESS_USER"
	mkdir -p "$R/etc/systemd/system/serial-getty@ttyS0.service.d"
	cat > "$R/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf" <<-'UNIT'
	[Service]
	ExecStart=
	ExecStart=-/sbin/agetty --autologin root --keep-baud 115200,57600,38400,9600 - $TERM
	UNIT
	printf '9p\n9pnet_virtio\nvirtio_console\n' > "$R/etc/modules-load.d/berth-vm.conf"
	# a tmpfs /tmp as on most hosts (the suites put their work dirs there)
	ln -sf /usr/share/systemd/tmp.mount "$R/etc/systemd/system/tmp.mount" 2>/dev/null || true

	cat > "$R/usr/local/sbin/berth-vm-runner" <<-'RUNNER'
	#!/bin/sh
	# Runs /mnt/host/test.sh once the system is up, output to the
	# virtio-serial port "berth.out", exit status to /mnt/host/.exitcode.
	out=/dev/virtio-ports/berth.out
	i=0; while [ ! -e $out ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
	[ -e $out ] || out=/dev/console
	exec >$out 2>&1 </dev/null
	mkdir -p /mnt/host
	if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=none host /mnt/host; then
		echo "BERTH-VM: 9p mount failed"; systemctl poweroff -ff; exit 1
	fi
	state=$(systemctl is-system-running --wait)
	echo "ready_uptime=$(cut -d' ' -f1 /proc/uptime) system_state=$state kernel=$(uname -r)" > /mnt/host/.meta
	cd /mnt/host
	export HOME=/root TERM=dumb LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	if [ -f /mnt/host/.env ]; then set -a; . /mnt/host/.env; set +a; fi
	./test.sh; rc=$?
	echo "done_uptime=$(cut -d' ' -f1 /proc/uptime)" >> /mnt/host/.meta
	echo $rc > /mnt/host/.exitcode
	sync
	if grep -qw berthvm.clean=1 /proc/cmdline; then
		systemctl poweroff --no-block
	else
		systemctl poweroff -ff >/dev/null 2>&1
	fi
	RUNNER
	chmod 755 "$R/usr/local/sbin/berth-vm-runner"
	cat > "$R/etc/systemd/system/berth-vm.service" <<-'UNIT'
	[Unit]
	Description=Berth guest test runner
	ConditionKernelCommandLine=berthvm=1
	After=multi-user.target
	[Service]
	# simple: the boot completes (is-system-running reaches "running")
	# while the script runs
	Type=simple
	ExecStart=/usr/local/sbin/berth-vm-runner
	[Install]
	WantedBy=multi-user.target
	UNIT
	ln -sf /etc/systemd/system/berth-vm.service "$R/etc/systemd/system/multi-user.target.wants/berth-vm.service"
	rm -f "$R"/var/cache/apt/archives/*.deb
}

cmd_build() {
	local force=0
	[ "${1:-}" = --force ] && force=1
	mkdir -p "$IMGDIR" "$VMDIR/cache"
	exec 9>"$VMDIR/.build.lock"
	flock 9
	if [ $force = 0 ] && [ -f "$IMGDIR/stamp" ] && [ "$(cat "$IMGDIR/stamp")" = "$(stamp)" ]; then
		return 0
	fi
	for c in debootstrap qemu-system-x86_64 mkfs.ext4; do
		command -v $c >/dev/null || die "$c missing: run make vm-deps (qemu-system-x86 qemu-utils debootstrap e2fsprogs)"
	done
	local t0=$SECONDS R="$VMDIR/rootfs.build"
	rm -rf "$R"
	rm -f "$IMGDIR/stamp"
	log "debootstrap $SUITE into $R"
	debootstrap --variant=minbase --cache-dir="$VMDIR/cache" --include="$PACKAGES" \
		"$SUITE" "$R" "$MIRROR" > "$VMDIR/debootstrap.log" 2>&1 \
		|| { tail -20 "$VMDIR/debootstrap.log" >&2; die "debootstrap failed (log: $VMDIR/debootstrap.log)"; }
	configure_rootfs "$R"
	local kver
	kver=$(ls "$R/lib/modules" | sort -V | tail -1)
	echo MODULES=list > "$R/etc/initramfs-tools/conf.d/berth-vm.conf"
	printf 'virtio_pci\nvirtio_blk\next4\ncrc32c_generic\n' >> "$R/etc/initramfs-tools/modules"
	chroot "$R" update-initramfs -u -k "$kver" > "$VMDIR/initramfs.log" 2>&1 \
		|| { cat "$VMDIR/initramfs.log" >&2; die "update-initramfs failed"; }
	cp "$R/boot/vmlinuz-$kver" "$IMGDIR/vmlinuz"
	cp "$R/boot/initrd.img-$kver" "$IMGDIR/initrd.img"
	add_floor_kernel "$R"
	rm -f "$IMGDIR/base.img.new"
	mkfs.ext4 -q -F -L vmroot -E root_owner=0:0 -d "$R" "$IMGDIR/base.img.new" "$IMG_SIZE" >/dev/null
	rm -rf "$R"
	# one writable boot does the first-boot work (AppArmor policy cache,
	# journal) so that every snapshot boot after it is faster
	log "warm-up boot"
	printf '#!/bin/sh\nsystemctl is-system-running\n' > "$VMDIR/.warmup.sh"
	BOOT_IMG="$IMGDIR/base.img.new" BOOT_SNAPSHOT=off BOOT_APPEND="berthvm.clean=1" \
		boot_vm 900 1G 2 0 "$VMDIR/.warmup.sh" "" || die "warm-up boot failed"
	mv "$IMGDIR/base.img.new" "$IMGDIR/base.img"
	stamp > "$IMGDIR/stamp"
	log "built $IMGDIR/base.img (kernel $kver) in $((SECONDS - t0)) s"
}

pick_accel() {
	local a=${BERTH_VM_ACCEL:-auto}
	if [ "$a" = auto ]; then
		a=tcg
		if [ -w /dev/kvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then
			a=kvm
		fi
	fi
	case $a in
	kvm) ACCEL=(-accel kvm -cpu host) ;;
	tcg) ACCEL=(-accel tcg,thread=multi,tb-size=256 -cpu max) ;;
	*) die "BERTH_VM_ACCEL must be auto, kvm or tcg" ;;
	esac
	ACCEL_NAME=$a
}

qemu_cmd() {
	pick_accel
	QEMU=(qemu-system-x86_64 -nodefaults "${ACCEL[@]}" -machine q35
		-m "$1" -smp "$2" -no-reboot -display none -nic none
		-kernel "$IMGDIR/vmlinuz${KERNEL_SUFFIX:-}" -initrd "$IMGDIR/${INITRD_NAME:-initrd.img}"
		-drive "file=${BOOT_IMG:-$IMGDIR/base.img},format=raw,if=virtio,snapshot=${BOOT_SNAPSHOT:-on}"
		-device virtio-rng-pci)
	# qboot starts a -kernel much faster than SeaBIOS
	[ -f /usr/share/qemu/qboot.rom ] && QEMU+=(-bios /usr/share/qemu/qboot.rom)
	return 0
}

cmd_shell() {
	( cmd_build )
	qemu_cmd 1536M 2
	exec "${QEMU[@]}" -serial mon:stdio -append "root=/dev/vda rw console=ttyS0"
}

# boot_vm TIMEOUT MEM CPUS KEEP SCRIPT OUTDIR [FILE...]   (script env: ENVS array)
boot_vm() {
	local timeout=$1 mem=$2 cpus=$3 keep=$4 script=$5 outdir=$6
	shift 6
	mkdir -p "$VMDIR/runs"
	local run
	run=$(mktemp -d "$VMDIR/runs/run.XXXXXX")
	mkdir "$run/share"
	install -m 755 "$script" "$run/share/test.sh"
	local f e
	for f in "$@"; do cp -a "$f" "$run/share/"; done
	for e in "${ENVS[@]}"; do printf 'export %q=%q\n' "${e%%=*}" "${e#*=}" >> "$run/share/.env"; done
	: > "$run/out.log"
	qemu_cmd "$mem" "$cpus"
	QEMU+=(-serial "file:$run/console.log"
		-virtfs "local,path=$run/share,mount_tag=host,security_model=none,id=host"
		-device virtio-serial-pci
		-chardev "file,id=bout,path=$run/out.log"
		-device "virtserialport,chardev=bout,name=berth.out"
		-append "root=/dev/vda rw console=ttyS0 quiet berthvm=1 ${BOOT_APPEND:-}")
	local t0=$SECONDS qpid rc=0
	timeout -s KILL "$timeout" "${QEMU[@]}" > "$run/qemu.log" 2>&1 &
	qpid=$!
	trap 'kill $qpid 2>/dev/null; exit 130' INT TERM
	tail -n +1 -f --pid=$qpid "$run/out.log" &
	local tpid=$!
	wait $qpid || rc=$?
	wait $tpid 2>/dev/null || true
	trap - INT TERM
	local meta=""
	[ -f "$run/share/.meta" ] && meta=$(tr '\n' ' ' < "$run/share/.meta")
	if [ $rc = 137 ]; then
		log "VM timed out after ${timeout}s"
		rc=124; keep=1
	elif [ -f "$run/share/.exitcode" ]; then
		rc=$(cat "$run/share/.exitcode")
	else
		log "the guest reported no exit status (qemu rc=$rc); console tail:"
		tail -20 "$run/console.log" >&2 || true
		rc=125; keep=1
	fi
	if [ -n "$outdir" ] && [ -d "$run/share/out" ]; then
		mkdir -p "$outdir"
		cp -a "$run/share/out/." "$outdir/"
	fi
	if [ $rc = 124 ]; then
		# A hang: show where each suite's log stopped, so the CI output
		# names the test even when the run directory is gone.
		local l
		for l in "$run"/share/out/*.log; do
			[ -f "$l" ] || continue
			log "timed out: last lines of $(basename "$l"):"
			tail -25 "$l" | sed 's/^/    /' >&2
		done
		log "console tail:"
		tail -15 "$run/console.log" | sed 's/^/    /' >&2 || true
	fi
	log "exit=$rc accel=$ACCEL_NAME wall=$((SECONDS - t0))s $meta"
	if [ $keep = 1 ]; then log "kept $run"; else rm -rf "$run"; fi
	return "$rc"
}

cmd_run() {
	local timeout=900 mem=1536M cpus keep=0 files=() outdir=""
	cpus=$(nproc); [ "$cpus" -gt 4 ] && cpus=4
	ENVS=()
	local OPTIND=1 o
	while getopts "f:e:o:t:m:c:kK:" o; do
		case $o in
		K) case $OPTARG in
			stock) ;;
			floor) KERNEL_SUFFIX=-floor INITRD_NAME=initrd-floor ;;
			*) die "-K takes stock or floor" ;;
			esac ;;
		f) files+=("$OPTARG") ;;
		e) ENVS+=("$OPTARG") ;;
		o) outdir=$OPTARG ;;
		t) timeout=$OPTARG ;;
		m) mem=$OPTARG ;;
		c) cpus=$OPTARG ;;
		k) keep=1 ;;
		*) die "bad option" ;;
		esac
	done
	shift $((OPTIND - 1))
	[ $# = 1 ] || die "usage: vm.sh run [-f FILE]... [-e K=V]... [-o DIR] [-t SECS] [-m MEM] [-c N] [-k] SCRIPT"
	[ -f "$1" ] || die "no such script: $1"
	( cmd_build ) || die "image build failed"
	boot_vm "$timeout" "$mem" "$cpus" "$keep" "$1" "$outdir" "${files[@]}"
}

ENVS=()
case ${1:-} in
build) shift; cmd_build "$@" ;;
run) shift; cmd_run "$@" ;;
shell) shift; cmd_shell "$@" ;;
*) sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
