/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_token.c - libFuzzer target for the parsers of scanned QR text and of
 * stored vault blobs: smile_token_open, smile_base45_decode, smile_vault_open.
 *
 * Properties checked beyond "no crash, no sanitizer report":
 *   - Base45 is canonical: whatever decodes re-encodes to the same text;
 *   - a token opens only if it is byte-for-byte a token minted under the
 *     fuzzer's key (re-minting with the nonce it carries gives it back);
 *   - an altered vault blob never opens.
 *
 * The keyring is the one docs/token.md's vectors and rejections use: key A
 * under ids 0 and 1, key B under id 200, so vectors V1-V4 (seeds in
 * tests/fuzz/corpus/fuzz_token/) open and mutations start from real tokens.
 *
 *   make fuzz && build/fuzz/fuzz_token -max_total_time=60    (or make fuzz-smoke)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smile/base45.h"
#include "../../gateway/token.h"
#include "../../gateway/vault.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct smile_token_keyring *kr;
static struct smile_vault *vault;
static uint8_t key[32], key_b[32]; /* docs/token.md: key A, key B */
static uint8_t wk[SMILE_VAULT_WRAPPED_KEY_BYTES];
static uint8_t ct[16 + SMILE_VAULT_CT_OVERHEAD];
static size_t ct_len;

static void init(void)
{
	for (int i = 0; i < 32; i++) {
		key[i] = (uint8_t)i;
		key_b[i] = (uint8_t)(0x80 + i);
	}
	kr = smile_token_keyring_new();
	vault = smile_vault_new(key, NULL);
	if (kr == NULL || vault == NULL || smile_token_keyring_add(kr, 0, key, NULL) != SMILE_OK ||
	    smile_token_keyring_add(kr, 1, key, NULL) != SMILE_OK ||
	    smile_token_keyring_add(kr, 200, key_b, NULL) != SMILE_OK ||
	    smile_token_keyring_set_current(kr, 1, NULL) != SMILE_OK ||
	    smile_vault_seal(vault, (const uint8_t *)"s", 1, (const uint8_t *)"0123456789abcdef", 16,
			     wk, ct, sizeof(ct), &ct_len, NULL) != SMILE_OK)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	uint8_t bin[256];
	char txt[512];
	size_t n;

	if (!ready) {
		init();
		ready = 1;
	}

	/* Base45: canonical round trip */
	if (size <= 300 && smile_base45_decode((const char *)data, size, bin, sizeof(bin), &n) ==
				   SMILE_OK) {
		size_t tl;
		if (smile_base45_encode(bin, n, txt, sizeof(txt), &tl) != SMILE_OK || tl != size ||
		    memcmp(txt, data, size) != 0)
			abort();
	}

	/* tokens */
	{
		uint64_t id;
		uint8_t kid;
		struct smile_error e = {0};
		enum smile_err rc = smile_token_open(kr, (const char *)data, size, &id, &kid, &e);
		if (rc == SMILE_OK) {
			char again[SMILE_TOKEN_MAX];
			if (size != SMILE_TOKEN_LEN ||
			    smile_base45_decode((const char *)data + 4, size - 4, bin, sizeof(bin),
						&n) != SMILE_OK ||
			    smile_token_mint_det(kid == 200 ? key_b : key, kid, bin + 2, id, again,
						 NULL) != SMILE_OK ||
			    memcmp(again, data, size) != 0)
				abort();
		} else if (rc < SMILE_ERR_TOKEN_MALFORMED || rc > SMILE_ERR_TOKEN_TAMPERED || id != 0) {
			abort();
		}
	}

	/* vault: the input replaces a prefix of the ciphertext */
	if (size > 0 && size <= ct_len) {
		uint8_t c2[sizeof(ct)], pt[sizeof(ct)];
		size_t pl;
		memcpy(c2, ct, ct_len);
		memcpy(c2, data, size);
		if (memcmp(c2, ct, ct_len) != 0 &&
		    smile_vault_open(vault, (const uint8_t *)"s", 1, wk, c2, ct_len, pt, sizeof(pt),
				     &pl, NULL) == SMILE_OK)
			abort();
	}
	return 0;
}
