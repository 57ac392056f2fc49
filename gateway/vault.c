/*
 * vault.c - envelope encryption of personal data, one data key per shipment.
 *
 * The one idea: the vault key never encrypts personal data, only 32-byte
 * data keys, and every shipment's data key exists in exactly one stored form,
 * its wrapped copy. Deleting that 77-byte blob (and the ciphertext) is
 * erasure: the ciphertext left in old WAL frames, free pages or backups can
 * no longer be opened by any key the gateway holds. The shipment id is bound
 * as associated data into both layers, with a purpose byte and the blob's own
 * header, so blobs cannot be swapped between shipments or between layers.
 *
 * Layouts (docs/vault.md):
 *   wrapped key: 0x01 | vault key id (4, big-endian) | nonce (24) | AEAD(dk) (32+16)
 *                AD = 'K' | 0x01 | vault key id | shipment aad
 *   ciphertext:  0x01 | nonce (24) | AEAD(personal data) (n+16)
 *                AD = 'D' | 0x01 | shipment aad
 * AEAD is XChaCha20-Poly1305-IETF throughout; nonces are random (24 bytes
 * make collisions negligible without any counter state).
 */
#include "smile/vault.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define VAULT_VERSION 0x01
#define VAULT_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define VAULT_TAG crypto_aead_xchacha20poly1305_ietf_ABYTES
#define VAULT_DK crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define WK_HDR 5                       /* version + key id */
#define WK_NONCE_OFF WK_HDR
#define WK_CT_OFF (WK_HDR + VAULT_NONCE)
#define CT_NONCE_OFF 1
#define CT_BODY_OFF (1 + VAULT_NONCE)
#define AD_MAX (2 + 4 + SMILE_VAULT_AAD_MAX)

