/*
 * --optimize: F32 tensors of a safetensors file converted to F16, BF16 or
 * int8. The file format: 8-byte little-endian header length N, N bytes of
 * JSON header {"name": {"dtype", "shape", "data_offsets": [begin, end]},
 * "__metadata__": {...}}, then the data, offsets relative to its start.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "rm_doc.h"
#include "rm_fs.h"

#define ST_MAX ((size_t)16 << 30)
#define ST_HEADER_MAX ((uint64_t)100 << 20)

const char *
rm_build_dtype_name(enum rm_build_dtype d)
{
	switch (d) {
	case RM_OPT_F16: return "f16";
	case RM_OPT_BF16: return "bf16";
	case RM_OPT_INT8: return "int8";
	default: return "none";
	}
}

static uint16_t
f32_to_f16(float f)
{
	uint32_t x, sign, mant;
	int32_t exp;

	memcpy(&x, &f, 4);
	sign = (x >> 16) & 0x8000;
	exp = (int32_t)((x >> 23) & 0xff);
	mant = x & 0x7fffff;
	if (exp == 0xff)	/* inf or nan */
		return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
	exp = exp - 127 + 15;
	if (exp >= 31)
		return (uint16_t)(sign | 0x7c00);
	if (exp <= 0) {
		uint32_t m, shift, half, rest, r;
		if (exp < -10)
			return (uint16_t)sign;
		m = mant | 0x800000;
		shift = (uint32_t)(14 - exp);
		half = 1u << (shift - 1);
		rest = m & ((1u << shift) - 1);
		r = m >> shift;
		if (rest > half || (rest == half && (r & 1)))
			r++;
		return (uint16_t)(sign | r);
	}
	{
		uint32_t r = ((uint32_t)exp << 10) | (mant >> 13), rest = mant & 0x1fff;
		if (rest > 0x1000 || (rest == 0x1000 && (r & 1)))
			r++;	/* may carry into the exponent, which is right */
		return (uint16_t)(sign | r);
	}
}

static float
f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, x;
	float f;

	if (exp == 0) {
		f = ldexpf((float)mant, -24);
		return sign ? -f : f;
	}
	if (exp == 31)
		x = sign | 0x7f800000 | (mant << 13);
	else
		x = sign | ((exp - 15 + 127) << 23) | (mant << 13);
	memcpy(&f, &x, 4);
	return f;
}

static uint16_t
f32_to_bf16(float f)
{
	uint32_t x;

	memcpy(&x, &f, 4);
	if ((x & 0x7fffffff) > 0x7f800000)
		return (uint16_t)((x >> 16) | 0x40);	/* quiet nan */
	x += 0x7fff + ((x >> 16) & 1);
	return (uint16_t)(x >> 16);
}

static float
bf16_to_f32(uint16_t b)
{
	uint32_t x = (uint32_t)b << 16;
	float f;

	memcpy(&f, &x, 4);
	return f;
}

static float
load_f32(const unsigned char *p)
{
	uint32_t x = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
	float f;

	memcpy(&f, &x, 4);
	return f;
}

static void
store_u16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v & 0xff);
	p[1] = (unsigned char)(v >> 8);
}

static void
store_f32(unsigned char *p, float f)
{
	uint32_t x;

	memcpy(&x, &f, 4);
	p[0] = (unsigned char)x;
	p[1] = (unsigned char)(x >> 8);
	p[2] = (unsigned char)(x >> 16);
	p[3] = (unsigned char)(x >> 24);
}

static size_t
dtype_size(const char *d)
{
	if (strcmp(d, "F64") == 0 || strcmp(d, "I64") == 0 || strcmp(d, "U64") == 0)
		return 8;
	if (strcmp(d, "F32") == 0 || strcmp(d, "I32") == 0 || strcmp(d, "U32") == 0)
		return 4;
	if (strcmp(d, "F16") == 0 || strcmp(d, "BF16") == 0 || strcmp(d, "I16") == 0 ||
	    strcmp(d, "U16") == 0)
		return 2;
	if (strcmp(d, "I8") == 0 || strcmp(d, "U8") == 0 || strcmp(d, "BOOL") == 0 ||
	    strcmp(d, "F8_E4M3") == 0 || strcmp(d, "F8_E5M2") == 0)
		return 1;
	return 0;
}

/* Growing output buffer for the new data section. */
struct obuf {
	unsigned char *p;
	size_t len, cap;
};

