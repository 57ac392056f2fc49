/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for firmware-bridge/core/device.c: keys and the key file image,
 * the enrolment JSON, the crash-safe sequence counter (simulated crashes and
 * failing storage), building scans, and opening replies: every reply the
 * device must refuse (another gateway, another device, another scan or
 * sequence, tampered, sealed to another key). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "smile/credentials.h"
#include "smile/device.h"
#include "smile/proto.h"
#include "unit/device/proto_vectors.h"

static struct smile_device_keys vdev, vgw; /* the docs/protocol.md vector keys */

static int setup(void **state)
{
	(void)state;
	if (smile_proto_init() != SMILE_OK)
		return -1;
	if (v_vector_keys(&vdev, &vgw) != 0)
		return -1;
	return 0;
}

static size_t hex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = v_hex(h, out, cap);
	assert_int_equal(n * 2, strlen(h));
	return n;
}

static int all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

/* ------------------------------------------------------------ keys */

static void keygen_makes_distinct_working_keys(void **state)
{
	struct smile_device_keys a, b;
	uint8_t msg[3] = {1, 2, 3}, sig[64];
	struct smile_error e = {0};
	(void)state;
	assert_int_equal(smile_device_keygen("hub-7", &a, NULL), SMILE_OK);
	assert_int_equal(smile_device_keygen("hub-7", &b, NULL), SMILE_OK);
	assert_string_equal(a.id, "hub-7");
	assert_memory_not_equal(a.sign_pk, b.sign_pk, 32);
	assert_memory_not_equal(a.box_sk, b.box_sk, 32);
	/* the pair really is a pair */
	crypto_sign_detached(sig, NULL, msg, 3, a.sign_sk);
	assert_int_equal(crypto_sign_verify_detached(sig, msg, 3, a.sign_pk), 0);
	uint8_t pk[32];
	crypto_scalarmult_base(pk, a.box_sk);
	assert_memory_equal(pk, a.box_pk, 32);

	assert_int_equal(smile_device_keygen("bad id", &a, &e), SMILE_ERR_INVALID);
	assert_string_equal(e.field, "id");
	assert_true(all_zero(&a, sizeof(a)));
	assert_int_equal(smile_device_keygen("", &a, NULL), SMILE_ERR_INVALID);
	assert_int_equal(smile_device_keygen("abcdefghijklmnopqrstuvwxyz0123456", &a, NULL),
			 SMILE_ERR_INVALID);
	assert_int_equal(smile_device_keygen(NULL, &a, NULL), SMILE_ERR_INVALID);
	smile_device_keys_wipe(&b);
	assert_true(all_zero(&b, sizeof(b)));
}

static void key_file_vector_and_round_trip(void **state)
{
	uint8_t img[SMILE_DEVICE_KEYFILE_BYTES], want[SMILE_DEVICE_KEYFILE_BYTES];
	struct smile_device_keys k;
	(void)state;
	assert_int_equal(SMILE_DEVICE_KEYFILE_BYTES, 118);
	smile_device_keys_save(&vdev, img);
	hex(V_KEYFILE, want, sizeof(want));
	assert_memory_equal(img, want, sizeof(img));
	assert_int_equal(smile_device_keys_load(img, sizeof(img), &k, NULL), SMILE_OK);
	assert_memory_equal(&k, &vdev, sizeof(k));

	/* a random key with the longest id */
	struct smile_device_keys r;
	assert_int_equal(smile_device_keygen("abcdefghijklmnopqrstuvwxyz012345", &r, NULL),
			 SMILE_OK);
	smile_device_keys_save(&r, img);
	assert_int_equal(smile_device_keys_load(img, sizeof(img), &k, NULL), SMILE_OK);
	assert_memory_equal(&k, &r, sizeof(k));
	smile_device_keys_wipe(&k);
	smile_device_keys_wipe(&r);
}

/* Recompute the checksum of an image altered on purpose. */
static void reseal(uint8_t *img)
{
	crypto_generichash(img + 102, 16, img, 102, NULL, 0);
}

