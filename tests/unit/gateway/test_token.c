/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for gateway/token.c: the test vectors of docs/token.md checked
 * verbatim (and checked to be in that document), every rejection code with its
 * documented example, every truncation, every altered byte, key rotation and
 * retirement in a keyring, unlinkability of fresh tokens, and that a token
 * fits a version 5 (in fact 4) QR code at ECC level M in alphanumeric mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <qrencode.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smile/base45.h"
#include "smile/buf.h"
#include "../../../gateway/token.h"

/* ---------------------------------------------------------- the vectors */

static uint8_t key_a[32], key_b[32], nonce_1[24], nonce_0[24], nonce_f[24];

static void fill_inputs(void)
{
	for (int i = 0; i < 32; i++) {
		key_a[i] = (uint8_t)i;          /* 000102...1f */
		key_b[i] = (uint8_t)(0x80 + i); /* 808182...9f */
	}
	for (int i = 0; i < 24; i++) {
		nonce_1[i] = (uint8_t)(0x40 + i); /* 404142...57 */
		nonce_0[i] = 0x00;
		nonce_f[i] = 0xff;
	}
}

struct vector {
	const char *name;
	const uint8_t *key;
	uint8_t kid;
	const uint8_t *nonce;
	uint64_t id;
	const char *token;
};

/* Exactly as in docs/token.md, "Test vectors". Cross-checked when written
 * with an independent implementation (Python: HChaCha20 by hand +
 * ChaCha20-Poly1305 from `cryptography`, Base45 by hand). */
static const struct vector vectors[] = {
	{"V1", key_a, 1, nonce_1, 1,
	 "SW1:W50O58/G8HS8 *8A69TH93T9M+9-6AFIAYTA8-A0/Q.U0CIQ%DFZ/H4FW$.27JTI0H.VNELSMFE90"},
	{"V2", key_b, 200, nonce_0, 0x0123456789ABCDEFull,
	 "SW1:6A0000000000000000000000000000000000000TKOYQD5VLUT7DFM04G3B74*T3EAS+G KPM-VO1"},
	{"V3", key_a, 0, nonce_f, 0xFFFFFFFFFFFFFFFFull,
	 "SW1:V50FGWFGWFGWFGWFGWFGWFGWFGWFGWFGWFGWFGW144%SBS+IZ8L-V3DZQUWBQG6N%Q3ZDW1C48GP2"},
	{"V4", key_a, 1, nonce_1, 0,
	 "SW1:W50O58/G8HS8 *8A69TH93T9M+9-6AFIAYTA8-A0/Q.U0CIQ%DFK7IJ9QXU41OG+NKPE0JTT:FG.2"},
};

struct reject {
	const char *token;
	enum smile_err code;
};

/* docs/token.md, "Rejections": opened with the keyring {0: key A, 1: key A',
 * 200: key B} of the vectors, except that kid 2 is not held. */
