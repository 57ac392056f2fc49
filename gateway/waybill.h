/* SPDX-License-Identifier: Apache-2.0 */
/*
 * waybill.h - waybill numbers: prefix, issue date, sequence, check digits.
 *
 * Format (17 characters with the default prefix):
 *
 *     SW 261129 0000017 42
 *     |  |      |       +- 2 check digits, ISO/IEC 7064 MOD 97-10
 *     |  |      +--------- 7-digit sequence, zero-padded (from the store)
 *     |  +---------------- issue date YYMMDD
 *     +------------------- prefix: 2-4 letters A-Z, configurable, default "SW"
 *
 * written without spaces: "SW2611290000017NN". Only uppercase A-Z and 0-9, so
 * Code128 and QR alphanumeric mode carry it compactly.
 *
 * Check digits: ISO/IEC 7064 MOD 97-10, computed as for an IBAN over the whole
 * number, prefix included (A=10 ... Z=35), with the two check digits chosen
 * so that the number read as an integer is 1 mod 97. It detects every single
 * character substitution and every transposition of two adjacent characters
 * (prefix letters and check digits included), which a one-digit Luhn does
 * not (it misses 09<->90), and a one-digit Damm cannot promise once letters
 * are mapped to two digits each. The unit tests check both properties
 * exhaustively over generated numbers.
 *
 * Uniqueness comes from the caller: the store hands out (date, sequence)
 * pairs that are never reused for one prefix; this module only formats and
 * checks. Waybill numbers are not personal data.
 *
 * Pure functions, no heap, thread-safe.
 */
#ifndef SMILE_WAYBILL_H
#define SMILE_WAYBILL_H

#include <stdint.h>

#include "smile/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SMILE_WAYBILL_PREFIX_DEFAULT "SW"
#define SMILE_WAYBILL_PREFIX_MIN 2
#define SMILE_WAYBILL_PREFIX_MAX 4
#define SMILE_WAYBILL_SEQ_DIGITS 7
#define SMILE_WAYBILL_SEQ_MAX 9999999u /* per prefix and issue date */
#define SMILE_WAYBILL_DIGITS 15        /* date + sequence + check digits */
/* Longest number (4-letter prefix) is 19 characters; with the NUL: */
#define SMILE_WAYBILL_MAX 20

/*
 * Check a prefix: 2-4 ASCII letters A-Z.
 * Returns SMILE_OK, SMILE_ERR_FIELD_VALUE (field "prefix") for anything else,
 * SMILE_ERR_MISSING_FIELD (field "prefix") for NULL. `e` may be NULL.
 */
enum smile_err smile_waybill_prefix_check(const char *prefix, struct smile_error *e)
	SMILE_MUST_CHECK;

/*
 * Write the waybill number for (prefix, yymmdd, seq) into out.
 * yymmdd is a calendar date, e.g. 261129 for 2026-11-29 (years 2000-2099).
 * Returns:
 *   SMILE_OK
 *   SMILE_ERR_MISSING_FIELD / SMILE_ERR_FIELD_VALUE  bad prefix  (field "prefix")
 *   SMILE_ERR_FIELD_VALUE  yymmdd is not a date                  (field "date")
 *   SMILE_ERR_TOO_LARGE    seq > SMILE_WAYBILL_SEQ_MAX           (field "seq")
 *   SMILE_ERR_INVALID      out is NULL
 * On error out (when not NULL) holds "". `e` may be NULL.
 */
enum smile_err smile_waybill_format(const char *prefix, uint32_t yymmdd, uint64_t seq,
				    char out[SMILE_WAYBILL_MAX], struct smile_error *e)
	SMILE_MUST_CHECK;

/*
 * Check a waybill number's syntax (prefix of 2-4 A-Z, then exactly 15
 * digits, nothing else: no spaces, no lowercase), its date and its check
 * digits.
 * Returns SMILE_OK, SMILE_ERR_MISSING_FIELD for NULL, SMILE_ERR_FIELD_VALUE
 * otherwise (field "waybill", the message says which part is wrong; the check
 * digits failing reads "check digits do not match"). `e` may be NULL.
 */
enum smile_err smile_waybill_check(const char *waybill, struct smile_error *e)
	SMILE_MUST_CHECK;

/*
 * smile_waybill_check(), then split the number into its parts. Any of
 * prefix (SMILE_WAYBILL_PREFIX_MAX + 1 bytes), yymmdd and seq may be NULL.
 * Same returns as smile_waybill_check(); outputs untouched on error.
 */
enum smile_err smile_waybill_parse(const char *waybill,
				   char prefix[SMILE_WAYBILL_PREFIX_MAX + 1],
				   uint32_t *yymmdd, uint64_t *seq, struct smile_error *e)
	SMILE_MUST_CHECK;

/*
 * The issue date YYMMDD of a Unix time seen at `utc_offset_s` seconds east of
 * UTC (28800 for China Standard Time), so the date on a number matches the
 * local calendar. Years outside 2000-2099 wrap (yy = year % 100).
 */
uint32_t smile_waybill_yymmdd(int64_t unix_time, int32_t utc_offset_s);

#ifdef __cplusplus
}
#endif
#endif
