/* SPDX-License-Identifier: Apache-2.0 */
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
 *
 * Rotation (docs/vault.md, "Rotating the vault key"): a vault holds its
 * current key and, while a rotation runs, a next key. Seals use the next key
 * when there is one; opens pick the key by the id in the wrapped key. Keys
 * are replaced inside the struct under a reader-writer lock, so callers keep
 * one stable pointer while a running gateway takes up a new key or drops the
 * old one; a dropped key is wiped (sodium_free) as soon as it is replaced.
 */
#include "vault.h"
#include "../common/smile_assert.h"

#include <pthread.h>
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

struct vault_key {
	uint8_t *key; /* SMILE_VAULT_KEY_BYTES in sodium_malloc memory: locked, read-only;
		       * NULL: no key in this slot */
	uint32_t kid; /* public identifier of the key */
};

struct smile_vault {
	/* Taken for reading around every use of a key, for writing to replace
	 * keys. Locked through const pointers too: the lock is the one part of
	 * a vault that changes while callers only read (the object itself is
	 * never const, it comes from calloc). */
	pthread_rwlock_t lock;
	struct vault_key cur;
	struct vault_key next; /* during a rotation: seals use it */
};

static const char kid_label[] = "smile vault key id v1";

static void vault_rdlock(const struct smile_vault *v)
{
	pthread_rwlock_rdlock((pthread_rwlock_t *)&v->lock);
}

static void vault_unlock(const struct smile_vault *v)
{
	pthread_rwlock_unlock((pthread_rwlock_t *)&v->lock);
}

static uint32_t wk_kid(const uint8_t wk[SMILE_VAULT_WRAPPED_KEY_BYTES])
{
	return (uint32_t)wk[1] << 24 | (uint32_t)wk[2] << 16 | (uint32_t)wk[3] << 8 | wk[4];
}

static void key_wipe(struct vault_key *k)
{
	if (k->key != NULL)
		sodium_free(k->key); /* makes writable, wipes, unlocks, frees */
	k->key = NULL;
	k->kid = 0;
}

/* Copy `key` into fresh locked, read-only memory and derive its id. */
static enum smile_err key_load(struct vault_key *k, const uint8_t key[SMILE_VAULT_KEY_BYTES],
			       struct smile_error *e)
{
	uint8_t h[crypto_generichash_BYTES_MIN];
	enum smile_err rc = SMILE_OK;

	k->kid = 0;
	k->key = sodium_malloc(SMILE_VAULT_KEY_BYTES);
	if (k->key == NULL)
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, "cannot allocate guarded memory");
	/* sodium_malloc already tries mlock but ignores failure: insist on it */
	if (sodium_mlock(k->key, SMILE_VAULT_KEY_BYTES) != 0) {
		rc = smile_error_set(e, SMILE_ERR_CRYPTO, "key",
				     "cannot lock vault key memory (raise RLIMIT_MEMLOCK)");
		goto out;
	}
	memcpy(k->key, key, SMILE_VAULT_KEY_BYTES);
	if (sodium_mprotect_readonly(k->key) != 0) {
		rc = smile_error_set(e, SMILE_ERR_CRYPTO, "key", "cannot protect vault key memory");
		goto out;
	}
	if (crypto_generichash(h, sizeof(h), (const uint8_t *)kid_label, sizeof(kid_label) - 1,
			       k->key, SMILE_VAULT_KEY_BYTES) != 0) {
		rc = smile_error_set(e, SMILE_ERR_CRYPTO, "key", "cannot derive the vault key id");
		goto out;
	}
	k->kid = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
out:
	sodium_memzero(h, sizeof(h));
	if (rc != SMILE_OK)
		key_wipe(k);
	return rc;
}

/* The key sealing uses: the next one during a rotation. Under the lock. */
static const struct vault_key *seal_key(const struct smile_vault *v)
{
	return v->next.key != NULL ? &v->next : &v->cur;
}

/* The key with id `kid`, or NULL. Under the lock. */
static const struct vault_key *key_by_id(const struct smile_vault *v, uint32_t kid)
{
	if (v->cur.key != NULL && v->cur.kid == kid)
		return &v->cur;
	if (v->next.key != NULL && v->next.kid == kid)
		return &v->next;
	return NULL;
}

