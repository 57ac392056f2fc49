/* SPDX-License-Identifier: Apache-2.0 */
/* Conformance suite of the store (gateway/store.h): every test talks to
 * store.h only, never to a backend's header, so it checks any backend.
 *
 * Which backend: the environment variable SMILE_TEST_STORE_URL.
 *   - unset: each test gets a fresh SQLite store, DIR/store.db in a fresh
 *     temporary directory (removed afterwards);
 *   - set: each test gets SMILE_TEST_STORE_URL with "-PID-N" appended (N
 *     counts the tests), opened with create = 1, so a backend for a server
 *     must create that database (or schema) on open. PostgreSQL: the URL
 *     ends with a database name (no "?..."), e.g.
 *     SMILE_TEST_STORE_URL=postgresql://smile@127.0.0.1:5432/smile gives
 *     databases "smile-PID-N", which the writer's open creates through the
 *     maintenance database "postgres" (the role needs CREATEDB);
 *     tests/integration/test_store_postgres.sh runs this suite on a private
 *     cluster and drops "smile-*" afterwards. With "sqlite:/tmp/x/store"
 *     the stores are the files /tmp/x/store-PID-N.
 *   bash tests/run unit/gateway/test_store runs it (default);
 *   SMILE_TEST_STORE_URL=... bash tests/run unit/gateway/test_store for
 *   another backend.
 * What only the SQLite backend can show (bytes in the WAL, schema version
 * tampering, raw edits of the audit table, the file's mode) is in
 * test_store_sqlite.c.
 *
 * Covered: round trips, group commit under concurrency, savepoint isolation,
 * idempotency conflicts, erasure, retention, reopen, URL dispatch, devices
 * (revoked is final), scans, shipment status lifecycle, audit; and, for vault
 * key rotation, meta compare-and-set with audit entries, paging wrapped keys,
 * compare-and-set rewrapping from a second handle that never undoes an
 * erasure, and a read-only pass over a store; webhooks: endpoints, the
 * outbox filled in each event's transaction, claims (one in flight per
 * endpoint, order per waybill, leases), retries, dead letters, redelivery. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../../gateway/store.h"

struct fixture {
	char dir[64];   /* the temporary directory of the default store, or "" */
	char url[512];
	struct smile_store *s;
};

static int setup(void **state)
{
	static int n_tests;
	struct fixture *f = calloc(1, sizeof(*f));
	struct smile_error e = {0};
	const char *base = getenv("SMILE_TEST_STORE_URL");

	if (f == NULL)
		return -1;
	n_tests++;
	if (base && base[0]) {
		snprintf(f->url, sizeof(f->url), "%s-%ld-%d", base, (long)getpid(), n_tests);
	} else {
		snprintf(f->dir, sizeof(f->dir), "/tmp/smile-store-XXXXXX");
		if (mkdtemp(f->dir) == NULL)
			return -1;
		snprintf(f->url, sizeof(f->url), "%s/store.db", f->dir);
	}
	if (smile_store_open(f->url, 1, 4, &f->s, &e) != SMILE_OK) {
		fprintf(stderr, "cannot open the store: %s\n", e.message);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[160];
	smile_store_close(f->s);
	if (f->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
		if (system(cmd) != 0)
			return -1;
	}
	free(f);
	return 0;
}

static void make_row(struct smile_store_shipment *r, uint64_t id, const char *merchant)
{
	memset(r, 0, sizeof(*r));
	r->id = id;
	snprintf(r->waybill, sizeof(r->waybill), "SW261129%07llu", (unsigned long long)id);
	snprintf(r->merchant, sizeof(r->merchant), "%s", merchant);
	snprintf(r->merchant_ref, sizeof(r->merchant_ref), "order-%llu", (unsigned long long)id);
	snprintf(r->token, sizeof(r->token), "SW1:TOKEN%llu", (unsigned long long)id);
	snprintf(r->region, sizeof(r->region), "CN/湖北省/武汉市/江汉区");
	r->created_ms = 1764400000000LL + (int64_t)id;
	r->public_json = (char *)"{\"masked\":true}";
}

static enum smile_err insert_one(struct smile_store *s, uint64_t id, const char *merchant,
				 const struct smile_store_idem *idem)
{
	struct smile_store_shipment r;
	uint8_t ct[40];
	struct smile_store_personal p = {.wrapped_len = 72, .ct = ct, .ct_len = sizeof(ct)};
	memset(p.wrapped_key, 0xAB, sizeof(p.wrapped_key));
	memset(ct, 0xCD, sizeof(ct));
	make_row(&r, id, merchant);
	struct smile_store_new_shipment item = {&r, &p, idem, SMILE_OK, NULL};
	enum smile_err rc = smile_store_insert_shipments(s, &item, 1, 0);
	return rc ? rc : item.result;
}

static void all_or_nothing_batch(void **state)
{
	struct fixture *f = *state;
	struct smile_store_shipment r[3], got;
	struct smile_store_new_shipment items[3];
	uint8_t ct[4] = {1, 2, 3, 4};
	struct smile_store_personal p = {.wrapped_len = 8, .ct = ct, .ct_len = 4};

	assert_int_equal(insert_one(f->s, 2, "acme", NULL), SMILE_OK);
	for (int i = 0; i < 3; i++) {
		make_row(&r[i], (uint64_t)i + 1, "acme"); /* id 2 collides */
		items[i] = (struct smile_store_new_shipment){&r[i], &p, NULL, SMILE_OK, NULL};
	}
	assert_int_equal(smile_store_insert_shipments(f->s, items, 3, 1), SMILE_ERR_EXISTS);
	assert_int_equal(smile_store_get_shipment_by_id(f->s, 1, &got), SMILE_ERR_NOT_FOUND);
	/* without all_or_nothing the good items land */
	assert_int_equal(smile_store_insert_shipments(f->s, items, 3, 0), SMILE_OK);
	assert_int_equal(items[0].result, SMILE_OK);
	assert_int_equal(items[1].result, SMILE_ERR_EXISTS);
	assert_int_equal(items[2].result, SMILE_OK);
	assert_int_equal(smile_store_get_shipment_by_id(f->s, 3, &got), SMILE_OK);
	smile_store_shipment_release(&got);
}

static void round_trip(void **state)
{
	struct fixture *f = *state;
	struct smile_store_shipment got;
	struct smile_store_personal p;
	uint64_t id;

	assert_int_equal(smile_store_next_id(f->s, &id), SMILE_OK);
	assert_int_equal(id, 1);
	assert_int_equal(insert_one(f->s, id, "acme", NULL), SMILE_OK);
	assert_int_equal(smile_store_get_shipment(f->s, "SW2611290000001", &got), SMILE_OK);
	assert_int_equal(got.id, 1);
	assert_string_equal(got.merchant, "acme");
	assert_int_equal(got.status, SMILE_SHIPMENT_CREATED);
	assert_string_equal(got.public_json, "{\"masked\":true}");
	assert_string_equal(got.region, "CN/湖北省/武汉市/江汉区");
	smile_store_shipment_release(&got);
	assert_int_equal(smile_store_get_shipment(f->s, "SW0000", &got), SMILE_ERR_NOT_FOUND);

	assert_int_equal(smile_store_get_personal(f->s, 1, &p), SMILE_OK);
	assert_int_equal(p.wrapped_len, 72);
	assert_int_equal(p.ct_len, 40);
	assert_int_equal(p.ct[0], 0xCD);
	smile_store_personal_release(&p);
	assert_int_equal(smile_store_get_personal(f->s, 99, &p), SMILE_ERR_NOT_FOUND);

	/* duplicate id: refused, nothing changes */
	assert_int_equal(insert_one(f->s, 1, "other", NULL), SMILE_ERR_EXISTS);
	assert_int_equal(smile_store_get_shipment_by_id(f->s, 1, &got), SMILE_OK);
	assert_string_equal(got.merchant, "acme");
	smile_store_shipment_release(&got);
}

static int count_events(void *ctx, const struct smile_store_event *ev)
{
	(void)ev;
	(*(int *)ctx)++;
	return 0;
}

static void erase_shreds_and_keeps_tracking(void **state)
{
	struct fixture *f = *state;
	struct smile_store_personal p;
	struct smile_store_shipment got;
	int n = 0;

	assert_int_equal(insert_one(f->s, 7, "acme", NULL), SMILE_OK);
	assert_int_equal(smile_store_erase_personal(f->s, 7, 1764400009999LL, "api"), SMILE_OK);
	assert_int_equal(smile_store_get_personal(f->s, 7, &p), SMILE_ERR_SHREDDED);
	assert_int_equal(smile_store_erase_personal(f->s, 7, 1, "api"), SMILE_ERR_SHREDDED);
	assert_int_equal(smile_store_erase_personal(f->s, 8, 1, "api"), SMILE_ERR_NOT_FOUND);
	assert_int_equal(smile_store_get_shipment_by_id(f->s, 7, &got), SMILE_OK);
	assert_int_equal(got.erased_ms, 1764400009999LL);
	smile_store_shipment_release(&got);
	assert_int_equal(smile_store_list_events(f->s, 7, count_events, &n), SMILE_OK);
	assert_int_equal(n, 2); /* created + erased */
	/* (that the bytes leave the files: test_store_sqlite.c) */
}

static void idempotency_conflict_inserts_nothing(void **state)
{
	struct fixture *f = *state;
	struct smile_store_idem idem = {.api_key_id = "k1", .key = "abc", .status = 201,
					.response = (char *)"{\"waybill\":\"x\"}"};
	struct smile_store_idem got;
	struct smile_store_shipment row;

	assert_int_equal(insert_one(f->s, 10, "acme", &idem), SMILE_OK);
	assert_int_equal(insert_one(f->s, 11, "acme", &idem), SMILE_ERR_CONFLICT);
	assert_int_equal(smile_store_get_shipment_by_id(f->s, 11, &row), SMILE_ERR_NOT_FOUND);
	assert_int_equal(smile_store_get_idem(f->s, "k1", "abc", &got), SMILE_OK);
	assert_int_equal(got.status, 201);
	assert_string_equal(got.response, "{\"waybill\":\"x\"}");
	smile_store_idem_release(&got);
	assert_int_equal(smile_store_get_idem(f->s, "k2", "abc", &got), SMILE_ERR_NOT_FOUND);
}

struct worker {
	struct smile_store *s;
	int base, n, failures;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < w->n; i++) {
		uint64_t id;
		if (smile_store_next_id(w->s, &id) || insert_one(w->s, id, "acme", NULL))
			w->failures++;
	}
	return NULL;
}

static int count_rows(void *ctx, const struct smile_store_shipment *row)
{
	(void)row;
	(*(int *)ctx)++;
	return 0;
}

