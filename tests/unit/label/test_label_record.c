/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for label records: every field's missing / wrong type / bad
 * value / over-long error names that field, invalid UTF-8 is pinned to the
 * value that holds it, the fail-closed privacy check refuses unmasked names
 * and phones on both parties, and no error message echoes the input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smile/buf.h"
#include "smile/error.h"
#include "smile/label.h"
#include "smile/unicode.h"

static const char base_json[] =
	"{\"waybill\":\"SW2611290000017\",\"sort_code\":\"342-081-KM\","
	"\"service\":\"STANDARD\",\"date\":\"2026-11-29\","
	"\"token\":\"SW1:NCFOXN*TDP5ZA8OM2L9V4A$QHSW7 .9J/V+P5GQ%0FYPAS0KKA6\","
	"\"merchant\":\"Ziyun Store\","
	"\"recipient\":{\"name\":\"张*明\",\"phone\":\"138*******8\","
	"\"address\":[\"湖北省 武汉市 江汉区\",\"建设大道568号 ****\"]},"
	"\"sender\":{\"name\":\"王*\",\"phone\":\"027******9\","
	"\"address\":[\"湖北省 武汉市 江汉区 泛海国际SOHO城\"]},"
	"\"weight_g\":1200,\"parcel\":{\"index\":1,\"count\":1},\"note\":\"optional\"}";

static json_t *base(void)
{
	json_error_t je;
	json_t *o = json_loads(base_json, 0, &je);
	assert_non_null(o);
	return o;
}

/* Parse `o` (consumed). Returns the code; fills *e. */
static enum smile_err parse_json(json_t *o, struct smile_error *e)
{
	char *s = json_dumps(o, JSON_COMPACT);
	struct smile_label_record *rec = NULL;
	enum smile_err err;

	assert_non_null(s);
	memset(e, 0, sizeof(*e));
	err = smile_label_record_parse(s, strlen(s), &rec, e);
	if (err == SMILE_OK)
		assert_non_null(rec);
	else
		assert_null(rec);
	smile_label_record_free(rec);
	free(s);
	json_decref(o);
	return err;
}

static enum smile_err parse_str(const char *s, size_t n, struct smile_error *e)
{
	struct smile_label_record *rec = NULL;
	enum smile_err err;

	memset(e, 0, sizeof(*e));
	err = smile_label_record_parse(s, n, &rec, e);
	smile_label_record_free(rec);
	return err;
}

/* Set a value at a dotted path ("recipient.address[1]" not supported here:
 * use set_in). */
static json_t *set(json_t *o, const char *key, json_t *v)
{
	json_object_set_new(o, key, v);
	return o;
}

static json_t *set_in(json_t *o, const char *obj, const char *key, json_t *v)
{
	json_object_set_new(json_object_get(o, obj), key, v);
	return o;
}

static json_t *del(json_t *o, const char *key)
{
	json_object_del(o, key);
	return o;
}

static json_t *del_in(json_t *o, const char *obj, const char *key)
{
	json_object_del(json_object_get(o, obj), key);
	return o;
}

#define EXPECT(err_, field_, call)                                                    \
	do {                                                                          \
		struct smile_error e_;                                                \
		enum smile_err got_ = parse_json((call), &e_);                        \
		if (got_ != (err_) || strcmp(e_.field, (field_)) != 0)                \
			fail_msg("%s: got %s at '%s' (%s), want %s at '%s'", #call,   \
				 smile_errname(got_), e_.field, e_.message,           \
				 smile_errname(err_), (field_));                      \
	} while (0)

