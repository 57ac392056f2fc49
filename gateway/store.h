/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.h - the gateway's durable state, behind one interface.
 *
 * Callers see rows and operations, never SQL. Three files make the store:
 *   - gateway/store.c: the backend-neutral core behind every function here.
 *     smile_store_open dispatches on the URL ("sqlite:PATH" or a bare path:
 *     SQLite; any other scheme: SMILE_ERR_UNSUPPORTED). It owns the write
 *     queue and group commit, the reader pool, the audit hash chain and the
 *     domain rules (the "created" and "erased" events, revoked is final,
 *     delivered_ms, what a scan needs to apply).
 *   - gateway/store_backend.h: the ops table a backend fills (internal).
 *   - gateway/store_sqlite.c: the SQLite backend, the only one today
 *     (docs/HACKING.md "How to add a store backend").
 *
 * Durability: every write function returns only once its transaction is
 * durable (SQLite: WAL with synchronous=FULL). Writes from many threads are
 * group-committed by one writer thread: whatever queued while the previous
 * commit was syncing goes into the next transaction, each operation in its own
 * savepoint so one failure never undoes another.
 *
 * Personal data: the store only ever sees the vault's sealed blobs (wrapped
 * data key + ciphertext) and masked public JSON. Erasure deletes the blobs
 * so their bytes leave the store's files (SQLite: secure_delete on, and the
 * WAL truncated).
 *
 * Thread-safety: all functions may be called from any thread concurrently.
 */
#ifndef SMILE_STORE_H
#define SMILE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "smile/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct smile_store;

#define SMILE_STORE_SCHEMA_VERSION 9
#define SMILE_STORE_ID_MAX 65        /* merchant names, refs, key ids, device ids + NUL */
#define SMILE_STORE_WAYBILL_MAX 32
#define SMILE_STORE_TOKEN_MAX 160
#define SMILE_STORE_STATUS_MAX 24
#define SMILE_STORE_WRAPPED_MAX 128

/* Where a shipment is: "created" at issue, then the name of its latest scan
 * event (docs/protocol.md "Event codes", smile_proto_event_name; the order
 * of enum smile_event). Erasure is not a status: it sets erased_ms and
 * records an "erased" event, the status stays. */
enum smile_shipment_status {
	SMILE_SHIPMENT_CREATED = 0,
	SMILE_SHIPMENT_PICKUP = 1,
	SMILE_SHIPMENT_HUB_IN = 2,
	SMILE_SHIPMENT_HUB_OUT = 3,
	SMILE_SHIPMENT_OUT_FOR_DELIVERY = 4,
	SMILE_SHIPMENT_DELIVERY_FAILED = 5,
	SMILE_SHIPMENT_DELIVERED = 6,
	SMILE_SHIPMENT_RETURNED = 7
};
/* "created", "pickup", ...; "unknown" for a value out of range. */
const char *smile_shipment_status_name(enum smile_shipment_status st);
/* The status named `s`; SMILE_ERR_FIELD_VALUE for anything else (a store
 * row with such text is refused as corrupt, never guessed at). */
enum smile_err smile_shipment_status_parse(const char *s, enum smile_shipment_status *out)
	SMILE_MUST_CHECK;

/* One shipment. Strings are NUL-terminated; `public_json` and `device_view`
 * are owned by the row (free with smile_store_shipment_release). */
struct smile_store_shipment {
	uint64_t id;
	char waybill[SMILE_STORE_WAYBILL_MAX];
	char merchant[SMILE_STORE_ID_MAX];
	char merchant_ref[SMILE_STORE_ID_MAX];
	enum smile_shipment_status status;
	char token[SMILE_STORE_TOKEN_MAX];
	char region[SMILE_STORE_ID_MAX * 2]; /* masked destination region, for zones */
	int64_t created_ms;
	int64_t delivered_ms; /* 0 when not delivered */
	int64_t erased_ms;    /* 0 while personal data is held */
	char holder[SMILE_STORE_ID_MAX]; /* device of the latest custody scan, "" */
	char *public_json;    /* masked label record, JSON text */
	char *device_view;    /* what a scanning device is shown (masked), JSON; may be NULL */
};

/* The sealed personal part; `ct` owned by the struct. */
struct smile_store_personal {
	uint8_t wrapped_key[SMILE_STORE_WRAPPED_MAX];
	size_t wrapped_len;
	uint8_t *ct;
	size_t ct_len;
};

/* An Idempotency-Key entry: the first response to a request, replayed for
 * retries. `response` is owned (release with smile_store_idem_release). */
struct smile_store_idem {
	char api_key_id[SMILE_STORE_ID_MAX];
	char key[SMILE_STORE_ID_MAX * 2];
	uint8_t request_hash[32];
	int status;
	char *response;
};

enum smile_role {
	SMILE_ROLE_MERCHANT = 0,
	SMILE_ROLE_WAREHOUSE = 1,
	SMILE_ROLE_ADMIN = 2
};
const char *smile_role_name(enum smile_role r);
/* "merchant" | "warehouse" | "admin"; SMILE_ERR_FIELD_VALUE otherwise. */
enum smile_err smile_role_parse(const char *s, enum smile_role *out) SMILE_MUST_CHECK;

#define SMILE_STORE_MAX_BINDINGS 16

/* An API key as stored: only a hash of the secret. */
struct smile_store_apikey {
	char id[SMILE_STORE_ID_MAX];
	uint8_t hash[32];
	enum smile_role role;
	char merchant[SMILE_STORE_ID_MAX];          /* merchant role: its merchant */
	char bindings[SMILE_STORE_MAX_BINDINGS][SMILE_STORE_ID_MAX]; /* warehouse */
	int n_bindings;
	int64_t created_ms;
	int64_t revoked_ms; /* 0 when active */
};

