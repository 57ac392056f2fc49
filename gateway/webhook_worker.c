/* SPDX-License-Identifier: Apache-2.0 */
/*
 * webhook_worker.c - one thread per node delivering the webhook outbox with
 * libcurl's multi interface.
 *
 * The one idea: the store decides who sends what (smile_store_outbox_claim
 * leases due rows, at most one in flight per endpoint across every node,
 * never event N+1 of a waybill before event N), and this thread only keeps
 * up to webhook_concurrency transfers going at once in one curl multi
 * handle. A hanging endpoint therefore holds one transfer slot, for at most
 * webhook_timeout_ms, and only its own rows wait behind it: other endpoints
 * keep being claimed and sent, and the scan relay never waits on any of it
 * (the outbox row was committed with the event; delivery happens later, on
 * this thread). Name resolution is curl's own (threaded, asynchronous), so
 * a slow DNS answer stalls only its transfer.
 *
 * Every connection goes through open_socket(), which applies the address
 * rule (webhook.h) to the address curl is about to connect to: a name that
 * resolved to a public address at registration and to 169.254.169.254 now
 * is refused now. Redirects are never followed, proxies from the
 * environment are ignored, and only http(s) is spoken.
 *
 * Outcomes: 2xx delivered; 410 dead-lettered and the endpoint disabled;
 * anything else (another status, a timeout, a refused connection) is
 * retried with exponential backoff and jitter until webhook_retry_for_s
 * after the row was enqueued, with a last attempt at that moment, then
 * dead-lettered. A node that stops cleanly records its requests in flight
 * as interrupted and due at once; one that dies mid-request leaves its
 * lease to expire
 * (webhook_timeout_ms + LEASE_MARGIN_MS): another node (or this one, after a
 * restart) sends the row again, so delivery is at least once and receivers
 * deduplicate by event_id.
 */
#include "webhook_worker.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "events.h"
#include "gateway.h"
#include "smile/clock.h"
#include "smile/log.h"
#include "webhook.h"

#define LEASE_MARGIN_MS 5000
#define PRUNE_EVERY_MS 3600000
#define CLAIM_BATCH 64
#define USER_AGENT "smile-gateway-webhooks/1"

/* One request: what curl needs to outlive the setup call. */
struct xfer {
	CURL *easy;
	struct curl_slist *hdrs;
	const struct webhook_allow *allow;
	int refused; /* open_socket refused the address */
	struct smile_store_delivery row;
	int64_t t0_ms;
	struct xfer *prev, *next; /* the worker's transfers in flight */
};

struct webhook_worker {
	struct gateway *g;
	struct webhook_allow allow;
	CURLM *multi;
	pthread_t thread;
	atomic_int stop;
	int inflight;
	struct xfer *head; /* in flight */
};

static void link_xfer(struct webhook_worker *w, struct xfer *x)
{
	x->prev = NULL;
	x->next = w->head;
	if (w->head)
		w->head->prev = x;
	w->head = x;
	w->inflight++;
}

static void unlink_xfer(struct webhook_worker *w, struct xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		w->head = x->next;
	if (x->next)
		x->next->prev = x->prev;
	w->inflight--;
}

/* ------------------------------------------------------------ one request */

static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct xfer *x = arg;
	(void)purpose;
	if (!webhook_addr_allowed(x->allow, &a->addr)) {
		x->refused = 1;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype, a->protocol);
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* A configured easy handle for POSTing `body` to `url`, signed with
 * `secret`, into x->easy. 0, or -1 (nothing to free but x). */
static int xfer_setup(struct xfer *x, const struct smile_config *cfg, const char *url,
		      const char *secret, const char *event_id, const char *body, size_t len)
{
	char sig[WEBHOOK_SIG_MAX], h[160];
	struct curl_slist *l = NULL;

	webhook_sign(secret, smile_clock_ms() / 1000, body, len, sig);
	x->easy = curl_easy_init();
	if (x->easy == NULL)
		return -1;
	l = curl_slist_append(l, "Content-Type: application/json");
	l = l ? curl_slist_append(l, "Expect:") : NULL;
	snprintf(h, sizeof(h), "Smile-Signature: %s", sig);
	l = l ? curl_slist_append(l, h) : NULL;
	snprintf(h, sizeof(h), "Smile-Event-Id: %s", event_id);
	l = l ? curl_slist_append(l, h) : NULL;
	if (l == NULL) {
		curl_easy_cleanup(x->easy);
		x->easy = NULL;
		return -1;
	}
	x->hdrs = l;
	CURL *c = x->easy;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, cfg->webhook_allow_http ? "http,https" : "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, cfg->webhook_connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, cfg->webhook_timeout_ms);
	curl_easy_setopt(c, CURLOPT_USERAGENT, USER_AGENT);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, x);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_PRIVATE, x);
	x->t0_ms = smile_mono_ms();
	return 0;
}

