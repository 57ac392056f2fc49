/* SPDX-License-Identifier: Apache-2.0 */
/*
 * record.c - parse and validate one label record (JSON) into a fixed struct.
 *
 * The record comes from outside (a file, the gateway), so everything is
 * capped before it is looked at: the whole line first (SMILE_LABEL_RECORD_MAX),
 * then every value against its own limit. UTF-8 is validated before jansson
 * sees the bytes, so an invalid byte can be pinned to the field that holds
 * it: a tiny scanner walks the JSON up to the bad offset and names the path
 * ("recipient.address[1]"). jansson's own error texts quote the input, so
 * they are never passed on; our messages describe, never echo.
 *
 * The struct has fixed-size arrays (one allocation, wiped on free), and the
 * fail-closed privacy test (privacy.c) runs on every printed text of the
 * record before it is handed out: a record that exists has passed it.
 */
#include "label_internal.h"

#include "smile/unicode.h"

#include <glib.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ field paths */

#define PATH_DEPTH 8

struct path_frame {
	int is_obj;
	long index;
	const char *key;
	size_t key_len;
};

static int key_printable(const char *k, size_t n)
{
	if (n == 0 || n > 32)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = k[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

static void path_build(const struct path_frame *st, int depth, char *out, size_t n)
{
	size_t used = 0;

	out[0] = '\0';
	for (int i = 0; i < depth && i < PATH_DEPTH && used < n; i++) {
		int w;
		if (st[i].is_obj) {
			if (st[i].key == NULL)
				break;
			if (key_printable(st[i].key, st[i].key_len))
				w = snprintf(out + used, n - used, "%s%.*s", used ? "." : "",
					     (int)st[i].key_len, st[i].key);
			else
				w = snprintf(out + used, n - used, "%s?", used ? "." : "");
		} else {
			w = snprintf(out + used, n - used, "[%ld]", st[i].index);
		}
		if (w < 0)
			break;
		used += (size_t)w;
	}
	if (used >= n)
		out[n - 1] = '\0';
}

/*
 * The JSON path of the value that contains byte `pos` of s[0..len). The text
 * before pos is assumed to be JSON (it is: a parser stopped at pos); after a
 * surprise the best path so far is returned. Keys outside [A-Za-z0-9_] are
 * written as "?" so no input text reaches an error message.
 */
static void json_path_at(const char *s, size_t len, size_t pos, char *out, size_t n)
{
	struct path_frame st[PATH_DEPTH];
	int depth = 0;
	int expect_key = 0;
	size_t i = 0;

	while (i < len && i <= pos) {
		char c = s[i];
		struct path_frame *top = depth > 0 && depth <= PATH_DEPTH ? &st[depth - 1] : NULL;

		if (c == '"') {
			size_t j = i + 1;
			while (j < len && s[j] != '"') {
				if (s[j] == '\\' && j + 1 < len)
					j++;
				j++;
			}
			if (pos <= j) {
				/* inside this string: in a key, name the object */
				int d = (top && top->is_obj && expect_key) ? depth - 1 : depth;
				path_build(st, d, out, n);
				return;
			}
			if (top && top->is_obj && expect_key) {
				top->key = s + i + 1;
				top->key_len = j - i - 1;
				expect_key = 0;
			}
			i = j + 1;
			continue;
		}
		switch (c) {
		case '{':
		case '[':
			if (depth < PATH_DEPTH) {
				st[depth].is_obj = c == '{';
				st[depth].index = 0;
				st[depth].key = NULL;
				st[depth].key_len = 0;
			}
			depth++;
			expect_key = c == '{';
			break;
		case '}':
		case ']':
			if (depth > 0)
				depth--;
			expect_key = 0;
			break;
		case ',':
			if (top && top->is_obj) {
				top->key = NULL;
				expect_key = 1;
			} else if (top) {
				top->index++;
			}
			break;
		case ':':
			expect_key = 0;
			break;
		default:
			break;
		}
		i++;
	}
	path_build(st, depth, out, n);
}

/* ------------------------------------------------------------ values */

static size_t utf8_count(const char *s, size_t n)
{
	size_t cp = 0;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			cp++;
	return cp;
}

/* C0/C1 controls, line/paragraph separators, bidi embeddings, overrides and
 * isolates: they could hide or reorder what a label shows. */
static int forbidden_cp(gunichar c)
{
	return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x2028 || c == 0x2029 ||
	       (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069) ||
	       c == 0xFEFF;
}

static const char *json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "something else";
}

/*
 * Copy the string value `v` (field `field`) into dst[dstsz], trimmed of
 * ASCII spaces at both ends, after checking type, length (max_cp code
 * points), emptiness and forbidden characters.
 */
static enum smile_err take_text(const json_t *v, const char *field, size_t max_cp, char *dst,
				size_t dstsz, struct smile_error *e)
{
	const char *s;
	size_t n, cp;

	if (v == NULL)
		return smile_error_set(e, SMILE_ERR_MISSING_FIELD, field, "required");
	if (!json_is_string(v))
		return smile_error_set(e, SMILE_ERR_FIELD_TYPE, field, "expected a string, got %s",
				       json_type_name(v));
	s = json_string_value(v);
	n = json_string_length(v);
	while (n > 0 && s[0] == ' ') {
		s++;
		n--;
	}
	while (n > 0 && s[n - 1] == ' ')
		n--;
	cp = utf8_count(s, n);
	if (cp > max_cp)
		return smile_error_set(e, SMILE_ERR_TOO_LARGE, field,
				       "%zu characters, at most %zu", cp, max_cp);
	if (n == 0)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, field, "empty");
	if (n + 1 > dstsz) /* cannot happen: dstsz is 4 bytes per code point */
		return smile_error_set(e, SMILE_ERR_TOO_LARGE, field, "%zu bytes, too long", n);
	for (const char *p = s; p < s + n; p = g_utf8_next_char(p)) {
		if (forbidden_cp(g_utf8_get_char(p)))
			return smile_error_set(e, SMILE_ERR_FIELD_VALUE, field,
					       "contains a control or bidi-override character");
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
	return SMILE_OK;
}

static enum smile_err take_int(const json_t *v, const char *field, long lo, long hi, long *out,
			       struct smile_error *e)
{
	json_int_t x;

	if (v == NULL)
		return smile_error_set(e, SMILE_ERR_MISSING_FIELD, field, "required");
	if (!json_is_integer(v))
		return smile_error_set(e, SMILE_ERR_FIELD_TYPE, field, "expected an integer, got %s",
				       json_type_name(v));
	x = json_integer_value(v);
	if (x < lo || x > hi)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, field, "out of range %ld-%ld", lo,
				       hi);
	*out = (long)x;
	return SMILE_OK;
}