/* A tracking event (masked: never personal data). `id` is the store's, unique
 * and never reused: set when the event is read, and by a successful scan
 * commit (smile_store_scan). */
struct smile_store_event {
	uint64_t id;
	uint64_t shipment_id;
	char waybill[SMILE_STORE_WAYBILL_MAX];
	char event[SMILE_STORE_STATUS_MAX];
	int64_t time_ms;     /* when it happened (a scan's scanned_ms) */
	int64_t recorded_ms; /* when the gateway recorded it; 0 on writing means
			      * time_ms, and rows from before schema 5 read as
			      * time_ms */
	char device_id[SMILE_STORE_ID_MAX];   /* "" for gateway events */
	char device_role[SMILE_STORE_STATUS_MAX];
	char detail[SMILE_STORE_ID_MAX];      /* e.g. "api", "retention" */
};

/* Open (creating when `create` is non-zero) the store at `url`:
 * "sqlite:PATH" or a bare path ("sqlite:memory:NAME": no file, the
 * process's shared in-memory database NAME, for unit tests that wait for
 * each commit; SMILE_ERR_INVALID for a malformed NAME). SMILE_ERR_UNSUPPORTED for other schemes,
 * SMILE_ERR_SCHEMA when the file has a newer schema, SMILE_ERR_STORE otherwise.
 * `readers` is the number of read connections (>= 1). On success *out is
 * owned by the caller (smile_store_close). */
enum smile_err smile_store_open(const char *url, int create, int readers,
				struct smile_store **out, struct smile_error *e) SMILE_MUST_CHECK;
/* Finish queued writes, stop the writer, close. NULL is a no-op. */
void smile_store_close(struct smile_store *s);

/* Is the store answering? SMILE_OK or SMILE_ERR_STORE. */
enum smile_err smile_store_ping(struct smile_store *s) SMILE_MUST_CHECK;

/* A fresh shipment id, unique for this store across every process that
 * opens it, never reused: ids are leased from the store in blocks, so a
 * process that stops leaves a gap, never a duplicate. */
enum smile_err smile_store_next_id(struct smile_store *s, uint64_t *id) SMILE_MUST_CHECK;

/* One shipment to insert, with its sealed personal part and, optionally, the
 * Idempotency-Key entry to record in the same transaction. */
struct smile_store_new_shipment {
	const struct smile_store_shipment *row;
	const struct smile_store_personal *personal;
	const struct smile_store_idem *idem; /* NULL when none */
	enum smile_err result;               /* set per item */
	/* The recipient tracking page's keyed hash of the phone's last digits
	 * (track.h), SMILE_STORE_TRACK_HASH_BYTES, or NULL: none (the page's
	 * check then never matches). Erasure clears it. */
	const uint8_t *track_hash;
};

/* Insert n shipments durably (one group commit; each in its own savepoint).
 * Per item: SMILE_OK, SMILE_ERR_EXISTS (waybill or id taken), SMILE_ERR_CONFLICT
 * (idempotency key already used: nothing inserted for that item) or
 * SMILE_ERR_STORE. With `all_or_nothing`, one failed item undoes every item:
 * the function then returns that item's error and nothing is stored. Returns SMILE_OK when the items were committed (check each item
 * unless all_or_nothing), or the error that prevented the commit. */
enum smile_err smile_store_insert_shipments(struct smile_store *s,
					    struct smile_store_new_shipment *items,
					    size_t n, int all_or_nothing) SMILE_MUST_CHECK;

/* Look up by waybill (or by id). SMILE_ERR_NOT_FOUND when absent. */
enum smile_err smile_store_get_shipment(struct smile_store *s, const char *waybill,
					struct smile_store_shipment *out) SMILE_MUST_CHECK;
enum smile_err smile_store_get_shipment_by_id(struct smile_store *s, uint64_t id,
					      struct smile_store_shipment *out) SMILE_MUST_CHECK;
void smile_store_shipment_release(struct smile_store_shipment *row);

/* The sealed personal part. SMILE_ERR_SHREDDED once erased,
 * SMILE_ERR_NOT_FOUND for an unknown id. */
enum smile_err smile_store_get_personal(struct smile_store *s, uint64_t id,
					struct smile_store_personal *out) SMILE_MUST_CHECK;
void smile_store_personal_release(struct smile_store_personal *p);

/* Crypto-shred: delete the wrapped data key and ciphertext, clear the
 * tracking page's digits hash, withdraw every
 * device's stored reply that revealed this shipment, set erased_ms and
 * record an "erased" event with `reason` as detail. Old page images in the
 * WAL are then scrubbed by a checkpoint that never waits for readers: while
 * a reader holds an old snapshot it is retried (smile_store_wal_pending). SMILE_ERR_NOT_FOUND, or
 * SMILE_ERR_SHREDDED when already erased (nothing changes). */
enum smile_err smile_store_erase_personal(struct smile_store *s, uint64_t id,
					  int64_t now_ms, const char *reason) SMILE_MUST_CHECK;

/* Ids of shipments whose personal data is still held and that were either
 * delivered before `delivered_before_ms` or created before
 * `created_before_ms` (0 disables either). Up to `max` ids into `ids`. */
enum smile_err smile_store_retention_due(struct smile_store *s, int64_t delivered_before_ms,
					 int64_t created_before_ms, uint64_t *ids, size_t max,
					 size_t *n) SMILE_MUST_CHECK;

/* Label records (public_json) of shipments created at or after `since_ms` and
 * with id > `after_id`, oldest first, for the merchants listed (NULL/0 = all),
 * at most `limit`. `cb` returns non-zero to stop. */
