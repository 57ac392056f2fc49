/* SPDX-License-Identifier: Apache-2.0 */
/*
 * token.c - minting and opening the QR tokens printed on smile waybills.
 *
 * A token is one XChaCha20-Poly1305-IETF message: the 2-byte header
 * (version, key id) travels in clear as associated data, a random 24-byte
 * nonce makes every token unique and unlinkable, and the 9-byte plaintext
 * (kind, shipment id) is hidden. The binary form (51 bytes) is Base45-encoded
 * behind "SW1:" so QR scanners read it in alphanumeric mode.
 *
 * The one idea: opening checks the cheap, public structure first (prefix,
 * alphabet, length, Base45, version, key id) and only then spends a MAC
 * verification, so every way a token can be wrong gets its own error code and
 * junk costs almost nothing. Key bytes sit in one guarded, locked,
 * read-only sodium_malloc block indexed by key id, so lookup is O(1).
 */
#include "token.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "smile/base45.h"

#define TOKEN_KEYS 256
#define TOKEN_KIND_SHIPMENT 0x01
#define TOKEN_PT_LEN 9                                 /* kind + 64-bit id */
#define TOKEN_HDR_LEN 2                                /* version, key id */
#define TOKEN_CT_OFF (TOKEN_HDR_LEN + SMILE_TOKEN_NONCE_BYTES)
#define TOKEN_B45_LEN (SMILE_TOKEN_LEN - SMILE_TOKEN_PREFIX_LEN) /* 77 */

_Static_assert(TOKEN_CT_OFF + TOKEN_PT_LEN + crypto_aead_xchacha20poly1305_ietf_ABYTES ==
		       SMILE_TOKEN_BIN_LEN,
	       "binary token layout");
_Static_assert(SMILE_BASE45_ENCODED_LEN(SMILE_TOKEN_BIN_LEN) == TOKEN_B45_LEN,
	       "text token length");
