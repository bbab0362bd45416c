/*
 * rm_sha256_hex (Nettle) against known answers and against the streaming
 * hash (OpenSSL) on many inputs of every length around the block size and
 * beyond, fed to the stream in random pieces: the two give one digest, so a
 * document hashed either way (a plan's pipeline, a package's contents list)
 * has one name.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "rm_crypto.h"
#include "tap.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void
stream_hex(const unsigned char *d, size_t n, char hex[RM_SHA256_HEX])
{
	struct rm_sha256 *h = rm_sha256_new();
	size_t off = 0;

	while (off < n) {
		size_t k = (size_t)(next() % 200);
		if (k > n - off)
			k = n - off;
		rm_sha256_update(h, d + off, k);
		off += k;
	}
	rm_sha256_final(h, hex);
}

int
main(void)
{
	char a[RM_SHA256_HEX], b[RM_SHA256_HEX];
	unsigned char *buf;
	size_t n, i, len, bad = 0, tried = 0;

	rm_sha256_hex("", 0, a);
	is_str(a, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "empty");
	rm_sha256_hex("abc", 3, a);
	is_str(a, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "abc");
	rm_sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, a);
	is_str(a, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
	    "two blocks");
	n = (size_t)1 << 20;
	buf = malloc(n);
	if (buf == NULL)
		return 1;
	for (i = 0; i < n; i++)
		buf[i] = 'a';
	rm_sha256_hex(buf, 1000000, a);
	is_str(a, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
	    "a million 'a'");
	for (i = 0; i < n; i++)
		buf[i] = (unsigned char)next();
	/* every length up to five blocks, then 2000 random ones: 20 up to 1 MiB */
	for (len = 0; len <= 320; len++, tried++) {
		rm_sha256_hex(buf + len, len, a);
		stream_hex(buf + len, len, b);
		bad += strcmp(a, b) != 0;
	}
	for (i = 0; i < 2000; i++, tried++) {
		size_t off = (size_t)(next() % 4096);
		len = (size_t)(next() % (i < 20 ? n - off : 65536));
		rm_sha256_hex(buf + off, len, a);
		stream_hex(buf + off, len, b);
		bad += strcmp(a, b) != 0;
	}
	ok(bad == 0, "%zu of %zu inputs hash alike both ways", tried - bad, tried);
	free(buf);
	return done_testing();
}