typedef int (*smile_store_shipment_cb)(void *ctx, const struct smile_store_shipment *row);
enum smile_err smile_store_list_shipments(struct smile_store *s, int64_t since_ms,
					  uint64_t after_id, const char *const *merchants,
					  size_t n_merchants, size_t limit,
					  smile_store_shipment_cb cb, void *ctx) SMILE_MUST_CHECK;

/* Append a tracking event durably; also moves the shipment to the status
 * the event names (and sets delivered_ms for "delivered"). SMILE_ERR_NOT_FOUND
 * for an unknown shipment, SMILE_ERR_INVALID for an event that names no
 * shipment status (nothing is stored). */
enum smile_err smile_store_add_event(struct smile_store *s,
				     const struct smile_store_event *ev) SMILE_MUST_CHECK;
typedef int (*smile_store_event_cb)(void *ctx, const struct smile_store_event *ev);
enum smile_err smile_store_list_events(struct smile_store *s, uint64_t shipment_id,
				       smile_store_event_cb cb, void *ctx) SMILE_MUST_CHECK;

/* Idempotency entry for (api key id, key). SMILE_ERR_NOT_FOUND when none. */
enum smile_err smile_store_get_idem(struct smile_store *s, const char *api_key_id,
				    const char *key, struct smile_store_idem *out) SMILE_MUST_CHECK;
void smile_store_idem_release(struct smile_store_idem *i);

/* API keys. put: SMILE_ERR_EXISTS for a taken id. find: by hash of the
 * secret; SMILE_ERR_NOT_FOUND (also for revoked keys). revoke:
 * SMILE_ERR_NOT_FOUND for unknown or already revoked. */
enum smile_err smile_store_put_apikey(struct smile_store *s,
				      const struct smile_store_apikey *k) SMILE_MUST_CHECK;
enum smile_err smile_store_find_apikey(struct smile_store *s, const uint8_t hash[32],
				       struct smile_store_apikey *out) SMILE_MUST_CHECK;
enum smile_err smile_store_revoke_apikey(struct smile_store *s, const char *id,
					 int64_t now_ms) SMILE_MUST_CHECK;

/* ------------------------------------------------------------ devices */

/* A print station (smile-print, docs/print-station.md) is enrolled like a
 * device; its scans are refused (policy.c allows it no event) and it is
 * never sent contact details, only print jobs. */
enum smile_device_role {
	SMILE_DEV_COURIER = 0,
	SMILE_DEV_HUB = 1,
	SMILE_DEV_SUPERVISOR = 2,
	SMILE_DEV_PRINT_STATION = 3
};
enum smile_device_status { SMILE_DEV_ACTIVE = 0, SMILE_DEV_SUSPENDED = 1, SMILE_DEV_REVOKED = 2 };
const char *smile_device_role_name(enum smile_device_role r);
enum smile_err smile_device_role_parse(const char *s, enum smile_device_role *out) SMILE_MUST_CHECK;
const char *smile_device_status_name(enum smile_device_status s);
/* The status named `s`. Anything else is SMILE_ERR_FIELD_VALUE with *out set
 * to SMILE_DEV_REVOKED: unknown text read from a store fails closed. */
enum smile_err smile_device_status_parse(const char *s, enum smile_device_status *out)
	SMILE_MUST_CHECK;

#define SMILE_STORE_REPLY_MAX 4096

/* An enrolled device. `last_reply` (owned; release with
 * smile_store_device_release) is the reply to the last accepted scan, resent
 * on an exact retransmission; `last_shipment_id` is the shipment it
 * concerns and `last_revealed` says whether it carries contact details.
 * Erasing that shipment withdraws a revealing reply (last_reply NULL). */
struct smile_store_device {
	char id[SMILE_STORE_ID_MAX];
	uint8_t sign_pk[32];
	uint8_t box_pk[32];
	enum smile_device_role role;
	char zone[SMILE_STORE_ID_MAX * 2];
	enum smile_device_status status;
	uint64_t last_seq;
	uint8_t last_digest[32];
	uint8_t *last_reply;
	size_t last_reply_len;
	int64_t created_ms;
	int64_t updated_ms;
	uint64_t last_shipment_id;
	int last_revealed;
};
void smile_store_device_release(struct smile_store_device *d);

/* One audit entry to append (the store chains it). Strings are ids and
 * codes, never personal data. */
struct smile_audit_entry {
	const char *kind;    /* "reveal", "refusal", "device.enrol", "erasure", ... */
	const char *subject; /* waybill or device id */
	const char *actor;   /* device id or API key id */
	const char *detail;  /* reason code, role, ... */
};

/* Enrol (SMILE_ERR_EXISTS when the id is taken, even by a revoked device),
 * with an audit entry. */
enum smile_err smile_store_put_device(struct smile_store *s, const struct smile_store_device *d,
				      const char *actor) SMILE_MUST_CHECK;
/* SMILE_ERR_NOT_FOUND when unknown. */
enum smile_err smile_store_get_device(struct smile_store *s, const char *id,
				      struct smile_store_device *out) SMILE_MUST_CHECK;
typedef int (*smile_store_device_cb)(void *ctx, const struct smile_store_device *d);
enum smile_err smile_store_list_devices(struct smile_store *s, smile_store_device_cb cb,
					void *ctx) SMILE_MUST_CHECK;
/* Change status, with an audit entry (kind "device.<status>", detail
 * `reason`). SMILE_ERR_NOT_FOUND; SMILE_ERR_CONFLICT when revoked already (a
 * revoked device never comes back). */
