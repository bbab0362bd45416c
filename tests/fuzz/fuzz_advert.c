/* Adverts, every accepted shape (ours, crank registrations, flat spec 004,
 * ECP engines, Colibri tag lists), loaded as rm-match -x loads a file and
 * matched against the example nodes. */
#include "config.h"

#include "rm_doc.h"
#include "rm_exgroup.h"
#include "rm_match.h"
#include "rm_taxo.h"
#include "fuzz.h"

static const char *node_docs[] = {
	"{\"id\":\"gpu\",\"capabilities\":{\"gpu\":{\"type\":\"cuda\",\"min_memory_gb\":8}}}",
	"{\"id\":\"codecs\",\"capabilities\":{\"codecs\":[\"h264\"],\"hardware_accel\":true}}",
	("{\"id\":\"pref\",\"capabilities\":{\"gpu\":{\"required\":false,\"preferred\":true},"
	    "\"cpu\":{\"cores\":4},\"memory_gb\":32,\"tags\":[\"linux\"]}}"),
	"{\"id\":\"t\",\"capabilities\":[\"gpu\"]}",
	"{\"id\":\"q\",\"capabilities\":{}}",
};
#define NNODES (sizeof(node_docs) / sizeof(node_docs[0]))
static struct rm_node *nodes[NNODES];

static void
free_nodes(void)
{
	size_t i;

	for (i = 0; i < NNODES; i++)
		rm_node_free(nodes[i]);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct rm_taxo *t;
	struct rm_err err;
	size_t i;

	fuzz_setup();
	rm_err_clear(&err);
	if ((t = rm_taxo_get(&err)) == NULL)
		abort();
	for (i = 0; i < NNODES; i++) {
		json_t *doc = rm_doc_parse(node_docs[i], strlen(node_docs[i]), "node", 0, &err);
		if (doc == NULL || rm_node_compile(t, doc, "node", &nodes[i], &err) != 0)
			abort();
		json_decref(doc);
	}
	if (rm_node_add_query(t, nodes[NNODES - 1], "runtime=python3.11", &err) != 0 ||
	    rm_node_add_query(t, nodes[NNODES - 1], "slo.latency_p95_ms<=200", &err) != 0)
		abort();
	atexit(free_nodes);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rm_exsources src;
	struct rm_exgroup g;
	struct rm_match_opts opts;
	struct rm_err err;
	const char *files[1];
	char path[PATH_MAX];
	size_t i, ncompat;

	/* no extension: YAML or JSON is told from the content */
	files[0] = fuzz_write(path, sizeof(path), "adverts", data, size);
	memset(&src, 0, sizeof(src));
	src.files = files;
	src.nfiles = 1;
	src.no_local = 1;
	memset(&g, 0, sizeof(g));
	rm_err_clear(&err);
	if (rm_exgroup_load(&g, &src, &err) != 0)
		return 0;
	memset(&opts, 0, sizeof(opts));
	opts.limit = -1;
	opts.all = 1;
	opts.explain = 1;
	opts.now = 1700000000;
	for (i = 0; i < NNODES; i++) {
		rm_err_clear(&err);
		json_decref(rm_match_node(nodes[i], &g, &opts, &ncompat, &err));
	}
	rm_exgroup_release(&g);
	return 0;
}
