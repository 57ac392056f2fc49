/* SPDX-License-Identifier: Apache-2.0 */
/*
 * track.c - pure helpers of the recipient tracking page (track.h).
 *
 * The one idea: what the page checks is a keyed hash, computed at issue
 * while the phone number is in the clear for a moment anyway, so answering
 * the page never needs the vault, and the store alone (a dump, a backup)
 * does not let anyone test the 10,000 possible digit strings: the key lives
 * only in the gateway's key files.
 */
#include "track.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

int track_last_digits(const char *phone, char out[TRACK_DIGITS + 1])
{
	size_t n = 0;
	out[0] = '\0';
	if (phone == NULL)
		return -1;
	for (size_t i = strlen(phone); i > 0 && n < TRACK_DIGITS; i--)
		if (phone[i - 1] >= '0' && phone[i - 1] <= '9')
			out[TRACK_DIGITS - 1 - n++] = phone[i - 1];
	if (n < TRACK_DIGITS) {
		sodium_memzero(out, TRACK_DIGITS + 1);
		return -1;
	}
	out[TRACK_DIGITS] = '\0';
	return 0;
}

int track_digits_valid(const char *s)
{
	if (s == NULL)
		return 0;
	for (int i = 0; i < TRACK_DIGITS; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return s[TRACK_DIGITS] == '\0';
}

void track_digits_hash(const struct smile_keys *k, const char *waybill, const char *digits,
		       uint8_t out[SMILE_STORE_TRACK_HASH_BYTES])
{
	static const char domain[] = "smile/v1 track-digits";
	uint8_t key[32];
	crypto_generichash_state st;

	crypto_generichash(key, sizeof(key), (const unsigned char *)domain, sizeof(domain),
			   smile_keys_sign_sk(k), SMILE_KEYS_SIGN_SK_BYTES);
	crypto_generichash_init(&st, key, sizeof(key), SMILE_STORE_TRACK_HASH_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)waybill, strlen(waybill) + 1);
	crypto_generichash_update(&st, (const unsigned char *)digits, strlen(digits));
	crypto_generichash_final(&st, out, SMILE_STORE_TRACK_HASH_BYTES);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(&st, sizeof(st));
}

int track_hash_equal(const uint8_t a[SMILE_STORE_TRACK_HASH_BYTES],
		     const uint8_t b[SMILE_STORE_TRACK_HASH_BYTES])
{
	return sodium_memcmp(a, b, SMILE_STORE_TRACK_HASH_BYTES) == 0;
}

const char *track_coarse_status(enum smile_shipment_status st)
{
	switch (st) {
	case SMILE_SHIPMENT_CREATED:
		return "issued";
	case SMILE_SHIPMENT_PICKUP:
	case SMILE_SHIPMENT_HUB_IN:
	case SMILE_SHIPMENT_HUB_OUT:
		return "in_transit";
	case SMILE_SHIPMENT_OUT_FOR_DELIVERY:
		return "out_for_delivery";
	case SMILE_SHIPMENT_DELIVERED:
		return "delivered";
	case SMILE_SHIPMENT_DELIVERY_FAILED:
		return "exception";
	case SMILE_SHIPMENT_RETURNED:
		return "returned";
	}
	return "exception";
}

void track_place(const char *zone, char *out, size_t cap)
{
	const char *seg[3] = {0};
	size_t len[3] = {0};
	int n = 0;
	const char *p = zone ? zone : "";

	out[0] = '\0';
	while (*p && n < 3) {
		const char *slash = strchr(p, '/');
		size_t l = slash ? (size_t)(slash - p) : strlen(p);
		if (l) {
			seg[n] = p;
			len[n++] = l;
		}
		p += l + (slash ? 1 : 0);
	}
	if (n < 2) /* a country alone, or nothing: no place */
		return;
	if (n == 2 || (len[1] == len[2] && memcmp(seg[1], seg[2], len[1]) == 0))
		snprintf(out, cap, "%.*s", (int)len[n == 2 ? 1 : 2], seg[n == 2 ? 1 : 2]);
	else
		snprintf(out, cap, "%.*s %.*s", (int)len[1], seg[1], (int)len[2], seg[2]);
}
