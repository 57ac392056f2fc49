/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine.c - queue, sign, send, retry, match, report: the bridge's core loop.
 *
 * The idea that makes "nothing lost, nothing sent twice" hold across crashes:
 * the queue record of the scan in flight holds its sequence number and
 * signing time, written durably BEFORE the first publish. Ed25519 signing is
 * deterministic, so from the record alone the engine rebuilds the very bytes
 * it sent; whether it died before or after the gateway saw them, the resend
 * is either the first copy or an exact retransmission, which the gateway
 * answers with the reply it already gave. A scan leaves the queue only after
 * its reply line was written.
 */
#include "engine.h"

#include <string.h>

#include <sodium.h>

#include "mode.h"
#include "report.h"
#include "smile/log.h"

struct bridge_engine {
	const struct smile_device *dev;
	const struct smile_device_keys *keys;
	struct smile_seq *seq;
	struct bridge_queue *q;
	struct bridge_engine_opts opts;
	struct bridge_engine_ops ops;
	struct bridge_engine_stats stats;
	enum smile_event event;
	int online;

	int inflight;                  /* scan[] is the head record, published */
	struct bridge_scanrec rec;     /* the head record while in flight */
	uint8_t scan[SMILE_SCAN_MAX_BYTES];
	size_t scan_len;
	int resigns;                   /* stale re-signs of this record */
	int faults;                    /* error/internal replies to this record */
	int64_t clock_offset_ms;       /* gateway clock - ours, learnt from "stale" */
	long backoff_ms;               /* resend delay of the scan in flight */
	long busy_ms;                  /* wait after a "busy" reply (grows) */
	uint64_t next_retry;           /* mono ms: resend when in flight */
	uint64_t hold_until;           /* mono ms: no new send before this */

	uint8_t contact[SMILE_PROTO_CONTACT_MAX];
	char line[BRIDGE_LINE_MAX];
};

static uint64_t mono(const struct bridge_engine *g)
{
	return g->ops.mono_ms(g->ops.ctx);
}

/* Unix ms, corrected by what the gateway told us about our clock. */
static uint64_t wall(const struct bridge_engine *g)
{
	int64_t w = (int64_t)g->ops.wall_ms(g->ops.ctx) + g->clock_offset_ms;
	return w > 0 ? (uint64_t)w : 1;
}

enum smile_err bridge_engine_new(const struct smile_device *dev,
				 const struct smile_device_keys *keys, struct smile_seq *seq,
				 struct bridge_queue *q, const struct bridge_engine_opts *opts,
				 const struct bridge_engine_ops *ops, struct bridge_engine **out,
				 struct smile_error *e)
{
	struct bridge_engine *g;

	*out = NULL;
	if (opts->retry_initial_ms < 1 || opts->retry_max_ms < opts->retry_initial_ms)
		return smile_error_set(e, SMILE_ERR_INVALID, "retry_initial_ms",
				       "need 1 <= retry_initial_ms <= retry_max_ms");
	if (opts->event != 0 &&
	    (opts->event < SMILE_EVENT_FIRST || opts->event > SMILE_EVENT_LAST))
		return smile_error_set(e, SMILE_ERR_INVALID, "event", "unknown event");
	if (!ops->publish || !ops->emit || !ops->mono_ms || !ops->wall_ms)
		return smile_error_set(e, SMILE_ERR_INVALID, "ops", "every callback is needed");
	g = sodium_malloc(sizeof(*g));
	if (g == NULL)
		return smile_error_set(e, SMILE_ERR_NOMEM, "engine", "out of locked memory");
	memset(g, 0, sizeof(*g));
	g->dev = dev;
	g->keys = keys;
	g->seq = seq;
	g->q = q;
	g->opts = *opts;
	g->ops = *ops;
	g->event = opts->event;
	g->backoff_ms = opts->retry_initial_ms;
	g->busy_ms = opts->retry_initial_ms;
	*out = g;
	return SMILE_OK;
}

void bridge_engine_free(struct bridge_engine *g)
{
	if (g == NULL)
		return;
	sodium_memzero(g, sizeof(*g));
	sodium_free(g);
}

