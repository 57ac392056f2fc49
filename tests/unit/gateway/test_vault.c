/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for gateway/vault.c: seal/open round trips, every byte of both
 * blobs altered, blobs swapped between shipments, erasure (nothing the
 * gateway holds opens a shredded row), a different vault key, rotation by
 * rewrapping, argument caps, the vault key kept in locked memory and out
 * of the struct's own fields, and a vault holding two keys during an online
 * rotation (seal with the next key, open both, drop the old one). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <malloc.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../gateway/vault.h"

#define W SMILE_VAULT_WRAPPED_KEY_BYTES
#define OH SMILE_VAULT_CT_OVERHEAD

static const char personal[] =
	"{\"recipient\":{\"name\":\"\xe5\xbc\xa0\xe4\xb8\x89\",\"phone\":\"13800138000\","
	"\"detail\":\"3-502\"}}";

static void test_key(uint8_t key[32], uint8_t seed)
{
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(seed + 17 * i);
}

struct sealed {
	uint8_t wk[W];
	uint8_t ct[sizeof(personal) + OH];
	size_t ct_len;
};

static void seal(const struct smile_vault *v, const char *aad, struct sealed *s)
{
	struct smile_error e = {0};
	assert_int_equal(smile_vault_seal(v, (const uint8_t *)aad, strlen(aad),
					  (const uint8_t *)personal, sizeof(personal) - 1, s->wk,
					  s->ct, sizeof(s->ct), &s->ct_len, &e),
			 SMILE_OK);
	assert_int_equal(s->ct_len, sizeof(personal) - 1 + OH);
}

/* Open and return the code; on success check the plaintext. */
static enum smile_err open_code(const struct smile_vault *v, const char *aad, const uint8_t *wk,
				const uint8_t *ct, size_t ct_len, struct smile_error *e)
{
	uint8_t pt[256];
	size_t n = 99;
	enum smile_err rc = smile_vault_open(v, (const uint8_t *)aad, strlen(aad), wk, ct, ct_len,
					     pt, sizeof(pt), &n, e);
	if (rc == SMILE_OK) {
		assert_int_equal(n, sizeof(personal) - 1);
		assert_memory_equal(pt, personal, n);
	} else {
		assert_int_equal(n, 0);
	}
	return rc;
}

static void round_trip(void **state)
{
	uint8_t key[32];
	struct sealed a, b;
	(void)state;
	test_key(key, 1);
	struct smile_vault *v = smile_vault_new(key, NULL);
	assert_non_null(v);
	seal(v, "shipment:1001", &a);
	seal(v, "shipment:1001", &b);
	assert_int_equal(open_code(v, "shipment:1001", a.wk, a.ct, a.ct_len, NULL), SMILE_OK);
	assert_int_equal(open_code(v, "shipment:1001", b.wk, b.ct, b.ct_len, NULL), SMILE_OK);
	/* fresh data key and nonces every time: nothing repeats */
	assert_memory_not_equal(a.wk + 5, b.wk + 5, W - 5);
	assert_memory_not_equal(a.ct + 1, b.ct + 1, a.ct_len - 1);
	/* the plaintext is nowhere in the ciphertext */
	assert_null(memmem(a.ct, a.ct_len, "13800138000", 11));
	/* sizes at the edges: empty, and the cap */
	static uint8_t big[SMILE_VAULT_PT_MAX + OH], back[SMILE_VAULT_PT_MAX];
	uint8_t wk[W];
	size_t ct_len, n;
	randombytes_buf(big, SMILE_VAULT_PT_MAX);
	memcpy(back, big, SMILE_VAULT_PT_MAX);
	assert_int_equal(smile_vault_seal(v, (const uint8_t *)"x", 1, back, SMILE_VAULT_PT_MAX, wk,
					  big, sizeof(big), &ct_len, NULL),
			 SMILE_OK);
	memset(back, 0, sizeof(back));
	assert_int_equal(smile_vault_open(v, (const uint8_t *)"x", 1, wk, big, ct_len, back,
					  sizeof(back), &n, NULL),
			 SMILE_OK);
	assert_int_equal(n, SMILE_VAULT_PT_MAX);
	assert_int_equal(smile_vault_seal(v, (const uint8_t *)"x", 1, NULL, 0, wk, big, OH, &ct_len,
					  NULL),
			 SMILE_OK);
	assert_int_equal(ct_len, OH);
	assert_int_equal(smile_vault_open(v, (const uint8_t *)"x", 1, wk, big, ct_len, back, 0, &n,
					  NULL),
			 SMILE_OK);
	assert_int_equal(n, 0);
	smile_vault_free(v);
	smile_vault_free(NULL);
}

