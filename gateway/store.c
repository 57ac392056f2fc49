/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.c - the backend-neutral core of store.h: group commit, rules, audit.
 *
 * One idea makes the store fast and durable at once: a single writer thread
 * owns the backend's write connection. Callers enqueue a job and sleep; the
 * writer takes every job queued so far, runs each in its own savepoint inside
 * one write transaction, and wakes them all once the commit (fsync'd) returns.
 * While one commit syncs, the next batch gathers, so fsyncs are shared by as
 * many requests as arrive meanwhile. Async scan commits call back instead of
 * waiting, bounded by MAX_ASYNC_INFLIGHT (back-pressure).
 *
 * Everything a backend would otherwise re-implement lives here: the URL
 * dispatch, the reader pool, savepoints per job and per item (every return
 * checked), the audit hash chain (the backend only stores rows), and the
 * domain rules - a new shipment gets a "created" event, an erasure gets an
 * "erased" event and withdraws revealing replies, revoked is final, a scan
 * applies only to an active device with a higher seq, "delivered" sets
 * delivered_ms. The backend (store_backend.h) maps rows to one engine.
 */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "smile/log.h"
#include "smile/clock.h"
#include "store_backend.h"

/* The backends of this build, matched by URL scheme; the first also opens
 * bare paths. */
static const struct store_backend *const backends[] = {
	&store_sqlite_backend,
	&store_postgres_backend,
};
#define N_BACKENDS (sizeof(backends) / sizeof(backends[0]))

#define MAX_JOBS_PER_COMMIT 2048
#define HOUR_MS 3600000LL
#define MAX_ASYNC_INFLIGHT 4096
#define ID_LEASE 1024
#define SCRUB_RETRY_MS 1000
#define SCRUB_POLL_MS 5000 /* how often to ask the store whether a scrub is owed */

/* ------------------------------------------------------------ write jobs */

enum job_type {
	JOB_INSERT,
	JOB_ERASE,
	JOB_EVENT,
	JOB_PUT_APIKEY,
	JOB_REVOKE_APIKEY,
	JOB_PUT_DEVICE,
	JOB_DEVICE_STATUS,
	JOB_SCAN,
	JOB_AUDIT,
	JOB_LEASE_IDS,
	/* vault key rotation */
	JOB_META_SET,
	JOB_REWRAP,
	/* print jobs */
	JOB_PRINT_PUT,
	JOB_PRINT_REPORT,
	/* webhooks: a function of this file run as one job */
	JOB_CALL
};

struct job {
	enum job_type type;
	union {
		struct {
			struct smile_store_new_shipment *items;
			size_t n;
			int all_or_nothing;
		} insert;
		struct {
			uint64_t id;
			int64_t now_ms;
			const char *reason;
		} erase;
		const struct smile_store_event *event;
		const struct smile_store_apikey *apikey;
		struct {
			const char *id;
			int64_t now_ms;
		} revoke;
		struct {
			const struct smile_store_device *d;
			const char *actor;
		} put_device;
		struct {
			const char *id;
			enum smile_device_status st;
			const char *actor, *reason;
		} dev_status;
		const struct smile_store_scan *scan;
		struct {
			const struct smile_audit_entry *a;
			size_t n;
			int64_t time_ms;
		} audit;
		uint64_t *lease_start; /* out: the first id of a fresh lease */
		/* vault key rotation */
		struct {
			const char *key, *expect, *value;
			const struct smile_audit_entry *a;
			size_t n;
			int64_t time_ms;
		} meta;
		struct {
			struct smile_store_wrapped *rows;
			size_t n;
		} rewrap;
		/* print jobs */
		struct {
			struct smile_store_print_job *rows;
			size_t n;
			smile_store_job_build_fn build;
			void *arg;
			size_t *conflict;
			int64_t now_ms;
		} print_put;
		struct {
			const char *id, *station, *text;
			int state, reason;
			int64_t now_ms;
		} print_report;
		struct {
			enum smile_err (*fn)(struct smile_store *s, void *arg);
			void *arg;
		} call;
	} u;
	enum smile_err rc;
	int done;
	struct job *next;
	/* async jobs: owned by the store, completed by a callback */
	smile_store_done_fn done_fn;
	void *done_arg;
};

struct reader {
	struct store_conn *c;
	struct reader *next_free;
};

struct smile_store {
	const struct store_backend *ops;
	struct store_conn *writer;
	struct reader *readers;
	int n_readers;
	struct reader *free_readers;
	pthread_mutex_t rlock;
	pthread_cond_t rcond;

	pthread_t writer_thread;
	pthread_mutex_t qlock;
	pthread_cond_t qwork; /* jobs queued or stopping */
	pthread_cond_t qdone; /* a commit finished */
	struct job *head, *tail;
	int stopping;
	int writer_started;
	pthread_cond_t qspace; /* async jobs below the in-flight bound */
	int async_inflight;

	/* Shipment ids are leased from the store in blocks, so another process
	 * or node never hands out the same id; a crashed process only leaves a
	 * gap. */
	pthread_mutex_t idlock;
	uint64_t id_next, id_end; /* the lease: [id_next, id_end) */

	/* The audit chain head as read inside the current write transaction:
	 * reloaded at every begin, because another process (the CLI, another
	 * node) may have appended since. Only the writer thread touches it. */
	uint64_t audit_seq;
	uint8_t audit_hash[32];

	/* Scrub after an erasure: > 0 while old copies may remain in the
	 * backend's log because a reader blocked the scrub. */
	int scrub_pending;
	int64_t scrub_since_ms;
	int64_t scrub_tried_mono_ms; /* last attempt (smile_mono_ms) */
	int64_t scrub_polled_mono_ms; /* last ops->scrub_owed */
	atomic_int wal_pending; /* mirror of scrub_pending != 0 for other threads */
};

/* ------------------------------------------------------------ name tables */

const char *smile_role_name(enum smile_role r)
{
	switch (r) {
	case SMILE_ROLE_MERCHANT:
		return "merchant";
	case SMILE_ROLE_WAREHOUSE:
		return "warehouse";
	case SMILE_ROLE_ADMIN:
		return "admin";
	}
	return "unknown";
}

enum smile_err smile_role_parse(const char *s, enum smile_role *out)
{
	for (int r = SMILE_ROLE_MERCHANT; r <= SMILE_ROLE_ADMIN; r++)
		if (s && strcmp(s, smile_role_name((enum smile_role)r)) == 0) {
			*out = (enum smile_role)r;
			return SMILE_OK;
		}
	return SMILE_ERR_FIELD_VALUE;
}

static const char *const dev_roles[] = {"courier", "hub", "supervisor", "print_station"};
static const char *const dev_statuses[] = {"active", "suspended", "revoked"};

const char *smile_device_role_name(enum smile_device_role r)
{
	return (unsigned)r < 4 ? dev_roles[r] : "unknown";
}

enum smile_err smile_device_role_parse(const char *s, enum smile_device_role *out)
{
	for (int i = 0; i < 4; i++)
		if (s && strcmp(s, dev_roles[i]) == 0) {
			*out = (enum smile_device_role)i;
			return SMILE_OK;
		}
	return SMILE_ERR_FIELD_VALUE;
}

const char *smile_device_status_name(enum smile_device_status st)
{
	return (unsigned)st < 3 ? dev_statuses[st] : "unknown";
}

enum smile_err smile_device_status_parse(const char *s, enum smile_device_status *out)
{
	for (int i = 0; i < 3; i++)
		if (s && strcmp(s, dev_statuses[i]) == 0) {
			*out = (enum smile_device_status)i;
			return SMILE_OK;
		}
	*out = SMILE_DEV_REVOKED; /* fail closed */
	return SMILE_ERR_FIELD_VALUE;
}

static const char *const webhook_statuses[] = {"active", "paused", "disabled"};
static const char *const delivery_states[] = {"pending", "delivered", "dead"};

const char *smile_webhook_status_name(enum smile_webhook_status st)
{
	return (unsigned)st < 3 ? webhook_statuses[st] : "unknown";
}

enum smile_err smile_webhook_status_parse(const char *s, enum smile_webhook_status *out)
{
	for (int i = 0; i < 3; i++)
		if (s && strcmp(s, webhook_statuses[i]) == 0) {
			*out = (enum smile_webhook_status)i;
			return SMILE_OK;
		}
	*out = SMILE_WEBHOOK_DISABLED; /* fail closed */
	return SMILE_ERR_FIELD_VALUE;
}

const char *smile_delivery_state_name(enum smile_delivery_state st)
{
	return (unsigned)st < 3 ? delivery_states[st] : "unknown";
}

/* The same names as enum smile_event's wire names (smile_proto_event_name),
 * with "created" at 0. */
static const char *const shipment_statuses[] = {
	[SMILE_SHIPMENT_CREATED] = "created",
	[SMILE_SHIPMENT_PICKUP] = "pickup",
	[SMILE_SHIPMENT_HUB_IN] = "hub_in",
	[SMILE_SHIPMENT_HUB_OUT] = "hub_out",
	[SMILE_SHIPMENT_OUT_FOR_DELIVERY] = "out_for_delivery",
	[SMILE_SHIPMENT_DELIVERY_FAILED] = "delivery_failed",
	[SMILE_SHIPMENT_DELIVERED] = "delivered",
	[SMILE_SHIPMENT_RETURNED] = "returned",
};
#define N_SHIPMENT_STATUSES (sizeof(shipment_statuses) / sizeof(shipment_statuses[0]))

const char *smile_shipment_status_name(enum smile_shipment_status st)
{
	return (unsigned)st < N_SHIPMENT_STATUSES ? shipment_statuses[st] : "unknown";
}

enum smile_err smile_shipment_status_parse(const char *s, enum smile_shipment_status *out)
{
	for (size_t i = 0; i < N_SHIPMENT_STATUSES; i++)
		if (s && strcmp(s, shipment_statuses[i]) == 0) {
			*out = (enum smile_shipment_status)i;
			return SMILE_OK;
		}
	return SMILE_ERR_FIELD_VALUE;
}

/* ------------------------------------------------------------ audit chain */

static void put_u64(crypto_generichash_state *st, uint64_t v)
{
	uint8_t b[8];
	for (int i = 7; i >= 0; i--) {
		b[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
	crypto_generichash_update(st, b, 8);
}

static void put_str(crypto_generichash_state *st, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	put_u64(st, n);
	if (n)
		crypto_generichash_update(st, (const unsigned char *)s, n);
}

/* hash_n = BLAKE2b-256("smile-audit-v1\0" || hash_{n-1} || u64 seq || u64 time ||
 *                      (u64 len || bytes) of kind, subject, actor, detail) */
static void audit_hash(const uint8_t prev[32], uint64_t seq, int64_t time_ms, const char *kind,
		       const char *subject, const char *actor, const char *detail,
		       uint8_t out[32])
{
	static const char domain[] = "smile-audit-v1";
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const unsigned char *)domain, sizeof(domain));
	crypto_generichash_update(&st, prev, 32);
	put_u64(&st, seq);
	put_u64(&st, (uint64_t)time_ms);
	put_str(&st, kind);
	put_str(&st, subject);
	put_str(&st, actor);
	put_str(&st, detail);
	crypto_generichash_final(&st, out, 32);
}

/* Chain one entry after the head read at begin (W). */
static enum smile_err audit_append(struct smile_store *s, const struct smile_audit_entry *a,
				   int64_t time_ms)
{
	uint8_t h[32];
	uint64_t seq = s->audit_seq + 1;
	enum smile_err rc;

	audit_hash(s->audit_hash, seq, time_ms, a->kind, a->subject, a->actor, a->detail, h);
	struct store_audit_row row = {
		.seq = seq,
		.time_ms = time_ms,
		.kind = a->kind ? a->kind : "",
		.subject = a->subject ? a->subject : "",
		.actor = a->actor ? a->actor : "",
		.detail = a->detail ? a->detail : "",
		.prev_hash = s->audit_hash,
		.prev_len = 32,
		.hash = h,
		.hash_len = 32,
	};
	rc = s->ops->audit_insert(s->writer, &row);
	if (rc == SMILE_OK) {
		s->audit_seq = seq;
		memcpy(s->audit_hash, h, 32);
	}
	return rc;
}

/* ------------------------------------------------------------ writer: the rules */

/* Every tracking event goes through here: appended, then fanned out to the
 * merchant's webhook outbox in the same transaction (store.h, "webhooks"). */
static enum smile_err emit_event(struct smile_store *s, const struct smile_store_event *ev,
				 uint64_t *id)
{
	uint64_t eid = 0;
	enum smile_err rc = s->ops->insert_event(s->writer, ev, &eid);
	if (rc)
		return rc;
	if (id)
		*id = eid;
	return s->ops->outbox_add(s->writer, eid, ev->shipment_id, ev->waybill, ev->event,
				  ev->recorded_ms ? ev->recorded_ms : smile_clock_ms());
}

static enum smile_err run_insert_one(struct smile_store *s, struct smile_store_new_shipment *it)
{
	const struct store_backend *ops = s->ops;
	const struct smile_store_shipment *r = it->row;
	enum smile_err rc;

	if (it->idem) {
		rc = ops->insert_idem(s->writer, it->idem, r->created_ms);
		if (rc == SMILE_ERR_EXISTS)
			return SMILE_ERR_CONFLICT;
		if (rc)
			return rc;
	}
	rc = ops->insert_shipment(s->writer, r, it->track_hash);
	if (rc)
		return rc;
	if (it->personal) {
		rc = ops->insert_personal(s->writer, r->id, it->personal);
		if (rc)
			return rc;
	}
	/* every shipment's history starts with "created" */
	struct smile_store_event ev = {.shipment_id = r->id, .time_ms = r->created_ms};
	snprintf(ev.waybill, sizeof(ev.waybill), "%s", r->waybill);
	snprintf(ev.event, sizeof(ev.event), "created");
	snprintf(ev.detail, sizeof(ev.detail), "api");
	return emit_event(s, &ev, NULL);
}

static enum smile_err run_erase(struct smile_store *s, uint64_t id, int64_t now_ms,
				const char *reason)
{
	const struct store_backend *ops = s->ops;
	char waybill[SMILE_STORE_WAYBILL_MAX] = "";
	enum smile_err rc;

	rc = ops->mark_erased(s->writer, id, now_ms, waybill); /* NOT_FOUND, SHREDDED */
	if (rc)
		return rc;
	rc = ops->delete_personal(s->writer, id);
	if (rc)
		return rc;
	/* a stored reply that revealed this shipment is a copy of its contact
	 * details: withdrawn with them */
	rc = ops->forget_replies(s->writer, id);
	if (rc)
		return rc;
	struct smile_store_event ev = {.shipment_id = id, .time_ms = now_ms};
	snprintf(ev.waybill, sizeof(ev.waybill), "%s", waybill);
	snprintf(ev.event, sizeof(ev.event), "erased");
	snprintf(ev.detail, sizeof(ev.detail), "%s", reason ? reason : "");
	rc = emit_event(s, &ev, NULL);
	if (rc)
		return rc;
	struct smile_audit_entry a = {"erasure", waybill, reason ? reason : "", "crypto-shred"};
	return audit_append(s, &a, now_ms);
}

/* An event moves its shipment to the status it names; "delivered" also
 * stamps delivered_ms. */
/* An event and the shipment status it names (and, for a custody scan, the
 * new holder: NULL keeps it); `known`: the shipment was read in this
 * transaction (store_backend.h, set_shipment_status). */
static enum smile_err run_event(struct smile_store *s, const struct smile_store_event *ev,
				uint64_t *id, const char *holder, int known)
{
	enum smile_shipment_status to;
	enum smile_err rc;

	if (smile_shipment_status_parse(ev->event, &to) != SMILE_OK)
		return SMILE_ERR_INVALID;
	rc = emit_event(s, ev, id);
	if (rc)
		return rc;
	return s->ops->set_shipment_status(s->writer, ev->shipment_id, to,
					   to == SMILE_SHIPMENT_DELIVERED ? ev->time_ms : 0, holder,
					   known);
}

static enum smile_err run_put_device(struct smile_store *s, const struct smile_store_device *d,
				     const char *actor)
{
	/* a device starts active, whatever the caller's struct says */
	enum smile_err rc = s->ops->put_device(s->writer, d, SMILE_DEV_ACTIVE);
	if (rc)
		return rc;
	struct smile_audit_entry a = {"device.enrol", d->id, actor,
				      smile_device_role_name(d->role)};
	return audit_append(s, &a, d->created_ms);
}

static enum smile_err set_status(struct smile_store *s, const char *id,
				 enum smile_device_status to, const char *actor, const char *reason,
				 int64_t now)
{
	enum smile_device_status cur;
	enum smile_err rc = s->ops->device_status(s->writer, id, &cur);
	char kind[32];

	if (rc)
		return rc;
	if (cur == SMILE_DEV_REVOKED)
		return SMILE_ERR_CONFLICT; /* revoked is final */
	rc = s->ops->set_device_status(s->writer, id, to, now);
	if (rc)
		return rc;
	snprintf(kind, sizeof(kind), "device.%s", smile_device_status_name(to));
	struct smile_audit_entry a = {kind, id, actor, reason};
	return audit_append(s, &a, now);
}

/* `facts`: what run_scan read of the scan's shipment in this transaction,
 * or NULL. */
static enum smile_err run_scan_apply(struct smile_store *s, const struct smile_store_scan *sc,
				     const struct store_scan_facts *facts)
{
	const struct store_backend *ops = s->ops;
	uint64_t shipment = sc->event ? sc->event->shipment_id : 0;
	int reveal = sc->reveal && sc->event;
	enum smile_err rc;

	if (reveal && facts == NULL) {
		/* An erasure committed while this reveal waited for its commit:
		 * its reply must never be stored (nor sent). */
		struct store_scan_facts f;
		rc = ops->scan_facts(s->writer, shipment, sc->device_id, INT64_MAX, &f);
		if (rc)
			return rc;
		if (f.erased_ms)
			return SMILE_ERR_SHREDDED;
	}
	/* A device suspended or revoked while this scan waited for its commit
	 * gets nothing from it; a seq not above last_seq is a replay. */
	struct store_device_advance adv = {
		.device_id = sc->device_id,
		.seq = sc->seq,
		.digest = sc->digest,
		.reply = sc->reply,
		.reply_len = sc->reply_len,
		.time_ms = sc->time_ms,
		.shipment_id = shipment,
		.revealed = reveal,
		.require = SMILE_DEV_ACTIVE,
	};
	rc = ops->device_advance(s->writer, &adv);
	if (rc)
		return rc;
	if (sc->event) {
		rc = run_event(s, sc->event, &sc->event->id, sc->custody ? sc->device_id : NULL,
			       facts && facts->found);
		if (rc)
			return rc;
	}
	if (reveal) {
		rc = ops->add_reveal(s->writer, sc->device_id, sc->time_ms / HOUR_MS);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < sc->n_audit; i++) {
		rc = audit_append(s, &sc->audit[i], sc->time_ms);
		if (rc)
			return rc;
	}
	if (sc->suspend)
		return set_status(s, sc->device_id, SMILE_DEV_SUSPENDED, "gateway",
				  "quota_exceeded", sc->time_ms);
	return SMILE_OK;
}

/* The scan's seq was taken (device_advance refused it), or, `moved`, the
 * shipment changed under its decision: what the device is owed, from its
 * row as this transaction sees it, in the order of the pipeline
 * (docs/protocol.md 7.1 step 5, then 7.3), audited as the pipeline audits
 * it. Another node committed first, or the broker redelivered a scan this
 * process already answered; or, when the seq is still free, another scan of
 * the shipment committed first (SMILE_SCAN_MOVED, nothing stored). */
static enum smile_err scan_taken(struct smile_store *s, const struct smile_store_scan *sc,
				 int moved)
{
	struct smile_store_scan_result *res = sc->result;
	const char *waybill = sc->event ? sc->event->waybill : sc->subject ? sc->subject : "-";
	struct smile_audit_entry a = {"refusal", "-", sc->device_id, "replay"};
	struct smile_store_device d;
	enum smile_err rc = s->ops->get_device(s->writer, sc->device_id, &d);

	if (rc)
		return rc == SMILE_ERR_NOT_FOUND ? SMILE_ERR_REPLAY : rc;
	res->reply_len = 0;
	if (d.status != SMILE_DEV_ACTIVE) {
		res->outcome = SMILE_SCAN_STANDING;
		res->standing = d.status;
		a.detail = d.status == SMILE_DEV_REVOKED ? "revoked" : "suspended";
	} else if (d.last_seq == sc->seq && memcmp(d.last_digest, sc->digest, 32) == 0) {
		res->outcome = SMILE_SCAN_RETRANSMIT;
		res->revealed = d.last_revealed;
		if (d.last_reply && d.last_reply_len > res->reply_cap) {
			smile_store_device_release(&d);
			return SMILE_ERR_STORE;
		}
		if (d.last_reply) {
			memcpy(res->reply, d.last_reply, d.last_reply_len);
			res->reply_len = d.last_reply_len;
		}
		if (d.last_reply && !d.last_revealed) {
			smile_store_device_release(&d);
			return SMILE_OK; /* resent as it was, nothing to audit */
		}
		/* a revealing reply resent (the scan is fresh: it was decided
		 * just now), or withdrawn by an erasure */
		a = d.last_reply ? (struct smile_audit_entry){"reveal", waybill, sc->device_id,
							       "resend"}
				 : (struct smile_audit_entry){"refusal", waybill, sc->device_id,
							       "erased"};
	} else if (moved && d.last_seq < sc->seq) {
		res->outcome = SMILE_SCAN_MOVED;
		smile_store_device_release(&d);
		return SMILE_OK;
	} else {
		res->outcome = SMILE_SCAN_REPLAY;
	}
	smile_store_device_release(&d);
	return audit_append(s, &a, sc->time_ms);
}

/* One scan, with what only one process may decide decided here (store.h):
 * the facts of its decision read again in the transaction, in one round
 * trip (scan_facts), then applied, or what the device is owed instead. */
static enum smile_err run_scan(struct smile_store *s, const struct smile_store_scan *sc)
{
	struct smile_store_scan_result *res = sc->result;
	const struct smile_store_scan *apply = sc;
	int reveal = sc->reveal && sc->event;
	int quota = reveal && sc->over_quota;
	struct store_scan_facts f;
	enum smile_err rc;

	if (res == NULL)
		return run_scan_apply(s, sc, NULL);
	res->outcome = SMILE_SCAN_APPLIED;
	res->reply_len = 0;
	if (sc->event == NULL || (!reveal && !sc->expect_shipment)) {
		rc = run_scan_apply(s, apply, NULL);
		return rc == SMILE_ERR_REPLAY ? scan_taken(s, sc, 0) : rc;
	}
	rc = s->ops->scan_facts(s->writer, sc->event->shipment_id, sc->device_id,
				quota ? (sc->time_ms - 24 * HOUR_MS) / HOUR_MS : INT64_MAX, &f);
	if (rc)
		return rc;
	if (sc->expect_shipment && f.found) {
		/* 7.4's facts about the shipment, as committed by every process
		 * up to this job: the scan was decided on these */
		enum smile_shipment_status now;
		if (smile_shipment_status_parse(f.status, &now) != SMILE_OK)
			return SMILE_ERR_STORE;
		if (now != sc->expect_status ||
		    strcmp(f.holder, sc->expect_holder ? sc->expect_holder : "") != 0)
			return scan_taken(s, sc, 1);
	}
	if (reveal && f.erased_ms) /* erasure first (7.4 row 10 before row 13) */
		return SMILE_ERR_SHREDDED;
	/* the quota as committed, by every process, up to this job */
	if (quota && f.reveals >= (uint64_t)(sc->quota < 0 ? 0 : sc->quota)) {
		res->outcome = SMILE_SCAN_OVER_QUOTA;
		res->reveals = f.reveals;
		apply = sc->over_quota;
	}
	rc = run_scan_apply(s, apply, apply == sc ? &f : NULL);
	if (rc == SMILE_ERR_REPLAY)
		return scan_taken(s, sc, 0);
	return rc;
}

static enum smile_err run_meta_set(struct smile_store *s, const struct job *j)
{
	enum smile_err rc;

	if (j->u.meta.expect != NULL) {
		char cur[SMILE_STORE_META_MAX];
		rc = s->ops->meta_get(s->writer, j->u.meta.key, cur, sizeof(cur));
		if (rc != SMILE_OK && rc != SMILE_ERR_NOT_FOUND && rc != SMILE_ERR_TOO_LARGE)
			return rc;
		/* absent, or longer than any value we set: not what is expected */
		if (rc != SMILE_OK || strcmp(cur, j->u.meta.expect) != 0)
			return SMILE_ERR_CONFLICT;
	}
	rc = s->ops->meta_put(s->writer, j->u.meta.key, j->u.meta.value);
	for (size_t i = 0; rc == SMILE_OK && i < j->u.meta.n; i++)
		rc = audit_append(s, &j->u.meta.a[i], j->u.meta.time_ms);
	return rc;
}

static enum smile_err run_rewrap(struct smile_store *s, struct smile_store_wrapped *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		enum smile_err rc = s->ops->rewrap(s->writer, &rows[i]);
		if (rc != SMILE_OK && rc != SMILE_ERR_CONFLICT)
			return rc;
		rows[i].result = rc;
	}
	return SMILE_OK;
}

