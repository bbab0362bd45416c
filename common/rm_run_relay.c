/*
 * Checkpoints across hosts: the relay on the executor and the runner's
 * reading of what it sent.
 *
 * A node on an ssh:// or slurm:// executor cannot share a socket with the
 * runner, and its checkpoint must still name exactly the output that
 * belongs to the input it consumed. On the executor, `rm-schedule run
 * --relay -- COMMAND...` runs the node with descriptor 3 a socket to the
 * relay and its standard output a pipe through it. For each checkpoint line
 * the relay first forwards every byte of output the node wrote before the
 * line (the node wrote them before the line, so they are in the pipe), then
 * writes on its standard error one marker
 *
 *   \036remotemedia-checkpoint IN OUT\n
 *
 * (IN the node's line, OUT the output bytes forwarded so far), then answers
 * "ok". The markers reach the runner on the transport's standard error,
 * i.e. in the attempt's log, by the same connection as the output but on
 * another stream: when the attempt fails the runner takes the last marker
 * whose OUT bytes have all arrived in the attempt's output, so a checkpoint
 * whose output was lost with the host is never used, and nothing is counted
 * twice. No extra port, no second connection, nothing but the tool itself
 * on the executor.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rm_run.h"
#include "rm_run_int.h"

#define MARK RM_RUN_RELAY_MARK

struct relay {
	int out;		/* the node's stdout (read end) */
	int ck;			/* the node's checkpoint socket */
	long long sent;		/* output bytes forwarded */
	char line[64];
	size_t len;
	int broken;		/* our stdout is gone */
};

/* Forwards what the node's stdout holds now; 1 at its end. */
static int
forward(struct relay *rl)
{
	char buf[65536];
	ssize_t got;

	for (;;) {
		got = read(rl->out, buf, sizeof(buf));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return 0;	/* EAGAIN: all of it for now */
		if (got == 0)
			return 1;
		if (!rl->broken && rm_run_write_all(STDOUT_FILENO, buf, (size_t)got) != 0)
			rl->broken = 1;
		if (!rl->broken)
			rl->sent += got;
	}
}

/* One checkpoint line: output first, then the marker, then the answer. */
static void
checkpoint(struct relay *rl)
{
	char mark[128];
	size_t i;
	int n;

	if (rl->out >= 0 && forward(rl)) {
		close(rl->out);
		rl->out = -1;
	}
	/* the runner parses the line: nothing in it may end or split the marker */
	for (i = 0; i < rl->len; i++)
		if (rl->line[i] <= ' ' || rl->line[i] > '~')
			rl->line[i] = '?';
	rl->line[rl->len] = '\0';
	n = snprintf(mark, sizeof(mark), "%s%s %lld\n", MARK, rl->len ? rl->line : "?", rl->sent);
	if (!rl->broken)
		(void)rm_run_write_all(STDERR_FILENO, mark, (size_t)n);
	(void)send(rl->ck, "ok\n", 3, MSG_NOSIGNAL);
}

