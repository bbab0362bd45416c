/*
 * The probe: reads what this machine has from /proc, /sys, /dev (under a
 * root that tests point at fixture trees) and from nvidia-smi, ffmpeg and
 * python3 found in a fixed search list (rm_probe_search_path, under the same
 * root), and builds the executor advert. Nothing is
 * advertised that was not found; what could not be read is listed in
 * probe_errors and the rest is still answered.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rm_doc.h"
#include "rm_fs.h"
#include "rm_home.h"
#include "rm_log.h"
#include "rm_probe.h"
#include "rm_registry.h"

#define SMALL_MAX ((size_t)4 << 20)
#define OUT_MAX ((size_t)4 << 20)

struct ctx {
	const char *root;
	int timeout_ms;
	json_t *errors;		/* probe_errors */
	json_t *tcache;		/* cache/probe-tools.json */
	int tdirty;
	int nvidia, amd, intel, render;	/* what was found, for codec filtering */
};

void
rm_probe_opts_init(struct rm_probe_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->frameworks = RM_PROBE_FW_PROBE;
}

static double
gib_from_kib(double kib)
{
	return round(kib / (1024.0 * 1024.0) * 10.0) / 10.0;
}

static double
gib_from_mib(double mib)
{
	return round(mib / 1024.0 * 10.0) / 10.0;
}

