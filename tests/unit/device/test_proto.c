/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for firmware-bridge/core/proto.c: the docs/protocol.md vectors
 * byte for byte, round trips, and every rejection the decoders promise
 * (truncation at every length, version, type, oversize fields, ranges,
 * signatures by other keys, tampered or mis-keyed ciphertext). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "smile/device.h"
#include "smile/proto.h"
#include "unit/device/proto_vectors.h"

/* Keys of the vectors, derived once. */
static struct smile_device_keys dev, gw;
static uint8_t shared[SMILE_PROTO_KEY_BYTES];

static int setup(void **state)
{
	(void)state;
	if (smile_proto_init() != SMILE_OK)
		return -1;
	if (v_vector_keys(&dev, &gw) != 0)
		return -1;
	if (smile_proto_shared_key(gw.box_sk, dev.box_pk, shared) != SMILE_OK)
		return -1;
	return 0;
}

static size_t hex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = v_hex(h, out, cap);
	assert_int_equal(n * 2, strlen(h)); /* the whole vector fit */
	return n;
}

/* The scan-A inputs of docs/protocol.md 13.3. */
static struct smile_scan scan_a(void)
{
	struct smile_scan s;
	memset(&s, 0, sizeof(s));
	s.device_id = V_DEVICE_ID;
	s.device_id_len = strlen(V_DEVICE_ID);
	s.seq = 42;
	s.time_ms = 1767225600000ULL;
	s.scanned_ms = 1767225598500ULL;
	s.event = SMILE_EVENT_OUT_FOR_DELIVERY;
	s.token = (const uint8_t *)V_TOKEN;
	s.token_len = strlen(V_TOKEN);
	s.has_location = 1;
	s.location.lat_e6 = 31230416;
	s.location.lon_e6 = 121473701;
	s.location.accuracy_m = 12;
	return s;
}

/* The reply-1 inputs of docs/protocol.md 13.5 (digest must point at 32 bytes). */
static struct smile_reply reply_1(const uint8_t *digest)
{
	struct smile_reply r;
	memset(&r, 0, sizeof(r));
	r.device_id = V_DEVICE_ID;
	r.device_id_len = strlen(V_DEVICE_ID);
	r.seq = 42;
	r.scan_digest = digest;
	r.time_ms = 1767225600123ULL;
	r.status = SMILE_STATUS_REVEALED;
	r.reason = SMILE_REASON_OK;
	r.waybill = V_WAYBILL;
	r.waybill_len = strlen(V_WAYBILL);
	r.masked = (const uint8_t *)V_MASKED;
	r.masked_len = strlen(V_MASKED);
	r.contact = (const uint8_t *)V_CONTACT;
	r.contact_len = strlen(V_CONTACT);
	return r;
}

/* ------------------------------------------------------------ vectors */

static void vectors_keys(void **state)
{
	uint8_t want[32];
	(void)state;
	hex(V_DEVICE_SIGN_PK, want, sizeof(want));
	assert_memory_equal(dev.sign_pk, want, 32);
	hex(V_DEVICE_BOX_PK, want, sizeof(want));
	assert_memory_equal(dev.box_pk, want, 32);
	hex(V_GATEWAY_SIGN_PK, want, sizeof(want));
	assert_memory_equal(gw.sign_pk, want, 32);
	hex(V_GATEWAY_BOX_PK, want, sizeof(want));
	assert_memory_equal(gw.box_pk, want, 32);
	hex(V_SHARED, want, sizeof(want));
	assert_memory_equal(shared, want, 32);
	/* both ends derive the same key */
	uint8_t other[32];
	assert_int_equal(smile_proto_shared_key(dev.box_sk, gw.box_pk, other), SMILE_OK);
	assert_memory_equal(other, want, 32);
}

static void vectors_scans(void **state)
{
	uint8_t want[SMILE_SCAN_MAX_BYTES], got[SMILE_SCAN_MAX_BYTES];
	size_t wn, len;
	struct smile_scan s = scan_a(), d;
	(void)state;

	wn = hex(V_SCAN_A, want, sizeof(want));
	assert_int_equal(smile_scan_encode(&s, dev.sign_sk, got, sizeof(got), &len, NULL), SMILE_OK);
	assert_int_equal(len, wn);
	assert_memory_equal(got, want, wn);

	s.seq = 43;
	s.time_ms = s.scanned_ms = 1767225660000ULL;
	s.event = SMILE_EVENT_DELIVERED;
	s.location.lat_e6 = -34603722;
	s.location.lon_e6 = -58381592;
	s.location.accuracy_m = 65535;
	wn = hex(V_SCAN_B, want, sizeof(want));
	assert_int_equal(smile_scan_encode(&s, dev.sign_sk, got, sizeof(got), &len, NULL), SMILE_OK);
	assert_int_equal(len, wn);
	assert_memory_equal(got, want, wn);
	/* negative coordinates survive the round trip */
	assert_int_equal(smile_scan_decode(got, len, &d, NULL), SMILE_OK);
	assert_int_equal(d.location.lat_e6, -34603722);
	assert_int_equal(d.location.lon_e6, -58381592);
	assert_int_equal(d.location.accuracy_m, 65535);

	s = scan_a();
	s.seq = 44;
	s.time_ms = 1767226000000ULL;
	s.scanned_ms = 1767225900000ULL;
	s.event = SMILE_EVENT_PICKUP;
	s.has_location = 0;
	wn = hex(V_SCAN_C, want, sizeof(want));
	assert_int_equal(smile_scan_encode(&s, dev.sign_sk, got, sizeof(got), &len, NULL), SMILE_OK);
	assert_int_equal(len, wn);
	assert_memory_equal(got, want, wn);
	assert_int_equal(smile_scan_verify(want, wn, dev.sign_pk, NULL), SMILE_OK);
}

static void vectors_scan_decodes(void **state)
{
	uint8_t msg[SMILE_SCAN_MAX_BYTES], dg[32], want[32];
	size_t n = hex(V_SCAN_A, msg, sizeof(msg));
	struct smile_scan s;
	(void)state;
	assert_int_equal(smile_scan_decode(msg, n, &s, NULL), SMILE_OK);
	assert_int_equal(s.device_id_len, 10);
	assert_memory_equal(s.device_id, V_DEVICE_ID, 10);
	assert_true(s.seq == 42);
	assert_true(s.time_ms == 1767225600000ULL);
	assert_true(s.scanned_ms == 1767225598500ULL);
	assert_int_equal(s.event, SMILE_EVENT_OUT_FOR_DELIVERY);
	assert_int_equal(s.token_len, strlen(V_TOKEN));
	assert_memory_equal(s.token, V_TOKEN, s.token_len);
	assert_ptr_equal(s.token, msg + 42); /* points into the message, no copy */
	assert_int_equal(s.has_location, 1);
	assert_int_equal(s.location.lat_e6, 31230416);
	assert_int_equal(s.location.lon_e6, 121473701);
	assert_int_equal(s.location.accuracy_m, 12);
	assert_ptr_equal(s.signature, msg + n - 64);
	assert_int_equal(smile_scan_verify(msg, n, dev.sign_pk, NULL), SMILE_OK);
	assert_int_equal(smile_scan_digest(msg, n, dg), SMILE_OK);
	hex(V_DIGEST_A, want, sizeof(want));
	assert_memory_equal(dg, want, 32);
}

