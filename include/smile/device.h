/* SPDX-License-Identifier: Apache-2.0 */
/*
 * device.h - the portable device core for handhelds (firmware-bridge/core).
 *
 * What a scanner's firmware needs to speak docs/protocol.md: its keys (make,
 * save, load, print for enrolment), a sequence counter that never reuses a
 * number across crashes, building a signed scan, and opening the gateway's
 * reply. C99, no heap, no I/O of its own (storage comes through callbacks),
 * libsodium only. Every struct here is caller-allocated; those holding secret
 * keys must be wiped with the matching _wipe function.
 *
 * Call sodium_init() (or smile_proto_init()) once before any function here.
 */
#ifndef SMILE_DEVICE_H
#define SMILE_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "smile/error.h"
#include "smile/proto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ keys */

/* A device's identity: the Ed25519 key that signs its scans and the X25519
 * key that contact details are sealed to. Secret: wipe with
 * smile_device_keys_wipe(). */
struct smile_device_keys {
	char id[SMILE_PROTO_ID_MAX + 1];              /* NUL-terminated, valid id */
	uint8_t sign_pk[SMILE_PROTO_PK_BYTES];        /* Ed25519 public */
	uint8_t sign_sk[SMILE_PROTO_SIGN_SK_BYTES];   /* Ed25519 secret (seed || pk) */
	uint8_t box_pk[SMILE_PROTO_PK_BYTES];         /* X25519 public */
	uint8_t box_sk[SMILE_PROTO_BOX_SK_BYTES];     /* X25519 secret */
};

/*
 * Key file image (docs/protocol.md "Device key file"): fixed size, versioned,
 *   "SMDK" | version 1 | id_len | id (32, zero padded) | Ed25519 seed (32) |
 *   X25519 secret (32) | BLAKE2b-128 of the 102 bytes before it
 */
#define SMILE_DEVICE_KEYFILE_VERSION 1
#define SMILE_DEVICE_KEYFILE_BYTES (4 + 1 + 1 + SMILE_PROTO_ID_MAX + 32 + 32 + 16)

/* {"id":"<id>","sign_pk":"<b64>","box_pk":"<b64>"} plus NUL, at the longest id. */
#define SMILE_DEVICE_ENROLMENT_MAX (34 + SMILE_PROTO_ID_MAX + 2 * 44 + 1)

/* Fresh random keys for device `id` (NUL-terminated). Returns SMILE_OK,
 * SMILE_ERR_INVALID (id not 1-32 of [A-Za-z0-9_-]; k zeroed) or SMILE_ERR_CRYPTO. */
enum smile_err smile_device_keygen(const char *id, struct smile_device_keys *k,
				   struct smile_error *e) SMILE_MUST_CHECK;

/* Keys from fixed secrets (test vectors, or a secure element that holds the
 * seeds): Ed25519 key from sign_seed (crypto_sign_seed_keypair), X25519 secret
 * = box_sk as given, public = X25519(box_sk, 9). Same returns as keygen. */
enum smile_err smile_device_keys_from_seeds(const char *id,
					    const uint8_t sign_seed[SMILE_PROTO_SEED_BYTES],
					    const uint8_t box_sk[SMILE_PROTO_BOX_SK_BYTES],
					    struct smile_device_keys *k,
					    struct smile_error *e) SMILE_MUST_CHECK;

/* Zero every byte of k. */
void smile_device_keys_wipe(struct smile_device_keys *k);

/* Write the key file image of k into out (exactly SMILE_DEVICE_KEYFILE_BYTES).
 * The image holds secrets: write it to a file only the device can read, then
 * wipe it. */
void smile_device_keys_save(const struct smile_device_keys *k,
			    uint8_t out[SMILE_DEVICE_KEYFILE_BYTES]);

/* Load a key file image. Returns SMILE_OK; SMILE_ERR_INVALID (wrong size, not
 * a key file, checksum mismatch, bad id; e names which); SMILE_ERR_UNSUPPORTED
 * (a newer key file version); SMILE_ERR_CRYPTO. On error k is zeroed. */
enum smile_err smile_device_keys_load(const uint8_t *img, size_t len,
				      struct smile_device_keys *k,
				      struct smile_error *e) SMILE_MUST_CHECK;

/* Write the enrolment JSON of k (public parts only, standard padded base64,
 * no spaces, NUL-terminated) into out; *len (may be NULL) gets its length
 * without the NUL. Returns SMILE_OK, or SMILE_ERR_BUFFER_SMALL (out then ""
 * when cap > 0). SMILE_DEVICE_ENROLMENT_MAX is always enough. */
enum smile_err smile_device_enrolment_json(const struct smile_device_keys *k, char *out,
					   size_t cap, size_t *len) SMILE_MUST_CHECK;

/* ------------------------------------------------------------ session */

/* A device bound to its gateway: its keys, the gateway's signing key, and the
 * cached X25519 shared key. Fields are private to the core; secret: wipe with
 * smile_device_wipe(). */
struct smile_device {
	struct smile_device_keys keys;
	uint8_t gw_sign_pk[SMILE_PROTO_PK_BYTES];
	uint8_t shared_key[SMILE_PROTO_KEY_BYTES];
};

