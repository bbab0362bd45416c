/*
 * The registry index as a reader takes it: an index file whose references
 * point outside it (a string past the string area, a set past the pool, a
 * hash table with no empty slot, an unknown value kind, misaligned areas)
 * is refused, never read, and the registry is scanned again instead.
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_exgroup.h"
#include "rm_exset.h"
#include "rm_exset_int.h"
#include "rm_log.h"
#include "tap.h"

static char dir[PATH_MAX], home[PATH_MAX];
static unsigned damaged;	/* columns the last load() found damaged */

static size_t
load(void)
{
	struct rm_exsources src;
	struct rm_exgroup g;
	struct rm_err err;
	const char *dirs[1] = { dir };
	size_t n;
	uint32_t k, e;

	memset(&src, 0, sizeof(src));
	src.dirs = dirs;
	src.ndirs = 1;
	src.no_local = 1;
	rm_err_clear(&err);
	if (rm_exgroup_load(&g, &src, &err) != 0) {
		printf("# load: %s\n", err.msg);
		return 0;
	}
	n = g.n ? g.sets[0]->nexec : 0;
	/* every value read, as an explanation does: a damaged column reads as absent */
	for (k = 0; g.n && k < g.sets[0]->nkeys; k++)
		for (e = 0; e < g.sets[0]->nexec; e++)
			json_decref(rm_exset_val_json(g.sets[0], rm_exset_val(g.sets[0], (int)k, e)));
	damaged = 0;
	for (k = 0; g.n && g.sets[0]->lazy != NULL && k < g.sets[0]->nkeys; k++)
		damaged += g.sets[0]->lazy->state[k] == 2;
	rm_exgroup_release(&g);
	return n;
}

static char *
slurp(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) != 0 || (buf = malloc((size_t)st.st_size)) == NULL ||
	    read(fd, buf, (size_t)st.st_size) != st.st_size)
		return NULL;
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

/* The first value of kind k in the columns, or NULL. */
static struct rm_val *
first_of(char *img, uint8_t k)
{
	struct idx_hdr *h = (struct idx_hdr *)img;
	struct rm_val *cols = (struct rm_val *)(img + h->off_cols);
	uint64_t i;

	for (i = 0; i < (uint64_t)h->nkeys * h->nexec; i++)
		if (cols[i].kind == k && ((k != RM_V_SET && k != RM_V_MAP) || cols[i].n > 0))
			return &cols[i];
	return NULL;
}

enum { INFO_ID, STR_REF, SET_REF, MAP_N, POOL_STR, HASH_FULL, KIND, ALIGN, NAN_NUM, NCRAFT };
static const char *craft_name[NCRAFT] = {
	"an executor id past the string area", "a string value past the string area",
	"a set past the pool", "a map of more pairs than the pool holds",
	"a pool string past the string area", "a hash table with no empty slot",
	"a value of an unknown kind", "columns at an offset not 8-aligned",
	"a number that is not finite (NaN)",
};

