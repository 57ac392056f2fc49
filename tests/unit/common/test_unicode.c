/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for common/unicode.c: the generated tables agree with the
 * Unicode Character Database installed by `make deps` (package unicode-data),
 * code point by code point, so a stale or hand-edited table fails here; every
 * Nd code point is a digit; and the number-run rule on the examples of
 * docs/masking.md.
 *
 * The UCD is read from $SMILE_UCD_DIR, else /usr/share/unicode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smile/unicode.h"

#define CP_END 0x110000

/* What UnicodeData.txt says of each code point. */
struct ucd {
	char gc[CP_END][3]; /* "Lu", "Nd", ...; "" for unassigned (Cn) */
	unsigned char ccc_nonzero[CP_END];
	unsigned char numeric[CP_END]; /* listed in DerivedNumericValues.txt */
	char version[32];
};

static struct ucd *U;

static FILE *ucd_open(const char *name)
{
	char path[1024];
	const char *dir = getenv("SMILE_UCD_DIR");
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "/usr/share/unicode", name);
	f = fopen(path, "r");
	if (f == NULL)
		fail_msg("%s: cannot open (run `make deps`: package unicode-data)", path);
	return f;
}

/* Parse "XXXX;name;gc;ccc;..." lines, expanding "<..., First>" / "<..., Last>". */
static void load_unicode_data(void)
{
	char line[512];
	long first = -1;
	FILE *f = ucd_open("UnicodeData.txt");

	while (fgets(line, sizeof(line), f)) {
		char *name = strchr(line, ';'), *gc, *ccc, *end;
		long cp = strtol(line, &end, 16);

		assert_true(name != NULL && end == name && cp >= 0 && cp < CP_END);
		gc = strchr(name + 1, ';');
		assert_non_null(gc);
		ccc = strchr(gc + 1, ';');
		assert_true(ccc != NULL && ccc - gc == 3);
		long from = cp;
		if (strstr(name, ", First>;") != NULL) {
			first = cp;
			continue;
		}
		if (strstr(name, ", Last>;") != NULL) {
			assert_true(first >= 0);
			from = first;
			first = -1;
		}
		for (long c = from; c <= cp; c++) {
			memcpy(U->gc[c], gc + 1, 2);
			U->ccc_nonzero[c] = strtol(ccc + 1, NULL, 10) != 0;
		}
	}
	fclose(f);
}

static void load_numeric_values(void)
{
	char line[512];
	FILE *f = ucd_open("extracted/DerivedNumericValues.txt");

	while (fgets(line, sizeof(line), f)) {
		char *end;
		long a, b;

		if (sscanf(line, "# DerivedNumericValues-%31[0-9.]", U->version) == 1) {
			size_t n = strlen(U->version);
			if (n > 0 && U->version[n - 1] == '.') /* the ".txt" dot */
				U->version[n - 1] = '\0';
			continue;
		}
		if (line[0] == '#' || line[0] == '\n')
			continue;
		a = strtol(line, &end, 16);
		b = a;
		if (end[0] == '.' && end[1] == '.')
			b = strtol(end + 2, &end, 16);
		assert_true(a >= 0 && b < CP_END && a <= b);
		for (long c = a; c <= b; c++)
			U->numeric[c] = 1;
	}
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	U = calloc(1, sizeof(*U));
	if (U == NULL)
		return -1;
	load_unicode_data();
	load_numeric_values();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(U);
	return 0;
}