static enum smile_err emit(struct bridge_engine *g, const char *line, size_t len)
{
	if (len == 0)
		return SMILE_OK;
	return g->ops.emit(g->ops.ctx, line, len);
}

static enum smile_err refuse(struct bridge_engine *g, const char *reason, long queued,
			     const char *message)
{
	char line[512];
	size_t n = bridge_report_refused(line, sizeof(line), reason, queued, message);

	g->stats.refused++;
	smile_log(SMILE_LOG_WARN, "bridge.scan.refused", SMILE_KV_ID("reason", reason));
	return emit(g, line, n);
}

/* Publish the bytes in flight (again) and schedule the next resend. */
static void transmit(struct bridge_engine *g, int again)
{
	enum smile_err rc = g->ops.publish(g->ops.ctx, g->scan, g->scan_len);
	uint64_t now = mono(g);

	if (again)
		g->stats.resent++;
	smile_log(again ? SMILE_LOG_INFO : SMILE_LOG_DEBUG, again ? "bridge.scan.resent" : "bridge.scan.sent",
		  SMILE_KV_INT("seq", (long long)g->rec.seq), SMILE_KV_ERR("publish", rc));
	g->next_retry = now + (uint64_t)g->backoff_ms;
}

static void backoff_grow(struct bridge_engine *g)
{
	g->backoff_ms *= 2;
	if (g->backoff_ms > g->opts.retry_max_ms)
		g->backoff_ms = g->opts.retry_max_ms;
}

/* Rebuild the signed bytes of a record that already has seq and time. */
static enum smile_err rebuild(struct bridge_engine *g, const struct bridge_scanrec *r,
			      struct smile_error *e)
{
	struct smile_scan s;

	memset(&s, 0, sizeof(s));
	s.device_id = g->keys->id;
	s.device_id_len = strlen(g->keys->id);
	s.seq = r->seq;
	s.time_ms = r->time_ms;
	s.scanned_ms = r->scanned_ms;
	s.event = r->event;
	s.token = r->token;
	s.token_len = r->token_len;
	s.has_location = r->has_location;
	s.location = r->location;
	return smile_scan_encode(&s, g->keys->sign_sk, g->scan, sizeof(g->scan), &g->scan_len, e);
}

/* Sign a never-sent record with a fresh number and time, and store both. */
static enum smile_err sign_new(struct bridge_engine *g, struct bridge_scanrec *r,
			       struct smile_error *e)
{
	struct smile_scan s;
	uint64_t now = wall(g);
	enum smile_err rc;

	memset(&s, 0, sizeof(s));
	s.time_ms = now > r->scanned_ms ? now : r->scanned_ms; /* clock stepped back */
	s.scanned_ms = r->scanned_ms;
	s.event = r->event;
	s.token = r->token;
	s.token_len = r->token_len;
	s.has_location = r->has_location;
	s.location = r->location;
	rc = smile_device_build_scan(g->dev, g->seq, &s, g->scan, sizeof(g->scan), &g->scan_len,
				     e);
	if (rc != SMILE_OK)
		return rc;
	r->seq = s.seq;
	r->time_ms = s.time_ms;
	/* Durable before the first publish: a restart must resend these bytes. */
	return bridge_queue_update_head(g->q, r, e);
}

