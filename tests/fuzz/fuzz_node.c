/* Node requirement documents, loaded as rm-match loads a node file (one
 * node, a list, or a document with "nodes:"), compiled against the
 * taxonomy and matched against the example adverts. */
#include "config.h"

#include "rm_doc.h"
#include "rm_exgroup.h"
#include "rm_match.h"
#include "rm_taxo.h"
#include "fuzz.h"

static struct rm_exgroup group;

static void
release_group(void)
{
	rm_exgroup_release(&group);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	fuzz_example_group(&group);
	atexit(release_group);
	return 0;
}

static void
match_one(const struct rm_taxo *t, const json_t *doc)
{
	struct rm_match_opts opts;
	struct rm_node *node;
	struct rm_err err;
	size_t ncompat;

	rm_err_clear(&err);
	if (rm_node_compile(t, doc, "node", &node, &err) != 0)
		return;
	memset(&opts, 0, sizeof(opts));
	opts.limit = -1;
	opts.all = 1;
	opts.explain = 1;
	opts.now = 1700000000;
	json_decref(rm_match_node(node, &group, &opts, &ncompat, &err));
	rm_node_free(node);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct rm_taxo *t;
	struct rm_err err;
	char path[PATH_MAX];
	json_t *docs, *nodes, *n;
	size_t i;

	rm_err_clear(&err);
	if ((t = rm_taxo_get(&err)) == NULL)
		abort();
	fuzz_write(path, sizeof(path), "node", data, size);
	if ((docs = rm_doc_load_many(path, &err)) == NULL)
		return 0;
	if (!json_is_array(docs))
		docs = json_pack("[o]", docs);
	nodes = json_array();
	rm_match_nodes_of(docs, nodes);	/* as rm-match reads a node file */
	json_array_foreach(nodes, i, n)
		match_one(t, n);
	json_decref(nodes);
	json_decref(docs);
	return 0;
}
