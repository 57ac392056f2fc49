/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_shipments.c - issuing shipments over HTTP: one at a time and in
 * batches, with Idempotency-Key.
 *
 * The rules are the service's (svc_shipments.c); this file reads the
 * request (the Idempotency-Key header, the hash that identifies a retry,
 * the JSON body) and writes the answer. The 201 goes out after the store's
 * commit.
 */
#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "svc.h"

/* Validate an Idempotency-Key header; 0 and an error response when bad. */
static int idem_key_ok(const char *key, struct http_resp *o)
{
	size_t n = strlen(key);
	if (n == 0 || n > SVC_IDEM_KEY_MAX) {
		http_resp_error(o, 400, "invalid_value", "Idempotency-Key", "1-%d characters",
				SVC_IDEM_KEY_MAX);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)key[i] < 0x21 || (unsigned char)key[i] > 0x7e) {
			http_resp_error(o, 400, "invalid_value", "Idempotency-Key",
					"printable ASCII without spaces only");
			return 0;
		}
	return 1;
}

/* What identifies a retry: method, path and body. */
static void request_hash(struct http_req *r, uint8_t out[32])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const unsigned char *)r->method, strlen(r->method));
	crypto_generichash_update(&st, (const unsigned char *)"\n", 1);
	for (int i = 0; i < r->nseg; i++)
		crypto_generichash_update(&st, (const unsigned char *)r->seg[i], strlen(r->seg[i]));
	crypto_generichash_update(&st, (const unsigned char *)"\n", 1);
	if (r->body.len)
		crypto_generichash_update(&st, (const unsigned char *)r->body.data, r->body.len);
	crypto_generichash_final(&st, out, 32);
}

/* An issuance's error: a key reused for another request is 422. */
static void issue_error(struct http_resp *o, enum smile_err rc, int reused,
			const struct smile_error *e)
{
	if (rc == SMILE_ERR_CONFLICT && reused)
		http_resp_error(o, 422, "idempotency_key_reused", e->field, "%s", e->message);
	else
		http_resp_smile_error(o, e);
}

static void answer(struct http_resp *o, const struct svc_answer *a)
{
	http_resp_bytes(o, a->status, "application/json", a->body, strlen(a->body));
	if (a->replayed)
		http_resp_header(o, "Idempotent-Replayed", "true");
	else if (a->waybill[0])
		http_resp_header(o, MHD_HTTP_HEADER_LOCATION, "/v1/shipments/%s", a->waybill);
}

/* The Idempotency-Key, if any, into *idem; 0 when a response was written
 * (a bad key, or the recorded answer to a retry). */
static int idem_begin(struct gateway *g, struct http_req *r, const struct svc_caller *c,
		      struct svc_idem *idem, int *has, struct http_resp *o)
{
	struct smile_error e = {0};
	struct svc_answer prev = {0};
	int reused = 0;
	enum smile_err rc;

	idem->key = http_header(r, "Idempotency-Key");
	*has = idem->key != NULL;
	if (!*has)
		return 1;
	if (!idem_key_ok(idem->key, o))
		return 0;
	request_hash(r, idem->hash);
	rc = svc_idem_replay(g, c, idem, &prev, &reused, &e);
	if (rc == SMILE_ERR_NOT_FOUND)
		return 1;
	if (rc)
		issue_error(o, rc, reused, &e);
	else
		answer(o, &prev);
	svc_answer_release(&prev);
	return 0;
}

void api_shipment_create(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	struct svc_caller c = svc_caller_api(&r->key);
	struct smile_error e = {0};
	struct svc_idem idem;
	struct svc_answer a;
	int has_idem, reused;
	json_t *body;
	enum smile_err rc;

	if (!idem_begin(g, r, &c, &idem, &has_idem, o))
		return;
	body = http_body_json(r, o);
	if (body == NULL)
		return;
	rc = svc_issue(g, &c, body, has_idem ? &idem : NULL, &a, &reused, &e);
	json_decref(body);
	if (rc) {
		issue_error(o, rc, reused, &e);
		return;
	}
	answer(o, &a);
	svc_answer_release(&a);
}

void api_shipment_batch(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	struct svc_caller c = svc_caller_api(&r->key);
	struct smile_error e = {0};
	struct svc_idem idem;
	struct svc_answer a;
	int has_idem, reused;
	json_t *body;
	enum smile_err rc;

	if (!idem_begin(g, r, &c, &idem, &has_idem, o))
		return;
	body = http_body_json(r, o);
	if (body == NULL)
		return;
	rc = svc_issue_batch(g, &c, body, has_idem ? &idem : NULL, http_status_of, &a, &reused,
			     &e);
	json_decref(body);
	if (rc == SMILE_ERR_TOO_LARGE) /* more items than batch_max_items */
		http_resp_error(o, 413, smile_errname(rc), e.field, "%s", e.message);
	else if (rc)
		issue_error(o, rc, reused, &e);
	else
		answer(o, &a);
	svc_answer_release(&a);
}
