/* rm_known: edit distance, the nearest key, and unknown fields by mode. */
#include "config.h"

#include <stdlib.h>

#include "rm_known.h"
#include "rm_log.h"
#include "tap.h"

int
main(void)
{
	struct rm_err err;

	ok(rm_edit_distance("exec", "exec") == 0, "same word: 0");
	ok(rm_edit_distance("exce", "exec") == 1, "a swap of neighbours counts one");
	ok(rm_edit_distance("capabilites", "capabilities") == 1, "a dropped letter counts one");
	ok(rm_edit_distance("", "abc") == 3, "from nothing: the length");
	ok(rm_edit_distance("kitten", "sitting") == 3, "kitten -> sitting: 3");
	is_str(rm_nearest("capabilites", rm_known_node), "capabilities", "capabilites -> capabilities");
	is_str(rm_nearest("exce", rm_known_node), "exec", "exce -> exec");
	is_str(rm_nearest("nmae", rm_known_pipeline), "name", "nmae -> name");
	is_str(rm_nearest("approved_executor", rm_known_config), "approved_executors",
	    "approved_executor -> approved_executors");
	ok(rm_nearest("zzzzzzzz", rm_known_node) == NULL, "nothing close: no suggestion");
	is_str(rm_nearest("ix", rm_known_node), "id", "a short key: one edit (ix -> id)");
	ok(rm_nearest("xy", rm_known_node) == NULL, "a short key: two edits are too many (xy)");
	ok(rm_known_has(rm_known_advert, "engine") && !rm_known_has(rm_known_advert, "engnie"),
	    "rm_known_has");

	rm_log_set_level(RM_LOG_QUIET);
	setenv("REMOTEMEDIA_ENV", "development", 1);
	rm_err_clear(&err);
	ok(rm_unknown_field("p.yaml", "nodes[0].exce", "exec", &err) == 0 && err.code == 0,
	    "development: a warning, no error");
	setenv("REMOTEMEDIA_ENV", "production", 1);
	ok(rm_unknown_field("p.yaml", "nodes[0].exce", "exec", &err) == -RM_EXIT_INVALID &&
	    err.code == RM_EXIT_INVALID, "production: exit 3");
	is_str(err.field, "nodes[0].exce", "production: the field path");
	ok(strstr(err.msg, "did you mean exec?") != NULL, "production: the nearest key");
	return done_testing();
}
