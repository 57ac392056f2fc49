/*
 * store_backend.h (gateway-internal) - what store.c and store_sqlite.c share.
 *
 * Transitional: the backend-neutral parts of the store (job queue, group
 * commit, audit hashing, name tables) have just moved to store.c; until the
 * ops table replaces it, the two files share the store's structs and the few
 * functions that cross between them here.
 */
#ifndef SMILE_GATEWAY_STORE_BACKEND_H
#define SMILE_GATEWAY_STORE_BACKEND_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>

#include "store.h"

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
	ST_SET_HOLDER,
	ST_AUDIT_INSERT,
	ST_AUDIT_HEAD,
	ST_AUDIT_ALL,
	ST_FORGET_REPLIES,
	ST_SCAN_SHIPMENT_ERASED,
	ST_MAX_SHIPMENT_ID,
	/* vault key rotation (the block at the end of this file) */
	ST_META_GET,
	ST_META_PUT,
	ST_META_DELETE,
	ST_LIST_WRAPPED,
	ST_REWRAP,
	ST_COUNT
};

struct conn {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	struct conn *next_free;
};

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
	JOB_REWRAP
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
	} u;
	enum smile_err rc;
	int done;
	struct job *next;
	/* async jobs: owned by the store, completed by a callback */
	smile_store_done_fn done_fn;
	void *done_arg;
};

#define MAX_JOBS_PER_COMMIT 2048
#define HOUR_MS 3600000LL
#define MAX_ASYNC_INFLIGHT 4096

struct smile_store {
	char *path;
	struct conn writer;
	struct conn *readers;
	int n_readers;
	struct conn *free_readers;
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

	/* Shipment ids are leased from the database in blocks (meta
	 * 'next_id'), so another process or node never hands out the same id;
	 * a crashed process only leaves a gap. */
	pthread_mutex_t idlock;
	uint64_t id_next, id_end; /* the lease: [id_next, id_end) */

	/* The audit chain head as read inside the current write transaction:
	 * reloaded at every BEGIN, because another process (the CLI, another
	 * node) may have appended since. Only the writer thread touches it. */
	uint64_t audit_seq;
	uint8_t audit_hash[32];

	/* WAL scrub after an erasure: > 0 while old page images may remain in
	 * the WAL because a reader blocked the truncating checkpoint. */
	int scrub_pending;
	int64_t scrub_since_ms;
	atomic_int wal_pending; /* mirror of scrub_pending != 0 for other threads */
};

#define BUSY_TIMEOUT_MS 10000
#define ID_LEASE 1024
#define SCRUB_RETRY_MS 1000

/* store.c */
int64_t smile_store_now_ms(void);
void audit_hash(const uint8_t prev[32], uint64_t seq, int64_t time_ms, const char *kind,
		const char *subject, const char *actor, const char *detail, uint8_t out[32]);
extern const char *const dev_statuses[];
void *writer_main(void *arg);

/* store_sqlite.c */
int exec(sqlite3 *db, const char *sql);
void run_job(struct smile_store *s, struct conn *c, struct job *j);
enum smile_err audit_load_head(struct smile_store *s, struct conn *c);
void wal_scrub(struct smile_store *s, int after_erase);

#endif
