/*
 * api_shipments.c - issuing, reading, printing and erasing shipments over HTTP.
 *
 * Issuance does all its CPU work (validation, masking, token, vault seal,
 * label record) in the request's own thread and hands only the finished rows
 * to the store, whose group commit makes them durable; the 201 goes out after
 * that commit. The personal part exists in plaintext only inside
 * issue_prepare, and is wiped before it returns.
 */
#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway.h"
#include "svc.h"
#include "shipment.h"
#include "smile/label.h"
#include "smile/log.h"
#include "token.h"
#include "vault.h"
#include "waybill.h"

#define IDEM_KEY_MAX 128

/* Validate an Idempotency-Key header; 0 and an error response when bad. */
static int idem_key_ok(const char *key, struct http_resp *o)
{
	size_t n = strlen(key);
	if (n == 0 || n > IDEM_KEY_MAX) {
		http_resp_error(o, 400, "invalid_value", "Idempotency-Key", "1-%d characters",
				IDEM_KEY_MAX);
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

/* Replay a stored response for a retried request; 1 when one was sent. */
static int idem_replay(struct gateway *g, struct http_req *r, const char *key,
		       const uint8_t hash[32], struct http_resp *o)
{
	struct smile_store_idem prev;
	enum smile_err rc = smile_store_get_idem(g->store, r->key.id, key, &prev);
	if (rc == SMILE_ERR_NOT_FOUND)
		return 0;
	if (rc) {
		http_resp_error(o, 500, "store", NULL, "could not read the idempotency record");
		return 1;
	}
	if (sodium_memcmp(prev.request_hash, hash, 32) != 0)
		http_resp_error(o, 422, "idempotency_key_reused", "Idempotency-Key",
				"this key was used for a different request");
	else {
		http_resp_bytes(o, prev.status, "application/json", prev.response,
				strlen(prev.response));
		http_resp_header(o, "Idempotent-Replayed", "true");
	}
	smile_store_idem_release(&prev);
	return 1;
}

void api_shipment_create(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	struct smile_error e = {0};
	struct issued it;
	const char *idem = http_header(r, "Idempotency-Key");
	uint8_t hash[32];
	json_t *body;
	enum smile_err rc;

	if (idem) {
		if (!idem_key_ok(idem, o))
			return;
		request_hash(r, hash);
		if (idem_replay(g, r, idem, hash, o))
			return;
	}
	body = http_body_json(r, o);
	if (body == NULL)
		return;
	rc = issue_prepare(g, &r->key, body, &it, &e);
	json_decref(body);
	if (rc) {
		http_resp_smile_error(o, &e);
		return;
	}
	char *resp = json_dumps(it.response, JSON_COMPACT);
	if (resp == NULL) {
		issued_release(&it);
		http_resp_error(o, 500, "nomem", NULL, "could not build the response");
		return;
	}
	struct smile_store_new_shipment item = {&it.row, &it.personal, NULL, SMILE_OK};
	if (idem) {
		snprintf(it.idem.api_key_id, sizeof(it.idem.api_key_id), "%s", r->key.id);
		snprintf(it.idem.key, sizeof(it.idem.key), "%s", idem);
		memcpy(it.idem.request_hash, hash, 32);
		it.idem.status = 201;
		it.idem.response = resp;
		item.idem = &it.idem;
	}
	rc = smile_store_insert_shipments(g->store, &item, 1, 1);
	if (rc == SMILE_ERR_CONFLICT && idem) {
		/* a concurrent retry with the same key won: answer as it did */
		issued_release(&it);
		if (!idem_replay(g, r, idem, hash, o))
			http_resp_error(o, 409, "conflict", "Idempotency-Key",
					"a request with this key is in progress");
		return;
	}
	if (rc) {
		if (!idem)
			free(resp);
		issued_release(&it);
		http_resp_error(o, 500, "store", NULL, "the shipment could not be stored");
		return;
	}
	smile_metrics_add(SMILE_COUNTER_SHIPMENTS_ISSUED, 1);
	smile_log(SMILE_LOG_INFO, "shipment.issued", SMILE_KV_ID("waybill", it.row.waybill),
		  SMILE_KV_ID("merchant", it.row.merchant), SMILE_KV_ID("key", r->key.id));
	http_resp_header(o, MHD_HTTP_HEADER_LOCATION, "/v1/shipments/%s", it.row.waybill);
	http_resp_bytes(o, 201, "application/json", resp, strlen(resp));
	if (!idem)
		free(resp);
	issued_release(&it); /* frees resp through it.idem.response when idem */
}

/* Fill results[] from the per-item store outcomes; returns how many items
 * failed to be stored. Items that failed validation are already there. */
static size_t batch_results(struct issued *its, const struct smile_store_new_shipment *items,
			    size_t n, json_t *results)
{
	size_t n_bad = 0;
	for (size_t i = 0, k = 0; i < n; i++) {
		if (its[i].response == NULL)
			continue;
		if (items[k].result == SMILE_OK) {
			json_object_set_new(its[i].response, "index", json_integer((json_int_t)i));
			json_object_set_new(its[i].response, "status_code", json_integer(201));
			json_array_set(results, i, its[i].response);
		} else {
			json_array_set_new(
				results, i,
				json_pack("{s:I, s:i, s:{s:s, s:s}}", "index", (json_int_t)i,
					  "status_code", 500, "error", "code", "store", "message",
					  "could not be stored"));
			n_bad++;
		}
		k++;
	}
	return n_bad;
}

/*
 * With an Idempotency-Key the batch follows the rules of single issuance: the
 * first response is stored with the shipments and replayed for a retry with
 * the same key and body; another body under the same key is 422. The record
 * rides on the first valid item, and the items are stored all or nothing, so
 * the response written before the commit (every valid item 201) is exactly
 * the one sent - and if the store fails, nothing is kept and a retry may
 * issue afresh. A batch with no valid item stores nothing, key included,
 * like a refused single request.
 */
void api_shipment_batch(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	json_t *body = NULL, *list = NULL, *results = NULL, *answer = NULL;
	struct issued *its = NULL;
	struct smile_store_new_shipment *items = NULL;
	struct smile_store_idem idem;
	const char *idem_key = http_header(r, "Idempotency-Key");
	uint8_t hash[32];
	char *resp = NULL;
	size_t n = 0, n_ok = 0, n_bad = 0;
	enum smile_err rc;

	memset(&idem, 0, sizeof(idem));
	if (idem_key) {
		if (!idem_key_ok(idem_key, o))
			return;
		request_hash(r, hash);
		if (idem_replay(g, r, idem_key, hash, o))
			return;
	}
	body = http_body_json(r, o);
	if (body == NULL)
		return;
	list = json_is_object(body) ? json_object_get(body, "shipments") : NULL;
	if (list == NULL) {
		http_resp_error(o, 422, json_is_object(body) ? "missing_field" : "wrong_type",
				"shipments", "expected {\"shipments\": [...]}");
		goto out;
	}
	if (!json_is_array(list)) {
		http_resp_error(o, 422, "wrong_type", "shipments", "must be an array");
		goto out;
	}
	n = json_array_size(list);
	if (n == 0 || n > (size_t)g->cfg.batch_max_items) {
		http_resp_error(o, n ? 413 : 422, n ? "too_large" : "invalid_value", "shipments",
				"%zu shipments, need 1-%ld", n, g->cfg.batch_max_items);
		n = 0;
		goto out;
	}
	its = calloc(n, sizeof(*its));
	items = calloc(n, sizeof(*items));
	results = json_array();
	if (its == NULL || items == NULL || results == NULL) {
		http_resp_error(o, 500, "nomem", NULL, "out of memory");
		goto out;
	}
	/* one slot per input item, so results come back in input order */
	for (size_t i = 0; i < n; i++)
		json_array_append_new(results, json_null());
	for (size_t i = 0; i < n; i++) {
		struct smile_error e = {0};
		rc = issue_prepare(g, &r->key, json_array_get(list, i), &its[i], &e);
		if (rc) {
			json_t *err = json_pack("{s:s, s:s}", "code", smile_errname(e.code),
						"message", e.message);
			if (e.field[0])
				json_object_set_new(err, "field", json_string(e.field));
			json_array_set_new(results, i,
					   json_pack("{s:I, s:i, s:o}", "index", (json_int_t)i,
						     "status_code", http_status_of(e.code), "error",
						     err));
			n_bad++;
			continue;
		}
		items[n_ok++] = (struct smile_store_new_shipment){&its[i].row, &its[i].personal,
								  NULL, SMILE_OK};
	}
	if (idem_key && n_ok > 0) {
		/* items[].result are all SMILE_OK until the store says otherwise */
		batch_results(its, items, n, results);
		answer = json_pack("{s:I, s:I, s:O}", "issued", (json_int_t)n_ok, "failed",
				   (json_int_t)n_bad, "results", results);
		resp = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
		if (resp == NULL) {
			http_resp_error(o, 500, "nomem", NULL, "could not build the response");
			goto out;
		}
		snprintf(idem.api_key_id, sizeof(idem.api_key_id), "%s", r->key.id);
		snprintf(idem.key, sizeof(idem.key), "%s", idem_key);
		memcpy(idem.request_hash, hash, 32);
		idem.status = 200;
		idem.response = resp;
		items[0].idem = &idem;
		rc = smile_store_insert_shipments(g->store, items, n_ok, 1);
		if (rc == SMILE_ERR_CONFLICT && items[0].result == SMILE_ERR_CONFLICT) {
			/* a concurrent retry with the same key won: answer as it did */
			if (!idem_replay(g, r, idem_key, hash, o))
				http_resp_error(o, 409, "conflict", "Idempotency-Key",
						"a request with this key is in progress");
			goto out;
		}
		if (rc) {
			http_resp_error(o, 500, "store", NULL,
					"the batch could not be stored; nothing was kept");
			goto out;
		}
	} else {
		rc = smile_store_insert_shipments(g->store, items, n_ok, 0);
		if (rc) {
			http_resp_error(o, 500, "store", NULL, "the batch could not be stored");
			goto out;
		}
		n_bad += batch_results(its, items, n, results);
	}
	smile_metrics_add(SMILE_COUNTER_SHIPMENTS_ISSUED, n - n_bad);
	smile_log(SMILE_LOG_INFO, "shipment.batch", SMILE_KV_INT("issued", (long long)(n - n_bad)),
		  SMILE_KV_INT("failed", (long long)n_bad), SMILE_KV_ID("key", r->key.id));
	if (resp)
		http_resp_bytes(o, 200, "application/json", resp, strlen(resp));
	else
		http_resp_json(o, 200,
			       json_pack("{s:I, s:I, s:O}", "issued", (json_int_t)(n - n_bad),
					 "failed", (json_int_t)n_bad, "results", results));
out:
	free(resp);
	json_decref(answer);
	json_decref(results);
	if (its)
		for (size_t i = 0; i < n; i++)
			issued_release(&its[i]);
	free(its);
	free(items);
	json_decref(body);
}
