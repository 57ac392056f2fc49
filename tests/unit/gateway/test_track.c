/* SPDX-License-Identifier: Apache-2.0 */
/* The tracking page's pieces (track.c) and rules (svc_track.c) on an
 * in-memory gateway (memgw.h): the last digits of a phone, the keyed hash,
 * the coarse status, city-level places; a right answer, a wrong one, an
 * unknown waybill answering exactly like a wrong one, the throttle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>
#include <sodium.h>

#include "../../../gateway/svc.h"
#include "../../../gateway/track.h"
#include "../../../gateway/waybill.h"
#include "memgw.h"

struct fixture {
	char dir[64];
	char memdb[64];
	struct gateway g;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (f == NULL || sodium_init() < 0)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/smile-track-XXXXXX");
	if (mkdtemp(f->dir) == NULL || memgw_open(&f->g, f->dir, "track", f->memdb) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[160];
	gateway_close(&f->g);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void last_digits(void **state)
{
	char d[TRACK_DIGITS + 1];
	(void)state;
	assert_int_equal(track_last_digits("+86 138-0013-8000", d), 0);
	assert_string_equal(d, "8000");
	assert_int_equal(track_last_digits("027-85699449", d), 0);
	assert_string_equal(d, "9449");
	assert_int_equal(track_last_digits("1-2-3", d), -1);
	assert_string_equal(d, "");
	assert_int_equal(track_last_digits(NULL, d), -1);
	assert_true(track_digits_valid("0123"));
	assert_false(track_digits_valid("123"));
	assert_false(track_digits_valid("12345"));
	assert_false(track_digits_valid("12a4"));
	assert_false(track_digits_valid("١٢٣٤")); /* Arabic-Indic digits are not 0-9 */
	assert_false(track_digits_valid(NULL));
}

static void places_are_city_level(void **state)
{
	char p[TRACK_PLACE_MAX];
	(void)state;
	track_place("CN/湖北省/武汉市/江汉区", p, sizeof(p));
	assert_string_equal(p, "湖北省 武汉市");
	track_place("CN/上海市/上海市/浦东新区/张江", p, sizeof(p));
	assert_string_equal(p, "上海市");
	track_place("CN/湖北省", p, sizeof(p));
	assert_string_equal(p, "湖北省");
	track_place("CN/湖北省/", p, sizeof(p));
	assert_string_equal(p, "湖北省");
	track_place("CN", p, sizeof(p));
	assert_string_equal(p, "");
	track_place("", p, sizeof(p));
	assert_string_equal(p, "");
	track_place(NULL, p, sizeof(p));
	assert_string_equal(p, "");
}

static void coarse_statuses(void **state)
{
	(void)state;
	assert_string_equal(track_coarse_status(SMILE_SHIPMENT_CREATED), "issued");
	assert_string_equal(track_coarse_status(SMILE_SHIPMENT_PICKUP), "in_transit");
	assert_string_equal(track_coarse_status(SMILE_SHIPMENT_HUB_IN), "in_transit");
	assert_string_equal(track_coarse_status(SMILE_SHIPMENT_HUB_OUT), "in_transit");
	assert_string_equal(track_coarse_status(SMILE_SHIPMENT_OUT_FOR_DELIVERY), "out_for_delivery");
	assert_string_equal(track_coarse_status(SMILE_SHIPMENT_DELIVERY_FAILED), "exception");
	assert_string_equal(track_coarse_status(SMILE_SHIPMENT_DELIVERED), "delivered");
	assert_string_equal(track_coarse_status(SMILE_SHIPMENT_RETURNED), "returned");
}

/* Keyed: another gateway's keys give another hash; bound to the waybill. */
static void hash_is_keyed_and_bound(void **state)
{
	struct fixture *f = *state;
	struct fixture *other = NULL;
	uint8_t a[32], b[32], c[32], d[32], plain[32];

	track_digits_hash(f->g.keys, "SW2612060000001XX", "5678", a);
	track_digits_hash(f->g.keys, "SW2612060000001XX", "5678", b);
	assert_memory_equal(a, b, 32);
	assert_true(track_hash_equal(a, b));
	track_digits_hash(f->g.keys, "SW2612060000002XX", "5678", c);
	assert_memory_not_equal(a, c, 32);
	track_digits_hash(f->g.keys, "SW2612060000001XX", "5679", c);
	assert_false(track_hash_equal(a, c));
	/* not the unkeyed hash of the same bytes */
	crypto_generichash(plain, 32, (const unsigned char *)"SW2612060000001XX\0" "5678", 22, NULL, 0);
	assert_memory_not_equal(a, plain, 32);
	assert_int_equal(setup((void **)&other), 0);
	track_digits_hash(other->g.keys, "SW2612060000001XX", "5678", d);
	assert_memory_not_equal(a, d, 32);
	assert_int_equal(teardown((void **)&other), 0);
}

