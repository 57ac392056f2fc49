/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the masking policy (gateway/mask.c).
 *
 * The examples table in docs/masking.md is this test's data: every row is
 * parsed and checked, so the documentation cannot drift from the code. Then
 * properties over generated inputs (no phone mask ever shows more than the
 * standard allows, no name is ever shown whole, output is valid UTF-8), the
 * full compound-surname rule, caps and API misuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smile/buf.h"
#include "smile/error.h"
#include "../../../gateway/mask.h"
#include "smile/unicode.h"

/* ------------------------------------------------------------ helpers */

/* Strict UTF-8 decoder, written apart from the one under test. */
static size_t dec(const unsigned char *s, uint32_t *cp)
{
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF && (s[1] & 0xC0) == 0x80) {
		*cp = ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
		return 2;
	}
	if ((s[0] & 0xF0) == 0xE0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80) {
		*cp = ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
		return (*cp >= 0x800 && (*cp < 0xD800 || *cp > 0xDFFF)) ? 3 : 0;
	}
	if (s[0] >= 0xF0 && s[0] <= 0xF4 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 &&
	    (s[3] & 0xC0) == 0x80) {
		*cp = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
		      ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
		return (*cp >= 0x10000 && *cp <= 0x10FFFF) ? 4 : 0;
	}
	return 0;
}

