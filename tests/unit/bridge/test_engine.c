/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for firmware-bridge/engine.c, driven the way the daemon drives
 * it: the real queue and sequence file in a temporary state directory, the
 * real device core, a controllable clock, and gateway replies built with the
 * real protocol encoder and the docs/protocol.md vector keys. Covers: offline
 * queueing then FIFO delivery one at a time; byte-identical resends with
 * backoff; replies that must be ignored (tampered, another gateway, another
 * device, another scan); restart after a kill resending the same bytes;
 * stale / busy / internal handling; a full queue; modes and refusals; contact
 * details only in the revealed line and never on disk; output failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "../../../firmware-bridge/engine.h"
#include "../../../firmware-bridge/report.h"
#include "../../../firmware-bridge/seqfile.h"
#include "../../../firmware-bridge/statedir.h"
#include "smile/device.h"
#include "smile/proto.h"
#include "unit/device/proto_vectors.h"

#define T0_WALL 1767225600000ULL
#define MAX_PUB 64
#define MAX_LINES 64

static struct smile_device_keys vdev, vgw, other_dev, other_gw;

struct rig {
	char dir[64], qdir[96];
	struct bridge_seqfile sf;
	struct smile_seq seq;
	struct bridge_queue *q;
	struct smile_device dev;
	struct bridge_engine *g;
	struct bridge_engine_opts opts;
	uint64_t mono, wall;
	/* what went out */
	uint8_t pub[MAX_PUB][SMILE_SCAN_MAX_BYTES];
	size_t pub_len[MAX_PUB];
	int n_pub;
	char lines[MAX_LINES][BRIDGE_LINE_MAX];
	int n_lines;
	int emit_fails;
	uint8_t gw_shared[32];
};

static enum smile_err r_publish(void *ctx, const uint8_t *msg, size_t len)
{
	struct rig *r = ctx;
	assert_true(r->n_pub < MAX_PUB);
	memcpy(r->pub[r->n_pub], msg, len);
	r->pub_len[r->n_pub++] = len;
	return SMILE_OK;
}

static enum smile_err r_emit(void *ctx, const char *line, size_t len)
{
	struct rig *r = ctx;
	if (r->emit_fails)
		return SMILE_ERR_IO;
	assert_true(r->n_lines < MAX_LINES);
	assert_true(len < BRIDGE_LINE_MAX);
	memcpy(r->lines[r->n_lines], line, len);
	r->lines[r->n_lines++][len] = '\0';
	return SMILE_OK;
}

static uint64_t r_mono(void *ctx)
{
	return ((struct rig *)ctx)->mono;
}

static uint64_t r_wall(void *ctx)
{
	return ((struct rig *)ctx)->wall;
}

static int setup(void **state)
{
	(void)state;
	if (smile_proto_init() != SMILE_OK)
		return -1;
	if (v_vector_keys(&vdev, &vgw) != 0)
		return -1;
	if (smile_device_keygen("courier-02", &other_dev, NULL) != SMILE_OK ||
	    smile_device_keygen("evil-gateway", &other_gw, NULL) != SMILE_OK)
		return -1;
	return 0;
}

static void engine_start(struct rig *r)
{
	struct bridge_engine_ops ops = {.ctx = r, .publish = r_publish, .emit = r_emit,
					.mono_ms = r_mono, .wall_ms = r_wall};
	assert_int_equal(bridge_seqfile_init(&r->sf, r->dir, NULL), SMILE_OK);
	assert_int_equal(smile_seq_open(&r->seq, &r->sf.store, 1, NULL), SMILE_OK);
	assert_int_equal(bridge_queue_open(r->qdir, 5, &r->q, NULL), SMILE_OK);
	assert_int_equal(bridge_engine_new(&r->dev, &vdev, &r->seq, r->q, &r->opts, &ops, &r->g, NULL),
			 SMILE_OK);
}

/* Stop as kill -9 would: nothing flushed, nothing popped. */
static void engine_crash(struct rig *r)
{
	bridge_engine_free(r->g);
	bridge_queue_free(r->q);
	r->g = NULL;
	r->q = NULL;
}

