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

int rm_run_write_all(int fd, const char *p, size_t len);
double rm_run_now(void);

#endif
