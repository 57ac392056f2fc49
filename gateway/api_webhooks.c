/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_webhooks.c - webhook endpoints over HTTP (docs/api.md, "Webhooks");
 * the rules and logs are the service's (svc_webhooks.c).
 */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "events.h"
#include "gateway.h"
#include "httpcheck.h"
#include "svc.h"

static json_t *webhook_json(const struct smile_store_webhook *w)
{
	char at[GATEWAY_TIME_MAX];
	json_t *ev = json_array();
	const char *p = w->events;

	for (;;) {
		size_t n = strcspn(p, ",");
		json_array_append_new(ev, json_stringn(p, n));
		if (p[n] == '\0')
			break;
		p += n + 1;
	}
	gateway_iso_time(w->created_ms, at);
	return json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:I}", "id", w->id, "merchant",
			 w->merchant, "url", w->url, "events", ev, "status",
			 smile_webhook_status_name(w->status), "created", at, "created_ms",
			 (json_int_t)w->created_ms);
}

/* "events": "*" or an array of names, as the comma-separated filter. */
static int events_filter(json_t *j, char *out, size_t cap)
{
	size_t i, used = 0;
	json_t *v;

	if (j == NULL) {
		snprintf(out, cap, "*");
		return 0;
	}
	if (json_is_string(j)) {
		snprintf(out, cap, "%s", json_string_value(j));
		return 0;
	}
	if (!json_is_array(j) || json_array_size(j) == 0)
		return -1;
	out[0] = '\0';
	json_array_foreach(j, i, v)
	{
		if (!json_is_string(v))
			return -1;
		int n = snprintf(out + used, cap - used, "%s%s", i ? "," : "", json_string_value(v));
		if (n < 0 || (size_t)n >= cap - used)
			return -1;
		used += (size_t)n;
	}
	return 0;
}

void api_webhook_create(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	json_t *body = http_body_json(r, o), *ju, *jm;
	struct svc_caller c = svc_caller_api(&r->key);
	struct smile_error e = {0};
	struct smile_store_webhook w;
	char secret[WEBHOOK_SECRET_MAX], filter[SMILE_STORE_FILTER_MAX];

	if (body == NULL)
		return;
	if (!json_is_object(body)) {
		http_resp_error(o, 422, "wrong_type", NULL, "expected a JSON object");
		goto out;
	}
	ju = json_object_get(body, "url");
	jm = json_object_get(body, "merchant");
	if (!json_is_string(ju)) {
		http_resp_error(o, 422, ju ? "wrong_type" : "missing_field", "url",
				"the endpoint's https URL");
		goto out;
	}
	if (jm && !json_is_string(jm)) {
		http_resp_error(o, 422, "wrong_type", "merchant", "a merchant name");
		goto out;
	}
	if (events_filter(json_object_get(body, "events"), filter, sizeof(filter))) {
		http_resp_error(o, 422, "invalid_value", "events",
				"\"*\" or an array of event names");
		goto out;
	}
	if (svc_webhook_create(g, &c, jm ? json_string_value(jm) : NULL, json_string_value(ju),
			       filter, &w, secret, &e) != SMILE_OK) {
		http_resp_smile_error(o, &e);
		goto out;
	}
	json_t *resp = webhook_json(&w);
	/* the only time the secret is shown */
	json_object_set_new(resp, "secret", json_string(secret));
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(w.secret, sizeof(w.secret));
	http_resp_json(o, 201, resp);
out:
	json_decref(body);
}

static int list_one(void *ctx, const struct smile_store_webhook *w)
{
	json_array_append_new(ctx, webhook_json(w));
	return 0;
}

void api_webhooks_list(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	struct svc_caller c = svc_caller_api(&r->key);
	struct smile_error e = {0};
	json_t *list = json_array();
	if (svc_webhook_list(g, &c, list_one, list, &e) != SMILE_OK) {
		json_decref(list);
		http_resp_smile_error(o, &e);
		return;
	}
	http_resp_json(o, 200, json_pack("{s:o}", "webhooks", list));
}

void api_webhook_get(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	struct svc_caller c = svc_caller_api(&r->key);
	struct smile_error e = {0};
	struct smile_store_webhook w;
	if (svc_webhook_get(g, &c, r->seg[2], &w, &e) != SMILE_OK) {
		http_resp_smile_error(o, &e);
		return;
	}
	sodium_memzero(w.secret, sizeof(w.secret));
	http_resp_json(o, 200, webhook_json(&w));
}

void api_webhook_delete(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	struct svc_caller c = svc_caller_api(&r->key);
	struct smile_error e = {0};
	if (svc_webhook_delete(g, &c, r->seg[2], &e) != SMILE_OK) {
		http_resp_smile_error(o, &e);
		return;
	}
	http_resp_json(o, 200, json_pack("{s:s, s:b}", "id", r->seg[2], "deleted", 1));
}