static void vectors_replies(void **state)
{
	uint8_t scan[SMILE_SCAN_MAX_BYTES], dg[32], nonce[24];
	uint8_t want[SMILE_REPLY_MAX_BYTES], got[SMILE_REPLY_MAX_BYTES];
	uint8_t pt[SMILE_PROTO_CONTACT_MAX];
	size_t sn, wn, len, ptn;
	struct smile_reply r, d;
	(void)state;

	sn = hex(V_SCAN_A, scan, sizeof(scan));
	assert_int_equal(smile_scan_digest(scan, sn, dg), SMILE_OK);
	v_seq_bytes(nonce, 24, V_NONCE_FIRST);
	r = reply_1(dg);
	wn = hex(V_REPLY_1, want, sizeof(want));
	assert_int_equal(smile_reply_encode_det(&r, shared, nonce, gw.sign_sk, got, sizeof(got),
						&len, NULL),
			 SMILE_OK);
	assert_int_equal(len, wn);
	assert_memory_equal(got, want, wn);

	assert_int_equal(smile_reply_decode(want, wn, &d, NULL), SMILE_OK);
	assert_int_equal(d.status, SMILE_STATUS_REVEALED);
	assert_int_equal(d.reason, SMILE_REASON_OK);
	assert_true(d.seq == 42);
	assert_true(d.time_ms == 1767225600123ULL);
	assert_memory_equal(d.scan_digest, dg, 32);
	assert_int_equal(d.waybill_len, strlen(V_WAYBILL));
	assert_memory_equal(d.waybill, V_WAYBILL, d.waybill_len);
	assert_int_equal(d.masked_len, strlen(V_MASKED));
	assert_memory_equal(d.masked, V_MASKED, d.masked_len);
	assert_null(d.contact);
	assert_int_equal(d.sealed_len, 24 + strlen(V_CONTACT) + 16);
	assert_memory_equal(d.sealed, nonce, 24);
	/* the contact is not in the clear anywhere in the message */
	assert_null(memmem(want, wn, "13812345678", 11));
	assert_int_equal(smile_reply_verify(want, wn, gw.sign_pk, NULL), SMILE_OK);
	assert_int_equal(smile_reply_open_contact(want, wn, shared, pt, sizeof(pt), &ptn, NULL),
			 SMILE_OK);
	assert_int_equal(ptn, strlen(V_CONTACT));
	assert_memory_equal(pt, V_CONTACT, ptn);

	/* reply 2: denied/stale, empty waybill and masked view, no contact */
	sn = hex(V_SCAN_B, scan, sizeof(scan));
	assert_int_equal(smile_scan_digest(scan, sn, dg), SMILE_OK);
	memset(&r, 0, sizeof(r));
	r.device_id = V_DEVICE_ID;
	r.device_id_len = 10;
	r.seq = 43;
	r.scan_digest = dg;
	r.time_ms = 1767226020000ULL;
	r.status = SMILE_STATUS_DENIED;
	r.reason = SMILE_REASON_STALE;
	wn = hex(V_REPLY_2, want, sizeof(want));
	assert_int_equal(smile_reply_encode_det(&r, NULL, nonce, gw.sign_sk, got, sizeof(got), &len,
						NULL),
			 SMILE_OK);
	assert_int_equal(len, wn);
	assert_memory_equal(got, want, wn);
	assert_int_equal(smile_reply_verify(want, wn, gw.sign_pk, NULL), SMILE_OK);
	assert_int_equal(smile_reply_decode(want, wn, &d, NULL), SMILE_OK);
	assert_int_equal(d.status, SMILE_STATUS_DENIED);
	assert_int_equal(d.reason, SMILE_REASON_STALE);
	assert_int_equal(d.waybill_len, 0);
	assert_int_equal(d.masked_len, 0);
	assert_null(d.sealed);
	assert_int_equal(smile_reply_open_contact(want, wn, shared, pt, sizeof(pt), &ptn, NULL),
			 SMILE_ERR_NOT_FOUND);
}

/* ------------------------------------------------------------ round trips */

