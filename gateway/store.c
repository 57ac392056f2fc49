/*
 * store.c - the backend-neutral core of store.h.
 *
 * Moved out of store_sqlite.c: the job queue and group commit with one
 * writer thread, async callbacks and back-pressure, the audit hash, the
 * name tables and the public functions that queue write jobs.
 */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smile/log.h"
#include "store_backend.h"

int64_t smile_store_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ audit */

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
void audit_hash(const uint8_t prev[32], uint64_t seq, int64_t time_ms, const char *kind,
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

void *writer_main(void *arg)
{
	struct smile_store *s = arg;

	for (;;) {
		struct job *batch, *j, *last;
		int n = 0, erased = 0;

		pthread_mutex_lock(&s->qlock);
		while (s->head == NULL && !s->stopping) {
			if (!s->scrub_pending) {
				pthread_cond_wait(&s->qwork, &s->qlock);
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

		int ok = exec(s->writer.db, "BEGIN IMMEDIATE") == SQLITE_OK &&
			 audit_load_head(s, &s->writer) == SMILE_OK;
		for (j = batch; j; j = j->next) {
			if (!ok) {
				j->rc = SMILE_ERR_STORE;
				continue;
			}
			run_job(s, &s->writer, j);
			if (j->type == JOB_ERASE && j->rc == SMILE_OK)
				erased = 1;
		}
		if (ok && exec(s->writer.db, "COMMIT") != SQLITE_OK) {
			smile_log(SMILE_LOG_ERROR, "store.commit_failed",
				  SMILE_KV_INT("sqlite", sqlite3_extended_errcode(s->writer.db)));
			ok = 0;
		}
		if (!ok)
			exec(s->writer.db, "ROLLBACK");
		if (!ok)
			for (j = batch; j; j = j->next) {
				j->rc = SMILE_ERR_STORE;
				if (j->type == JOB_INSERT)
					for (size_t i = 0; i < j->u.insert.n; i++)
						j->u.insert.items[i].result = SMILE_ERR_STORE;
			}
		if (ok && erased)
			wal_scrub(s, 1);

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

int smile_store_wal_pending(struct smile_store *s)
{
	return atomic_load(&s->wal_pending);
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

void smile_store_shipment_release(struct smile_store_shipment *row)
{
	if (row == NULL)
		return;
	free(row->public_json);
	free(row->device_view);
	row->public_json = NULL;
	row->device_view = NULL;
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

enum smile_err smile_store_add_event(struct smile_store *s, const struct smile_store_event *ev)
{
	struct job j = {.type = JOB_EVENT, .u.event = ev};
	return submit(s, &j);
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

enum smile_err smile_store_revoke_apikey(struct smile_store *s, const char *id, int64_t now_ms)
{
	struct job j = {.type = JOB_REVOKE_APIKEY, .u.revoke = {id, now_ms}};
	return submit(s, &j);
}

/* ------------------------------------------------------------ devices API */

static const char *const dev_roles[] = {"courier", "hub", "supervisor"};
const char *const dev_statuses[] = {"active", "suspended", "revoked"};

const char *smile_device_role_name(enum smile_device_role r)
{
	return (unsigned)r < 3 ? dev_roles[r] : "unknown";
}

enum smile_err smile_device_role_parse(const char *s, enum smile_device_role *out)
{
	for (int i = 0; i < 3; i++)
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

enum smile_err smile_store_set_device_status(struct smile_store *s, const char *id,
					     enum smile_device_status st, const char *actor,
					     const char *reason)
{
	struct job j = {.type = JOB_DEVICE_STATUS, .u.dev_status = {id, st, actor, reason}};
	return submit(s, &j);
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

enum smile_err smile_store_audit(struct smile_store *s, const struct smile_audit_entry *a, size_t n,
				 int64_t time_ms)
{
	struct job j = {.type = JOB_AUDIT, .u.audit = {a, n, time_ms}};
	return submit(s, &j);
}

enum smile_err smile_store_meta_set(struct smile_store *s, const char *key, const char *expect,
				    const char *value, const struct smile_audit_entry *a,
				    size_t n_audit, int64_t time_ms)
{
	struct job j = {.type = JOB_META_SET,
			.u.meta = {key, expect, value, a, a ? n_audit : 0, time_ms}};

	/* the schema version belongs to migrate() alone */
	if (key == NULL || key[0] == '\0' || strcmp(key, "schema_version") == 0)
		return SMILE_ERR_INVALID;
	if ((value && strlen(value) >= SMILE_STORE_META_MAX) ||
	    (expect && strlen(expect) >= SMILE_STORE_META_MAX))
		return SMILE_ERR_TOO_LARGE;
	return submit(s, &j);
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
