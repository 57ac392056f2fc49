/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine.h - the bridge's state machine: codes in, scans out, replies back.
 *
 * It owns no I/O of its own. Codes arrive from an input (bridge_engine_code),
 * replies from the MQTT session (bridge_engine_reply), connection changes
 * (bridge_engine_online) and time (bridge_engine_tick); it answers through
 * callbacks: publish a scan, emit an output line. So it runs the same under
 * the daemon and under a unit test, and it runs on ONE thread (the daemon's
 * main thread): the MQTT network thread never signs or decrypts.
 *
 * Rules it keeps (docs/bridge.md "Queue behaviour"):
 *  - every scan is queued durably (queue.h) before anything else happens;
 *    a full queue refuses the new scan with a "refused" notice;
 *  - one scan in flight at a time, oldest first (stop-and-wait), so the scan
 *    in flight is always this device's latest and the gateway can recognise
 *    a retransmission;
 *  - a scan gets its sequence number and signing time when first sent, and
 *    both are stored in its queue record before it is published; every
 *    resend (backoff, reconnection, restart after kill -9) sends the exact
 *    same bytes;
 *  - a reply is accepted only through smile_device_open_reply (this gateway,
 *    this device, this scan); the line is written, the contact wiped, and
 *    only then the scan leaves the queue;
 *  - replies follow docs/protocol.md 8.3: "busy" (and "internal", up to
 *    BRIDGE_ENGINE_FAULT_RETRIES times) were not stored by the gateway, so
 *    the same bytes go again after a growing delay; "denied: stale" means
 *    accepted but not recorded: the clock is corrected from the reply's
 *    verified time and the scan re-signed once with a new number; anything
 *    else is final and written out.
 */
#ifndef BRIDGE_ENGINE_H
#define BRIDGE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "lines.h"
#include "queue.h"
#include "smile/device.h"
#include "smile/error.h"

/* How many error/internal replies one scan may get before it is given up. */
#define BRIDGE_ENGINE_FAULT_RETRIES 3

struct bridge_engine_ops {
	void *ctx;
	/* Publish a scan message on this device's scan topic. SMILE_OK, or an
	 * error when not connected (the engine retries later). */
	enum smile_err (*publish)(void *ctx, const uint8_t *msg, size_t len);
	/* Write one output line (ends with '\n'). SMILE_OK or SMILE_ERR_IO
	 * (fatal: the engine stops and returns it). The line may hold contact
	 * details: do not keep it. */
	enum smile_err (*emit)(void *ctx, const char *line, size_t len);
	/* Monotonic milliseconds (timers) and Unix milliseconds (scan times). */
	uint64_t (*mono_ms)(void *ctx);
	uint64_t (*wall_ms)(void *ctx);
};

struct bridge_engine_opts {
	long retry_initial_ms;          /* first resend delay */
	long retry_max_ms;              /* backoff ceiling */
	enum smile_event event;         /* starting mode; 0 = none yet */
	int has_location;
	struct smile_location location; /* attached to every scan when set */
};

struct bridge_engine_stats {
	uint64_t queued;      /* scans accepted into the queue */
	uint64_t refused;     /* codes refused (queue full, invalid, no mode) */
	uint64_t sent;        /* first transmissions */
	uint64_t resent;      /* retransmissions of the same bytes */
	uint64_t resigned;    /* re-signed with a new number after "stale" */
	uint64_t replies;     /* replies written out */
	uint64_t ignored;     /* replies that were not for the scan in flight */
};

struct bridge_engine;

/*
 * A new engine using dev (scans, replies), keys (the same device's keys, to
 * rebuild a stored scan byte for byte), seq (numbers) and q (the queue); none
 * are owned, all must outlive the engine. Allocated in locked memory
 * (sodium_malloc): it holds the decrypted contact while a line is written.
 * Returns SMILE_OK; SMILE_ERR_INVALID (opts); SMILE_ERR_NOMEM.
 */
enum smile_err bridge_engine_new(const struct smile_device *dev,
				 const struct smile_device_keys *keys, struct smile_seq *seq,
				 struct bridge_queue *q, const struct bridge_engine_opts *opts,
				 const struct bridge_engine_ops *ops, struct bridge_engine **out,
				 struct smile_error *e) SMILE_MUST_CHECK;

/* Wipe and free. NULL is a no-op. */
void bridge_engine_free(struct bridge_engine *g);

/*
 * A code from the input (a bridge_code_fn's arguments). A mode barcode
 * switches the mode; anything else is queued as a scan in the current mode
 * (or refused, with a notice line saying why). Returns SMILE_OK, or
 * SMILE_ERR_IO when the output failed (fatal).
 */
enum smile_err bridge_engine_code(struct bridge_engine *g, const char *code, size_t len,
				  enum bridge_code_status status) SMILE_MUST_CHECK;

/* The MQTT session is (1) or is not (0) ready to carry scans. Going online
 * resends the scan in flight at once. Returns SMILE_OK or SMILE_ERR_IO. */
enum smile_err bridge_engine_online(struct bridge_engine *g, int online) SMILE_MUST_CHECK;

/* A message from this device's reply topic. Anything that is not the reply
 * to the scan in flight is ignored (logged). Returns SMILE_OK, or
 * SMILE_ERR_IO when the output failed (fatal; the scan stays queued). */
enum smile_err bridge_engine_reply(struct bridge_engine *g, const uint8_t *msg, size_t len)
	SMILE_MUST_CHECK;

/* Do what is due: resend an unanswered scan, send the next one. Returns
 * SMILE_OK or SMILE_ERR_IO. */
enum smile_err bridge_engine_tick(struct bridge_engine *g) SMILE_MUST_CHECK;

/* Milliseconds until bridge_engine_tick() has something to do; -1 when
 * nothing is scheduled (idle, or waiting for the connection). */
long bridge_engine_timeout_ms(const struct bridge_engine *g);

/* 1 when nothing is queued or in flight. */
int bridge_engine_idle(const struct bridge_engine *g);

/* The current event mode (0 when none). */
enum smile_event bridge_engine_event(const struct bridge_engine *g);

/* Counters since creation. */
void bridge_engine_stats(const struct bridge_engine *g, struct bridge_engine_stats *out);

#endif