static void scan_round_trip_and_limits(void **state)
{
	uint8_t tok[SMILE_PROTO_TOKEN_MAX + 1], out[SMILE_SCAN_MAX_BYTES + 8];
	char id[SMILE_PROTO_ID_MAX + 2];
	struct smile_scan s = scan_a(), d;
	struct smile_error e = {0};
	size_t len;
	(void)state;

	memset(tok, 'Q', sizeof(tok));
	memset(id, 'x', sizeof(id));
	s.device_id = id;
	s.device_id_len = SMILE_PROTO_ID_MAX;
	s.token = tok;
	s.token_len = SMILE_PROTO_TOKEN_MAX;
	s.event = SMILE_EVENT_RETURNED;
	s.seq = UINT64_MAX;
	s.time_ms = s.scanned_ms = UINT64_MAX;
	s.location.lat_e6 = -90000000;
	s.location.lon_e6 = 180000000;
	/* the largest scan is exactly SMILE_SCAN_MAX_BYTES */
	assert_int_equal(smile_scan_encode(&s, dev.sign_sk, out, sizeof(out), &len, NULL), SMILE_OK);
	assert_int_equal(len, SMILE_SCAN_MAX_BYTES);
	assert_int_equal(smile_scan_verify(out, len, dev.sign_pk, NULL), SMILE_OK);
	assert_int_equal(smile_scan_decode(out, len, &d, NULL), SMILE_OK);
	assert_true(d.seq == UINT64_MAX && d.time_ms == UINT64_MAX);
	assert_int_equal(d.location.lat_e6, -90000000);
	assert_int_equal(d.location.lon_e6, 180000000);
	/* exactly the size it needs; one byte less is refused before writing */
	assert_int_equal(smile_scan_encode(&s, dev.sign_sk, out, len - 1, &len, &e),
			 SMILE_ERR_BUFFER_SMALL);
	assert_int_equal(len, 0);

	/* one over each cap, or a bad value: refused with the field named */
	s.token_len = SMILE_PROTO_TOKEN_MAX + 1;
	assert_int_equal(smile_scan_encode(&s, dev.sign_sk, out, sizeof(out), &len, &e),
			 SMILE_ERR_INVALID);
	assert_string_equal(e.field, "scan.token");
	s.token_len = 0;
	assert_int_equal(smile_scan_encode(&s, dev.sign_sk, out, sizeof(out), &len, &e),
			 SMILE_ERR_INVALID);
	s.token_len = 4;
	tok[2] = '\n';
	assert_int_equal(smile_scan_encode(&s, dev.sign_sk, out, sizeof(out), &len, &e),
			 SMILE_ERR_INVALID);
	assert_string_equal(e.field, "scan.token");
	tok[2] = 'Q';
	s.device_id_len = SMILE_PROTO_ID_MAX + 1;
	assert_int_equal(smile_scan_encode(&s, dev.sign_sk, out, sizeof(out), &len, &e),
			 SMILE_ERR_INVALID);
	assert_string_equal(e.field, "scan.device_id");
	s.device_id = "dev/1";
	s.device_id_len = 5;
	assert_int_equal(smile_scan_encode(&s, dev.sign_sk, out, sizeof(out), &len, &e),
			 SMILE_ERR_INVALID);
	s.device_id = V_DEVICE_ID;
	s.device_id_len = 10;
	s.seq = 0;
	assert_int_equal(smile_scan_encode(&s, dev.sign_sk, out, sizeof(out), &len, &e),
			 SMILE_ERR_INVALID);
	assert_string_equal(e.field, "scan.seq");
	s.seq = 1;
	s.scanned_ms = 10;
	s.time_ms = 9;
	assert_int_equal(smile_scan_encode(&s, dev.sign_sk, out, sizeof(out), &len, &e),
			 SMILE_ERR_INVALID);
	assert_string_equal(e.field, "scan.scanned_ms");
	s.time_ms = 10;
	s.event = (enum smile_event)8;
	assert_int_equal(smile_scan_encode(&s, dev.sign_sk, out, sizeof(out), &len, &e),
			 SMILE_ERR_INVALID);
	assert_string_equal(e.field, "scan.event");
	s.event = SMILE_EVENT_PICKUP;
	s.location.lat_e6 = 90000001;
	assert_int_equal(smile_scan_encode(&s, dev.sign_sk, out, sizeof(out), &len, &e),
			 SMILE_ERR_INVALID);
	assert_string_equal(e.field, "scan.location");
	/* without a location its value is ignored */
	s.has_location = 0;
	assert_int_equal(smile_scan_encode(&s, dev.sign_sk, out, sizeof(out), &len, &e), SMILE_OK);
	assert_int_equal(len, SMILE_SCAN_FIXED_BYTES + 10 + 4);
	assert_int_equal(smile_scan_decode(out, len, &d, NULL), SMILE_OK);
	assert_int_equal(d.has_location, 0);
}

static void reply_round_trip_random_nonce(void **state)
{
	uint8_t dg[32], a[SMILE_REPLY_MAX_BYTES], b[SMILE_REPLY_MAX_BYTES];
	uint8_t contact[SMILE_PROTO_CONTACT_MAX], masked[SMILE_PROTO_MASKED_MAX];
	uint8_t pt[SMILE_PROTO_CONTACT_MAX];
	char wb[SMILE_PROTO_WAYBILL_MAX];
	size_t an, bn, ptn;
	struct smile_reply r;
	(void)state;

	memset(dg, 7, sizeof(dg));
	memset(contact, 'c', sizeof(contact));
	memset(masked, 'm', sizeof(masked));
	memset(wb, 'W', sizeof(wb));
	r = reply_1(dg);
	r.contact = contact;
	r.contact_len = SMILE_PROTO_CONTACT_MAX;
	r.masked = masked;
	r.masked_len = SMILE_PROTO_MASKED_MAX;
	r.waybill = wb;
	r.waybill_len = SMILE_PROTO_WAYBILL_MAX;
	r.device_id = "abcdefghijklmnopqrstuvwxyz012345";
	r.device_id_len = SMILE_PROTO_ID_MAX;
	assert_int_equal(smile_reply_encode(&r, shared, gw.sign_sk, a, sizeof(a), &an, NULL),
			 SMILE_OK);
	assert_int_equal(an, SMILE_REPLY_MAX_BYTES); /* the largest reply */
	assert_int_equal(smile_reply_encode(&r, shared, gw.sign_sk, b, sizeof(b), &bn, NULL),
			 SMILE_OK);
	/* a fresh nonce each time: same contents, unlinkable ciphertexts */
	assert_int_equal(an, bn);
	assert_memory_not_equal(a, b, an);
	assert_int_equal(smile_reply_verify(a, an, gw.sign_pk, NULL), SMILE_OK);
	assert_int_equal(smile_reply_open_contact(b, bn, shared, pt, sizeof(pt), &ptn, NULL),
			 SMILE_OK);
	assert_int_equal(ptn, SMILE_PROTO_CONTACT_MAX);
	assert_memory_equal(pt, contact, ptn);
	/* every status and an unknown (newer) reason code */
	for (int st = SMILE_STATUS_RECORDED; st <= SMILE_STATUS_ERROR; st++) {
		struct smile_reply d;
		r = reply_1(dg);
		r.status = (enum smile_status)st;
		r.reason = 999;
		r.contact = NULL;
		r.contact_len = 0;
		assert_int_equal(smile_reply_encode(&r, NULL, gw.sign_sk, a, sizeof(a), &an, NULL),
				 SMILE_OK);
		assert_int_equal(smile_reply_decode(a, an, &d, NULL), SMILE_OK);
		assert_int_equal(d.status, st);
		assert_int_equal(d.reason, 999);
		assert_string_equal(smile_proto_reason_name(d.reason), "unknown");
	}
}