static enum smile_err check_waybill(const char *s, struct smile_error *e)
{
	for (const char *p = s; *p; p++) {
		char c = *p;
		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c == '-' && p != s)))
			return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "waybill",
					       "only A-Z, 0-9 and '-' (not first) are allowed");
	}
	return SMILE_OK;
}

static int leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static enum smile_err check_date(const char *s, struct smile_error *e)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, m, d;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		goto bad;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			goto bad;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 2000 || m < 1 || m > 12 || d < 1 ||
	    d > mdays[m - 1] + (m == 2 && leap(y)))
		goto bad;
	return SMILE_OK;
bad:
	return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "date",
			       "not a calendar date as YYYY-MM-DD (year 2000 or later)");
}

/* QR alphanumeric mode characters (ISO/IEC 18004 table 5), which are also
 * the base45 alphabet of RFC 9285. */
static int qr_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || c == ' ' || c == '$' ||
	       c == '%' || c == '*' || c == '+' || c == '-' || c == '.' || c == '/' || c == ':';
}

static enum smile_err check_token(const char *s, struct smile_error *e)
{
	if (strncmp(s, "SW1:", 4) != 0 || s[4] == '\0')
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "token",
				       "must be \"SW1:\" followed by the encoded token");
	for (const char *p = s; *p; p++)
		if (!qr_alnum(*p))
			return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "token",
					       "only QR alphanumeric characters (0-9 A-Z space $%%*+-./:) "
					       "are allowed");
	return SMILE_OK;
}

static enum smile_err check_phone_chars(const char *s, struct smile_error *e)
{
	for (const char *p = s; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (smile_unicode_is_decimal(c) || c == '*' || c == 0xFF0A || c == '+' || c == '-' ||
		    c == ' ' || c == '(' || c == ')')
			continue;
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "phone",
				       "only digits, '*', '+', '-', spaces and parentheses are allowed");
	}
	return SMILE_OK;
}