static void every_altered_byte_fails(void **state)
{
	uint8_t key[32];
	struct sealed s;
	(void)state;
	test_key(key, 2);
	struct smile_vault *v = smile_vault_new(key, NULL);
	seal(v, "shipment:7", &s);
	/* wrapped key: version, vault key id, nonce, wrapped key, tag */
	for (size_t i = 0; i < W; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			struct smile_error e = {0};
			s.wk[i] ^= (uint8_t)(1u << bit);
			assert_int_equal(open_code(v, "shipment:7", s.wk, s.ct, s.ct_len, &e),
					 SMILE_ERR_DECRYPT);
			assert_string_equal(e.field, "wrapped_key");
			s.wk[i] ^= (uint8_t)(1u << bit);
		}
	}
	/* ciphertext: version, nonce, body, tag */
	for (size_t i = 0; i < s.ct_len; i++) {
		for (int bit = 0; bit < 8; bit += 7) {
			struct smile_error e = {0};
			s.ct[i] ^= (uint8_t)(1u << bit);
			assert_int_equal(open_code(v, "shipment:7", s.wk, s.ct, s.ct_len, &e),
					 SMILE_ERR_DECRYPT);
			assert_string_equal(e.field, "ct");
			s.ct[i] ^= (uint8_t)(1u << bit);
		}
	}
	/* truncated, extended, too short for a header */
	assert_int_equal(open_code(v, "shipment:7", s.wk, s.ct, s.ct_len - 1, NULL), SMILE_ERR_DECRYPT);
	assert_int_equal(open_code(v, "shipment:7", s.wk, s.ct, OH - 1, NULL), SMILE_ERR_DECRYPT);
	uint8_t longer[sizeof(s.ct) + 1];
	memcpy(longer, s.ct, s.ct_len);
	longer[s.ct_len] = 0;
	assert_int_equal(open_code(v, "shipment:7", s.wk, longer, s.ct_len + 1, NULL),
			 SMILE_ERR_DECRYPT);
	/* unchanged still opens */
	assert_int_equal(open_code(v, "shipment:7", s.wk, s.ct, s.ct_len, NULL), SMILE_OK);
	smile_vault_free(v);
}

static void blobs_do_not_move_between_shipments(void **state)
{
	uint8_t key[32];
	struct sealed a, b;
	(void)state;
	test_key(key, 3);
	struct smile_vault *v = smile_vault_new(key, NULL);
	seal(v, "shipment:1", &a);
	seal(v, "shipment:2", &b);
	/* both blobs of A presented as B's */
	assert_int_equal(open_code(v, "shipment:2", a.wk, a.ct, a.ct_len, NULL), SMILE_ERR_DECRYPT);
	/* A's key with B's ciphertext, either shipment id */
	assert_int_equal(open_code(v, "shipment:1", a.wk, b.ct, b.ct_len, NULL), SMILE_ERR_DECRYPT);
	assert_int_equal(open_code(v, "shipment:2", a.wk, b.ct, b.ct_len, NULL), SMILE_ERR_DECRYPT);
	assert_int_equal(open_code(v, "shipment:2", b.wk, a.ct, a.ct_len, NULL), SMILE_ERR_DECRYPT);
	/* a prefix of the id is another id */
	assert_int_equal(open_code(v, "shipment:", a.wk, a.ct, a.ct_len, NULL), SMILE_ERR_DECRYPT);
	assert_int_equal(open_code(v, "shipment:1", a.wk, a.ct, a.ct_len, NULL), SMILE_OK);
	assert_int_equal(open_code(v, "shipment:2", b.wk, b.ct, b.ct_len, NULL), SMILE_OK);
	/* the wrapped key is not a ciphertext of the data layer, nor the reverse:
	 * present the wrapped key's bytes as a ciphertext */
	assert_int_equal(open_code(v, "shipment:1", a.wk, a.wk, W, NULL), SMILE_ERR_DECRYPT);
	smile_vault_free(v);
}