static void valid_record_parses(void **state)
{
	struct smile_label_record *rec = NULL;
	struct smile_error e = {0};
	(void)state;
	assert_int_equal(smile_label_record_parse(base_json, strlen(base_json), &rec, &e),
			 SMILE_OK);
	assert_string_equal(smile_label_record_waybill(rec), "SW2611290000017");
	assert_string_equal(smile_label_record_token(rec),
			    "SW1:NCFOXN*TDP5ZA8OM2L9V4A$QHSW7 .9J/V+P5GQ%0FYPAS0KKA6");
	smile_label_record_free(rec);
	smile_label_record_free(NULL);
	/* unknown fields are ignored, even nested ones */
	EXPECT(SMILE_OK, "", set(base(), "colour", json_string("blue")));
	EXPECT(SMILE_OK, "", set_in(base(), "recipient", "email", json_string("x")));
	/* the note is optional: absent, null or blank */
	EXPECT(SMILE_OK, "", del(base(), "note"));
	EXPECT(SMILE_OK, "", set(base(), "note", json_null()));
	EXPECT(SMILE_OK, "", set(base(), "note", json_string("   ")));
	/* a record need not be NUL-terminated: parse a prefix of a longer buffer */
	{
		char buf[sizeof(base_json) + 8];
		memcpy(buf, base_json, strlen(base_json));
		memcpy(buf + strlen(base_json), "garbage", 8);
		assert_int_equal(parse_str(buf, strlen(base_json), &e), SMILE_OK);
	}
	assert_int_equal(smile_label_record_parse(NULL, 0, &rec, &e), SMILE_ERR_INVALID);
}

static void missing_fields_are_named(void **state)
{
	static const char *const top[] = {"waybill", "sort_code", "service", "date", "token",
					  "merchant", "recipient", "sender", "weight_g", "parcel"};
	(void)state;
	for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++)
		EXPECT(SMILE_ERR_MISSING_FIELD, top[i], del(base(), top[i]));
	EXPECT(SMILE_ERR_MISSING_FIELD, "recipient.name", del_in(base(), "recipient", "name"));
	EXPECT(SMILE_ERR_MISSING_FIELD, "recipient.phone", del_in(base(), "recipient", "phone"));
	EXPECT(SMILE_ERR_MISSING_FIELD, "recipient.address",
	       del_in(base(), "recipient", "address"));
	EXPECT(SMILE_ERR_MISSING_FIELD, "sender.name", del_in(base(), "sender", "name"));
	EXPECT(SMILE_ERR_MISSING_FIELD, "sender.phone", del_in(base(), "sender", "phone"));
	EXPECT(SMILE_ERR_MISSING_FIELD, "sender.address", del_in(base(), "sender", "address"));
	EXPECT(SMILE_ERR_MISSING_FIELD, "parcel.index", del_in(base(), "parcel", "index"));
	EXPECT(SMILE_ERR_MISSING_FIELD, "parcel.count", del_in(base(), "parcel", "count"));
}

static void wrong_types_are_named(void **state)
{
	json_t *a;
	(void)state;
	EXPECT(SMILE_ERR_FIELD_TYPE, "waybill", set(base(), "waybill", json_integer(17)));
	EXPECT(SMILE_ERR_FIELD_TYPE, "merchant", set(base(), "merchant", json_true()));
	EXPECT(SMILE_ERR_FIELD_TYPE, "date", set(base(), "date", json_null()));
	EXPECT(SMILE_ERR_FIELD_TYPE, "recipient", set(base(), "recipient", json_string("张*明")));
	EXPECT(SMILE_ERR_FIELD_TYPE, "recipient.address",
	       set_in(base(), "recipient", "address", json_string("one line")));
	a = json_pack("[s,i]", "湖北省", 568);
	EXPECT(SMILE_ERR_FIELD_TYPE, "recipient.address[1]",
	       set_in(base(), "recipient", "address", a));
	EXPECT(SMILE_ERR_FIELD_TYPE, "sender.phone",
	       set_in(base(), "sender", "phone", json_integer(27)));
	EXPECT(SMILE_ERR_FIELD_TYPE, "weight_g", set(base(), "weight_g", json_string("1200")));
	EXPECT(SMILE_ERR_FIELD_TYPE, "weight_g", set(base(), "weight_g", json_real(1.2)));
	EXPECT(SMILE_ERR_FIELD_TYPE, "parcel", set(base(), "parcel", json_pack("[i,i]", 1, 1)));
	EXPECT(SMILE_ERR_FIELD_TYPE, "parcel.count",
	       set_in(base(), "parcel", "count", json_string("1")));
	EXPECT(SMILE_ERR_FIELD_TYPE, "note", set(base(), "note", json_integer(3)));
}

