/*
 * External programs for the probe: looked up in a fixed search list (never
 * the caller's PATH, so cron and a login shell probe the same programs) and
 * run with a hard timeout.
 */
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

#include "rm_log.h"
#include "rm_probe.h"

/* Where programs are looked for: the same for cron, systemd and a login shell. */
static const char std_dirs[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/* Appends root+dir (n bytes of dir) to the list in buf unless it is there. */
static void
add_dir(char *buf, size_t size, const char *root, const char *dir, size_t n)
{
	char one[PATH_MAX];
	size_t len = strlen(buf), k;
	const char *p;

	if (n == 0 || dir[0] != '/')
		return;		/* relative entries depend on the caller's directory */
	k = (size_t)snprintf(one, sizeof(one), "%s%.*s", root, (int)n, dir);
	if (k >= sizeof(one))
		return;
	for (p = buf; *p; p += strcspn(p, ":"), p += *p == ':') {
		if (strncmp(p, one, k) == 0 && (p[k] == ':' || p[k] == '\0'))
			return;
	}
	if (len + (len > 0) + k + 1 > size)
		return;
	snprintf(buf + len, size - len, "%s%s", len > 0 ? ":" : "", one);
}

static void
add_list(char *buf, size_t size, const char *root, const char *list)
{
	const char *p, *e;

	for (p = list; p != NULL && *p; p = *e ? e + 1 : e) {
		e = p + strcspn(p, ":");
		add_dir(buf, size, root, p, (size_t)(e - p));
	}
}

void
rm_probe_search_path(const char *root, char *buf, size_t size)
{
	if (root == NULL || strcmp(root, "/") == 0)
		root = "";
	buf[0] = '\0';
	add_list(buf, size, root, getenv("REMOTEMEDIA_PROBE_PATH"));
	add_list(buf, size, root, std_dirs);
}

/* The first executable regular file prog in the colon list dirs. */
static int
which_in(const char *dirs, const char *prog, char *buf, size_t size)
{
	struct stat st;
	const char *p, *e;
	size_t n;

	for (p = dirs; p != NULL && *p; p = *e ? e + 1 : e) {
		e = p + strcspn(p, ":");
		n = (size_t)(e - p);
		if (n > 0 && (size_t)snprintf(buf, size, "%.*s/%s", (int)n, p, prog) < size &&
		    stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
			return 0;
	}
	return -1;
}

int
rm_probe_which(const char *root, const char *prog, char *buf, size_t size)
{
	char dirs[8192], onpath[PATH_MAX];

	if (strchr(prog, '/') != NULL) {
		if (access(prog, X_OK) != 0 || (size_t)snprintf(buf, size, "%s", prog) >= size)
			return -1;
		return 0;
	}
	rm_probe_search_path(root, dirs, sizeof(dirs));
	if (which_in(dirs, prog, buf, size) == 0)
		return 0;
	/* Say why a program the shell would find is not advertised (-v). */
	if ((root == NULL || strcmp(root, "/") == 0) &&
	    which_in(getenv("PATH"), prog, onpath, sizeof(onpath)) == 0) {
		char *slash = strrchr(onpath, '/');

		*slash = '\0';
		rm_info("probe: %s is in %s, which is on PATH but not in the probe's search "
		    "list; not probed (add %s to REMOTEMEDIA_PROBE_PATH)", prog, onpath, onpath);
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
	if (rm_probe_which(NULL, argv[0], path, sizeof(path)) != 0) {
		snprintf(why, whysize, "not found");
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
