/*
 * plexus-hostexec: runs a delegate plugin inside the host's filesystem view, for a plexus
 * daemon that runs in a container (docs/architecture.md "Daemon mode"). A Node process cannot
 * chroot or enter a mount namespace for one child, so the daemon executes its delegates through
 * this helper (plexus daemon --host-root / --host-mount-ns):
 *
 *   plexus-hostexec --root DIR -- PROGRAM [ARG...]       chroot(DIR), chdir("/"), exec
 *   plexus-hostexec --mount-ns FILE -- PROGRAM [ARG...]  setns(FILE, mount), chdir("/"), exec
 *
 * PROGRAM is a host path (e.g. /opt/cni/bin/macvlan), resolved in the host's view. Environment,
 * stdin, stdout and stderr pass through untouched: the delegate speaks CNI to the daemon
 * directly. A failure before the exec is reported as a CNI error on stdout (exit 1), so the
 * daemon's error names it like any delegate failure.
 *
 *   plexus-hostexec --serve                               the daemon's process starter
 *
 * Starting a process from Node blocks its event loop: libuv forks the whole daemon and waits,
 * synchronously, until the child has executed its program (to report an exec failure), a few ms
 * per delegate on a busy node, during which every other call waits (docs/architecture.md "Daemon
 * mode"). In --serve mode this small process starts the daemon's delegates instead, with
 * posix_spawn (no copy of a large address space), and the daemon only exchanges messages with
 * it over its stdin and stdout (src/runtime/spawn-server.ts). Frames, every integer a native u32:
 *
 *   request  len id argc envc stdin_len, then argc and envc NUL-terminated strings, the stdin bytes
 *   started  len id 1 pid                        the process runs (its own session and group)
 *   failed   len id 2 errno                      it could not be executed (ENOENT, ETXTBSY, ...)
 *   exited   len id 3 code signal overflow out_len err_len, then its stdout and stderr bytes
 *
 * len counts the bytes after itself. "exited" comes when the process was reaped and both its
 * stdout and stderr reached end of file (what it started may hold them open until the daemon
 * kills its group at the deadline). A stream over OUTPUT_MAX bytes gets the group killed and
 * overflow set. End of file on stdin (the daemon is gone) ends this process; the delegates keep
 * running, as they do when a daemon that runs them itself is killed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

__attribute__((noreturn)) static void fail(const char *what, const char *path)
{
	int err = errno;
	printf("{\"code\":999,\"msg\":\"plexus-hostexec: %s ", what);
	for (const char *p = path; *p; p++) {
		if (*p == '"' || *p == '\\')
			putchar('\\');
		if ((unsigned char)*p >= 0x20)
			putchar(*p);
	}
	printf(": %s\"}\n", strerror(err));
	fflush(stdout);
	_exit(1);
}

/* ------------------------------------------------------------------ --serve */

#define OUTPUT_MAX (8u << 20) /* as the daemon's own limit: a CNI result is a few KiB */
#define REQUEST_MAX (16u << 20)
#define SLOTS 1024

struct buf {
	char *p;
	size_t len, cap;
};

struct slot {
	int used;
	uint32_t id;
	pid_t pid;
	int status, reaped, overflow;
	int in, out, err; /* pipe ends in this process; -1 when closed */
	struct buf stdin_data;
	size_t stdin_off;
	struct buf stdout_data, stderr_data;
};

static struct slot slots[SLOTS];
static int sigchld_pipe[2];