static void issue(struct fixture *f, char waybill[SMILE_STORE_WAYBILL_MAX])
{
	struct svc_answer ans;
	struct smile_error e = {0};
	int reused = 0;
	json_t *obj = json_loads(
		"{\"merchant\":\"ziyun\",\"recipient\":{\"name\":\"张三明\",\"phone\":\"13812345678\","
		"\"address\":{\"country\":\"CN\",\"province\":\"湖北省\",\"city\":\"武汉市\","
		"\"district\":\"江汉区\",\"street\":\"建设大道568号\",\"detail\":\"3栋\"}},"
		"\"sender\":{\"name\":\"王小二\",\"phone\":\"027-85699449\",\"address\":{\"country\":"
		"\"CN\",\"province\":\"湖北省\",\"city\":\"武汉市\",\"street\":\"泛海\",\"detail\":"
		"\"7栋\"}},\"weight_g\":800}",
		0, NULL);
	assert_non_null(obj);
	assert_int_equal(svc_issue(&f->g, &svc_caller_cli, obj, NULL, &ans, &reused, &e), SMILE_OK);
	snprintf(waybill, SMILE_STORE_WAYBILL_MAX, "%s", ans.waybill);
	svc_answer_release(&ans);
	json_decref(obj);
}

static enum smile_err verify(struct fixture *f, const char *wb, const char *digits,
			     const char *client, json_t **out, struct smile_error *e)
{
	long retry = 0;
	memset(e, 0, sizeof(*e));
	return svc_track_verify(&f->g, wb, digits, client, out, &retry, e);
}

static void right_wrong_and_unknown(void **state)
{
	struct fixture *f = *state;
	char wb[SMILE_STORE_WAYBILL_MAX], unknown[SMILE_STORE_WAYBILL_MAX];
	struct smile_error e1, e2, e = {0};
	json_t *out = NULL;
	long retry = 0;

	issue(f, wb);
	/* a wrong guess at the number before it was issued: nobody's attempt
	 * at this parcel, left out of its access log */
	const struct smile_audit_entry early = {"track.wrong_digits", wb, "public", "unknown"};
	assert_int_equal(smile_store_audit(f->g.store, &early, 1, 1000), SMILE_OK);
	assert_int_equal(verify(f, wb, "5678", "10.0.0.1", &out, &e1), SMILE_OK);
	assert_string_equal(json_string_value(json_object_get(out, "status")), "issued");
	assert_int_equal(json_array_size(json_object_get(out, "timeline")), 1);
	assert_int_equal(json_array_size(json_object_get(out, "access")), 0);
	json_decref(out);

	assert_int_equal(verify(f, wb, "5679", "10.0.0.1", &out, &e1), SMILE_ERR_DENIED);
	assert_null(out);
	assert_int_equal(smile_waybill_format("SW", 260101, 4242, unknown, &e), SMILE_OK);
	assert_int_equal(verify(f, unknown, "5678", "10.0.0.1", &out, &e2), SMILE_ERR_DENIED);
	/* the very same error, field and message */
	assert_string_equal(e1.field, e2.field);
	assert_string_equal(e1.message, e2.message);

	assert_int_equal(verify(f, wb, "567", "10.0.0.1", &out, &e1), SMILE_ERR_FIELD_VALUE);
	assert_string_equal(e1.field, "phone_last4");
	assert_int_equal(verify(f, "SW12", "5678", "10.0.0.1", &out, &e1), SMILE_ERR_FIELD_VALUE);
	assert_string_equal(e1.field, "waybill");

	/* coarse: an unknown waybill has the same members */
	assert_int_equal(svc_track_coarse(&f->g, unknown, "10.0.0.1", &out, &retry, &e), SMILE_OK);
	assert_string_equal(json_string_value(json_object_get(out, "status")), "unknown");
	assert_int_equal(json_object_size(out), 4);
	assert_true(json_is_null(json_object_get(out, "first_seen")));
	json_decref(out);
	assert_int_equal(svc_track_coarse(&f->g, wb, "10.0.0.1", &out, &retry, &e), SMILE_OK);
	assert_int_equal(json_object_size(out), 4);
	assert_true(json_is_string(json_object_get(out, "first_seen")));
	json_decref(out);
}

struct details {
	char text[256];
};

static int collect_details(void *ctx, const struct smile_audit_entry *a, int64_t time_ms)
{
	struct details *d = ctx;
	size_t n = strlen(d->text);
	(void)time_ms;
	snprintf(d->text + n, sizeof(d->text) - n, "%s%s:%s", n ? "," : "", a->kind, a->detail);
	return 0;
}