static void
perr(struct ctx *c, const char *source, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
perr(struct ctx *c, const char *source, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rm_warn("%s: %s", source, msg);
	json_array_append_new(c->errors, json_pack("{s:s,s:s}", "source", source, "error", msg));
}

static void
rpath(const struct ctx *c, char *buf, size_t size, const char *rel)
{
	if (strcmp(c->root, "/") == 0)
		snprintf(buf, size, "%s", rel);
	else
		snprintf(buf, size, "%s%s", c->root, rel);
}

/* Reads a file under the root; 0 or -1 with errno's text in why. */
static int
rread(const struct ctx *c, const char *rel, char **out, char *why, size_t whysize)
{
	char p[PATH_MAX];
	struct rm_err err;
	size_t len;

	rpath(c, p, sizeof(p), rel);
	*out = NULL;
	rm_err_clear(&err);
	if (rm_read_file(p, SMALL_MAX, out, &len, &err) != 0) {
		if (why)
			snprintf(why, whysize, "%s", err.msg);
		return -1;
	}
	return 0;
}

/* First line of a small file, trimmed; NULL when unreadable. */
static char *
rline(const struct ctx *c, const char *rel)
{
	char *s, *e;

	if (rread(c, rel, &s, NULL, 0) != 0)
		return NULL;
	e = strchr(s, '\n');
	if (e)
		*e = '\0';
	for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
		e[-1] = '\0';
	return s;
}

static int
rexists(const struct ctx *c, const char *rel)
{
	char p[PATH_MAX];

	rpath(c, p, sizeof(p), rel);
	return access(p, F_OK) == 0;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
		e[-1] = '\0';
	return s;
}

/* ---- cached runs of programs whose answer only changes with the binary ---- */

static int
cache_file(char *buf, size_t size, const char *name)
{
	struct rm_err err;
	char rel[128];

	snprintf(rel, sizeof(rel), "cache/%s", name);
	rm_err_clear(&err);
	return rm_home_path(buf, size, rel, 0, &err);
}

static json_t *
cache_load(const char *name)
{
	char p[PATH_MAX];
	struct rm_err err;
	json_t *j;

	if (cache_file(p, sizeof(p), name) != 0 || access(p, R_OK) != 0)
		return NULL;
	rm_err_clear(&err);
	j = rm_doc_load(p, &err);
	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

static void
cache_save(const char *name, const json_t *doc)
{
	char p[PATH_MAX], rel[128];
	struct rm_err err;

	snprintf(rel, sizeof(rel), "cache/%s", name);
	rm_err_clear(&err);
	if (rm_home_path(p, sizeof(p), rel, 1, &err) != 0 || rm_json_write_file(p, doc, &err) != 0)
		rm_debug("cannot write cache %s: %s", rel, err.msg);
}

/* "path mtime size" of a program in the search list, for cache keys. */
static int
prog_stamp(const struct ctx *c, const char *prog, char *path, size_t psize, char *stamp,
    size_t ssize)
{
	struct stat st;
	char real[PATH_MAX];

	if (rm_probe_which(c->root, prog, path, psize) != 0 || stat(path, &st) != 0)
		return -1;
	if (realpath(path, real) == NULL)
		snprintf(real, sizeof(real), "%s", path);
	snprintf(stamp, ssize, "%s %lld.%09ld %lld", real, (long long)st.st_mtim.tv_sec,
	    st.st_mtim.tv_nsec, (long long)st.st_size);
	return 0;
}

/*
 * Runs a program whose output depends only on the binary (ffmpeg -encoders,
 * node --version), from the cache when the binary is unchanged. Returns the
 * output (caller frees) or NULL: *found says whether it was found at all.
 * argv[0] is replaced by the program's path.
 */
static char *
run_cached(struct ctx *c, const char *source, char *argv[], int *found)
{
	char path[PATH_MAX], stamp[PATH_MAX + 64], key[PATH_MAX + 256], why[256];
	json_t *e;
	char *out = NULL;
	size_t len;
	int st, i;

	*found = 0;
	if (prog_stamp(c, argv[0], path, sizeof(path), stamp, sizeof(stamp)) != 0)
		return NULL;
	*found = 1;
	argv[0] = path;
	snprintf(key, sizeof(key), "%s", stamp);
	for (i = 1; argv[i]; i++) {
		size_t k = strlen(key);
		snprintf(key + k, sizeof(key) - k, " %s", argv[i]);
	}
	if (c->tcache == NULL && (c->tcache = cache_load("probe-tools.json")) == NULL)
		c->tcache = json_object();
	e = json_object_get(c->tcache, key);
	if (json_is_string(e))
		return strdup(json_string_value(e));
	if (rm_probe_exec(argv, c->timeout_ms, OUT_MAX, &out, &len, &st, why, sizeof(why)) != 0) {
		perr(c, source, "%s", why);
		return NULL;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		if (WIFEXITED(st))
			perr(c, source, "exited with status %d", WEXITSTATUS(st));
		else
			perr(c, source, "killed by signal %d", WTERMSIG(st));
		free(out);
		return NULL;
	}
	json_object_set_new(c->tcache, key, json_stringn(out, len));
	c->tdirty = 1;
	return out;
}

/* ---- cpu ---- */

static const char *const wanted_flags[] = {
	"sse4_2", "avx", "avx2", "fma", "f16c", "aes", "sha_ni", "avx512f", "avx512bw",
	"avx512vl", "avx512dq", "avx512cd", "avx512_vnni", "avx512_bf16", "avx512_fp16",
	"amx_tile", "amx_bf16", "amx_int8", "neon", "asimd", "sve", "sve2", "fp16", "dotprod",
	NULL
};

static int
has_word(const char *list, const char *w)
{
	size_t n = strlen(w);
	const char *p = list;

	while ((p = strstr(p, w)) != NULL) {
		if ((p == list || isspace((unsigned char)p[-1])) &&
		    (p[n] == '\0' || isspace((unsigned char)p[n])))
			return 1;
		p += n;
	}
	return 0;
}

static char *
machine_arch(struct ctx *c)
{
	struct utsname u;
	char *a = rline(c, "/proc/sys/kernel/arch");

	if (a != NULL && *a)
		return a;
	free(a);
	if (strcmp(c->root, "/") == 0 && uname(&u) == 0)
		return strdup(u.machine);
	return NULL;
}

static void
probe_cpu(struct ctx *c, json_t *caps)
{
	char *text, *line, *save = NULL, why[256], *arch;
	char model[256] = "", flags[8192] = "";
	long ncpu = 0, phys = -1, core = -1;
	json_t *cpu = json_object(), *fl, *pairs = json_object();
	int i;

	if (rread(c, "/proc/cpuinfo", &text, why, sizeof(why)) != 0) {
		perr(c, "/proc/cpuinfo", "%s", why);
		text = NULL;
	}
	for (line = text ? strtok_r(text, "\n", &save) : NULL; line;
	    line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':'), *k, *v;

		if (colon == NULL)
			continue;
		*colon = '\0';
		k = trim(line);
		v = trim(colon + 1);
		if (strcmp(k, "processor") == 0 && isdigit((unsigned char)*v)) {
			ncpu++;
			phys = core = -1;
		} else if ((strcmp(k, "model name") == 0 || strcmp(k, "Model") == 0 ||
		    strcmp(k, "cpu model") == 0) && model[0] == '\0')
			snprintf(model, sizeof(model), "%s", v);
		else if ((strcmp(k, "flags") == 0 || strcmp(k, "Features") == 0) && flags[0] == '\0')
			snprintf(flags, sizeof(flags), "%s", v);
		else if (strcmp(k, "physical id") == 0)
			phys = atol(v);
		else if (strcmp(k, "core id") == 0)
			core = atol(v);
		if (phys >= 0 && core >= 0) {
			char key[64];
			snprintf(key, sizeof(key), "%ld:%ld", phys, core);
			json_object_set_new(pairs, key, json_true());
			phys = core = -1;
		}
	}
	free(text);
	/* On the live machine, the CPUs this process may use (what nproc says). */
	if (strcmp(c->root, "/") == 0) {
		cpu_set_t set;
		if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0 &&
		    (ncpu == 0 || CPU_COUNT(&set) < ncpu))
			ncpu = CPU_COUNT(&set);
	}
	if (ncpu > 0)
		json_object_set_new(cpu, "cores", json_integer(ncpu));
	if (json_object_size(pairs) > 0)
		json_object_set_new(cpu, "physical_cores", json_integer((json_int_t)json_object_size(pairs)));
	json_decref(pairs);
	if ((arch = machine_arch(c)) != NULL) {
		json_object_set_new(cpu, "arch", json_string(arch));
	} else
		perr(c, "/proc/sys/kernel/arch", "cannot tell the machine architecture");
	if (model[0])
		json_object_set_new(cpu, "model", json_string(model));
	fl = json_array();
	for (i = 0; wanted_flags[i]; i++)
		if (has_word(flags, wanted_flags[i]))
			json_array_append_new(fl, json_string(wanted_flags[i]));
	/* AArch64 calls NEON "asimd"; the vocabulary says neon. */
	if (has_word(flags, "asimd") && !has_word(flags, "neon"))
		json_array_append_new(fl, json_string("neon"));
	if (json_array_size(fl) > 0)
		json_object_set_new(cpu, "flags", fl);
	else
		json_decref(fl);
	free(arch);
	if (json_object_size(cpu) > 0)
		json_object_set_new(caps, "cpu", cpu);
	else
		json_decref(cpu);
}