__attribute__((noreturn)) static void die(const char *what)
{
	fprintf(stderr, "plexus-hostexec --serve: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void append(struct buf *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			die("out of memory");
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void release(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static void write_all(const void *data, size_t n)
{
	const char *p = data;
	while (n > 0) {
		ssize_t w = write(STDOUT_FILENO, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			exit(0); /* the daemon is gone */
		p += w;
		n -= (size_t)w;
	}
}

static void reply(uint32_t id, uint32_t kind, const uint32_t *fields, size_t nfields, const struct buf *a,
		  const struct buf *b)
{
	uint32_t head[10];
	size_t bytes = (2 + nfields) * 4 + (a ? a->len : 0) + (b ? b->len : 0);
	head[0] = (uint32_t)bytes;
	head[1] = id;
	head[2] = kind;
	memcpy(&head[3], fields, nfields * 4);
	write_all(head, (3 + nfields) * 4);
	if (a && a->len)
		write_all(a->p, a->len);
	if (b && b->len)
		write_all(b->p, b->len);
}

static void on_sigchld(int sig)
{
	(void)sig;
	int saved = errno;
	ssize_t ignored = write(sigchld_pipe[1], "x", 1);
	(void)ignored;
	errno = saved;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Splits a request's strings; NULL when they are malformed. */
static char **strings(char **at, const char *end, uint32_t n)
{
	char **v = calloc((size_t)n + 1, sizeof(char *));
	if (!v)
		die("out of memory");
	for (uint32_t i = 0; i < n; i++) {
		char *nul = memchr(*at, 0, (size_t)(end - *at));
		if (!nul) {
			free(v);
			return NULL;
		}
		v[i] = *at;
		*at = nul + 1;
	}
	return v;
}

static void start(const char *req, size_t len)
{
	uint32_t h[4];
	if (len < sizeof h) {
		errno = EPROTO;
		die("short request");
	}
	memcpy(h, req, sizeof h);
	uint32_t id = h[0], argc = h[1], envc = h[2], in_len = h[3];
	char *at = (char *)req + sizeof h;
	const char *end = req + len;
	if (in_len > (size_t)(end - at)) {
		errno = EPROTO;
		die("malformed request");
	}
	const char *strings_end = end - in_len;
	char **argv = strings(&at, strings_end, argc);
	char **envp = argv ? strings(&at, strings_end, envc) : NULL;
	if (!argv || !envp || argc == 0) {
		errno = EPROTO;
		die("malformed request");
	}
	struct slot *s = NULL;
	for (int i = 0; i < SLOTS && !s; i++)
		if (!slots[i].used)
			s = &slots[i];
	uint32_t err = 0;
	int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
	pid_t pid = -1;
	if (!s) {
		err = EAGAIN;
	} else if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(errp, O_CLOEXEC)) {
		err = (uint32_t)errno;
	} else {
		posix_spawn_file_actions_t fa;
		posix_spawnattr_t at;
		sigset_t none, all;
		sigemptyset(&none);
		sigfillset(&all);
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, in[0], 0);
		posix_spawn_file_actions_adddup2(&fa, out[1], 1);
		posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
		posix_spawnattr_init(&at);
		/* Its own session and process group (the deadline kills the group), signals as new. */
		posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
		posix_spawnattr_setsigmask(&at, &none);
		posix_spawnattr_setsigdefault(&at, &all);
		err = (uint32_t)posix_spawn(&pid, argv[0], &fa, &at, argv, envp);
		posix_spawn_file_actions_destroy(&fa);
		posix_spawnattr_destroy(&at);
	}
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&errp[1]);
	free(argv);
	free(envp);
	if (err) {
		close_fd(&in[1]);
		close_fd(&out[0]);
		close_fd(&errp[0]);
		reply(id, 2, &err, 1, NULL, NULL);
		return;
	}
	memset(s, 0, sizeof *s);
	s->used = 1;
	s->id = id;
	s->pid = pid;
	s->in = in[1];
	s->out = out[0];
	s->err = errp[0];
	fcntl(s->in, F_SETFL, O_NONBLOCK);
	append(&s->stdin_data, end - in_len, in_len);
	if (in_len == 0)
		close_fd(&s->in);
	uint32_t p = (uint32_t)pid;
	reply(id, 1, &p, 1, NULL, NULL);
}

static void reap(void)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (int i = 0; i < SLOTS; i++)
			if (slots[i].used && slots[i].pid == pid) {
				slots[i].status = status;
				slots[i].reaped = 1;
			}
}

static void finish_if_done(struct slot *s)
{
	if (!s->reaped || s->out >= 0 || s->err >= 0)
		return;
	close_fd(&s->in);
	uint32_t f[5];
	f[0] = WIFEXITED(s->status) ? (uint32_t)WEXITSTATUS(s->status) : UINT32_MAX;
	f[1] = WIFSIGNALED(s->status) ? (uint32_t)WTERMSIG(s->status) : 0;
	f[2] = (uint32_t)s->overflow;
	f[3] = (uint32_t)s->stdout_data.len;
	f[4] = (uint32_t)s->stderr_data.len;
	reply(s->id, 3, f, 5, &s->stdout_data, &s->stderr_data);
	release(&s->stdin_data);
	release(&s->stdout_data);
	release(&s->stderr_data);
	s->used = 0;
}

static void drain(struct slot *s, int *fd, struct buf *b)
{
	char chunk[65536];
	ssize_t n = read(*fd, chunk, sizeof chunk);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close_fd(fd);
		return;
	}
	if (b->len + (size_t)n > OUTPUT_MAX) {
		if (!s->overflow)
			kill(-s->pid, SIGKILL);
		s->overflow = 1;
		return;
	}
	append(b, chunk, (size_t)n);
}