static void reply_encode_refuses_inconsistent_input(void **state)
{
	uint8_t dg[32] = {0}, out[SMILE_REPLY_MAX_BYTES];
	size_t len = 99;
	struct smile_reply r;
	struct smile_error e = {0};
	(void)state;

	r = reply_1(dg);
	assert_int_equal(smile_reply_encode(&r, NULL, gw.sign_sk, out, sizeof(out), &len, &e),
			 SMILE_ERR_INVALID); /* revealed without a key */
	assert_int_equal(len, 0);
	assert_string_equal(e.field, "reply.contact");
	r.reason = SMILE_REASON_HUB_ROLE;
	assert_int_equal(smile_reply_encode(&r, shared, gw.sign_sk, out, sizeof(out), &len, &e),
			 SMILE_ERR_INVALID);
	assert_string_equal(e.field, "reply.reason");
	r = reply_1(dg);
	r.contact_len = 0;
	assert_int_equal(smile_reply_encode(&r, shared, gw.sign_sk, out, sizeof(out), &len, &e),
			 SMILE_ERR_INVALID);
	r = reply_1(dg);
	r.contact_len = SMILE_PROTO_CONTACT_MAX + 1;
	assert_int_equal(smile_reply_encode(&r, shared, gw.sign_sk, out, sizeof(out), &len, &e),
			 SMILE_ERR_INVALID);
	r = reply_1(dg);
	r.status = SMILE_STATUS_RECORDED; /* contact on a non-revealed reply */
	assert_int_equal(smile_reply_encode(&r, shared, gw.sign_sk, out, sizeof(out), &len, &e),
			 SMILE_ERR_INVALID);
	r = reply_1(dg);
	r.status = (enum smile_status)5;
	assert_int_equal(smile_reply_encode(&r, shared, gw.sign_sk, out, sizeof(out), &len, &e),
			 SMILE_ERR_INVALID);
	assert_string_equal(e.field, "reply.status");
	r = reply_1(dg);
	r.waybill = "SW 1";
	r.waybill_len = 4;
	assert_int_equal(smile_reply_encode(&r, shared, gw.sign_sk, out, sizeof(out), &len, &e),
			 SMILE_ERR_INVALID);
	assert_string_equal(e.field, "reply.waybill");
	r = reply_1(dg);
	r.masked_len = SMILE_PROTO_MASKED_MAX + 1;
	assert_int_equal(smile_reply_encode(&r, shared, gw.sign_sk, out, sizeof(out), &len, &e),
			 SMILE_ERR_INVALID);
	r = reply_1(NULL);
	assert_int_equal(smile_reply_encode(&r, shared, gw.sign_sk, out, sizeof(out), &len, &e),
			 SMILE_ERR_INVALID);
	r = reply_1(dg);
	assert_int_equal(smile_reply_encode(&r, shared, gw.sign_sk, out, 200, &len, &e),
			 SMILE_ERR_BUFFER_SMALL);
	assert_int_equal(smile_reply_encode_det(&r, shared, NULL, gw.sign_sk, out, sizeof(out),
						&len, &e),
			 SMILE_ERR_INVALID);
}

/* ------------------------------------------------------------ rejections */

static void truncation_at_every_length(void **state)
{
	uint8_t scan[SMILE_SCAN_MAX_BYTES], reply[SMILE_REPLY_MAX_BYTES + 1];
	uint8_t pt[SMILE_PROTO_CONTACT_MAX];
	size_t sn = hex(V_SCAN_A, scan, sizeof(scan));
	size_t rn = hex(V_REPLY_1, reply, sizeof(reply));
	size_t ptn;
	struct smile_scan s;
	struct smile_reply r;
	(void)state;

	for (size_t n = 0; n < sn; n++) {
		enum smile_err err = smile_scan_decode(scan, n, &s, NULL);
		assert_int_equal(err, SMILE_ERR_PROTO);
		assert_int_not_equal(smile_scan_verify(scan, n, dev.sign_pk, NULL), SMILE_OK);
	}
	for (size_t n = 0; n < rn; n++) {
		assert_int_equal(smile_reply_decode(reply, n, &r, NULL), SMILE_ERR_PROTO);
		assert_int_not_equal(smile_reply_verify(reply, n, gw.sign_pk, NULL), SMILE_OK);
		assert_int_not_equal(smile_reply_open_contact(reply, n, shared, pt, sizeof(pt), &ptn,
							      NULL),
				     SMILE_OK);
		assert_int_equal(ptn, 0);
	}
	/* one trailing byte is as wrong as one missing */
	scan[sn] = 0;
	reply[rn] = 0;
	assert_int_equal(smile_scan_decode(scan, sn + 1, &s, NULL), SMILE_ERR_PROTO);
	assert_int_equal(smile_reply_decode(reply, rn + 1, &r, NULL), SMILE_ERR_PROTO);
	assert_int_equal(smile_scan_decode(NULL, 10, &s, NULL), SMILE_ERR_PROTO);
}

static void version_type_and_size_are_checked(void **state)
{
	uint8_t scan[SMILE_SCAN_MAX_BYTES + 2], reply[SMILE_REPLY_MAX_BYTES + 2];
	size_t sn = hex(V_SCAN_A, scan, sizeof(scan));
	size_t rn = hex(V_REPLY_1, reply, sizeof(reply));
	struct smile_scan s;
	struct smile_reply r;
	struct smile_error e = {0};
	(void)state;

	scan[0] = 2;
	assert_int_equal(smile_scan_decode(scan, sn, &s, &e), SMILE_ERR_PROTO_VERSION);
	assert_int_equal(smile_scan_verify(scan, sn, dev.sign_pk, NULL), SMILE_ERR_PROTO_VERSION);
	scan[0] = 0;
	assert_int_equal(smile_scan_decode(scan, sn, &s, NULL), SMILE_ERR_PROTO_VERSION);
	scan[0] = '{'; /* somebody sent JSON */
	assert_int_equal(smile_scan_decode(scan, 1, &s, NULL), SMILE_ERR_PROTO_VERSION);
	scan[0] = 1;
	reply[0] = 2;
	assert_int_equal(smile_reply_decode(reply, rn, &r, NULL), SMILE_ERR_PROTO_VERSION);
	reply[0] = 1;
	/* a reply is not a scan, and the other way round */
	assert_int_equal(smile_scan_decode(reply, rn > SMILE_SCAN_MAX_BYTES ? 200 : rn, &s, &e),
			 SMILE_ERR_PROTO);
	assert_int_equal(smile_reply_decode(scan, sn, &r, NULL), SMILE_ERR_PROTO);
	scan[1] = 3;
	assert_int_equal(smile_scan_decode(scan, sn, &s, &e), SMILE_ERR_PROTO);
	assert_string_equal(e.message, "wrong message type");
	scan[1] = 1;
	/* over the largest valid size: refused before it is parsed */
	assert_int_equal(smile_scan_decode(scan, SMILE_SCAN_MAX_BYTES + 1, &s, NULL),
			 SMILE_ERR_TOO_LARGE);
	assert_int_equal(smile_reply_decode(reply, SMILE_REPLY_MAX_BYTES + 1, &r, NULL),
			 SMILE_ERR_TOO_LARGE);
}

/* A scan laid out by hand (independently of the encoder), signed by dev. */
struct raw_scan {
	unsigned id_len;
	const char *id;
	uint64_t seq, time_ms, scanned_ms;
	unsigned event, flags, token_len;
	const char *token;
	size_t token_bytes; /* bytes actually present */
	uint32_t lat, lon;
};