/* ---- memory, load ---- */

static void
probe_memory(struct ctx *c, json_t *caps, json_t *advert)
{
	char *text, why[256], *p, *la;
	double total = -1, avail = -1, la1;
	long cores;

	if (rread(c, "/proc/meminfo", &text, why, sizeof(why)) != 0) {
		perr(c, "/proc/meminfo", "%s", why);
	} else {
		if ((p = strstr(text, "MemTotal:")) != NULL)
			total = strtod(p + 9, NULL);
		if ((p = strstr(text, "MemAvailable:")) != NULL)
			avail = strtod(p + 13, NULL);
		if (total <= 0)
			perr(c, "/proc/meminfo", "no MemTotal line");
		free(text);
	}
	if (total > 0)
		json_object_set_new(caps, "memory_gb", json_real(gib_from_kib(total)));
	if (avail >= 0)
		json_object_set_new(caps, "memory_available_gb", json_real(gib_from_kib(avail)));
	la = rline(c, "/proc/loadavg");
	cores = json_integer_value(json_object_get(json_object_get(caps, "cpu"), "cores"));
	if (la != NULL && sscanf(la, "%lf", &la1) == 1 && cores > 0) {
		double s = la1 / (double)cores;
		json_object_set_new(advert, "load_score", json_real(round((s > 1 ? 1 : s) * 100) / 100));
	} else if (la == NULL)
		perr(c, "/proc/loadavg", "cannot read");
	free(la);
}

/* ---- storage ---- */

static void
probe_storage(struct ctx *c, json_t *caps, const char *path)
{
	char dir[PATH_MAX], rel[128], *rot, *slash;
	struct statvfs sv;
	struct stat st;
	json_t *s;

	snprintf(dir, sizeof(dir), "%s", path);
	/* The state directory may not exist yet: its nearest existing parent. */
	while (stat(dir, &st) != 0 && (slash = strrchr(dir, '/')) != NULL && slash != dir)
		*slash = '\0';
	if (stat(dir, &st) != 0 || statvfs(dir, &sv) != 0) {
		perr(c, "storage", "cannot stat '%s': %s", dir, strerror(errno));
		return;
	}
	s = json_object();
	json_object_set_new(s, "free_gb",
	    json_real(round((double)sv.f_bavail * (double)sv.f_frsize / 1073741824.0 * 10) / 10));
	json_object_set_new(s, "path", json_string(path));
	snprintf(rel, sizeof(rel), "/sys/dev/block/%u:%u/queue/rotational", major(st.st_dev),
	    minor(st.st_dev));
	rot = rline(c, rel);
	if (rot == NULL) {
		/* A partition: its queue is on the parent device. */
		snprintf(rel, sizeof(rel), "/sys/dev/block/%u:%u/../queue/rotational",
		    major(st.st_dev), minor(st.st_dev));
		rot = rline(c, rel);
	}
	if (rot != NULL && (strcmp(rot, "0") == 0 || strcmp(rot, "1") == 0))
		json_object_set_new(s, "type", json_string(rot[0] == '1' ? "hdd" : "ssd"));
	free(rot);
	json_object_set_new(caps, "storage", s);
}

/* ---- network ---- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
probe_network(struct ctx *c, json_t *caps)
{
	char p[PATH_MAX], *names[256], rel[PATH_MAX];
	struct dirent *d;
	json_t *ifs, *net;
	long best = -1;
	size_t n = 0, i;
	DIR *dp;

	rpath(c, p, sizeof(p), "/sys/class/net");
	if ((dp = opendir(p)) == NULL) {
		perr(c, "/sys/class/net", "%s", strerror(errno));
		return;
	}
	while ((d = readdir(dp)) != NULL && n < 256)
		if (d->d_name[0] != '.' && strcmp(d->d_name, "lo") != 0)
			names[n++] = strdup(d->d_name);
	closedir(dp);
	qsort(names, n, sizeof(names[0]), cmp_str);
	ifs = json_array();
	for (i = 0; i < n; i++) {
		char *sp;
		json_t *o;
		long v;

		/* Physical (or paravirtual) links only: virtual ones have no device. */
		snprintf(rel, sizeof(rel), "/sys/class/net/%s/device", names[i]);
		if (!rexists(c, rel)) {
			free(names[i]);
			continue;
		}
		o = json_pack("{s:s}", "name", names[i]);
		snprintf(rel, sizeof(rel), "/sys/class/net/%s/speed", names[i]);
		sp = rline(c, rel);
		if (sp != NULL && (v = atol(sp)) > 0) {
			json_object_set_new(o, "speed_mbps", json_integer(v));
			if (v > best)
				best = v;
		}
		free(sp);
		json_array_append_new(ifs, o);
		free(names[i]);
	}
	if (json_array_size(ifs) == 0) {
		json_decref(ifs);
		return;
	}
	net = json_object();
	json_object_set_new(net, "interfaces", ifs);
	if (best > 0)
		json_object_set_new(net, "bandwidth_mbps", json_integer(best));
	json_object_set_new(caps, "network", net);
}

