/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for firmware-bridge/core/printjob.c: a print job the gateway
 * builds opens at its station and nowhere else (another station, another
 * gateway key, a tampered byte anywhere, a record moved into another job),
 * and a station's status report round-trips and fails its signature check
 * when changed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <sodium.h>

#include "smile/device.h"
#include "smile/printjob.h"
#include "smile/proto.h"

static struct smile_device_keys st, other, gw, gw2;
static uint8_t k_gw[SMILE_PROTO_KEY_BYTES], k_st[SMILE_PROTO_KEY_BYTES];
static uint8_t k_other[SMILE_PROTO_KEY_BYTES];
static const char record[] = "{\"waybill\":\"SW2601010000017\",\"name\":\"\\u5f20**\"}";

static int setup(void **state)
{
	(void)state;
	if (smile_proto_init() != SMILE_OK ||
	    smile_device_keygen("station-1", &st, NULL) != SMILE_OK ||
	    smile_device_keygen("station-2", &other, NULL) != SMILE_OK ||
	    smile_device_keygen("gw", &gw, NULL) != SMILE_OK ||
	    smile_device_keygen("gw2", &gw2, NULL) != SMILE_OK)
		return -1;
	/* both sides derive the same key (protocol.md section 3) */
	if (smile_proto_shared_key(gw.box_sk, st.box_pk, k_gw) != SMILE_OK ||
	    smile_proto_shared_key(st.box_sk, gw.box_pk, k_st) != SMILE_OK ||
	    smile_proto_shared_key(other.box_sk, gw.box_pk, k_other) != SMILE_OK)
		return -1;
	return 0;
}

static void sample(struct smile_job *j)
{
	memset(j, 0, sizeof(*j));
	memcpy(j->station, "station-1", 10);
	memcpy(j->job_id, "pj_0123456789abcdef0123456789abcdef", 36);
	j->seq = 7;
	j->time_ms = 1767225600123ULL;
	j->format = SMILE_JOB_ZPL;
	j->copies = 2;
	j->flags = SMILE_JOB_FLAG_REPRINT;
	memcpy(j->waybill, "SW2601010000017", 16);
	j->record = (const uint8_t *)record;
	j->record_len = sizeof(record) - 1;
}

static size_t build(uint8_t *msg, size_t cap)
{
	struct smile_job j;
	size_t n = 0;
	sample(&j);
	assert_int_equal(smile_job_encode(&j, k_gw, gw.sign_sk, msg, cap, &n, NULL), SMILE_OK);
	return n;
}

static void job_round_trip(void **state)
{
	uint8_t msg[SMILE_JOB_MAX_BYTES], rec[SMILE_JOB_RECORD_MAX];
	struct smile_job out;
	size_t n;
	(void)state;

	n = build(msg, sizeof(msg));
	assert_int_equal(n, SMILE_JOB_FIXED_BYTES + 9 + 35 + 15 + SMILE_PROTO_SEAL_OVERHEAD +
				    sizeof(record) - 1);
	/* the record never travels in the clear */
	assert_null(memmem(msg, n, "SW2601010000017\",", 17));
	assert_int_equal(smile_job_open(msg, n, gw.sign_pk, "station-1", k_st, &out, rec,
					sizeof(rec), NULL),
			 SMILE_OK);
	assert_string_equal(out.station, "station-1");
	assert_string_equal(out.job_id, "pj_0123456789abcdef0123456789abcdef");
	assert_string_equal(out.waybill, "SW2601010000017");
	assert_int_equal(out.seq, 7);
	assert_int_equal(out.time_ms, 1767225600123ULL);
	assert_int_equal(out.format, SMILE_JOB_ZPL);
	assert_int_equal(out.copies, 2);
	assert_int_equal(out.flags, SMILE_JOB_FLAG_REPRINT);
	assert_int_equal(out.record_len, sizeof(record) - 1);
	assert_memory_equal(out.record, record, sizeof(record) - 1);
	/* a small buffer is refused before anything is written */
	{
		struct smile_job j;
		size_t m = 1;
		sample(&j);
		assert_int_equal(smile_job_encode(&j, k_gw, gw.sign_sk, msg, n - 1, &m, NULL),
				 SMILE_ERR_BUFFER_SMALL);
		assert_int_equal(m, 0);
	}
}

