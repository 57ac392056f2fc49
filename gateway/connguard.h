/* SPDX-License-Identifier: Apache-2.0 */
/*
 * connguard.h (gateway-internal) - deadlines for HTTP requests that arrive
 * too slowly, whatever trickle of bytes keeps them "active".
 *
 * libmicrohttpd's connection timeout is an idle timeout: every byte resets
 * it, so a client sending one byte every few seconds holds a connection (and,
 * with a thread per connection, a thread) for as long as it likes. The guard
 * gives each request absolute deadlines instead, in the manner of Apache's
 * mod_reqtimeout:
 *
 *   - the request line and headers must arrive within header_ms of the
 *     request's first byte;
 *   - the body within body_ms of the end of the headers, plus one second for
 *     every body_min_rate bytes received (a large upload at a decent rate
 *     is never cut, a trickle always is).
 *
 * HTTP plumbing reports each connection's progress (conn_track_enter); a
 * reaper thread, a few times a second, shuts down - never closes: the
 * descriptor belongs to libmicrohttpd - the sockets that missed a deadline,
 * counts them in smile_http_slow_requests_cut_total and logs each at warning
 * level with the peer address. A connection waiting for a request (new, or
 * idle between keep-alive requests) is judged only when the kernel says bytes
 * arrived since it began waiting (TCP_INFO, asked only once the wait is over
 * header_ms, never per request): an idle keep-alive connection is left to the
 * server's idle timeout.
 *
 * Thread safety: tracks are opened and closed under the guard's mutex (from
 * libmicrohttpd's connection notifications), and the reaper shuts a socket
 * down only under that mutex, so it never touches a descriptor that
 * libmicrohttpd has closed (it notifies "closed" before closing). A track's
 * phase is one atomic word: the reaper's cut and the connection's next phase
 * cannot both win.
 */
#ifndef SMILE_GATEWAY_CONNGUARD_H
#define SMILE_GATEWAY_CONNGUARD_H

#include <stdint.h>
#include <sys/socket.h>

#include "smile/error.h"

enum conn_phase {
	CONN_WAIT = 0, /* connected, or between requests: no request line yet */
	CONN_HEADERS,  /* request line received, headers arriving */
	CONN_BODY,     /* headers received, body arriving */
	CONN_BUSY,     /* whole request received: being handled or answered */
	CONN_CUT       /* cut by the reaper; the connection is going away */
};

struct connguard_limits {
	int64_t header_ms;     /* request line + headers */
	int64_t body_ms;       /* body, before the rate allowance */
	int64_t body_min_rate; /* bytes per second that earn one more second */
};

enum conn_verdict {
	CONN_KEEP = 0,   /* within its deadline, or no deadline in this phase */
	CONN_ASK_KERNEL, /* waiting for a request past header_ms: cut only if
			    bytes of one arrived (else the wait starts over) */
	CONN_EXPIRED     /* missed its deadline: cut */
};

struct connguard;
struct conn_track;

/* The decision, without I/O: a connection in `phase` since `since_ms`, with
 * `body_bytes` of body received, at `now_ms` (one monotonic clock). */
enum conn_verdict connguard_judge(const struct connguard_limits *lim, enum conn_phase phase,
				  int64_t since_ms, uint64_t body_bytes, int64_t now_ms);

/* Start the guard and its reaper thread. SMILE_ERR_NOMEM or SMILE_ERR_INTERNAL
 * (thread). On success *out is the caller's (connguard_free). */
enum smile_err connguard_new(const struct connguard_limits *lim, struct connguard **out)
	SMILE_MUST_CHECK;
/* Stop the reaper and free the guard with any tracks left. NULL is a no-op.
 * Call once no connection can be opened or closed any more (after
 * MHD_stop_daemon). */
void connguard_free(struct connguard *g);

/* A new connection on `fd` from `peer` (copied), in CONN_WAIT. NULL when out
 * of memory (the connection then simply goes unguarded). Owned by the guard
 * until connguard_close, which must come before the descriptor is closed. */
struct conn_track *connguard_open(struct connguard *g, int fd, const struct sockaddr *peer,
				  socklen_t peer_len);
/* Forget a connection (NULL is a no-op); frees the track. */
void connguard_close(struct connguard *g, struct conn_track *t);

/* The connection moves to `phase` now. Returns 0 when the reaper has cut it
 * already (then nothing changes: drop the request), 1 otherwise. NULL: 1. */
int conn_track_enter(struct conn_track *t, enum conn_phase phase);
/* Body bytes received so far in this request (for the rate allowance). */
void conn_track_body(struct conn_track *t, uint64_t total);

/* Monotonic milliseconds, the guard's clock. */
int64_t connguard_now_ms(void);

#endif
