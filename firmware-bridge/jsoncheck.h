/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jsoncheck.h - check that bytes are one JSON object, and copy it compactly.
 *
 * The gateway's reply carries the masked view and (sealed) the contact
 * details as JSON text the bridge passes on to the UI verbatim. Before a
 * byte of it reaches the output line it is validated (RFC 8259, strict UTF-8)
 * and its insignificant whitespace removed, so a reply can never break the
 * one-line-per-reply framing or smuggle in something that is not JSON. It
 * copies into a caller's buffer and allocates nothing, so contact details
 * exist only where the caller can wipe them.
 */
#ifndef BRIDGE_JSONCHECK_H
#define BRIDGE_JSONCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "smile/error.h"

#define BRIDGE_JSON_DEPTH_MAX 16

/*
 * Validate that in[0..n) is exactly one JSON object (surrounding whitespace
 * allowed) and write it without insignificant whitespace to out[0..cap)
 * (not NUL-terminated; cap >= n always suffices). Returns SMILE_OK with *len;
 * SMILE_ERR_JSON (not an object, malformed, nested deeper than
 * BRIDGE_JSON_DEPTH_MAX); SMILE_ERR_UTF8 (invalid UTF-8 in a string);
 * SMILE_ERR_BUFFER_SMALL. On error *len is 0 and out[0..cap) is wiped.
 */
enum smile_err bridge_json_compact_object(const uint8_t *in, size_t n, char *out, size_t cap,
					  size_t *len) SMILE_MUST_CHECK;

#endif
