/*
 * The incremental registry index against a full scan: random changes to a
 * registry directory (replaced, rewritten in place, added, removed, split
 * into two adverts, broken, a duplicate id), and after each the set loaded
 * through the index must equal the set a fresh scan builds.
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_exgroup.h"
#include "rm_exset.h"
#include "rm_log.h"
#include "tap.h"

static char dir[PATH_MAX], inc_home[PATH_MAX], ref_home[PATH_MAX];

static void
put(const char *name, const char *text, int in_place)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	fd = open(in_place ? path : tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		perror(path);
	close(fd);
	if (!in_place && rename(tmp, path) != 0)
		perror(path);
}

static void
advert(char *buf, size_t size, const char *id, int mem)
{
	snprintf(buf, size, "{\"schema\":\"remotemedia.executor/1\",\"id\":\"%s\","
	    "\"endpoint\":\"ssh://h%d\",\"capabilities\":{\"gpu\":{\"type\":\"cuda\","
	    "\"memory_gb\":%d},\"tags\":[\"t%d\",\"linux\"],\"codecs\":{\"h264\":\"%s\"}}}",
	    id, mem % 7, mem, mem % 5, mem % 2 ? "hardware" : "software");
}

static int
cmp_json_str(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a) ?: "",
	    json_string_value(*(json_t *const *)b) ?: "");
}

/* A set's elements in string order (stores order them by string offset). */
static json_t *
sorted(json_t *v)
{
	json_t **e, *out;
	size_t n = json_array_size(v), i;

	if (!json_is_array(v) || n < 2 || (e = malloc(n * sizeof(*e))) == NULL)
		return v;
	for (i = 0; i < n; i++)
		e[i] = json_array_get(v, i);
	qsort(e, n, sizeof(*e), cmp_json_str);
	out = json_array();
	for (i = 0; i < n; i++)
		json_array_append(out, e[i]);
	free(e);
	json_decref(v);
	return out;
}

/* The set as one JSON text: executors by id with every value, broken adverts. */
static char *
canon(const struct rm_exgroup *g)
{
	json_t *all = json_object(), *broken = json_array(), *b;
	size_t i, j;
	char *text;

	for (i = 0; i < g->n; i++) {
		const struct rm_exset *s = g->sets[i];
		uint32_t e, k;
		for (e = 0; e < s->nexec; e++) {
			json_t *o = json_object(), *v;
			for (k = 0; k < s->nkeys; k++)
				if ((v = rm_exset_val_json(s, rm_exset_val(s, (int)k, e))) != NULL)
					json_object_set_new(o, s->taxo->keys[k].path, sorted(v));
			json_object_set_new(o, "@file", json_string(rm_exset_cstr(s, s->info[e].file)));
			json_object_set_new(o, "@endpoint",
			    json_string(rm_exset_cstr(s, s->info[e].endpoint) ?: "-"));
			json_object_set_new(all, rm_exset_cstr(s, s->info[e].id), o);
		}
		json_array_foreach(s->broken, j, b)
			json_array_append(broken, b);
	}
	json_object_set_new(all, "@broken", broken);
	text = json_dumps(all, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(all);
	return text;
}

static char *
load(const char *home, int no_index, size_t *nexec)
{
	struct rm_exsources src;
	struct rm_exgroup g;
	struct rm_err err;
	const char *dirs[1] = { dir };
	char *text;

	memset(&src, 0, sizeof(src));
	src.dirs = dirs;
	src.ndirs = 1;
	src.no_index = no_index;
	src.no_local = 1;
	setenv("REMOTEMEDIA_HOME", home, 1);
	rm_err_clear(&err);
	if (rm_exgroup_load(&g, &src, &err) != 0) {
		printf("# load: %s\n", err.msg);
		return NULL;
	}
	text = canon(&g);
	*nexec = g.n ? g.sets[0]->nexec : 0;
	rm_exgroup_release(&g);
	return text;
}

/* One random change; clean: only adverts rewritten (the in-place patch). */
static void
change(unsigned step, int clean)
{
	char name[64], id[32], text[2048], two[2048];
	int n = rand() % 40, op = clean ? 3 + rand() % 7 : rand() % 10;

	snprintf(name, sizeof(name), "e%02d.json", n);
	snprintf(id, sizeof(id), "e%02d", n);
	advert(text, sizeof(text), id, (int)step);
	switch (op) {
	case 0:
		snprintf(two, sizeof(two), "%s/%s", dir, name);
		unlink(two);
		break;
	case 1:
		put(name, "{\"schema\": \"remotemedia.executor/1\", oops", 0);
		break;
	case 2: {
		char b[1024];
		advert(b, sizeof(b), "e99", (int)step);	/* an id another file may hold */
		snprintf(two, sizeof(two), "[%s,%s]", text, b);
		put(name, two, 0);
		break;
	}
	case 3:
	case 4:
		put(name, text, 1);	/* in place: same inode */
		break;
	default:
		put(name, text, 0);
	}
}

int
main(void)
{
	char base[] = "/tmp/test_index.XXXXXX", cmd[PATH_MAX + 16];
	unsigned step, agree = 0, steps = 200;
	size_t ni = 0, nr = 0;

	if (mkdtemp(base) == NULL)
		return 1;
	snprintf(dir, sizeof(dir), "%s/executors", base);
	snprintf(inc_home, sizeof(inc_home), "%s/inc", base);
	snprintf(ref_home, sizeof(ref_home), "%s/ref", base);
	mkdir(dir, 0700);
	mkdir(inc_home, 0700);
	mkdir(ref_home, 0700);
	setenv("REMOTEMEDIA_ENV", "development", 1);
	rm_log_set_level(getenv("TEST_INDEX_DEBUG") != NULL ? RM_LOG_DEBUG : RM_LOG_QUIET);
	srand(getenv("TEST_INDEX_SEED") ? (unsigned)atoi(getenv("TEST_INDEX_SEED")) : 12345);
	for (step = 0; step < 40; step++)
		change(step, 0);
	for (step = 0; step < steps; step++) {
		char *inc, *ref;
		int k, nchanges = rand() % 3;
		if (step == steps / 2)	/* the second half: a clean registry, rewrites only */
			for (k = 0; k < 40; k++) {
				char name[64], id[32], text[2048];
				snprintf(name, sizeof(name), "e%02d.json", k);
				snprintf(id, sizeof(id), "e%02d", k);
				advert(text, sizeof(text), id, k);
				put(name, text, 0);
			}
		for (k = 0; k < nchanges; k++)
			change(step + 100, step >= steps / 2);
		inc = load(inc_home, 0, &ni);
		ref = load(ref_home, 1, &nr);
		if (inc != NULL && ref != NULL && strcmp(inc, ref) == 0)
			agree++;
		else if (agree == step)
			printf("# step %u differs:\n# index %s\n# scan  %s\n", step, inc ? inc : "-",
			    ref ? ref : "-");
		free(inc);
		free(ref);
		if (step % 7 == 0)
			usleep(60000);	/* past the racy window now and then */
	}
	ok(agree == steps, "the index agrees with a full scan after each of %u random changes "
	    "(%u agreed; last %zu adverts)", steps, agree, nr);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	if (system(cmd) != 0)
		return 1;
	return done_testing();
}
