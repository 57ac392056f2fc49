/*
 * shipment.c - the split at the heart of Smile: a request with real contact
 * details becomes (a) a masked public label record and (b) a personal JSON
 * blob that only the vault ever sees.
 *
 * Validation here is about shape (types, presence, lengths, known values);
 * what a name or phone may contain is the masking module's call, so there is
 * one definition of a valid phone number.
 */
#include "shipment.h"

#include "apikey.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const char *const services[] = {"STANDARD", "EXPRESS", "ECONOMY", "SAME_DAY", NULL};

/* Count UTF-8 code points (input already valid: jansson checks). */
static size_t utf8_len(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static enum smile_err get_string(json_t *obj, const char *key, int required, size_t max_cp,
				 const char **out, struct smile_error *e)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (required)
			return smile_error_set(e, SMILE_ERR_MISSING_FIELD, key, "required");
		return SMILE_OK;
	}
	if (!json_is_string(v))
		return smile_error_set(e, SMILE_ERR_FIELD_TYPE, key, "must be a string");
	const char *s = json_string_value(v);
	if (strlen(s) != json_string_length(v))
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, key, "contains a NUL character");
	size_t n = utf8_len(s);
	if (n > max_cp)
		return smile_error_set(e, SMILE_ERR_TOO_LARGE, key, "%zu characters, at most %zu",
				       n, max_cp);
	*out = s;
	return SMILE_OK;
}

static enum smile_err get_long(json_t *obj, const char *key, int required, long min, long max,
			       long dflt, long *out, struct smile_error *e)
{
	json_t *v = json_object_get(obj, key);
	*out = dflt;
	if (v == NULL || json_is_null(v)) {
		if (required)
			return smile_error_set(e, SMILE_ERR_MISSING_FIELD, key, "required");
		return SMILE_OK;
	}
	if (!json_is_integer(v))
		return smile_error_set(e, SMILE_ERR_FIELD_TYPE, key, "must be a whole number");
	json_int_t x = json_integer_value(v);
	if (x < min || x > max)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, key, "must be %ld..%ld", min, max);
	*out = (long)x;
	return SMILE_OK;
}

static enum smile_err parse_party(json_t *obj, const char *which, struct shipment_party *p,
				  struct smile_error *e)
{
	enum smile_err rc;
	json_t *party = json_object_get(obj, which), *addr;

	memset(p, 0, sizeof(*p));
	if (party == NULL || json_is_null(party))
		return smile_error_set(e, SMILE_ERR_MISSING_FIELD, which, "required");
	if (!json_is_object(party))
		return smile_error_set(e, SMILE_ERR_FIELD_TYPE, which, "must be an object");
	/* Lengths are the masking module's to judge; these caps only keep
	 * absurd input from reaching it. */
	if ((rc = get_string(party, "name", 1, 256, &p->name, e)) ||
	    (rc = get_string(party, "phone", 1, 64, &p->phone, e)))
		goto out;
	addr = json_object_get(party, "address");
	if (addr == NULL || json_is_null(addr)) {
		rc = smile_error_set(e, SMILE_ERR_MISSING_FIELD, "address", "required");
		goto out;
	}
	if (!json_is_object(addr)) {
		rc = smile_error_set(e, SMILE_ERR_FIELD_TYPE, "address", "must be an object");
		goto out;
	}
	if ((rc = get_string(addr, "country", 0, 64, &p->addr.country, e)) ||
	    (rc = get_string(addr, "province", 0, 64, &p->addr.province, e)) ||
	    (rc = get_string(addr, "city", 1, 64, &p->addr.city, e)) ||
	    (rc = get_string(addr, "district", 0, 64, &p->addr.district, e)) ||
	    (rc = get_string(addr, "street", 1, 64, &p->addr.street, e)) ||
	    (rc = get_string(addr, "detail", 0, 128, &p->addr.detail, e))) {
		smile_error_prefix(e, "address");
		goto out;
	}
out:
	if (rc)
		smile_error_prefix(e, which);
	return rc;
}

static int ref_ok(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("_.:/@+-#", c)))
			return 0;
	}
	return 1;
}

enum smile_err shipment_parse(json_t *obj, struct shipment_req *out, struct smile_error *e)
{
	enum smile_err rc;
	memset(out, 0, sizeof(*out));
	if (!json_is_object(obj))
		return smile_error_set(e, SMILE_ERR_FIELD_TYPE, NULL,
				       "the shipment must be a JSON object");
	if ((rc = parse_party(obj, "recipient", &out->recipient, e)) ||
	    (rc = parse_party(obj, "sender", &out->sender, e)))
		return rc;
	if ((rc = get_string(obj, "merchant", 0, SHIPMENT_MERCHANT_MAX, &out->merchant, e)) ||
	    (rc = get_string(obj, "merchant_ref", 0, SHIPMENT_REF_MAX, &out->merchant_ref, e)) ||
	    (rc = get_string(obj, "service", 0, 16, &out->service, e)) ||
	    (rc = get_string(obj, "note", 0, SHIPMENT_NOTE_MAX, &out->note, e)) ||
	    (rc = get_long(obj, "weight_g", 1, 1, SHIPMENT_WEIGHT_MAX, 0, &out->weight_g, e)) ||
	    (rc = get_long(obj, "parcels", 0, 1, SHIPMENT_PARCELS_MAX, 1, &out->parcels, e)))
		return rc;
	if (out->merchant && !apikey_merchant_ok(out->merchant))
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "merchant",
				       "1-64 characters from A-Z a-z 0-9 _ . -");
	if (out->merchant_ref == NULL)
		out->merchant_ref = "";
	else if (!ref_ok(out->merchant_ref))
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "merchant_ref",
				       "only A-Z a-z 0-9 _ . : / @ + - # allowed");
	if (out->service == NULL)
		out->service = "STANDARD";
	int known = 0;
	for (int i = 0; services[i]; i++)
		known |= strcmp(services[i], out->service) == 0;
	if (!known)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "service",
				       "must be STANDARD, EXPRESS, ECONOMY or SAME_DAY");
	if (out->note == NULL)
		out->note = "";
	/* The note is printed in clear on the label: refuse what looks like a
	 * phone number rather than print one, measured as the label library
	 * measures it (digits of any script, "12345 678" is one run), and any
	 * character it would refuse to print. */
	return smile_mask_check_text(out->note, SHIPMENT_NOTE_MAX, SHIPMENT_NOTE_DIGIT_RUN_MAX,
				     "note", e);
}

