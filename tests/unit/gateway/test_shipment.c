/* The shipment request: shape validation and what stays in clear. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smile/label.h"

#include "../../../gateway/shipment.h"

static const char good[] =
	"{\"recipient\":{\"name\":\"张三明\",\"phone\":\"13812345678\",\"address\":{"
	"\"country\":\"CN\",\"province\":\"湖北省\",\"city\":\"武汉市\",\"district\":\"江汉区\","
	"\"street\":\"建设大道568号\",\"detail\":\"3栋2单元1502室\"}},"
	"\"sender\":{\"name\":\"王二\",\"phone\":\"027-85699449\",\"address\":{\"city\":\"武汉市\","
	"\"street\":\"中山大道1号\"}},\"weight_g\":500}";

static void parses_and_defaults(void **state)
{
	struct shipment_req req;
	struct smile_error e = {0};
	json_t *j = json_loads(good, 0, NULL);
	(void)state;
	assert_non_null(j);
	assert_int_equal(shipment_parse(j, &req, &e), SMILE_OK);
	assert_string_equal(req.service, "STANDARD");
	assert_int_equal(req.parcels, 1);
	assert_string_equal(req.note, "");
	json_decref(j);
}

static void errors_name_the_field(void **state)
{
	static const struct {
		const char *patch_key, *patch_json, *field;
		enum smile_err code;
	} cases[] = {
		{"weight_g", "\"heavy\"", "weight_g", SMILE_ERR_FIELD_TYPE},
		{"weight_g", "0", "weight_g", SMILE_ERR_FIELD_VALUE},
		{"parcels", "100", "parcels", SMILE_ERR_FIELD_VALUE},
		{"service", "\"TELEPORT\"", "service", SMILE_ERR_FIELD_VALUE},
		{"merchant", "\"a/b\"", "merchant", SMILE_ERR_FIELD_VALUE},
		{"merchant_ref", "\"order 1\"", "merchant_ref", SMILE_ERR_FIELD_VALUE},
		{"note", "\"call 138123456\"", "note", SMILE_ERR_FIELD_VALUE},
		{"recipient", "[]", "recipient", SMILE_ERR_FIELD_TYPE},
		{"sender", "null", "sender", SMILE_ERR_MISSING_FIELD},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct shipment_req req;
		struct smile_error e = {0};
		json_t *j = json_loads(good, 0, NULL);
		json_object_set_new(j, cases[i].patch_key, json_loads(cases[i].patch_json,
								      JSON_DECODE_ANY, NULL));
		assert_int_equal(shipment_parse(j, &req, &e), cases[i].code);
		assert_string_equal(e.field, cases[i].field);
		json_decref(j);
	}
	/* nested fields carry their path */
	struct shipment_req req;
	struct smile_error e = {0};
	json_t *j = json_loads(good, 0, NULL);
	json_object_del(json_object_get(json_object_get(j, "recipient"), "address"), "street");
	assert_int_equal(shipment_parse(j, &req, &e), SMILE_ERR_MISSING_FIELD);
	assert_string_equal(e.field, "recipient.address.street");
	json_decref(j);
}

static void region_keeps_no_more_than_the_label(void **state)
{
	struct smile_address a = {"CN", "湖北省", "武汉市", "江汉区", "建设大道568号", "1502室"};
	char out[256];
	(void)state;
	shipment_region(SMILE_MASK_CN_GBT41833, &a, out, sizeof(out));
	assert_string_equal(out, "CN/湖北省/武汉市/江汉区");
	shipment_region(SMILE_MASK_STRICT, &a, out, sizeof(out));
	assert_string_equal(out, "CN/湖北省/武汉市"); /* strict labels stop at the city */
}

/*
 * What issue_prepare does with a request, up to the label library: `good`
 * with the members of the JSON object `patch` set in the object at `path`
 * ("" for the top level, else e.g. "recipient.address"), parsed and both
 * parties masked under `p`. Returns what the gateway says (e says why). When it
 * accepts, the label record it builds must pass the label library's checks,
 * or the test fails.
 */
static enum smile_err issue(const char *path, const char *patch, enum smile_mask_policy p,
			    struct smile_error *e)
{
	struct shipment_req req;
	struct shipment_masked rm, sm;
	struct smile_label_record *rec = NULL;
	char sort[16], seg[32], *text = NULL;
	json_t *j = json_loads(good, 0, NULL), *obj = j, *record = NULL;
	enum smile_err rc;

	while (*path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);