enum smile_err smile_store_set_device_status(struct smile_store *s, const char *id,
					     enum smile_device_status st, const char *actor,
					     const char *reason) SMILE_MUST_CHECK;

/* Reveals by `device` since `since_ms` (quota). Counted in whole hours: the
 * hour that contains since_ms counts in full, so the window is 24-25 h for a
 * 24 h query: a quota is reached up to an hour early, never exceeded. */
enum smile_err smile_store_count_reveals(struct smile_store *s, const char *device,
					 int64_t since_ms, uint64_t *n) SMILE_MUST_CHECK;

/* The durable effects of one authenticated scan, applied in one savepoint:
 *   - the device's last_seq/last_digest/last_reply advance (only if seq is
 *     greater than the stored last_seq and the device is still active:
 *     otherwise SMILE_ERR_REPLAY and nothing changes, so a redelivered scan
 *     never counts twice and a device suspended meanwhile gets nothing);
 *   - a reveal (`reveal` with an `event`) of a shipment erased meanwhile is
 *     refused whole: SMILE_ERR_SHREDDED, nothing changes;
 *   - when `event` is set: a tracking event, the shipment's status, and for
 *     custody events the holder;
 *   - when `reveal`: the device's reveal counter for this hour (quota);
 *   - when `suspend`: the device is suspended;
 *   - every audit entry.
 *
 * Several processes may commit scans of one device at once (gateway nodes
 * sharing the store): what only one of them may decide is decided again
 * here, inside the write transaction, so they are decided as if one after
 * the other. With `result` set:
 *   - a reveal with `over_quota` set first counts the device's reveals
 *     since time_ms - 24 h on the write connection; at `quota` or more,
 *     *over_quota (the same scan decided with the quota reached: 7.4 row
 *     13) is applied instead, and result->outcome says so;
 *   - a seq already taken is not an error: the device's row is read in the
 *     transaction, the answer the device is owed is put in *result and
 *     audited as the pipeline would have (docs/protocol.md 7.3), and
 *     SMILE_OK is returned with nothing else applied. */
enum smile_scan_outcome {
	SMILE_SCAN_APPLIED,    /* the scan as given */
	SMILE_SCAN_OVER_QUOTA, /* *over_quota instead; result->reveals counted */
	SMILE_SCAN_RETRANSMIT, /* these very bytes were committed first (another
				* node, a redelivery): the stored reply is in
				* result->reply (reply_len 0: withdrawn by an
				* erasure); a revealing one was audited
				* ("reveal", detail "resend") */
	SMILE_SCAN_REPLAY,     /* the seq was taken by other bytes: audited as a
				* "replay" refusal */
	SMILE_SCAN_STANDING,   /* the device is no longer active: result->standing,
				* audited as a refusal */
	SMILE_SCAN_MOVED,      /* the shipment's status or holder is no longer the
				* one the scan was decided on (expect_status,
				* expect_holder): another scan of it committed
				* first. Nothing stored or audited; the device's
				* retransmission is decided afresh. */
};
struct smile_store_scan_result {
	enum smile_scan_outcome outcome;
	uint64_t reveals;                    /* SMILE_SCAN_OVER_QUOTA */
	enum smile_device_status standing;   /* SMILE_SCAN_STANDING */
	uint8_t *reply;                      /* caller's buffer for RETRANSMIT */
	size_t reply_cap;
	size_t reply_len;
	int revealed;                        /* the stored reply revealed */
};
struct smile_store_scan {
	const char *device_id;
	uint64_t seq;
	const uint8_t *digest; /* 32 bytes */
	const uint8_t *reply;
	size_t reply_len;
	int64_t time_ms;
	/* NULL: no tracking event. Written by the store: its `id` is set once
	 * the commit succeeds, before smile_store_commit_scan returns or the
	 * async commit's done() is called. */
	struct smile_store_event *event;
	int custody;
	int reveal;
	int suspend;
	const struct smile_audit_entry *audit;
	size_t n_audit;
	/* Decided in the transaction (above); all optional. */
	long quota;
	const struct smile_store_scan *over_quota;
	struct smile_store_scan_result *result;
	/* With result: apply only if the event's shipment still has the status
	 * and holder the scan was decided on (7.4's facts), else
	 * SMILE_SCAN_MOVED. */
	int expect_shipment;
	enum smile_shipment_status expect_status;
	const char *expect_holder;
	/* The audit subject (a waybill) of what the transaction audits for a
	 * scan without an event (a resend); NULL: "-". */
	const char *subject;
};
enum smile_err smile_store_commit_scan(struct smile_store *s,
				       const struct smile_store_scan *scan) SMILE_MUST_CHECK;

/* The same, without waiting: `done(arg, rc)` is called from the store's
 * writer thread once the commit is durable (or failed). `scan` and all it
 * points to must stay valid until then. `done` must be quick and must not
 * call the store's write functions. Blocks only while MAX_ASYNC_INFLIGHT
 * commits are pending (back-pressure). Returns SMILE_OK (done will be
 * called), SMILE_ERR_NOMEM or SMILE_ERR_BUSY (closing; done is not called). */
typedef void (*smile_store_done_fn)(void *arg, enum smile_err rc);
enum smile_err smile_store_commit_scan_async(struct smile_store *s,
					     const struct smile_store_scan *scan,
					     smile_store_done_fn done, void *arg) SMILE_MUST_CHECK;

/* 1 while an erasure's old page images may remain in the WAL because a
 * reader blocked the scrubbing checkpoint (retried every second), else 0. */
int smile_store_wal_pending(struct smile_store *s);

/* Wait until every async commit submitted so far has called back. */
void smile_store_drain(struct smile_store *s);