static void concurrent_writers_all_land(void **state)
{
	struct fixture *f = *state;
	pthread_t t[8];
	struct worker w[8];
	int n = 0;

	for (int i = 0; i < 8; i++) {
		w[i] = (struct worker){f->s, i * 1000, 250, 0};
		pthread_create(&t[i], NULL, worker_main, &w[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	assert_int_equal(smile_store_list_shipments(f->s, 0, 0, NULL, 0, 100000, count_rows, &n),
			 SMILE_OK);
	assert_int_equal(n, 2000);
}

static void list_filters_merchants_and_pages(void **state)
{
	struct fixture *f = *state;
	const char *only[] = {"beta"};
	int n = 0;

	for (uint64_t id = 1; id <= 6; id++)
		assert_int_equal(insert_one(f->s, id, id % 2 ? "alpha" : "beta", NULL), SMILE_OK);
	assert_int_equal(smile_store_list_shipments(f->s, 0, 0, only, 1, 100, count_rows, &n),
			 SMILE_OK);
	assert_int_equal(n, 3);
	n = 0;
	assert_int_equal(smile_store_list_shipments(f->s, 0, 4, NULL, 0, 100, count_rows, &n),
			 SMILE_OK);
	assert_int_equal(n, 2);
	n = 0;
	assert_int_equal(smile_store_list_shipments(f->s, 0, 0, NULL, 0, 2, count_rows, &n),
			 SMILE_OK);
	assert_int_equal(n, 2);
}

static void retention_and_events(void **state)
{
	struct fixture *f = *state;
	uint64_t ids[8];
	size_t n;
	struct smile_store_event ev = {.shipment_id = 2, .waybill = "SW2611290000002",
				       .event = "delivered", .time_ms = 5000,
				       .device_id = "dev-1", .device_role = "courier"};

	assert_int_equal(insert_one(f->s, 1, "acme", NULL), SMILE_OK);
	assert_int_equal(insert_one(f->s, 2, "acme", NULL), SMILE_OK);
	assert_int_equal(smile_store_add_event(f->s, &ev), SMILE_OK);
	ev.shipment_id = 99;
	assert_int_equal(smile_store_add_event(f->s, &ev), SMILE_ERR_NOT_FOUND);
	/* delivered before 6000 -> id 2 only */
	assert_int_equal(smile_store_retention_due(f->s, 6000, 0, ids, 8, &n), SMILE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], 2);
	/* created long ago -> both */
	assert_int_equal(smile_store_retention_due(f->s, 0, INT64_MAX, ids, 8, &n), SMILE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(smile_store_erase_personal(f->s, 2, 7000, "retention"), SMILE_OK);
	assert_int_equal(smile_store_retention_due(f->s, 0, INT64_MAX, ids, 8, &n), SMILE_OK);
	assert_int_equal(n, 1);
}

static void apikeys(void **state)
{
	struct fixture *f = *state;
	struct smile_store_apikey k = {.id = "wh1", .role = SMILE_ROLE_WAREHOUSE, .n_bindings = 2,
				       .bindings = {"acme", "beta"}, .created_ms = 1};
	struct smile_store_apikey got;
	memset(k.hash, 7, 32);
	assert_int_equal(smile_store_put_apikey(f->s, &k), SMILE_OK);
	assert_int_equal(smile_store_put_apikey(f->s, &k), SMILE_ERR_EXISTS);
	assert_int_equal(smile_store_find_apikey(f->s, k.hash, &got), SMILE_OK);
	assert_string_equal(got.id, "wh1");
	assert_int_equal(got.role, SMILE_ROLE_WAREHOUSE);
	assert_int_equal(got.n_bindings, 2);
	assert_string_equal(got.bindings[1], "beta");
	assert_int_equal(smile_store_revoke_apikey(f->s, "wh1", 2), SMILE_OK);
	assert_int_equal(smile_store_revoke_apikey(f->s, "wh1", 3), SMILE_ERR_NOT_FOUND);
	assert_int_equal(smile_store_find_apikey(f->s, k.hash, &got), SMILE_ERR_NOT_FOUND);
}

static void reopen_keeps_data_and_ids(void **state)
{
	struct fixture *f = *state;
	struct smile_error e = {0};
	struct smile_store_shipment got;
	uint64_t id;

	assert_int_equal(insert_one(f->s, 41, "acme", NULL), SMILE_OK);
	smile_store_close(f->s);
	assert_int_equal(smile_store_open(f->url, 0, 2, &f->s, &e), SMILE_OK);
	assert_int_equal(smile_store_get_shipment_by_id(f->s, 41, &got), SMILE_OK);
	smile_store_shipment_release(&got);
	assert_int_equal(smile_store_next_id(f->s, &id), SMILE_OK);
	assert_int_equal(id, 42);
}

static void make_device(struct smile_store_device *d, const char *id, enum smile_device_role r)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->id, sizeof(d->id), "%s", id);
	memset(d->sign_pk, 1, 32);
	memset(d->box_pk, 2, 32);
	d->role = r;
	snprintf(d->zone, sizeof(d->zone), "CN/湖北省/武汉市");
	d->created_ms = 1000;
}

static void devices_and_status(void **state)
{
	struct fixture *f = *state;
	struct smile_store_device d, got;

	make_device(&d, "dev-1", SMILE_DEV_COURIER);
	assert_int_equal(smile_store_put_device(f->s, &d, "admin"), SMILE_OK);
	assert_int_equal(smile_store_put_device(f->s, &d, "admin"), SMILE_ERR_EXISTS);
	assert_int_equal(smile_store_get_device(f->s, "dev-1", &got), SMILE_OK);
	assert_int_equal(got.role, SMILE_DEV_COURIER);
	assert_int_equal(got.status, SMILE_DEV_ACTIVE);
	assert_string_equal(got.zone, "CN/湖北省/武汉市");
	assert_int_equal(got.last_seq, 0);
	assert_null(got.last_reply);
	smile_store_device_release(&got);
	assert_int_equal(smile_store_get_device(f->s, "nope", &got), SMILE_ERR_NOT_FOUND);
	assert_int_equal(smile_store_set_device_status(f->s, "dev-1", SMILE_DEV_SUSPENDED, "admin", "test"),
			 SMILE_OK);
	assert_int_equal(smile_store_set_device_status(f->s, "dev-1", SMILE_DEV_REVOKED, "admin", "lost"),
			 SMILE_OK);
	assert_int_equal(smile_store_set_device_status(f->s, "dev-1", SMILE_DEV_ACTIVE, "admin", "oops"),
			 SMILE_ERR_CONFLICT); /* revoked is final */
	assert_int_equal(smile_store_set_device_status(f->s, "x", SMILE_DEV_ACTIVE, "admin", "-"),
			 SMILE_ERR_NOT_FOUND);
}

/* The last event listed. */
static int last_event(void *ctx, const struct smile_store_event *ev)
{
	*(struct smile_store_event *)ctx = *ev;
	return 0;
}

static void scans_apply_once(void **state)
{
	struct fixture *f = *state;
	struct smile_store_device d, got;
	struct smile_store_shipment row;
	uint8_t digest[32] = {9}, reply[5] = {1, 2, 3, 4, 5};
	uint64_t n;
	struct smile_store_event ev = {.shipment_id = 1, .waybill = "SW2611290000001",
				       .event = "out_for_delivery", .time_ms = 2000,
				       .recorded_ms = 2500, .device_id = "dev-2",
				       .device_role = "courier"};
	struct smile_store_event listed;
	struct smile_audit_entry a = {"reveal", "SW2611290000001", "dev-2", "ok"};
	struct smile_store_scan sc = {"dev-2", 5, digest, reply, 5, 2000, &ev, 1, 1, 0, &a, 1, 0, NULL, NULL, 0, 0, NULL, NULL};
	int events = 0;

	make_device(&d, "dev-2", SMILE_DEV_COURIER);
	assert_int_equal(smile_store_put_device(f->s, &d, "admin"), SMILE_OK);
	assert_int_equal(insert_one(f->s, 1, "acme", NULL), SMILE_OK);
	assert_int_equal(smile_store_commit_scan(f->s, &sc), SMILE_OK);
	/* the commit names the event it stored, as the listing does (the
	 * merchant event's id is derived from it, protocol.md 10.1) */
	assert_true(ev.id != 0);
	memset(&listed, 0, sizeof(listed));
	assert_int_equal(smile_store_list_events(f->s, 1, last_event, &listed), SMILE_OK);
	assert_int_equal(listed.id, ev.id);
	assert_int_equal(listed.time_ms, 2000);
	assert_int_equal(listed.recorded_ms, 2500);
	/* redelivered: nothing applies twice */
	assert_int_equal(smile_store_commit_scan(f->s, &sc), SMILE_ERR_REPLAY);
	sc.seq = 4;
	assert_int_equal(smile_store_commit_scan(f->s, &sc), SMILE_ERR_REPLAY);
	assert_int_equal(smile_store_list_events(f->s, 1, count_events, &events), SMILE_OK);
	assert_int_equal(events, 2); /* created + one out_for_delivery */
	assert_int_equal(smile_store_count_reveals(f->s, "dev-2", 0, &n), SMILE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(smile_store_get_device(f->s, "dev-2", &got), SMILE_OK);
	assert_int_equal(got.last_seq, 5);
	assert_int_equal(got.last_reply_len, 5);
	assert_memory_equal(got.last_reply, reply, 5);
	assert_memory_equal(got.last_digest, digest, 32);
	smile_store_device_release(&got);
	assert_int_equal(smile_store_get_shipment_by_id(f->s, 1, &row), SMILE_OK);
	assert_string_equal(row.holder, "dev-2");
	assert_int_equal(row.status, SMILE_SHIPMENT_OUT_FOR_DELIVERY);
	smile_store_shipment_release(&row);
	/* over quota: suspended in the same commit */
	sc.seq = 6;
	sc.suspend = 1;
	sc.reveal = 0;
	sc.event = NULL;
	assert_int_equal(smile_store_commit_scan(f->s, &sc), SMILE_OK);
	assert_int_equal(smile_store_get_device(f->s, "dev-2", &got), SMILE_OK);
	assert_int_equal(got.status, SMILE_DEV_SUSPENDED);
	smile_store_device_release(&got);
}

/* docs/vault.md "Erasure": a stored reply that revealed a shipment is a
 * copy of its contact details (sealed to the device, openable with the
 * gateway's box key). Erasing the shipment withdraws it; a reply without
 * contact details, and replies about other shipments, stay. */
static void erasure_withdraws_revealing_replies(void **state)
{
	struct fixture *f = *state;
	struct smile_store_device d, got;
	uint8_t digest[32] = {7}, reply[6] = {6, 5, 4, 3, 2, 1};
	struct smile_store_event ev1 = {.shipment_id = 1, .waybill = "SW2611290000001",
					.event = "out_for_delivery", .time_ms = 2000,
					.device_id = "dev-a", .device_role = "courier"};
	struct smile_store_event ev2 = ev1;
	struct smile_audit_entry a = {"reveal", "SW2611290000001", "dev-a", "ok"};
	struct smile_store_scan sa = {"dev-a", 1, digest, reply, 6, 2000, &ev1, 1, 1, 0, &a, 1, 0, NULL, NULL, 0, 0, NULL, NULL};
	struct smile_store_scan sb = {"dev-b", 1, digest, reply, 6, 2000, &ev1, 0, 0, 0, &a, 1, 0, NULL, NULL, 0, 0, NULL, NULL};
	struct smile_store_scan sc = {"dev-c", 1, digest, reply, 6, 2000, &ev2, 1, 1, 0, &a, 1, 0, NULL, NULL, 0, 0, NULL, NULL};

	ev2.shipment_id = 2;
	snprintf(ev2.device_id, sizeof(ev2.device_id), "dev-c");
	assert_int_equal(insert_one(f->s, 1, "acme", NULL), SMILE_OK);
	assert_int_equal(insert_one(f->s, 2, "acme", NULL), SMILE_OK);
	make_device(&d, "dev-a", SMILE_DEV_COURIER);
	assert_int_equal(smile_store_put_device(f->s, &d, "admin"), SMILE_OK);
	make_device(&d, "dev-b", SMILE_DEV_HUB);
	assert_int_equal(smile_store_put_device(f->s, &d, "admin"), SMILE_OK);
	make_device(&d, "dev-c", SMILE_DEV_COURIER);
	assert_int_equal(smile_store_put_device(f->s, &d, "admin"), SMILE_OK);
	assert_int_equal(smile_store_commit_scan(f->s, &sa), SMILE_OK);
	assert_int_equal(smile_store_commit_scan(f->s, &sb), SMILE_OK);
	assert_int_equal(smile_store_commit_scan(f->s, &sc), SMILE_OK);
	assert_int_equal(smile_store_get_device(f->s, "dev-a", &got), SMILE_OK);
	assert_int_equal(got.last_shipment_id, 1);
	assert_int_equal(got.last_revealed, 1);
	assert_non_null(got.last_reply);
	smile_store_device_release(&got);

	assert_int_equal(smile_store_erase_personal(f->s, 1, 3000, "api"), SMILE_OK);
	assert_int_equal(smile_store_get_device(f->s, "dev-a", &got), SMILE_OK);
	assert_null(got.last_reply);
	assert_int_equal(got.last_revealed, 0);
	assert_int_equal(got.last_seq, 1); /* the replay rule still holds */
	smile_store_device_release(&got);
	/* not revealing: kept */
	assert_int_equal(smile_store_get_device(f->s, "dev-b", &got), SMILE_OK);
	assert_non_null(got.last_reply);
	smile_store_device_release(&got);
	/* another shipment's reveal: kept */
	assert_int_equal(smile_store_get_device(f->s, "dev-c", &got), SMILE_OK);
	assert_non_null(got.last_reply);
	assert_int_equal(got.last_revealed, 1);
	smile_store_device_release(&got);

	/* A reveal decided before the erasure but committed after it stores
	 * nothing at all. */
	sa.seq = 2;
	assert_int_equal(smile_store_commit_scan(f->s, &sa), SMILE_ERR_SHREDDED);
	assert_int_equal(smile_store_get_device(f->s, "dev-a", &got), SMILE_OK);
	assert_int_equal(got.last_seq, 1);
	assert_null(got.last_reply);
	smile_store_device_release(&got);
}

/* Two processes on one store (the CLI beside `serve`, or two nodes): the
 * audit chain head and shipment ids are decided in the store, so neither
 * process's writes break the other's. */
static void two_processes_share_one_store(void **state)
{
	struct fixture *f = *state;
	struct smile_store *other = NULL;
	struct smile_error e = {0};
	struct smile_store_device d;
	struct smile_audit_entry a = {"test", "s", "a", "d"};
	uint64_t n = 0, bad = 0, ids[6];

	assert_int_equal(smile_store_open(f->url, 0, 1, &other, &e), SMILE_OK);
	assert_int_equal(smile_store_audit(f->s, &a, 1, 1000), SMILE_OK);
	assert_int_equal(smile_store_audit(other, &a, 1, 1001), SMILE_OK);
	make_device(&d, "dev-x", SMILE_DEV_COURIER);
	assert_int_equal(smile_store_put_device(other, &d, "cli"), SMILE_OK);
	/* the first process appends after the second one did */
	assert_int_equal(smile_store_audit(f->s, &a, 1, 1002), SMILE_OK);
	assert_int_equal(smile_store_set_device_status(f->s, "dev-x", SMILE_DEV_SUSPENDED, "api",
						       "test"),
			 SMILE_OK);
	assert_int_equal(smile_store_audit_verify(f->s, &n, &bad, NULL, &e), SMILE_OK);
	assert_int_equal(n, 5);

	/* ids: leased in blocks, never handed out twice */
	for (int i = 0; i < 6; i++)
		assert_int_equal(smile_store_next_id(i % 2 ? other : f->s, &ids[i]), SMILE_OK);
	for (int i = 0; i < 6; i++)
		for (int k = i + 1; k < 6; k++)
			assert_true(ids[i] != ids[k]);
	for (int i = 0; i < 6; i++)
		assert_int_equal(insert_one(i % 2 ? other : f->s, ids[i], "acme", NULL), SMILE_OK);
	smile_store_close(other);
}

struct async_done {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int calls;
	enum smile_err rc[4];
};

static void on_done(void *arg, enum smile_err rc)
{
	struct async_done *a = arg;
	pthread_mutex_lock(&a->lock);
	a->rc[a->calls++] = rc;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->lock);
}

static void async_commits_call_back_once_durable(void **state)
{
	struct fixture *f = *state;
	struct smile_store_device d, got;
	struct async_done a = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}};
	uint8_t digest[32] = {1}, reply[3] = {7, 8, 9};
	struct smile_store_scan sc = {"dev-3", 1, digest, reply, 3, 3000, NULL, 0, 0, 0, NULL, 0, 0, NULL, NULL, 0, 0, NULL, NULL};
	struct smile_store_scan again = sc;

	make_device(&d, "dev-3", SMILE_DEV_HUB);
	assert_int_equal(smile_store_put_device(f->s, &d, "admin"), SMILE_OK);
	assert_int_equal(smile_store_commit_scan_async(f->s, &sc, on_done, &a), SMILE_OK);
	assert_int_equal(smile_store_commit_scan_async(f->s, &again, on_done, &a), SMILE_OK);
	pthread_mutex_lock(&a.lock);
	while (a.calls < 2)
		pthread_cond_wait(&a.cond, &a.lock);
	pthread_mutex_unlock(&a.lock);
	assert_int_equal(a.rc[0], SMILE_OK);
	assert_int_equal(a.rc[1], SMILE_ERR_REPLAY); /* the same scan twice applies once */
	assert_int_equal(smile_store_get_device(f->s, "dev-3", &got), SMILE_OK);
	assert_int_equal(got.last_seq, 1);
	smile_store_device_release(&got);
}

