/* SPDX-License-Identifier: Apache-2.0 */
/*
 * buf.c - capped growable buffer.
 *
 * Growth doubles the allocation but never past `max`, and the cap is checked
 * before realloc, so hostile sizes never reach the allocator.
 */
#include "smile/buf.h"
#include "smile_assert.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void smile_buf_init(struct smile_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void smile_buf_release(struct smile_buf *b)
{
	if (b->data) {
		sodium_memzero(b->data, b->cap + 1);
		free(b->data);
	}
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void smile_buf_reset(struct smile_buf *b)
{
	if (b->data) {
		sodium_memzero(b->data, b->len);
		b->data[0] = '\0';
	}
	b->len = 0;
}

enum smile_err smile_buf_reserve(struct smile_buf *b, size_t n)
{
	size_t need, ncap;
	char *p;

	if (n > b->max || b->len > b->max - n)
		return SMILE_ERR_TOO_LARGE;
	need = b->len + n;
	if (need <= b->cap && b->data)
		return SMILE_OK;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > b->max)
		ncap = b->max;
	SMILE_ASSERT(ncap >= need); /* need <= max was checked above */
	/* Grow by copy so the old block can be wiped: it may hold personal data. */
	p = malloc(ncap + 1);
	if (p == NULL)
		return SMILE_ERR_NOMEM;
	if (b->data) {
		memcpy(p, b->data, b->len);
		sodium_memzero(b->data, b->cap + 1);
		free(b->data);
	}
	p[b->len] = '\0';
	b->data = p;
	b->cap = ncap;
	return SMILE_OK;
}

enum smile_err smile_buf_append(struct smile_buf *b, const void *src, size_t n)
{
	enum smile_err err = smile_buf_reserve(b, n);
	if (err)
		return err;
	SMILE_ASSERT(b->data != NULL && b->len + n <= b->cap);
	if (n)
		memcpy(b->data + b->len, src, n);
	b->len += n;
	b->data[b->len] = '\0';
	return SMILE_OK;
}

enum smile_err smile_buf_puts(struct smile_buf *b, const char *s)
{
	return smile_buf_append(b, s, strlen(s));
}

enum smile_err smile_buf_printf(struct smile_buf *b, const char *fmt, ...)
{
	va_list ap, ap2;
	int need;
	enum smile_err err;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	need = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (need < 0) {
		va_end(ap2);
		return SMILE_ERR_INVALID;
	}
	err = smile_buf_reserve(b, (size_t)need);
	if (err == SMILE_OK) {
		vsnprintf(b->data + b->len, (size_t)need + 1, fmt, ap2);
		b->len += (size_t)need;
	}
	va_end(ap2);
	return err;
}

enum smile_err smile_buf_read_file(struct smile_buf *b, FILE *f)
{
	char chunk[16384];
	size_t n;
	enum smile_err err;

	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		err = smile_buf_append(b, chunk, n);
		if (err)
			return err;
	}
	return ferror(f) ? SMILE_ERR_IO : SMILE_OK;
}

enum smile_err smile_buf_getline(struct smile_buf *b, FILE *f)
{
	int c;
	int any = 0;
	enum smile_err err = SMILE_OK;

	smile_buf_reset(b);
	while ((c = getc(f)) != EOF) {
		any = 1;
		if (c == '\n')
			return err;
		if (err == SMILE_OK) {
			char ch = (char)c;
			err = smile_buf_append(b, &ch, 1);
			if (err != SMILE_OK && err != SMILE_ERR_TOO_LARGE)
				return err;
		}
	}
	if (ferror(f))
		return SMILE_ERR_IO;
	if (!any)
		return SMILE_ERR_NOT_FOUND;
	return err;
}
