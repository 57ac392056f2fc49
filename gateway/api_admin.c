/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_admin.c - API key administration over HTTP (the rules and logs are the
 * service's: svc_apikeys.c), health and metrics endpoints.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "gateway.h"
#include "svc.h"

void api_apikey_create(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	json_t *body = http_body_json(r, o), *jrole, *jm, *jms;
	const char *bindings[SMILE_STORE_MAX_BINDINGS];
	int n = 0;
	enum smile_role role;
	char key[APIKEY_STRING_MAX], id[SMILE_STORE_ID_MAX];
	struct smile_error e = {0};
	struct svc_caller c = svc_caller_api(&r->key);
	const char *merchant = NULL;

	if (body == NULL)
		return;
	if (!json_is_object(body)) {
		http_resp_error(o, 422, "wrong_type", NULL, "expected a JSON object");
		goto out;
	}
	jrole = json_object_get(body, "role");
	if (!json_is_string(jrole)) {
		http_resp_error(o, 422, jrole ? "wrong_type" : "missing_field", "role",
				"merchant, warehouse or admin");
		goto out;
	}
	if (smile_role_parse(json_string_value(jrole), &role) != SMILE_OK) {
		http_resp_error(o, 422, "invalid_value", "role", "merchant, warehouse or admin");
		goto out;
	}
	jm = json_object_get(body, "merchant");
	jms = json_object_get(body, "merchants");
	if (role == SMILE_ROLE_MERCHANT) {
		if (!json_is_string(jm)) {
			http_resp_error(o, 422, jm ? "wrong_type" : "missing_field", "merchant",
					"a merchant key needs its merchant name");
			goto out;
		}
		merchant = json_string_value(jm);
	}
	if (role == SMILE_ROLE_WAREHOUSE) {
		size_t i;
		json_t *v;
		if (!json_is_array(jms)) {
			http_resp_error(o, 422, jms ? "wrong_type" : "missing_field", "merchants",
					"a warehouse key needs an array of merchant names");
			goto out;
		}
		if (json_array_size(jms) > SMILE_STORE_MAX_BINDINGS) {
			http_resp_error(o, 422, "too_large", "merchants", "at most %d",
					SMILE_STORE_MAX_BINDINGS);
			goto out;
		}
		json_array_foreach(jms, i, v)
		{
			if (!json_is_string(v)) {
				http_resp_error(o, 422, "wrong_type", "merchants",
						"entry %zu must be a string", i);
				goto out;
			}
			bindings[n++] = json_string_value(v);
		}
	}
	if (svc_apikey_create(g, &c, role, merchant, bindings, n, key, id, &e) != SMILE_OK) {
		http_resp_smile_error(o, &e);
		goto out;
	}
	json_t *resp = json_pack("{s:s, s:s, s:s}", "id", id, "key", key, "role",
				 smile_role_name(role));
	if (merchant)
		json_object_set_new(resp, "merchant", json_string(merchant));
	if (role == SMILE_ROLE_WAREHOUSE)
		json_object_set(resp, "merchants", jms);
	http_resp_json(o, 201, resp);
	sodium_memzero(key, sizeof(key));
out:
	json_decref(body);
}

void api_apikey_delete(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	struct svc_caller c = svc_caller_api(&r->key);
	struct smile_error e = {0};
	if (svc_apikey_revoke(g, &c, r->seg[2], &e) != SMILE_OK) {
		http_resp_smile_error(o, &e);
		return;
	}
	http_resp_bytes(o, 204, NULL, "", 0);
}

void api_healthz(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	(void)r;
	if (smile_store_ping(g->store) != SMILE_OK) {
		http_resp_error(o, 503, "unavailable", NULL, "store not available");
		return;
	}
	http_resp_json(o, 200, json_pack("{s:s}", "status", "ok"));
}

void api_metrics(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	struct smile_buf b;
	(void)r;
	smile_buf_init(&b, 1u << 20);
	if (smile_metrics_render(&b) != SMILE_OK ||
	    smile_buf_printf(&b,
			     "# HELP smile_store_wal_scrub_pending 1 while an erased record may "
			     "remain in the WAL because a reader blocks the scrub.\n"
			     "# TYPE smile_store_wal_scrub_pending gauge\n"
			     "smile_store_wal_scrub_pending %d\n",
			     smile_store_wal_pending(g->store)) != SMILE_OK)
		http_resp_error(o, 500, "internal", NULL, "metrics too large");
	else
		http_resp_bytes(o, 200, "text/plain; version=0.0.4", b.data ? b.data : "", b.len);
	smile_buf_release(&b);
}
