/* SPDX-License-Identifier: Apache-2.0 */
/* Strict HTTP input checks: request targets, header names, numbers, dates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../../gateway/httpcheck.h"

static void targets(void **state)
{
	const char *part;
	(void)state;
	static const char *const good[] = {
		"/", "/healthz", "/v1/shipments/SW261129000000128", "/v1/shipments/",
		"/v1/labels?since=2026-11-29&limit=5", "/v1/devices/van%2D17/suspend",
		"/v1/shipments/...", "/v1/x?a=%2F%20", "/v1/x?",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_null(httpcheck_target(good[i], &part));

	static const struct {
		const char *uri, *part, *says;
	} bad[] = {
		{"/v1/shipments/SW1%00junk", "path", "%00"},
		{"/v1%2Fshipments/SW1", "path", "%2F"},
		{"/v1%2fshipments", "path", "%2F"},
		{"/v1/%5c", "path", "%5C"},
		{"/v1/a\\b", "path", "backslash"},
		{"/v1/..", "path", "'..'"},
		{"/v1/./x", "path", "'.'"},
		{"/v1/%2e%2E/x", "path", "'..'"},
		{"/v1/.%2e?x=1", "path", "'..'"},
		{"/v1/a%0a", "path", "control"},
		{"/v1/a%7F", "path", "control"},
		{"/v1/a b", "path", "space"},
		{"/v1/\x01", "path", "control"},
		{"/v1/\xe4\xb8\xad", "path", "ASCII"},
		{"/v1/a%", "path", "malformed"},
		{"/v1/a%4", "path", "malformed"},
		{"/v1/a%g0", "path", "malformed"},
		{"/v1/a#frag", "path", "fragment"},
		{"/v1/labels?limit=5%00", "query", "%00"},
		{"/v1/labels?limit=%", "query", "malformed"},
		{"/v1/labels?limit=5 6", "query", "space"},
		{"/v1/labels?limit=\xff", "query", "ASCII"},
		{"/v1/labels?a=1#x", "query", "fragment"},
		{"http://gw/healthz", "path", "starting with '/'"},
		{"*", "path", "starting with '/'"},
		{"", "path", "starting with '/'"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = httpcheck_target(bad[i].uri, &part);
		assert_non_null(why);
		assert_string_equal(part, bad[i].part);
		assert_non_null(strstr(why, bad[i].says));
	}
	assert_non_null(httpcheck_target(NULL, &part));
}

static void tokens(void **state)
{
	(void)state;
	assert_true(httpcheck_token("Content-Length"));
	assert_true(httpcheck_token("X-Custom_1!#$%&'*+.^`|~"));
	assert_false(httpcheck_token(""));
	assert_false(httpcheck_token("Content-Length "));
	assert_false(httpcheck_token("Content Length"));
	assert_false(httpcheck_token("a:b"));
	assert_false(httpcheck_token("a\tb"));
	assert_false(httpcheck_token("\xc3\xa9"));
	assert_false(httpcheck_token(NULL));
}

static void numbers(void **state)
{
	uint64_t v = 7;
	(void)state;
	assert_true(httpcheck_uint("0", 0, 10, &v) && v == 0);
	assert_true(httpcheck_uint("0010", 0, 10, &v) && v == 10);
	assert_true(httpcheck_uint("18446744073709551615", 0, UINT64_MAX, &v) &&
		    v == UINT64_MAX);
	v = 7;
	assert_false(httpcheck_uint("18446744073709551616", 0, UINT64_MAX, &v));
	assert_false(httpcheck_uint("99999999999999999999999", 0, UINT64_MAX, &v));
	assert_false(httpcheck_uint("11", 0, 10, &v));
	assert_false(httpcheck_uint("0", 1, 10, &v));
	assert_false(httpcheck_uint("", 0, 10, &v));
	assert_false(httpcheck_uint("+1", 0, 10, &v));
	assert_false(httpcheck_uint("-1", 0, 10, &v));
	assert_false(httpcheck_uint(" 1", 0, 10, &v));
	assert_false(httpcheck_uint("1 ", 0, 10, &v));
	assert_false(httpcheck_uint("0x1", 0, 10, &v));
	assert_false(httpcheck_uint(NULL, 0, 10, &v));
	assert_int_equal(v, 7); /* untouched on refusal */
	/* leading zeros are digits, but not without end */
	assert_true(httpcheck_uint("0000000000000000000000000000000000000001", 0, 10, &v));
	assert_false(httpcheck_uint("00000000000000000000000000000000000000001", 0, 10, &v));
}

static void since(void **state)
{
	int64_t ms = -1;
	(void)state;
	assert_true(httpcheck_since("1970-01-01", &ms) && ms == 0);
	assert_true(httpcheck_since("2026-11-29", &ms) && ms == 1795910400000LL);
	assert_true(httpcheck_since("2026-11-29T06:10:00Z", &ms) && ms == 1795932600000LL);
	assert_true(httpcheck_since("2024-02-29", &ms) && ms == 1709164800000LL);
	assert_true(httpcheck_since("2000-02-29", &ms));
	assert_true(httpcheck_since("9999-12-31T23:59:59Z", &ms) && ms == 253402300799000LL);
	assert_true(httpcheck_since("1969-12-31", &ms) && ms == 0); /* before: everything */
	assert_true(httpcheck_since("0000-01-01", &ms) && ms == 0);
	assert_true(httpcheck_since("1796083200000", &ms) && ms == 1796083200000LL);
	assert_true(httpcheck_since("100000000", &ms) && ms == 100000000);
	assert_true(httpcheck_since("253402300799999", &ms));
	static const char *const bad[] = {
		"2026-02-30", "2025-02-29", "1900-02-29", "2026-04-31", "2026-13-01",
		"2026-00-10", "2026-01-00", "2026-1-5", "26-11-29", "2026/11/29",
		"2026-11-29T24:00:00Z", "2026-11-29T23:60:00Z", "2026-11-29T23:59:60Z",
		"2026-11-29T10:00:00", "2026-11-29T10:00:00+08:00", "2026-11-29 10:00:00Z",
		"2026-11-29Z", " 2026-11-29", "2026-11-29 ", "", "yesterday", "20261129",
		"12345678", "253402300800000", "9999999999999999", "-1796083200000",
		"+1796083200000", "2026-11-2a",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ms = -7;
		assert_false(httpcheck_since(bad[i], &ms));
		assert_int_equal(ms, -7);
	}
	assert_false(httpcheck_since(NULL, &ms));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(targets),      cmocka_unit_test(tokens),
		cmocka_unit_test(numbers),      cmocka_unit_test(since),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