static struct rig *rig_new(void)
{
	struct rig *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	snprintf(r->dir, sizeof(r->dir), "/tmp/smile-eng-XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	snprintf(r->qdir, sizeof(r->qdir), "%s/queue", r->dir);
	r->opts.retry_initial_ms = 1000;
	r->opts.retry_max_ms = 8000;
	r->opts.event = SMILE_EVENT_OUT_FOR_DELIVERY;
	r->mono = 5000;
	r->wall = T0_WALL;
	assert_int_equal(smile_device_init(&r->dev, &vdev, vgw.sign_pk, vgw.box_pk, NULL), SMILE_OK);
	assert_int_equal(smile_proto_shared_key(vgw.box_sk, vdev.box_pk, r->gw_shared), SMILE_OK);
	engine_start(r);
	return r;
}

static void rig_free(struct rig *r)
{
	char cmd[128];
	engine_crash(r);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->dir);
	assert_int_equal(system(cmd), 0);
	free(r);
}

static void code(struct rig *r, const char *c)
{
	assert_int_equal(bridge_engine_code(r->g, c, strlen(c), BRIDGE_CODE_OK), SMILE_OK);
}

struct answer_opts {
	const char *device_id;       /* default: the scan's device */
	const uint8_t *sign_sk;      /* default: the gateway's */
	uint64_t seq;                /* default: the scan's */
	uint64_t time_ms;            /* default: now */
	const uint8_t *digest_of;    /* default: the scan itself */
	size_t digest_len;
	uint16_t reason;
	int reason_set;
};

/* The gateway's reply to scan bytes, as the gateway builds it. */
static size_t answer(struct rig *r, const uint8_t *scan, size_t scan_len, enum smile_status st,
		     const struct answer_opts *o, uint8_t *out)
{
	struct smile_scan s;
	struct smile_reply rp;
	uint8_t dg[32];
	size_t len;
	assert_int_equal(smile_scan_decode(scan, scan_len, &s, NULL), SMILE_OK);
	assert_int_equal(smile_scan_digest(o && o->digest_of ? o->digest_of : scan,
					   o && o->digest_of ? o->digest_len : scan_len, dg),
			 SMILE_OK);
	memset(&rp, 0, sizeof(rp));
	rp.device_id = o && o->device_id ? o->device_id : V_DEVICE_ID;
	rp.device_id_len = strlen(rp.device_id);
	rp.seq = o && o->seq ? o->seq : s.seq;
	rp.scan_digest = dg;
	rp.time_ms = o && o->time_ms ? o->time_ms : r->wall;
	rp.status = st;
	rp.reason = o && o->reason_set ? o->reason
		    : st == SMILE_STATUS_REVEALED ? SMILE_REASON_OK
		    : st == SMILE_STATUS_RECORDED ? SMILE_REASON_HUB_ROLE
						  : SMILE_REASON_NOT_HOLDER;
	rp.waybill = V_WAYBILL;
	rp.waybill_len = strlen(V_WAYBILL);
	rp.masked = (const uint8_t *)V_MASKED;
	rp.masked_len = strlen(V_MASKED);
	if (st == SMILE_STATUS_REVEALED) {
		rp.contact = (const uint8_t *)V_CONTACT;
		rp.contact_len = strlen(V_CONTACT);
	}
	assert_int_equal(smile_reply_encode(&rp, r->gw_shared,
					    o && o->sign_sk ? o->sign_sk : vgw.sign_sk, out,
					    SMILE_REPLY_MAX_BYTES, &len, NULL),
			 SMILE_OK);
	return len;
}

/* Answer the last published scan. */
static void reply_last(struct rig *r, enum smile_status st, const struct answer_opts *o)
{
	uint8_t msg[SMILE_REPLY_MAX_BYTES];
	size_t len;
	assert_true(r->n_pub > 0);
	len = answer(r, r->pub[r->n_pub - 1], r->pub_len[r->n_pub - 1], st, o, msg);
	assert_int_equal(bridge_engine_reply(r->g, msg, len), SMILE_OK);
}

