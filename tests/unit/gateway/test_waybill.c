/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for waybill numbers (gateway/waybill.c): known vectors, syntax
 * and date checks, and - exhaustively over generated numbers - that every
 * single-character substitution and every adjacent transposition is caught. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "smile/error.h"
#include "../../../gateway/waybill.h"

/* ISO 7064 MOD 97-10 the long way, independent of the code under test: the
 * number as a decimal digit string (letters A=10..Z=35), reduced in chunks
 * of 9 digits as banks validate IBANs. */
static unsigned ref_mod97(const char *s)
{
	char digits[64], chunk[16];
	size_t n = 0;
	unsigned long long r = 0;

	for (; *s; s++) {
		if (*s >= 'A' && *s <= 'Z') {
			int v = *s - 'A' + 10;
			digits[n++] = (char)('0' + v / 10);
			digits[n++] = (char)('0' + v % 10);
		} else {
			digits[n++] = *s;
		}
	}
	for (size_t i = 0; i < n;) {
		int k = snprintf(chunk, sizeof(chunk), "%llu", r);
		while (k < 11 && i < n)
			chunk[k++] = digits[i++];
		chunk[k] = '\0';
		r = 0;
		for (int j = 0; j < k; j++)
			r = r * 10 + (unsigned long long)(chunk[j] - '0');
		r %= 97;
	}
	return (unsigned)r;
}

static void known_vectors(void **state)
{
	char wb[SMILE_WAYBILL_MAX];
	struct smile_error e = {0};
	(void)state;

	assert_int_equal(smile_waybill_format("SW", 261129, 17, wb, &e), SMILE_OK);
	assert_string_equal(wb, "SW261129000001789");
	assert_int_equal(strlen(wb), 17);
	assert_int_equal(smile_waybill_format("SW", 261129, 1, wb, &e), SMILE_OK);
	assert_string_equal(wb, "SW261129000000140");
	assert_int_equal(smile_waybill_format("SW", 260228, 0, wb, &e), SMILE_OK);
	assert_string_equal(wb, "SW260228000000025");
	assert_int_equal(smile_waybill_format("ABCD", 991231, SMILE_WAYBILL_SEQ_MAX, wb, &e),
			 SMILE_OK);
	assert_string_equal(wb, "ABCD991231999999995");
	assert_int_equal(strlen(wb), SMILE_WAYBILL_MAX - 1);
	assert_int_equal(ref_mod97(wb), 1);
	assert_int_equal(smile_waybill_check("SW261129000001789", &e), SMILE_OK);
}

static void format_rejects_bad_parts(void **state)
{
	char wb[SMILE_WAYBILL_MAX] = "junk";
	struct smile_error e = {0};
	(void)state;

	assert_int_equal(smile_waybill_format("SW", 261129, SMILE_WAYBILL_SEQ_MAX + 1ull, wb, &e),
			 SMILE_ERR_TOO_LARGE);
	assert_string_equal(e.field, "seq");
	assert_string_equal(wb, "");
	assert_int_equal(smile_waybill_format("SW", 261129, UINT64_MAX, wb, &e), SMILE_ERR_TOO_LARGE);
	static const uint32_t bad_dates[] = {0, 261300, 261100, 260230, 270229, 260431, 261132,
					     991232, 1000101, UINT32_MAX};
	for (size_t i = 0; i < sizeof(bad_dates) / sizeof(bad_dates[0]); i++) {
		assert_int_equal(smile_waybill_format("SW", bad_dates[i], 1, wb, &e),
				 SMILE_ERR_FIELD_VALUE);
		assert_string_equal(e.field, "date");
	}
	assert_int_equal(smile_waybill_format("SW", 280229, 1, wb, &e), SMILE_OK); /* leap */
	assert_int_equal(smile_waybill_format("SW", 1231, 1, wb, &e), SMILE_OK);  /* 2000-12-31 */
	assert_int_equal(strncmp(wb, "SW001231", 8), 0);
	assert_int_equal(smile_waybill_format("sw", 261129, 1, wb, &e), SMILE_ERR_FIELD_VALUE);
	assert_string_equal(e.field, "prefix");
	assert_int_equal(smile_waybill_format(NULL, 261129, 1, wb, &e), SMILE_ERR_MISSING_FIELD);
	assert_int_equal(smile_waybill_format("SW", 261129, 1, NULL, &e), SMILE_ERR_INVALID);
}