/* Print jobs: the "printed once" rule is decided here, under the write
 * lock, so two nodes taking POSTs for one waybill cannot both pass it. */
static enum smile_err run_print_put(struct smile_store *s, const struct job *j)
{
	const struct store_backend *ops = s->ops;

	for (size_t i = 0; i < j->u.print_put.n; i++) {
		struct smile_store_print_job *row = &j->u.print_put.rows[i];
		enum smile_err rc;
		int exists = 0;

		if (!row->reprint) {
			/* also sees the rows inserted just before in this request */
			if ((rc = ops->print_job_exists(s->writer, row->shipment_id, &exists)))
				return rc;
			if (exists) {
				*j->u.print_put.conflict = i;
				return SMILE_ERR_CONFLICT;
			}
		}
		if ((rc = ops->print_job_next_seq(s->writer, row->station, &row->seq)))
			return rc;
		row->state = 0; /* SMILE_JOB_QUEUED */
		row->reason = 0;
		row->reason_text[0] = '\0';
		row->created_ms = row->updated_ms = j->u.print_put.now_ms;
		free(row->message);
		row->message = NULL;
		if ((rc = j->u.print_put.build(j->u.print_put.arg, row)))
			return rc;
		if ((rc = ops->insert_print_job(s->writer, row)))
			return rc;
		if (row->reprint) {
			char detail[SMILE_STORE_ID_MAX + SMILE_STORE_JOB_ID_MAX + 16];
			snprintf(detail, sizeof(detail), "station=%s job=%s", row->station, row->id);
			struct smile_audit_entry a = {"print.reprint", row->waybill, row->requested_by,
						      detail};
			if ((rc = audit_append(s, &a, j->u.print_put.now_ms)))
				return rc;
		}
	}
	return SMILE_OK;
}

