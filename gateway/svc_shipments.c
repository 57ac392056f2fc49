/* SPDX-License-Identifier: Apache-2.0 */
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

#include "events.h"
#include "personal.h"
#include "shipment.h"
#include "smile/log.h"
#include "svc.h"
#include "token.h"
#include "track.h"
#include "vault.h"
#include "waybill.h"

/* One shipment prepared for the store, with everything it owns. */
struct issued {
	struct smile_store_shipment row;
	struct smile_store_personal personal;
	struct smile_store_idem idem;
	json_t *response; /* the 201 body */
	int has_idem;
	uint8_t track_hash[SMILE_STORE_TRACK_HASH_BYTES]; /* the tracking page's check */
	int has_track_hash;
};

static void issued_release(struct issued *it)
{
	free(it->row.public_json);
	free(it->row.device_view);
	free(it->personal.ct);
	free(it->idem.response);
	json_decref(it->response);
	memset(it, 0, sizeof(*it));
}

/* Which merchant does this request issue for? */
static enum smile_err resolve_merchant(const struct svc_caller *c,
				       const struct shipment_req *req, const char **out,
				       struct smile_error *e)
{
	if (c->role == SMILE_ROLE_MERCHANT) {
		if (c->key == NULL || (req->merchant && strcmp(req->merchant, c->key->merchant) != 0))
			return smile_error_set(e, SMILE_ERR_PERMISSION, "merchant",
					       "a merchant key issues only for its own merchant");
		*out = c->key->merchant;
		return SMILE_OK;
	}
	if (req->merchant == NULL)
		return smile_error_set(e, SMILE_ERR_MISSING_FIELD, "merchant",
				       "required with a %s key", smile_role_name(c->role));
	if (!svc_may_access(c, req->merchant))
		return smile_error_set(e, SMILE_ERR_PERMISSION, "merchant",
				       "this key is not bound to that merchant");
	*out = req->merchant;
	return SMILE_OK;
}

/* Validate, mask, mint, seal: everything but the write. */
static enum smile_err issue_prepare(struct gateway *g, const struct svc_caller *c,
				    json_t *obj, struct issued *it, struct smile_error *e)
{
	struct shipment_req req;
	struct shipment_masked *rm = NULL, *sm = NULL;
	const char *merchant = NULL;
	char token[SMILE_TOKEN_MAX], waybill[SMILE_WAYBILL_MAX], sort[16], date[48];
	uint8_t sort_key[SHIPMENT_SORT_KEY_BYTES];
	char created[GATEWAY_TIME_MAX];
	json_t *record = NULL;
	enum smile_err rc;
	int64_t now = gateway_now_ms();
	time_t t = (time_t)(now / 1000);
	struct tm tm;

	memset(it, 0, sizeof(*it));
	rc = shipment_parse(obj, &req, e);
	if (rc)
		goto out;
	rc = resolve_merchant(c, &req, &merchant, e);
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

	/* The tracking page's check (docs/tracking.md): a keyed hash of the
	 * phone's last digits, taken while the number is in the clear anyway */
	char digits[TRACK_DIGITS + 1];
	if (track_last_digits(req.recipient.phone, digits) == 0) {
		track_digits_hash(g->keys, waybill, digits, it->track_hash);
		it->has_track_hash = 1;
	}
	sodium_memzero(digits, sizeof(digits));

	/* The personal part: sealed, then wiped. */
	rc = personal_seal(smile_keys_vault(g->keys), &req, it->row.id, &it->personal, e);
	if (rc)
		goto out;

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
	it->row.status = SMILE_SHIPMENT_CREATED;
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


/* ------------------------------------------------------------ answers */

void svc_answer_release(struct svc_answer *a)
{
	free(a->body);
	memset(a, 0, sizeof(*a));
}

/* An answer owning a copy of `body`. */
static enum smile_err answer_set(struct svc_answer *out, int status, const char *body,
				 struct smile_error *e)
{
	out->status = status;
	out->body = strdup(body);
	if (out->body == NULL)
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, "could not build the response");
	return SMILE_OK;
}