static void key_file_rejections(void **state)
{
	uint8_t img[SMILE_DEVICE_KEYFILE_BYTES + 1];
	struct smile_device_keys k;
	struct smile_error e = {0};
	(void)state;
	smile_device_keys_save(&vdev, img);

	assert_int_equal(smile_device_keys_load(img, 117, &k, &e), SMILE_ERR_INVALID);
	assert_int_equal(smile_device_keys_load(img, 119, &k, &e), SMILE_ERR_INVALID);
	assert_int_equal(smile_device_keys_load(NULL, 118, &k, &e), SMILE_ERR_INVALID);
	/* every single-bit error is caught (magic, version, checksum, or content) */
	for (size_t i = 0; i < SMILE_DEVICE_KEYFILE_BYTES; i++) {
		img[i] ^= 0x04;
		assert_int_not_equal(smile_device_keys_load(img, 118, &k, NULL), SMILE_OK);
		assert_true(all_zero(&k, sizeof(k)));
		img[i] ^= 0x04;
	}
	img[1] = 'X';
	assert_int_equal(smile_device_keys_load(img, 118, &k, &e), SMILE_ERR_INVALID);
	assert_string_equal(e.field, "keyfile");
	img[1] = 'M';
	img[4] = 2;
	reseal(img);
	assert_int_equal(smile_device_keys_load(img, 118, &k, &e), SMILE_ERR_UNSUPPORTED);
	img[4] = 1;
	img[50] = 1; /* seed byte changed, checksum not updated */
	assert_int_equal(smile_device_keys_load(img, 118, &k, &e), SMILE_ERR_INVALID);
	assert_string_equal(e.field, "keyfile.checksum");
	smile_device_keys_save(&vdev, img);
	img[6 + 12] = 'z'; /* junk in the id padding */
	reseal(img);
	assert_int_equal(smile_device_keys_load(img, 118, &k, &e), SMILE_ERR_INVALID);
	assert_string_equal(e.field, "keyfile.id");
	smile_device_keys_save(&vdev, img);
	img[6 + 3] = '/';
	reseal(img);
	assert_int_equal(smile_device_keys_load(img, 118, &k, &e), SMILE_ERR_INVALID);
	smile_device_keys_save(&vdev, img);
	img[5] = 0; /* empty id */
	reseal(img);
	assert_int_equal(smile_device_keys_load(img, 118, &k, &e), SMILE_ERR_INVALID);
	img[5] = 33;
	reseal(img);
	assert_int_equal(smile_device_keys_load(img, 118, &k, &e), SMILE_ERR_INVALID);
	sodium_memzero(img, sizeof(img));
}

static void enrolment_json(void **state)
{
	char out[SMILE_DEVICE_ENROLMENT_MAX];
	size_t len = 0, need = strlen(V_ENROLMENT);
	struct smile_device_keys r;
	(void)state;
	assert_int_equal(smile_device_enrolment_json(&vdev, out, sizeof(out), &len), SMILE_OK);
	assert_string_equal(out, V_ENROLMENT);
	assert_int_equal(len, need);
	/* the exact size fits; one less is refused, leaving "" */
	assert_int_equal(smile_device_enrolment_json(&vdev, out, need + 1, &len), SMILE_OK);
	for (size_t cap = 0; cap <= need; cap++) {
		memset(out, 'x', sizeof(out));
		assert_int_equal(smile_device_enrolment_json(&vdev, out, cap, &len),
				 SMILE_ERR_BUFFER_SMALL);
		assert_int_equal(len, 0);
		if (cap)
			assert_int_equal(out[0], '\0');
	}
	/* the keys it prints decode back to the public keys */
	uint8_t k[32];
	assert_int_equal(smile_device_enrolment_json(&vdev, out, sizeof(out), NULL), SMILE_OK);
	assert_int_equal(smile_proto_key_from_base64(strstr(out, "\"box_pk\":\"") + 10, 44, k),
			 SMILE_OK);
	assert_memory_equal(k, vdev.box_pk, 32);
	/* no secret in it */
	char sk64[SMILE_PROTO_KEY_B64_BYTES];
	smile_proto_key_to_base64(vdev.box_sk, sk64);
	assert_null(strstr(out, sk64));
	/* the longest id fits SMILE_DEVICE_ENROLMENT_MAX exactly */
	assert_int_equal(smile_device_keygen("abcdefghijklmnopqrstuvwxyz012345", &r, NULL),
			 SMILE_OK);
	assert_int_equal(smile_device_enrolment_json(&r, out, sizeof(out), &len), SMILE_OK);
	assert_int_equal(len + 1, SMILE_DEVICE_ENROLMENT_MAX);
	smile_device_keys_wipe(&r);
}