/* ---------------------------------------------------------------- vault key rotation */

static void meta_compare_and_set(void **state)
{
	struct fixture *f = *state;
	struct smile_error e = {0};
	struct smile_audit_entry a = {"vault.rotate", "vault", "cli", "old=0a0b0c0d new=01020304"};
	char v[SMILE_STORE_META_MAX], big[SMILE_STORE_META_MAX + 1];
	uint64_t n, bad;

	assert_int_equal(smile_store_meta_get(f->s, "vault.rotation", v, sizeof(v)),
			 SMILE_ERR_NOT_FOUND);
	assert_int_equal(smile_store_meta_set(f->s, "vault.rotation", NULL, "0a0b0c0d 01020304",
					      NULL, 0, 0),
			 SMILE_OK);
	assert_int_equal(smile_store_meta_get(f->s, "vault.rotation", v, sizeof(v)), SMILE_OK);
	assert_string_equal(v, "0a0b0c0d 01020304");
	assert_int_equal(smile_store_meta_get(f->s, "vault.rotation", v, 5), SMILE_ERR_TOO_LARGE);
	/* a stale expectation changes nothing and appends nothing */
	assert_int_equal(smile_store_meta_set(f->s, "vault.rotation", "0a0b0c0d ffffffff", NULL, &a,
					      1, 5),
			 SMILE_ERR_CONFLICT);
	assert_int_equal(smile_store_meta_set(f->s, "vault.other", "x", "y", NULL, 0, 0),
			 SMILE_ERR_CONFLICT);
	assert_int_equal(smile_store_audit_verify(f->s, &n, &bad, NULL, &e), SMILE_OK);
	assert_int_equal(n, 0);
	/* the right one deletes the row and audits in the same transaction */
	assert_int_equal(smile_store_meta_set(f->s, "vault.rotation", "0a0b0c0d 01020304", NULL, &a,
					      1, 5),
			 SMILE_OK);
	assert_int_equal(smile_store_meta_get(f->s, "vault.rotation", v, sizeof(v)),
			 SMILE_ERR_NOT_FOUND);
	assert_int_equal(smile_store_audit_verify(f->s, &n, &bad, NULL, &e), SMILE_OK);
	assert_int_equal(n, 1);
	/* the schema version is the migrations' alone; values are capped */
	assert_int_equal(smile_store_meta_set(f->s, "schema_version", NULL, "99", NULL, 0, 0),
			 SMILE_ERR_INVALID);
	assert_int_equal(smile_store_meta_get(f->s, "schema_version", v, sizeof(v)), SMILE_OK);
	assert_int_equal(strtol(v, NULL, 10), SMILE_STORE_SCHEMA_VERSION);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(smile_store_meta_set(f->s, "vault.x", NULL, big, NULL, 0, 0),
			 SMILE_ERR_TOO_LARGE);
}

struct seen {
	int rows;
	uint64_t ids[16];
	int wk_new;
};

static int count_personal(void *ctx, uint64_t id, const uint8_t *wk, size_t wn, const uint8_t *ct,
			  size_t cn)
{
	struct seen *s = ctx;
	(void)ct;
	assert_true(cn > 0);
	if (s->rows < 16)
		s->ids[s->rows] = id;
	s->rows++;
	if (wn > 0 && wk[0] == 0x11)
		s->wk_new++;
	return 0;
}