static struct smile_scan decoded(struct rig *r, int i)
{
	struct smile_scan s;
	assert_true(i < r->n_pub);
	assert_int_equal(smile_scan_decode(r->pub[i], r->pub_len[i], &s, NULL), SMILE_OK);
	assert_int_equal(smile_scan_verify(r->pub[i], r->pub_len[i], vdev.sign_pk, NULL), SMILE_OK);
	return s;
}

static int token_is(const struct smile_scan *s, const char *t)
{
	return s->token_len == strlen(t) && memcmp(s->token, t, s->token_len) == 0;
}

/* ------------------------------------------------------------ tests */

static void offline_scans_queue_then_go_one_at_a_time_in_order(void **state)
{
	struct rig *r = rig_new();
	struct smile_scan s;
	(void)state;
	code(r, "SW1:FIRST");
	r->wall += 1000;
	code(r, "SW1:SECOND");
	code(r, "SW1:THIRD");
	assert_int_equal(r->n_pub, 0);
	assert_int_equal(r->n_lines, 3);
	assert_string_equal(r->lines[0], "{\"notice\":\"queued\",\"queued\":1}\n");
	assert_string_equal(r->lines[2], "{\"notice\":\"queued\",\"queued\":3}\n");
	assert_int_equal(bridge_engine_timeout_ms(r->g), -1); /* nothing to do offline */

	r->wall += 60000; /* an hour offline or a minute: signed when sent */
	assert_int_equal(bridge_engine_online(r->g, 1), SMILE_OK);
	assert_int_equal(r->n_pub, 1); /* stop-and-wait: one outstanding */
	s = decoded(r, 0);
	assert_true(token_is(&s, "SW1:FIRST"));
	assert_int_equal(s.seq, 1);
	assert_int_equal(s.scanned_ms, T0_WALL);
	assert_int_equal(s.time_ms, r->wall); /* fresh signing time */
	assert_int_equal(s.event, SMILE_EVENT_OUT_FOR_DELIVERY);
	code(r, "SW1:FOURTH"); /* online now: no "queued" notice, still waits its turn */
	assert_int_equal(r->n_lines, 3);
	assert_int_equal(r->n_pub, 1);

	reply_last(r, SMILE_STATUS_REVEALED, NULL);
	assert_int_equal(r->n_lines, 4);
	assert_non_null(strstr(r->lines[3], "\"status\":\"revealed\""));
	assert_non_null(strstr(r->lines[3], "\"contact\":{\"name\":\"张三明\""));
	assert_int_equal(r->n_pub, 2);
	s = decoded(r, 1);
	assert_true(token_is(&s, "SW1:SECOND"));
	assert_int_equal(s.seq, 2);
	assert_int_equal(s.scanned_ms, T0_WALL + 1000);
	reply_last(r, SMILE_STATUS_RECORDED, NULL);
	assert_null(strstr(r->lines[4], "contact"));
	reply_last(r, SMILE_STATUS_DENIED, NULL);
	assert_non_null(strstr(r->lines[5], "\"status\":\"denied\",\"reason\":\"not_holder\""));
	s = decoded(r, 3);
	assert_true(token_is(&s, "SW1:FOURTH"));
	assert_int_equal(bridge_engine_idle(r->g), 0);
	reply_last(r, SMILE_STATUS_RECORDED, NULL);
	assert_int_equal(r->n_pub, 4);
	assert_int_equal(r->n_lines, 7);
	assert_int_equal(bridge_engine_idle(r->g), 1);
	assert_int_equal(bridge_queue_count(r->q), 0);
	rig_free(r);
}

