/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_postgres.c - the PostgreSQL backend of the store (store_backend.h).
 *
 * Maps the ops of struct store_backend to PostgreSQL through libpq; the
 * rules, the job queue and the audit chain live in store.c. Exports one
 * symbol, store_postgres_backend, for URLs "postgresql://..." (and
 * "postgres://..."), handed to libpq as they are (minus the one parameter
 * of ours, scrub_interval).
 *
 * Connections. Each store_conn is one libpq connection; every statement is
 * prepared once per connection (PQprepare, named "sN") and run with binary
 * results. Readers run in autocommit, READ COMMITTED: each statement sees
 * committed data only and never blocks the writer (MVCC). The writer's
 * begin() is BEGIN plus pg_advisory_xact_lock(STORE_LOCK_KEY): the write
 * lock of the whole store, so gateway processes and CLI commands on one
 * database serialise their write transactions (the core reads the audit
 * head and leases ids inside it). commit() returns once the WAL is flushed
 * (durable), but the lock is not held through the flush: the transaction
 * commits asynchronously (SET LOCAL synchronous_commit = off), which
 * releases the lock as soon as the commit record is written, then waits
 * for the flush with a one-statement transaction of its own that writes
 * one WAL record (a transactional logical message, "smile.flush") and
 * commits synchronously: its flush covers every record before it, ours
 * included. So several writers (nodes) overlap their flushes instead of
 * queueing one whole fsync each behind the lock, and PostgreSQL's own
 * group commit merges them. A reader may see a write up to one flush
 * before it is durable; nothing is acknowledged before (docs/operations.md,
 * "Durability"). The writer's round
 * trips are the limit of group commit: savepoint commands and every
 * statement whose result the core does not read are deferred and sent in
 * one pipeline with the next statement that answers (see "Round trips"),
 * and event ids come from a counter read at begin(), so issuing a
 * shipment costs one round trip and a scan two (scan_facts, device_advance).
 *
 * Schema. Migrations (index i: version i -> i + 1) run in one transaction
 * under the same advisory lock, version in meta 'schema_version'; a store
 * newer than this build is SMILE_ERR_SCHEMA. The writer with create = 1
 * creates the database when absent, connecting to the maintenance database
 * "postgres" with the same credentials (the conformance suite's per-test
 * databases, "-PID-N", rely on it).
 *
 * Erasure. A DELETE or UPDATE leaves the old tuple in the heap (a dead
 * tuple) and in the WAL until vacuum and checkpoint. scrub() makes the
 * crypto-shredding promise hold (docs/vault.md, "PostgreSQL"): once no
 * snapshot older than the erasure remains, VACUUM FULL rewrites the tables
 * holding sealed personal data and stored replies into new files (the old
 * ones are truncated), then CHECKPOINT, pg_switch_wal(), CHECKPOINT retire
 * every WAL segment written before; with wal_recycle = off they are
 * unlinked, not renamed and kept. VACUUM FULL locks the tables and costs
 * in proportion to them, so it runs at most once per scrub_interval
 * seconds (URL parameter, default 60): erasures in between are batched,
 * and scrub() answers SMILE_ERR_BUSY until due (the core retries).
 *
 * Messages. Engine errors are logged with the SQLSTATE, the table and the
 * constraint, and the primary message only outside SQLSTATE class 22 (data
 * exceptions quote values); never DETAIL (it quotes keys). The URL is only
 * ever shown with its password masked.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "smile/log.h"
#include "store.h"
#include "store_backend.h"

/* pg_advisory_xact_lock key of the store's write lock ("SMILE-ST"). */
#define STORE_LOCK_KEY "6004399624617477204"
#define DEFAULT_SCRUB_INTERVAL_S 60
#define SCRUB_LOCK_TIMEOUT "'500ms'"
#define MAX_PARAMS 16
#define URL_MAX 1024
#define MAX_PENDING 64

enum stmt_id {
	ST_INSERT_SHIPMENT,
	ST_INSERT_PERSONAL,
	ST_INSERT_IDEM,
	ST_GET_IDEM,
	ST_GET_SHIPMENT,
	ST_GET_SHIPMENT_ID,
	ST_GET_PERSONAL,
	ST_ERASE_PERSONAL,
	ST_MARK_ERASED,
	ST_INSERT_EVENT,
	ST_UPDATE_STATUS,
	ST_UPDATE_STATUS_HOLDER,
	ST_LIST_EVENTS,
	ST_RETENTION,
	ST_PUT_APIKEY,
	ST_FIND_APIKEY,
	ST_REVOKE_APIKEY,
	ST_PUT_DEVICE,
	ST_GET_DEVICE,
	ST_LIST_DEVICES,
	ST_DEVICE_STATUS,
	ST_DEVICE_SCAN,
	ST_INSERT_REVEAL,
	ST_COUNT_REVEALS,
	ST_AUDIT_INSERT,
	ST_AUDIT_HEAD,
	ST_AUDIT_ALL,
	ST_FORGET_REPLIES,
	ST_SHIPMENT_ERASED,
	ST_SCAN_FACTS,
	ST_LEASE,
	ST_META_GET,
	ST_META_PUT,
	ST_META_DELETE,
	ST_LIST_WRAPPED,
	ST_REWRAP,
	ST_GET_DEVICE_STATUS,
	ST_SCRUB_OWE,
	ST_SCRUB_OWED,
	ST_SCRUB_PAID,
	ST_OLD_SNAPSHOTS,
	ST_WH_PUT,
	ST_WH_STATUS,
	ST_WH_DELETE_OUTBOX,
	ST_WH_DELETE,
	ST_WH_GET,
	ST_WH_LIST,
	ST_WH_LIST_ALL,
	ST_OUTBOX_ADD,
	ST_OUTBOX_DUE,
	ST_OUTBOX_LEASE,
	ST_OUTBOX_FINISH,
	ST_OUTBOX_REDELIVER,
	ST_OUTBOX_LIST,
	ST_TRACK_HASH,
	ST_TRACK_PRUNE,
	ST_TRACK_HIT,
	ST_AUDIT_SUBJECT,
	ST_GET_EVENT,
	ST_OUTBOX_PRUNE,
	/* print jobs */
	ST_PJ_EXISTS,
	ST_PJ_NEXT_SEQ,
	ST_PJ_INSERT,
	ST_PJ_REPORT,
	ST_PJ_FIND,
	ST_PJ_GET,
	ST_PJ_LIST,
	/* console */
	ST_SESS_PUT,
	ST_SESS_GET,
	ST_SESS_TOUCH,
	ST_SESS_DELETE,
	ST_SESS_PURGE,
	ST_PAGE,
	ST_EVENTS_AFTER,
	ST_EVENT_HEAD,
	ST_COUNT
};

#define PJ_COLS                                                                          \
	"id, station, seq, shipment_id, waybill, merchant, format, copies, reprint, state, " \
	"reason, reason_text, requested_by, created_ms, updated_ms, message"

#define SHIPMENT_COLS \
	"id, waybill, merchant, merchant_ref, status, token, region, created_ms, " \
	"delivered_ms, erased_ms, holder, public_json, device_view"
#define DEVICE_COLS \
	"id, sign_pk, box_pk, role, zone, status, last_seq, last_digest, last_reply, " \
	"created_ms, updated_ms, last_shipment_id, last_revealed"

#define WEBHOOK_COLS "id, merchant, url, events, secret, status, created_ms, updated_ms"
#define OUTBOX_COLS \
	"id, webhook_id, event_id, waybill, event, state, created_ms, next_ms, lease_until, " \
	"attempts, last_ms, last_status, last_error, done_ms"
#define OUTBOX_COLS_O \
	"o.id, o.webhook_id, o.event_id, o.waybill, o.event, o.state, o.created_ms, o.next_ms, " \
	"o.lease_until, o.attempts, o.last_ms, o.last_status, o.last_error, o.done_ms"

/* Integer parameters travel as text and every integer column is bigint;
 * casts pin a parameter's type where the context would not. */