static enum smile_err run_job_body(struct smile_store *s, struct job *j)
{
	switch (j->type) {
	case JOB_INSERT:
		break; /* run_insert_items: each item has its own savepoint */
	case JOB_ERASE:
		return run_erase(s, j->u.erase.id, j->u.erase.now_ms, j->u.erase.reason);
	case JOB_EVENT:
		return run_event(s, j->u.event, NULL, NULL, 0);
	case JOB_PUT_APIKEY:
		return s->ops->put_apikey(s->writer, j->u.apikey);
	case JOB_REVOKE_APIKEY:
		return s->ops->revoke_apikey(s->writer, j->u.revoke.id, j->u.revoke.now_ms);
	case JOB_PUT_DEVICE:
		return run_put_device(s, j->u.put_device.d, j->u.put_device.actor);
	case JOB_DEVICE_STATUS:
		return set_status(s, j->u.dev_status.id, j->u.dev_status.st, j->u.dev_status.actor,
				  j->u.dev_status.reason, smile_clock_ms());
	case JOB_SCAN:
		return run_scan(s, j->u.scan);
	case JOB_LEASE_IDS:
		return s->ops->lease_ids(s->writer, ID_LEASE, j->u.lease_start);
	case JOB_AUDIT:
		for (size_t i = 0; i < j->u.audit.n; i++) {
			enum smile_err rc = audit_append(s, &j->u.audit.a[i], j->u.audit.time_ms);
			if (rc)
				return rc;
		}
		return SMILE_OK;
	/* vault key rotation */
	case JOB_META_SET:
		return run_meta_set(s, j);
	case JOB_REWRAP:
		return run_rewrap(s, j->u.rewrap.rows, j->u.rewrap.n);
	case JOB_PRINT_PUT:
		return run_print_put(s, j);
	case JOB_PRINT_REPORT:
		return s->ops->print_job_report(s->writer, j->u.print_report.id,
						j->u.print_report.station, j->u.print_report.state,
						j->u.print_report.reason, j->u.print_report.text,
						j->u.print_report.now_ms);
	case JOB_CALL:
		return j->u.call.fn(s, j->u.call.arg);
	}
	return SMILE_ERR_STORE;
}

