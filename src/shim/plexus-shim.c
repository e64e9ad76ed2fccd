/*
 * plexus-shim: the CNI plugin executable of daemon mode (docs/architecture.md "Daemon mode").
 *
 * The runtime executes it once per CNI call. It forwards the call to the plexus daemon over the
 * daemon's unix socket and reproduces the answer: the daemon's stdout bytes on stdout, its exit
 * code as the exit code. No CNI logic lives here; the wire format is src/daemon/README.md:
 *
 *   POST /v1/cni HTTP/1.1, Content-Type: application/vnd.plexus.cni.v1
 *   body: every environment entry NUL-terminated, one empty entry, then stdin as read
 *   answer: 200, Plexus-Exit-Code: N, body = the plugin's stdout
 *
 * When no daemon listens (the socket is missing: ENOENT, or nobody accepts: ECONNREFUSED), it
 * executes the thin plexus with the same environment and stdin, so pods keep being set up and,
 * above all, torn down while the daemon restarts. A socket it may not open (EACCES: the caller
 * is not root, or a security module said no) is an error, not a reason to fall back: that is a
 * misconfiguration a fallback would hide, and the thin plexus would fail the same way.
 *
 * A daemon that dies or stalls mid-call gives a CNI error (code 11, try again later), never a
 * hang: the whole exchange has a deadline (PLEXUS_SHIM_TIMEOUT seconds, default 210: above the
 * daemon's queue deadline plus a delegate's, below the kubelet's 4 minutes for a sandbox).
 *
 * Environment: PLEXUS_SOCKET (default /run/plexus/plexus.sock), PLEXUS_THIN (default
 * plexus-thin beside this executable), PLEXUS_SHIM_TIMEOUT.
 *
 * Errors are printed as CNI error JSON with the "cniVersion" the thin plexus would give them
 * (src/cni/version-info.ts errorVersion; CNI SPEC §5: an error carries cniVersion): the
 * configuration's top-level cniVersion when it is one Plexus speaks, 0.1.0 when it has none,
 * else the newest. A small validating JSON scanner finds it; nothing else of stdin is read here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define DEFAULT_SOCKET "/run/plexus/plexus.sock"
#define DEFAULT_TIMEOUT_SECONDS 210L
#define MAX_STDIN (16UL << 20)
#define MAX_ANSWER (16UL << 20)

/* CNI SPEC §5 error codes. */
#define CNI_IO_FAILURE 5
#define CNI_TRY_AGAIN_LATER 11
#define CNI_INTERNAL 999

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

static const char *socket_path;
/* stdin as read, once read: the version of this shim's own errors comes from it. */
static const struct buf *stdin_seen;

/* src/cni/version.ts SUPPORTED_VERSIONS; the last is the newest. */
static const char *const supported_versions[] = { "0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0" };
#define NEWEST_VERSION "1.1.0"
/* src/cni/version-info.ts MAX_SNIFFED_CHARS */
#define MAX_SNIFFED (4UL << 20)

