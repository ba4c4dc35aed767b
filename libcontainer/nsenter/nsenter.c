// The pre-stage of "berth init": it runs as a C constructor, before the Go
// runtime starts any thread. Three things can only be done well there:
//
//  - joining cgroup v1 hierarchies by writing "0" to <dir>/tasks: a thread
//    moving itself skips the kernel's global threadgroup lock (and its RCU
//    grace period, ~8 ms here), and while there is one thread, moving it
//    moves the whole process before it can fork (_BERTH_CGROUPS);
//  - setns(CLONE_NEWUSER) and setns(CLONE_NEWTIME), which refuse a
//    multi-threaded caller (_BERTH_NSJOIN, then _BERTH_NSUNSHARE);
//  - forking into a new pid namespace created after those joins, or into
//    a new time namespace, whose offsets must be written before any
//    process is in it and which execve does not enter on every supported
//    kernel (_BERTH_NSFORK, _BERTH_TIMENS_OFFSETS);
//  - making a user namespace whose maps a rootless runtime writes with
//    newuidmap/newgidmap (CLONE_NEWUSER in _BERTH_NSUNSHARE): they need a
//    process that is already in it, before the namespaces it is to own.
//
// For an exec the runtime gives to the C exec stage (_BERTH_EXECSTAGE,
// execstage.c), the process that goes on enters it instead of returning
// to Go: no Go runtime ever starts in it.
//
// It does nothing unless _BERTH_SYNCFD is set (only "berth init" has it).
// It reports one line on the sync socket: "S" (this process goes on),
// "P<pid>" (the forked child goes on) or "E<message>" (failure; exit 1),
// after an "M" line (write my maps) when it made a user namespace.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_JOINS 16

static int syncfd = -1;

static void report(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(syncfd, buf, n) != n)
		_exit(1);
}

static void fail(const char *fmt, ...)
{
	char msg[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report("E%s: %s", msg, strerror(errno));
	_exit(1);
}

struct join {
	int flag;
	int fd;
	const char *path;
};

/* berth_nsname is a namespace's word in messages (execstage.c's too). */
const char *berth_nsname(int flag)
{
	switch (flag) {
	case CLONE_NEWUSER: return "user";
	case CLONE_NEWNS: return "mount";
	case CLONE_NEWTIME: return "time";
	case CLONE_NEWNET: return "network";
	case CLONE_NEWIPC: return "ipc";
	case CLONE_NEWUTS: return "uts";
	case CLONE_NEWPID: return "pid";
	case CLONE_NEWCGROUP: return "cgroup";
	}
	return "unknown";
}

/* join_cgroups moves this (only) thread into each v1 cgroup directory. */
static void join_cgroups(const char *dirs)
{
	char *list, *dir, *save = NULL, path[4096];
	int fd;

	if (dirs == NULL || *dirs == '\0')
		return;
	list = strdup(dirs);
	if (list == NULL)
		fail("out of memory");
	for (dir = strtok_r(list, "\n", &save); dir; dir = strtok_r(NULL, "\n", &save)) {
		snprintf(path, sizeof(path), "%s/tasks", dir);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1)
			fail("join cgroup %s", dir);
		close(fd);
	}
	free(list);
}

void berth_exec_stage(int syncfd); /* execstage.c */
void berth_exec_stage_direct(int syncfd);
static void join_all(const char *spec);
static void set_time_offsets(const char *offsets);
static void new_userns(void);

void berth_nsenter(void)
{
	const char *spec = getenv("_BERTH_NSJOIN");
	const char *s;
	unsigned long unshare_flags;

	if ((s = getenv("_BERTH_SYNCFD")) == NULL)
		return;
	syncfd = atoi(s);
	/* A process joining a running container must not be ptraced or have
	 * its fds read by the container's processes while it still holds the
	 * runtime's (CVE-2016-9962): from its first instruction, not only once
	 * Go is up. execve resets this. */
	if (getenv("_BERTH_EXEC") != NULL)
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* The sealed copy a direct exec runs through (execstage.c's
	 * exec_sealed): joined, moved and limited already. */
	if ((s = getenv("_BERTH_EXECSTAGE")) != NULL && strcmp(s, "direct") == 0)
		berth_exec_stage_direct(syncfd);
	join_cgroups(getenv("_BERTH_CGROUPS"));
	if (spec != NULL && *spec != '\0')
		join_all(spec);

	s = getenv("_BERTH_NSUNSHARE");
	unshare_flags = s ? strtoul(s, NULL, 10) : 0;
	if (unshare_flags & CLONE_NEWUSER) {
		new_userns();
		unshare_flags &= ~CLONE_NEWUSER;
	}
	if (unshare_flags && unshare(unshare_flags) < 0)
		fail("create namespaces (flags %#lx)", unshare_flags);
	if (unshare_flags & CLONE_NEWTIME)
		set_time_offsets(getenv("_BERTH_TIMENS_OFFSETS"));

	if (getenv("_BERTH_NSFORK") == NULL) {
		report("S");
		/* An exec the runtime gave to the C stage never returns. */
		if (getenv("_BERTH_EXECSTAGE") != NULL)
			berth_exec_stage(syncfd);
		return;
	}
	/* A new pid or time namespace is only entered by a child (execve
	 * switches time namespaces only on newer kernels: not on 6.1; a fork
	 * always does).
	 * CLONE_PARENT makes it a child of the runtime, which waits for it. */
	long pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
	if (pid < 0)
		fail("fork into the new namespaces");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		if (getenv("_BERTH_EXECSTAGE") != NULL)
			berth_exec_stage(syncfd);
		return;
	}
	report("P%ld", pid);
	_exit(0);
}

