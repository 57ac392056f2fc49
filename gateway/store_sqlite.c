/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_sqlite.c - the SQLite backend of the store (store_backend.h).
 *
 * Maps the ops of struct store_backend to SQLite: connections, cached
 * statements, schema migrations and row mapping; the rules, the job queue
 * and the audit chain live in store.c. Exports one symbol,
 * store_sqlite_backend.
 *
 * One file, WAL mode with synchronous=FULL: a commit is fsync'd, and the
 * read-only connections run beside the writer on their own snapshots. Every
 * statement is prepared once per connection and cached (stmt()). Erasure is
 * real: secure_delete zeroes freed pages, and scrub() truncates the WAL with
 * a checkpoint that never waits for readers, so no old copy of a wrapped key
 * lingers there. BEGIN IMMEDIATE takes the file's write lock, so another
 * process writing the same file waits (busy handler) instead of interleaving.
 *
 * "sqlite:memory:NAME" is a store with no file, for unit tests that must not
 * touch a disk (the service layer's): every connection of the process opens
 * the same shared-cache in-memory database "NAME", which lives while one of
 * them is open and is gone at exit. Shared cache locks by table and does not
 * wait (SQLITE_LOCKED), so it suits callers that wait for each commit; never
 * for serving.
 */
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "smile/log.h"
#include "store.h"
#include "store_backend.h"

#define PJ_COLS                                                                          \
	"id, station, seq, shipment_id, waybill, merchant, format, copies, reprint, state, " \
	"reason, reason_text, requested_by, created_ms, updated_ms, message"

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
	ST_MAX_SHIPMENT_ID,
	ST_META_GET,
	ST_META_PUT,
	ST_META_DELETE,
	ST_LIST_WRAPPED,
	ST_REWRAP,
	ST_GET_DEVICE_STATUS,
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
	ST_TRACK_HASH,
	ST_TRACK_PRUNE,
	ST_TRACK_HIT,
	ST_AUDIT_SUBJECT,
	/* console */
	ST_SESS_PUT,
	ST_SESS_GET,
	ST_SESS_TOUCH,
	ST_SESS_DELETE,
	ST_SESS_PURGE,
	ST_EVENT_HEAD,
	ST_COUNT
};

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

static const char *const stmt_sql[ST_COUNT] = {
	[ST_INSERT_SHIPMENT] = "INSERT INTO shipments (" SHIPMENT_COLS ", track_hash) "
			       "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	[ST_INSERT_PERSONAL] = "INSERT INTO personal (shipment_id, wrapped_key, ciphertext) "
			       "VALUES (?,?,?)",
	[ST_INSERT_IDEM] = "INSERT INTO idempotency (api_key_id, key, request_hash, status, "
			   "response, created_ms) VALUES (?,?,?,?,?,?)",
	[ST_GET_IDEM] = "SELECT request_hash, status, response FROM idempotency "
			"WHERE api_key_id = ? AND key = ?",
	[ST_GET_SHIPMENT] = "SELECT " SHIPMENT_COLS " FROM shipments WHERE waybill = ?",
	[ST_GET_SHIPMENT_ID] = "SELECT " SHIPMENT_COLS " FROM shipments WHERE id = ?",
	[ST_GET_PERSONAL] = "SELECT s.erased_ms, p.wrapped_key, p.ciphertext FROM shipments s "
			    "LEFT JOIN personal p ON p.shipment_id = s.id WHERE s.id = ?",
	[ST_ERASE_PERSONAL] = "DELETE FROM personal WHERE shipment_id = ?",
	[ST_MARK_ERASED] = "UPDATE shipments SET erased_ms = ?, track_hash = NULL "
			   "WHERE id = ? AND erased_ms = 0",
	[ST_INSERT_EVENT] = "INSERT INTO events (shipment_id, waybill, event, time_ms, device_id, "
			    "device_role, detail, recorded_ms) VALUES (?,?,?,?,?,?,?,?)",
	/* the core decides delivered_ms: 0 keeps the stored one */
	[ST_UPDATE_STATUS] = "UPDATE shipments SET status = ?1, delivered_ms = "
			     "CASE WHEN ?2 <> 0 THEN ?2 ELSE delivered_ms END, "
			     "holder = COALESCE(?4, holder) WHERE id = ?3",
	[ST_LIST_EVENTS] = "SELECT id, shipment_id, waybill, event, time_ms, device_id, "
			   "device_role, detail, recorded_ms FROM events WHERE shipment_id = ? "
			   "ORDER BY id",
	[ST_RETENTION] = "SELECT id FROM shipments WHERE erased_ms = 0 AND "
			 "((? > 0 AND delivered_ms > 0 AND delivered_ms < ?) OR "
			 "(? > 0 AND created_ms < ?)) ORDER BY id LIMIT ?",
	[ST_PUT_APIKEY] = "INSERT INTO api_keys (id, hash, role, merchant, bindings, "
			  "created_ms, revoked_ms) VALUES (?,?,?,?,?,?,0)",
	[ST_FIND_APIKEY] = "SELECT id, role, merchant, bindings, created_ms, revoked_ms "
			   "FROM api_keys WHERE hash = ? AND revoked_ms = 0",
	[ST_REVOKE_APIKEY] = "UPDATE api_keys SET revoked_ms = ? WHERE id = ? AND revoked_ms = 0",
	[ST_PUT_DEVICE] = "INSERT INTO devices (" DEVICE_COLS ") VALUES (?,?,?,?,?,?,0,NULL,NULL,?,?,0,0)",
	[ST_GET_DEVICE] = "SELECT " DEVICE_COLS " FROM devices WHERE id = ?",
	[ST_LIST_DEVICES] = "SELECT " DEVICE_COLS " FROM devices ORDER BY id",
	[ST_DEVICE_STATUS] = "UPDATE devices SET status = ?, updated_ms = ? WHERE id = ?",
	/* one conditional update: the core names the status required */
	[ST_DEVICE_SCAN] = "UPDATE devices SET last_seq = ?, last_digest = ?, last_reply = ?, "
			   "updated_ms = ?, last_shipment_id = ?, last_revealed = ? "
			   "WHERE id = ? AND last_seq < ? AND status = ?",
	[ST_INSERT_REVEAL] = "INSERT INTO reveal_counts (device_id, hour, n) VALUES (?, ?, 1) "
			     "ON CONFLICT (device_id, hour) DO UPDATE SET n = n + 1",
	[ST_COUNT_REVEALS] = "SELECT COALESCE(SUM(n), 0) FROM reveal_counts "
			     "WHERE device_id = ? AND hour >= ?",
	[ST_AUDIT_INSERT] = "INSERT INTO audit (seq, time_ms, kind, subject, actor, detail, "
			    "prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)",
	[ST_AUDIT_HEAD] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
	[ST_AUDIT_ALL] = "SELECT seq, time_ms, kind, subject, actor, detail, prev_hash, hash "
			 "FROM audit ORDER BY seq",
	/* secure_delete zeroes the old blob */
	[ST_FORGET_REPLIES] = "UPDATE devices SET last_reply = NULL, last_revealed = 0 "
			      "WHERE last_shipment_id = ? AND last_revealed = 1",
	[ST_SHIPMENT_ERASED] = "SELECT erased_ms, waybill FROM shipments WHERE id = ?",
	[ST_SCAN_FACTS] = "SELECT s.erased_ms, s.status, s.holder, (SELECT COALESCE(SUM(n), 0) "
			  "FROM reveal_counts WHERE device_id = ?2 AND hour >= ?3) "
			  "FROM (SELECT 1) AS one LEFT JOIN shipments s ON s.id = ?1",
	[ST_MAX_SHIPMENT_ID] = "SELECT COALESCE(MAX(id), 0) FROM shipments",
	[ST_META_GET] = "SELECT value FROM meta WHERE key = ?",
	[ST_META_PUT] = "INSERT INTO meta (key, value) VALUES (?, ?) "
			"ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	[ST_META_DELETE] = "DELETE FROM meta WHERE key = ?",
	[ST_LIST_WRAPPED] = "SELECT shipment_id, wrapped_key FROM personal WHERE shipment_id > ? "
			    "ORDER BY shipment_id LIMIT ?",
	/* compare-and-set: a row erased or changed meanwhile is left alone */
	[ST_REWRAP] = "UPDATE personal SET wrapped_key = ? WHERE shipment_id = ? AND wrapped_key = ?",
	[ST_GET_DEVICE_STATUS] = "SELECT status FROM devices WHERE id = ?",
	[ST_WH_PUT] = "INSERT INTO webhooks (" WEBHOOK_COLS ") VALUES (?,?,?,?,?,?,?,?)",
	[ST_WH_STATUS] = "UPDATE webhooks SET status = ?, updated_ms = ? WHERE id = ?",
	[ST_WH_DELETE_OUTBOX] = "DELETE FROM webhook_outbox WHERE webhook_id = ?",
	[ST_WH_DELETE] = "DELETE FROM webhooks WHERE id = ?",
	[ST_WH_GET] = "SELECT " WEBHOOK_COLS " FROM webhooks WHERE id = ?",
	[ST_WH_LIST] = "SELECT " WEBHOOK_COLS " FROM webhooks WHERE merchant = ? ORDER BY id",
	[ST_WH_LIST_ALL] = "SELECT " WEBHOOK_COLS " FROM webhooks ORDER BY id",
	/* one row per active endpoint of the shipment's merchant that wants it */
	[ST_OUTBOX_ADD] = "INSERT INTO webhook_outbox (webhook_id, event_id, waybill, event, state, "
			  "created_ms, next_ms, lease_until, attempts, last_ms, last_status, "
			  "last_error, done_ms) "
			  "SELECT w.id, ?1, ?2, ?3, 'pending', ?4, ?4, 0, 0, 0, 0, '', 0 "
			  "FROM webhooks w WHERE w.status = 'active' AND w.merchant = "
			  "(SELECT merchant FROM shipments WHERE id = ?5) AND (w.events = '*' OR "
			  "instr(',' || w.events || ',', ',' || ?3 || ',') > 0)",
	/* per active endpoint with nothing in flight (no unexpired lease), its
	 * oldest due row that has no older pending row of its waybill: a walk
	 * of that endpoint's pending rows in id order (webhook_outbox_queue)
	 * that stops at the first */
	[ST_OUTBOX_DUE] = "SELECT " OUTBOX_COLS_O " FROM webhooks w JOIN webhook_outbox o ON o.id = "
			  "(SELECT o2.id FROM webhook_outbox o2 WHERE o2.webhook_id = w.id "
			  "AND o2.state = 'pending' AND o2.next_ms <= ?1 AND o2.lease_until <= ?1 "
			  "AND NOT EXISTS (SELECT 1 FROM webhook_outbox p WHERE p.webhook_id = "
			  "o2.webhook_id AND p.waybill = o2.waybill AND p.state = 'pending' AND p.id < o2.id) "
			  "ORDER BY o2.id LIMIT 1) "
			  "WHERE w.status = 'active' AND NOT EXISTS (SELECT 1 FROM webhook_outbox q "
			  "WHERE q.webhook_id = w.id AND q.state = 'pending' AND q.lease_until > 0 "
			  "AND q.lease_until > ?1) ORDER BY o.next_ms, o.id LIMIT ?2",
	[ST_OUTBOX_LEASE] = "UPDATE webhook_outbox SET lease_until = ? WHERE id = ?",
	[ST_OUTBOX_FINISH] = "UPDATE webhook_outbox SET state = ?1, attempts = attempts + 1, "
			     "last_ms = ?2, next_ms = ?3, last_status = ?4, last_error = ?5, "
			     "lease_until = 0, done_ms = CASE WHEN ?1 = 'pending' THEN 0 ELSE ?2 END "
			     "WHERE id = ?6",
	[ST_OUTBOX_REDELIVER] = "UPDATE webhook_outbox SET state = 'pending', created_ms = ?1, "
				"next_ms = ?1, lease_until = 0, done_ms = 0 "
				"WHERE id = ?2 AND webhook_id = ?3",
	[ST_OUTBOX_LIST] = "SELECT " OUTBOX_COLS " FROM webhook_outbox WHERE webhook_id = ? "
			   "AND id > ? ORDER BY id LIMIT ?",
	[ST_GET_EVENT] = "SELECT id, shipment_id, waybill, event, time_ms, device_id, "
			 "device_role, detail, recorded_ms FROM events WHERE id = ?",
	[ST_OUTBOX_PRUNE] = "DELETE FROM webhook_outbox WHERE state <> 'pending' AND done_ms > 0 "
			    "AND done_ms < ?",
	/* print jobs */
	[ST_PJ_EXISTS] = "SELECT 1 FROM print_jobs WHERE shipment_id = ? LIMIT 1",
	[ST_PJ_NEXT_SEQ] = "SELECT COALESCE(MAX(seq), 0) + 1 FROM print_jobs WHERE station = ?",
	[ST_PJ_INSERT] = "INSERT INTO print_jobs (id, station, seq, shipment_id, waybill, merchant, "
			 "format, copies, reprint, state, reason, reason_text, requested_by, "
			 "created_ms, updated_ms, message) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	/* only forward; a repeated "sent" (1) or "printing" (2) updates why it
	 * waits, when that changed (an identical resend changes nothing) */
	[ST_PJ_REPORT] = "UPDATE print_jobs SET state = ?1, reason = ?2, reason_text = ?3, "
			 "updated_ms = ?4 WHERE id = ?5 AND station = ?6 AND "
			 "(state < ?1 OR (state = ?1 AND ?1 IN (1, 2) AND "
			 "(reason <> ?2 OR reason_text <> ?3)))",
	[ST_PJ_FIND] = "SELECT 1 FROM print_jobs WHERE id = ? AND station = ?",
	[ST_PJ_GET] = "SELECT " PJ_COLS " FROM print_jobs WHERE id = ?",
	[ST_PJ_LIST] = "SELECT " PJ_COLS " FROM print_jobs WHERE state = ? "
		       "ORDER BY station, seq LIMIT ?",
	[ST_TRACK_HASH] = "SELECT track_hash FROM shipments WHERE id = ?",
	/* each row ends with its own window (an hour, a month) */
	[ST_TRACK_PRUNE] = "DELETE FROM track_throttle WHERE since_ms + window_ms < ?",
	/* a window that has run out starts again at this attempt */
	[ST_TRACK_HIT] = "INSERT INTO track_throttle (key, since_ms, n, window_ms) "
			 "VALUES (?1, ?2, 1, ?3) ON CONFLICT (key) DO UPDATE SET window_ms = ?3, "
			 "n = CASE WHEN since_ms + ?3 > ?2 THEN n + 1 ELSE 1 END, "
			 "since_ms = CASE WHEN since_ms + ?3 > ?2 THEN since_ms ELSE ?2 END "
			 "RETURNING n",
	[ST_AUDIT_SUBJECT] = "SELECT seq, time_ms, kind, subject, actor, detail FROM audit "
			     "WHERE subject = ? ORDER BY seq LIMIT ?",
	/* console */
	[ST_SESS_PUT] = "INSERT INTO console_sessions (hash, api_key_id, key_hash, csrf, "
			"created_ms, last_ms, expires_ms) VALUES (?,?,?,?,?,?,?)",
	[ST_SESS_GET] = "SELECT api_key_id, key_hash, csrf, created_ms, last_ms, expires_ms "
			"FROM console_sessions WHERE hash = ?",
	[ST_SESS_TOUCH] = "UPDATE console_sessions SET last_ms = MAX(last_ms, ?) WHERE hash = ?",
	[ST_SESS_DELETE] = "DELETE FROM console_sessions WHERE hash = ?",
	[ST_SESS_PURGE] = "DELETE FROM console_sessions WHERE expires_ms <= ? OR last_ms < ?",
	[ST_EVENT_HEAD] = "SELECT COALESCE(MAX(id), 0) FROM events",
};