static const struct reject rejects[] = {
	/* V1 with the prefix in lower case */
	{"sw1:W50O58/G8HS8 *8A69TH93T9M+9-6AFIAYTA8-A0/Q.U0CIQ%DFZ/H4FW$.27JTI0H.VNELSMFE90",
	 SMILE_ERR_TOKEN_MALFORMED},
	/* V1 with one character of its body in lower case */
	{"SW1:w50O58/G8HS8 *8A69TH93T9M+9-6AFIAYTA8-A0/Q.U0CIQ%DFZ/H4FW$.27JTI0H.VNELSMFE90",
	 SMILE_ERR_TOKEN_MALFORMED},
	/* V1 with its first triple replaced by GGW (65536: not Base45) */
	{"SW1:GGWO58/G8HS8 *8A69TH93T9M+9-6AFIAYTA8-A0/Q.U0CIQ%DFZ/H4FW$.27JTI0H.VNELSMFE90",
	 SMILE_ERR_TOKEN_MALFORMED},
	/* V1 with a trailing newline */
	{"SW1:W50O58/G8HS8 *8A69TH93T9M+9-6AFIAYTA8-A0/Q.U0CIQ%DFZ/H4FW$.27JTI0H.VNELSMFE90\n",
	 SMILE_ERR_TOKEN_MALFORMED},
	/* V1 with "SW2:" */
	{"SW2:W50O58/G8HS8 *8A69TH93T9M+9-6AFIAYTA8-A0/Q.U0CIQ%DFZ/H4FW$.27JTI0H.VNELSMFE90",
	 SMILE_ERR_TOKEN_VERSION},
	/* V1 with binary version byte 0x02 */
	{"SW1:IB0O58/G8HS8 *8A69TH93T9M+9-6AFIAYTA8-A0/Q.U0CIQ%DFZ/H4FW$.27JTI0H.VNELSMFE90",
	 SMILE_ERR_TOKEN_VERSION},
	/* V1 without its last two characters */
	{"SW1:W50O58/G8HS8 *8A69TH93T9M+9-6AFIAYTA8-A0/Q.U0CIQ%DFZ/H4FW$.27JTI0H.VNELSMFE",
	 SMILE_ERR_TOKEN_TRUNCATED},
	/* V1 with key id 2 */
	{"SW1:X50O58/G8HS8 *8A69TH93T9M+9-6AFIAYTA8-A0/Q.U0CIQ%DFZ/H4FW$.27JTI0H.VNELSMFE90",
	 SMILE_ERR_TOKEN_UNKNOWN_KEY},
	/* V1 with the last bit of its tag flipped */
	{"SW1:W50O58/G8HS8 *8A69TH93T9M+9-6AFIAYTA8-A0/Q.U0CIQ%DFZ/H4FW$.27JTI0H.VNELSMFE80",
	 SMILE_ERR_TOKEN_TAMPERED},
	/* V1 with the top bit of ciphertext byte 30 flipped */
	{"SW1:W50O58/G8HS8 *8A69TH93T9M+9-6AFIAYTA8-A0/Q.U04AA%DFZ/H4FW$.27JTI0H.VNELSMFE90",
	 SMILE_ERR_TOKEN_TAMPERED},
	/* V1 with the last bit of its first nonce byte flipped */
	{"SW1:W50AB8/G8HS8 *8A69TH93T9M+9-6AFIAYTA8-A0/Q.U0CIQ%DFZ/H4FW$.27JTI0H.VNELSMFE90",
	 SMILE_ERR_TOKEN_TAMPERED},
};

static char *docs_text;

static int load_docs(void **state)
{
	struct smile_buf b;
	char path[4096];
	const char *root = getenv("SMILE_ROOT");
	FILE *f;
	(void)state;
	fill_inputs();
	snprintf(path, sizeof(path), "%s/docs/token.md", root != NULL ? root : ".");
	f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "cannot open %s\n", path);
		return -1;
	}
	smile_buf_init(&b, 1 << 20);
	if (smile_buf_read_file(&b, f) != SMILE_OK) {
		fclose(f);
		smile_buf_release(&b);
		return -1;
	}
	fclose(f);
	docs_text = strdup(b.data);
	smile_buf_release(&b);
	return docs_text == NULL ? -1 : 0;
}

static int free_docs(void **state)
{
	(void)state;
	free(docs_text);
	return 0;
}

/* The keyring the vectors are opened with: 0 and 1 hold key A, 200 key B. */
static struct smile_token_keyring *vector_keyring(void)
{
	struct smile_token_keyring *kr = smile_token_keyring_new();
	assert_non_null(kr);
	assert_int_equal(smile_token_keyring_add(kr, 0, key_a, NULL), SMILE_OK);
	assert_int_equal(smile_token_keyring_add(kr, 1, key_a, NULL), SMILE_OK);
	assert_int_equal(smile_token_keyring_add(kr, 200, key_b, NULL), SMILE_OK);
	assert_int_equal(smile_token_keyring_set_current(kr, 1, NULL), SMILE_OK);
	return kr;
}

static void vectors_mint_exactly(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vector *v = &vectors[i];
		char out[SMILE_TOKEN_MAX];
		struct smile_error e = {0};
		assert_int_equal(smile_token_mint_det(v->key, v->kid, v->nonce, v->id, out, &e),
				 SMILE_OK);
		assert_string_equal(out, v->token);
		assert_int_equal(strlen(out), SMILE_TOKEN_LEN);
		/* the document shows the same string, in a code span */
		char quoted[SMILE_TOKEN_MAX + 2];
		snprintf(quoted, sizeof(quoted), "`%s`", v->token);
		if (strstr(docs_text, quoted) == NULL)
			fail_msg("docs/token.md lacks vector %s", v->name);
	}
}