static void job_refusals(void **state)
{
	uint8_t msg[SMILE_JOB_MAX_BYTES + 8], bad[SMILE_JOB_MAX_BYTES + 8];
	uint8_t rec[SMILE_JOB_RECORD_MAX];
	struct smile_job out;
	struct smile_error e = {0};
	size_t n;
	(void)state;

	n = build(msg, sizeof(msg));
	/* another station: refused before decrypting, even with its own key */
	assert_int_equal(smile_job_open(msg, n, gw.sign_pk, "station-2", k_other, &out, rec,
					sizeof(rec), &e),
			 SMILE_ERR_DENIED);
	assert_string_equal(e.field, "job.station");
	/* signed by someone else */
	assert_int_equal(smile_job_open(msg, n, gw2.sign_pk, "station-1", k_st, &out, rec,
					sizeof(rec), NULL),
			 SMILE_ERR_BAD_SIGNATURE);
	/* every single flipped byte is refused */
	for (size_t i = 0; i < n; i++) {
		memcpy(bad, msg, n);
		bad[i] ^= 0x01;
		assert_int_not_equal(smile_job_open(bad, n, gw.sign_pk, "station-1", k_st, &out,
						    rec, sizeof(rec), NULL),
				     SMILE_OK);
		for (size_t k = 0; k < sizeof(rec); k++)
			assert_int_equal(rec[k], 0); /* no plaintext left behind */
	}
	/* truncated, trailing bytes */
	assert_int_equal(smile_job_open(msg, n - 1, gw.sign_pk, "station-1", k_st, &out, rec,
					sizeof(rec), NULL),
			 SMILE_ERR_PROTO);
	memcpy(bad, msg, n);
	bad[n] = 0;
	assert_int_equal(smile_job_open(bad, n + 1, gw.sign_pk, "station-1", k_st, &out, rec,
					sizeof(rec), NULL),
			 SMILE_ERR_PROTO);
	/* a record sealed for station-1 moved into a job re-signed by the
	 * gateway with other copies: the associated data no longer matches */
	{
		struct smile_job j;
		uint8_t m2[SMILE_JOB_MAX_BYTES];
		size_t n2, off;
		sample(&j);
		j.copies = 9;
		assert_int_equal(smile_job_encode(&j, k_gw, gw.sign_sk, m2, sizeof(m2), &n2, NULL),
				 SMILE_OK);
		assert_int_equal(n2, n);
		off = n - SMILE_PROTO_SIG_BYTES - (SMILE_PROTO_SEAL_OVERHEAD + sizeof(record) - 1);
		memcpy(m2 + off, msg + off, n - SMILE_PROTO_SIG_BYTES - off);
		crypto_sign_detached(m2 + n - SMILE_PROTO_SIG_BYTES, NULL, m2,
				     n - SMILE_PROTO_SIG_BYTES, gw.sign_sk);
		assert_int_equal(smile_job_open(m2, n, gw.sign_pk, "station-1", k_st, &out, rec,
						sizeof(rec), NULL),
				 SMILE_ERR_DECRYPT);
	}
	/* the wrong box key (another station's shared key) does not open it */
	assert_int_equal(smile_job_open(msg, n, gw.sign_pk, "station-1", k_other, &out, rec,
					sizeof(rec), NULL),
			 SMILE_ERR_DECRYPT);
	/* encode refuses bad fields */
	{
		struct smile_job j;
		size_t m;
		sample(&j);
		j.copies = 0;
		assert_int_equal(smile_job_encode(&j, k_gw, gw.sign_sk, msg, sizeof(msg), &m, &e),
				 SMILE_ERR_INVALID);
		sample(&j);
		j.flags = 2;
		assert_int_equal(smile_job_encode(&j, k_gw, gw.sign_sk, msg, sizeof(msg), &m, &e),
				 SMILE_ERR_INVALID);
		sample(&j);
		memcpy(j.waybill, "a/b", 4);
		assert_int_equal(smile_job_encode(&j, k_gw, gw.sign_sk, msg, sizeof(msg), &m, &e),
				 SMILE_ERR_INVALID);
	}
}

