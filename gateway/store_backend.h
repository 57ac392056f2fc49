/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_backend.h (gateway-internal) - the ops table a store backend fills.
 *
 * In the spirit of curl's lib/vtls/vtls_int.h (struct Curl_ssl): store.c is
 * the neutral core (job queue, group commit on one writer thread, async
 * callbacks, savepoints per job, the audit hash chain, every domain rule: the
 * "created" and "erased" events, "revoked is final", delivered_ms, the reply
 * withdrawal on erasure); a backend (store_sqlite.c, store_postgres.c) maps
 * each op below to one engine and exports exactly one
 * symbol, its `const struct store_backend`. store.c picks the backend by the
 * URL's scheme (its `backends[]` table). Only store.c and the backends
 * include this header; tests talk to store.h.
 *
 * Connections. The core opens one writer connection and N reader
 * connections per store handle (smile_store_open's `readers`).
 *   - Writer ops ("W" below) are called only from the store's writer thread,
 *     on the writer connection, between begin() and commit()/rollback(), and
 *     always inside at least one savepoint: the core undoes a failed job with
 *     rollback_to(), so a writer op need not clean up after a failure.
 *   - Reader ops ("R") are called on a reader connection, by one thread at a
 *     time per connection (the core's pool hands each connection to one
 *     caller), concurrently with the writer and the other readers. They must
 *     see committed data only, and never block the writer for long.
 *   - meta_get and get_device ("W/R") are called on either.
 * Another process (the CLI, another node) may write the same store at the
 * same time: begin() must take the write lock of the whole store (SQLite:
 * BEGIN IMMEDIATE; PostgreSQL: e.g. an advisory lock taken in the
 * transaction), because the core reads the audit head and leases ids inside
 * it and relies on nobody else appending until commit().
 *
 * Errors. Ops return enum smile_err: SMILE_OK, the codes each op lists, and
 * SMILE_ERR_STORE for anything the engine refused (SMILE_ERR_NOMEM when an
 * allocation failed). A uniqueness violation on insert is SMILE_ERR_EXISTS.
 * Engine messages may name tables and constraints, never row values.
 *
 * Strings passed in are NUL-terminated and never NULL unless said; they are
 * borrowed for the call. Row structs filled by reads follow store.h's
 * ownership rules (release functions there).
 *
 * Durability and erasure. commit() returns only once the transaction is
 * durable (fsync'd). Deleting a personal row or a stored reply must remove
 * its bytes from the store's files (SQLite: secure_delete zeroes freed
 * pages); copies in a log (SQLite's WAL) or in old row versions
 * (PostgreSQL's dead tuples and WAL) are removed by scrub().
 *
 * Round trips. A backend for a server may defer savepoint(), release() and
 * any writer op whose only outcomes are SMILE_OK and an engine failure
 * (store_postgres.c: insert_personal, insert_event, set_shipment_status on
 * a known row, add_reveal, audit_insert) into its next round trip; they then return
 * SMILE_OK at once. A deferred failure must then fail every later op of
 * the transaction, release(), rollback_to() and commit() included, so the
 * core rolls the whole transaction back and fails every job of the batch.
 * Ops with another outcome (EXISTS, NOT_FOUND, REPLAY, CONFLICT, a value
 * read) must answer for themselves.
 */
#ifndef SMILE_GATEWAY_STORE_BACKEND_H
#define SMILE_GATEWAY_STORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "smile/error.h"
#include "store.h"

/* One connection of a backend; defined by the backend. */
struct store_conn;

enum store_conn_kind {
	STORE_CONN_WRITER, /* creates (if asked), migrates, writes */
	STORE_CONN_READER  /* read-only, opened after the writer */
};

/* The list_shipments query (smile_store_list_shipments). */
struct store_shipment_query {
	int64_t since_ms;              /* created_ms >= since_ms */
	uint64_t after_id;             /* id > after_id */
	const char *const *merchants;  /* NULL or n_merchants == 0: all */
	size_t n_merchants;            /* <= SMILE_STORE_MAX_BINDINGS */
	size_t limit;
};

/* One audit row as stored. The core computes the hashes. */
struct store_audit_row {
	uint64_t seq;      /* 1, 2, ... */
	int64_t time_ms;
	const char *kind, *subject, *actor, *detail; /* never NULL when read */
	const uint8_t *prev_hash;
	size_t prev_len;   /* 32 unless the row was tampered with */
	const uint8_t *hash;
	size_t hash_len;
};
/* Non-zero stops the iteration. The row is borrowed for the call. */
typedef int (*store_audit_row_cb)(void *ctx, const struct store_audit_row *row);

/* What a scan's decision rests on, as the write transaction sees it
 * (scan_facts): its shipment, and its device's reveals. */
struct store_scan_facts {
	int found;                               /* the shipment row exists */
	int64_t erased_ms;                       /* 0 while held */
	char status[SMILE_STORE_STATUS_MAX];     /* text, as stored */
	char holder[SMILE_STORE_ID_MAX];
	uint64_t reveals;                        /* as count_reveals */
};

/* A device's replay state advancing after an accepted scan. */
struct store_device_advance {
	const char *device_id;
	uint64_t seq;                  /* applied only if > the stored last_seq */
	const uint8_t *digest;         /* 32 bytes */
	const uint8_t *reply;
	size_t reply_len;
	int64_t time_ms;               /* becomes updated_ms */
	uint64_t shipment_id;          /* becomes last_shipment_id (0: none) */
	int revealed;                  /* becomes last_revealed */
	enum smile_device_status require; /* applied only if the status is this */
};

struct store_backend {
	const char *name;   /* for logs: "sqlite" */
	const char *scheme; /* URL scheme: "sqlite" matches "sqlite:WHERE" */
	const char *alias;  /* another scheme for the same backend, or NULL
			     * ("postgres" beside "postgresql") */

	/* ---------------------------------------------------------- lifecycle */

	/* Open a connection to `where` (the URL after "scheme:", or a bare
	 * path). The writer is opened first: with `create` it creates the store
	 * if absent; it brings the schema up to date (SMILE_ERR_SCHEMA, message
	 * saying so, when the store is newer than this build) and restricts
	 * access to the owner. Readers never create or migrate. Errors:
	 * SMILE_ERR_SCHEMA, SMILE_ERR_IO, SMILE_ERR_NOMEM, SMILE_ERR_STORE; `e`
	 * says what the engine said. Any thread. */
	enum smile_err (*open)(const char *where, enum store_conn_kind kind, int create,
			       struct store_conn **out, struct smile_error *e);
	/* Close and free; NULL is a no-op. Closing the writer also does what
	 * scrub() does, without waiting for readers. Any thread, once no other
	 * op runs on `c`. */
	void (*close)(struct store_conn *c);
	/* Is the engine answering? SMILE_OK or SMILE_ERR_STORE. R. */
	enum smile_err (*ping)(struct store_conn *c);

	/* ---------------------------------------------------------- writer transaction (W) */

	/* Start the write transaction, holding the store's write lock. */
	enum smile_err (*begin)(struct store_conn *c);
	/* Make it durable; on failure log why (with the engine's code) and
	 * leave the transaction for rollback(). */
	enum smile_err (*commit)(struct store_conn *c);
	enum smile_err (*rollback)(struct store_conn *c);
	/* Nested savepoints by name ("job", "item"); the core checks every
	 * return: a failed savepoint() means the job does not run, a failed
	 * rollback_to() or release() rolls the whole transaction back. */
	enum smile_err (*savepoint)(struct store_conn *c, const char *name);
	enum smile_err (*rollback_to)(struct store_conn *c, const char *name);
	enum smile_err (*release)(struct store_conn *c, const char *name);

	/* ---------------------------------------------------------- writer row ops (W) */

	/* The Idempotency-Key entry, created at created_ms. SMILE_ERR_EXISTS
	 * when (api_key_id, key) is taken. */
	enum smile_err (*insert_idem)(struct store_conn *c, const struct smile_store_idem *idem,
				      int64_t created_ms);
	/* The shipment row as given (status by its name), with its tracking
	 * page's digits hash (32 bytes; NULL: none, stored as NULL).
	 * SMILE_ERR_EXISTS when the id or waybill is taken. */
	enum smile_err (*insert_shipment)(struct store_conn *c,
					  const struct smile_store_shipment *row,
					  const uint8_t *track_hash);
	/* Count one tracking-page attempt under `key` (W): a fixed window
	 * that starts at the first attempt and lasts window_ms; *n gets the
	 * attempts in the current window, this one included. Rows whose
	 * window has ended (since_ms + window_ms < now_ms) are deleted first. */
	enum smile_err (*track_hit)(struct store_conn *c, const char *key, int64_t now_ms,
				    int64_t window_ms, uint64_t *n);
	/* The sealed personal part of shipment `id`. SMILE_ERR_EXISTS. */
	enum smile_err (*insert_personal)(struct store_conn *c, uint64_t id,
					  const struct smile_store_personal *p);
	/* Append an event (its `id` is ignored; recorded_ms 0 is stored as
	 * time_ms); *id (when not NULL) gets the new event's id: unique,
	 * increasing, never reused once committed (ids of a transaction that
	 * rolled back may come again). */
	enum smile_err (*insert_event)(struct store_conn *c, const struct smile_store_event *ev,
				       uint64_t *id);
	/* Set shipment `id`'s status; delivered_ms too when non-zero; its
	 * holder too when `holder` is not NULL (one statement). `known`: the
	 * caller read the row in this transaction, so it exists and the
	 * backend may defer the statement; else SMILE_ERR_NOT_FOUND for no
	 * such shipment. */
	enum smile_err (*set_shipment_status)(struct store_conn *c, uint64_t id,
					      enum smile_shipment_status st, int64_t delivered_ms,
					      const char *holder, int known);
	/* Set erased_ms = now_ms and clear the tracking page's digits hash if
	 * the shipment is held (erased_ms 0) and copy its waybill into `waybill`. SMILE_ERR_NOT_FOUND (no such shipment),
	 * SMILE_ERR_SHREDDED (erased already: nothing changes). */
	enum smile_err (*mark_erased)(struct store_conn *c, uint64_t id, int64_t now_ms,
				      char waybill[SMILE_STORE_WAYBILL_MAX]);
	/* Delete shipment `id`'s personal row (absent: nothing happens); its
	 * bytes must leave the store's files (see Durability above). */
	enum smile_err (*delete_personal)(struct store_conn *c, uint64_t id);
	/* Withdraw every device's stored reply that revealed shipment `id`:
	 * last_reply NULL and last_revealed 0 where last_shipment_id = id and
	 * last_revealed = 1 (the bytes go, as for delete_personal). */
	enum smile_err (*forget_replies)(struct store_conn *c, uint64_t id);
	/* In one statement (one round trip: it runs under the store's write
	 * lock, per scan): shipment `id`'s erasure time, status and holder
	 * (out->found 0 and those zero when there is no such row), and the sum
	 * of add_reveal counts of `device_id` for hours >= since_hour
	 * (INT64_MAX: 0, nothing counted). */
	enum smile_err (*scan_facts)(struct store_conn *c, uint64_t id, const char *device_id,
				     int64_t since_hour, struct store_scan_facts *out);
	/* An API key, active (revoked_ms 0). SMILE_ERR_EXISTS (id or hash). */
	enum smile_err (*put_apikey)(struct store_conn *c, const struct smile_store_apikey *k);
	/* Set revoked_ms where the key is active. SMILE_ERR_NOT_FOUND for an
	 * unknown or already revoked key. */
	enum smile_err (*revoke_apikey)(struct store_conn *c, const char *id, int64_t now_ms);
	/* A device with status `st`, last_seq 0, no reply, updated_ms =
	 * created_ms. SMILE_ERR_EXISTS when the id is taken. */
	enum smile_err (*put_device)(struct store_conn *c, const struct smile_store_device *d,
				     enum smile_device_status st);
	/* Device `id`'s status, parsed with smile_device_status_parse (unknown
	 * text: SMILE_DEV_REVOKED, logged). SMILE_ERR_NOT_FOUND. */
	enum smile_err (*device_status)(struct store_conn *c, const char *id,
					enum smile_device_status *st);
	/* Set device `id`'s status and updated_ms (no row: nothing happens). */
	enum smile_err (*set_device_status)(struct store_conn *c, const char *id,
					    enum smile_device_status st, int64_t now_ms);
	/* Store last_seq, last_digest, last_reply, updated_ms,
	 * last_shipment_id, last_revealed - in one conditional update, only if
	 * the stored last_seq < a->seq and the status is a->require.
	 * SMILE_ERR_REPLAY when no row matched (also: no such device). */
	enum smile_err (*device_advance)(struct store_conn *c,
					 const struct store_device_advance *a);
	/* Count one reveal by `device_id` in hour `hour` (time_ms / 3600000). */
	enum smile_err (*add_reveal)(struct store_conn *c, const char *device_id, int64_t hour);
	/* The audit row with the highest seq: *seq and hash (32 bytes), or
	 * *seq 0 and a zero hash when there is none. */
	enum smile_err (*audit_head)(struct store_conn *c, uint64_t *seq, uint8_t hash[32]);
	/* Append an audit row as given. SMILE_ERR_EXISTS when the seq is taken. */
	enum smile_err (*audit_insert)(struct store_conn *c, const struct store_audit_row *row);
	/* Reserve `count` fresh shipment ids for this handle: *start is past
	 * every id stored and every id reserved before, by any process, and the
	 * reservation is part of the transaction. */
	enum smile_err (*lease_ids)(struct store_conn *c, uint64_t count, uint64_t *start);
	/* The meta row `key` into out[0..n), NUL-terminated. SMILE_ERR_NOT_FOUND,
	 * SMILE_ERR_TOO_LARGE (does not fit). W/R. */
	enum smile_err (*meta_get)(struct store_conn *c, const char *key, char *out, size_t n);
	/* Set the meta row `key` to `value`, or delete it when value is NULL. */
	enum smile_err (*meta_put)(struct store_conn *c, const char *key, const char *value);
	/* Compare-and-set: row->shipment_id's wrapped key becomes row->new_key
	 * only if it is exactly row->wrapped_key now. SMILE_OK (replaced),
	 * SMILE_ERR_CONFLICT (left alone: erased or changed meanwhile). */
	enum smile_err (*rewrap)(struct store_conn *c, const struct smile_store_wrapped *row);

	/* Print jobs (W). Whether shipment `id` has any print job row. */
	enum smile_err (*print_job_exists)(struct store_conn *c, uint64_t shipment_id, int *exists);
	/* 1 + the highest seq of `station`'s jobs (1 when none). */
	enum smile_err (*print_job_next_seq)(struct store_conn *c, const char *station,
					     uint64_t *seq);
	/* The row as given (message included). SMILE_ERR_EXISTS (id, or
	 * (station, seq) taken). */
	enum smile_err (*insert_print_job)(struct store_conn *c,
					   const struct smile_store_print_job *j);
	/* One conditional update: state, reason, reason_text, updated_ms of
	 * job `id` of `station`, only when state > the stored state, or both
	 * are 1 or both 2 with another reason or text (sent, printing: why it
	 * waits).
	 * SMILE_OK (applied),
	 * SMILE_ERR_CONFLICT (the job exists, not forward),
	 * SMILE_ERR_NOT_FOUND (no such job for this station). */
	enum smile_err (*print_job_report)(struct store_conn *c, const char *id,
					   const char *station, int state, int reason,
					   const char *text, int64_t now_ms);

	/* ---------------------------------------------------------- reader ops (R) */

	/* A print job (message owned by *out). SMILE_ERR_NOT_FOUND. */
	enum smile_err (*get_print_job)(struct store_conn *c, const char *id,
					struct smile_store_print_job *out);
	/* Jobs in `state`, ascending by (station, seq), at most limit. */
	enum smile_err (*list_print_jobs)(struct store_conn *c, int state, size_t limit,
					  smile_store_print_job_cb cb, void *ctx);

	/* By waybill when `waybill` is not NULL, else by id. SMILE_ERR_NOT_FOUND;
	 * a row whose status text does not parse is SMILE_ERR_STORE (corrupt,
	 * logged). On error *out holds nothing to release. */
	enum smile_err (*get_shipment)(struct store_conn *c, const char *waybill, uint64_t id,
				       struct smile_store_shipment *out);
	/* Rows matching q, ascending by id, at most q->limit; each is released
	 * by the backend after cb returns; cb returns non-zero to stop. */
	enum smile_err (*list_shipments)(struct store_conn *c, const struct store_shipment_query *q,
					 smile_store_shipment_cb cb, void *ctx);
	/* As smile_store_get_personal: SMILE_ERR_NOT_FOUND, SMILE_ERR_SHREDDED. */
	enum smile_err (*get_personal)(struct store_conn *c, uint64_t id,
				       struct smile_store_personal *out);
	/* As smile_store_retention_due. */
	enum smile_err (*retention_due)(struct store_conn *c, int64_t delivered_before_ms,
					int64_t created_before_ms, uint64_t *ids, size_t max,
					size_t *n);
	/* Events of a shipment ascending by id (recorded_ms 0 read as time_ms). */
	enum smile_err (*list_events)(struct store_conn *c, uint64_t shipment_id,
				      smile_store_event_cb cb, void *ctx);
	enum smile_err (*get_idem)(struct store_conn *c, const char *api_key_id, const char *key,
				   struct smile_store_idem *out);
	/* An active key by hash. SMILE_ERR_NOT_FOUND (also revoked). */
	enum smile_err (*find_apikey)(struct store_conn *c, const uint8_t hash[32],
				      struct smile_store_apikey *out);
	/* Device rows; status parsed as for device_status. On error *out holds
	 * nothing to release. get_device is "W/R": run_scan also calls it on
	 * the writer, for a scan whose seq was taken (the device's row as the
	 * transaction sees it). */
	enum smile_err (*get_device)(struct store_conn *c, const char *id,
				     struct smile_store_device *out);
	enum smile_err (*list_devices)(struct store_conn *c, smile_store_device_cb cb, void *ctx);
	/* Sum of add_reveal counts of `device_id` for hours >= since_hour. */
	enum smile_err (*count_reveals)(struct store_conn *c, const char *device_id,
					int64_t since_hour, uint64_t *n);
	/* Every audit row ascending by seq, as stored (the core verifies). */
	enum smile_err (*audit_each)(struct store_conn *c, store_audit_row_cb cb, void *ctx);
	/* The tracking page's digits hash of shipment `id` into out (32 bytes),
	 * *has 1; *has 0 when the column is NULL (issued before schema 9, or
	 * erased). SMILE_ERR_NOT_FOUND for no such shipment. */
	enum smile_err (*get_track_hash)(struct store_conn *c, uint64_t id, uint8_t out[32],
					 int *has);
	/* Audit rows whose subject is `subject`, ascending by seq, at most
	 * `limit` (the newest are dropped); prev_hash/hash may be left NULL. */
	enum smile_err (*audit_subject)(struct store_conn *c, const char *subject, size_t limit,
					store_audit_row_cb cb, void *ctx);
	/* As smile_store_list_wrapped (max >= 1). */
	enum smile_err (*list_wrapped)(struct store_conn *c, uint64_t after_id,
				       struct smile_store_wrapped *rows, size_t max, size_t *n);

	/* ---------------------------------------------------------- maintenance */

	/* After a committed erasure: remove old copies of deleted bytes from
	 * the engine's files and logs (SQLite: a TRUNCATE checkpoint of the
	 * WAL; PostgreSQL: VACUUM FULL of the tables holding them, CHECKPOINT,
	 * pg_switch_wal, CHECKPOINT) without waiting for readers. SMILE_OK when
	 * none remain, SMILE_ERR_BUSY when a reader (an old snapshot) blocked
	 * it, or when the backend rate-limits an expensive pass and it is not
	 * due yet (erasures in between are batched into the next pass). The
	 * core retries every second (idle or between batches) and reports it
	 * with smile_store_wal_pending. Called after every commit with an
	 * erasure and on retries: SMILE_OK at once when nothing is owed. W,
	 * outside a transaction. NULL when the engine keeps no such copies. */
	enum smile_err (*scrub)(struct store_conn *c);
	/* 1 when the store records a scrub owed that this process has not
	 * run yet (an erasure committed by another process, or by this one
	 * before a crash or an ambiguous commit): the core then calls scrub.
	 * Polled every few seconds by the writer thread, outside a transaction.
	 * NULL when a scrub owed cannot outlive the process that owes it. */
	int (*scrub_owed)(struct store_conn *c);
	/* As smile_store_each_personal, for `where`: read-only, never creating,
	 * migrating or writing. Any thread, no handle needed. */
	enum smile_err (*each_personal)(const char *where, smile_store_personal_cb cb, void *ctx,
					struct smile_error *e);

	/* ---------------------------------------------------------- webhooks */

	/* W: an endpoint row as given. SMILE_ERR_EXISTS. */
	enum smile_err (*wh_put)(struct store_conn *c, const struct smile_store_webhook *w);
	/* W: status and updated_ms. SMILE_ERR_NOT_FOUND. */
	enum smile_err (*wh_set_status)(struct store_conn *c, const char *id,
					enum smile_webhook_status st, int64_t now_ms);
	/* W: the endpoint and its outbox rows. SMILE_ERR_NOT_FOUND. */
	enum smile_err (*wh_delete)(struct store_conn *c, const char *id);
	/* W: fan stored event `event_id` (of shipment `shipment_id`, named
	 * `event`) out to one pending outbox row (created_ms = next_ms = now_ms)
	 * per active endpoint of the shipment's merchant whose filter is "*" or
	 * names `event`. Only succeeds or fails in the engine: may be deferred. */
	enum smile_err (*outbox_add)(struct store_conn *c, uint64_t event_id, uint64_t shipment_id,
				     const char *waybill, const char *event, int64_t now_ms);
	/* W: due rows as smile_store_outbox_claim selects them (at most one per
	 * endpoint, oldest first within it), without leasing them. */
	enum smile_err (*outbox_due)(struct store_conn *c, int64_t now_ms,
				     struct smile_store_delivery *rows, size_t max, size_t *n);
	/* W: lease_until of row `id`. */
	enum smile_err (*outbox_lease)(struct store_conn *c, uint64_t id, int64_t until_ms);
	/* W: record an attempt (attempts + 1, lease released; done_ms set for
	 * DELIVERED and DEAD). SMILE_ERR_NOT_FOUND. */
	enum smile_err (*outbox_finish)(struct store_conn *c, const struct smile_store_attempt *a);
	/* W: pending again from now_ms (created_ms too), lease and done_ms
	 * cleared. SMILE_ERR_NOT_FOUND (no such row of that endpoint). */
	enum smile_err (*outbox_redeliver)(struct store_conn *c, const char *webhook_id,
					   uint64_t id, int64_t now_ms);
	/* W: delete rows not pending with 0 < done_ms < before_ms; *n how many. */
	enum smile_err (*outbox_prune)(struct store_conn *c, int64_t before_ms, uint64_t *n);
	/* R: SMILE_ERR_NOT_FOUND; status parsed with smile_webhook_status_parse. */
	enum smile_err (*wh_get)(struct store_conn *c, const char *id,
				 struct smile_store_webhook *out);
	/* R: endpoints of `merchant` (NULL: all), ascending by id. */
	enum smile_err (*wh_list)(struct store_conn *c, const char *merchant,
				  smile_store_webhook_cb cb, void *ctx);
	/* R: as smile_store_outbox_list. */
	enum smile_err (*outbox_list)(struct store_conn *c, const char *webhook_id,
				      uint64_t after_id, size_t limit, smile_store_delivery_cb cb,
				      void *ctx);
	/* R: one event by id (recorded_ms 0 read as time_ms). SMILE_ERR_NOT_FOUND. */
	enum smile_err (*get_event)(struct store_conn *c, uint64_t id,
				    struct smile_store_event *out);
	/* ---------------------------------------------------------- console */

	/* W: a session row as given. SMILE_ERR_EXISTS. */
	enum smile_err (*sess_put)(struct store_conn *c, const struct smile_store_session *x);
	/* W: last_ms = max(last_ms, now_ms). SMILE_ERR_NOT_FOUND. */
	enum smile_err (*sess_touch)(struct store_conn *c, const uint8_t hash[32], int64_t now_ms);
	/* W: SMILE_ERR_NOT_FOUND. */
	enum smile_err (*sess_delete)(struct store_conn *c, const uint8_t hash[32]);
	/* W: as smile_store_purge_sessions. */
	enum smile_err (*sess_purge)(struct store_conn *c, int64_t now_ms, int64_t idle_before_ms,
				     uint64_t *n);
	/* R: SMILE_ERR_NOT_FOUND. */
	enum smile_err (*sess_get)(struct store_conn *c, const uint8_t hash[32],
				   struct smile_store_session *out);
	/* R: as smile_store_page_shipments (rows released after cb). */
	enum smile_err (*page_shipments)(struct store_conn *c,
					 const struct smile_store_page_query *q,
					 smile_store_shipment_cb cb, void *ctx);
	/* R: as smile_store_events_after. */
	enum smile_err (*events_after)(struct store_conn *c, uint64_t after_id,
				       const char *const *merchants, size_t n_merchants,
				       size_t limit, smile_store_event_cb cb, void *ctx);
	/* R: as smile_store_event_head. */
	enum smile_err (*event_head)(struct store_conn *c, uint64_t *id);
};

/* The backends of this build (each defined in its own store_NAME.c). */
extern const struct store_backend store_sqlite_backend;
extern const struct store_backend store_postgres_backend;

#endif