_Static_assert(SMILE_VAULT_WRAPPED_KEY_BYTES == WK_CT_OFF + VAULT_DK + VAULT_TAG, "wrapped key");
_Static_assert(SMILE_VAULT_CT_OVERHEAD == CT_BODY_OFF + VAULT_TAG, "ciphertext overhead");
_Static_assert(SMILE_VAULT_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key");

struct smile_vault {
	uint8_t *key;  /* SMILE_VAULT_KEY_BYTES in sodium_malloc memory: locked, read-only */
	uint32_t kid;  /* public identifier of the key */
};

static const char kid_label[] = "smile vault key id v1";

struct smile_vault *smile_vault_new(const uint8_t key[SMILE_VAULT_KEY_BYTES],
				    struct smile_error *e)
{
	struct smile_vault *v = NULL;
	uint8_t h[crypto_generichash_BYTES_MIN];

	if (key == NULL) {
		smile_error_set(e, SMILE_ERR_INVALID, "key", "vault key missing");
		return NULL;
	}
	if (sodium_init() < 0) {
		smile_error_set(e, SMILE_ERR_CRYPTO, NULL, "libsodium cannot initialise");
		return NULL;
	}
	v = calloc(1, sizeof(*v));
	if (v == NULL) {
		smile_error_set(e, SMILE_ERR_NOMEM, NULL, "out of memory");
		return NULL;
	}
	v->key = sodium_malloc(SMILE_VAULT_KEY_BYTES);
	if (v->key == NULL) {
		smile_error_set(e, SMILE_ERR_NOMEM, NULL, "cannot allocate guarded memory");
		goto fail;
	}
	/* sodium_malloc already tries mlock but ignores failure: insist on it */
	if (sodium_mlock(v->key, SMILE_VAULT_KEY_BYTES) != 0) {
		smile_error_set(e, SMILE_ERR_CRYPTO, "key",
				"cannot lock vault key memory (raise RLIMIT_MEMLOCK)");
		goto fail;
	}
	memcpy(v->key, key, SMILE_VAULT_KEY_BYTES);
	if (sodium_mprotect_readonly(v->key) != 0) {
		smile_error_set(e, SMILE_ERR_CRYPTO, "key", "cannot protect vault key memory");
		goto fail;
	}
	if (crypto_generichash(h, sizeof(h), (const uint8_t *)kid_label, sizeof(kid_label) - 1,
			       v->key, SMILE_VAULT_KEY_BYTES) != 0) {
		smile_error_set(e, SMILE_ERR_CRYPTO, "key", "cannot derive the vault key id");
		goto fail;
	}
	v->kid = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	sodium_memzero(h, sizeof(h));
	return v;
fail:
	sodium_memzero(h, sizeof(h));
	smile_vault_free(v);
	return NULL;
}

void smile_vault_free(struct smile_vault *v)
{
	if (v == NULL)
		return;
	if (v->key != NULL)
		sodium_free(v->key); /* makes writable, wipes, unlocks, frees */
	free(v);
}

uint32_t smile_vault_key_id(const struct smile_vault *v)
{
	return v == NULL ? 0 : v->kid;
}

/* purpose | header | aad into ad; returns its length. */
static size_t vault_ad(uint8_t ad[AD_MAX], char purpose, const uint8_t *hdr, size_t hdr_len,
		       const uint8_t *aad, size_t aad_len)
{
	ad[0] = (uint8_t)purpose;
	memcpy(ad + 1, hdr, hdr_len);
	memcpy(ad + 1 + hdr_len, aad, aad_len);
	return 1 + hdr_len + aad_len;
}

static bool aad_ok(const uint8_t *aad, size_t aad_len)
{
	return aad != NULL && aad_len > 0 && aad_len <= SMILE_VAULT_AAD_MAX;
}

/* Wrap dk for aad under v into wk. */
static enum smile_err vault_wrap(const struct smile_vault *v, const uint8_t *aad, size_t aad_len,
				 const uint8_t dk[VAULT_DK],
				 uint8_t wk[SMILE_VAULT_WRAPPED_KEY_BYTES], struct smile_error *e)
{
	uint8_t ad[AD_MAX];
	size_t adl;
	unsigned long long clen = 0;

	wk[0] = VAULT_VERSION;
	wk[1] = (uint8_t)(v->kid >> 24);
	wk[2] = (uint8_t)(v->kid >> 16);
	wk[3] = (uint8_t)(v->kid >> 8);
	wk[4] = (uint8_t)v->kid;
	randombytes_buf(wk + WK_NONCE_OFF, VAULT_NONCE);
	adl = vault_ad(ad, 'K', wk, WK_HDR, aad, aad_len);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(wk + WK_CT_OFF, &clen, dk, VAULT_DK, ad, adl,
						       NULL, wk + WK_NONCE_OFF, v->key) != 0 ||
	    clen != VAULT_DK + VAULT_TAG) {
		sodium_memzero(wk, SMILE_VAULT_WRAPPED_KEY_BYTES);
		return smile_error_set(e, SMILE_ERR_CRYPTO, "wrapped_key", "key wrapping failed");
	}
	return SMILE_OK;
}

/* Unwrap wk for aad under v into dk (wiped on failure). */
static enum smile_err vault_unwrap(const struct smile_vault *v, const uint8_t *aad,
				   size_t aad_len, const uint8_t wk[SMILE_VAULT_WRAPPED_KEY_BYTES],
				   uint8_t dk[VAULT_DK], struct smile_error *e)
{
	uint8_t ad[AD_MAX];
	size_t adl;
	unsigned long long dlen = 0;
	uint32_t kid = (uint32_t)wk[1] << 24 | (uint32_t)wk[2] << 16 | (uint32_t)wk[3] << 8 | wk[4];

	if (wk[0] != VAULT_VERSION)
		return smile_error_set(e, SMILE_ERR_DECRYPT, "wrapped_key",
				       "unknown wrapped key version %u", (unsigned)wk[0]);
	if (kid != v->kid)
		return smile_error_set(e, SMILE_ERR_DECRYPT, "wrapped_key",
				       "wrapped by vault key %08x, this vault holds %08x",
				       (unsigned)kid, (unsigned)v->kid);
	adl = vault_ad(ad, 'K', wk, WK_HDR, aad, aad_len);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(dk, &dlen, NULL, wk + WK_CT_OFF,
						       VAULT_DK + VAULT_TAG, ad, adl,
						       wk + WK_NONCE_OFF, v->key) != 0 ||
	    dlen != VAULT_DK) {
		sodium_memzero(dk, VAULT_DK);
		return smile_error_set(e, SMILE_ERR_DECRYPT, "wrapped_key",
				       "wrapped key failed authentication for this shipment");
	}
	return SMILE_OK;
}