static void shredded_rows_stay_closed(void **state)
{
	uint8_t key[32], other_key[32];
	struct sealed s, others[8];
	struct smile_error e = {0};
	unsigned long long m;
	uint8_t pt[256];
	(void)state;
	test_key(key, 4);
	struct smile_vault *v = smile_vault_new(key, NULL);
	seal(v, "shipment:9", &s);
	for (int i = 0; i < 8; i++)
		seal(v, "shipment:9", &others[i]); /* even same shipment id */
	/* erased: the store deleted the wrapped key */
	assert_int_equal(open_code(v, "shipment:9", NULL, s.ct, s.ct_len, &e), SMILE_ERR_SHREDDED);
	assert_int_equal(e.code, SMILE_ERR_SHREDDED);
	/* a zeroed wrapped key is no key either */
	uint8_t zero[W] = {0};
	assert_int_equal(open_code(v, "shipment:9", zero, s.ct, s.ct_len, NULL), SMILE_ERR_DECRYPT);
	/* no other wrapped key the gateway holds opens it */
	for (int i = 0; i < 8; i++)
		assert_int_equal(open_code(v, "shipment:9", others[i].wk, s.ct, s.ct_len, NULL),
				 SMILE_ERR_DECRYPT);
	/* the vault key itself, used directly as the data key, opens nothing */
	static const uint8_t hdr_ad[] = "D\x01shipment:9";
	assert_int_not_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(
			      pt, &m, NULL, s.ct + 25, s.ct_len - 25, hdr_ad, sizeof(hdr_ad) - 1,
			      s.ct + 1, key),
		      0);
	/* nor a different vault */
	test_key(other_key, 5);
	struct smile_vault *v2 = smile_vault_new(other_key, NULL);
	assert_int_equal(open_code(v2, "shipment:9", s.wk, s.ct, s.ct_len, &e), SMILE_ERR_DECRYPT);
	assert_non_null(strstr(e.message, "wrapped by vault key"));
	assert_int_equal(open_code(v, "shipment:9", s.wk, s.ct, s.ct_len, NULL), SMILE_OK);
	smile_vault_free(v2);
	smile_vault_free(v);
}

static void rewrap_rotates_the_vault_key(void **state)
{
	uint8_t k_old[32], k_new[32], w2[W];
	struct sealed s;
	struct smile_error e = {0};
	(void)state;
	test_key(k_old, 6);
	test_key(k_new, 7);
	struct smile_vault *old_v = smile_vault_new(k_old, NULL);
	struct smile_vault *new_v = smile_vault_new(k_new, NULL);
	assert_int_not_equal(smile_vault_key_id(old_v), smile_vault_key_id(new_v));
	seal(old_v, "shipment:5", &s);
	assert_int_equal(smile_vault_rewrap(old_v, new_v, (const uint8_t *)"shipment:5", 10, s.wk, w2,
					    &e),
			 SMILE_OK);
	assert_int_equal(open_code(new_v, "shipment:5", w2, s.ct, s.ct_len, NULL), SMILE_OK);
	assert_int_equal(open_code(old_v, "shipment:5", w2, s.ct, s.ct_len, NULL), SMILE_ERR_DECRYPT);
	/* idempotent: a rotation interrupted and run again */
	uint8_t w3[W];
	assert_int_equal(smile_vault_rewrap(old_v, new_v, (const uint8_t *)"shipment:5", 10, w2, w3,
					    &e),
			 SMILE_OK);
	assert_memory_equal(w2, w3, W);
	/* in place */
	assert_int_equal(smile_vault_rewrap(old_v, new_v, (const uint8_t *)"shipment:5", 10, s.wk,
					    s.wk, &e),
			 SMILE_OK);
	assert_int_equal(open_code(new_v, "shipment:5", s.wk, s.ct, s.ct_len, NULL), SMILE_OK);
	/* the wrong shipment, or a forged blob, is refused and out is untouched */
	uint8_t out[W];
	memset(out, 0xAA, sizeof(out));
	assert_int_equal(smile_vault_rewrap(old_v, new_v, (const uint8_t *)"shipment:6", 10, w2, out,
					    &e),
			 SMILE_ERR_DECRYPT);
	for (size_t i = 0; i < W; i++)
		assert_int_equal(out[i], 0xAA);
	w2[40] ^= 1;
	assert_int_equal(smile_vault_rewrap(old_v, new_v, (const uint8_t *)"shipment:5", 10, w2, out,
					    &e),
			 SMILE_ERR_DECRYPT);
	smile_vault_free(old_v);
	smile_vault_free(new_v);
}