static void device_init_checks_gateway_key(void **state)
{
	struct smile_device d;
	uint8_t zero[32] = {0}, want[32];
	struct smile_error e = {0};
	(void)state;
	assert_int_equal(smile_device_init(&d, &vdev, vgw.sign_pk, zero, &e), SMILE_ERR_CRYPTO);
	assert_string_equal(e.field, "gateway.box_pk");
	assert_true(all_zero(&d, sizeof(d)));
	assert_int_equal(smile_device_init(&d, &vdev, vgw.sign_pk, vgw.box_pk, NULL), SMILE_OK);
	hex(V_SHARED, want, sizeof(want));
	assert_memory_equal(d.shared_key, want, 32); /* cached once */
	smile_device_wipe(&d);
	assert_true(all_zero(&d, sizeof(d)));
}

/* ------------------------------------------------------------ sequence */

/* A simulated flash cell: `durable` survives a crash; writes can be made to
 * fail. Also records the largest value ever handed out by the core, so the
 * test can check that each write covered it before the number left. */
struct flash {
	int has_value;
	uint64_t durable;
	unsigned writes;
	int fail_writes;
	int fail_reads;
};

static enum smile_err flash_read(void *ctx, uint64_t *next)
{
	struct flash *f = ctx;
	if (f->fail_reads)
		return SMILE_ERR_IO;
	if (!f->has_value)
		return SMILE_ERR_NOT_FOUND;
	*next = f->durable;
	return SMILE_OK;
}

static enum smile_err flash_write(void *ctx, uint64_t next)
{
	struct flash *f = ctx;
	if (f->fail_writes)
		return SMILE_ERR_IO;
	f->durable = next;
	f->has_value = 1;
	f->writes++;
	return SMILE_OK;
}

static void seq_persists_before_handing_out(void **state)
{
	struct flash f = {0};
	struct smile_seq_store st = {&f, flash_read, flash_write};
	struct smile_seq s;
	uint64_t n;
	(void)state;
	assert_int_equal(smile_seq_open(&s, &st, 1, NULL), SMILE_OK);
	for (uint64_t want = 1; want <= 5; want++) {
		assert_int_equal(smile_seq_take(&s, &n, NULL), SMILE_OK);
		assert_true(n == want);
		/* when the number is handed out, the store already says "above it" */
		assert_true(f.durable == n + 1);
	}
	assert_int_equal(f.writes, 5);
	/* restart: carries on, never repeats */
	assert_int_equal(smile_seq_open(&s, &st, 1, NULL), SMILE_OK);
	assert_int_equal(smile_seq_take(&s, &n, NULL), SMILE_OK);
	assert_true(n == 6);
}

static void seq_blocks_save_writes_and_skip_on_crash(void **state)
{
	struct flash f = {0};
	struct smile_seq_store st = {&f, flash_read, flash_write};
	struct smile_seq s;
	uint64_t n, last = 0;
	(void)state;
	assert_int_equal(smile_seq_open(&s, &st, 100, NULL), SMILE_OK);
	for (int i = 0; i < 250; i++) {
		assert_int_equal(smile_seq_take(&s, &n, NULL), SMILE_OK);
		assert_true(n == last + 1);
		assert_true(f.durable > n);
		last = n;
	}
	assert_int_equal(f.writes, 3); /* 1..100, 101..200, 201..300 */
	/* crash after 250: the rest of the block is skipped, none reused */
	assert_int_equal(smile_seq_open(&s, &st, 100, NULL), SMILE_OK);
	assert_int_equal(smile_seq_take(&s, &n, NULL), SMILE_OK);
	assert_true(n == 301);
}

