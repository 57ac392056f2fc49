/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_track.c - the recipient tracking page over HTTP (docs/tracking.md):
 * its two public API calls and its files at /t/.
 *
 * The rules are svc_track.c's; this file names the client (the address the
 * throttle counts), reads path and body, and writes answers that look the
 * same for a waybill that exists and one that does not.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "gateway.h"
#include "smile/log.h"
#include "static.h"
#include "svc.h"

/* The page's policy: its own files only, no inline script or style, no
 * frames, forms post nowhere but here. */
static const struct static_header page_headers[] = {
	{"Content-Security-Policy",
	 "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
	 "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"},
};

/* ------------------------------------------------------------ the client */

/* The TCP peer's address as text, as a proxy is listed in
 * track_trusted_proxies ("" when unknown). */
static void exact_text(const struct sockaddr *sa, char *out, size_t cap)
{
	out[0] = '\0';
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
			  (socklen_t)cap);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
			  (socklen_t)cap);
}

/* An address as the throttle counts it; an IPv6 address by its /64 (one
 * host commonly holds a whole /64). "" when unknown. */
static void peer_text(const struct sockaddr *sa, char *out, size_t cap)
{
	out[0] = '\0';
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
			  (socklen_t)cap);
	} else if (sa->sa_family == AF_INET6) {
		struct in6_addr a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&a)) {
			inet_ntop(AF_INET, &a.s6_addr[12], out, (socklen_t)cap);
			return;
		}
		char buf[INET6_ADDRSTRLEN];
		memset(&a.s6_addr[8], 0, 8);
		if (inet_ntop(AF_INET6, &a, buf, sizeof(buf)))
			snprintf(out, cap, "%s/64", buf);
	}
}

/* Is `addr` one of the comma-separated addresses in `list`? */
static int listed(const char *list, const char *addr)
{
	size_t n = strlen(addr);
	const char *p = list;
	while (n && *p) {
		while (*p == ' ' || *p == ',')
			p++;
		size_t l = strcspn(p, ", ");
		if (l == n && memcmp(p, addr, n) == 0)
			return 1;
		p += l;
	}
	return 0;
}

/* The last X-Forwarded-For header line (a proxy that adds its own line,
 * like HAProxy's "option forwardfor", puts it after any the client sent). */
static enum MHD_Result last_xff(void *cls, enum MHD_ValueKind kind, const char *key,
				const char *value)
{
	(void)kind;
	if (key && value && strcasecmp(key, "X-Forwarded-For") == 0)
		*(const char **)cls = value;
	return MHD_YES;
}

/* The client the throttle counts: the TCP peer, or, when the peer is a
 * configured proxy, the last address of its last X-Forwarded-For (the one
 * the proxy itself added; anything before it the client may have forged). */
static void client_of(struct gateway *g, struct http_req *r, char *out, size_t cap)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char exact[INET6_ADDRSTRLEN];
	const char *xff;

	peer_text(ci ? ci->client_addr : NULL, out, cap);
	if (out[0] == '\0')
		snprintf(out, cap, "unknown");
	exact_text(ci ? ci->client_addr : NULL, exact, sizeof(exact));
	if (!g->cfg.track_trusted_proxies[0] || !listed(g->cfg.track_trusted_proxies, exact))
		return;
	xff = NULL;
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, last_xff, &xff);
	if (xff) {
		const char *last = strrchr(xff, ',');
		char buf[INET6_ADDRSTRLEN + 1];
		struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
		struct sockaddr_in s4 = {.sin_family = AF_INET};
		size_t l;

		last = last ? last + 1 : xff;
		while (*last == ' ')
			last++;
		l = strcspn(last, " ");
		if (l == 0 || l >= sizeof(buf))
			return;
		memcpy(buf, last, l);
		buf[l] = '\0';
		if (inet_pton(AF_INET, buf, &s4.sin_addr) == 1)
			peer_text((const struct sockaddr *)&s4, out, cap);
		else if (inet_pton(AF_INET6, buf, &s6.sin6_addr) == 1)
			peer_text((const struct sockaddr *)&s6, out, cap);
	}
}

