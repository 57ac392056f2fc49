/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report.h - the JSON lines smile-bridge writes for the handheld's UI.
 *
 * One line per gateway reply (docs/bridge.md "Output"):
 *   {"seq":17,"waybill":"SW2601010000017","status":"revealed","reason":"ok",
 *    "event":"delivered","masked":{...},"contact":{"name":..,"phone":..,"address":..}}
 * "contact" only when status is revealed; "waybill" and "masked" are null
 * when the reply has none. Lines about the bridge itself carry "notice":
 *   {"notice":"mode","event":"delivered"}
 *   {"notice":"queued","queued":3}                 taken while offline
 *   {"notice":"refused","reason":"queue_full","queued":N,"message":"..."}
 *   {"notice":"refused","reason":"code_too_long|unreadable_code|invalid_code|unknown_mode|no_mode","message":"..."}
 * Every line ends with '\n' and holds no other newline.
 */
#ifndef BRIDGE_REPORT_H
#define BRIDGE_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "smile/error.h"
#include "smile/proto.h"

/* Longest line: fixed fields plus the masked view and the contact JSON. */
#define BRIDGE_LINE_MAX (SMILE_PROTO_MASKED_MAX + SMILE_PROTO_CONTACT_MAX + 512)

/* Bits of *flags from bridge_report_reply(). */
#define BRIDGE_REPORT_MASKED_BAD 1  /* masked view was not a JSON object: null */
#define BRIDGE_REPORT_CONTACT_BAD 2 /* contact was not a JSON object: null */

/*
 * Format the line for an opened reply r (smile_device_open_reply) to a scan
 * of `event`, with the decrypted contact[0..contact_len) when revealed.
 * out[0..cap) gets the line (with '\n', NUL-terminated), *len its length.
 * A masked view or contact that is not a JSON object becomes null and sets a
 * bit in *flags (may be NULL). Returns SMILE_OK or SMILE_ERR_BUFFER_SMALL
 * (BRIDGE_LINE_MAX always suffices). out holds personal data when revealed:
 * the caller wipes it after writing (on error it is wiped here).
 */
enum smile_err bridge_report_reply(const struct smile_reply *r, enum smile_event event,
				   const uint8_t *contact, size_t contact_len, char *out, size_t cap,
				   size_t *len, int *flags) SMILE_MUST_CHECK;

/* {"notice":"mode","event":"<name>"} */
size_t bridge_report_mode(char *out, size_t cap, enum smile_event event);

/* {"notice":"queued","queued":N} */
size_t bridge_report_queued(char *out, size_t cap, size_t queued);

/* {"notice":"refused","reason":"<reason>","queued":N,"message":"<message>"}
 * reason and message are static ASCII text (never input data); queued is
 * included when >= 0. */
size_t bridge_report_refused(char *out, size_t cap, const char *reason, long queued,
			     const char *message);

#endif
