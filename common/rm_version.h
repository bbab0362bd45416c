/* Version numbers and ranges (">=2.1,<3", "==1.16.*", "~=2.1", "8.0"). */
#ifndef RM_VERSION_H
#define RM_VERSION_H

#define RM_VERSION_PARTS 8

struct rm_version {
	int n;
	long part[RM_VERSION_PARTS];
};

/* Parses the leading numeric part of "2.1.0+cu118"; -1 when there is none. */
int rm_version_parse(const char *s, struct rm_version *v);
int rm_version_cmp(const struct rm_version *a, const struct rm_version *b);
/* Checks a range's syntax; bare_at_least: what a bare version means. */
int rm_version_range_ok(const char *range);
/* Does version satisfy range? 0 no, 1 yes, -1 unparsable version. */
int rm_version_satisfies(const char *version, const char *range, int bare_at_least);

#endif