static const char *const stmt_sql[ST_COUNT] = {
	[ST_INSERT_SHIPMENT] = "INSERT INTO shipments (" SHIPMENT_COLS ", track_hash) "
			       "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)",
	[ST_INSERT_PERSONAL] = "INSERT INTO personal (shipment_id, wrapped_key, ciphertext) "
			       "VALUES ($1,$2,$3)",
	[ST_INSERT_IDEM] = "INSERT INTO idempotency (api_key_id, key, request_hash, status, "
			   "response, created_ms) VALUES ($1,$2,$3,$4,$5,$6)",
	[ST_GET_IDEM] = "SELECT request_hash, status, response FROM idempotency "
			"WHERE api_key_id = $1 AND key = $2",
	[ST_GET_SHIPMENT] = "SELECT " SHIPMENT_COLS " FROM shipments WHERE waybill = $1",
	[ST_GET_SHIPMENT_ID] = "SELECT " SHIPMENT_COLS " FROM shipments WHERE id = $1",
	[ST_GET_PERSONAL] = "SELECT s.erased_ms, p.wrapped_key, p.ciphertext FROM shipments s "
			    "LEFT JOIN personal p ON p.shipment_id = s.id WHERE s.id = $1",
	/* the transaction id tells scrub() which snapshots may still see it */
	[ST_ERASE_PERSONAL] = "DELETE FROM personal WHERE shipment_id = $1 "
			      "RETURNING pg_current_xact_id()::text",
	[ST_MARK_ERASED] = "UPDATE shipments SET erased_ms = $1, track_hash = NULL "
			   "WHERE id = $2 AND erased_ms = 0 RETURNING waybill",
	/* the id is decided by the writer (next_event_id), not the sequence */
	[ST_INSERT_EVENT] = "INSERT INTO events (id, shipment_id, waybill, event, time_ms, "
			    "device_id, device_role, detail, recorded_ms) "
			    "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
	[ST_UPDATE_STATUS] = "UPDATE shipments SET status = $1, delivered_ms = "
			     "CASE WHEN $2::bigint <> 0 THEN $2::bigint ELSE delivered_ms END "
			     "WHERE id = $3",
	[ST_UPDATE_STATUS_HOLDER] = "UPDATE shipments SET status = $1, delivered_ms = "
				    "CASE WHEN $2::bigint <> 0 THEN $2::bigint ELSE delivered_ms END, "
				    "holder = $4 WHERE id = $3",
	[ST_LIST_EVENTS] = "SELECT id, shipment_id, waybill, event, time_ms, device_id, "
			   "device_role, detail, recorded_ms FROM events WHERE shipment_id = $1 "
			   "ORDER BY id",
	[ST_RETENTION] = "SELECT id FROM shipments WHERE erased_ms = 0 AND "
			 "(($1::bigint > 0 AND delivered_ms > 0 AND delivered_ms < $1::bigint) OR "
			 "($2::bigint > 0 AND created_ms < $2::bigint)) ORDER BY id LIMIT $3",
	[ST_PUT_APIKEY] = "INSERT INTO api_keys (id, hash, role, merchant, bindings, "
			  "created_ms, revoked_ms) VALUES ($1,$2,$3,$4,$5,$6,0)",
	[ST_FIND_APIKEY] = "SELECT id, role, merchant, bindings, created_ms, revoked_ms "
			   "FROM api_keys WHERE hash = $1 AND revoked_ms = 0",
	[ST_REVOKE_APIKEY] = "UPDATE api_keys SET revoked_ms = $1 WHERE id = $2 AND revoked_ms = 0",
	[ST_PUT_DEVICE] = "INSERT INTO devices (" DEVICE_COLS ") "
			  "VALUES ($1,$2,$3,$4,$5,$6,0,NULL,NULL,$7,$7,0,0)",
	[ST_GET_DEVICE] = "SELECT " DEVICE_COLS " FROM devices WHERE id = $1",
	[ST_LIST_DEVICES] = "SELECT " DEVICE_COLS " FROM devices ORDER BY id",
	[ST_DEVICE_STATUS] = "UPDATE devices SET status = $1, updated_ms = $2 WHERE id = $3",
	[ST_DEVICE_SCAN] = "UPDATE devices SET last_seq = $1, last_digest = $2, last_reply = $3, "
			   "updated_ms = $4, last_shipment_id = $5, last_revealed = $6 "
			   "WHERE id = $7 AND last_seq < $1 AND status = $8",
	[ST_INSERT_REVEAL] = "INSERT INTO reveal_counts (device_id, hour, n) VALUES ($1, $2, 1) "
			     "ON CONFLICT (device_id, hour) DO UPDATE SET n = reveal_counts.n + 1",
	[ST_COUNT_REVEALS] = "SELECT COALESCE(SUM(n), 0)::bigint FROM reveal_counts "
			     "WHERE device_id = $1 AND hour >= $2",
	[ST_AUDIT_INSERT] = "INSERT INTO audit (seq, time_ms, kind, subject, actor, detail, "
			    "prev_hash, hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
	[ST_AUDIT_HEAD] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
	[ST_AUDIT_ALL] = "SELECT seq, time_ms, kind, subject, actor, detail, prev_hash, hash "
			 "FROM audit ORDER BY seq",
	[ST_FORGET_REPLIES] = "UPDATE devices SET last_reply = NULL, last_revealed = 0 "
			      "WHERE last_shipment_id = $1 AND last_revealed = 1 "
			      "RETURNING pg_current_xact_id()::text",
	[ST_SHIPMENT_ERASED] = "SELECT erased_ms, waybill FROM shipments WHERE id = $1",
	[ST_SCAN_FACTS] = "SELECT s.erased_ms, s.status, s.holder, (SELECT COALESCE(SUM(n), 0)::bigint "
			  "FROM reveal_counts WHERE device_id = $2 AND hour >= $3) "
			  "FROM (SELECT 1) AS one LEFT JOIN shipments s ON s.id = $1",
	/* one round trip: the block starts past every id stored and every id
	 * leased before, and the meta row moves past it */
	[ST_LEASE] = "INSERT INTO meta (key, value) SELECT 'next_id', "
		     "(GREATEST((SELECT COALESCE(MAX(id), 0) + 1 FROM shipments), "
		     "(SELECT COALESCE(MAX(value::bigint), 1) FROM meta WHERE key = 'next_id')) "
		     "+ $1::bigint)::text "
		     "ON CONFLICT (key) DO UPDATE SET value = excluded.value "
		     "RETURNING value::bigint - $1::bigint",
	[ST_META_GET] = "SELECT value FROM meta WHERE key = $1",
	[ST_META_PUT] = "INSERT INTO meta (key, value) VALUES ($1, $2) "
			"ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	[ST_META_DELETE] = "DELETE FROM meta WHERE key = $1",
	[ST_LIST_WRAPPED] = "SELECT shipment_id, wrapped_key FROM personal "
			    "WHERE shipment_id > $1 ORDER BY shipment_id LIMIT $2",
	[ST_REWRAP] = "UPDATE personal SET wrapped_key = $1 WHERE shipment_id = $2 "
		      "AND wrapped_key = $3",
	[ST_GET_DEVICE_STATUS] = "SELECT status FROM devices WHERE id = $1",
	/* sessions whose snapshot predates transaction $1 (they may still
	 * see what it deleted, so VACUUM FULL would copy it) */
	/* the scrub an erasure owes, recorded in its own transaction so that
	 * it outlives the process (any node pays it: pg_scrub_owed) */
	[ST_SCRUB_OWE] = "INSERT INTO meta (key, value) VALUES ('scrub_owed', "
			 "pg_current_xact_id()::text) ON CONFLICT (key) DO UPDATE SET "
			 "value = EXCLUDED.value",
	[ST_SCRUB_OWED] = "SELECT value FROM meta WHERE key = 'scrub_owed'",
	[ST_SCRUB_PAID] = "DELETE FROM meta WHERE key = 'scrub_owed' AND value::xid8 <= $1::xid8",
	[ST_OLD_SNAPSHOTS] = "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
			     "AND backend_xmin IS NOT NULL "
			     "AND age(backend_xmin) >= age(xid($1::xid8))",
	[ST_WH_PUT] = "INSERT INTO webhooks (" WEBHOOK_COLS ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
	[ST_WH_STATUS] = "UPDATE webhooks SET status = $1, updated_ms = $2 WHERE id = $3",
	[ST_WH_DELETE_OUTBOX] = "DELETE FROM webhook_outbox WHERE webhook_id = $1",
	[ST_WH_DELETE] = "DELETE FROM webhooks WHERE id = $1",
	[ST_WH_GET] = "SELECT " WEBHOOK_COLS " FROM webhooks WHERE id = $1",
	[ST_WH_LIST] = "SELECT " WEBHOOK_COLS " FROM webhooks WHERE merchant = $1 ORDER BY id",
	[ST_WH_LIST_ALL] = "SELECT " WEBHOOK_COLS " FROM webhooks ORDER BY id",
	/* one row per active endpoint of the shipment's merchant that wants it */
	[ST_OUTBOX_ADD] = "INSERT INTO webhook_outbox (webhook_id, event_id, waybill, event, state, "
			  "created_ms, next_ms, lease_until, attempts, last_ms, last_status, "
			  "last_error, done_ms) "
			  "SELECT w.id, $1::bigint, $2::text, $3::text, 'pending', $4::bigint, "
			  "$4::bigint, 0, 0, 0, 0, '', 0 "
			  "FROM webhooks w WHERE w.status = 'active' AND w.merchant = "
			  "(SELECT merchant FROM shipments WHERE id = $5::bigint) AND (w.events = '*' "
			  "OR strpos(',' || w.events || ',', ',' || $3::text || ',') > 0)",
	/* per active endpoint with nothing in flight (no unexpired lease), its
	 * oldest due row that has no older pending row of its waybill: a walk
	 * of that endpoint's pending rows in id order (webhook_outbox_queue)
	 * that stops at the first */
	[ST_OUTBOX_DUE] = "SELECT " OUTBOX_COLS_O " FROM webhooks w JOIN webhook_outbox o ON o.id = "
			  "(SELECT o2.id FROM webhook_outbox o2 WHERE o2.webhook_id = w.id "
			  "AND o2.state = 'pending' AND o2.next_ms <= $1::bigint AND o2.lease_until <= $1::bigint "
			  "AND NOT EXISTS (SELECT 1 FROM webhook_outbox p WHERE p.webhook_id = "
			  "o2.webhook_id AND p.waybill = o2.waybill AND p.state = 'pending' AND p.id < o2.id) "
			  "ORDER BY o2.id LIMIT 1) "
			  "WHERE w.status = 'active' AND NOT EXISTS (SELECT 1 FROM webhook_outbox q "
			  "WHERE q.webhook_id = w.id AND q.state = 'pending' AND q.lease_until > 0 "
			  "AND q.lease_until > $1::bigint) ORDER BY o.next_ms, o.id LIMIT $2::bigint",
	[ST_OUTBOX_LEASE] = "UPDATE webhook_outbox SET lease_until = $1 WHERE id = $2",
	[ST_OUTBOX_FINISH] = "UPDATE webhook_outbox SET state = $1::text, attempts = attempts + 1, "
			     "last_ms = $2::bigint, next_ms = $3::bigint, last_status = $4::bigint, "
			     "last_error = $5::text, lease_until = 0, "
			     "done_ms = CASE WHEN $1::text = 'pending' THEN 0 ELSE $2::bigint END "
			     "WHERE id = $6::bigint",
	[ST_OUTBOX_REDELIVER] = "UPDATE webhook_outbox SET state = 'pending', created_ms = $1::bigint, "
				"next_ms = $1::bigint, lease_until = 0, done_ms = 0 "
				"WHERE id = $2::bigint AND webhook_id = $3::text",
	[ST_OUTBOX_LIST] = "SELECT " OUTBOX_COLS " FROM webhook_outbox WHERE webhook_id = $1 "
			   "AND id > $2 ORDER BY id LIMIT $3",
	[ST_GET_EVENT] = "SELECT id, shipment_id, waybill, event, time_ms, device_id, "
			 "device_role, detail, recorded_ms FROM events WHERE id = $1",
	[ST_OUTBOX_PRUNE] = "DELETE FROM webhook_outbox WHERE state <> 'pending' AND done_ms > 0 "
			    "AND done_ms < $1",
	/* print jobs */
	[ST_PJ_EXISTS] = "SELECT 1 FROM print_jobs WHERE shipment_id = $1 LIMIT 1",
	[ST_PJ_NEXT_SEQ] = "SELECT COALESCE(MAX(seq), 0)::bigint + 1 FROM print_jobs "
			   "WHERE station = $1",
	[ST_PJ_INSERT] = "INSERT INTO print_jobs (" PJ_COLS ") "
			 "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)",
	/* only forward; a repeated "sent" (1) or "printing" (2) updates why it
	 * waits, when that changed (an identical resend changes nothing) */
	[ST_PJ_REPORT] = "UPDATE print_jobs SET state = $1::bigint, reason = $2, "
			 "reason_text = $3, updated_ms = $4 WHERE id = $5 AND station = $6 AND "
			 "(state < $1::bigint OR (state = $1::bigint AND $1::bigint IN (1, 2) AND "
			 "(reason <> $2 OR reason_text <> $3)))",
	[ST_PJ_FIND] = "SELECT 1 FROM print_jobs WHERE id = $1 AND station = $2",
	[ST_PJ_GET] = "SELECT " PJ_COLS " FROM print_jobs WHERE id = $1",
	[ST_PJ_LIST] = "SELECT " PJ_COLS " FROM print_jobs WHERE state = $1 "
		       "ORDER BY station, seq LIMIT $2",
	[ST_TRACK_HASH] = "SELECT track_hash FROM shipments WHERE id = $1",
	/* each row ends with its own window (an hour, a month) */
	[ST_TRACK_PRUNE] = "DELETE FROM track_throttle WHERE since_ms + window_ms < $1",
	/* a window that has run out starts again at this attempt */
	[ST_TRACK_HIT] = "INSERT INTO track_throttle AS t (key, since_ms, n, window_ms) "
			 "VALUES ($1, $2::bigint, 1, $3::bigint) ON CONFLICT (key) DO UPDATE SET "
			 "window_ms = $3::bigint, "
			 "n = CASE WHEN t.since_ms + $3::bigint > $2::bigint THEN t.n + 1 ELSE 1 END, "
			 "since_ms = CASE WHEN t.since_ms + $3::bigint > $2::bigint THEN t.since_ms "
			 "ELSE $2::bigint END RETURNING n",
	[ST_AUDIT_SUBJECT] = "SELECT seq, time_ms, kind, subject, actor, detail FROM audit "
			     "WHERE subject = $1 ORDER BY seq LIMIT $2",
	/* console */
	[ST_SESS_PUT] = "INSERT INTO console_sessions (hash, api_key_id, key_hash, csrf, "
			"created_ms, last_ms, expires_ms) VALUES ($1,$2,$3,$4,$5,$6,$7)",
	[ST_SESS_GET] = "SELECT api_key_id, key_hash, csrf, created_ms, last_ms, expires_ms "
			"FROM console_sessions WHERE hash = $1",
	[ST_SESS_TOUCH] = "UPDATE console_sessions SET last_ms = GREATEST(last_ms, $1::bigint) "
			  "WHERE hash = $2",
	[ST_SESS_DELETE] = "DELETE FROM console_sessions WHERE hash = $1",
	[ST_SESS_PURGE] = "DELETE FROM console_sessions WHERE expires_ms <= $1 OR last_ms < $2",
	/* the filters are NULL when absent: one fixed statement, prepared
	 * once; merchants travel as one text[] */
	[ST_PAGE] = "SELECT " SHIPMENT_COLS " FROM shipments WHERE id < $1::bigint "
		    "AND ($2::text[] IS NULL OR merchant = ANY($2::text[])) "
		    "AND ($3::text IS NULL OR status = $3::text) "
		    "AND ($4::text IS NULL OR substr(waybill, 1, length($4::text)) = $4::text "
		    "OR merchant_ref = $4::text) ORDER BY id DESC LIMIT $5",
	[ST_EVENTS_AFTER] = "SELECT e.id, e.shipment_id, e.waybill, e.event, e.time_ms, "
			    "e.device_id, e.device_role, e.detail, e.recorded_ms FROM events e "
			    "JOIN shipments s ON s.id = e.shipment_id WHERE e.id > $1::bigint "
			    "AND ($2::text[] IS NULL OR s.merchant = ANY($2::text[])) "
			    "ORDER BY e.id LIMIT $3",
	[ST_EVENT_HEAD] = "SELECT COALESCE(MAX(id), 0)::bigint FROM events",
};

/* Schema migrations, each bringing the schema to version `to` (the
 * store's SMILE_STORE_SCHEMA_VERSION numbering, shared with SQLite). A
 * PostgreSQL store starts at version 5 in one step; later versions append
 * a row. */
static const struct migration {
	int to;
	const char *sql;
} migrations[] = {
	{5, "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE shipments ("
	"  id BIGINT PRIMARY KEY, waybill TEXT NOT NULL UNIQUE, merchant TEXT NOT NULL,"
	"  merchant_ref TEXT NOT NULL, status TEXT NOT NULL, token TEXT NOT NULL,"
	"  region TEXT NOT NULL, created_ms BIGINT NOT NULL, delivered_ms BIGINT NOT NULL,"
	"  erased_ms BIGINT NOT NULL, public_json TEXT NOT NULL,"
	"  holder TEXT NOT NULL DEFAULT '', device_view TEXT NOT NULL DEFAULT '')"
	/* every scan updates its shipment and its device: room in each page
	 * for the new row version keeps those updates HOT (no index writes) */
	"  WITH (fillfactor = 70);"
	"CREATE INDEX shipments_created ON shipments (created_ms, id);"
	"CREATE INDEX shipments_merchant ON shipments (merchant, id);"
	"CREATE TABLE personal (shipment_id BIGINT PRIMARY KEY REFERENCES shipments(id),"
	"  wrapped_key BYTEA NOT NULL, ciphertext BYTEA NOT NULL);"
	"CREATE TABLE idempotency (api_key_id TEXT NOT NULL, key TEXT NOT NULL,"
	"  request_hash BYTEA NOT NULL, status BIGINT NOT NULL, response TEXT NOT NULL,"
	"  created_ms BIGINT NOT NULL, PRIMARY KEY (api_key_id, key));"
	"CREATE TABLE events (id BIGSERIAL PRIMARY KEY, shipment_id BIGINT NOT NULL,"
	"  waybill TEXT NOT NULL, event TEXT NOT NULL, time_ms BIGINT NOT NULL,"
	"  device_id TEXT NOT NULL, device_role TEXT NOT NULL, detail TEXT NOT NULL,"
	"  recorded_ms BIGINT NOT NULL DEFAULT 0);"
	"CREATE INDEX events_shipment ON events (shipment_id, id);"
	"CREATE TABLE api_keys (id TEXT PRIMARY KEY, hash BYTEA NOT NULL UNIQUE,"
	"  role TEXT NOT NULL, merchant TEXT NOT NULL, bindings TEXT NOT NULL,"
	"  created_ms BIGINT NOT NULL, revoked_ms BIGINT NOT NULL);"
	"CREATE TABLE devices (id TEXT PRIMARY KEY, sign_pk BYTEA NOT NULL,"
	"  box_pk BYTEA NOT NULL, role TEXT NOT NULL, zone TEXT NOT NULL, status TEXT NOT NULL,"
	"  last_seq BIGINT NOT NULL, last_digest BYTEA, last_reply BYTEA,"
	"  created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL,"
	"  last_shipment_id BIGINT NOT NULL DEFAULT 0, last_revealed BIGINT NOT NULL DEFAULT 0)"
	"  WITH (fillfactor = 50);"
	"CREATE INDEX devices_last_shipment ON devices (last_shipment_id) "
	"  WHERE last_revealed = 1;"
	"CREATE TABLE reveal_counts (device_id TEXT NOT NULL, hour BIGINT NOT NULL,"
	"  n BIGINT NOT NULL, PRIMARY KEY (device_id, hour));"
	"CREATE TABLE audit (seq BIGINT PRIMARY KEY, time_ms BIGINT NOT NULL,"
	"  kind TEXT NOT NULL, subject TEXT NOT NULL, actor TEXT NOT NULL, detail TEXT NOT NULL,"
	"  prev_hash BYTEA NOT NULL, hash BYTEA NOT NULL);"
	/* sealed blobs are small and random: never compressed, kept inline */
	"ALTER TABLE personal ALTER COLUMN wrapped_key SET STORAGE EXTERNAL;"},
	/* webhooks: merchants' endpoints and the durable outbox, filled in the
	 * transaction that appends each event (docs/webhooks.md) */
	{6, "CREATE TABLE webhooks (id TEXT PRIMARY KEY, merchant TEXT NOT NULL, url TEXT NOT NULL,"
	"  events TEXT NOT NULL, secret TEXT NOT NULL, status TEXT NOT NULL,"
	"  created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL);"
	"CREATE INDEX webhooks_merchant ON webhooks (merchant, id);"
	"CREATE TABLE webhook_outbox (id BIGSERIAL PRIMARY KEY,"
	"  webhook_id TEXT NOT NULL, event_id BIGINT NOT NULL, waybill TEXT NOT NULL,"
	"  event TEXT NOT NULL, state TEXT NOT NULL, created_ms BIGINT NOT NULL,"
	"  next_ms BIGINT NOT NULL, lease_until BIGINT NOT NULL, attempts BIGINT NOT NULL,"
	"  last_ms BIGINT NOT NULL, last_status BIGINT NOT NULL, last_error TEXT NOT NULL,"
	"  done_ms BIGINT NOT NULL);"
	"CREATE INDEX webhook_outbox_due ON webhook_outbox (state, next_ms);"
	"CREATE INDEX webhook_outbox_order ON webhook_outbox (webhook_id, waybill, id);"
	"CREATE INDEX webhook_outbox_queue ON webhook_outbox (webhook_id, state, id);"
	"CREATE INDEX webhook_outbox_leased ON webhook_outbox (webhook_id, lease_until) "
	"  WHERE state = 'pending' AND lease_until > 0;"},
	/* print_jobs: jobs for print stations (store_sqlite.c migration 7) */
	{7, "CREATE TABLE print_jobs (id TEXT PRIMARY KEY, station TEXT NOT NULL,"
	"  seq BIGINT NOT NULL, shipment_id BIGINT NOT NULL, waybill TEXT NOT NULL,"
	"  merchant TEXT NOT NULL, format BIGINT NOT NULL, copies BIGINT NOT NULL,"
	"  reprint BIGINT NOT NULL, state BIGINT NOT NULL, reason BIGINT NOT NULL,"
	"  reason_text TEXT NOT NULL, requested_by TEXT NOT NULL, created_ms BIGINT NOT NULL,"
	"  updated_ms BIGINT NOT NULL, message BYTEA NOT NULL, UNIQUE (station, seq));"
	"CREATE INDEX print_jobs_shipment ON print_jobs (shipment_id);"
	"CREATE INDEX print_jobs_state ON print_jobs (state, station, seq);"},
	/* console sessions (store_sqlite.c migration 8) */
	{8, "CREATE TABLE console_sessions (hash BYTEA PRIMARY KEY, api_key_id TEXT NOT NULL,"
	"  key_hash BYTEA NOT NULL, csrf TEXT NOT NULL, created_ms BIGINT NOT NULL,"
	"  last_ms BIGINT NOT NULL, expires_ms BIGINT NOT NULL);"
	"CREATE INDEX console_sessions_expiry ON console_sessions (expires_ms);"},
	/* the tracking page (store_sqlite.c migration 9) */
	{9, "ALTER TABLE shipments ADD COLUMN track_hash BYTEA;"
	"ALTER TABLE shipments ALTER COLUMN track_hash SET STATISTICS 0;"
	"CREATE TABLE track_throttle (key TEXT PRIMARY KEY, since_ms BIGINT NOT NULL,"
	"  n BIGINT NOT NULL, window_ms BIGINT NOT NULL);"
	"CREATE INDEX track_throttle_end ON track_throttle ((since_ms + window_ms));"
	"CREATE INDEX audit_subject ON audit (subject, seq);"},
};
#define N_MIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))
#define PG_SCHEMA_VERSION (migrations[N_MIGRATIONS - 1].to)
_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == 5 &&
		       SMILE_STORE_SCHEMA_VERSION == 9,
	       "a new schema version needs a PostgreSQL migration too");

