/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for common/hostport.c and common/clock.c: the one HOST:PORT
 * parser (every edge a setting can get wrong, each error naming what) and
 * the one clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "smile/clock.h"
#include "smile/hostport.h"

static void parses_host_and_port(void **state)
{
	char host[64];
	uint16_t port;
	struct smile_error e = {0};
	(void)state;
	assert_int_equal(smile_hostport_parse("127.0.0.1:8080", 0, "listen", host, sizeof(host),
					      &port, &e), SMILE_OK);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 8080);
	assert_int_equal(smile_hostport_parse("localhost:65535", 0, "listen", host, sizeof(host),
					      &port, &e), SMILE_OK);
	assert_string_equal(host, "localhost");
	assert_int_equal(port, 65535);
	assert_int_equal(smile_hostport_parse("[::1]:1883", 0, "mqtt", host, sizeof(host), &port,
					      &e), SMILE_OK);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 1883);
	/* port 0 only when asked for (a listener on any free port) */
	assert_int_equal(smile_hostport_parse("0.0.0.0:0", SMILE_HOSTPORT_PORT0, "listen", host,
					      sizeof(host), &port, &e), SMILE_OK);
	assert_string_equal(host, "0.0.0.0");
	assert_int_equal(port, 0);
}

static void refuse(const char *s, unsigned flags, size_t cap, enum smile_err code,
		   const char *msg)
{
	char host[64] = "junk";
	uint16_t port = 7;
	struct smile_error e = {0};
	assert_int_equal(smile_hostport_parse(s, flags, "listen", host, cap, &port, &e), code);
	assert_string_equal(e.field, "listen");
	if (strstr(e.message, msg) == NULL)
		fail_msg("\"%s\": message \"%s\" does not say \"%s\"", s, e.message, msg);
	assert_string_equal(host, "");
	assert_int_equal(port, 0);
}

static void refuses_each_mistake_by_name(void **state)
{
	(void)state;
	refuse("127.0.0.1", 0, 64, SMILE_ERR_FIELD_VALUE, "no ':'");
	refuse("127.0.0.1:", 0, 64, SMILE_ERR_FIELD_VALUE, "empty port");
	refuse(":8080", 0, 64, SMILE_ERR_FIELD_VALUE, "empty host");
	refuse("[]:8080", 0, 64, SMILE_ERR_FIELD_VALUE, "empty host");
	refuse("127.0.0.1:0", 0, 64, SMILE_ERR_FIELD_VALUE, "1-65535");
	refuse("127.0.0.1:65536", SMILE_HOSTPORT_PORT0, 64, SMILE_ERR_FIELD_VALUE, "at most 65535");
	refuse("127.0.0.1:99999999999999999999", 0, 64, SMILE_ERR_FIELD_VALUE, "at most 65535");
	refuse("127.0.0.1:80a", 0, 64, SMILE_ERR_FIELD_VALUE, "decimal digits");
	refuse("127.0.0.1:+80", 0, 64, SMILE_ERR_FIELD_VALUE, "decimal digits");
	refuse("127.0.0.1:-1", 0, 64, SMILE_ERR_FIELD_VALUE, "decimal digits");
	refuse("127.0.0.1: 80", 0, 64, SMILE_ERR_FIELD_VALUE, "decimal digits");
	refuse("::1:8080", 0, 64, SMILE_ERR_FIELD_VALUE, "brackets");
	refuse("[::1:8080", 0, 64, SMILE_ERR_FIELD_VALUE, "'[' without ']'");
	refuse("::1]:8080", 0, 64, SMILE_ERR_FIELD_VALUE, "brackets");
	refuse("host]:8080", 0, 64, SMILE_ERR_FIELD_VALUE, "']' without '['");
	refuse("broker.example:1883", 0, 8, SMILE_ERR_TOO_LARGE, "at most 7 fit");
	refuse(NULL, 0, 64, SMILE_ERR_INVALID, "no address");
}

static void clocks_agree_with_the_system(void **state)
{
	struct timespec ts;
	int64_t a, b, m1, m2, n1, n2;
	(void)state;
	clock_gettime(CLOCK_REALTIME, &ts);
	a = (int64_t)ts.tv_sec * 1000;
	b = smile_clock_ms();
	assert_true(b >= a && b - a < 5000);
	m1 = smile_mono_ms();
	n1 = smile_mono_ns();
	m2 = smile_mono_ms();
	n2 = smile_mono_ns();
	assert_true(m2 >= m1 && n2 >= n1);
	assert_true(n1 / 1000000 >= m1 && n1 / 1000000 <= m2);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	assert_true((int64_t)ts.tv_sec * 1000 - m2 < 5000 && (int64_t)ts.tv_sec * 1000 >= m2 - 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_host_and_port),
		cmocka_unit_test(refuses_each_mistake_by_name),
		cmocka_unit_test(clocks_agree_with_the_system),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
