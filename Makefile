# Berth build, install and test entry points.
PREFIX   ?= /usr/local
GO       ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
VERSION  ?= $(shell cat VERSION 2>/dev/null || echo 0.1.0-dev)
COMMIT   ?= $(shell git describe --always --dirty 2>/dev/null || echo unknown)
TAGS     := osusergo netgo urfave_cli_no_docs
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -linkmode external -extldflags -static
export CGO_ENABLED := 1
# The tests build helpers with go too: make sure it is on PATH.
export PATH := $(dir $(GO)):$(PATH)

.PHONY: all berth berth-docker-engine berth-floor docker-test install test unit integration integration-v2 integration-floor \
	conformance lint clean deps callers-deps podman-test containerd-test dockerd-test conmon-test callers-test \
	callers-test-runc integration-all vm-deps vm-image vm-test vm-test-ci security-test fuzz fuzz-smoke bench

all: berth

# berth-criu is berth with checkpoint and restore (go-criu, protobuf), which
# berth execs for those two commands (and asks for features' CRIU check): built and installed
# with it, kept out of every other berth process (docs/design.md).
berth:
	$(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o berth .
	$(GO) build -trimpath -tags '$(TAGS) berth_criu' -ldflags '$(LDFLAGS)' -o berth-criu .

# berth-floor is berth built as if on the oldest supported kernel (see
# libcontainer/kernel): every newer API it can do without is left untried,
# so the tests exercise the fallbacks on this machine's kernel.
berth-floor:
	$(GO) build -trimpath -tags '$(TAGS) berth_kernel_floor' -ldflags '$(LDFLAGS)' -o berth-floor .

berth-docker-engine:
	$(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o berth-docker-engine ./cmd/berth-docker-engine

install: berth berth-docker-engine
	install -D -m 0755 berth $(DESTDIR)$(PREFIX)/bin/berth
	install -D -m 0755 berth-criu $(DESTDIR)$(PREFIX)/bin/berth-criu
	install -D -m 0755 berth-docker-engine $(DESTDIR)$(PREFIX)/bin/berth-docker-engine
	install -D -m 0755 scripts/berth-docker $(DESTDIR)$(PREFIX)/bin/berth-docker

# bench times berth against runc and crun on this machine (their
# latency per lifecycle operation, CPU time and peak RSS, with ratios from
# one interleaved run): tests/bench/run.sh says how, per cgroup layout.
bench: berth
	tests/bench/run.sh

# deps installs what the build and the tests need on Debian 12 (criu: the
# checkpoint tests, which on a kernel it cannot work with check its refusal), the callers
# included.
deps:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		gcc libc6-dev libseccomp-dev pkg-config make busybox-static iproute2 util-linux mount procps tar jq time runc uidmap criu >/dev/null
	$(MAKE) callers-deps vm-deps

# callers-deps installs the real callers the caller suites drive: podman and
# conmon, containerd (ctr, the runc v2 shim, the CRI plugin) and dockerd.
# The packages must not start their daemons (docker.io has an init script):
# the suites start their own, and a machine without systemd would otherwise
# run dockerd from /etc/init.d. A policy-rc.d denying starts is put in place
# for the install when the machine has none.
callers-deps:
	@set -e; made=; \
	if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made=1; fi; \
	rc=0; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		podman conmon containernetworking-plugins containerd docker.io iptables crun >/dev/null || rc=$$?; \
	if [ -n "$$made" ]; then rm -f /usr/sbin/policy-rc.d; fi; exit $$rc
	GOBIN=$(CURDIR)/.bin $(GO) install sigs.k8s.io/cri-tools/cmd/crictl@v1.37.0

# vm-deps installs what the real-host guest (tests/vm) needs: QEMU and
# debootstrap, which builds its Debian 12 image from Debian's packages.
vm-deps:
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		qemu-system-x86 qemu-utils debootstrap e2fsprogs curl xz-utils >/dev/null

# vm-image builds (or finds cached) the guest image: systemd, pure cgroup
# v2, AppArmor, Debian's 6.1 kernel. About 4 minutes the first time.
vm-image:
	tests/vm/vm.sh build

# vm-test runs the integration suite and berth-docker's suite inside the
# guest on Debian 12's 6.1 kernel, then the integration suite again on
# Debian 11's 5.10, the kernel floor, then the real callers with their
# defaults on that host (podman and dockerd as root: systemd cgroup driver,
# AppArmor profiles; rootless podman as the guest's user under its systemd
# user manager) (tests/vm/run.sh; results in
# tests/vm/results/{stock,floor,callers}/). VM_RUNTIMES='berth runc' also
# runs them against the guest's runc.
vm-test: vm-image
	@rc=0; \
	GO=$(GO) RUNTIMES='$(or $(VM_RUNTIMES),berth)' TEST_TIMEOUT='$(VM_TEST_TIMEOUT)' VM_RESULTS=tests/vm/results/stock \
		TEST_RUN_berthdocker='$(VM_BERTHDOCKER_RUN)' TEST_SKIP_integration='$(VM_STOCK_SKIP)' tests/vm/run.sh || rc=1; \
	GO=$(GO) RUNTIMES='$(or $(VM_RUNTIMES),berth)' TEST_TIMEOUT='$(VM_TEST_TIMEOUT)' VM_RESULTS=tests/vm/results/floor VM_KERNEL=floor SUITES=integration \
		TEST_RUN='$(VM_FLOOR_RUN)' TEST_SKIP='$(VM_FLOOR_SKIP)' tests/vm/run.sh || rc=1; \
	GO=$(GO) RUNTIMES='$(or $(VM_RUNTIMES),berth)' TEST_TIMEOUT='$(or $(VM_CALLERS_TEST_TIMEOUT),$(VM_TEST_TIMEOUT))' \
		VM_TIMEOUT='$(or $(VM_CALLERS_VM_TIMEOUT),3000)' VM_RESULTS=tests/vm/results/callers \
		SUITES='podman dockerd podman-rootless containerd' TEST_RUN_podman='$(VM_PODMAN_RUN)' TEST_RUN_podman_rootless='$(or $(VM_PODMAN_ROOTLESS_RUN),$(VM_PODMAN_RUN))' \
		TEST_RUN_dockerd='$(VM_DOCKERD_RUN)' TEST_RUN_containerd='$(VM_CONTAINERD_RUN)' tests/vm/run.sh || rc=1; \
	exit $$rc

# vm-test-ci is what make test (and so CI) runs, within CI's 45 minutes:
# on the stock kernel the integration suite but for three races and the
# host-dependent part of berth-docker's (below), and on the floor
# kernel, where the emulated guest is about 2.5 times slower, the tests of
# what depends on the kernel: exec, terminals, mounts and masking, joins,
# time and user namespaces, seccomp, fd leaks, the lifecycle and the CVE
# suite (resources and update, whose kernel fallbacks are the same on 5.10
# and 6.1, run on 6.1 only).
VM_FLOOR_SUBSET := ^Test(Exec|Terminal|Mount|Bind|Rbind|Recursive|Masked|Readonly|Join|Time|Requested|Omitted|User|CVE|Lifecycle|NoRuntimeFd|Seccomp)
# The three bounded races of the CVE suite (ptrace of an exec, the volume
# race, the /proc swap race: 20-40 containers each) are left out on the
# floor, where they cost minutes under emulation; the 6.1 run and the host
# (also with berth-floor) run them.
VM_FLOOR_SKIP_CI := ^TestCVE_(2016_9962|2021_30465|2019_19921RacingProcSwap)
# On the stock kernel CI leaves out the same three races (the host runs
# them on 6.18, in both cgroup modes and against berth-floor) and runs of
# berth-docker's suite what the host cannot show: limits on a full cgroup v2
# under systemd, the detached monitor and pruning under a real init, stop,
# exec, rm, the seed's transcript, the security defaults under AppArmor.
# make vm-test runs both suites whole.
# It also leaves out what behaves the same on the host, which runs it in
# both cgroup modes and against berth-floor: the runc parity checks, kill's
# signal forms, list, pidfds and concurrent commands (about two minutes
# under emulation).
VM_STOCK_SKIP_CI := $(VM_FLOOR_SKIP_CI)|^Test(Parity|Kill|List[A-Z]|Pidfd|Concurrent)
VM_BERTHDOCKER_CI := ^Test(SeedTranscript|RunDetachedPrintsID|RunForegroundOutputAndExitCode|RunRm|RunTTY|MonitorRecordsExit|MonitorDetachedFromCaller|MonitorKilled|StopTimeoutKills|StopGraceful|Exec|RmRunning|PruneAfterCrash|MemoryLimit|MemoryOOMKilled|CPULimits|PidsLimit|Privileged|DefaultCaps|Seccomp|MaskedPaths)
# A suite that hangs is stopped after 20 minutes (each takes 10-15), with a
# watchdog's process listing and go test's goroutine dump in the results and
# the CI log, so both suites and the floor still run within CI's budget.
# The callers under emulation cost 5-15 s a container (podman's own start
# is most of it): CI runs what depends on the host's defaults (the systemd
# driver's placement and limits, update, pause, AppArmor profiles, user
# namespaces) and the basic flow (-d, exec, stop), each suite stopped after
# 10 minutes (they took 2-5) and the VM after 35; make vm-test runs every
# scenario.
VM_PODMAN_CI := ^Test(MemoryLimitAndUpdate|Cpus|PidsLimit|PauseUnpause|DefaultAppArmorProfile|UserNamespaceUidmap|RunDetachedIsListedUp|Exec|StopHonoursSIGTERM|Checkpoint)
# Rootless podman runs the runtime in its user namespace: CI runs there the
# flow (-d, exec, stop), the id mapping and the limits of its delegated
# cgroup; pause and the other limits are the root run's.
VM_PODMAN_ROOTLESS_CI := ^Test(MemoryLimitAndUpdate|UserNamespaceUidmap|RunDetachedIsListedUp|Exec|StopHonoursSIGTERM)
# containerd's suite runs in the guest for what needs CRIU (ctr checkpoint
# and restore through the runc v2 shim); the host runs the rest of it.
VM_CONTAINERD_RUN ?= ^TestCtrCheckpoint
VM_DOCKERD_CI := ^TestDockerd/^scenarios/^(Exec|StopHonoursSIGTERM|MemoryAndUpdate|PauseUnpause|DefaultAppArmorProfile|CgroupDriverPlacement)
vm-test-ci:
	$(MAKE) vm-test VM_FLOOR_RUN='$(VM_FLOOR_SUBSET)' VM_FLOOR_SKIP='$(VM_FLOOR_SKIP_CI)' VM_TEST_TIMEOUT=20m \
		VM_STOCK_SKIP='$(VM_STOCK_SKIP_CI)' VM_BERTHDOCKER_RUN='$(VM_BERTHDOCKER_CI)' \
		VM_PODMAN_RUN='$(VM_PODMAN_CI)' VM_PODMAN_ROOTLESS_RUN='$(VM_PODMAN_ROOTLESS_CI)' VM_DOCKERD_RUN='$(VM_DOCKERD_CI)' VM_CALLERS_TEST_TIMEOUT=10m VM_CALLERS_VM_TIMEOUT=2100

unit:
	$(GO) test -tags '$(TAGS)' $$($(GO) list ./... | grep -v /tests/)
	$(GO) test -tags '$(TAGS) berth_criu' . ./libcontainer/...

integration: berth
	BERTH_BIN=$(CURDIR)/berth $(GO) test -count=1 -timeout 15m ./tests/integration/

integration-v2: berth
	BERTH_BIN=$(CURDIR)/berth tests/run-v2.sh $(GO) test -count=1 -timeout 15m ./tests/integration/

# integration-floor runs the integration suite in the cgroup v2 view against
# berth-floor, where every kernel fallback is taken (clone3 into a cgroup
# included); tests that need a newer API than the floor skip, naming it.
integration-floor: berth-floor berth
	BERTH_BIN=$(CURDIR)/berth-floor tests/run-v2.sh $(GO) test -count=1 -timeout 15m ./tests/integration/

# fuzz runs every fuzz target of the parsers of untrusted input for
# FUZZTIME (default 30s) each; fuzz-smoke, part of make test, for 3s each.
fuzz:
	GO=$(GO) FUZZTIME=$(or $(FUZZTIME),30s) tests/fuzz.sh

fuzz-smoke:
	GO=$(GO) FUZZTIME=3s tests/fuzz.sh

# security-test runs the CVE regression suite (docs/security.md) alone;
# make test runs it with the rest of the integration suite.
security-test: berth
	BERTH_BIN=$(CURDIR)/berth $(GO) test -count=1 -timeout 10m -run 'CVE|Attack' -v ./tests/integration/

# berth-docker's suite, once with berth and once with runc as the runtime.
docker-test: berth berth-docker-engine
	BERTH_BIN=$(CURDIR)/berth BERTH_DOCKER_ENGINE=$(CURDIR)/berth-docker-engine $(GO) test -count=1 -timeout 15m ./tests/berthdocker/

# The caller suites: each sets up a real caller with berth as its runtime
# (state under a temp dir, daemons stopped by pid) and checks what it left.
podman-test: berth
	BERTH_BIN=$(CURDIR)/berth $(GO) test -count=1 -timeout 20m ./tests/podman/

containerd-test: berth
	BERTH_BIN=$(CURDIR)/berth $(GO) test -count=1 -timeout 20m ./tests/containerd/

dockerd-test: berth
	BERTH_BIN=$(CURDIR)/berth $(GO) test -count=1 -timeout 20m ./tests/dockerd/

conmon-test: berth
	BERTH_BIN=$(CURDIR)/berth $(GO) test -count=1 -timeout 20m ./tests/conmon/

callers-test: podman-test containerd-test dockerd-test conmon-test

# callers-test-runc runs the caller suites with runc as the runtime: every
# scenario must pass there too, which checks the tests themselves.
callers-test-runc:
	for s in podman containerd dockerd conmon; do \
		BERTH_BIN=$$(command -v runc) $(GO) test -count=1 -timeout 20m ./tests/$$s/ || exit 1; \
	done

# integration-all is another name for test, which runs everything (it fits
# in CI's time).
integration-all: test

# conformance runs the OCI validation suite (runtime-tools' validation
# programs) on ./berth and fails if a test does worse than
# tests/conformance/expected.tsv says (see docs/conformance.md). As root, one
# run at a time. The suite script is the shared copy when there is one, else
# the copy vendored here; it builds the suite with Go once and caches it in
# ~/.cache/oci-validation. CONFORMANCE_ARGS goes to the suite, e.g. -r hooks.
OCI_VALIDATION ?= $(firstword $(wildcard ../shared/conformance/oci-validation.sh) tests/conformance/oci-validation.sh)
conformance: berth
	tests/conformance/check.sh $(OCI_VALIDATION) $(CURDIR)/berth $(CONFORMANCE_ARGS)

# test runs everything: unit tests, then the integration suite on the host's
# cgroup layout and again in a cgroup v2 view, berth-docker's suite, the
# caller suites (podman, containerd with ctr and CRI, dockerd, conmon) and
# the OCI conformance gate, then both suites again in the real-host guest.
test: unit fuzz-smoke integration integration-v2 integration-floor docker-test callers-test conformance vm-test-ci

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet -tags '$(TAGS)' ./...
	$(GO) vet -tags '$(TAGS) berth_criu' . ./libcontainer/...
	@# go.mod and go.sum must be what "go mod tidy" makes (direct
	@# dependencies not marked indirect, nothing missing or extra).
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod/go.sum are not tidy: run go mod tidy"; $(GO) mod tidy -diff; exit 1; }

clean:
	rm -f berth berth-criu berth-floor berth-docker-engine