static void status_round_trip_and_tamper(void **state)
{
	uint8_t msg[SMILE_JOB_STATUS_MAX_BYTES + 1];
	struct smile_job_status s = {0}, out;
	size_t n;
	(void)state;

	memcpy(s.station, "station-1", 10);
	memcpy(s.job_id, "pj_1", 5);
	s.seq = 3;
	s.time_ms = 1767225600999ULL;
	s.state = SMILE_JOB_SENT;
	s.reason = SMILE_JOB_R_PRINTER_NOT_READY;
	memcpy(s.text, "paper out", 10);
	assert_int_equal(smile_job_status_encode(&s, st.sign_sk, msg, sizeof(msg), &n, NULL),
			 SMILE_OK);
	assert_int_equal(smile_job_status_decode(msg, n, &out, NULL), SMILE_OK);
	assert_int_equal(smile_job_status_verify(msg, n, st.sign_pk), SMILE_OK);
	assert_string_equal(out.station, "station-1");
	assert_string_equal(out.job_id, "pj_1");
	assert_int_equal(out.seq, 3);
	assert_int_equal(out.state, SMILE_JOB_SENT);
	assert_int_equal(out.reason, SMILE_JOB_R_PRINTER_NOT_READY);
	assert_string_equal(out.text, "paper out");
	/* another station's key, any changed byte */
	assert_int_equal(smile_job_status_verify(msg, n, other.sign_pk), SMILE_ERR_BAD_SIGNATURE);
	for (size_t i = 0; i < n; i++) {
		msg[i] ^= 0x20;
		assert_int_equal(smile_job_status_verify(msg, n, st.sign_pk),
				 SMILE_ERR_BAD_SIGNATURE);
		msg[i] ^= 0x20;
	}
	/* decode refuses state 0 (queued is the gateway's own) and control text */
	s.state = SMILE_JOB_QUEUED;
	assert_int_equal(smile_job_status_encode(&s, st.sign_sk, msg, sizeof(msg), &n, NULL),
			 SMILE_ERR_INVALID);
	s.state = SMILE_JOB_FAILED;
	memcpy(s.text, "a\nb", 4);
	assert_int_equal(smile_job_status_encode(&s, st.sign_sk, msg, sizeof(msg), &n, NULL),
			 SMILE_ERR_INVALID);
	assert_string_equal(smile_job_state_name(SMILE_JOB_PRINTED), "printed");
	assert_string_equal(smile_job_reason_name(SMILE_JOB_R_UNCERTAIN), "uncertain");
	assert_string_equal(smile_job_reason_name(999), "unknown");
}

/* the sizes docs/print-station.md states */
static void documented_sizes(void **state)
{
	(void)state;
	assert_int_equal(SMILE_JOB_FIXED_BYTES, 93);
	assert_int_equal(SMILE_JOB_MAX_BYTES, 4333);
	assert_int_equal(SMILE_JOB_STATUS_FIXED_BYTES, 91);
	assert_int_equal(SMILE_JOB_STATUS_MAX_BYTES, 363);
}

static void topics(void **state)
{
	char t[SMILE_PROTO_TOPIC_MAX], id[SMILE_PROTO_ID_MAX + 1];
	enum smile_topic k;
	(void)state;
	assert_int_equal(smile_proto_topic(t, sizeof(t), "abcdefghijklmnopqrstuvwxyz012345",
					   SMILE_TOPIC_JOBSTATUS),
			 SMILE_OK);
	assert_int_equal(smile_proto_topic_parse(t, id, &k), SMILE_OK);
	assert_int_equal(k, SMILE_TOPIC_JOBSTATUS);
	assert_int_equal(smile_proto_topic(t, sizeof(t), "station-1", SMILE_TOPIC_JOB), SMILE_OK);
	assert_string_equal(t, "smile/v1/dev/station-1/job");
	assert_int_equal(smile_proto_topic_parse(t, id, &k), SMILE_OK);
	assert_int_equal(k, SMILE_TOPIC_JOB);
	assert_string_equal(id, "station-1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(job_round_trip),
		cmocka_unit_test(job_refusals),
		cmocka_unit_test(status_round_trip_and_tamper),
		cmocka_unit_test(topics),
		cmocka_unit_test(documented_sizes),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