static size_t put_utf8(char *o, uint32_t c)
{
	if (c < 0x80) {
		o[0] = (char)c;
		return 1;
	} else if (c < 0x800) {
		o[0] = (char)(0xC0 | (c >> 6));
		o[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	} else if (c < 0x10000) {
		o[0] = (char)(0xE0 | (c >> 12));
		o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		o[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (c >> 18));
	o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
	o[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

static size_t run_of(const char *s) { return smile_unicode_number_run(s, strlen(s)); }

/* ------------------------------------------------------------------ tests */

static void tables_match_the_installed_ucd(void **state)
{
	size_t bad = 0;
	(void)state;

	if (strcmp(U->version, smile_unicode_version()) != 0)
		fail_msg("tables are from UCD %s, the installed UCD is %s: regenerate with "
			 "python3 scripts/gen-unicode-tables > common/unicode_tables.h",
			 smile_unicode_version(), U->version);
	for (uint32_t c = 0; c < CP_END; c++) {
		const char *gc = U->gc[c];
		int nd = strcmp(gc, "Nd") == 0, num = gc[0] == 'N';
		int want_numeric = U->numeric[c] || c == 0x4E24; /* 两: see the generator */

		if (smile_unicode_is_decimal(c) != nd || smile_unicode_is_letter(c) != (gc[0] == 'L') ||
		    smile_unicode_is_mark(c) != (gc[0] == 'M') ||
		    smile_unicode_is_combining(c) != U->ccc_nonzero[c] ||
		    smile_unicode_is_format(c) != (strcmp(gc, "Cf") == 0) ||
		    smile_unicode_is_numeric(c) != want_numeric || (num && !want_numeric)) {
			if (bad++ < 10)
				print_message("U+%04X (%s): table disagrees with the UCD\n", c,
					      gc[0] ? gc : "Cn");
		}
	}
	assert_int_equal(bad, 0);
	/* out of range: no class */
	assert_false(smile_unicode_is_numeric(CP_END));
	assert_false(smile_unicode_is_letter(0xFFFFFFFFu));
}

static void every_nd_code_point_is_a_digit(void **state)
{
	size_t nd = 0;
	(void)state;

	for (uint32_t c = 0; c < CP_END; c++) {
		char one[5] = {0}, eight[40];
		size_t k;

		if (strcmp(U->gc[c], "Nd") != 0)
			continue;
		nd++;
		k = put_utf8(one, c);
		for (int i = 0; i < 8; i++)
			memcpy(eight + (size_t)i * k, one, k);
		eight[8 * k] = '\0';
		if (!smile_unicode_is_decimal(c) || !smile_unicode_is_numeric(c) ||
		    smile_unicode_count_numeric(one, k) != 1 || run_of(eight) != 8)
			fail_msg("U+%04X (Nd) is not counted as a digit", c);
	}
	assert_true(nd >= 680); /* Unicode 15.0 has 680 */
	/* the eight blocks the hand-written table had missed, without the file */
	static const uint32_t zeros[] = {0x10D30, 0x11950, 0x11C50, 0x11D50,
					 0x11DA0, 0x11F50, 0x16AC0, 0x1E4F0};
	for (size_t i = 0; i < sizeof(zeros) / sizeof(zeros[0]); i++)
		for (uint32_t d = 0; d < 10; d++)
			assert_true(smile_unicode_is_decimal(zeros[i] + d));
}

static void numerals_of_every_kind_are_digits(void **state)
{
	/* 〇 零 一 两 兩 幺 壹 贰 叁 肆 伍 陆 柒 捌 玖 拾 佰 仟 万 亿 ① ¹ Ⅻ ½ ⑴ */
	static const uint32_t yes[] = {0x3007, 0x96F6, 0x4E00, 0x4E24, 0x5169, 0x5E7A,
				       0x58F9, 0x8D30, 0x53C1, 0x8086, 0x4F0D, 0x9646,
				       0x67D2, 0x634C, 0x7396, 0x62FE, 0x4F70, 0x4EDF,
				       0x4E07, 0x4EBF, 0x2460, 0xB9,   0x216B, 0xBD,
				       0x2474};
	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!smile_unicode_is_numeric(yes[i]))
			fail_msg("U+%04X has a numeric value", yes[i]);
	assert_false(smile_unicode_is_numeric('a'));
	assert_false(smile_unicode_is_numeric(0x5F20)); /* 张 */
	assert_false(smile_unicode_is_numeric(0x53F7)); /* 号 */
	/* numerals are letters too: 一 in a name is a letter */
	assert_true(smile_unicode_is_letter(0x4E00));
	assert_false(smile_unicode_is_letter(0x0661)); /* Arabic-Indic one */
	/* variation selectors are marks without a combining class */
	assert_true(smile_unicode_is_mark(0xFE0F));
	assert_false(smile_unicode_is_combining(0xFE0F));
	assert_true(smile_unicode_is_combining(0x0301));
	assert_true(smile_unicode_is_variation_selector(0xE0100));
	assert_false(smile_unicode_is_variation_selector(0x0301));
	assert_true(smile_unicode_is_format(0x200D)); /* ZWJ */
}

static void number_runs_ignore_separators_but_not_letters(void **state)
{
	(void)state;
	/* the shapes of issue 11: every one is an 11-digit phone number */
	assert_int_equal(run_of("①③⑧①②③④⑤⑥⑦⑧"), 11);
	assert_int_equal(run_of("¹³⁸¹²³⁴⁵⁶⁷⁸"), 11);
	assert_int_equal(run_of("一三八一二三四五六七八"), 11);
	assert_int_equal(run_of("壹叁捌壹贰叁肆伍陆柒捌"), 11);
	assert_int_equal(run_of("幺三八 两〇零"), 6);
	assert_int_equal(run_of("138.1234.5678"), 11);
	assert_int_equal(run_of("138/1234/5678"), 11);
	assert_int_equal(run_of("(415) 555-2671"), 10);
	assert_int_equal(run_of("call 138  1234  5678"), 11);
	assert_int_equal(run_of("1\xEF\xB8\x8F\xE2\x83\xA3" "3\xE2\x83\xA3"), 2); /* keycaps */
	assert_int_equal(run_of("１３８ - ١٢٣ ~ २३"), 8);
	/* letters end a run, marks and invalid bytes do not */
	assert_int_equal(run_of("Room 12 Floor 3"), 2);
	assert_int_equal(run_of("建设大道568号 138"), 3);
	assert_int_equal(run_of("12\xff" "34\xcc\x81" "56"), 6);
	assert_int_equal(run_of("湖北省 武汉市 430000 江汉区"), 6);
	assert_int_equal(run_of(""), 0);
	assert_int_equal(smile_unicode_number_run("12345", 3), 3); /* length respected */
	assert_int_equal(smile_unicode_count_numeric("1\xff" "2\xE0\xA5", 5), 2);
}

static void utf8_decoding_is_strict(void **state)
{
	uint32_t c = 0;
	(void)state;
	assert_int_equal(smile_unicode_utf8_decode("A", 1, &c), 1);
	assert_int_equal(c, 'A');
	assert_int_equal(smile_unicode_utf8_decode("\xE5\xBC\xA0", 3, &c), 3);
	assert_int_equal(c, 0x5F20);
	assert_int_equal(smile_unicode_utf8_decode("\xF0\x9F\x98\x80", 4, &c), 4);
	assert_int_equal(c, 0x1F600);
	assert_int_equal(smile_unicode_utf8_decode("\xE5\xBC", 2, &c), 0);     /* cut */
	assert_int_equal(smile_unicode_utf8_decode("\xC0\xAF", 2, &c), 0);     /* overlong */
	assert_int_equal(smile_unicode_utf8_decode("\xED\xA0\x80", 3, &c), 0); /* surrogate */
	assert_int_equal(smile_unicode_utf8_decode("\xF4\x90\x80\x80", 4, &c), 0); /* > 10FFFF */
	assert_int_equal(smile_unicode_utf8_decode("\x80", 1, &c), 0);
	assert_int_equal(smile_unicode_utf8_decode("", 0, &c), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tables_match_the_installed_ucd),
		cmocka_unit_test(every_nd_code_point_is_a_digit),
		cmocka_unit_test(numerals_of_every_kind_are_digits),
		cmocka_unit_test(number_runs_ignore_separators_but_not_letters),
		cmocka_unit_test(utf8_decoding_is_strict),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
