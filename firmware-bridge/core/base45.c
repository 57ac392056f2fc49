/* SPDX-License-Identifier: Apache-2.0 */
/*
 * base45.c - RFC 9285 Base45, strict, with no heap and no libc calls.
 *
 * The one idea: decoding checks everything RFC 9285 section 6 says a decoder
 * must refuse (characters outside the alphabet, a dangling single character,
 * values that do not fit the bytes they stand for) *before* it trusts a
 * value, so a token reader can tell "not Base45" from "Base45 that fails to
 * authenticate". Lookup is a 128-entry table of value+1 (0 = not in the
 * alphabet), built with designated initialisers so it does not depend on
 * the execution character set being ASCII-contiguous.
 */
#include "smile/base45.h"

/* RFC 9285 section 4, table 1. */
static const char b45_alphabet[45] = {
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'A', 'B', 'C', 'D', 'E',
	'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', 'P', 'Q', 'R', 'S', 'T',
	'U', 'V', 'W', 'X', 'Y', 'Z', ' ', '$', '%', '*', '+', '-', '.', '/', ':'
};

/* value + 1 for each alphabet character, 0 for everything else */
static const unsigned char b45_value[128] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6,
	['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10, ['A'] = 11, ['B'] = 12,
	['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16, ['G'] = 17, ['H'] = 18,
	['I'] = 19, ['J'] = 20, ['K'] = 21, ['L'] = 22, ['M'] = 23, ['N'] = 24,
	['O'] = 25, ['P'] = 26, ['Q'] = 27, ['R'] = 28, ['S'] = 29, ['T'] = 30,
	['U'] = 31, ['V'] = 32, ['W'] = 33, ['X'] = 34, ['Y'] = 35, ['Z'] = 36,
	[' '] = 37, ['$'] = 38, ['%'] = 39, ['*'] = 40, ['+'] = 41, ['-'] = 42,
	['.'] = 43, ['/'] = 44, [':'] = 45
};

/* The value of c, or -1 when c is not in the alphabet. */
static int b45_decode_char(char c)
{
	unsigned char u = (unsigned char)c;
	if (u >= sizeof(b45_value))
		return -1;
	return (int)b45_value[u] - 1;
}

int smile_base45_is_char(char c)
{
	return b45_decode_char(c) >= 0;
}

enum smile_err smile_base45_encode(const uint8_t *in, size_t n, char *out,
				   size_t cap, size_t *outlen)
{
	size_t need, i, o = 0;

	if (outlen != NULL)
		*outlen = 0;
	if (out == NULL || (in == NULL && n > 0))
		return SMILE_ERR_INVALID;
	/* n / 2 * 3 cannot overflow before n itself is absurd; check anyway */
	if (n > ((size_t)-1 - 3) / 3 * 2)
		return SMILE_ERR_BUFFER_SMALL;
	need = SMILE_BASE45_ENCODED_LEN(n);
	if (cap < need + 1) {
		if (cap > 0)
			out[0] = '\0';
		return SMILE_ERR_BUFFER_SMALL;
	}
	/* RFC 9285 section 4.2: [a, b] -> a*256 + b = c + d*45 + e*45^2 -> c d e */
	for (i = 0; i + 1 < n; i += 2) {
		unsigned v = (unsigned)in[i] * 256u + in[i + 1];
		out[o++] = b45_alphabet[v % 45u];
		v /= 45u;
		out[o++] = b45_alphabet[v % 45u];
		out[o++] = b45_alphabet[v / 45u];
	}
	if (i < n) { /* a final single byte: a = c + d*45 -> c d */
		unsigned v = in[i];
		out[o++] = b45_alphabet[v % 45u];
		out[o++] = b45_alphabet[v / 45u];
	}
	out[o] = '\0';
	if (outlen != NULL)
		*outlen = o;
	return SMILE_OK;
}

enum smile_err smile_base45_decode(const char *in, size_t n, uint8_t *out,
				   size_t cap, size_t *outlen)
{
	size_t i, o = 0;

	if (outlen != NULL)
		*outlen = 0;
	if (in == NULL && n > 0)
		return SMILE_ERR_INVALID;
	if (n % 3u == 1u) /* RFC 9285 section 6: cannot come from any input */
		return SMILE_ERR_INVALID;
	if (cap < SMILE_BASE45_DECODED_LEN(n))
		return SMILE_ERR_BUFFER_SMALL;
	if (out == NULL && n > 0)
		return SMILE_ERR_INVALID;
	for (i = 0; i + 2 < n; i += 3) {
		int c = b45_decode_char(in[i]);
		int d = b45_decode_char(in[i + 1]);
		int e = b45_decode_char(in[i + 2]);
		unsigned long v;
		if (c < 0 || d < 0 || e < 0)
			return SMILE_ERR_INVALID;
		v = (unsigned long)c + (unsigned long)d * 45u + (unsigned long)e * 2025u;
		if (v > 65535u) /* e.g. ":::" = 91124 */
			return SMILE_ERR_INVALID;
		out[o++] = (uint8_t)(v >> 8);
		out[o++] = (uint8_t)(v & 0xffu);
	}
	if (i < n) { /* n % 3 == 2: one final byte */
		int c = b45_decode_char(in[i]);
		int d = b45_decode_char(in[i + 1]);
		unsigned v;
		if (c < 0 || d < 0)
			return SMILE_ERR_INVALID;
		v = (unsigned)c + (unsigned)d * 45u;
		if (v > 255u)
			return SMILE_ERR_INVALID;
		out[o++] = (uint8_t)v;
	}
	if (outlen != NULL)
		*outlen = o;
	return SMILE_OK;
}