static void prefix_rules(void **state)
{
	struct smile_error e = {0};
	(void)state;

	assert_int_equal(smile_waybill_prefix_check(SMILE_WAYBILL_PREFIX_DEFAULT, &e), SMILE_OK);
	assert_int_equal(smile_waybill_prefix_check("ABC", &e), SMILE_OK);
	assert_int_equal(smile_waybill_prefix_check("ABCD", NULL), SMILE_OK);
	static const char *const bad[] = {"", "S", "SWXYZ", "sw", "S1", "S W", "SÉ", "Sw", "-SW"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(smile_waybill_prefix_check(bad[i], &e), SMILE_ERR_FIELD_VALUE);
		assert_string_equal(e.field, "prefix");
	}
	assert_int_equal(smile_waybill_prefix_check(NULL, &e), SMILE_ERR_MISSING_FIELD);
}

static void check_rejects_bad_syntax(void **state)
{
	static const struct {
		const char *wb, *msg;
	} bad[] = {
		{"", "need a prefix of 2-4 letters A-Z"},
		{"S261129000001789", "need a prefix of 2-4 letters A-Z"},
		{"SWXYZ261129000001789", "need a prefix of 2-4 letters A-Z"},
		{"sw261129000001789", "need a prefix of 2-4 letters A-Z"},
		{"SW26112900000178", "need 15 digits after the prefix"},
		{"SW2611290000017890", "need 15 digits after the prefix"},
		{"SW261129000001789000000000000", "need 15 digits after the prefix"},
		{"SW 261129000001789", "character 3 is not a digit"},
		{"SW261129000001789 ", "character 18 is not a digit"},
		{"SW26112900000178X", "character 17 is not a digit"},
		{"SW26112900000178\xd9\xa9", "character 17 is not a digit"}, /* Arabic-Indic 9 */
		{"SW261329000001789", "date part is not a calendar date"},
		{"SW261129000001788", "check digits do not match"},
		{"SV261129000001789", "check digits do not match"},
	};
	struct smile_error e = {0};
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(smile_waybill_check(bad[i].wb, &e), SMILE_ERR_FIELD_VALUE);
		assert_string_equal(e.field, "waybill");
		assert_string_equal(e.message, bad[i].msg);
	}
	assert_int_equal(smile_waybill_check(NULL, &e), SMILE_ERR_MISSING_FIELD);
	assert_int_equal(smile_waybill_check("SW261129000001788", NULL), SMILE_ERR_FIELD_VALUE);
}

