/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the service layer (gateway/svc_*.c), without a broker or
 * an HTTP server: the access rule for each role against its own and another
 * merchant's shipments, issuance logging once, device changes recorded the
 * same whichever door asked, revocation being final, a merchant never
 * reaching another merchant's shipment, and batch issuance's documented
 * all-or-nothing and replay behaviour.
 *
 * No database file and no broker: the store is the real SQLite backend on a
 * shared-cache in-memory database ("sqlite:memory:NAME", one per test), the
 * log goes to a memfd. Only the key files live in a private temporary
 * directory, removed at teardown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "smile/log.h"
#include "smile/device.h"
#include "smile/printjob.h"
#include "smile/proto.h"
#include "../../../gateway/apikey.h"
#include "../../../gateway/svc.h"
#include "memgw.h"

static const char good[] =
	"{\"recipient\":{\"name\":\"张三明\",\"phone\":\"13812345678\",\"address\":{"
	"\"country\":\"CN\",\"province\":\"湖北省\",\"city\":\"武汉市\",\"district\":\"江汉区\","
	"\"street\":\"建设大道568号\",\"detail\":\"3栋2单元1502室\"}},"
	"\"sender\":{\"name\":\"王二\",\"phone\":\"027-85699449\",\"address\":{\"city\":\"武汉市\","
	"\"street\":\"中山大道1号\"}},\"weight_g\":500%s}";

struct fixture {
	char dir[64];
	char memdb[64]; /* the store's in-memory database name */
	int log_fd;
	struct gateway g;
	struct smile_store_apikey ziyun, acme, wh, admin;
};

static void key(struct smile_store_apikey *k, const char *id, enum smile_role role,
		const char *merchant)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->id, sizeof(k->id), "%s", id);
	k->role = role;
	if (merchant)
		snprintf(k->merchant, sizeof(k->merchant), "%s", merchant);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || sodium_init() < 0)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/smile-svc-XXXXXX");
	if (mkdtemp(f->dir) == NULL || memgw_open(&f->g, f->dir, "svc", f->memdb) != 0)
		return -1;
	f->log_fd = memfd_create("svc-log", 0);
	if (f->log_fd < 0)
		return -1;
	smile_log_set_fd(f->log_fd);
	smile_log_set_level(SMILE_LOG_INFO);
	key(&f->ziyun, "k-ziyun", SMILE_ROLE_MERCHANT, "ziyun");
	key(&f->acme, "k-acme", SMILE_ROLE_MERCHANT, "acme");
	key(&f->wh, "k-wh", SMILE_ROLE_WAREHOUSE, NULL);
	snprintf(f->wh.bindings[0], sizeof(f->wh.bindings[0]), "ziyun");
	f->wh.n_bindings = 1;
	key(&f->admin, "k-admin", SMILE_ROLE_ADMIN, NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[160];
	smile_log_set_fd(2);
	close(f->log_fd);
	gateway_close(&f->g);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* How many log lines so far carry `event=NAME ` (and `also`, when given). */
static int log_count(struct fixture *f, const char *name, const char *also)
{
	char buf[1 << 16], pat[96];
	ssize_t n = pread(f->log_fd, buf, sizeof(buf) - 1, 0);
	int count = 0;
	buf[n > 0 ? n : 0] = '\0';
	snprintf(pat, sizeof(pat), "event=%s ", name);
	for (char *line = buf, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl == NULL)
			break;
		*nl = '\0';
		if (strstr(line, pat) && (also == NULL || strstr(line, also)))
			count++;
	}
	return count;
}

/* One SQL answer from the store (audit rows, counts), as text: a read-only
 * connection to the same in-memory database. */
