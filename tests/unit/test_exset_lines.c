/*
 * JSON lines of adverts read straight into the columns (rm_exset_lines.c)
 * against the tree way (parse, normalise, walk): on random lines of every
 * shape the normaliser knows, right and wrong, both must build the same
 * set byte for byte, or fail with the same error. Then a few lines the
 * straight reader must take itself, so that it cannot pass by declining
 * everything.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_exset.h"
#include "rm_exset_int.h"
#include "rm_log.h"
#include "rm_taxo.h"
#include "tap.h"

static unsigned rng;

static unsigned
rnd(unsigned n)
{
	rng = rng * 1103515245u + 12345u;
	return n ? (rng >> 8) % n : 0;
}

struct out {
	char *buf;
	size_t len, cap;
};

static void
put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < o->cap - o->len)
			break;
		o->cap = o->cap * 2 + (size_t)n + 64;
		o->buf = realloc(o->buf, o->cap);
		if (o->buf == NULL)
			abort();
	}
	o->len += (size_t)n;
}

/*
 * One of the strings, picked: the first nvalid are values the normaliser
 * takes as they are; an advert made "clean" picks only among those, so
 * that most lines are ones the straight reader must take itself.
 */
static int clean;
#define PICK(nvalid, ...) pick(nvalid, (const char *const[]){ __VA_ARGS__, NULL })
static const char *
pick(unsigned nvalid, const char *const *v)
{
	unsigned n = 0;

	while (v[n] != NULL)
		n++;
	return v[rnd(clean && nvalid > 0 && nvalid < n ? nvalid : n)];
}

static const char *
number(void)
{
	return PICK(11, "0", "1", "42", "0.5", "2.25", "-0.0", "1e2", "1E-3", "3.14159", "128",
	    "7.000001", "12345678901234567890", "0.12345678901234567", "1e400", "-3", "\"8\"",
	    "null", "true");
}

static const char *
string(void)
{
	return PICK(2, "\"x86_64\"", "\"aarch64\"", "\"cuda\"", "\"rocm\"", "\"\"", "\"caf\xc3\xa9\"",
	    "\"a\\u0041b\"", "\"tab\\tin\"", "5", "null", "[\"x\"]", "{}", "\"sparc\"");
}

static const char *
set(void)
{
	/* strings met before in another order: a set is sorted by where they are */
	return PICK(8, "[\"linux\",\"docker\"]", "[]", "[\"gpu\",\"gpu\"]", "[\"z\",\"a\",\"m\",\"b\"]",
	    "[\"linux\" , \"x11\" ]", "[\"docker\",\"linux\"]", "[\"b\",\"m\",\"a\",\"z\"]",
	    "[\"x11\",\"gpu\",\"linux\"]", "\"linux\"", "[1]", "{\"a\":1}", "[\"e\\u0301\"]");
}

/* a case of a switch: among the first nclean when clean, and then one not used yet */
static unsigned
which(unsigned nclean, unsigned n, unsigned *used)
{
	unsigned c = rnd(clean ? nclean : n), tries;

	for (tries = 0; clean && (*used >> c & 1) && tries < 64; tries++)
		c = rnd(nclean);
	*used |= 1u << c;
	return c;
}

