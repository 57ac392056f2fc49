/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shipment.h (gateway-internal) - a shipment request: parse, validate, mask,
 * and split into the public label record and the sealed personal part.
 */
#ifndef SMILE_GATEWAY_SHIPMENT_H
#define SMILE_GATEWAY_SHIPMENT_H

#include <jansson.h>
#include <stdint.h>

#include "smile/error.h"
#include "mask.h"

#define SHIPMENT_MERCHANT_MAX 64
#define SHIPMENT_REF_MAX 64
#define SHIPMENT_NOTE_MAX SMILE_MASK_NOTE_MAX /* code points */
#define SHIPMENT_WEIGHT_MAX 1000000 /* grams */
#define SHIPMENT_PARCELS_MAX 99

/* Borrowed pointers into the request's JSON (valid while it lives). */
struct shipment_party {
	const char *name, *phone;
	struct smile_address addr;
};

struct shipment_req {
	struct shipment_party recipient, sender;
	const char *merchant;     /* NULL when not given */
	const char *merchant_ref; /* "" when not given */
	const char *service;
	const char *note;         /* "" when not given */
	long weight_g;
	long parcels;
};

/* Masked display fields of one party. */
struct shipment_masked {
	char name[SMILE_MASK_MAX];
	char phone[SMILE_MASK_MAX];
	char addr[SMILE_MASK_ADDR_LINES][SMILE_MASK_MAX];
	size_t n_addr;
};

/* Validate the request object `obj` into `out` (pointers borrow from obj).
 * Errors name the field: SMILE_ERR_MISSING_FIELD, SMILE_ERR_FIELD_TYPE,
 * SMILE_ERR_FIELD_VALUE, SMILE_ERR_UTF8, SMILE_ERR_TOO_LARGE. */
enum smile_err shipment_parse(json_t *obj, struct shipment_req *out, struct smile_error *e)
	SMILE_MUST_CHECK;

/* Mask one party under `policy`; errors name "recipient.phone" etc. */
enum smile_err shipment_mask(enum smile_mask_policy policy, const struct shipment_party *p,
			     const char *which, struct shipment_masked *out,
			     struct smile_error *e) SMILE_MUST_CHECK;

/* The key sort codes are made with: derived from the gateway's signing key
 * (smile_keys_sign_sk, 64 bytes; its 32-byte seed is the secret) with a
 * domain-separated keyed BLAKE2b (crypto_kdf), so it is as stable as that
 * key and tells nothing about it. The caller wipes it (sodium_memzero). */
#define SHIPMENT_SORT_KEY_BYTES 32
void shipment_sort_key(const uint8_t *sign_sk, uint8_t key[SHIPMENT_SORT_KEY_BYTES]);

/* A deterministic sort code "PPP-CCC-XY" from routing data only (a stand-in
 * for a carrier routing table: same destination, same code; docs/masking.md):
 * PPP and CCC hash the province and the city, which every label prints; XY
 * (two letters, 576 values) is a hash of the district keyed with `key`. The
 * street, the house number and the detail are never used. */
#define SHIPMENT_SORT_CODE_MAX 16 /* "PPP-CCC-XY" and its NUL fit with room */
void shipment_sort_code(const uint8_t key[SHIPMENT_SORT_KEY_BYTES],
			const struct smile_address *a, char out[SHIPMENT_SORT_CODE_MAX]);

/* The destination region used for device zones: "country/province/city/district"
 * under cn-gbt41833; under strict only "country/province/city" (what its label
 * shows), so nothing finer than the label is kept in clear. */
void shipment_region(enum smile_mask_policy policy, const struct smile_address *a, char *out,
		     size_t n);

/* Build the label record (docs/label-record.md) for parcel `index`. New ref. */
json_t *shipment_label_record(const struct shipment_req *r, const struct shipment_masked *rcpt,
			      const struct shipment_masked *sndr, const char *merchant,
			      const char *waybill, const char *token, const char *sort_code,
			      const char *date, long index);

/* What a scanning device is shown (masked), docs/protocol.md 5.3:
 * {"waybill","sort_code","name","phone","address","parcel"} with the masked
 * recipient's name and phone and its address lines joined by one space, from
 * a label record. Compact JSON, caller frees; NULL on allocation failure or a
 * record without a recipient. Built once at issue, stored with the shipment. */
char *shipment_device_view(json_t *record);

/* Is `view` a stored device view of the shape before 5.3 was followed (the
 * masked recipient nested under "recipient")? Such a view is rebuilt from
 * the label record with shipment_device_view before it is sent. */
int shipment_device_view_is_old(const char *view);

/* The contact details a device may be shown, docs/protocol.md 5.3:
 * {"name","phone","address"} from the personal record's recipient object
 * ({"name","phone","address":{"province",...,"detail"}}), the address in one
 * line by the page's rule. Compact JSON into out (no NUL), its length in
 * *len. SMILE_OK, SMILE_ERR_INVALID (recipient malformed) or
 * SMILE_ERR_TOO_LARGE (over cap). Personal data: the caller wipes out; every
 * temporary is wiped here. */
enum smile_err shipment_contact_json(json_t *recipient, char *out, size_t cap, size_t *len)
	SMILE_MUST_CHECK;

#endif
