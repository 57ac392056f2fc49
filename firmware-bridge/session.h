/* SPDX-License-Identifier: Apache-2.0 */
/*
 * session.h - the bridge's MQTT connection (libmosquitto, MQTT v5).
 *
 * User name: the device id; client id: smile-dev-{id}; password: derived
 * (credentials.h). It publishes scans on smile/v1/dev/{id}/scan and
 * subscribes to smile/v1/dev/{id}/reply, QoS 1, re-subscribing on every
 * connection (mosquitto 2.0.11 does not restore subscriptions). TLS when a CA
 * file is given. Reconnection with exponential backoff, forever.
 *
 * Threads: a network thread runs the libmosquitto loop and only moves bytes:
 * on_message copies a reply (capped at SMILE_REPLY_MAX_BYTES) into a small
 * inbox and wakes the main thread through a pipe; all crypto happens on the
 * main thread, which polls bridge_session_fd(), then reads the state and
 * takes the replies.
 */
#ifndef BRIDGE_SESSION_H
#define BRIDGE_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "smile/error.h"

#define BRIDGE_SESSION_INBOX 16

struct bridge_session_opts {
	const char *host;
	int port;
	int keepalive_s;
	const char *cafile;   /* NULL or "": plain TCP */
	const char *certfile; /* client certificate (optional) */
	const char *keyfile;
	const char *device_id;
	const char *password; /* copied; the caller wipes its own copy */
	int reconnect_min_s;
	int reconnect_max_s;
};

struct bridge_session;

/* Create a session (not connected yet). *out freed with bridge_session_free().
 * Returns SMILE_OK; SMILE_ERR_INVALID (an option); SMILE_ERR_CONFIG (TLS
 * files unusable); SMILE_ERR_MQTT; SMILE_ERR_IO (pipe); SMILE_ERR_NOMEM. */
enum smile_err bridge_session_new(const struct bridge_session_opts *o,
				  struct bridge_session **out, struct smile_error *e)
	SMILE_MUST_CHECK;

/* Start the network thread; it connects (and keeps reconnecting) in the
 * background. Returns SMILE_OK or SMILE_ERR_MQTT. */
enum smile_err bridge_session_start(struct bridge_session *s, struct smile_error *e)
	SMILE_MUST_CHECK;

/* Readable when something happened (connected, lost, a reply arrived). */
int bridge_session_fd(const struct bridge_session *s);

/* Consume the wake-ups (call after poll says the fd is readable). */
void bridge_session_drain(struct bridge_session *s);

/* 1 when connected AND subscribed to the reply topic: scans may go. */
int bridge_session_ready(struct bridge_session *s);

/* Take the oldest reply from the inbox into buf[0..cap). SMILE_OK with *len;
 * SMILE_ERR_NOT_FOUND when there is none. */
enum smile_err bridge_session_take(struct bridge_session *s, uint8_t *buf, size_t cap,
				   size_t *len) SMILE_MUST_CHECK;

/* Publish msg on the scan topic, QoS 1. SMILE_OK, or SMILE_ERR_MQTT (not
 * connected, or the library refused). */
enum smile_err bridge_session_publish(struct bridge_session *s, const uint8_t *msg, size_t len)
	SMILE_MUST_CHECK;

/* Replies dropped because the inbox was full or they were over-size. */
unsigned long bridge_session_dropped(struct bridge_session *s);

/* Disconnect, stop the thread, free. NULL is a no-op. */
void bridge_session_free(struct bridge_session *s);

#endif