static enum smile_err take_party(const json_t *root, const char *key, struct label_party *p,
				 struct smile_error *e)
{
	const json_t *o = json_object_get(root, key);
	const json_t *a;
	char field[SMILE_ERROR_FIELD_MAX];
	enum smile_err err;
	size_t n;

	if (o == NULL)
		return smile_error_set(e, SMILE_ERR_MISSING_FIELD, key, "required");
	if (!json_is_object(o))
		return smile_error_set(e, SMILE_ERR_FIELD_TYPE, key, "expected an object, got %s",
				       json_type_name(o));
	snprintf(field, sizeof(field), "%s.name", key);
	err = take_text(json_object_get(o, "name"), field, LABEL_NAME_MAX, p->name,
			sizeof(p->name), e);
	if (err)
		return err;
	snprintf(field, sizeof(field), "%s.phone", key);
	err = take_text(json_object_get(o, "phone"), field, LABEL_PHONE_MAX, p->phone,
			sizeof(p->phone), e);
	if (err)
		return err;
	err = check_phone_chars(p->phone, e);
	if (err) {
		smile_error_prefix(e, key);
		return err;
	}
	snprintf(field, sizeof(field), "%s.address", key);
	a = json_object_get(o, "address");
	if (a == NULL)
		return smile_error_set(e, SMILE_ERR_MISSING_FIELD, field, "required");
	if (!json_is_array(a))
		return smile_error_set(e, SMILE_ERR_FIELD_TYPE, field,
				       "expected an array of strings, got %s", json_type_name(a));
	n = json_array_size(a);
	if (n == 0)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, field, "no lines, need 1-%d",
				       LABEL_ADDR_LINES_MAX);
	if (n > LABEL_ADDR_LINES_MAX)
		return smile_error_set(e, SMILE_ERR_TOO_LARGE, field, "%zu lines, at most %d", n,
				       LABEL_ADDR_LINES_MAX);
	for (size_t i = 0; i < n; i++) {
		snprintf(field, sizeof(field), "%s.address[%zu]", key, i);
		err = take_text(json_array_get(a, i), field, LABEL_ADDR_LINE_MAX, p->address[i],
				sizeof(p->address[i]), e);
		if (err)
			return err;
	}
	p->n_address = (int)n;
	return SMILE_OK;
}

static enum smile_err json_failure(const char *json, size_t len, const json_error_t *je,
				   struct smile_error *e)
{
	char path[SMILE_ERROR_FIELD_MAX];
	size_t pos = je->position > 0 ? (size_t)je->position : 0;
	const char *what;

	switch (json_error_code(je)) {
	case json_error_out_of_memory:
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
	case json_error_premature_end_of_input:
		what = "the JSON ends early";
		break;
	case json_error_end_of_input_expected:
		what = "text follows the JSON value";
		break;
	case json_error_null_character:
		what = "a \\u0000 escape is not allowed";
		break;
	case json_error_duplicate_key:
		what = "a key appears twice";
		break;
	case json_error_numeric_overflow:
		what = "a number is too large";
		break;
	case json_error_stack_overflow:
		what = "nested too deeply";
		break;
	case json_error_invalid_utf8:
		what = "invalid UTF-8";
		break;
	default:
		what = "JSON syntax error";
		break;
	}
	if (pos > len)
		pos = len;
	/* jansson reports the position after the offending token; step back
	 * onto it so the path names the value, not the next one. */
	json_path_at(json, len, pos > 0 ? pos - 1 : 0, path, sizeof(path));
	return smile_error_set(e, SMILE_ERR_JSON, path, "%s (byte %zu)", what, pos);
}

enum smile_err smile_label_record_parse(const char *json, size_t len,
					struct smile_label_record **out, struct smile_error *e)
{
	struct smile_label_record *rec = NULL;
	json_t *root = NULL;
	json_error_t je;
	const char *bad = NULL;
	enum smile_err err;
	long v;

