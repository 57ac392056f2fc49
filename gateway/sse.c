/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sse.c - GET /v1/events/stream: the caller's tracking events as
 * Server-Sent Events, as they happen (docs/api.md, docs/console.md).
 *
 * The one idea: the stream polls the store, not this process. Event ids
 * are assigned by the store's writer under its write lock, so they become
 * visible in increasing order; a stream that remembers the last id it sent
 * and asks for "id > last" every STREAM_POLL_MS misses nothing and sends
 * nothing twice, whichever node recorded the scan. Last-Event-ID resumes
 * from an id the client saw (the browser sends it when it reconnects).
 *
 * The HTTP server runs a thread per connection, so the body callback may
 * block: it sleeps in short slices between polls and checks
 * g->http_stopping each slice, so the gateway stops within a slice with
 * streams open. Streams are capped per node (console_streams_max) and per
 * API key on the node (console_streams_per_key), 503 beyond, so one key
 * cannot take every place; a comment line goes out every
 * STREAM_KEEPALIVE_MS so proxies and the idle timeout keep the connection;
 * and every STREAM_LIVE_MS, busy or quiet, the stream checks that the
 * caller's API key (and console session) is still live: revoking the key,
 * signing out or the session's end ends the stream.
 */
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events.h"
#include "gateway.h"
#include "httpcheck.h"
#include "smile/clock.h"
#include "smile/log.h"
#include "svc.h"

#define STREAM_POLL_MS 500
#define STREAM_SLICE_MS 100
#define STREAM_KEEPALIVE_MS 15000 /* or half the idle timeout, if shorter */
#define STREAM_BATCH 100
#define STREAM_LIVE_MS 5000 /* how often the key and session are checked again */

struct stream {
	struct gateway *g;
	const char *merchants[SMILE_STORE_MAX_BINDINGS];
	char merchant_buf[SMILE_STORE_MAX_BINDINGS][SMILE_STORE_ID_MAX];
	size_t n_merchants;
	uint8_t key_hash[32];
	char key_id[SMILE_STORE_ID_MAX];
	int via_session;
	uint8_t session_hash[32];
	uint64_t last_id;
	int64_t last_send_ms, next_poll_ms, next_live_ms;
	struct smile_buf pending; /* formatted, not yet handed to the server */
	size_t sent;              /* of pending */
	int ended;
	int64_t keepalive_ms;
	int poll_failing; /* logged once until a poll succeeds again */
	int fd; /* the connection, watched for the client hanging up (-1: not) */
	/* the merchant_ref of the last shipment looked up */
	uint64_t ref_shipment;
	char ref[SMILE_STORE_ID_MAX];
	struct stream *next; /* the node's open streams (open_streams) */
};

/* The node's open streams, for the per-key cap. */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct stream *open_streams;

/* Take a place for key_id: 0 when it already holds `cap` streams. */
static int stream_register(struct stream *s, long cap)
{
	long n = 0;
	pthread_mutex_lock(&open_lock);
	for (const struct stream *o = open_streams; o; o = o->next)
		n += strcmp(o->key_id, s->key_id) == 0;
	if (n < cap) {
		s->next = open_streams;
		open_streams = s;
	}
	pthread_mutex_unlock(&open_lock);
	return n < cap;
}

static void stream_unregister(struct stream *s)
{
	pthread_mutex_lock(&open_lock);
	for (struct stream **p = &open_streams; *p; p = &(*p)->next) {
		if (*p == s) {
			*p = s->next;
			break;
		}
	}
	pthread_mutex_unlock(&open_lock);
}

/* Wait up to ms; 1 when the client hung up meanwhile. The server only
 * notices a closed connection when it writes, which a quiet stream does
 * once per keep-alive: without this a closed stream would hold its place
 * under the cap for up to 15 s. */