static void query(struct fixture *f, const char *sql, char *out, size_t n)
{
	char uri[128];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	snprintf(uri, sizeof(uri), "file:%s?mode=memory&cache=shared", f->memdb);
	out[0] = '\0';
	assert_int_equal(sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* Issue one shipment for `merchant` (NULL: the caller's own) as `c`. */
static enum smile_err issue(struct fixture *f, const struct svc_caller *c, const char *merchant,
			    char waybill[SMILE_STORE_WAYBILL_MAX])
{
	char text[sizeof(good) + 64], extra[48] = "";
	struct smile_error e = {0};
	struct svc_answer a;
	int reused;
	json_t *j;
	enum smile_err rc;

	if (merchant)
		snprintf(extra, sizeof(extra), ",\"merchant\":\"%s\"", merchant);
	snprintf(text, sizeof(text), good, extra);
	j = json_loads(text, 0, NULL);
	assert_non_null(j);
	rc = svc_issue(&f->g, c, j, NULL, &a, &reused, &e);
	json_decref(j);
	if (rc == SMILE_OK) {
		assert_int_equal(a.status, 201);
		snprintf(waybill, SMILE_STORE_WAYBILL_MAX, "%s", a.waybill);
	}
	svc_answer_release(&a);
	return rc;
}

/* ------------------------------------------------------------ access */

static void may_access_by_role(void **state)
{
	struct fixture *f = *state;
	struct svc_caller z = svc_caller_api(&f->ziyun), w = svc_caller_api(&f->wh),
			  a = svc_caller_api(&f->admin);

	assert_true(svc_may_access(&a, "ziyun"));
	assert_true(svc_may_access(&a, "acme"));
	assert_true(svc_may_access(&z, "ziyun"));
	assert_false(svc_may_access(&z, "acme"));
	assert_true(svc_may_access(&w, "ziyun"));
	assert_false(svc_may_access(&w, "acme"));
	/* the operator and the retention job act as admin */
	assert_true(svc_may_access(&svc_caller_cli, "acme"));
	assert_true(svc_may_access(&svc_caller_retention, "acme"));
	/* a merchant caller without its key reaches nothing */
	struct svc_caller bare = {.id = "x", .door = "api", .role = SMILE_ROLE_MERCHANT};
	assert_false(svc_may_access(&bare, "ziyun"));
}

static void role_checks(void **state)
{
	struct fixture *f = *state;
	struct svc_caller z = svc_caller_api(&f->ziyun), w = svc_caller_api(&f->wh);
	struct smile_error e = {0};
	char wb[SMILE_STORE_WAYBILL_MAX];

	assert_int_equal(svc_need_admin(&z, &e), SMILE_ERR_PERMISSION);
	assert_int_equal(svc_need_admin(&svc_caller_cli, &e), SMILE_OK);
	assert_int_equal(svc_device_set_status(&f->g, &z, "van-1", SMILE_DEV_SUSPENDED, NULL, &e),
			 SMILE_ERR_PERMISSION);
	assert_int_equal(svc_apikey_revoke(&f->g, &w, "k-admin", &e), SMILE_ERR_PERMISSION);
	/* issuing: a merchant only for itself; a warehouse for a bound merchant */
	assert_int_equal(issue(f, &z, "acme", wb), SMILE_ERR_PERMISSION);
	assert_int_equal(issue(f, &w, "acme", wb), SMILE_ERR_PERMISSION);
	assert_int_equal(issue(f, &w, NULL, wb), SMILE_ERR_MISSING_FIELD);
	assert_int_equal(issue(f, &w, "ziyun", wb), SMILE_OK);
}

/* Each role against its own and another merchant's shipment, through every
 * door that reads or changes one. */
static void shipments_of_others_are_not_found(void **state)
{
	struct fixture *f = *state;
	struct svc_caller z = svc_caller_api(&f->ziyun), ac = svc_caller_api(&f->acme),
			  w = svc_caller_api(&f->wh), a = svc_caller_api(&f->admin);
	struct smile_store_shipment row;
	struct smile_error e = {0};
	struct smile_buf out;
	char wb[SMILE_STORE_WAYBILL_MAX], got[SMILE_STORE_WAYBILL_MAX];
	int already;
	int64_t at;
	long n;
	json_t *events;
	uint64_t last;

	assert_int_equal(issue(f, &z, NULL, wb), SMILE_OK);

	/* view: own merchant, bound warehouse and admin see it */
	const struct svc_caller *see[] = {&z, &w, &a};
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(svc_shipment_get(&f->g, see[i], wb, &row, &e), SMILE_OK);
		assert_string_equal(row.merchant, "ziyun");
		smile_store_shipment_release(&row);
	}
	/* another merchant: not found, exactly as a missing waybill */
	assert_int_equal(svc_shipment_get(&f->g, &ac, wb, &row, &e), SMILE_ERR_NOT_FOUND);
	assert_string_equal(e.field, "waybill");
	assert_string_equal(e.message, "no such shipment");
	assert_int_equal(svc_shipment_get(&f->g, &z, "SW000000000000", &row, &e),
			 SMILE_ERR_NOT_FOUND);
	assert_string_equal(e.message, "no such shipment");

	/* label */
	smile_buf_init(&out, SMILE_LABEL_OUTPUT_MAX);
	assert_int_equal(svc_shipment_label(&f->g, &ac, wb, SMILE_LABEL_ZPL, 203,
					    SMILE_LABEL_100X150, 0, &out, &row, &n, &e),
			 SMILE_ERR_NOT_FOUND);
	assert_int_equal(out.len, 0);
	assert_int_equal(svc_shipment_label(&f->g, &z, wb, SMILE_LABEL_ZPL, 203,
					    SMILE_LABEL_100X150, 0, &out, &row, &n, &e),
			 SMILE_OK);
	assert_int_equal(n, 1);
	assert_true(out.len > 0);
	smile_store_shipment_release(&row);
	smile_buf_release(&out);

	/* track: events of a shipment read by someone else */
	assert_int_equal(svc_shipment_get(&f->g, &z, wb, &row, &e), SMILE_OK);
	assert_int_equal(svc_shipment_events(&f->g, &ac, &row, &events, &e), SMILE_ERR_NOT_FOUND);
	assert_null(events);
	assert_int_equal(svc_shipment_events(&f->g, &z, &row, &events, &e), SMILE_OK);
	json_decref(events);
	smile_store_shipment_release(&row);

	/* export lists only what the caller may see */
	smile_buf_init(&out, 1u << 20);
	assert_int_equal(svc_labels_export(&f->g, &ac, 0, 0, 100, &out, &last, &e), SMILE_OK);
	assert_int_equal(out.len, 0);
	assert_int_equal(svc_labels_export(&f->g, &z, 0, 0, 100, &out, &last, &e), SMILE_OK);
	assert_non_null(strstr(out.data, wb));
	smile_buf_release(&out);

	/* erase: a warehouse never; another merchant finds nothing */
	assert_int_equal(svc_shipment_erase(&f->g, &w, wb, got, &already, &at, &e),
			 SMILE_ERR_PERMISSION);
	assert_int_equal(svc_shipment_erase(&f->g, &ac, wb, got, &already, &at, &e),
			 SMILE_ERR_NOT_FOUND);
	assert_int_equal(log_count(f, "shipment.erased", NULL), 0);
	assert_int_equal(svc_shipment_erase(&f->g, &z, wb, got, &already, &at, &e), SMILE_OK);
	assert_false(already);
	assert_true(at > 0);
	assert_string_equal(got, wb);
	assert_int_equal(log_count(f, "shipment.erased", "key=k-ziyun"), 1);
	/* again: already erased, nothing logged twice */
	assert_int_equal(svc_shipment_erase(&f->g, &a, wb, got, &already, &at, &e), SMILE_OK);
	assert_true(already);
	assert_int_equal(log_count(f, "shipment.erased", NULL), 1);
	char kind[64];
	query(f, "SELECT kind || '|' || actor FROM audit WHERE kind = 'erasure'", kind,
	      sizeof(kind));
	assert_string_equal(kind, "erasure|api");
}

/* ------------------------------------------------------------ issuance */

static void issuance_logs_once(void **state)
{
	struct fixture *f = *state;
	struct svc_caller z = svc_caller_api(&f->ziyun);
	uint64_t before = smile_metrics_get(SMILE_COUNTER_SHIPMENTS_ISSUED);
	char wb[SMILE_STORE_WAYBILL_MAX], n[32];

	assert_int_equal(issue(f, &z, NULL, wb), SMILE_OK);
	assert_int_equal(log_count(f, "shipment.issued", NULL), 1);
	assert_int_equal(log_count(f, "shipment.issued", "key=k-ziyun"), 1);
	assert_int_equal(smile_metrics_get(SMILE_COUNTER_SHIPMENTS_ISSUED), before + 1);
	/* issuance is not an audited kind (docs/operations.md "Audit") */
	query(f, "SELECT count(*) FROM audit", n, sizeof(n));
	assert_string_equal(n, "0");
	/* a refused request logs and counts nothing */
	assert_int_equal(issue(f, &z, "acme", wb), SMILE_ERR_PERMISSION);
	assert_int_equal(log_count(f, "shipment.issued", NULL), 1);
	assert_int_equal(smile_metrics_get(SMILE_COUNTER_SHIPMENTS_ISSUED), before + 1);
	/* no personal data in the log */
	assert_int_equal(log_count(f, "shipment.issued", "13812345678"), 0);
}

static json_t *batch(const char *first, const char *second)
{
	char a[sizeof(good) + 64], b[sizeof(good) + 64], text[2 * sizeof(good) + 160];
	snprintf(a, sizeof(a), good, first);
	snprintf(b, sizeof(b), good, second);
	snprintf(text, sizeof(text), "{\"shipments\":[%s,%s]}", a, b);
	return json_loads(text, 0, NULL);
}

static int status_of(enum smile_err rc)
{
	return rc == SMILE_OK ? 201 : rc == SMILE_ERR_PERMISSION ? 403 : 422;
}

static void batch_issuance(void **state)
{
	struct fixture *f = *state;
	struct svc_caller z = svc_caller_api(&f->ziyun);
	struct svc_idem idem = {.key = "batch-1"};
	struct smile_error e = {0};
	struct svc_answer a, again;
	int reused;
	char n[32];
	json_t *mixed = batch("", ",\"merchant\":\"acme\""), *bad = batch(",\"weight_g\":-1", ",\"weight_g\":-1"),
	       *ans;

	assert_non_null(mixed);
	/* without a key: good items are issued even when others fail */
	assert_int_equal(svc_issue_batch(&f->g, &z, mixed, NULL, status_of, &a, &reused, &e),
			 SMILE_OK);
	ans = json_loads(a.body, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(ans, "issued")), 1);
	assert_int_equal(json_integer_value(json_object_get(ans, "failed")), 1);
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(json_object_get(ans, "results"), 1), "status_code")),
			 403);
	json_decref(ans);
	svc_answer_release(&a);
	assert_int_equal(log_count(f, "shipment.batch", "issued=1"), 1);

	/* with a key: the answer is recorded and replayed byte for byte */
	randombytes_buf(idem.hash, sizeof(idem.hash));
	assert_int_equal(svc_issue_batch(&f->g, &z, mixed, &idem, status_of, &a, &reused, &e),
			 SMILE_OK);
	assert_false(a.replayed);
	assert_int_equal(svc_issue_batch(&f->g, &z, mixed, &idem, status_of, &again, &reused, &e),
			 SMILE_OK);
	assert_true(again.replayed);
	assert_int_equal(again.status, 200);
	assert_string_equal(again.body, a.body);
	svc_answer_release(&again);
	svc_answer_release(&a);
	query(f, "SELECT count(*) FROM shipments", n, sizeof(n));
	assert_string_equal(n, "2"); /* one per batch: the retry issued nothing */
	/* the same key for another request is refused */
	idem.hash[0] ^= 1;
	assert_int_equal(svc_issue_batch(&f->g, &z, mixed, &idem, status_of, &a, &reused, &e),
			 SMILE_ERR_CONFLICT);
	assert_true(reused);
	assert_string_equal(e.field, "Idempotency-Key");

	/* no valid item: nothing stored, key included, so it may be used again */
	struct svc_idem fresh = {.key = "batch-2"};
	assert_int_equal(svc_issue_batch(&f->g, &z, bad, &fresh, status_of, &a, &reused, &e),
			 SMILE_OK);
	ans = json_loads(a.body, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(ans, "issued")), 0);
	json_decref(ans);
	svc_answer_release(&a);
	query(f, "SELECT count(*) FROM idempotency WHERE key = 'batch-2'", n, sizeof(n));
	assert_string_equal(n, "0");
	assert_int_equal(svc_issue_batch(&f->g, &z, mixed, &fresh, status_of, &a, &reused, &e),
			 SMILE_OK);
	assert_false(a.replayed);
	svc_answer_release(&a);

	/* the envelope: more items than batch_max_items is too large */
	f->g.cfg.batch_max_items = 1;
	assert_int_equal(svc_issue_batch(&f->g, &z, mixed, NULL, status_of, &a, &reused, &e),
			 SMILE_ERR_TOO_LARGE);
	assert_string_equal(e.field, "shipments");
	json_decref(mixed);
	json_decref(bad);
}