static size_t raw_scan(const struct raw_scan *r, uint8_t *out)
{
	size_t n = 0;
	out[n++] = 1;
	out[n++] = 1;
	out[n++] = (uint8_t)(r->id_len >> 8);
	out[n++] = (uint8_t)r->id_len;
	memcpy(out + n, r->id, strlen(r->id));
	n += strlen(r->id);
	for (int i = 7; i >= 0; i--)
		out[n++] = (uint8_t)(r->seq >> (8 * i));
	for (int i = 7; i >= 0; i--)
		out[n++] = (uint8_t)(r->time_ms >> (8 * i));
	for (int i = 7; i >= 0; i--)
		out[n++] = (uint8_t)(r->scanned_ms >> (8 * i));
	out[n++] = (uint8_t)r->event;
	out[n++] = (uint8_t)r->flags;
	out[n++] = (uint8_t)(r->token_len >> 8);
	out[n++] = (uint8_t)r->token_len;
	memcpy(out + n, r->token, r->token_bytes);
	n += r->token_bytes;
	if (r->flags & 1) {
		for (int i = 3; i >= 0; i--)
			out[n++] = (uint8_t)(r->lat >> (8 * i));
		for (int i = 3; i >= 0; i--)
			out[n++] = (uint8_t)(r->lon >> (8 * i));
		out[n++] = 0;
		out[n++] = 5;
	}
	crypto_sign_detached(out + n, NULL, out, n, dev.sign_sk);
	return n + 64;
}

static struct raw_scan good_raw(void)
{
	struct raw_scan r = {10, V_DEVICE_ID, 5, 1000, 900, 1, 0, 4, "SW1:", 4, 0, 0};
	return r;
}

static void expect_raw(const struct raw_scan *r, enum smile_err want, const char *field)
{
	uint8_t buf[1024];
	size_t n = raw_scan(r, buf);
	struct smile_scan s;
	struct smile_error e = {0};
	assert_int_equal(smile_scan_decode(buf, n, &s, &e), want);
	if (field)
		assert_string_equal(e.field, field);
	/* a correct signature never rescues a malformed message */
	assert_int_equal(smile_scan_verify(buf, n, dev.sign_pk, NULL), want);
}

static void scan_fields_out_of_range(void **state)
{
	static char longtok[300];
	struct raw_scan r = good_raw();
	(void)state;
	memset(longtok, 'T', sizeof(longtok) - 1);

	expect_raw(&r, SMILE_OK, NULL);
	r.id_len = 0;
	r.id = "";
	expect_raw(&r, SMILE_ERR_PROTO, "scan.device_id");
	r = good_raw();
	r.id = "abcdefghijklmnopqrstuvwxyz0123456"; /* 33 */
	r.id_len = 33;
	expect_raw(&r, SMILE_ERR_PROTO, "scan.device_id");
	r = good_raw();
	r.id = "courier+01"; /* MQTT wildcard in an id */
	expect_raw(&r, SMILE_ERR_PROTO, "scan.device_id");
	r = good_raw();
	r.seq = 0;
	expect_raw(&r, SMILE_ERR_PROTO, "scan.seq");
	r = good_raw();
	r.scanned_ms = 1001;
	expect_raw(&r, SMILE_ERR_PROTO, "scan.scanned_ms");
	r = good_raw();
	r.event = 0;
	expect_raw(&r, SMILE_ERR_PROTO, "scan.event");
	r.event = 8;
	expect_raw(&r, SMILE_ERR_PROTO, "scan.event");
	r = good_raw();
	r.flags = 2;
	expect_raw(&r, SMILE_ERR_PROTO, "scan.flags");
	r.flags = 0x81;
	expect_raw(&r, SMILE_ERR_PROTO, "scan.flags");
	r = good_raw();
	r.token_len = 0;
	r.token_bytes = 0;
	expect_raw(&r, SMILE_ERR_PROTO, "scan.token");
	r = good_raw();
	r.token = longtok;
	r.token_len = 129;
	r.token_bytes = 129;
	expect_raw(&r, SMILE_ERR_PROTO, "scan.token");
	r.token_len = 128;
	r.token_bytes = 128;
	expect_raw(&r, SMILE_OK, NULL);
	r = good_raw();
	r.token = "SW\x7f:";
	expect_raw(&r, SMILE_ERR_PROTO, "scan.token");
	r.token = "SW\x01:";
	expect_raw(&r, SMILE_ERR_PROTO, "scan.token");
	r = good_raw();
	r.flags = 1;
	r.lat = 90000000;
	r.lon = (uint32_t)-180000000;
	expect_raw(&r, SMILE_OK, NULL);
	r.lat = 90000001;
	expect_raw(&r, SMILE_ERR_PROTO, "scan.location");
	r.lat = (uint32_t)-90000001;
	expect_raw(&r, SMILE_ERR_PROTO, "scan.location");
	r.lat = 0;
	r.lon = 180000001;
	expect_raw(&r, SMILE_ERR_PROTO, "scan.location");
	/* a token length that claims more than the message holds */
	r = good_raw();
	r.token_len = 40;
	expect_raw(&r, SMILE_ERR_PROTO, NULL);
}