static void vectors_open(void **state)
{
	struct smile_token_keyring *kr = vector_keyring();
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vector *v = &vectors[i];
		uint64_t id = 42;
		uint8_t kid = 99;
		struct smile_error e = {0};
		assert_int_equal(smile_token_open(kr, v->token, strlen(v->token), &id, &kid, &e),
				 SMILE_OK);
		assert_true(id == v->id);
		assert_int_equal(kid, v->kid);
	}
	smile_token_keyring_free(kr);
}

static void rejections_have_distinct_codes(void **state)
{
	struct smile_token_keyring *kr = vector_keyring();
	bool seen[64] = {false};
	(void)state;
	for (size_t i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++) {
		const struct reject *r = &rejects[i];
		uint64_t id = 42;
		struct smile_error e = {0};
		enum smile_err got = smile_token_open(kr, r->token, strlen(r->token), &id, NULL, &e);
		if (got != r->code)
			fail_msg("rejection %zu: got %s, want %s", i, smile_errname(got),
				 smile_errname(r->code));
		assert_int_equal(e.code, r->code);
		assert_string_equal(e.field, "token");
		assert_true(id == 0);
		seen[r->code] = true;
		/* the message describes, never echoes, the input */
		assert_null(strstr(e.message, "W50O58"));
		assert_null(strstr(e.message, "SMFE"));
		/* documented, in the same form (the newline one as prose) */
		if (strchr(r->token, '\n') == NULL) {
			char quoted[SMILE_TOKEN_MAX + 8];
			snprintf(quoted, sizeof(quoted), "`%s`", r->token);
			if (strstr(docs_text, quoted) == NULL)
				fail_msg("docs/token.md lacks rejection %zu", i);
		}
	}
	assert_true(seen[SMILE_ERR_TOKEN_MALFORMED]);
	assert_true(seen[SMILE_ERR_TOKEN_VERSION]);
	assert_true(seen[SMILE_ERR_TOKEN_TRUNCATED]);
	assert_true(seen[SMILE_ERR_TOKEN_UNKNOWN_KEY]);
	assert_true(seen[SMILE_ERR_TOKEN_TAMPERED]);
	smile_token_keyring_free(kr);
}

static void prefix_and_length_rules(void **state)
{
	struct smile_token_keyring *kr = vector_keyring();
	const char *v1 = vectors[0].token;
	uint64_t id;
	char buf[256];
	(void)state;
	/* every proper prefix of a token is "truncated", the empty string is not a token */
	assert_int_equal(smile_token_open(kr, v1, 0, &id, NULL, NULL), SMILE_ERR_TOKEN_MALFORMED);
	for (size_t n = 1; n < SMILE_TOKEN_LEN; n++) {
		enum smile_err got = smile_token_open(kr, v1, n, &id, NULL, NULL);
		if (got != SMILE_ERR_TOKEN_TRUNCATED)
			fail_msg("prefix of %zu characters: %s", n, smile_errname(got));
	}
	/* one character too many, of any kind */
	snprintf(buf, sizeof(buf), "%s0", v1);
	assert_int_equal(smile_token_open(kr, buf, strlen(buf), &id, NULL, NULL),
			 SMILE_ERR_TOKEN_MALFORMED);
	memset(buf, 'A', sizeof(buf));
	memcpy(buf, "SW1:", 4);
	assert_int_equal(smile_token_open(kr, buf, sizeof(buf), &id, NULL, NULL),
			 SMILE_ERR_TOKEN_MALFORMED);
	/* other prefixes */
	static const struct {
		const char *p;
		enum smile_err code;
	} pre[] = {
		{"XW1:", SMILE_ERR_TOKEN_MALFORMED}, {"SX1:", SMILE_ERR_TOKEN_MALFORMED},
		{"SWX:", SMILE_ERR_TOKEN_MALFORMED}, {"SW1-", SMILE_ERR_TOKEN_MALFORMED},
		{"SW0:", SMILE_ERR_TOKEN_VERSION},   {"SW9:", SMILE_ERR_TOKEN_VERSION},
		{"SW10", SMILE_ERR_TOKEN_MALFORMED},
	};
	for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
		snprintf(buf, sizeof(buf), "%s%s", pre[i].p, v1 + 4);
		assert_int_equal(smile_token_open(kr, buf, strlen(buf), &id, NULL, NULL),
				 pre[i].code);
	}
	/* "SW2" alone is already a version we do not read */
	assert_int_equal(smile_token_open(kr, "SW2", 3, &id, NULL, NULL), SMILE_ERR_TOKEN_VERSION);
	/* an embedded NUL is outside the alphabet; the length is what counts */
	memcpy(buf, v1, SMILE_TOKEN_LEN);
	buf[40] = '\0';
	assert_int_equal(smile_token_open(kr, buf, SMILE_TOKEN_LEN, &id, NULL, NULL),
			 SMILE_ERR_TOKEN_MALFORMED);
	/* NULL arguments */
	assert_int_equal(smile_token_open(NULL, v1, SMILE_TOKEN_LEN, &id, NULL, NULL),
			 SMILE_ERR_INVALID);
	assert_int_equal(smile_token_open(kr, NULL, 3, &id, NULL, NULL), SMILE_ERR_INVALID);
	assert_int_equal(smile_token_open(kr, v1, SMILE_TOKEN_LEN, NULL, NULL, NULL),
			 SMILE_ERR_INVALID);
	smile_token_keyring_free(kr);
}