/* The tables holding bytes erasure must remove: sealed personal data and
 * stored device replies. */
static const char *const scrub_tables[] = {"personal", "devices"};

/* A deferred command (sql) or prepared statement (id, its parameters
 * copied into buf). */
struct pending {
	int is_stmt;
	int id;
	char sql[48];
	int n;
	char *buf;
	size_t off[16];
	int len[16];
	int fmt[16];
	int isnull[16];
};

struct store_conn {
	PGconn *db;
	int writer;
	unsigned char prepared[ST_COUNT];
	/* writer only: commands and statements deferred to the next round
	 * trip (see "Round trips" below), and whether one of them failed */
	struct pending pending[MAX_PENDING];
	int n_pending;
	int poisoned;
	uint64_t next_event_id; /* writer, in a transaction: the next event's id */
	/* writer only: erasures waiting for scrub() */
	int scrub_needed;
	unsigned long long erase_xid; /* the newest erasure's transaction id */
	int scrub_interval_s;
	int64_t last_scrub_mono_ms; /* 0: never */
};

/* ------------------------------------------------------------ helpers */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Copy `url` into out with any password masked: the userinfo's ":secret"
 * and a "password=" parameter become "redacted". */
static void url_masked(const char *url, char *out, size_t n)
{
	const char *p = strstr(url, "://");
	const char *at, *colon, *slash;
	size_t used = 0;

	snprintf(out, n, "%s", url);
	if (p == NULL)
		return;
	p += 3;
	slash = strpbrk(p, "/?");
	at = strchr(p, '@');
	if (at && (slash == NULL || at < slash)) {
		colon = memchr(p, ':', (size_t)(at - p));
		if (colon) {
			used = (size_t)(colon - url) + 1;
			if (used < n)
				snprintf(out + used, n - used, "redacted%s", at);
		}
	}
	/* every query parameter whose name ends in "password" (password,
	 * sslpassword, ...), however many there are */
	char *q = strchr(out, '?');
	while (q != NULL) {
		char *name = q + 1, *eq = strchr(name, '='), *end = strchr(name, '&');
		if (eq && (end == NULL || eq < end) && (size_t)(eq - name) >= 8 &&
		    strncasecmp(eq - 8, "password", 8) == 0) {
			char tail[URL_MAX];
			snprintf(tail, sizeof(tail), "%s", end ? end : "");
			snprintf(eq + 1, n - (size_t)(eq + 1 - out), "redacted%s", tail);
			end = strchr(eq + 1, '&');
		}
		q = end;
	}
}

/* Log an engine error without row values: the SQLSTATE, the table and the
 * constraint (log values are identifiers only: smile/log.h). */
static const char *ident_or_dash(const char *s)
{
	return s && *s ? s : "-";
}

static void log_pg_error(const char *what, const PGresult *res, PGconn *db)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *table = res ? PQresultErrorField(res, PG_DIAG_TABLE_NAME) : NULL;
	const char *cons = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;

	smile_log(SMILE_LOG_ERROR, "store.pg_error", SMILE_KV_ID("op", what),
		  SMILE_KV_ID("sqlstate", ident_or_dash(state)),
		  SMILE_KV_ID("table", ident_or_dash(table)),
		  SMILE_KV_ID("constraint", ident_or_dash(cons)),
		  SMILE_KV_ID("connection", PQstatus(db) == CONNECTION_OK ? "ok" : "lost"));
}

/* The same, for an error struct (open, migrate, each_personal), which may
 * hold the engine's primary message too (never DETAIL, which quotes keys;
 * nor a data exception's message, class 22, which quotes the value). */
static enum smile_err pg_err(struct smile_error *e, enum smile_err code, const char *what,
			     const PGresult *res, PGconn *db)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char buf[256];

	if (msg == NULL) {
		snprintf(buf, sizeof(buf), "%s", db ? PQerrorMessage(db) : "cannot connect");
		buf[strcspn(buf, "\n")] = '\0';
		msg = buf;
	}
	if (state && strncmp(state, "22", 2) == 0)
		msg = "data exception";
	return smile_error_set(e, code, NULL, "%s: %s%s%s%s", what, msg, state ? " (SQLSTATE " : "",
			       state ? state : "", state ? ")" : "");
}

struct params {
	int n;
	const char *v[MAX_PARAMS];
	int len[MAX_PARAMS];
	int fmt[MAX_PARAMS];
	char num[MAX_PARAMS][24];
};

static void p_text(struct params *p, const char *s)
{
	p->v[p->n] = s ? s : "";
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

static void p_i64(struct params *p, int64_t v)
{
	snprintf(p->num[p->n], sizeof(p->num[p->n]), "%lld", (long long)v);
	p_text(p, p->num[p->n]);
}

static void p_null(struct params *p)
{
	p->v[p->n] = NULL;
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

static void p_blob(struct params *p, const void *b, size_t n)
{
	p->v[p->n] = b ? (const char *)b : "";
	p->len[p->n] = (int)n;
	p->fmt[p->n] = 1;
	p->n++;
}

static PGresult *exec(PGconn *db, const char *sql);
static int revive(struct store_conn *c);

/* Prepare statement `id` on c once; its name into name[16]. */
static int prepare(struct store_conn *c, enum stmt_id id, char name[16])
{
	snprintf(name, 16, "s%d", (int)id);
	if (!c->prepared[id]) {
		PGresult *r = PQprepare(c->db, name, stmt_sql[id], 0, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			log_pg_error("prepare", r, c->db);
			PQclear(r);
			return -1;
		}
		PQclear(r);
		c->prepared[id] = 1;
	}
	return 0;
}

/* ------------------------------------------------------------ round trips */

/* The writer is the throughput limit of group commit, and every statement
 * is a round trip. Commands and statements whose only possible outcome is
 * success or an engine failure (savepoints, release, and the inserts and
 * updates the core never reads a result of: insert_personal, insert_event
 * without an id wanted, set_shipment_status on a known row, add_reveal,
 * audit_insert) are deferred and sent, in order, ahead of the next statement whose result is needed,
 * in one round trip (libpq pipeline mode), or ahead of COMMIT or ROLLBACK
 * TO. Issuing a shipment then costs one round trip instead of seven.
 *
 * A deferred item that fails poisons the connection: every later op fails
 * (SMILE_ERR_STORE), including release() and rollback_to(), so the core
 * rolls the whole transaction back and fails every job of the batch;
 * nothing commits that the core thought had run. A business outcome
 * (EXISTS, NOT_FOUND, REPLAY, CONFLICT) always belongs to a statement run
 * at once, so it is reported to the job that caused it. */

static void pending_clear(struct store_conn *c)
{
	for (int i = 0; i < c->n_pending; i++) {
		free(c->pending[i].buf);
		c->pending[i].buf = NULL;
	}
	c->n_pending = 0;
}

static void pending_params(const struct pending *q, const char **v)
{
	for (int i = 0; i < q->n; i++)
		v[i] = q->isnull[i] ? NULL : q->buf + q->off[i];
}

/* Send the deferred items, then the final command (final_sql) or prepared
 * statement (final_name, p) if any, then a sync; read every result. The
 * final result is returned (NULL when there is none, or when a deferred
 * item failed: then c->poisoned is set, and the failure logged). */
static PGresult *pipeline(struct store_conn *c, const char *final_sql, const char *final_name,
			  const struct params *p)
{
	PGresult *r, *out = NULL;
	int n = c->n_pending, ok = 1, has_final = final_sql || final_name;

	if (!PQenterPipelineMode(c->db)) {
		pending_clear(c);
		c->poisoned = 1;
		return NULL;
	}
	for (int i = 0; i < n && ok; i++) {
		struct pending *q = &c->pending[i];
		if (q->is_stmt) {
			char name[16];
			const char *v[16];
			snprintf(name, sizeof(name), "s%d", q->id);
			pending_params(q, v);
			ok = PQsendQueryPrepared(c->db, name, q->n, v, q->len, q->fmt, 1);
		} else {
			ok = PQsendQueryParams(c->db, q->sql, 0, NULL, NULL, NULL, NULL, 0);
		}
	}
	if (ok && final_name)
		ok = PQsendQueryPrepared(c->db, final_name, p ? p->n : 0, p ? p->v : NULL,
					 p ? p->len : NULL, p ? p->fmt : NULL, 1);
	else if (ok && final_sql)
		ok = PQsendQueryParams(c->db, final_sql, 0, NULL, NULL, NULL, NULL, 0);
	if (ok)
		ok = PQpipelineSync(c->db);
	pending_clear(c);
	if (!ok) {
		log_pg_error("pipeline_send", NULL, c->db);
		c->poisoned = 1;
		PQexitPipelineMode(c->db);
		return NULL;
	}
	for (int i = 0; i < n + has_final; i++) {
		while ((r = PQgetResult(c->db)) != NULL) {
			ExecStatusType st = PQresultStatus(r);
			if (i == n) {
				if (out == NULL)
					out = r;
				else
					PQclear(r);
				continue;
			}
			if (st == PGRES_FATAL_ERROR || st == PGRES_PIPELINE_ABORTED) {
				if (st == PGRES_FATAL_ERROR)
					log_pg_error("deferred", r, c->db);
				c->poisoned = 1;
			}
			PQclear(r);
		}
	}
	/* up to the sync */
	while ((r = PQgetResult(c->db)) != NULL) {
		int sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
		PQclear(r);
		if (sync)
			break;
	}
	PQexitPipelineMode(c->db);
	if (c->poisoned) {
		PQclear(out);
		return NULL;
	}
	return out;
}

/* Send every deferred item now. */
static enum smile_err flush(struct store_conn *c)
{
	if (c->n_pending)
		(void)pipeline(c, NULL, NULL, NULL);
	return c->poisoned ? SMILE_ERR_STORE : SMILE_OK;
}

static enum smile_err defer_sql(struct store_conn *c, const char *verb, const char *name)
{
	if (c->poisoned)
		return SMILE_ERR_STORE;
	if (c->n_pending == MAX_PENDING && flush(c))
		return SMILE_ERR_STORE;
	struct pending *q = &c->pending[c->n_pending];
	int n = snprintf(q->sql, sizeof(q->sql), "%s %s", verb, name);
	if (n < 0 || (size_t)n >= sizeof(q->sql))
		return SMILE_ERR_INVALID;
	q->is_stmt = 0;
	q->buf = NULL;
	c->n_pending++;
	return SMILE_OK;
}

/* Defer statement `id` with a copy of its parameters (they are borrowed
 * for the op's call only). */
static enum smile_err defer_stmt(struct store_conn *c, enum stmt_id id, const struct params *p)
{
	char name[16];
	size_t total = 0;

	if (c->poisoned)
		return SMILE_ERR_STORE;
	if (prepare(c, id, name))
		return SMILE_ERR_STORE;
	if (c->n_pending == MAX_PENDING && flush(c))
		return SMILE_ERR_STORE;
	struct pending *q = &c->pending[c->n_pending];
	memset(q, 0, sizeof(*q));
	q->is_stmt = 1;
	q->id = (int)id;
	q->n = p->n;
	for (int i = 0; i < p->n; i++) {
		size_t len = p->v[i] == NULL ? 0 : p->fmt[i] ? (size_t)p->len[i] : strlen(p->v[i]) + 1;
		q->off[i] = total;
		total += len;
	}
	q->buf = malloc(total ? total : 1);
	if (q->buf == NULL)
		return SMILE_ERR_NOMEM;
	for (int i = 0; i < p->n; i++) {
		q->fmt[i] = p->fmt[i];
		q->len[i] = p->len[i];
		q->isnull[i] = p->v[i] == NULL;
		if (p->v[i] != NULL)
			memcpy(q->buf + q->off[i], p->v[i],
			       p->fmt[i] ? (size_t)p->len[i] : strlen(p->v[i]) + 1);
	}
	c->n_pending++;
	return SMILE_OK;
}

/* Run statement `id` with params p (prepared once per connection), binary
 * results, after any deferred items. NULL (logged) when it could not run;
 * otherwise the caller checks the status with res_rc() and clears the
 * result. */
static PGresult *run(struct store_conn *c, enum stmt_id id, const struct params *p)
{
	char name[16];

	if ((!c->writer && revive(c)) || c->poisoned || prepare(c, id, name))
		return NULL;
	if (c->n_pending)
		return pipeline(c, NULL, name, p);
	return PQexecPrepared(c->db, name, p ? p->n : 0, p ? p->v : NULL, p ? p->len : NULL,
			      p ? p->fmt : NULL, 1);
}

/* The result's outcome: SMILE_OK, SMILE_ERR_EXISTS (unique violation,
 * SQLSTATE 23505), SMILE_ERR_STORE (logged). */
static enum smile_err res_rc(const PGresult *r, PGconn *db)
{
	ExecStatusType st = PQresultStatus(r);
	const char *state;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return SMILE_OK;
	state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	if (state && strcmp(state, "23505") == 0)
		return SMILE_ERR_EXISTS;
	log_pg_error("statement", r, db);
	return SMILE_ERR_STORE;
}

/* Run a statement that returns no rows we need; *changed (if not NULL)
 * gets the number of rows it touched. */
static enum smile_err run_cmd(struct store_conn *c, enum stmt_id id, const struct params *p,
			      int *changed)
{
	PGresult *r = run(c, id, p);
	enum smile_err rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	if (rc == SMILE_OK && changed)
		*changed = PQresultStatus(r) == PGRES_TUPLES_OK
				   ? PQntuples(r)
				   : (int)strtol(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return rc;
}

/* ------------------------------------------------------------ binary columns */

static int64_t col_i64(const PGresult *r, int row, int col)
{
	const unsigned char *v = (const unsigned char *)PQgetvalue(r, row, col);
	int len = PQgetlength(r, row, col);
	uint64_t x = 0;

	if (PQgetisnull(r, row, col))
		return 0;
	for (int i = 0; i < len && i < 8; i++)
		x = (x << 8) | v[i];
	if (len == 4)
		return (int32_t)(uint32_t)x;
	if (len == 2)
		return (int16_t)(uint16_t)x;
	return (int64_t)x;
}

static void col_text(const PGresult *r, int row, int col, char *out, size_t n)
{
	size_t len = (size_t)PQgetlength(r, row, col);
	if (len >= n)
		len = n - 1;
	memcpy(out, PQgetvalue(r, row, col), len);
	out[len] = '\0';
}

/* NUL-terminated by libpq, text or binary. */
static const char *col_str(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
}

static const void *col_blob(const PGresult *r, int row, int col, size_t *n)
{
	if (PQgetisnull(r, row, col)) {
		*n = 0;
		return NULL;
	}
	*n = (size_t)PQgetlength(r, row, col);
	return PQgetvalue(r, row, col);
}

/* ------------------------------------------------------------ lifecycle */

static PGresult *exec(PGconn *db, const char *sql)
{
	return PQexec(db, sql);
}

/* Run SQL that returns no rows of interest; SMILE_OK or the engine's
 * refusal (logged, or set in e when e is not NULL). */
static enum smile_err exec_ok(PGconn *db, const char *sql, const char *what,
			      struct smile_error *e)
{
	PGresult *r = exec(db, sql);
	ExecStatusType st = PQresultStatus(r);
	enum smile_err rc = SMILE_OK;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		if (e)
			rc = pg_err(e, SMILE_ERR_STORE, what, r, db);
		else {
			log_pg_error(what, r, db);
			rc = SMILE_ERR_STORE;
		}
	}
	PQclear(r);
	return rc;
}

static void pending_clear(struct store_conn *c);

static void conn_free(struct store_conn *c)
{
	if (c == NULL)
		return;
	pending_clear(c);
	PQfinish(c->db);
	free(c);
}

/* `where` is what follows "postgresql:" (or "postgres:"): "//user@host/db?..".
 * The libpq URI is "postgresql:" + where, minus our scrub_interval
 * parameter, whose value goes to *interval_s. */
static enum smile_err build_uri(const char *where, char *uri, size_t n, int *interval_s,
				struct smile_error *e)
{
	const char *q = strchr(where, '?');
	size_t used;

	*interval_s = DEFAULT_SCRUB_INTERVAL_S;
	used = (size_t)snprintf(uri, n, "postgresql:%.*s",
				(int)(q ? (size_t)(q - where) : strlen(where)), where);
	if (used >= n)
		return smile_error_set(e, SMILE_ERR_INVALID, "store", "store URL too long");
	if (strncmp(where, "//", 2) != 0)
		return smile_error_set(e, SMILE_ERR_INVALID, "store",
				       "a PostgreSQL store URL is postgresql://[user@]host[:port]/db");
	if (q == NULL)
		return SMILE_OK;
	char sep = '?';
	for (const char *p = q + 1; *p;) {
		size_t len = strcspn(p, "&");
		if (strncmp(p, "scrub_interval=", 15) == 0) {
			char *end;
			long v = strtol(p + 15, &end, 10);
			if (end == p + 15 || (*end && *end != '&') || v < 0 || v > 86400)
				return smile_error_set(e, SMILE_ERR_INVALID, "store",
						       "scrub_interval: seconds, 0-86400");
			*interval_s = (int)v;
		} else {
			used += (size_t)snprintf(uri + used, used < n ? n - used : 0, "%c%.*s",
						 sep, (int)len, p);
			sep = '&';
		}
		p += len + (p[len] == '&');
	}
	if (used >= n)
		return smile_error_set(e, SMILE_ERR_INVALID, "store", "store URL too long");
	return SMILE_OK;
}

/* Did the connection fail because the database does not exist? libpq
 * gives no SQLSTATE for a failed connection: the server's message
 * (3D000) is 'database "NAME" does not exist'. */
static int no_such_database(PGconn *db)
{
	const char *m = PQerrorMessage(db);
	return strstr(m, "database \"") != NULL && strstr(m, "\" does not exist") != NULL;
}

/* Connect to `uri`, or with dbname replaced by `dbname` when not NULL. */
static PGconn *connect_to(const char *uri, const char *dbname)
{
	const char *keys[] = {"dbname", "dbname", "application_name", NULL};
	const char *vals[] = {uri, dbname, "smile-gateway", NULL};

	if (dbname == NULL) {
		keys[1] = "application_name";
		vals[1] = "smile-gateway";
		keys[2] = NULL;
		vals[2] = NULL;
	}
	/* expand_dbname: the first dbname is parsed as the URI; later
	 * keywords override what it set */
	return PQconnectdbParams(keys, vals, 1);
}

/* Create the database the URI names, through the maintenance database
 * "postgres"; another process creating it first is fine. */
static enum smile_err create_database(const char *uri, struct smile_error *e)
{
	PQconninfoOption *opts = PQconninfoParse(uri, NULL);
	const char *dbname = NULL;
	PGconn *db = NULL;
	enum smile_err rc = SMILE_OK;

	if (opts == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, "store", "store URL does not parse");
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (strcmp(o->keyword, "dbname") == 0)
			dbname = o->val;
	if (dbname == NULL || dbname[0] == '\0') {
		rc = smile_error_set(e, SMILE_ERR_INVALID, "store", "store URL names no database");
		goto out;
	}
	db = connect_to(uri, "postgres");
	if (PQstatus(db) != CONNECTION_OK) {
		rc = pg_err(e, SMILE_ERR_STORE, "connect_maintenance_db", NULL, db);
		goto out;
	}
	char *ident = PQescapeIdentifier(db, dbname, strlen(dbname));
	if (ident == NULL) {
		rc = smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
		goto out;
	}
	char sql[512];
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", ident);
	PQfreemem(ident);
	PGresult *r = exec(db, sql);
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && !(state && strcmp(state, "42P04") == 0))
		rc = pg_err(e, SMILE_ERR_STORE, "create_database", r, db);
	else
		smile_log(SMILE_LOG_INFO, "store.pg_database_created", SMILE_KV_ID("db", dbname));
	PQclear(r);
out:
	PQfinish(db);
	PQconninfoFree(opts);
	return rc;
}

static enum smile_err migrate(PGconn *db, struct smile_error *e)
{
	PGresult *r;
	int version = 0;
	enum smile_err rc;

	if ((rc = exec_ok(db, "BEGIN", "begin_migration", e)))
		return rc;
	if ((rc = exec_ok(db, "SELECT pg_advisory_xact_lock(" STORE_LOCK_KEY ")",
			  "lock_migration", e)))
		goto fail;
	r = exec(db, "SELECT to_regclass('meta') IS NOT NULL");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = pg_err(e, SMILE_ERR_STORE, "read_schema_version", r, db);
		PQclear(r);
		goto fail;
	}
	int has_meta = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (has_meta) {
		r = exec(db, "SELECT value FROM meta WHERE key = 'schema_version'");
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			rc = pg_err(e, SMILE_ERR_STORE, "read_schema_version", r, db);
			PQclear(r);
			goto fail;
		}
		if (PQntuples(r) == 1)
			version = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
	}
	if (version > PG_SCHEMA_VERSION) {
		rc = smile_error_set(e, SMILE_ERR_SCHEMA, NULL,
				     "database schema version %d is newer than this gateway's %d "
				     "(PostgreSQL store): upgrade the gateway", version,
				     PG_SCHEMA_VERSION);
		goto fail;
	}
	for (size_t i = 0; i < N_MIGRATIONS; i++) {
		char sql[160];
		if (migrations[i].to <= version)
			continue;
		if ((rc = exec_ok(db, migrations[i].sql, "migrate_schema", e)))
			goto fail;
		snprintf(sql, sizeof(sql),
			 "INSERT INTO meta (key, value) VALUES ('schema_version', '%d') "
			 "ON CONFLICT (key) DO UPDATE SET value = excluded.value", migrations[i].to);
		if ((rc = exec_ok(db, sql, "record_schema_version", e)))
			goto fail;
	}
	return exec_ok(db, "COMMIT", "commit_migration", e);