		snprintf(seg, sizeof(seg), "%.*s", (int)n, path);
		obj = json_object_get(obj, seg);
		path += n + (dot != NULL);
	}
	assert_non_null(obj);
	assert_int_equal(json_object_update(obj, json_loads(patch, 0, NULL)), 0);
	if ((rc = shipment_parse(j, &req, e)) ||
	    (rc = shipment_mask(p, &req.recipient, "recipient", &rm, e)) ||
	    (rc = shipment_mask(p, &req.sender, "sender", &sm, e)))
		goto out;
	shipment_sort_code(&req.recipient.addr, sort);
	record = shipment_label_record(&req, &rm, &sm, "ziyun", "SW2611290000017",
				       "SW1:W50O58/G8HS8 *8A69TH93T9M+9-6AFIAYTA8-A0/Q.U0CIQ%DFZ/"
				       "H4FW$.27JTI0H.VNELSMFE90",
				       sort, "2026-11-29", 1);
	assert_non_null(record);
	text = json_dumps(record, JSON_COMPACT);
	assert_non_null(text);
	if (smile_label_record_parse(text, strlen(text), &rec, e) != SMILE_OK)
		fail_msg("issued (%s, policy %d) a label record the label library refuses: "
			 "%s: %s", patch, (int)p, e->field, e->message);
	smile_label_record_free(rec);
out:
	free(text);
	json_decref(record);
	json_decref(j);
	return rc;
}

/*
 * The gateway must never issue a shipment whose label the label library
 * refuses to print: what passes shipment_parse and shipment_mask prints, and
 * what would not print is refused at the request, naming the field. Each
 * row was a request the gateway accepted and then could not print, found by
 * tests/fuzz/fuzz_shipment (inputs in tests/fuzz/corpus/fuzz_shipment/crash-*).
 */
static void what_is_issued_prints(void **state)
{
	static const struct {
		const char *path, *patch;
		enum smile_err code; /* SMILE_OK: issued, and the label prints */
		const char *field;
		int only; /* -1, or the one policy the expectation is for */
	} cases[] = {
		/* note: the label library's characters and digit runs */
		{"", "{\"note\":\"(\\u0085)\"}", SMILE_ERR_FIELD_VALUE, "note", -1}, /* C1 control */
		{"", "{\"note\":\"a\\u202eb\"}", SMILE_ERR_FIELD_VALUE, "note", -1}, /* bidi override */
		{"", "{\"note\":\"a\\u2028b\"}", SMILE_ERR_FIELD_VALUE, "note", -1},
		{"", "{\"note\":\"call 12345 678\"}", SMILE_ERR_FIELD_VALUE, "note", -1},
		{"", "{\"note\":\"1234-56\"}", SMILE_ERR_FIELD_VALUE, "note", -1},
		{"", "{\"note\":\"１２３４５６\"}", SMILE_ERR_FIELD_VALUE, "note", -1},
		{"", "{\"note\":\"gate 12345, door 678\"}", SMILE_OK, NULL, -1},
		{"", "{\"note\":\"请于１８:００前送达\"}", SMILE_OK, NULL, -1},
		/* address: parts joined on the region line make one run of digits */
		{"sender.address", "{\"city\":\"深圳市+44\",\"district\":\"430000 南山区\"}",
		 SMILE_ERR_FIELD_VALUE, "sender.address", SMILE_MASK_CN_GBT41833},
		{"recipient.address", "{\"province\":\"广东省1234\",\"city\":\"5678深圳市\"}",
		 SMILE_ERR_FIELD_VALUE, "recipient.address", -1},
		{"recipient.address", "{\"province\":\"1234\",\"city\":\"1234\",\"district\":\"5678\"}",
		 SMILE_ERR_FIELD_VALUE, "recipient.address", SMILE_MASK_CN_GBT41833}, /* city dropped */
		{"recipient.address", "{\"province\":\"1234\",\"district\":\"5678\"}", SMILE_OK, NULL,
		 -1}, /* the city stands between them */
		{"recipient.address", "{\"city\":\"武汉市 1234-5678\"}", SMILE_ERR_FIELD_VALUE,
		 "recipient.address.city", -1},
		/* name: an initial shown with its combining marks (U+0301 x 29 each) */
		{"sender", "{\"name\":\"E\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301"
		 "\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301"
		 "\u0301\u0301\u0301\u0301\u0301\u0301x Z\u0301\u0301\u0301\u0301\u0301\u0301\u0301"
		 "\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301"
		 "\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301y\"}",
		 SMILE_ERR_FIELD_VALUE, "sender.name", SMILE_MASK_CN_GBT41833},
		{"sender", "{\"name\":\"E\u0301\u0301 Z\u0301\u0301y\"}", SMILE_OK, NULL, -1},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int p = SMILE_MASK_CN_GBT41833; p <= SMILE_MASK_STRICT; p++) {
			struct smile_error e = {0};
			enum smile_err rc =
				issue(cases[i].path, cases[i].patch, (enum smile_mask_policy)p, &e);

			if (cases[i].only >= 0 && cases[i].only != p)
				continue; /* issue() still checked that what it took prints */
			if (rc != cases[i].code || (cases[i].field && strcmp(e.field, cases[i].field)))
				fail_msg("case %zu (%s), policy %d: got %d %s: %s, want %d %s", i,
					 cases[i].patch, p, rc, e.field, e.message, cases[i].code,
					 cases[i].field ? cases[i].field : "");
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_and_defaults),
		cmocka_unit_test(errors_name_the_field),
		cmocka_unit_test(region_keeps_no_more_than_the_label),
		cmocka_unit_test(what_is_issued_prints),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
