/* Unit tests of common/: documents (JSON, YAML), errors, files. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_doc.h"
#include "rm_fs.h"
#include "tap.h"

static json_t *
parse(const char *s, int yaml, struct rm_err *err)
{
	rm_err_clear(err);
	return rm_doc_parse(s, strlen(s), "t.doc", yaml, err);
}

static void
test_yaml_types(void)
{
	struct rm_err err;
	json_t *v = parse("a: 1\nb: 2.5\nc: true\nd: ~\ne: \"7\"\nf: hello\ng: [x, 'y']\n"
	    "h: {k: -3}\ni: 1e3\nj: no\n", 1, &err);

	ok(v != NULL, "YAML mapping parses");
	ok(json_is_integer(json_object_get(v, "a")) &&
	    json_integer_value(json_object_get(v, "a")) == 1, "plain 1 is an integer");
	ok(json_is_real(json_object_get(v, "b")), "plain 2.5 is a real");
	ok(json_is_true(json_object_get(v, "c")), "plain true is a boolean");
	ok(json_is_null(json_object_get(v, "d")), "~ is null");
	ok(json_is_string(json_object_get(v, "e")), "quoted \"7\" stays a string");
	is_str(json_string_value(json_object_get(v, "f")), "hello", "plain word is a string");
	ok(json_array_size(json_object_get(v, "g")) == 2, "flow sequence");
	ok(json_integer_value(rm_json_path(v, "h.k")) == -3, "nested path lookup");
	ok(json_is_real(json_object_get(v, "i")), "1e3 is a number");
	ok(json_is_string(json_object_get(v, "j")), "'no' is a string (YAML 1.2 core)");
	json_decref(v);
}

static void
test_yaml_errors(void)
{
	struct rm_err err;
	char buf[2048];
	json_t *v;

	v = parse("a: 1\nb: [1, 2\n", 1, &err);
	ok(v == NULL && err.code == RM_EXIT_INVALID, "unclosed flow sequence is invalid");
	ok(err.line >= 2, "error carries a line (%d)", err.line);
	ok(strstr(rm_err_str(&err, buf, sizeof(buf)), "t.doc:") == buf, "message starts with the file");

	v = parse("a: 1\na: 2\n", 1, &err);
	ok(v == NULL && strstr(err.msg, "duplicate key \"a\"") != NULL, "duplicate YAML key refused");
	ok(err.line == 2, "duplicate key reported on line 2 (got %d)", err.line);

	v = parse("a: &x [1]\nb: *y\n", 1, &err);
	ok(v == NULL && strstr(err.msg, "unknown anchor") != NULL, "unknown alias refused");

	v = parse("a: &x [1, 2]\nb: *x\n", 1, &err);
	ok(v != NULL && json_array_size(json_object_get(v, "b")) == 2, "alias is expanded");
	json_decref(v);

	/* billion laughs: each level multiplies by ten */
	v = parse("a: &a [x,x,x,x,x,x,x,x,x,x]\n"
	    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
	    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
	    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
	    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
	    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
	    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n", 1, &err);
	ok(v == NULL && strstr(err.msg, "expands") != NULL, "alias bomb refused: %s", err.msg);

	v = parse("   \n", 1, &err);
	ok(v == NULL && strstr(err.msg, "empty") != NULL, "empty document refused");
}

/* Issue 10 (3): expansion is bounded over the whole stream, by input size. */
static void
test_yaml_stream_bounds(void)
{
	static const char laughs[] = "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
	    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
	    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n";
	struct rm_err err;
	char *buf, *p;
	size_t i, n = 40, len;
	json_t *v;

	/* forty small billion-laughs documents: each alone is fine, together not */
	buf = malloc(n * (sizeof(laughs) + 4) + 1);
	for (p = buf, i = 0; i < n; i++)
		p += sprintf(p, "%s---\n", laughs);
	rm_err_clear(&err);
	v = rm_doc_parse_many(buf, strlen(laughs) + 4, "s.yaml", 1, &err);
	ok(v != NULL && json_array_size(v) == 1, "one laughing document is accepted");
	json_decref(v);
	rm_err_clear(&err);
	v = rm_doc_parse_many(buf, (size_t)(p - buf), "s.yaml", 1, &err);
	ok(v == NULL && err.code == RM_EXIT_INVALID && strstr(err.msg, "expands") != NULL,
	    "forty of them in one stream are refused: %s", err.msg);

	/* one document wanted: the second is refused as it starts, unexpanded */
	memcpy(buf, "a: 1\n---\n", 9);
	v = parse(buf, 1, &err);
	ok(v == NULL && strstr(err.msg, "expected one YAML document, found a second") != NULL &&
	    err.line == 2, "a second document is refused at once, line 2: %d %s", err.line, err.msg);
	v = parse("a: 1\n---\nb: [unclosed\n", 1, &err);
	ok(v == NULL && strstr(err.msg, "found a second") != NULL,
	    "a second document is never parsed: %s", err.msg);
	free(buf);

	/* an alias costs what it copies, long strings included */
	len = 10000;
	buf = malloc(len + 2000);
	p = buf + sprintf(buf, "s: &s ");
	memset(p, 'y', len);
	p += len;
	p += sprintf(p, "\nl: [*s");
	for (i = 0; i < 200; i++)
		p += sprintf(p, ",*s");
	p += sprintf(p, "]\n");
	rm_err_clear(&err);
	v = rm_doc_parse(buf, (size_t)(p - buf), "l.yaml", 1, &err);
	ok(v == NULL && strstr(err.msg, "expands") != NULL,
	    "200 copies of a 10 KB string from 11 KB of input are refused: %s", err.msg);
	free(buf);

	/* dense but literal YAML is not mistaken for a bomb */
	n = 100000;
	buf = malloc(3 * n + 3);
	buf[0] = '[';
	for (i = 0; i < n; i++)
		memcpy(buf + 1 + 3 * i, "[],", 3);
	memcpy(buf + 3 * n, "]\n", 3);
	v = parse(buf, 1, &err);
	ok(v != NULL && json_array_size(v) == n, "300 KB of [[],[],...] is read (%s)", err.msg);
	json_decref(v);
	free(buf);
}