static void arguments_are_capped(void **state)
{
	uint8_t key[32], wk[W], ct[128], pt[128];
	uint8_t aad[SMILE_VAULT_AAD_MAX + 1];
	size_t n;
	struct smile_error e = {0};
	(void)state;
	test_key(key, 8);
	memset(aad, 'a', sizeof(aad));
	struct smile_vault *v = smile_vault_new(key, NULL);
	assert_null(smile_vault_new(NULL, &e));
	assert_int_equal(e.code, SMILE_ERR_INVALID);
	assert_int_equal(smile_vault_seal(v, aad, 0, pt, 1, wk, ct, sizeof(ct), &n, &e),
			 SMILE_ERR_INVALID);
	assert_int_equal(smile_vault_seal(v, aad, sizeof(aad), pt, 1, wk, ct, sizeof(ct), &n, &e),
			 SMILE_ERR_INVALID);
	assert_string_equal(e.field, "aad");
	assert_int_equal(smile_vault_seal(v, aad, SMILE_VAULT_AAD_MAX, pt, 1, wk, ct, sizeof(ct), &n,
					  &e),
			 SMILE_OK);
	assert_int_equal(smile_vault_seal(v, aad, 1, pt, SMILE_VAULT_PT_MAX + 1, wk, ct, sizeof(ct),
					  &n, &e),
			 SMILE_ERR_TOO_LARGE);
	assert_int_equal(smile_vault_seal(v, aad, 1, pt, 100, wk, ct, 100 + OH - 1, &n, &e),
			 SMILE_ERR_BUFFER_SMALL);
	assert_int_equal(n, 0);
	assert_int_equal(smile_vault_seal(v, aad, 1, pt, 10, wk, ct, sizeof(ct), &n, &e), SMILE_OK);
	assert_int_equal(smile_vault_open(v, aad, 1, wk, ct, n, pt, 9, &n, &e),
			 SMILE_ERR_BUFFER_SMALL);
	assert_int_equal(smile_vault_open(v, aad, 0, wk, ct, 51, pt, sizeof(pt), &n, &e),
			 SMILE_ERR_INVALID);
	assert_int_equal(smile_vault_open(NULL, aad, 1, wk, ct, 51, pt, sizeof(pt), &n, &e),
			 SMILE_ERR_INVALID);
	smile_vault_free(v);
}

/* VmLck of this process, in kB. */
static long locked_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmLck:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

/* AddressSanitizer intercepts mlock and ignores it (the shadow memory would
 * be locked too), so VmLck can only be checked in a normal build. */
static bool mlock_is_real(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	return false;
#else
	return true;
#endif
#else
	return true;
#endif
}

static void key_lives_in_locked_memory_only(void **state)
{
	uint8_t key[32], copy[32];
	struct sealed s;
	(void)state;
	test_key(key, 9);
	memcpy(copy, key, 32);
	long before = locked_kb();
	struct smile_vault *v = smile_vault_new(key, NULL);
	assert_non_null(v);
	long during = locked_kb();
	assert_true(before >= 0);
	if (!mlock_is_real())
		fprintf(stderr, "# AddressSanitizer makes mlock a no-op: VmLck not checked\n");
	else
		assert_true(during > before); /* at least one page of the key is mlock'ed */
	/* the caller's copy can go: the vault has its own */
	sodium_memzero(key, sizeof(key));
	seal(v, "shipment:11", &s);
	assert_int_equal(open_code(v, "shipment:11", s.wk, s.ct, s.ct_len, NULL), SMILE_OK);
	/* the struct's own (heap) fields hold no part of the key */
	const uint8_t *p = (const uint8_t *)v;
	size_t size = malloc_usable_size(v);
	assert_true(size >= sizeof(void *));
	for (size_t off = 0; off + 8 <= size; off++)
		for (size_t k = 0; k + 8 <= 32; k++)
			if (memcmp(p + off, copy + k, 8) == 0)
				fail_msg("key bytes %zu.. found in the struct at %zu", k, off);
	smile_vault_free(v);
	assert_int_equal(locked_kb(), before);
}

