/* SPDX-License-Identifier: Apache-2.0 */
/*
 * localapi.h - smile-print's local WebSocket API for browser-based warehouse
 * systems (docs/print-station.md, "Local API").
 *
 * One thread runs libwebsockets on a loopback address. It knows nothing of
 * the spool or the printer: the agent hands it the operations below, which
 * it calls from its own thread (they must be thread-safe against the agent's
 * other threads), and calls local_api_notify from any thread on each job
 * state change.
 */
#ifndef PRINT_LOCALAPI_H
#define PRINT_LOCALAPI_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "smile/buf.h"
#include "smile/error.h"

struct local_api;

struct local_api_ops {
	void *arg;
	/* Verify and spool a job message exactly as one from MQTT: *out gets
	 * {"job_id","waybill","seq","duplicate"} on SMILE_OK. */
	enum smile_err (*print)(void *arg, const uint8_t *msg, size_t len, json_t **out,
				struct smile_error *e);
	/* Verify and render a job message as PDF into pdf; nothing is kept. */
	enum smile_err (*preview)(void *arg, const uint8_t *msg, size_t len, struct smile_buf *pdf,
				  struct smile_error *e);
	/* The printer(s) and their status, a JSON array (new reference). */
	json_t *(*printers)(void *arg);
};

struct local_api_conf {
	const char *listen;  /* "HOST:PORT" */
	int allow_remote;    /* else HOST must be loopback */
	const char *origins; /* "https://a, http://b": exact Origin values */
	const char *cert, *key; /* both set: wss:// */
};

/* The largest text frame (whole message) taken; larger ones close the
 * connection (1009). */
#define LOCAL_API_FRAME_MAX (64 * 1024)

/* Check the configuration without starting anything. SMILE_ERR_CONFIG. */
enum smile_err local_api_check(const struct local_api_conf *c, struct smile_error *e)
	SMILE_MUST_CHECK;

/* Listen and start the service thread. SMILE_ERR_CONFIG, SMILE_ERR_IO. */
enum smile_err local_api_start(const struct local_api_conf *c, const struct local_api_ops *ops,
			       struct local_api **out, struct smile_error *e) SMILE_MUST_CHECK;

/* Tell every connected client: {"event":"job","job_id","state","reason","text"}.
 * Any thread; NULL api: nothing. */
void local_api_notify(struct local_api *api, const char *job_id, const char *state,
		      const char *reason, const char *text);

/* Stop the thread, close every connection, free. NULL: nothing. */
void local_api_stop(struct local_api *api);

#endif
