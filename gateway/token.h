/* SPDX-License-Identifier: Apache-2.0 */
/*
 * token.h - the QR token on a smile waybill: an encrypted, authenticated,
 * unlinkable reference to one shipment.
 *
 * A token is "SW1:" followed by 77 characters of Base45 (81 characters in all,
 * upper case, QR alphanumeric mode: fits a version 4 QR at ECC level M). The 77
 * characters are 51 bytes:
 *
 *   offset size  field
 *   0      1     version, 0x01                   } associated data: in clear,
 *   1      1     key id (0-255)                  } authenticated
 *   2      24    nonce, random per token (XChaCha20)
 *   26     9+16  XChaCha20-Poly1305-IETF of:
 *                  0   1  kind, 0x01 = shipment
 *                  1   8  shipment id, big-endian
 *                plus the 16-byte tag
 *
 * docs/token.md has the full specification and test vectors.
 *
 * Keys: a keyring holds up to 256 keys by id, one of them "current" for
 * minting. Rotation adds a key and makes it current; old tokens keep opening
 * until their key is removed (retired). Key bytes live in libsodium guarded,
 * locked memory (sodium_malloc), read-only except while the keyring is being
 * changed, and are wiped on free.
 *
 * Threads: minting and opening only read the keyring and may run concurrently
 * from any number of threads. Changing a keyring (_add, _set_current,
 * _remove) must not run concurrently with anything else on the same keyring;
 * a daemon that rotates builds a new keyring (smile_keys_load) and swaps it.
 */
#ifndef SMILE_TOKEN_H
#define SMILE_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smile/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SMILE_TOKEN_VERSION 1
#define SMILE_TOKEN_PREFIX "SW1:"
#define SMILE_TOKEN_PREFIX_LEN 4
#define SMILE_TOKEN_KEY_BYTES 32   /* crypto_aead_xchacha20poly1305_ietf_KEYBYTES */
#define SMILE_TOKEN_NONCE_BYTES 24 /* crypto_aead_xchacha20poly1305_ietf_NPUBBYTES */
#define SMILE_TOKEN_BIN_LEN 51     /* binary token: 2 + 24 + 9 + 16 */
#define SMILE_TOKEN_LEN 81         /* characters: 4 + Base45 of 51 bytes */
#define SMILE_TOKEN_MAX 82         /* buffer for a token and its NUL */

struct smile_token_keyring;

/*
 * A new, empty keyring (no current key). Returns NULL when out of memory or
 * when libsodium cannot initialise or lock memory. Free with
 * smile_token_keyring_free.
 */
struct smile_token_keyring *smile_token_keyring_new(void);

/* Wipe every key and free the keyring. NULL is a no-op. */
void smile_token_keyring_free(struct smile_token_keyring *kr);

/*
 * Copy `key` into the keyring under id `kid`. The caller keeps (and should
 * wipe) its copy. Does not change the current key.
 * Returns SMILE_OK, SMILE_ERR_INVALID (kr or key NULL), SMILE_ERR_EXISTS
 * (kid already held: remove it first), SMILE_ERR_CRYPTO (memory protection
 * failed). Details, if any, in `e` (may be NULL), field "kid".
 */
enum smile_err smile_token_keyring_add(struct smile_token_keyring *kr, uint8_t kid,
				       const uint8_t key[SMILE_TOKEN_KEY_BYTES],
				       struct smile_error *e);

/*
 * Make `kid` the key new tokens are minted with.
 * Returns SMILE_OK, SMILE_ERR_INVALID (kr NULL), SMILE_ERR_NOT_FOUND (no such
 * key).
 */
enum smile_err smile_token_keyring_set_current(struct smile_token_keyring *kr, uint8_t kid,
					       struct smile_error *e);