static void parse_returns_the_parts(void **state)
{
	char prefix[SMILE_WAYBILL_PREFIX_MAX + 1] = "zz", wb[SMILE_WAYBILL_MAX];
	uint32_t date = 7;
	uint64_t seq = 7;
	(void)state;

	assert_int_equal(smile_waybill_format("XYZ", 270101, 1234567, wb, NULL), SMILE_OK);
	assert_int_equal(smile_waybill_parse(wb, prefix, &date, &seq, NULL), SMILE_OK);
	assert_string_equal(prefix, "XYZ");
	assert_int_equal(date, 270101);
	assert_int_equal(seq, 1234567);
	assert_int_equal(smile_waybill_parse(wb, NULL, NULL, &seq, NULL), SMILE_OK);
	/* outputs untouched on error */
	assert_int_equal(smile_waybill_parse("SW261129000001788", prefix, &date, &seq, NULL),
			 SMILE_ERR_FIELD_VALUE);
	assert_string_equal(prefix, "XYZ");
	assert_int_equal(date, 270101);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Every single substitution and every adjacent transposition of thousands
 * of numbers with random prefixes, dates and sequences is rejected. */
static void check_digits_catch_substitutions_and_transpositions(void **state)
{
	static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	size_t subs = 0, swaps = 0;
	(void)state;

	for (int iter = 0; iter < 3000; iter++) {
		char prefix[5], wb[SMILE_WAYBILL_MAX], m[SMILE_WAYBILL_MAX];
		size_t np = 2 + next() % 3, n;
		uint32_t date = (uint32_t)((next() % 100) * 10000 + (1 + next() % 12) * 100 +
					   1 + next() % 28);

		for (size_t i = 0; i < np; i++)
			prefix[i] = (char)('A' + next() % 26);
		prefix[np] = '\0';
		assert_int_equal(smile_waybill_format(prefix, date, next() % 10000000, wb, NULL),
				 SMILE_OK);
		assert_int_equal(smile_waybill_check(wb, NULL), SMILE_OK);
		assert_int_equal(ref_mod97(wb), 1);
		n = strlen(wb);
		assert_int_equal(n, np + SMILE_WAYBILL_DIGITS);

		for (size_t i = 0; i < n; i++) {
			for (const char *a = alphabet; *a; a++) {
				if (*a == wb[i])
					continue;
				memcpy(m, wb, n + 1);
				m[i] = *a;
				if (smile_waybill_check(m, NULL) == SMILE_OK) {
					print_message("substitution at %zu not caught: %s -> %s\n", i,
						      wb, m);
					fail();
				}
				subs++;
			}
			if (i + 1 < n && wb[i] != wb[i + 1]) {
				memcpy(m, wb, n + 1);
				m[i] = wb[i + 1];
				m[i + 1] = wb[i];
				if (smile_waybill_check(m, NULL) == SMILE_OK) {
					print_message("transposition at %zu not caught: %s -> %s\n",
						      i, wb, m);
					fail();
				}
				swaps++;
			}
		}
	}
	print_message("%zu substitutions and %zu transpositions, all caught\n", subs, swaps);
	assert_true(subs > 1000000 && swaps > 30000);
}

/* Distinct sequences give distinct, valid numbers (uniqueness comes from the
 * store's sequence; formatting must not collapse two of them). */
static void distinct_sequences_give_distinct_numbers(void **state)
{
	char prev[SMILE_WAYBILL_MAX] = "", wb[SMILE_WAYBILL_MAX];
	(void)state;

	for (uint64_t seq = 0; seq < 100000; seq++) {
		assert_int_equal(smile_waybill_format("SW", 261129, seq, wb, NULL), SMILE_OK);
		/* fixed width and zero-padded: numeric order is string order */
		assert_true(strcmp(prev, wb) < 0);
		memcpy(prev, wb, sizeof(wb));
	}
}

static void issue_date_follows_the_local_calendar(void **state)
{
	(void)state;
	assert_int_equal(smile_waybill_yymmdd(0, 0), 700101);
	/* 2026-11-28T16:00:00Z is midnight of the 29th in China (UTC+8) */
	assert_int_equal(smile_waybill_yymmdd(1795881600, 0), 261128);
	assert_int_equal(smile_waybill_yymmdd(1795881600, 8 * 3600), 261129);
	assert_int_equal(smile_waybill_yymmdd(1795881600 - 1, 8 * 3600), 261128);
	assert_int_equal(smile_waybill_yymmdd(951782400, 0), 229); /* 2000-02-29 */
	char wb[SMILE_WAYBILL_MAX];
	assert_int_equal(smile_waybill_format("SW", smile_waybill_yymmdd(951782400, 0), 5, wb, NULL),
			 SMILE_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(known_vectors),
		cmocka_unit_test(format_rejects_bad_parts),
		cmocka_unit_test(prefix_rules),
		cmocka_unit_test(check_rejects_bad_syntax),
		cmocka_unit_test(parse_returns_the_parts),
		cmocka_unit_test(check_digits_catch_substitutions_and_transpositions),
		cmocka_unit_test(distinct_sequences_give_distinct_numbers),
		cmocka_unit_test(issue_date_follows_the_local_calendar),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