/* Schema migrations: index i brings the schema from version i to i + 1. */
static const char *const migrations[] = {
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE shipments ("
	"  id INTEGER PRIMARY KEY, waybill TEXT NOT NULL UNIQUE, merchant TEXT NOT NULL,"
	"  merchant_ref TEXT NOT NULL, status TEXT NOT NULL, token TEXT NOT NULL,"
	"  region TEXT NOT NULL, created_ms INTEGER NOT NULL, delivered_ms INTEGER NOT NULL,"
	"  erased_ms INTEGER NOT NULL, public_json TEXT NOT NULL);"
	"CREATE INDEX shipments_created ON shipments (created_ms, id);"
	"CREATE INDEX shipments_merchant ON shipments (merchant, id);"
	"CREATE TABLE personal (shipment_id INTEGER PRIMARY KEY REFERENCES shipments(id),"
	"  wrapped_key BLOB NOT NULL, ciphertext BLOB NOT NULL);"
	"CREATE TABLE idempotency (api_key_id TEXT NOT NULL, key TEXT NOT NULL,"
	"  request_hash BLOB NOT NULL, status INTEGER NOT NULL, response TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL, PRIMARY KEY (api_key_id, key));"
	"CREATE TABLE events (id INTEGER PRIMARY KEY, shipment_id INTEGER NOT NULL,"
	"  waybill TEXT NOT NULL, event TEXT NOT NULL, time_ms INTEGER NOT NULL,"
	"  device_id TEXT NOT NULL, device_role TEXT NOT NULL, detail TEXT NOT NULL);"
	"CREATE INDEX events_shipment ON events (shipment_id, id);"
	"CREATE TABLE api_keys (id TEXT PRIMARY KEY, hash BLOB NOT NULL UNIQUE,"
	"  role TEXT NOT NULL, merchant TEXT NOT NULL, bindings TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL, revoked_ms INTEGER NOT NULL);",

	/* 2: devices, custody, reveal quota, hash-chained audit log */
	"ALTER TABLE shipments ADD COLUMN holder TEXT NOT NULL DEFAULT '';"
	"CREATE TABLE devices (id TEXT PRIMARY KEY, sign_pk BLOB NOT NULL, box_pk BLOB NOT NULL,"
	"  role TEXT NOT NULL, zone TEXT NOT NULL, status TEXT NOT NULL,"
	"  last_seq INTEGER NOT NULL, last_digest BLOB, last_reply BLOB,"
	"  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
	"CREATE TABLE reveals (id INTEGER PRIMARY KEY, device_id TEXT NOT NULL,"
	"  shipment_id INTEGER NOT NULL, time_ms INTEGER NOT NULL);"
	"CREATE INDEX reveals_device ON reveals (device_id, time_ms);"
	"CREATE TABLE audit (seq INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL,"
	"  kind TEXT NOT NULL, subject TEXT NOT NULL, actor TEXT NOT NULL, detail TEXT NOT NULL,"
	"  prev_hash BLOB NOT NULL, hash BLOB NOT NULL);",

	/* 3: the masked view a scanning device is shown, built once at issue */
	"ALTER TABLE shipments ADD COLUMN device_view TEXT NOT NULL DEFAULT '';",

	/* 4: reveal quota as hourly counters: counting a rolling day costs at
	 * most 25 rows, however many reveals a device made */
	"CREATE TABLE reveal_counts (device_id TEXT NOT NULL, hour INTEGER NOT NULL,"
	"  n INTEGER NOT NULL, PRIMARY KEY (device_id, hour)) WITHOUT ROWID;"
	"INSERT INTO reveal_counts SELECT device_id, time_ms / 3600000, COUNT(*) FROM reveals"
	"  GROUP BY 1, 2;"
	"DROP TABLE reveals;",

	/* 5: a stored reply names its shipment and whether it reveals, so
	 * erasure can withdraw it (replies stored before cannot be attributed
	 * and may hold contact details: they are dropped); and when each event
	 * was recorded (merchant events, protocol.md 10.1; 0 in older rows,
	 * read as time_ms) */
	"ALTER TABLE devices ADD COLUMN last_shipment_id INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE devices ADD COLUMN last_revealed INTEGER NOT NULL DEFAULT 0;"
	"UPDATE devices SET last_reply = NULL;"
	"CREATE INDEX devices_last_shipment ON devices (last_shipment_id) "
	"  WHERE last_revealed = 1;"
	"ALTER TABLE events ADD COLUMN recorded_ms INTEGER NOT NULL DEFAULT 0;",

	/* 6: webhooks: merchants' endpoints and the durable outbox, filled in
	 * the transaction that appends each event (docs/webhooks.md) */
	"CREATE TABLE webhooks (id TEXT PRIMARY KEY, merchant TEXT NOT NULL, url TEXT NOT NULL,"
	"  events TEXT NOT NULL, secret TEXT NOT NULL, status TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
	"CREATE INDEX webhooks_merchant ON webhooks (merchant, id);"
	"CREATE TABLE webhook_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  webhook_id TEXT NOT NULL, event_id INTEGER NOT NULL, waybill TEXT NOT NULL,"
	"  event TEXT NOT NULL, state TEXT NOT NULL, created_ms INTEGER NOT NULL,"
	"  next_ms INTEGER NOT NULL, lease_until INTEGER NOT NULL, attempts INTEGER NOT NULL,"
	"  last_ms INTEGER NOT NULL, last_status INTEGER NOT NULL, last_error TEXT NOT NULL,"
	"  done_ms INTEGER NOT NULL);"
	"CREATE INDEX webhook_outbox_due ON webhook_outbox (state, next_ms);"
	"CREATE INDEX webhook_outbox_order ON webhook_outbox (webhook_id, waybill, id);"
	"CREATE INDEX webhook_outbox_queue ON webhook_outbox (webhook_id, state, id);"
	"CREATE INDEX webhook_outbox_leased ON webhook_outbox (webhook_id, lease_until) "
	"  WHERE state = 'pending' AND lease_until > 0;",
	/* 7 (print_jobs): jobs for print stations, each with its signed
	 * message (the record sealed to the station); state is enum
	 * smile_job_state, so "only forward" is one comparison */
	"CREATE TABLE print_jobs (id TEXT PRIMARY KEY, station TEXT NOT NULL,"
	"  seq INTEGER NOT NULL, shipment_id INTEGER NOT NULL, waybill TEXT NOT NULL,"
	"  merchant TEXT NOT NULL, format INTEGER NOT NULL, copies INTEGER NOT NULL,"
	"  reprint INTEGER NOT NULL, state INTEGER NOT NULL, reason INTEGER NOT NULL,"
	"  reason_text TEXT NOT NULL, requested_by TEXT NOT NULL, created_ms INTEGER NOT NULL,"
	"  updated_ms INTEGER NOT NULL, message BLOB NOT NULL, UNIQUE (station, seq));"
	"CREATE INDEX print_jobs_shipment ON print_jobs (shipment_id);"
	"CREATE INDEX print_jobs_state ON print_jobs (state, station, seq);",
	/* 8: console sessions (docs/console.md): a hash of the cookie, never
	 * the cookie or the API key; the key's id and hash, checked again on
	 * every request. */
	"CREATE TABLE console_sessions (hash BLOB PRIMARY KEY, api_key_id TEXT NOT NULL,"
	"  key_hash BLOB NOT NULL, csrf TEXT NOT NULL, created_ms INTEGER NOT NULL,"
	"  last_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);"
	"CREATE INDEX console_sessions_expiry ON console_sessions (expires_ms);",
	/* 9 (tracking page, docs/tracking.md): the keyed hash of the
	 * recipient's phone digits, set at issue and cleared by erasure (NULL
	 * for shipments issued before); attempt counters shared by every
	 * process on the store; the audit entries of one waybill */
	"ALTER TABLE shipments ADD COLUMN track_hash BLOB;"
	"CREATE TABLE track_throttle (key TEXT PRIMARY KEY, since_ms INTEGER NOT NULL,"
	"  n INTEGER NOT NULL, window_ms INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX track_throttle_end ON track_throttle (since_ms + window_ms);"
	"CREATE INDEX audit_subject ON audit (subject, seq);",
};
#define N_MIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))
_Static_assert(N_MIGRATIONS == SMILE_STORE_SCHEMA_VERSION, "one migration per version");

struct store_conn {
	sqlite3 *db;
	int writer;
	sqlite3_stmt *st[ST_COUNT];
};

#define BUSY_TIMEOUT_MS 10000

static enum smile_err db_err(sqlite3 *db, struct smile_error *e, const char *what)
{
	/* SQLite messages name tables and constraints, never row values. */
	return smile_error_set(e, SMILE_ERR_STORE, NULL, "%s: %s", what,
			       db ? sqlite3_errmsg(db) : "cannot open");
}

static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* Statement `id` of connection c, prepared once and cached, reset and with
 * no bindings; NULL (logged) when it cannot be prepared. Every op, reader or
 * writer, gets its statements here. */
static sqlite3_stmt *stmt(struct store_conn *c, enum stmt_id id)
{
	if (c->st[id] == NULL &&
	    sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->st[id],
			       NULL) != SQLITE_OK) {
		smile_log(SMILE_LOG_ERROR, "store.prepare_failed", SMILE_KV_INT("stmt", id));
		return NULL;
	}
	sqlite3_reset(c->st[id]);
	sqlite3_clear_bindings(c->st[id]);
	return c->st[id];
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_STATIC);
}

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc;
}

