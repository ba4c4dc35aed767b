// The exec stage: "berth exec" of a process that needs nothing only the Go
// init can do goes from the pre-stage straight to the program, so no Go
// runtime starts in the joining process (it cost ~3 ms of a ~10 ms exec).
// The runtime decides (libcontainer/execstage.go): a terminal, an AppArmor
// profile, a seccomp agent, a scheduler, an I/O priority or a CPU affinity
// keep the Go init. Everything else an exec does is here, in the Go
// init's order (initp.run and initp.finalize), with its error messages:
//
//   read the configuration (syncmsg.ExecStage: the runtime resolved the
//   env and parsed the capabilities), HOME from the container's passwd,
//   the program on the container's PATH, no_new_privs; "ready", then wait
//   for "run" (the runtime set the rlimits); drop the parent-death signal;
//   every fd past the preserved ones close-on-exec (CVE-2024-21626); cwd,
//   checked to be inside the root; seccomp before the capability drop
//   unless no_new_privs; bounding set, ids, capability sets, ambient;
//   umask; seccomp last under no_new_privs; execve.
//
// Messages to the runtime are the protocol's JSON lines (syncmsg.Message):
// {"type":"ready"} and {"type":"error","message":...}. The sync socket is
// close-on-exec: the runtime reads EOF once execve succeeded, and a failed
// execve is reported on it.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

const char *berth_nsname(int flag); /* nsenter.c */

/* Record tags of syncmsg.ExecStage's encoding (keep in step with it). */
enum {
	T_END, T_ARG, T_ENV, T_CWD, T_UID, T_GID, T_GIDS, T_UMASK, T_NNP,
	T_CAPS, T_SECCOMP, T_PRESERVE, T_HOME,
};

#define MAGIC 0x31435842u /* "BXC1" */
#define MAX_CONFIG (16u << 20)
#define NSETS 5 /* bounding, effective, inheritable, permitted, ambient */

struct stage {
	char **argv, **envp;
	int argc, envc;
	const char *cwd;
	uint32_t uid, gid, umask, ngids, preserve;
	const uint32_t *gids;
	int nnp, add_home, lastcap;
	uint64_t caps[NSETS];
	uint64_t seccomp_flags;
	struct sock_fprog prog;
};

static int sock = -1;

/* While the runtime's thread parses a direct exec's configuration
 * (berth_exec_fork), die returns to it instead of exiting. */
static jmp_buf *die_jmp;
static char *die_err;
static int die_errlen;

/* json_send writes {"type":type[,"message":msg]} and a newline. */
static void json_send(const char *type, const char *msg)
{
	char buf[2048];
	size_t n = 0;
	const char *p;

	n += snprintf(buf, sizeof(buf), "{\"type\":\"%s\"", type);
	if (msg != NULL) {
		n += snprintf(buf + n, sizeof(buf) - n, ",\"message\":\"");
		for (p = msg; *p && n < sizeof(buf) - 16; p++) {
			unsigned char c = *p;
			if (c == '"' || c == '\\')
				n += snprintf(buf + n, sizeof(buf) - n, "\\%c", c);
			else if (c < 0x20)
				n += snprintf(buf + n, sizeof(buf) - n, "\\u%04x", c);
			else
				buf[n++] = c;
		}
		buf[n++] = '"';
	}
	buf[n++] = '}';
	buf[n++] = '\n';
	if (write(sock, buf, n) != (ssize_t)n)
		_exit(1);
}

/* errstr is errno's text as Go spells it (lower-case first letter), so
 * both stages' messages read the same. */
static const char *errstr(int e)
{
	static char buf[128];

	snprintf(buf, sizeof(buf), "%s", strerror(e));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] += 'a' - 'A';
	return buf;
}

/* die reports a formatted message (with errno's text when with_errno) to
 * the runtime and exits. */
static void die(int with_errno, const char *fmt, ...)
{
	char msg[1024];
	int e = errno, n;
	va_list ap;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (with_errno && n >= 0 && n < (int)sizeof(msg))
		snprintf(msg + n, sizeof(msg) - n, ": %s", errstr(e));
	if (die_jmp != NULL) {
		snprintf(die_err, die_errlen, "%s", msg);
		longjmp(*die_jmp, 1);
	}
	json_send("error", msg);
	_exit(1);
}