/* ------------------------------------------------------------ writer: savepoints */

/* A savepoint op failed: logged, by name and backend. */
static enum smile_err sp_failed(const struct smile_store *s, const char *op, const char *name,
				enum smile_err rc)
{
	smile_log(SMILE_LOG_ERROR, "store.savepoint_failed", SMILE_KV_ID("op", op),
		  SMILE_KV_ID("savepoint", name), SMILE_KV_ID("backend", s->ops->name),
		  SMILE_KV_ID("error", smile_strerror(rc)));
	return rc;
}

/* Undo what ran since savepoint `name`, then drop it. Non-zero when either
 * failed: the transaction then holds changes nobody can take back alone. */
static int sp_undo(struct smile_store *s, const char *name)
{
	enum smile_err rc = s->ops->rollback_to(s->writer, name);
	if (rc) {
		sp_failed(s, "rollback_to", name, rc);
		return -1;
	}
	rc = s->ops->release(s->writer, name);
	if (rc) {
		sp_failed(s, "release", name, rc);
		return -1;
	}
	return 0;
}

static int sp_keep(struct smile_store *s, const char *name)
{
	enum smile_err rc = s->ops->release(s->writer, name);
	if (rc) {
		sp_failed(s, "release", name, rc);
		return -1;
	}
	return 0;
}

/* Each item in its own savepoint: a failed item undoes only itself (or,
 * with all_or_nothing, ends the job, whose savepoint then undoes all). */
static int run_insert_items(struct smile_store *s, struct job *j)
{
	for (size_t i = 0; i < j->u.insert.n; i++) {
		struct smile_store_new_shipment *it = &j->u.insert.items[i];
		enum smile_err sp = s->ops->savepoint(s->writer, "item");
		if (sp) {
			/* never run an item outside its savepoint */
			it->result = sp_failed(s, "savepoint", "item", SMILE_ERR_STORE);
		} else {
			it->result = run_insert_one(s, it);
			if (it->result ? sp_undo(s, "item") : sp_keep(s, "item"))
				return -1;
		}
		if (it->result && j->u.insert.all_or_nothing) {
			j->rc = it->result;
			break;
		}
	}
	return 0;
}

/* Run one job in its own savepoint: its failure undoes only its changes.
 * Returns non-zero when a savepoint could not be rolled back or released:
 * the caller then rolls back the whole transaction. */
static int run_job(struct smile_store *s, struct job *j)
{
	uint64_t audit_seq = s->audit_seq;
	uint8_t audit_head[32];
	enum smile_err sp;

	memcpy(audit_head, s->audit_hash, 32);
	j->rc = SMILE_OK;
	sp = s->ops->savepoint(s->writer, "job");
	if (sp) {
		/* nothing ran: the job fails alone */
		j->rc = sp_failed(s, "savepoint", "job", SMILE_ERR_STORE);
		if (j->type == JOB_INSERT)
			for (size_t i = 0; i < j->u.insert.n; i++)
				j->u.insert.items[i].result = SMILE_ERR_STORE;
		return 0;
	}
	if (j->type == JOB_INSERT) {
		if (run_insert_items(s, j))
			return -1;
	} else {
		j->rc = run_job_body(s, j);
	}
	if (j->rc) {
		/* the chain head follows the database */
		s->audit_seq = audit_seq;
		memcpy(s->audit_hash, audit_head, 32);
		return sp_undo(s, "job");
	}
	return sp_keep(s, "job");
}

/* Read the chain head inside the open write transaction: begin holds the
 * write lock, so nobody else can append until commit. */
static enum smile_err audit_load_head(struct smile_store *s)
{
	s->audit_seq = 0;
	memset(s->audit_hash, 0, 32);
	return s->ops->audit_head(s->writer, &s->audit_seq, s->audit_hash);
}

/* After an erasure, old copies of the wrapped key, the ciphertext and
 * withdrawn replies may live on in the backend's log (SQLite: WAL frames)
 * until it is scrubbed. A reader holding an old snapshot (a backup, the
 * sqlite3 shell) blocks that: the scrub never waits for the reader, and is
 * retried once a second until it completes. Logged (warning when blocked,
 * info when done) and shown in /metrics. */
static void wal_scrub(struct smile_store *s, int after_erase)
{
	enum smile_err rc;

	if (s->ops->scrub == NULL)
		return;
	if (after_erase && !s->scrub_pending)
		s->scrub_since_ms = smile_clock_ms();
	s->scrub_tried_mono_ms = smile_mono_ms();
	rc = s->ops->scrub(s->writer);
	if (rc == SMILE_OK) {
		if (s->scrub_pending)
			smile_log(SMILE_LOG_INFO, "store.wal_scrubbed",
				  SMILE_KV_INT("waited_ms",
					       (long long)(smile_clock_ms() - s->scrub_since_ms)),
				  SMILE_KV_INT("attempts", s->scrub_pending + 1));
		s->scrub_pending = 0;
		atomic_store(&s->wal_pending, 0);
		return;
	}
	if (!s->scrub_pending)
		smile_log(SMILE_LOG_WARN, "store.wal_scrub_blocked",
			  SMILE_KV_ID("backend", s->ops->name),
			  SMILE_KV_ID("why", "busy_retrying_every_second"));
	s->scrub_pending++;
	atomic_store(&s->wal_pending, 1);
	smile_metrics_add(SMILE_COUNTER_WAL_SCRUB_RETRIES, 1);
}

/* A scrub another process owed (it died, or its commit's answer was lost)
 * is recorded in the store: whoever polls first pays it. */
static void scrub_poll(struct smile_store *s)
{
	s->scrub_polled_mono_ms = smile_mono_ms();
	if (s->ops->scrub_owed && !s->scrub_pending && s->ops->scrub_owed(s->writer))
		wal_scrub(s, 1);
}

