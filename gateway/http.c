/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http.c - libmicrohttpd plumbing: the listening socket, strict request
 * checks, body caps, routing, authentication, responses, metrics and access
 * logs.
 *
 * Handlers block until their write is durable (group commit), so the server
 * runs one thread per connection: a keep-alive client waiting for its commit
 * never holds up another client. The connection limit bounds the threads; the
 * per-address limit keeps half of them (at least) for other clients, and the
 * slow-request guard (connguard.h) cuts a connection whose request trickles
 * in, so no one client can hold them all.
 *
 * A request is checked before it is believed: the raw target before
 * libmicrohttpd decodes it (the URI callback, httpcheck.h), the framing
 * headers before the body is read (a request that a proxy could frame
 * differently is answered 400 at once and the connection closed), documented
 * query parameters before routing (given once, with a value).
 *
 * Bodies are capped before they are buffered: a body whose Content-Length is
 * over the route's cap is read and dropped, never buffered, then refused with
 * 413; a chunked body is counted as it arrives and dropped past the cap.
 * Nothing is parsed until the body is whole.
 */
#include "connguard.h"
#include "gateway.h"
#include "httpcheck.h"
#include "ratelimit.h"
#include "console.h"
#include "static.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "smile/log.h"
#include "smile/clock.h"
#include "smile/hostport.h"

/* ------------------------------------------------------------ routes */

enum auth { AUTH_NONE, AUTH_ANY, AUTH_ADMIN, AUTH_SESSION };
enum body_cap { BODY_NORMAL, BODY_BATCH };

/* A row of routes.def: everything about a route in one place. */
struct http_route {
	const char *method;
	const char *pattern; /* segments; "*" matches one segment */
	enum body_cap cap;
	enum auth auth;
	http_handler fn;
	const char *metric; /* label value in /metrics */
};

static const struct http_route routes[] = {
#define ROUTE(method, pattern, cap, auth, handler, metric) \
	{method, pattern, cap, auth, handler, metric},
#include "routes.def"
#undef ROUTE
};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

/* Each row's metrics slot: distinct names in order of first row, from 1
 * (0 is "unknown"), named in metrics.c once before serving. */
static unsigned route_slot[N_ROUTES];
static pthread_once_t route_slots_once = PTHREAD_ONCE_INIT;

static void route_slots_init(void)
{
	const char *names[SMILE_METRICS_ROUTES_MAX];
	unsigned n = 0;
	for (size_t i = 0; i < N_ROUTES; i++) {
		unsigned k = 0;
		while (k < n && strcmp(names[k], routes[i].metric) != 0)
			k++;
		if (k == n && n + 1 < SMILE_METRICS_ROUTES_MAX)
			names[n++] = routes[i].metric;
		route_slot[i] = k < n ? k + 1 : 0;
	}
	smile_metrics_routes(names, n);
}

static unsigned route_metric(const struct http_route *rt)
{
	return rt ? route_slot[rt - routes] : 0;
}

/* The body cap of a route: the batch cap for batch rows, else body_max
 * (also when no route matches: the answer is 404 or 405 anyway). */
static long route_body_max(const struct gateway *g, const struct http_route *rt)
{
	return rt && rt->cap == BODY_BATCH ? g->cfg.batch_body_max : g->cfg.body_max;
}

/* Does `r`'s path match the route pattern? A last segment "**" matches
 * whatever follows, nothing included (the console's files). */
static int path_matches(const struct http_req *r, const char *pattern)
{
	int i = 0;
	const char *p = pattern;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 2 && p[0] == '*' && p[1] == '*' && slash == NULL)
			return 1;
		if (i >= r->nseg)
			return 0;
		if (!(n == 1 && p[0] == '*') &&
		    (strlen(r->seg[i]) != n || memcmp(r->seg[i], p, n) != 0))
			return 0;
		i++;
		p += n + (slash ? 1 : 0);
	}
	return i == r->nseg;
}

/* The route for the request; *allow gets the methods the path supports when
 * only the method is wrong. */
static const struct http_route *route_find(const struct http_req *r, char *allow, size_t n)
{
	size_t used = 0;
	allow[0] = '\0';
	for (size_t i = 0; i < N_ROUTES; i++) {
		if (!path_matches(r, routes[i].pattern))
			continue;
		if (strcmp(routes[i].method, r->method) == 0)
			return &routes[i];
		used += (size_t)snprintf(allow + used, used < n ? n - used : 0, "%s%s",
					 used ? ", " : "", routes[i].method);
	}
	return NULL;
}

