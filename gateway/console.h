/* SPDX-License-Identifier: Apache-2.0 */
/*
 * console.h (gateway-internal) - the merchant web console's sessions over
 * HTTP: the session cookie standing in for an API key, and the CSRF check
 * that state changes made with it need (docs/console.md).
 */
#ifndef SMILE_GATEWAY_CONSOLE_H
#define SMILE_GATEWAY_CONSOLE_H

#include "gateway.h"

#define CONSOLE_COOKIE "smile_session"
/* failed sign-ins per client address: a burst, then this many a second */
#define SIGNIN_RATE 1
#define SIGNIN_BURST 10

/* Does the request carry a session cookie? */
int console_has_cookie(struct http_req *r);

/* Authenticate `r` by its session cookie: 1 with r->key, r->via_session,
 * r->session_hash and r->csrf set; 0 with a 401 answer in `o`. */
int console_authenticate(struct gateway *g, struct http_req *r, struct http_resp *o);

/* For a request authenticated by a session: GET and HEAD pass; anything
 * else needs X-CSRF-Token equal to the session's token (constant time).
 * 1 when it passes, 0 with a 403 "csrf" answer in `o`. */
int console_csrf_ok(struct http_req *r, struct http_resp *o);

#endif