static enum smile_err map_step(int rc)
{
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return SMILE_OK;
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return SMILE_ERR_EXISTS;
	return SMILE_ERR_STORE;
}

/* Run a statement that returns no rows; SMILE_OK when it ran (check
 * sqlite3_changes for what it did). */
static enum smile_err run_done(sqlite3_stmt *st)
{
	return step_done(st) == SQLITE_DONE ? SMILE_OK : SMILE_ERR_STORE;
}

static void col_text(sqlite3_stmt *st, int i, char *out, size_t n)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	snprintf(out, n, "%s", t ? (const char *)t : "");
}

/* ------------------------------------------------------------ lifecycle */

static void conn_free(struct store_conn *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(c->st[i]);
	sqlite3_close(c->db);
	free(c);
}

static enum smile_err migrate(sqlite3 *db, struct smile_error *e)
{
	sqlite3_stmt *st = NULL;
	int version = 0;

	if (exec(db, "BEGIN IMMEDIATE") != SQLITE_OK)
		return db_err(db, e, "begin migration");
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st,
			       NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			version = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	if (version > (int)N_MIGRATIONS) {
		exec(db, "ROLLBACK");
		return smile_error_set(e, SMILE_ERR_SCHEMA, NULL,
				       "database schema version %d is newer than this "
				       "gateway's %d", version, (int)N_MIGRATIONS);
	}
	for (int v = version; v < (int)N_MIGRATIONS; v++) {
		char sql[128];
		if (exec(db, migrations[v]) != SQLITE_OK) {
			enum smile_err rc = db_err(db, e, "migrate schema");
			exec(db, "ROLLBACK");
			return rc;
		}
		snprintf(sql, sizeof(sql),
			 "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', '%d')",
			 v + 1);
		if (exec(db, sql) != SQLITE_OK) {
			enum smile_err rc = db_err(db, e, "record schema version");
			exec(db, "ROLLBACK");
			return rc;
		}
	}
	if (exec(db, "COMMIT") != SQLITE_OK)
		return db_err(db, e, "commit migration");
	return SMILE_OK;
}

/* "memory:NAME" (NAME: letters, digits, '-', '_') -> the URI of the
 * process-wide shared-cache database NAME; 0 when `path` is a file path,
 * -1 when it is a malformed memory name. */
static int memory_uri(const char *path, char *uri, size_t n)
{
	const char *name = path + 7;
	size_t len;

	if (strncmp(path, "memory:", 7) != 0)
		return 0;
	len = strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_");
	if (len == 0 || name[len] != '\0' || len > 64)
		return -1;
	snprintf(uri, n, "file:%s?mode=memory&cache=shared", name);
	return 1;
}

static enum smile_err sq_open(const char *path, enum store_conn_kind kind, int create,
			      struct store_conn **out, struct smile_error *e)
{
	int writer = kind == STORE_CONN_WRITER;
	int flags = writer ? SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0)
			   : SQLITE_OPEN_READONLY;
	struct store_conn *c;
	enum smile_err rc;
	char uri[128];
	int memory = memory_uri(path, uri, sizeof(uri));

	*out = NULL;
	if (!sqlite3_threadsafe())
		return smile_error_set(e, SMILE_ERR_STORE, NULL, "SQLite built without threads");
	if (memory < 0)
		return smile_error_set(e, SMILE_ERR_INVALID, "store",
				       "memory store name must be 1-64 letters, digits, - or _");
	if (memory) {
		path = uri;
		flags |= SQLITE_OPEN_URI;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
	c->writer = writer;
	if (sqlite3_open_v2(path, &c->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		rc = db_err(c->db, e, "open database");
		goto fail;
	}
	sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
	/* Map the file: readers then share the page cache instead of copying
	 * every page through pread(). */
	exec(c->db, "PRAGMA mmap_size = 268435456;");
	if (exec(c->db, "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;") != SQLITE_OK) {
		rc = db_err(c->db, e, "configure database");
		goto fail;
	}
	if (writer) {
		/* The store holds sealed blobs only, but it is nobody else's business. */
		if (!memory && chmod(path, 0600) != 0 && errno != ENOENT) {
			rc = smile_error_set(e, SMILE_ERR_IO, "store", "cannot set database mode 0600");
			goto fail;
		}
		if (exec(c->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;") !=
		    SQLITE_OK) {
			rc = db_err(c->db, e, "enable WAL");
			goto fail;
		}
		rc = migrate(c->db, e);
		if (rc)
			goto fail;
	}
	*out = c;
	return SMILE_OK;
fail:
	conn_free(c);
	return rc;
}

static void sq_close(struct store_conn *c)
{
	if (c && c->writer && c->db)
		sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	conn_free(c);
}

static enum smile_err sq_ping(struct store_conn *c)
{
	return exec(c->db, "SELECT 1") == SQLITE_OK ? SMILE_OK : SMILE_ERR_STORE;
}

/* ------------------------------------------------------------ transactions */

static enum smile_err exec_rc(struct store_conn *c, const char *sql)
{
	return exec(c->db, sql) == SQLITE_OK ? SMILE_OK : SMILE_ERR_STORE;
}

static enum smile_err sq_begin(struct store_conn *c)
{
	return exec_rc(c, "BEGIN IMMEDIATE");
}

static enum smile_err sq_commit(struct store_conn *c)
{
	if (exec(c->db, "COMMIT") == SQLITE_OK)
		return SMILE_OK;
	smile_log(SMILE_LOG_ERROR, "store.commit_failed",
		  SMILE_KV_INT("sqlite", sqlite3_extended_errcode(c->db)));
	return SMILE_ERR_STORE;
}

static enum smile_err sq_rollback(struct store_conn *c)
{
	return exec_rc(c, "ROLLBACK");
}

/* Savepoint names come from the core ("job", "item"): plain identifiers. */
static enum smile_err sp_exec(struct store_conn *c, const char *verb, const char *name)
{
	char sql[64];
	int n = snprintf(sql, sizeof(sql), "%s %s", verb, name);
	if (n < 0 || (size_t)n >= sizeof(sql))
		return SMILE_ERR_INVALID;
	return exec_rc(c, sql);
}

static enum smile_err sq_savepoint(struct store_conn *c, const char *name)
{
	return sp_exec(c, "SAVEPOINT", name);
}

static enum smile_err sq_rollback_to(struct store_conn *c, const char *name)
{
	return sp_exec(c, "ROLLBACK TO", name);
}

static enum smile_err sq_release(struct store_conn *c, const char *name)
{
	return sp_exec(c, "RELEASE", name);
}

/* ------------------------------------------------------------ writer row ops */

static enum smile_err sq_insert_idem(struct store_conn *c, const struct smile_store_idem *idem,
				     int64_t created_ms)
{
	sqlite3_stmt *st = stmt(c, ST_INSERT_IDEM);
	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, idem->api_key_id);
	bind_text(st, 2, idem->key);
	sqlite3_bind_blob(st, 3, idem->request_hash, 32, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, idem->status);
	bind_text(st, 5, idem->response);
	sqlite3_bind_int64(st, 6, created_ms);
	return map_step(step_done(st));
}

static enum smile_err sq_insert_shipment(struct store_conn *c,
					 const struct smile_store_shipment *r,
					 const uint8_t *track_hash)
{
	sqlite3_stmt *st = stmt(c, ST_INSERT_SHIPMENT);
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)r->id);
	bind_text(st, 2, r->waybill);
	bind_text(st, 3, r->merchant);
	bind_text(st, 4, r->merchant_ref);
	bind_text(st, 5, smile_shipment_status_name(r->status));
	bind_text(st, 6, r->token);
	bind_text(st, 7, r->region);
	sqlite3_bind_int64(st, 8, r->created_ms);
	sqlite3_bind_int64(st, 9, r->delivered_ms);
	sqlite3_bind_int64(st, 10, r->erased_ms);
	bind_text(st, 11, r->holder);
	bind_text(st, 12, r->public_json);
	bind_text(st, 13, r->device_view);
	if (track_hash)
		sqlite3_bind_blob(st, 14, track_hash, SMILE_STORE_TRACK_HASH_BYTES, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 14);
	return map_step(step_done(st));
}

static enum smile_err sq_insert_personal(struct store_conn *c, uint64_t id,
					 const struct smile_store_personal *p)
{
	sqlite3_stmt *st = stmt(c, ST_INSERT_PERSONAL);
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_blob(st, 2, p->wrapped_key, (int)p->wrapped_len, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, p->ct, (int)p->ct_len, SQLITE_STATIC);
	return map_step(step_done(st));
}

static enum smile_err sq_insert_event(struct store_conn *c, const struct smile_store_event *ev,
				      uint64_t *id)
{
	sqlite3_stmt *st = stmt(c, ST_INSERT_EVENT);
	enum smile_err rc;
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)ev->shipment_id);
	bind_text(st, 2, ev->waybill);
	bind_text(st, 3, ev->event);
	sqlite3_bind_int64(st, 4, ev->time_ms);
	bind_text(st, 5, ev->device_id);
	bind_text(st, 6, ev->device_role);
	bind_text(st, 7, ev->detail);
	sqlite3_bind_int64(st, 8, ev->recorded_ms ? ev->recorded_ms : ev->time_ms);
	rc = map_step(step_done(st));
	if (rc == SMILE_OK && id)
		*id = (uint64_t)sqlite3_last_insert_rowid(c->db);
	return rc;
}

