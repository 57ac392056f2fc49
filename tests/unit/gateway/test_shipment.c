/* SPDX-License-Identifier: Apache-2.0 */
/* The shipment request: shape validation and what stays in clear. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smile/label.h"
#include "smile/unicode.h"
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
	/* a merchant name may hold digits, just not a phone number's worth */
	j = json_loads(good, 0, NULL);
	json_object_set_new(j, "merchant", json_string("shop-2024.11"));
	assert_int_equal(shipment_parse(j, &req, &e), SMILE_OK);
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
		/* printed on the label, which refuses a phone-like run */
		{"merchant", "\"shop-138.1234.5678\"", "merchant", SMILE_ERR_FIELD_VALUE},
		{"merchant_ref", "\"order 1\"", "merchant_ref", SMILE_ERR_FIELD_VALUE},
		{"note", "\"call 138123456\"", "note", SMILE_ERR_FIELD_VALUE},
		/* any digits, any separators (issue 11) */
		{"note", "\"call 138.1234.5678\"", "note", SMILE_ERR_FIELD_VALUE},
		{"note", "\"电话 ①③⑧①②③④⑤⑥⑦⑧\"", "note", SMILE_ERR_FIELD_VALUE},
		{"note", "\"电话一三八一二三四五六七八\"", "note", SMILE_ERR_FIELD_VALUE},
		{"note", "\"\\u202Efragile\"", "note", SMILE_ERR_FIELD_VALUE},
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

/* docs/protocol.md 5.3: the contact details, the address in one line. */
static void contact_json_follows_the_page(void **state)
{
	char out[1024];
	size_t n;
	json_t *r;
	(void)state;

	/* the recipient of the page's vectors (13.1) gives the page's bytes */
	r = json_loads("{\"name\":\"张三明\",\"phone\":\"13812345678\",\"address\":{\"country\":\"CN\","
		       "\"province\":\"上海市\",\"city\":\"上海市\",\"district\":\"浦东新区\","
		       "\"street\":\"世纪大道100号\",\"detail\":\"12楼 1203室\"}}",
		       0, NULL);
	assert_non_null(r);
	assert_int_equal(shipment_contact_json(r, out, sizeof(out), &n), SMILE_OK);
	out[n] = '\0';
	assert_string_equal(out, "{\"name\":\"张三明\",\"phone\":\"13812345678\",\"address\":"
				 "\"上海市 浦东新区 世纪大道100号 12楼 1203室\"}");
	json_decref(r);

	/* spaces trimmed, empty parts dropped, a repeat written once, no country */
	r = json_loads("{\"name\":\"Ann\",\"phone\":\"+442079460000\",\"address\":{\"country\":\"GB\","
		       "\"province\":\"\",\"city\":\" London \",\"district\":\"London\","
		       "\"street\":\"Baker Street\",\"detail\":\"  Flat 2, 221B \"}}",
		       0, NULL);
	assert_int_equal(shipment_contact_json(r, out, sizeof(out), &n), SMILE_OK);
	out[n] = '\0';
	assert_string_equal(out, "{\"name\":\"Ann\",\"phone\":\"+442079460000\",\"address\":"
				 "\"London Baker Street Flat 2, 221B\"}");
	/* too small a buffer, or no address, is an error, never half a line */
	assert_int_equal(shipment_contact_json(r, out, 20, &n), SMILE_ERR_TOO_LARGE);
	assert_int_equal(n, 0);
	json_object_del(r, "address");
	assert_int_equal(shipment_contact_json(r, out, sizeof(out), &n), SMILE_ERR_INVALID);
	json_decref(r);
}

/* docs/protocol.md 5.3: name, phone, address at the top of the masked view. */
static void device_view_follows_the_page(void **state)
{
	json_t *rec, *v;
	char *s;
	(void)state;

	rec = json_loads("{\"waybill\":\"SW1\",\"sort_code\":\"A-B\",\"recipient\":{\"name\":\"张**\","
			 "\"phone\":\"138*******8\",\"address\":[\"上海市 浦东新区\",\"世纪大道100号 ****\"]},"
			 "\"parcel\":{\"index\":1,\"count\":2}}",
			 0, NULL);
	assert_non_null(rec);
	s = shipment_device_view(rec);
	assert_non_null(s);
	assert_string_equal(s, "{\"waybill\":\"SW1\",\"sort_code\":\"A-B\",\"name\":\"张**\","
			       "\"phone\":\"138*******8\",\"address\":\"上海市 浦东新区 世纪大道100号 ****\","
			       "\"parcel\":{\"index\":1,\"count\":2}}");
	assert_false(shipment_device_view_is_old(s));
	/* the shape stored before (recipient nested) is recognised as old */
	v = json_pack("{s:O, s:O}", "waybill", json_object_get(rec, "waybill"), "recipient",
		      json_object_get(rec, "recipient"));
	char *old = json_dumps(v, JSON_COMPACT);
	assert_true(shipment_device_view_is_old(old));
	/* ... but a value that merely contains the word is not */
	assert_false(shipment_device_view_is_old("{\"name\":\"\\\"recipient\\\":\"}"));
	free(old);
	free(s);
	json_decref(v);
	json_decref(rec);
}

/* Two gateways' signing keys (64 bytes: seed + public key) and their
 * sort-code keys. */