static void
caps_member(struct out *o, int depth, unsigned *used)
{
	unsigned inner = 0;

	switch (which(11, 17, used)) {
	case 0: put(o, "\"cpu\":{\"cores\":%s,\"arch\":%s}", number(), string()); break;
	case 1: put(o, "\"memory_gb\":%s", number()); break;
	case 2: put(o, "\"tags\":%s", set()); break;
	case 3: put(o, "\"gpu\":%s", PICK(6, "{\"type\":\"cuda\",\"memory_gb\":24}", "true",
	    "false", "null", "{}", "{\"type\":\"rocm\"}", "5", "{\"type\":\"bogus\"}",
	    "{\"memory_gb\":-1}", "{\"vendor\":\"x\"}"));
		break;
	case 4: put(o, "\"frameworks\":%s", PICK(3, "{\"torch\":\"2.1.2\"}", "{}",
	    "{\"torch\":\"1.13.1\",\"onnx\":\"1.16\"}", "{\"torch\":2.1}", "\"x\"",
	    "{\"torch\":null}", "{\"a\":\"1\",\"a\":\"2\"}"));
		break;
	case 5: put(o, "\"codecs\":%s", PICK(4, "{\"h264\":\"hardware\"}",
	    "{\"av1\":\"software\",\"h264\":\"hardware\"}", "{}",
	    "{\"vp9\":\"software\",\"h264\":\"software\",\"av1\":\"hardware\"}", "[\"h264\",\"vp9\"]",
	    "{\"h264\":\"x\"}", "7"));
		break;
	case 6: put(o, "\"network\":{\"latency_ms\":%s}", number()); break;
	case 7: put(o, "\"region\":%s", string()); break;
	case 8: put(o, "\"cpu\":%s", PICK(6, "true", "false", "null", "{}", "{\"cores\":4}",
	    "{\"cores\":2,\"arch\":\"aarch64\"}", "{\"flags\":[\"avx\"]}", "\"x\""));
		break;
	case 9: put(o, "\"%s\":%s", PICK(0, "gpus", "description", "network.interfaces"),
	    PICK(0, "5", "{\"x\":{\"memory_gb\":1}}", "\"s\"", "[1,{\"a\":2}]"));
		break;
	case 10:
		switch (rnd(4)) {
		case 0: put(o, "\"runtime\":%s", string()); break;
		case 1: put(o, "\"torch_cuda\":%s", PICK(2, "true", "false", "1", "null")); break;
		case 2: put(o, "\"storage\":{\"type\":%s,\"free_gb\":%s}", PICK(2, "\"ssd\"",
		    "\"nvme\"", "\"floppy\"", "1"), number());
			break;
		default: put(o, "\"gpu\":{\"compute_capability\":%s,\"driver\":%s}", PICK(2,
		    "\"8.9\"", "\"7.5\"", "\"\"", "8.9", "null"), PICK(1, "\"535.1\"", "535"));
			break;
		}
		break;
	case 11: put(o, "\"%s\":%s", PICK(0, "unknown_cap", "memory_gbb"),
	    PICK(0, "5", "{\"x\":1}", "\"s\""));
		break;
	case 12: put(o, "\"memory_gb\":1,\"memory_gb\":2"); break;
	case 13:
		if (depth < 2) {
			put(o, "\"capabilities\":{");
			caps_member(o, depth + 1, &inner);
			put(o, "}");
		} else
			put(o, "\"tags\":[]");
		break;
	case 14: put(o, "\"network\":%s", PICK(0, "{\"interfaces\":[\"eth0\"]}", "{\"bogus\":1}",
	    "true", "{}"));
		break;
	case 15: put(o, "\"me\\u006dory_gb\":8"); break;
	default: put(o, "\"gpu\":{\"type\":%s,\"memory_gb\":%s}", string(), number()); break;
	}
}