	if (out)
		*out = NULL;
	if (json == NULL || out == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "no record or no output");
	if (len > SMILE_LABEL_RECORD_MAX)
		return smile_error_set(e, SMILE_ERR_TOO_LARGE, "record", "%zu bytes, at most %d",
				       len, SMILE_LABEL_RECORD_MAX);
	if (!g_utf8_validate(json, (gssize)len, &bad)) {
		char path[SMILE_ERROR_FIELD_MAX];
		size_t at = (size_t)(bad - json);
		json_path_at(json, len, at, path, sizeof(path));
		return smile_error_set(e, SMILE_ERR_UTF8, path,
				       "invalid UTF-8 or a NUL byte (byte %zu)", at);
	}
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL)
		return json_failure(json, len, &je, e);
	if (!json_is_object(root)) {
		err = smile_error_set(e, SMILE_ERR_JSON, NULL,
				      "a label record is a JSON object, got %s",
				      json_type_name(root));
		goto out;
	}
	rec = calloc(1, sizeof(*rec));
	if (rec == NULL) {
		err = smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
		goto out;
	}

	err = take_text(json_object_get(root, "waybill"), "waybill", LABEL_WAYBILL_MAX,
			rec->waybill, sizeof(rec->waybill), e);
	if (!err)
		err = check_waybill(rec->waybill, e);
	if (!err)
		err = take_text(json_object_get(root, "sort_code"), "sort_code", LABEL_SORT_MAX,
				rec->sort_code, sizeof(rec->sort_code), e);
	if (!err)
		err = take_text(json_object_get(root, "service"), "service", LABEL_SERVICE_MAX,
				rec->service, sizeof(rec->service), e);
	if (!err)
		err = take_text(json_object_get(root, "date"), "date", 10, rec->date,
				sizeof(rec->date), e);
	if (!err)
		err = check_date(rec->date, e);
	if (!err)
		err = take_text(json_object_get(root, "token"), "token", LABEL_TOKEN_MAX,
				rec->token, sizeof(rec->token), e);
	if (!err)
		err = check_token(rec->token, e);
	if (!err)
		err = take_text(json_object_get(root, "merchant"), "merchant",
				LABEL_MERCHANT_MAX, rec->merchant, sizeof(rec->merchant), e);
	if (!err)
		err = take_party(root, "recipient", &rec->recipient, e);
	if (!err)
		err = take_party(root, "sender", &rec->sender, e);
	if (!err) {
		err = take_int(json_object_get(root, "weight_g"), "weight_g", 1,
			       LABEL_WEIGHT_MAX, &rec->weight_g, e);
	}
	if (!err) {
		const json_t *p = json_object_get(root, "parcel");
		if (p == NULL) {
			err = smile_error_set(e, SMILE_ERR_MISSING_FIELD, "parcel", "required");
		} else if (!json_is_object(p)) {
			err = smile_error_set(e, SMILE_ERR_FIELD_TYPE, "parcel",
					      "expected an object, got %s", json_type_name(p));
		} else {
			err = take_int(json_object_get(p, "count"), "parcel.count", 1,
				       LABEL_PARCELS_MAX, &v, e);
			rec->parcel_count = (int)v;
			if (!err)
				err = take_int(json_object_get(p, "index"), "parcel.index", 1,
					       LABEL_PARCELS_MAX, &v, e);
			rec->parcel_index = (int)v;
			if (!err && rec->parcel_index > rec->parcel_count)
				err = smile_error_set(e, SMILE_ERR_FIELD_VALUE, "parcel.index",
						      "greater than parcel.count");
		}
	}
	if (!err) {
		const json_t *n = json_object_get(root, "note");
		/* optional: absent, null or blank is no note */
		if (n != NULL && !json_is_null(n) &&
		    !(json_is_string(n) &&
		      strspn(json_string_value(n), " ") == json_string_length(n))) {
			err = take_text(n, "note", LABEL_NOTE_MAX, rec->note, sizeof(rec->note),
					e);
		}
	}
	/* fail closed: nothing printed may carry personal data */
	if (!err)
		err = label_privacy_check_record(rec, e);
	if (!err) {
		*out = rec;
		rec = NULL;
	}
out:
	smile_label_record_free(rec);
	json_decref(root);
	return err;
}

void smile_label_record_free(struct smile_label_record *rec)
{
	if (rec == NULL)
		return;
	sodium_memzero(rec, sizeof(*rec));
	free(rec);
}

const char *smile_label_record_waybill(const struct smile_label_record *rec)
{
	return rec ? rec->waybill : "";
}

const char *smile_label_record_token(const struct smile_label_record *rec)
{
	return rec ? rec->token : "";
}
