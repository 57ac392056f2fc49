/* SPDX-License-Identifier: Apache-2.0 */
/*
 * static.c - plain files for the gateway's web pages (static.h).
 *
 * The one idea: a request path is only ever a name to look up, never a path
 * to follow. It must be made of a few safe characters, no segment may begin
 * with '.', the extension must be one we know, and the file's resolved path
 * (symlinks followed by realpath) must still lie inside the served
 * directory's resolved path. Anything else is the same 404 as a missing
 * file, so probing learns nothing about the disk.
 */
#include "static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "smile/log.h"

#ifndef SMILE_WEB_SRC_DIR
#define SMILE_WEB_SRC_DIR "gateway/web"
#endif

const struct static_header static_page_headers[] = {
	{"X-Frame-Options", "DENY"},
	{"Referrer-Policy", "no-referrer"},
	{"Cross-Origin-Opener-Policy", "same-origin"},
};
const size_t static_n_page_headers = sizeof(static_page_headers) / sizeof(static_page_headers[0]);

static const struct {
	const char *ext;
	const char *type;
} types[] = {
	{".html", "text/html; charset=utf-8"},
	{".css", "text/css; charset=utf-8"},
	{".js", "text/javascript; charset=utf-8"},
	{".svg", "image/svg+xml"},
	{".png", "image/png"},
	{".ico", "image/x-icon"},
	{".json", "application/json"},
	{".txt", "text/plain; charset=utf-8"},
	{".woff2", "font/woff2"},
};

static const char *type_of(const char *path)
{
	const char *dot = strrchr(path, '.');
	const char *slash = strrchr(path, '/');
	if (dot == NULL || (slash && dot < slash))
		return NULL;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return NULL;
}

/* Only names: [A-Za-z0-9._-] segments separated by single '/', none
 * empty or starting with '.'. */
static int name_ok(const char *p)
{
	int seg_start = 1;
	if (p == NULL || *p == '\0' || strlen(p) >= 256)
		return 0;
	for (; *p; p++) {
		char c = *p;
		if (c == '/') {
			if (seg_start)
				return 0;
			seg_start = 1;
			continue;
		}
		if (seg_start && c == '.')
			return 0;
		seg_start = 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return !seg_start;
}

static int not_found(struct http_resp *o)
{
	http_resp_error(o, 404, "no_route", NULL, "no such resource");
	return 404;
}

int static_serve(struct http_resp *o, const char *dir, const char *relpath,
		 const struct static_header *headers, size_t n)
{
	char root[PATH_MAX], joined[PATH_MAX], real[PATH_MAX];
	const char *type = type_of(relpath ? relpath : "");
	struct stat st;
	unsigned char *buf = NULL;
	size_t rootlen, got = 0;
	int fd = -1;

	if (!name_ok(relpath) || type == NULL || dir == NULL || realpath(dir, root) == NULL)
		return not_found(o);
	rootlen = strlen(root);
	if ((size_t)snprintf(joined, sizeof(joined), "%s/%s", root, relpath) >= sizeof(joined) ||
	    realpath(joined, real) == NULL || strncmp(real, root, rootlen) != 0 ||
	    real[rootlen] != '/')
		return not_found(o);
	fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > STATIC_FILE_MAX)
		goto fail;
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL)
		goto fail;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto fail;
		got += (size_t)r;
	}
	close(fd);
	http_resp_bytes(o, 200, type, buf, got);
	free(buf);
	for (size_t i = 0; i < static_n_page_headers; i++)
		http_resp_header(o, static_page_headers[i].name, "%s", static_page_headers[i].value);
	for (size_t i = 0; i < n; i++)
		http_resp_header(o, headers[i].name, "%s", headers[i].value);
	return 200;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	return not_found(o);
}

static int is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int static_root(const char *configured, const char *gw_dir, char *out, size_t cap)
{
	char exe[PATH_MAX];
	ssize_t n;
	int w;

	if (configured && configured[0]) {
		if (configured[0] == '/' || gw_dir == NULL)
			w = snprintf(out, cap, "%s", configured);
		else
			w = snprintf(out, cap, "%s/%s", gw_dir, configured);
		return w < 0 || (size_t)w >= cap ? -1 : 0;
	}
	/* installed: PREFIX/bin/smile-gateway beside PREFIX/share/smile/web */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			w = snprintf(out, cap, "%s/../share/smile/web", exe);
			if (w > 0 && (size_t)w < cap && is_dir(out))
				return 0;
		}
	}
	w = snprintf(out, cap, "%s", SMILE_WEB_SRC_DIR);
	return w < 0 || (size_t)w >= cap ? -1 : 0;
}

/* ------------------------------------------------------------ the console */

void static_security_headers(struct MHD_Response *resp)
{
	MHD_add_response_header(resp, "Content-Security-Policy", STATIC_CSP);
	for (size_t i = 0; i < static_n_page_headers; i++)
		MHD_add_response_header(resp, static_page_headers[i].name,
					static_page_headers[i].value);
}

int static_console_dir(const struct gateway *g, char *out, size_t n)
{
	char root[PATH_MAX];
	int w;

	if (g->cfg.console_dir[0] == '/')
		w = snprintf(out, n, "%s", g->cfg.console_dir);
	else if (g->cfg.console_dir[0])
		w = snprintf(out, n, "%s/%s", g->dir, g->cfg.console_dir);
	else if (static_root(g->cfg.web_root, g->dir, root, sizeof(root)) != 0)
		return 0;
	else
		w = snprintf(out, n, "%s/console", root);
	return w > 0 && (size_t)w < n;
}

void api_console_static(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	static const struct static_header csp[] = {{"Content-Security-Policy", STATIC_CSP}};
	char dir[PATH_MAX], rel[PATH_MAX];
	size_t used = 0;

	/* "/console": relative links in the page need the slash */
	if (r->nseg == 1 && !r->trailing_slash) {
		http_resp_header(o, MHD_HTTP_HEADER_LOCATION, "/console/");
		http_resp_bytes(o, 301, "text/plain; charset=utf-8", "/console/\n", 10);
		return;
	}
	if (!static_console_dir(g, dir, sizeof(dir))) {
		smile_log0(SMILE_LOG_WARN, "console.no_directory");
		not_found(o);
		return;
	}
	/* a directory is no file: only "/console/" itself means its index */
	if (r->trailing_slash != (r->nseg == 1)) {
		not_found(o);
		return;
	}
	if (r->nseg == 1)
		used = (size_t)snprintf(rel, sizeof(rel), "index.html");
	for (int i = 1; i < r->nseg && used < sizeof(rel); i++)
		used += (size_t)snprintf(rel + used, sizeof(rel) - used, "%s%s", i > 1 ? "/" : "",
					 r->seg[i]);
	if (used >= sizeof(rel)) {
		not_found(o);
		return;
	}
	if (static_serve(o, dir, rel, csp, 1) == 200) {
		o->cache_control = "no-cache";
		r->console = 0; /* the file carries the console's headers already */
	}
}