enum smile_err smile_vault_seal(const struct smile_vault *v, const uint8_t *aad, size_t aad_len,
				const uint8_t *pt, size_t pt_len,
				uint8_t wrapped_key[SMILE_VAULT_WRAPPED_KEY_BYTES], uint8_t *ct,
				size_t ct_cap, size_t *ct_len, struct smile_error *e)
{
	uint8_t dk[VAULT_DK];
	uint8_t ad[AD_MAX];
	size_t adl;
	unsigned long long clen = 0;
	enum smile_err rc;
	static const uint8_t hdr[1] = {VAULT_VERSION};

	if (ct_len != NULL)
		*ct_len = 0;
	if (wrapped_key != NULL)
		sodium_memzero(wrapped_key, SMILE_VAULT_WRAPPED_KEY_BYTES);
	if (v == NULL || wrapped_key == NULL || ct == NULL || ct_len == NULL ||
	    (pt == NULL && pt_len > 0))
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "argument missing");
	if (!aad_ok(aad, aad_len))
		return smile_error_set(e, SMILE_ERR_INVALID, "aad", "%zu bytes, need 1-%d", aad_len,
				       SMILE_VAULT_AAD_MAX);
	if (pt_len > SMILE_VAULT_PT_MAX)
		return smile_error_set(e, SMILE_ERR_TOO_LARGE, "personal", "%zu bytes, at most %d",
				       pt_len, SMILE_VAULT_PT_MAX);
	if (ct_cap < pt_len + SMILE_VAULT_CT_OVERHEAD)
		return smile_error_set(e, SMILE_ERR_BUFFER_SMALL, "ct", "%zu bytes, need %zu", ct_cap,
				       pt_len + SMILE_VAULT_CT_OVERHEAD);

	crypto_aead_xchacha20poly1305_ietf_keygen(dk);
	ct[0] = VAULT_VERSION;
	randombytes_buf(ct + CT_NONCE_OFF, VAULT_NONCE);
	adl = vault_ad(ad, 'D', hdr, sizeof(hdr), aad, aad_len);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(ct + CT_BODY_OFF, &clen, pt, pt_len, ad, adl,
						       NULL, ct + CT_NONCE_OFF, dk) != 0 ||
	    clen != pt_len + VAULT_TAG) {
		rc = smile_error_set(e, SMILE_ERR_CRYPTO, "ct", "encryption failed");
		goto out;
	}
	rc = vault_wrap(v, aad, aad_len, dk, wrapped_key, e);
	if (rc == SMILE_OK)
		*ct_len = pt_len + SMILE_VAULT_CT_OVERHEAD;
out:
	sodium_memzero(dk, sizeof(dk));
	if (rc != SMILE_OK)
		sodium_memzero(ct, pt_len + SMILE_VAULT_CT_OVERHEAD);
	return rc;
}

