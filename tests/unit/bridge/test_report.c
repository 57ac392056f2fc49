/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for firmware-bridge/jsoncheck.c and report.c: the JSON the
 * gateway sends is validated and compacted before it reaches an output line;
 * reply lines carry contact only when revealed; nothing can break the
 * one-line framing; notices are well-formed JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <jansson.h>

#include "../../../firmware-bridge/jsoncheck.h"
#include "../../../firmware-bridge/report.h"

static enum smile_err compact(const char *in, char *out, size_t cap)
{
	size_t len = 0;
	enum smile_err rc = bridge_json_compact_object((const uint8_t *)in, strlen(in), out, cap, &len);
	if (rc == SMILE_OK)
		out[len] = '\0';
	return rc;
}

static void compacts_valid_objects(void **state)
{
	char out[512];
	(void)state;
	assert_int_equal(compact(" {\n \"name\" : \"张*明\",\r\n\t\"n\": [1, -2.5e+3, true, false, null,"
				 " {}], \"s\": \"a \\\"b\\\" \\u00e9 \\n\" } \n",
				 out, sizeof(out)),
			 SMILE_OK);
	assert_string_equal(out, "{\"name\":\"张*明\",\"n\":[1,-2.5e+3,true,false,null,{}],"
				 "\"s\":\"a \\\"b\\\" \\u00e9 \\n\"}");
	assert_int_equal(compact("{}", out, sizeof(out)), SMILE_OK);
	assert_string_equal(out, "{}");
	assert_int_equal(compact("{\"a\":0}", out, 7), SMILE_OK); /* exactly fits */
	assert_int_equal(compact("{\"a\":0}", out, 6), SMILE_ERR_BUFFER_SMALL);
}

static void refuses_what_is_not_one_json_object(void **state)
{
	static const char *bad[] = {
		"", "[]", "\"x\"", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{a:1}",
		"{\"a\":01}", "{\"a\":1.}", "{\"a\":-}", "{\"a\":tru}", "{\"a\":\"\\x\"}",
		"{\"a\":\"\\u12G4\"}", "{\"a\":\"line\nbreak\"}", "{\"a\":1} {}", "{\"a\":1}x",
		"{\"a\":[1 2]}", "{'a':1}",
	};
	char out[256];
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (compact(bad[i], out, sizeof(out)) != SMILE_ERR_JSON)
			fail_msg("accepted bad JSON #%zu", i);
	/* invalid UTF-8: stray continuation, overlong, surrogate, above U+10FFFF */
	assert_int_equal(compact("{\"a\":\"\x80\"}", out, sizeof(out)), SMILE_ERR_UTF8);
	assert_int_equal(compact("{\"a\":\"\xc0\xaf\"}", out, sizeof(out)), SMILE_ERR_UTF8);
	assert_int_equal(compact("{\"a\":\"\xed\xa0\x80\"}", out, sizeof(out)), SMILE_ERR_UTF8);
	assert_int_equal(compact("{\"a\":\"\xf4\x90\x80\x80\"}", out, sizeof(out)), SMILE_ERR_UTF8);
	/* a NUL byte anywhere */
	{
		const uint8_t nul[] = "{\"a\":\"x\0y\"}";
		size_t len;
		assert_int_equal(bridge_json_compact_object(nul, sizeof(nul) - 1, out, sizeof(out), &len),
				 SMILE_ERR_JSON);
	}
	/* nesting is bounded */
	{
		char deep[128] = "{\"a\":";
		size_t n = strlen(deep);
		for (int i = 0; i < 20; i++)
			deep[n++] = '[';
		for (int i = 0; i < 20; i++)
			deep[n++] = ']';
		deep[n++] = '}';
		deep[n] = '\0';
		assert_int_equal(compact(deep, out, sizeof(out)), SMILE_ERR_JSON);
	}
	/* on error the output is wiped */
	memset(out, 'Z', sizeof(out));
	assert_int_equal(compact("{\"secret\":\"13812345678\",}", out, sizeof(out)), SMILE_ERR_JSON);
	for (size_t i = 0; i < sizeof(out); i++)
		assert_int_equal(out[i], 0);
}

static struct smile_reply reply(enum smile_status st, const char *masked)
{
	struct smile_reply r;
	memset(&r, 0, sizeof(r));
	r.seq = 17;
	r.status = st;
	r.reason = st == SMILE_STATUS_REVEALED ? SMILE_REASON_OK : SMILE_REASON_HUB_ROLE;
	r.waybill = "SW2601010000017";
	r.waybill_len = 15;
	r.masked = (const uint8_t *)masked;
	r.masked_len = masked ? strlen(masked) : 0;
	return r;
}

static json_t *parse_line(const char *line, size_t len)
{
	json_error_t err;
	json_t *j;
	assert_true(len > 0);
	assert_int_equal(line[len - 1], '\n');
	assert_null(memchr(line, '\n', len - 1)); /* exactly one line */
	j = json_loadb(line, len, 0, &err);
	if (j == NULL)
		fail_msg("not JSON: %s", err.text);
	return j;
}

