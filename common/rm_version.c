#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "rm_version.h"

int
rm_version_parse(const char *s, struct rm_version *v)
{
	const char *p = s;

	memset(v, 0, sizeof(*v));
	while (*p == ' ' || *p == 'v')
		p++;
	if (!isdigit((unsigned char)*p))
		return -1;
	while (isdigit((unsigned char)*p) && v->n < RM_VERSION_PARTS) {
		v->part[v->n++] = strtol(p, (char **)&p, 10);
		if (*p != '.' || !isdigit((unsigned char)p[1]))
			break;
		p++;
	}
	return 0;
}

int
rm_version_cmp(const struct rm_version *a, const struct rm_version *b)
{
	int i, n = a->n > b->n ? a->n : b->n;

	for (i = 0; i < n; i++) {
		long x = i < a->n ? a->part[i] : 0, y = i < b->n ? b->part[i] : 0;
		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}

enum { OP_EQ, OP_NE, OP_GE, OP_LE, OP_GT, OP_LT, OP_COMPAT, OP_BARE };

/* One clause "op version"; returns chars consumed, 0 on error. */
static size_t
parse_clause(const char *s, int *op, struct rm_version *v, int *wild)
{
	const char *p = s, *start;
	char buf[64];
	size_t n;

	while (*p == ' ')
		p++;
	if (strncmp(p, "==", 2) == 0) { *op = OP_EQ; p += 2; }
	else if (strncmp(p, "!=", 2) == 0) { *op = OP_NE; p += 2; }
	else if (strncmp(p, ">=", 2) == 0) { *op = OP_GE; p += 2; }
	else if (strncmp(p, "<=", 2) == 0) { *op = OP_LE; p += 2; }
	else if (strncmp(p, "~=", 2) == 0) { *op = OP_COMPAT; p += 2; }
	else if (*p == '>') { *op = OP_GT; p++; }
	else if (*p == '<') { *op = OP_LT; p++; }
	else if (*p == '=') { *op = OP_EQ; p++; }
	else *op = OP_BARE;
	while (*p == ' ')
		p++;
	start = p;
	while (*p && *p != ',' && *p != ' ')
		p++;
	n = (size_t)(p - start);
	if (n == 0 || n >= sizeof(buf))
		return 0;
	memcpy(buf, start, n);
	buf[n] = '\0';
	*wild = n >= 2 && strcmp(buf + n - 2, ".*") == 0;
	if (*wild)
		buf[n - 2] = '\0';
	if (strcmp(buf, "*") == 0) {
		v->n = 0;
		*wild = 1;
	} else if (rm_version_parse(buf, v) != 0)
		return 0;
	if (*wild && *op != OP_EQ && *op != OP_NE && *op != OP_BARE)
		return 0;
	while (*p == ' ')
		p++;
	return (size_t)(p - s);
}

static int
prefix_eq(const struct rm_version *have, const struct rm_version *want)
{
	int i;

	for (i = 0; i < want->n; i++)
		if ((i < have->n ? have->part[i] : 0) != want->part[i])
			return 0;
	return 1;
}

static int
eval(const char *range, const struct rm_version *have, int bare_at_least, int check_only)
{
	const char *p = range;
	int op, wild;
	struct rm_version want;
	size_t n;

	if (*p == '\0')
		return 0;
	for (;;) {
		n = parse_clause(p, &op, &want, &wild);
		if (n == 0)
			return -1;
		p += n;
		if (!check_only) {
			int c = rm_version_cmp(have, &want), ok;
			switch (op) {
			case OP_EQ: ok = wild ? prefix_eq(have, &want) : c == 0; break;
			case OP_NE: ok = wild ? !prefix_eq(have, &want) : c != 0; break;
			case OP_GE: ok = c >= 0; break;
			case OP_LE: ok = c <= 0; break;
			case OP_GT: ok = c > 0; break;
			case OP_LT: ok = c < 0; break;
			case OP_COMPAT: {
				/* ~=2.1 means >=2.1 and ==2.*; ~=2.1.3 means >=2.1.3, ==2.1.* */
				struct rm_version pre = want;
				if (want.n < 2)
					return -1;
				pre.n = want.n - 1;
				ok = c >= 0 && prefix_eq(have, &pre);
				break;
			}
			default:
				ok = wild ? prefix_eq(have, &want) : (bare_at_least ? c >= 0 : c == 0);
			}
			if (!ok)
				return 0;
		}
		if (*p == '\0')
			break;
		if (*p != ',')
			return -1;
		p++;
	}
	return 1;
}

int
rm_version_range_ok(const char *range)
{
	struct rm_version none;

	memset(&none, 0, sizeof(none));
	return eval(range, &none, 1, 1) == 1;
}

int
rm_version_satisfies(const char *version, const char *range, int bare_at_least)
{
	struct rm_version have;

	if (rm_version_parse(version, &have) != 0)
		return -1;
	return eval(range, &have, bare_at_least, 0) == 1;
}