struct smile_vault *smile_vault_new(const uint8_t key[SMILE_VAULT_KEY_BYTES],
				    struct smile_error *e)
{
	struct smile_vault *v = NULL;
	pthread_rwlockattr_t attr;

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
	/* Readers (every seal and open) must not starve the rare writer that
	 * swaps keys in: glibc prefers readers unless told otherwise. */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	if (pthread_rwlock_init(&v->lock, &attr) != 0) {
		pthread_rwlockattr_destroy(&attr);
		free(v);
		smile_error_set(e, SMILE_ERR_NOMEM, NULL, "cannot create the vault lock");
		return NULL;
	}
	pthread_rwlockattr_destroy(&attr);
	if (key_load(&v->cur, key, e) != SMILE_OK) {
		smile_vault_free(v);
		return NULL;
	}
	return v;
}

void smile_vault_free(struct smile_vault *v)
{
	if (v == NULL)
		return;
	key_wipe(&v->cur);
	key_wipe(&v->next);
	pthread_rwlock_destroy(&v->lock);
	free(v);
}

uint32_t smile_vault_key_id(const struct smile_vault *v)
{
	uint32_t kid;
	if (v == NULL)
		return 0;
	vault_rdlock(v);
	kid = seal_key(v)->kid;
	vault_unlock(v);
	return kid;
}

int smile_vault_key_ids(const struct smile_vault *v, uint32_t *current, uint32_t *next)
{
	int n;
	if (current != NULL)
		*current = 0;
	if (next != NULL)
		*next = 0;
	if (v == NULL)
		return 0;
	vault_rdlock(v);
	if (current != NULL)
		*current = v->cur.kid;
	if (next != NULL)
		*next = v->next.kid;
	n = v->next.key != NULL ? 2 : 1;
	vault_unlock(v);
	return n;
}

uint32_t smile_vault_wrapped_key_id(const uint8_t wrapped_key[SMILE_VAULT_WRAPPED_KEY_BYTES])
{
	return wrapped_key == NULL ? 0 : wk_kid(wrapped_key);
}

enum smile_err smile_vault_add_next(struct smile_vault *v, const uint8_t key[SMILE_VAULT_KEY_BYTES],
				    struct smile_error *e)
{
	struct vault_key k = {0}, old;
	enum smile_err rc;

	if (v == NULL || key == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, "key", "vault or key missing");
	rc = key_load(&k, key, e);
	if (rc != SMILE_OK)
		return rc;
	pthread_rwlock_wrlock(&v->lock);
	if (k.kid == v->cur.kid) {
		pthread_rwlock_unlock(&v->lock);
		key_wipe(&k);
		return smile_error_set(e, SMILE_ERR_INVALID, "key",
				       "the next vault key has the id of the current one");
	}
	old = v->next;
	v->next = k;
	pthread_rwlock_unlock(&v->lock);
	key_wipe(&old);
	return SMILE_OK;
}

enum smile_err smile_vault_promote_next(struct smile_vault *v, struct smile_error *e)
{
	struct vault_key old;

	if (v == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "vault missing");
	pthread_rwlock_wrlock(&v->lock);
	if (v->next.key == NULL) {
		pthread_rwlock_unlock(&v->lock);
		return smile_error_set(e, SMILE_ERR_NOT_FOUND, "key", "no next vault key to promote");
	}
	old = v->cur;
	v->cur = v->next;
	v->next = (struct vault_key){0};
	pthread_rwlock_unlock(&v->lock);
	key_wipe(&old); /* outside the lock: sodium_free is not quick */
	return SMILE_OK;
}

void smile_vault_exchange(struct smile_vault *a, struct smile_vault *b)
{
	struct smile_vault *first, *second;
	struct vault_key cur, next;

	if (a == NULL || b == NULL || a == b)
		return;
	/* a fixed order: two exchanges never wait for each other in a circle
	 * (seal, open and rewrap hold one vault's lock at a time) */
	first = (uintptr_t)a < (uintptr_t)b ? a : b;
	second = first == a ? b : a;
	pthread_rwlock_wrlock(&first->lock);
	pthread_rwlock_wrlock(&second->lock);
	cur = a->cur;
	next = a->next;
	a->cur = b->cur;
	a->next = b->next;
	b->cur = cur;
	b->next = next;
	pthread_rwlock_unlock(&second->lock);
	pthread_rwlock_unlock(&first->lock);
}