enum smile_err svc_idem_replay(struct gateway *g, const struct svc_caller *c,
			       const struct svc_idem *idem, struct svc_answer *out, int *reused,
			       struct smile_error *e)
{
	struct smile_store_idem prev;
	enum smile_err rc = smile_store_get_idem(g->store, c->id, idem->key, &prev);

	*reused = 0;
	if (rc == SMILE_ERR_NOT_FOUND)
		return rc;
	if (rc)
		return smile_error_set(e, SMILE_ERR_STORE, NULL,
				       "could not read the idempotency record");
	if (sodium_memcmp(prev.request_hash, idem->hash, 32) != 0) {
		*reused = 1;
		rc = smile_error_set(e, SMILE_ERR_CONFLICT, "Idempotency-Key",
				     "this key was used for a different request");
	} else {
		rc = answer_set(out, prev.status, prev.response, e);
		out->replayed = 1;
	}
	smile_store_idem_release(&prev);
	return rc;
}

/* The store said the key is taken: a concurrent retry with the same key
 * won, so answer as it did. */
static enum smile_err idem_lost_race(struct gateway *g, const struct svc_caller *c,
				     const struct svc_idem *idem, struct svc_answer *out,
				     int *reused, struct smile_error *e)
{
	enum smile_err rc = svc_idem_replay(g, c, idem, out, reused, e);
	if (rc == SMILE_ERR_NOT_FOUND)
		return smile_error_set(e, SMILE_ERR_CONFLICT, "Idempotency-Key",
				       "a request with this key is in progress");
	return rc;
}

/* ------------------------------------------------------------ issuance */

enum smile_err svc_issue(struct gateway *g, const struct svc_caller *c, json_t *obj,
			 const struct svc_idem *idem, struct svc_answer *out, int *reused,
			 struct smile_error *e)
{
	struct issued it;
	enum smile_err rc;
	char *resp;

	memset(out, 0, sizeof(*out));
	*reused = 0;
	rc = issue_prepare(g, c, obj, &it, e);
	if (rc)
		return rc;
	resp = json_dumps(it.response, JSON_COMPACT);
	if (resp == NULL) {
		issued_release(&it);
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, "could not build the response");
	}
	struct smile_store_new_shipment item = {
		.row = &it.row,
		.personal = &it.personal,
		.result = SMILE_OK,
		.track_hash = it.has_track_hash ? it.track_hash : NULL,
	};
	if (idem) {
		snprintf(it.idem.api_key_id, sizeof(it.idem.api_key_id), "%s", c->id);
		snprintf(it.idem.key, sizeof(it.idem.key), "%s", idem->key);
		memcpy(it.idem.request_hash, idem->hash, 32);
		it.idem.status = 201;
		it.idem.response = resp;
		item.idem = &it.idem;
	}
	rc = smile_store_insert_shipments(g->store, &item, 1, 1);
	if (rc == SMILE_ERR_CONFLICT && idem) {
		issued_release(&it); /* frees resp through it.idem.response */
		return idem_lost_race(g, c, idem, out, reused, e);
	}
	if (rc) {
		if (!idem)
			free(resp);
		issued_release(&it);
		return smile_error_set(e, SMILE_ERR_STORE, NULL, "the shipment could not be stored");
	}
	smile_metrics_add(SMILE_COUNTER_SHIPMENTS_ISSUED, 1);
	smile_log(SMILE_LOG_INFO, "shipment.issued", SMILE_KV_ID("waybill", it.row.waybill),
		  SMILE_KV_ID("merchant", it.row.merchant), SMILE_KV_ID("key", c->id));
	out->status = 201;
	snprintf(out->waybill, sizeof(out->waybill), "%s", it.row.waybill);
	if (idem)
		it.idem.response = NULL; /* the answer takes it */
	out->body = resp;
	issued_release(&it);
	return SMILE_OK;
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
 * the same key and body; another body under the same key is refused. The
 * record rides on the first valid item, and the items are stored all or
 * nothing, so the response written before the commit (every valid item 201)
 * is exactly the one sent - and if the store fails, nothing is kept and a
 * retry may issue afresh. A batch with no valid item stores nothing, key
 * included, like a refused single request.
 */
