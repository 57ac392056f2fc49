/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keys.h - the gateway's key files: creating, loading (with a strict
 * permission check), rotating and retiring token keys.
 *
 * Layout of DIR/keys/ (directory mode 0700, every file 0600, owned by the
 * user running the gateway):
 *
 *   token-NNN.key   32 bytes: token key with id NNN (000-255, three digits)
 *   token.current   text: the id of the key new tokens are minted with, "7\n"
 *   vault.key       32 bytes: vault key (wraps per-shipment data keys)
 *   vault.next.key  32 bytes: only while `keys rotate-vault` runs: the key the
 *                   vault moves to (docs/vault.md, "Rotating the vault key")
 *   sign.key        32 bytes: Ed25519 seed of the gateway signing key
 *   box.key         32 bytes: X25519 secret key of the gateway
 *
 * Key files are raw bytes. Public keys are derived at load time, never
 * stored. Every write is atomic and durable: a temporary file in keys/
 * (O_EXCL, 0600), write, fsync, rename or link into place, fsync keys/.
 * Changes take an exclusive flock on keys/, loading a shared one, so a
 * rotation never shows a loader half a state.
 *
 * A running daemon keeps what it loaded: after `keys rotate` or `keys retire`
 * it must load again (restart, or load a new struct smile_keys and swap it
 * in) to mint with the new key or to stop opening a retired one. The vault
 * keys alone can be reloaded in place (smile_keys_reload_vault), which is
 * what lets `keys rotate-vault` run while `serve` does.
 */
#ifndef SMILE_KEYS_H
#define SMILE_KEYS_H

#include <stdint.h>

#include "smile/error.h"
#include "token.h"
#include "vault.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SMILE_KEYS_SIGN_PK_BYTES 32 /* crypto_sign_PUBLICKEYBYTES */
#define SMILE_KEYS_SIGN_SK_BYTES 64 /* crypto_sign_SECRETKEYBYTES (seed + public key) */
#define SMILE_KEYS_BOX_PK_BYTES 32  /* crypto_box_PUBLICKEYBYTES (X25519) */
#define SMILE_KEYS_BOX_SK_BYTES 32  /* crypto_box_SECRETKEYBYTES */
#define SMILE_KEYS_FIRST_TOKEN_KID 1

struct smile_keys;

/*
 * For `smile-gateway init`: create DIR (0700) if it does not exist, and
 * DIR/keys/ with fresh random keys: token key 1 (current), vault, sign, box.
 * Refuses to touch an existing key set.
 *
 * Returns:
 *   SMILE_OK
 *   SMILE_ERR_INVALID     dir NULL or empty
 *   SMILE_ERR_EXISTS      DIR/keys/ already holds key files (nothing changed)
 *   SMILE_ERR_PERMISSION  DIR/keys/ exists but is not a 0700 directory of ours
 *   SMILE_ERR_IO          a file system call failed (e->field names the file;
 *                         a partly written key set may remain: remove DIR/keys/)
 *   SMILE_ERR_CRYPTO      libsodium unavailable
 */
enum smile_err smile_keys_create(const char *dir, struct smile_error *e);

/*
 * Load every key from DIR/keys/ into locked memory. The vault gets
 * vault.key and, during a rotation, vault.next.key as its next key (seals
 * then use it). An all-zero vault.key beside vault.next.key is an old key a
 * rotation destroyed just before it could rename the next key into place:
 * the next key is then the vault's only key. *out is set only on
 * success; free it with smile_keys_free. Before reading anything secret,
 * each of keys/ and the files it reads must be: not a symlink, a directory /
 * regular file, owned by the effective user, with no permission bits for
 * group or others (mode & 077 == 0).
 *
 * Returns:
 *   SMILE_OK
 *   SMILE_ERR_INVALID     dir or out NULL
 *   SMILE_ERR_NOT_FOUND   DIR/keys/ or a required file is missing (field: its
 *                         name relative to DIR, e.g. "keys/vault.key")
 *   SMILE_ERR_PERMISSION  a key file or keys/ is readable or writable by group
 *                         or others, not owned by us, a symlink, or not a
 *                         regular file / directory (field: the file; message:
 *                         what is wrong and the chmod that fixes it)
 *   SMILE_ERR_CONFIG      a key file has the wrong size, token.current is not
 *                         a key id, or names a key that is not there
 *   SMILE_ERR_IO          a read failed
 *   SMILE_ERR_CRYPTO      libsodium or locked memory unavailable
 *   SMILE_ERR_NOMEM
 */
enum smile_err smile_keys_load(const char *dir, struct smile_keys **out, struct smile_error *e)
	SMILE_MUST_CHECK;

/* Wipe every secret and free. NULL is a no-op. */
void smile_keys_free(struct smile_keys *k);