/* purpose | header | aad into ad; returns its length. */
static size_t vault_ad(uint8_t ad[AD_MAX], char purpose, const uint8_t *hdr, size_t hdr_len,
		       const uint8_t *aad, size_t aad_len)
{
	SMILE_ASSERT(hdr_len + aad_len < AD_MAX); /* callers check aad_ok() first */
	ad[0] = (uint8_t)purpose;
	memcpy(ad + 1, hdr, hdr_len);
	memcpy(ad + 1 + hdr_len, aad, aad_len);
	return 1 + hdr_len + aad_len;
}

static bool aad_ok(const uint8_t *aad, size_t aad_len)
{
	return aad != NULL && aad_len > 0 && aad_len <= SMILE_VAULT_AAD_MAX;
}

/* Wrap dk for aad under key v into wk. */
static enum smile_err vault_wrap(const struct vault_key *v, const uint8_t *aad, size_t aad_len,
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

/* Unwrap wk for aad under whichever key of v wrapped it, into dk (wiped on
 * failure). Takes v's lock for reading. */
static enum smile_err vault_unwrap(const struct smile_vault *vault, const uint8_t *aad,
				   size_t aad_len, const uint8_t wk[SMILE_VAULT_WRAPPED_KEY_BYTES],
				   uint8_t dk[VAULT_DK], struct smile_error *e)
{
	uint8_t ad[AD_MAX];
	size_t adl;
	unsigned long long dlen = 0;
	uint32_t kid = wk_kid(wk);
	const struct vault_key *v;
	int ok;

	if (wk[0] != VAULT_VERSION)
		return smile_error_set(e, SMILE_ERR_DECRYPT, "wrapped_key",
				       "unknown wrapped key version %u", (unsigned)wk[0]);
	vault_rdlock(vault);
	v = key_by_id(vault, kid);
	if (v == NULL) {
		enum smile_err rc =
			vault->next.key != NULL
				? smile_error_set(e, SMILE_ERR_DECRYPT, "wrapped_key",
						  "wrapped by vault key %08x, which is not held "
						  "(this vault holds %08x and %08x)",
						  (unsigned)kid, (unsigned)vault->cur.kid,
						  (unsigned)vault->next.kid)
				: smile_error_set(e, SMILE_ERR_DECRYPT, "wrapped_key",
						  "wrapped by vault key %08x, which is not held "
						  "(this vault holds %08x; a key rotated away "
						  "opens nothing)",
						  (unsigned)kid, (unsigned)vault->cur.kid);
		vault_unlock(vault);
		return rc;
	}
	adl = vault_ad(ad, 'K', wk, WK_HDR, aad, aad_len);
	ok = crypto_aead_xchacha20poly1305_ietf_decrypt(dk, &dlen, NULL, wk + WK_CT_OFF,
							 VAULT_DK + VAULT_TAG, ad, adl,
							 wk + WK_NONCE_OFF, v->key) == 0 &&
	     dlen == VAULT_DK;
	vault_unlock(vault);
	if (!ok) {
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
	vault_rdlock(v);
	rc = vault_wrap(seal_key(v), aad, aad_len, dk, wrapped_key, e);
	vault_unlock(v);
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
	uint32_t kid, target;

	if (old_v == NULL || new_v == NULL || in == NULL || out == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "argument missing");
	if (!aad_ok(aad, aad_len))
		return smile_error_set(e, SMILE_ERR_INVALID, "aad", "%zu bytes, need 1-%d", aad_len,
				       SMILE_VAULT_AAD_MAX);
	kid = wk_kid(in);
	target = smile_vault_key_id(new_v);
	/* One vault's lock at a time (unwrap, then wrap): never two at once, so
	 * rewrap cannot deadlock with a key exchange. The data key waits on the
	 * stack in between. */
	if (kid == target) {
		/* already rotated: verify, then leave it as it is */
		rc = vault_unwrap(new_v, aad, aad_len, in, dk, e);
		if (rc == SMILE_OK && out != in)
			memmove(out, in, SMILE_VAULT_WRAPPED_KEY_BYTES);
		goto done;
	}
	rc = vault_unwrap(old_v, aad, aad_len, in, dk, e);
	if (rc != SMILE_OK)
		goto done;
	vault_rdlock(new_v);
	rc = vault_wrap(seal_key(new_v), aad, aad_len, dk, tmp, e);
	vault_unlock(new_v);
	if (rc == SMILE_OK)
		memcpy(out, tmp, sizeof(tmp));
done:
	sodium_memzero(dk, sizeof(dk));
	sodium_memzero(tmp, sizeof(tmp));
	return rc;
}