static void xfer_free(struct xfer *x)
{
	if (x == NULL)
		return;
	curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->hdrs);
	free(x);
}

/* What a finished transfer got. */
static void xfer_result(struct xfer *x, CURLcode cc, struct webhook_result *r)
{
	long code = 0;
	memset(r, 0, sizeof(*r));
	r->ms = (long)(smile_mono_ms() - x->t0_ms);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
		r->status = (int)code;
		if (code < 200 || code > 299)
			snprintf(r->error, sizeof(r->error), "http_status");
		return;
	}
	snprintf(r->error, sizeof(r->error), "%s",
		 x->refused			       ? "address_refused"
		 : cc == CURLE_OPERATION_TIMEDOUT      ? "timeout"
		 : cc == CURLE_COULDNT_CONNECT	       ? "connect"
		 : cc == CURLE_COULDNT_RESOLVE_HOST    ? "resolve"
		 : cc == CURLE_UNSUPPORTED_PROTOCOL    ? "scheme"
						       : "transport");
}

/* ------------------------------------------------------------ the outbox */

/* The JSON body of stored event `event_id`: the merchant event object of
 * docs/protocol.md 10.1 (the same as MQTT and the HTTP listing). */
static int event_body(struct gateway *g, uint64_t event_id, char *out, size_t cap,
		      char id[EVENTS_ID_MAX])
{
	struct smile_store_event ev;
	struct smile_store_shipment s = {0};
	size_t n;

	if (smile_store_get_event(g->store, event_id, &ev) != SMILE_OK)
		return -1;
	if (smile_store_get_shipment_by_id(g->store, ev.shipment_id, &s) != SMILE_OK)
		return -1;
	n = events_event_json(g->keys, &ev, s.merchant_ref, out, cap);
	smile_store_shipment_release(&s);
	events_event_id(g->keys, event_id, id);
	return n ? 0 : -1;
}

static void record(struct webhook_worker *w, const struct smile_store_delivery *row,
		   const struct webhook_result *r)
{
	const struct smile_config *cfg = &w->g->cfg;
	int64_t now = smile_clock_ms();
	int64_t deadline = row->created_ms + cfg->webhook_retry_for_s * 1000;
	struct smile_store_attempt a = {
		.id = row->id,
		.webhook_id = row->webhook_id,
		.time_ms = now,
		.status = r->status,
		.error = r->error,
	};
	const char *what;

	if (r->status >= 200 && r->status <= 299) {
		a.state = SMILE_DELIVERY_DELIVERED;
		smile_metrics_add(SMILE_COUNTER_WEBHOOK_DELIVERED, 1);
		what = "webhook.delivered";
	} else if (r->status == 410) {
		a.state = SMILE_DELIVERY_DEAD;
		a.disable = 1;
		a.error = "gone";
		smile_metrics_add(SMILE_COUNTER_WEBHOOK_DEAD, 1);
		what = "webhook.gone";
	} else if (now >= deadline) {
		a.state = SMILE_DELIVERY_DEAD;
		smile_metrics_add(SMILE_COUNTER_WEBHOOK_DEAD, 1);
		what = "webhook.dead_letter";
	} else {
		a.state = SMILE_DELIVERY_PENDING;
		a.next_ms = now + webhook_backoff_ms(row->attempts + 1, cfg->webhook_retry_base_ms,
						     cfg->webhook_retry_max_ms, randombytes_random());
		if (a.next_ms > deadline)
			a.next_ms = deadline; /* one last attempt when the window closes */
		smile_metrics_add(SMILE_COUNTER_WEBHOOK_FAILED, 1);
		what = "webhook.failed";
	}
	enum smile_err rc = smile_store_outbox_finish(w->g->store, &a);
	smile_log(a.state == SMILE_DELIVERY_DELIVERED ? SMILE_LOG_DEBUG : SMILE_LOG_INFO, what,
		  SMILE_KV_ID("webhook", row->webhook_id), SMILE_KV_INT("delivery", (long long)row->id),
		  SMILE_KV_INT("status", r->status), SMILE_KV_ID("error", a.error[0] ? a.error : "-"),
		  SMILE_KV_INT("attempts", row->attempts + 1), SMILE_KV_INT("ms", r->ms),
		  SMILE_KV_ID("store", smile_strerror(rc)));
}