fail:
	PQclear(exec(db, "ROLLBACK"));
	return rc;
}

/* The server settings the erasure promise depends on (docs/vault.md):
 * warned about, not refused, so a store still opens on a server an
 * operator cannot reconfigure. */
static void check_scrub_settings(PGconn *db)
{
	PGresult *r = exec(db, "SELECT current_setting('wal_recycle'), "
			       "current_setting('archive_mode'), "
			       "pg_size_bytes(current_setting('wal_keep_size')), "
			       "(SELECT count(*) FROM pg_replication_slots), "
			       "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user) OR "
			       "pg_has_role(current_user, 'pg_checkpoint', 'MEMBER')");

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		log_pg_error("read_server_settings", r, db);
		PQclear(r);
		return;
	}
	if (strcmp(PQgetvalue(r, 0, 0), "off") != 0)
		smile_log(SMILE_LOG_WARN, "store.pg_wal_recycle_on",
			  SMILE_KV_ID("why", "old_wal_segments_are_kept_with_erased_data"),
			  SMILE_KV_ID("fix", "wal_recycle=off"), SMILE_KV_ID("see", "docs/vault.md"));
	if (strcmp(PQgetvalue(r, 0, 1), "off") != 0)
		smile_log(SMILE_LOG_WARN, "store.pg_archive_mode_on",
			  SMILE_KV_ID("why", "archived_wal_keeps_erased_data"),
			  SMILE_KV_ID("see", "docs/vault.md"));
	if (strcmp(PQgetvalue(r, 0, 2), "0") != 0)
		smile_log(SMILE_LOG_WARN, "store.pg_wal_keep_size",
			  SMILE_KV_ID("why", "old_wal_segments_are_kept_with_erased_data"),
			  SMILE_KV_ID("fix", "wal_keep_size=0"), SMILE_KV_ID("see", "docs/vault.md"));
	if (strcmp(PQgetvalue(r, 0, 3), "0") != 0)
		smile_log(SMILE_LOG_WARN, "store.pg_replication_slots",
			  SMILE_KV_ID("why", "slots_may_keep_wal_with_erased_data"),
			  SMILE_KV_ID("see", "docs/vault.md"));
	if (PQgetvalue(r, 0, 4)[0] != 't')
		smile_log(SMILE_LOG_WARN, "store.pg_no_checkpoint_privilege",
			  SMILE_KV_ID("why", "role_may_not_checkpoint_erasures_stay_in_wal"),
			  SMILE_KV_ID("fix", "grant_pg_checkpoint"), SMILE_KV_ID("see", "docs/vault.md"));
	PQclear(r);
}

/* The session settings every connection gets: a writer's transactions
 * commit asynchronously (pg_begin) and its flush wait synchronously. */
static const char *session_sql(int writer)
{
	return writer ? "SET synchronous_commit = on; SET client_min_messages = warning"
		      : "SET client_min_messages = warning; "
			"SET default_transaction_isolation = 'read committed'";
}

/* A connection the server dropped (a restart, a failover, a cut network)
 * is opened again before the writer's next transaction, a reader's next
 * statement or a ping: PQreset reconnects with the same parameters, the
 * session is configured again and statements are prepared again on first
 * use. libpq marks a connection bad only once a statement on it failed, so
 * the transaction or read in flight at the outage fails (the core reports
 * SMILE_ERR_STORE and nothing of it was acknowledged); the next one
 * reconnects. -1 while the server is still away. Never inside a writer's
 * transaction: a new session would silently have none. */
static int revive(struct store_conn *c)
{
	PGresult *r;
	int ok;

	if (PQstatus(c->db) == CONNECTION_OK)
		return 0;
	PQreset(c->db);
	if (PQstatus(c->db) != CONNECTION_OK)
		return -1;
	memset(c->prepared, 0, sizeof(c->prepared));
	pending_clear(c);
	c->poisoned = 0;
	r = exec(c->db, session_sql(c->writer));
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	smile_log(ok ? SMILE_LOG_INFO : SMILE_LOG_WARN, "store.pg_reconnected",
		  SMILE_KV_ID("conn", c->writer ? "writer" : "reader"), SMILE_KV_INT("ok", ok));
	return ok ? 0 : -1;
}

/* ANALYZE (autovacuum runs it by itself) keeps sample values of every
 * column in pg_statistic: sealed keys and replies included, where VACUUM
 * FULL of their table never reaches. Columns holding them get statistics
 * target 0, so they are never sampled; set at every writer's open (cheap
 * when already so) so that stores made before this rule get it too.
 * Samples taken before stay until a superuser removes them (vault.md). */
static void no_statistics_of_sealed_bytes(PGconn *db)
{
	PGresult *r = PQexec(db, "SELECT count(*) FROM pg_attribute WHERE attrelid IN "
				 "('personal'::regclass, 'devices'::regclass) AND attname IN "
				 "('wrapped_key', 'ciphertext', 'last_reply', 'last_digest') "
				 "AND attstattarget <> 0");
	int todo = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
		   strcmp(PQgetvalue(r, 0, 0), "0") != 0;

	PQclear(r);
	if (!todo)
		return;
	if (exec_ok(db,
		    "ALTER TABLE personal ALTER COLUMN wrapped_key SET STATISTICS 0, "
		    "ALTER COLUMN ciphertext SET STATISTICS 0; "
		    "ALTER TABLE devices ALTER COLUMN last_reply SET STATISTICS 0, "
		    "ALTER COLUMN last_digest SET STATISTICS 0",
		    "statistics_off", NULL) != SMILE_OK)
		smile_log(SMILE_LOG_WARN, "store.pg_statistics_on",
			  SMILE_KV_ID("fix", "alter_column_set_statistics_0"),
			  SMILE_KV_ID("tables", "personal,devices"));
}

static enum smile_err pg_open(const char *where, enum store_conn_kind kind, int create,
			      struct store_conn **out, struct smile_error *e)
{
	char uri[URL_MAX], shown[URL_MAX];
	struct store_conn *c;
	enum smile_err rc;
	int writer = kind == STORE_CONN_WRITER;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
	c->writer = writer;
	if ((rc = build_uri(where, uri, sizeof(uri), &c->scrub_interval_s, e)))
		goto fail;
	url_masked(uri, shown, sizeof(shown));
	c->db = connect_to(uri, NULL);
	if (PQstatus(c->db) != CONNECTION_OK && writer && create && no_such_database(c->db)) {
		PQfinish(c->db);
		c->db = NULL;
		if ((rc = create_database(uri, e)))
			goto fail;
		c->db = connect_to(uri, NULL);
	}
	if (PQstatus(c->db) != CONNECTION_OK) {
		char what[URL_MAX + 32];
		snprintf(what, sizeof(what), "connect to %s", shown);
		rc = pg_err(e, SMILE_ERR_STORE, what, NULL, c->db);
		goto fail;
	}
	if ((rc = exec_ok(c->db, session_sql(writer), "configure_session", e)))
		goto fail;
	if (writer) {
		if ((rc = migrate(c->db, e)))
			goto fail;
		no_statistics_of_sealed_bytes(c->db);
		check_scrub_settings(c->db);
		smile_log(SMILE_LOG_INFO, "store.pg_open", SMILE_KV_ID("url", shown),
			  SMILE_KV_INT("scrub_interval_s", c->scrub_interval_s));
	}
	*out = c;
	return SMILE_OK;
fail:
	conn_free(c);
	return rc;
}

static enum smile_err pg_scrub(struct store_conn *c);
static enum smile_err scrub_now(struct store_conn *c);

static void pg_close(struct store_conn *c)
{
	if (c && c->writer && c->db && c->scrub_needed &&
	    PQtransactionStatus(c->db) == PQTRANS_IDLE)
		(void)scrub_now(c);
	conn_free(c);
}

static enum smile_err pg_ping(struct store_conn *c)
{
	if (revive(c))
		return SMILE_ERR_STORE;
	return exec_ok(c->db, "SELECT 1", "ping", NULL);
}

/* ------------------------------------------------------------ transactions */

/* One transaction-control command after the deferred items (one round
 * trip); SMILE_ERR_STORE (logged) when it or a deferred item failed. The
 * result is returned through *out when asked. */
static enum smile_err tx_cmd(struct store_conn *c, const char *sql, const char *what,
			     PGresult **out)
{
	PGresult *r;
	enum smile_err rc = SMILE_OK;

	if (c->poisoned)
		return SMILE_ERR_STORE;
	r = c->n_pending ? pipeline(c, sql, NULL, NULL) : exec(c->db, sql);
	if (r == NULL ||
	    (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)) {
		log_pg_error(what, r, c->db);
		rc = SMILE_ERR_STORE;
	}
	if (out && rc == SMILE_OK)
		*out = r;
	else
		PQclear(r);
	return rc;
}

static enum smile_err pg_begin(struct store_conn *c)
{
	/* the whole-store write lock, held until commit or rollback; one
	 * round trip for both */
	PGresult *r;
	enum smile_err rc = SMILE_OK;