/* new_userns makes a user namespace, has the runtime write its maps
 * ("M", then one byte back: newuidmap runs outside, on our pid) and
 * becomes its root. newuidmap checks that our /proc entries belong to the
 * user who runs it, which they do only while we are dumpable. */
static void new_userns(void)
{
	int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	char ack;
	ssize_t n;

	if (unshare(CLONE_NEWUSER) < 0)
		fail("create the user namespace");
	if (dumpable != 1 && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		fail("set dumpable for newuidmap");
	report("M");
	/* EOF: the runtime failed and says why itself. */
	while ((n = read(syncfd, &ack, 1)) < 0 && errno == EINTR)
		;
	if (n != 1)
		_exit(1);
	if (dumpable != 1 && prctl(PR_SET_DUMPABLE, dumpable, 0, 0, 0) < 0)
		fail("reset dumpable");
	if (setresgid(0, 0, 0) < 0)
		fail("setgid 0 in the new user namespace (gid 0 is not in its gidMappings?)");
	if (setresuid(0, 0, 0) < 0)
		fail("setuid 0 in the new user namespace (uid 0 is not in its uidMappings?)");
}

/* set_time_offsets writes the clock offsets ("<clock> <secs> <nsecs>"
 * lines) of the time namespace just created, before any process is in it
 * (the kernel refuses them afterwards). */
static void set_time_offsets(const char *offsets)
{
	int fd;
	size_t n;

	if (offsets == NULL || *offsets == '\0')
		return;
	n = strlen(offsets);
	fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, offsets, n) != (ssize_t)n)
		fail("write time offsets");
	close(fd);
}

/* join_all joins the namespaces listed in spec ("<flag>:<path>" lines). */
static void join_all(const char *spec)
{
	char *list, *line, *save = NULL;
	struct join joins[MAX_JOINS];
	int njoins = 0, i, user = -1, pending[MAX_JOINS], npending = 0;

	/* Nothing in a joined pid namespace may ptrace us or read our fds
	 * while we set up (CVE-2016-9962); execve resets this. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

	list = strdup(spec);
	if (list == NULL)
		fail("out of memory");
	for (line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');
		if (colon == NULL || njoins == MAX_JOINS) {
			errno = EINVAL;
			fail("bad namespace list");
		}
		*colon = '\0';
		joins[njoins].flag = atoi(line);
		joins[njoins].path = colon + 1;
		/* Open everything first: after joining a mount namespace the
		 * paths may no longer resolve. */
		joins[njoins].fd = open(colon + 1, O_RDONLY | O_CLOEXEC);
		if (joins[njoins].fd < 0)
			fail("open %s namespace %s", berth_nsname(joins[njoins].flag), colon + 1);
		if (joins[njoins].flag == CLONE_NEWUSER)
			user = njoins;
		njoins++;
	}

	/* Other namespaces first, with the host's privileges; those that need
	 * the joined user namespace's privileges are retried after it. */
	for (i = 0; i < njoins; i++) {
		if (i == user)
			continue;
		if (setns(joins[i].fd, joins[i].flag) < 0) {
			if (errno != EPERM || user < 0)
				fail("join %s namespace %s", berth_nsname(joins[i].flag), joins[i].path);
			pending[npending++] = i;
		}
	}
	if (user >= 0) {
		if (setns(joins[user].fd, CLONE_NEWUSER) < 0)
			fail("join user namespace %s", joins[user].path);
		if (setresgid(0, 0, 0) < 0)
			fail("setgid 0 in the joined user namespace");
		if (setresuid(0, 0, 0) < 0)
			fail("setuid 0 in the joined user namespace");
	}
	for (i = 0; i < npending; i++) {
		struct join *j = &joins[pending[i]];
		if (setns(j->fd, j->flag) < 0)
			fail("join %s namespace %s", berth_nsname(j->flag), j->path);
	}
	for (i = 0; i < njoins; i++)
		close(joins[i].fd);
	free(list);
}