static int split_path(struct http_req *r, const char *url)
{
	size_t n = strlen(url);
	char *p;
	if (n >= sizeof(r->path))
		return -1;
	memcpy(r->path, url, n + 1);
	r->nseg = 0;
	r->trailing_slash = n > 1 && url[n - 1] == '/';
	p = r->path;
	while (*p == '/')
		p++;
	while (*p) {
		if (r->nseg == HTTP_MAX_SEGS)
			return -1;
		r->seg[r->nseg++] = p;
		char *slash = strchr(p, '/');
		if (slash == NULL)
			break;
		*slash = '\0';
		p = slash + 1;
	}
	/* "/v1/shipments/" is "/v1/shipments" */
	if (r->nseg && r->seg[r->nseg - 1][0] == '\0')
		r->nseg--;
	r->console = r->nseg > 0 && strcmp(r->seg[0], "console") == 0;
	return 0;
}

/* ------------------------------------------------------------ responses */

void http_resp_header(struct http_resp *o, const char *name, const char *fmt, ...)
{
	va_list ap;
	if (o->n_hdr >= HTTP_RESP_MAX_HDR)
		return;
	o->hdr_name[o->n_hdr] = name;
	va_start(ap, fmt);
	vsnprintf(o->hdr_value[o->n_hdr], sizeof(o->hdr_value[0]), fmt, ap);
	va_end(ap);
	o->n_hdr++;
}

void http_resp_bytes(struct http_resp *o, int status, const char *ctype, const void *p, size_t n)
{
	smile_buf_reset(&o->body);
	o->status = status;
	o->content_type = ctype;
	if (smile_buf_append(&o->body, p, n) != SMILE_OK) {
		o->status = 500;
		o->content_type = "application/json";
		smile_buf_reset(&o->body);
		if (smile_buf_puts(&o->body, "{\"error\":{\"code\":\"nomem\",\"message\":"
					     "\"response too large\"}}") != SMILE_OK)
			smile_buf_reset(&o->body);
	}
}

void http_resp_json(struct http_resp *o, int status, json_t *body)
{
	char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (s == NULL) {
		http_resp_error(o, 500, "nomem", NULL, "could not build the response");
		return;
	}
	http_resp_bytes(o, status, "application/json", s, strlen(s));
	free(s);
}

void http_resp_error(struct http_resp *o, int status, const char *code, const char *field,
		     const char *fmt, ...)
{
	char msg[SMILE_ERROR_MSG_MAX];
	va_list ap;
	json_t *err;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	err = json_pack("{s:s, s:s}", "code", code, "message", msg);
	if (err && field && *field)
		json_object_set_new(err, "field", json_string(field));
	json_t *wrap = err ? json_pack("{s:o}", "error", err) : NULL;
	char *s = wrap ? json_dumps(wrap, JSON_COMPACT) : NULL;
	json_decref(wrap);
	smile_buf_reset(&o->body);
	o->status = status;
	o->content_type = "application/json";
	if (s == NULL ||
	    smile_buf_puts(&o->body, s) != SMILE_OK) {
		smile_buf_reset(&o->body);
		if (smile_buf_puts(&o->body, "{\"error\":{\"code\":\"internal\"}}") != SMILE_OK)
			o->status = 500; /* an empty body is all that is left */
	}
	free(s);
}

int http_status_of(enum smile_err err)
{
	switch (err) {
	case SMILE_OK:
		return 200;
	case SMILE_ERR_JSON:
	case SMILE_ERR_UTF8:
	case SMILE_ERR_INVALID:
		return 400;
	case SMILE_ERR_MISSING_FIELD:
	case SMILE_ERR_FIELD_TYPE:
	case SMILE_ERR_FIELD_VALUE:
	case SMILE_ERR_TOO_LARGE:
	case SMILE_ERR_LABEL_UNMASKED:
	case SMILE_ERR_LABEL_NO_FIT:
	case SMILE_ERR_LABEL_GLYPH:
	case SMILE_ERR_LABEL_CODE:
		return 422;
	case SMILE_ERR_PERMISSION:
		return 403;
	case SMILE_ERR_NOT_FOUND:
		return 404;
	case SMILE_ERR_EXISTS:
	case SMILE_ERR_CONFLICT:
		return 409;
	case SMILE_ERR_SHREDDED:
		return 410;
	case SMILE_ERR_BUSY:
		return 503;
	default:
		return 500;
	}
}

