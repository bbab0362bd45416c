/*
 * rm_lock against a lock file unlinked while held: a process that was
 * waiting on the old file must not hold the lock beside a newcomer that
 * locked the file created again under the same name.
 */
#include "config.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rm_err.h"
#include "rm_fs.h"
#include "tap.h"

/* Waits up to ms for one byte on fd; returns it, or 0 when none came. */
static char
byte_within(int fd, int ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char c = 0;

	if (poll(&p, 1, ms) == 1 && read(fd, &c, 1) != 1)
		c = 0;
	return c;
}

/* The child: says it is about to lock, locks, says so, waits to be let go. */
static void
waiter(const char *path, int inherited, int say, int hear)
{
	struct rm_err err;
	char c;
	int fd;

	close(inherited);	/* the parent's lock, shared through fork */
	rm_err_clear(&err);
	if (write(say, "S", 1) != 1)
		_exit(2);
	fd = rm_lock(path, 1, 0, &err);
	if (fd < 0 || write(say, "L", 1) != 1)
		_exit(3);
	if (read(hear, &c, 1) < 0)
		_exit(4);
	rm_unlock(fd);
	_exit(0);
}

static void
test_unlinked_while_held(void)
{
	char dir[] = "/tmp/rm-test-lock.XXXXXX", path[64], cmd[96];
	struct rm_err err;
	int up[2], down[2], fd1, fd2, st = -1;
	char got;
	pid_t pid;

	rm_err_clear(&err);
	ok(mkdtemp(dir) != NULL && pipe(up) == 0 && pipe(down) == 0, "setup");
	snprintf(path, sizeof(path), "%s/x.lock", dir);
	fd1 = rm_lock(path, 1, 0, &err);
	ok(fd1 >= 0, "first holder locks");
	fflush(stdout);
	if ((pid = fork()) == 0)
		waiter(path, fd1, up[1], down[0]);
	ok(byte_within(up[0], 5000) == 'S', "waiter started");
	usleep(300000);		/* the waiter now blocks on the first file */
	ok(unlink(path) == 0, "holder unlinks the lock file while holding it");
	fd2 = rm_lock(path, 1, 1, &err);
	ok(fd2 >= 0, "newcomer locks the file created again");
	rm_unlock(fd1);
	ok(byte_within(up[0], 500) == 0,
	    "the waiter does not get the lock while the newcomer holds it");
	rm_unlock(fd2);
	got = byte_within(up[0], 5000);
	ok(got == 'L', "the waiter gets it once the newcomer lets go");
	if (got == 0)
		kill(pid, SIGKILL);
	ok(write(down[1], "x", 1) == 1 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0, "waiter finished");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ok(system(cmd) == 0, "cleanup");
}

int
main(void)
{
	test_unlinked_while_held();
	return done_testing();
}