static int
read_lines(struct relay *rl)
{
	char buf[512];
	ssize_t got, i;

	got = read(rl->ck, buf, sizeof(buf));
	if (got < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (got <= 0)
		return 1;
	for (i = 0; i < got; i++) {
		if (buf[i] != '\n') {
			if (rl->len + 1 < sizeof(rl->line))
				rl->line[rl->len++] = buf[i];
			continue;
		}
		checkpoint(rl);
		rl->len = 0;
	}
	return 0;
}

static void __attribute__((noreturn))
relay_child(char *const *argv, int out, int ck)
{
	signal(SIGPIPE, SIG_DFL);
	if (dup2(out, STDOUT_FILENO) < 0 || (ck == 3 ? fcntl(3, F_SETFD, 0) :
	    dup2(ck, 3)) < 0)
		_exit(126);
	setenv("REMOTEMEDIA_CHECKPOINT_FD", "3", 1);
	execvp(argv[0], argv);
	dprintf(STDERR_FILENO, "rm-schedule: cannot run '%s': %s\n", argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

int
rm_run_relay(char *const *argv, struct rm_err *err)
{
	struct relay rl = { .out = -1, .ck = -1 };
	int po[2], sv[2], status;
	pid_t pid, w;

	if (argv == NULL || argv[0] == NULL)
		return rm_err_set(err, RM_EXIT_USAGE, NULL, NULL, "--relay: expected the node's "
		    "command after it");
	if (pipe2(po, O_CLOEXEC) != 0)
		return rm_err_set(err, RM_EXIT_EXEC, NULL, NULL, "pipe: %s", strerror(errno));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		close(po[0]);
		close(po[1]);
		return rm_err_set(err, RM_EXIT_EXEC, NULL, NULL, "socketpair: %s", strerror(errno));
	}
	signal(SIGPIPE, SIG_IGN);
	pid = fork();
	if (pid == 0)
		relay_child(argv, po[1], sv[1]);
	close(po[1]);
	close(sv[1]);
	rl.out = po[0];
	rl.ck = sv[0];
	if (pid < 0) {
		close(rl.out);
		close(rl.ck);
		return rm_err_set(err, RM_EXIT_EXEC, NULL, NULL, "fork: %s", strerror(errno));
	}
	fcntl(rl.out, F_SETFL, O_NONBLOCK);
	fcntl(rl.ck, F_SETFL, O_NONBLOCK);
	while (rl.out >= 0 || rl.ck >= 0) {
		struct pollfd p[2] = { { rl.out, POLLIN, 0 }, { rl.ck, POLLIN, 0 } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		/* checkpoints first: they drain the output themselves */
		if (rl.ck >= 0 && p[1].revents && read_lines(&rl)) {
			close(rl.ck);
			rl.ck = -1;
		}
		if (rl.out >= 0 && p[0].revents && forward(&rl)) {
			close(rl.out);
			rl.out = -1;
		}
		if (rl.broken) {
			/* nobody reads the output any more: the attempt is over */
			kill(pid, SIGTERM);
			break;
		}
	}
	if (rl.out >= 0)
		close(rl.out);
	if (rl.ck >= 0)
		close(rl.ck);
	while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (w < 0)
		return rm_err_set(err, RM_EXIT_EXEC, NULL, NULL, "waitpid: %s", strerror(errno));
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* ---- the runner's side ----------------------------------------------- */

static void
take(struct rm_run_ckpt *ck, const char *line, long long in_len, long long out_len)
{
	const char *s = line;
	long long in, out;
	char *end;

	errno = 0;
	in = strtoll(s, &end, 10);
	if (errno || end == s || *end != ' ' || in < ck->in || in > in_len)
		goto bad;
	s = end + 1;
	out = strtoll(s, &end, 10);
	if (errno || end == s || *end != '\0' || out < ck->out)
		goto bad;
	if (out > out_len) {
		/* its output did not all arrive: neither will a later one's */
		ck->late++;
		return;
	}
	if (ck->late)
		return;
	ck->in = in;
	ck->out = out;
	ck->count++;
	return;
bad:
	if (!ck->bad++)
		snprintf(ck->bad_line, sizeof(ck->bad_line), "%s", line);
}

void
rm_run_relay_scan(int fd, long long in_len, long long out_len, struct rm_run_ckpt *ck)
{
	static const char mark[] = MARK;
	char buf[8192], line[96];
	size_t match = 0, len = 0;
	int in_mark = 0;
	ssize_t got, i;

	memset(ck, 0, sizeof(*ck));
	if (lseek(fd, 0, SEEK_SET) < 0)
		return;
	while ((got = read(fd, buf, sizeof(buf))) > 0 || (got < 0 && errno == EINTR)) {
		for (i = 0; i < got; i++) {
			char c = buf[i];
			if (in_mark) {
				if (c == '\n') {
					line[len] = '\0';
					take(ck, line, in_len, out_len);
					in_mark = 0;
				} else if (len + 1 < sizeof(line))
					line[len++] = c;
				continue;
			}
			if (c == mark[match])
				match++;
			else
				match = c == mark[0];
			if (mark[match] == '\0') {
				in_mark = 1;
				match = len = 0;
			}
		}
	}
}

size_t
rm_run_relay_strip(char *buf, size_t len)
{
	static const char mark[] = MARK;
	size_t i = 0, o = 0, m = sizeof(mark) - 1;

	while (i < len) {
		if (len - i >= m && memcmp(buf + i, mark, m) == 0) {
			while (i < len && buf[i] != '\n')
				i++;
			i += i < len;
			continue;
		}
		buf[o++] = buf[i++];
	}
	if (o < len)
		buf[o] = '\0';
	return o;
}