/* Append audit entries alone (refusals of unauthenticated scans). */
enum smile_err smile_store_audit(struct smile_store *s, const struct smile_audit_entry *a,
				 size_t n, int64_t time_ms) SMILE_MUST_CHECK;

/* Check the whole chain. SMILE_OK with *n_entries and head (may be NULL) =
 * the last entry's hash, to be kept elsewhere as an anchor;
 * SMILE_ERR_AUDIT_BROKEN with *first_bad = the first entry that does not
 * verify (edited, deleted - the entry after the gap - or reordered). */
enum smile_err smile_store_audit_verify(struct smile_store *s, uint64_t *n_entries,
					uint64_t *first_bad, uint8_t head[32],
					struct smile_error *e) SMILE_MUST_CHECK;

/* ================================================================ print jobs
 * Jobs for print stations (docs/print-station.md). A job row holds the
 * signed message as published (the label record inside is sealed to the
 * station), so any node can publish it again and any node answers GET.
 */

#define SMILE_STORE_JOB_ID_MAX 48
#define SMILE_STORE_JOB_TEXT_MAX 201 /* SMILE_JOB_REASON_MAX + NUL */
#define SMILE_STORE_JOB_MESSAGE_MAX 8192

/* One job. `message` is owned (smile_store_print_job_release). state and
 * reason are enum smile_job_state and enum smile_job_reason
 * (smile/printjob.h). */
struct smile_store_print_job {
	char id[SMILE_STORE_JOB_ID_MAX];       /* "pj_" + 32 hex */
	char station[SMILE_STORE_ID_MAX];
	uint64_t seq;                          /* per station: 1, 2, ... */
	uint64_t shipment_id;
	char waybill[SMILE_STORE_WAYBILL_MAX + 1];
	char merchant[SMILE_STORE_ID_MAX];     /* the shipment's, for the access rule */
	int format, copies, reprint;
	int state, reason;
	char reason_text[SMILE_STORE_JOB_TEXT_MAX];
	char requested_by[SMILE_STORE_ID_MAX]; /* API key id */
	int64_t created_ms, updated_ms;
	uint8_t *message;
	size_t message_len;
};
void smile_store_print_job_release(struct smile_store_print_job *j);

/* Called by the writer, inside the transaction, once row->seq is set: fill
 * row->message (malloc'd, owned by the row afterwards) and message_len. A
 * non-zero return fails the whole request. */
typedef enum smile_err (*smile_store_job_build_fn)(void *arg, struct smile_store_print_job *row);

/* Insert n jobs in one durable transaction, all or none. For each row the
 * caller fills everything but seq, state (queued), message and the times;
 * the store gives each the station's next seq, calls build, and inserts it.
 * A row without `reprint` for a shipment that already has a job (at any
 * station, in any state) fails the lot with SMILE_ERR_CONFLICT and
 * *conflict = its index; a reprint appends the audit entry
 * ("print.reprint", waybill, requested_by, "station=S job=ID"). Returns
 * SMILE_OK, SMILE_ERR_CONFLICT, build's error, SMILE_ERR_STORE. */
enum smile_err smile_store_put_print_jobs(struct smile_store *s,
					  struct smile_store_print_job *rows, size_t n,
					  smile_store_job_build_fn build, void *arg,
					  size_t *conflict, int64_t now_ms) SMILE_MUST_CHECK;

/* A station's report: job `id` of `station` moves to `state` with the
 * reason, durably, only forward (a state never goes back; a repeated
 * "sent" or "printing" may update the reason while it waits; an
 * identical repeat is SMILE_ERR_CONFLICT). SMILE_OK (applied),
 * SMILE_ERR_CONFLICT (not forward: a retransmission or a late report,
 * nothing changed), SMILE_ERR_NOT_FOUND (no such job for this station),
 * SMILE_ERR_STORE. */
enum smile_err smile_store_print_job_report(struct smile_store *s, const char *id,
					    const char *station, int state, int reason,
					    const char *text, int64_t now_ms) SMILE_MUST_CHECK;

/* SMILE_ERR_NOT_FOUND, SMILE_ERR_STORE. On error *out holds nothing. */
enum smile_err smile_store_get_print_job(struct smile_store *s, const char *id,
					 struct smile_store_print_job *out) SMILE_MUST_CHECK;

/* Every job still in state `state`, ascending by (station, seq), at most
 * `limit`; the row is released after cb returns, non-zero stops. */
typedef int (*smile_store_print_job_cb)(void *ctx, const struct smile_store_print_job *j);
enum smile_err smile_store_list_print_jobs(struct smile_store *s, int state, size_t limit,
					   smile_store_print_job_cb cb, void *ctx)
	SMILE_MUST_CHECK;

/* ================================================================ vault key rotation
 * What `keys rotate-vault` needs (docs/vault.md, "Rotating the vault key").
 * It runs in its own process beside a serving gateway, so everything here is
 * safe against another process writing the same store, except audit entries:
 * each store handle keeps the audit chain head in memory, so only the process
 * that owns the store's writes (serve, or a command holding DIR/serve.lock)
 * may pass audit entries to smile_store_meta_set.
 */

#define SMILE_STORE_META_MAX 128 /* a meta value, with its NUL */

/* The meta row `key` into out[0..n) (NUL-terminated). Returns SMILE_OK,
 * SMILE_ERR_NOT_FOUND (no such row), SMILE_ERR_TOO_LARGE (does not fit in n),
 * SMILE_ERR_INVALID, SMILE_ERR_STORE. */
enum smile_err smile_store_meta_get(struct smile_store *s, const char *key, char *out, size_t n)
	SMILE_MUST_CHECK;