/* Fill d from k (copied) and the gateway's public keys (GET /v1/gateway).
 * Returns SMILE_OK; SMILE_ERR_INVALID (k->id not valid); SMILE_ERR_CRYPTO
 * (gw_box_pk is a low-order point). On error d is zeroed. */
enum smile_err smile_device_init(struct smile_device *d, const struct smile_device_keys *k,
				 const uint8_t gw_sign_pk[SMILE_PROTO_PK_BYTES],
				 const uint8_t gw_box_pk[SMILE_PROTO_PK_BYTES],
				 struct smile_error *e) SMILE_MUST_CHECK;

/* Zero every byte of d. */
void smile_device_wipe(struct smile_device *d);

/* ------------------------------------------------------------ sequence */

/*
 * Durable storage for the sequence counter, supplied by the caller (a file
 * written with fsync + rename, a flash page, NVRAM).
 *   read:  *next = the stored value; SMILE_ERR_NOT_FOUND when nothing was ever
 *          stored; any other error when the store cannot be read (the core
 *          then refuses to hand out numbers rather than guess).
 *   write: store `next` and return only once it is durable (it survives power
 *          loss); SMILE_OK or an error (e.g. SMILE_ERR_IO).
 * The stored value is "every number below it may have been used".
 */
struct smile_seq_store {
	void *ctx;
	enum smile_err (*read)(void *ctx, uint64_t *next);
	enum smile_err (*write)(void *ctx, uint64_t next);
};

#define SMILE_SEQ_BLOCK_MAX 1000000u

/* Sequence state. Fields are private to the core. */
struct smile_seq {
	const struct smile_seq_store *store; /* not owned; must outlive the state */
	uint64_t next;  /* next number to hand out */
	uint64_t limit; /* numbers below this are covered by the stored value */
	uint32_t block;
};

/*
 * Open the counter: reads the stored value (1 when none). `block` (1 ..
 * SMILE_SEQ_BLOCK_MAX) is how many numbers one write reserves: 1 writes before
 * every scan; N writes once per N scans and a crash skips at most N-1
 * numbers, never reuses one. Returns SMILE_OK; SMILE_ERR_INVALID (block or
 * store); or the store's read error.
 */
enum smile_err smile_seq_open(struct smile_seq *s, const struct smile_seq_store *store,
			      uint32_t block, struct smile_error *e) SMILE_MUST_CHECK;

/*
 * Take the next number into *out. When the reservation is used up it first
 * writes the new limit (durably) and hands out nothing if that write fails.
 * Returns SMILE_OK; the store's write error; SMILE_ERR_TOO_LARGE (the 64-bit
 * space is exhausted).
 */
enum smile_err smile_seq_take(struct smile_seq *s, uint64_t *out,
			      struct smile_error *e) SMILE_MUST_CHECK;

/* ------------------------------------------------------------ scans, replies */

/*
 * Build a signed scan. The caller fills s->event, s->token/token_len,
 * s->time_ms, s->scanned_ms, s->has_location/location; this sets
 * s->device_id/device_id_len (to d's id) and s->seq. Inputs are checked
 * before a sequence number is taken, so a bad token spends none.
 * Returns SMILE_OK with *len (<= SMILE_SCAN_MAX_BYTES); SMILE_ERR_INVALID (a
 * field, named in e); SMILE_ERR_BUFFER_SMALL; the smile_seq_take errors;
 * SMILE_ERR_CRYPTO. Keep the bytes until a reply arrives: a retry must send
 * exactly them (docs/protocol.md "Replay and retransmission").
 */
enum smile_err smile_device_build_scan(const struct smile_device *d, struct smile_seq *seq,
				       struct smile_scan *s, uint8_t *out, size_t cap,
				       size_t *len, struct smile_error *e) SMILE_MUST_CHECK;

/*
 * Check and open a reply to the scan `scan` (the exact bytes this device
 * sent). It accepts the reply only when it is well formed, signed by this
 * gateway, addressed to this device, and answers this scan (its digest and
 * sequence number); then, when revealed, it decrypts the contact details into
 * contact[0..cap) (not NUL-terminated; *contact_len set; 0 when none).
 * `out` points into msg (masked view, waybill, status, reason).
 * Returns SMILE_OK; SMILE_ERR_INVALID (`scan` is not a scan by this device);
 * SMILE_ERR_PROTO / PROTO_VERSION / TOO_LARGE (malformed reply);
 * SMILE_ERR_BAD_SIGNATURE (not this gateway's, or altered);
 * SMILE_ERR_CONFLICT (a genuine reply, but for another device or another
 * scan: ignore it and keep waiting); SMILE_ERR_DECRYPT (contact did not
 * authenticate); SMILE_ERR_BUFFER_SMALL (cap too small for the contact).
 * On error *contact_len is 0 and contact[0..cap) wiped. The contact is
 * personal data: show it, then wipe it (sodium_memzero).
 */
enum smile_err smile_device_open_reply(const struct smile_device *d, const uint8_t *scan,
				       size_t scan_len, const uint8_t *msg, size_t len,
				       struct smile_reply *out, uint8_t *contact, size_t cap,
				       size_t *contact_len, struct smile_error *e) SMILE_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
