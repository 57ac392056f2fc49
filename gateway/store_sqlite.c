/*
 * store_sqlite.c - the SQLite backend of store.h, with group commit.
 *
 * One idea makes it fast and durable at once: a single writer thread owns the
 * write connection. Callers enqueue a job and sleep; the writer takes every
 * job queued so far, runs each in its own SAVEPOINT inside one
 * BEGIN IMMEDIATE ... COMMIT, and wakes them all once the commit (WAL,
 * synchronous=FULL: fsync'd) returns. While one commit syncs, the next batch
 * gathers, so fsyncs are shared by as many requests as arrive meanwhile.
 *
 * Reads use a small pool of read-only connections (WAL lets them run beside
 * the writer). Every statement is prepared once per connection and cached.
 * Erasure turns on secure_delete (freed pages are zeroed) and truncates the
 * WAL after its commit so no old copy of a wrapped key lingers there.
 */
#include "store.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "smile/log.h"
#include "metrics.h"
#include "store_backend.h"

/* ------------------------------------------------------------ statements */

#define SHIPMENT_COLS \
	"id, waybill, merchant, merchant_ref, status, token, region, created_ms, " \
	"delivered_ms, erased_ms, holder, public_json, device_view"
#define DEVICE_COLS \
	"id, sign_pk, box_pk, role, zone, status, last_seq, last_digest, last_reply, " \
	"created_ms, updated_ms, last_shipment_id, last_revealed"

static const char *const stmt_sql[ST_COUNT] = {
	[ST_INSERT_SHIPMENT] = "INSERT INTO shipments (" SHIPMENT_COLS ") "
			       "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
	[ST_MARK_ERASED] = "UPDATE shipments SET erased_ms = ? WHERE id = ? AND erased_ms = 0",
	[ST_INSERT_EVENT] = "INSERT INTO events (shipment_id, waybill, event, time_ms, device_id, "
			    "device_role, detail, recorded_ms) VALUES (?,?,?,?,?,?,?,?)",
	[ST_UPDATE_STATUS] = "UPDATE shipments SET status = ?, delivered_ms = "
			     "CASE WHEN ? = 'delivered' THEN ? ELSE delivered_ms END WHERE id = ?",
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
	/* status: a device suspended or revoked while this scan waited for
	 * its commit gets nothing from it */
	[ST_DEVICE_SCAN] = "UPDATE devices SET last_seq = ?, last_digest = ?, last_reply = ?, "
			   "updated_ms = ?, last_shipment_id = ?, last_revealed = ? "
			   "WHERE id = ? AND last_seq < ? AND status = 'active'",
	[ST_INSERT_REVEAL] = "INSERT INTO reveal_counts (device_id, hour, n) VALUES (?, ?, 1) "
			     "ON CONFLICT (device_id, hour) DO UPDATE SET n = n + 1",
	[ST_COUNT_REVEALS] = "SELECT COALESCE(SUM(n), 0) FROM reveal_counts "
			     "WHERE device_id = ? AND hour >= ?",
	[ST_SET_HOLDER] = "UPDATE shipments SET holder = ? WHERE id = ?",
	[ST_AUDIT_INSERT] = "INSERT INTO audit (seq, time_ms, kind, subject, actor, detail, "
			    "prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)",
	[ST_AUDIT_HEAD] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
	[ST_AUDIT_ALL] = "SELECT seq, time_ms, kind, subject, actor, detail, prev_hash, hash "
			 "FROM audit ORDER BY seq",
	/* erasure withdraws every stored reply that carries this shipment's
	 * contact details (secure_delete zeroes the old blob) */
	[ST_FORGET_REPLIES] = "UPDATE devices SET last_reply = NULL, last_revealed = 0 "
			      "WHERE last_shipment_id = ? AND last_revealed = 1",
	[ST_SCAN_SHIPMENT_ERASED] = "SELECT erased_ms FROM shipments WHERE id = ?",
	[ST_MAX_SHIPMENT_ID] = "SELECT COALESCE(MAX(id), 0) FROM shipments",
	/* vault key rotation */
	[ST_META_GET] = "SELECT value FROM meta WHERE key = ?",
	[ST_META_PUT] = "INSERT INTO meta (key, value) VALUES (?, ?) "
			"ON CONFLICT (key) DO UPDATE SET value = excluded.value",
	[ST_META_DELETE] = "DELETE FROM meta WHERE key = ?",
	[ST_LIST_WRAPPED] = "SELECT shipment_id, wrapped_key FROM personal WHERE shipment_id > ? "
			    "ORDER BY shipment_id LIMIT ?",
	/* compare-and-set: a row erased or changed meanwhile is left alone */
	[ST_REWRAP] = "UPDATE personal SET wrapped_key = ? WHERE shipment_id = ? AND wrapped_key = ?",
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
};
#define N_MIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))
_Static_assert(N_MIGRATIONS == SMILE_STORE_SCHEMA_VERSION, "one migration per version");


/* ------------------------------------------------------------ write jobs */






static enum smile_err db_err(sqlite3 *db, struct smile_error *e, const char *what)
{
	/* SQLite messages name tables and constraints, never row values. */
	return smile_error_set(e, SMILE_ERR_STORE, NULL, "%s: %s", what,
			       db ? sqlite3_errmsg(db) : "cannot open");
}

int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static sqlite3_stmt *stmt(struct conn *c, enum stmt_id id)
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

static void conn_close(struct conn *c)
{
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(c->st[i]);
	sqlite3_close(c->db);
	memset(c, 0, sizeof(*c));
}

