/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gateway.h (gateway-internal) - the running gateway: what its modules share,
 * and the HTTP plumbing handlers use.
 */
#ifndef SMILE_GATEWAY_GATEWAY_H
#define SMILE_GATEWAY_GATEWAY_H

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "smile/buf.h"
#include "config.h"
#include "smile/error.h"
#include "keys.h"
#include "mask.h"
#include "metrics.h"
#include "store.h"

struct MHD_Daemon;
struct MHD_Connection;
struct relay;
struct connguard;
struct conn_track;
struct http_route;
struct webhook_worker;

struct gateway {
	char dir[PATH_MAX];
	struct smile_config cfg;
	enum smile_mask_policy policy;
	struct smile_keys *keys;
	struct smile_store *store;
	struct MHD_Daemon *httpd;
	int http_fd;                 /* listening socket, while httpd runs */
	struct connguard *connguard; /* slow-request deadlines, while httpd runs */
	struct relay *relay;
	struct webhook_worker *webhooks; /* the delivery thread, while serving */
	struct ratelimit *ratelimit;
	uint16_t http_port;
	atomic_int inflight; /* HTTP requests being handled */
	atomic_int http_stopping; /* gateway_http_stop began: live streams end */
	atomic_int streams;       /* open event streams (sse.c) */
	struct ratelimit *signin_limit; /* console sign-in attempts per client address */

	pthread_t retention_thread;
	int retention_started;
	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	int stopping;

	/* serve: DIR/serve.lock, held for the life of the process */
	int serve_lock_fd;
	int serve_locked;
	/* online vault key rotation (vault_rotate.c): the key-file watcher, and
	 * the request epochs it waits on before saying it seals with a new key */
	struct vault_watch *vault_watch;
	atomic_uint req_epoch;
	atomic_int req_active[2];
};

/* Load config, keys and store from DIR (refusing unsafe key permissions). */
enum smile_err gateway_open(struct gateway *g, const char *dir, struct smile_error *e)
	SMILE_MUST_CHECK;
void gateway_close(struct gateway *g);

/* `serve`, after gateway_open: take DIR/serve.lock (SMILE_ERR_BUSY, naming
 * the holder, when another serve or a `keys rotate-vault` holds it) and start
 * watching the vault key files (vault_rotate.c). gateway_close undoes both. */
enum smile_err gateway_serve_begin(struct gateway *g, struct smile_error *e) SMILE_MUST_CHECK;

/* Try to take DIR/serve.lock (flock, exclusive, never waiting) for `who`
 * ("serve", "keys rotate-vault"): *fd holds it until closed (or the process
 * ends, however it ends). SMILE_ERR_BUSY when someone holds it (the message
 * names the holder), SMILE_ERR_IO. */
enum smile_err gateway_lock_dir(const char *dir, const char *who, int *fd, struct smile_error *e)
	SMILE_MUST_CHECK;

/* The gateway's own MQTT password: the first line (without its line end) of
 * cfg.mqtt_password_file (relative to DIR) into out (NUL-terminated); ""
 * when no file is configured or the file is empty. SMILE_OK, or
 * SMILE_ERR_CONFIG (field mqtt_password_file) when the file cannot be
 * opened. A secret: the caller wipes out. */
enum smile_err gateway_mqtt_password(const struct gateway *g, char *out, size_t cap,
				     struct smile_error *e) SMILE_MUST_CHECK;

/* The store file of an opened gateway (its config's `store`, relative to DIR). */
enum smile_err gateway_store_url(const struct gateway *g, char *out, size_t n,
				 struct smile_error *e) SMILE_MUST_CHECK;

/* Every HTTP handler runs inside a request epoch: a vault key change waits
 * until the requests that began before it have finished, so no row sealed
 * with a key being retired is still on its way to the store (vault_rotate.c).
 * The epoch is read again after counting in, so a request counted in an epoch
 * always saw that epoch current. */
static inline unsigned gateway_epoch_enter(struct gateway *g)
{
	for (;;) {
		unsigned e = atomic_load(&g->req_epoch) & 1u;
		atomic_fetch_add(&g->req_active[e], 1);
		if ((atomic_load(&g->req_epoch) & 1u) == e)
			return e;
		atomic_fetch_sub(&g->req_active[e], 1);
	}
}

static inline void gateway_epoch_leave(struct gateway *g, unsigned e)
{
	atomic_fetch_sub(&g->req_active[e], 1);
}

/* `init`: create DIR with keys, config, store and the first admin key. */
enum smile_err gateway_init_dir(const char *dir, struct smile_error *e) SMILE_MUST_CHECK;

/* Start/stop the HTTP server on cfg.listen (or `listen` when not NULL).
 * Stop finishes in-flight requests (up to 10 s) before closing. */
