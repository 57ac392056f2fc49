/* SPDX-License-Identifier: Apache-2.0 */
/*
 * device.c - the handheld side of docs/protocol.md: keys, key file image,
 * enrolment JSON, a crash-safe sequence counter, scans out, replies in.
 *
 * The idea that makes the counter safe: the store holds a number below which
 * everything may have been used, and that number is made durable BEFORE any
 * number under it is handed out. After a crash the device resumes at the
 * stored value: it may skip numbers it reserved but never sent, and can never
 * send one twice. Reserving blocks of N trades skipped numbers for flash writes.
 *
 * C99, no heap, no I/O (storage comes through callbacks); libsodium only.
 */
#include <string.h>

#include <sodium.h>

#include "smile/device.h"

#include "core_internal.h"

#define FAIL(code, field, msg) smile_core_fail(e, (code), (field), (msg))

static const uint8_t keyfile_magic[4] = {'S', 'M', 'D', 'K'};

/* Offsets in the key file image (device.h). */
#define KF_VERSION 4
#define KF_ID_LEN 5
#define KF_ID 6
#define KF_SIGN_SEED (KF_ID + SMILE_PROTO_ID_MAX)
#define KF_BOX_SK (KF_SIGN_SEED + 32)
#define KF_CHECK (KF_BOX_SK + 32)
#define KF_CHECK_BYTES 16

/* ------------------------------------------------------------ keys */

void smile_device_keys_wipe(struct smile_device_keys *k)
{
	sodium_memzero(k, sizeof(*k));
}

enum smile_err smile_device_keys_from_seeds(const char *id,
					    const uint8_t sign_seed[SMILE_PROTO_SEED_BYTES],
					    const uint8_t box_sk[SMILE_PROTO_BOX_SK_BYTES],
					    struct smile_device_keys *k, struct smile_error *e)
{
	size_t n = id ? strlen(id) : 0;

	smile_device_keys_wipe(k);
	if (!smile_proto_id_valid(id, n))
		return FAIL(SMILE_ERR_INVALID, "id", "need 1-32 of A-Z a-z 0-9 _ -");
	memcpy(k->id, id, n);
	k->id[n] = '\0';
	memcpy(k->box_sk, box_sk, SMILE_PROTO_BOX_SK_BYTES);
	if (crypto_sign_seed_keypair(k->sign_pk, k->sign_sk, sign_seed) != 0 ||
	    crypto_scalarmult_base(k->box_pk, k->box_sk) != 0) {
		smile_device_keys_wipe(k);
		return FAIL(SMILE_ERR_CRYPTO, "keys", "key derivation failed");
	}
	return SMILE_OK;
}

enum smile_err smile_device_keygen(const char *id, struct smile_device_keys *k,
				   struct smile_error *e)
{
	uint8_t seed[SMILE_PROTO_SEED_BYTES], box[SMILE_PROTO_BOX_SK_BYTES];
	enum smile_err err;

	randombytes_buf(seed, sizeof(seed));
	randombytes_buf(box, sizeof(box));
	err = smile_device_keys_from_seeds(id, seed, box, k, e);
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(box, sizeof(box));
	return err;
}

void smile_device_keys_save(const struct smile_device_keys *k,
			    uint8_t out[SMILE_DEVICE_KEYFILE_BYTES])
{
	size_t n = strlen(k->id);

	memset(out, 0, SMILE_DEVICE_KEYFILE_BYTES);
	memcpy(out, keyfile_magic, sizeof(keyfile_magic));
	out[KF_VERSION] = SMILE_DEVICE_KEYFILE_VERSION;
	out[KF_ID_LEN] = (uint8_t)n;
	memcpy(out + KF_ID, k->id, n);
	/* libsodium's Ed25519 secret key is seed || public key. */
	memcpy(out + KF_SIGN_SEED, k->sign_sk, 32);
	memcpy(out + KF_BOX_SK, k->box_sk, 32);
	crypto_generichash(out + KF_CHECK, KF_CHECK_BYTES, out, KF_CHECK, NULL, 0);
}

enum smile_err smile_device_keys_load(const uint8_t *img, size_t len,
				      struct smile_device_keys *k, struct smile_error *e)
{
	uint8_t check[KF_CHECK_BYTES];
	char id[SMILE_PROTO_ID_MAX + 1];
	size_t n, i;

