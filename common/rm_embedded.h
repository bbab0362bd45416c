/* Copies of share/remotemedia data compiled into the library (common/embed.sh). */
#ifndef RM_EMBEDDED_H
#define RM_EMBEDDED_H

struct rm_embedded_file {
	const char *name;	/* path under share/remotemedia, e.g. "taxonomy.yaml" */
	const char *text;
};

extern const struct rm_embedded_file rm_embedded[];

/* The embedded text of a data file, or NULL. */
const char *rm_embedded_get(const char *name);

#endif