static void skip_ws(const char *s, size_t n, size_t *p)
{
	while (*p < n && (s[*p] == ' ' || s[*p] == '\t' || s[*p] == '\n' || s[*p] == '\r'))
		(*p)++;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * A JSON string at s[*p] (its opening quote), as JSON.parse reads it. Its decoded text goes to
 * out while it fits (non-ASCII as 0x80, which matches nothing we look for); *len is its decoded
 * length when it fit, else cap + 1. Returns 0 when it is not a valid JSON string.
 */
static int scan_string(const char *s, size_t n, size_t *p, char *out, size_t cap, size_t *len)
{
	size_t k = 0;
	for ((*p)++; *p < n; (*p)++) {
		unsigned char c = (unsigned char)s[*p];
		int byte = c >= 0x80 ? 0x80 : c;
		if (c == '"') {
			(*p)++;
			*len = k;
			return 1;
		}
		if (c < 0x20)
			return 0;
		if (c == '\\') {
			if (++*p >= n)
				return 0;
			switch (s[*p]) {
			case '"': case '\\': case '/': byte = s[*p]; break;
			case 'b': byte = '\b'; break;
			case 'f': byte = '\f'; break;
			case 'n': byte = '\n'; break;
			case 'r': byte = '\r'; break;
			case 't': byte = '\t'; break;
			case 'u': {
				int v = 0;
				for (int i = 0; i < 4; i++) {
					int d = ++*p < n ? hex_digit(s[*p]) : -1;
					if (d < 0)
						return 0;
					v = v * 16 + d;
				}
				byte = v >= 0x80 ? 0x80 : v;
				break;
			}
			default:
				return 0;
			}
		}
		if (k < cap)
			out[k] = (char)byte;
		if (k <= cap)
			k++;
	}
	return 0;
}

static int scan_digits(const char *s, size_t n, size_t *p)
{
	size_t start = *p;
	while (*p < n && s[*p] >= '0' && s[*p] <= '9')
		(*p)++;
	return *p > start;
}

/* A JSON number or literal at s[*p]; 0 when it is not one. */
static int scan_scalar(const char *s, size_t n, size_t *p)
{
	static const char *const literals[] = { "true", "false", "null" };
	for (size_t i = 0; i < 3; i++) {
		size_t l = strlen(literals[i]);
		if (n - *p >= l && memcmp(s + *p, literals[i], l) == 0) {
			*p += l;
			return 1;
		}
	}
	if (s[*p] == '-')
		(*p)++;
	if (*p < n && s[*p] == '0')
		(*p)++;
	else if (!scan_digits(s, n, p))
		return 0;
	if (*p < n && s[*p] == '.') {
		(*p)++;
		if (!scan_digits(s, n, p))
			return 0;
	}
	if (*p < n && (s[*p] == 'e' || s[*p] == 'E')) {
		(*p)++;
		if (*p < n && (s[*p] == '+' || s[*p] == '-'))
			(*p)++;
		if (!scan_digits(s, n, p))
			return 0;
	}
	return 1;
}

/*
 * The version of this shim's errors, as the thin plexus chooses it (src/cni/version-info.ts
 * errorVersion): stdin must be one JSON object (else the newest version); its last top-level
 * "cniVersion" decides: absent or "" is 0.1.0 (CNI SPEC §1), a version Plexus speaks is itself,
 * anything else the newest. Iterative (an explicit stack), so no input can exhaust the C stack.
 */
static const char *error_version(void)
{
	if (!stdin_seen || !stdin_seen->data || stdin_seen->len > MAX_SNIFFED)
		return NEWEST_VERSION;
	const char *s = stdin_seen->data;
	size_t n = stdin_seen->len, p = 0;
	skip_ws(s, n, &p);
	if (p >= n || s[p] != '{')
		return NEWEST_VERSION; /* not JSON, or not an object */
	char *stack = malloc(n);
	if (!stack)
		return NEWEST_VERSION;
	size_t depth = 0;
	enum { ABSENT, STRING, OTHER } found = ABSENT;
	char version[8];
	size_t version_len = 0;
	int wants_version = 0, ok = 0;
	char key[16];
	size_t key_len;
	for (;;) { /* a value starts at s[p] */
		if (p >= n)
			goto done;
		int is_version = depth == 1 && wants_version;
		wants_version = 0;
		if (s[p] == '{' || s[p] == '[') {
			if (is_version)
				found = OTHER;
			stack[depth++] = s[p++];
			skip_ws(s, n, &p);
			if (p < n && s[p] == (stack[depth - 1] == '{' ? '}' : ']')) {
				depth--;
				p++;
			} else if (stack[depth - 1] == '[') {
				continue;
			} else {
				goto key;
			}
		} else if (s[p] == '"') {
			char scratch[sizeof version];
			size_t len;
			if (!scan_string(s, n, &p, is_version ? version : scratch, sizeof version, &len))
				goto done;
			if (is_version) {
				found = STRING;
				version_len = len;
			}
		} else {
			if (!scan_scalar(s, n, &p))
				goto done;
			if (is_version)
				found = OTHER;
		}
		for (;;) { /* after a value */
			skip_ws(s, n, &p);
			if (depth == 0) {
				ok = p == n;
				goto done;
			}
			if (p >= n)
				goto done;
			char c = s[p++];
			if (c == ',')
				break;
			if (c != (stack[depth - 1] == '{' ? '}' : ']'))
				goto done;
			depth--;
		}
		skip_ws(s, n, &p);
		if (stack[depth - 1] == '[')
			continue;
key:
		if (p >= n || s[p] != '"' || !scan_string(s, n, &p, key, sizeof key, &key_len))
			goto done;
		skip_ws(s, n, &p);
		if (p >= n || s[p++] != ':')
			goto done;
		skip_ws(s, n, &p);
		wants_version = key_len == 10 && memcmp(key, "cniVersion", 10) == 0;
	}
done:
	free(stack);
	if (!ok || found == OTHER)
		return NEWEST_VERSION;
	if (found == ABSENT || version_len == 0)
		return "0.1.0";
	for (size_t i = 0; i < sizeof supported_versions / sizeof *supported_versions; i++)
		if (version_len == strlen(supported_versions[i]) && memcmp(version, supported_versions[i], version_len) == 0)
			return supported_versions[i];
	return NEWEST_VERSION;
}

static void put_json_string(const char *s, size_t n)
{
	putchar('"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* Prints one CNI error JSON on stdout and exits 1. */
__attribute__((noreturn, format(printf, 2, 3))) static void fail(int code, const char *fmt, ...)
{
	char msg[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof msg)
		n = sizeof msg - 1;
	printf("{\"cniVersion\":\"%s\",\"code\":%d,\"msg\":", error_version(), code);
	put_json_string(msg, (size_t)n);
	printf("}\n");
	fflush(stdout);
	exit(1);
}

static void append(struct buf *b, const void *data, size_t n, size_t max)
{
	if (n > max - b->len)
		fail(CNI_IO_FAILURE, "plexus-shim: more than %lu bytes", (unsigned long)max);
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		char *p = realloc(b->data, cap);
		if (!p)
			fail(CNI_IO_FAILURE, "plexus-shim: out of memory");
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
}

/* stdin is read whole before connecting: a fallback must be able to replay it. */
static void read_stdin(struct buf *in)
{
	char chunk[65536];
	for (;;) {
		ssize_t n = read(0, chunk, sizeof chunk);
		if (n == 0)
			return;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EBADF)
				return; /* no stdin at all: an empty config, as the plugin would read */
			fail(CNI_IO_FAILURE, "plexus-shim: reading stdin: %s", strerror(errno));
		}
		append(in, chunk, (size_t)n, MAX_STDIN);
	}
}

static long timeout_seconds(void)
{
	const char *v = getenv("PLEXUS_SHIM_TIMEOUT");
	if (!v || !*v)
		return DEFAULT_TIMEOUT_SECONDS;
	char *end;
	errno = 0;
	long s = strtol(v, &end, 10);
	if (errno || *end || s <= 0 || s > 86400)
		fail(CNI_IO_FAILURE, "plexus-shim: PLEXUS_SHIM_TIMEOUT=%s is not a number of seconds (1-86400)", v);
	return s;
}

static struct timespec deadline;

/* Sets the socket's send and receive timeouts to what is left before the deadline. */
static void arm(int fd, const char *doing)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long left_us = (long long)(deadline.tv_sec - now.tv_sec) * 1000000LL +
			    (deadline.tv_nsec - now.tv_nsec) / 1000;
	if (left_us <= 0)
		fail(CNI_TRY_AGAIN_LATER, "plexus-shim: no answer from the daemon at %s in time (%s; PLEXUS_SHIM_TIMEOUT)",
		     socket_path, doing);
	struct timeval tv = { .tv_sec = (time_t)(left_us / 1000000), .tv_usec = (suseconds_t)(left_us % 1000000) };
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv))
		fail(CNI_INTERNAL, "plexus-shim: setsockopt: %s", strerror(errno));
}