static enum smile_err conn_open(struct conn *c, const char *path, int readonly, int create,
				struct smile_error *e)
{
	int flags = readonly ? SQLITE_OPEN_READONLY
			     : SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
	memset(c, 0, sizeof(*c));
	if (sqlite3_open_v2(path, &c->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		enum smile_err rc = db_err(c->db, e, "open database");
		conn_close(c);
		return rc;
	}
	sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
	/* Map the file: readers then share the page cache instead of copying
	 * every page through pread(). */
	exec(c->db, "PRAGMA mmap_size = 268435456;");
	if (exec(c->db, "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;") != SQLITE_OK) {
		enum smile_err rc = db_err(c->db, e, "configure database");
		conn_close(c);
		return rc;
	}
	return SMILE_OK;
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

/* ------------------------------------------------------------ writer */

static enum smile_err audit_append(struct smile_store *s, struct conn *c,
				   const struct smile_audit_entry *a, int64_t time_ms);
/* vault key rotation: the writer's side, at the end of this file */
static enum smile_err run_meta_set(struct smile_store *s, struct conn *c, const struct job *j);
static enum smile_err run_rewrap(struct conn *c, struct smile_store_wrapped *rows, size_t n);

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

static enum smile_err insert_event_row(struct conn *c, const struct smile_store_event *ev)
{
	sqlite3_stmt *st = stmt(c, ST_INSERT_EVENT);
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
	return map_step(step_done(st));
}

static enum smile_err run_insert_one(struct conn *c, struct smile_store_new_shipment *it)
{
	const struct smile_store_shipment *r = it->row;
	sqlite3_stmt *st;
	enum smile_err rc;

	if (it->idem) {
		st = stmt(c, ST_INSERT_IDEM);
		if (st == NULL)
			return SMILE_ERR_STORE;
		bind_text(st, 1, it->idem->api_key_id);
		bind_text(st, 2, it->idem->key);
		sqlite3_bind_blob(st, 3, it->idem->request_hash, 32, SQLITE_STATIC);
		sqlite3_bind_int(st, 4, it->idem->status);
		bind_text(st, 5, it->idem->response);
		sqlite3_bind_int64(st, 6, r->created_ms);
		rc = map_step(step_done(st));
		if (rc == SMILE_ERR_EXISTS)
			return SMILE_ERR_CONFLICT;
		if (rc)
			return rc;
	}
	st = stmt(c, ST_INSERT_SHIPMENT);
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
	rc = map_step(step_done(st));
	if (rc)
		return rc;
	if (it->personal) {
		st = stmt(c, ST_INSERT_PERSONAL);
		if (st == NULL)
			return SMILE_ERR_STORE;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)r->id);
		sqlite3_bind_blob(st, 2, it->personal->wrapped_key, (int)it->personal->wrapped_len,
				  SQLITE_STATIC);
		sqlite3_bind_blob(st, 3, it->personal->ct, (int)it->personal->ct_len, SQLITE_STATIC);
		rc = map_step(step_done(st));
		if (rc)
			return rc;
	}
	struct smile_store_event ev = {.shipment_id = r->id, .time_ms = r->created_ms};
	snprintf(ev.waybill, sizeof(ev.waybill), "%s", r->waybill);
	snprintf(ev.event, sizeof(ev.event), "created");
	snprintf(ev.detail, sizeof(ev.detail), "api");
	return insert_event_row(c, &ev);
}

static enum smile_err run_erase(struct smile_store *s, struct conn *c, uint64_t id,
				 int64_t now_ms, const char *reason)
{
	struct smile_store_shipment row;
	sqlite3_stmt *st = stmt(c, ST_MARK_ERASED);
	enum smile_err rc;

	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)id);
	if (step_done(st) != SQLITE_DONE)
		return SMILE_ERR_STORE;
	if (sqlite3_changes(c->db) == 0) {
		/* unknown id, or erased already: tell which */
		st = stmt(c, ST_GET_SHIPMENT_ID);
		if (st == NULL)
			return SMILE_ERR_STORE;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
		rc = sqlite3_step(st) == SQLITE_ROW ? SMILE_ERR_SHREDDED : SMILE_ERR_NOT_FOUND;
		sqlite3_reset(st);
		return rc;
	}
	st = stmt(c, ST_ERASE_PERSONAL);
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	if (step_done(st) != SQLITE_DONE)
		return SMILE_ERR_STORE;
	st = stmt(c, ST_FORGET_REPLIES);
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	if (step_done(st) != SQLITE_DONE)
		return SMILE_ERR_STORE;

	memset(&row, 0, sizeof(row));
	st = stmt(c, ST_GET_SHIPMENT_ID);
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(row.waybill, sizeof(row.waybill), "%s",
			 (const char *)sqlite3_column_text(st, 1));
	sqlite3_reset(st);
	struct smile_store_event ev = {.shipment_id = id, .time_ms = now_ms};
	snprintf(ev.waybill, sizeof(ev.waybill), "%s", row.waybill);
	snprintf(ev.event, sizeof(ev.event), "erased");
	snprintf(ev.detail, sizeof(ev.detail), "%s", reason ? reason : "");
	rc = insert_event_row(c, &ev);
	if (rc)
		return rc;
	struct smile_audit_entry a = {"erasure", row.waybill, reason ? reason : "", "crypto-shred"};
	return audit_append(s, c, &a, now_ms);
}

static enum smile_err run_event(struct conn *c, const struct smile_store_event *ev)
{
	enum smile_shipment_status to;
	enum smile_err rc;
	sqlite3_stmt *st;