static int valid_utf8(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	uint32_t cp;

	while (*u) {
		size_t k = dec(u, &cp);
		if (k == 0)
			return 0;
		u += k;
	}
	return 1;
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

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

/* Is c something a masked name shows as "hidden" punctuation? */
static int is_mask_punct(uint32_t c)
{
	return c == '*' || c == ' ' || c == 0xB7;
}

static int is_mark(uint32_t c) { return c >= 0x300 && c <= 0x36F; }

/* Letters as the policy counts them, for the generated alphabets below. */
static int is_letter(uint32_t c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
		return 1;
	return c >= 0x80 && !is_mark(c) && c != 0xB7 && c != 0x3000;
}

/* -------------------------------------------------- the docs/masking.md table */

/* Decode \xHH and \u{...} escapes in place. */
static void unescape(char *s)
{
	char *o = s;

	while (*s) {
		if (s[0] == '\\' && s[1] == 'x' && s[2] && s[3]) {
			char hex[3] = {s[2], s[3], 0};
			*o++ = (char)strtoul(hex, NULL, 16);
			s += 4;
		} else if (s[0] == '\\' && s[1] == 'u' && s[2] == '{') {
			char *end;
			uint32_t c = (uint32_t)strtoul(s + 3, &end, 16);
			assert_true(*end == '}');
			o += put_utf8(o, c);
			s = end + 1;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
}

/* Strip spaces and one pair of backticks. */
static char *cell(char *s)
{
	size_t n;

	while (*s == ' ')
		s++;
	n = strlen(s);
	while (n > 0 && s[n - 1] == ' ')
		s[--n] = '\0';
	if (n >= 2 && s[0] == '`' && s[n - 1] == '`') {
		s[n - 1] = '\0';
		s++;
	}
	return s;
}

/* Does `msg` contain any 4-byte window of `value`? (Messages never echo.) */
static int echoes(const char *msg, const char *value)
{
	size_t n = value ? strlen(value) : 0;

	for (size_t i = 0; i + 4 <= n; i++) {
		char w[5];
		memcpy(w, value + i, 4);
		w[4] = '\0';
		if (strstr(msg, w) != NULL)
			return 1;
	}
	return 0;
}

static void result_err(char *got, size_t n, enum smile_err rc, const struct smile_error *e)
{
	char buf[300];

	if (e == NULL)
		snprintf(got, n, "ERR %s", smile_errname(rc));
	else
		snprintf(got, n, "ERR %s %s", smile_errname(rc), smile_error_format(e, buf, sizeof(buf)));
}

/* Run one row under one policy; returns 1 when it matches. */
static int run_row(int num, const char *field, enum smile_mask_policy p, char *input,
		   const char *want, int *echo_bad)
{
	char got[4 * SMILE_MASK_MAX], out[SMILE_MASK_MAX];
	struct smile_error e = {0};
	enum smile_err rc = SMILE_OK;

	got[0] = '\0';
	if (strcmp(field, "name") == 0 || strcmp(field, "phone") == 0) {
		rc = field[0] == 'n' ? smile_mask_name(p, input, out, sizeof(out), &e)
				     : smile_mask_phone(p, input, out, sizeof(out), &e);
		if (rc == SMILE_OK)
			snprintf(got, sizeof(got), "%s", out);
		else if (echoes(e.message, input))
			*echo_bad = num;
	} else if (strcmp(field, "address") == 0) {
		char *parts[6], *save = input, lines[SMILE_MASK_ADDR_LINES][SMILE_MASK_MAX];
		struct smile_address a;
		size_t nl = 99;

		for (int i = 0; i < 6; i++) {
			char *sep = strstr(save, " / ");
			parts[i] = save;
			if (sep) {
				*sep = '\0';
				save = sep + 3;
			} else {
				assert_int_equal(i, 5); /* six parts per address */
			}
			if (strcmp(parts[i], "-") == 0)
				parts[i] = NULL;
		}
		a = (struct smile_address){parts[0], parts[1], parts[2], parts[3], parts[4], parts[5]};
		rc = smile_mask_address(p, &a, lines, SMILE_MASK_ADDR_LINES, &nl, &e);
		if (rc == SMILE_OK) {
			size_t len = 0;

			for (size_t i = 0; i < nl; i++)
				len += (size_t)snprintf(got + len, sizeof(got) - len, "%s%s",
							i > 0 ? " \xC2\xB6 " : "", lines[i]);
		} else {
			assert_int_equal(nl, 0);
			for (int i = 0; i < 6; i++)
				if (echoes(e.message, parts[i]))
					*echo_bad = num;
		}
	} else if (strcmp(field, "note") == 0) {
		rc = smile_mask_note(input, &e);
		if (rc == SMILE_OK) /* printed as it is */
			snprintf(got, sizeof(got), "%s", input);
		else if (echoes(e.message, input))
			*echo_bad = num;
	} else if (strcmp(field, "policy") == 0) {
		enum smile_mask_policy q = (enum smile_mask_policy)77;
		rc = smile_mask_policy_parse(input, &q);
		if (rc == SMILE_OK)
			snprintf(got, sizeof(got), "%s", smile_mask_policy_name(q));
		else
			assert_int_equal(q, 77); /* untouched on error */
		if (rc != SMILE_OK) {
			result_err(got, sizeof(got), rc, NULL);
			rc = SMILE_OK;
		}
	} else {
		print_message("row %d: unknown field kind\n", num);
		return 0;
	}
	if (rc != SMILE_OK)
		result_err(got, sizeof(got), rc, &e);
	if (strcmp(got, want) != 0) {
		print_message("row %d (%s): got [%s], want [%s]\n", num,
			      smile_mask_policy_name(p), got, want);
		return 0;
	}
	return 1;
}

static FILE *open_doc(void)
{
	char path[4096];
	const char *root = getenv("SMILE_ROOT");
	FILE *f = NULL;

	if (root != NULL) {
		snprintf(path, sizeof(path), "%s/docs/masking.md", root);
		f = fopen(path, "r");
	}
	if (f == NULL)
		f = fopen("docs/masking.md", "r");
	if (f == NULL) { /* __FILE__ is tests/unit/gateway/test_mask.c from the root */
		snprintf(path, sizeof(path), "%s", __FILE__);
		char *cut = strstr(path, "tests/unit/gateway/");
		if (cut != NULL) {
			snprintf(cut, sizeof(path) - (size_t)(cut - path), "docs/masking.md");
			f = fopen(path, "r");
		}
	}
	return f;
}

static void docs_table_matches_the_code(void **state)
{
	struct smile_buf line;
	FILE *f = open_doc();
	int in_table = 0, rows = 0, failed = 0, echo_bad = 0, kinds[5] = {0}, errors = 0;
	(void)state;

	assert_non_null(f);
	smile_buf_init(&line, 4096);
	while (smile_buf_getline(&line, f) == SMILE_OK) {
		char *c[5], *s = line.data;
		int num, nc = 0;

		if (strncmp(s, "<!-- BEGIN mask-examples", 24) == 0) {
			in_table = 1;
			continue;
		}
		if (strncmp(s, "<!-- END mask-examples", 22) == 0)
			break;
		if (!in_table || s[0] != '|' || !(s[2] >= '0' && s[2] <= '9'))
			continue;
		/* "| n | field | policy | `input` | `want` |" */
		s++;
		while (nc < 5) {
			char *bar = strstr(s, " |");
			assert_non_null(bar);
			*bar = '\0';
			c[nc++] = cell(s);
			s = bar + 2;
		}
		num = (int)strtol(c[0], NULL, 10);
		assert_int_equal(num, rows + 1); /* no row skipped by the parser */
		rows++;
		unescape(c[3]);
		unescape(c[4]);
		if (strncmp(c[4], "ERR", 3) == 0)
			errors++;
		kinds[strcmp(c[1], "name") == 0      ? 0
		      : strcmp(c[1], "phone") == 0   ? 1
		      : strcmp(c[1], "address") == 0 ? 2
		      : strcmp(c[1], "note") == 0    ? 4
						     : 3]++;
		for (int p = 0; p < 2; p++) {
			char input[1024];
			enum smile_mask_policy pol = p ? SMILE_MASK_STRICT : SMILE_MASK_CN_GBT41833;

			if ((p == 0 && strcmp(c[2], "strict") == 0) ||
			    (p == 1 && strcmp(c[2], "cn") == 0))
				continue;
			assert_true(strcmp(c[2], "cn") == 0 || strcmp(c[2], "strict") == 0 ||
				    strcmp(c[2], "both") == 0);
			snprintf(input, sizeof(input), "%s", c[3]);
			if (!run_row(num, c[1], pol, input, c[4], &echo_bad))
				failed++;
		}
	}
	smile_buf_release(&line);
	fclose(f);
	print_message("docs/masking.md: %d rows checked, %d mismatches\n", rows, failed);
	assert_int_equal(failed, 0);
	assert_int_equal(echo_bad, 0);
	assert_true(rows >= 40);
	assert_true(kinds[0] >= 10 && kinds[1] >= 10 && kinds[2] >= 5 && kinds[3] >= 1 &&
		    kinds[4] >= 5);
	assert_true(errors >= 10);
}

/* ------------------------------------------------------------- properties */

static void phone_masks_never_show_too_much(void **state)
{
	(void)state;
	for (int iter = 0; iter < 20000; iter++) {
		char digits[16], in[64], out[SMILE_MASK_MAX], strict[SMILE_MASK_MAX];
		size_t nd = 5 + rnd(11), k = 0, shown, stars = 0;
		int style = (int)rnd(5);
		struct smile_error e = {0};

		for (size_t i = 0; i < sizeof(digits) - 1; i++)
			digits[i] = (char)('0' + rnd(10));
		if (style == 1) { /* Chinese mobile, maybe with +86 */
			nd = 11;
			digits[0] = '1';
			digits[1] = (char)('3' + rnd(7));
		}
		digits[nd] = '\0';
		if (style == 2 && digits[0] == '0')
			digits[0] = '4';
		if (style == 2 || (style == 1 && rnd(2)))
			in[k++] = '+';
		if (style == 1 && k == 1) { /* after the '+' */
			in[k++] = '8';
			in[k++] = '6';
			in[k++] = ' ';
		}
		if (style == 3 && nd >= 8) { /* area code in parentheses */
			in[k++] = '(';
			for (size_t i = 0; i < 3; i++)
				in[k++] = digits[i];
			in[k++] = ')';
		}
		for (size_t i = (style == 3 && nd >= 8) ? 3 : 0; i < nd; i++) {
			in[k++] = digits[i];
			if (rnd(4) == 0 && i + 1 < nd)
				in[k++] = rnd(2) ? ' ' : '-';
		}
		in[k] = '\0';
		size_t total = smile_mask_count_digits(in); /* +86 adds two */

		assert_int_equal(smile_mask_phone(SMILE_MASK_CN_GBT41833, in, out, sizeof(out), &e),
				 SMILE_OK);
		shown = smile_mask_count_digits(out);
		if (shown > 5 || shown > total / 2 || total - shown < (total < 6 ? total : 6)) {
			print_message("input [%s] -> [%s]\n", in, out);
			fail();
		}
		for (const char *c = out; *c; c++) {
			assert_non_null(strchr("0123456789*+- ", *c));
			stars += *c == '*';
		}
		assert_int_equal(stars, 7); /* fixed width, whatever the length */
		/* the digits after the mask are the number's own last digits */
		const char *tail = strrchr(out, '*') + 1;
		if (strncmp(tail, digits + nd - strlen(tail), strlen(tail)) != 0) {
			print_message("input [%s] -> [%s]: tail is not the number's own\n", in, out);
			fail();
		}

		assert_int_equal(smile_mask_phone(SMILE_MASK_STRICT, in, strict, sizeof(strict), &e),
				 SMILE_OK);
		assert_true(smile_mask_count_digits(strict) <= 2);
		assert_int_equal(strncmp(strict, "*******", 7), 0);
		assert_true(smile_mask_count_digits(strict) <= total / 2);
	}
}

static void name_masks_always_hide_and_never_split(void **state)
{
	static const uint32_t pools[][2] = {
		{0x4E00, 0x9FA5}, {'a', 'z'}, {'A', 'Z'}, {0xC0, 0xD6}, {0x410, 0x44F},
		{0xAC00, 0xD7A3}, {0x300, 0x36F}, {' ', ' '}, {0xB7, 0xB7}, {'\'', '\''},
		{'-', '-'}, {'0', '9'}, {0x3000, 0x3000}, {0x1F600, 0x1F64F},
	};
	int ok = 0;
	(void)state;

	for (int iter = 0; iter < 20000; iter++) {
		char in[512], out[SMILE_MASK_MAX];
		size_t n = 1 + rnd(iter % 4 == 0 ? 64 : 8), k = 0, in_letters = 0;
		int script = (int)rnd(3);
		struct smile_error e = {0};

		for (size_t i = 0; i < n; i++) {
			/* mostly one script per name, some noise */
			size_t pi = rnd(4) ? (size_t)(script == 0 ? 0 : script == 1 ? 1 + rnd(4) : 5)
					   : rnd(sizeof(pools) / sizeof(pools[0]));
			uint32_t c = pools[pi][0] + rnd(pools[pi][1] - pools[pi][0] + 1);
			k += put_utf8(in + k, c);
			in_letters += is_letter(c);
		}
		in[k] = '\0';
		for (int p = 0; p < 2; p++) {
			enum smile_err rc = smile_mask_name(p ? SMILE_MASK_STRICT : SMILE_MASK_CN_GBT41833,
							    in, out, sizeof(out), &e);
			size_t shown = 0;
			const unsigned char *u = (const unsigned char *)out;

			if (rc != SMILE_OK) {
				assert_int_equal(rc, SMILE_ERR_FIELD_VALUE); /* dots, no letter, empty */
				assert_string_equal(out, "");
				assert_string_equal(e.field, "name");
				continue;
			}
			ok++;
			assert_true(valid_utf8(out));
			assert_non_null(strstr(out, "**"));
			while (*u) {
				uint32_t c;
				size_t m = dec(u, &c);
				char one[5] = {0};

				memcpy(one, u, m);
				if (!is_mask_punct(c)) {
					shown += !is_mark(c);
					/* everything shown comes from the input */
					assert_non_null(strstr(in, one));
				}
				u += m;
			}
			if (shown > (p ? 1u : 2u) || shown >= in_letters) { /* one letter hidden */
				print_message("input [%s] -> [%s] (%s)\n", in, out, p ? "strict" : "cn");
				fail();
			}
		}
	}
	assert_true(ok > 10000);
}

/* Issue 12: whatever follows a letter, a shown initial is that letter and at
 * most two canonical combining marks; invisible selectors and joiners are
 * refused, not carried; every shown character is a letter. */
static void name_initials_carry_no_hidden_data(void **state)
{
	static const uint32_t pools[][2] = {
		{'a', 'z'},       {0x4E00, 0x9FA5}, {0x5D0, 0x5EA},   {0x627, 0x64A},
		{0xE01, 0xE2E},   {0x300, 0x36F},   {0x591, 0x5C7},   {0x64B, 0x65F},
		{0xE31, 0xE3A},   {0x20D0, 0x20F0}, {0x1AB0, 0x1ACE}, {0x3099, 0x309A},
		{0x93E, 0x94D},   {0x660, 0x669},   {0x2460, 0x2473}, {0x4E00, 0x4E00},
		{' ', ' '},
	};
	static const uint32_t hidden[] = {0xFE00, 0xFE0F, 0xE0100, 0xE01EF, 0x200D, 0x200C,
					  0x2060, 0x180E, 0xFEFF, 0x200B};
	int ok = 0, refused = 0;
	(void)state;

	for (int iter = 0; iter < 20000; iter++) {
		char in[512], out[SMILE_MASK_MAX];
		size_t n = 1 + rnd(12), k = 0;
		int inject = rnd(4) == 0;
		struct smile_error e = {0};

		for (size_t i = 0; i < n; i++) {
			size_t pi = i == 0 ? rnd(5) : rnd(sizeof(pools) / sizeof(pools[0]));
			k += put_utf8(in + k, pools[pi][0] + rnd(pools[pi][1] - pools[pi][0] + 1));
		}
		if (inject) /* after the first character: right behind an initial */
			k += put_utf8(in + k, hidden[rnd(sizeof(hidden) / sizeof(hidden[0]))]);
		for (size_t i = 0; inject && i < 3; i++)
			k += put_utf8(in + k, 'a' + rnd(26));
		in[k] = '\0';
		for (int p = 0; p < 2; p++) {
			enum smile_err rc = smile_mask_name(p ? SMILE_MASK_STRICT : SMILE_MASK_CN_GBT41833,
							    in, out, sizeof(out), &e);
			const unsigned char *u = (const unsigned char *)out;
			int marks = -1; /* marks after the last shown letter; -1: none shown */

			if (inject) {
				assert_int_equal(rc, SMILE_ERR_FIELD_VALUE);
				assert_string_equal(e.field, "name");
				assert_true(strstr(e.message, "variation selector") != NULL ||
					    strstr(e.message, "invisible") != NULL);
				refused++;
				continue;
			}
			if (rc != SMILE_OK) {
				assert_int_equal(rc, SMILE_ERR_FIELD_VALUE);
				continue;
			}
			ok++;
			while (*u) {
				uint32_t c;
				size_t m = dec(u, &c);

				assert_true(m > 0);
				if (is_mask_punct(c)) {
					marks = -1;
				} else if (smile_unicode_is_letter(c)) {
					/* one letter per initial; two bare ideographs
					 * for a compound surname (欧阳**) */
					assert_true(marks == -1 || (marks == 0 && c >= 0x3400));
					marks = 0;
				} else {
					if (marks < 0 || !smile_unicode_is_combining(c) || ++marks > 2) {
						print_message("input [%s] -> [%s]: U+%04X shown\n", in,
							      out, c);
						fail();
					}
				}
				u += m;
			}
		}
	}
	assert_true(ok > 5000 && refused > 5000);
}

/* -------------------------------------------------------- the named rules */

static void every_compound_surname_is_kept(void **state)
{
	/* the compound surnames named in the issue, and a few more */
	static const char *const names[] = {
		"欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容",
		"令狐", "长孙", "宇文", "司徒", "夏侯", "轩辕", "端木", "独孤", "南宫",
		"万俟", "闻人", "澹台", "呼延", "歐陽", "司馬", "諸葛", "東方", "獨孤",
	};
	char in[64], want[64], out[SMILE_MASK_MAX];
	(void)state;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(in, sizeof(in), "%s明", names[i]);
		snprintf(want, sizeof(want), "%s**", names[i]);
		assert_int_equal(smile_mask_name(SMILE_MASK_CN_GBT41833, in, out, sizeof(out), NULL),
				 SMILE_OK);
		assert_string_equal(out, want);
		/* the surname alone: one of its two characters is hidden */
		assert_int_equal(smile_mask_name(SMILE_MASK_CN_GBT41833, names[i], out, sizeof(out),
						 NULL),
				 SMILE_OK);
		assert_int_equal(strlen(out), 3 + 2);
		assert_memory_equal(out, names[i], 3);
		/* strict: one character */
		assert_int_equal(smile_mask_name(SMILE_MASK_STRICT, in, out, sizeof(out), NULL),
				 SMILE_OK);
		assert_int_equal(strlen(out), 3 + 2);
	}
	/* a single surname that merely starts like one is not taken for it */
	assert_int_equal(smile_mask_name(SMILE_MASK_CN_GBT41833, "欧明阳", out, sizeof(out), NULL),
			 SMILE_OK);
	assert_string_equal(out, "欧**");
}

/* n copies of the UTF-8 character c into buf (NUL-terminated). */
static char *repeat(char *buf, const char *c, int n)
{
	size_t k = strlen(c);

	for (int i = 0; i < n; i++)
		memcpy(buf + (size_t)i * k, c, k);
	buf[(size_t)n * k] = '\0';
	return buf;
}

static void caps_are_enforced(void **state)
{
	char in[1200], out[SMILE_MASK_MAX], lines[SMILE_MASK_ADDR_LINES][SMILE_MASK_MAX];
	char big[3][300];
	struct smile_error e = {0};
	struct smile_address a = {.city = "武汉市"};
	size_t nl;
	(void)state;

	/* names: 64 code points */
	assert_int_equal(smile_mask_name(SMILE_MASK_CN_GBT41833, repeat(in, "a", 64), out,
					 sizeof(out), &e),
			 SMILE_OK);
	assert_int_equal(smile_mask_name(SMILE_MASK_CN_GBT41833, repeat(in, "a", 65), out,
					 sizeof(out), &e),
			 SMILE_ERR_FIELD_VALUE);
	assert_string_equal(e.message, "over 64 characters");
	/* spaces around the value do not count */
	memset(in, ' ', 3);
	repeat(in + 3, "a", 64);
	memset(in + 67, ' ', 3);
	in[70] = '\0';
	assert_int_equal(smile_mask_name(SMILE_MASK_CN_GBT41833, in, out, sizeof(out), &e), SMILE_OK);
	assert_string_equal(out, "a**");
	/* 64 ideographs are 192 bytes and fine; 65 are not */
	assert_int_equal(smile_mask_name(SMILE_MASK_CN_GBT41833, repeat(in, "张", 64), out,
					 sizeof(out), &e),
			 SMILE_OK);
	assert_string_equal(out, "张**");
	assert_int_equal(smile_mask_name(SMILE_MASK_CN_GBT41833, repeat(in, "张", 65), out,
					 sizeof(out), &e),
			 SMILE_ERR_FIELD_VALUE);
	/* a huge input is refused without being scanned to its end */
	assert_int_equal(smile_mask_name(SMILE_MASK_CN_GBT41833, repeat(in, "b", 1000), out,
					 sizeof(out), &e),
			 SMILE_ERR_FIELD_VALUE);

	/* phone: 32 bytes with formatting at most */
	snprintf(in, sizeof(in), "138%s12345678", repeat(big[0], " ", 21));
	assert_int_equal(strlen(in), 32);
	assert_int_equal(smile_mask_phone(SMILE_MASK_CN_GBT41833, in, out, sizeof(out), &e),
			 SMILE_OK);
	assert_string_equal(out, "138*******8");
	snprintf(in, sizeof(in), "138%s12345678", repeat(big[0], " ", 22));
	assert_int_equal(smile_mask_phone(SMILE_MASK_CN_GBT41833, in, out, sizeof(out), &e),
			 SMILE_ERR_FIELD_VALUE);
	assert_string_equal(e.message, "over 32 characters");

	/* address parts: 64 code points, detail 128 */
	a.street = repeat(in, "x", 65);
	assert_int_equal(smile_mask_address(SMILE_MASK_CN_GBT41833, &a, lines, 3, &nl, &e),
			 SMILE_ERR_FIELD_VALUE);
	assert_string_equal(e.field, "address.street");
	a.street = repeat(in, "x", 64);
	assert_int_equal(smile_mask_address(SMILE_MASK_CN_GBT41833, &a, lines, 3, &nl, &e), SMILE_OK);
	a.street = NULL;
	a.detail = repeat(in, "y", 129);
	assert_int_equal(smile_mask_address(SMILE_MASK_CN_GBT41833, &a, lines, 3, &nl, &e),
			 SMILE_ERR_FIELD_VALUE);
	assert_string_equal(e.field, "address.detail");
	a.detail = repeat(in, "y", 128);
	assert_int_equal(smile_mask_address(SMILE_MASK_CN_GBT41833, &a, lines, 3, &nl, &e), SMILE_OK);

	/* the longest possible lines still fit SMILE_MASK_MAX */
	repeat(big[0], "\xF0\xA0\x80\x80", 64); /* U+20000: 256 bytes */
	repeat(big[1], "张", 64);
	repeat(big[2], "李", 64);
	a = (struct smile_address){big[1], big[0], big[1], big[2], big[0], big[0]};
	assert_int_equal(smile_mask_address(SMILE_MASK_CN_GBT41833, &a, lines, 3, &nl, &e), SMILE_OK);
	assert_int_equal(nl, 3);
	assert_int_equal(strlen(lines[0]), 256 + 1 + 192 + 1 + 192);
	assert_int_equal(strlen(lines[1]), 256 + 5);
	assert_string_equal(lines[2], big[1]);
}

static void buffers_and_misuse(void **state)
{
	char out[8], lines[SMILE_MASK_ADDR_LINES][SMILE_MASK_MAX];
	struct smile_error e = {0};
	struct smile_address a = {"GB", NULL, "London", NULL, "Baker Street", "221B"};
	size_t nl = 7;
	(void)state;

	assert_int_equal(smile_mask_name(SMILE_MASK_CN_GBT41833, "Jane Smith", out, 4, &e),
			 SMILE_ERR_BUFFER_SMALL);
	assert_string_equal(out, "");
	assert_string_equal(e.field, "name");
	assert_int_equal(smile_mask_name(SMILE_MASK_CN_GBT41833, "Jane Smith", out, 8, &e), SMILE_OK);
	assert_string_equal(out, "J** S**"); /* exactly 7 bytes + NUL */
	assert_int_equal(smile_mask_phone(SMILE_MASK_CN_GBT41833, "13812345678", out, sizeof(out), &e),
			 SMILE_ERR_BUFFER_SMALL);
	assert_string_equal(out, "");
	assert_int_equal(smile_mask_name(SMILE_MASK_CN_GBT41833, "Jane", NULL, 8, &e),
			 SMILE_ERR_INVALID);
	assert_int_equal(smile_mask_name(SMILE_MASK_CN_GBT41833, "Jane", out, 0, &e),
			 SMILE_ERR_INVALID);
	assert_int_equal(smile_mask_name((enum smile_mask_policy)9, "Jane", out, 8, &e),
			 SMILE_ERR_INVALID);
	assert_int_equal(smile_mask_phone((enum smile_mask_policy)9, "13812345678", out, 8, NULL),
			 SMILE_ERR_INVALID);
	assert_int_equal(smile_mask_name(SMILE_MASK_CN_GBT41833, NULL, out, 8, &e),
			 SMILE_ERR_MISSING_FIELD);
	assert_string_equal(e.field, "name");
	assert_int_equal(smile_mask_phone(SMILE_MASK_STRICT, NULL, out, 8, &e),
			 SMILE_ERR_MISSING_FIELD);
	assert_string_equal(e.field, "phone");

	/* three lines needed for a foreign address */
	assert_int_equal(smile_mask_address(SMILE_MASK_CN_GBT41833, &a, lines, 2, &nl, &e),
			 SMILE_ERR_BUFFER_SMALL);
	assert_int_equal(nl, 0);
	assert_int_equal(smile_mask_address(SMILE_MASK_CN_GBT41833, &a, lines, 3, &nl, NULL),
			 SMILE_OK);
	assert_int_equal(nl, 3);
	assert_int_equal(smile_mask_address(SMILE_MASK_CN_GBT41833, NULL, lines, 3, &nl, &e),
			 SMILE_ERR_INVALID);
	assert_int_equal(smile_mask_address(SMILE_MASK_CN_GBT41833, &a, NULL, 3, &nl, &e),
			 SMILE_ERR_INVALID);
	assert_int_equal(smile_mask_address(SMILE_MASK_CN_GBT41833, &a, lines, 3, NULL, &e),
			 SMILE_ERR_INVALID);
	assert_int_equal(smile_mask_address((enum smile_mask_policy)3, &a, lines, 3, &nl, &e),
			 SMILE_ERR_INVALID);
	a.city = "   ";
	assert_int_equal(smile_mask_address(SMILE_MASK_STRICT, &a, lines, 3, &nl, &e),
			 SMILE_ERR_MISSING_FIELD);
	assert_string_equal(e.field, "address.city");
}

static void address_detail_never_printed(void **state)
{
	static const char *const details[] = {"新世界国贸大厦1座2301室", "Flat 2, 221B",
					      "3单元1201", "Apt 7G"};
	char lines[SMILE_MASK_ADDR_LINES][SMILE_MASK_MAX];
	size_t nl;
	(void)state;

	for (size_t i = 0; i < sizeof(details) / sizeof(details[0]); i++) {
		struct smile_address a = {"CN", "湖北省", "武汉市", "江汉区", "建设大道568号",
					  details[i]};
		for (int p = 0; p < 2; p++) {
			assert_int_equal(smile_mask_address(p ? SMILE_MASK_STRICT
							      : SMILE_MASK_CN_GBT41833,
							    &a, lines, 3, &nl, NULL),
					 SMILE_OK);
			for (size_t l = 0; l < nl; l++) {
				assert_null(strstr(lines[l], details[i]));
				assert_null(strstr(lines[l], "2301"));
				assert_null(strstr(lines[l], "1201"));
				if (p == 1) { /* strict: no street, no district */
					assert_null(strstr(lines[l], "建设大道"));
					assert_null(strstr(lines[l], "江汉区"));
				}
			}
			/* the detail mask is there, and fixed */
			assert_string_equal(lines[1] + strlen(lines[1]) - 4, "****");
		}
	}
}

static void policy_names_and_digit_count(void **state)
{
	enum smile_mask_policy p = SMILE_MASK_STRICT;
	(void)state;

	assert_int_equal(smile_mask_policy_parse(NULL, &p), SMILE_ERR_CONFIG);
	assert_int_equal(p, SMILE_MASK_STRICT);
	assert_int_equal(smile_mask_policy_parse("cn-gbt41833", NULL), SMILE_ERR_CONFIG);
	assert_int_equal(smile_mask_policy_parse("Cn-GbT41833", &p), SMILE_OK);
	assert_int_equal(p, SMILE_MASK_CN_GBT41833);
	assert_int_equal(smile_mask_policy_parse("", &p), SMILE_ERR_CONFIG);
	assert_int_equal(smile_mask_policy_parse("strict ", &p), SMILE_ERR_CONFIG);
	assert_int_equal(SMILE_MASK_POLICY_DEFAULT, SMILE_MASK_CN_GBT41833);
	assert_string_equal(smile_mask_policy_name(SMILE_MASK_CN_GBT41833), "cn-gbt41833");
	assert_string_equal(smile_mask_policy_name(SMILE_MASK_STRICT), "strict");
	assert_string_equal(smile_mask_policy_name((enum smile_mask_policy)42), "unknown");

	assert_int_equal(smile_mask_count_digits(NULL), 0);
	assert_int_equal(smile_mask_count_digits("138*******8"), 4);
	assert_int_equal(smile_mask_count_digits("１３８ 1"), 4); /* fullwidth digits count */
	assert_int_equal(smile_mask_count_digits("张**"), 0);
	assert_int_equal(smile_mask_count_digits("\xD9\xA1\xD9\xA3 \xE0\xA5\xA8"), 3); /* ١٣ २ */
	assert_int_equal(smile_mask_count_digits("1\xff" "2\xE0\xA5"), 2); /* bad bytes skipped */
}

/* Every decimal digit of Unicode (UnicodeData.txt, category Nd) is a digit
 * to the masker: counted on a phone, and 8 of them in any printed address
 * part or 6 in a note are a phone number. The UCD comes with `make deps`
 * (package unicode-data); $SMILE_UCD_DIR overrides where it is read. */
static void every_unicode_digit_is_a_digit_to_the_masker(void **state)
{
	static const char *const fields[] = {"address.country", "address.province",
					     "address.city", "address.district",
					     "address.street"};
	char path[1024], line[512];
	const char *dir = getenv("SMILE_UCD_DIR");
	size_t nd = 0;
	FILE *f;
	(void)state;

	snprintf(path, sizeof(path), "%s/UnicodeData.txt", dir ? dir : "/usr/share/unicode");
	f = fopen(path, "r");
	if (f == NULL)
		fail_msg("%s: cannot open (run `make deps`: package unicode-data)", path);
	while (fgets(line, sizeof(line), f)) {
		char one[5] = {0}, run[64], lines[SMILE_MASK_ADDR_LINES][SMILE_MASK_MAX];
		char *semi = strchr(line, ';');
		uint32_t c = (uint32_t)strtoul(line, NULL, 16);
		size_t k, nl;
		struct smile_error e = {0};

		/* Nd has no <First>..<Last> ranges: one line per digit */
		if (semi == NULL || (semi = strchr(semi + 1, ';')) == NULL ||
		    strncmp(semi, ";Nd;", 4) != 0)
			continue;
		nd++;
		k = put_utf8(one, c);
		if (smile_mask_count_digits(one) != 1)
			fail_msg("U+%04X (Nd) is not counted as a digit", c);
		for (int i = 0; i < 8; i++) { /* "d d d d d d d d" */
			memcpy(run + (size_t)i * (k + 1), one, k);
			run[(size_t)i * (k + 1) + k] = ' ';
		}
		run[8 * (k + 1) - 1] = '\0';
		for (int part = 0; part < 5; part++) {
			struct smile_address a = {"CN", "湖北省", "武汉市", "江汉区", "建设大道", NULL};
			const char **slot[] = {&a.country, &a.province, &a.city, &a.district,
					       &a.street};

			*slot[part] = run;
			if (smile_mask_address(SMILE_MASK_CN_GBT41833, &a, lines, 3, &nl, &e) !=
				    SMILE_ERR_FIELD_VALUE ||
			    strcmp(e.field, fields[part]) != 0)
				fail_msg("U+%04X x 8 in %s: not refused", c, fields[part]);
		}
		run[6 * (k + 1) - 1] = '\0';
		if (smile_mask_note(run, &e) != SMILE_ERR_FIELD_VALUE)
			fail_msg("U+%04X x 6 in a note: not refused", c);
	}
	fclose(f);
	assert_true(nd >= 680);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(docs_table_matches_the_code),
		cmocka_unit_test(phone_masks_never_show_too_much),
		cmocka_unit_test(name_masks_always_hide_and_never_split),
		cmocka_unit_test(name_initials_carry_no_hidden_data),
		cmocka_unit_test(every_compound_surname_is_kept),
		cmocka_unit_test(caps_are_enforced),
		cmocka_unit_test(buffers_and_misuse),
		cmocka_unit_test(address_detail_never_printed),
		cmocka_unit_test(policy_names_and_digit_count),
		cmocka_unit_test(every_unicode_digit_is_a_digit_to_the_masker),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
