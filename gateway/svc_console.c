/* SPDX-License-Identifier: Apache-2.0 */
/*
 * svc_console.c - the merchant web console's sessions and shipment list
 * (docs/console.md).
 *
 * A session is an API key exchanged for a random cookie. The store keeps a
 * hash of the cookie (a stolen database opens no session) and the key's id
 * and hash, never the key: every request looks the key up again by that
 * hash, so revoking the key ends its sessions at once on every node. The
 * session ends at its absolute lifetime or after its idle timeout;
 * last_ms is written back only when it is older than a quarter of the idle
 * timeout (at most once a minute), so reading pages does not cost a
 * durable write each.
 */
#include <sodium.h>
#include <string.h>

#include "smile/log.h"
#include "svc.h"

#define TOUCH_MAX_MS 60000

static void cookie_hash(const char *cookie, uint8_t out[32])
{
	crypto_generichash(out, 32, (const unsigned char *)cookie, strlen(cookie), NULL, 0);
}

enum smile_err svc_session_create(struct gateway *g, const char *api_key, int64_t now_ms,
				  char cookie[SVC_SESSION_COOKIE_MAX],
				  struct smile_store_session *out, struct smile_store_apikey *key,
				  struct smile_error *e)
{
	uint8_t raw[32];
	enum smile_err rc;

	memset(out, 0, sizeof(*out));
	cookie[0] = '\0';
	if (api_key == NULL || strlen(api_key) > 200)
		return smile_error_set(e, SMILE_ERR_PERMISSION, "api_key",
				       "API key not recognised or revoked");
	crypto_generichash(raw, sizeof(raw), (const unsigned char *)api_key, strlen(api_key),
			   NULL, 0);
	rc = smile_store_find_apikey(g->store, raw, key);
	if (rc == SMILE_ERR_NOT_FOUND)
		return smile_error_set(e, SMILE_ERR_PERMISSION, "api_key",
				       "API key not recognised or revoked");
	if (rc)
		return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not check the API key");

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(cookie, SVC_SESSION_COOKIE_MAX, raw, sizeof(raw),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	cookie_hash(cookie, out->hash);
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(out->csrf, sizeof(out->csrf), raw, sizeof(raw),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	snprintf(out->api_key_id, sizeof(out->api_key_id), "%s", key->id);
	memcpy(out->key_hash, key->hash, 32);
	out->created_ms = now_ms;
	out->last_ms = now_ms;
	out->expires_ms = now_ms + g->cfg.console_session_max_s * 1000;
	rc = smile_store_put_session(g->store, out);
	if (rc) {
		sodium_memzero(cookie, SVC_SESSION_COOKIE_MAX);
		return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not store the session");
	}
	smile_log(SMILE_LOG_INFO, "console.signin", SMILE_KV_ID("key", key->id));
	return SMILE_OK;
}

enum smile_err svc_session_check(struct gateway *g, const char *cookie, int64_t now_ms,
				 struct smile_store_session *out, struct smile_store_apikey *key,
				 struct smile_error *e)
{
	uint8_t hash[32];
	int64_t idle_ms = g->cfg.console_session_idle_s * 1000;
	int64_t touch_ms = idle_ms / 4 < TOUCH_MAX_MS ? idle_ms / 4 : TOUCH_MAX_MS;
	enum smile_err rc;
	const char *why = NULL;

	if (cookie == NULL || strlen(cookie) != SVC_SESSION_COOKIE_LEN)
		return smile_error_set(e, SMILE_ERR_PERMISSION, NULL, "no such session: sign in");
	cookie_hash(cookie, hash);
	rc = smile_store_get_session(g->store, hash, out);
	if (rc == SMILE_ERR_NOT_FOUND)
		return smile_error_set(e, SMILE_ERR_PERMISSION, NULL, "no such session: sign in");
	if (rc)
		return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not read the session");
	if (now_ms >= out->expires_ms)
		why = "the session expired: sign in again";
	else if (now_ms - out->last_ms >= idle_ms)
		why = "the session was idle too long: sign in again";
	if (why == NULL) {
		rc = smile_store_find_apikey(g->store, out->key_hash, key);
		if (rc == SMILE_ERR_NOT_FOUND || (rc == SMILE_OK && strcmp(key->id, out->api_key_id)))
			why = "the session's API key was revoked: sign in with another";
		else if (rc)
			return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not check the API key");
	}
	if (why) {
		/* dead for good: gone now rather than at the next purge */
		if (smile_store_delete_session(g->store, hash) == SMILE_OK)
			smile_log(SMILE_LOG_INFO, "console.session_ended",
				  SMILE_KV_ID("key", out->api_key_id));
		sodium_memzero(key, sizeof(*key));
		return smile_error_set(e, SMILE_ERR_PERMISSION, NULL, "%s", why);
	}
	if (now_ms - out->last_ms >= touch_ms) {
		/* best effort: a failed refresh only shortens the session */
		if (smile_store_touch_session(g->store, hash, now_ms) == SMILE_OK)
			out->last_ms = now_ms;
	}
	return SMILE_OK;
}

enum smile_err svc_session_delete(struct gateway *g, const struct svc_caller *c,
				  const uint8_t hash[32], struct smile_error *e)
{
	enum smile_err rc = smile_store_delete_session(g->store, hash);
	if (rc == SMILE_ERR_NOT_FOUND)
		return smile_error_set(e, rc, NULL, "no such session");
	if (rc)
		return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not delete the session");
	smile_log(SMILE_LOG_INFO, "console.signout", SMILE_KV_ID("key", c->id));
	return SMILE_OK;
}

size_t svc_session_purge(struct gateway *g, int64_t now_ms)
{
	uint64_t n = 0;
	if (smile_store_purge_sessions(g->store, now_ms,
				       now_ms - g->cfg.console_session_idle_s * 1000, &n) != SMILE_OK)
		return 0;
	if (n)
		smile_log(SMILE_LOG_INFO, "console.sessions_purged",
			  SMILE_KV_INT("count", (long long)n));
	return (size_t)n;
}

int svc_merchants_of(const struct svc_caller *c, const char *merchants[SMILE_STORE_MAX_BINDINGS],
		     size_t *n)
{
	*n = 0;
	switch (c->role) {
	case SMILE_ROLE_MERCHANT:
		if (c->key == NULL)
			return 0;
		merchants[(*n)++] = c->key->merchant;
		return 1;
	case SMILE_ROLE_WAREHOUSE:
		for (int i = 0; c->key && i < c->key->n_bindings && i < SMILE_STORE_MAX_BINDINGS; i++)
			merchants[(*n)++] = c->key->bindings[i];
		return *n > 0;
	case SMILE_ROLE_ADMIN:
		return 1;
	}
	return 0;
}

enum smile_err svc_shipment_page(struct gateway *g, const struct svc_caller *c, int status,
				 const char *q, uint64_t before_id, size_t limit,
				 smile_store_shipment_cb cb, void *ctx, struct smile_error *e)
{
	const char *merchants[SMILE_STORE_MAX_BINDINGS];
	struct smile_store_page_query pq = {0};

	if (!svc_merchants_of(c, merchants, &pq.n_merchants))
		return SMILE_OK; /* sees nothing: an empty page */
	pq.merchants = pq.n_merchants ? merchants : NULL;
	pq.before_id = before_id;
	pq.status = status;
	pq.q = q;
	pq.limit = limit;
	if (smile_store_page_shipments(g->store, &pq, cb, ctx) != SMILE_OK)
		return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not list shipments");
	return SMILE_OK;
}