enum smile_err shipment_mask(enum smile_mask_policy policy, const struct shipment_party *p,
			     const char *which, struct shipment_masked *out,
			     struct smile_error *e)
{
	enum smile_err rc;
	memset(out, 0, sizeof(*out));
	if ((rc = smile_mask_name(policy, p->name, out->name, sizeof(out->name), e)) ||
	    (rc = smile_mask_phone(policy, p->phone, out->phone, sizeof(out->phone), e)) ||
	    (rc = smile_mask_address(policy, &p->addr, out->addr, SMILE_MASK_ADDR_LINES,
				     &out->n_addr, e)))
		smile_error_prefix(e, which);
	return rc;
}

static json_t *personal_party(const struct shipment_party *p)
{
	const struct smile_address *a = &p->addr;
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s}}", "name", p->name, "phone",
			 p->phone, "address", "country", a->country ? a->country : "", "province",
			 a->province ? a->province : "", "city", a->city, "district",
			 a->district ? a->district : "", "street", a->street, "detail",
			 a->detail ? a->detail : "");
}

char *shipment_personal_json(const struct shipment_req *r, size_t *len)
{
	json_t *o = json_pack("{s:o, s:o}", "recipient", personal_party(&r->recipient), "sender",
			      personal_party(&r->sender));
	char *s;
	if (o == NULL)
		return NULL;
	s = json_dumps(o, JSON_COMPACT);
	/* jansson's own copies of the strings are freed by json_decref; they
	 * are the request's strings, wiped with the request body. */
	json_decref(o);
	if (s)
		*len = strlen(s);
	return s;
}

void shipment_personal_free(char *s, size_t len)
{
	if (s) {
		sodium_memzero(s, len);
		free(s);
	}
}

static unsigned code_of(const char *s, unsigned mod)
{
	unsigned char h[8];
	uint64_t v = 0;
	crypto_generichash(h, sizeof(h), (const unsigned char *)(s ? s : ""), s ? strlen(s) : 0,
			   NULL, 0);
	for (int i = 0; i < 8; i++)
		v = (v << 8) | h[i];
	return (unsigned)(v % mod);
}

void shipment_sort_code(const struct smile_address *a, char out[16])
{
	char city[200], district[300];
	snprintf(city, sizeof(city), "%s/%s", a->province ? a->province : "", a->city);
	snprintf(district, sizeof(district), "%s/%s", city, a->district ? a->district : "");
	snprintf(out, 16, "%03u-%03u-%02u %03u", code_of(a->province, 1000), code_of(city, 1000),
		 code_of(district, 100), code_of(a->street, 1000));
}

void shipment_region(enum smile_mask_policy policy, const struct smile_address *a, char *out,
		     size_t n)
{
	if (policy == SMILE_MASK_STRICT)
		snprintf(out, n, "%s/%s/%s", a->country ? a->country : "",
			 a->province ? a->province : "", a->city);
	else
		snprintf(out, n, "%s/%s/%s/%s", a->country ? a->country : "",
			 a->province ? a->province : "", a->city, a->district ? a->district : "");
}

static json_t *masked_party(const struct shipment_masked *m)
{
	json_t *lines = json_array();
	for (size_t i = 0; i < m->n_addr; i++)
		json_array_append_new(lines, json_string(m->addr[i]));
	return json_pack("{s:s, s:s, s:o}", "name", m->name, "phone", m->phone, "address", lines);
}

json_t *shipment_label_record(const struct shipment_req *r, const struct shipment_masked *rcpt,
			      const struct shipment_masked *sndr, const char *merchant,
			      const char *waybill, const char *token, const char *sort_code,
			      const char *date, long index)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:{s:I, s:I}}",
			      "waybill", waybill, "sort_code", sort_code, "service", r->service,
			      "date", date, "token", token, "merchant", merchant, "recipient",
			      masked_party(rcpt), "sender", masked_party(sndr), "weight_g",
			      (json_int_t)r->weight_g, "parcel", "index", (json_int_t)index,
			      "count", (json_int_t)r->parcels);
	if (o && r->note[0])
		json_object_set_new(o, "note", json_string(r->note));
	return o;
}

char *shipment_device_view(json_t *record)
{
	json_t *v = json_pack("{s:O?, s:O?, s:O?, s:O?}", "waybill", json_object_get(record, "waybill"),
			      "sort_code", json_object_get(record, "sort_code"), "recipient",
			      json_object_get(record, "recipient"), "parcel",
			      json_object_get(record, "parcel"));
	char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
	json_decref(v);
	return s;
}