/* ------------------------------------------------------------ devices */

static void enrol(struct fixture *f, const char *id)
{
	uint8_t sign_pk[32], sign_sk[64], box_pk[32], box_sk[32];
	char s64[SMILE_PROTO_KEY_B64_BYTES], b64[SMILE_PROTO_KEY_B64_BYTES];
	struct smile_store_device d;
	struct smile_error e = {0};
	json_t *j;

	crypto_sign_keypair(sign_pk, sign_sk);
	crypto_box_keypair(box_pk, box_sk);
	smile_proto_key_to_base64(sign_pk, s64);
	smile_proto_key_to_base64(box_pk, b64);
	j = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "sign_pk", s64, "box_pk", b64, "role",
		      "courier");
	assert_int_equal(svc_device_enrol(&f->g, &svc_caller_cli, j, &d, &e), SMILE_OK);
	smile_store_device_release(&d);
	json_decref(j);
}

/* The last audit entry as "kind|subject|actor|detail". */
static void last_audit(struct fixture *f, char *out, size_t n)
{
	query(f,
	      "SELECT kind || '|' || subject || '|' || actor || '|' || detail FROM audit "
	      "ORDER BY seq DESC LIMIT 1",
	      out, n);
}

static void device_change_same_from_every_door(void **state)
{
	struct fixture *f = *state;
	struct svc_caller api = svc_caller_api(&f->admin);
	struct smile_store_device d;
	struct smile_error e = {0};
	char audit[256];

	enrol(f, "van-1");
	enrol(f, "van-2");
	assert_int_equal(log_count(f, "device.enrolled", "by=cli"), 2);
	last_audit(f, audit, sizeof(audit));
	assert_string_equal(audit, "device.enrol|van-2|cli|courier");

	assert_int_equal(svc_device_set_status(&f->g, &svc_caller_cli, "van-1",
					       SMILE_DEV_SUSPENDED, NULL, &e),
			 SMILE_OK);
	last_audit(f, audit, sizeof(audit));
	assert_string_equal(audit, "device.suspended|van-1|cli|cli");
	assert_int_equal(log_count(f, "device.status", "device=van-1 status=suspended by=cli"), 1);

	assert_int_equal(svc_device_set_status(&f->g, &api, "van-2", SMILE_DEV_SUSPENDED, &d, &e),
			 SMILE_OK);
	assert_int_equal(d.status, SMILE_DEV_SUSPENDED);
	smile_store_device_release(&d);
	last_audit(f, audit, sizeof(audit));
	assert_string_equal(audit, "device.suspended|van-2|k-admin|api");
	assert_int_equal(log_count(f, "device.status", "device=van-2 status=suspended by=k-admin"),
			 1);
	/* one line per change, whichever door */
	assert_int_equal(log_count(f, "device.status", NULL), 2);
}