static void rewrap_never_undoes_an_erasure(void **state)
{
	struct fixture *f = *state;
	struct smile_error e = {0};
	struct smile_store_wrapped rows[8];
	struct smile_store_personal p;
	struct smile_store *other = NULL;
	struct seen seen = {0};
	size_t n;

	for (uint64_t id = 1; id <= 5; id++)
		assert_int_equal(insert_one(f->s, id, "acme", NULL), SMILE_OK);
	/* pages, ascending, erased rows left out */
	assert_int_equal(smile_store_erase_personal(f->s, 3, 1, "api"), SMILE_OK);
	assert_int_equal(smile_store_list_wrapped(f->s, 0, rows, 2, &n), SMILE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].shipment_id, 1);
	assert_int_equal(rows[1].shipment_id, 2);
	assert_int_equal(rows[0].wrapped_len, 72);
	assert_int_equal(smile_store_list_wrapped(f->s, 2, rows, 8, &n), SMILE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].shipment_id, 4);
	assert_int_equal(rows[1].shipment_id, 5);

	/* the rotation reads every row, then (as another process would, with
	 * its own handle) rewraps; meanwhile row 4 is erased by the first */
	assert_int_equal(smile_store_open(f->url, 0, 1, &other, &e), SMILE_OK);
	assert_int_equal(smile_store_list_wrapped(other, 0, rows, 8, &n), SMILE_OK);
	assert_int_equal(n, 4);
	for (size_t i = 0; i < n; i++) {
		memset(rows[i].new_key, 0x11, 77);
		rows[i].new_len = 77;
	}
	assert_int_equal(smile_store_erase_personal(f->s, 4, 2, "api"), SMILE_OK);
	assert_int_equal(smile_store_rewrap(other, rows, n), SMILE_OK);
	assert_int_equal(rows[0].result, SMILE_OK);
	assert_int_equal(rows[1].result, SMILE_OK);
	assert_int_equal(rows[2].result, SMILE_ERR_CONFLICT); /* 4: erased meanwhile */
	assert_int_equal(rows[3].result, SMILE_OK);
	assert_int_equal(smile_store_get_personal(f->s, 4, &p), SMILE_ERR_SHREDDED);
	assert_int_equal(smile_store_get_personal(f->s, 3, &p), SMILE_ERR_SHREDDED);
	assert_int_equal(smile_store_get_personal(f->s, 1, &p), SMILE_OK);
	assert_int_equal(p.wrapped_len, 77);
	assert_int_equal(p.wrapped_key[0], 0x11);
	smile_store_personal_release(&p);
	/* run again with the same (now stale) expectations: nothing changes */
	assert_int_equal(smile_store_rewrap(other, rows, n), SMILE_OK);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(rows[i].result, SMILE_ERR_CONFLICT);
	rows[0].new_len = 0;
	assert_int_equal(smile_store_rewrap(other, rows, 1), SMILE_ERR_INVALID);
	smile_store_close(other);

	/* a read-only pass over the store sees the held rows (that it leaves
	 * the file untouched: test_store_sqlite.c) */
	assert_int_equal(smile_store_each_personal(f->url, count_personal, &seen, &e), SMILE_OK);
	assert_int_equal(seen.rows, 3);
	assert_int_equal(seen.ids[0], 1);
	assert_int_equal(seen.ids[2], 5);
	assert_int_equal(seen.wk_new, 3);
	char missing[600];
	snprintf(missing, sizeof(missing), "%s-none", f->url);
	assert_int_equal(smile_store_each_personal(missing, count_personal, &seen, &e),
			 SMILE_ERR_NOT_FOUND);
}

/* ---------------------------------------------------------------- what the core decides */

static void unknown_scheme_is_unsupported(void **state)
{
	struct fixture *f = *state;
	struct smile_error e = {0};
	struct smile_store *s2 = NULL;
	struct seen seen = {0};

	(void)f;
	assert_int_equal(smile_store_open("oracle://db.example/smile", 1, 1, &s2, &e),
			 SMILE_ERR_UNSUPPORTED);
	assert_null(s2);
	assert_non_null(strstr(e.message, "'oracle'")); /* names the scheme */
	memset(&e, 0, sizeof(e));
	assert_int_equal(smile_store_open("mysql://x/y", 1, 1, &s2, &e), SMILE_ERR_UNSUPPORTED);
	assert_non_null(strstr(e.message, "'mysql'"));
	assert_int_equal(smile_store_each_personal("oracle://x/y", count_personal, &seen, &e),
			 SMILE_ERR_UNSUPPORTED);
	assert_int_equal(seen.rows, 0);
}

/* Jobs of one group commit each run in their own savepoint: a job that
 * fails (a replayed scan, an unknown device) undoes only its own changes. */
static void a_failing_job_does_not_undo_another(void **state)
{
	struct fixture *f = *state;
	struct smile_store_device d, got;
	struct async_done a = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}};
	uint8_t digest[32] = {3}, reply[2] = {4, 2};
	struct smile_audit_entry au = {"scan", "SW1", "dev-p", "ok"};
	struct smile_store_scan ok1 = {"dev-p", 5, digest, reply, 2, 1000, NULL, 0, 0, 0, &au, 1, 0, NULL, NULL, 0, 0, NULL, NULL};
	struct smile_store_scan bad = {"dev-p", 5, digest, reply, 2, 1000, NULL, 0, 0, 0, &au, 1, 0, NULL, NULL, 0, 0, NULL, NULL};
	struct smile_store_scan ghost = {"nobody", 1, digest, reply, 2, 1000, NULL, 0, 0, 0, &au, 1, 0, NULL, NULL, 0, 0, NULL, NULL};
	struct smile_store_scan ok2 = {"dev-q", 9, digest, reply, 2, 1000, NULL, 0, 0, 0, &au, 1, 0, NULL, NULL, 0, 0, NULL, NULL};
	struct smile_error e = {0};
	uint64_t n = 0, bad_seq = 0;

	make_device(&d, "dev-p", SMILE_DEV_COURIER);
	assert_int_equal(smile_store_put_device(f->s, &d, "admin"), SMILE_OK);
	make_device(&d, "dev-q", SMILE_DEV_COURIER);
	assert_int_equal(smile_store_put_device(f->s, &d, "admin"), SMILE_OK);
	/* queued back to back: they share commits */
	assert_int_equal(smile_store_commit_scan_async(f->s, &ok1, on_done, &a), SMILE_OK);
	assert_int_equal(smile_store_commit_scan_async(f->s, &bad, on_done, &a), SMILE_OK);
	assert_int_equal(smile_store_commit_scan_async(f->s, &ghost, on_done, &a), SMILE_OK);
	assert_int_equal(smile_store_commit_scan_async(f->s, &ok2, on_done, &a), SMILE_OK);
	smile_store_drain(f->s);
	assert_int_equal(a.calls, 4);
	assert_int_equal(a.rc[0], SMILE_OK);
	assert_int_equal(a.rc[1], SMILE_ERR_REPLAY);
	assert_int_equal(a.rc[2], SMILE_ERR_REPLAY);
	assert_int_equal(a.rc[3], SMILE_OK);
	assert_int_equal(smile_store_get_device(f->s, "dev-p", &got), SMILE_OK);
	assert_int_equal(got.last_seq, 5);
	smile_store_device_release(&got);
	assert_int_equal(smile_store_get_device(f->s, "dev-q", &got), SMILE_OK);
	assert_int_equal(got.last_seq, 9);
	smile_store_device_release(&got);
	/* two enrolments + the two good scans' entries: the failed ones' audit
	 * entries were undone with them, and the chain has no gap */
	assert_int_equal(smile_store_audit_verify(f->s, &n, &bad_seq, NULL, &e), SMILE_OK);
	assert_int_equal(n, 4);
}

static void a_revoked_device_stays_revoked(void **state)
{
	struct fixture *f = *state;
	struct smile_store_device d, got;
	uint8_t digest[32] = {5}, reply[1] = {1};
	struct smile_store_scan sc = {"dev-r", 1, digest, reply, 1, 1000, NULL, 0, 0, 0, NULL, 0, 0, NULL, NULL, 0, 0, NULL, NULL};

	make_device(&d, "dev-r", SMILE_DEV_COURIER);
	assert_int_equal(smile_store_put_device(f->s, &d, "admin"), SMILE_OK);
	assert_int_equal(smile_store_set_device_status(f->s, "dev-r", SMILE_DEV_SUSPENDED, "admin",
						       "test"),
			 SMILE_OK);
	/* a suspended device's scan applies nothing; resumed, it does */
	assert_int_equal(smile_store_commit_scan(f->s, &sc), SMILE_ERR_REPLAY);
	assert_int_equal(smile_store_set_device_status(f->s, "dev-r", SMILE_DEV_ACTIVE, "admin",
						       "found"),
			 SMILE_OK);
	assert_int_equal(smile_store_commit_scan(f->s, &sc), SMILE_OK);
	assert_int_equal(smile_store_set_device_status(f->s, "dev-r", SMILE_DEV_REVOKED, "admin",
						       "lost"),
			 SMILE_OK);
	assert_int_equal(smile_store_set_device_status(f->s, "dev-r", SMILE_DEV_ACTIVE, "admin",
						       "oops"),
			 SMILE_ERR_CONFLICT);
	assert_int_equal(smile_store_set_device_status(f->s, "dev-r", SMILE_DEV_SUSPENDED, "admin",
						       "oops"),
			 SMILE_ERR_CONFLICT);
	sc.seq = 2;
	assert_int_equal(smile_store_commit_scan(f->s, &sc), SMILE_ERR_REPLAY);
	assert_int_equal(smile_store_get_device(f->s, "dev-r", &got), SMILE_OK);
	assert_int_equal(got.status, SMILE_DEV_REVOKED);
	assert_int_equal(got.last_seq, 1);
	smile_store_device_release(&got);
}

static void shipment_status_follows_events(void **state)
{
	struct fixture *f = *state;
	struct smile_store_shipment got;
	struct smile_store_event ev = {.shipment_id = 3, .waybill = "SW2611290000003",
				       .event = "hub_in", .time_ms = 4000, .device_id = "dev-1",
				       .device_role = "hub"};
	enum smile_shipment_status st;
	int n = 0;

	/* one name table: every status parses back to itself */
	for (int i = SMILE_SHIPMENT_CREATED; i <= SMILE_SHIPMENT_RETURNED; i++) {
		assert_int_equal(smile_shipment_status_parse(
					 smile_shipment_status_name((enum smile_shipment_status)i),
					 &st),
				 SMILE_OK);
		assert_int_equal(st, i);
	}
	assert_int_equal(smile_shipment_status_parse("erased", &st), SMILE_ERR_FIELD_VALUE);
	assert_int_equal(smile_shipment_status_parse("picked_up", &st), SMILE_ERR_FIELD_VALUE);
	assert_string_equal(smile_shipment_status_name((enum smile_shipment_status)99), "unknown");

	assert_int_equal(insert_one(f->s, 3, "acme", NULL), SMILE_OK);
	assert_int_equal(smile_store_add_event(f->s, &ev), SMILE_OK);
	assert_int_equal(smile_store_get_shipment_by_id(f->s, 3, &got), SMILE_OK);
	assert_int_equal(got.status, SMILE_SHIPMENT_HUB_IN);
	assert_int_equal(got.delivered_ms, 0);
	smile_store_shipment_release(&got);
	/* an event that names no status is refused whole */
	snprintf(ev.event, sizeof(ev.event), "teleported");
	assert_int_equal(smile_store_add_event(f->s, &ev), SMILE_ERR_INVALID);
	assert_int_equal(smile_store_list_events(f->s, 3, count_events, &n), SMILE_OK);
	assert_int_equal(n, 2); /* created + hub_in */
	snprintf(ev.event, sizeof(ev.event), "delivered");
	ev.time_ms = 6000;
	assert_int_equal(smile_store_add_event(f->s, &ev), SMILE_OK);
	assert_int_equal(smile_store_get_shipment(f->s, "SW2611290000003", &got), SMILE_OK);
	assert_int_equal(got.status, SMILE_SHIPMENT_DELIVERED);
	assert_int_equal(got.delivered_ms, 6000);
	smile_store_shipment_release(&got);
	/* a later event moves the status on, delivered_ms stays */
	snprintf(ev.event, sizeof(ev.event), "returned");
	ev.time_ms = 7000;
	assert_int_equal(smile_store_add_event(f->s, &ev), SMILE_OK);
	assert_int_equal(smile_store_get_shipment_by_id(f->s, 3, &got), SMILE_OK);
	assert_int_equal(got.status, SMILE_SHIPMENT_RETURNED);
	assert_int_equal(got.delivered_ms, 6000);
	smile_store_shipment_release(&got);
}

