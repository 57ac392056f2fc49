/* SPDX-License-Identifier: Apache-2.0 */
/*
 * core_internal.h - helpers shared by the device core's .c files only.
 *
 * The core must link without common/ (handheld firmware takes only
 * libsmile-device.a and libsodium), so it cannot call smile_error_set(); this
 * fills a struct smile_error with static text instead (no formatting, no heap).
 */
#ifndef SMILE_CORE_INTERNAL_H
#define SMILE_CORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "smile/error.h"

/* Record code/field/message in e (may be NULL) and return code. field and msg
 * are static strings; they must never contain input data. */
enum smile_err smile_core_fail(struct smile_error *e, enum smile_err code, const char *field,
			       const char *msg);

/* Every byte of p[0..n) is in the id set of protocol.md section 2
 * (A-Z a-z 0-9 _ -); 1 when n is 0. */
int smile_core_chars_ok(const char *p, size_t n);

/* The checks every message starts with, in protocol.md 4.3's order: empty
 * (SMILE_ERR_PROTO), version byte (SMILE_ERR_PROTO_VERSION), over max
 * (SMILE_ERR_TOO_LARGE), under min, message type (SMILE_ERR_PROTO); `what`
 * names the message in e. Shared by proto.c and printjob.c. */
enum smile_err smile_core_envelope(const uint8_t *msg, size_t len, size_t min, size_t max,
				   unsigned type, const char *what, struct smile_error *e);

struct smile_scan;

/* The checks smile_scan_encode() applies before it writes: the fields, and
 * that the message fits in cap bytes. SMILE_OK, SMILE_ERR_INVALID (e names the
 * field) or SMILE_ERR_BUFFER_SMALL. Lets a caller validate before it spends a
 * sequence number. */
enum smile_err smile_core_scan_check(const struct smile_scan *s, size_t cap,
				     struct smile_error *e);

#endif