static void bad_values_are_named(void **state)
{
	(void)state;
	EXPECT(SMILE_ERR_FIELD_VALUE, "waybill", set(base(), "waybill", json_string("sw26")));
	EXPECT(SMILE_ERR_FIELD_VALUE, "waybill", set(base(), "waybill", json_string("SW/26")));
	EXPECT(SMILE_ERR_FIELD_VALUE, "waybill", set(base(), "waybill", json_string("-SW26")));
	EXPECT(SMILE_ERR_FIELD_VALUE, "waybill", set(base(), "waybill", json_string("")));
	EXPECT(SMILE_ERR_FIELD_VALUE, "date", set(base(), "date", json_string("2026-02-30")));
	EXPECT(SMILE_OK, "", set(base(), "date", json_string("2028-02-29")));
	EXPECT(SMILE_ERR_FIELD_VALUE, "date", set(base(), "date", json_string("2026-13-01")));
	EXPECT(SMILE_ERR_FIELD_VALUE, "date", set(base(), "date", json_string("29/11/2026")));
	EXPECT(SMILE_ERR_FIELD_VALUE, "token", set(base(), "token", json_string("SW1:")));
	EXPECT(SMILE_ERR_FIELD_VALUE, "token", set(base(), "token", json_string("SW2:ABC")));
	EXPECT(SMILE_ERR_FIELD_VALUE, "token", set(base(), "token", json_string("SW1:abc")));
	EXPECT(SMILE_ERR_FIELD_VALUE, "token", set(base(), "token", json_string("SW1:AB=")));
	EXPECT(SMILE_OK, "", set(base(), "token", json_string("SW1:0-9 A-Z $%*+-./:")));
	EXPECT(SMILE_ERR_FIELD_VALUE, "recipient.phone",
	       set_in(base(), "recipient", "phone", json_string("138****x**8")));
	EXPECT(SMILE_ERR_FIELD_VALUE, "weight_g", set(base(), "weight_g", json_integer(0)));
	EXPECT(SMILE_ERR_FIELD_VALUE, "weight_g", set(base(), "weight_g", json_integer(-5)));
	EXPECT(SMILE_ERR_FIELD_VALUE, "weight_g", set(base(), "weight_g", json_integer(1000001)));
	EXPECT(SMILE_ERR_FIELD_VALUE, "parcel.index",
	       set(base(), "parcel", json_pack("{s:i,s:i}", "index", 3, "count", 2)));
	EXPECT(SMILE_ERR_FIELD_VALUE, "parcel.count",
	       set(base(), "parcel", json_pack("{s:i,s:i}", "index", 1, "count", 0)));
	EXPECT(SMILE_ERR_FIELD_VALUE, "merchant", set(base(), "merchant", json_string("  ")));
	/* control and bidi-override characters could hide what is printed */
	EXPECT(SMILE_ERR_FIELD_VALUE, "merchant", set(base(), "merchant", json_string("Zi\ayun")));
	EXPECT(SMILE_ERR_FIELD_VALUE, "recipient.name",
	       set_in(base(), "recipient", "name", json_string("张*\xE2\x80\xAE明")));
	EXPECT(SMILE_ERR_FIELD_VALUE, "sender.address[0]",
	       set_in(base(), "sender", "address", json_pack("[s]", "line\nbreak")));
	EXPECT(SMILE_ERR_FIELD_VALUE, "recipient.address",
	       set_in(base(), "recipient", "address", json_array()));
}