/* Re-encode V1 with one binary byte changed. */
static void v1_with_byte(char out[SMILE_TOKEN_MAX], size_t at, uint8_t xor_mask)
{
	uint8_t bin[SMILE_TOKEN_BIN_LEN];
	size_t n;
	const char *v1 = vectors[0].token;
	assert_int_equal(smile_base45_decode(v1 + 4, SMILE_TOKEN_LEN - 4, bin, sizeof(bin), &n),
			 SMILE_OK);
	assert_int_equal(n, SMILE_TOKEN_BIN_LEN);
	bin[at] ^= xor_mask;
	memcpy(out, "SW1:", 4);
	assert_int_equal(smile_base45_encode(bin, n, out + 4, SMILE_TOKEN_MAX - 4, NULL), SMILE_OK);
}

static void every_altered_bit_is_rejected(void **state)
{
	struct smile_token_keyring *kr = smile_token_keyring_new();
	(void)state;
	assert_non_null(kr);
	/* all 256 ids hold key A: a changed key id is then "tampered", not "unknown" */
	for (unsigned k = 0; k < 256; k++)
		assert_int_equal(smile_token_keyring_add(kr, (uint8_t)k, key_a, NULL), SMILE_OK);
	for (size_t at = 0; at < SMILE_TOKEN_BIN_LEN; at++) {
		for (int bit = 0; bit < 8; bit++) {
			char t[SMILE_TOKEN_MAX];
			uint64_t id = 7;
			v1_with_byte(t, at, (uint8_t)(1u << bit));
			enum smile_err got = smile_token_open(kr, t, strlen(t), &id, NULL, NULL);
			enum smile_err want = at == 0 ? SMILE_ERR_TOKEN_VERSION : SMILE_ERR_TOKEN_TAMPERED;
			if (got != want)
				fail_msg("byte %zu bit %d: %s", at, bit, smile_errname(got));
			assert_true(id == 0);
		}
	}
	smile_token_keyring_free(kr);
}

static void every_altered_character_is_rejected(void **state)
{
	static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
	struct smile_token_keyring *kr = vector_keyring();
	(void)state;
	for (size_t at = 0; at < SMILE_TOKEN_LEN; at++) {
		for (size_t c = 0; c < sizeof(alphabet) - 1; c++) {
			char t[SMILE_TOKEN_MAX];
			uint64_t id;
			memcpy(t, vectors[0].token, SMILE_TOKEN_MAX);
			if (t[at] == alphabet[c])
				continue;
			t[at] = alphabet[c];
			enum smile_err got = smile_token_open(kr, t, SMILE_TOKEN_LEN, &id, NULL, NULL);
			if (got == SMILE_OK)
				fail_msg("altered character %zu opened", at);
			assert_true(got >= SMILE_ERR_TOKEN_MALFORMED && got <= SMILE_ERR_TOKEN_TAMPERED);
		}
	}
	smile_token_keyring_free(kr);
}

