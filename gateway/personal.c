/* SPDX-License-Identifier: Apache-2.0 */
/*
 * personal.c - the sealed personal record (personal.h): its JSON, its
 * associated data, sealing at issue and opening at a reveal.
 *
 * The one idea: nothing outside this file sees the record's plaintext. Issue
 * hands in a parsed request and gets blobs for the store; a reveal hands in
 * the blobs and gets the five-line contact JSON of the protocol. Every buffer
 * that held plaintext is wiped here, on every path, and jansson frees through
 * the gateway's wiping allocator (gateway.c).
 */
#include "personal.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void personal_aad(uint64_t id, uint8_t aad[PERSONAL_AAD_BYTES])
{
	for (int i = PERSONAL_AAD_BYTES - 1; i >= 0; i--) {
		aad[i] = (uint8_t)(id & 0xff);
		id >>= 8;
	}
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

/* The record as compact JSON text (personal_json_free wipes and frees it).
 * NULL on allocation failure. */
static char *personal_json(const struct shipment_req *r, size_t *len)
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

static void personal_json_free(char *s, size_t len)
{
	if (s) {
		sodium_memzero(s, len);
		free(s);
	}
}

enum smile_err personal_seal(const struct smile_vault *v, const struct shipment_req *req,
			     uint64_t id, struct smile_store_personal *out, struct smile_error *e)
{
	uint8_t aad[PERSONAL_AAD_BYTES];
	size_t len = 0;
	char *json;
	enum smile_err rc;

	memset(out, 0, sizeof(*out));
	json = personal_json(req, &len);
	if (json == NULL)
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
	out->ct = malloc(len + SMILE_VAULT_CT_OVERHEAD);
	if (out->ct == NULL) {
		rc = smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
		goto out;
	}
	personal_aad(id, aad);
	rc = smile_vault_seal(v, aad, sizeof(aad), (const uint8_t *)json, len, out->wrapped_key,
			      out->ct, len + SMILE_VAULT_CT_OVERHEAD, &out->ct_len, e);
	if (rc == SMILE_OK)
		out->wrapped_len = SMILE_VAULT_WRAPPED_KEY_BYTES;
out:
	personal_json_free(json, len);
	if (rc) {
		free(out->ct);
		memset(out, 0, sizeof(*out));
	}
	return rc;
}

enum smile_err personal_open(const struct smile_vault *v, const struct smile_store_personal *p,
			     uint64_t id, char *out, size_t cap, size_t *len, struct smile_error *e)
{
	uint8_t aad[PERSONAL_AAD_BYTES], *pt = NULL;
	size_t pt_len = 0, pt_cap = p->ct_len + 1;
	json_t *j = NULL;
	enum smile_err rc;

	*len = 0;
	pt = malloc(pt_cap);
	if (pt == NULL) {
		rc = smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
		goto out;
	}
	personal_aad(id, aad);
	/* no wrapped key: erased, and the vault says so (SMILE_ERR_SHREDDED) */
	rc = smile_vault_open(v, aad, sizeof(aad), p->wrapped_len ? p->wrapped_key : NULL, p->ct,
			      p->ct_len, pt, pt_cap, &pt_len, e);
	if (rc)
		goto out;
	j = json_loadb((const char *)pt, pt_len, 0, NULL);
	if (j == NULL) {
		rc = smile_error_set(e, SMILE_ERR_INVALID, "personal", "not a JSON record");
		goto out;
	}
	/* 5.3: name, phone and the address in one line by the page's rule */
	rc = shipment_contact_json(json_object_get(j, "recipient"), out, cap, len);
	if (rc)
		smile_error_set(e, rc, "personal.recipient", "no contact details a device can be shown");
out:
	json_decref(j); /* jansson frees through the wiping allocator */
	if (pt) {
		sodium_memzero(pt, pt_cap);
		free(pt);
	}
	if (rc) {
		*len = 0;
		if (out && cap)
			sodium_memzero(out, cap);
	}
	return rc;
}
