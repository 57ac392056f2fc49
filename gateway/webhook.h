/* SPDX-License-Identifier: Apache-2.0 */
/*
 * webhook.h (gateway-internal) - what webhook delivery decides, without I/O:
 * signing secrets (made, sealed at rest, opened), the Smile-Signature
 * header, the address rule against server-side request forgery, URL
 * checks and the retry schedule. The delivery worker and the test send are
 * in webhook_worker.h; docs/webhooks.md is the contract for receivers.
 */
#ifndef SMILE_GATEWAY_WEBHOOK_H
#define SMILE_GATEWAY_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "keys.h"
#include "smile/error.h"
#include "store.h"

/* "whsec_" + 43 base64url characters (32 random bytes) + NUL */
#define WEBHOOK_SECRET_MAX 64
/* "t=" + seconds + ",v1=" + 64 hex + NUL */
#define WEBHOOK_SIG_MAX 96
#define WEBHOOK_ALLOW_MAX 16

/* A fresh signing secret: "whsec_" + base64url (no padding) of 32 random
 * bytes. The caller wipes it. */
void webhook_secret_new(char out[WEBHOOK_SECRET_MAX]);

/* Seal `secret` for endpoint `id` (XChaCha20-Poly1305 under a key derived
 * from the gateway's signing key, the id as associated data: a sealed
 * secret moved to another endpoint does not open) as hex into out.
 * SMILE_ERR_TOO_LARGE when it does not fit. */
enum smile_err webhook_secret_seal(const struct smile_keys *k, const char *id, const char *secret,
				   char out[SMILE_STORE_SEALED_MAX]) SMILE_MUST_CHECK;
/* The reverse; SMILE_ERR_DECRYPT when it does not open for this id. The
 * caller wipes out. */
enum smile_err webhook_secret_open(const struct smile_keys *k, const char *id, const char *sealed,
				   char out[WEBHOOK_SECRET_MAX]) SMILE_MUST_CHECK;

/* The Smile-Signature header value for `body` sent at Unix second `t`:
 * "t=T,v1=HEX" where HEX = HMAC-SHA256(key = the secret string's bytes,
 * message = "T" "." body). */
void webhook_sign(const char *secret, int64_t t, const char *body, size_t len,
		  char out[WEBHOOK_SIG_MAX]);

/* Private addresses an operator allows (gateway.conf webhook_allow_private). */
struct webhook_allow {
	int all; /* "true": every address */
	int n;
	struct {
		int family; /* AF_INET, AF_INET6 */
		uint8_t addr[16];
		int prefix;
	} net[WEBHOOK_ALLOW_MAX];
};
/* "false" or "" (none), "true" (all), or a comma-separated list of CIDRs
 * ("127.0.0.0/8, ::1/128"). SMILE_ERR_CONFIG (field webhook_allow_private)
 * naming what did not parse. */
enum smile_err webhook_allow_parse(const char *text, struct webhook_allow *out,
				   struct smile_error *e) SMILE_MUST_CHECK;

/* Is `sa` an address no webhook may reach by default: unspecified,
 * loopback, link-local, private (RFC 1918, ULA), shared (100.64/10),
 * benchmarking, reserved, multicast or broadcast, IPv4-mapped and NAT64
 * forms included? 1 or 0 (unknown families: 1). */
int webhook_addr_private(const struct sockaddr *sa);
/* May a webhook connect to `sa` under `allow`? 1 or 0. */
int webhook_addr_allowed(const struct webhook_allow *allow, const struct sockaddr *sa);

/* Check a URL for registration: https (or http when allow_http), a host,
 * no user info, at most SMILE_STORE_URL_MAX - 1 bytes; then resolve the
 * host and refuse it when any address is not allowed. SMILE_ERR_FIELD_VALUE
 * (field "url", a message that says why without echoing the URL). */
enum smile_err webhook_url_check(const char *url, int allow_http, const struct webhook_allow *allow,
				 struct smile_error *e) SMILE_MUST_CHECK;

/* The delay before attempt `attempt` + 1 after `attempt` failed attempts
 * (>= 1): d = min(cap_ms, base_ms * 2^(attempt - 1)), then "equal jitter":
 * d/2 + rnd % (d/2 + 1). Always in [d/2, d]. */
int64_t webhook_backoff_ms(uint32_t attempt, int64_t base_ms, int64_t cap_ms, uint32_t rnd);

/* Is `filter` a valid event filter ("*" or comma-separated known event
 * names, no repeats)? 1 or 0. */
int webhook_filter_valid(const char *filter);

#endif
