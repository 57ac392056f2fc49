/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of what only the SQLite backend (gateway/store_sqlite.c) can
 * show, looking inside the store file with SQLite itself: the schema version
 * guard, erased bytes leaving the database and its WAL, the file's mode, a
 * read-only pass leaving a file untouched, raw edits of the audit table, and
 * unknown status text in rows failing closed. Everything a backend must do
 * is checked for every backend by test_store.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../../gateway/store.h"

struct fixture {
	char dir[64];
	char path[96];
	struct smile_store *s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct smile_error e = {0};
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/smile-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
	if (smile_store_open(f->path, 1, 4, &f->s, &e) != SMILE_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[160];
	smile_store_close(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static enum smile_err insert_one(struct smile_store *s, uint64_t id)
{
	struct smile_store_shipment r;
	uint8_t ct[40];
	struct smile_store_personal p = {.wrapped_len = 72, .ct = ct, .ct_len = sizeof(ct)};
	memset(p.wrapped_key, 0xAB, sizeof(p.wrapped_key));
	memset(ct, 0xCD, sizeof(ct));
	memset(&r, 0, sizeof(r));
	r.id = id;
	snprintf(r.waybill, sizeof(r.waybill), "SW261129%07llu", (unsigned long long)id);
	snprintf(r.merchant, sizeof(r.merchant), "acme");
	snprintf(r.token, sizeof(r.token), "SW1:TOKEN%llu", (unsigned long long)id);
	r.created_ms = 1764400000000LL + (int64_t)id;
	r.public_json = (char *)"{\"masked\":true}";
	struct smile_store_new_shipment item = {&r, &p, NULL, SMILE_OK, NULL};
	enum smile_err rc = smile_store_insert_shipments(s, &item, 1, 0);
	return rc ? rc : item.result;
}

static void tamper(const char *path, const char *sql)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void newer_schema_is_refused(void **state)
{
	struct fixture *f = *state;
	struct smile_error e = {0};
	struct smile_store *s2 = NULL;

	smile_store_close(f->s);
	f->s = NULL;
	tamper(f->path, "UPDATE meta SET value = '99' WHERE key = 'schema_version'");
	assert_int_equal(smile_store_open(f->path, 0, 1, &s2, &e), SMILE_ERR_SCHEMA);
	assert_null(s2);
	assert_non_null(strstr(e.message, "newer"));
	assert_int_equal(smile_store_open("oracle://x/y", 0, 1, &s2, &e), SMILE_ERR_UNSUPPORTED);
}

static void audit_chain_detects_tampering(void **state)
{
	struct fixture *f = *state;
	struct smile_error e = {0};
	struct smile_audit_entry a[5] = {{"refusal", "SW1", "dev-9", "bad_signature"},
					 {"refusal", "SW2", "dev-9", "replay"},
					 {"reveal", "SW3", "dev-9", "ok"},
					 {"refusal", "SW4", "dev-9", "stale"},
					 {"reveal", "SW5", "dev-9", "ok"}};
	uint64_t n, bad;

	assert_int_equal(smile_store_audit(f->s, a, 5, 1234), SMILE_OK);
	assert_int_equal(smile_store_audit_verify(f->s, &n, &bad, NULL, &e), SMILE_OK);
	assert_int_equal(n, 5);
	/* reopen: the chain continues from the stored head */
	smile_store_close(f->s);
	assert_int_equal(smile_store_open(f->path, 0, 2, &f->s, &e), SMILE_OK);
	assert_int_equal(smile_store_audit(f->s, a, 1, 1300), SMILE_OK);
	assert_int_equal(smile_store_audit_verify(f->s, &n, &bad, NULL, &e), SMILE_OK);
	assert_int_equal(n, 6);

	smile_store_close(f->s);
	tamper(f->path, "UPDATE audit SET detail = 'ok' WHERE seq = 2");
	assert_int_equal(smile_store_open(f->path, 0, 2, &f->s, &e), SMILE_OK);
	assert_int_equal(smile_store_audit_verify(f->s, &n, &bad, NULL, &e), SMILE_ERR_AUDIT_BROKEN);
	assert_int_equal(bad, 2);
	assert_non_null(strstr(e.message, "altered"));

	smile_store_close(f->s);
	tamper(f->path, "UPDATE audit SET detail = 'replay' WHERE seq = 2; DELETE FROM audit WHERE seq = 4");
	assert_int_equal(smile_store_open(f->path, 0, 2, &f->s, &e), SMILE_OK);
	assert_int_equal(smile_store_audit_verify(f->s, &n, &bad, NULL, &e), SMILE_ERR_AUDIT_BROKEN);
	assert_int_equal(bad, 4);
	assert_non_null(strstr(e.message, "missing"));

	smile_store_close(f->s);
	/* put 4 back by swapping 3's and 5's contents: reordered */
	tamper(f->path, "UPDATE audit SET seq = 4 WHERE seq = 5; UPDATE audit SET seq = 5 WHERE seq = 6");
	assert_int_equal(smile_store_open(f->path, 0, 2, &f->s, &e), SMILE_OK);
	assert_int_equal(smile_store_audit_verify(f->s, &n, &bad, NULL, &e), SMILE_ERR_AUDIT_BROKEN);
	assert_int_equal(bad, 4);
}

static void erased_bytes_leave_the_files(void **state)
{
	struct fixture *f = *state;
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
		 "cat '%s' '%s-wal' 2>/dev/null | grep -c $(printf '\\253\\253\\253\\253\\253\\253\\253\\253') >/dev/null",
		 f->path, f->path);
	assert_int_equal(insert_one(f->s, 7), SMILE_OK);
	assert_int_equal(system(cmd), 0); /* the wrapped key's bytes are on disk */
	assert_int_equal(smile_store_erase_personal(f->s, 7, 1764400009999LL, "api"), SMILE_OK);
	/* ... and gone from the database and WAL files after erasure */
	assert_int_not_equal(system(cmd), 0);
	assert_int_equal(smile_store_wal_pending(f->s), 0);
}

static void the_file_is_private(void **state)
{
	struct fixture *f = *state;
	struct stat st;

	smile_store_close(f->s);
	f->s = NULL;
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static int count_rows(void *ctx, uint64_t id, const uint8_t *wk, size_t wn, const uint8_t *ct,
		      size_t cn)
{
	(void)id, (void)wk, (void)wn, (void)ct, (void)cn;
	(*(int *)ctx)++;
	return 0;
}

/* smile_store_each_personal looks at a backup copy: never written. */
static void each_personal_leaves_the_file_alone(void **state)
{
	struct fixture *f = *state;
	struct smile_error e = {0};
	struct stat before, after;
	char missing[128], url[128];
	int rows = 0;

	assert_int_equal(insert_one(f->s, 1), SMILE_OK);
	assert_int_equal(insert_one(f->s, 2), SMILE_OK);
	assert_int_equal(stat(f->path, &before), 0);
	snprintf(url, sizeof(url), "sqlite:%s", f->path);
	assert_int_equal(smile_store_each_personal(url, count_rows, &rows, &e), SMILE_OK);
	assert_int_equal(rows, 2);
	assert_int_equal(stat(f->path, &after), 0);
	assert_int_equal(before.st_size, after.st_size);
	assert_int_equal(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
	assert_int_equal(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
	snprintf(missing, sizeof(missing), "%s/none.db", f->dir);
	assert_int_equal(smile_store_each_personal(missing, count_rows, &rows, &e),
			 SMILE_ERR_NOT_FOUND);
	assert_int_equal(stat(missing, &after), -1); /* not created */
}

/* Status text the store does not know fails closed, the same way for every
 * reader: the device reads as revoked, cannot be resumed, and its scans
 * apply nothing; a shipment row is refused as corrupt. */
static void unknown_status_text_fails_closed(void **state)
{
	struct fixture *f = *state;
	struct smile_error e = {0};
	struct smile_store_device d, got;
	struct smile_store_shipment row;
	uint8_t digest[32] = {1}, reply[1] = {1};
	struct smile_store_scan sc = {"dev-u", 1, digest, reply, 1, 1000, NULL, 0, 0, 0, NULL, 0, 0, NULL, NULL, 0, 0, NULL, NULL};
	enum smile_device_status st = SMILE_DEV_ACTIVE;

	assert_int_equal(smile_device_status_parse("paused", &st), SMILE_ERR_FIELD_VALUE);
	assert_int_equal(st, SMILE_DEV_REVOKED);
	memset(&d, 0, sizeof(d));
	snprintf(d.id, sizeof(d.id), "dev-u");
	memset(d.sign_pk, 1, 32);
	memset(d.box_pk, 2, 32);
	d.created_ms = 1000;
	assert_int_equal(smile_store_put_device(f->s, &d, "admin"), SMILE_OK);
	assert_int_equal(insert_one(f->s, 5), SMILE_OK);
	smile_store_close(f->s);
	tamper(f->path, "UPDATE devices SET status = 'paused' WHERE id = 'dev-u';"
			"UPDATE shipments SET status = 'teleported' WHERE id = 5");
	assert_int_equal(smile_store_open(f->path, 0, 2, &f->s, &e), SMILE_OK);

	assert_int_equal(smile_store_get_device(f->s, "dev-u", &got), SMILE_OK);
	assert_int_equal(got.status, SMILE_DEV_REVOKED);
	smile_store_device_release(&got);
	/* the writer's reading agrees: revoked is final */
	assert_int_equal(smile_store_set_device_status(f->s, "dev-u", SMILE_DEV_ACTIVE, "admin",
						       "resume"),
			 SMILE_ERR_CONFLICT);
	assert_int_equal(smile_store_commit_scan(f->s, &sc), SMILE_ERR_REPLAY);
	assert_int_equal(smile_store_get_device(f->s, "dev-u", &got), SMILE_OK);
	assert_int_equal(got.last_seq, 0);
	smile_store_device_release(&got);

	assert_int_equal(smile_store_get_shipment_by_id(f->s, 5, &row), SMILE_ERR_STORE);
	assert_null(row.public_json); /* nothing to release */
	assert_int_equal(smile_store_get_shipment(f->s, "SW2611290000005", &row), SMILE_ERR_STORE);
}

/* "sqlite:memory:NAME" (the service tests' store): one database shared by
 * the handle's connections, no file anywhere, gone when the last closes; a
 * malformed name is refused, never taken for a path. */
static void memory_store_has_no_file(void **state)
{
	struct smile_store *s = NULL, *again = NULL;
	struct smile_store_shipment got;
	struct smile_error e = {0};
	char cwd_file[64];
	(void)state;

	assert_int_equal(smile_store_open("sqlite:memory:mem-test", 1, 2, &s, &e), SMILE_OK);
	assert_int_equal(insert_one(s, 7), SMILE_OK);
	/* read back through a reader connection: the same database */
	assert_int_equal(smile_store_get_shipment_by_id(s, 7, &got), SMILE_OK);
	smile_store_shipment_release(&got);
	snprintf(cwd_file, sizeof(cwd_file), "memory:mem-test");
	assert_int_not_equal(access(cwd_file, F_OK), 0);
	assert_int_not_equal(access("mem-test", F_OK), 0);
	smile_store_close(s);
	/* the last connection closed: a new handle starts empty */
	assert_int_equal(smile_store_open("sqlite:memory:mem-test", 1, 1, &again, &e), SMILE_OK);
	assert_int_equal(smile_store_get_shipment_by_id(again, 7, &got), SMILE_ERR_NOT_FOUND);
	smile_store_close(again);

	assert_int_equal(smile_store_open("sqlite:memory:../etc", 1, 1, &s, &e), SMILE_ERR_INVALID);
	assert_non_null(strstr(e.message, "memory store name"));
	assert_int_equal(smile_store_open("sqlite:memory:", 1, 1, &s, &e), SMILE_ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(newer_schema_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(erased_bytes_leave_the_files, setup, teardown),
		cmocka_unit_test_setup_teardown(the_file_is_private, setup, teardown),
		cmocka_unit_test_setup_teardown(each_personal_leaves_the_file_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(audit_chain_detects_tampering, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_status_text_fails_closed, setup, teardown),
		cmocka_unit_test(memory_store_has_no_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