static void timed_out_or_failed(const char *doing)
{
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		fail(CNI_TRY_AGAIN_LATER, "plexus-shim: no answer from the daemon at %s in time (%s; PLEXUS_SHIM_TIMEOUT)",
		     socket_path, doing);
	fail(CNI_TRY_AGAIN_LATER, "plexus-shim: %s the daemon at %s: %s (the daemon stopped mid-call?): try again later",
	     doing, socket_path, strerror(errno));
}

/* Runs the thin plexus in this process, with this environment and the stdin already read. */
__attribute__((noreturn)) static void fall_back(const struct buf *in, const char *why)
{
	char self[PATH_MAX];
	char derived[PATH_MAX];
	const char *thin = getenv("PLEXUS_THIN");
	if (!thin || !*thin) {
		ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
		if (n < 0)
			fail(CNI_INTERNAL, "plexus-shim: readlink /proc/self/exe: %s", strerror(errno));
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
		if ((size_t)snprintf(derived, sizeof derived, "%s/plexus-thin", self) >= sizeof derived)
			fail(CNI_INTERNAL, "plexus-shim: path too long");
		thin = derived;
	}
	/* A PLEXUS_THIN that names this very shim would execute itself forever. */
	struct stat me, target;
	if (stat("/proc/self/exe", &me) == 0 && stat(thin, &target) == 0 && me.st_dev == target.st_dev &&
	    me.st_ino == target.st_ino)
		fail(CNI_INTERNAL, "plexus-shim: PLEXUS_THIN (%s) is this shim, not the thin plexus", thin);
	int mfd = memfd_create("plexus-stdin", 0);
	if (mfd < 0)
		fail(CNI_INTERNAL, "plexus-shim: memfd_create: %s", strerror(errno));
	for (size_t off = 0; off < in->len;) {
		ssize_t n = write(mfd, in->data + off, in->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail(CNI_INTERNAL, "plexus-shim: buffering stdin: %s", strerror(errno));
		off += (size_t)n;
	}
	if (lseek(mfd, 0, SEEK_SET) != 0 || dup2(mfd, 0) != 0)
		fail(CNI_INTERNAL, "plexus-shim: replaying stdin: %s", strerror(errno));
	close(mfd);
	char *argv[] = { (char *)thin, NULL };
	execve(thin, argv, environ);
	fail(CNI_TRY_AGAIN_LATER, "plexus-shim: the daemon is not running (%s: %s) and the thin plexus %s cannot run: %s",
	     socket_path, why, thin, strerror(errno));
}

static void send_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		arm(fd, "sending the call to");
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			timed_out_or_failed("sending the call to");
		}
		data += n;
		len -= (size_t)n;
	}
}

