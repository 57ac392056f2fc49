/* SPDX-License-Identifier: Apache-2.0 */
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
				       "1-64 characters from A-Z a-z 0-9 _ . -, at most 7 digits in a row");
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
	/* The note is printed in clear on the label: the masking policy's rule
	 * for free text refuses what looks like a phone number, in any script
	 * and with any separators, rather than print one. */
	return smile_mask_note(out->note, e);
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

/* Domain of the sort-code key: no other use of the gateway's keys hashes
 * with this context, so the key says nothing about them and they nothing
 * about it (crypto_kdf: keyed BLAKE2b, the context as its personalisation). */
#define SORT_KDF_CONTEXT "smsort01" /* crypto_kdf_CONTEXTBYTES = 8 */
#define SORT_KDF_ID 1

void shipment_sort_key(const uint8_t *sign_sk, uint8_t key[SHIPMENT_SORT_KEY_BYTES])
{
	/* sign_sk is seed (32 bytes) + public key: the seed is the secret */
	_Static_assert(crypto_kdf_KEYBYTES == 32, "the Ed25519 seed is the KDF key");
	_Static_assert(SHIPMENT_SORT_KEY_BYTES >= crypto_kdf_BYTES_MIN &&
			       SHIPMENT_SORT_KEY_BYTES <= crypto_kdf_BYTES_MAX,
		       "sort-code key size");
	crypto_kdf_derive_from_key(key, SHIPMENT_SORT_KEY_BYTES, SORT_KDF_ID, SORT_KDF_CONTEXT,
				   sign_sk);
}

/* A routing part as typed, without the ASCII spaces around it. */
static void hash_part(crypto_generichash_state *st, const char *s)
{
	size_t n;
	static const unsigned char end = 0; /* parts cannot hold NUL: no ambiguity */

	s = s ? s : "";
	while (*s == ' ')
		s++;
	n = strlen(s);
	while (n > 0 && s[n - 1] == ' ')
		n--;
	crypto_generichash_update(st, (const unsigned char *)s, n);
	crypto_generichash_update(st, &end, 1);
}

/* Hash of the first `parts` routing parts (province, city, district), keyed
 * or not, reduced mod `mod`. */
static unsigned route_code(const uint8_t *key, const struct smile_address *a, int parts,
			   unsigned mod)
{
	crypto_generichash_state st;
	unsigned char h[8];
	uint64_t v = 0;

	crypto_generichash_init(&st, key, key ? SHIPMENT_SORT_KEY_BYTES : 0, sizeof(h));
	hash_part(&st, a->province);
	if (parts > 1)
		hash_part(&st, a->city);
	if (parts > 2)
		hash_part(&st, a->district);
	crypto_generichash_final(&st, h, sizeof(h));
	for (int i = 0; i < 8; i++)
		v = (v << 8) | h[i];
	sodium_memzero(&st, sizeof(st));
	return (unsigned)(v % mod);
}

void shipment_sort_code(const uint8_t key[SHIPMENT_SORT_KEY_BYTES],
			const struct smile_address *a, char out[SHIPMENT_SORT_CODE_MAX])
{
	/* no I or O, which read as 1 and 0 */
	static const char letters[] = "ABCDEFGHJKLMNPQRSTUVWXYZ";
	unsigned d = route_code(key, a, 3, 24 * 24);

	/* Province and city are printed on every label, under every policy:
	 * their parts need no key and stay the same across gateways. The
	 * district is not printed under `strict`: keyed, so nobody without the
	 * gateway's key can tell which district a code stands for. The street
	 * is not an input at all. Letters for the district keep the code's
	 * longest number run at 6, under the label library's limit of 7. */
	snprintf(out, SHIPMENT_SORT_CODE_MAX, "%03u-%03u-%c%c", route_code(NULL, a, 1, 1000),
		 route_code(NULL, a, 2, 1000), letters[d / 24], letters[d % 24]);
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
	json_t *rc = json_object_get(record, "recipient");
	json_t *lines = json_object_get(rc, "address");
	char address[SMILE_MASK_MAX * SMILE_MASK_ADDR_LINES + SMILE_MASK_ADDR_LINES];
	size_t used = 0, i;
	json_t *line;

	if (!json_is_string(json_object_get(rc, "name")) ||
	    !json_is_string(json_object_get(rc, "phone")))
		return NULL;
	/* the label's address lines, joined by one space (5.3) */
	address[0] = '\0';
	json_array_foreach(lines, i, line) {
		const char *t = json_string_value(line);
		int w;
		if (t == NULL || *t == '\0' || used >= sizeof(address))
			continue;
		w = snprintf(address + used, sizeof(address) - used, "%s%s", used ? " " : "", t);
		if (w > 0)
			used += (size_t)w;
	}
	json_t *v = json_pack("{s:O?, s:O?, s:O, s:O, s:s, s:O?}", "waybill",
			      json_object_get(record, "waybill"), "sort_code",
			      json_object_get(record, "sort_code"), "name",
			      json_object_get(rc, "name"), "phone", json_object_get(rc, "phone"),
			      "address", address, "parcel", json_object_get(record, "parcel"));
	char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
	json_decref(v);
	return s;
}