	if (revive(c)) {
		smile_log(SMILE_LOG_ERROR, "store.begin_failed", SMILE_KV_ID("why", "database away"));
		return SMILE_ERR_STORE;
	}
	pending_clear(c);
	c->poisoned = 0;
	c->next_event_id = 0;
	/* the lock first: the largest event id is read under it */
	r = exec(c->db, "BEGIN; SET LOCAL synchronous_commit = off; "
			"SELECT pg_advisory_xact_lock(" STORE_LOCK_KEY "); "
			"SELECT COALESCE(MAX(id), 0) + 1 FROM events");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		log_pg_error("begin", r, c->db);
		rc = SMILE_ERR_STORE;
	} else {
		c->next_event_id = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	}
	PQclear(r);
	if (rc)
		PQclear(exec(c->db, "ROLLBACK"));
	return rc;
}

/* Once the transaction just committed (asynchronously, with the write lock
 * released) is durable: a transaction of one WAL record, committed with
 * synchronous_commit on, returns after a flush that covers it (see the
 * head of this file). Failing here, the transaction is committed but may
 * not be durable: reported as a failed commit, so nothing of it is
 * acknowledged (a retry finds it: Idempotency-Key, scan retransmission). */
static enum smile_err wait_flushed(struct store_conn *c)
{
	PGresult *r = exec(c->db, "SELECT pg_logical_emit_message(true, 'smile.flush', '')");
	enum smile_err rc = SMILE_OK;

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		log_pg_error("flush", r, c->db);
		rc = SMILE_ERR_STORE;
	}
	PQclear(r);
	return rc;
}

static enum smile_err pg_commit(struct store_conn *c)
{
	PGresult *r = NULL;
	enum smile_err rc = tx_cmd(c, "COMMIT", "commit", &r);

	/* COMMIT of an aborted transaction answers ROLLBACK, not an error */
	if (rc == SMILE_OK && strcmp(PQcmdStatus(r), "COMMIT") != 0)
		rc = SMILE_ERR_STORE;
	if (rc)
		smile_log(SMILE_LOG_ERROR, "store.commit_failed",
			  SMILE_KV_ID("pg", r ? ident_or_dash(PQcmdStatus(r)) : "-"));
	PQclear(r);
	if (rc == SMILE_OK)
		rc = wait_flushed(c);
	return rc;
}

static enum smile_err pg_rollback(struct store_conn *c)
{
	pending_clear(c); /* undone with the rest */
	c->poisoned = 0;
	c->next_event_id = 0;
	return exec_ok(c->db, "ROLLBACK", "rollback", NULL);
}

/* Savepoint names come from the core ("job", "item"): plain identifiers. */
static enum smile_err pg_savepoint(struct store_conn *c, const char *name)
{
	return defer_sql(c, "SAVEPOINT", name);
}

static enum smile_err pg_rollback_to(struct store_conn *c, const char *name)
{
	char sql[64];
	int n = snprintf(sql, sizeof(sql), "ROLLBACK TO %s", name);
	if (n < 0 || (size_t)n >= sizeof(sql))
		return SMILE_ERR_INVALID;
	return tx_cmd(c, sql, "rollback_to", NULL);
}

static enum smile_err pg_release(struct store_conn *c, const char *name)
{
	return defer_sql(c, "RELEASE", name);
}

/* ------------------------------------------------------------ writer row ops */

static enum smile_err pg_insert_idem(struct store_conn *c, const struct smile_store_idem *idem,
				     int64_t created_ms)
{
	struct params p = {0};
	p_text(&p, idem->api_key_id);
	p_text(&p, idem->key);
	p_blob(&p, idem->request_hash, 32);
	p_i64(&p, idem->status);
	p_text(&p, idem->response);
	p_i64(&p, created_ms);
	return run_cmd(c, ST_INSERT_IDEM, &p, NULL);
}

static enum smile_err pg_insert_shipment(struct store_conn *c,
					 const struct smile_store_shipment *r,
					 const uint8_t *track_hash)
{
	struct params p = {0};
	p_i64(&p, (int64_t)r->id);
	p_text(&p, r->waybill);
	p_text(&p, r->merchant);
	p_text(&p, r->merchant_ref);
	p_text(&p, smile_shipment_status_name(r->status));
	p_text(&p, r->token);
	p_text(&p, r->region);
	p_i64(&p, r->created_ms);
	p_i64(&p, r->delivered_ms);
	p_i64(&p, r->erased_ms);
	p_text(&p, r->holder);
	p_text(&p, r->public_json);
	p_text(&p, r->device_view);
	p_blob(&p, track_hash, track_hash ? SMILE_STORE_TRACK_HASH_BYTES : 0);
	if (track_hash == NULL)
		p.v[p.n - 1] = NULL; /* SQL NULL: no hash */
	return run_cmd(c, ST_INSERT_SHIPMENT, &p, NULL);
}

static enum smile_err pg_insert_personal(struct store_conn *c, uint64_t id,
					 const struct smile_store_personal *pers)
{
	struct params p = {0};
	p_i64(&p, (int64_t)id);
	p_blob(&p, pers->wrapped_key, pers->wrapped_len);
	p_blob(&p, pers->ct, pers->ct_len);
	return defer_stmt(c, ST_INSERT_PERSONAL, &p);
}

/* The event's id comes from the writer's counter (read in begin(), under
 * the write lock, past every stored id), so the insert needs no answer and
 * is deferred. Ids are unique and increasing; the counter only moves
 * forward within a transaction, and ids of a rolled-back transaction were
 * never visible to anyone. */
static enum smile_err pg_insert_event(struct store_conn *c, const struct smile_store_event *ev,
				      uint64_t *id)
{
	struct params p = {0};
	uint64_t eid = c->next_event_id;

	if (eid == 0)
		return SMILE_ERR_STORE; /* outside a transaction: a core bug */
	p_i64(&p, (int64_t)eid);
	p_i64(&p, (int64_t)ev->shipment_id);
	p_text(&p, ev->waybill);
	p_text(&p, ev->event);
	p_i64(&p, ev->time_ms);
	p_text(&p, ev->device_id);
	p_text(&p, ev->device_role);
	p_text(&p, ev->detail);
	p_i64(&p, ev->recorded_ms ? ev->recorded_ms : ev->time_ms);
	enum smile_err rc = defer_stmt(c, ST_INSERT_EVENT, &p);
	if (rc == SMILE_OK) {
		c->next_event_id++;
		if (id)
			*id = eid;
	}
	return rc;
}

static enum smile_err pg_set_shipment_status(struct store_conn *c, uint64_t id,
					     enum smile_shipment_status to, int64_t delivered_ms,
					     const char *holder, int known)
{
	enum stmt_id which = holder ? ST_UPDATE_STATUS_HOLDER : ST_UPDATE_STATUS;
	struct params p = {0};
	int changed = 0;
	enum smile_err rc;

	p_text(&p, smile_shipment_status_name(to));
	p_i64(&p, delivered_ms);
	p_i64(&p, (int64_t)id);
	if (holder)
		p_text(&p, holder);
	if (known) /* the row is there: no answer to wait for */
		return defer_stmt(c, which, &p);
	rc = run_cmd(c, which, &p, &changed);
	if (rc)
		return rc;
	return changed ? SMILE_OK : SMILE_ERR_NOT_FOUND;
}

