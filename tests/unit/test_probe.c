/* Unit tests of common/rm_probe*: drift, --set, completeness, exec timeout. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "rm_probe.h"
#include "tap.h"

static json_t *
advert(const char *caps)
{
	json_error_t je;
	json_t *c = json_loads(caps, 0, &je), *a = json_object();

	json_object_set_new(a, "capabilities", c);
	return a;
}

static int
has_change(const json_t *ch, const char *path)
{
	size_t i;
	json_t *c;

	json_array_foreach(ch, i, c)
		if (strcmp(json_string_value(json_object_get(c, "path")), path) == 0)
			return 1;
	return 0;
}

int
main(void)
{
	struct rm_err err;
	json_t *a, *b, *ch, *doc, *g;
	char *out, why[256];
	size_t len;
	int st, r;

	/* drift */
	a = advert("{\"gpu\":{\"type\":\"cuda\",\"count\":1,\"memory_gb\":24.0,\"memory_free_gb\":20},"
	    "\"cpu\":{\"cores\":16,\"arch\":\"x86_64\"},\"memory_gb\":64.0,"
	    "\"codecs\":{\"h264\":\"hardware\",\"vp9\":\"software\"},\"tags\":[\"gpu\",\"linux\"]}");
	b = advert("{\"gpu\":{\"type\":\"cuda\",\"count\":1,\"memory_gb\":24.0,\"memory_free_gb\":3},"
	    "\"cpu\":{\"cores\":16,\"arch\":\"x86_64\"},\"memory_gb\":63.5,"
	    "\"codecs\":{\"h264\":\"hardware\",\"vp9\":\"software\"},\"tags\":[\"linux\",\"gpu\"]}");
	ch = rm_probe_drift(a, b);
	ok(json_array_size(ch) == 0, "free GPU memory, tag order and memory within 2%% are not drift");
	json_decref(ch);
	ok(rm_probe_dynamic_changed(a, b), "free GPU memory change is a dynamic change");
	json_decref(b);
	b = advert("{\"cpu\":{\"cores\":16,\"arch\":\"x86_64\"},\"memory_gb\":60.0,"
	    "\"codecs\":{\"vp9\":\"software\"},\"tags\":[\"linux\"]}");
	ch = rm_probe_drift(a, b);
	ok(has_change(ch, "capabilities.gpu"), "a vanished GPU is drift");
	ok(json_is_null(json_object_get(json_array_get(ch, 0), "now")), "the GPU is now null");
	ok(has_change(ch, "capabilities.memory_gb"), "6%% less memory is drift");
	ok(has_change(ch, "capabilities.codecs.h264"), "a lost codec is drift");
	ok(has_change(ch, "capabilities.tags"), "a lost tag is drift");
	ok(!has_change(ch, "capabilities.cpu.cores"), "unchanged cores are not reported");
	json_decref(ch);
	json_decref(a);
	json_decref(b);

	/* static tags (top-level "tags", merged into capabilities.tags) are not drift */
	a = advert("{\"tags\":[\"gpu\",\"gpu-box\"]}");
	json_object_set_new(a, "tags", json_pack("[s]", "gpu-box"));
	b = advert("{\"tags\":[\"gpu\"]}");
	ch = rm_probe_drift(a, b);
	ok(json_array_size(ch) == 0, "a static tag missing from the fresh probe is not drift");
	json_decref(ch);
	json_decref(b);
	b = advert("{\"tags\":[]}");
	ch = rm_probe_drift(a, b);
	ok(has_change(ch, "capabilities.tags") && json_array_size(json_object_get(json_array_get(ch, 0),
	    "was")) == 1, "a lost probed tag is, reported without the static one");
	json_decref(ch);
	json_decref(a);
	json_decref(b);
	doc = json_pack("{s:s,s:{s:i,s:i}}", "region", "eu", "pricing", "per_hour", 2, "x", 1);
	ok(rm_probe_unset(doc, "pricing.per_hour", &err) == 0 &&
	    json_object_get(json_object_get(doc, "pricing"), "per_hour") == NULL, "--unset a nested field");
	ok(rm_probe_unset(doc, "region", &err) == 0 && json_object_get(doc, "region") == NULL,
	    "--unset a top-level field");
	ok(rm_probe_unset(doc, "nope.x", &err) == 1, "--unset of an absent field says so");
	ok(rm_probe_unset(doc, "a..b", &err) < 0 && err.code == 2, "--unset of a bad path is usage");
	json_decref(doc);

	/* --set */
	doc = json_object();
	rm_err_clear(&err);
	ok(rm_probe_set(doc, "slo.latency_p95_ms=200", &err) == 0, "nested --set");
	ok(json_integer_value(json_object_get(json_object_get(doc, "slo"), "latency_p95_ms")) == 200,
	    "value parsed as JSON");
	rm_probe_set(doc, "region=eu-west", &err);
	is_str(json_string_value(json_object_get(doc, "region")), "eu-west", "bare word kept as string");
	rm_probe_set(doc, "controller_affinity=[\"c1\"]", &err);
	ok(json_is_array(json_object_get(doc, "controller_affinity")), "list value");
	ok(rm_probe_set(doc, "=3", &err) != 0 && err.code == 2, "empty path is a usage error");
	ok(rm_probe_set(doc, "a..b=3", &err) != 0, "empty path component is refused");

	/* completeness */
	g = rm_probe_gaps(doc, NULL, &err);
	ok(json_array_size(g) == 3, "no priority: the three FaaS fields are missing (%zu)",
	    json_array_size(g));
	json_decref(g);
	json_object_set_new(doc, "priority", json_string("P2"));
	json_object_set_new(doc, "runtime", json_string("python3.11"));
	g = rm_probe_gaps(doc, NULL, &err);
	ok(json_array_size(g) == 4, "P2: env_profile, constraints, spiffe_id, required_capabilities");
	json_decref(g);
	ok(rm_probe_gaps(doc, "faas,bogus", &err) == NULL && err.code == 2, "unknown profile refused");
	json_decref(doc);

	/* exec: output, exit status, timeout */
	{
		char *echo[] = { "sh", "-c", "echo hello; exit 3", NULL };
		char *hang[] = { "sh", "-c", "sleep 30 & sleep 30", NULL };
		char *none[] = { "no-such-program-here", NULL };
		struct timespec t0, t1;

		r = rm_probe_exec(echo, 2000, 1024, &out, &len, &st, why, sizeof(why));
		ok(r == 0 && strcmp(out, "hello\n") == 0 && WEXITSTATUS(st) == 3, "exec captures output and status");
		free(out);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		r = rm_probe_exec(hang, 300, 1024, &out, &len, &st, why, sizeof(why));
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ok(r == -1 && strstr(why, "timed out") != NULL, "a hanging program times out (%s)", why);
		ok((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 2000,
		    "and is killed promptly, with its children");
		r = rm_probe_exec(none, 300, 1024, &out, &len, &st, why, sizeof(why));
		ok(r == -1 && strstr(why, "not found") != NULL, "a missing program is reported");
	}
	/* the local advert for the other tools: probed once, then from the 60 s cache */
	{
		char home[] = "/tmp/test_probe.XXXXXX", path[512];
		struct timespec t0, t1;
		json_t *l;
		double us;
		FILE *fp;

		if (mkdtemp(home) == NULL)
			return 70;
		setenv("REMOTEMEDIA_HOME", home, 1);
		unsetenv("REMOTEMEDIA_PROBE_ROOT");
		rm_err_clear(&err);
		l = rm_probe_local_advert(&err);
		ok(l != NULL, "local advert");
		is_str(json_string_value(json_object_get(l, "endpoint")), "local", "endpoint is local");
		ok(json_is_string(json_object_get(l, "expires_at")), "it carries expires_at");
		ok(json_integer_value(json_object_get(json_object_get(json_object_get(l, "capabilities"),
		    "cpu"), "cores")) > 0, "with this machine's cores");
		json_decref(l);
		snprintf(path, sizeof(path), "%s/cache/local-advert.json", home);
		fp = fopen(path, "w");
		fputs("{\"schema\":\"remotemedia.executor/1\",\"id\":\"from-cache\",\"endpoint\":\"local\"}\n", fp);
		fclose(fp);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		l = rm_probe_local_advert(&err);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		us = (double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
		is_str(json_string_value(json_object_get(l, "id")), "from-cache", "second call within 60 s reads the cache");
		printf("# warm local advert: %.0f us\n", us);
		json_decref(l);
		snprintf(path, sizeof(path), "rm -rf '%s'", home);
		if (system(path) != 0)
			return 70;
	}
	return done_testing();
}