enum smile_err smile_vault_open(const struct smile_vault *v, const uint8_t *aad, size_t aad_len,
				const uint8_t *wrapped_key, const uint8_t *ct, size_t ct_len,
				uint8_t *pt, size_t cap, size_t *pt_len, struct smile_error *e)
{
	uint8_t dk[VAULT_DK];
	uint8_t ad[AD_MAX];
	size_t adl, n;
	unsigned long long mlen = 0;
	enum smile_err rc;
	static const uint8_t hdr[1] = {VAULT_VERSION};

	if (pt_len != NULL)
		*pt_len = 0;
	if (wrapped_key == NULL) /* erased: say so before anything else */
		return smile_error_set(e, SMILE_ERR_SHREDDED, "personal",
				       "personal data was erased");
	if (v == NULL || ct == NULL || pt == NULL || pt_len == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "argument missing");
	if (!aad_ok(aad, aad_len))
		return smile_error_set(e, SMILE_ERR_INVALID, "aad", "%zu bytes, need 1-%d", aad_len,
				       SMILE_VAULT_AAD_MAX);
	if (ct_len < SMILE_VAULT_CT_OVERHEAD ||
	    ct_len > (size_t)SMILE_VAULT_PT_MAX + SMILE_VAULT_CT_OVERHEAD)
		return smile_error_set(e, SMILE_ERR_DECRYPT, "ct",
				       "%zu bytes, a sealed blob has %d to %d", ct_len,
				       SMILE_VAULT_CT_OVERHEAD,
				       SMILE_VAULT_PT_MAX + SMILE_VAULT_CT_OVERHEAD);
	n = ct_len - SMILE_VAULT_CT_OVERHEAD;
	if (cap < n)
		return smile_error_set(e, SMILE_ERR_BUFFER_SMALL, "pt", "%zu bytes, need %zu", cap, n);
	if (ct[0] != VAULT_VERSION)
		return smile_error_set(e, SMILE_ERR_DECRYPT, "ct", "unknown ciphertext version %u",
				       (unsigned)ct[0]);
	rc = vault_unwrap(v, aad, aad_len, wrapped_key, dk, e);
	if (rc != SMILE_OK)
		goto out;
	adl = vault_ad(ad, 'D', hdr, sizeof(hdr), aad, aad_len);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &mlen, NULL, ct + CT_BODY_OFF,
						       ct_len - CT_BODY_OFF, ad, adl,
						       ct + CT_NONCE_OFF, dk) != 0 ||
	    mlen != n) {
		rc = smile_error_set(e, SMILE_ERR_DECRYPT, "ct",
				     "ciphertext failed authentication for this shipment");
		goto out;
	}
	*pt_len = n;
	rc = SMILE_OK;
out:
	sodium_memzero(dk, sizeof(dk));
	if (rc != SMILE_OK)
		sodium_memzero(pt, n);
	return rc;
}

enum smile_err smile_vault_rewrap(const struct smile_vault *old_v, const struct smile_vault *new_v,
				  const uint8_t *aad, size_t aad_len,
				  const uint8_t in[SMILE_VAULT_WRAPPED_KEY_BYTES],
				  uint8_t out[SMILE_VAULT_WRAPPED_KEY_BYTES], struct smile_error *e)
{
	uint8_t dk[VAULT_DK];
	uint8_t tmp[SMILE_VAULT_WRAPPED_KEY_BYTES];
	enum smile_err rc;
	uint32_t kid;

	if (old_v == NULL || new_v == NULL || in == NULL || out == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "argument missing");
	if (!aad_ok(aad, aad_len))
		return smile_error_set(e, SMILE_ERR_INVALID, "aad", "%zu bytes, need 1-%d", aad_len,
				       SMILE_VAULT_AAD_MAX);
	kid = (uint32_t)in[1] << 24 | (uint32_t)in[2] << 16 | (uint32_t)in[3] << 8 | in[4];
	if (kid == new_v->kid && kid != old_v->kid) {
		/* already rotated: verify, then leave it as it is */
		rc = vault_unwrap(new_v, aad, aad_len, in, dk, e);
		if (rc == SMILE_OK && out != in)
			memmove(out, in, SMILE_VAULT_WRAPPED_KEY_BYTES);
		goto done;
	}
	rc = vault_unwrap(old_v, aad, aad_len, in, dk, e);
	if (rc != SMILE_OK)
		goto done;
	rc = vault_wrap(new_v, aad, aad_len, dk, tmp, e);
	if (rc == SMILE_OK)
		memcpy(out, tmp, sizeof(tmp));
done:
	sodium_memzero(dk, sizeof(dk));
	sodium_memzero(tmp, sizeof(tmp));
	return rc;
}