/* A header's value, case-insensitively, within the header block [h, end). */
static const char *header(const char *h, const char *end, const char *name, size_t *vlen)
{
	size_t nlen = strlen(name);
	for (const char *line = h; line < end;) {
		const char *eol = memmem(line, (size_t)(end - line), "\r\n", 2);
		if (!eol)
			eol = end;
		if ((size_t)(eol - line) > nlen && line[nlen] == ':' && strncasecmp(line, name, nlen) == 0) {
			const char *v = line + nlen + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			*vlen = (size_t)(eol - v);
			return v;
		}
		line = eol + 2;
	}
	return NULL;
}

static long number(const char *v, size_t n, long max)
{
	long x = 0;
	if (!v || n == 0 || n > 9)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	return x <= max ? x : -1;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	struct buf in = { 0 };
	read_stdin(&in);
	stdin_seen = &in;
	long timeout = timeout_seconds();
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout;

	socket_path = getenv("PLEXUS_SOCKET");
	if (!socket_path || !*socket_path)
		socket_path = DEFAULT_SOCKET;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(socket_path) >= sizeof addr.sun_path)
		fail(CNI_INTERNAL, "plexus-shim: socket path %s is longer than %zu bytes", socket_path,
		     sizeof addr.sun_path - 1);
	strcpy(addr.sun_path, socket_path);

	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fail(CNI_INTERNAL, "plexus-shim: socket: %s", strerror(errno));
	/* connect() on a unix socket waits (bounded by SO_SNDTIMEO) while the daemon's backlog is full. */
	arm(fd, "connecting to");
	while (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
		if (errno == EINTR)
			continue;
		if (errno == ENOENT || errno == ECONNREFUSED) {
			close(fd);
			fall_back(&in, strerror(errno));
		}
		if (errno == EACCES || errno == EPERM)
			fail(CNI_IO_FAILURE,
			     "plexus-shim: connecting to the daemon at %s: %s "
			     "(the socket is root-only: the runtime must run CNI plugins as root)",
			     socket_path, strerror(errno));
		timed_out_or_failed("connecting to");
	}

	struct buf body = { 0 };
	for (char **e = environ; *e; e++)
		append(&body, *e, strlen(*e) + 1, MAX_STDIN);
	append(&body, "", 1, MAX_STDIN);
	char head[256];
	int hn = snprintf(head, sizeof head,
			  "POST /v1/cni HTTP/1.1\r\nHost: plexus\r\nContent-Type: application/vnd.plexus.cni.v1\r\n"
			  "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			  body.len + in.len);
	send_all(fd, head, (size_t)hn);
	send_all(fd, body.data, body.len);
	send_all(fd, in.data, in.len);

	struct buf answer = { 0 };
	char chunk[65536];
	for (;;) {
		arm(fd, "waiting for");
		ssize_t n = recv(fd, chunk, sizeof chunk, 0);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			timed_out_or_failed("reading the answer of");
		}
		append(&answer, chunk, (size_t)n, MAX_ANSWER);
	}
	close(fd);

	const char *a = answer.data ? answer.data : "";
	const char *sep = memmem(a, answer.len, "\r\n\r\n", 4);
	if (!sep)
		fail(CNI_TRY_AGAIN_LATER,
		     "plexus-shim: the daemon at %s closed the connection without answering (it stopped mid-call?): try again later",
		     socket_path);
	const char *eol = memmem(a, (size_t)(sep - a), "\r\n", 2);
	const char *headers = eol ? eol + 2 : sep;
	const char *body_start = sep + 4;
	size_t body_len = answer.len - (size_t)(body_start - a);
	long status = (sep - a >= 12 && memcmp(a, "HTTP/1.", 7) == 0) ? number(a + 9, 3, 999) : -1;
	if (status != 200) {
		size_t shown = body_len;
		const char *nl = memchr(body_start, '\n', body_len);
		if (nl)
			shown = (size_t)(nl - body_start);
		fail(status >= 500 || status < 0 ? CNI_TRY_AGAIN_LATER : CNI_INTERNAL,
		     "plexus-shim: the daemon at %s refused the call (HTTP %ld): %.*s", socket_path, status,
		     (int)(shown > 1024 ? 1024 : shown), body_start);
	}
	size_t vlen = 0;
	const char *v = header(headers, sep, "Content-Length", &vlen);
	long declared = number(v, vlen, (long)MAX_ANSWER);
	if (declared < 0 || (size_t)declared != body_len)
		fail(CNI_TRY_AGAIN_LATER,
		     "plexus-shim: the daemon at %s closed the connection mid-answer (%zu of %ld bytes): try again later",
		     socket_path, body_len, declared);
	v = header(headers, sep, "Plexus-Exit-Code", &vlen);
	long code = number(v, vlen, 255);
	if (code < 0)
		fail(CNI_INTERNAL, "plexus-shim: the daemon at %s answered without a valid Plexus-Exit-Code header",
		     socket_path);
	for (size_t off = 0; off < body_len;) {
		ssize_t n = write(1, body_start + off, body_len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 1;
		off += (size_t)n;
	}
	return (int)code;
}
