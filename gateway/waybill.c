/* SPDX-License-Identifier: Apache-2.0 */
/*
 * waybill.c - format and check waybill numbers (format: gateway/waybill.h).
 *
 * The one idea: ISO/IEC 7064 MOD 97-10 over the whole number, letters read
 * as two digits (A=10 ... Z=35) as in IBAN. Because 97 is a prime larger than
 * any difference a single substitution (< 36 times a power of ten) or an
 * adjacent transposition (9 or 99 times a difference < 36) can make, and 10
 * is invertible mod 97, neither kind of error can leave the remainder at 1.
 */
#include "waybill.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Remainder mod 97 of s[0..n) read as digits, letters as 10..35. */
static unsigned mod97(const char *s, size_t n)
{
	unsigned r = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z')
			r = (r * 100 + (unsigned)(c - 'A' + 10)) % 97;
		else
			r = (r * 10 + (unsigned)(c - '0')) % 97;
	}
	return r;
}

static int is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int date_valid(uint32_t yymmdd)
{
	static const unsigned char mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned yy = yymmdd / 10000, mm = yymmdd / 100 % 100, dd = yymmdd % 100;

	if (yymmdd > 991231 || mm < 1 || mm > 12 || dd < 1 || dd > mdays[mm - 1])
		return 0;
	/* 2000-2099: every year divisible by 4 is a leap year */
	return !(mm == 2 && dd == 29 && yy % 4 != 0);
}

enum smile_err smile_waybill_prefix_check(const char *prefix, struct smile_error *e)
{
	size_t n;

	if (prefix == NULL)
		return smile_error_set(e, SMILE_ERR_MISSING_FIELD, "prefix", "missing");
	n = strnlen(prefix, SMILE_WAYBILL_PREFIX_MAX + 1);
	if (n < SMILE_WAYBILL_PREFIX_MIN || n > SMILE_WAYBILL_PREFIX_MAX)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "prefix",
				       "need %d-%d letters A-Z", SMILE_WAYBILL_PREFIX_MIN,
				       SMILE_WAYBILL_PREFIX_MAX);
	for (size_t i = 0; i < n; i++)
		if (!is_upper(prefix[i]))
			return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "prefix",
					       "character %zu is not a letter A-Z", i + 1);
	return SMILE_OK;
}

enum smile_err smile_waybill_format(const char *prefix, uint32_t yymmdd, uint64_t seq,
				    char out[SMILE_WAYBILL_MAX], struct smile_error *e)
{
	enum smile_err rc;
	unsigned check;
	int len;

	if (out == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, "waybill", "no output buffer");
	out[0] = '\0';
	rc = smile_waybill_prefix_check(prefix, e);
	if (rc != SMILE_OK)
		return rc;
	if (!date_valid(yymmdd))
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "date",
				       "not a calendar date YYMMDD");
	if (seq > SMILE_WAYBILL_SEQ_MAX)
		return smile_error_set(e, SMILE_ERR_TOO_LARGE, "seq",
				       "over %u for one prefix and day", SMILE_WAYBILL_SEQ_MAX);
	len = snprintf(out, SMILE_WAYBILL_MAX, "%s%06u%07u00", prefix, (unsigned)yymmdd,
		       (unsigned)seq);
	if (len < 0 || len >= SMILE_WAYBILL_MAX) {
		out[0] = '\0';
		return smile_error_set(e, SMILE_ERR_INTERNAL, "waybill", "format overflow");
	}
	/* ISO 7064 MOD 97-10: append "00", check = 98 - remainder */
	check = 98 - mod97(out, (size_t)len);
	out[len - 2] = (char)('0' + check / 10);
	out[len - 1] = (char)('0' + check % 10);
	return SMILE_OK;
}

enum smile_err smile_waybill_parse(const char *waybill,
				   char prefix[SMILE_WAYBILL_PREFIX_MAX + 1],
				   uint32_t *yymmdd, uint64_t *seq, struct smile_error *e)
{
	size_t n, np = 0;
	uint32_t date = 0;
	uint64_t s = 0;

	if (waybill == NULL)
		return smile_error_set(e, SMILE_ERR_MISSING_FIELD, "waybill", "missing");
	n = strnlen(waybill, SMILE_WAYBILL_MAX);
	while (np < n && is_upper(waybill[np]))
		np++;
	if (np < SMILE_WAYBILL_PREFIX_MIN || np > SMILE_WAYBILL_PREFIX_MAX)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "waybill",
				       "need a prefix of %d-%d letters A-Z",
				       SMILE_WAYBILL_PREFIX_MIN, SMILE_WAYBILL_PREFIX_MAX);
	for (size_t i = np; i < n; i++)
		if (!is_digit(waybill[i]))
			return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "waybill",
					       "character %zu is not a digit", i + 1);
	if (n - np != SMILE_WAYBILL_DIGITS || waybill[n] != '\0')
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "waybill",
				       "need %d digits after the prefix", SMILE_WAYBILL_DIGITS);
	for (size_t i = np; i < np + 6; i++)
		date = date * 10 + (uint32_t)(waybill[i] - '0');
	for (size_t i = np + 6; i < np + 6 + SMILE_WAYBILL_SEQ_DIGITS; i++)
		s = s * 10 + (uint64_t)(waybill[i] - '0');
	if (!date_valid(date))
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "waybill",
				       "date part is not a calendar date");
	if (mod97(waybill, n) != 1)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "waybill",
				       "check digits do not match");
	if (prefix != NULL) {
		memcpy(prefix, waybill, np);
		prefix[np] = '\0';
	}
	if (yymmdd != NULL)
		*yymmdd = date;
	if (seq != NULL)
		*seq = s;
	return SMILE_OK;
}

enum smile_err smile_waybill_check(const char *waybill, struct smile_error *e)
{
	return smile_waybill_parse(waybill, NULL, NULL, NULL, e);
}

uint32_t smile_waybill_yymmdd(int64_t unix_time, int32_t utc_offset_s)
{
	time_t t = (time_t)(unix_time + utc_offset_s);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		return 0;
	return (uint32_t)(((tm.tm_year + 1900) % 100) * 10000 + (tm.tm_mon + 1) * 100 +
			  tm.tm_mday);
}