static void header_is_authenticated(void **state)
{
	/* ids 1 and 2 hold the same key: only the associated data tells them apart */
	struct smile_token_keyring *kr = smile_token_keyring_new();
	char t[SMILE_TOKEN_MAX];
	uint64_t id;
	uint8_t kid = 0;
	(void)state;
	assert_int_equal(smile_token_keyring_add(kr, 1, key_a, NULL), SMILE_OK);
	assert_int_equal(smile_token_keyring_add(kr, 2, key_a, NULL), SMILE_OK);
	v1_with_byte(t, 1, 0x03); /* kid 1 -> 2 */
	assert_int_equal(smile_token_open(kr, t, strlen(t), &id, &kid, NULL),
			 SMILE_ERR_TOKEN_TAMPERED);
	assert_int_equal(kid, 2);
	assert_int_equal(smile_token_open(kr, vectors[0].token, SMILE_TOKEN_LEN, &id, &kid, NULL),
			 SMILE_OK);
	assert_int_equal(kid, 1);
	smile_token_keyring_free(kr);
}

/* A token that authenticates but carries a plaintext kind this code does not
 * know (a future gateway's) is a version error, not a shipment. */
static void unknown_kind_is_a_version_error(void **state)
{
	struct smile_token_keyring *kr = vector_keyring();
	uint8_t bin[SMILE_TOKEN_BIN_LEN], pt[9] = {0x02, 0, 0, 0, 0, 0, 0, 0, 1};
	unsigned long long clen;
	char t[SMILE_TOKEN_MAX];
	uint64_t id = 5;
	(void)state;
	bin[0] = 1;
	bin[1] = 1;
	memcpy(bin + 2, nonce_1, 24);
	assert_int_equal(crypto_aead_xchacha20poly1305_ietf_encrypt(bin + 26, &clen, pt, 9, bin, 2,
								    NULL, nonce_1, key_a),
			 0);
	memcpy(t, "SW1:", 4);
	assert_int_equal(smile_base45_encode(bin, sizeof(bin), t + 4, sizeof(t) - 4, NULL), SMILE_OK);
	assert_int_equal(smile_token_open(kr, t, strlen(t), &id, NULL, NULL), SMILE_ERR_TOKEN_VERSION);
	assert_true(id == 0);
	pt[0] = 0x01; /* the same with kind 1 is V1 */
	assert_int_equal(crypto_aead_xchacha20poly1305_ietf_encrypt(bin + 26, &clen, pt, 9, bin, 2,
								    NULL, nonce_1, key_a),
			 0);
	assert_int_equal(smile_base45_encode(bin, sizeof(bin), t + 4, sizeof(t) - 4, NULL), SMILE_OK);
	assert_string_equal(t, vectors[0].token);
	smile_token_keyring_free(kr);
}

static void fresh_tokens_are_unlinkable(void **state)
{
	struct smile_token_keyring *kr = smile_token_keyring_new();
	uint8_t key[32];
	char a[SMILE_TOKEN_MAX], b[SMILE_TOKEN_MAX];
	uint64_t id;
	(void)state;
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(smile_token_keyring_add(kr, 9, key, NULL), SMILE_OK);
	assert_int_equal(smile_token_keyring_set_current(kr, 9, NULL), SMILE_OK);
	assert_int_equal(smile_token_mint(kr, 123456789, a, NULL), SMILE_OK);
	assert_int_equal(smile_token_mint(kr, 123456789, b, NULL), SMILE_OK);
	assert_int_equal(strlen(a), SMILE_TOKEN_LEN);
	assert_int_equal(strncmp(a, "SW1:", 4), 0);
	/* same shipment, same key: only the prefix and the clear header agree */
	size_t same = 0;
	for (size_t i = 7; i < SMILE_TOKEN_LEN; i++)
		same += a[i] == b[i];
	assert_true(same < 20); /* ~74 positions at 1/45 each: about 2 expected */
	for (size_t i = 0; i < SMILE_TOKEN_LEN; i++)
		assert_true(smile_base45_is_char(a[i]) || (i == 3 && a[i] == ':'));
	assert_true(a[SMILE_TOKEN_LEN - 1] >= '0' && a[SMILE_TOKEN_LEN - 1] <= '5');
	uint8_t kid;
	assert_int_equal(smile_token_open(kr, a, strlen(a), &id, &kid, NULL), SMILE_OK);
	assert_true(id == 123456789);
	assert_int_equal(kid, 9);
	assert_int_equal(smile_token_open(kr, b, strlen(b), &id, &kid, NULL), SMILE_OK);
	assert_true(id == 123456789);
	smile_token_keyring_free(kr);
}