/*
 * Retire `kid`: its key is wiped, and tokens minted with it no longer open
 * (SMILE_ERR_TOKEN_UNKNOWN_KEY).
 * Returns SMILE_OK, SMILE_ERR_INVALID (kr NULL, or kid is the current key:
 * make another key current first), SMILE_ERR_NOT_FOUND (no such key),
 * SMILE_ERR_CRYPTO (memory protection failed).
 */
enum smile_err smile_token_keyring_remove(struct smile_token_keyring *kr, uint8_t kid,
					  struct smile_error *e);

/* The current key id, or -1 when there is none (or kr is NULL). */
int smile_token_keyring_current(const struct smile_token_keyring *kr);

/* Whether the keyring holds `kid`. */
bool smile_token_keyring_has(const struct smile_token_keyring *kr, uint8_t kid);

/* Key ids held, ascending, into ids[0..cap); returns how many are held
 * (which may exceed cap: only cap were written). ids may be NULL if cap is 0. */
size_t smile_token_keyring_ids(const struct smile_token_keyring *kr, uint8_t *ids, size_t cap);

/*
 * Mint a token for `shipment_id` with the current key and a fresh random
 * nonce: two tokens for the same shipment share nothing but the prefix, the
 * version and the key id. Writes SMILE_TOKEN_LEN characters and a NUL to out.
 * Returns SMILE_OK, SMILE_ERR_INVALID (kr or out NULL), SMILE_ERR_NOT_FOUND
 * (the keyring has no current key), SMILE_ERR_CRYPTO (encryption failed).
 * On error out holds "".
 */
enum smile_err smile_token_mint(const struct smile_token_keyring *kr, uint64_t shipment_id,
				char out[SMILE_TOKEN_MAX], struct smile_error *e);

/*
 * Deterministic minting with a caller-chosen key and nonce: for test vectors
 * and interoperability tests ONLY. Reusing a nonce with the same key makes
 * two labels linkable and weakens the encryption; production code calls
 * smile_token_mint. Same output and returns as smile_token_mint (no
 * SMILE_ERR_NOT_FOUND; SMILE_ERR_INVALID when key, nonce or out is NULL).
 */
enum smile_err smile_token_mint_det(const uint8_t key[SMILE_TOKEN_KEY_BYTES], uint8_t kid,
				    const uint8_t nonce[SMILE_TOKEN_NONCE_BYTES],
				    uint64_t shipment_id, char out[SMILE_TOKEN_MAX],
				    struct smile_error *e);

/*
 * Open the `len` bytes of `token` (exactly what the QR holds: no trailing
 * newline or spaces; it need not be NUL-terminated). On success
 * `*shipment_id` is the shipment. `*kid` (kid may be NULL) receives the key
 * id whenever the header could be read, also when the result is
 * SMILE_ERR_TOKEN_UNKNOWN_KEY or _TAMPERED, so callers can log it.
 * `*shipment_id` is 0 on every error. The checks run in this order and each
 * failure has its own code:
 *
 *   SMILE_ERR_INVALID            kr, token or shipment_id NULL
 *   SMILE_ERR_TOKEN_MALFORMED    not "SW<digit>:", a character outside the
 *                                Base45 alphabet (lower case included), longer
 *                                than a version 1 token, or invalid Base45
 *   SMILE_ERR_TOKEN_VERSION      "SW<digit>:" with a digit other than 1, or a
 *                                binary version byte / plaintext kind this
 *                                code does not know
 *   SMILE_ERR_TOKEN_TRUNCATED    a prefix of a token: shorter than 81 characters
 *   SMILE_ERR_TOKEN_UNKNOWN_KEY  key id not in the keyring (never held, or retired)
 *   SMILE_ERR_TOKEN_TAMPERED     authentication failed: altered bytes, or a
 *                                token minted with a different key under this id
 *
 * `e` (may be NULL) gets field "token" and a message that describes the input
 * (lengths, positions) without echoing it.
 */
enum smile_err smile_token_open(const struct smile_token_keyring *kr, const char *token,
				size_t len, uint64_t *shipment_id, uint8_t *kid,
				struct smile_error *e) SMILE_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
