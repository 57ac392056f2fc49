/* SPDX-License-Identifier: Apache-2.0 */
/* The shared "key = value" parser: every error names the line and key, and
 * a bad file changes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "smile/conffile.h"

struct conf {
	char name[8];
	long port;
};

static const struct smile_conf_key keys[] = {
	SMILE_CONF_STR_KEY(struct conf, name, 0, "a name"),
	SMILE_CONF_LONG_KEY(struct conf, port, 1, 65535, "a port"),
};

static enum smile_err parse(struct conf *c, const char *text, struct smile_error *e)
{
	return smile_conf_parse(keys, 2, c, sizeof(*c), text, strlen(text), e);
}

static void good_file(void **state)
{
	struct conf c = {"dflt", 80};
	struct smile_error e = {0};
	(void)state;
	assert_int_equal(parse(&c, "# comment\n\n  name = abc  # trailing\r\nport=8080\n", &e),
			 SMILE_OK);
	assert_string_equal(c.name, "abc");
	assert_int_equal(c.port, 8080);
	assert_int_equal(parse(&c, "", &e), SMILE_OK); /* empty keeps defaults */
	assert_string_equal(c.name, "abc");
}

static void errors_name_line_and_key_and_change_nothing(void **state)
{
	static const struct {
		const char *text, *field, *msg;
	} bad[] = {
		{"name = x\nport = 0\n", "line 2: port", "outside 1..65535"},
		{"port = 12ab\n", "line 1: port", "not a whole number"},
		{"name = toolongvalue\n", "line 1: name", "at most 7"},
		{"colour = red\n", "line 1", "unknown key"},
		{"name = a\nname = b\n", "line 2: name", "given twice"},
		{"just words\n", "", "expected key = value"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct conf c = {"dflt", 80};
		struct smile_error e = {0};
		assert_int_equal(parse(&c, bad[i].text, &e), SMILE_ERR_CONFIG);
		assert_string_equal(e.field, bad[i].field);
		assert_non_null(strstr(e.message, bad[i].msg));
		assert_string_equal(c.name, "dflt"); /* all or nothing */
		assert_int_equal(c.port, 80);
	}
	struct conf c = {"dflt", 80};
	struct smile_error e = {0};
	assert_int_equal(smile_conf_parse(keys, 2, &c, sizeof(c), "name = a\0b\n", 11, &e),
			 SMILE_ERR_CONFIG);
	assert_non_null(strstr(e.message, "NUL"));
	assert_non_null(smile_conf_find(keys, 2, "port"));
	assert_null(smile_conf_find(keys, 2, "nope"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_file),
		cmocka_unit_test(errors_name_line_and_key_and_change_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