static void
test_json(void)
{
	struct rm_err err;
	json_t *v;
	char buf[64];

	v = parse("{\"a\": 1,\n \"b\": }", 0, &err);
	ok(v == NULL && err.line == 2, "malformed JSON has line 2 (got %d)", err.line);
	v = parse("{\"a\": 1, \"a\": 2}", 0, &err);
	ok(v == NULL, "duplicate JSON key refused");

	rm_err_clear(&err);
	v = rm_doc_parse_many("{\"id\":1}\n{\"id\":2}\n\n{\"id\":3}\n", 28, "l.jsonl", -1, &err);
	ok(v != NULL && json_array_size(v) == 3, "JSON lines give three documents");
	json_decref(v);
	rm_err_clear(&err);
	v = rm_doc_parse_many("{\"id\":1}\n{\"id\": }\n", 18, "l.jsonl", -1, &err);
	ok(v == NULL && err.line == 2, "broken second JSON line reported at line 2 (got %d)", err.line);
	rm_err_clear(&err);
	v = rm_doc_parse_many("[{\"id\":1},{\"id\":2}]", 19, "a.json", -1, &err);
	ok(v != NULL && json_array_size(v) == 2, "JSON array gives two documents");
	json_decref(v);
	rm_err_clear(&err);
	v = rm_doc_parse_many("---\nid: 1\n---\nid: 2\n", 20, "m.yaml", 1, &err);
	ok(v != NULL && json_array_size(v) == 2, "multi-document YAML gives two documents");
	json_decref(v);

	v = json_string("24GB");
	is_str(rm_json_brief(v, buf, sizeof(buf)), "\"24GB\"", "brief quotes strings");
	json_decref(v);
}

static void
test_schema(void)
{
	struct rm_err err;
	json_t *d;

	d = json_pack("{s:s}", "schema", "remotemedia.executor/1");
	rm_err_clear(&err);
	ok(rm_doc_check_schema(d, "executor", 1, 1, "f", &err) == 0, "matching schema accepted");
	json_decref(d);
	d = json_pack("{s:s}", "schema", "remotemedia.executor/1.4");
	ok(rm_doc_check_schema(d, "executor", 1, 1, "f", &err) == 0, "newer minor accepted");
	json_decref(d);
	d = json_pack("{s:s}", "schema", "remotemedia.executor/2");
	ok(rm_doc_check_schema(d, "executor", 1, 1, "f", &err) == -RM_EXIT_INVALID &&
	    strstr(err.msg, "version mismatch") != NULL, "major 2 is a version mismatch");
	json_decref(d);
	d = json_pack("{s:s}", "schema", "remotemedia.plan/1");
	ok(rm_doc_check_schema(d, "executor", 1, 1, "f", &err) != 0, "another kind refused");
	json_decref(d);
	d = json_object();
	ok(rm_doc_check_schema(d, "executor", 1, 0, "f", &err) == 0, "missing optional schema accepted");
	ok(rm_doc_check_schema(d, "executor", 1, 1, "f", &err) != 0, "missing required schema refused");
	json_decref(d);
}

static void
test_files(void)
{
	struct rm_err err;
	char dir[] = "/tmp/rmtest.XXXXXX", path[512], *buf;
	size_t len;
	json_t *d;
	struct stat st;

	ok(mkdtemp(dir) != NULL, "temp dir");
	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	rm_err_clear(&err);
	ok(rm_mkdir_p(path, 0700, &err) == 0, "mkdir -p");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0700, "created with mode 0700");
	snprintf(path, sizeof(path), "%s/x.json", dir);
	d = json_pack("{s:i,s:i}", "b", 2, "a", 1);
	ok(rm_json_write_file(path, d, &err) == 0, "atomic JSON write");
	json_decref(d);
	ok(rm_read_file(path, 1 << 20, &buf, &len, &err) == 0, "read back");
	is_str(buf, "{\n  \"a\": 1,\n  \"b\": 2\n}\n", "sorted keys, 2-space indent, newline");
	free(buf);
	ok(rm_read_file(path, 4, &buf, &len, &err) != 0 && strstr(err.msg, "too large"),
	    "read cap enforced");
	snprintf(path, sizeof(path), "%s/missing", dir);
	ok(rm_read_file(path, 100, &buf, &len, &err) == -RM_EXIT_NOTFOUND, "missing file is not found");
	ok(rm_read_file(dir, 100, &buf, &len, &err) == -RM_EXIT_INVALID, "directory refused");
	snprintf(path, sizeof(path), "%s/lock", dir);
	int fd = rm_lock(path, 1, 1, &err);
	ok(fd >= 0, "exclusive lock taken");
	ok(rm_lock(path, 1, 1, &err) == -RM_EXIT_NEGATIVE, "second exclusive lock refused at once");
	rm_unlock(fd);
	fd = rm_lock(path, 1, 1, &err);
	ok(fd >= 0, "lock free again after unlock");
	rm_unlock(fd);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	ok(system(path) == 0, "cleanup");
}

int
main(void)
{
	test_yaml_types();
	test_yaml_errors();
	test_yaml_stream_bounds();
	test_json();
	test_schema();
	test_files();
	return done_testing();
}