static void resends_are_the_same_bytes_with_backoff(void **state)
{
	struct rig *r = rig_new();
	struct bridge_engine_stats st;
	(void)state;
	assert_int_equal(bridge_engine_online(r->g, 1), SMILE_OK);
	code(r, "SW1:RETRY");
	assert_int_equal(r->n_pub, 1);
	assert_int_equal(bridge_engine_timeout_ms(r->g), 1000);
	r->mono += 999;
	r->wall += 999;
	assert_int_equal(bridge_engine_tick(r->g), SMILE_OK);
	assert_int_equal(r->n_pub, 1);
	/* 1 s, then 2 s, 4 s, 8 s, 8 s: each resend is byte for byte the first */
	{
		static const long gaps[] = {1, 2000, 4000, 8000, 8000};
		for (size_t i = 0; i < 5; i++) {
			r->mono += (uint64_t)gaps[i];
			r->wall += 5000;
			assert_int_equal(bridge_engine_tick(r->g), SMILE_OK);
			assert_int_equal(r->n_pub, 2 + (int)i);
			assert_int_equal(r->pub_len[r->n_pub - 1], r->pub_len[0]);
			assert_memory_equal(r->pub[r->n_pub - 1], r->pub[0], r->pub_len[0]);
		}
	}
	/* the connection drops and returns: resent at once, same bytes */
	assert_int_equal(bridge_engine_online(r->g, 0), SMILE_OK);
	r->mono += 60000;
	assert_int_equal(bridge_engine_tick(r->g), SMILE_OK);
	assert_int_equal(r->n_pub, 6); /* nothing while offline */
	assert_int_equal(bridge_engine_online(r->g, 1), SMILE_OK);
	assert_int_equal(r->n_pub, 7);
	assert_memory_equal(r->pub[6], r->pub[0], r->pub_len[0]);
	assert_int_equal(bridge_engine_timeout_ms(r->g), 1000); /* backoff reset */
	bridge_engine_stats(r->g, &st);
	assert_int_equal(st.sent, 1);
	assert_int_equal(st.resent, 6);
	rig_free(r);
}

static void replies_not_for_this_scan_are_ignored(void **state)
{
	struct rig *r = rig_new();
	uint8_t msg[SMILE_REPLY_MAX_BYTES], other[SMILE_SCAN_MAX_BYTES];
	uint8_t other_shared[32];
	size_t len, olen;
	struct answer_opts o;
	struct bridge_engine_stats st;
	(void)state;
	assert_int_equal(bridge_engine_online(r->g, 1), SMILE_OK);
	/* before anything is in flight */
	assert_int_equal(bridge_engine_reply(r->g, (const uint8_t *)"early", 5), SMILE_OK);
	code(r, "SW1:MINE");
	assert_int_equal(r->n_pub, 1);

	/* tampered: one bit of the masked view */
	len = answer(r, r->pub[0], r->pub_len[0], SMILE_STATUS_REVEALED, NULL, msg);
	msg[len - 100] ^= 1;
	assert_int_equal(bridge_engine_reply(r->g, msg, len), SMILE_OK);
	/* signed by another gateway */
	memset(&o, 0, sizeof(o));
	o.sign_sk = other_gw.sign_sk;
	len = answer(r, r->pub[0], r->pub_len[0], SMILE_STATUS_RECORDED, &o, msg);
	assert_int_equal(bridge_engine_reply(r->g, msg, len), SMILE_OK);
	/* for another device */
	memset(&o, 0, sizeof(o));
	o.device_id = "courier-02";
	len = answer(r, r->pub[0], r->pub_len[0], SMILE_STATUS_RECORDED, &o, msg);
	assert_int_equal(bridge_engine_reply(r->g, msg, len), SMILE_OK);
	/* for another scan of ours (a late duplicate): other digest, other seq */
	memcpy(other, r->pub[0], r->pub_len[0]);
	olen = r->pub_len[0];
	other[olen - 1] ^= 1;
	memset(&o, 0, sizeof(o));
	o.digest_of = other;
	o.digest_len = olen;
	len = answer(r, r->pub[0], r->pub_len[0], SMILE_STATUS_RECORDED, &o, msg);
	assert_int_equal(bridge_engine_reply(r->g, msg, len), SMILE_OK);
	memset(&o, 0, sizeof(o));
	o.seq = 99;
	len = answer(r, r->pub[0], r->pub_len[0], SMILE_STATUS_RECORDED, &o, msg);
	assert_int_equal(bridge_engine_reply(r->g, msg, len), SMILE_OK);
	/* contact sealed to another device's key */
	assert_int_equal(smile_proto_shared_key(vgw.box_sk, other_dev.box_pk, other_shared), SMILE_OK);
	memcpy(r->gw_shared, other_shared, 32);
	len = answer(r, r->pub[0], r->pub_len[0], SMILE_STATUS_REVEALED, NULL, msg);
	assert_int_equal(bridge_engine_reply(r->g, msg, len), SMILE_OK);
	assert_int_equal(smile_proto_shared_key(vgw.box_sk, vdev.box_pk, r->gw_shared), SMILE_OK);
	/* garbage */
	assert_int_equal(bridge_engine_reply(r->g, (const uint8_t *)"hello", 5), SMILE_OK);

	assert_int_equal(r->n_lines, 0); /* none of them reached the output */
	assert_int_equal(bridge_queue_count(r->q), 1);
	bridge_engine_stats(r->g, &st);
	assert_int_equal(st.ignored, 8);
	reply_last(r, SMILE_STATUS_REVEALED, NULL);
	assert_int_equal(r->n_lines, 1);
	assert_non_null(strstr(r->lines[0], "13812345678"));
	assert_int_equal(bridge_queue_count(r->q), 0);
	/* the same reply again (a duplicate delivery) changes nothing */
	len = answer(r, r->pub[0], r->pub_len[0], SMILE_STATUS_REVEALED, NULL, msg);
	assert_int_equal(bridge_engine_reply(r->g, msg, len), SMILE_OK);
	assert_int_equal(r->n_lines, 1);
	rig_free(r);
}