/* Two couriers' scans of one parcel decided at once (two nodes, or two
 * lanes): each saw no holder. The first commit makes its device the holder;
 * the second, decided on a shipment that has moved on, is applied as
 * nothing (SMILE_SCAN_MOVED: no event, seq free, no audit) so its
 * retransmission is decided afresh - unless its seq was taken meanwhile by
 * the same bytes, which get the stored reply as always. */
static void a_scan_decided_on_a_moved_shipment(void **state)
{
	struct fixture *f = *state;
	struct smile_store_device d, got;
	struct smile_store_shipment row;
	uint8_t digest[32] = {7}, reply[4] = {4, 3, 2, 1}, stored[16];
	struct smile_store_event ev = {.shipment_id = 1, .waybill = "SW2611290000001",
				       .event = "pickup", .time_ms = 2000, .device_id = "dev-x",
				       .device_role = "courier"};
	struct smile_store_scan_result res = {.reply = stored, .reply_cap = sizeof(stored)};
	struct smile_store_scan sx = {"dev-x", 1, digest, reply, 4, 2000, &ev, 1, 0, 0, NULL, 0,
				      0, NULL, &res, 1, SMILE_SHIPMENT_CREATED, "", NULL};
	struct smile_store_scan sy = sx;
	int events = 0;

	make_device(&d, "dev-x", SMILE_DEV_COURIER);
	assert_int_equal(smile_store_put_device(f->s, &d, "admin"), SMILE_OK);
	make_device(&d, "dev-y", SMILE_DEV_COURIER);
	assert_int_equal(smile_store_put_device(f->s, &d, "admin"), SMILE_OK);
	assert_int_equal(insert_one(f->s, 1, "acme", NULL), SMILE_OK);
	assert_int_equal(smile_store_commit_scan(f->s, &sx), SMILE_OK);
	assert_int_equal(res.outcome, SMILE_SCAN_APPLIED);
	/* Y decided on "created, no holder" too */
	sy.device_id = "dev-y";
	assert_int_equal(smile_store_commit_scan(f->s, &sy), SMILE_OK);
	assert_int_equal(res.outcome, SMILE_SCAN_MOVED);
	assert_int_equal(smile_store_list_events(f->s, 1, count_events, &events), SMILE_OK);
	assert_int_equal(events, 2); /* created + X's pickup */
	assert_int_equal(smile_store_get_device(f->s, "dev-y", &got), SMILE_OK);
	assert_int_equal(got.last_seq, 0); /* seq still free: the resend is new */
	smile_store_device_release(&got);
	assert_int_equal(smile_store_get_shipment_by_id(f->s, 1, &row), SMILE_OK);
	assert_string_equal(row.holder, "dev-x");
	smile_store_shipment_release(&row);
	/* decided again, on what is now there: applied */
	sy.expect_status = SMILE_SHIPMENT_PICKUP;
	sy.expect_holder = "dev-x";
	assert_int_equal(smile_store_commit_scan(f->s, &sy), SMILE_OK);
	assert_int_equal(res.outcome, SMILE_SCAN_APPLIED);
	assert_int_equal(smile_store_get_shipment_by_id(f->s, 1, &row), SMILE_OK);
	assert_string_equal(row.holder, "dev-y");
	smile_store_shipment_release(&row);
	/* X's same bytes again (another node had them, decided on the old
	 * shipment): the stored reply, not a "moved" */
	assert_int_equal(smile_store_commit_scan(f->s, &sx), SMILE_OK);
	assert_int_equal(res.outcome, SMILE_SCAN_RETRANSMIT);
	assert_int_equal(res.reply_len, 4);
	assert_memory_equal(stored, reply, 4);
}

static void audit_chain_continues_across_handles(void **state)
{
	struct fixture *f = *state;
	struct smile_error e = {0};
	struct smile_audit_entry a[2] = {{"refusal", "SW1", "dev-9", "bad_signature"},
					 {"reveal", "SW3", "dev-9", "ok"}};
	uint8_t head1[32], head2[32];
	uint64_t n, bad;

	assert_int_equal(smile_store_audit(f->s, a, 2, 1234), SMILE_OK);
	assert_int_equal(smile_store_audit_verify(f->s, &n, &bad, head1, &e), SMILE_OK);
	assert_int_equal(n, 2);
	smile_store_close(f->s);
	assert_int_equal(smile_store_open(f->url, 0, 2, &f->s, &e), SMILE_OK);
	assert_int_equal(smile_store_audit(f->s, a, 1, 1300), SMILE_OK);
	assert_int_equal(smile_store_audit_verify(f->s, &n, &bad, head2, &e), SMILE_OK);
	assert_int_equal(n, 3);
	assert_memory_not_equal(head1, head2, 32);
}

/* ------------------------------------------------------------ print jobs */

static int pj_build_calls;

/* The message a gateway would sign: here the seq, so the test sees that
 * build ran after the store chose it. */
static enum smile_err pj_build(void *arg, struct smile_store_print_job *row)
{
	(void)arg;
	pj_build_calls++;
	row->message = malloc(32);
	if (row->message == NULL)
		return SMILE_ERR_NOMEM;
	row->message_len = (size_t)snprintf((char *)row->message, 32, "msg-%llu",
					    (unsigned long long)row->seq);
	return SMILE_OK;
}

static void pj_row(struct smile_store_print_job *j, const char *id, const char *station,
		   uint64_t shipment, int reprint)
{
	memset(j, 0, sizeof(*j));
	snprintf(j->id, sizeof(j->id), "%s", id);
	snprintf(j->station, sizeof(j->station), "%s", station);
	j->shipment_id = shipment;
	snprintf(j->waybill, sizeof(j->waybill), "SW%llu", (unsigned long long)shipment);
	snprintf(j->merchant, sizeof(j->merchant), "acme");
	snprintf(j->requested_by, sizeof(j->requested_by), "key1");
	j->format = 1;
	j->copies = 1;
	j->reprint = reprint;
}

static int pj_count(void *ctx, const struct smile_store_print_job *j)
{
	(void)j;
	(*(int *)ctx)++;
	return 0;
}

static void print_jobs_once_forward_and_audited(void **state)
{
	struct fixture *f = *state;
	struct smile_store_print_job rows[2], got, again;
	struct smile_error e = {0};
	uint64_t n = 0, bad = 0;
	size_t conflict = 99;
	int queued = 0;

	/* two waybills in one request: seqs 1, 2 of the station, in order */
	pj_row(&rows[0], "pj_a", "st1", 10, 0);
	pj_row(&rows[1], "pj_b", "st1", 11, 0);
	assert_int_equal(smile_store_put_print_jobs(f->s, rows, 2, pj_build, NULL, &conflict, 5),
			 SMILE_OK);
	assert_int_equal(rows[0].seq, 1);
	assert_int_equal(rows[1].seq, 2);
	smile_store_print_job_release(&rows[0]);
	smile_store_print_job_release(&rows[1]);
	assert_int_equal(smile_store_get_print_job(f->s, "pj_b", &got), SMILE_OK);
	assert_string_equal(got.station, "st1");
	assert_int_equal(got.state, 0);
	assert_int_equal(got.message_len, 5);
	assert_memory_equal(got.message, "msg-2", 5);
	assert_string_equal(got.merchant, "acme");
	smile_store_print_job_release(&got);
	assert_int_equal(smile_store_list_print_jobs(f->s, 0, 10, pj_count, &queued), SMILE_OK);
	assert_int_equal(queued, 2);

	/* a second print of waybill 11, anywhere, without reprint: all or none */
	pj_row(&rows[0], "pj_c", "st2", 12, 0);
	pj_row(&rows[1], "pj_d", "st2", 11, 0);
	assert_int_equal(smile_store_put_print_jobs(f->s, rows, 2, pj_build, NULL, &conflict, 6),
			 SMILE_ERR_CONFLICT);
	assert_int_equal(conflict, 1);
	smile_store_print_job_release(&rows[0]);
	smile_store_print_job_release(&rows[1]);
	assert_int_equal(smile_store_get_print_job(f->s, "pj_c", &got), SMILE_ERR_NOT_FOUND);
	/* the same waybill twice in one request is a second print too */
	pj_row(&rows[0], "pj_e", "st2", 13, 0);
	pj_row(&rows[1], "pj_f", "st2", 13, 0);
	assert_int_equal(smile_store_put_print_jobs(f->s, rows, 2, pj_build, NULL, &conflict, 6),
			 SMILE_ERR_CONFLICT);
	smile_store_print_job_release(&rows[0]);
	smile_store_print_job_release(&rows[1]);
	/* with reprint: allowed, and audited */
	pj_row(&rows[0], "pj_g", "st2", 11, 1);
	assert_int_equal(smile_store_put_print_jobs(f->s, rows, 1, pj_build, NULL, &conflict, 7),
			 SMILE_OK);
	assert_int_equal(rows[0].seq, 1); /* st2's first */
	smile_store_print_job_release(&rows[0]);
	assert_int_equal(smile_store_audit_verify(f->s, &n, &bad, NULL, &e), SMILE_OK);
	assert_int_equal(n, 1);

	/* reports move forward only; a repeated "sent" updates its reason */
	assert_int_equal(smile_store_print_job_report(f->s, "pj_a", "st1", 1, 2, "paper out", 8),
			 SMILE_OK);
	assert_int_equal(smile_store_print_job_report(f->s, "pj_a", "st1", 1, 0, "", 9), SMILE_OK);
	assert_int_equal(smile_store_print_job_report(f->s, "pj_a", "st1", 2, 0, "", 9), SMILE_OK);
	assert_int_equal(smile_store_print_job_report(f->s, "pj_a", "st1", 2, 2, "paper out", 9),
			 SMILE_OK);
	assert_int_equal(smile_store_print_job_report(f->s, "pj_a", "st1", 2, 2, "paper out", 9),
			 SMILE_ERR_CONFLICT); /* an identical resend changes nothing */
	assert_int_equal(smile_store_print_job_report(f->s, "pj_a", "st1", 1, 0, "", 9),
			 SMILE_ERR_CONFLICT); /* never back to sent */
	assert_int_equal(smile_store_print_job_report(f->s, "pj_a", "st1", 3, 0, "", 10), SMILE_OK);
	assert_int_equal(smile_store_print_job_report(f->s, "pj_a", "st1", 2, 0, "late", 11),
			 SMILE_ERR_CONFLICT);
	assert_int_equal(smile_store_print_job_report(f->s, "pj_a", "st1", 3, 0, "", 12),
			 SMILE_ERR_CONFLICT);
	/* another station cannot report on it; an unknown job is not found */
	assert_int_equal(smile_store_print_job_report(f->s, "pj_b", "st2", 3, 0, "", 12),
			 SMILE_ERR_NOT_FOUND);
	assert_int_equal(smile_store_print_job_report(f->s, "pj_zz", "st1", 3, 0, "", 12),
			 SMILE_ERR_NOT_FOUND);
	assert_int_equal(smile_store_get_print_job(f->s, "pj_a", &again), SMILE_OK);
	assert_int_equal(again.state, 3);
	assert_int_equal(again.updated_ms, 10);
	smile_store_print_job_release(&again);
	queued = 0;
	assert_int_equal(smile_store_list_print_jobs(f->s, 0, 10, pj_count, &queued), SMILE_OK);
	assert_int_equal(queued, 2); /* pj_b, pj_g */
}