enum smile_err svc_issue_batch(struct gateway *g, const struct svc_caller *c, json_t *body,
			       const struct svc_idem *idem, int (*status_of)(enum smile_err),
			       struct svc_answer *out, int *reused, struct smile_error *e)
{
	json_t *list, *results = NULL, *answer = NULL;
	struct issued *its = NULL;
	struct smile_store_new_shipment *items = NULL;
	struct smile_store_idem rec;
	char *resp = NULL;
	size_t n = 0, n_ok = 0, n_bad = 0;
	enum smile_err rc;

	memset(out, 0, sizeof(*out));
	memset(&rec, 0, sizeof(rec));
	*reused = 0;
	list = json_is_object(body) ? json_object_get(body, "shipments") : NULL;
	if (list == NULL)
		return smile_error_set(e,
				       json_is_object(body) ? SMILE_ERR_MISSING_FIELD
							    : SMILE_ERR_FIELD_TYPE,
				       "shipments", "expected {\"shipments\": [...]}");
	if (!json_is_array(list))
		return smile_error_set(e, SMILE_ERR_FIELD_TYPE, "shipments", "must be an array");
	n = json_array_size(list);
	if (n == 0 || n > (size_t)g->cfg.batch_max_items)
		return smile_error_set(e, n ? SMILE_ERR_TOO_LARGE : SMILE_ERR_FIELD_VALUE,
				       "shipments", "%zu shipments, need 1-%ld", n,
				       g->cfg.batch_max_items);
	its = calloc(n, sizeof(*its));
	items = calloc(n, sizeof(*items));
	results = json_array();
	if (its == NULL || items == NULL || results == NULL) {
		rc = smile_error_set(e, SMILE_ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	/* one slot per input item, so results come back in input order */
	for (size_t i = 0; i < n; i++)
		json_array_append_new(results, json_null());
	for (size_t i = 0; i < n; i++) {
		struct smile_error ie = {0};
		rc = issue_prepare(g, c, json_array_get(list, i), &its[i], &ie);
		if (rc) {
			json_t *err = json_pack("{s:s, s:s}", "code", smile_errname(ie.code),
						"message", ie.message);
			if (ie.field[0])
				json_object_set_new(err, "field", json_string(ie.field));
			json_array_set_new(results, i,
					   json_pack("{s:I, s:i, s:o}", "index", (json_int_t)i,
						     "status_code", status_of(ie.code), "error",
						     err));
			n_bad++;
			continue;
		}
		items[n_ok++] = (struct smile_store_new_shipment){
			.row = &its[i].row,
			.personal = &its[i].personal,
			.result = SMILE_OK,
			.track_hash = its[i].has_track_hash ? its[i].track_hash : NULL,
		};
	}
	if (idem && n_ok > 0) {
		/* items[].result are all SMILE_OK until the store says otherwise */
		batch_results(its, items, n, results);
		answer = json_pack("{s:I, s:I, s:O}", "issued", (json_int_t)n_ok, "failed",
				   (json_int_t)n_bad, "results", results);
		resp = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
		if (resp == NULL) {
			rc = smile_error_set(e, SMILE_ERR_NOMEM, NULL,
					     "could not build the response");
			goto out;
		}
		snprintf(rec.api_key_id, sizeof(rec.api_key_id), "%s", c->id);
		snprintf(rec.key, sizeof(rec.key), "%s", idem->key);
		memcpy(rec.request_hash, idem->hash, 32);
		rec.status = 200;
		rec.response = resp;
		items[0].idem = &rec;
		rc = smile_store_insert_shipments(g->store, items, n_ok, 1);
		if (rc == SMILE_ERR_CONFLICT && items[0].result == SMILE_ERR_CONFLICT) {
			rc = idem_lost_race(g, c, idem, out, reused, e);
			goto out;
		}
		if (rc) {
			rc = smile_error_set(e, SMILE_ERR_STORE, NULL,
					     "the batch could not be stored; nothing was kept");
			goto out;
		}
	} else {
		rc = smile_store_insert_shipments(g->store, items, n_ok, 0);
		if (rc) {
			rc = smile_error_set(e, SMILE_ERR_STORE, NULL,
					     "the batch could not be stored");
			goto out;
		}
		n_bad += batch_results(its, items, n, results);
		answer = json_pack("{s:I, s:I, s:O}", "issued", (json_int_t)(n - n_bad), "failed",
				   (json_int_t)n_bad, "results", results);
		resp = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
		if (resp == NULL) {
			/* stored: the count and the log below still hold */
			rc = smile_error_set(e, SMILE_ERR_NOMEM, NULL,
					     "could not build the response");
		}
	}
	smile_metrics_add(SMILE_COUNTER_SHIPMENTS_ISSUED, n - n_bad);
	smile_log(SMILE_LOG_INFO, "shipment.batch", SMILE_KV_INT("issued", (long long)(n - n_bad)),
		  SMILE_KV_INT("failed", (long long)n_bad), SMILE_KV_ID("key", c->id));
	if (resp) {
		out->status = 200;
		out->body = resp;
		resp = NULL;
		rc = SMILE_OK;
	}
out:
	free(resp);
	json_decref(answer);
	json_decref(results);
	if (its)
		for (size_t i = 0; i < n; i++)
			issued_release(&its[i]);
	free(its);
	free(items);
	return rc;
}

/* ------------------------------------------------------------ reading */

enum smile_err svc_shipment_get(struct gateway *g, const struct svc_caller *c,
				const char *waybill, struct smile_store_shipment *row,
				struct smile_error *e)
{
	enum smile_err rc;

	if (strlen(waybill) >= SMILE_STORE_WAYBILL_MAX)
		return smile_error_set(e, SMILE_ERR_NOT_FOUND, "waybill", "no such shipment");
	rc = smile_store_get_shipment(g->store, waybill, row);
	if (rc == SMILE_OK && svc_may_access(c, row->merchant))
		return SMILE_OK;
	if (rc == SMILE_OK)
		smile_store_shipment_release(row);
	/* another merchant's shipment is as missing as a missing one, so a
	 * key cannot probe which waybill numbers exist */
	if (rc == SMILE_OK || rc == SMILE_ERR_NOT_FOUND)
		return smile_error_set(e, SMILE_ERR_NOT_FOUND, "waybill", "no such shipment");
	return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not read the shipment");
}

struct events_ctx {
	const struct smile_keys *keys;
	const char *merchant_ref;
	json_t *events;
	int failed;
};

/* Each listed event is the very object the relay published on MQTT
 * (protocol.md 10.1, events.c): the same event_id, the role and never the
 * device id - couriers' identities are not the merchant's business. */
static int add_event(void *arg, const struct smile_store_event *ev)
{
	struct events_ctx *x = arg;
	char buf[EVENTS_JSON_MAX];
	size_t n = events_event_json(x->keys, ev, x->merchant_ref, buf, sizeof(buf));
	json_t *j = n ? json_loadb(buf, n, 0, NULL) : NULL;
	if (j == NULL) {
		x->failed = 1;
		return 1;
	}
	json_array_append_new(x->events, j);
	return 0;
}

enum smile_err svc_shipment_events(struct gateway *g, const struct svc_caller *c,
				   const struct smile_store_shipment *row, json_t **out,
				   struct smile_error *e)
{
	struct events_ctx x = {g->keys, row->merchant_ref, json_array(), 0};

	*out = NULL;
	if (!svc_may_access(c, row->merchant)) {
		json_decref(x.events);
		return smile_error_set(e, SMILE_ERR_NOT_FOUND, "waybill", "no such shipment");
	}
	if (x.events == NULL ||
	    smile_store_list_events(g->store, row->id, add_event, &x) != SMILE_OK || x.failed) {
		json_decref(x.events);
		return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not read the events");
	}
	*out = x.events;
	return SMILE_OK;
}

/* ------------------------------------------------------------ erasure */

enum smile_err svc_shipment_erase(struct gateway *g, const struct svc_caller *c,
				  const char *waybill, char waybill_out[SMILE_STORE_WAYBILL_MAX],
				  int *already, int64_t *erased_ms, struct smile_error *e)
{
	struct smile_store_shipment row, now;
	enum smile_err rc;

	*already = 0;
	*erased_ms = 0;
	if (c->role == SMILE_ROLE_WAREHOUSE)
		return smile_error_set(e, SMILE_ERR_PERMISSION, NULL,
				       "only the merchant or an admin may erase personal data");
	if ((rc = svc_shipment_get(g, c, waybill, &row, e)))
		return rc;
	snprintf(waybill_out, SMILE_STORE_WAYBILL_MAX, "%s", row.waybill);
	/* the store audits it ("erasure", with the door as the actor) */
	rc = smile_store_erase_personal(g->store, row.id, gateway_now_ms(), c->door);
	if (rc != SMILE_OK && rc != SMILE_ERR_SHREDDED) {
		smile_store_shipment_release(&row);
		return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not erase");
	}
	if (rc == SMILE_OK) {
		smile_metrics_add(SMILE_COUNTER_ERASURES, 1);
		smile_log(SMILE_LOG_INFO, "shipment.erased", SMILE_KV_ID("waybill", row.waybill),
			  SMILE_KV_ID("key", c->id));
	}
	*already = rc == SMILE_ERR_SHREDDED;
	if (smile_store_get_shipment_by_id(g->store, row.id, &now) == SMILE_OK) {
		*erased_ms = now.erased_ms;
		smile_store_shipment_release(&now);
	}
	smile_store_shipment_release(&row);
	return SMILE_OK;
}

/* ------------------------------------------------------------ export */

struct export_ctx {
	struct smile_buf *out;
	uint64_t last_id;
	enum smile_err rc;
};

static int export_row(void *arg, const struct smile_store_shipment *row)
{
	struct export_ctx *x = arg;
	x->rc = smile_buf_puts(x->out, row->public_json);
	if (x->rc == SMILE_OK)
		x->rc = smile_buf_puts(x->out, "\n");
	x->last_id = row->id;
	return x->rc != SMILE_OK;
}

enum smile_err svc_labels_export(struct gateway *g, const struct svc_caller *c,
				 int64_t since_ms, uint64_t after_id, size_t limit,
				 struct smile_buf *out, uint64_t *last_id, struct smile_error *e)
{
	const char *merchants[SMILE_STORE_MAX_BINDINGS];
	size_t n_merchants = 0;
	struct export_ctx x = {out, 0, SMILE_OK};

	*last_id = 0;
	/* the same rule as svc_may_access, as a filter for the store */
	switch (c->role) {
	case SMILE_ROLE_MERCHANT:
		if (c->key == NULL)
			return SMILE_OK;
		merchants[n_merchants++] = c->key->merchant;
		break;
	case SMILE_ROLE_WAREHOUSE:
		for (int i = 0; c->key && i < c->key->n_bindings; i++)
			merchants[n_merchants++] = c->key->bindings[i];
		if (n_merchants == 0)
			return SMILE_OK;
		break;
	case SMILE_ROLE_ADMIN:
		break;
	}
	if (smile_store_list_shipments(g->store, since_ms, after_id,
				       n_merchants ? merchants : NULL, n_merchants, limit,
				       export_row, &x) != SMILE_OK ||
	    x.rc != SMILE_OK)
		return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not list labels");
	*last_id = x.last_id;
	return SMILE_OK;
}