/* Start claimed row `row`; on any failure before sending, record it. */
static void start_one(struct webhook_worker *w, const struct smile_store_delivery *row)
{
	struct gateway *g = w->g;
	struct smile_store_webhook wh;
	char secret[WEBHOOK_SECRET_MAX], body[EVENTS_JSON_MAX], id[EVENTS_ID_MAX];
	struct webhook_result r = {0};
	struct xfer *x = NULL;

	if (smile_store_get_webhook(g->store, row->webhook_id, &wh) != SMILE_OK)
		return; /* deleted meanwhile: its rows went with it */
	if (webhook_secret_open(g->keys, wh.id, wh.secret, secret) != SMILE_OK) {
		snprintf(r.error, sizeof(r.error), "secret");
		goto fail;
	}
	if (event_body(g, row->event_id, body, sizeof(body), id)) {
		snprintf(r.error, sizeof(r.error), "event");
		goto fail;
	}
	x = calloc(1, sizeof(*x));
	if (x == NULL) {
		snprintf(r.error, sizeof(r.error), "internal");
		goto fail;
	}
	x->allow = &w->allow;
	x->row = *row;
	if (xfer_setup(x, &g->cfg, wh.url, secret, id, body, strlen(body))) {
		snprintf(r.error, sizeof(r.error), "internal");
		goto fail;
	}
	sodium_memzero(secret, sizeof(secret));
	if (curl_multi_add_handle(w->multi, x->easy) != CURLM_OK) {
		snprintf(r.error, sizeof(r.error), "internal");
		goto fail;
	}
	link_xfer(w, x);
	return;
fail:
	sodium_memzero(secret, sizeof(secret));
	xfer_free(x);
	record(w, row, &r);
}

static void claim(struct webhook_worker *w)
{
	const struct smile_config *cfg = &w->g->cfg;
	struct smile_store_delivery rows[CLAIM_BATCH];
	size_t room = (size_t)(cfg->webhook_concurrency - w->inflight), n = 0;

	if (room > CLAIM_BATCH)
		room = CLAIM_BATCH;
	if (room == 0)
		return;
	if (smile_store_outbox_claim(w->g->store, smile_clock_ms(),
				     cfg->webhook_timeout_ms + LEASE_MARGIN_MS, rows, room,
				     &n) != SMILE_OK) {
		smile_log0(SMILE_LOG_WARN, "webhook.claim_failed");
		return;
	}
	for (size_t i = 0; i < n; i++)
		start_one(w, &rows[i]);
}

/* Record every finished transfer; non-zero when one finished. */
static int reap(struct webhook_worker *w)
{
	CURLMsg *m;
	int left, any = 0;

	while ((m = curl_multi_info_read(w->multi, &left)) != NULL) {
		struct xfer *x = NULL;
		struct webhook_result r;
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		CURLcode cc = m->data.result;
		curl_multi_remove_handle(w->multi, m->easy_handle);
		xfer_result(x, cc, &r);
		record(w, &x->row, &r);
		unlink_xfer(w, x);
		xfer_free(x);
		any = 1;
	}
	return any;
}

/* Finished deliveries older than webhook_keep_days leave the outbox. */
static void prune(struct webhook_worker *w)
{
	uint64_t n = 0;
	int64_t before = smile_clock_ms() - w->g->cfg.webhook_keep_days * 86400000LL;
	if (smile_store_outbox_prune(w->g->store, before, &n) != SMILE_OK)
		smile_log0(SMILE_LOG_WARN, "webhook.prune_failed");
	else if (n)
		smile_log(SMILE_LOG_INFO, "webhook.pruned", SMILE_KV_INT("deliveries", (long long)n));
}