static void
top_member(struct out *o, unsigned i, unsigned *used)
{
	unsigned n, k, inner = 0;

	switch (which(11, 17, used)) {
	case 0: put(o, "\"schema\":%s", PICK(1, "\"remotemedia.executor/1\"",
	    "\"remotemedia.executor/1.2\"", "\"remotemedia.executor/2\"", "5",
	    "\"remotemedia.pipeline/1\""));
		break;
	case 1: put(o, "\"endpoint\":%s", PICK(2, "\"tcp://10.0.0.1:9000\"", "\"local\"", "5",
	    "\"ssh://h\\u0041\"", "null"));
		break;
	case 2: put(o, "\"load_score\":%s", number()); break;
	case 3: put(o, "\"pricing\":%s", PICK(3, "{\"per_hour\":1.5}", "{\"other\":1}", "{}",
	    "{\"per_hour\":\"x\"}", "7", "{\"per_hour\":-2}"));
		break;
	case 4: put(o, "\"probed_at\":%s", PICK(2, "\"2026-11-23T09:00:00Z\"",
	    "\"2026-11-23T09:00:00+02:00\"", "\"bad\"", "5"));
		break;
	case 5: put(o, "\"expires_at\":%s", PICK(2, "\"2030-01-01T00:00:00Z\"",
	    "\"2001-01-01T00:00:00Z\"", "null", "\"x\""));
		break;
	case 6: put(o, "\"%s\":%s", PICK(0, "name", "labels", "services", "url", "engine"),
	    PICK(0, "1", "{\"a\":\"b\"}", "[{\"name\":\"x\"}]", "\"s\"",
	    "{\"supports_quant\":true}", "{\"memory_gb\":4}"));
		break;
	case 7: put(o, "\"region\":%s", string()); break;
	case 8: put(o, "\"memory_gb\":%s", number()); break;
	case 9:
		put(o, "\"capabilities\":{");
		n = rnd(7);
		for (k = 0; k < n; k++) {
			if (k)
				put(o, rnd(5) ? "," : " ,\n\t");
			caps_member(o, 0, &inner);
		}
		put(o, "}");
		break;
	case 10: put(o, "\"labels\":{\"k\":\"v\"}"); break;
	case 11: put(o, "\"capabilities\":{}"); break;
	case 12: put(o, "\"memory_gb\":%s", number()); break;
	case 13: put(o, "\"tags\":%s", PICK(0, "[\"admin\"]", "[]", "[\"linux\"]")); break;
	case 14: put(o, "\"worker_id\":\"w%u\"", i); break;
	case 15: put(o, "\"%s\":1", PICK(0, "unknownfield", "endpont")); break;
	default: put(o, "\"capabilities\":%s", PICK(0, "[\"a\",\"b\"]", "\"x\"", "null")); break;
	}
}

/* One advert line: usually well-formed, sometimes not at all. */
static void
advert(struct out *o, unsigned i)
{
	unsigned n = rnd(7), k, used = 0;

	switch (clean ? 9 : rnd(40)) {
	case 0:
		put(o, "[\"linux\"]\n");	/* a tag list: not JSON lines' shape */
		return;
	case 1:
		put(o, "{\"id\":\"ex-%u\"", i);	/* cut short */
		return;
	case 2:
		put(o, "{\"id\":\"ex-%u\"} trailing\n", i);
		return;
	}
	put(o, "{");
	switch (which(8, 11, &used)) {
	case 0: put(o, "\"id\":\"ex-%u\"", rnd(i + 1)); break;	/* maybe a duplicate */
	case 8: put(o, "\"id\":%s", PICK(0, "7", "\"bad id!\"", "\"ex\\u002d9\"", "\".x\"", "null"));
		break;
	case 9: put(o, "\"name\":\"no id\""); break;
	default: put(o, "\"id\":\"ex-%u\"", i); break;
	}
	used = 0;
	for (k = 0; k < n; k++) {
		put(o, rnd(6) ? "," : ", ");
		top_member(o, i, &used);
	}
	put(o, "}%s", PICK(0, "\n", "\n", "\r\n", " \n\n", "\n"));
}

/* Both ways over the same text: the same set, or the same error. */
static int
same_both_ways(const struct rm_taxo *t, const char *text, size_t len, char *why, size_t wsize)
{
	struct rm_exset *a = NULL, *b = NULL;
	struct rm_err ea, eb;
	char ma[2048], mb[2048];
	int ra, rb, same;

	rm_err_clear(&ea);
	rm_err_clear(&eb);
	ra = rm_exset_lines_build(t, text, len, 0, &a, &ea);
	rb = rm_exset_lines_build(t, text, len, 1, &b, &eb);
	if (ra != rb) {
		snprintf(why, wsize, "exit %d by tree, %d straight", ra, rb);
		same = 0;
	} else if (ra != 0) {
		same = strcmp(rm_err_str(&ea, ma, sizeof(ma)), rm_err_str(&eb, mb, sizeof(mb))) == 0;
		snprintf(why, wsize, "errors: %s / %s", ma, mb);
	} else {
		same = rm_exset_same(a, b);
		snprintf(why, wsize, "%u executors, %zu broken", a->nexec, json_array_size(a->broken));
	}
	rm_exset_free(a);
	rm_exset_free(b);
	return same;
}