static void feed(struct slot *s)
{
	ssize_t n = write(s->in, s->stdin_data.p + s->stdin_off, s->stdin_data.len - s->stdin_off);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n < 0) { /* EPIPE: it does not read its stdin */
		close_fd(&s->in);
		return;
	}
	s->stdin_off += (size_t)n;
	if (s->stdin_off == s->stdin_data.len)
		close_fd(&s->in);
}

static int serve(void)
{
	if (pipe2(sigchld_pipe, O_CLOEXEC | O_NONBLOCK))
		die("pipe");
	struct sigaction sa = {0};
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGCHLD, &sa, NULL))
		die("sigaction");
	signal(SIGPIPE, SIG_IGN);
	struct buf req = {0};
	static struct pollfd fds[2 + 3 * SLOTS];
	static struct slot *owner[2 + 3 * SLOTS];
	int open_in = 1;
	while (open_in) {
		nfds_t n = 0;
		fds[n++] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
		fds[n++] = (struct pollfd){.fd = sigchld_pipe[0], .events = POLLIN};
		for (int i = 0; i < SLOTS; i++) {
			struct slot *s = &slots[i];
			if (!s->used)
				continue;
			if (s->in >= 0) {
				owner[n] = s;
				fds[n++] = (struct pollfd){.fd = s->in, .events = POLLOUT};
			}
			if (s->out >= 0) {
				owner[n] = s;
				fds[n++] = (struct pollfd){.fd = s->out, .events = POLLIN};
			}
			if (s->err >= 0) {
				owner[n] = s;
				fds[n++] = (struct pollfd){.fd = s->err, .events = POLLIN};
			}
		}
		if (poll(fds, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		for (nfds_t i = 2; i < n; i++) {
			if (!fds[i].revents)
				continue;
			struct slot *s = owner[i];
			if (fds[i].fd == s->in)
				feed(s);
			else if (fds[i].fd == s->out)
				drain(s, &s->out, &s->stdout_data);
			else if (fds[i].fd == s->err)
				drain(s, &s->err, &s->stderr_data);
		}
		if (fds[1].revents) {
			char ignored[64];
			while (read(sigchld_pipe[0], ignored, sizeof ignored) > 0)
				;
		}
		reap();
		for (int i = 0; i < SLOTS; i++)
			if (slots[i].used)
				finish_if_done(&slots[i]);
		if (fds[0].revents) {
			char chunk[65536];
			ssize_t got = read(STDIN_FILENO, chunk, sizeof chunk);
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				open_in = 0;
				continue;
			}
			append(&req, chunk, (size_t)got);
			size_t off = 0;
			while (req.len - off >= 4) {
				uint32_t flen;
				memcpy(&flen, req.p + off, 4);
				if (flen > REQUEST_MAX) {
					errno = EMSGSIZE;
					die("request");
				}
				if (req.len - off - 4 < flen)
					break;
				start(req.p + off + 4, flen);
				off += 4 + flen;
			}
			memmove(req.p, req.p + off, req.len - off);
			req.len -= off;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--serve") == 0)
		return serve();
	if (argc < 5 || strcmp(argv[3], "--") != 0 ||
	    (strcmp(argv[1], "--root") != 0 && strcmp(argv[1], "--mount-ns") != 0)) {
		fprintf(stderr, "usage: plexus-hostexec --root DIR | --mount-ns FILE -- PROGRAM [ARG...] | --serve\n");
		return 2;
	}
	const char *target = argv[2];
	if (strcmp(argv[1], "--root") == 0) {
		if (chroot(target) != 0)
			fail("chroot into", target);
	} else {
		int fd = open(target, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			fail("open mount namespace", target);
		if (setns(fd, CLONE_NEWNS) != 0)
			fail("enter mount namespace", target);
		close(fd);
	}
	if (chdir("/") != 0)
		fail("chdir to / of", target);
	execv(argv[4], &argv[4]);
	fail("execute (in the host's view)", argv[4]);
}