/* copy is an aligned copy of a record's value. */
static void *copy(const void *v, size_t len)
{
	void *p = malloc(len ? len : 1);

	if (p == NULL)
		die(0, "exec stage: out of memory");
	return memcpy(p, v, len);
}

static int read_full(void *buf, size_t len)
{
	char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = read(sock, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* parse_stage decodes the configuration's body (len bytes, records of
 * tag, length, value; strings end in their NUL), in place: s points into
 * body. It returns the offset after the T_END record. */
static uint32_t parse_stage(struct stage *s, char *body, uint32_t len)
{
	uint32_t tag, rlen, off = 0;
	int maxv;

	/* Every record is at least 8 bytes: bounds for the two vectors. */
	maxv = len / 8 + 1;
	s->argv = calloc(maxv, sizeof(char *));
	s->envp = calloc(maxv + 1, sizeof(char *)); /* and HOME */
	if (s->argv == NULL || s->envp == NULL)
		die(0, "exec stage: out of memory");
	s->umask = 022;
	for (;;) {
		char *v;

		if (off + 8 > len)
			die(0, "exec stage: truncated configuration");
		memcpy(&tag, body + off, 4);
		memcpy(&rlen, body + off + 4, 4);
		off += 8;
		if (tag == T_END)
			break;
		if (rlen > len - off)
			die(0, "exec stage: truncated configuration");
		v = body + off;
		off += rlen;
		switch (tag) {
		case T_ARG:
		case T_ENV:
		case T_CWD:
			if (rlen == 0 || v[rlen - 1] != '\0')
				die(0, "exec stage: unterminated string (tag %u)", tag);
			if (tag == T_ARG)
				s->argv[s->argc++] = v;
			else if (tag == T_ENV)
				s->envp[s->envc++] = v;
			else
				s->cwd = v;
			break;
		case T_UID: case T_GID: case T_UMASK: case T_PRESERVE:
			if (rlen != 4)
				die(0, "exec stage: bad record %u", tag);
			memcpy(tag == T_UID ? &s->uid : tag == T_GID ? &s->gid :
			       tag == T_UMASK ? &s->umask : &s->preserve, v, 4);
			break;
		case T_GIDS:
			if (rlen % 4 != 0)
				die(0, "exec stage: bad record %u", tag);
			s->gids = copy(v, rlen); /* records are not aligned */
			s->ngids = rlen / 4;
			break;
		case T_NNP:
			s->nnp = 1;
			break;
		case T_HOME:
			s->add_home = 1;
			break;
		case T_CAPS:
			if (rlen != NSETS * 8 + 4)
				die(0, "exec stage: bad record %u", tag);
			memcpy(s->caps, v, NSETS * 8);
			memcpy(&s->lastcap, v + NSETS * 8, 4);
			break;
		case T_SECCOMP:
			if (rlen < 8 + 8 || (rlen - 8) % 8 != 0 || (rlen - 8) / 8 > 0xffff)
				die(0, "load seccomp filter: bad program size %u", rlen - 8);
			memcpy(&s->seccomp_flags, v, 8);
			s->prog.len = (rlen - 8) / 8;
			s->prog.filter = copy(v + 8, rlen - 8);
			break;
		default:
			die(0, "exec stage: unknown record %u", tag);
		}
	}
	if (s->argc == 0 || s->cwd == NULL)
		die(0, "exec stage: no args or cwd");
	return off;
}

/* read_stage reads the configuration from the sync socket: a header
 * (magic, body length) and the body. EOF: the runtime failed and says
 * why. */
static void read_stage(struct stage *s)
{
	uint32_t hdr[2];
	char *body;

	if (read_full(hdr, sizeof(hdr)) < 0)
		_exit(1);
	if (hdr[0] != MAGIC || hdr[1] > MAX_CONFIG) {
		errno = EINVAL;
		die(1, "exec stage: bad configuration header");
	}
	body = malloc(hdr[1] + 1);
	if (body == NULL || read_full(body, hdr[1]) < 0)
		_exit(1);
	parse_stage(s, body, hdr[1]);
}

/* add_home appends HOME from the container's /etc/passwd ("/" when the
 * user has no entry), as initp.withHome does. No malloc: this also runs in
 * a process forked from the multi-threaded runtime (berth_exec_fork),
 * where another thread may have held malloc's lock. Lines longer than the
 * buffer are skipped. */
static void add_home(struct stage *s)
{
	static char env[PATH_MAX + 8];
	char buf[4096], want[16];
	const char *home = "/";
	size_t have = 0;
	int fd, found = 0;

	snprintf(want, sizeof(want), "%u", s->uid);
	if ((fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC)) >= 0) {
		int skipping = 0;

		while (!found) {
			ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
			char *line, *nl;

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				if (have == 0 || skipping)
					break;
				buf[have++] = '\n'; /* a last line without one */
			}
			have += n > 0 ? n : 0;
			buf[have] = '\0';
			line = buf;
			while (!found && (nl = memchr(line, '\n', buf + have - line)) != NULL) {
				char *field[7] = { 0 }, *p = line;
				int i;

				*nl = '\0';
				if (!skipping) {
					for (i = 0; i < 7 && p; i++)
						field[i] = strsep(&p, ":");
					if (i >= 6 && field[5] && strcmp(field[2], want) == 0) {
						snprintf(env, sizeof(env), "HOME=%s", field[5]);
						found = 1;
					}
				}
				skipping = 0;
				line = nl + 1;
			}
			if (n <= 0)
				break;
			have = buf + have - line;
			memmove(buf, line, have);
			if (have == sizeof(buf) - 1) { /* a line longer than buf */
				have = 0;
				skipping = 1;
			}
		}
		close(fd);
	}
	if (!found)
		snprintf(env, sizeof(env), "HOME=%s", home);
	s->envp[s->envc++] = env;
}