static void revoked_is_final(void **state)
{
	struct fixture *f = *state;
	struct svc_caller api = svc_caller_api(&f->admin);
	struct smile_error e = {0};
	char n[32];

	enrol(f, "van-3");
	assert_int_equal(svc_device_set_status(&f->g, &api, "van-3", SMILE_DEV_REVOKED, NULL, &e),
			 SMILE_OK);
	query(f, "SELECT count(*) FROM audit", n, sizeof(n));
	assert_string_equal(n, "2");
	const struct svc_caller *doors[] = {&api, &svc_caller_cli};
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(svc_device_set_status(&f->g, doors[i], "van-3", SMILE_DEV_ACTIVE,
						       NULL, &e),
				 SMILE_ERR_CONFLICT);
		assert_string_equal(e.field, "id");
	}
	/* a refusal changes nothing, so it is neither logged nor audited */
	query(f, "SELECT count(*) FROM audit", n, sizeof(n));
	assert_string_equal(n, "2");
	assert_int_equal(log_count(f, "device.status", "status=active"), 0);
	assert_int_equal(svc_device_set_status(&f->g, &api, "ghost", SMILE_DEV_SUSPENDED, NULL, &e),
			 SMILE_ERR_NOT_FOUND);
}

/* ------------------------------------------------------------ print jobs */

