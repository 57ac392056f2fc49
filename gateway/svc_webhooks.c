/* SPDX-License-Identifier: Apache-2.0 */
/*
 * svc_webhooks.c - merchants' webhook endpoints: register, list, pause,
 * resume, delete, deliveries, redeliver, test (docs/webhooks.md).
 *
 * An endpoint belongs to one merchant, and the shipment access rule
 * (svc_may_access) decides who sees it: an endpoint of another merchant is
 * SMILE_ERR_NOT_FOUND, exactly like a missing one. The signing secret is
 * made here, sealed before it reaches the store, and handed back once.
 * Delivery itself is the worker's (webhook_worker.c).
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "smile/log.h"
#include "svc.h"

static enum smile_err not_found(struct smile_error *e)
{
	return smile_error_set(e, SMILE_ERR_NOT_FOUND, "id", "no such webhook");
}

/* The merchant the new endpoint is for. */
static enum smile_err owner(const struct svc_caller *c, const char *merchant, const char **out,
			    struct smile_error *e)
{
	if (c->role == SMILE_ROLE_MERCHANT && c->key) {
		if (merchant && strcmp(merchant, c->key->merchant) != 0)
			return smile_error_set(e, SMILE_ERR_PERMISSION, "merchant",
					       "a merchant key registers webhooks for its own "
					       "merchant only");
		*out = c->key->merchant;
		return SMILE_OK;
	}
	if (merchant == NULL || merchant[0] == '\0')
		return smile_error_set(e, SMILE_ERR_MISSING_FIELD, "merchant",
				       "name the merchant whose events this webhook receives");
	if (strlen(merchant) >= SMILE_STORE_ID_MAX)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "merchant", "at most %d bytes",
				       SMILE_STORE_ID_MAX - 1);
	if (!svc_may_access(c, merchant))
		return smile_error_set(e, SMILE_ERR_PERMISSION, "merchant",
				       "this key is not bound to that merchant");
	*out = merchant;
	return SMILE_OK;
}

enum smile_err svc_webhook_create(struct gateway *g, const struct svc_caller *c,
				  const char *merchant, const char *url, const char *events,
				  struct smile_store_webhook *out, char secret_out[WEBHOOK_SECRET_MAX],
				  struct smile_error *e)
{
	struct webhook_allow allow;
	const char *m = NULL;
	uint8_t rnd[12];
	enum smile_err rc;

	secret_out[0] = '\0';
	if ((rc = owner(c, merchant, &m, e)))
		return rc;
	if (url == NULL)
		return smile_error_set(e, SMILE_ERR_MISSING_FIELD, "url", "the endpoint's URL");
	if (events == NULL)
		events = "*";
	if (strlen(events) >= SMILE_STORE_FILTER_MAX || !webhook_filter_valid(events))
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "events",
				       "\"*\" or event names (created, pickup, hub_in, hub_out, "
				       "out_for_delivery, delivery_failed, delivered, returned, "
				       "erased), each once");
	if ((rc = webhook_allow_parse(g->cfg.webhook_allow_private, &allow, e)))
		return rc;
	if ((rc = webhook_url_check(url, (int)g->cfg.webhook_allow_http, &allow, e)))
		return rc;

	memset(out, 0, sizeof(*out));
	randombytes_buf(rnd, sizeof(rnd));
	memcpy(out->id, "wh_", 3);
	sodium_bin2hex(out->id + 3, sizeof(out->id) - 3, rnd, sizeof(rnd));
	snprintf(out->merchant, sizeof(out->merchant), "%s", m);
	snprintf(out->url, sizeof(out->url), "%s", url);
	snprintf(out->events, sizeof(out->events), "%s", events);
	out->status = SMILE_WEBHOOK_ACTIVE;
	out->created_ms = out->updated_ms = gateway_now_ms();
	webhook_secret_new(secret_out);
	if (webhook_secret_seal(g->keys, out->id, secret_out, out->secret) != SMILE_OK ||
	    smile_store_put_webhook(g->store, out) != SMILE_OK) {
		sodium_memzero(secret_out, WEBHOOK_SECRET_MAX);
		return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not store the webhook");
	}
	smile_log(SMILE_LOG_INFO, "webhook.created", SMILE_KV_ID("webhook", out->id),
		  SMILE_KV_ID("by", c->id));
	return SMILE_OK;
}

enum smile_err svc_webhook_get(struct gateway *g, const struct svc_caller *c, const char *id,
			       struct smile_store_webhook *out, struct smile_error *e)
{
	enum smile_err rc = smile_store_get_webhook(g->store, id, out);
	if (rc == SMILE_ERR_NOT_FOUND || (rc == SMILE_OK && !svc_may_access(c, out->merchant))) {
		sodium_memzero(out, sizeof(*out));
		return not_found(e);
	}
	if (rc)
		return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not read the webhook");
	return SMILE_OK;
}

struct visible {
	const struct svc_caller *c;
	smile_store_webhook_cb cb;
	void *ctx;
};