static unsigned char *
obuf_take(struct obuf *o, size_t n)
{
	if (o->len + n > o->cap) {
		size_t ncap = o->cap ? o->cap : 1 << 16;
		unsigned char *np;
		while (ncap < o->len + n)
			ncap *= 2;
		np = realloc(o->p, ncap);
		if (np == NULL)
			return NULL;
		o->p = np;
		o->cap = ncap;
	}
	o->len += n;
	return o->p + o->len - n;
}

int
rm_build_optimize(const char *path, enum rm_build_dtype dtype, unsigned char **out,
    size_t *outlen, json_t **report, struct rm_err *err)
{
	char *file = NULL, *htext = NULL;
	size_t flen, i, nkeys = 0;
	uint64_t hlen;
	json_t *hdr = NULL, *nh = NULL, *tensors = NULL;
	const char **keys = NULL;
	const char *key;
	json_t *val;
	const unsigned char *data;
	size_t datalen;
	struct obuf ob = { NULL, 0, 0 };
	int r = -RM_EXIT_INVALID;

	*out = NULL;
	*report = NULL;
	if ((r = rm_read_file(path, ST_MAX, &file, &flen, err)) != 0)
		return r;
	r = -RM_EXIT_INVALID;
	if (flen < 8) {
		rm_err_set(err, RM_EXIT_INVALID, path, NULL, "not a safetensors file (too short)");
		goto out;
	}
	hlen = 0;
	for (i = 0; i < 8; i++)
		hlen |= (uint64_t)(unsigned char)file[i] << (8 * i);
	if (hlen > ST_HEADER_MAX || hlen > flen - 8) {
		rm_err_set(err, RM_EXIT_INVALID, path, NULL,
		    "not a safetensors file (header length %llu)", (unsigned long long)hlen);
		goto out;
	}
	hdr = rm_doc_parse(file + 8, (size_t)hlen, path, 0, err);
	if (hdr == NULL || !json_is_object(hdr)) {
		if (hdr != NULL)
			rm_err_set(err, RM_EXIT_INVALID, path, NULL, "safetensors header is not an object");
		goto out;
	}
	data = (const unsigned char *)file + 8 + hlen;
	datalen = flen - 8 - (size_t)hlen;
	keys = calloc(json_object_size(hdr) + 1, sizeof(*keys));
	if (keys == NULL)
		goto oom;
	json_object_foreach(hdr, key, val)
		if (strcmp(key, "__metadata__") != 0)
			keys[nkeys++] = key;
	/* deterministic layout: tensors by name */
	for (i = 1; i < nkeys; i++) {
		size_t j = i;
		while (j > 0 && strcmp(keys[j - 1], keys[j]) > 0) {
			const char *t = keys[j];
			keys[j] = keys[j - 1];
			keys[j - 1] = t;
			j--;
		}
	}
	nh = json_object();
	tensors = json_array();
	if (json_object_get(hdr, "__metadata__") != NULL)
		json_object_set(nh, "__metadata__", json_object_get(hdr, "__metadata__"));
	for (i = 0; i < nkeys; i++) {
		json_t *t = json_object_get(hdr, keys[i]), *shape = json_object_get(t, "shape");
		json_t *offs = json_object_get(t, "data_offsets");
		const char *dt = json_string_value(json_object_get(t, "dtype"));
		json_int_t b, e;
		uint64_t count = 1;
		size_t k, es, n;
		unsigned char *dst;

		if (dt == NULL || !json_is_array(shape) || json_array_size(offs) != 2 ||
		    (es = dtype_size(dt)) == 0) {
			rm_err_set(err, RM_EXIT_INVALID, path, keys[i],
			    "expected {\"dtype\", \"shape\", \"data_offsets\"}");
			goto out;
		}
		b = json_integer_value(json_array_get(offs, 0));
		e = json_integer_value(json_array_get(offs, 1));
		for (k = 0; k < json_array_size(shape); k++) {
			json_int_t d = json_integer_value(json_array_get(shape, k));
			if (!json_is_integer(json_array_get(shape, k)) || d < 0 ||
			    (d > 0 && count > UINT64_MAX / (uint64_t)d)) {
				rm_err_set(err, RM_EXIT_INVALID, path, keys[i], "bad shape");
				goto out;
			}
			count *= (uint64_t)d;
		}
		if (b < 0 || e < b || (uint64_t)e > datalen || (uint64_t)(e - b) != count * es) {
			rm_err_set(err, RM_EXIT_INVALID, path, keys[i],
			    "data_offsets [%lld, %lld] do not fit the shape and the file",
			    (long long)b, (long long)e);
			goto out;
		}
		n = (size_t)count;
		if (strcmp(dt, "F32") != 0) {
			/* copied unchanged */
			size_t start = ob.len;
			if ((dst = obuf_take(&ob, n * es)) == NULL)
				goto oom;
			memcpy(dst, data + b, n * es);
			json_object_set_new(nh, keys[i], json_pack("{ss sO s[II]}", "dtype", dt,
			    "shape", shape, "data_offsets", (json_int_t)start, (json_int_t)ob.len));
			continue;
		}
		{
			size_t start = ob.len;
			double maxerr = 0, maxabs = 0;
			float scale = 1;
			const char *to = dtype == RM_OPT_F16 ? "F16" : dtype == RM_OPT_BF16 ? "BF16" : "I8";
			size_t oes = dtype == RM_OPT_INT8 ? 1 : 2;

			if (dtype == RM_OPT_INT8) {
				for (k = 0; k < n; k++) {
					float v = load_f32(data + b + 4 * k);
					if (isfinite(v) && fabs(v) > maxabs)
						maxabs = fabs(v);
				}
				scale = maxabs > 0 ? (float)(maxabs / 127.0) : 1.0f;
			}
			if ((dst = obuf_take(&ob, n * oes)) == NULL)
				goto oom;
			for (k = 0; k < n; k++) {
				float v = load_f32(data + b + 4 * k), back;
				if (dtype == RM_OPT_F16) {
					uint16_t h = f32_to_f16(v);
					store_u16(dst + 2 * k, h);
					back = f16_to_f32(h);
				} else if (dtype == RM_OPT_BF16) {
					uint16_t h = f32_to_bf16(v);
					store_u16(dst + 2 * k, h);
					back = bf16_to_f32(h);
				} else {
					float q = isfinite(v) ? roundf(v / scale) : 0;
					if (q > 127)
						q = 127;
					if (q < -127)
						q = -127;
					dst[k] = (unsigned char)(signed char)q;
					back = q * scale;
				}
				if (isfinite(v) && isfinite(back) && fabs((double)v - back) > maxerr)
					maxerr = fabs((double)v - back);
			}
			json_object_set_new(nh, keys[i], json_pack("{ss sO s[II]}", "dtype", to,
			    "shape", shape, "data_offsets", (json_int_t)start, (json_int_t)ob.len));
			if (dtype == RM_OPT_INT8) {
				char sname[600];
				size_t s0 = ob.len;
				snprintf(sname, sizeof(sname), "%s.scale", keys[i]);
				if (json_object_get(hdr, sname) != NULL) {
					rm_err_set(err, RM_EXIT_INVALID, path, keys[i],
					    "a tensor named '%s' already exists", sname);
					goto out;
				}
				if ((dst = obuf_take(&ob, 4)) == NULL)
					goto oom;
				store_f32(dst, scale);
				json_object_set_new(nh, sname, json_pack("{ss s[i] s[II]}", "dtype", "F32",
				    "shape", 1, "data_offsets", (json_int_t)s0, (json_int_t)ob.len));
			}
			json_array_append_new(tensors, json_pack("{ss ss ss sf}", "name", keys[i],
			    "from", "F32", "to", to, "max_abs_error", maxerr));
		}
	}
	{
		char *h = json_dumps(nh, JSON_COMPACT | JSON_SORT_KEYS);
		size_t hl, pad, total;
		unsigned char *res;
		if (h == NULL)
			goto oom;
		hl = strlen(h);
		pad = (8 - hl % 8) % 8;
		total = 8 + hl + pad + ob.len;
		res = malloc(total ? total : 1);
		if (res == NULL) {
			free(h);
			goto oom;
		}
		for (i = 0; i < 8; i++)
			res[i] = (unsigned char)(((uint64_t)(hl + pad)) >> (8 * i));
		memcpy(res + 8, h, hl);
		memset(res + 8 + hl, ' ', pad);
		if (ob.len)
			memcpy(res + 8 + hl + pad, ob.p, ob.len);
		free(h);
		*out = res;
		*outlen = total;
		*report = json_pack("{ss sI sI sI so}", "dtype", rm_build_dtype_name(dtype),
		    "original_size", (json_int_t)flen, "size", (json_int_t)total,
		    "saved_bytes", (json_int_t)flen - (json_int_t)total, "tensors", tensors);
		tensors = NULL;
	}
	r = 0;
	goto out;
oom:
	r = rm_err_set(err, RM_EXIT_INTERNAL, path, NULL, "out of memory");
out:
	free(ob.p);
	free(keys);
	free(file);
	free(htext);
	json_decref(hdr);
	json_decref(nh);
	json_decref(tensors);
	return r;
}