/* Enrol k (fresh keys for id) with `role` through the service. */
static void enrol_keys(struct fixture *f, const char *id, const char *role,
		       struct smile_device_keys *k)
{
	char s64[SMILE_PROTO_KEY_B64_BYTES], b64[SMILE_PROTO_KEY_B64_BYTES];
	struct smile_store_device d;
	struct smile_error e = {0};
	json_t *j;

	assert_int_equal(smile_device_keygen(id, k, NULL), SMILE_OK);
	smile_proto_key_to_base64(k->sign_pk, s64);
	smile_proto_key_to_base64(k->box_pk, b64);
	j = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "sign_pk", s64, "box_pk", b64, "role",
		      role);
	assert_int_equal(svc_device_enrol(&f->g, &svc_caller_cli, j, &d, &e), SMILE_OK);
	smile_store_device_release(&d);
	json_decref(j);
}

static enum smile_err print1(struct fixture *f, const struct svc_caller *c, const char *wb,
			     const char *station, int reprint, struct smile_store_print_job *row,
			     struct smile_error *e)
{
	const char *wbs[1] = {wb};
	struct svc_print_request rq = {wbs, 1, station, SMILE_JOB_ZPL, 1, reprint, 0};
	return svc_print_jobs_create(&f->g, c, &rq, row, e);
}

/* A status report of `k` (a station) on job `row`, as bytes on the wire. */
static size_t status_msg(const struct smile_device_keys *k,
			 const struct smile_store_print_job *row, int state, uint8_t *out)
{
	struct smile_job_status st = {0};
	size_t n = 0;
	snprintf(st.station, sizeof(st.station), "%s", k->id);
	snprintf(st.job_id, sizeof(st.job_id), "%.40s", row->id);
	st.seq = row->seq;
	st.time_ms = 1;
	st.state = (unsigned)state;
	assert_int_equal(smile_job_status_encode(&st, k->sign_sk, out, SMILE_JOB_STATUS_MAX_BYTES,
						 &n, NULL),
			 SMILE_OK);
	return n;
}

static void print_jobs_through_the_service(void **state)
{
	struct fixture *f = *state;
	struct svc_caller ziyun = svc_caller_api(&f->ziyun), acme = svc_caller_api(&f->acme);
	struct svc_caller wh = svc_caller_api(&f->wh);
	struct smile_device_keys st, van;
	struct smile_store_print_job row, again, got;
	struct smile_store_shipment sh;
	struct smile_error e = {0};
	struct smile_job job;
	uint8_t k[SMILE_PROTO_KEY_BYTES], rec[SMILE_JOB_RECORD_MAX];
	uint8_t msg[SMILE_JOB_STATUS_MAX_BYTES];
	char w1[SMILE_STORE_WAYBILL_MAX], w2[SMILE_STORE_WAYBILL_MAX], audit[256], expect[256];
	size_t n;
	int64_t erased = 0;
	int already = 0;

	enrol_keys(f, "st-1", "print_station", &st);
	enrol_keys(f, "van-1", "courier", &van);
	assert_int_equal(issue(f, &ziyun, NULL, w1), SMILE_OK);
	assert_int_equal(issue(f, &ziyun, NULL, w2), SMILE_OK);

	/* queued, and the message opens at the station only, to the masked record */
	assert_int_equal(print1(f, &ziyun, w1, "st-1", 0, &row, &e), SMILE_OK);
	assert_int_equal(row.state, SMILE_JOB_QUEUED);
	assert_int_equal(row.seq, 1);
	assert_int_equal(smile_proto_shared_key(st.box_sk, smile_keys_box_pk(f->g.keys), k),
			 SMILE_OK);
	assert_int_equal(smile_job_open(row.message, row.message_len, smile_keys_sign_pk(f->g.keys),
					"st-1", k, &job, rec, sizeof(rec), NULL),
			 SMILE_OK);
	assert_string_equal(job.waybill, w1);
	assert_int_equal(smile_store_get_shipment(f->g.store, w1, &sh), SMILE_OK);
	assert_int_equal(job.record_len, strlen(sh.public_json));
	assert_memory_equal(job.record, sh.public_json, job.record_len);
	smile_store_shipment_release(&sh);
	assert_null(memmem(rec, job.record_len, "13812345678", 11));
	assert_int_equal(log_count(f, "print.queued", "station=st-1 by=k-ziyun reprint=0"), 1);

	/* not the caller's, not a station, printed before */
	assert_int_equal(print1(f, &acme, w1, "st-1", 0, &again, &e), SMILE_ERR_NOT_FOUND);
	assert_string_equal(e.field, "waybills[0]");
	assert_int_equal(print1(f, &ziyun, w2, "van-1", 0, &again, &e), SMILE_ERR_NOT_FOUND);
	assert_string_equal(e.field, "station");
	assert_int_equal(print1(f, &ziyun, w1, "st-1", 0, &again, &e), SMILE_ERR_CONFLICT);
	assert_string_equal(e.field, "waybills[0]");
	/* a reprint, by a warehouse bound to the merchant: audited */
	assert_int_equal(print1(f, &wh, w1, "st-1", 1, &again, &e), SMILE_OK);
	last_audit(f, audit, sizeof(audit));
	snprintf(expect, sizeof(expect), "print.reprint|%s|k-wh|station=st-1 job=%s", w1,
		 again.id);
	assert_string_equal(audit, expect);
	assert_int_equal(again.seq, 2);
	smile_store_print_job_release(&again);
	/* erased: never printed */
	assert_int_equal(svc_shipment_erase(&f->g, &ziyun, w2, w2, &already, &erased, &e),
			 SMILE_OK);
	assert_int_equal(print1(f, &ziyun, w2, "st-1", 1, &again, &e), SMILE_ERR_SHREDDED);

	/* reports: signed by the station, on its own topic, forward only */
	n = status_msg(&st, &row, SMILE_JOB_PRINTED, msg);
	assert_int_equal(svc_print_job_report(&f->g, "van-1", msg, n), SMILE_ERR_PROTO);
	msg[n - 1] ^= 1;
	assert_int_equal(svc_print_job_report(&f->g, "st-1", msg, n), SMILE_ERR_BAD_SIGNATURE);
	msg[n - 1] ^= 1;
	assert_int_equal(svc_print_job_report(&f->g, "st-1", msg, n), SMILE_OK);
	assert_int_equal(svc_print_job_report(&f->g, "st-1", msg, n), SMILE_OK); /* again */
	n = status_msg(&st, &row, SMILE_JOB_PRINTING, msg);
	assert_int_equal(svc_print_job_report(&f->g, "st-1", msg, n), SMILE_OK); /* late */
	assert_int_equal(svc_print_job_get(&f->g, &ziyun, row.id, &got, &e), SMILE_OK);
	assert_int_equal(got.state, SMILE_JOB_PRINTED);
	smile_store_print_job_release(&got);
	assert_int_equal(svc_print_job_get(&f->g, &acme, row.id, &got, &e), SMILE_ERR_NOT_FOUND);
	/* a courier cannot report, even on its own topic with its own key */
	n = status_msg(&van, &row, SMILE_JOB_FAILED, msg);
	assert_int_equal(svc_print_job_report(&f->g, "van-1", msg, n), SMILE_ERR_DEVICE_INACTIVE);
	assert_int_equal(log_count(f, "print.status", "state=printed"), 1);

	/* a suspended station takes no jobs */
	assert_int_equal(svc_device_set_status(&f->g, &svc_caller_cli, "st-1", SMILE_DEV_SUSPENDED,
					       NULL, &e),
			 SMILE_OK);
	assert_int_equal(print1(f, &ziyun, w1, "st-1", 1, &again, &e), SMILE_ERR_CONFLICT);
	assert_string_equal(e.field, "station");
	smile_store_print_job_release(&row);
	smile_device_keys_wipe(&st);
	smile_device_keys_wipe(&van);
}