enum smile_err gateway_http_start(struct gateway *g, const char *listen, struct smile_error *e)
	SMILE_MUST_CHECK;
void gateway_http_stop(struct gateway *g);

/* Retention job: erase personal data as configured, now and every interval. */
enum smile_err gateway_retention_start(struct gateway *g) SMILE_MUST_CHECK;
void gateway_retention_stop(struct gateway *g);

int64_t gateway_now_ms(void);
/* "2026-11-29T05:56:00.123Z" (UTC) for Unix milliseconds. */
#define GATEWAY_TIME_MAX 80
void gateway_iso_time(int64_t ms, char out[GATEWAY_TIME_MAX]);

/* ------------------------------------------------------------ HTTP */

#define HTTP_MAX_SEGS 8

/* Why a request is refused before routing (status 0: it is not). The
 * strings are literals: they never quote the request. */
struct http_reject {
	int status;
	const char *code;
	const char *field;
	const char *message;
};

struct http_req {
	struct MHD_Connection *conn;
	struct conn_track *track; /* the connection's deadlines (connguard.h); may be NULL */
	const char *method;
	char path[512];
	char *seg[HTTP_MAX_SEGS];
	int nseg;
	struct smile_buf body;
	uint64_t received; /* body bytes received, kept or not */
	int started;       /* the handler has seen the headers */
	int has_query;
	int body_too_large;
	struct http_reject reject;
	const struct http_route *route; /* its row (http.c), found with the headers; NULL: none */
	char allow[64];                 /* no route: the methods the path has, if any */
	int path_ok;                    /* the path split into segments */
	struct smile_store_apikey key; /* the caller, once authenticated */
	double t0;
	int trailing_slash;            /* the path ended with '/' */
	int console;                   /* under /console/: security headers (static.c) */
	/* authenticated by a console session cookie (console.c) rather than a
	 * Bearer key: state changes need its CSRF token */
	int via_session;
	uint8_t session_hash[32];
	char csrf[SMILE_STORE_CSRF_MAX];
	int64_t session_expires_ms;
};


/* A streamed body (sse.c): libmicrohttpd calls read until it returns
 * MHD_CONTENT_READER_END_OF_STREAM, then done once (also when the client
 * went away). */
struct http_stream {
	long (*read)(void *arg, uint64_t pos, char *buf, size_t max);
	void (*done)(void *arg);
	void *arg;
};

#define HTTP_RESP_MAX_HDR 8   /* headers a handler may add */
#define HTTP_RESP_HDR_MAX 384 /* a header value, with its NUL (a page's CSP) */

struct http_resp {
	int status;
	const char *content_type;
	const char *cache_control; /* NULL: no-store */
	struct smile_buf body;
	const char *hdr_name[HTTP_RESP_MAX_HDR];
	char hdr_value[HTTP_RESP_MAX_HDR][HTTP_RESP_HDR_MAX];
	int n_hdr;
	struct http_stream stream; /* read != NULL: the body is this stream */
};

/* The client's address as text ("" when unknown). */
void http_peer(struct http_req *r, char *out, size_t n);

/* Query parameter or request header; NULL when absent. */
const char *http_query(struct http_req *r, const char *name);
const char *http_header(struct http_req *r, const char *name);

/* Add a response header (name must be a literal). */
void http_resp_header(struct http_resp *o, const char *name, const char *fmt, ...)
	SMILE_PRINTF(3, 4);
/* JSON body (steals the reference). */
void http_resp_json(struct http_resp *o, int status, json_t *body);
/* Raw body of a given type (copied). */
void http_resp_bytes(struct http_resp *o, int status, const char *ctype, const void *p,
		     size_t n);
/* {"error":{"code":..., "message":..., "field":...}} */
void http_resp_error(struct http_resp *o, int status, const char *code, const char *field,
		     const char *fmt, ...) SMILE_PRINTF(5, 6);
/* From a smile_error: validation codes map to 400/422 etc. */
void http_resp_smile_error(struct http_resp *o, const struct smile_error *e);
/* HTTP status for an enum smile_err in a request context. */
int http_status_of(enum smile_err err);

/* Parse the request body as a JSON object/array; on failure writes the error
 * response and returns NULL. */
json_t *http_body_json(struct http_req *r, struct http_resp *o);

/* Log track.page_missing (warn) when the tracking page's index.html is not
 * where web_root says (api_track.c): /t/ would answer 404. */
void api_track_check_files(struct gateway *g);

/* ------------------------------------------------------------ handlers */

typedef void (*http_handler)(struct gateway *g, struct http_req *r, struct http_resp *o);

/* One per row of routes.def (defined in api_*.c). */
#define ROUTE(method, pattern, cap, auth, handler, metric) \
	void handler(struct gateway *g, struct http_req *r, struct http_resp *o);
#include "routes.def"
#undef ROUTE

#endif