static void reply_fields_out_of_range(void **state)
{
	uint8_t msg[SMILE_REPLY_MAX_BYTES], dg[32] = {0};
	size_t n;
	struct smile_reply r, d;
	struct smile_error e = {0};
	(void)state;

	/* a recorded reply: fixed part + id(10) + waybill(15) + masked */
	r = reply_1(dg);
	r.status = SMILE_STATUS_RECORDED;
	r.contact = NULL;
	r.contact_len = 0;
	assert_int_equal(smile_reply_encode(&r, NULL, gw.sign_sk, msg, sizeof(msg), &n, NULL),
			 SMILE_OK);
	size_t status_off = 2 + 2 + 10 + 8 + 32 + 8;
	size_t wb_off = status_off + 1 + 2;
	size_t sealed_off = wb_off + 2 + 15 + 2 + strlen(V_MASKED);
	assert_int_equal(msg[status_off], SMILE_STATUS_RECORDED);
	assert_int_equal(msg[sealed_off], 0);
	assert_int_equal(msg[sealed_off + 1], 0);

	msg[status_off] = 0;
	assert_int_equal(smile_reply_decode(msg, n, &d, &e), SMILE_ERR_PROTO);
	assert_string_equal(e.field, "reply.status");
	msg[status_off] = 5;
	assert_int_equal(smile_reply_decode(msg, n, &d, &e), SMILE_ERR_PROTO);
	/* revealed without a contact */
	msg[status_off] = SMILE_STATUS_REVEALED;
	msg[status_off + 1] = msg[status_off + 2] = 0; /* reason ok */
	assert_int_equal(smile_reply_decode(msg, n, &d, &e), SMILE_ERR_PROTO);
	assert_string_equal(e.field, "reply.contact");
	msg[status_off] = SMILE_STATUS_RECORDED;
	assert_int_equal(smile_reply_decode(msg, n, &d, &e), SMILE_OK);
	/* waybill with a space in it */
	msg[wb_off + 2 + 2] = ' ';
	assert_int_equal(smile_reply_decode(msg, n, &d, &e), SMILE_ERR_PROTO);
	assert_string_equal(e.field, "reply.waybill");
	msg[wb_off + 2 + 2] = '2';
	/* waybill length over its cap */
	msg[wb_off + 1] = 33;
	assert_int_equal(smile_reply_decode(msg, n, &d, &e), SMILE_ERR_PROTO);
	assert_string_equal(e.field, "reply.waybill");
	msg[wb_off + 1] = 15;
	/* masked length over its cap */
	msg[wb_off + 2 + 15] = 0x04;
	msg[wb_off + 2 + 15 + 1] = 0x01;
	assert_int_equal(smile_reply_decode(msg, n, &d, &e), SMILE_ERR_PROTO);
	assert_string_equal(e.field, "reply.masked");

	/* revealed: a sealed field too short to hold nonce + tag + 1 byte */
	uint8_t rv[SMILE_REPLY_MAX_BYTES];
	size_t rn = hex(V_REPLY_1, rv, sizeof(rv));
	size_t rs = wb_off + 2 + 15 + 2 + strlen(V_MASKED);
	assert_int_equal(rv[rs] * 256 + rv[rs + 1], 24 + strlen(V_CONTACT) + 16);
	rv[rs] = 0;
	rv[rs + 1] = 40;
	assert_int_equal(smile_reply_decode(rv, rn, &d, &e), SMILE_ERR_PROTO);
	assert_string_equal(e.field, "reply.contact");
	/* revealed must carry reason ok */
	rn = hex(V_REPLY_1, rv, sizeof(rv));
	rv[status_off + 2] = SMILE_REASON_HUB_ROLE;
	assert_int_equal(smile_reply_decode(rv, rn, &d, &e), SMILE_ERR_PROTO);
	assert_string_equal(e.field, "reply.reason");
	/* a contact on a reply that is not revealed */
	rn = hex(V_REPLY_1, rv, sizeof(rv));
	rv[status_off] = SMILE_STATUS_DENIED;
	assert_int_equal(smile_reply_decode(rv, rn, &d, &e), SMILE_ERR_PROTO);
}

static void every_altered_byte_is_refused(void **state)
{
	uint8_t scan[SMILE_SCAN_MAX_BYTES], reply[SMILE_REPLY_MAX_BYTES];
	size_t sn = hex(V_SCAN_A, scan, sizeof(scan));
	size_t rn = hex(V_REPLY_1, reply, sizeof(reply));
	(void)state;

	for (size_t i = 0; i < sn; i++) {
		scan[i] ^= 0x01;
		assert_int_not_equal(smile_scan_verify(scan, sn, dev.sign_pk, NULL), SMILE_OK);
		scan[i] ^= 0x01;
	}
	for (size_t i = 0; i < rn; i++) {
		reply[i] ^= 0x01;
		assert_int_not_equal(smile_reply_verify(reply, rn, gw.sign_pk, NULL), SMILE_OK);
		reply[i] ^= 0x01;
	}
	/* a change that keeps the structure valid is a signature failure */
	scan[42] = 'X'; /* first token byte */
	assert_int_equal(smile_scan_verify(scan, sn, dev.sign_pk, NULL), SMILE_ERR_BAD_SIGNATURE);
	scan[sn - 1] ^= 0x80;
	assert_int_equal(smile_scan_verify(scan, sn, dev.sign_pk, NULL), SMILE_ERR_BAD_SIGNATURE);
	assert_int_equal(smile_scan_verify(scan, sn, dev.sign_pk, NULL), SMILE_ERR_BAD_SIGNATURE);
	reply[rn - 100] ^= 0x01; /* inside the ciphertext */
	assert_int_equal(smile_reply_verify(reply, rn, gw.sign_pk, NULL), SMILE_ERR_BAD_SIGNATURE);
}

static void signatures_by_other_keys(void **state)
{
	uint8_t scan[SMILE_SCAN_MAX_BYTES], reply[SMILE_REPLY_MAX_BYTES];
	size_t sn = hex(V_SCAN_A, scan, sizeof(scan));
	size_t rn = hex(V_REPLY_1, reply, sizeof(reply));
	struct smile_device_keys other;
	struct smile_error e = {0};
	(void)state;

	assert_int_equal(smile_device_keygen("courier-02", &other, NULL), SMILE_OK);
	assert_int_equal(smile_scan_verify(scan, sn, other.sign_pk, &e), SMILE_ERR_BAD_SIGNATURE);
	assert_string_equal(e.field, "scan.signature");
	/* the gateway's key does not verify a device's scan, nor the reverse */
	assert_int_equal(smile_scan_verify(scan, sn, gw.sign_pk, NULL), SMILE_ERR_BAD_SIGNATURE);
	assert_int_equal(smile_reply_verify(reply, rn, dev.sign_pk, NULL), SMILE_ERR_BAD_SIGNATURE);
	/* a reply signed by another gateway */
	assert_int_equal(smile_reply_verify(reply, rn, other.sign_pk, &e), SMILE_ERR_BAD_SIGNATURE);
	assert_string_equal(e.field, "reply.signature");
	smile_device_keys_wipe(&other);
}

