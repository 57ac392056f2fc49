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

#include "smile/error.h"

/* Record code/field/message in e (may be NULL) and return code. field and msg
 * are static strings; they must never contain input data. */
enum smile_err smile_core_fail(struct smile_error *e, enum smile_err code, const char *field,
			       const char *msg);

struct smile_scan;

/* The checks smile_scan_encode() applies before it writes: the fields, and
 * that the message fits in cap bytes. SMILE_OK, SMILE_ERR_INVALID (e names the
 * field) or SMILE_ERR_BUFFER_SMALL. Lets a caller validate before it spends a
 * sequence number. */
enum smile_err smile_core_scan_check(const struct smile_scan *s, size_t cap,
				     struct smile_error *e);

#endif