/* ---- GPUs ---- */

static int
parse_num(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	if (end == s || errno != 0)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	/* Accept "24564 MiB" as well as the nounits form. */
	if (*end != '\0' && strcmp(end, "MiB") != 0)
		return -1;
	return 0;
}

static void
probe_nvidia(struct ctx *c, json_t *gpus)
{
	char *argv[] = { "nvidia-smi",
	    "--query-gpu=index,name,memory.total,memory.used,compute_cap,driver_version",
	    "--format=csv,noheader,nounits", NULL };
	char path[PATH_MAX], why[256], *out, *line, *save = NULL;
	size_t len;
	int st, bad = 0;

	if (rm_probe_which(c->root, "nvidia-smi", path, sizeof(path)) != 0)
		return;
	argv[0] = path;
	if (rm_probe_exec(argv, c->timeout_ms, OUT_MAX, &out, &len, &st, why, sizeof(why)) != 0) {
		perr(c, "nvidia-smi", "%s", why);
		return;
	}
	/* Exit 6 ("No devices were found"): the driver is there, no GPU is. */
	if (WIFEXITED(st) && WEXITSTATUS(st) == 6 && strstr(out, "No devices were found")) {
		rm_debug("nvidia-smi: no devices");
		free(out);
		return;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		if (WIFEXITED(st))
			perr(c, "nvidia-smi", "exited with status %d", WEXITSTATUS(st));
		else
			perr(c, "nvidia-smi", "killed by signal %d", WTERMSIG(st));
		free(out);
		return;
	}
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[6], *q = line, *comma;
		double total, used;
		json_t *g;
		int k;

		if (*trim(line) == '\0')
			continue;
		for (k = 0; k < 6; k++) {
			comma = k < 5 ? strchr(q, ',') : NULL;
			if (k < 5 && comma == NULL)
				break;
			if (comma)
				*comma = '\0';
			f[k] = trim(q);
			q = comma ? comma + 1 : q;
		}
		if (k < 6 || parse_num(f[2], &total) != 0 || parse_num(f[3], &used) != 0 ||
		    !isdigit((unsigned char)f[0][0]) || f[1][0] == '\0') {
			bad++;
			continue;
		}
		g = json_pack("{s:s,s:s,s:I,s:f,s:f}", "type", "cuda", "model", f[1],
		    "index", (json_int_t)atol(f[0]), "memory_gb", gib_from_mib(total),
		    "memory_free_gb", gib_from_mib(total - used));
		if (isdigit((unsigned char)f[4][0]))
			json_object_set_new(g, "compute_capability", json_string(f[4]));
		if (isdigit((unsigned char)f[5][0]))
			json_object_set_new(g, "driver", json_string(f[5]));
		json_array_append_new(gpus, g);
		c->nvidia = 1;
	}
	if (bad)
		perr(c, "nvidia-smi", "%d line%s of unexpected output ignored", bad, bad == 1 ? "" : "s");
	else if (json_array_size(gpus) == 0)
		perr(c, "nvidia-smi", "printed nothing");
	free(out);
}

static void
probe_drm(struct ctx *c, json_t *gpus)
{
	char p[PATH_MAX], rel[PATH_MAX], *names[64];
	struct dirent *d;
	size_t n = 0, i;
	DIR *dp;

	rpath(c, p, sizeof(p), "/sys/class/drm");
	if ((dp = opendir(p)) == NULL)
		return;
	while ((d = readdir(dp)) != NULL && n < 64)
		if (strncmp(d->d_name, "card", 4) == 0 && strchr(d->d_name, '-') == NULL)
			names[n++] = strdup(d->d_name);
	closedir(dp);
	qsort(names, n, sizeof(names[0]), cmp_str);
	for (i = 0; i < n; i++) {
		char *vendor, *dev, *prod, *tot, *used, render[64] = "";
		struct dirent *e;
		DIR *rd;

		snprintf(rel, sizeof(rel), "/sys/class/drm/%s/device/vendor", names[i]);
		vendor = rline(c, rel);
		snprintf(rel, sizeof(rel), "/sys/class/drm/%s/device/drm", names[i]);
		rpath(c, p, sizeof(p), rel);
		if ((rd = opendir(p)) != NULL) {
			while ((e = readdir(rd)) != NULL)
				if (strncmp(e->d_name, "renderD", 7) == 0)
					snprintf(render, sizeof(render), "/dev/dri/%s", e->d_name);
			closedir(rd);
		}
		if (render[0])
			c->render = 1;
		if (vendor != NULL && strcmp(vendor, "0x8086") == 0 && render[0])
			c->intel = 1;
		if (vendor != NULL && strcmp(vendor, "0x1002") == 0) {
			json_t *g = json_object();
			double t, u;

			snprintf(rel, sizeof(rel), "/sys/class/drm/%s/device/product_name", names[i]);
			prod = rline(c, rel);
			snprintf(rel, sizeof(rel), "/sys/class/drm/%s/device/device", names[i]);
			dev = rline(c, rel);
			snprintf(rel, sizeof(rel), "/sys/class/drm/%s/device/mem_info_vram_total", names[i]);
			tot = rline(c, rel);
			snprintf(rel, sizeof(rel), "/sys/class/drm/%s/device/mem_info_vram_used", names[i]);
			used = rline(c, rel);
			/* ROCm compute needs the KFD device; without it only graphics (Vulkan). */
			json_object_set_new(g, "type", json_string(rexists(c, "/dev/kfd") ? "rocm" : "vulkan"));
			if (prod && *prod)
				json_object_set_new(g, "model", json_string(prod));
			else if (dev) {
				char m[64];
				snprintf(m, sizeof(m), "AMD GPU %s", dev);
				json_object_set_new(g, "model", json_string(m));
			}
			json_object_set_new(g, "index", json_integer((json_int_t)json_array_size(gpus)));
			if (tot && (t = strtod(tot, NULL)) > 0) {
				json_object_set_new(g, "memory_gb", json_real(round(t / 1073741824.0 * 10) / 10));
				if (used && (u = strtod(used, NULL)) >= 0)
					json_object_set_new(g, "memory_free_gb",
					    json_real(round((t - u) / 1073741824.0 * 10) / 10));
			} else
				perr(c, rel, "no VRAM size for %s", names[i]);
			if (rexists(c, "/sys/module/amdgpu/version")) {
				char *ver = rline(c, "/sys/module/amdgpu/version");
				if (ver && *ver)
					json_object_set_new(g, "driver", json_string(ver));
				free(ver);
			}
			if (render[0])
				json_object_set_new(g, "render_node", json_string(render));
			json_array_append_new(gpus, g);
			c->amd = 1;
			free(prod);
			free(dev);
			free(tot);
			free(used);
		}
		free(vendor);
		free(names[i]);
	}
}

