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
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

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

/* read_stage reads and decodes the configuration: a header (magic, body
 * length) and the body's records (tag, length, value; strings end in
 * their NUL). It is used in place. EOF: the runtime failed and says why. */
static void read_stage(struct stage *s)
{
	uint32_t hdr[2], tag, len, off = 0;
	char *body;
	int maxv;

	if (read_full(hdr, sizeof(hdr)) < 0)
		_exit(1);
	if (hdr[0] != MAGIC || hdr[1] > MAX_CONFIG) {
		errno = EINVAL;
		die(1, "exec stage: bad configuration header");
	}
	body = malloc(hdr[1] + 1);
	if (body == NULL || read_full(body, hdr[1]) < 0)
		_exit(1);
	/* Every record is at least 8 bytes: bounds for the two vectors. */
	maxv = hdr[1] / 8 + 1;
	s->argv = calloc(maxv, sizeof(char *));
	s->envp = calloc(maxv + 1, sizeof(char *)); /* and HOME */
	if (s->argv == NULL || s->envp == NULL)
		die(0, "exec stage: out of memory");
	s->umask = 022;
	for (;;) {
		char *v;

		if (off + 8 > hdr[1])
			die(0, "exec stage: truncated configuration");
		memcpy(&tag, body + off, 4);
		memcpy(&len, body + off + 4, 4);
		off += 8;
		if (tag == T_END)
			break;
		if (len > hdr[1] - off)
			die(0, "exec stage: truncated configuration");
		v = body + off;
		off += len;
		switch (tag) {
		case T_ARG:
		case T_ENV:
		case T_CWD:
			if (len == 0 || v[len - 1] != '\0')
				die(0, "exec stage: unterminated string (tag %u)", tag);
			if (tag == T_ARG)
				s->argv[s->argc++] = v;
			else if (tag == T_ENV)
				s->envp[s->envc++] = v;
			else
				s->cwd = v;
			break;
		case T_UID: case T_GID: case T_UMASK: case T_PRESERVE:
			if (len != 4)
				die(0, "exec stage: bad record %u", tag);
			memcpy(tag == T_UID ? &s->uid : tag == T_GID ? &s->gid :
			       tag == T_UMASK ? &s->umask : &s->preserve, v, 4);
			break;
		case T_GIDS:
			if (len % 4 != 0)
				die(0, "exec stage: bad record %u", tag);
			s->gids = copy(v, len); /* records are not aligned */
			s->ngids = len / 4;
			break;
		case T_NNP:
			s->nnp = 1;
			break;
		case T_HOME:
			s->add_home = 1;
			break;
		case T_CAPS:
			if (len != NSETS * 8 + 4)
				die(0, "exec stage: bad record %u", tag);
			memcpy(s->caps, v, NSETS * 8);
			memcpy(&s->lastcap, v + NSETS * 8, 4);
			break;
		case T_SECCOMP:
			if (len < 8 + 8 || (len - 8) % 8 != 0 || (len - 8) / 8 > 0xffff)
				die(0, "load seccomp filter: bad program size %u", len - 8);
			memcpy(&s->seccomp_flags, v, 8);
			s->prog.len = (len - 8) / 8;
			s->prog.filter = copy(v + 8, len - 8);
			break;
		default:
			die(0, "exec stage: unknown record %u", tag);
		}
	}
	if (s->argc == 0 || s->cwd == NULL)
		die(0, "exec stage: no args or cwd");
}

/* add_home appends HOME from the container's /etc/passwd ("/" when the
 * user has no entry), as initp.withHome does. */
static void add_home(struct stage *s)
{
	char *line = NULL, *home = NULL, want[16];
	size_t cap = 0;
	FILE *f;

	snprintf(want, sizeof(want), "%u", s->uid);
	if ((f = fopen("/etc/passwd", "re")) != NULL) {
		while (home == NULL && getline(&line, &cap, f) >= 0) {
			char *field[7] = { 0 }, *p = line;
			int i;

			line[strcspn(line, "\n")] = '\0';
			for (i = 0; i < 7 && p; i++)
				field[i] = strsep(&p, ":");
			if (i >= 6 && field[5] && strcmp(field[2], want) == 0)
				home = strdup(field[5]);
		}
		free(line);
		fclose(f);
	}
	if (asprintf(&s->envp[s->envc], "HOME=%s", home ? home : "/") < 0)
		die(0, "exec stage: out of memory");
	s->envc++;
}

