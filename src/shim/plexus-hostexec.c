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
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
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

int main(int argc, char **argv)
{
	if (argc < 5 || strcmp(argv[3], "--") != 0 ||
	    (strcmp(argv[1], "--root") != 0 && strcmp(argv[1], "--mount-ns") != 0)) {
		fprintf(stderr, "usage: plexus-hostexec --root DIR | --mount-ns FILE -- PROGRAM [ARG...]\n");
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