static void seq_random_crashes_never_reuse(void **state)
{
	struct flash f = {0};
	struct smile_seq_store st = {&f, flash_read, flash_write};
	struct smile_seq s;
	uint64_t n, high = 0;
	unsigned taken = 0;
	const uint32_t blocks[] = {1, 2, 7, 64};
	(void)state;
	/* 400 "power cycles", each taking a random count then crashing at a
	 * random point (the state struct is simply dropped); some writes fail. */
	for (int cycle = 0; cycle < 400; cycle++) {
		uint32_t block = blocks[randombytes_uniform(4)];
		assert_int_equal(smile_seq_open(&s, &st, block, NULL), SMILE_OK);
		unsigned k = randombytes_uniform(20);
		for (unsigned i = 0; i < k; i++) {
			f.fail_writes = randombytes_uniform(10) == 0;
			enum smile_err err = smile_seq_take(&s, &n, NULL);
			if (err != SMILE_OK) {
				assert_int_equal(err, SMILE_ERR_IO);
				assert_true(n == 0); /* nothing handed out */
				continue;
			}
			assert_true(n > high); /* strictly above everything ever issued */
			assert_true(f.durable > n);
			high = n;
			taken++;
		}
		f.fail_writes = 0;
	}
	assert_true(taken > 1000);
}

static void seq_store_failures(void **state)
{
	struct flash f = {0};
	struct smile_seq_store st = {&f, flash_read, flash_write};
	struct smile_seq_store bad = {&f, NULL, flash_write};
	struct smile_seq s;
	struct smile_error e = {0};
	uint64_t n;
	(void)state;
	f.fail_reads = 1;
	assert_int_equal(smile_seq_open(&s, &st, 1, &e), SMILE_ERR_IO); /* never guess */
	assert_string_equal(e.field, "seq.store");
	f.fail_reads = 0;
	assert_int_equal(smile_seq_open(&s, &bad, 1, NULL), SMILE_ERR_INVALID);
	assert_int_equal(smile_seq_open(&s, &st, 0, NULL), SMILE_ERR_INVALID);
	assert_int_equal(smile_seq_open(&s, &st, SMILE_SEQ_BLOCK_MAX + 1, NULL), SMILE_ERR_INVALID);
	assert_int_equal(smile_seq_take(&s, &n, NULL), SMILE_ERR_INVALID); /* not opened */
	/* a stored 0 means "start at 1" */
	f.has_value = 1;
	f.durable = 0;
	assert_int_equal(smile_seq_open(&s, &st, 1, NULL), SMILE_OK);
	assert_int_equal(smile_seq_take(&s, &n, NULL), SMILE_OK);
	assert_true(n == 1);
	/* the end of the 64-bit space is an error, not a wrap to 0 */
	f.durable = UINT64_MAX - 1;
	assert_int_equal(smile_seq_open(&s, &st, 1, NULL), SMILE_OK);
	assert_int_equal(smile_seq_take(&s, &n, NULL), SMILE_OK);
	assert_true(n == UINT64_MAX - 1);
	assert_int_equal(smile_seq_take(&s, &n, &e), SMILE_ERR_TOO_LARGE);
	assert_true(n == 0);
}

/* ------------------------------------------------------------ scans, replies */

struct rig {
	struct flash f;
	struct smile_seq_store st;
	struct smile_seq seq;
	struct smile_device d;
	struct smile_device_keys gw;
	uint8_t gw_shared[32]; /* the gateway's side of the shared key */
};

static void rig_init(struct rig *r)
{
	memset(r, 0, sizeof(*r));
	r->st.ctx = &r->f;
	r->st.read = flash_read;
	r->st.write = flash_write;
	r->gw = vgw;
	assert_int_equal(smile_seq_open(&r->seq, &r->st, 1, NULL), SMILE_OK);
	assert_int_equal(smile_device_init(&r->d, &vdev, vgw.sign_pk, vgw.box_pk, NULL), SMILE_OK);
	assert_int_equal(smile_proto_shared_key(vgw.box_sk, vdev.box_pk, r->gw_shared), SMILE_OK);
}

static size_t build(struct rig *r, enum smile_event ev, uint8_t *out)
{
	struct smile_scan s;
	size_t len;
	memset(&s, 0, sizeof(s));
	s.event = ev;
	s.token = (const uint8_t *)V_TOKEN;
	s.token_len = strlen(V_TOKEN);
	s.time_ms = s.scanned_ms = 1767225600000ULL;
	assert_int_equal(smile_device_build_scan(&r->d, &r->seq, &s, out, SMILE_SCAN_MAX_BYTES, &len,
						 NULL),
			 SMILE_OK);
	return len;
}