	if (smile_shipment_status_parse(ev->event, &to) != SMILE_OK)
		return SMILE_ERR_INVALID;
	rc = insert_event_row(c, ev);
	if (rc)
		return rc;
	st = stmt(c, ST_UPDATE_STATUS);
	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, smile_shipment_status_name(to));
	bind_text(st, 2, smile_shipment_status_name(to));
	sqlite3_bind_int64(st, 3, ev->time_ms);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)ev->shipment_id);
	if (step_done(st) != SQLITE_DONE)
		return SMILE_ERR_STORE;
	return sqlite3_changes(c->db) ? SMILE_OK : SMILE_ERR_NOT_FOUND;
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

static enum smile_err run_put_apikey(struct conn *c, const struct smile_store_apikey *k)
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

static enum smile_err run_revoke_apikey(struct conn *c, const char *id, int64_t now_ms)
{
	sqlite3_stmt *st = stmt(c, ST_REVOKE_APIKEY);
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, now_ms);
	bind_text(st, 2, id);
	if (step_done(st) != SQLITE_DONE)
		return SMILE_ERR_STORE;
	return sqlite3_changes(c->db) ? SMILE_OK : SMILE_ERR_NOT_FOUND;
}






static enum smile_err audit_append(struct smile_store *s, struct conn *c,
				   const struct smile_audit_entry *a, int64_t time_ms)
{
	uint8_t h[32];
	uint64_t seq = s->audit_seq + 1;
	sqlite3_stmt *st = stmt(c, ST_AUDIT_INSERT);
	enum smile_err rc;

	if (st == NULL)
		return SMILE_ERR_STORE;
	audit_hash(s->audit_hash, seq, time_ms, a->kind, a->subject, a->actor, a->detail, h);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
	sqlite3_bind_int64(st, 2, time_ms);
	bind_text(st, 3, a->kind);
	bind_text(st, 4, a->subject);
	bind_text(st, 5, a->actor);
	bind_text(st, 6, a->detail);
	sqlite3_bind_blob(st, 7, s->audit_hash, 32, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 8, h, 32, SQLITE_TRANSIENT);
	rc = map_step(step_done(st));
	if (rc == SMILE_OK) {
		s->audit_seq = seq;
		memcpy(s->audit_hash, h, 32);
	}
	return rc;
}

/* ------------------------------------------------------------ devices */

static enum smile_err run_put_device(struct smile_store *s, struct conn *c,
				     const struct smile_store_device *d, const char *actor)
{
	sqlite3_stmt *st = stmt(c, ST_PUT_DEVICE);
	enum smile_err rc;
	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, d->id);
	sqlite3_bind_blob(st, 2, d->sign_pk, 32, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, d->box_pk, 32, SQLITE_STATIC);
	bind_text(st, 4, smile_device_role_name(d->role));
	bind_text(st, 5, d->zone);
	bind_text(st, 6, smile_device_status_name(SMILE_DEV_ACTIVE));
	sqlite3_bind_int64(st, 7, d->created_ms);
	sqlite3_bind_int64(st, 8, d->created_ms);
	rc = map_step(step_done(st));
	if (rc)
		return rc;
	struct smile_audit_entry a = {"device.enrol", d->id, actor,
				      smile_device_role_name(d->role)};
	return audit_append(s, c, &a, d->created_ms);
}

static enum smile_err device_status_of(struct conn *c, const char *id,
				       enum smile_device_status *out)
{
	sqlite3_stmt *st = stmt(c, ST_GET_DEVICE);
	enum smile_err rc = SMILE_ERR_NOT_FOUND;
	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		/* unknown text reads as revoked (fails closed) */
		if (smile_device_status_parse((const char *)sqlite3_column_text(st, 5), out))
			smile_log(SMILE_LOG_ERROR, "store.bad_device_status", SMILE_KV_ID("device", id));
		rc = SMILE_OK;
	}
	sqlite3_reset(st);
	return rc;
}

static enum smile_err set_status(struct smile_store *s, struct conn *c, const char *id,
				 enum smile_device_status to, const char *actor, const char *reason,
				 int64_t now)
{
	enum smile_device_status cur;
	enum smile_err rc = device_status_of(c, id, &cur);
	sqlite3_stmt *st;
	char kind[32];

	if (rc)
		return rc;
	if (cur == SMILE_DEV_REVOKED)
		return SMILE_ERR_CONFLICT;
	st = stmt(c, ST_DEVICE_STATUS);
	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, smile_device_status_name(to));
	sqlite3_bind_int64(st, 2, now);
	bind_text(st, 3, id);
	if (step_done(st) != SQLITE_DONE)
		return SMILE_ERR_STORE;
	snprintf(kind, sizeof(kind), "device.%s", smile_device_status_name(to));
	struct smile_audit_entry a = {kind, id, actor, reason};
	return audit_append(s, c, &a, now);
}