static enum smile_err sq_set_shipment_status(struct store_conn *c, uint64_t id,
					     enum smile_shipment_status to, int64_t delivered_ms,
					     const char *holder, int known)
{
	sqlite3_stmt *st = stmt(c, ST_UPDATE_STATUS);
	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, smile_shipment_status_name(to));
	sqlite3_bind_int64(st, 2, delivered_ms);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)id);
	if (holder)
		bind_text(st, 4, holder);
	else
		sqlite3_bind_null(st, 4);
	if (run_done(st))
		return SMILE_ERR_STORE;
	return known || sqlite3_changes(c->db) ? SMILE_OK : SMILE_ERR_NOT_FOUND;
}

static enum smile_err sq_mark_erased(struct store_conn *c, uint64_t id, int64_t now_ms,
				     char waybill[SMILE_STORE_WAYBILL_MAX])
{
	sqlite3_stmt *st = stmt(c, ST_MARK_ERASED);
	int changed, step;

	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)id);
	if (run_done(st))
		return SMILE_ERR_STORE;
	changed = sqlite3_changes(c->db) != 0;
	/* the waybill; or, when nothing changed, whether the row exists */
	st = stmt(c, ST_SHIPMENT_ERASED);
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		col_text(st, 1, waybill, SMILE_STORE_WAYBILL_MAX);
	sqlite3_reset(st);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		return SMILE_ERR_STORE;
	if (!changed)
		return step == SQLITE_ROW ? SMILE_ERR_SHREDDED : SMILE_ERR_NOT_FOUND;
	return SMILE_OK;
}

static enum smile_err by_id(struct store_conn *c, enum stmt_id which, uint64_t id)
{
	sqlite3_stmt *st = stmt(c, which);
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	return run_done(st);
}

static enum smile_err sq_delete_personal(struct store_conn *c, uint64_t id)
{
	return by_id(c, ST_ERASE_PERSONAL, id);
}

static enum smile_err sq_forget_replies(struct store_conn *c, uint64_t id)
{
	return by_id(c, ST_FORGET_REPLIES, id);
}

static enum smile_err sq_scan_facts(struct store_conn *c, uint64_t id, const char *device_id,
				    int64_t since_hour, struct store_scan_facts *out)
{
	sqlite3_stmt *st = stmt(c, ST_SCAN_FACTS);
	int step;

	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_text(st, 2, device_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, since_hour);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		out->found = sqlite3_column_type(st, 1) != SQLITE_NULL;
		out->erased_ms = sqlite3_column_int64(st, 0);
		col_text(st, 1, out->status, sizeof(out->status));
		col_text(st, 2, out->holder, sizeof(out->holder));
		out->reveals = (uint64_t)sqlite3_column_int64(st, 3);
	}
	sqlite3_reset(st);
	return step == SQLITE_ROW || step == SQLITE_DONE ? SMILE_OK : SMILE_ERR_STORE;
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

static enum smile_err sq_put_apikey(struct store_conn *c, const struct smile_store_apikey *k)
{
	char bind[SMILE_STORE_MAX_BINDINGS * SMILE_STORE_ID_MAX];
	sqlite3_stmt *st = stmt(c, ST_PUT_APIKEY);
	if (st == NULL)
		return SMILE_ERR_STORE;
	bindings_text(k, bind, sizeof(bind));
	bind_text(st, 1, k->id);
	sqlite3_bind_blob(st, 2, k->hash, 32, SQLITE_STATIC);
	bind_text(st, 3, smile_role_name(k->role));
	bind_text(st, 4, k->merchant);
	sqlite3_bind_text(st, 5, bind, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 6, k->created_ms);
	return map_step(step_done(st));
}

static enum smile_err sq_revoke_apikey(struct store_conn *c, const char *id, int64_t now_ms)
{
	sqlite3_stmt *st = stmt(c, ST_REVOKE_APIKEY);
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, now_ms);
	bind_text(st, 2, id);
	if (run_done(st))
		return SMILE_ERR_STORE;
	return sqlite3_changes(c->db) ? SMILE_OK : SMILE_ERR_NOT_FOUND;
}

static enum smile_err sq_put_device(struct store_conn *c, const struct smile_store_device *d,
				    enum smile_device_status status)
{
	sqlite3_stmt *st = stmt(c, ST_PUT_DEVICE);
	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, d->id);
	sqlite3_bind_blob(st, 2, d->sign_pk, 32, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, d->box_pk, 32, SQLITE_STATIC);
	bind_text(st, 4, smile_device_role_name(d->role));
	bind_text(st, 5, d->zone);
	bind_text(st, 6, smile_device_status_name(status));
	sqlite3_bind_int64(st, 7, d->created_ms);
	sqlite3_bind_int64(st, 8, d->created_ms);
	return map_step(step_done(st));
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

static enum smile_err sq_device_status(struct store_conn *c, const char *id,
				       enum smile_device_status *out)
{
	sqlite3_stmt *st = stmt(c, ST_GET_DEVICE_STATUS);
	enum smile_err rc;
	int step;

	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, id);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		*out = device_status_text(id, (const char *)sqlite3_column_text(st, 0));
		rc = SMILE_OK;
	} else {
		rc = step == SQLITE_DONE ? SMILE_ERR_NOT_FOUND : SMILE_ERR_STORE;
	}
	sqlite3_reset(st);
	return rc;
}

static enum smile_err sq_set_device_status(struct store_conn *c, const char *id,
					   enum smile_device_status to, int64_t now_ms)
{
	sqlite3_stmt *st = stmt(c, ST_DEVICE_STATUS);
	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, smile_device_status_name(to));
	sqlite3_bind_int64(st, 2, now_ms);
	bind_text(st, 3, id);
	return run_done(st);
}

static enum smile_err sq_device_advance(struct store_conn *c,
					const struct store_device_advance *a)
{
	sqlite3_stmt *st = stmt(c, ST_DEVICE_SCAN);
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)a->seq);
	sqlite3_bind_blob(st, 2, a->digest, 32, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, a->reply, (int)a->reply_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, a->time_ms);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)a->shipment_id);
	sqlite3_bind_int(st, 6, a->revealed);
	bind_text(st, 7, a->device_id);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)a->seq);
	bind_text(st, 9, smile_device_status_name(a->require));
	if (run_done(st))
		return SMILE_ERR_STORE;
	/* seq not above last_seq, another status, or no such device */
	return sqlite3_changes(c->db) ? SMILE_OK : SMILE_ERR_REPLAY;
}

static enum smile_err sq_add_reveal(struct store_conn *c, const char *device_id, int64_t hour)
{
	sqlite3_stmt *st = stmt(c, ST_INSERT_REVEAL);
	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, device_id);
	sqlite3_bind_int64(st, 2, hour);
	return run_done(st);
}

static enum smile_err sq_audit_head(struct store_conn *c, uint64_t *seq, uint8_t hash[32])
{
	sqlite3_stmt *st = stmt(c, ST_AUDIT_HEAD);
	int step;

	*seq = 0;
	memset(hash, 0, 32);
	if (st == NULL)
		return SMILE_ERR_STORE;
	step = sqlite3_step(st);
	if (step == SQLITE_ROW && sqlite3_column_bytes(st, 1) == 32) {
		*seq = (uint64_t)sqlite3_column_int64(st, 0);
		memcpy(hash, sqlite3_column_blob(st, 1), 32);
	}
	sqlite3_reset(st);
	return step == SQLITE_ROW || step == SQLITE_DONE ? SMILE_OK : SMILE_ERR_STORE;
}

static enum smile_err sq_audit_insert(struct store_conn *c, const struct store_audit_row *row)
{
	sqlite3_stmt *st = stmt(c, ST_AUDIT_INSERT);
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)row->seq);
	sqlite3_bind_int64(st, 2, row->time_ms);
	bind_text(st, 3, row->kind);
	bind_text(st, 4, row->subject);
	bind_text(st, 5, row->actor);
	bind_text(st, 6, row->detail);
	sqlite3_bind_blob(st, 7, row->prev_hash, (int)row->prev_len, SQLITE_STATIC);
	sqlite3_bind_blob(st, 8, row->hash, (int)row->hash_len, SQLITE_STATIC);
	return map_step(step_done(st));
}

/* The block starts at meta 'next_id' (or past the largest id stored, for
 * stores older than the lease) and the meta row moves past it in the same
 * transaction. */
static enum smile_err sq_lease_ids(struct store_conn *c, uint64_t count, uint64_t *start)
{
	sqlite3_stmt *st = stmt(c, ST_MAX_SHIPMENT_ID);
	uint64_t next = 1, v;
	char buf[24];

	if (st == NULL)
		return SMILE_ERR_STORE;
	if (sqlite3_step(st) == SQLITE_ROW)
		next = (uint64_t)sqlite3_column_int64(st, 0) + 1;
	sqlite3_reset(st);
	st = stmt(c, ST_META_GET);
	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, "next_id");
	if (sqlite3_step(st) == SQLITE_ROW) {
		v = (uint64_t)strtoull((const char *)sqlite3_column_text(st, 0), NULL, 10);
		if (v > next)
			next = v;
	}
	sqlite3_reset(st);
	st = stmt(c, ST_META_PUT);
	if (st == NULL)
		return SMILE_ERR_STORE;
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)(next + count));
	bind_text(st, 1, "next_id");
	bind_text(st, 2, buf);
	if (run_done(st))
		return SMILE_ERR_STORE;
	*start = next;
	return SMILE_OK;
}

static enum smile_err sq_meta_get(struct store_conn *c, const char *key, char *out, size_t n)
{
	sqlite3_stmt *st = stmt(c, ST_META_GET);
	enum smile_err rc;
	int step;

	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, key);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(st, 0);
		size_t len = v ? (size_t)sqlite3_column_bytes(st, 0) : 0;
		if (len >= n) {
			rc = SMILE_ERR_TOO_LARGE;
		} else {
			memcpy(out, v ? (const char *)v : "", len);
			out[len] = '\0';
			rc = SMILE_OK;
		}
	} else {
		rc = step == SQLITE_DONE ? SMILE_ERR_NOT_FOUND : SMILE_ERR_STORE;
	}
	sqlite3_reset(st);
	return rc;
}

static enum smile_err sq_meta_put(struct store_conn *c, const char *key, const char *value)
{
	sqlite3_stmt *st = stmt(c, value != NULL ? ST_META_PUT : ST_META_DELETE);
	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, key);
	if (value != NULL)
		bind_text(st, 2, value);
	return map_step(step_done(st));
}

static enum smile_err sq_rewrap(struct store_conn *c, const struct smile_store_wrapped *r)
{
	sqlite3_stmt *st = stmt(c, ST_REWRAP);
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_blob(st, 1, r->new_key, (int)r->new_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)r->shipment_id);
	sqlite3_bind_blob(st, 3, r->wrapped_key, (int)r->wrapped_len, SQLITE_STATIC);
	if (run_done(st))
		return SMILE_ERR_STORE;
	return sqlite3_changes(c->db) ? SMILE_OK : SMILE_ERR_CONFLICT;
}

/* ------------------------------------------------------------ reader ops */

