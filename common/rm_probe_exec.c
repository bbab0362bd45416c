/* External programs for the probe: PATH look-up, run with a hard timeout. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rm_probe.h"

int
rm_probe_which(const char *prog, char *buf, size_t size)
{
	const char *path = getenv("PATH"), *p, *e;
	struct stat st;
	size_t n;

	if (strchr(prog, '/') != NULL) {
		if (access(prog, X_OK) != 0 || (size_t)snprintf(buf, size, "%s", prog) >= size)
			return -1;
		return 0;
	}
	if (path == NULL)
		return -1;
	for (p = path; ; p = e + 1) {
		e = strchr(p, ':');
		n = e ? (size_t)(e - p) : strlen(p);
		if (n > 0 && (size_t)snprintf(buf, size, "%.*s/%s", (int)n, p, prog) < size &&
		    stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
			return 0;
		if (e == NULL)
			break;
	}
	return -1;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
rm_probe_exec(char *const argv[], int timeout_ms, size_t max, char **out, size_t *len,
    int *status, char *why, size_t whysize)
{
	char path[PATH_MAX], *buf = NULL;
	size_t n = 0, cap = 0;
	int pfd[2], killed = 0, st = 0;
	long long deadline;
	pid_t pid;

	*out = NULL;
	*len = 0;
	if (rm_probe_which(argv[0], path, sizeof(path)) != 0) {
		snprintf(why, whysize, "not found on PATH");
		return -1;
	}
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		snprintf(why, whysize, "pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(why, whysize, "fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		int dn = open("/dev/null", O_RDWR);

		setpgid(0, 0);
		dup2(pfd[1], STDOUT_FILENO);
		if (dn >= 0) {
			dup2(dn, STDIN_FILENO);
			dup2(dn, STDERR_FILENO);
		}
		execv(path, argv);
		_exit(127);
	}
	setpgid(pid, pid);
	close(pfd[1]);
	deadline = now_ms() + timeout_ms;
	for (;;) {
		struct pollfd pf = { .fd = pfd[0], .events = POLLIN };
		long long left = deadline - now_ms();
		ssize_t r;
		int pr;

		if (left <= 0) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			killed = 1;
			break;
		}
		pr = poll(&pf, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			continue;
		if (n + 4096 + 1 > cap) {
			char *nb;

			cap = cap ? cap * 2 : 16384;
			if ((nb = realloc(buf, cap)) == NULL)
				break;
			buf = nb;
		}
		r = read(pfd[0], buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n > max) {
			kill(-pid, SIGKILL);
			snprintf(why, whysize, "printed more than %zu bytes", max);
			close(pfd[0]);
			waitpid(pid, &st, 0);
			free(buf);
			return -1;
		}
	}
	close(pfd[0]);
	/* The pipe may close before the child exits; still bound the wait. */
	while (!killed) {
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			break;
		if (now_ms() >= deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			killed = 1;
			break;
		}
		usleep(1000);
	}
	if (killed) {
		waitpid(pid, &st, 0);
		/* Leftover grandchildren holding nothing of ours die with the group. */
		free(buf);
		if (timeout_ms % 1000 == 0)
			snprintf(why, whysize, "timed out after %d s", timeout_ms / 1000);
		else
			snprintf(why, whysize, "timed out after %d ms", timeout_ms);
		return -1;
	}
	if (buf == NULL && (buf = malloc(1)) == NULL) {
		snprintf(why, whysize, "out of memory");
		return -1;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	*status = st;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127 && n == 0) {
		snprintf(why, whysize, "cannot be run");
		free(buf);
		*out = NULL;
		return -1;
	}
	return 0;
}