static enum smile_err run_scan(struct smile_store *s, struct conn *c,
			       const struct smile_store_scan *sc)
{
	uint64_t shipment = sc->event ? sc->event->shipment_id : 0;
	int reveal = sc->reveal && sc->event;
	sqlite3_stmt *st;
	enum smile_err rc;

	if (reveal) {
		/* An erasure committed while this reveal waited for its commit:
		 * its reply must never be stored (nor sent). */
		int64_t erased = 0;
		st = stmt(c, ST_SCAN_SHIPMENT_ERASED);
		if (st == NULL)
			return SMILE_ERR_STORE;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)shipment);
		if (sqlite3_step(st) == SQLITE_ROW)
			erased = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		if (erased)
			return SMILE_ERR_SHREDDED;
	}
	st = stmt(c, ST_DEVICE_SCAN);
	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)sc->seq);
	sqlite3_bind_blob(st, 2, sc->digest, 32, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, sc->reply, (int)sc->reply_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, sc->time_ms);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)shipment);
	sqlite3_bind_int(st, 6, reveal);
	bind_text(st, 7, sc->device_id);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)sc->seq);
	if (step_done(st) != SQLITE_DONE)
		return SMILE_ERR_STORE;
	if (sqlite3_changes(c->db) == 0)
		return SMILE_ERR_REPLAY; /* seq not above last_seq (or no such device) */
	if (sc->event) {
		rc = run_event(c, sc->event);
		if (rc)
			return rc;
		sc->event->id = (uint64_t)sqlite3_last_insert_rowid(c->db);
		if (sc->custody) {
			st = stmt(c, ST_SET_HOLDER);
			if (st == NULL)
				return SMILE_ERR_STORE;
			bind_text(st, 1, sc->device_id);
			sqlite3_bind_int64(st, 2, (sqlite3_int64)sc->event->shipment_id);
			if (step_done(st) != SQLITE_DONE)
				return SMILE_ERR_STORE;
		}
	}
	if (reveal) {
		st = stmt(c, ST_INSERT_REVEAL);
		if (st == NULL)
			return SMILE_ERR_STORE;
		bind_text(st, 1, sc->device_id);
		sqlite3_bind_int64(st, 2, sc->time_ms / HOUR_MS);
		if (step_done(st) != SQLITE_DONE)
			return SMILE_ERR_STORE;
	}
	for (size_t i = 0; i < sc->n_audit; i++) {
		rc = audit_append(s, c, &sc->audit[i], sc->time_ms);
		if (rc)
			return rc;
	}
	if (sc->suspend)
		return set_status(s, c, sc->device_id, SMILE_DEV_SUSPENDED, "gateway",
				  "quota_exceeded", sc->time_ms);
	return SMILE_OK;
}

/* Lease ID_LEASE shipment ids: the block starts at meta 'next_id' (or past
 * the largest id stored, for stores older than the lease) and the meta row
 * moves past it in the same transaction. */
static enum smile_err run_lease_ids(struct conn *c, uint64_t *start)
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
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)(next + ID_LEASE));
	bind_text(st, 1, "next_id");
	bind_text(st, 2, buf);
	if (step_done(st) != SQLITE_DONE)
		return SMILE_ERR_STORE;
	*start = next;
	return SMILE_OK;
}

/* Each job runs in its own savepoint: its failure undoes only its changes. */
void run_job(struct smile_store *s, struct conn *c, struct job *j)
{
	uint64_t audit_seq = s->audit_seq;
	uint8_t audit_head[32];

	memcpy(audit_head, s->audit_hash, 32);
	j->rc = SMILE_OK;
	switch (j->type) {
	case JOB_INSERT:
		j->rc = SMILE_OK;
		exec(c->db, "SAVEPOINT job");
		for (size_t i = 0; i < j->u.insert.n; i++) {
			struct smile_store_new_shipment *it = &j->u.insert.items[i];
			exec(c->db, "SAVEPOINT item");
			it->result = run_insert_one(c, it);
			if (it->result)
				exec(c->db, "ROLLBACK TO item");
			exec(c->db, "RELEASE item");
			if (it->result && j->u.insert.all_or_nothing) {
				j->rc = it->result;
				break;
			}
		}
		break;
	case JOB_ERASE:
		exec(c->db, "SAVEPOINT job");
		j->rc = run_erase(s, c, j->u.erase.id, j->u.erase.now_ms, j->u.erase.reason);
		break;
	case JOB_EVENT:
		exec(c->db, "SAVEPOINT job");
		j->rc = run_event(c, j->u.event);
		break;
	case JOB_PUT_APIKEY:
		exec(c->db, "SAVEPOINT job");
		j->rc = run_put_apikey(c, j->u.apikey);
		break;
	case JOB_REVOKE_APIKEY:
		exec(c->db, "SAVEPOINT job");
		j->rc = run_revoke_apikey(c, j->u.revoke.id, j->u.revoke.now_ms);
		break;
	case JOB_PUT_DEVICE:
		exec(c->db, "SAVEPOINT job");
		j->rc = run_put_device(s, c, j->u.put_device.d, j->u.put_device.actor);
		break;
	case JOB_DEVICE_STATUS:
		exec(c->db, "SAVEPOINT job");
		j->rc = set_status(s, c, j->u.dev_status.id, j->u.dev_status.st, j->u.dev_status.actor,
				   j->u.dev_status.reason, smile_store_now_ms());
		break;
	case JOB_SCAN:
		exec(c->db, "SAVEPOINT job");
		j->rc = run_scan(s, c, j->u.scan);
		break;
	case JOB_LEASE_IDS:
		exec(c->db, "SAVEPOINT job");
		j->rc = run_lease_ids(c, j->u.lease_start);
		break;
	case JOB_AUDIT:
		exec(c->db, "SAVEPOINT job");
		j->rc = SMILE_OK;
		for (size_t i = 0; i < j->u.audit.n && j->rc == SMILE_OK; i++)
			j->rc = audit_append(s, c, &j->u.audit.a[i], j->u.audit.time_ms);
		break;
	/* vault key rotation */
	case JOB_META_SET:
		exec(c->db, "SAVEPOINT job");
		j->rc = run_meta_set(s, c, j);
		break;
	case JOB_REWRAP:
		exec(c->db, "SAVEPOINT job");
		j->rc = run_rewrap(c, j->u.rewrap.rows, j->u.rewrap.n);
		break;
	}
	if (j->rc) {
		exec(c->db, "ROLLBACK TO job");
		/* the chain head follows the database */
		s->audit_seq = audit_seq;
		memcpy(s->audit_hash, audit_head, 32);
	}
	exec(c->db, "RELEASE job");
}