/* Start sending the head of the queue if we can. */
static void pump(struct bridge_engine *g)
{
	while (g->online && !g->inflight && mono(g) >= g->hold_until) {
		struct smile_error err = {0};
		struct bridge_scanrec r;
		enum smile_err rc = bridge_queue_head(g->q, &r, &err);
		int fresh;

		if (rc == SMILE_ERR_NOT_FOUND)
			return;
		if (rc != SMILE_OK) {
			smile_log(SMILE_LOG_ERROR, "bridge.queue.read_failed", SMILE_KV_ERR("err", rc));
			g->hold_until = mono(g) + (uint64_t)g->opts.retry_max_ms;
			return;
		}
		fresh = r.seq == 0;
		rc = fresh ? sign_new(g, &r, &err) : rebuild(g, &r, &err);
		if (rc == SMILE_ERR_INVALID || rc == SMILE_ERR_BUFFER_SMALL) {
			/* Cannot become a scan (checked at queue time, so only a
			 * record from an older version could): drop, do not block. */
			smile_log(SMILE_LOG_ERROR, "bridge.scan.unbuildable", SMILE_KV_ERR("err", rc),
				  SMILE_KV_ID("field", err.field));
			if (bridge_queue_pop(g->q, NULL) != SMILE_OK)
				g->hold_until = mono(g) + (uint64_t)g->opts.retry_max_ms;
			continue;
		}
		if (rc != SMILE_OK) {
			/* Sequence store or queue storage failed: nothing was sent. */
			smile_log(SMILE_LOG_ERROR, "bridge.scan.sign_failed", SMILE_KV_ERR("err", rc),
				  SMILE_KV_ID("field", err.field));
			g->hold_until = mono(g) + (uint64_t)g->opts.retry_max_ms;
			return;
		}
		g->rec = r;
		g->inflight = 1;
		g->backoff_ms = g->opts.retry_initial_ms;
		if (fresh)
			g->stats.sent++;
		transmit(g, !fresh);
	}
}

/* The scan in flight needs a new number and time (nothing was recorded);
 * its scan time moves by the clock correction `delta_ms`. */
static void resign_now(struct bridge_engine *g, int64_t delta_ms)
{
	struct bridge_scanrec r = g->rec;
	int64_t sc = (int64_t)r.scanned_ms + delta_ms;

	r.seq = 0;
	r.time_ms = 0;
	r.scanned_ms = sc > 0 ? (uint64_t)sc : 1;
	if (bridge_queue_update_head(g->q, &r, NULL) != SMILE_OK) {
		/* The old record stays: a restart resends the stale bytes and the
		 * gateway's stored "stale" reply comes back. */
		smile_log(SMILE_LOG_ERROR, "bridge.queue.write_failed",
			  SMILE_KV_INT("seq", (long long)g->rec.seq));
		g->hold_until = mono(g) + (uint64_t)g->opts.retry_max_ms;
	}
	g->stats.resigned++;
	g->inflight = 0;
}

enum smile_err bridge_engine_code(struct bridge_engine *g, const char *code, size_t len,
				  enum bridge_code_status status)
{
	struct smile_error err = {0};
	struct bridge_scanrec r;
	enum smile_event ev;
	enum smile_err rc;
	int mode;

	if (status == BRIDGE_CODE_TOO_LONG)
		return refuse(g, "code_too_long", -1, "code longer than 128 characters: not a smile token");
	if (status != BRIDGE_CODE_OK)
		return refuse(g, "unreadable_code", -1,
			      "the scanner sent a key with no character: scan again");
	mode = bridge_mode_parse(code, len, &ev);
	if (mode == 1) {
		char line[128];
		g->event = ev;
		smile_log(SMILE_LOG_INFO, "bridge.mode", SMILE_KV_ID("event", smile_proto_event_name(ev)));
		return emit(g, line, bridge_report_mode(line, sizeof(line), ev));
	}
	if (mode == -1)
		return refuse(g, "unknown_mode", -1, "mode barcode names no known event");
	if (g->event == 0)
		return refuse(g, "no_mode", -1,
			      "no event mode yet: scan a SMILE:MODE:<EVENT> barcode or start with --event");
	if (len == 0 || len > SMILE_PROTO_TOKEN_MAX)
		return refuse(g, "invalid_code", -1, "code length outside 1-128");
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)code[i] < 0x20 || (unsigned char)code[i] > 0x7e)
			return refuse(g, "invalid_code", -1,
				      "code has characters a smile token never has");

	memset(&r, 0, sizeof(r));
	r.event = g->event;
	r.scanned_ms = wall(g);
	r.has_location = g->opts.has_location;
	r.location = g->opts.location;
	r.token_len = len;
	memcpy(r.token, code, len);
	rc = bridge_queue_push(g->q, &r, &err);
	if (rc == SMILE_ERR_QUEUE_FULL)
		return refuse(g, "queue_full", (long)bridge_queue_count(g->q),
			      "offline queue full: this scan was refused and nothing was dropped; "
			      "it drains when the gateway is reachable");
	if (rc != SMILE_OK) {
		smile_log(SMILE_LOG_ERROR, "bridge.queue.write_failed", SMILE_KV_ERR("err", rc));
		return refuse(g, "storage_error", -1,
			      "the scan could not be stored: scan again (see the log)");
	}
	g->stats.queued++;
	smile_log(SMILE_LOG_DEBUG, "bridge.scan.queued",
		  SMILE_KV_INT("queued", (long long)bridge_queue_count(g->q)),
		  SMILE_KV_ID("event", smile_proto_event_name(r.event)));
	if (!g->online) {
		char line[128];
		rc = emit(g, line, bridge_report_queued(line, sizeof(line), bridge_queue_count(g->q)));
		if (rc != SMILE_OK)
			return rc;
	}
	pump(g);
	return SMILE_OK;
}