static void restart_resends_exactly_what_was_sent(void **state)
{
	struct rig *r = rig_new();
	struct smile_scan s;
	uint8_t first[SMILE_SCAN_MAX_BYTES];
	size_t first_len;
	(void)state;
	code(r, "SW1:KILLED");
	code(r, "SW1:WAITING");
	assert_int_equal(bridge_engine_online(r->g, 1), SMILE_OK);
	assert_int_equal(r->n_pub, 1);
	memcpy(first, r->pub[0], r->pub_len[0]);
	first_len = r->pub_len[0];

	engine_crash(r); /* kill -9 with the scan in flight */
	r->wall += 30000;
	r->mono += 30000;
	engine_start(r);
	assert_int_equal(bridge_queue_count(r->q), 2);
	assert_int_equal(bridge_engine_online(r->g, 1), SMILE_OK);
	assert_int_equal(r->n_pub, 2);
	assert_int_equal(r->pub_len[1], first_len);
	assert_memory_equal(r->pub[1], first, first_len); /* same seq, time, signature */
	reply_last(r, SMILE_STATUS_RECORDED, NULL);
	assert_int_equal(r->n_lines, 3); /* two "queued" notices, one reply */
	s = decoded(r, 2);
	assert_true(token_is(&s, "SW1:WAITING"));
	assert_int_equal(s.seq, 2); /* the counter moved on, never reused */

	/* a crash after the reply line but before it left the queue: the resend
	 * is the same bytes again, the gateway answers with its stored reply */
	engine_crash(r);
	engine_start(r);
	assert_int_equal(bridge_engine_online(r->g, 1), SMILE_OK);
	assert_memory_equal(r->pub[3], r->pub[2], r->pub_len[2]);
	rig_free(r);
}

static void stale_is_re_signed_once_with_the_clock_corrected(void **state)
{
	struct rig *r = rig_new();
	struct answer_opts o;
	struct smile_scan s;
	(void)state;
	assert_int_equal(bridge_engine_online(r->g, 1), SMILE_OK);
	code(r, "SW1:LATE");
	memset(&o, 0, sizeof(o));
	o.reason = SMILE_REASON_STALE;
	o.reason_set = 1;
	o.time_ms = r->wall + 600000; /* our clock is 10 minutes slow */
	reply_last(r, SMILE_STATUS_DENIED, &o);
	assert_int_equal(r->n_lines, 0); /* not final */
	assert_int_equal(r->n_pub, 2);
	s = decoded(r, 1);
	assert_true(token_is(&s, "SW1:LATE"));
	assert_int_equal(s.seq, 2);
	assert_int_equal(s.time_ms, r->wall + 600000);
	assert_int_equal(s.scanned_ms, T0_WALL + 600000);
	/* still stale: final, written out */
	o.time_ms = 0;
	reply_last(r, SMILE_STATUS_DENIED, &o);
	assert_int_equal(r->n_lines, 1);
	assert_non_null(strstr(r->lines[0], "\"status\":\"denied\",\"reason\":\"stale\""));
	/* later scans carry the corrected clock */
	code(r, "SW1:NEXT");
	s = decoded(r, 2);
	assert_int_equal(s.time_ms, r->wall + 600000);
	/* replay is final too (docs/protocol.md 8.3) */
	o.reason = SMILE_REASON_REPLAY;
	reply_last(r, SMILE_STATUS_DENIED, &o);
	assert_int_equal(r->n_lines, 2);
	assert_int_equal(r->n_pub, 3);
	rig_free(r);
}