/* The gateway's answer to `scan`, as the gateway would build it. */
static size_t answer(const struct rig *r, const uint8_t *scan, size_t scan_len,
		     enum smile_status status, const char *device_id, uint64_t seq,
		     const uint8_t *key, const uint8_t *sign_sk, uint8_t *out)
{
	uint8_t dg[32];
	struct smile_reply rp;
	size_t len;
	assert_int_equal(smile_scan_digest(scan, scan_len, dg), SMILE_OK);
	memset(&rp, 0, sizeof(rp));
	rp.device_id = device_id;
	rp.device_id_len = strlen(device_id);
	rp.seq = seq;
	rp.scan_digest = dg;
	rp.time_ms = 1767225600100ULL;
	rp.status = status;
	rp.reason = status == SMILE_STATUS_REVEALED ? SMILE_REASON_OK : SMILE_REASON_HUB_ROLE;
	rp.waybill = V_WAYBILL;
	rp.waybill_len = strlen(V_WAYBILL);
	rp.masked = (const uint8_t *)V_MASKED;
	rp.masked_len = strlen(V_MASKED);
	if (status == SMILE_STATUS_REVEALED) {
		rp.contact = (const uint8_t *)V_CONTACT;
		rp.contact_len = strlen(V_CONTACT);
	}
	assert_int_equal(smile_reply_encode(&rp, key ? key : r->gw_shared,
					    sign_sk ? sign_sk : r->gw.sign_sk, out,
					    SMILE_REPLY_MAX_BYTES, &len, NULL),
			 SMILE_OK);
	return len;
}

static void build_scan_signs_and_spends_numbers_only_when_valid(void **state)
{
	struct rig r;
	uint8_t out[SMILE_SCAN_MAX_BYTES];
	struct smile_scan s, d;
	struct smile_error e = {0};
	size_t len;
	(void)state;
	rig_init(&r);
	len = build(&r, SMILE_EVENT_PICKUP, out);
	assert_int_equal(smile_scan_verify(out, len, vdev.sign_pk, NULL), SMILE_OK);
	assert_int_equal(smile_scan_decode(out, len, &d, NULL), SMILE_OK);
	assert_true(d.seq == 1);
	assert_memory_equal(d.device_id, V_DEVICE_ID, d.device_id_len);
	len = build(&r, SMILE_EVENT_HUB_IN, out);
	assert_int_equal(smile_scan_decode(out, len, &d, NULL), SMILE_OK);
	assert_true(d.seq == 2);
	unsigned writes = r.f.writes;

	/* bad input or a small buffer spends no sequence number */
	memset(&s, 0, sizeof(s));
	s.event = SMILE_EVENT_PICKUP;
	s.token = (const uint8_t *)"SW1:\x01";
	s.token_len = 5;
	assert_int_equal(smile_device_build_scan(&r.d, &r.seq, &s, out, sizeof(out), &len, &e),
			 SMILE_ERR_INVALID);
	assert_string_equal(e.field, "scan.token");
	s.token = (const uint8_t *)V_TOKEN;
	s.token_len = strlen(V_TOKEN);
	s.event = (enum smile_event)0;
	assert_int_equal(smile_device_build_scan(&r.d, &r.seq, &s, out, sizeof(out), &len, &e),
			 SMILE_ERR_INVALID);
	s.event = SMILE_EVENT_DELIVERED;
	assert_int_equal(smile_device_build_scan(&r.d, &r.seq, &s, out, 50, &len, &e),
			 SMILE_ERR_BUFFER_SMALL);
	assert_int_equal(r.f.writes, writes);
	/* a failing store: no scan leaves */
	r.f.fail_writes = 1;
	assert_int_equal(smile_device_build_scan(&r.d, &r.seq, &s, out, sizeof(out), &len, &e),
			 SMILE_ERR_IO);
	assert_int_equal(len, 0);
	r.f.fail_writes = 0;
	assert_int_equal(smile_device_build_scan(&r.d, &r.seq, &s, out, sizeof(out), &len, NULL),
			 SMILE_OK);
	assert_true(s.seq == 3);
	smile_device_wipe(&r.d);
}