enum smile_err bridge_engine_online(struct bridge_engine *g, int online)
{
	if (online == g->online)
		return SMILE_OK;
	g->online = online;
	smile_log(SMILE_LOG_INFO, online ? "bridge.online" : "bridge.offline",
		  SMILE_KV_INT("queued", (long long)bridge_queue_count(g->q)));
	if (!online)
		return SMILE_OK;
	g->hold_until = 0;
	if (g->inflight) {
		/* Whatever was sent before may be lost with the connection. */
		g->backoff_ms = g->opts.retry_initial_ms;
		transmit(g, 1);
	} else {
		pump(g);
	}
	return SMILE_OK;
}

/* The reply is final: write it, wipe it, dequeue, go on. */
static enum smile_err deliver(struct bridge_engine *g, const struct smile_reply *r,
			      size_t contact_len)
{
	struct smile_error err = {0};
	char wb[SMILE_PROTO_WAYBILL_MAX + 1] = "";
	size_t len = 0;
	int flags = 0;
	enum smile_err rc;

	rc = bridge_report_reply(r, g->rec.event, g->contact, contact_len, g->line,
				 sizeof(g->line), &len, &flags);
	sodium_memzero(g->contact, sizeof(g->contact));
	if (rc == SMILE_OK)
		rc = emit(g, g->line, len);
	sodium_memzero(g->line, sizeof(g->line));
	if (rc != SMILE_OK)
		return SMILE_ERR_IO; /* keep the scan: a restart asks again */
	if (r->waybill_len <= SMILE_PROTO_WAYBILL_MAX) {
		memcpy(wb, r->waybill, r->waybill_len);
		wb[r->waybill_len] = '\0';
	}
	smile_log(SMILE_LOG_INFO, "bridge.reply", SMILE_KV_INT("seq", (long long)r->seq),
		  SMILE_KV_ID("waybill", wb), SMILE_KV_ID("status", smile_proto_status_name(r->status)),
		  SMILE_KV_ID("reason", smile_proto_reason_name(r->reason)),
		  SMILE_KV_INT("queued", (long long)bridge_queue_count(g->q) - 1));
	if (flags & BRIDGE_REPORT_MASKED_BAD)
		smile_log(SMILE_LOG_WARN, "bridge.reply.masked_not_json", SMILE_KV_INT("seq", (long long)r->seq));
	if (flags & BRIDGE_REPORT_CONTACT_BAD)
		smile_log(SMILE_LOG_WARN, "bridge.reply.contact_not_json", SMILE_KV_INT("seq", (long long)r->seq));
	g->stats.replies++;
	g->inflight = 0;
	g->resigns = 0;
	g->faults = 0;
	g->busy_ms = g->opts.retry_initial_ms;
	if (bridge_queue_pop(g->q, &err) != SMILE_OK) {
		/* It would be sent again after a restart: the gateway answers a
		 * retransmission with the same reply, so nothing is recorded twice. */
		smile_log(SMILE_LOG_ERROR, "bridge.queue.remove_failed", SMILE_KV_ERR("err", err.code));
		g->hold_until = mono(g) + (uint64_t)g->opts.retry_max_ms;
	}
	pump(g);
	return SMILE_OK;
}

enum smile_err bridge_engine_reply(struct bridge_engine *g, const uint8_t *msg, size_t len)
{
	struct smile_error err = {0};
	struct smile_reply r;
	size_t clen = 0;
	enum smile_err rc;

