/*
 * personal.c - the sealed personal record (moved here from shipment.c and
 * api_shipments.c; see personal.h).
 */
#include "personal.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

void personal_aad(uint64_t id, uint8_t aad[PERSONAL_AAD_BYTES])
{
	for (int i = 7; i >= 0; i--) {
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

