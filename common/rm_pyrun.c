/*
 * rm_python_pipeline: a .py pipeline through rm_build_runner.py (rm_pyrun.h).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rm_fs.h"
#include "rm_home.h"
#include "rm_log.h"
#include "rm_pyrun.h"

#define RUNNER_MAX ((size_t)512 << 20)

int
rm_python_pipeline(const char *real, const char *label, json_t **out, struct rm_err *err)
{
	const char *share = rm_share_dir(), *py = getenv("REMOTEMEDIA_PYTHON");
	char runner[PATH_MAX], *buf = NULL;
	size_t len = 0, cap = 0;
	int fds[2], status, r;
	pid_t pid;
	json_error_t je;

	if (py == NULL || *py == '\0')
		py = "python3";
	if (share == NULL)
		return rm_err_set(err, RM_EXIT_NOTFOUND, NULL, NULL,
		    "no data directory with python/rm_build_runner.py (set REMOTEMEDIA_SHARE)");
	if ((r = rm_path(runner, sizeof(runner), err, "%s/python/rm_build_runner.py", share)) != 0)
		return r;
	if (access(runner, R_OK) != 0)
		return rm_err_set(err, RM_EXIT_NOTFOUND, runner, NULL, "the Python runner is missing");
	if (pipe(fds) != 0)
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "pipe: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return rm_err_set(err, RM_EXIT_INTERNAL, NULL, NULL, "fork: %s", strerror(errno));
	if (pid == 0) {
		/* the result comes on fd 3; the pipeline's own prints go to stderr */
		close(fds[0]);
		if (fds[1] != 3) {
			dup2(fds[1], 3);
			close(fds[1]);
		}
		dup2(STDERR_FILENO, STDOUT_FILENO);
		setenv("RM_TOOL_NAME", rm_progname(), 1);	/* for its messages */
		execlp(py, py, "-I", "-B", runner, real, "3", (char *)NULL);
		fprintf(stderr, "%s: cannot run %s: %s\n", rm_progname(), py, strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		ssize_t n;
		if (len + 65536 > cap) {
			char *nb;
			if (cap >= RUNNER_MAX)
				break;
			cap = cap ? cap * 2 : 1 << 20;
			nb = realloc(buf, cap + 1);
			if (nb == NULL)
				break;
			buf = nb;
		}
		n = read(fds[0], buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		free(buf);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
			return rm_err_set(err, RM_EXIT_NOTFOUND, label, NULL,
			    "cannot run %s (set REMOTEMEDIA_PYTHON)", py);
		return rm_err_set(err, RM_EXIT_INVALID, label, NULL,
		    "the pipeline failed in Python (exit %d; traceback above)",
		    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	}
	*out = buf ? json_loadb(buf, len, 0, &je) : NULL;
	free(buf);
	if (!json_is_object(*out) || !json_is_object(json_object_get(*out, "manifest"))) {
		json_decref(*out);
		*out = NULL;
		return rm_err_set(err, RM_EXIT_INTERNAL, label, NULL,
		    "the Python runner gave no result");
	}
	return 0;
}