/* executable is initp.isExecutable: NULL if p may be executed, else why. */
static const char *executable(const char *p)
{
	static char why[600];
	struct stat st;

	if (stat(p, &st) < 0) {
		if (errno == ENOENT)
			return "no such file or directory";
		snprintf(why, sizeof(why), "stat %.512s: %s", p, errstr(errno));
		return why;
	}
	if (S_ISDIR(st.st_mode))
		return "is a directory";
	if ((st.st_mode & 0111) == 0 || access(p, X_OK) < 0)
		return "permission denied";
	return NULL;
}

/* in_cwd writes p, relative to cwd when it is relative, to buf. */
static void in_cwd(char *buf, size_t size, const char *cwd, const char *p)
{
	int n = p[0] == '/' ? snprintf(buf, size, "%s", p) : snprintf(buf, size, "%s/%s", cwd, p);

	if (n < 0 || (size_t)n >= size)
		die(0, "exec: \"%s\": file name too long", p);
}

/* look_path is initp.lookPath: the program on the container's PATH (its
 * default when the env has none), relative entries relative to cwd. The
 * result is in a static buffer (no malloc: see add_home). */
static const char *look_path(const struct stage *s)
{
	static char cand[2 * PATH_MAX];
	const char *file = s->argv[0], *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", *why;
	char dir[PATH_MAX];
	int i;

	if (strchr(file, '/') != NULL) {
		in_cwd(cand, sizeof(cand), s->cwd, file);
		why = executable(cand);
		if (why != NULL)
			die(0, "exec: \"%s\": %s", file, why);
		return file;
	}
	for (i = 0; i < s->envc; i++)
		if (strncmp(s->envp[i], "PATH=", 5) == 0)
			path = s->envp[i] + 5;
	/* Split by hand, not strtok: an empty entry is the working directory. */
	for (const char *p = path;; p++) {
		const char *end = strchrnul(p, ':');
		size_t n = end - p;
		char entry[PATH_MAX];

		if (n >= sizeof(entry))
			n = sizeof(entry) - 1;
		memcpy(entry, p, n);
		entry[n] = '\0';
		in_cwd(dir, sizeof(dir), s->cwd, n ? entry : ".");
		if (snprintf(cand, sizeof(cand), "%s/%s", dir, file) < (int)sizeof(cand) && executable(cand) == NULL)
			return cand;
		if (*end == '\0')
			break;
		p = end;
	}
	die(0, "exec: \"%s\": executable file not found in $PATH", file);
	return NULL;
}

