/* SPDX-License-Identifier: Apache-2.0 */
/*
 * track.h (gateway-internal) - the pieces of the recipient tracking page
 * (docs/tracking.md) that are pure functions: the keyed hash of a phone's
 * last four digits, the coarse status, and the city-level place of a zone.
 */
#ifndef SMILE_GATEWAY_TRACK_H
#define SMILE_GATEWAY_TRACK_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "store.h"

#define TRACK_DIGITS 4
#define TRACK_PLACE_MAX (SMILE_STORE_ID_MAX * 2)

/* The last TRACK_DIGITS ASCII digits of `phone` (every other character
 * skipped: "+86 138-0013-8000" gives "8000") into out (NUL-terminated).
 * Returns 0, or -1 when the number has fewer digits (out is then ""). */
int track_last_digits(const char *phone, char out[TRACK_DIGITS + 1]);

/* Is `s` exactly TRACK_DIGITS ASCII digits? 1 or 0. */
int track_digits_valid(const char *s);

/* The keyed hash stored at issue and compared at the page: BLAKE2b-256 of
 * waybill || 0x00 || digits, keyed with a key derived from the gateway's
 * signing key for this use alone (domain "smile/v1 track-digits"), so a copy
 * of the store without the key files cannot try the 10,000 candidates. */
void track_digits_hash(const struct smile_keys *k, const char *waybill, const char *digits,
		       uint8_t out[SMILE_STORE_TRACK_HASH_BYTES]);

/* Constant-time comparison of two hashes: 1 when equal. */
int track_hash_equal(const uint8_t a[SMILE_STORE_TRACK_HASH_BYTES],
		     const uint8_t b[SMILE_STORE_TRACK_HASH_BYTES]);

/* The coarse status of a shipment status (docs/tracking.md): "issued",
 * "in_transit", "out_for_delivery", "delivered", "exception" or
 * "returned". */
const char *track_coarse_status(enum smile_shipment_status st);

/* The city-level part of a device zone "COUNTRY/PROVINCE/CITY/..." :
 * "PROVINCE CITY" (one of them when equal or alone), never the country
 * code nor anything below the city. "" for a zone without a province.
 * Always NUL-terminates out (cap >= 1). */
void track_place(const char *zone, char *out, size_t cap);

#endif