static json_t *repeat(const char *unit, size_t n)
{
	size_t ul = strlen(unit);
	char *s = malloc(ul * n + 1);
	json_t *v;
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * ul, unit, ul);
	s[ul * n] = '\0';
	v = json_string(s);
	free(s);
	return v;
}

static void over_long_values_are_named(void **state)
{
	struct smile_error e;
	char *big;
	json_t *lines;
	(void)state;
	/* caps count characters, not bytes: 64 CJK characters is fine */
	EXPECT(SMILE_OK, "", set(base(), "merchant", repeat("店", 64)));
	EXPECT(SMILE_ERR_TOO_LARGE, "merchant", set(base(), "merchant", repeat("店", 65)));
	EXPECT(SMILE_ERR_TOO_LARGE, "waybill", set(base(), "waybill", repeat("A", 33)));
	{
		char tok[140] = "SW1:";
		memset(tok + 4, 'A', 124);
		tok[128] = '\0';
		EXPECT(SMILE_OK, "", set(base(), "token", json_string(tok)));
		tok[128] = 'B';
		tok[129] = '\0';
		EXPECT(SMILE_ERR_TOO_LARGE, "token", set(base(), "token", json_string(tok)));
	}
	EXPECT(SMILE_ERR_TOO_LARGE, "recipient.name",
	       set_in(base(), "recipient", "name", repeat("*", 65)));
	EXPECT(SMILE_ERR_TOO_LARGE, "recipient.address[0]",
	       set_in(base(), "recipient", "address", json_pack("[o]", repeat("路", 261))));
	lines = json_pack("[s,s,s,s,s]", "a", "b", "c", "d", "e");
	EXPECT(SMILE_ERR_TOO_LARGE, "recipient.address", set_in(base(), "recipient", "address", lines));
	EXPECT(SMILE_ERR_TOO_LARGE, "note", set(base(), "note", repeat("x", 141)));
	/* the whole record is capped before anything is parsed */
	big = malloc(SMILE_LABEL_RECORD_MAX + 2);
	memset(big, ' ', SMILE_LABEL_RECORD_MAX + 1);
	big[0] = '{';
	big[SMILE_LABEL_RECORD_MAX] = '}';
	assert_int_equal(parse_str(big, SMILE_LABEL_RECORD_MAX + 1, &e), SMILE_ERR_TOO_LARGE);
	assert_string_equal(e.field, "record");
	free(big);
}