/* ------------------------------------------------------------ webhooks */

static int count_webhooks(void *ctx, const struct smile_store_webhook *w)
{
	(void)w;
	(*(int *)ctx)++;
	return 0;
}

/* Endpoints follow the shipment access rule; registration checks the URL
 * under the address rule; the secret is handed out once and sealed at
 * rest; every change is logged once, by the service. */
static void webhooks_belong_to_their_merchant(void **state)
{
	struct fixture *f = *state;
	struct svc_caller z = svc_caller_api(&f->ziyun), ac = svc_caller_api(&f->acme),
			  w = svc_caller_api(&f->wh), a = svc_caller_api(&f->admin);
	struct smile_store_webhook wh, got, stored;
	struct smile_error e = {0};
	char secret[WEBHOOK_SECRET_MAX];
	int n = 0;

	snprintf(f->g.cfg.webhook_allow_private, sizeof(f->g.cfg.webhook_allow_private),
		 "127.0.0.0/8");
	assert_int_equal(svc_webhook_create(&f->g, &z, NULL, "https://127.0.0.1:9/h", "*", &wh,
					    secret, &e),
			 SMILE_OK);
	assert_string_equal(wh.merchant, "ziyun");
	assert_int_equal(log_count(f, "webhook.created", wh.id), 1);
	/* sealed at rest: the store never holds the secret as given */
	assert_int_equal(smile_store_get_webhook(f->g.store, wh.id, &stored), SMILE_OK);
	assert_null(strstr(stored.secret, secret));
	char opened[WEBHOOK_SECRET_MAX];
	assert_int_equal(webhook_secret_open(f->g.keys, wh.id, stored.secret, opened), SMILE_OK);
	assert_string_equal(opened, secret);

	/* who sees it */
	assert_int_equal(svc_webhook_get(&f->g, &z, wh.id, &got, &e), SMILE_OK);
	assert_int_equal(svc_webhook_get(&f->g, &w, wh.id, &got, &e), SMILE_OK);
	assert_int_equal(svc_webhook_get(&f->g, &a, wh.id, &got, &e), SMILE_OK);
	assert_int_equal(svc_webhook_get(&f->g, &ac, wh.id, &got, &e), SMILE_ERR_NOT_FOUND);
	assert_string_equal(e.message, "no such webhook");
	assert_int_equal(svc_webhook_set_active(&f->g, &ac, wh.id, 0, &e), SMILE_ERR_NOT_FOUND);
	assert_int_equal(svc_webhook_delete(&f->g, &ac, wh.id, &e), SMILE_ERR_NOT_FOUND);
	assert_int_equal(svc_webhook_redeliver(&f->g, &ac, wh.id, 1, &e), SMILE_ERR_NOT_FOUND);
	assert_int_equal(svc_webhook_list(&f->g, &ac, count_webhooks, &n, &e), SMILE_OK);
	assert_int_equal(n, 0);
	assert_int_equal(svc_webhook_list(&f->g, &w, count_webhooks, &n, &e), SMILE_OK);
	assert_int_equal(n, 1);

	/* who registers for whom */
	assert_int_equal(svc_webhook_create(&f->g, &z, "acme", "https://127.0.0.1:9/h", "*", &wh,
					    secret, &e),
			 SMILE_ERR_PERMISSION);
	assert_int_equal(svc_webhook_create(&f->g, &a, NULL, "https://127.0.0.1:9/h", "*", &wh,
					    secret, &e),
			 SMILE_ERR_MISSING_FIELD);
	assert_string_equal(e.field, "merchant");
	assert_int_equal(svc_webhook_create(&f->g, &w, "acme", "https://127.0.0.1:9/h", "*", &wh,
					    secret, &e),
			 SMILE_ERR_PERMISSION);
	assert_int_equal(svc_webhook_create(&f->g, &w, "ziyun", "https://127.0.0.1:9/h",
					    "delivered", &wh, secret, &e),
			 SMILE_OK);

	/* the address rule and the filter */
	assert_int_equal(svc_webhook_create(&f->g, &z, NULL, "https://10.0.0.1/h", "*", &wh,
					    secret, &e),
			 SMILE_ERR_FIELD_VALUE);
	assert_string_equal(e.field, "url");
	assert_string_equal(secret, ""); /* nothing handed out on failure */
	assert_int_equal(svc_webhook_create(&f->g, &z, NULL, "http://127.0.0.1:9/h", "*", &wh,
					    secret, &e),
			 SMILE_ERR_FIELD_VALUE); /* webhook_allow_http is off */
	assert_int_equal(svc_webhook_create(&f->g, &z, NULL, "https://127.0.0.1:9/h", "moved",
					    &wh, secret, &e),
			 SMILE_ERR_FIELD_VALUE);
	assert_string_equal(e.field, "events");
	snprintf(f->g.cfg.webhook_allow_private, sizeof(f->g.cfg.webhook_allow_private), "false");
	assert_int_equal(svc_webhook_create(&f->g, &z, NULL, "https://127.0.0.1:9/h", "*", &wh,
					    secret, &e),
			 SMILE_ERR_FIELD_VALUE);
	assert_int_equal(log_count(f, "webhook.created", NULL), 2);
}