/* A shipment stored without a hash (as every shipment issued before schema
 * 8 is): the right digits are "not matched", like a wrong guess. */
static void no_hash_answers_as_wrong(void **state)
{
	struct fixture *f = *state;
	struct smile_store_shipment r;
	struct smile_store_personal p = {.wrapped_len = 8};
	struct smile_error e = {0}, e1, e2;
	struct details d = {{0}};
	uint8_t ct[8] = {0};
	json_t *out = NULL;
	char wb[SMILE_STORE_WAYBILL_MAX];

	memset(&r, 0, sizeof(r));
	assert_int_equal(smile_store_next_id(f->g.store, &r.id), SMILE_OK);
	assert_int_equal(smile_waybill_format("SW", 260101, r.id, wb, &e), SMILE_OK);
	snprintf(r.waybill, sizeof(r.waybill), "%s", wb);
	snprintf(r.merchant, sizeof(r.merchant), "ziyun");
	r.created_ms = 1;
	r.public_json = (char *)"{}";
	r.device_view = (char *)"{}";
	p.ct = ct;
	p.ct_len = sizeof(ct);
	struct smile_store_new_shipment item = {&r, &p, NULL, SMILE_OK, NULL};
	assert_int_equal(smile_store_insert_shipments(f->g.store, &item, 1, 0), SMILE_OK);

	assert_int_equal(verify(f, wb, "5678", "10.0.3.1", &out, &e1), SMILE_ERR_DENIED);
	assert_int_equal(verify(f, wb, "0000", "10.0.3.1", &out, &e2), SMILE_ERR_DENIED);
	assert_string_equal(e1.message, e2.message);
	assert_null(out);
	assert_int_equal(smile_store_audit_subject(f->g.store, wb, 10, collect_details, &d), SMILE_OK);
	assert_string_equal(d.text, "track.wrong_digits:no_hash,track.wrong_digits:no_hash");
}

static void throttled_per_waybill_and_address(void **state)
{
	struct fixture *f = *state;
	char wb[SMILE_STORE_WAYBILL_MAX], c[32];
	struct smile_error e;
	json_t *out = NULL;
	long retry = 0;

	f->g.cfg.track_checks_per_waybill = 3;
	f->g.cfg.track_checks_per_address = 4;
	issue(f, wb);
	for (int i = 0; i < 3; i++) {
		snprintf(c, sizeof(c), "10.0.1.%d", i);
		assert_int_equal(verify(f, wb, "0000", c, &out, &e), SMILE_ERR_DENIED);
	}
	assert_int_equal(svc_track_verify(&f->g, wb, "5678", "10.0.1.9", &out, &retry, &e),
			 SMILE_ERR_QUOTA);
	assert_int_equal(retry, f->g.cfg.track_window_s);
	assert_null(out);
	/* per address, across waybills */
	for (int i = 0; i < 4; i++) {
		char other[SMILE_STORE_WAYBILL_MAX];
		struct smile_error fe = {0};
		assert_int_equal(smile_waybill_format("SW", 260101, 100 + (uint64_t)i, other, &fe),
				 SMILE_OK);
		assert_int_equal(verify(f, other, "0000", "10.0.2.1", &out, &e), SMILE_ERR_DENIED);
	}
	assert_int_equal(verify(f, wb, "5678", "10.0.2.1", &out, &e), SMILE_ERR_QUOTA);
}

static void trusted_proxies_are_addresses(void **state)
{
	struct smile_config c;
	struct smile_error e = {0};
	const char ok_text[] = "track_trusted_proxies = 10.0.0.1, ::1,192.168.1.2\n";
	const char bad_text[] = "track_trusted_proxies = 10.0.0.1, 10.0.0.300\n";
	(void)state;
	smile_config_defaults(&c);
	assert_string_equal(c.track_trusted_proxies, "");
	assert_int_equal(c.track_checks_per_waybill, 10);
	assert_int_equal(smile_config_parse(&c, ok_text, sizeof(ok_text) - 1, &e), SMILE_OK);
	assert_string_equal(c.track_trusted_proxies, "10.0.0.1, ::1,192.168.1.2");
	assert_int_equal(smile_config_parse(&c, bad_text, sizeof(bad_text) - 1, &e), SMILE_ERR_CONFIG);
	assert_string_equal(e.field, "track_trusted_proxies");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(last_digits),
		cmocka_unit_test(places_are_city_level),
		cmocka_unit_test(coarse_statuses),
		cmocka_unit_test(trusted_proxies_are_addresses),
		cmocka_unit_test_setup_teardown(hash_is_keyed_and_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(right_wrong_and_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(throttled_per_waybill_and_address, setup, teardown),
		cmocka_unit_test_setup_teardown(no_hash_answers_as_wrong, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