void http_resp_smile_error(struct http_resp *o, const struct smile_error *e)
{
	int status = http_status_of(e->code);
	http_resp_error(o, status, smile_errname(e->code), e->field, "%s",
			e->message[0] ? e->message : smile_strerror(e->code));
}

/* A fixed description of a jansson parse error. */
static const char *json_error_what(const json_error_t *je)
{
	switch (json_error_code(je)) {
	case json_error_out_of_memory:
		return "out of memory";
	case json_error_premature_end_of_input:
		return "the JSON ends early";
	case json_error_end_of_input_expected:
		return "text follows the JSON value";
	case json_error_null_character:
		return "a \\u0000 escape is not allowed";
	case json_error_duplicate_key:
		return "a key appears twice";
	case json_error_numeric_overflow:
		return "a number is too large";
	case json_error_stack_overflow:
		return "nested too deeply";
	case json_error_invalid_utf8:
		return "invalid UTF-8";
	default:
		return "JSON syntax error";
	}
}

json_t *http_body_json(struct http_req *r, struct http_resp *o)
{
	json_error_t jerr;
	json_t *j;
	const char *ctype = http_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);

	if (ctype == NULL || strncasecmp(ctype, "application/json", 16) != 0 ||
	    (ctype[16] != '\0' && ctype[16] != ';' && ctype[16] != ' ')) {
		http_resp_error(o, 415, "unsupported_media_type", NULL,
				"Content-Type must be application/json");
		return NULL;
	}
	if (r->body.len == 0) {
		http_resp_error(o, 400, "invalid_json", NULL, "the request body is empty");
		return NULL;
	}
	j = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL) {
		/* Never jerr.text: jansson quotes the input near the error, and
		 * the input is a name or a phone number as often as not. */
		int utf8 = json_error_code(&jerr) == json_error_invalid_utf8;
		http_resp_error(o, 400, utf8 ? "invalid_utf8" : "invalid_json", NULL,
				"%s (at byte %d)", json_error_what(&jerr), jerr.position);
		return NULL;
	}
	return j;
}

const char *http_query(struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

void http_peer(struct http_req *r, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	out[0] = '\0';
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)n);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
			  (socklen_t)n);
}

/* ------------------------------------------------------------ auth */

static int authenticate(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	const char *h = http_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	uint8_t hash[32];
	enum smile_err rc;

	/* no key: a console session cookie stands for the key it was made
	 * with (console.c) */
	if (h == NULL && console_has_cookie(r))
		return console_authenticate(g, r, o);
	if (h == NULL || strncmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
		http_resp_error(o, 401, "unauthorized", NULL,
				"send an API key as Authorization: Bearer <key>");
		return 0;
	}
	h += 7;
	if (strlen(h) > 200) {
		http_resp_error(o, 401, "unauthorized", NULL, "API key not recognised");
		return 0;
	}
	crypto_generichash(hash, sizeof(hash), (const unsigned char *)h, strlen(h), NULL, 0);
	rc = smile_store_find_apikey(g->store, hash, &r->key);
	if (rc == SMILE_ERR_NOT_FOUND) {
		http_resp_error(o, 401, "unauthorized", NULL, "API key not recognised or revoked");
		return 0;
	}
	if (rc) {
		http_resp_error(o, 500, "store", NULL, "could not check the API key");
		return 0;
	}
	return 1;
}

/* ------------------------------------------------------------ MHD glue */

static double now_s(void)
{
	return (double)smile_mono_ns() / 1e9;
}

int64_t gateway_now_ms(void)
{
	return smile_clock_ms();
}

