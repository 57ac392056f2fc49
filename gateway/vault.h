/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vault.h - sealing each shipment's personal data under its own data key,
 * wrapped by the gateway's vault key (envelope encryption, crypto-shredding).
 *
 * smile_vault_seal draws a fresh random 32-byte data key per shipment,
 * encrypts the personal part with it (XChaCha20-Poly1305-IETF, the shipment
 * id as associated data), wraps the data key with the vault key (same AEAD,
 * the shipment id again as associated data) and wipes it. The caller stores
 * two blobs: the wrapped key (SMILE_VAULT_WRAPPED_KEY_BYTES) and the
 * ciphertext (plaintext + SMILE_VAULT_CT_OVERHEAD). Destroying the wrapped key
 * destroys the only way to the data key: that is erasure (crypto-shredding).
 * Blobs bound to one shipment id do not open under another, so rows cannot be
 * swapped. docs/vault.md has the byte layout, what shredding guarantees and
 * what it does not, and the rotation procedure.
 *
 * The vault key lives in libsodium guarded memory (sodium_malloc), locked
 * into RAM (mlock; smile_vault_new fails if it cannot be locked), excluded
 * from core dumps, read-only, and wiped by smile_vault_free.
 *
 * Rotation: a vault holds its current key and, while a rotation runs, a
 * next key. Seals use the next key when there is one; opens and rewraps pick
 * the key by the vault key id written into the wrapped key (bytes 1-4).
 * smile_vault_add_next, smile_vault_promote_next and smile_vault_exchange
 * change the keys inside the struct, so callers keep one pointer for the life
 * of the process; a key that is dropped is wiped at once.
 *
 * Threads: seal, open, rewrap and the key changes may run concurrently on
 * one vault from any number of threads (a reader-writer lock inside, held
 * only for the key operation itself).
 */
#ifndef SMILE_VAULT_H
#define SMILE_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "smile/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SMILE_VAULT_KEY_BYTES 32
/* Wrapped data key: version(1) + vault key id(4) + nonce(24) + key(32) + tag(16). */
#define SMILE_VAULT_WRAPPED_KEY_BYTES 77
/* Ciphertext blob = version(1) + nonce(24) + plaintext + tag(16). */
#define SMILE_VAULT_CT_OVERHEAD 41
/* Caps: the personal part of one shipment, and the associated data (shipment id). */
#define SMILE_VAULT_PT_MAX 65536
#define SMILE_VAULT_AAD_MAX 64

struct smile_vault;

/*
 * A vault holding a copy of `key` in locked, read-only memory. The caller
 * keeps (and should wipe) its own copy. Returns NULL on failure, with the
 * reason in `e` (may be NULL): SMILE_ERR_INVALID (key NULL), SMILE_ERR_CRYPTO
 * (libsodium cannot initialise, or the memory cannot be locked/protected:
 * raise RLIMIT_MEMLOCK), SMILE_ERR_NOMEM. Free with smile_vault_free.
 */
struct smile_vault *smile_vault_new(const uint8_t key[SMILE_VAULT_KEY_BYTES],
				    struct smile_error *e);

/* Wipe the key and free. NULL is a no-op. */
void smile_vault_free(struct smile_vault *v);

/*
 * A 32-bit identifier of the key new seals use (the next key during a
 * rotation, else the current one): a keyed BLAKE2b of a fixed label, so it
 * reveals nothing about the key. Written into every wrapped key so a
 * rotation can tell which vault key wrapped a row. 0 when v is NULL.
 */
uint32_t smile_vault_key_id(const struct smile_vault *v);

/*
 * The ids of the keys v holds: *current, and *next (0 when there is none).
 * Either pointer may be NULL. Returns how many keys v holds: 1, or 2 during a
 * rotation (0 when v is NULL).
 */
int smile_vault_key_ids(const struct smile_vault *v, uint32_t *current, uint32_t *next);

/* The vault key id written in a wrapped key (bytes 1-4, big-endian); 0 for
 * NULL. Says which key wrapped a row without opening anything. */
uint32_t smile_vault_wrapped_key_id(const uint8_t wrapped_key[SMILE_VAULT_WRAPPED_KEY_BYTES]);

/*
 * Rotation, step 1: give v a next key (a copy in locked memory, like
 * smile_vault_new); from now on seals use it, and rows of both keys open.
 * Replaces (and wipes) a next key v already held.
 *
 * Returns SMILE_OK, SMILE_ERR_INVALID (v or key NULL, or the key has the id of
 * the current key), and the errors of smile_vault_new.
 */
enum smile_err smile_vault_add_next(struct smile_vault *v, const uint8_t key[SMILE_VAULT_KEY_BYTES],
				    struct smile_error *e) SMILE_MUST_CHECK;

