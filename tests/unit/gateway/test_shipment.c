/* The shipment request: shape validation and what stays in clear. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_and_defaults),
		cmocka_unit_test(errors_name_the_field),
		cmocka_unit_test(region_keeps_no_more_than_the_label),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