void gateway_iso_time(int64_t ms, char out[GATEWAY_TIME_MAX])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(out, GATEWAY_TIME_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* Query parameters the API documents (docs/api.md). One given twice, or
 * without '=value', is refused: a proxy and the gateway could pick different
 * ones. Other names are ignored. */
static const char *const known_params[] = {"format", "dpi", "size", "parcel",
					   "since", "after", "limit", "status", "q", "cursor"};
#define N_KNOWN_PARAMS (sizeof(known_params) / sizeof(known_params[0]))

struct query_scan {
	unsigned seen[N_KNOWN_PARAMS];
	const char *bad;     /* the parameter at fault (a literal from known_params) */
	const char *problem; /* what is wrong with it */
};

static enum MHD_Result scan_param(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *value)
{
	struct query_scan *q = cls;
	(void)kind;
	for (size_t i = 0; key && i < N_KNOWN_PARAMS; i++) {
		if (strcmp(key, known_params[i]) != 0)
			continue;
		if (value == NULL)
			q->problem = "needs a value (name=value)";
		else if (++q->seen[i] > 1)
			q->problem = "given more than once";
		if (q->problem) {
			q->bad = known_params[i];
			return MHD_NO;
		}
		break;
	}
	return MHD_YES;
}

static int query_ok(struct http_req *r, struct http_resp *o)
{
	struct query_scan q;
	if (!r->has_query)
		return 1;
	memset(&q, 0, sizeof(q));
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, scan_param, &q);
	if (q.bad == NULL)
		return 1;
	http_resp_error(o, 400, "invalid_value", q.bad, "query parameter %s", q.problem);
	return 0;
}

static void dispatch(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	const struct http_route *rt = r->route;

	if (!r->path_ok) {
		http_resp_error(o, 404, "no_route", NULL, "no such resource");
		return;
	}
	if (rt == NULL) {
		if (r->allow[0]) {
			http_resp_header(o, MHD_HTTP_HEADER_ALLOW, "%s", r->allow);
			http_resp_error(o, 405, "method_not_allowed", NULL,
					"method not allowed here; allowed: %s", r->allow);
		} else {
			http_resp_error(o, 404, "no_route", NULL, "no such resource");
		}
		return;
	}
	if (!query_ok(r, o))
		return;
	/* the body was capped at the row's cap as it arrived (on_request) */
	if (r->body_too_large) {
		http_resp_error(o, 413, "too_large", NULL, "request body over %ld bytes",
				route_body_max(g, rt));
		return;
	}
	if (rt->auth == AUTH_SESSION) {
		if (!console_has_cookie(r)) {
			http_resp_error(o, 401, "unauthorized", NULL, "no console session: sign in");
			return;
		}
		if (!console_authenticate(g, r, o))
			return;
	} else if (rt->auth != AUTH_NONE && !authenticate(g, r, o)) {
		return;
	}
	/* a browser sends the cookie by itself: a state change must also
	 * prove it comes from the console's own page */
	if (r->via_session && !console_csrf_ok(r, o))
		return;
	if (rt->auth != AUTH_NONE) {
		long retry = 1;
		if (!ratelimit_take(g->ratelimit, r->key.id, gateway_now_ms(), &retry)) {
			http_resp_header(o, "Retry-After", "%ld", retry);
			http_resp_error(o, 429, "rate_limited", NULL,
					"over %ld requests per second for this API key",
					g->cfg.rate_limit);
			return;
		}
	}
	if (rt->auth == AUTH_ADMIN && r->key.role != SMILE_ROLE_ADMIN) {
		http_resp_error(o, 403, "forbidden", NULL, "this needs an admin API key");
		return;
	}
	rt->fn(g, r, o);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	const struct http_stream *s = cls;
	return (ssize_t)s->read(s->arg, pos, buf, max);
}

static void stream_done(void *cls)
{
	struct http_stream *s = cls;
	s->done(s->arg);
	free(s);
}

