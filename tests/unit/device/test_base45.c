/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for firmware-bridge/core/base45.c: the RFC 9285 examples both
 * ways, every input a strict decoder must refuse, buffer caps, and a round
 * trip over every byte pair. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "smile/base45.h"

struct vec {
	const char *bin;
	size_t n;
	const char *txt;
};

/* RFC 9285 sections 4.3 and 4.4, plus the trivial empty case. */
static const struct vec rfc_vectors[] = {
	{"AB", 2, "BB8"},
	{"Hello!!", 7, "%69 VD92EX0"},
	{"base-45", 7, "UJCLQE7W581"},
	{"ietf!", 5, "QED8WEX0"},
	{"", 0, ""},
	{"\x00", 1, "00"},
	{"\xff", 1, "U5"},
	{"\xff\xff", 2, "FGW"},
	{"\x00\x00", 2, "000"},
};

static void encodes_rfc_examples(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rfc_vectors) / sizeof(rfc_vectors[0]); i++) {
		char out[64];
		size_t len = 999;
		const struct vec *v = &rfc_vectors[i];
		assert_int_equal(smile_base45_encode((const uint8_t *)v->bin, v->n, out,
						     sizeof(out), &len),
				 SMILE_OK);
		assert_string_equal(out, v->txt);
		assert_int_equal(len, strlen(v->txt));
		assert_int_equal(len, SMILE_BASE45_ENCODED_LEN(v->n));
	}
}

static void decodes_rfc_examples(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rfc_vectors) / sizeof(rfc_vectors[0]); i++) {
		uint8_t out[64];
		size_t len = 999;
		const struct vec *v = &rfc_vectors[i];
		assert_int_equal(smile_base45_decode(v->txt, strlen(v->txt), out, sizeof(out), &len),
				 SMILE_OK);
		assert_int_equal(len, v->n);
		assert_int_equal(len, SMILE_BASE45_DECODED_LEN(strlen(v->txt)));
		assert_memory_equal(out, v->bin, v->n);
	}
}

static void rejects_invalid_text(void **state)
{
	static const char *bad[] = {
		"GGW",     /* 65536 = 0xffff + 1: first triple over range (RFC 9285 s6) */
		":::",     /* 44 + 44*45 + 44*2025 = 91124 */
		"BB8GGW",  /* a good triple then a bad one */
		"V5",      /* 31 + 5*45 = 256: final pair over a byte */
		"::",      /* 44 + 44*45 = 2024 */
		"A",       /* length % 3 == 1 */
		"BB8A",    /* length % 3 == 1 after a good triple */
		"bb8",     /* lower case is not in the alphabet */
		"BB#",     /* '#' is not in the alphabet */
		"BB\n",    /* no whitespace other than the space character */
		"B\xc3\xa9", /* non-ASCII bytes */
		"B\x80",   /* a byte above 127 */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t out[16];
		size_t len = 77;
		enum smile_err r = smile_base45_decode(bad[i], strlen(bad[i]), out, sizeof(out), &len);
		if (r != SMILE_ERR_INVALID)
			fail_msg("case %zu accepted or wrong code %d", i, (int)r);
		assert_int_equal(len, 0);
	}
	/* an embedded NUL is just another byte outside the alphabet */
	uint8_t out[4];
	assert_int_equal(smile_base45_decode("B\0008", 3, out, sizeof(out), NULL), SMILE_ERR_INVALID);
	/* the last legal values decode */
	size_t len;
	assert_int_equal(smile_base45_decode("FGW", 3, out, sizeof(out), &len), SMILE_OK);
	assert_int_equal(len, 2);
	assert_int_equal(out[0], 0xff);
	assert_int_equal(out[1], 0xff);
	assert_int_equal(smile_base45_decode("U5", 2, out, sizeof(out), &len), SMILE_OK);
	assert_int_equal(out[0], 0xff);
	assert_true(smile_base45_is_char(' '));
	assert_true(smile_base45_is_char(':'));
	assert_false(smile_base45_is_char('a'));
	assert_false(smile_base45_is_char('\0'));
	assert_false(smile_base45_is_char((char)0xC3));
}

static void respects_buffer_caps(void **state)
{
	char txt[4];
	uint8_t bin[1];
	size_t len = 5;
	(void)state;
	/* "AB" needs 3 characters plus the NUL */
	assert_int_equal(smile_base45_encode((const uint8_t *)"AB", 2, txt, 3, &len),
			 SMILE_ERR_BUFFER_SMALL);
	assert_int_equal(len, 0);
	assert_string_equal(txt, "");
	assert_int_equal(smile_base45_encode((const uint8_t *)"AB", 2, txt, 4, &len), SMILE_OK);
	assert_string_equal(txt, "BB8");
	assert_int_equal(smile_base45_decode("BB8", 3, bin, sizeof(bin), &len),
			 SMILE_ERR_BUFFER_SMALL);
	assert_int_equal(smile_base45_encode(NULL, 1, txt, sizeof(txt), &len), SMILE_ERR_INVALID);
	assert_int_equal(smile_base45_encode((const uint8_t *)"A", 1, NULL, 4, &len),
			 SMILE_ERR_INVALID);
	assert_int_equal(smile_base45_decode(NULL, 3, bin, sizeof(bin), &len), SMILE_ERR_INVALID);
	assert_int_equal(smile_base45_decode(NULL, 0, NULL, 0, &len), SMILE_OK);
	assert_int_equal(len, 0);
}

static void round_trips_every_pair(void **state)
{
	(void)state;
	for (unsigned v = 0; v < 65536u; v++) {
		uint8_t in[3] = {(uint8_t)(v >> 8), (uint8_t)v, (uint8_t)(v * 7u)};
		uint8_t back[3];
		char txt[8];
		size_t tl, bl;
		size_t n = (v & 1u) ? 3 : 2;
		assert_int_equal(smile_base45_encode(in, n, txt, sizeof(txt), &tl), SMILE_OK);
		for (size_t k = 0; k < tl; k++)
			assert_true(smile_base45_is_char(txt[k]));
		assert_int_equal(smile_base45_decode(txt, tl, back, sizeof(back), &bl), SMILE_OK);
		assert_int_equal(bl, n);
		if (memcmp(back, in, n) != 0)
			fail_msg("round trip failed for %u", v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encodes_rfc_examples),
		cmocka_unit_test(decodes_rfc_examples),
		cmocka_unit_test(rejects_invalid_text),
		cmocka_unit_test(respects_buffer_caps),
		cmocka_unit_test(round_trips_every_pair),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