	if (!g->inflight) {
		g->stats.ignored++;
		smile_log(SMILE_LOG_DEBUG, "bridge.reply.unexpected", SMILE_KV_INT("bytes", (long long)len));
		return SMILE_OK;
	}
	rc = smile_device_open_reply(g->dev, g->scan, g->scan_len, msg, len, &r, g->contact,
				     sizeof(g->contact), &clen, &err);
	if (rc != SMILE_OK) {
		/* Another scan's (a late duplicate), another device's, or forged:
		 * keep waiting for ours. */
		g->stats.ignored++;
		smile_log(rc == SMILE_ERR_CONFLICT ? SMILE_LOG_DEBUG : SMILE_LOG_WARN,
			  "bridge.reply.ignored", SMILE_KV_ERR("err", rc), SMILE_KV_ID("field", err.field),
			  SMILE_KV_INT("seq", (long long)g->rec.seq));
		return SMILE_OK;
	}
	if (r.reason == SMILE_REASON_BUSY ||
	    (r.status == SMILE_STATUS_ERROR && r.reason == SMILE_REASON_INTERNAL &&
	     g->faults < BRIDGE_ENGINE_FAULT_RETRIES)) {
		/* Not stored by the gateway (docs/protocol.md 7.1): the same
		 * bytes are processed as new when they come again. */
		uint64_t delay = (uint64_t)g->busy_ms;
		if (r.reason != SMILE_REASON_BUSY)
			g->faults++;
		g->busy_ms = g->busy_ms * 2 > g->opts.retry_max_ms ? g->opts.retry_max_ms
								    : g->busy_ms * 2;
		smile_log(SMILE_LOG_WARN, "bridge.reply.retry_later", SMILE_KV_INT("seq", (long long)r.seq),
			  SMILE_KV_ID("reason", smile_proto_reason_name(r.reason)),
			  SMILE_KV_INT("retry_ms", (long long)delay));
		sodium_memzero(g->contact, sizeof(g->contact));
		g->next_retry = mono(g) + delay;
		return SMILE_OK;
	}
	if (r.status == SMILE_STATUS_DENIED && r.reason == SMILE_REASON_STALE && g->resigns < 1) {
		/* Accepted but not recorded (7.1 step 8): correct the clock from
		 * the verified reply and send a new scan (8.3). */
		int64_t delta = (int64_t)r.time_ms - (int64_t)wall(g);
		g->resigns++;
		if (delta > 1000 || delta < -1000) {
			g->clock_offset_ms += delta;
			smile_log(SMILE_LOG_WARN, "bridge.clock.corrected",
				  SMILE_KV_INT("offset_ms", (long long)g->clock_offset_ms));
		} else {
			delta = 0;
		}
		smile_log(SMILE_LOG_WARN, "bridge.reply.resign", SMILE_KV_INT("seq", (long long)r.seq),
			  SMILE_KV_ID("reason", smile_proto_reason_name(r.reason)));
		resign_now(g, delta);
		pump(g);
		return SMILE_OK;
	}
	return deliver(g, &r, clen);
}

enum smile_err bridge_engine_tick(struct bridge_engine *g)
{
	if (g->inflight) {
		if (g->online && mono(g) >= g->next_retry) {
			backoff_grow(g);
			transmit(g, 1);
		}
		return SMILE_OK;
	}
	pump(g);
	return SMILE_OK;
}

long bridge_engine_timeout_ms(const struct bridge_engine *g)
{
	uint64_t now, at;

	if (!g->online)
		return -1;
	if (g->inflight)
		at = g->next_retry;
	else if (bridge_queue_count(g->q) > 0)
		at = g->hold_until;
	else
		return -1;
	now = mono(g);
	return at <= now ? 0 : (long)(at - now);
}

int bridge_engine_idle(const struct bridge_engine *g)
{
	return !g->inflight && bridge_queue_count(g->q) == 0;
}

enum smile_event bridge_engine_event(const struct bridge_engine *g)
{
	return g->event;
}

void bridge_engine_stats(const struct bridge_engine *g, struct bridge_engine_stats *out)
{
	*out = g->stats;
}
