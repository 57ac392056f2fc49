/* SPDX-License-Identifier: Apache-2.0 */
/*
 * static.h (gateway-internal) - the merchant console's files at /console/,
 * and the security headers every /console/ answer carries (docs/console.md).
 */
#ifndef SMILE_GATEWAY_STATIC_H
#define SMILE_GATEWAY_STATIC_H

#include <stddef.h>

struct gateway;
struct MHD_Response;

/* The Content-Security-Policy of the console: no inline script or style,
 * nothing from another origin, never framed. */
#define STATIC_CSP                                                                        \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " \
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

/* Add the console's security headers (CSP, X-Frame-Options DENY,
 * Referrer-Policy no-referrer) to a response under /console/. */
void static_security_headers(struct MHD_Response *resp);

/* The directory the console is served from, NUL-terminated in out:
 * console_dir when set (relative: to the data directory), else the build
 * tree's gateway/web/console for a gateway run from the build tree, else
 * DATADIR/smile/console (make install). 0 when it does not fit. */
int static_console_dir(const struct gateway *g, char *out, size_t n);

#endif