static void
probe_gpus(struct ctx *c, json_t *caps)
{
	json_t *gpus = json_array(), *g, *best = NULL, *prim;
	size_t i;
	int count = 0;

	probe_nvidia(c, gpus);
	probe_drm(c, gpus);
	if (json_array_size(gpus) == 0) {
		json_decref(gpus);
		return;
	}
	/* The primary GPU: the first compute type seen, largest memory of it. */
	json_array_foreach(gpus, i, g) {
		if (best == NULL || (strcmp(json_string_value(json_object_get(g, "type")),
		    json_string_value(json_object_get(best, "type"))) == 0 &&
		    json_number_value(json_object_get(g, "memory_gb")) >
		    json_number_value(json_object_get(best, "memory_gb"))))
			best = g;
	}
	json_array_foreach(gpus, i, g)
		if (json_equal(json_object_get(g, "type"), json_object_get(best, "type")))
			count++;
	prim = json_deep_copy(best);
	json_object_del(prim, "index");
	json_object_del(prim, "render_node");
	json_object_set_new(prim, "count", json_integer(count));
	json_object_set_new(caps, "gpu", prim);
	json_object_set_new(caps, "gpus", gpus);
}

/* ---- codecs (ffmpeg) ---- */

static const struct {
	const char *enc, *codec;
} sw_encoders[] = {
	{ "libx264", "h264" }, { "libopenh264", "h264" }, { "libx265", "hevc" },
	{ "libvpx", "vp8" }, { "libvpx-vp9", "vp9" }, { "libaom-av1", "av1" },
	{ "libsvtav1", "av1" }, { "librav1e", "av1" }, { "libopus", "opus" },
	{ "libvorbis", "vorbis" }, { "libmp3lame", "mp3" }, { "aac", "aac" },
	{ "libfdk_aac", "aac" }, { "flac", "flac" }, { "mjpeg", "mjpeg" }, { "png", "png" },
	{ "libwebp", "webp" },
};

static const char *
hw_codec_name(const char *prefix, size_t n)
{
	static char buf[32];

	if (n >= sizeof(buf))
		return NULL;
	memcpy(buf, prefix, n);
	buf[n] = '\0';
	if (strcmp(buf, "mpeg2") == 0 || strcmp(buf, "h264") == 0 || strcmp(buf, "hevc") == 0 ||
	    strcmp(buf, "av1") == 0 || strcmp(buf, "vp8") == 0 || strcmp(buf, "vp9") == 0 ||
	    strcmp(buf, "mjpeg") == 0)
		return buf;
	return NULL;
}

/* Is the hardware behind an ffmpeg suffix present (ffmpeg lists them all)? */
static int
hw_present(const struct ctx *c, const char *kind)
{
	if (strcmp(kind, "nvenc") == 0 || strcmp(kind, "cuda") == 0 || strcmp(kind, "cuvid") == 0 ||
	    strcmp(kind, "nvdec") == 0)
		return c->nvidia;
	if (strcmp(kind, "vaapi") == 0 || strcmp(kind, "drm") == 0 || strcmp(kind, "vulkan") == 0 ||
	    strcmp(kind, "opencl") == 0)
		return c->render;
	if (strcmp(kind, "qsv") == 0)
		return c->intel;
	if (strcmp(kind, "amf") == 0)
		return c->amd;
	if (strcmp(kind, "vdpau") == 0)
		return c->nvidia || c->render;
	return 0;
}