/* ------------------------------------------------------------ webhooks */

static void make_webhook(struct smile_store_webhook *w, const char *id, const char *merchant,
			 const char *events, enum smile_webhook_status st)
{
	memset(w, 0, sizeof(*w));
	snprintf(w->id, sizeof(w->id), "%s", id);
	snprintf(w->merchant, sizeof(w->merchant), "%s", merchant);
	snprintf(w->url, sizeof(w->url), "https://hooks.example/%s", id);
	snprintf(w->events, sizeof(w->events), "%s", events);
	snprintf(w->secret, sizeof(w->secret), "00aa%s", id);
	w->status = st;
	w->created_ms = w->updated_ms = 1000;
}

struct collected {
	struct smile_store_delivery d[32];
	size_t n;
	char ids[8][SMILE_STORE_ID_MAX];
	size_t n_ids;
};

static int collect_delivery(void *ctx, const struct smile_store_delivery *d)
{
	struct collected *c = ctx;
	if (c->n < 32)
		c->d[c->n++] = *d;
	return 0;
}

static int collect_webhook(void *ctx, const struct smile_store_webhook *w)
{
	struct collected *c = ctx;
	if (c->n_ids < 8)
		snprintf(c->ids[c->n_ids++], SMILE_STORE_ID_MAX, "%s", w->id);
	return 0;
}

static size_t deliveries(struct smile_store *s, const char *wh, struct collected *c)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(smile_store_outbox_list(s, wh, 0, 100, collect_delivery, c), SMILE_OK);
	return c->n;
}

static void webhooks_register_list_pause_delete(void **state)
{
	struct fixture *f = *state;
	struct smile_store_webhook w, got;
	struct collected c = {0};

	make_webhook(&w, "wh_a", "acme", "*", SMILE_WEBHOOK_ACTIVE);
	assert_int_equal(smile_store_put_webhook(f->s, &w), SMILE_OK);
	assert_int_equal(smile_store_put_webhook(f->s, &w), SMILE_ERR_EXISTS);
	make_webhook(&w, "wh_b", "other", "delivered,pickup", SMILE_WEBHOOK_ACTIVE);
	assert_int_equal(smile_store_put_webhook(f->s, &w), SMILE_OK);
	assert_int_equal(smile_store_get_webhook(f->s, "wh_b", &got), SMILE_OK);
	assert_string_equal(got.merchant, "other");
	assert_string_equal(got.url, "https://hooks.example/wh_b");
	assert_string_equal(got.events, "delivered,pickup");
	assert_string_equal(got.secret, "00aawh_b");
	assert_int_equal(got.status, SMILE_WEBHOOK_ACTIVE);
	assert_int_equal(smile_store_get_webhook(f->s, "wh_x", &got), SMILE_ERR_NOT_FOUND);

	assert_int_equal(smile_store_list_webhooks(f->s, "acme", collect_webhook, &c), SMILE_OK);
	assert_int_equal(c.n_ids, 1);
	assert_string_equal(c.ids[0], "wh_a");
	memset(&c, 0, sizeof(c));
	assert_int_equal(smile_store_list_webhooks(f->s, NULL, collect_webhook, &c), SMILE_OK);
	assert_int_equal(c.n_ids, 2);

	assert_int_equal(smile_store_set_webhook_status(f->s, "wh_a", SMILE_WEBHOOK_PAUSED, 2000),
			 SMILE_OK);
	assert_int_equal(smile_store_get_webhook(f->s, "wh_a", &got), SMILE_OK);
	assert_int_equal(got.status, SMILE_WEBHOOK_PAUSED);
	assert_int_equal(got.updated_ms, 2000);
	assert_int_equal(smile_store_set_webhook_status(f->s, "wh_x", SMILE_WEBHOOK_PAUSED, 2000),
			 SMILE_ERR_NOT_FOUND);
	assert_int_equal(smile_store_delete_webhook(f->s, "wh_a"), SMILE_OK);
	assert_int_equal(smile_store_delete_webhook(f->s, "wh_a"), SMILE_ERR_NOT_FOUND);
	assert_int_equal(smile_store_get_webhook(f->s, "wh_a", &got), SMILE_ERR_NOT_FOUND);
}

/* Every event lands in the outbox of exactly the endpoints that want it, in
 * the event's transaction: an event that is refused leaves no row. */
static void outbox_fans_out_with_the_event(void **state)
{
	struct fixture *f = *state;
	struct smile_store_webhook w;
	struct smile_store_event ev = {.shipment_id = 1, .waybill = "SW2611290000001",
				       .event = "pickup", .time_ms = 5000,
				       .device_id = "dev-1", .device_role = "courier"};
	struct smile_store_event got;
	struct collected c;

	make_webhook(&w, "wh_all", "acme", "*", SMILE_WEBHOOK_ACTIVE);
	assert_int_equal(smile_store_put_webhook(f->s, &w), SMILE_OK);
	make_webhook(&w, "wh_del", "acme", "delivered,erased", SMILE_WEBHOOK_ACTIVE);
	assert_int_equal(smile_store_put_webhook(f->s, &w), SMILE_OK);
	make_webhook(&w, "wh_paused", "acme", "*", SMILE_WEBHOOK_PAUSED);
	assert_int_equal(smile_store_put_webhook(f->s, &w), SMILE_OK);
	make_webhook(&w, "wh_other", "other", "*", SMILE_WEBHOOK_ACTIVE);
	assert_int_equal(smile_store_put_webhook(f->s, &w), SMILE_OK);

	assert_int_equal(insert_one(f->s, 1, "acme", NULL), SMILE_OK); /* "created" */
	assert_int_equal(smile_store_add_event(f->s, &ev), SMILE_OK);
	snprintf(ev.event, sizeof(ev.event), "delivered");
	assert_int_equal(smile_store_add_event(f->s, &ev), SMILE_OK);
	ev.shipment_id = 99; /* refused: nothing of it may reach the outbox */
	assert_int_equal(smile_store_add_event(f->s, &ev), SMILE_ERR_NOT_FOUND);
	assert_int_equal(smile_store_erase_personal(f->s, 1, 7000, "api"), SMILE_OK);

	assert_int_equal(deliveries(f->s, "wh_all", &c), 4);
	assert_string_equal(c.d[0].event, "created");
	assert_string_equal(c.d[1].event, "pickup");
	assert_string_equal(c.d[2].event, "delivered");
	assert_string_equal(c.d[3].event, "erased");
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(c.d[i].state, SMILE_DELIVERY_PENDING);
		assert_string_equal(c.d[i].waybill, "SW2611290000001");
		assert_int_equal(c.d[i].attempts, 0);
		/* the row names the stored event */
		assert_int_equal(smile_store_get_event(f->s, c.d[i].event_id, &got), SMILE_OK);
		assert_string_equal(got.event, c.d[i].event);
		assert_int_equal(got.shipment_id, 1);
	}
	assert_int_equal(deliveries(f->s, "wh_del", &c), 2);
	assert_string_equal(c.d[0].event, "delivered");
	assert_string_equal(c.d[1].event, "erased");
	assert_int_equal(deliveries(f->s, "wh_paused", &c), 0);
	assert_int_equal(deliveries(f->s, "wh_other", &c), 0);
	assert_int_equal(smile_store_get_event(f->s, 999999, &got), SMILE_ERR_NOT_FOUND);
}

static size_t claim(struct smile_store *s, int64_t now, struct smile_store_delivery *rows)
{
	size_t n = 99;
	assert_int_equal(smile_store_outbox_claim(s, now, 10000, rows, 8, &n), SMILE_OK);
	return n;
}

static void finish(struct smile_store *s, const struct smile_store_delivery *d,
		   enum smile_delivery_state st, int64_t now, int64_t next, int status, int disable)
{
	struct smile_store_attempt a = {.id = d->id, .webhook_id = d->webhook_id, .state = st,
					.time_ms = now, .next_ms = next, .status = status,
					.error = status == 200 ? "" : "http_status",
					.disable = disable};
	assert_int_equal(smile_store_outbox_finish(s, &a), SMILE_OK);
}

/* One request in flight per endpoint, order per waybill, leases that run
 * out, retries, dead letters, redelivery, and 410. */