static void *writer_main(void *arg)
{
	struct smile_store *s = arg;

	scrub_poll(s);
	for (;;) {
		struct job *batch, *j, *last;
		int n = 0, erased = 0;

		pthread_mutex_lock(&s->qlock);
		while (s->head == NULL && !s->stopping) {
			if (!s->scrub_pending && s->ops->scrub_owed == NULL) {
				pthread_cond_wait(&s->qwork, &s->qlock);
				continue;
			}
			if (!s->scrub_pending) {
				struct timespec until;
				clock_gettime(CLOCK_REALTIME, &until);
				until.tv_sec += SCRUB_POLL_MS / 1000;
				if (pthread_cond_timedwait(&s->qwork, &s->qlock, &until) == ETIMEDOUT &&
				    s->head == NULL && !s->stopping) {
					pthread_mutex_unlock(&s->qlock);
					scrub_poll(s);
					pthread_mutex_lock(&s->qlock);
				}
				continue;
			}
			/* a blocked WAL scrub is retried while the writer is idle */
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += SCRUB_RETRY_MS / 1000;
			if (pthread_cond_timedwait(&s->qwork, &s->qlock, &until) == ETIMEDOUT &&
			    s->head == NULL) {
				pthread_mutex_unlock(&s->qlock);
				wal_scrub(s, 0);
				pthread_mutex_lock(&s->qlock);
			}
		}
		if (s->head == NULL && s->stopping) {
			pthread_mutex_unlock(&s->qlock);
			break;
		}
		/* take up to MAX_JOBS_PER_COMMIT jobs */
		batch = s->head;
		last = batch;
		for (n = 1; last->next && n < MAX_JOBS_PER_COMMIT; n++)
			last = last->next;
		s->head = last->next;
		if (s->head == NULL)
			s->tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&s->qlock);

		int began = s->ops->begin(s->writer) == SMILE_OK;
		int ok = began && audit_load_head(s) == SMILE_OK;
		for (j = batch; j && ok; j = j->next) {
			if (run_job(s, j))
				ok = 0; /* a savepoint could not be undone: nothing commits */
			else if (j->type == JOB_ERASE && j->rc == SMILE_OK)
				erased = 1;
		}
		if (ok && s->ops->commit(s->writer) != SMILE_OK)
			ok = 0; /* logged by the backend */
		if (!ok && began)
			s->ops->rollback(s->writer);
		if (!ok)
			for (j = batch; j; j = j->next) {
				j->rc = SMILE_ERR_STORE;
				if (j->type == JOB_INSERT)
					for (size_t i = 0; i < j->u.insert.n; i++)
						j->u.insert.items[i].result = SMILE_ERR_STORE;
			}
		if (ok && erased)
			wal_scrub(s, 1);
		else if (s->scrub_pending &&
			 smile_mono_ms() - s->scrub_tried_mono_ms >= SCRUB_RETRY_MS)
			wal_scrub(s, 0); /* a busy writer retries too, between batches */
		else if (s->ops->scrub_owed &&
			 smile_mono_ms() - s->scrub_polled_mono_ms >= SCRUB_POLL_MS)
			scrub_poll(s);

		/* Wake the waiting callers; run the async callbacks outside the lock
		 * (they publish replies) and free their jobs. */
		struct job *async = NULL, **async_tail = &async, *next;
		int n_async = 0;
		pthread_mutex_lock(&s->qlock);
		for (j = batch; j; j = next) {
			next = j->next;
			if (j->done_fn) {
				/* callbacks run in commit order */
				j->next = NULL;
				*async_tail = j;
				async_tail = &j->next;
				n_async++;
			} else {
				j->done = 1;
			}
		}
		pthread_cond_broadcast(&s->qdone);
		pthread_mutex_unlock(&s->qlock);
		for (j = async; j; j = next) {
			next = j->next;
			j->done_fn(j->done_arg, j->rc);
			free(j);
		}
		if (n_async) {
			pthread_mutex_lock(&s->qlock);
			s->async_inflight -= n_async;
			pthread_cond_broadcast(&s->qspace);
			pthread_mutex_unlock(&s->qlock);
		}
	}
	return NULL;
}

/* Queue j for the writer; the caller holds qlock. */
static void enqueue_locked(struct smile_store *s, struct job *j)
{
	j->done = 0;
	j->next = NULL;
	if (s->tail)
		s->tail->next = j;
	else
		s->head = j;
	s->tail = j;
	pthread_cond_signal(&s->qwork);
}

static enum smile_err submit_async(struct smile_store *s, struct job *j)
{
	pthread_mutex_lock(&s->qlock);
	/* back-pressure: a producer faster than the disk waits here */
	while (s->async_inflight >= MAX_ASYNC_INFLIGHT && !s->stopping)
		pthread_cond_wait(&s->qspace, &s->qlock);
	if (s->stopping) {
		pthread_mutex_unlock(&s->qlock);
		return SMILE_ERR_BUSY;
	}
	s->async_inflight++;
	enqueue_locked(s, j);
	pthread_mutex_unlock(&s->qlock);
	return SMILE_OK;
}

static enum smile_err submit(struct smile_store *s, struct job *j)
{
	pthread_mutex_lock(&s->qlock);
	if (s->stopping) {
		pthread_mutex_unlock(&s->qlock);
		return SMILE_ERR_BUSY;
	}
	enqueue_locked(s, j);
	while (!j->done)
		pthread_cond_wait(&s->qdone, &s->qlock);
	pthread_mutex_unlock(&s->qlock);
	return j->rc;
}

/* ------------------------------------------------------------ readers */

/* Every read takes a reader connection from the pool for one op. */
static struct reader *reader_get(struct smile_store *s)
{
	struct reader *r;
	pthread_mutex_lock(&s->rlock);
	while (s->free_readers == NULL)
		pthread_cond_wait(&s->rcond, &s->rlock);
	r = s->free_readers;
	s->free_readers = r->next_free;
	pthread_mutex_unlock(&s->rlock);
	return r;
}

static void reader_put(struct smile_store *s, struct reader *r)
{
	pthread_mutex_lock(&s->rlock);
	r->next_free = s->free_readers;
	s->free_readers = r;
	pthread_cond_signal(&s->rcond);
	pthread_mutex_unlock(&s->rlock);
}


/* ------------------------------------------------------------ open, close */

/* The backend for `url` and where it points: "SCHEME:WHERE" for a backend's
 * scheme, a bare path for the first backend; any other "SCHEME://..." is
 * SMILE_ERR_UNSUPPORTED naming the scheme. */
static enum smile_err store_dispatch(const char *url, const struct store_backend **be,
				     const char **where, struct smile_error *e)
{
	const char *sep;

	if (url == NULL || url[0] == '\0')
		return smile_error_set(e, SMILE_ERR_INVALID, "store", "no store URL");
	for (size_t i = 0; i < N_BACKENDS; i++) {
		const char *names[2] = {backends[i]->scheme, backends[i]->alias};
		for (size_t k = 0; k < 2 && names[k]; k++) {
			size_t n = strlen(names[k]);
			if (strncmp(url, names[k], n) == 0 && url[n] == ':') {
				*be = backends[i];
				*where = url + n + 1;
				return SMILE_OK;
			}
		}
	}
	sep = strstr(url, "://");
	if (sep)
		return smile_error_set(e, SMILE_ERR_UNSUPPORTED, "store",
				       "store scheme '%.*s' is not supported by this build "
				       "(supported: sqlite, postgresql)",
				       (int)(sep - url > 32 ? 32 : sep - url), url);
	*be = backends[0];
	*where = url;
	return SMILE_OK;
}

enum smile_err smile_store_open(const char *url, int create, int readers,
				struct smile_store **out, struct smile_error *e)
{
	const struct store_backend *be;
	const char *where;
	struct smile_store *s;
	enum smile_err rc;

	*out = NULL;
	rc = store_dispatch(url, &be, &where, e);
	if (rc)
		return rc;
	if (readers < 1)
		readers = 1;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
	s->ops = be;
	pthread_mutex_init(&s->rlock, NULL);
	pthread_cond_init(&s->rcond, NULL);
	pthread_mutex_init(&s->qlock, NULL);
	pthread_mutex_init(&s->idlock, NULL);
	pthread_cond_init(&s->qwork, NULL);
	pthread_cond_init(&s->qdone, NULL);
	pthread_cond_init(&s->qspace, NULL);
	rc = be->open(where, STORE_CONN_WRITER, create, &s->writer, e);
	if (rc)
		goto fail;
	s->readers = calloc((size_t)readers, sizeof(*s->readers));
	if (s->readers == NULL) {
		rc = smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
		goto fail;
	}
	for (int i = 0; i < readers; i++) {
		rc = be->open(where, STORE_CONN_READER, 0, &s->readers[i].c, e);
		if (rc)
			goto fail;
		s->n_readers = i + 1;
		s->readers[i].next_free = s->free_readers;
		s->free_readers = &s->readers[i];
	}
	if (pthread_create(&s->writer_thread, NULL, writer_main, s) != 0) {
		rc = smile_error_set(e, SMILE_ERR_STORE, NULL, "cannot start the writer thread");
		goto fail;
	}
	s->writer_started = 1;
	pthread_setname_np(s->writer_thread, "smile-writer");
	*out = s;
	return SMILE_OK;
fail:
	smile_store_close(s);
	return rc;
}

void smile_store_close(struct smile_store *s)
{
	if (s == NULL)
		return;
	if (s->writer_started) {
		pthread_mutex_lock(&s->qlock);
		s->stopping = 1;
		pthread_cond_broadcast(&s->qwork);
		pthread_cond_broadcast(&s->qspace);
		pthread_mutex_unlock(&s->qlock);
		pthread_join(s->writer_thread, NULL);
	}
	for (int i = 0; i < s->n_readers; i++)
		s->ops->close(s->readers[i].c);
	free(s->readers);
	if (s->writer)
		s->ops->close(s->writer); /* scrubs, as after an erasure */
	pthread_mutex_destroy(&s->rlock);
	pthread_cond_destroy(&s->rcond);
	pthread_mutex_destroy(&s->qlock);
	pthread_mutex_destroy(&s->idlock);
	pthread_cond_destroy(&s->qwork);
	pthread_cond_destroy(&s->qdone);
	pthread_cond_destroy(&s->qspace);
	free(s);
}

enum smile_err smile_store_ping(struct smile_store *s)
{
	struct reader *r = reader_get(s);
	enum smile_err rc = s->ops->ping(r->c);
	reader_put(s, r);
	return rc;
}

int smile_store_wal_pending(struct smile_store *s)
{
	return atomic_load(&s->wal_pending);
}

/* ------------------------------------------------------------ shipments */

enum smile_err smile_store_next_id(struct smile_store *s, uint64_t *id)
{
	enum smile_err rc = SMILE_OK;

	pthread_mutex_lock(&s->idlock);
	if (s->id_next == s->id_end) {
		uint64_t start = 0;
		struct job j = {.type = JOB_LEASE_IDS, .u.lease_start = &start};
		rc = submit(s, &j);
		if (rc == SMILE_OK) {
			s->id_next = start;
			s->id_end = start + ID_LEASE;
		}
	}
	if (rc == SMILE_OK)
		*id = s->id_next++;
	pthread_mutex_unlock(&s->idlock);
	return rc;
}