static enum smile_err pg_mark_erased(struct store_conn *c, uint64_t id, int64_t now_ms,
				     char waybill[SMILE_STORE_WAYBILL_MAX])
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;

	p_i64(&p, now_ms);
	p_i64(&p, (int64_t)id);
	r = run(c, ST_MARK_ERASED, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	if (rc == SMILE_OK && PQntuples(r) == 1) {
		col_text(r, 0, 0, waybill, SMILE_STORE_WAYBILL_MAX);
		PQclear(r);
		return SMILE_OK;
	}
	PQclear(r);
	if (rc)
		return rc;
	/* nothing changed: erased already, or no such shipment */
	p.n = 0;
	p_i64(&p, (int64_t)id);
	r = run(c, ST_SHIPMENT_ERASED, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	if (rc == SMILE_OK) {
		rc = PQntuples(r) == 1 ? SMILE_ERR_SHREDDED : SMILE_ERR_NOT_FOUND;
		if (PQntuples(r) == 1)
			col_text(r, 0, 1, waybill, SMILE_STORE_WAYBILL_MAX);
	}
	PQclear(r);
	return rc;
}

/* An erasure statement that returns its transaction id for each row it
 * removed: scrub() is then owed a pass, once no snapshot older than that
 * transaction remains. */
static enum smile_err erase_rows(struct store_conn *c, enum stmt_id which, uint64_t id)
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;

	p_i64(&p, (int64_t)id);
	r = run(c, which, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	if (rc == SMILE_OK && PQntuples(r) > 0) {
		unsigned long long xid = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
		if (xid > c->erase_xid)
			c->erase_xid = xid;
		c->scrub_needed = 1;
		PQclear(r);
		/* owed in the store too, in this transaction: if this process
		 * dies before paying, another (or its restart) does */
		return defer_stmt(c, ST_SCRUB_OWE, &(struct params){0});
	}
	PQclear(r);
	return rc;
}

static enum smile_err pg_delete_personal(struct store_conn *c, uint64_t id)
{
	return erase_rows(c, ST_ERASE_PERSONAL, id);
}

static enum smile_err pg_forget_replies(struct store_conn *c, uint64_t id)
{
	return erase_rows(c, ST_FORGET_REPLIES, id);
}

static enum smile_err pg_scan_facts(struct store_conn *c, uint64_t id, const char *device_id,
				    int64_t since_hour, struct store_scan_facts *out)
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;

	memset(out, 0, sizeof(*out));
	p_i64(&p, (int64_t)id);
	p_text(&p, device_id);
	p_i64(&p, since_hour);
	r = run(c, ST_SCAN_FACTS, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	if (rc == SMILE_OK && PQntuples(r) == 1) {
		out->found = !PQgetisnull(r, 0, 1);
		out->erased_ms = out->found ? col_i64(r, 0, 0) : 0;
		col_text(r, 0, 1, out->status, sizeof(out->status));
		col_text(r, 0, 2, out->holder, sizeof(out->holder));
		out->reveals = (uint64_t)col_i64(r, 0, 3);
	}
	PQclear(r);
	return rc;
}

static void bindings_text(const struct smile_store_apikey *k, char *out, size_t n)
{
	size_t used = 0;
	out[0] = '\0';
	for (int i = 0; i < k->n_bindings && used < n; i++) {
		int w = snprintf(out + used, n - used, "%s%s", i ? "\n" : "", k->bindings[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

static enum smile_err pg_put_apikey(struct store_conn *c, const struct smile_store_apikey *k)
{
	char bind[SMILE_STORE_MAX_BINDINGS * SMILE_STORE_ID_MAX];
	struct params p = {0};

	bindings_text(k, bind, sizeof(bind));
	p_text(&p, k->id);
	p_blob(&p, k->hash, 32);
	p_text(&p, smile_role_name(k->role));
	p_text(&p, k->merchant);
	p_text(&p, bind);
	p_i64(&p, k->created_ms);
	return run_cmd(c, ST_PUT_APIKEY, &p, NULL);
}

static enum smile_err pg_revoke_apikey(struct store_conn *c, const char *id, int64_t now_ms)
{
	struct params p = {0};
	int changed = 0;
	enum smile_err rc;

	p_i64(&p, now_ms);
	p_text(&p, id);
	rc = run_cmd(c, ST_REVOKE_APIKEY, &p, &changed);
	if (rc)
		return rc;
	return changed ? SMILE_OK : SMILE_ERR_NOT_FOUND;
}

static enum smile_err pg_put_device(struct store_conn *c, const struct smile_store_device *d,
				    enum smile_device_status status)
{
	struct params p = {0};
	p_text(&p, d->id);
	p_blob(&p, d->sign_pk, 32);
	p_blob(&p, d->box_pk, 32);
	p_text(&p, smile_device_role_name(d->role));
	p_text(&p, d->zone);
	p_text(&p, smile_device_status_name(status));
	p_i64(&p, d->created_ms);
	return run_cmd(c, ST_PUT_DEVICE, &p, NULL);
}

/* The one way status text becomes an enum here: unknown text reads as
 * revoked (smile_device_status_parse fails closed), and is logged. */
static enum smile_device_status device_status_text(const char *device_id, const char *text)
{
	enum smile_device_status st;
	if (smile_device_status_parse(text, &st) != SMILE_OK)
		smile_log(SMILE_LOG_ERROR, "store.bad_device_status",
			  SMILE_KV_ID("device", device_id));
	return st;
}

static enum smile_err pg_device_status(struct store_conn *c, const char *id,
				       enum smile_device_status *out)
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;

	p_text(&p, id);
	r = run(c, ST_GET_DEVICE_STATUS, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	if (rc == SMILE_OK) {
		if (PQntuples(r) == 1)
			*out = device_status_text(id, col_str(r, 0, 0));
		else
			rc = SMILE_ERR_NOT_FOUND;
	}
	PQclear(r);
	return rc;
}

static enum smile_err pg_set_device_status(struct store_conn *c, const char *id,
					   enum smile_device_status to, int64_t now_ms)
{
	struct params p = {0};
	p_text(&p, smile_device_status_name(to));
	p_i64(&p, now_ms);
	p_text(&p, id);
	return run_cmd(c, ST_DEVICE_STATUS, &p, NULL);
}

static enum smile_err pg_device_advance(struct store_conn *c,
					const struct store_device_advance *a)
{
	struct params p = {0};
	int changed = 0;
	enum smile_err rc;

	p_i64(&p, (int64_t)a->seq);
	p_blob(&p, a->digest, 32);
	if (a->reply) {
		p_blob(&p, a->reply, a->reply_len);
	} else {
		p.v[p.n] = NULL; /* SQL NULL */
		p.len[p.n] = 0;
		p.fmt[p.n++] = 1;
	}
	p_i64(&p, a->time_ms);
	p_i64(&p, (int64_t)a->shipment_id);
	p_i64(&p, a->revealed);
	p_text(&p, a->device_id);
	p_text(&p, smile_device_status_name(a->require));
	rc = run_cmd(c, ST_DEVICE_SCAN, &p, &changed);
	if (rc)
		return rc;
	/* seq not above last_seq, another status, or no such device */
	return changed ? SMILE_OK : SMILE_ERR_REPLAY;
}

static enum smile_err pg_add_reveal(struct store_conn *c, const char *device_id, int64_t hour)
{
	struct params p = {0};
	p_text(&p, device_id);
	p_i64(&p, hour);
	return defer_stmt(c, ST_INSERT_REVEAL, &p);
}

static enum smile_err pg_audit_head(struct store_conn *c, uint64_t *seq, uint8_t hash[32])
{
	PGresult *r;
	enum smile_err rc;

	*seq = 0;
	memset(hash, 0, 32);
	r = run(c, ST_AUDIT_HEAD, NULL);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	if (rc == SMILE_OK && PQntuples(r) == 1 && PQgetlength(r, 0, 1) == 32) {
		*seq = (uint64_t)col_i64(r, 0, 0);
		memcpy(hash, PQgetvalue(r, 0, 1), 32);
	}
	PQclear(r);
	return rc;
}

static enum smile_err pg_audit_insert(struct store_conn *c, const struct store_audit_row *row)
{
	struct params p = {0};
	p_i64(&p, (int64_t)row->seq);
	p_i64(&p, row->time_ms);
	p_text(&p, row->kind);
	p_text(&p, row->subject);
	p_text(&p, row->actor);
	p_text(&p, row->detail);
	p_blob(&p, row->prev_hash, row->prev_len);
	p_blob(&p, row->hash, row->hash_len);
	return defer_stmt(c, ST_AUDIT_INSERT, &p);
}

static enum smile_err pg_lease_ids(struct store_conn *c, uint64_t count, uint64_t *start)
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;

	p_i64(&p, (int64_t)count);
	r = run(c, ST_LEASE, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	if (rc == SMILE_OK) {
		if (PQntuples(r) == 1)
			*start = (uint64_t)col_i64(r, 0, 0);
		else
			rc = SMILE_ERR_STORE;
	}
	PQclear(r);
	return rc;
}

static enum smile_err pg_meta_get(struct store_conn *c, const char *key, char *out, size_t n)
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;

	p_text(&p, key);
	r = run(c, ST_META_GET, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	if (rc == SMILE_OK) {
		if (PQntuples(r) != 1) {
			rc = SMILE_ERR_NOT_FOUND;
		} else if ((size_t)PQgetlength(r, 0, 0) >= n) {
			rc = SMILE_ERR_TOO_LARGE;
		} else {
			memcpy(out, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
			out[PQgetlength(r, 0, 0)] = '\0';
		}
	}
	PQclear(r);
	return rc;
}

static enum smile_err pg_meta_put(struct store_conn *c, const char *key, const char *value)
{
	struct params p = {0};
	p_text(&p, key);
	if (value == NULL)
		return run_cmd(c, ST_META_DELETE, &p, NULL);
	p_text(&p, value);
	return run_cmd(c, ST_META_PUT, &p, NULL);
}

static enum smile_err pg_rewrap(struct store_conn *c, const struct smile_store_wrapped *row)
{
	struct params p = {0};
	int changed = 0;
	enum smile_err rc;

	p_blob(&p, row->new_key, row->new_len);
	p_i64(&p, (int64_t)row->shipment_id);
	p_blob(&p, row->wrapped_key, row->wrapped_len);
	rc = run_cmd(c, ST_REWRAP, &p, &changed);
	if (rc)
		return rc;
	return changed ? SMILE_OK : SMILE_ERR_CONFLICT;
}

/* ------------------------------------------------------------ reader ops */

static enum smile_err read_shipment_row(const PGresult *r, int i, struct smile_store_shipment *out)
{
	char status[SMILE_STORE_STATUS_MAX];
	const char *dv;

	memset(out, 0, sizeof(*out));
	out->id = (uint64_t)col_i64(r, i, 0);
	col_text(r, i, 1, out->waybill, sizeof(out->waybill));
	col_text(r, i, 2, out->merchant, sizeof(out->merchant));
	col_text(r, i, 3, out->merchant_ref, sizeof(out->merchant_ref));
	col_text(r, i, 4, status, sizeof(status));
	col_text(r, i, 5, out->token, sizeof(out->token));
	col_text(r, i, 6, out->region, sizeof(out->region));
	out->created_ms = col_i64(r, i, 7);
	out->delivered_ms = col_i64(r, i, 8);
	out->erased_ms = col_i64(r, i, 9);
	col_text(r, i, 10, out->holder, sizeof(out->holder));
	out->public_json = strdup(PQgetisnull(r, i, 11) ? "{}" : PQgetvalue(r, i, 11));
	dv = col_str(r, i, 12);
	if (*dv)
		out->device_view = strdup(dv);
	if (out->public_json == NULL || (*dv && out->device_view == NULL)) {
		smile_store_shipment_release(out);
		return SMILE_ERR_NOMEM;
	}
	/* unknown text is a corrupt row: refused, never read as some status */
	if (smile_shipment_status_parse(status, &out->status) != SMILE_OK) {
		smile_log(SMILE_LOG_ERROR, "store.bad_shipment_status",
			  SMILE_KV_INT("shipment", (long long)out->id));
		smile_store_shipment_release(out);
		return SMILE_ERR_STORE;
	}
	return SMILE_OK;
}

static enum smile_err pg_get_shipment(struct store_conn *c, const char *waybill, uint64_t id,
				      struct smile_store_shipment *out)
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;

	memset(out, 0, sizeof(*out));
	if (waybill)
		p_text(&p, waybill);
	else
		p_i64(&p, (int64_t)id);
	r = run(c, waybill ? ST_GET_SHIPMENT : ST_GET_SHIPMENT_ID, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	if (rc == SMILE_OK)
		rc = PQntuples(r) == 1 ? read_shipment_row(r, 0, out) : SMILE_ERR_NOT_FOUND;
	PQclear(r);
	return rc;
}

static enum smile_err pg_list_shipments(struct store_conn *c,
					const struct store_shipment_query *q,
					smile_store_shipment_cb cb, void *ctx)
{
	/* The merchant filter varies in length: one array parameter keeps the
	 * statement fixed, so it is prepared like the others. */
	char sql[512];
	struct params p = {0};
	size_t used;
	PGresult *r;
	enum smile_err rc;

	used = (size_t)snprintf(sql, sizeof(sql),
				"SELECT " SHIPMENT_COLS " FROM shipments WHERE created_ms >= $1 "
				"AND id > $2");
	p_i64(&p, q->since_ms);
	p_i64(&p, (int64_t)q->after_id);
	if (q->merchants && q->n_merchants) {
		used += (size_t)snprintf(sql + used, sizeof(sql) - used, " AND merchant IN (");
		for (size_t i = 0; i < q->n_merchants && p.n < MAX_PARAMS - 1; i++) {
			used += (size_t)snprintf(sql + used, sizeof(sql) - used, "%s$%d",
						 i ? "," : "", p.n + 1);
			p_text(&p, q->merchants[i]);
		}
		used += (size_t)snprintf(sql + used, sizeof(sql) - used, ")");
	}
	snprintf(sql + used, sizeof(sql) - used, " ORDER BY id LIMIT $%d", p.n + 1);
	p_i64(&p, (int64_t)q->limit);

	if (revive(c))
		return SMILE_ERR_STORE;
	r = PQexecParams(c->db, sql, p.n, NULL, p.v, p.len, p.fmt, 1);
	rc = res_rc(r, c->db);
	for (int i = 0; rc == SMILE_OK && i < PQntuples(r); i++) {
		struct smile_store_shipment row;
		rc = read_shipment_row(r, i, &row);
		if (rc)
			break;
		int stop = cb(ctx, &row);
		smile_store_shipment_release(&row);
		if (stop)
			break;
	}
	PQclear(r);
	return rc;
}

static enum smile_err pg_get_personal(struct store_conn *c, uint64_t id,
				      struct smile_store_personal *out)
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;
	size_t wn, cn;
	const void *wk, *ct;

	memset(out, 0, sizeof(*out));
	p_i64(&p, (int64_t)id);
	r = run(c, ST_GET_PERSONAL, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	if (rc)
		goto out;
	if (PQntuples(r) != 1) {
		rc = SMILE_ERR_NOT_FOUND;
		goto out;
	}
	wk = col_blob(r, 0, 1, &wn);
	ct = col_blob(r, 0, 2, &cn);
	if (col_i64(r, 0, 0) != 0 || wk == NULL || ct == NULL) {
		rc = SMILE_ERR_SHREDDED;
		goto out;
	}
	if (wn == 0 || wn > sizeof(out->wrapped_key) || cn == 0) {
		rc = SMILE_ERR_STORE;
		goto out;
	}
	out->ct = malloc(cn);
	if (out->ct == NULL) {
		rc = SMILE_ERR_NOMEM;
		goto out;
	}
	memcpy(out->wrapped_key, wk, wn);
	out->wrapped_len = wn;
	memcpy(out->ct, ct, cn);
	out->ct_len = cn;
out:
	PQclear(r);
	return rc;
}

static enum smile_err pg_retention_due(struct store_conn *c, int64_t delivered_before_ms,
				       int64_t created_before_ms, uint64_t *ids, size_t max,
				       size_t *n)
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;

	*n = 0;
	p_i64(&p, delivered_before_ms);
	p_i64(&p, created_before_ms);
	p_i64(&p, (int64_t)max);
	r = run(c, ST_RETENTION, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	for (int i = 0; rc == SMILE_OK && i < PQntuples(r) && *n < max; i++)
		ids[(*n)++] = (uint64_t)col_i64(r, i, 0);
	PQclear(r);
	return rc;
}

/* Row i of an events result (EVENT_COLS order) into *ev; an event recorded
 * before recorded_ms existed reads its scan time. */
static void event_row(const PGresult *r, int i, struct smile_store_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->id = (uint64_t)col_i64(r, i, 0);
	ev->shipment_id = (uint64_t)col_i64(r, i, 1);
	col_text(r, i, 2, ev->waybill, sizeof(ev->waybill));
	col_text(r, i, 3, ev->event, sizeof(ev->event));
	ev->time_ms = col_i64(r, i, 4);
	col_text(r, i, 5, ev->device_id, sizeof(ev->device_id));
	col_text(r, i, 6, ev->device_role, sizeof(ev->device_role));
	col_text(r, i, 7, ev->detail, sizeof(ev->detail));
	ev->recorded_ms = col_i64(r, i, 8);
	if (ev->recorded_ms == 0)
		ev->recorded_ms = ev->time_ms;
}

static enum smile_err pg_list_events(struct store_conn *c, uint64_t shipment_id,
				     smile_store_event_cb cb, void *ctx)
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;

	p_i64(&p, (int64_t)shipment_id);
	r = run(c, ST_LIST_EVENTS, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	for (int i = 0; rc == SMILE_OK && i < PQntuples(r); i++) {
		struct smile_store_event ev;
		event_row(r, i, &ev);
		if (cb(ctx, &ev))
			break;
	}
	PQclear(r);
	return rc;
}

static enum smile_err pg_get_idem(struct store_conn *c, const char *api_key_id, const char *key,
				  struct smile_store_idem *out)
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;

	memset(out, 0, sizeof(*out));
	p_text(&p, api_key_id);
	p_text(&p, key);
	r = run(c, ST_GET_IDEM, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	if (rc == SMILE_OK && PQntuples(r) != 1)
		rc = SMILE_ERR_NOT_FOUND;
	if (rc == SMILE_OK) {
		snprintf(out->api_key_id, sizeof(out->api_key_id), "%s", api_key_id);
		snprintf(out->key, sizeof(out->key), "%s", key);
		if (PQgetlength(r, 0, 0) == 32)
			memcpy(out->request_hash, PQgetvalue(r, 0, 0), 32);
		out->status = (int)col_i64(r, 0, 1);
		out->response = strdup(col_str(r, 0, 2));
		rc = out->response ? SMILE_OK : SMILE_ERR_NOMEM;
	}
	PQclear(r);
	return rc;
}

static enum smile_err pg_find_apikey(struct store_conn *c, const uint8_t hash[32],
				     struct smile_store_apikey *out)
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;

	memset(out, 0, sizeof(*out));
	p_blob(&p, hash, 32);
	r = run(c, ST_FIND_APIKEY, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	if (rc == SMILE_OK && PQntuples(r) != 1)
		rc = SMILE_ERR_NOT_FOUND;
	if (rc == SMILE_OK) {
		char role[16], bindings[SMILE_STORE_MAX_BINDINGS * SMILE_STORE_ID_MAX];
		col_text(r, 0, 0, out->id, sizeof(out->id));
		col_text(r, 0, 1, role, sizeof(role));
		col_text(r, 0, 2, out->merchant, sizeof(out->merchant));
		col_text(r, 0, 3, bindings, sizeof(bindings));
		out->created_ms = col_i64(r, 0, 4);
		out->revoked_ms = col_i64(r, 0, 5);
		memcpy(out->hash, hash, 32);
		rc = smile_role_parse(role, &out->role) ? SMILE_ERR_STORE : SMILE_OK;
		for (char *s = bindings; rc == SMILE_OK && *s &&
					 out->n_bindings < SMILE_STORE_MAX_BINDINGS;) {
			char *nl = strchr(s, '\n');
			size_t len = nl ? (size_t)(nl - s) : strlen(s);
			snprintf(out->bindings[out->n_bindings++], SMILE_STORE_ID_MAX, "%.*s",
				 (int)len, s);
			s += len + (nl ? 1 : 0);
		}
	}
	PQclear(r);
	return rc;
}

static enum smile_err read_device_row(const PGresult *r, int i, struct smile_store_device *d)
{
	char role[16];
	size_t n;
	const void *b;

	memset(d, 0, sizeof(*d));
	col_text(r, i, 0, d->id, sizeof(d->id));
	if (PQgetlength(r, i, 1) != 32 || PQgetlength(r, i, 2) != 32)
		return SMILE_ERR_STORE;
	memcpy(d->sign_pk, PQgetvalue(r, i, 1), 32);
	memcpy(d->box_pk, PQgetvalue(r, i, 2), 32);
	col_text(r, i, 3, role, sizeof(role));
	if (smile_device_role_parse(role, &d->role) != SMILE_OK)
		return SMILE_ERR_STORE;
	col_text(r, i, 4, d->zone, sizeof(d->zone));
	d->status = device_status_text(d->id, col_str(r, i, 5));
	d->last_seq = (uint64_t)col_i64(r, i, 6);
	b = col_blob(r, i, 7, &n);
	if (b && n == 32)
		memcpy(d->last_digest, b, 32);
	b = col_blob(r, i, 8, &n);
	if (b && n > 0) {
		d->last_reply = malloc(n);
		if (d->last_reply == NULL)
			return SMILE_ERR_NOMEM;
		memcpy(d->last_reply, b, n);
		d->last_reply_len = n;
	}
	d->created_ms = col_i64(r, i, 9);
	d->updated_ms = col_i64(r, i, 10);
	d->last_shipment_id = (uint64_t)col_i64(r, i, 11);
	d->last_revealed = col_i64(r, i, 12) != 0;
	return SMILE_OK;
}

static enum smile_err pg_get_device(struct store_conn *c, const char *id,
				    struct smile_store_device *out)
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;

	memset(out, 0, sizeof(*out));
	p_text(&p, id);
	r = run(c, ST_GET_DEVICE, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	if (rc == SMILE_OK)
		rc = PQntuples(r) == 1 ? read_device_row(r, 0, out) : SMILE_ERR_NOT_FOUND;
	PQclear(r);
	if (rc)
		smile_store_device_release(out);
	return rc;
}

static enum smile_err pg_list_devices(struct store_conn *c, smile_store_device_cb cb, void *ctx)
{
	PGresult *r = run(c, ST_LIST_DEVICES, NULL);
	enum smile_err rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;

	for (int i = 0; rc == SMILE_OK && i < PQntuples(r); i++) {
		struct smile_store_device d;
		rc = read_device_row(r, i, &d);
		int stop = rc || cb(ctx, &d);
		smile_store_device_release(&d);
		if (stop)
			break;
	}
	PQclear(r);
	return rc;
}

static enum smile_err pg_count_reveals(struct store_conn *c, const char *device_id,
				       int64_t since_hour, uint64_t *n)
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;

	*n = 0;
	p_text(&p, device_id);
	p_i64(&p, since_hour);
	r = run(c, ST_COUNT_REVEALS, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	if (rc == SMILE_OK && PQntuples(r) == 1)
		*n = (uint64_t)col_i64(r, 0, 0);
	PQclear(r);
	return rc;
}

static enum smile_err pg_audit_each(struct store_conn *c, store_audit_row_cb cb, void *ctx)
{
	PGresult *r = run(c, ST_AUDIT_ALL, NULL);
	enum smile_err rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;

	for (int i = 0; rc == SMILE_OK && i < PQntuples(r); i++) {
		struct store_audit_row row = {
			.seq = (uint64_t)col_i64(r, i, 0),
			.time_ms = col_i64(r, i, 1),
			.kind = col_str(r, i, 2),
			.subject = col_str(r, i, 3),
			.actor = col_str(r, i, 4),
			.detail = col_str(r, i, 5),
		};
		row.prev_hash = col_blob(r, i, 6, &row.prev_len);
		row.hash = col_blob(r, i, 7, &row.hash_len);
		if (cb(ctx, &row))
			break;
	}
	PQclear(r);
	return rc;
}

static enum smile_err pg_list_wrapped(struct store_conn *c, uint64_t after_id,
				      struct smile_store_wrapped *rows, size_t max, size_t *n)
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;

	*n = 0;
	p_i64(&p, (int64_t)after_id);
	p_i64(&p, (int64_t)max);
	r = run(c, ST_LIST_WRAPPED, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	for (int i = 0; rc == SMILE_OK && i < PQntuples(r) && *n < max; i++) {
		struct smile_store_wrapped *w = &rows[*n];
		size_t wn;
		const void *wk = col_blob(r, i, 1, &wn);
		memset(w, 0, sizeof(*w));
		w->shipment_id = (uint64_t)col_i64(r, i, 0);
		if (wk == NULL || wn == 0 || wn > sizeof(w->wrapped_key)) {
			rc = SMILE_ERR_STORE;
			break;
		}
		memcpy(w->wrapped_key, wk, wn);
		w->wrapped_len = wn;
		(*n)++;
	}
	PQclear(r);
	return rc;
}

/* ------------------------------------------------------------ maintenance */

/* One scrub pass, now: BUSY when a snapshot older than the last erasure
 * remains (VACUUM FULL would copy the dead rows it can still see), when a
 * table lock is not granted within SCRUB_LOCK_TIMEOUT, or when the engine
 * refused (logged once per erasure batch). */
static enum smile_err scrub_now(struct store_conn *c)
{
	struct params p = {0};
	char xid[24], sql[64];
	PGresult *r;
	enum smile_err rc;
	int old;

	snprintf(xid, sizeof(xid), "%llu", c->erase_xid);
	p_text(&p, xid);
	r = run(c, ST_OLD_SNAPSHOTS, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	old = rc == SMILE_OK && PQntuples(r) == 1 ? (int)col_i64(r, 0, 0) : 1;
	PQclear(r);
	if (old)
		return SMILE_ERR_BUSY;
	rc = exec_ok(c->db, "SET lock_timeout = " SCRUB_LOCK_TIMEOUT, "scrub", NULL);
	for (size_t i = 0; rc == SMILE_OK && i < sizeof(scrub_tables) / sizeof(scrub_tables[0]);
	     i++) {
		snprintf(sql, sizeof(sql), "VACUUM FULL %s", scrub_tables[i]);
		rc = exec_ok(c->db, sql, "scrub_vacuum_full", NULL);
	}
	(void)exec_ok(c->db, "RESET lock_timeout", "scrub", NULL);
	/* the old WAL segments go once a checkpoint's redo point is past them:
	 * with wal_recycle = off they are unlinked */
	if (rc == SMILE_OK)
		rc = exec_ok(c->db, "CHECKPOINT", "scrub_checkpoint", NULL);
	if (rc == SMILE_OK)
		rc = exec_ok(c->db, "SELECT pg_switch_wal()", "scrub_switch_wal", NULL);
	if (rc == SMILE_OK)
		rc = exec_ok(c->db, "CHECKPOINT", "scrub_checkpoint", NULL);
	if (rc)
		return SMILE_ERR_BUSY;
	/* paid up to erase_xid; a later erasure's debt stays recorded */
	struct params q = {0};
	p_text(&q, xid);
	r = run(c, ST_SCRUB_PAID, &q);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	PQclear(r);
	if (rc)
		return SMILE_ERR_BUSY;
	c->scrub_needed = 0;
	c->last_scrub_mono_ms = mono_ms();
	return SMILE_OK;
}

static int pg_scrub_owed(struct store_conn *c)
{
	PGresult *r;
	unsigned long long xid = 0;

	if (c->scrub_needed)
		return 1;
	if (revive(c))
		return 0;
	r = run(c, ST_SCRUB_OWED, NULL);
	if (r && res_rc(r, c->db) == SMILE_OK && PQntuples(r) == 1)
		xid = strtoull(col_str(r, 0, 0), NULL, 10);
	PQclear(r);
	if (xid == 0)
		return 0;
	if (xid > c->erase_xid)
		c->erase_xid = xid;
	c->scrub_needed = 1;
	smile_log(SMILE_LOG_INFO, "store.pg_scrub_owed", SMILE_KV_INT("xid", (long long)xid));
	return 1;
}

/* Rate-limited: at most one pass per scrub_interval; erasures committed in
 * between wait for it (SMILE_ERR_BUSY, the core retries every second and
 * shows smile_store_wal_scrub_pending). */
static enum smile_err pg_scrub(struct store_conn *c)
{
	if (!c->scrub_needed)
		return SMILE_OK;
	if (c->last_scrub_mono_ms &&
	    mono_ms() - c->last_scrub_mono_ms < (int64_t)c->scrub_interval_s * 1000)
		return SMILE_ERR_BUSY;
	return scrub_now(c);
}

static enum smile_err pg_each_personal(const char *where, smile_store_personal_cb cb, void *ctx,
				       struct smile_error *e)
{
	char uri[URL_MAX], shown[URL_MAX + 32];
	int interval;
	PGconn *db = NULL;
	PGresult *r = NULL;
	enum smile_err rc;

	if ((rc = build_uri(where, uri, sizeof(uri), &interval, e)))
		return rc;
	db = connect_to(uri, NULL);
	if (PQstatus(db) != CONNECTION_OK) {
		char masked[URL_MAX];
		url_masked(uri, masked, sizeof(masked));
		snprintf(shown, sizeof(shown), "connect to %s", masked);
		rc = pg_err(e, no_such_database(db) ? SMILE_ERR_NOT_FOUND : SMILE_ERR_STORE, shown,
			    NULL, db);
		goto out;
	}
	/* looked at, never migrated or changed */
	if ((rc = exec_ok(db, "SET default_transaction_read_only = on", "configure", e)))
		goto out;
	r = PQexecParams(db,
			 "SELECT shipment_id, wrapped_key, ciphertext FROM personal "
			 "ORDER BY shipment_id",
			 0, NULL, NULL, NULL, NULL, 1);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = pg_err(e, SMILE_ERR_STORE, "read_personal", r, db);
		goto out;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		size_t wn, cn;
		const uint8_t *wk = col_blob(r, i, 1, &wn);
		const uint8_t *ct = col_blob(r, i, 2, &cn);
		if (cb(ctx, (uint64_t)col_i64(r, i, 0), wk, wn, ct, cn))
			break;
	}
out:
	PQclear(r);
	PQfinish(db);
	return rc;
}

/* ------------------------------------------------------------ print jobs */

static enum smile_err pg_print_job_exists(struct store_conn *c, uint64_t shipment_id,
					  int *exists)
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;

	p_i64(&p, (int64_t)shipment_id);
	r = run(c, ST_PJ_EXISTS, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	*exists = rc == SMILE_OK && PQntuples(r) > 0;
	PQclear(r);
	return rc;
}

static enum smile_err pg_print_job_next_seq(struct store_conn *c, const char *station,
					    uint64_t *seq)
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;

	p_text(&p, station);
	r = run(c, ST_PJ_NEXT_SEQ, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	if (rc == SMILE_OK)
		rc = PQntuples(r) == 1 ? SMILE_OK : SMILE_ERR_STORE;
	if (rc == SMILE_OK)
		*seq = (uint64_t)col_i64(r, 0, 0);
	PQclear(r);
	return rc;
}

static enum smile_err pg_insert_print_job(struct store_conn *c,
					  const struct smile_store_print_job *j)
{
	struct params p = {0};

	p_text(&p, j->id);
	p_text(&p, j->station);
	p_i64(&p, (int64_t)j->seq);
	p_i64(&p, (int64_t)j->shipment_id);
	p_text(&p, j->waybill);
	p_text(&p, j->merchant);
	p_i64(&p, j->format);
	p_i64(&p, j->copies);
	p_i64(&p, j->reprint);
	p_i64(&p, j->state);
	p_i64(&p, j->reason);
	p_text(&p, j->reason_text);
	p_text(&p, j->requested_by);
	p_i64(&p, j->created_ms);
	p_i64(&p, j->updated_ms);
	p_blob(&p, j->message, j->message_len);
	return run_cmd(c, ST_PJ_INSERT, &p, NULL);
}

static enum smile_err pg_print_job_report(struct store_conn *c, const char *id,
					  const char *station, int state, int reason,
					  const char *text, int64_t now_ms)
{
	struct params p = {0}, q = {0};
	int changed = 0;
	enum smile_err rc;

	p_i64(&p, state);
	p_i64(&p, reason);
	p_text(&p, text);
	p_i64(&p, now_ms);
	p_text(&p, id);
	p_text(&p, station);
	if ((rc = run_cmd(c, ST_PJ_REPORT, &p, &changed)))
		return rc;
	if (changed)
		return SMILE_OK;
	/* nothing changed: tell a stale report from an unknown job */
	p_text(&q, id);
	p_text(&q, station);
	if ((rc = run_cmd(c, ST_PJ_FIND, &q, &changed)))
		return rc;
	return changed ? SMILE_ERR_CONFLICT : SMILE_ERR_NOT_FOUND;
}

static enum smile_err read_print_job(const PGresult *r, int i, struct smile_store_print_job *j)
{
	size_t n;
	const void *b;

	memset(j, 0, sizeof(*j));
	col_text(r, i, 0, j->id, sizeof(j->id));
	col_text(r, i, 1, j->station, sizeof(j->station));
	j->seq = (uint64_t)col_i64(r, i, 2);
	j->shipment_id = (uint64_t)col_i64(r, i, 3);
	col_text(r, i, 4, j->waybill, sizeof(j->waybill));
	col_text(r, i, 5, j->merchant, sizeof(j->merchant));
	j->format = (int)col_i64(r, i, 6);
	j->copies = (int)col_i64(r, i, 7);
	j->reprint = (int)col_i64(r, i, 8);
	j->state = (int)col_i64(r, i, 9);
	j->reason = (int)col_i64(r, i, 10);
	col_text(r, i, 11, j->reason_text, sizeof(j->reason_text));
	col_text(r, i, 12, j->requested_by, sizeof(j->requested_by));
	j->created_ms = col_i64(r, i, 13);
	j->updated_ms = col_i64(r, i, 14);
	b = col_blob(r, i, 15, &n);
	if (b == NULL || n == 0)
		return SMILE_OK;
	if (n > SMILE_STORE_JOB_MESSAGE_MAX)
		return SMILE_ERR_STORE;
	j->message = malloc(n);
	if (j->message == NULL)
		return SMILE_ERR_NOMEM;
	memcpy(j->message, b, n);
	j->message_len = n;
	return SMILE_OK;
}

static enum smile_err pg_get_print_job(struct store_conn *c, const char *id,
				       struct smile_store_print_job *out)
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;

	memset(out, 0, sizeof(*out));
	p_text(&p, id);
	r = run(c, ST_PJ_GET, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	if (rc == SMILE_OK)
		rc = PQntuples(r) == 1 ? read_print_job(r, 0, out) : SMILE_ERR_NOT_FOUND;
	PQclear(r);
	if (rc)
		smile_store_print_job_release(out);
	return rc;
}

static enum smile_err pg_list_print_jobs(struct store_conn *c, int state, size_t limit,
					 smile_store_print_job_cb cb, void *ctx)
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;

	p_i64(&p, state);
	p_i64(&p, (int64_t)limit);
	r = run(c, ST_PJ_LIST, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	for (int i = 0; rc == SMILE_OK && i < PQntuples(r); i++) {
		struct smile_store_print_job j;
		rc = read_print_job(r, i, &j);
		int stop = rc || cb(ctx, &j);
		smile_store_print_job_release(&j);
		if (stop)
			break;
	}
	PQclear(r);
	return rc;
}

/* ------------------------------------------------------------ webhooks */

static enum smile_err pg_wh_put(struct store_conn *c, const struct smile_store_webhook *w)
{
	struct params p = {0};
	p_text(&p, w->id);
	p_text(&p, w->merchant);
	p_text(&p, w->url);
	p_text(&p, w->events);
	p_text(&p, w->secret);
	p_text(&p, smile_webhook_status_name(w->status));
	p_i64(&p, w->created_ms);
	p_i64(&p, w->updated_ms);
	return run_cmd(c, ST_WH_PUT, &p, NULL);
}

static enum smile_err pg_wh_set_status(struct store_conn *c, const char *id,
				       enum smile_webhook_status to, int64_t now_ms)
{
	struct params p = {0};
	int changed = 0;
	enum smile_err rc;
	p_text(&p, smile_webhook_status_name(to));
	p_i64(&p, now_ms);
	p_text(&p, id);
	rc = run_cmd(c, ST_WH_STATUS, &p, &changed);
	if (rc)
		return rc;
	return changed ? SMILE_OK : SMILE_ERR_NOT_FOUND;
}

static enum smile_err pg_wh_delete(struct store_conn *c, const char *id)
{
	struct params p = {0};
	int changed = 0;
	enum smile_err rc;
	p_text(&p, id);
	rc = run_cmd(c, ST_WH_DELETE_OUTBOX, &p, NULL);
	if (rc == SMILE_OK)
		rc = run_cmd(c, ST_WH_DELETE, &p, &changed);
	if (rc)
		return rc;
	return changed ? SMILE_OK : SMILE_ERR_NOT_FOUND;
}

/* Deferred: it only succeeds or fails, so it rides with the scan's next
 * round trip (store_backend.h, "Round trips"). */
static enum smile_err pg_outbox_add(struct store_conn *c, uint64_t event_id, uint64_t shipment_id,
				    const char *waybill, const char *event, int64_t now_ms)
{
	struct params p = {0};
	p_i64(&p, (int64_t)event_id);
	p_text(&p, waybill);
	p_text(&p, event);
	p_i64(&p, now_ms);
	p_i64(&p, (int64_t)shipment_id);
	return defer_stmt(c, ST_OUTBOX_ADD, &p);
}

static void read_delivery(const PGresult *r, int i, struct smile_store_delivery *d)
{
	const char *state = col_str(r, i, 5);
	memset(d, 0, sizeof(*d));
	d->id = (uint64_t)col_i64(r, i, 0);
	col_text(r, i, 1, d->webhook_id, sizeof(d->webhook_id));
	d->event_id = (uint64_t)col_i64(r, i, 2);
	col_text(r, i, 3, d->waybill, sizeof(d->waybill));
	col_text(r, i, 4, d->event, sizeof(d->event));
	d->state = strcmp(state, "pending") == 0     ? SMILE_DELIVERY_PENDING
		   : strcmp(state, "delivered") == 0 ? SMILE_DELIVERY_DELIVERED
						     : SMILE_DELIVERY_DEAD;
	d->created_ms = col_i64(r, i, 6);
	d->next_ms = col_i64(r, i, 7);
	d->lease_until_ms = col_i64(r, i, 8);
	d->attempts = (uint32_t)col_i64(r, i, 9);
	d->last_ms = col_i64(r, i, 10);
	d->last_status = (int)col_i64(r, i, 11);
	col_text(r, i, 12, d->last_error, sizeof(d->last_error));
	d->done_ms = col_i64(r, i, 13);
}

static enum smile_err pg_outbox_due(struct store_conn *c, int64_t now_ms,
				    struct smile_store_delivery *rows, size_t max, size_t *n)
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;

	*n = 0;
	p_i64(&p, now_ms);
	p_i64(&p, (int64_t)max);
	r = run(c, ST_OUTBOX_DUE, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	for (int i = 0; rc == SMILE_OK && i < PQntuples(r) && *n < max; i++)
		read_delivery(r, i, &rows[(*n)++]);
	PQclear(r);
	return rc;
}

static enum smile_err pg_outbox_lease(struct store_conn *c, uint64_t id, int64_t until_ms)
{
	struct params p = {0};
	p_i64(&p, until_ms);
	p_i64(&p, (int64_t)id);
	return defer_stmt(c, ST_OUTBOX_LEASE, &p);
}

static enum smile_err pg_outbox_finish(struct store_conn *c, const struct smile_store_attempt *a)
{
	struct params p = {0};
	int changed = 0;
	enum smile_err rc;
	p_text(&p, smile_delivery_state_name(a->state));
	p_i64(&p, a->time_ms);
	p_i64(&p, a->next_ms);
	p_i64(&p, a->status);
	p_text(&p, a->error ? a->error : "");
	p_i64(&p, (int64_t)a->id);
	rc = run_cmd(c, ST_OUTBOX_FINISH, &p, &changed);
	if (rc)
		return rc;
	return changed ? SMILE_OK : SMILE_ERR_NOT_FOUND;
}

static enum smile_err pg_outbox_redeliver(struct store_conn *c, const char *webhook_id,
					  uint64_t id, int64_t now_ms)
{
	struct params p = {0};
	int changed = 0;
	enum smile_err rc;
	p_i64(&p, now_ms);
	p_i64(&p, (int64_t)id);
	p_text(&p, webhook_id);
	rc = run_cmd(c, ST_OUTBOX_REDELIVER, &p, &changed);
	if (rc)
		return rc;
	return changed ? SMILE_OK : SMILE_ERR_NOT_FOUND;
}

static enum smile_err pg_outbox_prune(struct store_conn *c, int64_t before_ms, uint64_t *n)
{
	struct params p = {0};
	int changed = 0;
	enum smile_err rc;
	p_i64(&p, before_ms);
	rc = run_cmd(c, ST_OUTBOX_PRUNE, &p, &changed);
	*n = rc == SMILE_OK ? (uint64_t)changed : 0;
	return rc;
}

static void read_webhook(const PGresult *r, int i, struct smile_store_webhook *w)
{
	memset(w, 0, sizeof(*w));
	col_text(r, i, 0, w->id, sizeof(w->id));
	col_text(r, i, 1, w->merchant, sizeof(w->merchant));
	col_text(r, i, 2, w->url, sizeof(w->url));
	col_text(r, i, 3, w->events, sizeof(w->events));
	col_text(r, i, 4, w->secret, sizeof(w->secret));
	if (smile_webhook_status_parse(col_str(r, i, 5), &w->status) != SMILE_OK)
		smile_log(SMILE_LOG_ERROR, "store.bad_webhook_status", SMILE_KV_ID("webhook", w->id));
	w->created_ms = col_i64(r, i, 6);
	w->updated_ms = col_i64(r, i, 7);
}

static enum smile_err pg_wh_get(struct store_conn *c, const char *id,
				struct smile_store_webhook *out)
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;

	p_text(&p, id);
	r = run(c, ST_WH_GET, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	if (rc == SMILE_OK) {
		if (PQntuples(r) == 1)
			read_webhook(r, 0, out);
		else
			rc = SMILE_ERR_NOT_FOUND;
	}
	PQclear(r);
	return rc;
}

static enum smile_err pg_wh_list(struct store_conn *c, const char *merchant,
				 smile_store_webhook_cb cb, void *ctx)
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;

	if (merchant)
		p_text(&p, merchant);
	r = run(c, merchant ? ST_WH_LIST : ST_WH_LIST_ALL, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	for (int i = 0; rc == SMILE_OK && i < PQntuples(r); i++) {
		struct smile_store_webhook w;
		read_webhook(r, i, &w);
		int stop = cb(ctx, &w);
		memset(w.secret, 0, sizeof(w.secret));
		if (stop)
			break;
	}
	PQclear(r);
	return rc;
}

static enum smile_err pg_outbox_list(struct store_conn *c, const char *webhook_id,
				     uint64_t after_id, size_t limit, smile_store_delivery_cb cb,
				     void *ctx)
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;

	p_text(&p, webhook_id);
	p_i64(&p, (int64_t)after_id);
	p_i64(&p, (int64_t)limit);
	r = run(c, ST_OUTBOX_LIST, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	for (int i = 0; rc == SMILE_OK && i < PQntuples(r); i++) {
		struct smile_store_delivery d;
		read_delivery(r, i, &d);
		if (cb(ctx, &d))
			break;
	}
	PQclear(r);
	return rc;
}

static enum smile_err pg_get_event(struct store_conn *c, uint64_t id, struct smile_store_event *ev)
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;

	p_i64(&p, (int64_t)id);
	r = run(c, ST_GET_EVENT, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	if (rc == SMILE_OK && PQntuples(r) != 1)
		rc = SMILE_ERR_NOT_FOUND;
	if (rc == SMILE_OK) {
		event_row(r, 0, ev);
	}
	PQclear(r);
	return rc;
}

/* ------------------------------------------------------------ console */

static enum smile_err pg_sess_put(struct store_conn *c, const struct smile_store_session *x)
{
	struct params p = {0};
	p_blob(&p, x->hash, 32);
	p_text(&p, x->api_key_id);
	p_blob(&p, x->key_hash, 32);
	p_text(&p, x->csrf);
	p_i64(&p, x->created_ms);
	p_i64(&p, x->last_ms);
	p_i64(&p, x->expires_ms);
	return run_cmd(c, ST_SESS_PUT, &p, NULL);
}

static enum smile_err pg_sess_get(struct store_conn *c, const uint8_t hash[32],
				  struct smile_store_session *out)
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;

	memset(out, 0, sizeof(*out));
	p_blob(&p, hash, 32);
	r = run(c, ST_SESS_GET, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	if (rc == SMILE_OK && PQntuples(r) != 1)
		rc = SMILE_ERR_NOT_FOUND;
	if (rc == SMILE_OK) {
		memcpy(out->hash, hash, 32);
		col_text(r, 0, 0, out->api_key_id, sizeof(out->api_key_id));
		if (PQgetlength(r, 0, 1) == 32)
			memcpy(out->key_hash, PQgetvalue(r, 0, 1), 32);
		col_text(r, 0, 2, out->csrf, sizeof(out->csrf));
		out->created_ms = col_i64(r, 0, 3);
		out->last_ms = col_i64(r, 0, 4);
		out->expires_ms = col_i64(r, 0, 5);
	}
	PQclear(r);
	return rc;
}

static enum smile_err pg_sess_touch(struct store_conn *c, const uint8_t hash[32], int64_t now_ms)
{
	struct params p = {0};
	int changed = 0;
	enum smile_err rc;
	p_i64(&p, now_ms);
	p_blob(&p, hash, 32);
	rc = run_cmd(c, ST_SESS_TOUCH, &p, &changed);
	if (rc)
		return rc;
	return changed ? SMILE_OK : SMILE_ERR_NOT_FOUND;
}

static enum smile_err pg_sess_delete(struct store_conn *c, const uint8_t hash[32])
{
	struct params p = {0};
	int changed = 0;
	enum smile_err rc;
	p_blob(&p, hash, 32);
	rc = run_cmd(c, ST_SESS_DELETE, &p, &changed);
	if (rc)
		return rc;
	return changed ? SMILE_OK : SMILE_ERR_NOT_FOUND;
}

static enum smile_err pg_sess_purge(struct store_conn *c, int64_t now_ms, int64_t idle_before_ms,
				    uint64_t *n)
{
	struct params p = {0};
	int changed = 0;
	enum smile_err rc;
	p_i64(&p, now_ms);
	p_i64(&p, idle_before_ms);
	rc = run_cmd(c, ST_SESS_PURGE, &p, &changed);
	*n = rc == SMILE_OK ? (uint64_t)changed : 0;
	return rc;
}

/* A text[] literal of the merchants: {"a","b"}, each quoted with " and \
 * escaped. 0 when it does not fit. */
static int text_array(const char *const *v, size_t n, char *out, size_t cap)
{
	size_t used = 0;
	if (cap < 3)
		return 0;
	out[used++] = '{';
	for (size_t i = 0; i < n; i++) {
		if (i)
			out[used++] = ',';
		out[used++] = '"';
		for (const char *s = v[i]; *s; s++) {
			if (used + 4 >= cap)
				return 0;
			if (*s == '"' || *s == '\\')
				out[used++] = '\\';
			out[used++] = *s;
		}
		if (used + 3 >= cap)
			return 0;
		out[used++] = '"';
	}
	out[used++] = '}';
	out[used] = '\0';
	return 1;
}

static enum smile_err pg_page_shipments(struct store_conn *c,
					const struct smile_store_page_query *q,
					smile_store_shipment_cb cb, void *ctx)
{
	char arr[SMILE_STORE_MAX_BINDINGS * (2 * SMILE_STORE_ID_MAX + 3) + 4];
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;
	size_t nm = q->merchants ? q->n_merchants : 0;

	p_i64(&p, q->before_id ? (int64_t)q->before_id : INT64_MAX);
	if (nm) {
		if (!text_array(q->merchants, nm, arr, sizeof(arr)))
			return SMILE_ERR_INVALID;
		p_text(&p, arr);
	} else {
		p_null(&p);
	}
	if (q->status >= 0)
		p_text(&p, smile_shipment_status_name((enum smile_shipment_status)q->status));
	else
		p_null(&p);
	if (q->q)
		p_text(&p, q->q);
	else
		p_null(&p);
	p_i64(&p, (int64_t)q->limit);
	r = run(c, ST_PAGE, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	for (int i = 0; rc == SMILE_OK && i < PQntuples(r); i++) {
		struct smile_store_shipment row;
		rc = read_shipment_row(r, i, &row);
		if (rc)
			break;
		int stop = cb(ctx, &row);
		smile_store_shipment_release(&row);
		if (stop)
			break;
	}
	PQclear(r);
	return rc;
}

static enum smile_err pg_events_after(struct store_conn *c, uint64_t after_id,
				      const char *const *merchants, size_t n_merchants,
				      size_t limit, smile_store_event_cb cb, void *ctx)
{
	char arr[SMILE_STORE_MAX_BINDINGS * (2 * SMILE_STORE_ID_MAX + 3) + 4];
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;
	size_t nm = merchants ? n_merchants : 0;

	p_i64(&p, (int64_t)after_id);
	if (nm) {
		if (!text_array(merchants, nm, arr, sizeof(arr)))
			return SMILE_ERR_INVALID;
		p_text(&p, arr);
	} else {
		p_null(&p);
	}
	p_i64(&p, (int64_t)limit);
	r = run(c, ST_EVENTS_AFTER, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	for (int i = 0; rc == SMILE_OK && i < PQntuples(r); i++) {
		struct smile_store_event ev;
		event_row(r, i, &ev);
		if (cb(ctx, &ev))
			break;
	}
	PQclear(r);
	return rc;
}

static enum smile_err pg_event_head(struct store_conn *c, uint64_t *id)
{
	PGresult *r = run(c, ST_EVENT_HEAD, NULL);
	enum smile_err rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	*id = 0;
	if (rc == SMILE_OK && PQntuples(r) == 1)
		*id = (uint64_t)col_i64(r, 0, 0);
	else if (rc == SMILE_OK)
		rc = SMILE_ERR_STORE;
	PQclear(r);
	return rc;
}

/* ------------------------------------------------------------ tracking page */

static enum smile_err pg_get_track_hash(struct store_conn *c, uint64_t id, uint8_t out[32],
					int *has)
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;

	*has = 0;
	p_i64(&p, (int64_t)id);
	r = run(c, ST_TRACK_HASH, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	if (rc == SMILE_OK && PQntuples(r) != 1)
		rc = SMILE_ERR_NOT_FOUND;
	if (rc == SMILE_OK) {
		size_t n = 0;
		const void *h = col_blob(r, 0, 0, &n);
		if (h && n == 32) {
			memcpy(out, h, 32);
			*has = 1;
		}
	}
	PQclear(r);
	return rc;
}

static enum smile_err pg_track_hit(struct store_conn *c, const char *key, int64_t now_ms,
				   int64_t window_ms, uint64_t *n)
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;

	p_i64(&p, now_ms);
	rc = run_cmd(c, ST_TRACK_PRUNE, &p, NULL);
	if (rc)
		return rc;
	p.n = 0;
	p_text(&p, key);
	p_i64(&p, now_ms);
	p_i64(&p, window_ms);
	r = run(c, ST_TRACK_HIT, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	if (rc == SMILE_OK && PQntuples(r) != 1)
		rc = SMILE_ERR_STORE;
	if (rc == SMILE_OK)
		*n = (uint64_t)col_i64(r, 0, 0);
	PQclear(r);
	return rc;
}

static enum smile_err pg_audit_subject(struct store_conn *c, const char *subject, size_t limit,
				       store_audit_row_cb cb, void *ctx)
{
	struct params p = {0};
	PGresult *r;
	enum smile_err rc;

	p_text(&p, subject);
	p_i64(&p, (int64_t)(limit > 100000 ? 100000 : limit));
	r = run(c, ST_AUDIT_SUBJECT, &p);
	rc = r ? res_rc(r, c->db) : SMILE_ERR_STORE;
	for (int i = 0; rc == SMILE_OK && i < PQntuples(r); i++) {
		struct store_audit_row row = {
			.seq = (uint64_t)col_i64(r, i, 0),
			.time_ms = col_i64(r, i, 1),
			.kind = col_str(r, i, 2),
			.subject = col_str(r, i, 3),
			.actor = col_str(r, i, 4),
			.detail = col_str(r, i, 5),
		};
		if (cb(ctx, &row))
			break;
	}
	PQclear(r);
	return rc;
}

const struct store_backend store_postgres_backend = {
	.name = "postgresql",
	.scheme = "postgresql",
	.alias = "postgres",
	.open = pg_open,
	.close = pg_close,
	.ping = pg_ping,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.savepoint = pg_savepoint,
	.rollback_to = pg_rollback_to,
	.release = pg_release,
	.insert_idem = pg_insert_idem,
	.insert_shipment = pg_insert_shipment,
	.insert_personal = pg_insert_personal,
	.insert_event = pg_insert_event,
	.set_shipment_status = pg_set_shipment_status,
	.mark_erased = pg_mark_erased,
	.delete_personal = pg_delete_personal,
	.forget_replies = pg_forget_replies,
	.scan_facts = pg_scan_facts,
	.put_apikey = pg_put_apikey,
	.revoke_apikey = pg_revoke_apikey,
	.put_device = pg_put_device,
	.device_status = pg_device_status,
	.set_device_status = pg_set_device_status,
	.device_advance = pg_device_advance,
	.add_reveal = pg_add_reveal,
	.audit_head = pg_audit_head,
	.audit_insert = pg_audit_insert,
	.lease_ids = pg_lease_ids,
	.meta_get = pg_meta_get,
	.meta_put = pg_meta_put,
	.rewrap = pg_rewrap,
	.print_job_exists = pg_print_job_exists,
	.print_job_next_seq = pg_print_job_next_seq,
	.insert_print_job = pg_insert_print_job,
	.print_job_report = pg_print_job_report,
	.get_print_job = pg_get_print_job,
	.list_print_jobs = pg_list_print_jobs,
	.get_shipment = pg_get_shipment,
	.list_shipments = pg_list_shipments,
	.get_personal = pg_get_personal,
	.retention_due = pg_retention_due,
	.list_events = pg_list_events,
	.get_idem = pg_get_idem,
	.find_apikey = pg_find_apikey,
	.get_device = pg_get_device,
	.list_devices = pg_list_devices,
	.count_reveals = pg_count_reveals,
	.audit_each = pg_audit_each,
	.list_wrapped = pg_list_wrapped,
	.scrub = pg_scrub,
	.scrub_owed = pg_scrub_owed,
	.each_personal = pg_each_personal,
	/* webhooks */
	.wh_put = pg_wh_put,
	.wh_set_status = pg_wh_set_status,
	.wh_delete = pg_wh_delete,
	.outbox_add = pg_outbox_add,
	.outbox_due = pg_outbox_due,
	.outbox_lease = pg_outbox_lease,
	.outbox_finish = pg_outbox_finish,
	.outbox_redeliver = pg_outbox_redeliver,
	.outbox_prune = pg_outbox_prune,
	.wh_get = pg_wh_get,
	.wh_list = pg_wh_list,
	.outbox_list = pg_outbox_list,
	.get_event = pg_get_event,
	.get_track_hash = pg_get_track_hash,
	.track_hit = pg_track_hit,
	.audit_subject = pg_audit_subject,
	.sess_put = pg_sess_put,
	.sess_touch = pg_sess_touch,
	.sess_delete = pg_sess_delete,
	.sess_purge = pg_sess_purge,
	.sess_get = pg_sess_get,
	.page_shipments = pg_page_shipments,
	.events_after = pg_events_after,
	.event_head = pg_event_head,
};