/* executable is initp.isExecutable: NULL if p may be executed, else why. */
static const char *executable(const char *p)
{
	static char why[600];
	struct stat st;

	if (stat(p, &st) < 0) {
		if (errno == ENOENT)
			return "no such file or directory";
		snprintf(why, sizeof(why), "stat %s: %s", p, errstr(errno));
		return why;
	}
	if (S_ISDIR(st.st_mode))
		return "is a directory";
	if ((st.st_mode & 0111) == 0 || access(p, X_OK) < 0)
		return "permission denied";
	return NULL;
}

/* in_cwd is p, relative to cwd when it is relative (malloc'd). */
static char *in_cwd(const char *cwd, const char *p)
{
	char *r;

	if (p[0] == '/')
		r = strdup(p);
	else if (asprintf(&r, "%s/%s", cwd, p) < 0)
		r = NULL;
	if (r == NULL)
		die(0, "exec stage: out of memory");
	return r;
}

/* look_path is initp.lookPath: the program on the container's PATH (its
 * default when the env has none), relative entries relative to cwd. */
static const char *look_path(const struct stage *s)
{
	const char *file = s->argv[0], *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", *why;
	char *list, *dir, *p;
	int i;

	if (strchr(file, '/') != NULL) {
		p = in_cwd(s->cwd, file);
		why = executable(p);
		free(p);
		if (why != NULL)
			die(0, "exec: \"%s\": %s", file, why);
		return file;
	}
	for (i = 0; i < s->envc; i++)
		if (strncmp(s->envp[i], "PATH=", 5) == 0)
			path = s->envp[i] + 5;
	list = strdup(path);
	if (list == NULL)
		die(0, "exec stage: out of memory");
	/* strsep, not strtok: an empty entry is the working directory. */
	for (char *rest = list; (dir = strsep(&rest, ":")) != NULL;) {
		char *d = in_cwd(s->cwd, *dir ? dir : "."), *cand;

		if (asprintf(&cand, "%s/%s", d, file) < 0)
			die(0, "exec stage: out of memory");
		free(d);
		if (executable(cand) == NULL)
			return cand;
		free(cand);
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

/* cloexec_from marks every fd >= from close-on-exec (kernel.CloseOnExecFrom). */
static void cloexec_from(int from)
{
	struct dirent *d;
	DIR *dir;

#ifndef BERTH_KERNEL_FLOOR /* close_range's CLOEXEC: Linux 5.11 */
	if (syscall(SYS_close_range, from, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	if (errno != ENOSYS && errno != EINVAL)
		die(1, "mark fds close-on-exec");
#endif
	if ((dir = opendir("/proc/self/fd")) == NULL)
		die(1, "mark fds close-on-exec: list fds");
	while ((d = readdir(dir)) != NULL) {
		char *end;
		long fd = strtol(d->d_name, &end, 10);

		if (*end || end == d->d_name || fd < from || fd == dirfd(dir))
			continue;
		if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 && errno != EBADF)
			die(1, "mark fds close-on-exec: mark fd %ld close-on-exec", fd);
	}
	closedir(dir);
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

void berth_exec_stage(int syncfd)
{
	struct stage s = { 0 };
	const char *path, *exefd = getenv("_BERTH_EXEFD");
	pid_t ppid = getppid();
	char cwd[PATH_MAX];

	sock = syncfd;
	/* Die with the runtime until it lets us go (initp.Main). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		die(1, "set the parent-death signal");
	if (exefd != NULL)
		close(atoi(exefd));
	read_stage(&s);
	if (s.add_home)
		add_home(&s);
	path = look_path(&s);
	if (s.nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die(1, "set no_new_privs");
	await_run();
	if (prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) < 0)
		die(1, "clear the parent-death signal");
	if (getppid() != ppid)
		_exit(1); /* the runtime died before it let us go */
	cloexec_from(3 + s.preserve);
	if (chdir(s.cwd) < 0)
		die(1, "chdir to cwd %s", s.cwd);
	/* The raw syscall: glibc's getcwd would hide an unreachable cwd. */
	if (syscall(SYS_getcwd, cwd, sizeof(cwd)) < 0)
		die(1, "current working directory is outside of the container root");
	if (cwd[0] != '/')
		die(0, "current working directory is outside of the container root");
	if (!s.nnp)
		load_seccomp(&s);
	set_caps(&s);
	umask(s.umask);
	if (s.nnp)
		load_seccomp(&s);
	execve(path, s.argv, s.envp);
	die(1, "exec %s", s.argv[0]);
}