enum smile_err smile_store_insert_shipments(struct smile_store *s,
					    struct smile_store_new_shipment *items, size_t n,
					    int all_or_nothing)
{
	struct job j = {.type = JOB_INSERT, .u.insert = {items, n, all_or_nothing}};
	if (n == 0)
		return SMILE_OK;
	return submit(s, &j);
}

enum smile_err smile_store_get_shipment(struct smile_store *s, const char *waybill,
					struct smile_store_shipment *out)
{
	struct reader *r = reader_get(s);
	enum smile_err rc = s->ops->get_shipment(r->c, waybill ? waybill : "", 0, out);
	reader_put(s, r);
	return rc;
}

enum smile_err smile_store_get_shipment_by_id(struct smile_store *s, uint64_t id,
					      struct smile_store_shipment *out)
{
	struct reader *r = reader_get(s);
	enum smile_err rc = s->ops->get_shipment(r->c, NULL, id, out);
	reader_put(s, r);
	return rc;
}

void smile_store_shipment_release(struct smile_store_shipment *row)
{
	if (row == NULL)
		return;
	free(row->public_json);
	free(row->device_view);
	row->public_json = NULL;
	row->device_view = NULL;
}

enum smile_err smile_store_get_personal(struct smile_store *s, uint64_t id,
					struct smile_store_personal *out)
{
	struct reader *r = reader_get(s);
	enum smile_err rc = s->ops->get_personal(r->c, id, out);
	reader_put(s, r);
	return rc;
}

void smile_store_personal_release(struct smile_store_personal *p)
{
	if (p == NULL)
		return;
	free(p->ct);
	memset(p, 0, sizeof(*p));
}

enum smile_err smile_store_erase_personal(struct smile_store *s, uint64_t id, int64_t now_ms,
					  const char *reason)
{
	struct job j = {.type = JOB_ERASE, .u.erase = {id, now_ms, reason}};
	return submit(s, &j);
}

enum smile_err smile_store_retention_due(struct smile_store *s, int64_t delivered_before_ms,
					 int64_t created_before_ms, uint64_t *ids, size_t max,
					 size_t *n)
{
	struct reader *r = reader_get(s);
	enum smile_err rc = s->ops->retention_due(r->c, delivered_before_ms, created_before_ms,
						  ids, max, n);
	reader_put(s, r);
	return rc;
}

enum smile_err smile_store_list_shipments(struct smile_store *s, int64_t since_ms,
					  uint64_t after_id, const char *const *merchants,
					  size_t n_merchants, size_t limit,
					  smile_store_shipment_cb cb, void *ctx)
{
	struct store_shipment_query q = {since_ms, after_id, merchants,
					 merchants ? n_merchants : 0, limit};
	struct reader *r;
	enum smile_err rc;

	if (n_merchants > SMILE_STORE_MAX_BINDINGS)
		return SMILE_ERR_INVALID;
	r = reader_get(s);
	rc = s->ops->list_shipments(r->c, &q, cb, ctx);
	reader_put(s, r);
	return rc;
}

/* ------------------------------------------------------------ events, idempotency, keys */

enum smile_err smile_store_add_event(struct smile_store *s, const struct smile_store_event *ev)
{
	struct job j = {.type = JOB_EVENT, .u.event = ev};
	return submit(s, &j);
}

enum smile_err smile_store_list_events(struct smile_store *s, uint64_t shipment_id,
				       smile_store_event_cb cb, void *ctx)
{
	struct reader *r = reader_get(s);
	enum smile_err rc = s->ops->list_events(r->c, shipment_id, cb, ctx);
	reader_put(s, r);
	return rc;
}

static enum smile_err call(struct smile_store *s, enum smile_err (*fn)(struct smile_store *, void *),
			   void *arg);

static enum smile_err run_nothing(struct smile_store *s, void *arg)
{
	(void)s;
	(void)arg;
	return SMILE_OK;
}

enum smile_err smile_store_get_idem(struct smile_store *s, const char *api_key_id,
				    const char *key, struct smile_store_idem *out)
{
	struct reader *r = reader_get(s);
	enum smile_err rc = s->ops->get_idem(r->c, api_key_id, key, out);
	reader_put(s, r);
	/* A recorded answer is about to be given again: only once it is
	 * durable. A reader may see a commit a flush before the disk does (on
	 * PostgreSQL, docs/operations.md "Durability"); a write transaction
	 * of our own, even an empty one, returns after a flush that covers
	 * every commit before it. Replays are rare: the cost is theirs. */
	if (rc == SMILE_OK) {
		enum smile_err b = call(s, run_nothing, NULL);
		if (b != SMILE_OK) {
			smile_store_idem_release(out);
			return b;
		}
	}
	return rc;
}

void smile_store_idem_release(struct smile_store_idem *i)
{
	if (i == NULL)
		return;
	free(i->response);
	i->response = NULL;
}

enum smile_err smile_store_put_apikey(struct smile_store *s, const struct smile_store_apikey *k)
{
	struct job j = {.type = JOB_PUT_APIKEY, .u.apikey = k};
	return submit(s, &j);
}

enum smile_err smile_store_find_apikey(struct smile_store *s, const uint8_t hash[32],
				       struct smile_store_apikey *out)
{
	struct reader *r = reader_get(s);
	enum smile_err rc = s->ops->find_apikey(r->c, hash, out);
	reader_put(s, r);
	return rc;
}

enum smile_err smile_store_revoke_apikey(struct smile_store *s, const char *id, int64_t now_ms)
{
	struct job j = {.type = JOB_REVOKE_APIKEY, .u.revoke = {id, now_ms}};
	return submit(s, &j);
}

/* ------------------------------------------------------------ print jobs */

void smile_store_print_job_release(struct smile_store_print_job *j)
{
	if (j == NULL)
		return;
	free(j->message);
	j->message = NULL;
	j->message_len = 0;
}

enum smile_err smile_store_put_print_jobs(struct smile_store *s,
					  struct smile_store_print_job *rows, size_t n,
					  smile_store_job_build_fn build, void *arg,
					  size_t *conflict, int64_t now_ms)
{
	struct job j = {.type = JOB_PRINT_PUT,
			.u.print_put = {rows, n, build, arg, conflict, now_ms}};
	if (n == 0 || build == NULL || conflict == NULL)
		return SMILE_ERR_INVALID;
	return submit(s, &j);
}

enum smile_err smile_store_print_job_report(struct smile_store *s, const char *id,
					    const char *station, int state, int reason,
					    const char *text, int64_t now_ms)
{
	struct job j = {.type = JOB_PRINT_REPORT,
			.u.print_report = {id, station, text ? text : "", state, reason, now_ms}};
	return submit(s, &j);
}

enum smile_err smile_store_get_print_job(struct smile_store *s, const char *id,
					 struct smile_store_print_job *out)
{
	struct reader *r = reader_get(s);
	enum smile_err rc = s->ops->get_print_job(r->c, id, out);
	reader_put(s, r);
	return rc;
}

enum smile_err smile_store_list_print_jobs(struct smile_store *s, int state, size_t limit,
					   smile_store_print_job_cb cb, void *ctx)
{
	struct reader *r = reader_get(s);
	enum smile_err rc = s->ops->list_print_jobs(r->c, state, limit, cb, ctx);
	reader_put(s, r);
	return rc;
}

/* ------------------------------------------------------------ devices */

void smile_store_device_release(struct smile_store_device *d)
{
	if (d == NULL)
		return;
	free(d->last_reply);
	d->last_reply = NULL;
	d->last_reply_len = 0;
}

enum smile_err smile_store_put_device(struct smile_store *s, const struct smile_store_device *d,
				      const char *actor)
{
	struct job j = {.type = JOB_PUT_DEVICE, .u.put_device = {d, actor}};
	return submit(s, &j);
}

enum smile_err smile_store_get_device(struct smile_store *s, const char *id,
				      struct smile_store_device *out)
{
	struct reader *r = reader_get(s);
	enum smile_err rc = s->ops->get_device(r->c, id, out);
	reader_put(s, r);
	return rc;
}

enum smile_err smile_store_list_devices(struct smile_store *s, smile_store_device_cb cb, void *ctx)
{
	struct reader *r = reader_get(s);
	enum smile_err rc = s->ops->list_devices(r->c, cb, ctx);
	reader_put(s, r);
	return rc;
}

enum smile_err smile_store_set_device_status(struct smile_store *s, const char *id,
					     enum smile_device_status st, const char *actor,
					     const char *reason)
{
	struct job j = {.type = JOB_DEVICE_STATUS, .u.dev_status = {id, st, actor, reason}};
	return submit(s, &j);
}

enum smile_err smile_store_count_reveals(struct smile_store *s, const char *device,
					 int64_t since_ms, uint64_t *n)
{
	/* the whole hour `since_ms` falls in counts: the window errs long, so a
	 * quota is never exceeded, only reached up to an hour early */
	struct reader *r = reader_get(s);
	enum smile_err rc;

	*n = 0;
	rc = s->ops->count_reveals(r->c, device, since_ms / HOUR_MS, n);
	reader_put(s, r);
	return rc;
}

