/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jsoncheck.c - a validating JSON compactor (no allocation, no tree).
 *
 * Recursive descent over the input that copies every significant byte to the
 * output as it accepts it: one pass both proves the text is JSON and removes
 * the whitespace (including newlines) that would split an output line.
 * Strings are copied byte for byte (escapes kept) after UTF-8 validation.
 */
#include "jsoncheck.h"

#include <string.h>

#include <sodium.h>

struct jc {
	const uint8_t *p;
	size_t n, pos;
	char *out;
	size_t cap, len;
	enum smile_err err;
};

static int fail(struct jc *j, enum smile_err err)
{
	if (j->err == SMILE_OK)
		j->err = err;
	return 0;
}

static int emit(struct jc *j, const uint8_t *s, size_t n)
{
	if (j->cap - j->len < n)
		return fail(j, SMILE_ERR_BUFFER_SMALL);
	memcpy(j->out + j->len, s, n);
	j->len += n;
	return 1;
}

static void skip_ws(struct jc *j)
{
	while (j->pos < j->n && (j->p[j->pos] == ' ' || j->p[j->pos] == '\t' ||
				 j->p[j->pos] == '\n' || j->p[j->pos] == '\r'))
		j->pos++;
}

static int peek(const struct jc *j)
{
	return j->pos < j->n ? j->p[j->pos] : -1;
}

static int is_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Length of the valid UTF-8 sequence at p[0..n), or 0 (RFC 3629: no
 * overlongs, no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const uint8_t *p, size_t n)
{
	uint8_t c = p[0];
	size_t need;
	uint32_t cp, min;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 2, cp = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		need = 3, cp = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 4, cp = c & 0x07, min = 0x10000;
	else
		return 0;
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

static int string(struct jc *j)
{
	size_t start = j->pos++; /* opening quote */

	for (;;) {
		int c = peek(j);
		if (c < 0)
			return fail(j, SMILE_ERR_JSON);
		if (c == '"') {
			j->pos++;
			break;
		}
		if (c < 0x20)
			return fail(j, SMILE_ERR_JSON);
		if (c == '\\') {
			int x;
			j->pos++;
			x = peek(j);
			if (x < 0 || !memchr("\"\\/bfnrtu", x, 9))
				return fail(j, SMILE_ERR_JSON);
			j->pos++;
			if (x == 'u') {
				for (int i = 0; i < 4; i++, j->pos++)
					if (!is_hex(peek(j)))
						return fail(j, SMILE_ERR_JSON);
			}
			continue;
		}
		{
			size_t l = utf8_len(j->p + j->pos, j->n - j->pos);
			if (l == 0)
				return fail(j, SMILE_ERR_UTF8);
			j->pos += l;
		}
	}
	return emit(j, j->p + start, j->pos - start);
}

static int digits(struct jc *j)
{
	size_t s = j->pos;
	while (peek(j) >= '0' && peek(j) <= '9')
		j->pos++;
	return j->pos > s;
}

static int number(struct jc *j)
{
	size_t start = j->pos;

	if (peek(j) == '-')
		j->pos++;
	if (peek(j) == '0')
		j->pos++;
	else if (!(peek(j) >= '1' && peek(j) <= '9') || !digits(j))
		return fail(j, SMILE_ERR_JSON);
	if (peek(j) == '.') {
		j->pos++;
		if (!digits(j))
			return fail(j, SMILE_ERR_JSON);
	}
	if (peek(j) == 'e' || peek(j) == 'E') {
		j->pos++;
		if (peek(j) == '+' || peek(j) == '-')
			j->pos++;
		if (!digits(j))
			return fail(j, SMILE_ERR_JSON);
	}
	return emit(j, j->p + start, j->pos - start);
}

static int literal(struct jc *j, const char *word)
{
	size_t l = strlen(word);
	if (j->n - j->pos < l || memcmp(j->p + j->pos, word, l) != 0)
		return fail(j, SMILE_ERR_JSON);
	j->pos += l;
	return emit(j, (const uint8_t *)word, l);
}

static int value(struct jc *j, int depth);

/* object or array: open/close are '{' '}' or '[' ']' */
static int container(struct jc *j, int depth, uint8_t open, uint8_t close)
{
	static const uint8_t comma = ',', colon = ':';
	int first = 1;

	if (depth >= BRIDGE_JSON_DEPTH_MAX)
		return fail(j, SMILE_ERR_JSON);
	j->pos++;
	if (!emit(j, &open, 1))
		return 0;
	skip_ws(j);
	if (peek(j) == close) {
		j->pos++;
		return emit(j, &close, 1);
	}
	for (;;) {
		if (!first && !emit(j, &comma, 1))
			return 0;
		first = 0;
		skip_ws(j);
		if (open == '{') {
			if (peek(j) != '"' || !string(j))
				return fail(j, SMILE_ERR_JSON);
			skip_ws(j);
			if (peek(j) != ':')
				return fail(j, SMILE_ERR_JSON);
			j->pos++;
			if (!emit(j, &colon, 1))
				return 0;
		}
		if (!value(j, depth + 1))
			return 0;
		skip_ws(j);
		if (peek(j) == ',') {
			j->pos++;
			continue;
		}
		if (peek(j) == close) {
			j->pos++;
			return emit(j, &close, 1);
		}
		return fail(j, SMILE_ERR_JSON);
	}
}

static int value(struct jc *j, int depth)
{
	skip_ws(j);
	switch (peek(j)) {
	case '{':
		return container(j, depth, '{', '}');
	case '[':
		return container(j, depth, '[', ']');
	case '"':
		return string(j);
	case 't':
		return literal(j, "true");
	case 'f':
		return literal(j, "false");
	case 'n':
		return literal(j, "null");
	default:
		return number(j);
	}
}

enum smile_err bridge_json_compact_object(const uint8_t *in, size_t n, char *out, size_t cap,
					  size_t *len)
{
	struct jc j = {.p = in, .n = n, .out = out, .cap = cap, .err = SMILE_OK};

	*len = 0;
	skip_ws(&j);
	if (peek(&j) != '{')
		fail(&j, SMILE_ERR_JSON);
	else if (value(&j, 0)) {
		skip_ws(&j);
		if (j.pos != j.n)
			fail(&j, SMILE_ERR_JSON);
	}
	if (j.err != SMILE_OK) {
		if (cap)
			sodium_memzero(out, cap);
		return j.err;
	}
	*len = j.len;
	return SMILE_OK;
}
