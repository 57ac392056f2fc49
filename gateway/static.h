/* SPDX-License-Identifier: Apache-2.0 */
/*
 * static.h (gateway-internal) - serving the web pages shipped with the
 * gateway: the recipient tracking page at /t/ (docs/tracking.md) and the
 * merchant console at /console/ (docs/console.md). Plain files from one
 * directory, nothing generated.
 */
#ifndef SMILE_GATEWAY_STATIC_H
#define SMILE_GATEWAY_STATIC_H

#include <stddef.h>

#include "gateway.h"

struct MHD_Response;

#define STATIC_FILE_MAX (4L << 20) /* largest file served, bytes */

/* One response header a page adds (both strings borrowed). */
struct static_header {
	const char *name; /* a literal */
	const char *value;
};

/* Headers every page gets: frame-ancestors 'none' / X-Frame-Options DENY,
 * Referrer-Policy no-referrer (X-Content-Type-Options nosniff and
 * Cache-Control no-store come with every gateway response). A page adds
 * its own Content-Security-Policy. */
extern const struct static_header static_page_headers[];
extern const size_t static_n_page_headers;

/* Answer with the file `relpath` (e.g. "index.html", "track.js") of the
 * directory `dir` into `o`: 200 with its bytes, a Content-Type from its
 * extension and the n headers (plus static_page_headers). Refused as 404
 * "no such resource", without saying why: an empty path, a segment that
 * is empty or starts with '.' (so no "..", no hidden files), a character
 * outside [A-Za-z0-9._/-], an extension not in the table (.html .css .js
 * .svg .png .ico .json .txt .woff2), a file that is not a regular file
 * or that resolves (through a symlink) outside `dir`, or one over
 * STATIC_FILE_MAX. Returns the status set in `o`. */
int static_serve(struct http_resp *o, const char *dir, const char *relpath,
		 const struct static_header *headers, size_t n);

/* The directory the gateway serves pages from, into out: `configured`
 * when not empty (relative to `gw_dir` unless absolute); else, for an
 * installed gateway, PREFIX/share/smile/web beside the executable's
 * PREFIX/bin; else the source tree's gateway/web (a gateway run from its
 * build tree). Returns 0, or -1 when out is too small. */
int static_root(const char *configured, const char *gw_dir, char *out, size_t cap);

/* The Content-Security-Policy of the console: no inline script or style,
 * nothing from another origin, never framed. */
#define STATIC_CSP                                                                        \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " \
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

/* Add the console's security headers (its CSP, X-Frame-Options DENY,
 * Referrer-Policy no-referrer) to an answer under /console/ (http.c; the
 * console's files get them through static_serve instead). */
void static_security_headers(struct MHD_Response *resp);

/* The directory the console is served from: console_dir when set
 * (relative: to the data directory), else the console/ subdirectory of
 * the web root (static_root). 0 when it does not fit. */
int static_console_dir(const struct gateway *g, char *out, size_t n);

#endif