/* A record with one byte of `field_value` replaced by an invalid one. */
static void invalid_utf8_names_the_value(void **state)
{
	static const struct {
		const char *needle; /* unique text inside the value to corrupt */
		const char *field;
	} cases[] = {
		{"568", "recipient.address[1]"},
		{"武汉市", "recipient.address[0]"},
		{"Ziyun", "merchant"},
		{"王", "sender.name"},
		{"optional", "note"},
		{"027", "sender.phone"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = strdup(base_json);
		char *p = strstr(s, cases[i].needle);
		struct smile_error e;
		assert_non_null(p);
		p[0] = (char)0xC3; /* a lead byte followed by ASCII: invalid */
		if ((unsigned char)p[1] >= 0x80)
			p[1] = 'x';
		assert_int_equal(parse_str(s, strlen(s), &e), SMILE_ERR_UTF8);
		assert_string_equal(e.field, cases[i].field);
		free(s);
	}
	/* an invalid key: the error names the object that holds it */
	{
		const char *s = "{\"waybill\":\"SW1\",\"recipient\":{\"n\xFF\":1}}";
		struct smile_error e;
		assert_int_equal(parse_str(s, strlen(s), &e), SMILE_ERR_UTF8);
		assert_string_equal(e.field, "recipient");
	}
}

static void json_errors_never_echo_input(void **state)
{
	static const char *const bad[] = {
		"{\"waybill\":\"SW2611\",\"recipient\":{\"name\":\"Kowalski\" \"phone\":1}}",
		"{\"waybill\":\"SW2611\",\"recipient\":{\"name\":Kowalski}}",
		"{\"waybill\":\"SW2611\"} Kowalski",
		"{\"waybill\":\"SW2611\",\"note\":\"Kowalski",
		"[\"Kowalski\"]",
		"Kowalski",
		"",
		"{\"note\":\"Kowalski\\u0000\"}",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct smile_error e;
		assert_int_equal(parse_str(bad[i], strlen(bad[i]), &e), SMILE_ERR_JSON);
		assert_null(strstr(e.message, "Kowal"));
		assert_null(strstr(e.field, "Kowal"));
	}
	/* where it broke, when the scanner can tell */
	{
		struct smile_error e;
		const char *s = bad[1];
		assert_int_equal(parse_str(s, strlen(s), &e), SMILE_ERR_JSON);
		assert_string_equal(e.field, "recipient.name");
	}
	/* duplicate keys are refused, not silently resolved */
	{
		struct smile_error e;
		const char *s = "{\"waybill\":\"SW1\",\"waybill\":\"SW2\"}";
		assert_int_equal(parse_str(s, strlen(s), &e), SMILE_ERR_JSON);
		assert_non_null(strstr(e.message, "twice"));
	}
}

static void unmasked_parties_fail_closed(void **state)
{
	struct smile_error e;
	json_t *o;
	(void)state;
	/* phones: more than 5 digits visible, in any script */
	EXPECT(SMILE_ERR_LABEL_UNMASKED, "recipient.phone",
	       set_in(base(), "recipient", "phone", json_string("13812345678")));
	EXPECT(SMILE_ERR_LABEL_UNMASKED, "recipient.phone",
	       set_in(base(), "recipient", "phone", json_string("138****5678")));
	EXPECT(SMILE_ERR_LABEL_UNMASKED, "recipient.phone",
	       set_in(base(), "recipient", "phone",
		      json_string("１３８１２３４５６７８"))); /* fullwidth */
	EXPECT(SMILE_ERR_LABEL_UNMASKED, "recipient.phone",
	       set_in(base(), "recipient", "phone",
		      json_string("+966 ٥٠١٢٣٤٥٦٧"))); /* Arabic-Indic */
	EXPECT(SMILE_ERR_LABEL_UNMASKED, "sender.phone",
	       set_in(base(), "sender", "phone", json_string("027-8765-4321")));
	EXPECT(SMILE_OK, "", set_in(base(), "recipient", "phone", json_string("138*******8")));
	EXPECT(SMILE_OK, "", set_in(base(), "recipient", "phone", json_string("13800*****")));
	EXPECT(SMILE_ERR_LABEL_UNMASKED, "recipient.phone",
	       set_in(base(), "recipient", "phone", json_string("138000*****")));
	/* names: at least one masking character */
	EXPECT(SMILE_ERR_LABEL_UNMASKED, "recipient.name",
	       set_in(base(), "recipient", "name", json_string("张三明")));
	EXPECT(SMILE_ERR_LABEL_UNMASKED, "sender.name",
	       set_in(base(), "sender", "name", json_string("Jan Kowalski")));
	EXPECT(SMILE_OK, "", set_in(base(), "recipient", "name", json_string("张＊明")));
	/* free text that carries a phone number */
	EXPECT(SMILE_ERR_LABEL_UNMASKED, "recipient.address[1]",
	       set_in(base(), "recipient", "address",
		      json_pack("[s,s]", "湖北省", "电话 138 1234 5678")));
	EXPECT(SMILE_ERR_LABEL_UNMASKED, "note",
	       set(base(), "note", json_string("call 13812345678 first")));
	EXPECT(SMILE_OK, "", set(base(), "note", json_string("邮编 430000")));
	EXPECT(SMILE_OK, "", set(base(), "note", json_string("〒100-0001")));
	/* the message tells what is wrong, never the number or the name */
	o = set_in(base(), "recipient", "phone", json_string("13812345678"));
	assert_int_equal(parse_json(o, &e), SMILE_ERR_LABEL_UNMASKED);
	assert_null(strstr(e.message, "1381234"));
	assert_non_null(strstr(e.message, "11 digits"));
	o = set_in(base(), "recipient", "name", json_string("张三明"));
	assert_int_equal(parse_json(o, &e), SMILE_ERR_LABEL_UNMASKED);
	assert_null(strstr(e.message, "张"));
}

/* Issue 11: a phone number in any printed text, in any digits, with any
 * separators, fails closed, naming the field. */
static void every_printed_text_fails_closed(void **state)
{
	static const char *const phones[] = {
		"①③⑧①②③④⑤⑥⑦⑧",        "¹³⁸¹²³⁴⁵⁶⁷⁸",
		"一三八一二三四五六七八",  "壹叁捌壹贰叁肆伍陆柒捌",
		"138.1234.5678",         "138/1234/5678",
		"(415) 555-2671",        "call 138  1234  5678",
		"幺三八 两〇零〇 五六七八",  "١٣٨.١٢٣٤.٥٦٧٨",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(phones) / sizeof(phones[0]); i++) {
		char text[128];
		const char *ph = phones[i];

		snprintf(text, sizeof(text), "x %s", ph);
		EXPECT(SMILE_ERR_LABEL_UNMASKED, "note", set(base(), "note", json_string(ph)));
		EXPECT(SMILE_ERR_LABEL_UNMASKED, "sort_code",
		       set(base(), "sort_code", json_string(ph)));
		EXPECT(SMILE_ERR_LABEL_UNMASKED, "service", set(base(), "service", json_string(ph)));
		EXPECT(SMILE_ERR_LABEL_UNMASKED, "merchant",
		       set(base(), "merchant", json_string(text)));
		snprintf(text, sizeof(text), "张** %s", ph);
		EXPECT(SMILE_ERR_LABEL_UNMASKED, "recipient.name",
		       set_in(base(), "recipient", "name", json_string(text)));
		EXPECT(SMILE_ERR_LABEL_UNMASKED, "sender.address[1]",
		       set_in(base(), "sender", "address", json_pack("[s,s]", "湖北省", ph)));
		EXPECT(SMILE_ERR_LABEL_UNMASKED, "recipient.address[0]",
		       set_in(base(), "recipient", "address", json_pack("[s]", ph)));
	}
	/* letters end a run; postal codes and the gateway's sort codes pass */
	EXPECT(SMILE_OK, "", set(base(), "note", json_string("Room 1234 Floor 5678")));
	EXPECT(SMILE_OK, "", set(base(), "note", json_string("〒100-0001 東京都千代田区")));
	EXPECT(SMILE_OK, "", set(base(), "sort_code", json_string("999-999-ZZ")));
	EXPECT(SMILE_OK, "", set_in(base(), "recipient", "address",
				    json_pack("[s,s]", "江西省 南昌市 东湖区", "八一大道333号 ****")));
}

/* Every decimal digit of Unicode (UnicodeData.txt, Nd) counts: six of them
 * are too many on a phone, eight joined by dots too many in a note. And the
 * shared table agrees with GLib's independent Unicode database, which this
 * check used before: whatever GLib calls a digit or a number, it is one. */
static void every_unicode_digit_fails_closed(void **state)
{
	char path[1024], line[512];
	const char *dir = getenv("SMILE_UCD_DIR");
	size_t nd = 0;
	FILE *f;
	(void)state;

	for (gunichar c = 0; c < 0x110000; c++) {
		GUnicodeType t = g_unichar_type(c);

		if (g_unichar_isdigit(c) && !smile_unicode_is_decimal(c))
			fail_msg("U+%04X: GLib says Nd, the table does not", c);
		if ((t == G_UNICODE_DECIMAL_NUMBER || t == G_UNICODE_LETTER_NUMBER ||
		     t == G_UNICODE_OTHER_NUMBER) &&
		    !smile_unicode_is_numeric(c))
			fail_msg("U+%04X: GLib says a number, the table does not", c);
	}
	snprintf(path, sizeof(path), "%s/UnicodeData.txt", dir ? dir : "/usr/share/unicode");
	f = fopen(path, "r");
	if (f == NULL)
		fail_msg("%s: cannot open (run `make deps`: package unicode-data)", path);
	while (fgets(line, sizeof(line), f)) {
		char *semi = strchr(line, ';'), d[5] = {0}, text[64];
		gunichar c = (gunichar)strtoul(line, NULL, 16);
		int k;

		if (semi == NULL || (semi = strchr(semi + 1, ';')) == NULL ||
		    strncmp(semi, ";Nd;", 4) != 0)
			continue;
		nd++;
		k = g_unichar_to_utf8(c, d);
		snprintf(text, sizeof(text), "%s%s %s%s-*", d, d, d, d); /* 4 digits + */
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%s", d, d);
		EXPECT(SMILE_ERR_LABEL_UNMASKED, "recipient.phone",
		       set_in(base(), "recipient", "phone", json_string(text)));
		text[0] = '\0';
		for (int i = 0; i < 8; i++)
			snprintf(text + strlen(text), sizeof(text) - strlen(text), "%.*s.", k, d);
		EXPECT(SMILE_ERR_LABEL_UNMASKED, "note", set(base(), "note", json_string(text)));
	}
	fclose(f);
	assert_true(nd >= 680);
}

static void samples_are_valid_and_reproducible(void **state)
{
	struct smile_buf a, b;
	int rtl = 0, latin = 0, cjk = 0;
	(void)state;
	smile_buf_init(&a, SMILE_LABEL_RECORD_MAX);
	smile_buf_init(&b, SMILE_LABEL_RECORD_MAX);
	for (uint64_t i = 0; i < 400; i++) {
		struct smile_error e = {0};
		smile_buf_reset(&a);
		smile_buf_reset(&b);
		assert_int_equal(smile_label_sample(7, i, &a), SMILE_OK);
		assert_int_equal(smile_label_sample(7, i, &b), SMILE_OK);
		assert_string_equal(a.data, b.data);
		if (parse_str(a.data, a.len, &e) != SMILE_OK)
			fail_msg("sample %u: %s: %s", (unsigned)i, e.field, e.message);
		rtl += strstr(a.data, "\xD9") != NULL || strstr(a.data, "\xD7") != NULL;
		latin += strstr(a.data, "+48") != NULL;
		cjk += strstr(a.data, "省") != NULL;
	}
	assert_true(rtl > 20 && latin > 40 && cjk > 100);
	smile_buf_reset(&b);
	assert_int_equal(smile_label_sample(8, 0, &b), SMILE_OK);
	smile_buf_reset(&a);
	assert_int_equal(smile_label_sample(7, 0, &a), SMILE_OK);
	assert_string_not_equal(a.data, b.data);
	smile_buf_release(&a);
	smile_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_record_parses),
		cmocka_unit_test(missing_fields_are_named),
		cmocka_unit_test(wrong_types_are_named),
		cmocka_unit_test(bad_values_are_named),
		cmocka_unit_test(over_long_values_are_named),
		cmocka_unit_test(invalid_utf8_names_the_value),
		cmocka_unit_test(json_errors_never_echo_input),
		cmocka_unit_test(unmasked_parties_fail_closed),
		cmocka_unit_test(every_printed_text_fails_closed),
		cmocka_unit_test(every_unicode_digit_fails_closed),
		cmocka_unit_test(samples_are_valid_and_reproducible),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