static enum smile_err read_shipment_row(sqlite3_stmt *st, struct smile_store_shipment *out)
{
	char status[SMILE_STORE_STATUS_MAX];
	const unsigned char *pj;
	memset(out, 0, sizeof(*out));
	out->id = (uint64_t)sqlite3_column_int64(st, 0);
	col_text(st, 1, out->waybill, sizeof(out->waybill));
	col_text(st, 2, out->merchant, sizeof(out->merchant));
	col_text(st, 3, out->merchant_ref, sizeof(out->merchant_ref));
	col_text(st, 4, status, sizeof(status));
	col_text(st, 5, out->token, sizeof(out->token));
	col_text(st, 6, out->region, sizeof(out->region));
	out->created_ms = sqlite3_column_int64(st, 7);
	out->delivered_ms = sqlite3_column_int64(st, 8);
	out->erased_ms = sqlite3_column_int64(st, 9);
	col_text(st, 10, out->holder, sizeof(out->holder));
	pj = sqlite3_column_text(st, 11);
	out->public_json = strdup(pj ? (const char *)pj : "{}");
	pj = sqlite3_column_text(st, 12);
	if (pj && *pj)
		out->device_view = strdup((const char *)pj);
	if (out->public_json == NULL) {
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

static enum smile_err sq_get_shipment(struct store_conn *c, const char *waybill, uint64_t id,
				      struct smile_store_shipment *out)
{
	sqlite3_stmt *st = stmt(c, waybill ? ST_GET_SHIPMENT : ST_GET_SHIPMENT_ID);
	enum smile_err rc;
	int step;

	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return SMILE_ERR_STORE;
	if (waybill)
		bind_text(st, 1, waybill);
	else
		sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		rc = read_shipment_row(st, out);
	else
		rc = step == SQLITE_DONE ? SMILE_ERR_NOT_FOUND : SMILE_ERR_STORE;
	sqlite3_reset(st);
	return rc;
}

static enum smile_err sq_list_shipments(struct store_conn *c,
					const struct store_shipment_query *q,
					smile_store_shipment_cb cb, void *ctx)
{
	/* The merchant filter varies in length, so this statement is built per
	 * call (still fully parameterised) instead of cached. */
	char sql[512];
	size_t used;
	sqlite3_stmt *st = NULL;
	enum smile_err rc = SMILE_OK;
	int step, bi = 1;

	used = (size_t)snprintf(sql, sizeof(sql),
				"SELECT " SHIPMENT_COLS " FROM shipments WHERE created_ms >= ? "
				"AND id > ?");
	if (q->merchants && q->n_merchants) {
		used += (size_t)snprintf(sql + used, sizeof(sql) - used, " AND merchant IN (");
		for (size_t i = 0; i < q->n_merchants; i++)
			used += (size_t)snprintf(sql + used, sizeof(sql) - used, "%s?",
						 i ? "," : "");
		used += (size_t)snprintf(sql + used, sizeof(sql) - used, ")");
	}
	snprintf(sql + used, sizeof(sql) - used, " ORDER BY id LIMIT ?");

	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, bi++, q->since_ms);
	sqlite3_bind_int64(st, bi++, (sqlite3_int64)q->after_id);
	if (q->merchants)
		for (size_t i = 0; i < q->n_merchants; i++)
			bind_text(st, bi++, q->merchants[i]);
	sqlite3_bind_int64(st, bi, (sqlite3_int64)q->limit);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct smile_store_shipment row;
		rc = read_shipment_row(st, &row);
		if (rc)
			break;
		int stop = cb(ctx, &row);
		smile_store_shipment_release(&row);
		if (stop)
			break;
	}
	if (rc == SMILE_OK && step != SQLITE_ROW && step != SQLITE_DONE)
		rc = SMILE_ERR_STORE;
	sqlite3_finalize(st);
	return rc;
}

static enum smile_err sq_get_personal(struct store_conn *c, uint64_t id,
				      struct smile_store_personal *out)
{
	sqlite3_stmt *st = stmt(c, ST_GET_PERSONAL);
	enum smile_err rc = SMILE_ERR_STORE;

	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW: {
		const void *wk = sqlite3_column_blob(st, 1);
		int wn = sqlite3_column_bytes(st, 1);
		const void *ct = sqlite3_column_blob(st, 2);
		int cn = sqlite3_column_bytes(st, 2);
		if (sqlite3_column_int64(st, 0) != 0 || wk == NULL || ct == NULL) {
			rc = SMILE_ERR_SHREDDED;
			break;
		}
		if (wn <= 0 || (size_t)wn > sizeof(out->wrapped_key) || cn <= 0) {
			rc = SMILE_ERR_STORE;
			break;
		}
		out->ct = malloc((size_t)cn);
		if (out->ct == NULL) {
			rc = SMILE_ERR_NOMEM;
			break;
		}
		memcpy(out->wrapped_key, wk, (size_t)wn);
		out->wrapped_len = (size_t)wn;
		memcpy(out->ct, ct, (size_t)cn);
		out->ct_len = (size_t)cn;
		rc = SMILE_OK;
		break;
	}
	case SQLITE_DONE:
		rc = SMILE_ERR_NOT_FOUND;
		break;
	default:
		rc = SMILE_ERR_STORE;
	}
	sqlite3_reset(st);
	return rc;
}

static enum smile_err sq_retention_due(struct store_conn *c, int64_t delivered_before_ms,
				       int64_t created_before_ms, uint64_t *ids, size_t max,
				       size_t *n)
{
	sqlite3_stmt *st = stmt(c, ST_RETENTION);
	enum smile_err rc = SMILE_OK;
	int step;

	*n = 0;
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, delivered_before_ms);
	sqlite3_bind_int64(st, 2, delivered_before_ms);
	sqlite3_bind_int64(st, 3, created_before_ms);
	sqlite3_bind_int64(st, 4, created_before_ms);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)max);
	while ((step = sqlite3_step(st)) == SQLITE_ROW && *n < max)
		ids[(*n)++] = (uint64_t)sqlite3_column_int64(st, 0);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = SMILE_ERR_STORE;
	sqlite3_reset(st);
	return rc;
}

/* An events row (EVENT_COLS order) into *ev; an event recorded before
 * recorded_ms existed reads its scan time. */
static void event_row(sqlite3_stmt *st, struct smile_store_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->id = (uint64_t)sqlite3_column_int64(st, 0);
	ev->shipment_id = (uint64_t)sqlite3_column_int64(st, 1);
	col_text(st, 2, ev->waybill, sizeof(ev->waybill));
	col_text(st, 3, ev->event, sizeof(ev->event));
	ev->time_ms = sqlite3_column_int64(st, 4);
	col_text(st, 5, ev->device_id, sizeof(ev->device_id));
	col_text(st, 6, ev->device_role, sizeof(ev->device_role));
	col_text(st, 7, ev->detail, sizeof(ev->detail));
	ev->recorded_ms = sqlite3_column_int64(st, 8);
	if (ev->recorded_ms == 0)
		ev->recorded_ms = ev->time_ms;
}

static enum smile_err sq_list_events(struct store_conn *c, uint64_t shipment_id,
				     smile_store_event_cb cb, void *ctx)
{
	sqlite3_stmt *st = stmt(c, ST_LIST_EVENTS);
	enum smile_err rc = SMILE_OK;
	int step;

	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)shipment_id);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct smile_store_event ev;
		event_row(st, &ev);
		if (cb(ctx, &ev))
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = SMILE_ERR_STORE;
	sqlite3_reset(st);
	return rc;
}

static enum smile_err sq_get_idem(struct store_conn *c, const char *api_key_id, const char *key,
				  struct smile_store_idem *out)
{
	sqlite3_stmt *st = stmt(c, ST_GET_IDEM);
	enum smile_err rc;
	int step;

	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, api_key_id);
	bind_text(st, 2, key);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		const void *h = sqlite3_column_blob(st, 0);
		const unsigned char *resp = sqlite3_column_text(st, 2);
		snprintf(out->api_key_id, sizeof(out->api_key_id), "%s", api_key_id);
		snprintf(out->key, sizeof(out->key), "%s", key);
		if (h && sqlite3_column_bytes(st, 0) == 32)
			memcpy(out->request_hash, h, 32);
		out->status = sqlite3_column_int(st, 1);
		out->response = strdup(resp ? (const char *)resp : "");
		rc = out->response ? SMILE_OK : SMILE_ERR_NOMEM;
	} else {
		rc = step == SQLITE_DONE ? SMILE_ERR_NOT_FOUND : SMILE_ERR_STORE;
	}
	sqlite3_reset(st);
	return rc;
}

static enum smile_err sq_find_apikey(struct store_conn *c, const uint8_t hash[32],
				     struct smile_store_apikey *out)
{
	sqlite3_stmt *st = stmt(c, ST_FIND_APIKEY);
	enum smile_err rc;

	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW: {
		char role[16], bindings[SMILE_STORE_MAX_BINDINGS * SMILE_STORE_ID_MAX];
		col_text(st, 0, out->id, sizeof(out->id));
		col_text(st, 1, role, sizeof(role));
		col_text(st, 2, out->merchant, sizeof(out->merchant));
		col_text(st, 3, bindings, sizeof(bindings));
		out->created_ms = sqlite3_column_int64(st, 4);
		out->revoked_ms = sqlite3_column_int64(st, 5);
		memcpy(out->hash, hash, 32);
		rc = smile_role_parse(role, &out->role) ? SMILE_ERR_STORE : SMILE_OK;
		for (char *p = bindings; rc == SMILE_OK && *p &&
					 out->n_bindings < SMILE_STORE_MAX_BINDINGS;) {
			char *nl = strchr(p, '\n');
			size_t len = nl ? (size_t)(nl - p) : strlen(p);
			snprintf(out->bindings[out->n_bindings++], SMILE_STORE_ID_MAX, "%.*s",
				 (int)len, p);
			p += len + (nl ? 1 : 0);
		}
		break;
	}
	case SQLITE_DONE:
		rc = SMILE_ERR_NOT_FOUND;
		break;
	default:
		rc = SMILE_ERR_STORE;
	}
	sqlite3_reset(st);
	return rc;
}

static enum smile_err read_device_row(sqlite3_stmt *st, struct smile_store_device *d)
{
	char role[16];
	const void *b;

	memset(d, 0, sizeof(*d));
	col_text(st, 0, d->id, sizeof(d->id));
	if (sqlite3_column_bytes(st, 1) != 32 || sqlite3_column_bytes(st, 2) != 32)
		return SMILE_ERR_STORE;
	memcpy(d->sign_pk, sqlite3_column_blob(st, 1), 32);
	memcpy(d->box_pk, sqlite3_column_blob(st, 2), 32);
	col_text(st, 3, role, sizeof(role));
	if (smile_device_role_parse(role, &d->role) != SMILE_OK)
		return SMILE_ERR_STORE;
	col_text(st, 4, d->zone, sizeof(d->zone));
	d->status = device_status_text(d->id, (const char *)sqlite3_column_text(st, 5));
	d->last_seq = (uint64_t)sqlite3_column_int64(st, 6);
	if (sqlite3_column_bytes(st, 7) == 32)
		memcpy(d->last_digest, sqlite3_column_blob(st, 7), 32);
	b = sqlite3_column_blob(st, 8);
	if (b && sqlite3_column_bytes(st, 8) > 0) {
		d->last_reply_len = (size_t)sqlite3_column_bytes(st, 8);
		d->last_reply = malloc(d->last_reply_len);
		if (d->last_reply == NULL)
			return SMILE_ERR_NOMEM;
		memcpy(d->last_reply, b, d->last_reply_len);
	}
	d->created_ms = sqlite3_column_int64(st, 9);
	d->updated_ms = sqlite3_column_int64(st, 10);
	d->last_shipment_id = (uint64_t)sqlite3_column_int64(st, 11);
	d->last_revealed = sqlite3_column_int(st, 12) != 0;
	return SMILE_OK;
}