	smile_device_keys_wipe(k);
	if (img == NULL || len != SMILE_DEVICE_KEYFILE_BYTES)
		return FAIL(SMILE_ERR_INVALID, "keyfile", "wrong size for a device key file");
	if (memcmp(img, keyfile_magic, sizeof(keyfile_magic)) != 0)
		return FAIL(SMILE_ERR_INVALID, "keyfile", "not a device key file");
	if (img[KF_VERSION] != SMILE_DEVICE_KEYFILE_VERSION)
		return FAIL(SMILE_ERR_UNSUPPORTED, "keyfile.version", "key file version not supported");
	crypto_generichash(check, sizeof(check), img, KF_CHECK, NULL, 0);
	if (sodium_memcmp(check, img + KF_CHECK, KF_CHECK_BYTES) != 0)
		return FAIL(SMILE_ERR_INVALID, "keyfile.checksum", "checksum mismatch: corrupted");
	n = img[KF_ID_LEN];
	if (!smile_proto_id_valid((const char *)(img + KF_ID), n))
		return FAIL(SMILE_ERR_INVALID, "keyfile.id", "not a valid device id");
	for (i = n; i < SMILE_PROTO_ID_MAX; i++)
		if (img[KF_ID + i] != 0)
			return FAIL(SMILE_ERR_INVALID, "keyfile.id", "padding not zero");
	memcpy(id, img + KF_ID, n);
	id[n] = '\0';
	return smile_device_keys_from_seeds(id, img + KF_SIGN_SEED, img + KF_BOX_SK, k, e);
}

/* Append n bytes of s at *pos if they fit below cap - 1 (room for the NUL). */
static int put_str(char *out, size_t cap, size_t *pos, const char *s, size_t n)
{
	if (cap == 0 || *pos + n > cap - 1)
		return 0;
	memcpy(out + *pos, s, n);
	*pos += n;
	return 1;
}

enum smile_err smile_device_enrolment_json(const struct smile_device_keys *k, char *out,
					   size_t cap, size_t *len)
{
	char sign_b64[SMILE_PROTO_KEY_B64_BYTES], box_b64[SMILE_PROTO_KEY_B64_BYTES];
	size_t pos = 0;
	int ok;

	if (len)
		*len = 0;
	smile_proto_key_to_base64(k->sign_pk, sign_b64);
	smile_proto_key_to_base64(k->box_pk, box_b64);
	/* The id charset and base64 need no JSON escaping. */
	ok = put_str(out, cap, &pos, "{\"id\":\"", 7) &&
	     put_str(out, cap, &pos, k->id, strlen(k->id)) &&
	     put_str(out, cap, &pos, "\",\"sign_pk\":\"", 13) &&
	     put_str(out, cap, &pos, sign_b64, 44) &&
	     put_str(out, cap, &pos, "\",\"box_pk\":\"", 12) &&
	     put_str(out, cap, &pos, box_b64, 44) && put_str(out, cap, &pos, "\"}", 2);
	if (!ok) {
		if (cap > 0)
			out[0] = '\0';
		return SMILE_ERR_BUFFER_SMALL;
	}
	out[pos] = '\0';
	if (len)
		*len = pos;
	return SMILE_OK;
}

/* ------------------------------------------------------------ session */

void smile_device_wipe(struct smile_device *d)
{
	sodium_memzero(d, sizeof(*d));
}

enum smile_err smile_device_init(struct smile_device *d, const struct smile_device_keys *k,
				 const uint8_t gw_sign_pk[SMILE_PROTO_PK_BYTES],
				 const uint8_t gw_box_pk[SMILE_PROTO_PK_BYTES],
				 struct smile_error *e)
{
	smile_device_wipe(d);
	if (!smile_proto_id_valid(k->id, strlen(k->id)))
		return FAIL(SMILE_ERR_INVALID, "keys.id", "not a valid device id");
	if (smile_proto_shared_key(k->box_sk, gw_box_pk, d->shared_key) != SMILE_OK) {
		smile_device_wipe(d);
		return FAIL(SMILE_ERR_CRYPTO, "gateway.box_pk", "not a usable X25519 key");
	}
	d->keys = *k;
	memcpy(d->gw_sign_pk, gw_sign_pk, SMILE_PROTO_PK_BYTES);
	return SMILE_OK;
}

/* ------------------------------------------------------------ sequence */