static enum MHD_Result queue(struct MHD_Connection *c, const struct http_req *r,
			     struct http_resp *o, int close_after)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (o->stream.read) {
		struct http_stream *s = malloc(sizeof(*s));
		if (s == NULL) {
			o->stream.done(o->stream.arg);
			return MHD_NO;
		}
		*s = o->stream;
		o->stream.read = NULL;
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, s,
							 stream_done);
		if (resp == NULL) {
			stream_done(s);
			return MHD_NO;
		}
	} else {
		resp = MHD_create_response_from_buffer(
			o->body.len, o->body.len ? o->body.data : (void *)"", MHD_RESPMEM_MUST_COPY);
	}
	if (resp == NULL)
		return MHD_NO;
	if (o->content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, o->content_type);
	MHD_add_response_header(resp, "Cache-Control",
				o->cache_control ? o->cache_control : "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (r && r->console)
		static_security_headers(resp);
	if (close_after)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	for (int i = 0; i < o->n_hdr; i++)
		MHD_add_response_header(resp, o->hdr_name[i], o->hdr_value[i]);
	ret = MHD_queue_response(c, (unsigned)o->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Build the response (dispatching, unless the request was refused before
 * routing), queue it, count and log it. */
static enum MHD_Result respond(struct gateway *g, struct MHD_Connection *c, struct http_req *r)
{
	struct http_resp o;
	enum MHD_Result ret;
	double dt;

	memset(&o, 0, sizeof(o));
	smile_buf_init(&o.body, 64u << 20);
	if (r->reject.status)
		http_resp_error(&o, r->reject.status, r->reject.code, r->reject.field, "%s",
				r->reject.message);
	else {
		/* the vault rotation waits for requests that began before a key
		 * change (gateway_epoch_*) */
		unsigned epoch = gateway_epoch_enter(g);
		dispatch(g, r, &o);
		gateway_epoch_leave(g, epoch);
	}
	if (o.status == 0)
		http_resp_error(&o, 500, "internal", NULL, "no response");
	/* a refused request may be framed in a way we do not trust: never
	 * read another request from this connection */
	ret = queue(c, r, &o, r->reject.status != 0);
	dt = now_s() - r->t0;
	smile_metrics_http(route_metric(r->route), o.status, dt);
	smile_log(o.status >= 500 ? SMILE_LOG_ERROR : SMILE_LOG_DEBUG, "http.request",
		  SMILE_KV_ID("method", r->method),
		  SMILE_KV_ID("route", smile_metrics_route_name(route_metric(r->route))), SMILE_KV_INT("status", o.status),
		  SMILE_KV_DOUBLE("ms", dt * 1000.0),
		  SMILE_KV_ID("key", r->key.id[0] ? r->key.id : "-"));
	smile_buf_release(&o.body);
	if (o.stream.read) /* never queued */
		o.stream.done(o.stream.arg);
	return ret;
}

static void reject(struct http_req *r, int status, const char *code, const char *field,
		   const char *message)
{
	if (r->reject.status)
		return; /* the first problem found is the one reported */
	r->reject = (struct http_reject){status, code, field, message};
}

/* Framing headers, counted (RFC 9112 section 6.3: a message with both
 * Transfer-Encoding and Content-Length, or with conflicting lengths, is one
 * that a proxy and this server could split differently). */
struct header_scan {
	int n_length, n_encoding;
	const char *length, *encoding;
	int bad_name;
};

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	struct header_scan *h = cls;
	(void)kind;
	if (!httpcheck_token(key)) {
		h->bad_name = 1;
		return MHD_YES;
	}
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		h->n_length++;
		h->length = value;
	} else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		h->n_encoding++;
		h->encoding = value;
	}
	return MHD_YES;
}

/* Check the headers that say where the body ends; set r->body_too_large
 * from Content-Length. */
static void check_framing(struct http_req *r)
{
	struct header_scan h;
	uint64_t n;

	memset(&h, 0, sizeof(h));
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, scan_header, &h);
	if (h.bad_name)
		reject(r, 400, "bad_request", NULL,
		       "a header name has a character a header name may not have");
	else if (h.n_length && h.n_encoding)
		reject(r, 400, "bad_request", "Content-Length",
		       "Content-Length and Transfer-Encoding together: send one");
	else if (h.n_length > 1)
		reject(r, 400, "bad_request", "Content-Length", "Content-Length given more than once");
	else if (h.n_encoding > 1)
		reject(r, 400, "bad_request", "Transfer-Encoding",
		       "Transfer-Encoding given more than once");
	else if (h.n_encoding && (h.encoding == NULL || strcasecmp(h.encoding, "chunked") != 0))
		reject(r, 400, "bad_request", "Transfer-Encoding", "only chunked is supported");
	else if (h.n_length && !httpcheck_uint(h.length, 0, UINT64_MAX, &n))
		reject(r, 400, "bad_request", "Content-Length", "malformed Content-Length");
	else if (h.n_length && n > r->body.max)
		r->body_too_large = 1;
}

