/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vault_rotate.h (gateway-internal) - rotating the vault key while `serve`
 * runs: the command's side (`keys rotate-vault`, `vault check`) and the
 * serving gateway's side (watching the key files, acknowledging the key it
 * seals with, dropping the old key). docs/vault.md, "Rotating the vault key",
 * describes the procedure and what happens when either side stops half-way.
 *
 * The two sides talk through two meta rows of the store:
 *   vault.sealing   written by serve: "seal=KKKKKKKK cur=CCCCCCCC next=NNNNNNNN|-",
 *                   the keys it holds, written only once every request that
 *                   may have sealed with an earlier key has finished
 *   vault.rotation  written by the command: "OOOOOOOO NNNNNNNN" while a
 *                   rotation from key O to key N is unfinished; deleted, with
 *                   the "vault.rotate" audit entry in the same transaction, by
 *                   whichever process first holds key N alone (serve, or the
 *                   command when no gateway serves the data directory)
 */
#ifndef SMILE_GATEWAY_VAULT_ROTATE_H
#define SMILE_GATEWAY_VAULT_ROTATE_H

#include <stddef.h>
#include <stdint.h>

#include "gateway.h"

#define VAULT_META_SEALING "vault.sealing"
#define VAULT_META_ROTATION "vault.rotation"

/* ------------------------------------------------------------ serve's side */

/* Start the watcher thread: reload the vault keys now (they may have changed
 * since gateway_open), record vault.sealing, finish a rotation whose old key
 * is gone, then poll keys/ once a second. Returns SMILE_OK, SMILE_ERR_NOMEM,
 * SMILE_ERR_INTERNAL (no thread), and the errors of smile_keys_reload_vault. */
enum smile_err vault_rotate_watch_start(struct gateway *g, struct smile_error *e)
	SMILE_MUST_CHECK;
/* Stop and free the watcher; nothing when it was not started. */
void vault_rotate_watch_stop(struct gateway *g);

/* ------------------------------------------------------------ the command's side */

struct vault_rotate_opts {
	double timeout_s; /* longest wait for the serving gateway, each time (> 0) */
	size_t batch;     /* rows per rewrap transaction, 1..VAULT_ROTATE_BATCH_MAX */
};
#define VAULT_ROTATE_BATCH_MAX 10000

struct vault_rotate_report {
	uint32_t old_kid, new_kid; /* old_kid 0: it was destroyed before this run */
	int resumed;               /* vault.next.key was there already */
	int serving;               /* a gateway served the data directory */
	int finished_earlier;      /* only the confirmation was left to do */
	uint64_t rewrapped;        /* rows moved to the new key */
	uint64_t skipped;          /* rows erased (or changed) while being moved */
	uint64_t foreign;          /* rows under a key neither old nor new: unreadable */
	unsigned passes;
	double seconds;            /* rewrap passes only */
};

/*
 * `keys rotate-vault --data DIR`. Returns SMILE_OK when the old key is
 * destroyed and no gateway holds it any more; otherwise nothing that was
 * done is lost and running it again resumes. Errors: SMILE_ERR_BUSY (another
 * rotation runs), SMILE_ERR_TIMEOUT (the serving gateway did not answer in
 * time: e says which step), SMILE_ERR_DECRYPT (rows under the old key do not
 * open: the old key is kept, e names the first shipment id),
 * SMILE_ERR_CONFLICT (the key files changed under the rotation), and the
 * errors of gateway_open, the keys and the store.
 */
enum smile_err vault_rotate_run(const char *dir, const struct vault_rotate_opts *o,
				struct vault_rotate_report *r, struct smile_error *e) SMILE_MUST_CHECK;

#define VAULT_CHECK_KIDS 8

struct vault_check_report {
	uint64_t rows;    /* personal rows held (erased rows have none) */
	uint64_t opened;  /* opened with the keys in DIR/keys */
	uint64_t not_held;/* wrapped by a vault key DIR/keys does not hold */
	uint64_t failed;  /* a held key, but the row does not authenticate */
	uint64_t first_failed; /* shipment id, 0 when none */
	struct {
		uint32_t kid;
		uint64_t rows;
	} kids[VAULT_CHECK_KIDS]; /* per key not held, the first few */
	int n_kids;
};

/*
 * `vault check --data DIR [--store FILE]`: try to open every personal row of
 * FILE (default: DIR's own store; opened read-only, never changed) with the
 * vault keys of DIR. Plaintext is wiped at once and never shown. Returns
 * SMILE_OK (the report says what opened) or the errors of gateway_open and
 * smile_store_each_personal.
 */
enum smile_err vault_rotate_check(const char *dir, const char *store, struct vault_check_report *r,
				  struct smile_error *e) SMILE_MUST_CHECK;

/* ------------------------------------------------------------ doors (cli_vault.c) */

/* `smile-gateway keys rotate-vault ...` (argv[0] is "rotate-vault") and
 * `smile-gateway vault ...` (argv[0] is "vault"); exit codes. */
int cli_keys_rotate_vault(int argc, char **argv);
int cli_vault(int argc, char **argv);

#endif
