/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for firmware-bridge/lines.c and mode.c: CR, LF and CR LF end
 * exactly one code wherever the read boundary falls; over-long and poisoned
 * codes are reported, never truncated; mode barcodes are recognised. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../../firmware-bridge/lines.h"
#include "../../../firmware-bridge/mode.h"

struct got {
	char codes[16][BRIDGE_CODE_MAX + 1];
	enum bridge_code_status st[16];
	int n;
};

static void collect(void *ctx, const char *code, size_t len, enum bridge_code_status st)
{
	struct got *g = ctx;
	assert_true(g->n < 16);
	memcpy(g->codes[g->n], code, len);
	g->codes[g->n][len] = '\0';
	g->st[g->n++] = st;
}

static void feed_all(const char *s, size_t chunk, struct got *g)
{
	struct bridge_lines l;
	size_t n = strlen(s);
	memset(g, 0, sizeof(*g));
	bridge_lines_init(&l);
	for (size_t i = 0; i < n; i += chunk)
		bridge_lines_feed(&l, s + i, n - i < chunk ? n - i : chunk, collect, g);
}

static void every_terminator_ends_one_code(void **state)
{
	const char *in = "SW1:A\r\nSW1:B\rSW1:C\nSW1:D\r\n\r\n\nSW1 $%*+-./:E\n";
	(void)state;
	/* whatever the read size, including a CR LF split across two reads */
	for (size_t chunk = 1; chunk <= strlen(in); chunk++) {
		struct got g;
		feed_all(in, chunk, &g);
		assert_int_equal(g.n, 5);
		assert_string_equal(g.codes[0], "SW1:A");
		assert_string_equal(g.codes[1], "SW1:B");
		assert_string_equal(g.codes[2], "SW1:C");
		assert_string_equal(g.codes[3], "SW1:D");
		assert_string_equal(g.codes[4], "SW1 $%*+-./:E"); /* base45 keeps spaces */
		for (int i = 0; i < 5; i++)
			assert_int_equal(g.st[i], BRIDGE_CODE_OK);
	}
}

static void two_crs_are_two_ends(void **state)
{
	struct got g;
	(void)state;
	feed_all("A\r\rB\n\rC\r", 1, &g);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.codes[0], "A");
	assert_string_equal(g.codes[1], "B");
	assert_string_equal(g.codes[2], "C");
}

static void overlong_code_is_refused_not_truncated(void **state)
{
	char in[400];
	struct got g;
	(void)state;
	memset(in, 'X', 300);
	snprintf(in + 300, sizeof(in) - 300, "\nOK\n");
	feed_all(in, 7, &g);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.st[0], BRIDGE_CODE_TOO_LONG);
	assert_string_equal(g.codes[0], "");
	assert_int_equal(g.st[1], BRIDGE_CODE_OK);
	assert_string_equal(g.codes[1], "OK");

	/* exactly the maximum is fine */
	memset(in, 'Y', BRIDGE_CODE_MAX);
	snprintf(in + BRIDGE_CODE_MAX, sizeof(in) - BRIDGE_CODE_MAX, "\n");
	feed_all(in, 64, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.st[0], BRIDGE_CODE_OK);
	assert_int_equal(strlen(g.codes[0]), BRIDGE_CODE_MAX);
}

static void poison_and_flush(void **state)
{
	struct bridge_lines l;
	struct got g;
	(void)state;
	memset(&g, 0, sizeof(g));
	bridge_lines_init(&l);
	bridge_lines_feed(&l, "AB", 2, collect, &g);
	bridge_lines_poison(&l);
	bridge_lines_feed(&l, "C\nD", 3, collect, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.st[0], BRIDGE_CODE_BAD_KEY);
	bridge_lines_flush(&l, collect, &g); /* end of input: "D" without a terminator */
	assert_int_equal(g.n, 2);
	assert_string_equal(g.codes[1], "D");
	bridge_lines_flush(&l, collect, &g); /* nothing pending: nothing reported */
	assert_int_equal(g.n, 2);
	bridge_lines_feed(&l, "partial", 7, collect, &g);
	bridge_lines_reset(&l);
	bridge_lines_feed(&l, "\n", 1, collect, &g);
	assert_int_equal(g.n, 2);
}

static void mode_barcodes(void **state)
{
	enum smile_event ev = 0;
	(void)state;
	assert_int_equal(bridge_mode_parse("SMILE:MODE:DELIVERED", 20, &ev), 1);
	assert_int_equal(ev, SMILE_EVENT_DELIVERED);
	assert_int_equal(bridge_mode_parse("SMILE:MODE:OUT_FOR_DELIVERY", 27, &ev), 1);
	assert_int_equal(ev, SMILE_EVENT_OUT_FOR_DELIVERY);
	assert_int_equal(bridge_mode_parse("smile:mode:hub-in", 17, &ev), 1);
	assert_int_equal(ev, SMILE_EVENT_HUB_IN);
	ev = SMILE_EVENT_PICKUP;
	assert_int_equal(bridge_mode_parse("SMILE:MODE:TELEPORTED", 21, &ev), -1);
	assert_int_equal(bridge_mode_parse("SMILE:MODE:", 11, &ev), -1);
	assert_int_equal(bridge_mode_parse("SMILE:MODE:DELIVERED\0X", 22, &ev), -1);
	assert_int_equal(ev, SMILE_EVENT_PICKUP); /* untouched */
	assert_int_equal(bridge_mode_parse("SW1:NCK6YVK9HK", 14, &ev), 0);
	assert_int_equal(bridge_mode_parse("SMILE:MOD", 9, &ev), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_terminator_ends_one_code),
		cmocka_unit_test(two_crs_are_two_ends),
		cmocka_unit_test(overlong_code_is_refused_not_truncated),
		cmocka_unit_test(poison_and_flush),
		cmocka_unit_test(mode_barcodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