static int wait_hangup(const struct stream *s, long ms)
{
	struct pollfd p = {.fd = s->fd, .events = POLLRDHUP};
	if (s->fd < 0) {
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		return 0;
	}
	return poll(&p, 1, (int)ms) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static int add_event(void *arg, const struct smile_store_event *ev)
{
	struct stream *s = arg;
	char json[EVENTS_JSON_MAX], head[48];
	size_t n;

	if (ev->shipment_id != s->ref_shipment) {
		struct smile_store_shipment row;
		s->ref[0] = '\0';
		if (smile_store_get_shipment_by_id(s->g->store, ev->shipment_id, &row) == SMILE_OK) {
			snprintf(s->ref, sizeof(s->ref), "%s", row.merchant_ref);
			smile_store_shipment_release(&row);
		}
		s->ref_shipment = ev->shipment_id;
	}
	n = events_event_json(s->g->keys, ev, s->ref, json, sizeof(json));
	if (n == 0) {
		s->last_id = ev->id; /* an event that cannot be shown is skipped, not retried */
		return 0;
	}
	size_t had = s->pending.len;
	snprintf(head, sizeof(head), "id: %llu\nevent: event\ndata: ", (unsigned long long)ev->id);
	if (smile_buf_puts(&s->pending, head) || smile_buf_append(&s->pending, json, n) ||
	    smile_buf_puts(&s->pending, "\n\n")) {
		s->pending.len = had; /* no room: this one comes with the next poll */
		if (s->pending.data)
			s->pending.data[had] = '\0';
		return 1;
	}
	s->last_id = ev->id;
	return 0;
}

/* Is the caller still allowed? (The key, and the session it came with.) */
static int still_live(struct stream *s, int64_t now)
{
	struct smile_store_apikey k;
	enum smile_err rc = smile_store_find_apikey(s->g->store, s->key_hash, &k);
	int live = rc != SMILE_ERR_NOT_FOUND && (rc != SMILE_OK || strcmp(k.id, s->key_id) == 0);
	sodium_memzero(&k, sizeof(k));
	if (live && s->via_session) {
		struct smile_store_session x;
		rc = smile_store_get_session(s->g->store, s->session_hash, &x);
		if (rc == SMILE_ERR_NOT_FOUND ||
		    (rc == SMILE_OK &&
		     (now >= x.expires_ms ||
		      now - x.last_ms >= s->g->cfg.console_session_idle_s * 1000)))
			live = 0;
		sodium_memzero(&x, sizeof(x));
	}
	return live;
}

static long stream_read(void *arg, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = arg;
	(void)pos;

	for (;;) {
		if (s->sent < s->pending.len) {
			size_t n = s->pending.len - s->sent;
			if (n > max)
				n = max;
			memcpy(buf, s->pending.data + s->sent, n);
			s->sent += n;
			if (s->sent == s->pending.len) {
				smile_buf_reset(&s->pending);
				s->sent = 0;
			}
			s->last_send_ms = smile_mono_ms();
			return (long)n;
		}
		if (s->ended || atomic_load(&s->g->http_stopping))
			return MHD_CONTENT_READER_END_OF_STREAM;
		int64_t now = smile_mono_ms();
		/* busy or quiet: a stream receiving events never reaches the
		 * keep-alive, so liveness has its own clock */
		if (now >= s->next_live_ms) {
			s->next_live_ms = now + STREAM_LIVE_MS;
			if (!still_live(s, gateway_now_ms())) {
				s->ended = 1;
				continue;
			}
		}
		if (now >= s->next_poll_ms) {
			s->next_poll_ms = now + STREAM_POLL_MS;
			if (smile_store_events_after(s->g->store, s->last_id, s->merchants,
						     s->n_merchants, STREAM_BATCH, add_event,
						     s) != SMILE_OK) {
				if (!s->poll_failing)
					smile_log(SMILE_LOG_WARN, "stream.poll_failed",
						  SMILE_KV_ID("key", s->key_id));
				s->poll_failing = 1;
			} else {
				s->poll_failing = 0;
			}
			if (s->pending.len)
				continue;
		}
		if (now - s->last_send_ms >= s->keepalive_ms) {
			if (!still_live(s, gateway_now_ms())) {
				s->ended = 1;
				continue;
			}
			if (smile_buf_puts(&s->pending, ": keep-alive\n\n") != SMILE_OK)
				return MHD_CONTENT_READER_END_WITH_ERROR;
			continue;
		}
		if (wait_hangup(s, STREAM_SLICE_MS))
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
}

static void stream_done(void *arg)
{
	struct stream *s = arg;
	stream_unregister(s);
	atomic_fetch_sub(&s->g->streams, 1);
	smile_log(SMILE_LOG_DEBUG, "stream.closed", SMILE_KV_ID("key", s->key_id));
	smile_buf_release(&s->pending);
	sodium_memzero(s, sizeof(*s));
	free(s);
}

void api_events_stream(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	struct svc_caller c = svc_caller_api(&r->key);
	const char *merchants[SMILE_STORE_MAX_BINDINGS];
	const char *lei = http_header(r, "Last-Event-ID");
	uint64_t after = 0;
	size_t n = 0;
	struct stream *s;

	if (lei && !httpcheck_uint(lei, 0, INT64_MAX, &after)) {
		http_resp_error(o, 400, "invalid_value", "Last-Event-ID",
				"expected an id this stream sent (digits)");
		return;
	}
	if (atomic_fetch_add(&g->streams, 1) >= g->cfg.console_streams_max) {
		atomic_fetch_sub(&g->streams, 1);
		http_resp_header(o, "Retry-After", "%d", 5);
		http_resp_error(o, 503, "busy", NULL,
				"too many event streams open on this node (%ld); retry later",
				g->cfg.console_streams_max);
		return;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		atomic_fetch_sub(&g->streams, 1);
		http_resp_error(o, 500, "nomem", NULL, "out of memory");
		return;
	}
	s->g = g;
	{
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		s->fd = ci ? ci->connect_fd : -1;
	}
	if (!svc_merchants_of(&c, merchants, &n)) {
		s->ended = 1; /* sees no merchant: an empty stream */
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(s->merchant_buf[i], sizeof(s->merchant_buf[i]), "%s", merchants[i]);
		s->merchants[i] = s->merchant_buf[i];
	}
	s->n_merchants = n;
	memcpy(s->key_hash, r->key.hash, sizeof(s->key_hash));
	snprintf(s->key_id, sizeof(s->key_id), "%s", r->key.id);
	s->via_session = r->via_session;
	memcpy(s->session_hash, r->session_hash, sizeof(s->session_hash));
	smile_buf_init(&s->pending, 1u << 20);
	if (!stream_register(s, g->cfg.console_streams_per_key)) {
		stream_done(s);
		http_resp_header(o, "Retry-After", "%d", 5);
		http_resp_error(o, 503, "busy", NULL,
				"this API key has %ld event streams open on this node already; "
				"close one or retry later",
				g->cfg.console_streams_per_key);
		return;
	}
	if (lei == NULL && smile_store_event_head(g->store, &after) != SMILE_OK) {
		stream_done(s);
		http_resp_error(o, 500, "store", NULL, "could not read the event position");
		return;
	}
	{
		/* an id from the future (another store, a client's guess)
		 * would silence the stream until the store caught up */
		uint64_t head;
		if (lei && smile_store_event_head(g->store, &head) == SMILE_OK && after > head)
			after = head;
	}
	s->last_id = after;
	s->last_send_ms = smile_mono_ms();
	s->next_live_ms = s->last_send_ms + STREAM_LIVE_MS;
	s->keepalive_ms = g->cfg.http_idle_timeout_s * 1000 / 2;
	if (s->keepalive_ms > STREAM_KEEPALIVE_MS || s->keepalive_ms < STREAM_SLICE_MS)
		s->keepalive_ms = s->keepalive_ms < STREAM_SLICE_MS ? STREAM_SLICE_MS
								     : STREAM_KEEPALIVE_MS;
	/* "retry:" tells the browser how soon to reconnect */
	if (smile_buf_puts(&s->pending, ": smile events\nretry: 2000\n\n") != SMILE_OK) {
		stream_done(s);
		http_resp_error(o, 500, "nomem", NULL, "out of memory");
		return;
	}
	smile_log(SMILE_LOG_DEBUG, "stream.opened", SMILE_KV_ID("key", s->key_id));
	o->status = 200;
	o->content_type = "text/event-stream; charset=utf-8";
	http_resp_header(o, "X-Accel-Buffering", "no");
	o->stream = (struct http_stream){stream_read, stream_done, s};
}