int shipment_device_view_is_old(const char *view)
{
	/* An unescaped quote before a key can only start a key: inside a JSON
	 * string a quote is always escaped, so this never matches a value. */
	return view != NULL && strstr(view, "\"recipient\":") != NULL;
}

/* Append part t, trimmed of U+0020 at both ends, with one space before it
 * unless it is the first. */
static void append_part(char *out, size_t cap, size_t *used, const char *t, size_t n)
{
	while (n > 0 && *t == ' ') {
		t++;
		n--;
	}
	while (n > 0 && t[n - 1] == ' ')
		n--;
	if (n == 0 || *used + n + 1 >= cap) {
		if (n)
			*used = cap; /* too long: reported by the caller */
		return;
	}
	if (*used)
		out[(*used)++] = ' ';
	memcpy(out + *used, t, n);
	*used += n;
	out[*used] = '\0';
}

/* Trimmed view of a string: pointer and length. */
static size_t trimmed(const char *s, const char **start)
{
	size_t n = s ? strlen(s) : 0;
	while (n > 0 && *s == ' ') {
		s++;
		n--;
	}
	while (n > 0 && s[n - 1] == ' ')
		n--;
	*start = s;
	return n;
}

enum smile_err shipment_contact_json(json_t *recipient, char *out, size_t cap, size_t *len)
{
	static const char *const region[] = {"province", "city", "district"};
	json_t *a = json_object_get(recipient, "address");
	json_t *name = json_object_get(recipient, "name"), *phone = json_object_get(recipient, "phone");
	char line[1024];
	const char *prev = NULL, *t;
	size_t used = 0, prev_n = 0, n;
	enum smile_err rc = SMILE_OK;
	char *s = NULL;
	json_t *c = NULL;

	*len = 0;
	if (!json_is_string(name) || !json_is_string(phone) || !json_is_object(a))
		return SMILE_ERR_INVALID;
	line[0] = '\0';
	/* province, city, district: a part equal to the one kept before it is
	 * written once (北京市 北京市 朝阳区 -> 北京市 朝阳区) */
	for (size_t i = 0; i < 3; i++) {
		n = trimmed(json_string_value(json_object_get(a, region[i])), &t);
		if (n == 0 || (prev && n == prev_n && memcmp(t, prev, n) == 0))
			continue;
		append_part(line, sizeof(line), &used, t, n);
		prev = t;
		prev_n = n;
	}
	n = trimmed(json_string_value(json_object_get(a, "street")), &t);
	append_part(line, sizeof(line), &used, t, n);
	n = trimmed(json_string_value(json_object_get(a, "detail")), &t);
	append_part(line, sizeof(line), &used, t, n);
	if (used >= sizeof(line)) {
		rc = SMILE_ERR_TOO_LARGE;
		goto out;
	}
	c = json_pack("{s:O, s:O, s:s}", "name", name, "phone", phone, "address", line);
	s = c ? json_dumps(c, JSON_COMPACT) : NULL;
	if (s == NULL) {
		rc = SMILE_ERR_NOMEM;
		goto out;
	}
	n = strlen(s);
	if (n > cap) {
		rc = SMILE_ERR_TOO_LARGE;
		goto out;
	}
	memcpy(out, s, n);
	*len = n;
out:
	if (s) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
	json_decref(c); /* jansson frees through the wiping allocator */
	sodium_memzero(line, sizeof(line));
	return rc;
}