static void keyring_rotation_and_retirement(void **state)
{
	struct smile_token_keyring *kr = smile_token_keyring_new();
	char old_tok[SMILE_TOKEN_MAX], new_tok[SMILE_TOKEN_MAX];
	struct smile_error e = {0};
	uint64_t id;
	uint8_t kid, ids[4];
	(void)state;
	assert_int_equal(smile_token_keyring_current(kr), -1);
	assert_int_equal(smile_token_mint(kr, 5, old_tok, &e), SMILE_ERR_NOT_FOUND);
	assert_string_equal(old_tok, "");
	assert_int_equal(smile_token_keyring_set_current(kr, 1, &e), SMILE_ERR_NOT_FOUND);
	assert_int_equal(smile_token_keyring_add(kr, 1, key_a, &e), SMILE_OK);
	assert_int_equal(smile_token_keyring_add(kr, 1, key_b, &e), SMILE_ERR_EXISTS);
	assert_string_equal(e.field, "kid");
	assert_int_equal(smile_token_keyring_set_current(kr, 1, &e), SMILE_OK);
	assert_int_equal(smile_token_mint(kr, 5, old_tok, &e), SMILE_OK);
	/* rotate */
	assert_int_equal(smile_token_keyring_add(kr, 2, key_b, &e), SMILE_OK);
	assert_int_equal(smile_token_keyring_set_current(kr, 2, &e), SMILE_OK);
	assert_int_equal(smile_token_keyring_current(kr), 2);
	assert_int_equal(smile_token_mint(kr, 6, new_tok, &e), SMILE_OK);
	assert_int_equal(smile_token_open(kr, old_tok, SMILE_TOKEN_LEN, &id, &kid, &e), SMILE_OK);
	assert_true(id == 5);
	assert_int_equal(kid, 1);
	assert_int_equal(smile_token_open(kr, new_tok, SMILE_TOKEN_LEN, &id, &kid, &e), SMILE_OK);
	assert_true(id == 6);
	assert_int_equal(kid, 2);
	assert_int_equal(smile_token_keyring_ids(kr, ids, 4), 2);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[1], 2);
	/* retire */
	assert_int_equal(smile_token_keyring_remove(kr, 2, &e), SMILE_ERR_INVALID); /* current */
	assert_int_equal(smile_token_keyring_remove(kr, 1, &e), SMILE_OK);
	assert_int_equal(smile_token_keyring_remove(kr, 1, &e), SMILE_ERR_NOT_FOUND);
	assert_false(smile_token_keyring_has(kr, 1));
	assert_int_equal(smile_token_open(kr, old_tok, SMILE_TOKEN_LEN, &id, &kid, &e),
			 SMILE_ERR_TOKEN_UNKNOWN_KEY);
	assert_int_equal(kid, 1);
	assert_true(id == 0);
	assert_int_equal(smile_token_open(kr, new_tok, SMILE_TOKEN_LEN, &id, &kid, &e), SMILE_OK);
	/* a re-added id with a different key: old tokens are tampered, not opened */
	assert_int_equal(smile_token_keyring_add(kr, 1, key_b, &e), SMILE_OK);
	assert_int_equal(smile_token_open(kr, old_tok, SMILE_TOKEN_LEN, &id, &kid, &e),
			 SMILE_ERR_TOKEN_TAMPERED);
	smile_token_keyring_free(kr);
	smile_token_keyring_free(NULL);
}

static void fits_a_small_qr_code(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		QRcode *qr = QRcode_encodeString(vectors[i].token, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
		assert_non_null(qr);
		/* 81 alphanumeric characters: version 4-M holds 114 (ISO/IEC 18004 table 7) */
		assert_true(qr->version <= 4);
		QRcode_free(qr);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vectors_mint_exactly),
		cmocka_unit_test(vectors_open),
		cmocka_unit_test(rejections_have_distinct_codes),
		cmocka_unit_test(prefix_and_length_rules),
		cmocka_unit_test(every_altered_bit_is_rejected),
		cmocka_unit_test(every_altered_character_is_rejected),
		cmocka_unit_test(header_is_authenticated),
		cmocka_unit_test(unknown_kind_is_a_version_error),
		cmocka_unit_test(fresh_tokens_are_unlinkable),
		cmocka_unit_test(keyring_rotation_and_retirement),
		cmocka_unit_test(fits_a_small_qr_code),
	};
	return cmocka_run_group_tests(tests, load_docs, free_docs);
}
