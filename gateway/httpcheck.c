/* SPDX-License-Identifier: Apache-2.0 */
/*
 * httpcheck.c - strict checks of request targets, header names and query
 * values (httpcheck.h).
 *
 * Everything is a single left-to-right scan with no allocation, so the
 * checks cost a few nanoseconds per request and can be fuzzed in isolation.
 * Calendar arithmetic is done here (days from civil, after Howard Hinnant's
 * algorithm) rather than with strptime/timegm, which accept "2026-02-30" and
 * quietly turn it into March 2nd.
 */
#include "httpcheck.h"

#include <string.h>

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode the %-escape at s (s[0] == '%'); -1 when malformed. */
static int escape_at(const char *s)
{
	int hi = hexval((unsigned char)s[1]);
	int lo = hi < 0 ? -1 : hexval((unsigned char)s[2]);
	return lo < 0 ? -1 : hi * 16 + lo;
}

static const char *check_path(const char *p, const char **end)
{
	size_t seg_len = 0; /* decoded bytes in the current segment */
	size_t seg_dots = 0;

	for (;; p++) {
		unsigned char c = (unsigned char)*p;
		int d;
		if (c == '\0' || c == '?' || c == '/') {
			if (seg_len > 0 && seg_len == seg_dots && seg_len <= 2)
				return "the path has a '.' or '..' segment";
			if (c != '/') {
				*end = p;
				return NULL;
			}
			seg_len = seg_dots = 0;
			continue;
		}
		if (c < 0x21 || c == 0x7f)
			return "the path has a space or control character";
		if (c >= 0x80)
			return "the path has a byte outside ASCII (percent-encode it)";
		if (c == '\\')
			return "the path has a backslash";
		if (c == '#')
			return "the request target has a fragment (#)";
		d = c;
		if (c == '%') {
			d = escape_at(p);
			if (d < 0)
				return "the path has a malformed percent-escape";
			if (d == 0)
				return "the path has an encoded NUL (%00)";
			if (d == '/')
				return "the path has an encoded slash (%2F)";
			if (d == '\\')
				return "the path has an encoded backslash (%5C)";
			if (d < 0x20 || d == 0x7f)
				return "the path has an encoded control character";
			p += 2;
		}
		seg_len++;
		if (d == '.')
			seg_dots++;
	}
}

static const char *check_query(const char *p)
{
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x21 || c >= 0x7f)
			return "the query has a space, control character or byte outside ASCII";
		if (c == '#')
			return "the request target has a fragment (#)";
		if (c == '%') {
			int d = escape_at(p);
			if (d < 0)
				return "the query has a malformed percent-escape";
			if (d == 0)
				return "the query has an encoded NUL (%00)";
			p += 2;
		}
	}
	return NULL;
}

const char *httpcheck_target(const char *uri, const char **part)
{
	const char *end = NULL, *why;

	*part = "path";
	if (uri == NULL || uri[0] != '/')
		return "the request target must be a path starting with '/'";
	why = check_path(uri, &end);
	if (why)
		return why;
	if (*end == '?') {
		*part = "query";
		return check_query(end + 1);
	}
	return NULL;
}

int httpcheck_token(const char *name)
{
	/* RFC 9110 section 5.6.2: tchar */
	static const char extra[] = "!#$%&'*+-.^_`|~";
	if (name == NULL || *name == '\0')
		return 0;
	for (const char *p = name; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c != '\0' && strchr(extra, c) != NULL)))
			return 0;
	}
	return 1;
}

int httpcheck_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t n = 0;

	if (s == NULL || *s == '\0')
		return 0;
	for (; *s; s++, n++) {
		unsigned d = (unsigned)((unsigned char)*s - '0');
		if (d > 9 || n >= 40)
			return 0;
		if (v > (UINT64_MAX - d) / 10)
			return 0; /* overflow: too large for any bound */
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return 0;
	*out = v;
	return 1;
}

/* n decimal digits at s, all present; -1 otherwise. */
static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && leap(y) ? 29 : dm[m - 1];
}

/* Days since 1970-01-01 of a valid proleptic Gregorian date. */
static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int httpcheck_since(const char *s, int64_t *ms)
{
	size_t n;
	int y, mo, d, h = 0, mi = 0, sec = 0;
	uint64_t v;
	int64_t t;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n >= 9 && n <= 15 && strspn(s, "0123456789") == n) {
		if (!httpcheck_uint(s, 0, (uint64_t)HTTPCHECK_SINCE_MAX_MS, &v))
			return 0;
		*ms = (int64_t)v;
		return 1;
	}
	if (n != 10 && n != 20)
		return 0;
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	if (y < 0 || mo < 1 || mo > 12 || d < 1 || s[4] != '-' || s[7] != '-' ||
	    d > days_in_month(y, mo))
		return 0;
	if (n == 20) {
		h = digits(s + 11, 2);
		mi = digits(s + 14, 2);
		sec = digits(s + 17, 2);
		if (s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z' || h < 0 ||
		    h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59)
			return 0;
	}
	t = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + sec;
	*ms = t < 0 ? 0 : t * 1000;
	return 1;
}