enum smile_err smile_store_commit_scan(struct smile_store *s, const struct smile_store_scan *scan)
{
	struct job j = {.type = JOB_SCAN, .u.scan = scan};
	return submit(s, &j);
}

enum smile_err smile_store_commit_scan_async(struct smile_store *s,
					     const struct smile_store_scan *scan,
					     smile_store_done_fn done, void *arg)
{
	struct job *j = calloc(1, sizeof(*j));
	enum smile_err rc;
	if (j == NULL)
		return SMILE_ERR_NOMEM;
	j->type = JOB_SCAN;
	j->u.scan = scan;
	j->done_fn = done;
	j->done_arg = arg;
	rc = submit_async(s, j);
	if (rc)
		free(j);
	return rc;
}

void smile_store_drain(struct smile_store *s)
{
	pthread_mutex_lock(&s->qlock);
	while (s->async_inflight > 0)
		pthread_cond_wait(&s->qspace, &s->qlock);
	pthread_mutex_unlock(&s->qlock);
}

/* ------------------------------------------------------------ audit */

enum smile_err smile_store_audit(struct smile_store *s, const struct smile_audit_entry *a, size_t n,
				 int64_t time_ms)
{
	struct job j = {.type = JOB_AUDIT, .u.audit = {a, n, time_ms}};
	return submit(s, &j);
}

struct verify {
	uint8_t prev[32];
	uint64_t expect, n, first_bad;
	enum smile_err rc;
	struct smile_error *e;
};

static int verify_row(void *ctx, const struct store_audit_row *row)
{
	struct verify *v = ctx;
	uint8_t h[32];

	if (row->seq != v->expect) {
		v->first_bad = v->expect;
		v->rc = smile_error_set(v->e, SMILE_ERR_AUDIT_BROKEN, "audit",
					"entry %llu is missing (next present: %llu)",
					(unsigned long long)v->expect,
					(unsigned long long)row->seq);
		return 1;
	}
	if (row->prev_len != 32 || memcmp(row->prev_hash, v->prev, 32) != 0) {
		v->first_bad = row->seq;
		v->rc = smile_error_set(v->e, SMILE_ERR_AUDIT_BROKEN, "audit",
					"entry %llu does not follow entry %llu (deleted, "
					"inserted or reordered)",
					(unsigned long long)row->seq,
					(unsigned long long)(row->seq - 1));
		return 1;
	}
	audit_hash(v->prev, row->seq, row->time_ms, row->kind, row->subject, row->actor,
		   row->detail, h);
	if (row->hash_len != 32 || memcmp(row->hash, h, 32) != 0) {
		v->first_bad = row->seq;
		v->rc = smile_error_set(v->e, SMILE_ERR_AUDIT_BROKEN, "audit",
					"entry %llu was altered (its hash does not match)",
					(unsigned long long)row->seq);
		return 1;
	}
	memcpy(v->prev, h, 32);
	v->expect++;
	v->n++;
	return 0;
}

enum smile_err smile_store_audit_verify(struct smile_store *s, uint64_t *n_entries,
					uint64_t *first_bad, uint8_t head[32], struct smile_error *e)
{
	struct verify v = {.expect = 1, .rc = SMILE_OK, .e = e};
	struct reader *r = reader_get(s);
	enum smile_err rc = s->ops->audit_each(r->c, verify_row, &v);

	reader_put(s, r);
	*n_entries = v.n;
	*first_bad = v.first_bad;
	if (v.rc)
		return v.rc;
	if (rc)
		return smile_error_set(e, SMILE_ERR_STORE, "audit", "cannot read the audit log");
	if (head)
		memcpy(head, v.prev, 32);
	return SMILE_OK;
}

/* ================================================================ vault key rotation
 * What `keys rotate-vault` needs (gateway/vault_rotate.c, docs/vault.md):
 * meta rows with compare-and-set, paging through wrapped keys,
 * compare-and-set rewrapping, and a read-only pass over a store. */

enum smile_err smile_store_meta_get(struct smile_store *s, const char *key, char *out, size_t n)
{
	struct reader *r;
	enum smile_err rc;

	if (out == NULL || n == 0 || key == NULL)
		return SMILE_ERR_INVALID;
	out[0] = '\0';
	r = reader_get(s);
	rc = s->ops->meta_get(r->c, key, out, n);
	reader_put(s, r);
	return rc;
}

enum smile_err smile_store_meta_set(struct smile_store *s, const char *key, const char *expect,
				    const char *value, const struct smile_audit_entry *a,
				    size_t n_audit, int64_t time_ms)
{
	struct job j = {.type = JOB_META_SET,
			.u.meta = {key, expect, value, a, a ? n_audit : 0, time_ms}};

	/* the schema version belongs to the backend's migrations alone */
	if (key == NULL || key[0] == '\0' || strcmp(key, "schema_version") == 0)
		return SMILE_ERR_INVALID;
	if ((value && strlen(value) >= SMILE_STORE_META_MAX) ||
	    (expect && strlen(expect) >= SMILE_STORE_META_MAX))
		return SMILE_ERR_TOO_LARGE;
	return submit(s, &j);
}

enum smile_err smile_store_list_wrapped(struct smile_store *s, uint64_t after_id,
					struct smile_store_wrapped *rows, size_t max, size_t *n)
{
	struct reader *r;
	enum smile_err rc;

	*n = 0;
	if (rows == NULL || max == 0)
		return SMILE_ERR_INVALID;
	r = reader_get(s);
	rc = s->ops->list_wrapped(r->c, after_id, rows, max, n);
	reader_put(s, r);
	return rc;
}

enum smile_err smile_store_rewrap(struct smile_store *s, struct smile_store_wrapped *rows, size_t n)
{
	struct job j = {.type = JOB_REWRAP, .u.rewrap = {rows, n}};
	enum smile_err rc;

	if (n == 0)
		return SMILE_OK;
	if (rows == NULL)
		return SMILE_ERR_INVALID;
	for (size_t i = 0; i < n; i++) {
		if (rows[i].wrapped_len == 0 || rows[i].wrapped_len > SMILE_STORE_WRAPPED_MAX ||
		    rows[i].new_len == 0 || rows[i].new_len > SMILE_STORE_WRAPPED_MAX)
			return SMILE_ERR_INVALID;
		rows[i].result = SMILE_ERR_STORE;
	}
	rc = submit(s, &j);
	if (rc != SMILE_OK)
		for (size_t i = 0; i < n; i++)
			rows[i].result = rc;
	return rc;
}

enum smile_err smile_store_each_personal(const char *url, smile_store_personal_cb cb, void *ctx,
					 struct smile_error *e)
{
	const struct store_backend *be;
	const char *where;
	enum smile_err rc;

	if (url == NULL || cb == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "argument missing");
	rc = store_dispatch(url, &be, &where, e);
	if (rc)
		return rc;
	return be->each_personal(where, cb, ctx, e);
}

/* ================================================================ webhooks */

static enum smile_err call(struct smile_store *s, enum smile_err (*fn)(struct smile_store *, void *),
			   void *arg)
{
	struct job j = {.type = JOB_CALL, .u.call = {fn, arg}};
	return submit(s, &j);
}

static enum smile_err run_wh_put(struct smile_store *s, void *arg)
{
	return s->ops->wh_put(s->writer, arg);
}

enum smile_err smile_store_put_webhook(struct smile_store *s, const struct smile_store_webhook *w)
{
	return call(s, run_wh_put, (void *)w);
}

enum smile_err smile_store_get_webhook(struct smile_store *s, const char *id,
				       struct smile_store_webhook *out)
{
	struct reader *r = reader_get(s);
	enum smile_err rc = s->ops->wh_get(r->c, id, out);
	reader_put(s, r);
	return rc;
}

enum smile_err smile_store_list_webhooks(struct smile_store *s, const char *merchant,
					 smile_store_webhook_cb cb, void *ctx)
{
	struct reader *r = reader_get(s);
	enum smile_err rc = s->ops->wh_list(r->c, merchant, cb, ctx);
	reader_put(s, r);
	return rc;
}

struct wh_status_arg {
	const char *id;
	enum smile_webhook_status st;
	int64_t now_ms;
};

static enum smile_err run_wh_status(struct smile_store *s, void *arg)
{
	const struct wh_status_arg *a = arg;
	return s->ops->wh_set_status(s->writer, a->id, a->st, a->now_ms);
}

enum smile_err smile_store_set_webhook_status(struct smile_store *s, const char *id,
					      enum smile_webhook_status st, int64_t now_ms)
{
	struct wh_status_arg a = {id, st, now_ms};
	return call(s, run_wh_status, &a);
}

static enum smile_err run_wh_delete(struct smile_store *s, void *arg)
{
	return s->ops->wh_delete(s->writer, arg);
}

enum smile_err smile_store_delete_webhook(struct smile_store *s, const char *id)
{
	return call(s, run_wh_delete, (void *)id);
}

struct claim_arg {
	int64_t now_ms, lease_ms;
	struct smile_store_delivery *rows;
	size_t max, *n;
};

/* Read the due rows and lease them in one transaction: under the store's
 * write lock, so two nodes never claim the same row. */