/* Accessors: borrowed pointers, valid until smile_keys_free(k). Secret keys
 * point into locked, read-only memory: never copy them out. */
const struct smile_token_keyring *smile_keys_token(const struct smile_keys *k);
const struct smile_vault *smile_keys_vault(const struct smile_keys *k);
const uint8_t *smile_keys_sign_pk(const struct smile_keys *k); /* 32 bytes, Ed25519 */
const uint8_t *smile_keys_sign_sk(const struct smile_keys *k); /* 64 bytes, for crypto_sign */
const uint8_t *smile_keys_box_pk(const struct smile_keys *k);  /* 32 bytes, X25519 */
const uint8_t *smile_keys_box_sk(const struct smile_keys *k);  /* 32 bytes, for crypto_box */

/*
 * `keys rotate`: create a new token key and make it current. The new id is
 * the next one after the current id (wrapping 255 -> 0) that is not in use;
 * older keys stay, so tokens already printed keep opening, until retired.
 * *new_kid (may be NULL) receives the new id.
 *
 * Returns SMILE_OK, SMILE_ERR_INVALID (dir NULL), SMILE_ERR_TOO_LARGE (256
 * keys held: retire some first), and every error of smile_keys_load for the
 * existing key directory (it is checked the same way first), SMILE_ERR_IO.
 */
enum smile_err smile_keys_rotate_token(const char *dir, uint8_t *new_kid, struct smile_error *e);

/*
 * `keys retire`: destroy token key `kid` (overwritten, then unlinked); labels
 * minted with it stop opening (SMILE_ERR_TOKEN_UNKNOWN_KEY).
 *
 * Returns SMILE_OK, SMILE_ERR_INVALID (dir NULL, or kid is the current key:
 * rotate first), SMILE_ERR_NOT_FOUND (no such key), the directory checks of
 * smile_keys_load, SMILE_ERR_IO.
 */
enum smile_err smile_keys_retire_token(const char *dir, uint8_t kid, struct smile_error *e);

/* ------------------------------------------------------------ vault rotation
 * The file steps of `keys rotate-vault` (gateway/vault_rotate.c runs them
 * with the store work in between; docs/vault.md has the whole procedure).
 * Each takes the exclusive lock on keys/ for its own duration only.
 */

/*
 * Step 1: make sure keys/vault.next.key exists. A fresh random key (with an
 * id other than the current key's) is written create-only, atomically and
 * durably, unless a next key is already there (a rotation being resumed):
 * then that one is kept. *old_kid gets the current key's id (0 when a crash
 * left it destroyed: only step 3 is left), *new_kid the next key's id,
 * *created (may be NULL) 1 when this call wrote the next key.
 *
 * Returns SMILE_OK, every error of smile_keys_load for the vault files,
 * SMILE_ERR_IO.
 */
enum smile_err smile_keys_vault_begin(const char *dir, uint32_t *old_kid, uint32_t *new_kid,
				      int *created, struct smile_error *e) SMILE_MUST_CHECK;

/*
 * Step 3, once no row is wrapped by the old key: overwrite keys/vault.key
 * (key `old_kid`) with zeros in place and fsync it, rename vault.next.key
 * (key `new_kid`) over it, fsync keys/. Idempotent: when vault.key already is
 * `new_kid` and no next key is left, nothing is done.
 *
 * Returns SMILE_OK, SMILE_ERR_CONFLICT (the files are not the keys named:
 * another rotation, or a change by hand; nothing was changed), the
 * directory checks of smile_keys_load, SMILE_ERR_IO.
 */
enum smile_err smile_keys_vault_finish(const char *dir, uint32_t old_kid, uint32_t new_kid,
				       struct smile_error *e) SMILE_MUST_CHECK;

/*
 * Load the vault files again (as smile_keys_load does) and, when the key ids
 * differ from those k's vault holds, exchange the keys into it (the pointer
 * smile_keys_vault returns stays valid; keys no longer used are wiped).
 * *changed (may be NULL) is 1 when the keys changed. On error k is unchanged.
 *
 * Returns SMILE_OK, SMILE_ERR_INVALID (k NULL), and the errors of
 * smile_keys_load for keys/ and the vault files.
 */
enum smile_err smile_keys_reload_vault(const char *dir, struct smile_keys *k, int *changed,
				       struct smile_error *e) SMILE_MUST_CHECK;

/* A number that changes whenever keys/vault.key or keys/vault.next.key is
 * created, written, replaced or removed (inode, size, times): a cheap poll
 * for whether smile_keys_reload_vault is worth calling. Reads no key. */
uint64_t smile_keys_vault_stamp(const char *dir);

#ifdef __cplusplus
}
#endif
#endif