/* How many of the lines the straight reader takes itself. */
static size_t
taken_straight(const struct rm_taxo *t, const char *text)
{
	struct rm_exb_lines *f = rm_exb_lines_new(t);
	struct exb x;
	size_t off = 0, used, len = strlen(text), n = 0;

	rm_exb_init(&x, t, 0);
	rm_exb_grow_to(&x, 64);
	while (off < len) {
		if (rm_exb_lines_add(f, &x, text, len, off, &used) != 0)
			break;
		n++;
		off += used;
		while (off < len && (text[off] == '\n' || text[off] == ' '))
			off++;
	}
	rm_exb_lines_free(f);
	rm_exb_discard(&x, 0);
	return n;
}

int
main(void)
{
	const struct rm_taxo *t;
	struct rm_err err;
	char why[4200];
	unsigned round, i, bad = 0;
	size_t nlines = 0, ntaken = 0;

	setenv("REMOTEMEDIA_ENV", "development", 1);
	rm_log_init("test_exset_lines");
	rm_log_set_level(RM_LOG_QUIET);	/* the normaliser's warnings for unknown fields */
	rm_err_clear(&err);
	t = rm_taxo_get(&err);
	ok(t != NULL, "taxonomy loads");
	if (t == NULL)
		return done_testing();

	for (round = 0; round < 300; round++) {
		struct out o = { NULL, 0, 0 };
		unsigned n;
		rng = round * 2654435761u + 1;
		n = 1 + rnd(80);
		for (i = 0; i < n; i++) {
			size_t at = o.len;
			/* most adverts clean, taken straight; the rest anything */
			clean = rnd(4) != 0;
			advert(&o, i);
			nlines++;
			if (o.buf != NULL) {
				char one[4096];
				size_t len = o.len - at < sizeof(one) - 1 ? o.len - at : 0;
				memcpy(one, o.buf + at, len);
				one[len] = '\0';
				ntaken += len > 0 && taken_straight(t, one) == 1;
			}
		}
		if (o.buf == NULL)
			put(&o, "\n");
		if (!same_both_ways(t, o.buf, o.len, why, sizeof(why))) {
			bad++;
			if (bad <= 3)
				printf("# round %u differs (%s):\n# %.*s\n", round, why,
				    (int)(o.len > 600 ? 600 : o.len), o.buf);
		}
		free(o.buf);
	}
	ok(bad == 0, "300 random sets of lines: the same set both ways (%u differ)", bad);
	ok(ntaken * 2 > nlines, "most random lines are taken straight (%zu of %zu)", ntaken, nlines);

	{
		/* shapes the random lines reach rarely, each both ways */
		static const char *const edge[] = {
			"{\"id\":\"a\",\"tags\":[\"admin\"],\"capabilities\":{\"tags\":[\"linux\"]}}\n",
			"{\"id\":\"a\",\"tags\":[],\"capabilities\":{\"tags\":[\"linux\"]}}\n",
			"{\"id\":\"a\",\"capabilities\":{\"gpu\":{\"driver\":\"\"}}}\n",
			"{\"id\":\"a\",\"capabilities\":{\"gpu\":{\"driver\":535}}}\n",
			"{\"id\":\"a\",\"capabilities\":{\"tags\":\"linux\"}}\n",
			"{\"id\":\"a\",\"capabilities\":{\"codecs\":[\"h264\"]}}\n",
			"{\"id\":\"a\",\"memory_gb\":8,\"capabilities\":{\"memory_gb\":16}}\n",
			"{\"id\":\"a\",\"gpu\":true,\"capabilities\":{\"gpu\":false}}\n",
			"{\"id\":\"a\",\"capabilities\":{\"capabilities\":{\"memory_gb\":4}}}\n",
			"{\"id\":\"a\",\"capabilities\":{\"gpus\":{\"memory_gb\":4,\"bogus\":1}}}\n",
			"{\"id\":\"a\",\"capabilities\":{\"network\":{\"interfaces\":{\"x\":{\"y\":1}}}}}\n",
			"{\"id\":\"a\",\"worker_id\":\"w\",\"capabilities\":{}}\n",
			"{\"worker_id\":\"w\",\"capabilities\":[{\"name\":\"s\",\"verb\":\"v\"}]}\n",
			"{\"id\":\"a\",\"schema\":\"remotemedia.executor/1.3\"}\n",
			"{\"id\":\"a\",\"expires_at\":\"2001-01-01T00:00:00Z\",\"probed_at\":\"2000-01-01T00:00:00Z\"}\n",
			"{\"id\":\"a\",\"capabilities\":{\"memory_gb\":1e400}}\n",
			"{\"id\":\"a\",\"capabilities\":{\"memory_gb\":-3}}\n",
			"{\"id\":\"a\",\"load_score\":-0.5}\n",
			"{\"id\":\"a\",\"load_score\":-0.0,\"capabilities\":{\"gpu\":{\"type\":\"metal\"}}}\n",
			"{\"id\":\"a\",\"capabilities\":{\"memory_gb\":123456789012345678901234}}\n",
			"{\"id\":\"a\",\"capabilities\":{\"memory_gb\":0.1000000000000000055511151231257827}}\n",
			"{\"id\":\"a\"}{\"id\":\"b\"}{\"id\":\"a\"}\n",
			"{\"id\":\"a\",\"capabilities\":{\"cpu\":{\"cores\":4},\"cpu\":true}}\n",
			"\xef\xbb\xbf{\"id\":\"a\"}\n",
			"{\"id\":\"a\",\"labels\":{\"k\":\"\\u0000\"}}\n",
			"{\"id\":\"a\",\"capabilities\":{\"tags\":[\"\xff\"]}}\n",
		};
		size_t k, nbad = 0;
		for (k = 0; k < sizeof(edge) / sizeof(edge[0]); k++)
			if (!same_both_ways(t, edge[k], strlen(edge[k]), why, sizeof(why))) {
				nbad++;
				printf("# differs (%s): %s", why, edge[k]);
			}
		ok(nbad == 0, "%zu edge shapes: the same both ways", sizeof(edge) / sizeof(edge[0]));
	}
	{
		const char *lines =
		    "{\"id\":\"a\",\"endpoint\":\"tcp://h:1\",\"load_score\":0.25,\"pricing\":{\"per_hour\":1.5},"
		    "\"capabilities\":{\"cpu\":{\"cores\":8,\"arch\":\"x86_64\"},\"memory_gb\":64,"
		    "\"tags\":[\"linux\",\"docker\"],\"gpu\":{\"type\":\"cuda\",\"memory_gb\":24},"
		    "\"frameworks\":{\"torch\":\"2.1.2\"},\"codecs\":{\"h264\":\"hardware\"},"
		    "\"network\":{\"latency_ms\":12}}}\n"
		    "{\"schema\":\"remotemedia.executor/1\",\"id\":\"b\",\"probed_at\":\"2026-11-23T09:00:00Z\","
		    "\"capabilities\":{\"gpu\":false,\"cpu\":true,\"description\":\"caf\xc3\xa9\"}}\n"
		    "{ \"id\" : \"c\" , \"capabilities\" : { } , \"labels\" : {\"k\":[1,2]} }\n";
		size_t n = taken_straight(t, lines);
		ok(n == 3, "the straight reader takes adverts of our own shape itself (%zu of 3)", n);
		ok(same_both_ways(t, lines, strlen(lines), why, sizeof(why)), "and builds them as the "
		    "tree way does (%s)", why);
		ok(taken_straight(t, "{\"id\":\"a\",\"capabilities\":{\"memory_gb\":\"8\"}}\n") == 0,
		    "declines a value the normaliser refuses");
		ok(taken_straight(t, "{\"id\":\"a\",\"capabilities\":{\"frameworks\":{\"torch\":2}}}\n") == 0,
		    "declines a value the normaliser converts");
		ok(taken_straight(t, "{\"id\":\"a\",\"bogus\":1}\n") == 0,
		    "declines an unknown field (the normaliser warns)");
		ok(taken_straight(t, "{\"id\":\"a\",\"id\":\"b\"}\n") == 0, "declines a duplicate key");
		ok(taken_straight(t, "{\"id\":\"a\\u0062\"}\n") == 0, "declines an escaped string");
	}
	return done_testing();
}