/* Set the meta row `key` to `value`, or delete it (value NULL), durably.
 * When `expect` is not NULL, only if the row holds exactly `expect` now
 * (compare-and-set): otherwise, also when the row is absent,
 * SMILE_ERR_CONFLICT and nothing changes. The n_audit entries `a` (NULL when
 * none) are appended in the same transaction (see above for who may).
 * Returns SMILE_OK, SMILE_ERR_CONFLICT, SMILE_ERR_INVALID (no key, or
 * "schema_version", which belongs to the migrations), SMILE_ERR_TOO_LARGE
 * (a value of SMILE_STORE_META_MAX bytes or more), SMILE_ERR_STORE. */
enum smile_err smile_store_meta_set(struct smile_store *s, const char *key, const char *expect,
				    const char *value, const struct smile_audit_entry *a,
				    size_t n_audit, int64_t time_ms) SMILE_MUST_CHECK;

/* One held personal row's wrapped data key, and what to replace it with. */
struct smile_store_wrapped {
	uint64_t shipment_id;
	uint8_t wrapped_key[SMILE_STORE_WRAPPED_MAX]; /* as stored */
	size_t wrapped_len;
	uint8_t new_key[SMILE_STORE_WRAPPED_MAX];     /* smile_store_rewrap: the replacement */
	size_t new_len;
	enum smile_err result;                        /* set by smile_store_rewrap */
};

/* Wrapped keys of the personal rows still held (erasure deletes the row)
 * with shipment id > after_id, ascending, at most max into rows; *n gets how
 * many (fewer than max: the end). Returns SMILE_OK, SMILE_ERR_INVALID,
 * SMILE_ERR_STORE. */
enum smile_err smile_store_list_wrapped(struct smile_store *s, uint64_t after_id,
					struct smile_store_wrapped *rows, size_t max, size_t *n)
	SMILE_MUST_CHECK;

/* Replace wrapped keys in one durable transaction, each by compare-and-set:
 * a row's key becomes new_key only if the row still holds exactly
 * wrapped_key, so a row erased (or rewrapped by someone else) meanwhile is
 * left as it is and an erasure is never undone. Per row, result is SMILE_OK
 * (replaced) or SMILE_ERR_CONFLICT (left alone). Returns SMILE_OK once
 * committed, SMILE_ERR_INVALID (a length of 0 or over the cap),
 * SMILE_ERR_STORE or SMILE_ERR_BUSY (closing; every result says so too). */
enum smile_err smile_store_rewrap(struct smile_store *s, struct smile_store_wrapped *rows,
				  size_t n) SMILE_MUST_CHECK;

/* Every personal row of the store file at `url` ("sqlite:PATH" or a path),
 * ascending by shipment id, opened read-only: never created, migrated,
 * checkpointed or written, so it can look at a backup copy (or at the live
 * store while a gateway serves it). A file with no -wal file beside it is
 * opened immutable, so not even -wal/-shm files appear next to a copy; a
 * writer starting meanwhile can then make the pass fail (SMILE_ERR_STORE),
 * never change what it reads. The blobs are borrowed for the call.
 * `cb` returns non-zero to stop. Returns SMILE_OK, SMILE_ERR_NOT_FOUND (no
 * such file), SMILE_ERR_UNSUPPORTED, SMILE_ERR_IO, SMILE_ERR_STORE (not a
 * store: e->message says what SQLite said). */
typedef int (*smile_store_personal_cb)(void *ctx, uint64_t shipment_id,
				       const uint8_t *wrapped_key, size_t wrapped_len,
				       const uint8_t *ct, size_t ct_len);
enum smile_err smile_store_each_personal(const char *url, smile_store_personal_cb cb, void *ctx,
					 struct smile_error *e) SMILE_MUST_CHECK;


/* ================================================================ webhooks
 * Merchants' webhook endpoints and the durable outbox of deliveries
 * (docs/webhooks.md). Every tracking event the store appends (issue,
 * scan, erasure) is fanned out, in the same transaction, into one outbox row
 * per active endpoint of the shipment's merchant whose filter names the
 * event: an event is never lost or doubled by a crash between the two. The
 * delivery worker (webhook_worker.c) claims due rows with a lease, so
 * several gateway nodes on one store share the work and a dead node's rows
 * are retried by another once its lease runs out.
 */

#define SMILE_STORE_URL_MAX 1024
#define SMILE_STORE_FILTER_MAX 256 /* "*" or "pickup,delivered,..." */
#define SMILE_STORE_SEALED_MAX 256 /* a sealed signing secret, hex */

enum smile_webhook_status {
	SMILE_WEBHOOK_ACTIVE = 0,
	SMILE_WEBHOOK_PAUSED = 1,
	SMILE_WEBHOOK_DISABLED = 2 /* the endpoint answered 410 Gone */
};
const char *smile_webhook_status_name(enum smile_webhook_status s);
/* Unknown text is SMILE_ERR_FIELD_VALUE with *out = SMILE_WEBHOOK_DISABLED
 * (fails closed: nothing is delivered to a row that does not parse). */
enum smile_err smile_webhook_status_parse(const char *s, enum smile_webhook_status *out)
	SMILE_MUST_CHECK;

struct smile_store_webhook {
	char id[SMILE_STORE_ID_MAX];            /* "wh_" + hex */
	char merchant[SMILE_STORE_ID_MAX];
	char url[SMILE_STORE_URL_MAX];
	char events[SMILE_STORE_FILTER_MAX];    /* "*" or comma-separated event names */
	char secret[SMILE_STORE_SEALED_MAX];    /* sealed signing secret (webhook.h), hex */
	enum smile_webhook_status status;
	int64_t created_ms;
	int64_t updated_ms;
};

