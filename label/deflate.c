/* SPDX-License-Identifier: Apache-2.0 */
/*
 * deflate.c - a zlib stream (RFC 1950 around RFC 1951) built from byte runs
 * and literals with the fixed Huffman code: the one compression a bilevel
 * label needs, at a fraction of zlib's cost.
 *
 * Why not zlib's deflate: its level-1 matcher runs at ~100 MB/s on this
 * machine, 0.5 ms for one 4x6 PNG and as much again for the ~15 graphics of
 * a ZPL label - a quarter of the time budget of a label. A label raster is
 * runs of equal bytes (blank space; after PNG's "Up" filter, every repeated
 * row becomes zeros) and short stretches of text bits, for which the only
 * LZ77 match worth finding is "repeat the previous byte" (distance 1).
 * Runs are found 8 bytes at a time; every symbol's code comes from a table
 * built once. Output is ~10-30% larger than zlib's with dynamic codes and
 * every decoder (libpng, zbar, poppler, Zebra firmware) reads it: it is
 * plain deflate, one final block of BTYPE 01.
 */
#include "label_internal.h"
#include "../common/smile_assert.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

/* Literal and length symbols, codes already bit-reversed for LSB-first
 * packing (RFC 1951 3.1.1, 3.2.6). */
static uint16_t lit_code[256];
static uint8_t lit_bits[256];
/* A whole "length L, distance 1" pair: length code + its extra bits + the
 * 5-bit distance code 0 (which is all zero bits). Index: L, 3..258. */
static uint32_t match_code[259];
static uint8_t match_bits[259];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static unsigned reverse(unsigned code, int bits)
{
	unsigned r = 0;
	for (int i = 0; i < bits; i++)
		r |= ((code >> i) & 1u) << (bits - 1 - i);
	return r;
}

/* Fixed code of literal/length symbol s (RFC 1951 3.2.6). */
static void fixed_code(int s, unsigned *code, int *bits)
{
	if (s < 144) {
		*code = 0x30 + (unsigned)s;
		*bits = 8;
	} else if (s < 256) {
		*code = 0x190 + (unsigned)(s - 144);
		*bits = 9;
	} else if (s < 280) {
		*code = (unsigned)(s - 256);
		*bits = 7;
	} else {
		*code = 0xC0 + (unsigned)(s - 280);
		*bits = 8;
	}
	*code = reverse(*code, *bits);
}

static void tables_build(void)
{
	static const int base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
				     31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
	static const int extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
				      2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
	unsigned code;
	int bits;

	for (int s = 0; s < 256; s++) {
		fixed_code(s, &code, &bits);
		lit_code[s] = (uint16_t)code;
		lit_bits[s] = (uint8_t)bits;
	}
	for (int len = 3; len <= 258; len++) {
		int i = 28;
		while (base[i] > len)
			i--;
		fixed_code(257 + i, &code, &bits);
		/* extra bits follow the code, LSB first; then distance code 0 */
		match_code[len] = code | (uint32_t)(len - base[i]) << bits;
		match_bits[len] = (uint8_t)(bits + extra[i] + 5);
	}
}

struct bits {
	unsigned char *p;
	uint64_t acc;
	int n;
};

static inline void put(struct bits *w, uint64_t code, int n)
{
	w->acc |= code << w->n;
	w->n += n;
	if (w->n >= 32) {
		w->p[0] = (unsigned char)w->acc;
		w->p[1] = (unsigned char)(w->acc >> 8);
		w->p[2] = (unsigned char)(w->acc >> 16);
		w->p[3] = (unsigned char)(w->acc >> 24);
		w->p += 4;
		w->acc >>= 32;
		w->n -= 32;
	}
}

/* How many bytes from in[i] (at most max) equal c. */
static size_t run_of(const unsigned char *in, size_t i, size_t n, unsigned char c, size_t max)
{
	size_t end = n - i < max ? n : i + max, j = i;
	uint64_t pat = 0x0101010101010101ull * c, w;

	while (j + 8 <= end) {
		memcpy(&w, in + j, 8);
		if (w != pat)
			break;
		j += 8;
	}
	while (j < end && in[j] == c)
		j++;
	return j - i;
}

static size_t deflate_bound(size_t len)
{
	/* literals take at most 9 bits; header, block bits, end, adler32 */
	return len + len / 8 + 16;
}

static size_t deflate_rle(const unsigned char *in, size_t len, unsigned char *out)
{
	struct bits w = {out + 2, 3, 3}; /* BFINAL = 1, BTYPE = 01 (fixed) */
	size_t i = 0;
	uLong adler = adler32(0L, Z_NULL, 0);
	unsigned char *p;

	pthread_once(&tables_once, tables_build);
	out[0] = 0x78; /* CM 8 (deflate), CINFO 7 (32 KiB window) */
	out[1] = 0x01; /* FLEVEL 0, no dictionary, FCHECK: 0x7801 % 31 == 0 */
	while (i < len) {
		unsigned char c = in[i++];
		put(&w, lit_code[c], lit_bits[c]);
		/* the cheap test first: most literals are not followed by a run */
		while (i < len && in[i] == c) {
			size_t r = run_of(in, i, len, c, 258);
			if (r < 3) {
				for (size_t k = 0; k < r; k++)
					put(&w, lit_code[c], lit_bits[c]);
				i += r;
				break;
			}
			put(&w, match_code[r], match_bits[r]); /* "repeat the last byte r times" */
			i += r;
		}
	}
	put(&w, 0, 7); /* end of block: symbol 256 */
	p = w.p;
	while (w.n > 0) {
		*p++ = (unsigned char)w.acc;
		w.acc >>= 8;
		w.n -= 8;
	}
	adler = adler32(adler, in, (uInt)len);
	p[0] = (unsigned char)(adler >> 24);
	p[1] = (unsigned char)(adler >> 16);
	p[2] = (unsigned char)(adler >> 8);
	p[3] = (unsigned char)adler;
	return (size_t)(p + 4 - out);
}

enum smile_err label_deflate(const unsigned char *in, size_t len, struct smile_buf *out,
			     struct smile_error *e)
{
	size_t bound = deflate_bound(len);
	enum smile_err err = smile_buf_reserve(out, bound);
	size_t n;

	if (err)
		return smile_error_set(e, err, NULL, "compressed output over the cap");
	n = deflate_rle(in, len, (unsigned char *)out->data + out->len);
	SMILE_ASSERT(n <= bound); /* else it wrote past what was reserved */
	out->len += n;
	out->data[out->len] = '\0';
	return SMILE_OK;
}