static void set_active(struct gateway *g, struct http_req *r, struct http_resp *o, int active)
{
	struct svc_caller c = svc_caller_api(&r->key);
	struct smile_error e = {0};
	struct smile_store_webhook w;
	if (svc_webhook_set_active(g, &c, r->seg[2], active, &e) != SMILE_OK ||
	    svc_webhook_get(g, &c, r->seg[2], &w, &e) != SMILE_OK) {
		http_resp_smile_error(o, &e);
		return;
	}
	sodium_memzero(w.secret, sizeof(w.secret));
	http_resp_json(o, 200, webhook_json(&w));
}

void api_webhook_pause(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	set_active(g, r, o, 0);
}

void api_webhook_resume(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	set_active(g, r, o, 1);
}

void api_webhook_test(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	struct svc_caller c = svc_caller_api(&r->key);
	struct smile_error e = {0};
	struct webhook_result res;
	char id[WEBHOOK_TEST_ID_MAX];
	if (svc_webhook_test(g, &c, r->seg[2], id, &res, &e) != SMILE_OK) {
		http_resp_smile_error(o, &e);
		return;
	}
	json_t *j = json_pack("{s:s, s:b, s:i, s:I}", "event_id", id, "delivered",
			      res.status >= 200 && res.status <= 299, "status", res.status, "ms",
			      (json_int_t)res.ms);
	json_object_set_new(j, "error", res.error[0] ? json_string(res.error) : json_null());
	http_resp_json(o, 200, j);
}

struct deliveries {
	struct gateway *g;
	json_t *list;
	uint64_t last;
};

static int delivery_one(void *ctx, const struct smile_store_delivery *d)
{
	struct deliveries *ds = ctx;
	char ev[EVENTS_ID_MAX];
	events_event_id(ds->g->keys, d->event_id, ev);
	json_t *j = json_pack("{s:I, s:s, s:s, s:s, s:s, s:i, s:I}", "id", (json_int_t)d->id,
			      "event_id", ev, "event", d->event, "waybill", d->waybill, "state",
			      smile_delivery_state_name(d->state), "attempts", (int)d->attempts,
			      "created_ms", (json_int_t)d->created_ms);
	json_object_set_new(j, "last_attempt_ms", d->last_ms ? json_integer(d->last_ms) : json_null());
	json_object_set_new(j, "last_status", d->last_status ? json_integer(d->last_status)
							     : json_null());
	json_object_set_new(j, "last_error", d->last_error[0] ? json_string(d->last_error)
							      : json_null());
	json_object_set_new(j, "next_attempt_ms", d->state == SMILE_DELIVERY_PENDING
							  ? json_integer(d->next_ms)
							  : json_null());
	json_object_set_new(j, "done_ms", d->done_ms ? json_integer(d->done_ms) : json_null());
	json_array_append_new(ds->list, j);
	ds->last = d->id;
	return 0;
}

void api_webhook_deliveries(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	const char *after = http_query(r, "after"), *lim = http_query(r, "limit");
	struct svc_caller c = svc_caller_api(&r->key);
	struct smile_error e = {0};
	uint64_t after_id = 0, limit = 100;
	struct deliveries ds = {g, json_array(), 0};

	if (after && !httpcheck_uint(after, 0, INT64_MAX, &after_id)) {
		http_resp_error(o, 400, "invalid_value", "after", "expected a delivery id");
		json_decref(ds.list);
		return;
	}
	if (lim && !httpcheck_uint(lim, 1, 1000, &limit)) {
		http_resp_error(o, 400, "invalid_value", "limit", "must be 1-1000");
		json_decref(ds.list);
		return;
	}
	if (svc_webhook_deliveries(g, &c, r->seg[2], after_id, (size_t)limit, delivery_one, &ds,
				   &e) != SMILE_OK) {
		json_decref(ds.list);
		http_resp_smile_error(o, &e);
		return;
	}
	if (ds.last && json_array_size(ds.list) == limit)
		http_resp_header(o, "X-Next-After", "%" PRIu64, ds.last);
	http_resp_json(o, 200, json_pack("{s:o}", "deliveries", ds.list));
}

void api_webhook_redeliver(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	struct svc_caller c = svc_caller_api(&r->key);
	struct smile_error e = {0};
	uint64_t id = 0;
	if (!httpcheck_uint(r->seg[4], 1, INT64_MAX, &id)) {
		http_resp_error(o, 404, "not_found", "delivery", "no such delivery of this webhook");
		return;
	}
	if (svc_webhook_redeliver(g, &c, r->seg[2], id, &e) != SMILE_OK) {
		http_resp_smile_error(o, &e);
		return;
	}
	http_resp_json(o, 202, json_pack("{s:I, s:s}", "id", (json_int_t)id, "state", "pending"));
}