enum smile_delivery_state {
	SMILE_DELIVERY_PENDING = 0,   /* to be (re)tried at next_ms */
	SMILE_DELIVERY_DELIVERED = 1, /* a 2xx answer */
	SMILE_DELIVERY_DEAD = 2       /* dead-lettered: retries ran out, or 410 */
};
const char *smile_delivery_state_name(enum smile_delivery_state s);

/* One outbox row: one event for one endpoint. */
struct smile_store_delivery {
	uint64_t id;
	char webhook_id[SMILE_STORE_ID_MAX];
	uint64_t event_id;                     /* the store's event id */
	char waybill[SMILE_STORE_WAYBILL_MAX];
	char event[SMILE_STORE_STATUS_MAX];
	enum smile_delivery_state state;
	int64_t created_ms;   /* enqueued (or redelivered): the retry window starts here */
	int64_t next_ms;      /* next attempt, while pending */
	int64_t lease_until_ms; /* claimed by a worker until then (0: not claimed) */
	uint32_t attempts;
	int64_t last_ms;      /* last attempt (0: none) */
	int last_status;      /* its HTTP status (0: no answer) */
	char last_error[SMILE_STORE_STATUS_MAX]; /* "", "timeout", "connect", "address_refused", "http_status", ... */
	int64_t done_ms;      /* delivered or dead-lettered at (0: pending) */
};
typedef int (*smile_store_delivery_cb)(void *ctx, const struct smile_store_delivery *d);
typedef int (*smile_store_webhook_cb)(void *ctx, const struct smile_store_webhook *w);

/* The outcome of one attempt. */
struct smile_store_attempt {
	uint64_t id;                      /* the outbox row */
	const char *webhook_id;
	enum smile_delivery_state state;  /* what the row becomes */
	int64_t time_ms;                  /* when the attempt ended */
	int64_t next_ms;                  /* state PENDING: the next attempt */
	int status;                       /* HTTP status, 0: none */
	const char *error;                /* "" or a code (above) */
	int disable;                      /* also disable the endpoint (410) */
};

/* Register an endpoint (its status as given). SMILE_ERR_EXISTS (id taken). */
enum smile_err smile_store_put_webhook(struct smile_store *s, const struct smile_store_webhook *w)
	SMILE_MUST_CHECK;
/* SMILE_ERR_NOT_FOUND. A status that does not parse reads as disabled. */
enum smile_err smile_store_get_webhook(struct smile_store *s, const char *id,
				       struct smile_store_webhook *out) SMILE_MUST_CHECK;
/* Endpoints of `merchant` (NULL: all), by id. `cb` returns non-zero to stop. */
enum smile_err smile_store_list_webhooks(struct smile_store *s, const char *merchant,
					 smile_store_webhook_cb cb, void *ctx) SMILE_MUST_CHECK;
/* Pause, resume or disable. SMILE_ERR_NOT_FOUND. */
enum smile_err smile_store_set_webhook_status(struct smile_store *s, const char *id,
					      enum smile_webhook_status st, int64_t now_ms)
	SMILE_MUST_CHECK;
/* Delete an endpoint and every outbox row of it. SMILE_ERR_NOT_FOUND. */
enum smile_err smile_store_delete_webhook(struct smile_store *s, const char *id) SMILE_MUST_CHECK;

/* Claim up to `max` due deliveries at `now_ms`: pending rows whose next_ms
 * has come and whose lease is not held, of active endpoints, at most one
 * per endpoint and none of an endpoint that has a row leased already (one
 * request in flight per endpoint, across every node), and never a row while
 * an older row of the same endpoint and waybill is still pending (order per
 * waybill). Each claimed row is leased until now_ms + lease_ms in the same
 * transaction. *n gets how many were written to rows. */
enum smile_err smile_store_outbox_claim(struct smile_store *s, int64_t now_ms, int64_t lease_ms,
					struct smile_store_delivery *rows, size_t max, size_t *n)
	SMILE_MUST_CHECK;
/* Record an attempt's outcome (and release the lease). SMILE_ERR_NOT_FOUND
 * when the row is gone (its endpoint was deleted meanwhile). */
enum smile_err smile_store_outbox_finish(struct smile_store *s, const struct smile_store_attempt *a)
	SMILE_MUST_CHECK;
/* Deliveries of endpoint `webhook_id` with id > after_id, ascending by id,
 * at most `limit`. `cb` returns non-zero to stop. */
enum smile_err smile_store_outbox_list(struct smile_store *s, const char *webhook_id,
				       uint64_t after_id, size_t limit, smile_store_delivery_cb cb,
				       void *ctx) SMILE_MUST_CHECK;
/* Deliver row `id` of `webhook_id` again: pending from now_ms, with a fresh
 * retry window (attempts are kept). SMILE_ERR_NOT_FOUND. */
enum smile_err smile_store_outbox_redeliver(struct smile_store *s, const char *webhook_id,
					    uint64_t id, int64_t now_ms) SMILE_MUST_CHECK;
/* Delete delivered and dead-lettered rows finished before `before_ms`
 * (pending rows stay, however old); *n gets how many. */
enum smile_err smile_store_outbox_prune(struct smile_store *s, int64_t before_ms, uint64_t *n)
	SMILE_MUST_CHECK;
/* The stored event `id`. SMILE_ERR_NOT_FOUND. */
enum smile_err smile_store_get_event(struct smile_store *s, uint64_t id,
				     struct smile_store_event *out) SMILE_MUST_CHECK;


/* ================================================================ console
 * The merchant web console (docs/console.md): its sessions, the paged list
 * of shipments, and the events a live stream polls for. Sessions live in
 * the store so any node answers any session.
 */