static void outbox_claims_in_order_with_leases(void **state)
{
	struct fixture *f = *state;
	struct smile_store_webhook w, got;
	struct smile_store_delivery r[8], first;
	struct smile_store_event ev = {.shipment_id = 1, .waybill = "SW2611290000001",
				       .event = "pickup", .time_ms = 5000};
	struct collected c;
	int64_t t = 4102444800000LL; /* 2100: every row is due */

	make_webhook(&w, "wh_1", "acme", "*", SMILE_WEBHOOK_ACTIVE);
	assert_int_equal(smile_store_put_webhook(f->s, &w), SMILE_OK);
	make_webhook(&w, "wh_2", "acme", "*", SMILE_WEBHOOK_ACTIVE);
	assert_int_equal(smile_store_put_webhook(f->s, &w), SMILE_OK);
	assert_int_equal(insert_one(f->s, 1, "acme", NULL), SMILE_OK);  /* 1: created */
	assert_int_equal(smile_store_add_event(f->s, &ev), SMILE_OK);   /* 1: pickup */
	assert_int_equal(insert_one(f->s, 2, "acme", NULL), SMILE_OK);  /* 2: created */

	/* nothing is due before its time */
	assert_int_equal(claim(f->s, 1000, r), 0);
	/* one row per endpoint, the oldest */
	assert_int_equal(claim(f->s, t, r), 2);
	for (int i = 0; i < 2; i++) {
		assert_string_equal(r[i].event, "created");
		assert_string_equal(r[i].waybill, "SW2611290000001");
		assert_int_equal(r[i].lease_until_ms, t + 10000);
	}
	first = strcmp(r[0].webhook_id, "wh_1") == 0 ? r[0] : r[1];
	struct smile_store_delivery other = strcmp(r[0].webhook_id, "wh_1") == 0 ? r[1] : r[0];
	/* both endpoints are in flight: nothing more */
	assert_int_equal(claim(f->s, t, r), 0);
	/* wh_1 fails: retried later; its waybill 1 waits, waybill 2 goes on */
	finish(f->s, &first, SMILE_DELIVERY_PENDING, t, t + 5000, 500, 0);
	assert_int_equal(claim(f->s, t + 1, r), 1);
	assert_string_equal(r[0].webhook_id, "wh_1");
	assert_string_equal(r[0].waybill, "SW2611290000002");
	finish(f->s, &r[0], SMILE_DELIVERY_DELIVERED, t + 1, 0, 200, 0);
	assert_int_equal(claim(f->s, t + 2, r), 0); /* pickup of 1 waits for created of 1 */
	assert_int_equal(claim(f->s, t + 5000, r), 1);
	assert_int_equal(r[0].id, first.id);
	assert_int_equal(r[0].attempts, 1);
	finish(f->s, &r[0], SMILE_DELIVERY_DELIVERED, t + 5000, 0, 200, 0);
	assert_int_equal(claim(f->s, t + 5001, r), 1);
	assert_string_equal(r[0].event, "pickup");
	/* a node that claimed and died: its lease runs out, another node takes it */
	assert_int_equal(claim(f->s, t + 5002, r), 0);
	assert_int_equal(claim(f->s, t + 5001 + 10000, r), 2); /* + wh_2's, lease gone too */
	struct smile_store_delivery pick = strcmp(r[0].webhook_id, "wh_1") == 0 ? r[0] : r[1];
	assert_string_equal(pick.event, "pickup");
	/* dead-lettered: no longer blocks its waybill, and can be redelivered */
	finish(f->s, &pick, SMILE_DELIVERY_DEAD, t + 20000, 0, 500, 0);
	/* a deleted endpoint's rows go with it (wh_2 from here on) */
	assert_int_equal(smile_store_delete_webhook(f->s, "wh_2"), SMILE_OK);
	assert_int_equal(deliveries(f->s, "wh_2", &c), 0);
	assert_int_equal(deliveries(f->s, "wh_1", &c), 3);
	assert_int_equal(c.d[0].state, SMILE_DELIVERY_DELIVERED);
	assert_int_equal(c.d[0].attempts, 2);
	assert_int_equal(c.d[0].last_status, 200);
	assert_true(c.d[0].done_ms > 0);
	assert_int_equal(c.d[1].state, SMILE_DELIVERY_DEAD);
	assert_int_equal(c.d[1].last_status, 500);
	assert_string_equal(c.d[1].last_error, "http_status");
	assert_int_equal(smile_store_outbox_redeliver(f->s, "wh_1", pick.id, t + 30000), SMILE_OK);
	assert_int_equal(smile_store_outbox_redeliver(f->s, "wh_2", pick.id, t), SMILE_ERR_NOT_FOUND);
	assert_int_equal(smile_store_outbox_redeliver(f->s, "wh_1", 999999, t), SMILE_ERR_NOT_FOUND);
	assert_int_equal(claim(f->s, t + 30000, r), 1);
	assert_int_equal(r[0].id, pick.id);
	assert_int_equal(r[0].created_ms, t + 30000); /* a fresh retry window */
	/* 410: dead, and the endpoint disabled: nothing more is claimed for it */
	finish(f->s, &r[0], SMILE_DELIVERY_DEAD, t + 30001, 0, 410, 1);
	assert_int_equal(smile_store_get_webhook(f->s, "wh_1", &got), SMILE_OK);
	assert_int_equal(got.status, SMILE_WEBHOOK_DISABLED);
	(void)other;
	assert_int_equal(claim(f->s, t + 99999, r), 0);
	/* finished rows are pruned by age, pending ones never */
	assert_int_equal(smile_store_set_webhook_status(f->s, "wh_1", SMILE_WEBHOOK_ACTIVE, t),
			 SMILE_OK);
	assert_int_equal(insert_one(f->s, 3, "acme", NULL), SMILE_OK);
	uint64_t pruned = 99;
	assert_int_equal(smile_store_outbox_prune(f->s, t + 30001, &pruned), SMILE_OK);
	assert_int_equal(pruned, 2); /* done at t + 1 and t + 5000 */
	assert_int_equal(deliveries(f->s, "wh_1", &c), 2); /* done at t + 30001, and 3's pending */
	assert_int_equal(smile_store_outbox_prune(f->s, INT64_MAX, &pruned), SMILE_OK);
	assert_int_equal(pruned, 1);
	assert_int_equal(deliveries(f->s, "wh_1", &c), 1);
	assert_int_equal(c.d[0].state, SMILE_DELIVERY_PENDING);
}

/* ------------------------------------------------------------ console */

static void console_sessions(void **state)
{
	struct fixture *f = *state;
	struct smile_store_session x = {.api_key_id = "k1", .csrf = "tok-1", .created_ms = 1000,
					.last_ms = 1000, .expires_ms = 50000};
	struct smile_store_session got;
	uint8_t other[32];
	uint64_t n = 9;

	memset(x.hash, 0x11, 32);
	memset(x.key_hash, 0x22, 32);
	memset(other, 0x33, 32);
	assert_int_equal(smile_store_put_session(f->s, &x), SMILE_OK);
	assert_int_equal(smile_store_put_session(f->s, &x), SMILE_ERR_EXISTS);
	assert_int_equal(smile_store_get_session(f->s, x.hash, &got), SMILE_OK);
	assert_string_equal(got.api_key_id, "k1");
	assert_memory_equal(got.key_hash, x.key_hash, 32);
	assert_memory_equal(got.hash, x.hash, 32);
	assert_string_equal(got.csrf, "tok-1");
	assert_int_equal(got.created_ms, 1000);
	assert_int_equal(got.last_ms, 1000);
	assert_int_equal(got.expires_ms, 50000);
	assert_int_equal(smile_store_get_session(f->s, other, &got), SMILE_ERR_NOT_FOUND);

	/* touch only moves forward */
	assert_int_equal(smile_store_touch_session(f->s, x.hash, 3000), SMILE_OK);
	assert_int_equal(smile_store_touch_session(f->s, x.hash, 2000), SMILE_OK);
	assert_int_equal(smile_store_get_session(f->s, x.hash, &got), SMILE_OK);
	assert_int_equal(got.last_ms, 3000);
	assert_int_equal(smile_store_touch_session(f->s, other, 3000), SMILE_ERR_NOT_FOUND);

	/* a second session: idle; a third: past its end */
	struct smile_store_session y = x, z = x;
	memset(y.hash, 0x44, 32);
	y.last_ms = 100;
	memset(z.hash, 0x55, 32);
	z.expires_ms = 4000;
	assert_int_equal(smile_store_put_session(f->s, &y), SMILE_OK);
	assert_int_equal(smile_store_put_session(f->s, &z), SMILE_OK);
	/* now 4000, idle before 500: y (idle) and z (ended) go, x stays */
	assert_int_equal(smile_store_purge_sessions(f->s, 4000, 500, &n), SMILE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(smile_store_get_session(f->s, x.hash, &got), SMILE_OK);
	assert_int_equal(smile_store_get_session(f->s, y.hash, &got), SMILE_ERR_NOT_FOUND);
	assert_int_equal(smile_store_get_session(f->s, z.hash, &got), SMILE_ERR_NOT_FOUND);
	assert_int_equal(smile_store_purge_sessions(f->s, 4000, 500, &n), SMILE_OK);
	assert_int_equal(n, 0);

	assert_int_equal(smile_store_delete_session(f->s, x.hash), SMILE_OK);
	assert_int_equal(smile_store_delete_session(f->s, x.hash), SMILE_ERR_NOT_FOUND);
	assert_int_equal(smile_store_get_session(f->s, x.hash, &got), SMILE_ERR_NOT_FOUND);
}

struct page_rows {
	uint64_t ids[32];
	int n;
};

static int collect_page(void *ctx, const struct smile_store_shipment *row)
{
	struct page_rows *p = ctx;
	if (p->n < 32)
		p->ids[p->n++] = row->id;
	return 0;
}

static void page_shipments_newest_first(void **state)
{
	struct fixture *f = *state;
	/* a merchant name with the characters an array literal quotes */
	const char *alpha[] = {"alpha"}, *odd[] = {"o\"d\\d,{x}"}, *both[] = {"alpha", "o\"d\\d,{x}"};
	struct smile_store_event ev = {.shipment_id = 3, .waybill = "SW2611290000003",
				       .event = "delivered", .time_ms = 5000,
				       .device_id = "dev-1", .device_role = "courier"};
	struct smile_store_page_query q = {.merchants = alpha, .n_merchants = 1, .status = -1,
					   .limit = 10};
	struct page_rows p = {0};

	for (uint64_t id = 1; id <= 6; id++)
		assert_int_equal(insert_one(f->s, id, id % 2 ? "alpha" : "o\"d\\d,{x}", NULL),
				 SMILE_OK);
	assert_int_equal(smile_store_add_event(f->s, &ev), SMILE_OK);

	assert_int_equal(smile_store_page_shipments(f->s, &q, collect_page, &p), SMILE_OK);
	assert_int_equal(p.n, 3);
	assert_int_equal(p.ids[0], 5); /* newest first */
	assert_int_equal(p.ids[1], 3);
	assert_int_equal(p.ids[2], 1);

	memset(&p, 0, sizeof(p));
	q.merchants = odd;
	assert_int_equal(smile_store_page_shipments(f->s, &q, collect_page, &p), SMILE_OK);
	assert_int_equal(p.n, 3);
	assert_int_equal(p.ids[0], 6);

	memset(&p, 0, sizeof(p));
	q.merchants = both;
	q.n_merchants = 2;
	q.limit = 2;
	assert_int_equal(smile_store_page_shipments(f->s, &q, collect_page, &p), SMILE_OK);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.ids[0], 6);
	assert_int_equal(p.ids[1], 5);
	/* the next page starts below the last id */
	memset(&p, 0, sizeof(p));
	q.before_id = 5;
	q.limit = 10;
	assert_int_equal(smile_store_page_shipments(f->s, &q, collect_page, &p), SMILE_OK);
	assert_int_equal(p.n, 4);
	assert_int_equal(p.ids[0], 4);

	/* all merchants (admin), by status */
	memset(&p, 0, sizeof(p));
	q = (struct smile_store_page_query){.status = SMILE_SHIPMENT_DELIVERED, .limit = 10};
	assert_int_equal(smile_store_page_shipments(f->s, &q, collect_page, &p), SMILE_OK);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.ids[0], 3);

	/* q: a waybill prefix, an exact waybill, an exact reference; never a
	 * prefix of a reference; LIKE wildcards are plain characters */
	memset(&p, 0, sizeof(p));
	q = (struct smile_store_page_query){.status = -1, .q = "SW26112900000", .limit = 10};
	assert_int_equal(smile_store_page_shipments(f->s, &q, collect_page, &p), SMILE_OK);
	assert_int_equal(p.n, 6);
	memset(&p, 0, sizeof(p));
	q.q = "SW2611290000004";
	assert_int_equal(smile_store_page_shipments(f->s, &q, collect_page, &p), SMILE_OK);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.ids[0], 4);
	memset(&p, 0, sizeof(p));
	q.q = "order-2";
	assert_int_equal(smile_store_page_shipments(f->s, &q, collect_page, &p), SMILE_OK);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.ids[0], 2);
	memset(&p, 0, sizeof(p));
	q.q = "order-";
	assert_int_equal(smile_store_page_shipments(f->s, &q, collect_page, &p), SMILE_OK);
	assert_int_equal(p.n, 0);
	memset(&p, 0, sizeof(p));
	q.q = "SW%";
	assert_int_equal(smile_store_page_shipments(f->s, &q, collect_page, &p), SMILE_OK);
	assert_int_equal(p.n, 0);
	/* with a merchant filter too */
	memset(&p, 0, sizeof(p));
	q = (struct smile_store_page_query){.merchants = alpha, .n_merchants = 1, .status = -1,
					    .q = "order-2", .limit = 10};
	assert_int_equal(smile_store_page_shipments(f->s, &q, collect_page, &p), SMILE_OK);
	assert_int_equal(p.n, 0);
}