static int only_visible(void *arg, const struct smile_store_webhook *w)
{
	struct visible *v = arg;
	return svc_may_access(v->c, w->merchant) ? v->cb(v->ctx, w) : 0;
}

enum smile_err svc_webhook_list(struct gateway *g, const struct svc_caller *c,
				smile_store_webhook_cb cb, void *ctx, struct smile_error *e)
{
	struct visible v = {c, cb, ctx};
	const char *m = c->role == SMILE_ROLE_MERCHANT && c->key ? c->key->merchant : NULL;
	if (smile_store_list_webhooks(g->store, m, only_visible, &v) != SMILE_OK)
		return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not list webhooks");
	return SMILE_OK;
}

enum smile_err svc_webhook_set_active(struct gateway *g, const struct svc_caller *c,
				      const char *id, int active, struct smile_error *e)
{
	struct smile_store_webhook w;
	enum smile_err rc = svc_webhook_get(g, c, id, &w, e);
	sodium_memzero(w.secret, sizeof(w.secret));
	if (rc)
		return rc;
	rc = smile_store_set_webhook_status(g->store, id,
					    active ? SMILE_WEBHOOK_ACTIVE : SMILE_WEBHOOK_PAUSED,
					    gateway_now_ms());
	if (rc == SMILE_ERR_NOT_FOUND)
		return not_found(e);
	if (rc)
		return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not change the webhook");
	smile_log(SMILE_LOG_INFO, active ? "webhook.resumed" : "webhook.paused",
		  SMILE_KV_ID("webhook", id), SMILE_KV_ID("by", c->id));
	return SMILE_OK;
}

enum smile_err svc_webhook_delete(struct gateway *g, const struct svc_caller *c, const char *id,
				  struct smile_error *e)
{
	struct smile_store_webhook w;
	enum smile_err rc = svc_webhook_get(g, c, id, &w, e);
	sodium_memzero(w.secret, sizeof(w.secret));
	if (rc)
		return rc;
	rc = smile_store_delete_webhook(g->store, id);
	if (rc == SMILE_ERR_NOT_FOUND)
		return not_found(e);
	if (rc)
		return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not delete the webhook");
	smile_log(SMILE_LOG_INFO, "webhook.deleted", SMILE_KV_ID("webhook", id),
		  SMILE_KV_ID("by", c->id));
	return SMILE_OK;
}

enum smile_err svc_webhook_deliveries(struct gateway *g, const struct svc_caller *c,
				      const char *id, uint64_t after, size_t limit,
				      smile_store_delivery_cb cb, void *ctx, struct smile_error *e)
{
	struct smile_store_webhook w;
	enum smile_err rc = svc_webhook_get(g, c, id, &w, e);
	sodium_memzero(w.secret, sizeof(w.secret));
	if (rc)
		return rc;
	if (limit < 1 || limit > 1000)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "limit", "1-1000");
	if (smile_store_outbox_list(g->store, id, after, limit, cb, ctx) != SMILE_OK)
		return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not list deliveries");
	return SMILE_OK;
}

enum smile_err svc_webhook_redeliver(struct gateway *g, const struct svc_caller *c,
				     const char *id, uint64_t delivery, struct smile_error *e)
{
	struct smile_store_webhook w;
	enum smile_err rc = svc_webhook_get(g, c, id, &w, e);
	sodium_memzero(w.secret, sizeof(w.secret));
	if (rc)
		return rc;
	rc = smile_store_outbox_redeliver(g->store, id, delivery, gateway_now_ms());
	if (rc == SMILE_ERR_NOT_FOUND)
		return smile_error_set(e, rc, "delivery", "no such delivery of this webhook");
	if (rc)
		return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not redeliver");
	smile_log(SMILE_LOG_INFO, "webhook.redeliver", SMILE_KV_ID("webhook", id),
		  SMILE_KV_INT("delivery", (long long)delivery), SMILE_KV_ID("by", c->id));
	return SMILE_OK;
}

enum smile_err svc_webhook_test(struct gateway *g, const struct svc_caller *c, const char *id,
				char event_id[WEBHOOK_TEST_ID_MAX], struct webhook_result *out,
				struct smile_error *e)
{
	struct smile_store_webhook w;
	enum smile_err rc = svc_webhook_get(g, c, id, &w, e);
	if (rc == SMILE_OK)
		rc = webhook_send_test(g, &w, event_id, out);
	sodium_memzero(w.secret, sizeof(w.secret));
	if (rc == SMILE_ERR_NOT_FOUND)
		return rc;
	if (rc)
		return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not send the test event");
	smile_log(SMILE_LOG_INFO, "webhook.test", SMILE_KV_ID("webhook", id),
		  SMILE_KV_INT("status", out->status),
		  SMILE_KV_ID("error", out->error[0] ? out->error : "-"), SMILE_KV_ID("by", c->id));
	return SMILE_OK;
}