static void contact_opens_only_with_its_key(void **state)
{
	uint8_t reply[SMILE_REPLY_MAX_BYTES], pt[SMILE_PROTO_CONTACT_MAX], k2[32];
	size_t rn = hex(V_REPLY_1, reply, sizeof(reply));
	size_t ptn = 77, clen = strlen(V_CONTACT);
	struct smile_device_keys other;
	struct smile_error e = {0};
	(void)state;

	/* another device's shared key with the same gateway */
	assert_int_equal(smile_device_keygen("courier-02", &other, NULL), SMILE_OK);
	assert_int_equal(smile_proto_shared_key(gw.box_sk, other.box_pk, k2), SMILE_OK);
	memset(pt, 0xAA, sizeof(pt));
	assert_int_equal(smile_reply_open_contact(reply, rn, k2, pt, sizeof(pt), &ptn, &e),
			 SMILE_ERR_DECRYPT);
	assert_int_equal(ptn, 0);
	for (size_t i = 0; i < sizeof(pt); i++)
		assert_int_equal(pt[i], 0); /* wiped, nothing half-decrypted */
	/* tampered ciphertext, tag, nonce */
	size_t offs[] = {rn - 64 - 1, rn - 64 - 16 - 5, rn - 64 - clen - 16 - 1};
	for (size_t i = 0; i < 3; i++) {
		reply[offs[i]] ^= 0x20;
		assert_int_equal(smile_reply_open_contact(reply, rn, shared, pt, sizeof(pt), &ptn,
							  NULL),
				 SMILE_ERR_DECRYPT);
		reply[offs[i]] ^= 0x20;
	}
	/* the header is associated data: changing the seq or masked view breaks it */
	reply[2 + 2 + 10 + 7] ^= 0x01;
	assert_int_equal(smile_reply_open_contact(reply, rn, shared, pt, sizeof(pt), &ptn, NULL),
			 SMILE_ERR_DECRYPT);
	reply[2 + 2 + 10 + 7] ^= 0x01;
	reply[100] ^= 0x01; /* inside the masked JSON */
	assert_int_equal(smile_reply_open_contact(reply, rn, shared, pt, sizeof(pt), &ptn, NULL),
			 SMILE_ERR_DECRYPT);
	reply[100] ^= 0x01;
	/* a buffer one byte short is refused before decrypting, and wiped */
	memset(pt, 0xAA, sizeof(pt));
	assert_int_equal(smile_reply_open_contact(reply, rn, shared, pt, clen - 1, &ptn, NULL),
			 SMILE_ERR_BUFFER_SMALL);
	for (size_t i = 0; i < clen - 1; i++)
		assert_int_equal(pt[i], 0);
	assert_int_equal(pt[clen - 1], 0xAA); /* nothing written past cap */
	assert_int_equal(smile_reply_open_contact(reply, rn, shared, NULL, 0, &ptn, NULL),
			 SMILE_ERR_BUFFER_SMALL);
	assert_int_equal(smile_reply_open_contact(reply, rn, shared, pt, clen, &ptn, NULL),
			 SMILE_OK);
	assert_int_equal(ptn, clen);
	sodium_memzero(pt, sizeof(pt));
	smile_device_keys_wipe(&other);
}

static void shared_key_refuses_low_order_points(void **state)
{
	uint8_t zero[32] = {0}, out[32];
	(void)state;
	memset(out, 0x55, sizeof(out));
	assert_int_equal(smile_proto_shared_key(gw.box_sk, zero, out), SMILE_ERR_CRYPTO);
	for (int i = 0; i < 32; i++)
		assert_int_equal(out[i], 0);
}

/* ------------------------------------------------------------ helpers */

static void names_round_trip(void **state)
{
	enum smile_event ev;
	enum smile_status st;
	enum smile_reason rs;
	(void)state;
	for (int i = SMILE_EVENT_FIRST; i <= SMILE_EVENT_LAST; i++) {
		assert_int_equal(smile_proto_event_from_name(smile_proto_event_name(i), &ev), SMILE_OK);
		assert_int_equal(ev, i);
	}
	assert_string_equal(smile_proto_event_name(SMILE_EVENT_OUT_FOR_DELIVERY), "out_for_delivery");
	assert_string_equal(smile_proto_event_name(0), "unknown");
	assert_string_equal(smile_proto_event_name(8), "unknown");
	assert_int_equal(smile_proto_event_from_name("unknown", &ev), SMILE_ERR_NOT_FOUND);
	assert_int_equal(smile_proto_event_from_name("Pickup", &ev), SMILE_ERR_NOT_FOUND);
	assert_int_equal(smile_proto_event_from_name(NULL, &ev), SMILE_ERR_NOT_FOUND);
	for (int i = SMILE_STATUS_REVEALED; i <= SMILE_STATUS_ERROR; i++) {
		assert_int_equal(smile_proto_status_from_name(smile_proto_status_name(i), &st),
				 SMILE_OK);
		assert_int_equal(st, i);
	}
	assert_string_equal(smile_proto_status_name(0), "unknown");
	for (int i = 0; i <= SMILE_REASON_LAST; i++) {
		assert_string_not_equal(smile_proto_reason_name(i), "unknown");
		assert_int_equal(smile_proto_reason_from_name(smile_proto_reason_name(i), &rs),
				 SMILE_OK);
		assert_int_equal(rs, i);
	}
	assert_string_equal(smile_proto_reason_name(SMILE_REASON_QUOTA_EXCEEDED), "quota_exceeded");
	assert_string_equal(smile_proto_reason_name(SMILE_REASON_LAST + 1), "unknown");
	assert_string_equal(smile_proto_reason_name(-1), "unknown");
	assert_int_equal(SMILE_REASON_TOKEN_TAMPERED, 12); /* wire values never renumber */
	assert_int_equal(SMILE_REASON_INTERNAL, 25);

	assert_true(smile_proto_event_is_custody(SMILE_EVENT_PICKUP));
	assert_true(smile_proto_event_is_custody(SMILE_EVENT_HUB_IN));
	assert_true(smile_proto_event_is_custody(SMILE_EVENT_OUT_FOR_DELIVERY));
	assert_false(smile_proto_event_is_custody(SMILE_EVENT_HUB_OUT));
	assert_false(smile_proto_event_is_custody(SMILE_EVENT_DELIVERED));
	assert_false(smile_proto_event_is_custody(SMILE_EVENT_DELIVERY_FAILED));

	assert_int_equal(smile_proto_reason_from_err(SMILE_OK), SMILE_REASON_OK);
	assert_int_equal(smile_proto_reason_from_err(SMILE_ERR_TOKEN_TAMPERED),
			 SMILE_REASON_TOKEN_TAMPERED);
	assert_int_equal(smile_proto_reason_from_err(SMILE_ERR_BAD_SIGNATURE),
			 SMILE_REASON_BAD_SIGNATURE);
	assert_int_equal(smile_proto_reason_from_err(SMILE_ERR_SHREDDED), SMILE_REASON_ERASED);
	assert_int_equal(smile_proto_reason_from_err(SMILE_ERR_PROTO_VERSION),
			 SMILE_REASON_PROTOCOL_VERSION);
	assert_int_equal(smile_proto_reason_from_err(SMILE_ERR_STORE), SMILE_REASON_INTERNAL);
}