struct ev_rows {
	uint64_t ids[32];
	char events[32][SMILE_STORE_STATUS_MAX];
	int n;
};

static int collect_ev(void *ctx, const struct smile_store_event *ev)
{
	struct ev_rows *r = ctx;
	if (r->n < 32) {
		r->ids[r->n] = ev->id;
		snprintf(r->events[r->n], sizeof(r->events[0]), "%s", ev->event);
		r->n++;
	}
	return 0;
}

static void events_after_by_merchant(void **state)
{
	struct fixture *f = *state;
	const char *alpha[] = {"alpha"};
	struct smile_store_event ev = {.shipment_id = 1, .waybill = "SW2611290000001",
				       .event = "hub_in", .time_ms = 5000,
				       .device_id = "dev-1", .device_role = "hub"};
	struct ev_rows r = {0};
	uint64_t head = 99, head2;

	assert_int_equal(smile_store_event_head(f->s, &head), SMILE_OK);
	assert_int_equal(head, 0);
	assert_int_equal(insert_one(f->s, 1, "alpha", NULL), SMILE_OK); /* created */
	assert_int_equal(insert_one(f->s, 2, "beta", NULL), SMILE_OK);  /* created */
	assert_int_equal(smile_store_event_head(f->s, &head), SMILE_OK);
	assert_int_equal(smile_store_add_event(f->s, &ev), SMILE_OK);
	ev.shipment_id = 2;
	snprintf(ev.waybill, sizeof(ev.waybill), "SW2611290000002");
	assert_int_equal(smile_store_add_event(f->s, &ev), SMILE_OK);
	ev.shipment_id = 1;
	snprintf(ev.waybill, sizeof(ev.waybill), "SW2611290000001");
	snprintf(ev.event, sizeof(ev.event), "hub_out");
	assert_int_equal(smile_store_add_event(f->s, &ev), SMILE_OK);

	/* alpha's events after the head: its two scans, in order */
	assert_int_equal(smile_store_events_after(f->s, head, alpha, 1, 10, collect_ev, &r),
			 SMILE_OK);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.events[0], "hub_in");
	assert_string_equal(r.events[1], "hub_out");
	assert_true(r.ids[0] > head && r.ids[1] > r.ids[0]);
	/* resuming after the first gives the second only */
	uint64_t first = r.ids[0], second = r.ids[1];
	memset(&r, 0, sizeof(r));
	assert_int_equal(smile_store_events_after(f->s, first, alpha, 1, 10, collect_ev, &r),
			 SMILE_OK);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.ids[0], second);
	/* everyone's (admin): created x2 + 3 scans, limit honoured */
	memset(&r, 0, sizeof(r));
	assert_int_equal(smile_store_events_after(f->s, 0, NULL, 0, 10, collect_ev, &r), SMILE_OK);
	assert_int_equal(r.n, 5);
	memset(&r, 0, sizeof(r));
	assert_int_equal(smile_store_events_after(f->s, 0, NULL, 0, 2, collect_ev, &r), SMILE_OK);
	assert_int_equal(r.n, 2);
	assert_int_equal(smile_store_event_head(f->s, &head2), SMILE_OK);
	assert_int_equal(head2, second);
}

/* ------------------------------------------------------------ tracking page */

struct audit_seen {
	int n;
	char kinds[256];
};

static int collect_audit(void *ctx, const struct smile_audit_entry *a, int64_t time_ms)
{
	struct audit_seen *x = ctx;
	size_t used = strlen(x->kinds);
	assert_true(time_ms > 0);
	snprintf(x->kinds + used, sizeof(x->kinds) - used, "%s%s:%s", used ? "," : "", a->kind,
		 a->detail);
	x->n++;
	return 0;
}

/* The digits hash is stored at issue, read back, absent when not given,
 * and cleared by erasure; the throttle counts per key in fixed windows;
 * audit entries are listed by subject only. */
static void tracking_hash_throttle_and_audit(void **state)
{
	struct fixture *f = *state;
	struct smile_store_shipment r;
	uint8_t ct[8] = {0}, hash[SMILE_STORE_TRACK_HASH_BYTES], got[SMILE_STORE_TRACK_HASH_BYTES];
	struct smile_store_personal p = {.wrapped_len = 8, .ct = ct, .ct_len = sizeof(ct)};
	uint64_t counts[2];
	int has = -1;

	memset(hash, 0x5A, sizeof(hash));
	make_row(&r, 41, "acme");
	struct smile_store_new_shipment item = {&r, &p, NULL, SMILE_OK, hash};
	assert_int_equal(smile_store_insert_shipments(f->s, &item, 1, 0), SMILE_OK);
	assert_int_equal(item.result, SMILE_OK);
	assert_int_equal(insert_one(f->s, 42, "acme", NULL), SMILE_OK); /* no hash */

	assert_int_equal(smile_store_track_hash(f->s, 41, got, &has), SMILE_OK);
	assert_int_equal(has, 1);
	assert_memory_equal(got, hash, sizeof(hash));
	assert_int_equal(smile_store_track_hash(f->s, 42, got, &has), SMILE_OK);
	assert_int_equal(has, 0);
	assert_int_equal(smile_store_track_hash(f->s, 999, got, &has), SMILE_ERR_NOT_FOUND);
	assert_int_equal(has, 0);

	assert_int_equal(smile_store_erase_personal(f->s, 41, 1764400001000LL, "api"), SMILE_OK);
	assert_int_equal(smile_store_track_hash(f->s, 41, got, &has), SMILE_OK);
	assert_int_equal(has, 0); /* erasure clears it */

	/* throttle: window 1000 ms starting at the first attempt */
	const char *keys[2] = {"check:127.0.0.1", "waybill:SW1"};
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(smile_store_track_hit(f->s, keys, 2, 10000 + i, 1000, counts), SMILE_OK);
		assert_int_equal(counts[0], (uint64_t)i);
		assert_int_equal(counts[1], (uint64_t)i);
	}
	assert_int_equal(smile_store_track_hit(f->s, keys, 1, 10999, 1000, counts), SMILE_OK);
	assert_int_equal(counts[0], 4);
	/* the window ends at 10001 + 1000: a fresh one */
	assert_int_equal(smile_store_track_hit(f->s, keys, 2, 11002, 1000, counts), SMILE_OK);
	assert_int_equal(counts[0], 1);
	assert_int_equal(counts[1], 1);
	const char *bad[1] = {""};
	assert_int_equal(smile_store_track_hit(f->s, bad, 1, 1, 1000, counts), SMILE_ERR_INVALID);
	assert_int_equal(smile_store_track_hit(f->s, keys, 1, 1, 0, counts), SMILE_ERR_INVALID);

	/* audit by subject */
	const struct smile_audit_entry a[3] = {
		{"reveal", r.waybill, "van-1", "ok"},
		{"refusal", "SW-other", "van-1", "not_holder"},
		{"track.wrong_digits", r.waybill, "public", "wrong"},
	};
	assert_int_equal(smile_store_audit(f->s, a, 3, 1764400002000LL), SMILE_OK);
	struct audit_seen seen = {0};
	assert_int_equal(smile_store_audit_subject(f->s, r.waybill, 100, collect_audit, &seen),
			 SMILE_OK);
	/* the erasure's own entry comes first */
	assert_string_equal(seen.kinds, "erasure:crypto-shred,reveal:ok,track.wrong_digits:wrong");
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(smile_store_audit_subject(f->s, r.waybill, 2, collect_audit, &seen), SMILE_OK);
	assert_int_equal(seen.n, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(all_or_nothing_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(erase_shreds_and_keeps_tracking, setup, teardown),
		cmocka_unit_test_setup_teardown(idempotency_conflict_inserts_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(concurrent_writers_all_land, setup, teardown),
		cmocka_unit_test_setup_teardown(list_filters_merchants_and_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(retention_and_events, setup, teardown),
		cmocka_unit_test_setup_teardown(apikeys, setup, teardown),
		cmocka_unit_test_setup_teardown(reopen_keeps_data_and_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(devices_and_status, setup, teardown),
		cmocka_unit_test_setup_teardown(scans_apply_once, setup, teardown),
		cmocka_unit_test_setup_teardown(erasure_withdraws_revealing_replies, setup, teardown),
		cmocka_unit_test_setup_teardown(two_processes_share_one_store, setup, teardown),
		cmocka_unit_test_setup_teardown(async_commits_call_back_once_durable, setup, teardown),
		cmocka_unit_test_setup_teardown(meta_compare_and_set, setup, teardown),
		cmocka_unit_test_setup_teardown(rewrap_never_undoes_an_erasure, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_scheme_is_unsupported, setup, teardown),
		cmocka_unit_test_setup_teardown(a_failing_job_does_not_undo_another, setup, teardown),
		cmocka_unit_test_setup_teardown(a_revoked_device_stays_revoked, setup, teardown),
		cmocka_unit_test_setup_teardown(a_scan_decided_on_a_moved_shipment, setup, teardown),
		cmocka_unit_test_setup_teardown(shipment_status_follows_events, setup, teardown),
		cmocka_unit_test_setup_teardown(audit_chain_continues_across_handles, setup, teardown),
		cmocka_unit_test_setup_teardown(print_jobs_once_forward_and_audited, setup, teardown),
		cmocka_unit_test_setup_teardown(webhooks_register_list_pause_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(outbox_fans_out_with_the_event, setup, teardown),
		cmocka_unit_test_setup_teardown(outbox_claims_in_order_with_leases, setup, teardown),
		cmocka_unit_test_setup_teardown(tracking_hash_throttle_and_audit, setup, teardown),
		cmocka_unit_test_setup_teardown(console_sessions, setup, teardown),
		cmocka_unit_test_setup_teardown(page_shipments_newest_first, setup, teardown),
		cmocka_unit_test_setup_teardown(events_after_by_merchant, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