/* libmicrohttpd calls this with the raw request target, before it decodes
 * the path or parses the query; what it returns becomes the request's
 * context. Every request starts here. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct http_req *r = calloc(1, sizeof(*r));
	const union MHD_ConnectionInfo *ci;
	const char *part = NULL, *why;

	(void)cls;
	if (r == NULL)
		return NULL; /* on_request refuses a request without a context */
	r->conn = c;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	r->track = ci ? ci->socket_context : NULL;
	conn_track_enter(r->track, CONN_HEADERS);
	why = httpcheck_target(uri, &part);
	if (why)
		reject(r, 400, "bad_request", part, why);
	r->has_query = uri && strchr(uri, '?') != NULL;
	return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct gateway *g = cls;
	struct http_req *r = *con_cls;
	(void)version;

	if (r == NULL)
		return MHD_NO; /* on_uri ran out of memory: close */
	if (!r->started) {
		/* First call: headers only. */
		r->started = 1;
		r->method = method;
		r->t0 = now_s();
		/* the route is found now: its row says how much body to take */
		r->path_ok = split_path(r, url) == 0;
		if (!r->path_ok)
			snprintf(r->path, sizeof(r->path), "/");
		r->route = r->path_ok ? route_find(r, r->allow, sizeof(r->allow)) : NULL;
		smile_buf_init(&r->body, (size_t)route_body_max(g, r->route));
		atomic_fetch_add(&g->inflight, 1);
		if (!conn_track_enter(r->track, CONN_BODY))
			return MHD_NO; /* cut meanwhile */
		check_framing(r);
		if (r->reject.status) {
			/* answer now, without reading a body we cannot frame;
			 * libmicrohttpd then closes the connection */
			conn_track_enter(r->track, CONN_BUSY);
			return respond(g, c, r);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		r->received += *upload_data_size;
		conn_track_body(r->track, r->received);
		if (!r->body_too_large &&
		    smile_buf_append(&r->body, upload_data, *upload_data_size) != SMILE_OK)
			r->body_too_large = 1; /* keep reading, discard */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (!conn_track_enter(r->track, CONN_BUSY))
		return MHD_NO; /* cut at its deadline: the client is gone */
	return respond(g, c, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct gateway *g = cls;
	struct http_req *r = *con_cls;
	(void)c;
	(void)toe;
	if (r == NULL)
		return;
	/* the connection now waits for its next request */
	conn_track_enter(r->track, CONN_WAIT);
	smile_buf_release(&r->body); /* wipes: bodies carry personal data */
	sodium_memzero(&r->key, sizeof(r->key));
	if (r->started)
		atomic_fetch_sub(&g->inflight, 1);
	free(r);
	*con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct gateway *g = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fd =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *peer =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		const struct sockaddr *sa = peer ? peer->client_addr : NULL;
		socklen_t len = sa == NULL ? 0
			: sa->sa_family == AF_INET6 ? (socklen_t)sizeof(struct sockaddr_in6)
						     : (socklen_t)sizeof(struct sockaddr_in);
		*socket_context = connguard_open(g->connguard, fd ? fd->connect_fd : -1, sa, len);
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		/* before libmicrohttpd closes the descriptor */
		connguard_close(g->connguard, *socket_context);
		*socket_context = NULL;
	}
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	/* libmicrohttpd's messages are free text that may quote a request line;
	 * log only that something happened. */
	(void)cls;
	(void)fmt;
	(void)ap;
	smile_log0(SMILE_LOG_DEBUG, "http.server_message");
}

static enum smile_err parse_listen(const char *listen, struct sockaddr_in *sa,
				   struct smile_error *e)
{
	char host[64];
	uint16_t port = 0;
	enum smile_err rc;

	struct smile_error why = {0};

	rc = smile_hostport_parse(listen, SMILE_HOSTPORT_PORT0, "listen", host, sizeof(host), &port,
				  &why);
	if (rc) /* a configuration error, with what was wrong with the value */
		return smile_error_set(e, SMILE_ERR_CONFIG, "listen", "%s", why.message);
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return smile_error_set(e, SMILE_ERR_CONFIG, "listen",
				       "host must be an IPv4 address");
	return SMILE_OK;
}

/* The listening socket, made here rather than by libmicrohttpd so a busy
 * port is a clear error. SO_REUSEADDR only lets a restarted gateway bind
 * while its old connections sit in TIME_WAIT; SO_REUSEPORT, which would let
 * a second process bind the same port and silently take half the
 * connections, is never set. */
static enum smile_err open_listener(const struct sockaddr_in *sa, const char *where, int *out,
				    struct smile_error *e)
{
	int one = 1, err;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	*out = -1;
	if (fd < 0)
		return smile_error_set(e, SMILE_ERR_HTTP, "listen", "cannot create a socket: %s",
				       strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) != 0 || listen(fd, SOMAXCONN) != 0) {
		err = errno;
		close(fd);
		if (err == EADDRINUSE)
			return smile_error_set(e, SMILE_ERR_HTTP, "listen",
					       "%s is already in use (another gateway or program "
					       "listens there)",
					       where);
		if (err == EACCES)
			return smile_error_set(e, SMILE_ERR_HTTP, "listen",
					       "%s: not allowed (ports below 1024 need privileges)",
					       where);
		if (err == EADDRNOTAVAIL)
			return smile_error_set(e, SMILE_ERR_HTTP, "listen",
					       "%s: that address is not on this host", where);
		return smile_error_set(e, SMILE_ERR_HTTP, "listen", "cannot listen on %s: %s",
				       where, strerror(err));
	}
	*out = fd;
	return SMILE_OK;
}

