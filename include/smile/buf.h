/* SPDX-License-Identifier: Apache-2.0 */
/*
 * buf.h - a growable byte buffer with a hard maximum set at creation.
 *
 * For everything read from outside (HTTP bodies, MQTT payloads, label
 * records, files): the cap is checked before any allocation, so an over-size
 * input fails with SMILE_ERR_TOO_LARGE instead of growing memory.
 * The contents are always NUL-terminated (the NUL is not counted in `len`
 * and does not count against `max`), so text can be handed to parsers.
 *
 * Lifecycle: smile_buf_init() fills a caller's struct; smile_buf_release()
 * wipes and frees the contents (the struct can be reused after init).
 */
#ifndef SMILE_BUF_H
#define SMILE_BUF_H

#include <stddef.h>
#include <stdio.h>

#include "smile/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct smile_buf {
	char *data;  /* owned; NULL until the first append */
	size_t len;  /* bytes used */
	size_t cap;  /* bytes allocated (excluding the NUL) */
	size_t max;  /* hard limit on len */
};

/* An empty buffer that will refuse to grow past `max` bytes. */
void smile_buf_init(struct smile_buf *b, size_t max);

/* Wipe (the contents may be personal data) and free; `b` becomes empty. */
void smile_buf_release(struct smile_buf *b);

/* Drop the contents but keep the allocation. */
void smile_buf_reset(struct smile_buf *b);

/* Append n bytes. Returns SMILE_OK, SMILE_ERR_TOO_LARGE (len + n > max,
 * nothing appended) or SMILE_ERR_NOMEM. */
enum smile_err smile_buf_append(struct smile_buf *b, const void *p, size_t n)
	SMILE_MUST_CHECK;

/* Append a NUL-terminated string. Same returns as smile_buf_append. */
enum smile_err smile_buf_puts(struct smile_buf *b, const char *s) SMILE_MUST_CHECK;

/* Append printf-formatted text. Same returns as smile_buf_append. */
enum smile_err smile_buf_printf(struct smile_buf *b, const char *fmt, ...)
	SMILE_PRINTF(2, 3) SMILE_MUST_CHECK;

/* Make room for `n` more bytes without changing len. Same returns. */
enum smile_err smile_buf_reserve(struct smile_buf *b, size_t n) SMILE_MUST_CHECK;

/* Read all of `f` until EOF. SMILE_ERR_TOO_LARGE as soon as the input
 * exceeds max (stops reading; contents then undefined), SMILE_ERR_IO on a
 * read error. */
enum smile_err smile_buf_read_file(struct smile_buf *b, FILE *f) SMILE_MUST_CHECK;

/* Read one line (up to and excluding '\n', a trailing '\r' kept) into `b`
 * (which is reset first). Returns SMILE_OK with a line, SMILE_ERR_NOT_FOUND at
 * end of input with no bytes, SMILE_ERR_TOO_LARGE when a line exceeds max (the
 * rest of that line is consumed and discarded), SMILE_ERR_IO on error. */
enum smile_err smile_buf_getline(struct smile_buf *b, FILE *f) SMILE_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
