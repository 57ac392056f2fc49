/* SPDX-License-Identifier: Apache-2.0 */
/*
 * localapi.c - the local WebSocket API (docs/print-station.md, "Local API").
 *
 * Design: one libwebsockets context on a loopback address, served by its
 * own thread; every connection lives only in that thread. The Origin header
 * is checked at the handshake (LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION)
 * against the configured list, exactly: a page from anywhere else never
 * gets a connection. Each text message (reassembled from fragments, at most
 * LOCAL_API_FRAME_MAX) is one JSON command {"id","cmd",...} answered with
 * one JSON reply carrying the same id. A malformed command is answered with
 * an error and the connection stays; a protocol violation (binary frame,
 * oversize message) closes it.
 *
 * Notifications come from the agent's other threads: local_api_notify
 * queues the text under a mutex and wakes the service loop
 * (lws_cancel_service); the service thread then copies it to every
 * connection's own outgoing queue. Nothing here touches the spool or the
 * printer: the agent's operations (localapi.h) do, so the spool stays the
 * single source of truth.
 */
#include "localapi.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>
#include <sodium.h>

#include "smile/log.h"

#define ORIGIN_MAX 256
#define OUT_MAX 64 /* queued messages per connection before it is dropped */

struct msg {
	struct msg *next;
	size_t len;
	unsigned char data[]; /* LWS_PRE bytes, then the text */
};

struct session {
	struct session *next;
	struct lws *wsi;
	struct local_api *api;
	unsigned char *in;
	size_t in_len;
	int in_bad; /* the message in progress is over the cap */
	struct msg *out_head, *out_tail;
	size_t out_n;
};

struct local_api {
	struct lws_context *ctx;
	struct local_api_ops ops;
	char origins[1024];
	pthread_t thread;
	atomic_int stop;
	struct session *sessions; /* service thread only */
	pthread_mutex_t mu;       /* guards pending */
	struct msg *pending_head, *pending_tail;
};

/* ------------------------------------------------------------ config */

static int split_listen(const char *listen, char *host, size_t cap, int *port)
{
	const char *colon = strrchr(listen, ':');
	char *end;
	long p;
	size_t n;

	if (colon == NULL || colon == listen)
		return -1;
	n = (size_t)(colon - listen);
	if (listen[0] == '[' && n >= 2 && listen[n - 1] == ']') {
		listen++;
		n -= 2;
	}
	if (n >= cap)
		return -1;
	memcpy(host, listen, n);
	host[n] = '\0';
	p = strtol(colon + 1, &end, 10);
	if (*end != '\0' || p < 1 || p > 65535)
		return -1;
	*port = (int)p;
	return 0;
}

static int loopback(const char *host)
{
	return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "::1") == 0 ||
	       strcmp(host, "localhost") == 0;
}

enum smile_err local_api_check(const struct local_api_conf *c, struct smile_error *e)
{
	char host[128];
	int port;

	if (split_listen(c->listen, host, sizeof(host), &port) != 0)
		return smile_error_set(e, SMILE_ERR_CONFIG, "local_api_listen", "need HOST:PORT");
	if (!loopback(host) && !c->allow_remote)
		return smile_error_set(e, SMILE_ERR_CONFIG, "local_api_listen",
				       "not a loopback address (set local_api_allow_remote = 1 "
				       "to allow it)");
	if ((c->cert && c->cert[0]) != (c->key && c->key[0]))
		return smile_error_set(e, SMILE_ERR_CONFIG, "local_api_cert",
				       "local_api_cert and local_api_key go together");
	return SMILE_OK;
}

/* The Origin header is one of the configured ones, exactly. */
static int origin_allowed(const struct local_api *api, const char *origin)
{
	const char *p = api->origins;
	size_t olen = strlen(origin);

	if (olen == 0)
		return 0;
	while (*p) {
		const char *end;
		size_t n;
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		end = p;
		while (*end && *end != ',' && *end != ' ' && *end != '\t')
			end++;
		n = (size_t)(end - p);
		if (n == olen && memcmp(p, origin, n) == 0)
			return 1;
		p = end;
	}
	return 0;
}

/* ------------------------------------------------------------ output */

