/*
 * The fast JSON reader and writer against jansson, differentially: for
 * every flag set the tools read with, rm_json_loadb must answer what
 * json_loadb answers (the same tree, position, or error with its line,
 * column and text), and rm_jsonw must write what json_dumps writes for the
 * tree read. Any difference aborts.
 */
#include "config.h"

#include "rm_jsonr.h"
#include "rm_jsonw.h"
#include "fuzz.h"

FUZZ_SETUP_ONLY

static const size_t read_flags[] = {
	JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
	JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	JSON_DISABLE_EOF_CHECK,
	0,
};

static void
same_text(const json_t *v, size_t flags)
{
	char *a = json_dumps(v, flags), *b = rm_jsonw_dumps(v, flags, NULL);

	if ((a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0))
		abort();
	free(a);
	free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	size_t i;

	for (i = 0; i < sizeof(read_flags) / sizeof(read_flags[0]); i++) {
		json_error_t a, b;
		json_t *x = json_loadb(buf, size, read_flags[i], &a);
		json_t *y = rm_json_loadb(buf, size, read_flags[i], &b);
		if ((x == NULL) != (y == NULL) || a.position != b.position || a.line != b.line ||
		    a.column != b.column || strcmp(a.text, b.text) != 0)
			abort();
		if (x != NULL) {
			const size_t exact = JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17);
			char *dx = json_dumps(x, exact), *dy = json_dumps(y, exact);
			if (dx == NULL || dy == NULL || strcmp(dx, dy) != 0)
				abort();
			free(dx);
			free(dy);
			same_text(y, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY |
			    JSON_REAL_PRECISION(15));
			same_text(y, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY |
			    JSON_REAL_PRECISION(15));
			same_text(y, JSON_COMPACT | JSON_ENCODE_ANY);
		}
		json_decref(x);
		json_decref(y);
	}
	return 0;
}