/* Read the chain head inside the open write transaction: BEGIN IMMEDIATE
 * holds the write lock, so nobody else can append until COMMIT. */
enum smile_err audit_load_head(struct smile_store *s, struct conn *c)
{
	sqlite3_stmt *st = stmt(c, ST_AUDIT_HEAD);
	int step;

	if (st == NULL)
		return SMILE_ERR_STORE;
	s->audit_seq = 0;
	memset(s->audit_hash, 0, 32);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW && sqlite3_column_bytes(st, 1) == 32) {
		s->audit_seq = (uint64_t)sqlite3_column_int64(st, 0);
		memcpy(s->audit_hash, sqlite3_column_blob(st, 1), 32);
	}
	sqlite3_reset(st);
	return step == SQLITE_ROW || step == SQLITE_DONE ? SMILE_OK : SMILE_ERR_STORE;
}

/* After an erasure, old page images of the wrapped key, the ciphertext and
 * withdrawn replies live on in WAL frames until the WAL is checkpointed and
 * truncated. A reader holding an old snapshot (a backup, the sqlite3 shell)
 * blocks that: the checkpoint is tried without the busy handler so the writer
 * never waits for the reader, and retried once a second until it completes.
 * Logged (warning when blocked, info when done) and shown in /metrics. */
void wal_scrub(struct smile_store *s, int after_erase)
{
	int rc;

	if (after_erase && !s->scrub_pending)
		s->scrub_since_ms = smile_store_now_ms();
	sqlite3_busy_timeout(s->writer.db, 0);
	rc = sqlite3_wal_checkpoint_v2(s->writer.db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL,
				       NULL);
	sqlite3_busy_timeout(s->writer.db, BUSY_TIMEOUT_MS);
	if (rc == SQLITE_OK) {
		if (s->scrub_pending)
			smile_log(SMILE_LOG_INFO, "store.wal_scrubbed",
				  SMILE_KV_INT("waited_ms",
					       (long long)(smile_store_now_ms() - s->scrub_since_ms)),
				  SMILE_KV_INT("attempts", s->scrub_pending + 1));
		s->scrub_pending = 0;
		atomic_store(&s->wal_pending, 0);
		return;
	}
	if (!s->scrub_pending)
		smile_log(SMILE_LOG_WARN, "store.wal_scrub_blocked",
			  SMILE_KV_INT("sqlite", rc),
			  SMILE_KV_ID("why", "a reader holds an old snapshot; retrying"));
	s->scrub_pending++;
	atomic_store(&s->wal_pending, 1);
	smile_metrics_add(SMILE_COUNTER_WAL_SCRUB_RETRIES, 1);
}





/* ------------------------------------------------------------ readers */

static struct conn *reader_get(struct smile_store *s)
{
	struct conn *c;
	pthread_mutex_lock(&s->rlock);
	while (s->free_readers == NULL)
		pthread_cond_wait(&s->rcond, &s->rlock);
	c = s->free_readers;
	s->free_readers = c->next_free;
	pthread_mutex_unlock(&s->rlock);
	return c;
}

static void reader_put(struct smile_store *s, struct conn *c)
{
	pthread_mutex_lock(&s->rlock);
	c->next_free = s->free_readers;
	s->free_readers = c;
	pthread_cond_signal(&s->rcond);
	pthread_mutex_unlock(&s->rlock);
}

/* A read connection with statement `id` reset and ready; NULL (and the
 * connection already given back) when the statement cannot be prepared. */
static sqlite3_stmt *reader_stmt(struct smile_store *s, enum stmt_id id, struct conn **c)
{
	sqlite3_stmt *st;
	*c = reader_get(s);
	st = stmt(*c, id);
	if (st == NULL) {
		reader_put(s, *c);
		*c = NULL;
	}
	return st;
}

static void col_text(sqlite3_stmt *st, int i, char *out, size_t n)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	snprintf(out, n, "%s", t ? (const char *)t : "");
}

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
	if (out->public_json == NULL)
		return SMILE_ERR_NOMEM;
	/* unknown text is a corrupt row: refused, never read as some status */
	if (smile_shipment_status_parse(status, &out->status) != SMILE_OK) {
		smile_log(SMILE_LOG_ERROR, "store.bad_shipment_status",
			  SMILE_KV_INT("shipment", (long long)out->id));
		smile_store_shipment_release(out);
		return SMILE_ERR_STORE;
	}
	return SMILE_OK;
}

static enum smile_err get_shipment(struct smile_store *s, enum stmt_id which, const char *waybill,
				   uint64_t id, struct smile_store_shipment *out)
{
	struct conn *c;
	sqlite3_stmt *st = reader_stmt(s, which, &c);
	enum smile_err rc;
	int step;

	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return SMILE_ERR_STORE;
	if (which == ST_GET_SHIPMENT)
		bind_text(st, 1, waybill);
	else
		sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		rc = read_shipment_row(st, out);
	else
		rc = step == SQLITE_DONE ? SMILE_ERR_NOT_FOUND : SMILE_ERR_STORE;
	sqlite3_reset(st);
	reader_put(s, c);
	return rc;
}

