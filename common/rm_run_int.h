/* Inside the runner: transports (rm_run_xport.c) and small helpers. */
#ifndef RM_RUN_INT_H
#define RM_RUN_INT_H

#include <stddef.h>
#include <jansson.h>

#include "rm_err.h"

enum rm_xport_kind { RM_XPORT_LOCAL = 0, RM_XPORT_SSH, RM_XPORT_SLURM };

struct rm_xport {
	int kind;
	char endpoint[512];
	char user[128];
	char host[256];
	char port[16];
	char partition[128];
};

/* Parses an advert's endpoint: local, ssh://[user@]host[:port],
 * slurm://[partition]. Fills msg and returns -1 for anything else. */
int rm_run_xport_parse(const char *endpoint, struct rm_xport *x, char *msg, size_t size);
/*
 * The argv that runs exec (a string for /bin/sh -c, or an argv list) through
 * the transport: as it is (local), under ssh with env carried as
 * `env NAME=VALUE ...` in the remote command, or under srun with the node's
 * requirements (caps) as --constraint, --gres, --mem, --cpus-per-task.
 */
json_t *rm_run_argv(const struct rm_xport *x, const json_t *exec, const json_t *env,
    const json_t *caps, const char *rundir, struct rm_err *err);
/* Shell-quotes s ('...' with '\'' for quotes) onto the end of buf. */
void rm_run_shquote(char **buf, size_t *len, size_t *cap, const char *s);

/* The sum of the costs in the run directory's costs.jsonl (0 when none). */
int rm_run_ledger_total(const char *dir, double *total, struct rm_err *err);

/*
 * The checkpoint relay (rm_run_relay.c): on the executor rm_run_relay
 * (rm_run.h) sends each checkpoint as a marker line MARK "IN OUT" on
 * stderr, after the output it covers.
 */
#define RM_RUN_RELAY_MARK "\036remotemedia-checkpoint "

struct rm_run_ckpt {
	long long in, out;	/* the last usable checkpoint (0 0: none) */
	int count;		/* usable markers */
	int late;		/* markers whose output did not all arrive */
	int bad;		/* markers that were not a valid checkpoint */
	char bad_line[96];	/* the first of them */
};
/*
 * Reads the markers in an attempt's log (fd): the last one whose input
 * count is within in_len and never decreasing, and whose output offset is
 * within out_len, the bytes of output that did arrive.
 */
void rm_run_relay_scan(int fd, long long in_len, long long out_len, struct rm_run_ckpt *ck);
/* Removes every marker line from buf (len bytes); returns the new length. */
size_t rm_run_relay_strip(char *buf, size_t len);
/* The command that starts the relay on executors ("" when none is used). */
const char *rm_run_relay_cmd(void);

int rm_run_write_all(int fd, const char *p, size_t len);
double rm_run_now(void);

#endif
