package main

// The constructor below runs before the Go runtime starts (libcontainer/cpus
// says why): for the commands that gain, it pins the process to the CPU it
// is on, so the runtime's threads all start there and GOMAXPROCS is 1.

/*
#define _GNU_SOURCE
#include <sched.h>
#include <stdlib.h>
#include <string.h>

cpu_set_t berth_cpus_orig;
int berth_cpus_pinned = -1;

// berth_pinned_command reports whether argv runs a command that starts,
// inspects or stops one container, skipping the global flags before it
// (those that take a value take the next word unless written name=value).
// list is not one: it reads its containers with several workers.
static int berth_pinned_command(int argc, char **argv)
{
	static const char *const valued[] = {"log", "log-format", "root", "rootless", NULL};
	static const char *const cmds[] = {"create", "run", "start", "state", "kill", "delete", "exec", NULL};
	int i = 1, k;

	while (i < argc && argv[i][0] == '-' && strcmp(argv[i], "--") != 0) {
		const char *name = argv[i] + (argv[i][1] == '-' ? 2 : 1);
		int takes = 0;

		if (strchr(name, '=') == NULL)
			for (k = 0; valued[k]; k++)
				takes |= strcmp(name, valued[k]) == 0;
		i += 1 + takes;
	}
	if (i >= argc)
		return 0;
	for (k = 0; cmds[k]; k++)
		if (strcmp(argv[i], cmds[k]) == 0)
			return 1;
	return 0;
}

// glibc passes main's arguments to ELF constructors.
__attribute__((constructor)) static void berth_pin(int argc, char **argv, char **envp)
{
	cpu_set_t one;
	int cpu;

	(void)envp;
	// The container's init and a joining process are berth too: never.
	// _BERTH_NO_PIN leaves a command where it was started (to measure).
	if (getenv("_BERTH_SYNCFD") != NULL || getenv("_BERTH_NO_PIN") != NULL)
		return;
	if (argv == NULL || !berth_pinned_command(argc, argv))
		return;
	if (sched_getaffinity(0, sizeof(berth_cpus_orig), &berth_cpus_orig) != 0 ||
	    CPU_COUNT(&berth_cpus_orig) < 2)
		return;
	cpu = sched_getcpu();
	if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &berth_cpus_orig))
		return;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one) == 0)
		berth_cpus_pinned = cpu;
}
*/
import "C"

import (
	"unsafe"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/berth-runtime/berth/libcontainer/cpus"
)

// notePin hands what the constructor did to the engine, which gives the
// processes it starts the caller's affinity back.
func notePin() {
	if C.berth_cpus_pinned < 0 {
		return
	}
	var orig unix.CPUSet
	n := min(unsafe.Sizeof(orig), unsafe.Sizeof(C.berth_cpus_orig))
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&orig)), n), unsafe.Slice((*byte)(unsafe.Pointer(&C.berth_cpus_orig)), n))
	cpus.SetPinned(orig, int(C.berth_cpus_pinned))
}

// releaseCPUs unpins a command that now only waits for its container's
// process (cpus.Release): a failure costs only speed.
func releaseCPUs() {
	if err := cpus.Release(); err != nil {
		logrus.Debugf("%v", err)
	}
}