static void two_keys(uint8_t ka[SHIPMENT_SORT_KEY_BYTES], uint8_t kb[SHIPMENT_SORT_KEY_BYTES])
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	uint8_t seed[crypto_sign_SEEDBYTES];

	memset(seed, 0x11, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	shipment_sort_key(sk, ka);
	memset(seed, 0x22, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	shipment_sort_key(sk, kb);
}

static int sort_code_shape_ok(const char *c)
{
	/* "PPP-CCC-XY": digits, digits, two letters without I and O */
	for (int i = 0; i < 10; i++) {
		char ch = c[i];
		int ok = (i == 3 || i == 7) ? ch == '-'
			 : i < 7	    ? (ch >= '0' && ch <= '9')
					    : (ch >= 'A' && ch <= 'Z' && ch != 'I' && ch != 'O');
		if (!ok)
			return 0;
	}
	return c[10] == '\0';
}

static void sort_code_never_depends_on_the_street(void **state)
{
	static const char *const streets[] = {"建设大道568号", "建设大道570号", "建设大道1号",
					      "解放大道1号", "Baker Street", "", NULL};
	uint8_t ka[SHIPMENT_SORT_KEY_BYTES], kb[SHIPMENT_SORT_KEY_BYTES];
	char first[SHIPMENT_SORT_CODE_MAX], code[SHIPMENT_SORT_CODE_MAX];
	(void)state;

	two_keys(ka, kb);
	for (size_t i = 0; i < sizeof(streets) / sizeof(streets[0]); i++) {
		for (int house = 0; house < 50; house++) {
			char street[64], detail[32];
			struct smile_address a = {"CN", "湖北省", "武汉市", "江汉区", street, detail};

			snprintf(street, sizeof(street), "%s%s%d", streets[i] ? streets[i] : "",
				 house ? " " : "", house);
			if (streets[i] == NULL)
				a.street = NULL;
			snprintf(detail, sizeof(detail), "%d栋%d室", house, 100 + house);
			shipment_sort_code(ka, &a, code);
			if (i == 0 && house == 0)
				memcpy(first, code, sizeof(first));
			assert_string_equal(code, first);
		}
	}
	assert_true(sort_code_shape_ok(first));
	/* the label library refuses a run over 7 digits in any printed text */
	assert_true(smile_unicode_number_run(first, strlen(first)) <= 7);
	/* spaces around a routing part do not change the code */
	struct smile_address sp = {"CN", " 湖北省 ", "武汉市 ", " 江汉区", "x", NULL};
	shipment_sort_code(ka, &sp, code);
	assert_string_equal(code, first);
}

static void sort_code_district_is_keyed_and_stable(void **state)
{
	uint8_t ka[SHIPMENT_SORT_KEY_BYTES], kb[SHIPMENT_SORT_KEY_BYTES], k2[SHIPMENT_SORT_KEY_BYTES];
	struct smile_address a = {"CN", "湖北省", "武汉市", "江汉区", "建设大道568号", NULL};
	char c1[SHIPMENT_SORT_CODE_MAX], c2[SHIPMENT_SORT_CODE_MAX];
	int differ = 0, districts_differ = 0;
	(void)state;

	two_keys(ka, kb);
	/* stable: the same key twice, and the key derived again from the same
	 * signing key (a restarted gateway) */
	shipment_sort_code(ka, &a, c1);
	shipment_sort_code(ka, &a, c2);
	assert_string_equal(c1, c2);
	two_keys(k2, kb);
	assert_memory_equal(k2, ka, sizeof(ka));
	shipment_sort_code(k2, &a, c2);
	assert_string_equal(c1, c2);
	assert_true(sodium_memcmp(ka, kb, sizeof(ka)) != 0);

	/* another gateway's secret: the same district gets another code, while
	 * province and city (printed on the label anyway) keep theirs */
	shipment_sort_code(kb, &a, c2);
	assert_string_not_equal(c1, c2);
	assert_memory_equal(c1, c2, 8);
	for (int i = 0; i < 100; i++) {
		char district[32], p[SHIPMENT_SORT_CODE_MAX], q[SHIPMENT_SORT_CODE_MAX];
		struct smile_address d = {"CN", "湖北省", "武汉市", district, "", NULL};

		snprintf(district, sizeof(district), "第%d区", i);
		shipment_sort_code(ka, &d, p);
		shipment_sort_code(kb, &d, q);
		differ += strcmp(p, q) != 0;
		districts_differ += strcmp(p, c1) != 0;
	}
	assert_true(differ >= 95);           /* 1/576 collide by chance */
	assert_true(districts_differ >= 95); /* the district is in the code */
	/* the key is not the seed it came from */
	uint8_t seed[32];
	memset(seed, 0x11, sizeof(seed));
	assert_true(sodium_memcmp(ka, seed, sizeof(seed)) != 0);
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
	json_t *pj = json_loads(patch, 0, NULL);
	assert_non_null(pj);
	assert_int_equal(json_object_update(obj, pj), 0);
	json_decref(pj);
	if ((rc = shipment_parse(j, &req, e)) ||
	    (rc = shipment_mask(p, &req.recipient, "recipient", &rm, e)) ||
	    (rc = shipment_mask(p, &req.sender, "sender", &sm, e)))
		goto out;
	{
		uint8_t key[SHIPMENT_SORT_KEY_BYTES];
		memset(key, 0x5a, sizeof(key));
		shipment_sort_code(key, &req.recipient.addr, sort);
	}
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
		/* name: an initial keeps at most two combining marks (docs/masking.md),
		 * so even 29 of them on each (U+0301) mask to a printable name */
		{"sender", "{\"name\":\"E\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301"
		 "\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301"
		 "\u0301\u0301\u0301\u0301\u0301\u0301x Z\u0301\u0301\u0301\u0301\u0301\u0301\u0301"
		 "\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301"
		 "\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301y\"}",
		 SMILE_OK, NULL, -1},
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
		cmocka_unit_test(contact_json_follows_the_page),
		cmocka_unit_test(device_view_follows_the_page),
		cmocka_unit_test(sort_code_never_depends_on_the_street),
		cmocka_unit_test(sort_code_district_is_keyed_and_stable),
		cmocka_unit_test(what_is_issued_prints),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