static enum smile_err sq_get_device(struct store_conn *c, const char *id,
				    struct smile_store_device *out)
{
	sqlite3_stmt *st = stmt(c, ST_GET_DEVICE);
	enum smile_err rc;
	int step;

	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, id);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		rc = read_device_row(st, out);
	else
		rc = step == SQLITE_DONE ? SMILE_ERR_NOT_FOUND : SMILE_ERR_STORE;
	sqlite3_reset(st);
	if (rc)
		smile_store_device_release(out);
	return rc;
}

static enum smile_err sq_list_devices(struct store_conn *c, smile_store_device_cb cb, void *ctx)
{
	sqlite3_stmt *st = stmt(c, ST_LIST_DEVICES);
	enum smile_err rc = SMILE_OK;
	int step;

	if (st == NULL)
		return SMILE_ERR_STORE;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct smile_store_device d;
		rc = read_device_row(st, &d);
		int stop = rc || cb(ctx, &d);
		smile_store_device_release(&d);
		if (stop)
			break;
	}
	if (rc == SMILE_OK && step != SQLITE_ROW && step != SQLITE_DONE)
		rc = SMILE_ERR_STORE;
	sqlite3_reset(st);
	return rc;
}

static enum smile_err sq_count_reveals(struct store_conn *c, const char *device_id,
				       int64_t since_hour, uint64_t *n)
{
	sqlite3_stmt *st = stmt(c, ST_COUNT_REVEALS);
	enum smile_err rc = SMILE_ERR_STORE;

	*n = 0;
	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, device_id);
	sqlite3_bind_int64(st, 2, since_hour);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*n = (uint64_t)sqlite3_column_int64(st, 0);
		rc = SMILE_OK;
	}
	sqlite3_reset(st);
	return rc;
}

static const char *col_str(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? (const char *)t : "";
}

static enum smile_err sq_audit_each(struct store_conn *c, store_audit_row_cb cb, void *ctx)
{
	sqlite3_stmt *st = stmt(c, ST_AUDIT_ALL);
	enum smile_err rc = SMILE_OK;
	int step;

	if (st == NULL)
		return SMILE_ERR_STORE;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_audit_row row = {
			.seq = (uint64_t)sqlite3_column_int64(st, 0),
			.time_ms = sqlite3_column_int64(st, 1),
			.kind = col_str(st, 2),
			.subject = col_str(st, 3),
			.actor = col_str(st, 4),
			.detail = col_str(st, 5),
			.prev_hash = sqlite3_column_blob(st, 6),
			.prev_len = (size_t)sqlite3_column_bytes(st, 6),
			.hash = sqlite3_column_blob(st, 7),
			.hash_len = (size_t)sqlite3_column_bytes(st, 7),
		};
		if (cb(ctx, &row))
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = SMILE_ERR_STORE;
	sqlite3_reset(st);
	return rc;
}

static enum smile_err sq_list_wrapped(struct store_conn *c, uint64_t after_id,
				      struct smile_store_wrapped *rows, size_t max, size_t *n)
{
	sqlite3_stmt *st = stmt(c, ST_LIST_WRAPPED);
	enum smile_err rc = SMILE_OK;
	int step = SQLITE_DONE;

	*n = 0;
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)after_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	while (*n < max && (step = sqlite3_step(st)) == SQLITE_ROW) {
		struct smile_store_wrapped *r = &rows[*n];
		const void *wk = sqlite3_column_blob(st, 1);
		int wn = sqlite3_column_bytes(st, 1);
		memset(r, 0, sizeof(*r));
		r->shipment_id = (uint64_t)sqlite3_column_int64(st, 0);
		if (wk == NULL || wn <= 0 || (size_t)wn > sizeof(r->wrapped_key)) {
			rc = SMILE_ERR_STORE;
			break;
		}
		memcpy(r->wrapped_key, wk, (size_t)wn);
		r->wrapped_len = (size_t)wn;
		(*n)++;
	}
	if (rc == SMILE_OK && *n < max && step != SQLITE_DONE)
		rc = SMILE_ERR_STORE;
	sqlite3_reset(st);
	return rc;
}

/* ------------------------------------------------------------ maintenance */

/* Old page images of erased rows live on in WAL frames until the WAL is
 * checkpointed and truncated. Tried without the busy handler, so the writer
 * never waits for a reader that holds an old snapshot: SMILE_ERR_BUSY then,
 * and the core retries. */
static enum smile_err sq_scrub(struct store_conn *c)
{
	int rc;

	sqlite3_busy_timeout(c->db, 0);
	rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
	return rc == SQLITE_OK ? SMILE_OK : SMILE_ERR_BUSY;
}

static enum smile_err sq_each_personal(const char *path, smile_store_personal_cb cb, void *ctx,
				       struct smile_error *e)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct stat sb;
	enum smile_err rc = SMILE_OK;
	int step;

	if (stat(path, &sb) != 0)
		return smile_error_set(e, errno == ENOENT ? SMILE_ERR_NOT_FOUND : SMILE_ERR_IO,
				       "store", "cannot read the store file: %s", strerror(errno));
	/* Read-only: a backup is looked at, never migrated, checkpointed or
	 * changed. Without a -wal file beside it, open it immutable, so SQLite
	 * does not even create -wal and -shm files next to a copy that is in
	 * WAL mode; with one, its frames are part of the copy and must be read. */
	char wal[PATH_MAX + 8], uri[3 * PATH_MAX + 32];
	const char *open_as = path;
	int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX;
	snprintf(wal, sizeof(wal), "%s-wal", path);
	if (stat(wal, &sb) != 0 && errno == ENOENT) {
		size_t u = (size_t)snprintf(uri, sizeof(uri), "file:");
		for (const char *p = path; *p && u + 4 < sizeof(uri); p++) {
			if (*p == '%' || *p == '?' || *p == '#')
				u += (size_t)snprintf(uri + u, sizeof(uri) - u, "%%%02X",
						      (unsigned)(unsigned char)*p);
			else
				uri[u++] = *p;
		}
		snprintf(uri + u, sizeof(uri) - u, "?immutable=1");
		open_as = uri;
		flags |= SQLITE_OPEN_URI;
	}
	if (sqlite3_open_v2(open_as, &db, flags, NULL) != SQLITE_OK) {
		rc = db_err(db, e, "open store read-only");
		goto out;
	}
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_prepare_v2(db,
			       "SELECT shipment_id, wrapped_key, ciphertext FROM personal "
			       "ORDER BY shipment_id",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = db_err(db, e, "read the personal table");
		goto out;
	}
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const uint8_t *wk = sqlite3_column_blob(st, 1);
		size_t wn = (size_t)sqlite3_column_bytes(st, 1);
		const uint8_t *ct = sqlite3_column_blob(st, 2);
		size_t cn = (size_t)sqlite3_column_bytes(st, 2);
		if (cb(ctx, (uint64_t)sqlite3_column_int64(st, 0), wk, wk ? wn : 0, ct,
		       ct ? cn : 0))
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = db_err(db, e, "read the personal table");
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

/* ------------------------------------------------------------ print jobs */

static enum smile_err sq_print_job_exists(struct store_conn *c, uint64_t shipment_id,
					  int *exists)
{
	sqlite3_stmt *st = stmt(c, ST_PJ_EXISTS);
	int step;
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)shipment_id);
	step = step_done(st);
	*exists = step == SQLITE_ROW;
	return step == SQLITE_ROW || step == SQLITE_DONE ? SMILE_OK : SMILE_ERR_STORE;
}

static enum smile_err sq_print_job_next_seq(struct store_conn *c, const char *station,
					    uint64_t *seq)
{
	sqlite3_stmt *st = stmt(c, ST_PJ_NEXT_SEQ);
	enum smile_err rc = SMILE_ERR_STORE;
	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, station);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*seq = (uint64_t)sqlite3_column_int64(st, 0);
		rc = SMILE_OK;
	}
	sqlite3_reset(st);
	return rc;
}

static enum smile_err sq_insert_print_job(struct store_conn *c,
					  const struct smile_store_print_job *j)
{
	sqlite3_stmt *st = stmt(c, ST_PJ_INSERT);
	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, j->id);
	bind_text(st, 2, j->station);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)j->seq);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)j->shipment_id);
	bind_text(st, 5, j->waybill);
	bind_text(st, 6, j->merchant);
	sqlite3_bind_int(st, 7, j->format);
	sqlite3_bind_int(st, 8, j->copies);
	sqlite3_bind_int(st, 9, j->reprint);
	sqlite3_bind_int(st, 10, j->state);
	sqlite3_bind_int(st, 11, j->reason);
	bind_text(st, 12, j->reason_text);
	bind_text(st, 13, j->requested_by);
	sqlite3_bind_int64(st, 14, j->created_ms);
	sqlite3_bind_int64(st, 15, j->updated_ms);
	sqlite3_bind_blob(st, 16, j->message, (int)j->message_len, SQLITE_STATIC);
	return map_step(step_done(st));
}

static enum smile_err sq_print_job_report(struct store_conn *c, const char *id,
					  const char *station, int state, int reason,
					  const char *text, int64_t now_ms)
{
	sqlite3_stmt *st = stmt(c, ST_PJ_REPORT);
	int step;
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int(st, 1, state);
	sqlite3_bind_int(st, 2, reason);
	bind_text(st, 3, text);
	sqlite3_bind_int64(st, 4, now_ms);
	bind_text(st, 5, id);
	bind_text(st, 6, station);
	if (run_done(st))
		return SMILE_ERR_STORE;
	if (sqlite3_changes(c->db))
		return SMILE_OK;
	/* nothing changed: tell a stale report from an unknown job */
	if ((st = stmt(c, ST_PJ_FIND)) == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, id);
	bind_text(st, 2, station);
	step = step_done(st);
	if (step == SQLITE_ROW)
		return SMILE_ERR_CONFLICT;
	return step == SQLITE_DONE ? SMILE_ERR_NOT_FOUND : SMILE_ERR_STORE;
}

static enum smile_err read_print_job(sqlite3_stmt *st, struct smile_store_print_job *j)
{
	int n;
	memset(j, 0, sizeof(*j));
	col_text(st, 0, j->id, sizeof(j->id));
	col_text(st, 1, j->station, sizeof(j->station));
	j->seq = (uint64_t)sqlite3_column_int64(st, 2);
	j->shipment_id = (uint64_t)sqlite3_column_int64(st, 3);
	col_text(st, 4, j->waybill, sizeof(j->waybill));
	col_text(st, 5, j->merchant, sizeof(j->merchant));
	j->format = sqlite3_column_int(st, 6);
	j->copies = sqlite3_column_int(st, 7);
	j->reprint = sqlite3_column_int(st, 8);
	j->state = sqlite3_column_int(st, 9);
	j->reason = sqlite3_column_int(st, 10);
	col_text(st, 11, j->reason_text, sizeof(j->reason_text));
	col_text(st, 12, j->requested_by, sizeof(j->requested_by));
	j->created_ms = sqlite3_column_int64(st, 13);
	j->updated_ms = sqlite3_column_int64(st, 14);
	n = sqlite3_column_bytes(st, 15);
	if (n <= 0 || n > SMILE_STORE_JOB_MESSAGE_MAX)
		return n == 0 ? SMILE_OK : SMILE_ERR_STORE;
	j->message = malloc((size_t)n);
	if (j->message == NULL)
		return SMILE_ERR_NOMEM;
	memcpy(j->message, sqlite3_column_blob(st, 15), (size_t)n);
	j->message_len = (size_t)n;
	return SMILE_OK;
}

static enum smile_err sq_get_print_job(struct store_conn *c, const char *id,
				       struct smile_store_print_job *out)
{
	sqlite3_stmt *st = stmt(c, ST_PJ_GET);
	enum smile_err rc;
	int step;

	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, id);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		rc = read_print_job(st, out);
		if (rc)
			smile_store_print_job_release(out);
	} else {
		rc = step == SQLITE_DONE ? SMILE_ERR_NOT_FOUND : SMILE_ERR_STORE;
	}
	sqlite3_reset(st);
	return rc;
}