/* ------------------------------------------------------------ API */

static void answer_error(struct http_resp *o, enum smile_err rc, long retry_s,
			 const struct smile_error *e)
{
	if (rc == SMILE_ERR_QUOTA) {
		http_resp_header(o, "Retry-After", "%ld", retry_s > 0 ? retry_s : 1);
		http_resp_error(o, 429, "rate_limited", NULL, "%s", e->message);
	} else if (rc == SMILE_ERR_DENIED) {
		http_resp_error(o, 403, "not_matched", e->field, "%s", e->message);
	} else {
		http_resp_smile_error(o, e);
	}
}

void api_track_get(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	char client[INET6_ADDRSTRLEN + 8];
	struct smile_error e = {0};
	json_t *out = NULL;
	long retry = 0;
	enum smile_err rc;

	client_of(g, r, client, sizeof(client));
	rc = svc_track_coarse(g, r->seg[2], client, &out, &retry, &e);
	if (rc)
		answer_error(o, rc, retry, &e);
	else
		http_resp_json(o, 200, out);
}

void api_track_verify(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	char client[INET6_ADDRSTRLEN + 8];
	struct smile_error e = {0};
	json_t *body = http_body_json(r, o), *out = NULL, *d;
	const char *key;
	long retry = 0;
	enum smile_err rc;

	if (body == NULL)
		return;
	if (!json_is_object(body)) {
		http_resp_error(o, 400, "invalid_json", NULL, "the body must be a JSON object");
		goto out;
	}
	json_object_foreach(body, key, d)
	{
		if (strcmp(key, "phone_last4") != 0) {
			http_resp_error(o, 422, "invalid_value", NULL,
					"unknown member; only phone_last4 is accepted");
			goto out;
		}
	}
	d = json_object_get(body, "phone_last4");
	if (d == NULL) {
		http_resp_error(o, 422, "missing_field", "phone_last4", "required");
		goto out;
	}
	if (!json_is_string(d)) {
		http_resp_error(o, 422, "wrong_type", "phone_last4", "must be a string of 4 digits");
		goto out;
	}
	client_of(g, r, client, sizeof(client));
	rc = svc_track_verify(g, r->seg[2], json_string_value(d), client, &out, &retry, &e);
	if (rc)
		answer_error(o, rc, retry, &e);
	else
		http_resp_json(o, 200, out);
out:
	json_decref(body);
}

/* ------------------------------------------------------------ the page */

static void serve(struct gateway *g, struct http_resp *o, const char *name)
{
	char root[PATH_MAX], dir[PATH_MAX + 8];
	if (static_root(g->cfg.web_root, g->dir, root, sizeof(root)) != 0 ||
	    (size_t)snprintf(dir, sizeof(dir), "%s/track", root) >= sizeof(dir)) {
		http_resp_error(o, 404, "no_route", NULL, "no such resource");
		return;
	}
	static_serve(o, dir, name, page_headers, sizeof(page_headers) / sizeof(page_headers[0]));
}

void api_track_check_files(struct gateway *g)
{
	char root[PATH_MAX], index[PATH_MAX + 32];
	struct stat st;
	if (static_root(g->cfg.web_root, g->dir, root, sizeof(root)) != 0 ||
	    (size_t)snprintf(index, sizeof(index), "%s/track/index.html", root) >= sizeof(index) ||
	    stat(index, &st) != 0 || !S_ISREG(st.st_mode))
		smile_log(SMILE_LOG_WARN, "track.page_missing", SMILE_KV_ID("key", "web_root"),
			  SMILE_KV_ID("see", "docs/tracking.md"));
}

void api_track_page(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	(void)r;
	serve(g, o, "index.html");
}

void api_track_file(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	serve(g, o, r->seg[1]);
}
