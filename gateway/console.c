/* SPDX-License-Identifier: Apache-2.0 */
/*
 * console.c - the merchant web console's sessions over HTTP
 * (docs/console.md): sign-in (an API key for a cookie), the session's own
 * resource, and the cookie as a stand-in for the Bearer key on every /v1
 * route.
 *
 * The cookie is HttpOnly (no script reads it) and SameSite=Strict (no other
 * site's page sends it); state changes also need the session's CSRF token
 * in X-CSRF-Token, which only the console's own page can read (from the
 * sign-in answer or GET /console/api/session, same origin). Sign-in itself
 * needs a JSON body, which a cross-site form cannot send without a CORS
 * preflight this server never grants. The rules are svc_console.c's.
 */
#include "console.h"

#include <microhttpd.h>
#include <sodium.h>
#include <string.h>

#include "ratelimit.h"
#include "svc.h"

int console_has_cookie(struct http_req *r)
{
	return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, CONSOLE_COOKIE) != NULL;
}

static void clear_cookie(const struct gateway *g, struct http_resp *o)
{
	http_resp_header(o, MHD_HTTP_HEADER_SET_COOKIE,
			 CONSOLE_COOKIE "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0%s",
			 strcmp(g->cfg.console_secure_cookie, "yes") == 0 ? "; Secure" : "");
}

int console_authenticate(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	const char *cookie =
		MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, CONSOLE_COOKIE);
	struct smile_store_session s;
	struct smile_error e = {0};
	enum smile_err rc = svc_session_check(g, cookie, gateway_now_ms(), &s, &r->key, &e);

	if (rc == SMILE_ERR_PERMISSION) {
		http_resp_error(o, 401, "unauthorized", NULL, "%s", e.message);
		clear_cookie(g, o);
		return 0;
	}
	if (rc) {
		http_resp_error(o, 500, "store", NULL, "could not check the session");
		return 0;
	}
	r->via_session = 1;
	memcpy(r->session_hash, s.hash, sizeof(r->session_hash));
	memcpy(r->csrf, s.csrf, sizeof(r->csrf));
	r->session_expires_ms = s.expires_ms;
	sodium_memzero(&s, sizeof(s));
	return 1;
}

int console_csrf_ok(struct http_req *r, struct http_resp *o)
{
	const char *t;
	size_t n = strlen(r->csrf);

	if (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0)
		return 1;
	t = http_header(r, "X-CSRF-Token");
	if (t && n > 0 && strlen(t) == n && sodium_memcmp(t, r->csrf, n) == 0)
		return 1;
	http_resp_error(o, 403, "csrf", "X-CSRF-Token",
			t ? "X-CSRF-Token does not match this session's token"
			  : "a change made with a session cookie needs the session's X-CSRF-Token "
			    "header");
	return 0;
}

/* The session's answer: its CSRF token, who it acts as, when it ends. */
static json_t *session_json(const struct gateway *g, const struct smile_store_session *s,
			    const struct smile_store_apikey *k)
{
	char at[GATEWAY_TIME_MAX];
	json_t *j;

	gateway_iso_time(s->expires_ms, at);
	j = json_pack("{s:s, s:s, s:s, s:s, s:I}", "csrf_token", s->csrf, "role",
		      smile_role_name(k->role), "key_id", k->id, "expires_at", at,
		      "idle_timeout_s", (json_int_t)g->cfg.console_session_idle_s);
	if (j == NULL)
		return NULL;
	json_object_set_new(j, "merchant",
			    k->role == SMILE_ROLE_MERCHANT ? json_string(k->merchant) : json_null());
	if (k->role == SMILE_ROLE_WAREHOUSE) {
		json_t *b = json_array();
		for (int i = 0; b && i < k->n_bindings; i++)
			json_array_append_new(b, json_string(k->bindings[i]));
		json_object_set_new(j, "bindings", b ? b : json_null());
	}
	return j;
}

void api_console_session_create(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	char peer[64], cookie[SVC_SESSION_COOKIE_MAX];
	struct smile_store_session s;
	struct smile_store_apikey k;
	struct smile_error e = {0};
	long retry = 1;
	json_t *body, *key;
	enum smile_err rc;

	/* failed attempts are counted per client address; over the limit,
	 * every attempt is refused before the key is even looked at */
	http_peer(r, peer, sizeof(peer));
	if (g->signin_limit &&
	    !ratelimit_peek(g->signin_limit, peer[0] ? peer : "-", gateway_now_ms(), &retry)) {
		http_resp_header(o, "Retry-After", "%ld", retry);
		http_resp_error(o, 429, "rate_limited", NULL,
				"too many sign-in attempts from this address; wait %ld s", retry);
		return;
	}
	if ((body = http_body_json(r, o)) == NULL)
		return;
	key = json_object_get(body, "api_key");
	if (!json_is_object(body) || !json_is_string(key)) {
		json_decref(body);
		http_resp_error(o, 422, "missing_field", "api_key",
				"send {\"api_key\": \"smk_...\"}");
		return;
	}
	rc = svc_session_create(g, json_string_value(key), gateway_now_ms(), cookie, &s, &k, &e);
	/* the key is a secret: wiped, not just freed (jansson owns a copy) */
	sodium_memzero((char *)json_string_value(key), json_string_length(key));
	json_decref(body);
	if (rc == SMILE_ERR_PERMISSION) {
		if (g->signin_limit)
			(void)ratelimit_take(g->signin_limit, peer[0] ? peer : "-", gateway_now_ms(),
					     &retry);
		http_resp_error(o, 401, "unauthorized", "api_key", "%s", e.message);
		return;
	}
	if (rc) {
		http_resp_smile_error(o, &e);
		return;
	}
	http_resp_json(o, 200, session_json(g, &s, &k));
	http_resp_header(o, MHD_HTTP_HEADER_SET_COOKIE,
			 CONSOLE_COOKIE "=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%ld%s",
			 cookie, g->cfg.console_session_max_s,
			 strcmp(g->cfg.console_secure_cookie, "yes") == 0 ? "; Secure" : "");
	sodium_memzero(cookie, sizeof(cookie));
	sodium_memzero(&s, sizeof(s));
	sodium_memzero(&k, sizeof(k));
}

void api_console_session_get(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	/* authenticated by its cookie already (AUTH_SESSION) */
	struct smile_store_session s = {.expires_ms = r->session_expires_ms};
	memcpy(s.csrf, r->csrf, sizeof(s.csrf));
	http_resp_json(o, 200, session_json(g, &s, &r->key));
	sodium_memzero(&s, sizeof(s));
}

void api_console_session_delete(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	struct svc_caller c = svc_caller_api(&r->key);
	struct smile_error e = {0};
	enum smile_err rc = svc_session_delete(g, &c, r->session_hash, &e);

	if (rc && rc != SMILE_ERR_NOT_FOUND) {
		http_resp_smile_error(o, &e);
		return;
	}
	http_resp_json(o, 200, json_pack("{s:b}", "signed_out", 1));
	clear_cookie(g, o);
}
