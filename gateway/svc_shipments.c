/*
 * svc_shipments.c - issuing shipments: validation, masking, token, vault seal
 * and label record, for every door.
 *
 * Issuance does all its CPU work in the caller's own thread and hands only
 * the finished rows to the store, whose group commit makes them durable. The
 * personal part exists in plaintext only inside issue_prepare, and is wiped
 * before it returns.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shipment.h"
#include "svc.h"
#include "token.h"
#include "vault.h"
#include "waybill.h"

void issued_release(struct issued *it)
{
	free(it->row.public_json);
	free(it->row.device_view);
	free(it->personal.ct);
	free(it->idem.response);
	json_decref(it->response);
	memset(it, 0, sizeof(*it));
}

static void id_aad(uint64_t id, uint8_t aad[8])
{
	for (int i = 7; i >= 0; i--) {
		aad[i] = (uint8_t)(id & 0xff);
		id >>= 8;
	}
}

/* Which merchant does this request issue for? */
static enum smile_err resolve_merchant(const struct smile_store_apikey *k,
				       const struct shipment_req *req, const char **out,
				       struct smile_error *e)
{
	if (k->role == SMILE_ROLE_MERCHANT) {
		if (req->merchant && strcmp(req->merchant, k->merchant) != 0)
			return smile_error_set(e, SMILE_ERR_PERMISSION, "merchant",
					       "a merchant key issues only for its own merchant");
		*out = k->merchant;
		return SMILE_OK;
	}
	if (req->merchant == NULL)
		return smile_error_set(e, SMILE_ERR_MISSING_FIELD, "merchant",
				       "required with a %s key", smile_role_name(k->role));
	if (!api_may_access(k, req->merchant))
		return smile_error_set(e, SMILE_ERR_PERMISSION, "merchant",
				       "this key is not bound to that merchant");
	*out = req->merchant;
	return SMILE_OK;
}

/* Validate, mask, mint, seal: everything but the write. */
enum smile_err issue_prepare(struct gateway *g, const struct smile_store_apikey *k,
				    json_t *obj, struct issued *it, struct smile_error *e)
{
	struct shipment_req req;
	struct shipment_masked *rm = NULL, *sm = NULL;
	const char *merchant = NULL;
	char token[SMILE_TOKEN_MAX], waybill[SMILE_WAYBILL_MAX], sort[16], date[48];
	uint8_t sort_key[SHIPMENT_SORT_KEY_BYTES];
	char created[GATEWAY_TIME_MAX];
	char *personal = NULL;
	size_t personal_len = 0;
	uint8_t aad[8];
	json_t *record = NULL;
	enum smile_err rc;
	int64_t now = gateway_now_ms();
	time_t t = (time_t)(now / 1000);
	struct tm tm;

	memset(it, 0, sizeof(*it));
	rc = shipment_parse(obj, &req, e);
	if (rc)
		goto out;
	rc = resolve_merchant(k, &req, &merchant, e);
	if (rc)
		goto out;
	rm = malloc(sizeof(*rm));
	sm = malloc(sizeof(*sm));
	if (rm == NULL || sm == NULL) {
		rc = smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
		goto out;
	}
	if ((rc = shipment_mask(g->policy, &req.recipient, "recipient", rm, e)) ||
	    (rc = shipment_mask(g->policy, &req.sender, "sender", sm, e)))
		goto out;

	if ((rc = smile_store_next_id(g->store, &it->row.id)))
		goto out;
	localtime_r(&t, &tm);
	uint32_t yymmdd = (uint32_t)((tm.tm_year % 100) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday);
	/* The store's id is unique; its low digits make the day's sequence
	 * (the UNIQUE waybill column catches the impossible wrap). */
	rc = smile_waybill_format(g->cfg.waybill_prefix, yymmdd,
				  it->row.id % (SMILE_WAYBILL_SEQ_MAX + 1ULL), waybill, e);
	if (rc)
		goto out;
	rc = smile_token_mint(smile_keys_token(g->keys), it->row.id, token, e);
	if (rc)
		goto out;
	snprintf(date, sizeof(date), "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday);
	shipment_sort_key(smile_keys_sign_sk(g->keys), sort_key);
	shipment_sort_code(sort_key, &req.recipient.addr, sort);
	sodium_memzero(sort_key, sizeof(sort_key));

	/* The personal part: sealed, then wiped. */
	personal = shipment_personal_json(&req, &personal_len);
	if (personal == NULL) {
		rc = smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
		goto out;
	}
	it->personal.ct = malloc(personal_len + SMILE_VAULT_CT_OVERHEAD);
	if (it->personal.ct == NULL) {
		rc = smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
		goto out;
	}
	id_aad(it->row.id, aad);
	rc = smile_vault_seal(smile_keys_vault(g->keys), aad, sizeof(aad),
			      (const uint8_t *)personal, personal_len, it->personal.wrapped_key,
			      it->personal.ct, personal_len + SMILE_VAULT_CT_OVERHEAD,
			      &it->personal.ct_len, e);
	if (rc)
		goto out;
	it->personal.wrapped_len = SMILE_VAULT_WRAPPED_KEY_BYTES;

	record = shipment_label_record(&req, rm, sm, merchant, waybill, token, sort, date, 1);
	if (record == NULL) {
		rc = smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
		goto out;
	}
	it->row.public_json = json_dumps(record, JSON_COMPACT);
	it->row.device_view = shipment_device_view(record);
	snprintf(it->row.waybill, sizeof(it->row.waybill), "%s", waybill);
	snprintf(it->row.merchant, sizeof(it->row.merchant), "%s", merchant);
	snprintf(it->row.merchant_ref, sizeof(it->row.merchant_ref), "%s", req.merchant_ref);
	snprintf(it->row.status, sizeof(it->row.status), "created");
	snprintf(it->row.token, sizeof(it->row.token), "%s", token);
	shipment_region(g->policy, &req.recipient.addr, it->row.region, sizeof(it->row.region));
	it->row.created_ms = now;
	gateway_iso_time(now, created);
	it->response = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "waybill", waybill, "token",
				 token, "status", "created", "merchant", merchant, "merchant_ref",
				 req.merchant_ref, "created_at", created, "label", record);
	if (it->row.public_json == NULL || it->row.device_view == NULL || it->response == NULL)
		rc = smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
out:
	json_decref(record);
	shipment_personal_free(personal, personal_len);
	if (rm)
		sodium_memzero(rm, sizeof(*rm));
	if (sm)
		sodium_memzero(sm, sizeof(*sm));
	free(rm);
	free(sm);
	sodium_memzero(&req, sizeof(req));
	if (rc)
		issued_release(it);
	return rc;
}