static void open_reply_reveals_to_this_device(void **state)
{
	struct rig r;
	uint8_t scan[SMILE_SCAN_MAX_BYTES], reply[SMILE_REPLY_MAX_BYTES];
	uint8_t contact[SMILE_PROTO_CONTACT_MAX];
	struct smile_reply out;
	size_t sn, rn, cn;
	(void)state;
	rig_init(&r);
	sn = build(&r, SMILE_EVENT_OUT_FOR_DELIVERY, scan);
	rn = answer(&r, scan, sn, SMILE_STATUS_REVEALED, V_DEVICE_ID, 1, NULL, NULL, reply);
	assert_int_equal(smile_device_open_reply(&r.d, scan, sn, reply, rn, &out, contact,
						 sizeof(contact), &cn, NULL),
			 SMILE_OK);
	assert_int_equal(out.status, SMILE_STATUS_REVEALED);
	assert_int_equal(cn, strlen(V_CONTACT));
	assert_memory_equal(contact, V_CONTACT, cn);
	assert_int_equal(out.masked_len, strlen(V_MASKED));
	assert_memory_equal(out.masked, V_MASKED, out.masked_len);
	assert_memory_equal(out.waybill, V_WAYBILL, out.waybill_len);
	/* an exact retransmission of the reply opens the same way */
	assert_int_equal(smile_device_open_reply(&r.d, scan, sn, reply, rn, &out, contact,
						 sizeof(contact), &cn, NULL),
			 SMILE_OK);

	/* recorded: no contact, contact_len 0 */
	sn = build(&r, SMILE_EVENT_HUB_IN, scan);
	rn = answer(&r, scan, sn, SMILE_STATUS_RECORDED, V_DEVICE_ID, 2, NULL, NULL, reply);
	assert_int_equal(smile_device_open_reply(&r.d, scan, sn, reply, rn, &out, contact,
						 sizeof(contact), &cn, NULL),
			 SMILE_OK);
	assert_int_equal(out.status, SMILE_STATUS_RECORDED);
	assert_int_equal(out.reason, SMILE_REASON_HUB_ROLE);
	assert_int_equal(cn, 0);
	/* seq 0 is allowed only for status error (gateway could not read the scan) */
	rn = answer(&r, scan, sn, SMILE_STATUS_ERROR, V_DEVICE_ID, 0, NULL, NULL, reply);
	assert_int_equal(smile_device_open_reply(&r.d, scan, sn, reply, rn, &out, contact,
						 sizeof(contact), &cn, NULL),
			 SMILE_OK);
	rn = answer(&r, scan, sn, SMILE_STATUS_DENIED, V_DEVICE_ID, 0, NULL, NULL, reply);
	assert_int_equal(smile_device_open_reply(&r.d, scan, sn, reply, rn, &out, contact,
						 sizeof(contact), &cn, NULL),
			 SMILE_ERR_CONFLICT);
	smile_device_wipe(&r.d);
}

static void open_reply_vector(void **state)
{
	struct smile_device d;
	uint8_t scan[SMILE_SCAN_MAX_BYTES], reply[SMILE_REPLY_MAX_BYTES];
	uint8_t contact[SMILE_PROTO_CONTACT_MAX];
	struct smile_reply out;
	size_t sn = hex(V_SCAN_A, scan, sizeof(scan)), rn = hex(V_REPLY_1, reply, sizeof(reply));
	size_t cn;
	(void)state;
	assert_int_equal(smile_device_init(&d, &vdev, vgw.sign_pk, vgw.box_pk, NULL), SMILE_OK);
	assert_int_equal(smile_device_open_reply(&d, scan, sn, reply, rn, &out, contact,
						 sizeof(contact), &cn, NULL),
			 SMILE_OK);
	assert_int_equal(cn, strlen(V_CONTACT));
	assert_memory_equal(contact, V_CONTACT, cn);
	/* reply 1 does not answer scan B (same device, other scan) */
	sn = hex(V_SCAN_B, scan, sizeof(scan));
	assert_int_equal(smile_device_open_reply(&d, scan, sn, reply, rn, &out, contact,
						 sizeof(contact), &cn, NULL),
			 SMILE_ERR_CONFLICT);
	smile_device_wipe(&d);
}