/* A running gateway's rotation: the vault gains a next key, seals with it,
 * opens rows of both keys, rewraps old rows in place, then drops the old key;
 * what the old key wrapped (an old backup's rows) no longer opens, with a
 * message that says why. */
static void two_keys_during_a_rotation(void **state)
{
	uint8_t ka[32], kb[32], kc[32], moved[W];
	struct sealed r_old, r_new, r_backup;
	struct smile_error e = {0};
	uint32_t cur = 1, next = 1;
	char want[64];
	(void)state;
	test_key(ka, 20);
	test_key(kb, 21);
	test_key(kc, 22);
	long at_start = locked_kb();
	struct smile_vault *v = smile_vault_new(ka, NULL);
	struct smile_vault *only_b = smile_vault_new(kb, NULL);
	assert_non_null(v);
	const uint32_t kid_a = smile_vault_key_id(v), kid_b = smile_vault_key_id(only_b);
	smile_vault_free(only_b);
	assert_int_equal(smile_vault_key_ids(v, &cur, &next), 1);
	assert_int_equal(cur, kid_a);
	assert_int_equal(next, 0);
	seal(v, "shipment:31", &r_old);
	assert_int_equal(smile_vault_wrapped_key_id(r_old.wk), kid_a);
	r_backup = r_old; /* a backup taken before the rotation */

	/* the next key: new seals use it, both keys open */
	long before = locked_kb();
	assert_int_equal(smile_vault_add_next(v, kb, &e), SMILE_OK);
	if (mlock_is_real())
		assert_true(locked_kb() > before); /* the next key is locked too */
	assert_int_equal(smile_vault_key_ids(v, &cur, &next), 2);
	assert_int_equal(cur, kid_a);
	assert_int_equal(next, kid_b);
	assert_int_equal(smile_vault_key_id(v), kid_b);
	seal(v, "shipment:32", &r_new);
	assert_int_equal(smile_vault_wrapped_key_id(r_new.wk), kid_b);
	assert_int_equal(open_code(v, "shipment:31", r_old.wk, r_old.ct, r_old.ct_len, NULL), SMILE_OK);
	assert_int_equal(open_code(v, "shipment:32", r_new.wk, r_new.ct, r_new.ct_len, NULL), SMILE_OK);
	/* the same key again as next, or the current key as next: refused */
	assert_int_equal(smile_vault_add_next(v, ka, &e), SMILE_ERR_INVALID);
	assert_int_equal(smile_vault_key_id(v), kid_b);

	/* rewrap with one vault holding both keys: old rows move to the next key */
	assert_int_equal(smile_vault_rewrap(v, v, (const uint8_t *)"shipment:31", 11, r_old.wk, moved,
					    &e),
			 SMILE_OK);
	assert_int_equal(smile_vault_wrapped_key_id(moved), kid_b);
	memcpy(r_old.wk, moved, W);
	/* a row already under the next key is verified and left as it is */
	assert_int_equal(smile_vault_rewrap(v, v, (const uint8_t *)"shipment:32", 11, r_new.wk, moved,
					    &e),
			 SMILE_OK);
	assert_memory_equal(moved, r_new.wk, W);

	/* drop the old key: it is wiped and unlocked, its rows stop opening */
	long two_keys = locked_kb();
	assert_int_equal(smile_vault_promote_next(v, &e), SMILE_OK);
	if (mlock_is_real())
		assert_true(locked_kb() < two_keys);
	assert_int_equal(smile_vault_key_ids(v, &cur, &next), 1);
	assert_int_equal(cur, kid_b);
	assert_int_equal(smile_vault_promote_next(v, &e), SMILE_ERR_NOT_FOUND);
	assert_int_equal(open_code(v, "shipment:31", r_old.wk, r_old.ct, r_old.ct_len, NULL), SMILE_OK);
	assert_int_equal(open_code(v, "shipment:32", r_new.wk, r_new.ct, r_new.ct_len, NULL), SMILE_OK);
	memset(&e, 0, sizeof(e));
	assert_int_equal(open_code(v, "shipment:31", r_backup.wk, r_backup.ct, r_backup.ct_len, &e),
			 SMILE_ERR_DECRYPT);
	assert_string_equal(e.field, "wrapped_key");
	snprintf(want, sizeof(want), "wrapped by vault key %08x, which is not held", kid_a);
	assert_non_null(strstr(e.message, want));
	/* nor does rewrapping bring it back */
	assert_int_equal(smile_vault_rewrap(v, v, (const uint8_t *)"shipment:31", 11, r_backup.wk,
					    moved, &e),
			 SMILE_ERR_DECRYPT);

	/* exchange: a reloaded key set replaces the one in use; the pointer stays */
	struct smile_vault *w = smile_vault_new(kc, NULL);
	const uint32_t kid_c = smile_vault_key_id(w);
	smile_vault_exchange(v, w);
	assert_int_equal(smile_vault_key_id(v), kid_c);
	assert_int_equal(smile_vault_key_id(w), kid_b);
	smile_vault_free(w); /* wipes key B */
	assert_int_equal(open_code(v, "shipment:32", r_new.wk, r_new.ct, r_new.ct_len, NULL),
			 SMILE_ERR_DECRYPT);
	smile_vault_exchange(v, NULL);
	smile_vault_exchange(v, v);
	smile_vault_free(v);
	assert_int_equal(locked_kb(), at_start);
}