static void topics(void **state)
{
	char t[SMILE_PROTO_TOPIC_MAX], id[SMILE_PROTO_ID_MAX + 1];
	enum smile_topic k;
	(void)state;
	assert_int_equal(smile_proto_topic(t, sizeof(t), "courier-01", SMILE_TOPIC_SCAN), SMILE_OK);
	assert_string_equal(t, "smile/v1/dev/courier-01/scan");
	assert_int_equal(smile_proto_topic(t, sizeof(t), "courier-01", SMILE_TOPIC_REPLY), SMILE_OK);
	assert_string_equal(t, "smile/v1/dev/courier-01/reply");
	assert_int_equal(smile_proto_topic_parse(t, id, &k), SMILE_OK);
	assert_string_equal(id, "courier-01");
	assert_int_equal(k, SMILE_TOPIC_REPLY);
	/* the longest id fits SMILE_PROTO_TOPIC_MAX */
	assert_int_equal(smile_proto_topic(t, sizeof(t), "abcdefghijklmnopqrstuvwxyz012345",
					   SMILE_TOPIC_REPLY),
			 SMILE_OK);
	assert_int_equal(smile_proto_topic(t, 28, "courier-01", SMILE_TOPIC_SCAN),
			 SMILE_ERR_BUFFER_SMALL);
	assert_int_equal(smile_proto_topic(t, 29, "courier-01", SMILE_TOPIC_SCAN), SMILE_OK);
	assert_int_equal(smile_proto_topic(t, sizeof(t), "a/b", SMILE_TOPIC_SCAN), SMILE_ERR_INVALID);
	assert_int_equal(smile_proto_topic(t, sizeof(t), "#", SMILE_TOPIC_SCAN), SMILE_ERR_INVALID);
	assert_int_equal(smile_proto_topic(t, sizeof(t), "", SMILE_TOPIC_SCAN), SMILE_ERR_INVALID);
	assert_int_equal(smile_proto_topic(t, sizeof(t), "x", (enum smile_topic)9),
			 SMILE_ERR_INVALID);
	const char *bad[] = {"smile/v1/dev//scan",          "smile/v1/dev/a/b/scan",
			     "smile/v1/dev/a/scans",        "smile/v2/dev/a/scan",
			     "smile/v1/dev/+/scan",         "smile/v1/dev/a",
			     "smile/v1/merchant/m/events",  "smile/v1/dev/abcdefghijklmnopqrstuvwxyz0123456/scan"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(smile_proto_topic_parse(bad[i], id, &k), SMILE_ERR_INVALID);
		assert_string_equal(id, "");
	}
}

static void key_base64(void **state)
{
	char b64[SMILE_PROTO_KEY_B64_BYTES], bad[SMILE_PROTO_KEY_B64_BYTES];
	uint8_t k[32];
	(void)state;
	smile_proto_key_to_base64(dev.sign_pk, b64);
	assert_string_equal(b64, "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=");
	assert_int_equal(smile_proto_key_from_base64(b64, 44, k), SMILE_OK);
	assert_memory_equal(k, dev.sign_pk, 32);
	assert_int_equal(smile_proto_key_from_base64(b64, 43, k), SMILE_ERR_INVALID);
	memcpy(bad, b64, sizeof(bad));
	bad[42] = 'h'; /* same bytes, non-zero leftover bits: not canonical */
	assert_int_equal(smile_proto_key_from_base64(bad, 44, k), SMILE_ERR_INVALID);
	memcpy(bad, b64, sizeof(bad));
	bad[4] = '_'; /* URL-safe alphabet */
	assert_int_equal(smile_proto_key_from_base64(bad, 44, k), SMILE_ERR_INVALID);
	memcpy(bad, b64, sizeof(bad));
	bad[43] = 'A'; /* no padding */
	assert_int_equal(smile_proto_key_from_base64(bad, 44, k), SMILE_ERR_INVALID);
	for (int i = 0; i < 32; i++)
		assert_int_equal(k[i], 0);
	assert_int_equal(smile_proto_key_from_base64(NULL, 44, k), SMILE_ERR_INVALID);
	/* bytes >= 0x80 are not base64 digits (libsodium 1.0.18 alone lets some
	 * through; found by fuzz_proto) */
	memcpy(bad, b64, sizeof(bad));
	bad[3] = (char)0xbe;
	bad[4] = (char)0x89;
	assert_int_equal(smile_proto_key_from_base64(bad, 44, k), SMILE_ERR_INVALID);
	memcpy(bad, b64, sizeof(bad));
	bad[10] = '=';
	assert_int_equal(smile_proto_key_from_base64(bad, 44, k), SMILE_ERR_INVALID);
}

static void freshness_and_replay_rules(void **state)
{
	uint8_t d1[32], d2[32];
	const uint64_t now = 1767225600000ULL, skew = SMILE_PROTO_SKEW_MS_DEFAULT;
	(void)state;
	assert_int_equal(smile_proto_check_time(now, now, skew), SMILE_OK);
	assert_int_equal(smile_proto_check_time(now - skew, now, skew), SMILE_OK);
	assert_int_equal(smile_proto_check_time(now + skew, now, skew), SMILE_OK);
	assert_int_equal(smile_proto_check_time(now - skew - 1, now, skew), SMILE_ERR_STALE);
	assert_int_equal(smile_proto_check_time(now + skew + 1, now, skew), SMILE_ERR_STALE);
	assert_int_equal(smile_proto_check_time(0, now, skew), SMILE_ERR_STALE);
	assert_int_equal(smile_proto_check_time(UINT64_MAX, now, skew), SMILE_ERR_STALE);

	memset(d1, 1, 32);
	memset(d2, 2, 32);
	assert_int_equal(smile_proto_seq_classify(0, NULL, 1, d1), SMILE_SEQ_NEW);
	assert_int_equal(smile_proto_seq_classify(5, d1, 6, d2), SMILE_SEQ_NEW);
	assert_int_equal(smile_proto_seq_classify(5, d1, 5, d1), SMILE_SEQ_RETRANSMIT);
	assert_int_equal(smile_proto_seq_classify(5, d1, 5, d2), SMILE_SEQ_REPLAY);
	assert_int_equal(smile_proto_seq_classify(5, d1, 4, d1), SMILE_SEQ_REPLAY);
	assert_int_equal(smile_proto_seq_classify(5, NULL, 5, d1), SMILE_SEQ_REPLAY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vectors_keys),
		cmocka_unit_test(vectors_scans),
		cmocka_unit_test(vectors_scan_decodes),
		cmocka_unit_test(vectors_replies),
		cmocka_unit_test(scan_round_trip_and_limits),
		cmocka_unit_test(reply_round_trip_random_nonce),
		cmocka_unit_test(reply_encode_refuses_inconsistent_input),
		cmocka_unit_test(truncation_at_every_length),
		cmocka_unit_test(version_type_and_size_are_checked),
		cmocka_unit_test(scan_fields_out_of_range),
		cmocka_unit_test(reply_fields_out_of_range),
		cmocka_unit_test(every_altered_byte_is_refused),
		cmocka_unit_test(signatures_by_other_keys),
		cmocka_unit_test(contact_opens_only_with_its_key),
		cmocka_unit_test(shared_key_refuses_low_order_points),
		cmocka_unit_test(names_round_trip),
		cmocka_unit_test(topics),
		cmocka_unit_test(key_base64),
		cmocka_unit_test(freshness_and_replay_rules),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