/* Open and expect `want`; on any failure the contact buffer is wiped. */
static void expect_open(struct rig *r, const uint8_t *scan, size_t sn, const uint8_t *reply,
			size_t rn, enum smile_err want, const char *field)
{
	uint8_t contact[SMILE_PROTO_CONTACT_MAX];
	struct smile_reply out;
	struct smile_error e = {0};
	size_t cn = 99;
	memset(contact, 0xEE, sizeof(contact));
	assert_int_equal(smile_device_open_reply(&r->d, scan, sn, reply, rn, &out, contact,
						 sizeof(contact), &cn, &e),
			 want);
	if (field)
		assert_string_equal(e.field, field);
	if (want != SMILE_OK) {
		assert_int_equal(cn, 0);
		assert_true(all_zero(contact, sizeof(contact)));
	}
}

static void open_reply_rejections(void **state)
{
	struct rig r;
	uint8_t scan[SMILE_SCAN_MAX_BYTES], scan2[SMILE_SCAN_MAX_BYTES];
	uint8_t reply[SMILE_REPLY_MAX_BYTES], k_other[32];
	struct smile_device_keys other_gw, other_dev;
	size_t sn, sn2, rn;
	(void)state;
	rig_init(&r);
	assert_int_equal(smile_device_keygen("gateway-2", &other_gw, NULL), SMILE_OK);
	assert_int_equal(smile_device_keygen("courier-02", &other_dev, NULL), SMILE_OK);
	sn = build(&r, SMILE_EVENT_OUT_FOR_DELIVERY, scan);   /* seq 1 */
	sn2 = build(&r, SMILE_EVENT_OUT_FOR_DELIVERY, scan2); /* seq 2 */

	/* signed by another gateway */
	rn = answer(&r, scan, sn, SMILE_STATUS_REVEALED, V_DEVICE_ID, 1, NULL, other_gw.sign_sk,
		    reply);
	expect_open(&r, scan, sn, reply, rn, SMILE_ERR_BAD_SIGNATURE, "reply.signature");
	/* addressed to another device */
	rn = answer(&r, scan, sn, SMILE_STATUS_RECORDED, "courier-02", 1, NULL, NULL, reply);
	expect_open(&r, scan, sn, reply, rn, SMILE_ERR_CONFLICT, "reply.device_id");
	/* another sequence number (digest of this scan, seq of another) */
	rn = answer(&r, scan, sn, SMILE_STATUS_REVEALED, V_DEVICE_ID, 2, NULL, NULL, reply);
	expect_open(&r, scan, sn, reply, rn, SMILE_ERR_CONFLICT, "reply.seq");
	/* the genuine reply to the other scan */
	rn = answer(&r, scan2, sn2, SMILE_STATUS_REVEALED, V_DEVICE_ID, 2, NULL, NULL, reply);
	expect_open(&r, scan, sn, reply, rn, SMILE_ERR_CONFLICT, "reply.scan_digest");
	expect_open(&r, scan2, sn2, reply, rn, SMILE_OK, NULL);
	/* tampered: every byte */
	for (size_t i = 0; i < rn; i++) {
		reply[i] ^= 0x10;
		uint8_t contact[SMILE_PROTO_CONTACT_MAX];
		struct smile_reply out;
		size_t cn = 1;
		assert_int_not_equal(smile_device_open_reply(&r.d, scan2, sn2, reply, rn, &out,
							     contact, sizeof(contact), &cn, NULL),
				     SMILE_OK);
		assert_int_equal(cn, 0);
		reply[i] ^= 0x10;
	}
	reply[rn - 70] ^= 0x01; /* ciphertext: caught by the signature first */
	expect_open(&r, scan2, sn2, reply, rn, SMILE_ERR_BAD_SIGNATURE, NULL);
	/* signed by the gateway but sealed to another device's key */
	assert_int_equal(smile_proto_shared_key(vgw.box_sk, other_dev.box_pk, k_other), SMILE_OK);
	rn = answer(&r, scan2, sn2, SMILE_STATUS_REVEALED, V_DEVICE_ID, 2, k_other, NULL, reply);
	expect_open(&r, scan2, sn2, reply, rn, SMILE_ERR_DECRYPT, "reply.contact");
	/* truncated */
	rn = answer(&r, scan2, sn2, SMILE_STATUS_REVEALED, V_DEVICE_ID, 2, NULL, NULL, reply);
	expect_open(&r, scan2, sn2, reply, rn - 1, SMILE_ERR_PROTO, NULL);
	expect_open(&r, scan2, sn2, reply, 0, SMILE_ERR_PROTO, NULL);
	/* a contact buffer too small: refused, and wiped */
	{
		uint8_t small[16];
		struct smile_reply out;
		size_t cn = 5;
		memset(small, 0xEE, sizeof(small));
		assert_int_equal(smile_device_open_reply(&r.d, scan2, sn2, reply, rn, &out, small,
							 sizeof(small), &cn, NULL),
				 SMILE_ERR_BUFFER_SMALL);
		assert_int_equal(cn, 0);
		assert_true(all_zero(small, sizeof(small)));
	}
	/* the "scan" is not one of ours */
	{
		struct smile_device od;
		assert_int_equal(smile_device_init(&od, &other_dev, vgw.sign_pk, vgw.box_pk, NULL),
				 SMILE_OK);
		uint8_t contact[64];
		struct smile_reply out;
		size_t cn;
		assert_int_equal(smile_device_open_reply(&od, scan2, sn2, reply, rn, &out, contact,
							 sizeof(contact), &cn, NULL),
				 SMILE_ERR_INVALID);
		smile_device_wipe(&od);
	}
	expect_open(&r, scan2, 10, reply, rn, SMILE_ERR_INVALID, "scan");
	smile_device_keys_wipe(&other_gw);
	smile_device_keys_wipe(&other_dev);
	smile_device_wipe(&r.d);
}