static enum smile_err sq_list_print_jobs(struct store_conn *c, int state, size_t limit,
					 smile_store_print_job_cb cb, void *ctx)
{
	sqlite3_stmt *st = stmt(c, ST_PJ_LIST);
	enum smile_err rc = SMILE_OK;
	int step;

	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int(st, 1, state);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct smile_store_print_job j;
		int stop;
		if ((rc = read_print_job(st, &j))) {
			smile_store_print_job_release(&j);
			break;
		}
		stop = cb(ctx, &j);
		smile_store_print_job_release(&j);
		if (stop)
			break;
	}
	if (rc == SMILE_OK && step != SQLITE_ROW && step != SQLITE_DONE)
		rc = SMILE_ERR_STORE;
	sqlite3_reset(st);
	return rc;
}

/* ------------------------------------------------------------ webhooks */

static enum smile_err sq_wh_put(struct store_conn *c, const struct smile_store_webhook *w)
{
	sqlite3_stmt *st = stmt(c, ST_WH_PUT);
	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, w->id);
	bind_text(st, 2, w->merchant);
	bind_text(st, 3, w->url);
	bind_text(st, 4, w->events);
	bind_text(st, 5, w->secret);
	bind_text(st, 6, smile_webhook_status_name(w->status));
	sqlite3_bind_int64(st, 7, w->created_ms);
	sqlite3_bind_int64(st, 8, w->updated_ms);
	return map_step(step_done(st));
}

static enum smile_err sq_wh_set_status(struct store_conn *c, const char *id,
				       enum smile_webhook_status to, int64_t now_ms)
{
	sqlite3_stmt *st = stmt(c, ST_WH_STATUS);
	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, smile_webhook_status_name(to));
	sqlite3_bind_int64(st, 2, now_ms);
	bind_text(st, 3, id);
	if (run_done(st))
		return SMILE_ERR_STORE;
	return sqlite3_changes(c->db) ? SMILE_OK : SMILE_ERR_NOT_FOUND;
}

static enum smile_err sq_wh_delete(struct store_conn *c, const char *id)
{
	sqlite3_stmt *st = stmt(c, ST_WH_DELETE_OUTBOX);
	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, id);
	if (run_done(st))
		return SMILE_ERR_STORE;
	if ((st = stmt(c, ST_WH_DELETE)) == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, id);
	if (run_done(st))
		return SMILE_ERR_STORE;
	return sqlite3_changes(c->db) ? SMILE_OK : SMILE_ERR_NOT_FOUND;
}

static enum smile_err sq_outbox_add(struct store_conn *c, uint64_t event_id, uint64_t shipment_id,
				    const char *waybill, const char *event, int64_t now_ms)
{
	sqlite3_stmt *st = stmt(c, ST_OUTBOX_ADD);
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)event_id);
	bind_text(st, 2, waybill);
	bind_text(st, 3, event);
	sqlite3_bind_int64(st, 4, now_ms);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)shipment_id);
	return run_done(st);
}

static void read_delivery(sqlite3_stmt *st, struct smile_store_delivery *d)
{
	char state[SMILE_STORE_STATUS_MAX];
	memset(d, 0, sizeof(*d));
	d->id = (uint64_t)sqlite3_column_int64(st, 0);
	col_text(st, 1, d->webhook_id, sizeof(d->webhook_id));
	d->event_id = (uint64_t)sqlite3_column_int64(st, 2);
	col_text(st, 3, d->waybill, sizeof(d->waybill));
	col_text(st, 4, d->event, sizeof(d->event));
	col_text(st, 5, state, sizeof(state));
	d->state = strcmp(state, "pending") == 0     ? SMILE_DELIVERY_PENDING
		   : strcmp(state, "delivered") == 0 ? SMILE_DELIVERY_DELIVERED
						     : SMILE_DELIVERY_DEAD;
	d->created_ms = sqlite3_column_int64(st, 6);
	d->next_ms = sqlite3_column_int64(st, 7);
	d->lease_until_ms = sqlite3_column_int64(st, 8);
	d->attempts = (uint32_t)sqlite3_column_int64(st, 9);
	d->last_ms = sqlite3_column_int64(st, 10);
	d->last_status = (int)sqlite3_column_int64(st, 11);
	col_text(st, 12, d->last_error, sizeof(d->last_error));
	d->done_ms = sqlite3_column_int64(st, 13);
}

static enum smile_err sq_outbox_due(struct store_conn *c, int64_t now_ms,
				    struct smile_store_delivery *rows, size_t max, size_t *n)
{
	sqlite3_stmt *st = stmt(c, ST_OUTBOX_DUE);
	enum smile_err rc = SMILE_OK;
	int step = SQLITE_DONE;

	*n = 0;
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	while (*n < max && (step = sqlite3_step(st)) == SQLITE_ROW)
		read_delivery(st, &rows[(*n)++]);
	if (*n < max && step != SQLITE_DONE)
		rc = SMILE_ERR_STORE;
	sqlite3_reset(st);
	return rc;
}

static enum smile_err sq_outbox_lease(struct store_conn *c, uint64_t id, int64_t until_ms)
{
	sqlite3_stmt *st = stmt(c, ST_OUTBOX_LEASE);
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, until_ms);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)id);
	return run_done(st);
}

static enum smile_err sq_outbox_finish(struct store_conn *c, const struct smile_store_attempt *a)
{
	sqlite3_stmt *st = stmt(c, ST_OUTBOX_FINISH);
	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, smile_delivery_state_name(a->state));
	sqlite3_bind_int64(st, 2, a->time_ms);
	sqlite3_bind_int64(st, 3, a->next_ms);
	sqlite3_bind_int64(st, 4, a->status);
	bind_text(st, 5, a->error);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)a->id);
	if (run_done(st))
		return SMILE_ERR_STORE;
	return sqlite3_changes(c->db) ? SMILE_OK : SMILE_ERR_NOT_FOUND;
}

static enum smile_err sq_outbox_redeliver(struct store_conn *c, const char *webhook_id,
					  uint64_t id, int64_t now_ms)
{
	sqlite3_stmt *st = stmt(c, ST_OUTBOX_REDELIVER);
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)id);
	bind_text(st, 3, webhook_id);
	if (run_done(st))
		return SMILE_ERR_STORE;
	return sqlite3_changes(c->db) ? SMILE_OK : SMILE_ERR_NOT_FOUND;
}

static enum smile_err sq_outbox_prune(struct store_conn *c, int64_t before_ms, uint64_t *n)
{
	sqlite3_stmt *st = stmt(c, ST_OUTBOX_PRUNE);
	*n = 0;
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, before_ms);
	if (run_done(st))
		return SMILE_ERR_STORE;
	*n = (uint64_t)sqlite3_changes(c->db);
	return SMILE_OK;
}

static void read_webhook(sqlite3_stmt *st, struct smile_store_webhook *w)
{
	char status[SMILE_STORE_STATUS_MAX];
	memset(w, 0, sizeof(*w));
	col_text(st, 0, w->id, sizeof(w->id));
	col_text(st, 1, w->merchant, sizeof(w->merchant));
	col_text(st, 2, w->url, sizeof(w->url));
	col_text(st, 3, w->events, sizeof(w->events));
	col_text(st, 4, w->secret, sizeof(w->secret));
	col_text(st, 5, status, sizeof(status));
	if (smile_webhook_status_parse(status, &w->status) != SMILE_OK)
		smile_log(SMILE_LOG_ERROR, "store.bad_webhook_status", SMILE_KV_ID("webhook", w->id));
	w->created_ms = sqlite3_column_int64(st, 6);
	w->updated_ms = sqlite3_column_int64(st, 7);
}

static enum smile_err sq_wh_get(struct store_conn *c, const char *id,
				struct smile_store_webhook *out)
{
	sqlite3_stmt *st = stmt(c, ST_WH_GET);
	enum smile_err rc;
	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, id);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		read_webhook(st, out);
		rc = SMILE_OK;
		break;
	case SQLITE_DONE:
		rc = SMILE_ERR_NOT_FOUND;
		break;
	default:
		rc = SMILE_ERR_STORE;
	}
	sqlite3_reset(st);
	return rc;
}

static enum smile_err sq_wh_list(struct store_conn *c, const char *merchant,
				 smile_store_webhook_cb cb, void *ctx)
{
	sqlite3_stmt *st = stmt(c, merchant ? ST_WH_LIST : ST_WH_LIST_ALL);
	enum smile_err rc = SMILE_OK;
	int step;

	if (st == NULL)
		return SMILE_ERR_STORE;
	if (merchant)
		bind_text(st, 1, merchant);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct smile_store_webhook w;
		read_webhook(st, &w);
		int stop = cb(ctx, &w);
		memset(w.secret, 0, sizeof(w.secret));
		if (stop)
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = SMILE_ERR_STORE;
	sqlite3_reset(st);
	return rc;
}

static enum smile_err sq_outbox_list(struct store_conn *c, const char *webhook_id,
				     uint64_t after_id, size_t limit, smile_store_delivery_cb cb,
				     void *ctx)
{
	sqlite3_stmt *st = stmt(c, ST_OUTBOX_LIST);
	enum smile_err rc = SMILE_OK;
	int step;

	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, webhook_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)after_id);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)limit);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct smile_store_delivery d;
		read_delivery(st, &d);
		if (cb(ctx, &d))
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = SMILE_ERR_STORE;
	sqlite3_reset(st);
	return rc;
}

static enum smile_err sq_get_event(struct store_conn *c, uint64_t id, struct smile_store_event *ev)
{
	sqlite3_stmt *st = stmt(c, ST_GET_EVENT);
	enum smile_err rc;
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		event_row(st, ev);
		rc = SMILE_OK;
		break;
	case SQLITE_DONE:
		rc = SMILE_ERR_NOT_FOUND;
		break;
	default:
		rc = SMILE_ERR_STORE;
	}
	sqlite3_reset(st);
	return rc;
}

/* ------------------------------------------------------------ console */

static enum smile_err sq_sess_put(struct store_conn *c, const struct smile_store_session *x)
{
	sqlite3_stmt *st = stmt(c, ST_SESS_PUT);
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_blob(st, 1, x->hash, 32, SQLITE_STATIC);
	bind_text(st, 2, x->api_key_id);
	sqlite3_bind_blob(st, 3, x->key_hash, 32, SQLITE_STATIC);
	bind_text(st, 4, x->csrf);
	sqlite3_bind_int64(st, 5, x->created_ms);
	sqlite3_bind_int64(st, 6, x->last_ms);
	sqlite3_bind_int64(st, 7, x->expires_ms);
	return map_step(step_done(st));
}

static enum smile_err sq_sess_get(struct store_conn *c, const uint8_t hash[32],
				  struct smile_store_session *out)
{
	sqlite3_stmt *st = stmt(c, ST_SESS_GET);
	enum smile_err rc;
	if (st == NULL)
		return SMILE_ERR_STORE;
	memset(out, 0, sizeof(*out));
	sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		memcpy(out->hash, hash, 32);
		col_text(st, 0, out->api_key_id, sizeof(out->api_key_id));
		if (sqlite3_column_bytes(st, 1) == 32)
			memcpy(out->key_hash, sqlite3_column_blob(st, 1), 32);
		col_text(st, 2, out->csrf, sizeof(out->csrf));
		out->created_ms = sqlite3_column_int64(st, 3);
		out->last_ms = sqlite3_column_int64(st, 4);
		out->expires_ms = sqlite3_column_int64(st, 5);
		rc = SMILE_OK;
		break;
	case SQLITE_DONE:
		rc = SMILE_ERR_NOT_FOUND;
		break;
	default:
		rc = SMILE_ERR_STORE;
	}
	sqlite3_reset(st);
	return rc;
}