/* A copy of img with one reference broken; NULL when img has nothing to break. */
static char *
craft(const char *img, size_t len, int what)
{
	char *c = malloc(len);
	struct idx_hdr *h = (struct idx_hdr *)c;
	struct rm_val *v = NULL;
	uint32_t *p;
	uint64_t i;

	memcpy(c, img, len);
	switch (what) {
	case INFO_ID:
		((struct rm_exinfo *)(c + h->off_info))[0].id = 0x7ffffff0u;
		return c;
	case STR_REF:
		if ((v = first_of(c, RM_V_STR)) != NULL)
			v->u.ref = h->strs_len + 4096;
		break;
	case SET_REF:
		if ((v = first_of(c, RM_V_SET)) != NULL)
			v->u.ref = h->npool;
		break;
	case MAP_N:
		if ((v = first_of(c, RM_V_MAP)) != NULL)
			v->n = 0x40000000u;
		break;
	case POOL_STR:
		if (h->npool > 0) {
			((uint32_t *)(c + h->off_pool))[0] = (uint32_t)h->strs_len + 8;
			return c;
		}
		break;
	case HASH_FULL:
		p = (uint32_t *)(c + h->off_hash);
		for (i = 0; i < h->hash_size; i++)
			if (p[i] == 0)
				p[i] = 1;
		return h->hash_size ? c : (free(c), NULL);
	case KIND:
		if ((v = first_of(c, RM_V_NUM)) != NULL)
			v->kind = 9;
		break;
	case ALIGN:
		h->off_cols += 4;
		return c;
	case NAN_NUM:
		if ((v = first_of(c, RM_V_NUM)) != NULL)
			v->u.num = NAN;
		break;
	}
	if (v == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

int
main(void)
{
	char base[] = "/tmp/test_index_image.XXXXXX", ipath[PATH_MAX], path[PATH_MAX];
	const struct rm_taxo *t = NULL;
	struct rm_err err;
	size_t len = 0, i;
	char *img = NULL, *bad;
	int w, fd;

	if (mkdtemp(base) == NULL)
		return 1;
	snprintf(dir, sizeof(dir), "%s/executors", base);
	snprintf(home, sizeof(home), "%s/home", base);
	mkdir(dir, 0700);
	mkdir(home, 0700);
	setenv("REMOTEMEDIA_HOME", home, 1);
	setenv("REMOTEMEDIA_ENV", "development", 1);
	rm_log_set_level(RM_LOG_QUIET);
	for (i = 0; i < 5; i++) {
		FILE *f;
		snprintf(path, sizeof(path), "%s/e%zu.json", dir, i);
		if ((f = fopen(path, "w")) == NULL)
			return 1;
		fprintf(f, "{\"schema\":\"remotemedia.executor/1\",\"id\":\"e%zu\",\"endpoint\":"
		    "\"ssh://h%zu\",\"capabilities\":{\"gpu\":{\"type\":\"cuda\",\"memory_gb\":%zu},"
		    "\"tags\":[\"t%zu\",\"linux\"],\"codecs\":{\"h264\":\"hardware\"},"
		    "\"frameworks\":{\"torch\":\"2.1.%zu\"}}}\n", i, i, 8 * (i + 1), i, i);
		fclose(f);
	}
	rm_err_clear(&err);
	usleep(120000);		/* the registry not in its racy 50 ms: its index is trusted */
	ok(load() == 5 && (t = rm_taxo_get(&err)) != NULL &&
	    rm_index_path(dir, ipath, sizeof(ipath), &err) == 0 &&
	    (img = slurp(ipath, &len)) != NULL, "an index of 5 adverts is built (%zu bytes)", len);
	if (img == NULL || t == NULL)
		return done_testing();
	ok(rm_index_check_image(t, img, len) == 0, "it is accepted whole");
	ok(rm_index_check_image(t, img, len - 8) != 0, "it is refused cut short");
	for (w = 0; w < NCRAFT; w++) {
		if ((bad = craft(img, len, w)) == NULL) {
			ok(0, "%s: the index has nothing of that kind to break", craft_name[w]);
			continue;
		}
		ok(rm_index_check_image(t, bad, len) != 0, "refused: %s", craft_name[w]);
		/*
		 * on disk: a broken reference outside the columns makes the match
		 * scan the registry again; a broken column reads as absent (with a
		 * warning) when first used. Either way all 5 adverts, every value
		 * read without a read outside the map.
		 */
		if ((fd = open(ipath, O_WRONLY | O_TRUNC)) >= 0) {
			int col = w == STR_REF || w == SET_REF || w == MAP_N || w == KIND;
			ok(write(fd, bad, len) == (ssize_t)len && close(fd) == 0 && load() == 5 &&
			    damaged == (unsigned)col,
			    "  on disk: 5 adverts, every value read, %u damaged column(s)", damaged);
		}
		free(bad);
	}
	free(img);
	snprintf(path, sizeof(path), "rm -rf %s", base);
	if (system(path) != 0)
		return 1;
	return done_testing();
}