_Static_assert(SMILE_TOKEN_BIN_LEN <= 64, "issue 4: at most 64 bytes before encoding");
_Static_assert(SMILE_TOKEN_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key");
_Static_assert(SMILE_TOKEN_NONCE_BYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce");

struct smile_token_keyring {
	uint8_t (*keys)[SMILE_TOKEN_KEY_BYTES]; /* TOKEN_KEYS slots, sodium_malloc, read-only */
	bool present[TOKEN_KEYS];
	int current; /* -1: none */
};

struct smile_token_keyring *smile_token_keyring_new(void)
{
	struct smile_token_keyring *kr = NULL;
	size_t bytes = (size_t)TOKEN_KEYS * SMILE_TOKEN_KEY_BYTES;

	if (sodium_init() < 0)
		return NULL;
	kr = calloc(1, sizeof(*kr));
	if (kr == NULL)
		return NULL;
	kr->current = -1;
	kr->keys = sodium_malloc(bytes);
	if (kr->keys == NULL)
		goto fail;
	sodium_memzero(kr->keys, bytes);
	/* sodium_malloc already tries mlock but ignores failure: insist on it */
	if (sodium_mlock(kr->keys, bytes) != 0 || sodium_mprotect_readonly(kr->keys) != 0)
		goto fail;
	return kr;
fail:
	if (kr->keys != NULL)
		sodium_free(kr->keys); /* wipes and unlocks */
	free(kr);
	return NULL;
}

void smile_token_keyring_free(struct smile_token_keyring *kr)
{
	if (kr == NULL)
		return;
	sodium_free(kr->keys); /* makes it writable, wipes, unlocks, frees */
	free(kr);
}

enum smile_err smile_token_keyring_add(struct smile_token_keyring *kr, uint8_t kid,
				       const uint8_t key[SMILE_TOKEN_KEY_BYTES],
				       struct smile_error *e)
{
	if (kr == NULL || key == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "keyring or key missing");
	if (kr->present[kid])
		return smile_error_set(e, SMILE_ERR_EXISTS, "kid", "token key %u already held",
				       (unsigned)kid);
	if (sodium_mprotect_readwrite(kr->keys) != 0)
		return smile_error_set(e, SMILE_ERR_CRYPTO, NULL, "cannot unprotect key memory");
	memcpy(kr->keys[kid], key, SMILE_TOKEN_KEY_BYTES);
	kr->present[kid] = true;
	if (sodium_mprotect_readonly(kr->keys) != 0)
		return smile_error_set(e, SMILE_ERR_CRYPTO, NULL, "cannot protect key memory");
	return SMILE_OK;
}

enum smile_err smile_token_keyring_set_current(struct smile_token_keyring *kr, uint8_t kid,
					       struct smile_error *e)
{
	if (kr == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "keyring missing");
	if (!kr->present[kid])
		return smile_error_set(e, SMILE_ERR_NOT_FOUND, "kid", "token key %u not held",
				       (unsigned)kid);
	kr->current = kid;
	return SMILE_OK;
}

enum smile_err smile_token_keyring_remove(struct smile_token_keyring *kr, uint8_t kid,
					  struct smile_error *e)
{
	if (kr == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "keyring missing");
	if (!kr->present[kid])
		return smile_error_set(e, SMILE_ERR_NOT_FOUND, "kid", "token key %u not held",
				       (unsigned)kid);
	if (kr->current == kid)
		return smile_error_set(e, SMILE_ERR_INVALID, "kid",
				       "token key %u is current: make another key current first",
				       (unsigned)kid);
	if (sodium_mprotect_readwrite(kr->keys) != 0)
		return smile_error_set(e, SMILE_ERR_CRYPTO, NULL, "cannot unprotect key memory");
	sodium_memzero(kr->keys[kid], SMILE_TOKEN_KEY_BYTES);
	kr->present[kid] = false;
	if (sodium_mprotect_readonly(kr->keys) != 0)
		return smile_error_set(e, SMILE_ERR_CRYPTO, NULL, "cannot protect key memory");
	return SMILE_OK;
}

int smile_token_keyring_current(const struct smile_token_keyring *kr)
{
	return kr == NULL ? -1 : kr->current;
}

bool smile_token_keyring_has(const struct smile_token_keyring *kr, uint8_t kid)
{
	return kr != NULL && kr->present[kid];
}

size_t smile_token_keyring_ids(const struct smile_token_keyring *kr, uint8_t *ids, size_t cap)
{
	size_t n = 0;
	if (kr == NULL)
		return 0;
	for (unsigned k = 0; k < TOKEN_KEYS; k++) {
		if (!kr->present[k])
			continue;
		if (n < cap && ids != NULL)
			ids[n] = (uint8_t)k;
		n++;
	}
	return n;
}

/* Seal and encode; the one code path behind both mint functions. */
static enum smile_err token_seal(const uint8_t *key, uint8_t kid, const uint8_t *nonce,
				 uint64_t shipment_id, char *out, struct smile_error *e)
{
	uint8_t bin[SMILE_TOKEN_BIN_LEN];
	uint8_t pt[TOKEN_PT_LEN];
	unsigned long long clen = 0;
	enum smile_err rc = SMILE_OK;

	bin[0] = SMILE_TOKEN_VERSION;
	bin[1] = kid;
	memcpy(bin + TOKEN_HDR_LEN, nonce, SMILE_TOKEN_NONCE_BYTES);
	pt[0] = TOKEN_KIND_SHIPMENT;
	for (int i = 0; i < 8; i++)
		pt[1 + i] = (uint8_t)(shipment_id >> (56 - 8 * i));
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(bin + TOKEN_CT_OFF, &clen, pt, sizeof(pt),
						       bin, TOKEN_HDR_LEN, NULL, nonce, key) != 0 ||
	    clen != SMILE_TOKEN_BIN_LEN - TOKEN_CT_OFF) {
		rc = smile_error_set(e, SMILE_ERR_CRYPTO, NULL, "token encryption failed");
		goto out;
	}
	memcpy(out, SMILE_TOKEN_PREFIX, SMILE_TOKEN_PREFIX_LEN);
	if (smile_base45_encode(bin, sizeof(bin), out + SMILE_TOKEN_PREFIX_LEN,
				SMILE_TOKEN_MAX - SMILE_TOKEN_PREFIX_LEN, NULL) != SMILE_OK)
		rc = smile_error_set(e, SMILE_ERR_INTERNAL, NULL, "token encoding failed");
out:
	sodium_memzero(pt, sizeof(pt));
	if (rc != SMILE_OK)
		out[0] = '\0';
	return rc;
}

enum smile_err smile_token_mint(const struct smile_token_keyring *kr, uint64_t shipment_id,
				char out[SMILE_TOKEN_MAX], struct smile_error *e)
{
	uint8_t nonce[SMILE_TOKEN_NONCE_BYTES];

	if (out == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "output buffer missing");
	out[0] = '\0';
	if (kr == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "keyring missing");
	if (kr->current < 0)
		return smile_error_set(e, SMILE_ERR_NOT_FOUND, "kid", "no current token key");
	randombytes_buf(nonce, sizeof(nonce));
	return token_seal(kr->keys[kr->current], (uint8_t)kr->current, nonce, shipment_id, out, e);
}

enum smile_err smile_token_mint_det(const uint8_t key[SMILE_TOKEN_KEY_BYTES], uint8_t kid,
				    const uint8_t nonce[SMILE_TOKEN_NONCE_BYTES],
				    uint64_t shipment_id, char out[SMILE_TOKEN_MAX],
				    struct smile_error *e)
{
	if (out == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "output buffer missing");
	out[0] = '\0';
	if (key == NULL || nonce == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "key or nonce missing");
	if (sodium_init() < 0)
		return smile_error_set(e, SMILE_ERR_CRYPTO, NULL, "libsodium unavailable");
	return token_seal(key, kid, nonce, shipment_id, out, e);
}

/* Prefix "SW<digit>:" checks. Returns SMILE_OK when the 4-byte prefix is
 * the supported one. */
static enum smile_err token_check_prefix(const char *t, size_t len, struct smile_error *e)
{
	if (len == 0)
		return smile_error_set(e, SMILE_ERR_TOKEN_MALFORMED, "token", "empty");
	if (t[0] != 'S' || (len > 1 && t[1] != 'W') ||
	    (len > 2 && (t[2] < '0' || t[2] > '9')) || (len > 3 && t[3] != ':'))
		return smile_error_set(e, SMILE_ERR_TOKEN_MALFORMED, "token",
				       "does not start with \"SW<version>:\"");
	if (len > 2 && t[2] != '0' + SMILE_TOKEN_VERSION)
		return smile_error_set(e, SMILE_ERR_TOKEN_VERSION, "token",
				       "version %c not supported (this gateway reads %d)", t[2],
				       SMILE_TOKEN_VERSION);
	if (len < SMILE_TOKEN_PREFIX_LEN)
		return smile_error_set(e, SMILE_ERR_TOKEN_TRUNCATED, "token",
				       "%zu of %d characters", len, SMILE_TOKEN_LEN);
	return SMILE_OK;
}

enum smile_err smile_token_open(const struct smile_token_keyring *kr, const char *token,
				size_t len, uint64_t *shipment_id, uint8_t *kid,
				struct smile_error *e)
{
	uint8_t bin[SMILE_TOKEN_BIN_LEN];
	uint8_t pt[TOKEN_PT_LEN];
	unsigned long long plen = 0;
	const char *body;
	size_t blen, binlen = 0;
	enum smile_err rc;
	uint64_t id = 0;

	if (shipment_id != NULL)
		*shipment_id = 0;
	if (kr == NULL || token == NULL || shipment_id == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "keyring, token or output missing");
	rc = token_check_prefix(token, len, e);
	if (rc != SMILE_OK)
		return rc;
	body = token + SMILE_TOKEN_PREFIX_LEN;
	blen = len - SMILE_TOKEN_PREFIX_LEN;
	if (blen > TOKEN_B45_LEN) /* before scanning: a hostile length costs nothing */
		return smile_error_set(e, SMILE_ERR_TOKEN_MALFORMED, "token",
				       "%zu characters, a version %d token has %d", len,
				       SMILE_TOKEN_VERSION, SMILE_TOKEN_LEN);
	for (size_t i = 0; i < blen; i++)
		if (!smile_base45_is_char(body[i]))
			return smile_error_set(e, SMILE_ERR_TOKEN_MALFORMED, "token",
					       "character %zu is outside the Base45 alphabet",
					       i + SMILE_TOKEN_PREFIX_LEN + 1);
	if (blen < TOKEN_B45_LEN)
		return smile_error_set(e, SMILE_ERR_TOKEN_TRUNCATED, "token",
				       "%zu of %d characters", len, SMILE_TOKEN_LEN);
	if (smile_base45_decode(body, blen, bin, sizeof(bin), &binlen) != SMILE_OK ||
	    binlen != sizeof(bin))
		return smile_error_set(e, SMILE_ERR_TOKEN_MALFORMED, "token", "invalid Base45");
	if (kid != NULL)
		*kid = bin[1];
	if (bin[0] != SMILE_TOKEN_VERSION)
		return smile_error_set(e, SMILE_ERR_TOKEN_VERSION, "token",
				       "binary version %u not supported", (unsigned)bin[0]);
	if (!kr->present[bin[1]])
		return smile_error_set(e, SMILE_ERR_TOKEN_UNKNOWN_KEY, "token",
				       "key id %u unknown or retired", (unsigned)bin[1]);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &plen, NULL, bin + TOKEN_CT_OFF,
						       sizeof(bin) - TOKEN_CT_OFF, bin, TOKEN_HDR_LEN,
						       bin + TOKEN_HDR_LEN, kr->keys[bin[1]]) != 0 ||
	    plen != TOKEN_PT_LEN) {
		rc = smile_error_set(e, SMILE_ERR_TOKEN_TAMPERED, "token",
				     "failed authentication under key id %u", (unsigned)bin[1]);
		goto out;
	}
	if (pt[0] != TOKEN_KIND_SHIPMENT) {
		rc = smile_error_set(e, SMILE_ERR_TOKEN_VERSION, "token",
				     "token kind %u not supported", (unsigned)pt[0]);
		goto out;
	}
	for (int i = 0; i < 8; i++)
		id = (id << 8) | pt[1 + i];
	*shipment_id = id;
	rc = SMILE_OK;
out:
	sodium_memzero(pt, sizeof(pt));
	return rc;
}
