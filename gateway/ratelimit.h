/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ratelimit.h (gateway-internal) - a token bucket per API key.
 *
 * A leaked or runaway key gets 429 instead of the whole gateway. Buckets live
 * in a fixed table (no allocation per request); a key that collides with a
 * full table shares the least recently used slot, which errs towards
 * limiting, never towards letting more through than configured.
 */
#ifndef SMILE_GATEWAY_RATELIMIT_H
#define SMILE_GATEWAY_RATELIMIT_H

#include <stdint.h>

struct ratelimit;

/* rate: tokens per second (0: unlimited); burst: bucket size. NULL on OOM. */
struct ratelimit *ratelimit_new(long rate, long burst);
void ratelimit_free(struct ratelimit *rl);

/* Take one token for `key` at time now_ms. 1 when allowed; 0 when not, with
 * *retry_after_s set to the seconds until a token is back. Thread-safe. */
int ratelimit_take(struct ratelimit *rl, const char *key, int64_t now_ms, long *retry_after_s);

/* As ratelimit_take, without taking the token: 1 when one is there (to be
 * taken only if what it guards fails: the console's sign-in counts failed
 * attempts). Thread-safe. */
int ratelimit_peek(struct ratelimit *rl, const char *key, int64_t now_ms, long *retry_after_s);

#endif
