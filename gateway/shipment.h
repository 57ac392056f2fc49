/*
 * shipment.h (gateway-internal) - a shipment request: parse, validate, mask,
 * and split into the public label record and the sealed personal part.
 */
#ifndef SMILE_GATEWAY_SHIPMENT_H
#define SMILE_GATEWAY_SHIPMENT_H

#include <jansson.h>
#include <stdint.h>

#include "smile/error.h"
#include "smile/mask.h"

#define SHIPMENT_MERCHANT_MAX 64
#define SHIPMENT_REF_MAX 64
#define SHIPMENT_NOTE_MAX 120 /* code points */
#define SHIPMENT_NOTE_DIGIT_RUN_MAX 5 /* a longer run of digits may be a phone number */
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

/* The personal part as compact JSON text (caller frees with
 * shipment_personal_free, which wipes it). NULL on allocation failure. */
char *shipment_personal_json(const struct shipment_req *r, size_t *len);
void shipment_personal_free(char *s, size_t len);

/* A deterministic sort code "PPP-CCC-DD SSS" from the destination region and
 * street (stand-in for a carrier routing table: same destination, same code). */
void shipment_sort_code(const struct smile_address *a, char out[16]);

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

/* What a scanning device is shown (masked): waybill, sort code, the masked
 * recipient and the parcel, from a label record. Compact JSON, caller frees;
 * NULL on allocation failure. Built once at issue, stored with the shipment. */
char *shipment_device_view(json_t *record);

#endif