/* docs/protocol.md 9.1: the broker password of the vector device, from the
 * shared key of 13.2, is the page's string (and the gateway derives the same
 * from its side of the key). */
static void mqtt_password_vector(void **state)
{
	struct smile_device_keys dev, gwk;
	uint8_t k_dev[32], k_gw[32];
	char pw[SMILE_MQTT_PASSWORD_MAX];
	(void)state;

	assert_int_equal(v_vector_keys(&dev, &gwk), 0);
	assert_int_equal(smile_proto_shared_key(dev.box_sk, gwk.box_pk, k_dev), SMILE_OK);
	assert_int_equal(smile_proto_shared_key(gwk.box_sk, dev.box_pk, k_gw), SMILE_OK);
	assert_int_equal(smile_mqtt_password(k_dev, V_DEVICE_ID, pw), SMILE_OK);
	assert_string_equal(pw, V_MQTT_PASSWORD);
	assert_int_equal(smile_mqtt_password(k_gw, V_DEVICE_ID, pw), SMILE_OK);
	assert_string_equal(pw, V_MQTT_PASSWORD);
	assert_int_equal(strlen(pw), SMILE_MQTT_PASSWORD_LEN);
	assert_int_equal(smile_mqtt_password(k_dev, "courier/01", pw), SMILE_ERR_INVALID);
	smile_device_keys_wipe(&dev);
	smile_device_keys_wipe(&gwk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keygen_makes_distinct_working_keys),
		cmocka_unit_test(key_file_vector_and_round_trip),
		cmocka_unit_test(key_file_rejections),
		cmocka_unit_test(enrolment_json),
		cmocka_unit_test(device_init_checks_gateway_key),
		cmocka_unit_test(seq_persists_before_handing_out),
		cmocka_unit_test(seq_blocks_save_writes_and_skip_on_crash),
		cmocka_unit_test(seq_random_crashes_never_reuse),
		cmocka_unit_test(seq_store_failures),
		cmocka_unit_test(build_scan_signs_and_spends_numbers_only_when_valid),
		cmocka_unit_test(open_reply_reveals_to_this_device),
		cmocka_unit_test(open_reply_vector),
		cmocka_unit_test(open_reply_rejections),
		cmocka_unit_test(mqtt_password_vector),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