static void
probe_ffmpeg(struct ctx *c, json_t *caps, json_t *tags)
{
	char *eargv[] = { "ffmpeg", "-hide_banner", "-encoders", NULL };
	char *hargv[] = { "ffmpeg", "-hide_banner", "-hwaccels", NULL };
	char *out, *line, *save = NULL;
	json_t *codecs, *accel;
	int found, seen = 0;
	size_t i;

	out = run_cached(c, "ffmpeg", eargv, &found);
	if (!found)
		return;
	json_array_append_new(tags, json_string("ffmpeg"));
	if (out == NULL)
		return;
	codecs = json_object();
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char flags[16], name[128], *us;

		if (sscanf(line, " %15s %127s", flags, name) != 2 || strlen(flags) != 6 ||
		    strchr("VAS", flags[0]) == NULL || strcmp(name, "=") == 0)
			continue;
		seen++;
		if ((us = strrchr(name, '_')) != NULL && hw_present(c, us + 1)) {
			const char *codec = hw_codec_name(name, (size_t)(us - name));
			if (codec)
				json_object_set_new(codecs, codec, json_string("hardware"));
			continue;
		}
		for (i = 0; i < sizeof(sw_encoders) / sizeof(sw_encoders[0]); i++)
			if (strcmp(name, sw_encoders[i].enc) == 0 &&
			    json_object_get(codecs, sw_encoders[i].codec) == NULL)
				json_object_set_new(codecs, sw_encoders[i].codec, json_string("software"));
	}
	free(out);
	if (seen == 0)
		perr(c, "ffmpeg", "no encoder list in the output of 'ffmpeg -encoders'");
	if (json_object_size(codecs) > 0)
		json_object_set_new(caps, "codecs", codecs);
	else
		json_decref(codecs);
	out = run_cached(c, "ffmpeg", hargv, &found);
	if (out == NULL)
		return;
	accel = json_array();
	save = NULL;
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *w = trim(line);
		if (*w == '\0' || strchr(w, ' ') != NULL || strchr(w, ':') != NULL)
			continue;
		if (hw_present(c, w))
			json_array_append_new(accel, json_string(w));
	}
	free(out);
	if (json_array_size(accel) > 0)
		json_object_set_new(caps, "hardware_accel", accel);
	else
		json_decref(accel);
}

/* ---- frameworks (python3), cached on the interpreter and its site-packages ---- */

static const char py_script[] =
    "import sys, json\n"
    "import importlib.metadata as m\n"
    "r = {'python': '%d.%d' % sys.version_info[:2], 'executable': sys.executable,\n"
    "     'paths': sorted(set(p for p in sys.path if p.endswith(('site-packages', 'dist-packages')))),\n"
    "     'frameworks': {}}\n"
    "for d, k in (('torch', 'torch'), ('tensorflow', 'tensorflow'), ('tensorflow-cpu', 'tensorflow'),\n"
    "             ('onnxruntime', 'onnxruntime'), ('onnxruntime-gpu', 'onnxruntime'),\n"
    "             ('onnx', 'onnx'), ('Pillow', 'pillow'), ('numpy', 'numpy')):\n"
    "    try:\n"
    "        r['frameworks'].setdefault(k, m.version(d))\n"
    "    except Exception:\n"
    "        pass\n"
    "if 'torch' in r['frameworks']:\n"
    "    try:\n"
    "        import torch\n"
    "        r['torch_cuda'] = bool(torch.cuda.is_available())\n"
    "    except Exception as e:\n"
    "        r['torch_error'] = str(e)[:200]\n"
    "print(json.dumps(r))\n";