static void busy_and_internal_send_the_same_bytes_later(void **state)
{
	struct rig *r = rig_new();
	struct answer_opts o;
	(void)state;
	assert_int_equal(bridge_engine_online(r->g, 1), SMILE_OK);
	code(r, "SW1:BUSY");
	memset(&o, 0, sizeof(o));
	o.reason_set = 1;
	o.reason = SMILE_REASON_BUSY;
	reply_last(r, SMILE_STATUS_ERROR, &o);
	assert_int_equal(r->n_lines, 0);
	assert_int_equal(r->n_pub, 1);
	assert_int_equal(bridge_engine_timeout_ms(r->g), 1000);
	r->mono += 1000;
	assert_int_equal(bridge_engine_tick(r->g), SMILE_OK);
	assert_int_equal(r->n_pub, 2);
	assert_memory_equal(r->pub[1], r->pub[0], r->pub_len[0]);
	reply_last(r, SMILE_STATUS_ERROR, &o);
	assert_int_equal(bridge_engine_timeout_ms(r->g), 2000); /* it grows */
	/* internal: retried a few times, then final */
	o.reason = SMILE_REASON_INTERNAL;
	for (int i = 0; i < BRIDGE_ENGINE_FAULT_RETRIES; i++)
		reply_last(r, SMILE_STATUS_ERROR, &o);
	assert_int_equal(r->n_lines, 0);
	reply_last(r, SMILE_STATUS_ERROR, &o);
	assert_int_equal(r->n_lines, 1);
	assert_non_null(strstr(r->lines[0], "\"status\":\"error\",\"reason\":\"internal\""));
	assert_int_equal(bridge_engine_idle(r->g), 1);
	rig_free(r);
}

static void full_queue_refuses_the_new_scan(void **state)
{
	struct rig *r = rig_new(); /* queue_max 5 */
	(void)state;
	for (int i = 0; i < 5; i++) {
		char c[32];
		snprintf(c, sizeof(c), "SW1:Q%d", i);
		code(r, c);
	}
	code(r, "SW1:ONE-TOO-MANY");
	assert_int_equal(r->n_lines, 6);
	assert_non_null(strstr(r->lines[5], "{\"notice\":\"refused\",\"reason\":\"queue_full\",\"queued\":5,"));
	assert_non_null(strstr(r->lines[5], "nothing was dropped"));
	assert_int_equal(bridge_queue_count(r->q), 5);
	assert_int_equal(bridge_engine_online(r->g, 1), SMILE_OK);
	{
		struct smile_scan s = decoded(r, 0);
		assert_true(token_is(&s, "SW1:Q0")); /* the oldest goes first */
	}
	rig_free(r);
}