/* ------------------------------------------------------------ public API */



enum smile_err smile_store_open(const char *url, int create, int readers,
				struct smile_store **out, struct smile_error *e)
{
	struct smile_store *s;
	const char *path = url;
	enum smile_err rc;

	*out = NULL;
	if (strncmp(url, "sqlite:", 7) == 0)
		path = url + 7;
	else if (strstr(url, "://"))
		return smile_error_set(e, SMILE_ERR_UNSUPPORTED, "store",
				       "only sqlite: stores are supported by this build");
	if (readers < 1)
		readers = 1;
	if (!sqlite3_threadsafe())
		return smile_error_set(e, SMILE_ERR_STORE, NULL, "SQLite built without threads");

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
	pthread_mutex_init(&s->rlock, NULL);
	pthread_cond_init(&s->rcond, NULL);
	pthread_mutex_init(&s->qlock, NULL);
	pthread_mutex_init(&s->idlock, NULL);
	pthread_cond_init(&s->qwork, NULL);
	pthread_cond_init(&s->qdone, NULL);
	pthread_cond_init(&s->qspace, NULL);
	s->path = strdup(path);
	if (s->path == NULL) {
		rc = smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
		goto fail;
	}
	rc = conn_open(&s->writer, path, 0, create, e);
	if (rc)
		goto fail;
	/* The store holds sealed blobs only, but it is nobody else's business. */
	if (chmod(path, 0600) != 0 && errno != ENOENT) {
		rc = smile_error_set(e, SMILE_ERR_IO, "store", "cannot set database mode 0600");
		goto fail;
	}
	if (exec(s->writer.db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;") !=
	    SQLITE_OK) {
		rc = db_err(s->writer.db, e, "enable WAL");
		goto fail;
	}
	rc = migrate(s->writer.db, e);
	if (rc)
		goto fail;


	s->readers = calloc((size_t)readers, sizeof(*s->readers));
	if (s->readers == NULL) {
		rc = smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
		goto fail;
	}
	for (int i = 0; i < readers; i++) {
		rc = conn_open(&s->readers[i], path, 1, 0, e);
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
		conn_close(&s->readers[i]);
	free(s->readers);
	if (s->writer.db) {
		sqlite3_wal_checkpoint_v2(s->writer.db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL,
					  NULL);
		conn_close(&s->writer);
	}
	pthread_mutex_destroy(&s->rlock);
	pthread_cond_destroy(&s->rcond);
	pthread_mutex_destroy(&s->qlock);
	pthread_mutex_destroy(&s->idlock);
	pthread_cond_destroy(&s->qwork);
	pthread_cond_destroy(&s->qdone);
	pthread_cond_destroy(&s->qspace);
	free(s->path);
	free(s);
}

enum smile_err smile_store_ping(struct smile_store *s)
{
	struct conn *c = reader_get(s);
	int rc = exec(c->db, "SELECT 1");
	reader_put(s, c);
	return rc == SQLITE_OK ? SMILE_OK : SMILE_ERR_STORE;
}




enum smile_err smile_store_get_shipment(struct smile_store *s, const char *waybill,
					struct smile_store_shipment *out)
{
	return get_shipment(s, ST_GET_SHIPMENT, waybill, 0, out);
}

enum smile_err smile_store_get_shipment_by_id(struct smile_store *s, uint64_t id,
					      struct smile_store_shipment *out)
{
	return get_shipment(s, ST_GET_SHIPMENT_ID, NULL, id, out);
}


enum smile_err smile_store_get_personal(struct smile_store *s, uint64_t id,
					struct smile_store_personal *out)
{
	struct conn *c = reader_get(s);
	sqlite3_stmt *st = stmt(c, ST_GET_PERSONAL);
	enum smile_err rc = SMILE_ERR_STORE;

	memset(out, 0, sizeof(*out));
	if (st == NULL)
		goto out;
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
out:
	reader_put(s, c);
	return rc;
}



enum smile_err smile_store_retention_due(struct smile_store *s, int64_t delivered_before_ms,
					 int64_t created_before_ms, uint64_t *ids, size_t max,
					 size_t *n)
{
	struct conn *c;
	sqlite3_stmt *st = reader_stmt(s, ST_RETENTION, &c);
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
	reader_put(s, c);
	return rc;
}

enum smile_err smile_store_list_shipments(struct smile_store *s, int64_t since_ms,
					  uint64_t after_id, const char *const *merchants,
					  size_t n_merchants, size_t limit,
					  smile_store_shipment_cb cb, void *ctx)
{
	/* The merchant filter varies in length, so this statement is built per
	 * call (still fully parameterised) instead of cached. */
	char sql[512];
	size_t used;
	struct conn *c;
	sqlite3_stmt *st = NULL;
	enum smile_err rc = SMILE_OK;
	int step, bi = 1;

	if (n_merchants > SMILE_STORE_MAX_BINDINGS)
		return SMILE_ERR_INVALID;
	used = (size_t)snprintf(sql, sizeof(sql),
				"SELECT " SHIPMENT_COLS " FROM shipments WHERE created_ms >= ? "
				"AND id > ?");
	if (merchants && n_merchants) {
		used += (size_t)snprintf(sql + used, sizeof(sql) - used, " AND merchant IN (");
		for (size_t i = 0; i < n_merchants; i++)
			used += (size_t)snprintf(sql + used, sizeof(sql) - used, "%s?",
						 i ? "," : "");
		used += (size_t)snprintf(sql + used, sizeof(sql) - used, ")");
	}
	snprintf(sql + used, sizeof(sql) - used, " ORDER BY id LIMIT ?");

	c = reader_get(s);
	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
		reader_put(s, c);
		return SMILE_ERR_STORE;
	}
	sqlite3_bind_int64(st, bi++, since_ms);
	sqlite3_bind_int64(st, bi++, (sqlite3_int64)after_id);
	if (merchants)
		for (size_t i = 0; i < n_merchants; i++)
			bind_text(st, bi++, merchants[i]);
	sqlite3_bind_int64(st, bi, (sqlite3_int64)limit);
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
	reader_put(s, c);
	return rc;
}


enum smile_err smile_store_list_events(struct smile_store *s, uint64_t shipment_id,
				       smile_store_event_cb cb, void *ctx)
{
	struct conn *c;
	sqlite3_stmt *st = reader_stmt(s, ST_LIST_EVENTS, &c);
	enum smile_err rc = SMILE_OK;
	int step;

	if (st == NULL)
		return SMILE_ERR_STORE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)shipment_id);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct smile_store_event ev;
		memset(&ev, 0, sizeof(ev));
		ev.id = (uint64_t)sqlite3_column_int64(st, 0);
		ev.shipment_id = (uint64_t)sqlite3_column_int64(st, 1);
		col_text(st, 2, ev.waybill, sizeof(ev.waybill));
		col_text(st, 3, ev.event, sizeof(ev.event));
		ev.time_ms = sqlite3_column_int64(st, 4);
		col_text(st, 5, ev.device_id, sizeof(ev.device_id));
		col_text(st, 6, ev.device_role, sizeof(ev.device_role));
		col_text(st, 7, ev.detail, sizeof(ev.detail));
		ev.recorded_ms = sqlite3_column_int64(st, 8);
		if (ev.recorded_ms == 0)
			ev.recorded_ms = ev.time_ms;
		if (cb(ctx, &ev))
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = SMILE_ERR_STORE;
	sqlite3_reset(st);
	reader_put(s, c);
	return rc;
}