static long long
mtime_ns(const char *p)
{
	struct stat st;

	if (stat(p, &st) != 0)
		return -1;
	return (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
}

static int
fw_cache_valid(const json_t *cache, const char *stamp)
{
	const char *k;
	json_t *v;

	if (!json_is_object(cache) || !json_is_string(json_object_get(cache, "stamp")) ||
	    strcmp(json_string_value(json_object_get(cache, "stamp")), stamp) != 0 ||
	    !json_is_object(json_object_get(cache, "result")))
		return 0;
	json_object_foreach(json_object_get(cache, "mtimes"), k, v)
		if (mtime_ns(k) != json_integer_value(v))
			return 0;
	return 1;
}

/* The python3 answer {python, frameworks, torch_cuda}, or NULL. */
static json_t *
python_info(struct ctx *c, int mode)
{
	char *argv[] = { "python3", "-I", "-c", (char *)py_script, NULL };
	char path[PATH_MAX], stamp[PATH_MAX + 64], why[256], *out;
	json_t *cache, *res, *mt, *p;
	json_error_t je;
	size_t len, i;
	int st;

	if (prog_stamp(c, "python3", path, sizeof(path), stamp, sizeof(stamp)) != 0)
		return NULL;
	argv[0] = path;
	cache = cache_load("frameworks.json");
	if (fw_cache_valid(cache, stamp)) {
		res = json_incref(json_object_get(cache, "result"));
		json_decref(cache);
		return res;
	}
	json_decref(cache);
	if (mode != RM_PROBE_FW_PROBE)
		return NULL;
	if (rm_probe_exec(argv, c->timeout_ms, OUT_MAX, &out, &len, &st, why, sizeof(why)) != 0) {
		perr(c, "python3", "%s", why);
		return NULL;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		perr(c, "python3", "exited with status %d", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		free(out);
		return NULL;
	}
	res = json_loadb(out, len, 0, &je);
	free(out);
	if (!json_is_object(res) || !json_is_string(json_object_get(res, "python")) ||
	    !json_is_object(json_object_get(res, "frameworks"))) {
		perr(c, "python3", "unexpected answer to the framework query");
		json_decref(res);
		return NULL;
	}
	mt = json_object();
	json_array_foreach(json_object_get(res, "paths"), i, p)
		if (json_is_string(p))
			json_object_set_new(mt, json_string_value(p),
			    json_integer(mtime_ns(json_string_value(p))));
	if (json_is_string(json_object_get(res, "executable")) &&
	    *json_string_value(json_object_get(res, "executable")))
		json_object_set_new(mt, json_string_value(json_object_get(res, "executable")),
		    json_integer(mtime_ns(json_string_value(json_object_get(res, "executable")))));
	cache = json_pack("{s:s,s:o,s:O}", "stamp", stamp, "mtimes", mt, "result", res);
	cache_save("frameworks.json", cache);
	json_decref(cache);
	return res;
}

/* "Python 3.11.2" / "v20.11.1" -> major (and minor for python). */
static void
version_tags(struct ctx *c, json_t *tags, const json_t *py)
{
	char *pargv[] = { "python3", "--version", NULL };
	char *nargv[] = { "node", "--version", NULL };
	char *out, tag[32], path[PATH_MAX];
	int found, a, b;

	if (py != NULL && json_is_string(json_object_get(py, "python"))) {
		snprintf(tag, sizeof(tag), "python%s", json_string_value(json_object_get(py, "python")));
		json_array_append_new(tags, json_string(tag));
	} else if ((out = run_cached(c, "python3", pargv, &found)) != NULL) {
		if (sscanf(out, "Python %d.%d", &a, &b) == 2) {
			snprintf(tag, sizeof(tag), "python%d.%d", a, b);
			json_array_append_new(tags, json_string(tag));
		} else
			perr(c, "python3", "unexpected answer to --version");
		free(out);
	}
	if ((out = run_cached(c, "node", nargv, &found)) != NULL) {
		if (sscanf(out, "v%d", &a) == 1) {
			snprintf(tag, sizeof(tag), "node%d", a);
			json_array_append_new(tags, json_string(tag));
		} else
			perr(c, "node", "unexpected answer to --version");
		free(out);
	}
	if (rm_probe_which(c->root, "rustc", path, sizeof(path)) == 0 ||
	    rm_probe_which(c->root, "cargo", path, sizeof(path)) == 0)
		json_array_append_new(tags, json_string("rust"));
	if (rm_probe_which(c->root, "go", path, sizeof(path)) == 0)
		json_array_append_new(tags, json_string("go"));
	if (rm_probe_which(c->root, "docker", path, sizeof(path)) == 0 || rexists(c, "/run/docker.sock"))
		json_array_append_new(tags, json_string("docker"));
}

static int
dir_has_prefix(const struct ctx *c, const char *rel, const char *prefix)
{
	char p[PATH_MAX];
	struct dirent *d;
	int found = 0;
	DIR *dp;

	rpath(c, p, sizeof(p), rel);
	if ((dp = opendir(p)) == NULL)
		return 0;
	while (!found && (d = readdir(dp)) != NULL)
		if (strncmp(d->d_name, prefix, strlen(prefix)) == 0)
			found = 1;
	closedir(dp);
	return found;
}

static int
wayland_socket(const struct ctx *c)
{
	char p[PATH_MAX], rel[PATH_MAX];
	struct dirent *d;
	int found = 0;
	DIR *dp;

	rpath(c, p, sizeof(p), "/run/user");
	if ((dp = opendir(p)) == NULL)
		return 0;
	while (!found && (d = readdir(dp)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(rel, sizeof(rel), "/run/user/%s", d->d_name);
		found = dir_has_prefix(c, rel, "wayland-");
	}
	closedir(dp);
	return found;
}

static int
tag_cmp(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

static json_t *
sorted_unique(json_t *tags)
{
	json_t *v[128], *out = json_array();
	size_t n = 0, i;

	for (i = 0; i < json_array_size(tags) && n < 128; i++)
		v[n++] = json_array_get(tags, i);
	qsort(v, n, sizeof(v[0]), tag_cmp);
	for (i = 0; i < n; i++)
		if (i == 0 || !json_equal(v[i], v[i - 1]))
			json_array_append(out, v[i]);
	json_decref(tags);
	return out;
}

static void
probe_os(struct ctx *c, json_t *caps, json_t *tags)
{
	char *os = rline(c, "/proc/sys/kernel/ostype"), *p;
	struct utsname u;

	if (os == NULL && strcmp(c->root, "/") == 0 && uname(&u) == 0)
		os = strdup(u.sysname);
	if (os == NULL) {
		perr(c, "/proc/sys/kernel/ostype", "cannot tell the operating system");
		return;
	}
	for (p = os; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	json_object_set_new(caps, "os", json_string(os));
	if (strcmp(os, "linux") == 0 || strcmp(os, "freebsd") == 0)
		json_array_append_new(tags, json_string(os));
	free(os);
}

static char *
short_hostname(const struct ctx *c)
{
	char *h = rline(c, "/proc/sys/kernel/hostname"), buf[256], *dot;

	if (h == NULL && strcmp(c->root, "/") == 0 && gethostname(buf, sizeof(buf)) == 0) {
		buf[sizeof(buf) - 1] = '\0';
		h = strdup(buf);
	}
	if (h == NULL || *h == '\0') {
		free(h);
		return strdup("localhost");
	}
	if ((dot = strchr(h, '.')) != NULL)
		*dot = '\0';
	return h;
}

json_t *
rm_probe_run(const struct rm_probe_opts *o, struct rm_err *err)
{
	char ts[32], *host, spath[PATH_MAX], path[PATH_MAX];
	struct ctx c;
	json_t *adv, *caps, *tags, *py = NULL;
	const char *env;

	memset(&c, 0, sizeof(c));
	c.root = o->root ? o->root : getenv("REMOTEMEDIA_PROBE_ROOT");
	if (c.root == NULL || *c.root == '\0')
		c.root = "/";
	c.timeout_ms = o->timeout_ms;
	if (c.timeout_ms <= 0 && (env = getenv("REMOTEMEDIA_PROBE_TIMEOUT")) != NULL)
		c.timeout_ms = (int)(atof(env) * 1000);
	if (c.timeout_ms <= 0)
		c.timeout_ms = 3000;
	if (strcmp(c.root, "/") != 0 && !rm_is_dir(c.root)) {
		rm_err_set(err, RM_EXIT_NOTFOUND, c.root, NULL, "probe root is not a directory");
		return NULL;
	}
	c.errors = json_array();
	adv = json_object();
	caps = json_object();
	tags = json_array();

	probe_os(&c, caps, tags);
	probe_cpu(&c, caps);
	probe_memory(&c, caps, adv);
	if (o->storage_path)
		snprintf(spath, sizeof(spath), "%s", o->storage_path);
	else
		snprintf(spath, sizeof(spath), "%s", rm_home());
	probe_storage(&c, caps, spath);
	probe_network(&c, caps);
	probe_gpus(&c, caps);
	if (json_object_get(caps, "gpu") != NULL)
		json_array_append_new(tags, json_string("gpu"));
	probe_ffmpeg(&c, caps, tags);
	if (o->frameworks != RM_PROBE_FW_NONE && (py = python_info(&c, o->frameworks)) != NULL) {
		json_t *fw = json_object_get(py, "frameworks");

		if (json_object_size(fw) > 0)
			json_object_set(caps, "frameworks", fw);
		if (json_is_boolean(json_object_get(py, "torch_cuda")))
			json_object_set(caps, "torch_cuda", json_object_get(py, "torch_cuda"));
		if (json_is_string(json_object_get(py, "torch_error")))
			perr(&c, "torch", "import failed: %s",
			    json_string_value(json_object_get(py, "torch_error")));
		if (json_object_get(fw, "pillow") != NULL)
			json_array_append_new(tags, json_string("image-render"));
	}
	version_tags(&c, tags, py);
	json_decref(py);
	if (rexists(&c, "/sys/module/zfs"))
		json_array_append_new(tags, json_string("zfs"));
	{
		int x11 = dir_has_prefix(&c, "/tmp/.X11-unix", "X"), wl = wayland_socket(&c);
		static const char *const shots[] = { "grim", "scrot", "maim", "gnome-screenshot",
		    "spectacle", "import", NULL };
		int i;

		if (x11 || wl) {
			json_array_append_new(tags, json_string("gui"));
			if (wl)
				json_array_append_new(tags, json_string("wayland"));
			for (i = 0; shots[i]; i++)
				if (rm_probe_which(c.root, shots[i], path, sizeof(path)) == 0) {
					json_array_append_new(tags, json_string("screenshot"));
					break;
				}
		}
	}
	if (rm_probe_which(c.root, "convert", path, sizeof(path)) == 0 ||
	    rm_probe_which(c.root, "magick", path, sizeof(path)) == 0)
		json_array_append_new(tags, json_string("image-render"));
	tags = sorted_unique(tags);
	if (json_array_size(tags) > 0)
		json_object_set_new(caps, "tags", tags);
	else
		json_decref(tags);

	host = short_hostname(&c);
	json_object_set_new(adv, "schema", json_string("remotemedia.executor/1"));
	json_object_set_new(adv, "id", json_string(host));
	json_object_set_new(adv, "endpoint", json_string("local"));
	json_object_set_new(adv, "capabilities", caps);
	rm_time_format((long long)time(NULL), ts, sizeof(ts));
	json_object_set_new(adv, "probed_at", json_string(ts));
	if (json_array_size(c.errors) > 0)
		json_object_set(adv, "probe_errors", c.errors);
	free(host);
	json_decref(c.errors);
	if (c.tdirty)
		cache_save("probe-tools.json", c.tcache);
	json_decref(c.tcache);
	return adv;
}

json_t *
rm_probe_local_advert(struct rm_err *err)
{
	struct rm_probe_opts o;
	struct stat st;
	char p[PATH_MAX], ts[32];
	json_t *adv;
	long long now = (long long)time(NULL);

	if (cache_file(p, sizeof(p), "local-advert.json") == 0 && stat(p, &st) == 0 &&
	    now - (long long)st.st_mtime < 60 && now >= (long long)st.st_mtime &&
	    (adv = cache_load("local-advert.json")) != NULL)
		return adv;
	rm_probe_opts_init(&o);
	o.frameworks = RM_PROBE_FW_CACHED;
	if ((adv = rm_probe_run(&o, err)) == NULL)
		return NULL;
	rm_time_format(now + 300, ts, sizeof(ts));
	json_object_set_new(adv, "expires_at", json_string(ts));
	cache_save("local-advert.json", adv);
	return adv;
}