/* ------------------------------------------------------------ console */

static int count_page(void *ctx, const struct smile_store_shipment *row)
{
	(void)row;
	(*(int *)ctx)++;
	return 0;
}

static void console_sessions_through_the_service(void **state)
{
	struct fixture *f = *state;
	char secret[APIKEY_STRING_MAX], id[SMILE_STORE_ID_MAX], cookie[SVC_SESSION_COOKIE_MAX],
		cookie2[SVC_SESSION_COOKIE_MAX], wb[SMILE_STORE_WAYBILL_MAX], n[32];
	struct smile_store_session s, got;
	struct smile_store_apikey k, kk;
	struct smile_error e = {0};
	struct svc_caller z = svc_caller_api(&f->ziyun), ac = svc_caller_api(&f->acme),
			  w = svc_caller_api(&f->wh), a = svc_caller_api(&f->admin);
	int64_t t0 = 1764400000000LL, idle = f->g.cfg.console_session_idle_s * 1000;
	int rows;

	assert_int_equal(apikey_create(f->g.store, SMILE_ROLE_MERCHANT, "ziyun", NULL, 0, secret, id,
				       &e),
			 SMILE_OK);
	/* a wrong key: refused, nothing stored, no log line */
	assert_int_equal(svc_session_create(&f->g, "smk_nope", t0, cookie, &s, &k, &e),
			 SMILE_ERR_PERMISSION);
	assert_string_equal(e.field, "api_key");
	query(f, "SELECT count(*) FROM console_sessions", n, sizeof(n));
	assert_string_equal(n, "0");
	assert_int_equal(log_count(f, "console.signin", NULL), 0);

	assert_int_equal(svc_session_create(&f->g, secret, t0, cookie, &s, &k, &e), SMILE_OK);
	assert_int_equal(strlen(cookie), SVC_SESSION_COOKIE_LEN);
	assert_int_equal(strlen(s.csrf), 43);
	assert_string_equal(k.merchant, "ziyun");
	assert_int_equal(s.expires_ms, t0 + f->g.cfg.console_session_max_s * 1000);
	assert_int_equal(log_count(f, "console.signin", id), 1);
	/* one row, keyed by the cookie's hash (the cookie itself is not stored) */
	query(f, "SELECT count(*) FROM console_sessions", n, sizeof(n));
	assert_string_equal(n, "1");
	assert_int_equal(smile_store_get_session(f->g.store, s.hash, &got), SMILE_OK);
	assert_int_equal(crypto_generichash(s.hash, 32, (const unsigned char *)cookie,
					    strlen(cookie), NULL, 0), 0);
	assert_memory_equal(s.hash, got.hash, 32);

	/* live: the key comes back; a use refreshes last_ms */
	assert_int_equal(svc_session_check(&f->g, cookie, t0 + idle - 1, &got, &kk, &e), SMILE_OK);
	assert_string_equal(kk.id, id);
	assert_string_equal(got.csrf, s.csrf);
	assert_int_equal(got.last_ms, t0 + idle - 1);
	assert_int_equal(svc_session_check(&f->g, cookie, t0 + 2 * idle - 2, &got, &kk, &e),
			 SMILE_OK);
	/* idle too long: refused and gone */
	assert_int_equal(svc_session_check(&f->g, cookie, t0 + 4 * idle, &got, &kk, &e),
			 SMILE_ERR_PERMISSION);
	assert_non_null(strstr(e.message, "idle"));
	assert_int_equal(svc_session_check(&f->g, cookie, t0 + 2 * idle, &got, &kk, &e),
			 SMILE_ERR_PERMISSION);
	assert_non_null(strstr(e.message, "no such session"));
	/* a malformed cookie */
	assert_int_equal(svc_session_check(&f->g, "short", t0, &got, &kk, &e), SMILE_ERR_PERMISSION);

	/* past the absolute end, however busy */
	assert_int_equal(svc_session_create(&f->g, secret, t0, cookie, &s, &k, &e), SMILE_OK);
	for (int64_t t = t0; t < s.expires_ms; t += idle / 2)
		assert_int_equal(svc_session_check(&f->g, cookie, t, &got, &kk, &e), SMILE_OK);
	assert_int_equal(svc_session_check(&f->g, cookie, s.expires_ms, &got, &kk, &e),
			 SMILE_ERR_PERMISSION);
	assert_non_null(strstr(e.message, "expired"));

	/* sign-out */
	assert_int_equal(svc_session_create(&f->g, secret, t0, cookie, &s, &k, &e), SMILE_OK);
	assert_int_equal(svc_session_delete(&f->g, &z, s.hash, &e), SMILE_OK);
	assert_int_equal(log_count(f, "console.signout", NULL), 1);
	assert_int_equal(svc_session_check(&f->g, cookie, t0, &got, &kk, &e), SMILE_ERR_PERMISSION);
	assert_int_equal(svc_session_delete(&f->g, &z, s.hash, &e), SMILE_ERR_NOT_FOUND);

	/* the purge: an idle one goes, a fresh one stays */
	assert_int_equal(svc_session_create(&f->g, secret, t0, cookie, &s, &k, &e), SMILE_OK);
	assert_int_equal(svc_session_create(&f->g, secret, t0 + 3 * idle, cookie2, &s, &k, &e),
			 SMILE_OK);
	assert_int_equal(svc_session_purge(&f->g, t0 + 3 * idle), 1);
	assert_int_equal(svc_session_check(&f->g, cookie2, t0 + 3 * idle, &got, &kk, &e), SMILE_OK);

	/* revoking the key ends its sessions */
	assert_int_equal(smile_store_revoke_apikey(f->g.store, id, t0), SMILE_OK);
	assert_int_equal(svc_session_check(&f->g, cookie2, t0 + 3 * idle, &got, &kk, &e),
			 SMILE_ERR_PERMISSION);
	assert_non_null(strstr(e.message, "revoked"));
	assert_int_equal(svc_session_create(&f->g, secret, t0, cookie, &s, &k, &e),
			 SMILE_ERR_PERMISSION);
	query(f, "SELECT count(*) FROM console_sessions", n, sizeof(n));
	assert_string_equal(n, "0");

	/* the list follows the access rule */
	assert_int_equal(issue(f, &z, NULL, wb), SMILE_OK);
	assert_int_equal(issue(f, &z, NULL, wb), SMILE_OK);
	assert_int_equal(issue(f, &ac, NULL, wb), SMILE_OK);
	const struct svc_caller *who[] = {&z, &ac, &w, &a};
	const int sees[] = {2, 1, 2, 3};
	for (size_t i = 0; i < 4; i++) {
		rows = 0;
		assert_int_equal(svc_shipment_page(&f->g, who[i], -1, NULL, 0, 10, count_page, &rows,
						   &e),
				 SMILE_OK);
		assert_int_equal(rows, sees[i]);
	}
	struct smile_store_apikey lonely;
	key(&lonely, "k-lonely", SMILE_ROLE_WAREHOUSE, NULL);
	struct svc_caller l = svc_caller_api(&lonely);
	rows = 0;
	assert_int_equal(svc_shipment_page(&f->g, &l, -1, NULL, 0, 10, count_page, &rows, &e),
			 SMILE_OK);
	assert_int_equal(rows, 0); /* bound to nobody: sees nothing, not everything */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(may_access_by_role, setup, teardown),
		cmocka_unit_test_setup_teardown(role_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(shipments_of_others_are_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(issuance_logs_once, setup, teardown),
		cmocka_unit_test_setup_teardown(batch_issuance, setup, teardown),
		cmocka_unit_test_setup_teardown(device_change_same_from_every_door, setup, teardown),
		cmocka_unit_test_setup_teardown(revoked_is_final, setup, teardown),
		cmocka_unit_test_setup_teardown(print_jobs_through_the_service, setup, teardown),
		cmocka_unit_test_setup_teardown(webhooks_belong_to_their_merchant, setup, teardown),
		cmocka_unit_test_setup_teardown(console_sessions_through_the_service, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