static void modes_and_refusals(void **state)
{
	struct rig *r;
	struct smile_scan s;
	(void)state;
	r = rig_new();
	engine_crash(r);
	r->opts.event = 0; /* no mode at start */
	r->opts.has_location = 1;
	r->opts.location.lat_e6 = 30593099;
	r->opts.location.lon_e6 = 114305393;
	r->opts.location.accuracy_m = 15;
	engine_start(r);
	assert_int_equal(bridge_engine_online(r->g, 1), SMILE_OK);
	code(r, "SW1:NOMODE");
	assert_non_null(strstr(r->lines[0], "\"reason\":\"no_mode\""));
	code(r, "SMILE:MODE:DELIVERED");
	assert_string_equal(r->lines[1], "{\"notice\":\"mode\",\"event\":\"delivered\"}\n");
	assert_int_equal(bridge_engine_event(r->g), SMILE_EVENT_DELIVERED);
	code(r, "SMILE:MODE:FLYING");
	assert_non_null(strstr(r->lines[2], "\"reason\":\"unknown_mode\""));
	assert_int_equal(bridge_engine_event(r->g), SMILE_EVENT_DELIVERED);
	assert_int_equal(bridge_engine_code(r->g, "", 0, BRIDGE_CODE_TOO_LONG), SMILE_OK);
	assert_non_null(strstr(r->lines[3], "\"reason\":\"code_too_long\""));
	assert_int_equal(bridge_engine_code(r->g, "", 0, BRIDGE_CODE_BAD_KEY), SMILE_OK);
	assert_non_null(strstr(r->lines[4], "\"reason\":\"unreadable_code\""));
	assert_int_equal(bridge_engine_code(r->g, "SW1:\x01X", 6, BRIDGE_CODE_OK), SMILE_OK);
	assert_non_null(strstr(r->lines[5], "\"reason\":\"invalid_code\""));
	assert_int_equal(r->n_pub, 0);
	assert_int_equal(bridge_queue_count(r->q), 0);

	code(r, "SW1:DELIVER-ME");
	s = decoded(r, 0);
	assert_int_equal(s.event, SMILE_EVENT_DELIVERED);
	assert_int_equal(s.has_location, 1);
	assert_int_equal(s.location.lat_e6, 30593099);
	assert_int_equal(s.location.accuracy_m, 15);
	reply_last(r, SMILE_STATUS_REVEALED, NULL);
	assert_non_null(strstr(r->lines[6], "\"event\":\"delivered\""));
	/* a mode switch does not change the event of an already queued scan */
	code(r, "SW1:A");
	code(r, "SMILE:MODE:HUB_IN");
	reply_last(r, SMILE_STATUS_RECORDED, NULL);
	assert_non_null(strstr(r->lines[8], "\"event\":\"delivered\""));
	rig_free(r);
}

/* grep -r for a needle in every file under dir */
static int found_on_disk(const char *dir, const char *needle)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "grep -r -a -q -F -e '%s' '%s'", needle, dir);
	return system(cmd) == 0;
}

static void contact_never_reaches_the_disk_and_output_failure_keeps_the_scan(void **state)
{
	struct rig *r = rig_new();
	(void)state;
	assert_int_equal(bridge_engine_online(r->g, 1), SMILE_OK);
	code(r, "SW1:PRIVATE");
	reply_last(r, SMILE_STATUS_REVEALED, NULL);
	assert_non_null(strstr(r->lines[0], "13812345678"));
	assert_true(found_on_disk(r->dir, "SW1:PRIVATE") == 0); /* popped */
	code(r, "SW1:SECOND");
	assert_true(found_on_disk(r->dir, "SW1:SECOND")); /* the test can see the queue */
	assert_false(found_on_disk(r->dir, "13812345678"));
	assert_false(found_on_disk(r->dir, "张三明"));

	/* the output breaks while writing the reply: fatal, scan kept */
	r->emit_fails = 1;
	{
		uint8_t msg[SMILE_REPLY_MAX_BYTES];
		size_t len = answer(r, r->pub[1], r->pub_len[1], SMILE_STATUS_REVEALED, NULL, msg);
		assert_int_equal(bridge_engine_reply(r->g, msg, len), SMILE_ERR_IO);
	}
	assert_int_equal(bridge_queue_count(r->q), 1);
	assert_false(found_on_disk(r->dir, "13812345678"));
	rig_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(offline_scans_queue_then_go_one_at_a_time_in_order),
		cmocka_unit_test(resends_are_the_same_bytes_with_backoff),
		cmocka_unit_test(replies_not_for_this_scan_are_ignored),
		cmocka_unit_test(restart_resends_exactly_what_was_sent),
		cmocka_unit_test(stale_is_re_signed_once_with_the_clock_corrected),
		cmocka_unit_test(busy_and_internal_send_the_same_bytes_later),
		cmocka_unit_test(full_queue_refuses_the_new_scan),
		cmocka_unit_test(modes_and_refusals),
		cmocka_unit_test(contact_never_reaches_the_disk_and_output_failure_keeps_the_scan),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