/* await_run says ready and waits for the runtime's {"type":"run"}. */
static void await_run(void)
{
	char line[256];
	size_t n = 0;

	json_send("ready", NULL);
	while (n < sizeof(line) - 1) {
		ssize_t r = read(sock, line + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			_exit(1); /* the runtime failed and says why */
		if (line[n++] == '\n')
			break;
	}
	line[n] = '\0';
	if (strcmp(line, "{\"type\":\"run\"}\n") != 0)
		die(0, "protocol error: got %.*s, want \"run\"", (int)strcspn(line, "\n"), line);
}

/* cloexec_from marks every fd >= from close-on-exec (kernel.CloseOnExecFrom):
 * close_range, else by listing /proc/self/fd with getdents64 into a stack
 * buffer (no malloc: see add_home). */
static void cloexec_from(int from)
{
	char buf[4096];
	long n;
	int dir;

#ifndef BERTH_KERNEL_FLOOR /* close_range's CLOEXEC: Linux 5.11 */
	if (syscall(SYS_close_range, from, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	if (errno != ENOSYS && errno != EINVAL)
		die(1, "mark fds close-on-exec");
#endif
	if ((dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die(1, "mark fds close-on-exec: list fds");
	while ((n = syscall(SYS_getdents64, dir, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			char *end;
			long fd = strtol(d->d_name, &end, 10);

			off += d->d_reclen;
			if (*end || end == d->d_name || fd < from || fd == dir)
				continue;
			if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 && errno != EBADF)
				die(1, "mark fds close-on-exec: mark fd %ld close-on-exec", fd);
		}
	}
	if (n < 0)
		die(1, "mark fds close-on-exec: list fds");
	close(dir);
}

static void load_seccomp(const struct stage *s)
{
	if (s->prog.len == 0)
		return;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, s->seccomp_flags, &s->prog) < 0)
		die(1, "load seccomp filter");
}

/* set_caps is caps.DropBounding, the id switch with KEEPCAPS and
 * caps.Sets.Apply: runc's order. */
static void set_caps(const struct stage *s)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	const uint64_t bnd = s->caps[0], eff = s->caps[1], inh = s->caps[2], prm = s->caps[3], amb = s->caps[4];
	int i;

	for (i = 0; i <= s->lastcap && i < 64; i++)
		if (!(bnd & (1ULL << i)) && prctl(PR_CAPBSET_DROP, i, 0, 0, 0) < 0 && errno != EINVAL)
			die(1, "drop capability %d from the bounding set", i);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		die(1, "set keepcaps");
	/* Per-thread syscalls, as the Go init's; this process has one thread. */
	if (syscall(SYS_setgroups, s->ngids, s->ngids ? s->gids : NULL) < 0 && !(errno == EPERM && s->ngids == 0))
		die(1, "setgroups");
	if (syscall(SYS_setresgid, s->gid, s->gid, s->gid) < 0)
		die(1, "setgid %u", s->gid);
	if (syscall(SYS_setresuid, s->uid, s->uid, s->uid) < 0)
		die(1, "setuid %u", s->uid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		die(1, "clear keepcaps");
	for (i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(eff >> (32 * i));
		data[i].permitted = (uint32_t)(prm >> (32 * i));
		data[i].inheritable = (uint32_t)(inh >> (32 * i));
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		die(1, "set capabilities");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		die(1, "clear ambient capabilities");
	/* The kernel raises only what is permitted and inheritable. */
	for (i = 0; i < 64; i++)
		if ((amb & prm & inh & (1ULL << i)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, i, 0, 0) < 0)
			die(1, "raise ambient capability %d", i);
}

/* finish is the stage's work once it is in the container's namespaces
 * and cgroups, to the execve. With wait_run it says ready and waits for
 * the runtime's "run" (the pre-stage path: the runtime sets the rlimits
 * then); ppid is the parent it must still have once let go. */
static void finish(struct stage *s, int wait_run, pid_t ppid)
{
	const char *path;
	char cwd[PATH_MAX];

	if (s->add_home)
		add_home(s);
	path = look_path(s);
	if (s->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die(1, "set no_new_privs");
	if (wait_run)
		await_run();
	if (prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) < 0)
		die(1, "clear the parent-death signal");
	if (getppid() != ppid)
		_exit(1); /* the runtime died before it let us go */
	cloexec_from(3 + s->preserve);
	if (chdir(s->cwd) < 0)
		die(1, "chdir to cwd %s", s->cwd);
	/* The raw syscall: glibc's getcwd would hide an unreachable cwd. */
	if (syscall(SYS_getcwd, cwd, sizeof(cwd)) < 0)
		die(1, "current working directory is outside of the container root");
	if (cwd[0] != '/')
		die(0, "current working directory is outside of the container root");
	if (!s->nnp)
		load_seccomp(s);
	set_caps(s);
	umask(s->umask);
	if (s->nnp)
		load_seccomp(s);
	execve(path, s->argv, s->envp);
	die(1, "exec %s", s->argv[0]);
}

/* berth_exec_stage_direct is the sealed copy's part of a direct exec
 * (exec_sealed): the runtime sends the stage's configuration once the
 * fork has returned; everything before the stage's work is done. */
void berth_exec_stage_direct(int syncfd)
{
	struct stage s = { 0 };

	sock = syncfd;
	read_stage(&s);
	finish(&s, 0, getppid());
}

void berth_exec_stage(int syncfd)
{
	struct stage s = { 0 };
	const char *exefd = getenv("_BERTH_EXEFD");
	pid_t ppid = getppid();

	sock = syncfd;
	/* Die with the runtime until it lets us go (initp.Main). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		die(1, "set the parent-death signal");
	if (exefd != NULL)
		close(atoi(exefd));
	read_stage(&s);
	finish(&s, 1, ppid);
}

/*
 * The direct exec (berth_exec_fork): the runtime itself forks the process
 * that joins the container, so no binary is exec'd before the program and
 * there is no ready/run exchange: what the runtime did between them
 * (rlimits, oom_score_adj, the check that the init still runs) is done
 * before the fork or by the child itself, which is the same privilege when
 * no user namespace is joined (the only case the runtime gives it:
 * libcontainer/execfork.go). The configuration is the stage's encoding
 * followed by the fork's records, parsed here in the runtime's thread
 * (malloc is safe there), so the child never calls malloc.
 */
enum {
	F_END, F_SYNC, F_PIDNS, F_CGROUP, F_JOIN, F_V1TASKS, F_RLIMIT, F_OOMADJ, F_FDS, F_SEALED,
};

#define MAX_FORK 64

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* clone3's argument (linux/sched.h, which clashes with glibc's sched.h). */
struct berth_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
		set_tid_size, cgroup;
};

struct fork_plan {
	int sync, pidns, cgroup, oomadj_set, oomadj, sealed;
	int njoin, joins[MAX_FORK][2]; /* flag, fd */
	int nv1;
	const char *v1[MAX_FORK];
	int nrl, rl_res[MAX_FORK];
	uint64_t rl_cur[MAX_FORK], rl_max[MAX_FORK];
	const char *rl_name[MAX_FORK];
	int nfds, fds[MAX_FORK];
};

/* perr writes a formatted message, with errno's text, to the caller's
 * buffer; it returns -1. */
static int perr(char *err, int errlen, const char *fmt, ...)
{
	int e = errno, n;
	va_list ap;

	va_start(ap, fmt);
	n = vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	if (e && n >= 0 && n < errlen)
		snprintf(err + n, errlen - n, ": %s", errstr(e));
	errno = e;
	return -1;
}

static int parse_fork(struct fork_plan *f, const char *b, uint32_t len, char *err, int errlen)
{
	uint32_t tag, rlen, off = 0, u;

	f->sync = f->pidns = f->cgroup = f->sealed = -1;
	for (;;) {
		const char *v;

		errno = 0;
		if (off + 8 > len)
			return perr(err, errlen, "exec fork: truncated configuration");
		memcpy(&tag, b + off, 4);
		memcpy(&rlen, b + off + 4, 4);
		off += 8;
		if (tag == F_END)
			return 0;
		if (rlen > len - off)
			return perr(err, errlen, "exec fork: truncated configuration");
		v = b + off;
		off += rlen;
		switch (tag) {
		case F_SYNC: case F_PIDNS: case F_CGROUP: case F_OOMADJ: case F_SEALED:
			if (rlen != 4)
				return perr(err, errlen, "exec fork: bad record %u", tag);
			memcpy(&u, v, 4);
			if (tag == F_SYNC)
				f->sync = u;
			else if (tag == F_PIDNS)
				f->pidns = u;
			else if (tag == F_CGROUP)
				f->cgroup = u;
			else if (tag == F_SEALED)
				f->sealed = u;
			else
				f->oomadj_set = 1, f->oomadj = (int32_t)u;
			break;
		case F_JOIN:
			if (rlen != 8 || f->njoin == MAX_FORK)
				return perr(err, errlen, "exec fork: bad record %u", tag);
			memcpy(f->joins[f->njoin++], v, 8);
			break;
		case F_V1TASKS:
			if (rlen == 0 || v[rlen - 1] != '\0' || f->nv1 == MAX_FORK)
				return perr(err, errlen, "exec fork: bad record %u", tag);
			f->v1[f->nv1++] = v;
			break;
		case F_RLIMIT:
			if (rlen < 4 + 16 + 1 || v[rlen - 1] != '\0' || f->nrl == MAX_FORK)
				return perr(err, errlen, "exec fork: bad record %u", tag);
			memcpy(&f->rl_res[f->nrl], v, 4);
			memcpy(&f->rl_cur[f->nrl], v + 4, 8);
			memcpy(&f->rl_max[f->nrl], v + 12, 8);
			f->rl_name[f->nrl++] = v + 20;
			break;
		case F_FDS:
			if (rlen % 4 != 0 || rlen / 4 > MAX_FORK)
				return perr(err, errlen, "exec fork: bad record %u", tag);
			f->nfds = rlen / 4;
			memcpy(f->fds, v, rlen);
			break;
		default:
			return perr(err, errlen, "exec fork: unknown record %u", tag);
		}
	}
}

static const char *limit_string(uint64_t v, char *buf, size_t size)
{
	if (v == (uint64_t)RLIM_INFINITY)
		return "unlimited";
	snprintf(buf, size, "%llu", (unsigned long long)v);
	return buf;
}

/* place_fds moves the fds the program gets to 0..n-1 and the sync socket
 * above them (close-on-exec). Everything is first copied above every
 * source and target, so no dup2 overwrites an fd still to be moved. */
static void place_fds(struct fork_plan *f)
{
	int base = f->nfds + 1, i, tmp[MAX_FORK];

	for (i = 0; i < f->nfds; i++)
		if (f->fds[i] >= base)
			base = f->fds[i] + 1;
	if (f->sync >= base)
		base = f->sync + 1;
	if (f->sealed >= base)
		base = f->sealed + 1;
	for (i = 0; i < f->nfds; i++)
		if ((tmp[i] = fcntl(f->fds[i], F_DUPFD_CLOEXEC, base)) < 0)
			die(1, "exec fork: copy fd %d", f->fds[i]);
	if ((sock = fcntl(f->sync, F_DUPFD_CLOEXEC, base)) < 0)
		_exit(1);
	if (f->sealed >= 0 && (f->sealed = fcntl(f->sealed, F_DUPFD_CLOEXEC, base)) < 0)
		die(1, "exec fork: copy the sealed binary's fd");
	for (i = 0; i < f->nfds; i++) {
		if (dup2(tmp[i], i) < 0) /* dup2 clears close-on-exec */
			die(1, "exec fork: place fd %d", i);
		close(tmp[i]);
	}
}

/* exec_sealed runs the stage's work from the sealed copy of the binary
 * (exeseal): until its execve this process is the runtime's binary, and a
 * program that is a script naming /proc/self/exe as its interpreter would
 * run that, the host's file, which it could then write through its own
 * /proc/PID/exe once the runtime exits (CVE-2019-5736). The copy's
 * pre-stage reads the stage's configuration from the sync socket
 * ("_BERTH_EXECSTAGE=direct": no report, no ready/run) and goes on in
 * berth_exec_stage_direct. */
static void exec_sealed(struct fork_plan *f)
{
	char env_sync[32];
	char *argv[] = { "berth", "init", NULL };
	char *envp[] = { env_sync, "_BERTH_EXEC=1", "_BERTH_EXECSTAGE=direct", NULL };

	snprintf(env_sync, sizeof(env_sync), "_BERTH_SYNCFD=%d", sock);
	if (fcntl(sock, F_SETFD, 0) < 0)
		die(1, "exec fork: keep the sync socket");
	syscall(SYS_execveat, f->sealed, "", argv, envp, AT_EMPTY_PATH);
	die(1, "exec the sealed runtime binary");
}

/* fork_child is the forked process: it has one thread, every signal
 * blocked and the runtime's handlers, none of which may run here. */
static void fork_child(struct stage *s, struct fork_plan *f, pid_t ppid)
{
	struct sigaction sa, old;
	sigset_t none;
	int i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (i = 1; i < NSIG; i++)
		if (i != SIGKILL && i != SIGSTOP && sigaction(i, NULL, &old) == 0 && old.sa_handler != SIG_IGN)
			sigaction(i, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	sock = f->sync;
	/* Not ptraced, nor its fds read, by the container's processes while
	 * it holds the runtime's memory and fds (CVE-2016-9962); execve
	 * resets this. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		die(1, "set dumpable");
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		die(1, "set the parent-death signal");
	if (getppid() != ppid)
		_exit(1);
	if (setsid() < 0)
		die(1, "setsid");
	for (i = 0; i < f->nv1; i++) {
		int fd = open(f->v1[i], O_WRONLY | O_CLOEXEC);

		if (fd < 0 || write(fd, "0", 1) != 1)
			die(1, "join cgroup %.*s", (int)(strlen(f->v1[i]) - strlen("/tasks")), f->v1[i]);
		close(fd);
	}
	if (f->oomadj_set) {
		char v[16];
		int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC), n;

		n = snprintf(v, sizeof(v), "%d", f->oomadj);
		if (fd < 0 || write(fd, v, n) != n)
			die(1, "set oom_score_adj %d", f->oomadj);
		close(fd);
	}
	for (i = 0; i < f->nrl; i++) {
		struct rlimit want = { f->rl_cur[i], f->rl_max[i] }, cur = { 0, 0 };
		char a[24];

		/* plan.go's setRlimits, and its message. */
		if (prlimit(0, f->rl_res[i], &want, NULL) < 0) {
			const char *why = errstr(errno);

			prlimit(0, f->rl_res[i], NULL, &cur);
			die(0, "set %s to soft %llu hard %llu: %s (the host's hard limit is %s)", f->rl_name[i],
			    (unsigned long long)want.rlim_cur, (unsigned long long)want.rlim_max, why,
			    limit_string(cur.rlim_max, a, sizeof(a)));
		}
	}
	for (i = 0; i < f->njoin; i++)
		if (setns(f->joins[i][1], f->joins[i][0]) < 0)
			die(1, "join %s namespace", berth_nsname(f->joins[i][0]));
	place_fds(f);
	if (f->sealed >= 0)
		exec_sealed(f);
	finish(s, 0, ppid);
}

struct child_args {
	struct stage *s;
	struct fork_plan *f;
	pid_t ppid;
};

static void child_main(void *arg)
{
	struct child_args *a = arg;

	fork_child(a->s, a->f, a->ppid);
}

#define CHILD_STACK (256 << 10)

#if defined(__x86_64__)
/* vfork_clone3 is clone3 with CLONE_VM | CLONE_VFORK (in ca->flags) on
 * the stack ca gives: the child runs fn(arg) there and never returns; the
 * caller resumes once it has exec'd or exited, with its pid or -errno.
 * Sharing the memory spares copying the runtime's page tables and freeing
 * them again at the child's execve (~0.5 ms); glibc has no clone3 and its
 * clone takes no CLONE_INTO_CGROUP, hence the few instructions here. fn
 * and arg stay in r12 and r13, which the syscall preserves in both. */
static long vfork_clone3(struct berth_clone_args *ca, void (*fn)(void *), void *arg)
{
	register void (*r12)(void *) asm("r12") = fn;
	register void *r13 asm("r13") = arg;
	long ret;

	asm volatile("syscall\n\t"
		     "test %%rax, %%rax\n\t"
		     "jnz 1f\n\t"
		     "xor %%ebp, %%ebp\n\t"
		     "mov %%r13, %%rdi\n\t"
		     "call *%%r12\n\t"
		     "mov $60, %%eax\n\t" /* exit(1): fn does not return */
		     "mov $1, %%edi\n\t"
		     "syscall\n\t"
		     "hlt\n"
		     "1:"
		     : "=a"(ret)
		     : "0"((long)SYS_clone3), "D"(ca), "S"(sizeof(*ca)), "r"(r12), "r"(r13)
		     : "rcx", "r11", "memory");
	return ret;
}
#endif

/* berth_exec_fork forks the process of an exec from the runtime's calling
 * thread (the Go side keeps it locked): born in the container's pid
 * namespace (this thread's pid_for_children, restored before returning)
 * and, with F_CGROUP, in its cgroup (clone3's CLONE_INTO_CGROUP). On
 * x86-64 the child shares the runtime's memory until its execve (vfork):
 * it touches only its own stack and this file's statics, uses raw
 * syscalls for credentials (glibc's would signal the runtime's threads),
 * and the non-dumpable flag it sets is the shared mm's, the runtime's too,
 * which is harmless. It returns the pid once the child has exec'd or
 * failed; -1 when nothing was started, with why in err; -2 when the
 * thread's pid namespace could not be restored (the Go side then lets the
 * thread die) after a fork that did happen: the pid is in *pidp. */
int berth_exec_fork(char *conf, uint32_t len, char *err, int errlen, int *pidp)
{
	static struct stage s;
	static struct fork_plan f;
	static struct child_args args;
	struct berth_clone_args ca;
	jmp_buf jb;
	sigset_t all, old;
	uint32_t hdr[2], off;
	int own_pidns = -1, ret;
	void *stack = MAP_FAILED;
	pid_t ppid;
	long pid = -1;

	memset(&s, 0, sizeof(s));
	memset(&f, 0, sizeof(f));
	errno = 0;
	if (len < 8 || (memcpy(hdr, conf, 8), hdr[0] != MAGIC) || hdr[1] > len - 8)
		return perr(err, errlen, "exec fork: bad configuration header");
	die_err = err, die_errlen = errlen, die_jmp = &jb;
	if (setjmp(jb) != 0) {
		die_jmp = NULL;
		return -1;
	}
	off = parse_stage(&s, conf + 8, hdr[1]);
	die_jmp = NULL;
	if (parse_fork(&f, conf + 8 + off, len - 8 - off, err, errlen) < 0)
		return -1;
	if (f.sync < 0 || f.nfds < 3)
		return perr(err, errlen, "exec fork: no sync socket or stdio");
	/* The parent the child must still have once let go: none visible (0)
	 * from inside the container's pid namespace. */
	ppid = f.pidns >= 0 ? 0 : getpid();
	args = (struct child_args){ &s, &f, ppid };
	memset(&ca, 0, sizeof(ca));
	ca.exit_signal = SIGCHLD;
	if (f.cgroup >= 0) {
		ca.flags = CLONE_INTO_CGROUP;
		ca.cgroup = f.cgroup;
	}
#if defined(__x86_64__)
	stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		return perr(err, errlen, "exec fork: map the child's stack");
	ca.flags |= CLONE_VM | CLONE_VFORK;
	ca.stack = (uintptr_t)stack;
	ca.stack_size = CHILD_STACK;
#endif
	if (f.pidns >= 0) {
		if ((own_pidns = open("/proc/thread-self/ns/pid_for_children", O_RDONLY | O_CLOEXEC)) < 0) {
			ret = perr(err, errlen, "exec fork: open own pid namespace");
			goto out;
		}
		if (setns(f.pidns, CLONE_NEWPID) < 0) {
			ret = perr(err, errlen, "join pid namespace");
			goto out;
		}
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
#if defined(__x86_64__)
	pid = vfork_clone3(&ca, child_main, &args);
	if (pid < 0) {
		errno = -pid;
		pid = -1;
	}
#else
	pid = syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid == 0)
		child_main(&args);
#endif
	ret = pid < 0 ? perr(err, errlen, "exec fork: clone3") : 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (own_pidns >= 0 && setns(own_pidns, CLONE_NEWPID) < 0) {
		perr(err, errlen, "exec fork: restore the runtime's pid namespace");
		ret = -2;
	}
out:
	if (own_pidns >= 0)
		close(own_pidns);
	if (stack != MAP_FAILED)
		munmap(stack, CHILD_STACK);
	free(s.argv);
	free(s.envp);
	free((void *)s.gids);
	free((void *)s.prog.filter);
	if (pid > 0)
		*pidp = pid;
	return ret < 0 ? ret : (int)pid;
}