static void reply_lines(void **state)
{
	const char *masked = "{\"name\": \"张*明\",\n \"phone\": \"138*******8\"}";
	const char *contact = "{\"name\":\"张三明\",\"phone\":\"13812345678\",\"address\":\"上海市 1203室\"}";
	char line[BRIDGE_LINE_MAX];
	size_t len;
	int flags;
	struct smile_reply r = reply(SMILE_STATUS_REVEALED, masked);
	json_t *j;
	(void)state;

	assert_int_equal(bridge_report_reply(&r, SMILE_EVENT_DELIVERED, (const uint8_t *)contact,
					     strlen(contact), line, sizeof(line), &len, &flags),
			 SMILE_OK);
	assert_int_equal(flags, 0);
	assert_non_null(strstr(line, "{\"seq\":17,\"waybill\":\"SW2601010000017\",\"status\":\"revealed\","
				     "\"reason\":\"ok\",\"event\":\"delivered\",\"masked\":{\"name\":"));
	j = parse_line(line, len);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "contact"), "phone")),
			    "13812345678");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "masked"), "phone")),
			    "138*******8");
	json_decref(j);

	/* recorded: no contact key at all, even if bytes were passed */
	r = reply(SMILE_STATUS_RECORDED, masked);
	assert_int_equal(bridge_report_reply(&r, SMILE_EVENT_HUB_IN, (const uint8_t *)contact,
					     strlen(contact), line, sizeof(line), &len, &flags),
			 SMILE_OK);
	assert_null(strstr(line, "contact"));
	assert_null(strstr(line, "13812345678"));
	j = parse_line(line, len);
	assert_string_equal(json_string_value(json_object_get(j, "reason")), "hub_role");
	json_decref(j);

	/* error reply without waybill or masked view: nulls */
	r = reply(SMILE_STATUS_ERROR, NULL);
	r.waybill_len = 0;
	r.seq = 0;
	r.reason = 999; /* a reason a newer gateway may send */
	assert_int_equal(bridge_report_reply(&r, SMILE_EVENT_PICKUP, NULL, 0, line, sizeof(line), &len,
					     &flags),
			 SMILE_OK);
	assert_string_equal(line, "{\"seq\":0,\"waybill\":null,\"status\":\"error\",\"reason\":\"unknown\","
				  "\"event\":\"pickup\",\"masked\":null}\n");

	/* a masked view or contact that is not JSON becomes null, flagged */
	r = reply(SMILE_STATUS_REVEALED, "{\"broken\":\n");
	assert_int_equal(bridge_report_reply(&r, SMILE_EVENT_DELIVERED, (const uint8_t *)"not json\n{",
					     10, line, sizeof(line), &len, &flags),
			 SMILE_OK);
	assert_int_equal(flags, BRIDGE_REPORT_MASKED_BAD | BRIDGE_REPORT_CONTACT_BAD);
	json_decref(parse_line(line, len));

	/* too small a buffer: refused and wiped */
	r = reply(SMILE_STATUS_REVEALED, masked);
	memset(line, 'Q', sizeof(line));
	assert_int_equal(bridge_report_reply(&r, SMILE_EVENT_DELIVERED, (const uint8_t *)contact,
					     strlen(contact), line, 120, &len, &flags),
			 SMILE_ERR_BUFFER_SMALL);
	for (int i = 0; i < 120; i++)
		assert_int_equal(line[i], 0);
}

static void notices(void **state)
{
	char line[512];
	size_t len;
	json_t *j;
	(void)state;
	len = bridge_report_mode(line, sizeof(line), SMILE_EVENT_OUT_FOR_DELIVERY);
	assert_string_equal(line, "{\"notice\":\"mode\",\"event\":\"out_for_delivery\"}\n");
	assert_int_equal(len, strlen(line));
	len = bridge_report_queued(line, sizeof(line), 3);
	assert_string_equal(line, "{\"notice\":\"queued\",\"queued\":3}\n");
	len = bridge_report_refused(line, sizeof(line), "queue_full", 10, "full \"now\"");
	j = parse_line(line, len);
	assert_string_equal(json_string_value(json_object_get(j, "reason")), "queue_full");
	assert_int_equal(json_integer_value(json_object_get(j, "queued")), 10);
	assert_string_equal(json_string_value(json_object_get(j, "message")), "full \"now\"");
	json_decref(j);
	len = bridge_report_refused(line, sizeof(line), "no_mode", -1, "x");
	assert_null(strstr(line, "queued"));
	assert_int_equal(bridge_report_refused(line, 20, "queue_full", 1, "long message"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(compacts_valid_objects),
		cmocka_unit_test(refuses_what_is_not_one_json_object),
		cmocka_unit_test(reply_lines),
		cmocka_unit_test(notices),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