/*
 * Rotation, last step: drop the current key (wiped at once) and make the
 * next key current. Rows still wrapped by the dropped key no longer open
 * (SMILE_ERR_DECRYPT, "wrapped by vault key ..., which is not held").
 *
 * Returns SMILE_OK, SMILE_ERR_INVALID (v NULL), SMILE_ERR_NOT_FOUND (no next
 * key: nothing changed).
 */
enum smile_err smile_vault_promote_next(struct smile_vault *v, struct smile_error *e)
	SMILE_MUST_CHECK;

/*
 * Swap every key of a with every key of b, atomically for the users of each:
 * a running gateway builds a vault from its key files and exchanges it into
 * the vault its threads use, then frees the other (which wipes the keys it
 * no longer needs). NULL or a == b: nothing happens.
 */
void smile_vault_exchange(struct smile_vault *a, struct smile_vault *b);

/*
 * Seal `pt_len` bytes of `pt` for the shipment named by `aad` (aad_len bytes,
 * 1..SMILE_VAULT_AAD_MAX: the shipment id as stored). On success:
 * `wrapped_key` holds the wrapped data key, `ct[0..*ct_len)` the ciphertext,
 * *ct_len == pt_len + SMILE_VAULT_CT_OVERHEAD. Nothing is allocated; the
 * data key never leaves this call.
 *
 * Returns:
 *   SMILE_OK
 *   SMILE_ERR_INVALID       v, aad, wrapped_key, ct or ct_len NULL; aad_len 0
 *                           or over SMILE_VAULT_AAD_MAX; pt NULL with pt_len > 0
 *   SMILE_ERR_TOO_LARGE     pt_len > SMILE_VAULT_PT_MAX
 *   SMILE_ERR_BUFFER_SMALL  ct_cap < pt_len + SMILE_VAULT_CT_OVERHEAD
 *   SMILE_ERR_CRYPTO        encryption failed
 * On error wrapped_key and ct hold nothing usable (wrapped_key is zeroed).
 */
enum smile_err smile_vault_seal(const struct smile_vault *v, const uint8_t *aad, size_t aad_len,
				const uint8_t *pt, size_t pt_len,
				uint8_t wrapped_key[SMILE_VAULT_WRAPPED_KEY_BYTES], uint8_t *ct,
				size_t ct_cap, size_t *ct_len, struct smile_error *e)
	SMILE_MUST_CHECK;

/*
 * Open a sealed blob pair for the shipment `aad`. `wrapped_key` NULL means
 * the row's key was destroyed (erased). On success pt[0..*pt_len) is the
 * personal data (the caller wipes it when done: sodium_memzero).
 *
 * Returns:
 *   SMILE_OK
 *   SMILE_ERR_SHREDDED      wrapped_key is NULL: the data was erased and
 *                           nothing recovers it
 *   SMILE_ERR_INVALID       v, aad, ct, pt or pt_len NULL; aad_len 0 or over
 *                           SMILE_VAULT_AAD_MAX
 *   SMILE_ERR_BUFFER_SMALL  cap < ct_len - SMILE_VAULT_CT_OVERHEAD
 *   SMILE_ERR_DECRYPT       anything altered, truncated, from another
 *                           shipment, or wrapped by another vault key (the
 *                           message says which of "key" / "data" failed)
 * On error *pt_len is 0 and pt holds no plaintext (what was written is wiped).
 */
enum smile_err smile_vault_open(const struct smile_vault *v, const uint8_t *aad, size_t aad_len,
				const uint8_t *wrapped_key, const uint8_t *ct, size_t ct_len,
				uint8_t *pt, size_t cap, size_t *pt_len, struct smile_error *e)
	SMILE_MUST_CHECK;

/*
 * Rotation of the vault key: unwrap a data key with whichever key of `old_v`
 * wrapped it and wrap it again with the key `new_v` seals with (fresh nonce),
 * for the shipment `aad`. The ciphertext does not change. Idempotent: a key
 * already wrapped by new_v's sealing key is verified and copied, so an
 * interrupted `keys rotate-vault` can simply run again. `old_v` may equal
 * `new_v` (a vault holding both keys moves rows from the current key to the
 * next). `out` may equal `in`.
 *
 * Returns:
 *   SMILE_OK
 *   SMILE_ERR_INVALID  a NULL argument; aad_len 0 or over SMILE_VAULT_AAD_MAX
 *   SMILE_ERR_DECRYPT  `in` does not open under old_v (nor new_v) for this aad
 *   SMILE_ERR_CRYPTO   encryption failed
 * On error `out` is unchanged.
 */
enum smile_err smile_vault_rewrap(const struct smile_vault *old_v, const struct smile_vault *new_v,
				  const uint8_t *aad, size_t aad_len,
				  const uint8_t in[SMILE_VAULT_WRAPPED_KEY_BYTES],
				  uint8_t out[SMILE_VAULT_WRAPPED_KEY_BYTES], struct smile_error *e)
	SMILE_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