static enum smile_err sq_sess_touch(struct store_conn *c, const uint8_t hash[32], int64_t now_ms)
{
	sqlite3_stmt *st = stmt(c, ST_SESS_TOUCH);
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_blob(st, 2, hash, 32, SQLITE_STATIC);
	if (run_done(st))
		return SMILE_ERR_STORE;
	return sqlite3_changes(c->db) ? SMILE_OK : SMILE_ERR_NOT_FOUND;
}

static enum smile_err sq_sess_delete(struct store_conn *c, const uint8_t hash[32])
{
	sqlite3_stmt *st = stmt(c, ST_SESS_DELETE);
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
	if (run_done(st))
		return SMILE_ERR_STORE;
	return sqlite3_changes(c->db) ? SMILE_OK : SMILE_ERR_NOT_FOUND;
}

static enum smile_err sq_sess_purge(struct store_conn *c, int64_t now_ms, int64_t idle_before_ms,
				    uint64_t *n)
{
	sqlite3_stmt *st = stmt(c, ST_SESS_PURGE);
	*n = 0;
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int64(st, 2, idle_before_ms);
	if (run_done(st))
		return SMILE_ERR_STORE;
	*n = (uint64_t)sqlite3_changes(c->db);
	return SMILE_OK;
}

/* " AND merchant IN (?,...)" for n merchants (column `col`). */
static size_t merchant_filter(char *sql, size_t used, size_t cap, const char *col, size_t n)
{
	if (n == 0)
		return used;
	used += (size_t)snprintf(sql + used, used < cap ? cap - used : 0, " AND %s IN (", col);
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(sql + used, used < cap ? cap - used : 0, "%s?", i ? "," : "");
	used += (size_t)snprintf(sql + used, used < cap ? cap - used : 0, ")");
	return used;
}

static enum smile_err sq_page_shipments(struct store_conn *c,
					const struct smile_store_page_query *q,
					smile_store_shipment_cb cb, void *ctx)
{
	/* built per call like list_shipments: the filters vary */
	char sql[1024];
	size_t used, nm = q->merchants ? q->n_merchants : 0;
	sqlite3_stmt *st = NULL;
	enum smile_err rc = SMILE_OK;
	int step, bi = 1;

	used = (size_t)snprintf(sql, sizeof(sql),
				"SELECT " SHIPMENT_COLS " FROM shipments WHERE id < ?");
	used = merchant_filter(sql, used, sizeof(sql), "merchant", nm);
	if (q->status >= 0)
		used += (size_t)snprintf(sql + used, sizeof(sql) - used, " AND status = ?");
	if (q->q)
		used += (size_t)snprintf(sql + used, sizeof(sql) - used,
					 " AND (substr(waybill, 1, length(?)) = ? OR merchant_ref = ?)");
	snprintf(sql + used, sizeof(sql) - used, " ORDER BY id DESC LIMIT ?");

	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, bi++, q->before_id ? (sqlite3_int64)q->before_id : INT64_MAX);
	for (size_t i = 0; i < nm; i++)
		bind_text(st, bi++, q->merchants[i]);
	if (q->status >= 0)
		bind_text(st, bi++, smile_shipment_status_name((enum smile_shipment_status)q->status));
	if (q->q) {
		bind_text(st, bi++, q->q);
		bind_text(st, bi++, q->q);
		bind_text(st, bi++, q->q);
	}
	sqlite3_bind_int64(st, bi, (sqlite3_int64)q->limit);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct smile_store_shipment row;
		rc = read_shipment_row(st, &row);
		if (rc)
			break;
		int stop = cb(ctx, &row);
		smile_store_shipment_release(&row);
		if (stop)
			break;
	}
	if (rc == SMILE_OK && step != SQLITE_ROW && step != SQLITE_DONE)
		rc = SMILE_ERR_STORE;
	sqlite3_finalize(st);
	return rc;
}

static enum smile_err sq_events_after(struct store_conn *c, uint64_t after_id,
				      const char *const *merchants, size_t n_merchants,
				      size_t limit, smile_store_event_cb cb, void *ctx)
{
	char sql[1024];
	size_t used, nm = merchants ? n_merchants : 0;
	sqlite3_stmt *st = NULL;
	enum smile_err rc = SMILE_OK;
	int step, bi = 1;

	used = (size_t)snprintf(sql, sizeof(sql),
				"SELECT e.id, e.shipment_id, e.waybill, e.event, e.time_ms, "
				"e.device_id, e.device_role, e.detail, e.recorded_ms FROM events e");
	if (nm)
		used += (size_t)snprintf(sql + used, sizeof(sql) - used,
					 " JOIN shipments s ON s.id = e.shipment_id");
	used += (size_t)snprintf(sql + used, sizeof(sql) - used, " WHERE e.id > ?");
	used = merchant_filter(sql, used, sizeof(sql), "s.merchant", nm);
	snprintf(sql + used, sizeof(sql) - used, " ORDER BY e.id LIMIT ?");
	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, bi++, (sqlite3_int64)after_id);
	for (size_t i = 0; i < nm; i++)
		bind_text(st, bi++, merchants[i]);
	sqlite3_bind_int64(st, bi, (sqlite3_int64)limit);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct smile_store_event ev;
		event_row(st, &ev);
		if (cb(ctx, &ev))
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = SMILE_ERR_STORE;
	sqlite3_finalize(st);
	return rc;
}

static enum smile_err sq_event_head(struct store_conn *c, uint64_t *id)
{
	sqlite3_stmt *st = stmt(c, ST_EVENT_HEAD);
	enum smile_err rc = SMILE_ERR_STORE;
	*id = 0;
	if (st == NULL)
		return SMILE_ERR_STORE;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*id = (uint64_t)sqlite3_column_int64(st, 0);
		rc = SMILE_OK;
	}
	sqlite3_reset(st);
	return rc;
}

/* ------------------------------------------------------------ tracking page */

static enum smile_err sq_get_track_hash(struct store_conn *c, uint64_t id, uint8_t out[32],
					int *has)
{
	sqlite3_stmt *st = stmt(c, ST_TRACK_HASH);
	enum smile_err rc;

	*has = 0;
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		if (sqlite3_column_type(st, 0) == SQLITE_BLOB && sqlite3_column_bytes(st, 0) == 32) {
			memcpy(out, sqlite3_column_blob(st, 0), 32);
			*has = 1;
		}
		rc = SMILE_OK;
		break;
	case SQLITE_DONE:
		rc = SMILE_ERR_NOT_FOUND;
		break;
	default:
		rc = SMILE_ERR_STORE;
	}
	sqlite3_reset(st);
	return rc;
}

static enum smile_err sq_track_hit(struct store_conn *c, const char *key, int64_t now_ms,
				   int64_t window_ms, uint64_t *n)
{
	sqlite3_stmt *st = stmt(c, ST_TRACK_PRUNE);
	enum smile_err rc;

	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, now_ms);
	if (run_done(st))
		return SMILE_ERR_STORE;
	st = stmt(c, ST_TRACK_HIT);
	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, key);
	sqlite3_bind_int64(st, 2, now_ms);
	sqlite3_bind_int64(st, 3, window_ms);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*n = (uint64_t)sqlite3_column_int64(st, 0);
		rc = SMILE_OK;
	} else {
		rc = SMILE_ERR_STORE;
	}
	sqlite3_reset(st);
	return rc;
}

static enum smile_err sq_audit_subject(struct store_conn *c, const char *subject, size_t limit,
				       store_audit_row_cb cb, void *ctx)
{
	sqlite3_stmt *st = stmt(c, ST_AUDIT_SUBJECT);
	enum smile_err rc = SMILE_OK;
	int step;

	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, subject);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)(limit > 100000 ? 100000 : limit));
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_audit_row row = {
			.seq = (uint64_t)sqlite3_column_int64(st, 0),
			.time_ms = sqlite3_column_int64(st, 1),
			.kind = col_str(st, 2),
			.subject = col_str(st, 3),
			.actor = col_str(st, 4),
			.detail = col_str(st, 5),
		};
		if (cb(ctx, &row))
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = SMILE_ERR_STORE;
	sqlite3_reset(st);
	return rc;
}

const struct store_backend store_sqlite_backend = {
	.name = "sqlite",
	.scheme = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.ping = sq_ping,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.savepoint = sq_savepoint,
	.rollback_to = sq_rollback_to,
	.release = sq_release,
	.insert_idem = sq_insert_idem,
	.insert_shipment = sq_insert_shipment,
	.insert_personal = sq_insert_personal,
	.insert_event = sq_insert_event,
	.set_shipment_status = sq_set_shipment_status,
	.mark_erased = sq_mark_erased,
	.delete_personal = sq_delete_personal,
	.forget_replies = sq_forget_replies,
	.scan_facts = sq_scan_facts,
	.put_apikey = sq_put_apikey,
	.revoke_apikey = sq_revoke_apikey,
	.put_device = sq_put_device,
	.device_status = sq_device_status,
	.set_device_status = sq_set_device_status,
	.device_advance = sq_device_advance,
	.add_reveal = sq_add_reveal,
	.audit_head = sq_audit_head,
	.audit_insert = sq_audit_insert,
	.lease_ids = sq_lease_ids,
	.meta_get = sq_meta_get,
	.meta_put = sq_meta_put,
	.rewrap = sq_rewrap,
	.print_job_exists = sq_print_job_exists,
	.print_job_next_seq = sq_print_job_next_seq,
	.insert_print_job = sq_insert_print_job,
	.print_job_report = sq_print_job_report,
	.get_print_job = sq_get_print_job,
	.list_print_jobs = sq_list_print_jobs,
	.get_shipment = sq_get_shipment,
	.list_shipments = sq_list_shipments,
	.get_personal = sq_get_personal,
	.retention_due = sq_retention_due,
	.list_events = sq_list_events,
	.get_idem = sq_get_idem,
	.find_apikey = sq_find_apikey,
	.get_device = sq_get_device,
	.list_devices = sq_list_devices,
	.count_reveals = sq_count_reveals,
	.audit_each = sq_audit_each,
	.list_wrapped = sq_list_wrapped,
	.scrub = sq_scrub,
	.each_personal = sq_each_personal,
	/* webhooks */
	.wh_put = sq_wh_put,
	.wh_set_status = sq_wh_set_status,
	.wh_delete = sq_wh_delete,
	.outbox_add = sq_outbox_add,
	.outbox_due = sq_outbox_due,
	.outbox_lease = sq_outbox_lease,
	.outbox_finish = sq_outbox_finish,
	.outbox_redeliver = sq_outbox_redeliver,
	.outbox_prune = sq_outbox_prune,
	.wh_get = sq_wh_get,
	.wh_list = sq_wh_list,
	.outbox_list = sq_outbox_list,
	.get_event = sq_get_event,
	.get_track_hash = sq_get_track_hash,
	.track_hit = sq_track_hit,
	.audit_subject = sq_audit_subject,
	.sess_put = sq_sess_put,
	.sess_touch = sq_sess_touch,
	.sess_delete = sq_sess_delete,
	.sess_purge = sq_sess_purge,
	.sess_get = sq_sess_get,
	.page_shipments = sq_page_shipments,
	.events_after = sq_events_after,
	.event_head = sq_event_head,
};
