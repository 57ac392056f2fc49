/* SPDX-License-Identifier: Apache-2.0 */
/*
 * base45.h - Base45 encoding (RFC 9285), as used inside Smile QR tokens.
 *
 * Base45 maps bytes onto the 45 characters of the QR alphanumeric mode
 * ("0-9", "A-Z", " $%*+-./:"), so a QR code holding Base45 text is about as
 * dense as one holding the raw bytes (RFC 9285 section 1). Two bytes become
 * three characters, a final odd byte becomes two (RFC 9285 section 4).
 *
 * Shared code: this lives in the device core (C99, no heap, no libc beyond
 * <stddef.h>/<stdint.h>) so a handheld and the gateway use one implementation.
 * Both functions are pure, reentrant and thread-safe.
 */
#ifndef SMILE_BASE45_H
#define SMILE_BASE45_H

#include <stddef.h>
#include <stdint.h>

#include "smile/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Characters needed for n input bytes (without a terminating NUL). */
#define SMILE_BASE45_ENCODED_LEN(n) (((n) / 2u) * 3u + ((n) % 2u) * 2u)
/* Bytes that n characters of valid Base45 decode to (n % 3 != 1). */
#define SMILE_BASE45_DECODED_LEN(n) (((n) / 3u) * 2u + ((n) % 3u) / 2u)

/*
 * Encode n bytes of `in` as Base45 into `out`, NUL-terminated.
 *
 * `cap` is the size of `out` in bytes and must be at least
 * SMILE_BASE45_ENCODED_LEN(n) + 1. On success `*outlen` (may be NULL) is the
 * number of characters written, not counting the NUL. `in` may be NULL when
 * n is 0 (the result is the empty string).
 *
 * Returns:
 *   SMILE_OK
 *   SMILE_ERR_INVALID       out is NULL, or in is NULL with n > 0
 *   SMILE_ERR_BUFFER_SMALL  cap too small (out then holds "" if cap > 0)
 */
enum smile_err smile_base45_encode(const uint8_t *in, size_t n, char *out,
				   size_t cap, size_t *outlen);

/*
 * Decode n characters of Base45 text `in` (need not be NUL-terminated) into
 * `out`, whose size is `cap` bytes; `*outlen` (may be NULL) receives the
 * number of bytes written. Decoding is strict, as RFC 9285 section 6 asks:
 * only the 45 characters of the alphabet (upper case; lower case is refused),
 * no length with n % 3 == 1, no triple above 65535 and no final pair above 255.
 * `in` may be NULL when n is 0.
 *
 * On any error nothing useful is in `out` (it may have been partly written)
 * and `*outlen` is 0.
 *
 * Returns:
 *   SMILE_OK
 *   SMILE_ERR_INVALID       not valid Base45 (a character outside the
 *                           alphabet, n % 3 == 1, a value out of range), or
 *                           out/in NULL where a buffer is needed
 *   SMILE_ERR_BUFFER_SMALL  cap < SMILE_BASE45_DECODED_LEN(n)
 */
enum smile_err smile_base45_decode(const char *in, size_t n, uint8_t *out,
				   size_t cap, size_t *outlen) SMILE_MUST_CHECK;

/* 1 when c is one of the 45 characters of the alphabet, else 0. */
int smile_base45_is_char(char c);

#ifdef __cplusplus
}
#endif
#endif