static void *worker_main(void *arg)
{
	struct webhook_worker *w = arg;
	int64_t next_poll = 0, next_prune = 0;
	int running = 0;

	while (!atomic_load(&w->stop)) {
		int64_t now = smile_mono_ms();
		if (now >= next_prune) {
			prune(w);
			next_prune = now + PRUNE_EVERY_MS;
		}
		if (now >= next_poll && w->inflight < w->g->cfg.webhook_concurrency) {
			claim(w);
			next_poll = now + w->g->cfg.webhook_poll_ms;
		}
		curl_multi_perform(w->multi, &running);
		if (reap(w))
			next_poll = 0; /* an endpoint is free again: its next row may be due */
		else
			curl_multi_poll(w->multi, NULL, 0, 50, NULL);
	}
	return NULL;
}

enum smile_err webhook_worker_start(struct gateway *g, struct webhook_worker **out,
				    struct smile_error *e)
{
	struct webhook_worker *w = calloc(1, sizeof(*w));
	enum smile_err rc;

	*out = NULL;
	if (w == NULL)
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
	w->g = g;
	if ((rc = webhook_allow_parse(g->cfg.webhook_allow_private, &w->allow, e))) {
		free(w);
		return rc;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (w->multi = curl_multi_init()) == NULL) {
		free(w);
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "libcurl cannot start");
	}
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		curl_multi_cleanup(w->multi);
		free(w);
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, "cannot start the webhook thread");
	}
	*out = w;
	return SMILE_OK;
}

void webhook_worker_stop(struct webhook_worker *w)
{
	if (w == NULL)
		return;
	atomic_store(&w->stop, 1);
	curl_multi_wakeup(w->multi);
	pthread_join(w->thread, NULL);
	/* abandoned: recorded as interrupted and due again at once, so the
	 * next node (or this one restarted) need not wait for the lease */
	while (w->head) {
		struct xfer *x = w->head;
		struct smile_store_attempt a = {.id = x->row.id, .webhook_id = x->row.webhook_id,
						.state = SMILE_DELIVERY_PENDING,
						.time_ms = smile_clock_ms(),
						.next_ms = smile_clock_ms(), .error = "interrupted"};
		enum smile_err rc = smile_store_outbox_finish(w->g->store, &a);
		smile_log(rc ? SMILE_LOG_WARN : SMILE_LOG_INFO, "webhook.interrupted",
			  SMILE_KV_ID("webhook", x->row.webhook_id),
			  SMILE_KV_INT("delivery", (long long)x->row.id),
			  SMILE_KV_ID("store", smile_strerror(rc)));
		curl_multi_remove_handle(w->multi, x->easy);
		unlink_xfer(w, x);
		xfer_free(x);
	}
	curl_multi_cleanup(w->multi);
	free(w);
}

/* ------------------------------------------------------------ test send */

enum smile_err webhook_send_test(struct gateway *g, const struct smile_store_webhook *wh,
				 char event_id[WEBHOOK_TEST_ID_MAX], struct webhook_result *out)
{
	char secret[WEBHOOK_SECRET_MAX], body[256], at[GATEWAY_TIME_MAX];
	uint8_t rnd[16];
	struct webhook_allow allow;
	struct xfer x = {0};
	int64_t now = smile_clock_ms();
	enum smile_err rc;

	memset(out, 0, sizeof(*out));
	if (webhook_allow_parse(g->cfg.webhook_allow_private, &allow, NULL) != SMILE_OK)
		return SMILE_ERR_CONFIG;
	rc = webhook_secret_open(g->keys, wh->id, wh->secret, secret);
	if (rc)
		return rc;
	randombytes_buf(rnd, sizeof(rnd));
	memcpy(event_id, "evt_test_", 9);
	sodium_bin2hex(event_id + 9, WEBHOOK_TEST_ID_MAX - 9, rnd, sizeof(rnd));
	gateway_iso_time(now, at);
	snprintf(body, sizeof(body),
		 "{\"v\":1,\"type\":\"test\",\"event_id\":\"%s\",\"webhook_id\":\"%s\","
		 "\"time\":\"%s\",\"time_ms\":%lld}",
		 event_id, wh->id, at, (long long)now);
	(void)curl_global_init(CURL_GLOBAL_DEFAULT);
	x.allow = &allow;
	if (xfer_setup(&x, &g->cfg, wh->url, secret, event_id, body, strlen(body))) {
		sodium_memzero(secret, sizeof(secret));
		return SMILE_ERR_NOMEM;
	}
	sodium_memzero(secret, sizeof(secret));
	CURLcode cc = curl_easy_perform(x.easy);
	xfer_result(&x, cc, out);
	curl_easy_cleanup(x.easy);
	curl_slist_free_all(x.hdrs);
	return SMILE_OK;
}