static struct msg *msg_new(const char *text, size_t len)
{
	struct msg *m = malloc(sizeof(*m) + LWS_PRE + len);
	if (m == NULL)
		return NULL;
	m->next = NULL;
	m->len = len;
	memcpy(m->data + LWS_PRE, text, len);
	return m;
}

static void session_push(struct session *s, struct msg *m)
{
	if (s->out_n >= OUT_MAX) {
		/* a client that does not read: drop it rather than grow */
		free(m);
		lws_set_timeout(s->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
		return;
	}
	if (s->out_tail)
		s->out_tail->next = m;
	else
		s->out_head = m;
	s->out_tail = m;
	s->out_n++;
	lws_callback_on_writable(s->wsi);
}

static void send_json(struct session *s, json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT);
	struct msg *m = text ? msg_new(text, strlen(text)) : NULL;
	free(text);
	json_decref(j);
	if (m)
		session_push(s, m);
}

static void send_error(struct session *s, json_t *id, const char *code, const char *message)
{
	send_json(s, json_pack("{s:O?,s:b,s:{s:s,s:s}}", "id", id, "ok", 0, "error", "code", code,
			       "message", message));
}

static void session_drop(struct session *s)
{
	struct session **pp = &s->api->sessions;
	while (*pp && *pp != s)
		pp = &(*pp)->next;
	if (*pp)
		*pp = s->next;
	while (s->out_head) {
		struct msg *m = s->out_head;
		s->out_head = m->next;
		free(m);
	}
	free(s->in);
	s->in = NULL;
}

/* Notifications queued by other threads, to every connection. */
static void deliver_pending(struct local_api *api)
{
	struct msg *m;
	pthread_mutex_lock(&api->mu);
	m = api->pending_head;
	api->pending_head = api->pending_tail = NULL;
	pthread_mutex_unlock(&api->mu);
	while (m) {
		struct msg *next = m->next;
		for (struct session *s = api->sessions; s; s = s->next) {
			struct msg *c = msg_new((const char *)m->data + LWS_PRE, m->len);
			if (c)
				session_push(s, c);
		}
		free(m);
		m = next;
	}
}

/* ------------------------------------------------------------ commands */