enum smile_err smile_seq_open(struct smile_seq *s, const struct smile_seq_store *store,
			      uint32_t block, struct smile_error *e)
{
	uint64_t v = 0;
	enum smile_err err;

	memset(s, 0, sizeof(*s));
	if (block < 1 || block > SMILE_SEQ_BLOCK_MAX)
		return FAIL(SMILE_ERR_INVALID, "seq.block", "need 1-1000000");
	if (store == NULL || store->read == NULL || store->write == NULL)
		return FAIL(SMILE_ERR_INVALID, "seq.store", "read and write callbacks needed");
	err = store->read(store->ctx, &v);
	if (err == SMILE_ERR_NOT_FOUND)
		v = 1;
	else if (err != SMILE_OK)
		return FAIL(err, "seq.store", "reading the stored sequence failed");
	if (v == 0)
		v = 1; /* sequence numbers start at 1 */
	s->store = store;
	s->next = v;
	s->limit = v; /* nothing reserved by this run yet */
	s->block = block;
	return SMILE_OK;
}

enum smile_err smile_seq_take(struct smile_seq *s, uint64_t *out, struct smile_error *e)
{
	enum smile_err err;

	*out = 0;
	if (s->store == NULL)
		return FAIL(SMILE_ERR_INVALID, "seq", "not opened");
	if (s->next >= s->limit) {
		uint64_t lim;

		if (s->next > UINT64_MAX - s->block)
			return FAIL(SMILE_ERR_TOO_LARGE, "seq", "sequence numbers exhausted");
		lim = s->next + s->block;
		/* Durable before any number below lim leaves this function. */
		err = s->store->write(s->store->ctx, lim);
		if (err != SMILE_OK)
			return FAIL(err, "seq.store", "storing the sequence reservation failed");
		s->limit = lim;
	}
	*out = s->next++;
	return SMILE_OK;
}

/* ------------------------------------------------------------ scans, replies */

enum smile_err smile_device_build_scan(const struct smile_device *d, struct smile_seq *seq,
				       struct smile_scan *s, uint8_t *out, size_t cap,
				       size_t *len, struct smile_error *e)
{
	enum smile_err err;
	uint64_t n;

	*len = 0;
	s->device_id = d->keys.id;
	s->device_id_len = strlen(d->keys.id);
	s->seq = 1; /* placeholder: validate everything before spending a number */
	err = smile_core_scan_check(s, out ? cap : 0, e);
	if (err != SMILE_OK)
		return err;
	err = smile_seq_take(seq, &n, e);
	if (err != SMILE_OK)
		return err;
	s->seq = n;
	return smile_scan_encode(s, d->keys.sign_sk, out, cap, len, e);
}

enum smile_err smile_device_open_reply(const struct smile_device *d, const uint8_t *scan,
				       size_t scan_len, const uint8_t *msg, size_t len,
				       struct smile_reply *out, uint8_t *contact, size_t cap,
				       size_t *contact_len, struct smile_error *e)
{
	struct smile_scan s;
	struct smile_reply r;
	uint8_t digest[SMILE_PROTO_DIGEST_BYTES];
	size_t idn = strlen(d->keys.id);
	enum smile_err err;

	*contact_len = 0;
	memset(out, 0, sizeof(*out));
	if (smile_scan_decode(scan, scan_len, &s, NULL) != SMILE_OK || s.device_id_len != idn ||
	    memcmp(s.device_id, d->keys.id, idn) != 0) {
		err = FAIL(SMILE_ERR_INVALID, "scan", "not a scan by this device");
		goto out;
	}
	err = smile_reply_decode(msg, len, &r, e);
	if (err != SMILE_OK)
		goto out;
	err = smile_reply_verify(msg, len, d->gw_sign_pk, e);
	if (err != SMILE_OK)
		goto out;
	if (r.device_id_len != idn || memcmp(r.device_id, d->keys.id, idn) != 0) {
		err = FAIL(SMILE_ERR_CONFLICT, "reply.device_id", "addressed to another device");
		goto out;
	}
	err = smile_scan_digest(scan, scan_len, digest);
	if (err != SMILE_OK)
		goto out;
	if (sodium_memcmp(digest, r.scan_digest, sizeof(digest)) != 0) {
		err = FAIL(SMILE_ERR_CONFLICT, "reply.scan_digest", "answers another scan");
		goto out;
	}
	/* seq 0: the gateway could not read the scan (status error). */
	if (r.seq != s.seq && !(r.seq == 0 && r.status == SMILE_STATUS_ERROR)) {
		err = FAIL(SMILE_ERR_CONFLICT, "reply.seq", "answers another sequence number");
		goto out;
	}
	if (r.status == SMILE_STATUS_REVEALED) {
		err = smile_reply_open_contact(msg, len, d->shared_key, contact, cap, contact_len, e);
		if (err != SMILE_OK)
			goto out;
	}
	*out = r;
out:
	if (err != SMILE_OK) {
		*contact_len = 0;
		if (contact && cap)
			sodium_memzero(contact, cap);
	}
	return err;
}
