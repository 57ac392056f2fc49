/* SPDX-License-Identifier: Apache-2.0 */
/*
 * httpcheck.h (gateway-internal) - strict checks of what arrives over HTTP,
 * before it is routed or believed: the raw request target, header names and
 * the values of query parameters.
 *
 * Why strict: a request that two parsers read differently is a request one of
 * them was fooled by. libmicrohttpd decodes the path before the gateway
 * routes it (an encoded NUL cuts it short, an encoded slash adds a segment),
 * and a proxy in front may normalise dot segments or backslashes that the
 * gateway does not; numbers that overflow or dates that do not exist were
 * silently folded into other values. Each check refuses instead, and says
 * what was wrong in a fixed message that never quotes the input.
 *
 * No I/O, no allocation: every function here is pure.
 */
#ifndef SMILE_GATEWAY_HTTPCHECK_H
#define SMILE_GATEWAY_HTTPCHECK_H

#include <stdint.h>

#include "smile/error.h"

/* Check a raw request target (path and query, before percent-decoding).
 * NULL when acceptable; otherwise a fixed message, and *part is "path" or
 * "query". Refused: a target that is not an absolute path; in the path, a
 * space, control or non-ASCII byte, a backslash, a fragment, a malformed
 * %-escape, an escape that decodes to NUL, '/', '\' or a control character,
 * and "." or ".." segments (raw or encoded); in the query, a space, control
 * or non-ASCII byte, a fragment, a malformed %-escape, or %00. */
const char *httpcheck_target(const char *uri, const char **part);

/* Is `name` an RFC 9110 token (a valid header field name)? */
int httpcheck_token(const char *name);

/* Decimal digits only (no sign, space or other text), at most 40 of them,
 * value in [min, max]. Returns 1 and sets *out, or 0. */
int httpcheck_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out) SMILE_MUST_CHECK;

/* Newest instant `since` may name: 9999-12-31T23:59:59.999Z. */
#define HTTPCHECK_SINCE_MAX_MS 253402300799999LL

/* The `since` parameter: "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SSZ" (UTC, a real
 * calendar date and time: 2026-02-30 and 24:00:00 are refused) or Unix
 * milliseconds (9-15 digits, up to HTTPCHECK_SINCE_MAX_MS). Dates before 1970
 * mean "from the beginning" (0). Returns 1 and sets *ms, or 0. */
int httpcheck_since(const char *s, int64_t *ms) SMILE_MUST_CHECK;

#endif