/* The "job" member, base64, decoded into a malloc'd buffer. */
static uint8_t *job_arg(json_t *cmd, size_t *len, const char **why)
{
	json_t *v = json_object_get(cmd, "job");
	const char *b64;
	size_t n, cap;
	uint8_t *buf;

	if (!json_is_string(v)) {
		*why = "\"job\": the job message from GET /v1/print-jobs/{id}/message, base64";
		return NULL;
	}
	b64 = json_string_value(v);
	n = strlen(b64);
	cap = n / 4 * 3 + 3;
	buf = malloc(cap ? cap : 1);
	if (buf == NULL) {
		*why = "out of memory";
		return NULL;
	}
	if (sodium_base642bin(buf, cap, b64, n, " \r\n", len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    *len == 0) {
		free(buf);
		*why = "\"job\" is not base64";
		return NULL;
	}
	return buf;
}

static void cmd_print(struct session *s, json_t *id, json_t *cmd, int preview)
{
	struct local_api *api = s->api;
	struct smile_error e = {0};
	const char *why = NULL;
	size_t len = 0;
	uint8_t *msg = job_arg(cmd, &len, &why);
	enum smile_err rc;

	if (msg == NULL) {
		send_error(s, id, "bad_request", why);
		return;
	}
	if (preview) {
		struct smile_buf pdf;
		smile_buf_init(&pdf, 4 * 1024 * 1024);
		rc = api->ops.preview(api->ops.arg, msg, len, &pdf, &e);
		if (rc == SMILE_OK) {
			size_t cap = sodium_base64_ENCODED_LEN(pdf.len, sodium_base64_VARIANT_ORIGINAL);
			char *b64 = malloc(cap);
			if (b64) {
				sodium_bin2base64(b64, cap, (const unsigned char *)pdf.data, pdf.len,
						  sodium_base64_VARIANT_ORIGINAL);
				send_json(s, json_pack("{s:O?,s:b,s:s}", "id", id, "ok", 1, "pdf", b64));
				free(b64);
			} else {
				send_error(s, id, "internal", "out of memory");
			}
		}
		if (pdf.data)
			sodium_memzero(pdf.data, pdf.len);
		smile_buf_release(&pdf);
	} else {
		json_t *out = NULL;
		rc = api->ops.print(api->ops.arg, msg, len, &out, &e);
		if (rc == SMILE_OK) {
			json_object_set_new(out, "id", id ? json_incref(id) : json_null());
			json_object_set_new(out, "ok", json_true());
			send_json(s, out);
		}
	}
	free(msg);
	if (rc != SMILE_OK)
		send_error(s, id, smile_errname(rc),
			   e.message[0] ? e.message : smile_strerror(rc));
}

static void handle_command(struct session *s, const char *text, size_t len)
{
	json_error_t je;
	json_t *cmd = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	json_t *id = cmd ? json_object_get(cmd, "id") : NULL;
	const char *name = cmd ? json_string_value(json_object_get(cmd, "cmd")) : NULL;

	if (!json_is_object(cmd)) {
		send_error(s, NULL, "bad_json", "a command is one JSON object");
	} else if (id && !json_is_integer(id) && !json_is_string(id)) {
		send_error(s, NULL, "bad_request", "\"id\" is a number or a string");
	} else if (name == NULL) {
		send_error(s, id, "bad_request", "\"cmd\": getPrinters, print or preview");
	} else if (strcmp(name, "getPrinters") == 0) {
		send_json(s, json_pack("{s:O?,s:b,s:o}", "id", id, "ok", 1, "printers",
				       s->api->ops.printers(s->api->ops.arg)));
	} else if (strcmp(name, "print") == 0) {
		cmd_print(s, id, cmd, 0);
	} else if (strcmp(name, "preview") == 0) {
		cmd_print(s, id, cmd, 1);
	} else {
		send_error(s, id, "unknown_command", "\"cmd\": getPrinters, print or preview");
	}
	smile_log(SMILE_LOG_DEBUG, "print.local_api.command",
		  SMILE_KV_ID("cmd", name && strlen(name) < 32 ? name : "-"));
	json_decref(cmd);
}

/* A fragment of a text message; 0 to go on, -1 to close. */
static int receive(struct session *s, const void *in, size_t len)
{
	struct lws *wsi = s->wsi;
	int final;

	if (lws_frame_is_binary(wsi)) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
				 (unsigned char *)"text frames only", 16);
		return -1;
	}
	if (lws_is_first_fragment(wsi))
		s->in_len = 0;
	if (s->in_len + len > LOCAL_API_FRAME_MAX) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
				 (unsigned char *)"message too large", 17);
		return -1;
	}
	if (s->in == NULL && (s->in = malloc(LOCAL_API_FRAME_MAX)) == NULL)
		return -1;
	memcpy(s->in + s->in_len, in, len);
	s->in_len += len;
	final = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
	if (final) {
		handle_command(s, (const char *)s->in, s->in_len);
		s->in_len = 0;
	}
	return 0;
}