static enum smile_err run_claim(struct smile_store *s, void *arg)
{
	struct claim_arg *a = arg;
	enum smile_err rc = s->ops->outbox_due(s->writer, a->now_ms, a->rows, a->max, a->n);
	for (size_t i = 0; rc == SMILE_OK && i < *a->n; i++) {
		a->rows[i].lease_until_ms = a->now_ms + a->lease_ms;
		rc = s->ops->outbox_lease(s->writer, a->rows[i].id, a->rows[i].lease_until_ms);
	}
	if (rc)
		*a->n = 0;
	return rc;
}

enum smile_err smile_store_outbox_claim(struct smile_store *s, int64_t now_ms, int64_t lease_ms,
					struct smile_store_delivery *rows, size_t max, size_t *n)
{
	struct claim_arg a = {now_ms, lease_ms, rows, max, n};
	*n = 0;
	if (max == 0)
		return SMILE_OK;
	return call(s, run_claim, &a);
}

static enum smile_err run_finish(struct smile_store *s, void *arg)
{
	const struct smile_store_attempt *a = arg;
	enum smile_err rc = s->ops->outbox_finish(s->writer, a);
	if (rc == SMILE_OK && a->disable)
		rc = s->ops->wh_set_status(s->writer, a->webhook_id, SMILE_WEBHOOK_DISABLED,
					   a->time_ms);
	return rc;
}

enum smile_err smile_store_outbox_finish(struct smile_store *s, const struct smile_store_attempt *a)
{
	return call(s, run_finish, (void *)a);
}

enum smile_err smile_store_outbox_list(struct smile_store *s, const char *webhook_id,
				       uint64_t after_id, size_t limit, smile_store_delivery_cb cb,
				       void *ctx)
{
	struct reader *r = reader_get(s);
	enum smile_err rc = s->ops->outbox_list(r->c, webhook_id, after_id, limit, cb, ctx);
	reader_put(s, r);
	return rc;
}

struct redeliver_arg {
	const char *webhook_id;
	uint64_t id;
	int64_t now_ms;
};

static enum smile_err run_redeliver(struct smile_store *s, void *arg)
{
	const struct redeliver_arg *a = arg;
	return s->ops->outbox_redeliver(s->writer, a->webhook_id, a->id, a->now_ms);
}

enum smile_err smile_store_outbox_redeliver(struct smile_store *s, const char *webhook_id,
					    uint64_t id, int64_t now_ms)
{
	struct redeliver_arg a = {webhook_id, id, now_ms};
	return call(s, run_redeliver, &a);
}

struct prune_arg {
	int64_t before_ms;
	uint64_t *n;
};

static enum smile_err run_prune(struct smile_store *s, void *arg)
{
	struct prune_arg *a = arg;
	return s->ops->outbox_prune(s->writer, a->before_ms, a->n);
}

enum smile_err smile_store_outbox_prune(struct smile_store *s, int64_t before_ms, uint64_t *n)
{
	struct prune_arg a = {before_ms, n};
	*n = 0;
	return call(s, run_prune, &a);
}

enum smile_err smile_store_get_event(struct smile_store *s, uint64_t id,
				     struct smile_store_event *out)
{
	struct reader *r = reader_get(s);
	enum smile_err rc = s->ops->get_event(r->c, id, out);
	reader_put(s, r);
	return rc;
}

/* ================================================================ console */

static enum smile_err run_sess_put(struct smile_store *s, void *arg)
{
	return s->ops->sess_put(s->writer, arg);
}

enum smile_err smile_store_put_session(struct smile_store *s, const struct smile_store_session *x)
{
	return call(s, run_sess_put, (void *)x);
}

enum smile_err smile_store_get_session(struct smile_store *s, const uint8_t hash[32],
				       struct smile_store_session *out)
{
	struct reader *r = reader_get(s);
	enum smile_err rc = s->ops->sess_get(r->c, hash, out);
	reader_put(s, r);
	return rc;
}

struct sess_touch_arg {
	const uint8_t *hash;
	int64_t now_ms;
};

static enum smile_err run_sess_touch(struct smile_store *s, void *arg)
{
	const struct sess_touch_arg *a = arg;
	return s->ops->sess_touch(s->writer, a->hash, a->now_ms);
}

enum smile_err smile_store_touch_session(struct smile_store *s, const uint8_t hash[32],
					 int64_t now_ms)
{
	struct sess_touch_arg a = {hash, now_ms};
	return call(s, run_sess_touch, &a);
}

static enum smile_err run_sess_delete(struct smile_store *s, void *arg)
{
	return s->ops->sess_delete(s->writer, arg);
}

enum smile_err smile_store_delete_session(struct smile_store *s, const uint8_t hash[32])
{
	return call(s, run_sess_delete, (void *)hash);
}

struct sess_purge_arg {
	int64_t now_ms, idle_before_ms;
	uint64_t *n;
};

static enum smile_err run_sess_purge(struct smile_store *s, void *arg)
{
	const struct sess_purge_arg *a = arg;
	return s->ops->sess_purge(s->writer, a->now_ms, a->idle_before_ms, a->n);
}

enum smile_err smile_store_purge_sessions(struct smile_store *s, int64_t now_ms,
					  int64_t idle_before_ms, uint64_t *n)
{
	struct sess_purge_arg a = {now_ms, idle_before_ms, n};
	*n = 0;
	return call(s, run_sess_purge, &a);
}

enum smile_err smile_store_page_shipments(struct smile_store *s,
					  const struct smile_store_page_query *q,
					  smile_store_shipment_cb cb, void *ctx)
{
	struct reader *r;
	enum smile_err rc;

	if (q->n_merchants > SMILE_STORE_MAX_BINDINGS || q->limit == 0)
		return SMILE_ERR_INVALID;
	r = reader_get(s);
	rc = s->ops->page_shipments(r->c, q, cb, ctx);
	reader_put(s, r);
	return rc;
}

enum smile_err smile_store_events_after(struct smile_store *s, uint64_t after_id,
					const char *const *merchants, size_t n_merchants,
					size_t limit, smile_store_event_cb cb, void *ctx)
{
	struct reader *r;
	enum smile_err rc;

	if (n_merchants > SMILE_STORE_MAX_BINDINGS || limit == 0)
		return SMILE_ERR_INVALID;
	r = reader_get(s);
	rc = s->ops->events_after(r->c, after_id, merchants, n_merchants, limit, cb, ctx);
	reader_put(s, r);
	return rc;
}

enum smile_err smile_store_event_head(struct smile_store *s, uint64_t *id)
{
	struct reader *r = reader_get(s);
	enum smile_err rc = s->ops->event_head(r->c, id);
	reader_put(s, r);
	return rc;
}

/* ================================================================ tracking page */

enum smile_err smile_store_track_hash(struct smile_store *s, uint64_t id,
				      uint8_t out[SMILE_STORE_TRACK_HASH_BYTES], int *has)
{
	struct reader *r = reader_get(s);
	enum smile_err rc;

	*has = 0;
	memset(out, 0, SMILE_STORE_TRACK_HASH_BYTES);
	rc = s->ops->get_track_hash(r->c, id, out, has);
	reader_put(s, r);
	if (rc || !*has) {
		memset(out, 0, SMILE_STORE_TRACK_HASH_BYTES);
		*has = 0;
	}
	return rc;
}

struct track_hit_arg {
	const char *const *keys;
	size_t n;
	int64_t now_ms, window_ms;
	uint64_t *counts;
};

static enum smile_err run_track_hit(struct smile_store *s, void *arg)
{
	struct track_hit_arg *a = arg;
	enum smile_err rc = SMILE_OK;
	for (size_t i = 0; rc == SMILE_OK && i < a->n; i++)
		rc = s->ops->track_hit(s->writer, a->keys[i], a->now_ms, a->window_ms,
				       &a->counts[i]);
	return rc;
}

enum smile_err smile_store_track_hit(struct smile_store *s, const char *const *keys, size_t n,
				     int64_t now_ms, int64_t window_ms, uint64_t *counts)
{
	struct track_hit_arg a = {keys, n, now_ms, window_ms, counts};
	if (window_ms <= 0 || (n && (keys == NULL || counts == NULL)))
		return SMILE_ERR_INVALID;
	for (size_t i = 0; i < n; i++) {
		size_t len = keys[i] ? strnlen(keys[i], SMILE_STORE_TRACK_KEY_MAX) : 0;
		if (len == 0 || len >= SMILE_STORE_TRACK_KEY_MAX)
			return SMILE_ERR_INVALID;
		counts[i] = 0;
	}
	if (n == 0)
		return SMILE_OK;
	return call(s, run_track_hit, &a);
}

struct audit_subject_arg {
	smile_store_audit_cb cb;
	void *ctx;
};

static int audit_subject_row(void *ctx, const struct store_audit_row *row)
{
	struct audit_subject_arg *a = ctx;
	const struct smile_audit_entry e = {row->kind, row->subject, row->actor, row->detail};
	return a->cb(a->ctx, &e, row->time_ms);
}

enum smile_err smile_store_audit_subject(struct smile_store *s, const char *subject,
					 size_t limit, smile_store_audit_cb cb, void *ctx)
{
	struct audit_subject_arg a = {cb, ctx};
	struct reader *r;
	enum smile_err rc;

	if (subject == NULL || cb == NULL || limit == 0)
		return SMILE_OK;
	r = reader_get(s);
	rc = s->ops->audit_subject(r->c, subject, limit, audit_subject_row, &a);
	reader_put(s, r);
	return rc;
}
