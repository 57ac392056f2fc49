/* SPDX-License-Identifier: Apache-2.0 */
/*
 * unicode.c - character classes for the label rules, from generated tables.
 *
 * The one idea: every class is a sorted table of [first, last] ranges
 * generated from the Unicode Character Database (common/unicode_tables.h,
 * scripts/gen-unicode-tables), looked up by binary search: at most ten
 * comparisons for the largest table, and ASCII answered before any search.
 * Nothing here is typed by hand, so no block can be forgotten.
 */
#include "smile/unicode.h"

#include "unicode_tables.h"

#define N(t) (sizeof(t) / sizeof((t)[0]))

static int in_table(const struct ucd_range *t, size_t n, uint32_t c)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c < t[mid].first)
			hi = mid;
		else if (c > t[mid].last)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

const char *smile_unicode_version(void) { return UCD_VERSION; }

int smile_unicode_is_decimal(uint32_t c)
{
	if (c < 0x80)
		return c >= '0' && c <= '9';
	return in_table(ucd_decimal, N(ucd_decimal), c);
}

int smile_unicode_is_numeric(uint32_t c)
{
	if (c < 0x80)
		return c >= '0' && c <= '9';
	return in_table(ucd_numeric, N(ucd_numeric), c);
}

int smile_unicode_is_letter(uint32_t c)
{
	if (c < 0x80)
		return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
	return in_table(ucd_letter, N(ucd_letter), c);
}

int smile_unicode_is_mark(uint32_t c)
{
	return c >= 0x300 && in_table(ucd_mark, N(ucd_mark), c);
}

int smile_unicode_is_combining(uint32_t c)
{
	return c >= 0x300 && in_table(ucd_combining, N(ucd_combining), c);
}

int smile_unicode_is_format(uint32_t c)
{
	return c >= 0xAD && in_table(ucd_format, N(ucd_format), c);
}

int smile_unicode_is_variation_selector(uint32_t c)
{
	return (c >= 0xFE00 && c <= 0xFE0F) || (c >= 0xE0100 && c <= 0xE01EF);
}

size_t smile_unicode_utf8_decode(const char *str, size_t len, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)str;
	uint32_t c;
	size_t need, i;

	if (len == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	} else if ((s[0] & 0xE0) == 0xC0) {
		c = s[0] & 0x1F;
		need = 2;
	} else if ((s[0] & 0xF0) == 0xE0) {
		c = s[0] & 0x0F;
		need = 3;
	} else if ((s[0] & 0xF8) == 0xF0) {
		c = s[0] & 0x07;
		need = 4;
	} else {
		return 0;
	}
	if (len < need)
		return 0;
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if ((need == 2 && c < 0x80) || (need == 3 && c < 0x800) ||
	    (need == 4 && c < 0x10000) || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return need;
}

size_t smile_unicode_count_numeric(const char *s, size_t len)
{
	size_t k = 0;

	for (size_t i = 0; i < len;) {
		uint32_t c;
		size_t m = smile_unicode_utf8_decode(s + i, len - i, &c);

		if (m == 0) { /* not UTF-8: that byte is no digit */
			i++;
			continue;
		}
		k += (size_t)smile_unicode_is_numeric(c);
		i += m;
	}
	return k;
}

size_t smile_unicode_number_run(const char *s, size_t len)
{
	size_t best = 0, run = 0;

	for (size_t i = 0; i < len;) {
		uint32_t c;
		size_t m = smile_unicode_utf8_decode(s + i, len - i, &c);

		if (m == 0) { /* a stray byte is no letter: it cannot end a run */
			i++;
			continue;
		}
		i += m;
		if (smile_unicode_is_numeric(c)) { /* before letter: 一 is both */
			if (++run > best)
				best = run;
		} else if (smile_unicode_is_letter(c)) {
			run = 0;
		}
	}
	return best;
}