static int write_one(struct session *s)
{
	struct msg *m = s->out_head;
	if (m == NULL)
		return 0;
	if (lws_write(s->wsi, m->data + LWS_PRE, m->len, LWS_WRITE_TEXT) < (int)m->len)
		return -1;
	s->out_head = m->next;
	if (s->out_head == NULL)
		s->out_tail = NULL;
	s->out_n--;
	free(m);
	if (s->out_head)
		lws_callback_on_writable(s->wsi);
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct session *s = user;
	struct local_api *api = lws_context_user(lws_get_context(wsi));
	char origin[ORIGIN_MAX];

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		origin[0] = '\0';
		if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) >= (int)sizeof(origin) ||
		    lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) < 0 ||
		    !origin_allowed(api, origin)) {
			smile_log(SMILE_LOG_WARN, "print.local_api.origin_refused",
				  SMILE_KV_INT("had_origin", origin[0] != '\0'));
			/* a plain 403 (no upgrade), then closed */
			lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, "origin not allowed");
			return 1;
		}
		return 0;
	case LWS_CALLBACK_ESTABLISHED:
		memset(s, 0, sizeof(*s));
		s->wsi = wsi;
		s->api = api;
		s->next = api->sessions;
		api->sessions = s;
		smile_log0(SMILE_LOG_INFO, "print.local_api.connected");
		return 0;
	case LWS_CALLBACK_RECEIVE:
		return receive(s, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return write_one(s);
	case LWS_CALLBACK_CLOSED:
		/* also for a connection refused before it was established */
		if (s && s->api)
			session_drop(s);
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (api)
			deliver_pending(api);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols protocols[] = {
	{"smile-print", callback, sizeof(struct session), 4096, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ------------------------------------------------------------ life */

static void *service_main(void *arg)
{
	struct local_api *api = arg;
	while (!atomic_load(&api->stop))
		if (lws_service(api->ctx, 0) < 0)
			break;
	return NULL;
}

/* libwebsockets' own lines carry addresses and paths, never job data; our
 * log takes identifiers only, so they go to stderr as they are. */
static void lws_log_line(int level, const char *line)
{
	(void)level;
	fprintf(stderr, "lws: %s", line);
}

enum smile_err local_api_start(const struct local_api_conf *c, const struct local_api_ops *ops,
			       struct local_api **out, struct smile_error *e)
{
	struct lws_context_creation_info info;
	struct local_api *api;
	char host[128];
	int port = 0;
	enum smile_err rc = local_api_check(c, e);

	*out = NULL;
	if (rc != SMILE_OK)
		return rc;
	(void)split_listen(c->listen, host, sizeof(host), &port);
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	api = calloc(1, sizeof(*api));
	if (api == NULL)
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, "out of memory");
	api->ops = *ops;
	snprintf(api->origins, sizeof(api->origins), "%s", c->origins ? c->origins : "");
	pthread_mutex_init(&api->mu, NULL);
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_line);
	memset(&info, 0, sizeof(info));
	info.port = port;
	info.iface = host;
	info.protocols = protocols;
	info.user = api;
	info.gid = -1;
	info.uid = -1;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6 * (strchr(host, ':') == NULL);
	if (c->cert && c->cert[0]) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = c->cert;
		info.ssl_private_key_filepath = c->key;
	}
	api->ctx = lws_create_context(&info);
	if (api->ctx == NULL) {
		pthread_mutex_destroy(&api->mu);
		free(api);
		return smile_error_set(e, SMILE_ERR_IO, "local_api_listen",
				       "cannot listen there (address in use, or the "
				       "certificate does not load)");
	}
	if (pthread_create(&api->thread, NULL, service_main, api) != 0) {
		lws_context_destroy(api->ctx);
		pthread_mutex_destroy(&api->mu);
		free(api);
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, "cannot start a thread");
	}
	smile_log(SMILE_LOG_INFO, "print.local_api.listening", SMILE_KV_INT("port", port),
		  SMILE_KV_INT("tls", c->cert && c->cert[0]));
	*out = api;
	return SMILE_OK;
}

void local_api_notify(struct local_api *api, const char *job_id, const char *state,
		      const char *reason, const char *text)
{
	json_t *j;
	char *s;
	struct msg *m;

	if (api == NULL)
		return;
	j = json_pack("{s:s,s:s,s:s,s:s,s:s}", "event", "job", "job_id", job_id, "state", state,
		      "reason", reason, "text", text ? text : "");
	s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	m = s ? msg_new(s, strlen(s)) : NULL;
	free(s);
	if (m == NULL)
		return;
	pthread_mutex_lock(&api->mu);
	if (api->pending_tail)
		api->pending_tail->next = m;
	else
		api->pending_head = m;
	api->pending_tail = m;
	pthread_mutex_unlock(&api->mu);
	lws_cancel_service(api->ctx);
}

void local_api_stop(struct local_api *api)
{
	if (api == NULL)
		return;
	atomic_store(&api->stop, 1);
	lws_cancel_service(api->ctx);
	pthread_join(api->thread, NULL);
	lws_context_destroy(api->ctx);
	while (api->pending_head) {
		struct msg *m = api->pending_head;
		api->pending_head = m->next;
		free(m);
	}
	pthread_mutex_destroy(&api->mu);
	free(api);
}