struct churn {
	struct smile_vault *v;
	int stop;
	int opened, dropped, bad; /* counted here, asserted by the main thread */
};

/* Seal and open at once, over and over, while the main thread changes keys:
 * a row always names a key that wrapped it whole; if it does not open, the
 * reason is only that its key was dropped in between. */
static void *churn_main(void *arg)
{
	struct churn *c = arg;
	struct sealed s;
	for (int i = 0; i < 3000 && !__atomic_load_n(&c->stop, __ATOMIC_RELAXED); i++) {
		struct smile_error e = {0};
		uint8_t pt[sizeof(personal)];
		size_t n = 0;
		enum smile_err rc = smile_vault_seal(c->v, (const uint8_t *)"s77", 3,
						     (const uint8_t *)personal, sizeof(personal) - 1,
						     s.wk, s.ct, sizeof(s.ct), &s.ct_len, NULL);
		if (rc == SMILE_OK)
			rc = smile_vault_open(c->v, (const uint8_t *)"s77", 3, s.wk, s.ct, s.ct_len,
					      pt, sizeof(pt), &n, &e);
		if (rc == SMILE_OK && n == sizeof(personal) - 1 && memcmp(pt, personal, n) == 0)
			__atomic_add_fetch(&c->opened, 1, __ATOMIC_RELAXED);
		else if (rc == SMILE_ERR_DECRYPT && strstr(e.message, "which is not held"))
			__atomic_add_fetch(&c->dropped, 1, __ATOMIC_RELAXED);
		else
			__atomic_add_fetch(&c->bad, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void key_changes_while_sealing(void **state)
{
	uint8_t key[32];
	pthread_t t[3];
	struct churn c = {0};
	(void)state;
	test_key(key, 40);
	c.v = smile_vault_new(key, NULL);
	assert_non_null(c.v);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&t[i], NULL, churn_main, &c), 0);
	for (int round = 0; round < 200; round++) {
		test_key(key, (uint8_t)(41 + round));
		assert_int_equal(smile_vault_add_next(c.v, key, NULL), SMILE_OK);
		assert_int_equal(smile_vault_promote_next(c.v, NULL), SMILE_OK);
	}
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(c.bad, 0);
	assert_true(c.opened > 0);
	smile_vault_free(c.v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(every_altered_byte_fails),
		cmocka_unit_test(blobs_do_not_move_between_shipments),
		cmocka_unit_test(shredded_rows_stay_closed),
		cmocka_unit_test(rewrap_rotates_the_vault_key),
		cmocka_unit_test(arguments_are_capped),
		cmocka_unit_test(key_lives_in_locked_memory_only),
		cmocka_unit_test(two_keys_during_a_rotation),
		cmocka_unit_test(key_changes_while_sealing),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