/* One descriptor per connection plus the store's, the broker's and logs':
 * lift the soft limit towards the hard one so the connection limit, not
 * EMFILE, is what bounds connections. */
static void raise_fd_limit(long connections)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)connections + 256;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
		smile_log(SMILE_LOG_WARN, "http.fd_limit_low",
			  SMILE_KV_INT("open_files", (long long)rl.rlim_cur),
			  SMILE_KV_INT("http_connection_limit", connections));
}

enum smile_err gateway_http_start(struct gateway *g, const char *listen_on,
				  struct smile_error *e)
{
	const char *where = listen_on ? listen_on : g->cfg.listen;
	struct sockaddr_in sa;
	socklen_t sa_len = sizeof(sa);
	struct connguard_limits lim = {
		.header_ms = g->cfg.http_header_timeout_s * 1000,
		.body_ms = g->cfg.http_body_timeout_s * 1000,
		.body_min_rate = g->cfg.http_body_min_rate,
	};
	enum smile_err rc = parse_listen(where, &sa, e);

	if (rc)
		return rc;
	if ((rc = open_listener(&sa, where, &g->http_fd, e)))
		return rc;
	atomic_store(&g->http_stopping, 0);
	pthread_once(&route_slots_once, route_slots_init);
	if (connguard_new(&lim, &g->connguard) != SMILE_OK) {
		close(g->http_fd);
		return smile_error_set(e, SMILE_ERR_HTTP, "listen",
				       "cannot start the slow-request guard");
	}
	raise_fd_limit(g->cfg.http_connection_limit);
	/* Thread per connection (see the top of this file); poll() so
	 * descriptors past FD_SETSIZE work; strict request lines (no spaces in
	 * the target, Host required for HTTP/1.1). */
	g->httpd = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
			MHD_USE_ITC | MHD_USE_ERROR_LOG,
		0, NULL, NULL, on_request, g, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)g->http_fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)g->cfg.http_connection_limit,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)g->cfg.http_per_ip_limit,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)g->cfg.http_idle_timeout_s,
		MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_URI_LOG_CALLBACK, on_uri, g,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, g, MHD_OPTION_NOTIFY_COMPLETED,
		on_completed, g, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
	if (g->httpd == NULL) {
		connguard_free(g->connguard);
		g->connguard = NULL;
		close(g->http_fd);
		return smile_error_set(e, SMILE_ERR_HTTP, "listen",
				       "cannot start the HTTP server on %s", where);
	}
	if (getsockname(g->http_fd, (struct sockaddr *)&sa, &sa_len) != 0)
		sa.sin_port = 0;
	g->http_port = ntohs(sa.sin_port);
	return SMILE_OK;
}

void gateway_http_stop(struct gateway *g)
{
	if (g->httpd == NULL)
		return;
	/* Stop accepting, let in-flight requests finish (bounded), then close.
	 * The slow-request guard runs until the end: a request still trickling
	 * in is cut at its deadline rather than waited for. */
	/* open event streams see this and end within their poll interval */
	atomic_store(&g->http_stopping, 1);
	MHD_quiesce_daemon(g->httpd);
	for (int i = 0; i < 1000 && atomic_load(&g->inflight) > 0; i++)
		usleep(10000);
	MHD_stop_daemon(g->httpd);
	g->httpd = NULL;
	close(g->http_fd); /* ours: libmicrohttpd leaves a quiesced socket open */
	connguard_free(g->connguard);
	g->connguard = NULL;
}