enum smile_err smile_store_get_idem(struct smile_store *s, const char *api_key_id,
				    const char *key, struct smile_store_idem *out)
{
	struct conn *c;
	sqlite3_stmt *st = reader_stmt(s, ST_GET_IDEM, &c);
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
	reader_put(s, c);
	return rc;
}



enum smile_err smile_store_find_apikey(struct smile_store *s, const uint8_t hash[32],
				       struct smile_store_apikey *out)
{
	struct conn *c;
	sqlite3_stmt *st = reader_stmt(s, ST_FIND_APIKEY, &c);
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
	reader_put(s, c);
	return rc;
}







static enum smile_err read_device_row(sqlite3_stmt *st, struct smile_store_device *d)
{
	char role[16], status[16];
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
	col_text(st, 5, status, sizeof(status));
	/* unknown text reads as revoked (fails closed) */
	if (smile_device_status_parse(status, &d->status))
		smile_log(SMILE_LOG_ERROR, "store.bad_device_status", SMILE_KV_ID("device", d->id));
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


enum smile_err smile_store_get_device(struct smile_store *s, const char *id,
				      struct smile_store_device *out)
{
	struct conn *c;
	sqlite3_stmt *st = reader_stmt(s, ST_GET_DEVICE, &c);
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
	reader_put(s, c);
	if (rc)
		smile_store_device_release(out);
	return rc;
}

enum smile_err smile_store_list_devices(struct smile_store *s, smile_store_device_cb cb, void *ctx)
{
	struct conn *c;
	sqlite3_stmt *st = reader_stmt(s, ST_LIST_DEVICES, &c);
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
	reader_put(s, c);
	return rc;
}


enum smile_err smile_store_count_reveals(struct smile_store *s, const char *device,
					 int64_t since_ms, uint64_t *n)
{
	struct conn *c = reader_get(s);
	sqlite3_stmt *st = stmt(c, ST_COUNT_REVEALS);
	enum smile_err rc = SMILE_ERR_STORE;

	*n = 0;
	if (st) {
		bind_text(st, 1, device);
		/* the whole hour `since_ms` falls in counts: the window errs long,
		 * so a quota is never exceeded, only reached up to an hour early */
		sqlite3_bind_int64(st, 2, since_ms / HOUR_MS);
		if (sqlite3_step(st) == SQLITE_ROW) {
			*n = (uint64_t)sqlite3_column_int64(st, 0);
			rc = SMILE_OK;
		}
		sqlite3_reset(st);
	}
	reader_put(s, c);
	return rc;
}





enum smile_err smile_store_audit_verify(struct smile_store *s, uint64_t *n_entries,
					uint64_t *first_bad, uint8_t head[32], struct smile_error *e)
{
	struct conn *c = reader_get(s);
	sqlite3_stmt *st = stmt(c, ST_AUDIT_ALL);
	uint8_t prev[32] = {0}, h[32];
	uint64_t expect = 1;
	enum smile_err rc = SMILE_OK;
	int step;

	*n_entries = 0;
	*first_bad = 0;
	if (st == NULL) {
		reader_put(s, c);
		return smile_error_set(e, SMILE_ERR_STORE, "audit", "cannot read the audit log");
	}
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0);
		const char *kind = (const char *)sqlite3_column_text(st, 2);
		const char *subject = (const char *)sqlite3_column_text(st, 3);
		const char *actor = (const char *)sqlite3_column_text(st, 4);
		const char *detail = (const char *)sqlite3_column_text(st, 5);
		if (seq != expect) {
			*first_bad = expect;
			rc = smile_error_set(e, SMILE_ERR_AUDIT_BROKEN, "audit",
					     "entry %llu is missing (next present: %llu)",
					     (unsigned long long)expect, (unsigned long long)seq);
			break;
		}
		if (sqlite3_column_bytes(st, 6) != 32 ||
		    memcmp(sqlite3_column_blob(st, 6), prev, 32) != 0) {
			*first_bad = seq;
			rc = smile_error_set(e, SMILE_ERR_AUDIT_BROKEN, "audit",
					     "entry %llu does not follow entry %llu (deleted, "
					     "inserted or reordered)",
					     (unsigned long long)seq, (unsigned long long)(seq - 1));
			break;
		}
		audit_hash(prev, seq, sqlite3_column_int64(st, 1), kind, subject, actor, detail, h);
		if (sqlite3_column_bytes(st, 7) != 32 || memcmp(sqlite3_column_blob(st, 7), h, 32)) {
			*first_bad = seq;
			rc = smile_error_set(e, SMILE_ERR_AUDIT_BROKEN, "audit",
					     "entry %llu was altered (its hash does not match)",
					     (unsigned long long)seq);
			break;
		}
		memcpy(prev, h, 32);
		expect++;
		(*n_entries)++;
	}
	if (rc == SMILE_OK && step != SQLITE_DONE)
		rc = smile_error_set(e, SMILE_ERR_STORE, "audit", "cannot read the audit log");
	if (rc == SMILE_OK && head)
		memcpy(head, prev, 32);
	sqlite3_reset(st);
	reader_put(s, c);
	return rc;
}

