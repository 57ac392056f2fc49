/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_proto.c - libFuzzer target for every parser of outside input in the
 * device core: scan and reply decoders, signature checks, contact opening,
 * the device's reply check, key file images, base64 keys and topics; and
 * the print station's job and job status (smile/printjob.h).
 *
 * Beyond "no crash", it checks the codec is canonical: any scan or
 * (non-revealed) reply that decodes re-encodes to the very same bytes, so one
 * message has one meaning and signatures cover exactly what was parsed.
 *
 * The keys are those of docs/protocol.md's test vectors and the device's
 * outstanding scan is the spec's scan A, so the vectors (the seeds in
 * tests/fuzz/corpus/fuzz_proto/) are valid all the way: reply 1 verifies,
 * matches the outstanding scan and decrypts, and mutations start from there.
 *
 *   make fuzz && build/fuzz/fuzz_proto -max_total_time=60    (or make fuzz-smoke)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "smile/device.h"
#include "smile/printjob.h"
#include "smile/proto.h"

#include "../unit/device/proto_vectors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct smile_device_keys dev, gw;
static struct smile_device device;
static uint8_t shared[SMILE_PROTO_KEY_BYTES];
static uint8_t scan_msg[SMILE_SCAN_MAX_BYTES];
static size_t scan_len;

static void init_once(void)
{
	static int done;
	struct smile_scan a;

	if (done)
		return;
	done = 1;
	if (smile_proto_init() != SMILE_OK || v_vector_keys(&dev, &gw) != 0)
		abort();
	if (smile_device_init(&device, &dev, gw.sign_pk, gw.box_pk, NULL) != SMILE_OK ||
	    smile_proto_shared_key(gw.box_sk, dev.box_pk, shared) != SMILE_OK)
		abort();
	scan_len = v_hex(V_SCAN_A, scan_msg, sizeof(scan_msg));
	if (smile_scan_decode(scan_msg, scan_len, &a, NULL) != SMILE_OK)
		abort();
}

static void check_scan(const uint8_t *data, size_t size)
{
	struct smile_scan s;
	uint8_t out[SMILE_SCAN_MAX_BYTES], dg[SMILE_PROTO_DIGEST_BYTES];
	size_t len;

	if (smile_scan_digest(data, size, dg) != SMILE_OK)
		abort();
	if (smile_scan_decode(data, size, &s, NULL) != SMILE_OK) {
		if (smile_scan_verify(data, size, dev.sign_pk, NULL) == SMILE_OK)
			abort(); /* verify must never accept what decode refuses */
		return;
	}
	if (smile_scan_encode(&s, dev.sign_sk, out, sizeof(out), &len, NULL) != SMILE_OK)
		abort();
	if (len != size || memcmp(out, data, size - SMILE_PROTO_SIG_BYTES) != 0)
		abort(); /* not canonical */
	(void)smile_scan_verify(data, size, dev.sign_pk, NULL);
}

static void check_reply(const uint8_t *data, size_t size)
{
	struct smile_reply r;
	uint8_t out[SMILE_REPLY_MAX_BYTES], pt[SMILE_PROTO_CONTACT_MAX];
	size_t len, ptn;

	if (smile_reply_decode(data, size, &r, NULL) == SMILE_OK &&
	    r.status != SMILE_STATUS_REVEALED) {
		if (smile_reply_encode(&r, NULL, gw.sign_sk, out, sizeof(out), &len, NULL) !=
			    SMILE_OK ||
		    len != size || memcmp(out, data, size - SMILE_PROTO_SIG_BYTES) != 0)
			abort(); /* not canonical */
	}
	(void)smile_reply_verify(data, size, gw.sign_pk, NULL);
	if (smile_reply_open_contact(data, size, shared, pt, sizeof(pt), &ptn, NULL) != SMILE_OK &&
	    ptn != 0)
		abort();
	if (smile_device_open_reply(&device, scan_msg, scan_len, data, size, &r, pt, sizeof(pt),
				    &ptn, NULL) != SMILE_OK &&
	    ptn != 0)
		abort();
}

static void check_text(const uint8_t *data, size_t size)
{
	char buf[128], id[SMILE_PROTO_ID_MAX + 1];
	uint8_t key[SMILE_PROTO_PK_BYTES];
	enum smile_topic kind;
	struct smile_device_keys k;
	size_t n = size < sizeof(buf) - 1 ? size : sizeof(buf) - 1;

	memcpy(buf, data, n);
	buf[n] = '\0';
	if (smile_proto_topic_parse(buf, id, &kind) == SMILE_OK) {
		char t[SMILE_PROTO_TOPIC_MAX];
		if (smile_proto_topic(t, sizeof(t), id, kind) != SMILE_OK || strcmp(t, buf) != 0)
			abort(); /* parse and build disagree */
	}
	if (smile_proto_key_from_base64(buf, n, key) == SMILE_OK) {
		char b64[SMILE_PROTO_KEY_B64_BYTES];
		smile_proto_key_to_base64(key, b64);
		if (strcmp(b64, buf) != 0)
			abort(); /* two spellings of one key */
	}
	if (smile_device_keys_load(data, size, &k, NULL) == SMILE_OK)
		smile_device_keys_wipe(&k);
}

/* Print jobs: opening never leaves plaintext behind on a refusal, and a
 * status that decodes re-encodes to the same bytes (canonical). */
static void check_printjob(const uint8_t *data, size_t size)
{
	struct smile_job j;
	struct smile_job_status st;
	uint8_t rec[SMILE_JOB_RECORD_MAX], out[SMILE_JOB_STATUS_MAX_BYTES];
	size_t len;

	if (smile_job_open(data, size, gw.sign_pk, dev.id, shared, &j, rec, sizeof(rec), NULL) !=
	    SMILE_OK) {
		for (size_t i = 0; i < sizeof(rec); i++)
			if (rec[i])
				abort(); /* a refused job left bytes in the record buffer */
	}
	if (smile_job_status_decode(data, size, &st, NULL) == SMILE_OK) {
		if (smile_job_status_encode(&st, dev.sign_sk, out, sizeof(out), &len, NULL) !=
			    SMILE_OK ||
		    len != size || memcmp(out, data, size - SMILE_PROTO_SIG_BYTES) != 0)
			abort(); /* not canonical */
		(void)smile_job_status_verify(data, size, dev.sign_pk);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_once();
	check_printjob(data, size);
	check_scan(data, size);
	check_reply(data, size);
	check_text(data, size);
	return 0;
}