#define SMILE_STORE_CSRF_MAX 48 /* base64url of 32 bytes + NUL */

/* A console session. Only a hash of the cookie value is stored, never the
 * cookie or the API key: the key's id and the key's own stored hash, which
 * the gateway looks up again on every request (a revoked key ends its
 * sessions). */
struct smile_store_session {
	uint8_t hash[32];                       /* BLAKE2b-256 of the cookie value */
	char api_key_id[SMILE_STORE_ID_MAX];
	uint8_t key_hash[32];                   /* the API key's hash (api_keys.hash) */
	char csrf[SMILE_STORE_CSRF_MAX];        /* the session's CSRF token */
	int64_t created_ms;
	int64_t last_ms;                        /* last request (idle timeout) */
	int64_t expires_ms;                     /* absolute end */
};

/* Create a session. SMILE_ERR_EXISTS (hash taken). */
enum smile_err smile_store_put_session(struct smile_store *s, const struct smile_store_session *x)
	SMILE_MUST_CHECK;
/* The session with this hash. SMILE_ERR_NOT_FOUND. (Expiry is the caller's
 * rule: rows are returned as stored until purged.) */
enum smile_err smile_store_get_session(struct smile_store *s, const uint8_t hash[32],
				       struct smile_store_session *out) SMILE_MUST_CHECK;
/* Set last_ms (only ever forward). SMILE_ERR_NOT_FOUND. */
enum smile_err smile_store_touch_session(struct smile_store *s, const uint8_t hash[32],
					 int64_t now_ms) SMILE_MUST_CHECK;
/* Delete a session. SMILE_ERR_NOT_FOUND. */
enum smile_err smile_store_delete_session(struct smile_store *s, const uint8_t hash[32])
	SMILE_MUST_CHECK;
/* Delete sessions with expires_ms <= now_ms or last_ms < idle_before_ms;
 * *n gets how many. */
enum smile_err smile_store_purge_sessions(struct smile_store *s, int64_t now_ms,
					  int64_t idle_before_ms, uint64_t *n) SMILE_MUST_CHECK;

/* A page of shipments, newest first (descending id). */
struct smile_store_page_query {
	const char *const *merchants; /* NULL or n_merchants == 0: all (admin) */
	size_t n_merchants;           /* <= SMILE_STORE_MAX_BINDINGS */
	uint64_t before_id;           /* id < before_id; 0: from the newest */
	int status;                   /* enum smile_shipment_status, or -1: any */
	const char *q;                /* NULL: any; else waybill starts with q, or
				       * merchant_ref is exactly q */
	size_t limit;
};
enum smile_err smile_store_page_shipments(struct smile_store *s,
					  const struct smile_store_page_query *q,
					  smile_store_shipment_cb cb, void *ctx) SMILE_MUST_CHECK;

/* Events with id > after_id of shipments of `merchants` (NULL or n == 0:
 * all), ascending by id, at most `limit`. Event ids become visible in
 * increasing order (the writer assigns them under the store's write lock),
 * so a poller that remembers the last id it saw misses none. */
enum smile_err smile_store_events_after(struct smile_store *s, uint64_t after_id,
					const char *const *merchants, size_t n_merchants,
					size_t limit, smile_store_event_cb cb, void *ctx)
	SMILE_MUST_CHECK;
/* The highest event id stored (0: none). */
enum smile_err smile_store_event_head(struct smile_store *s, uint64_t *id) SMILE_MUST_CHECK;
/* ================================================================ tracking page
 * What the recipient tracking page needs (docs/tracking.md): the digits hash
 * stored at issue, attempt counters shared by every node on the store, and
 * the audit entries about one waybill.
 */

#define SMILE_STORE_TRACK_HASH_BYTES 32
#define SMILE_STORE_TRACK_KEY_MAX 96 /* a throttle key, with its NUL */

/* Shipment `id`'s digits hash into out; *has 0 (out zeroed) when it has
 * none: issued before schema 9, issued without one, or erased. Returns
 * SMILE_OK, SMILE_ERR_NOT_FOUND (no such shipment), SMILE_ERR_STORE. */
enum smile_err smile_store_track_hash(struct smile_store *s, uint64_t id,
				      uint8_t out[SMILE_STORE_TRACK_HASH_BYTES], int *has)
	SMILE_MUST_CHECK;

/* Count one attempt under each of the n keys (each shorter than
 * SMILE_STORE_TRACK_KEY_MAX), in one durable transaction: per key a fixed
 * window of window_ms that starts at the key's first attempt; counts[i]
 * gets the attempts in key i's current window, this one included. Every
 * node on the store counts in the same rows, so a limit on the counts holds
 * across nodes. Expired rows are deleted on the way. Returns SMILE_OK,
 * SMILE_ERR_INVALID (a key empty or too long, window_ms <= 0),
 * SMILE_ERR_STORE. */
enum smile_err smile_store_track_hit(struct smile_store *s, const char *const *keys, size_t n,
				     int64_t now_ms, int64_t window_ms, uint64_t *counts)
	SMILE_MUST_CHECK;

/* The audit entries whose subject is `subject` (a waybill), oldest first,
 * at most `limit`: cb(ctx, entry, time_ms) returns non-zero to stop. The
 * strings are borrowed for the call. SMILE_OK, SMILE_ERR_STORE. */
typedef int (*smile_store_audit_cb)(void *ctx, const struct smile_audit_entry *a,
				    int64_t time_ms);
enum smile_err smile_store_audit_subject(struct smile_store *s, const char *subject,
					 size_t limit, smile_store_audit_cb cb, void *ctx)
	SMILE_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