/* ================================================================ vault key rotation
 * Added for `keys rotate-vault` (gateway/vault_rotate.c, docs/vault.md): meta
 * rows with compare-and-set, paging through wrapped keys, compare-and-set
 * rewrapping, and a read-only pass over a store file for checking backups.
 * Kept in one block, after everything else, so it stays apart from the rest
 * of the backend. */

enum smile_err smile_store_meta_get(struct smile_store *s, const char *key, char *out, size_t n)
{
	struct conn *c;
	sqlite3_stmt *st;
	enum smile_err rc;
	int step;

	if (out == NULL || n == 0 || key == NULL)
		return SMILE_ERR_INVALID;
	out[0] = '\0';
	st = reader_stmt(s, ST_META_GET, &c);
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
	reader_put(s, c);
	return rc;
}

static enum smile_err run_meta_set(struct smile_store *s, struct conn *c, const struct job *j)
{
	sqlite3_stmt *st;
	enum smile_err rc;

	if (j->u.meta.expect != NULL) {
		int step, same;
		st = stmt(c, ST_META_GET);
		if (st == NULL)
			return SMILE_ERR_STORE;
		bind_text(st, 1, j->u.meta.key);
		step = sqlite3_step(st);
		same = step == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL &&
		       strcmp((const char *)sqlite3_column_text(st, 0), j->u.meta.expect) == 0;
		sqlite3_reset(st);
		if (step != SQLITE_ROW && step != SQLITE_DONE)
			return SMILE_ERR_STORE;
		if (!same)
			return SMILE_ERR_CONFLICT;
	}
	st = stmt(c, j->u.meta.value != NULL ? ST_META_PUT : ST_META_DELETE);
	if (st == NULL)
		return SMILE_ERR_STORE;
	bind_text(st, 1, j->u.meta.key);
	if (j->u.meta.value != NULL)
		bind_text(st, 2, j->u.meta.value);
	rc = map_step(step_done(st));
	for (size_t i = 0; rc == SMILE_OK && i < j->u.meta.n; i++)
		rc = audit_append(s, c, &j->u.meta.a[i], j->u.meta.time_ms);
	return rc;
}


enum smile_err smile_store_list_wrapped(struct smile_store *s, uint64_t after_id,
					struct smile_store_wrapped *rows, size_t max, size_t *n)
{
	struct conn *c;
	sqlite3_stmt *st;
	enum smile_err rc = SMILE_OK;
	int step;

	*n = 0;
	if (rows == NULL || max == 0)
		return SMILE_ERR_INVALID;
	st = reader_stmt(s, ST_LIST_WRAPPED, &c);
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
	reader_put(s, c);
	return rc;
}

static enum smile_err run_rewrap(struct conn *c, struct smile_store_wrapped *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct smile_store_wrapped *r = &rows[i];
		sqlite3_stmt *st = stmt(c, ST_REWRAP);
		if (st == NULL)
			return SMILE_ERR_STORE;
		sqlite3_bind_blob(st, 1, r->new_key, (int)r->new_len, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)r->shipment_id);
		sqlite3_bind_blob(st, 3, r->wrapped_key, (int)r->wrapped_len, SQLITE_STATIC);
		if (step_done(st) != SQLITE_DONE)
			return SMILE_ERR_STORE;
		r->result = sqlite3_changes(c->db) ? SMILE_OK : SMILE_ERR_CONFLICT;
	}
	return SMILE_OK;
}


enum smile_err smile_store_each_personal(const char *url, smile_store_personal_cb cb, void *ctx,
					 struct smile_error *e)
{
	const char *path = url;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct stat sb;
	enum smile_err rc = SMILE_OK;
	int step;

	if (url == NULL || cb == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "argument missing");
	if (strncmp(url, "sqlite:", 7) == 0)
		path = url + 7;
	else if (strstr(url, "://"))
		return smile_error_set(e, SMILE_ERR_UNSUPPORTED, "store",
				       "only sqlite: stores are supported by this build");
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
