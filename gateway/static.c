/* SPDX-License-Identifier: Apache-2.0 */
/*
 * static.c - the merchant console's files at /console/ (docs/console.md).
 *
 * A file is served only when every path segment is a plain name (letters,
 * digits, '.', '_', '-', never starting with '.'), its extension is one of a
 * short list with a fixed Content-Type, and the real path (symlinks
 * resolved) is still inside the real console directory: "..", absolute
 * paths, hidden files and symlinks pointing out are all 404, like a missing
 * file, so the answer never says which rule refused. Files are small and
 * read whole (capped); every answer under /console/ carries the security
 * headers (static_security_headers, added by http.c).
 */
#include "static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway.h"
#include "smile/log.h"

#ifndef SMILE_CONSOLE_SRC_DIR
#define SMILE_CONSOLE_SRC_DIR "gateway/web/console"
#endif
#ifndef SMILE_CONSOLE_BUILD_BIN
#define SMILE_CONSOLE_BUILD_BIN "build/bin"
#endif
#ifndef SMILE_CONSOLE_INSTALL_DIR
#define SMILE_CONSOLE_INSTALL_DIR "/usr/local/share/smile/console"
#endif

#define STATIC_FILE_MAX (8u << 20)

void static_security_headers(struct MHD_Response *resp)
{
	MHD_add_response_header(resp, "Content-Security-Policy", STATIC_CSP);
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
}

int static_console_dir(const struct gateway *g, char *out, size_t n)
{
	char exe[PATH_MAX];
	ssize_t len;
	int w;

	if (g->cfg.console_dir[0] == '/')
		w = snprintf(out, n, "%s", g->cfg.console_dir);
	else if (g->cfg.console_dir[0])
		w = snprintf(out, n, "%s/%s", g->dir, g->cfg.console_dir);
	else {
		/* run from the build tree: the files beside the sources (both
		 * paths resolved: the tree may sit under a symlink) */
		char bin[PATH_MAX];
		len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		exe[len > 0 ? len : 0] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
		int in_tree = realpath(SMILE_CONSOLE_BUILD_BIN, bin) != NULL && strcmp(exe, bin) == 0;
		w = snprintf(out, n, "%s", in_tree ? SMILE_CONSOLE_SRC_DIR : SMILE_CONSOLE_INSTALL_DIR);
	}
	return w > 0 && (size_t)w < n;
}

static const struct {
	const char *ext, *ctype;
} types[] = {
	{"html", "text/html; charset=utf-8"},
	{"css", "text/css; charset=utf-8"},
	{"js", "text/javascript; charset=utf-8"},
	{"svg", "image/svg+xml"},
	{"png", "image/png"},
	{"ico", "image/x-icon"},
	{"json", "application/json"},
};

static const char *type_of(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (dot == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot + 1, types[i].ext) == 0)
			return types[i].ctype;
	return NULL;
}

static int plain_segment(const char *s)
{
	if (s[0] == '\0' || s[0] == '.')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

static void not_found(struct http_resp *o)
{
	http_resp_error(o, 404, "no_route", NULL, "no such resource");
}

void api_console_static(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	char dir[PATH_MAX], path[PATH_MAX], real_dir[PATH_MAX], real[PATH_MAX];
	const char *name = "index.html", *ctype;
	size_t used;
	struct stat st;
	int fd = -1;

	/* "/console": relative links in the page need the slash */
	if (r->nseg == 1 && !r->trailing_slash) {
		http_resp_header(o, MHD_HTTP_HEADER_LOCATION, "/console/");
		http_resp_bytes(o, 301, "text/plain; charset=utf-8", "/console/\n", 10);
		return;
	}
	if (!static_console_dir(g, dir, sizeof(dir)) || realpath(dir, real_dir) == NULL) {
		smile_log0(SMILE_LOG_WARN, "console.no_directory");
		not_found(o);
		return;
	}
	used = (size_t)snprintf(path, sizeof(path), "%s", real_dir);
	for (int i = 1; i < r->nseg; i++) {
		if (!plain_segment(r->seg[i]) || used >= sizeof(path)) {
			not_found(o);
			return;
		}
		used += (size_t)snprintf(path + used, sizeof(path) - used, "/%s", r->seg[i]);
		name = r->seg[i];
	}
	if (r->nseg == 1)
		used += (size_t)snprintf(path + used, sizeof(path) - used, "/index.html");
	if (used >= sizeof(path) || r->trailing_slash != (r->nseg == 1) ||
	    (ctype = type_of(name)) == NULL) {
		not_found(o);
		return;
	}
	/* a symlink may point anywhere: what counts is where it lands */
	used = strlen(real_dir);
	if (realpath(path, real) == NULL || strncmp(real, real_dir, used) != 0 ||
	    real[used] != '/' || (fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 ||
	    fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > STATIC_FILE_MAX) {
		if (fd >= 0)
			close(fd);
		not_found(o);
		return;
	}
	{
		char *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
		size_t got = 0;
		while (buf && got < (size_t)st.st_size) {
			ssize_t k = read(fd, buf + got, (size_t)st.st_size - got);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				break;
			got += (size_t)k;
		}
		close(fd);
		if (buf == NULL || got != (size_t)st.st_size) {
			free(buf);
			http_resp_error(o, 500, "io", NULL, "could not read the file");
			return;
		}
		http_resp_bytes(o, 200, ctype, buf, got);
		o->cache_control = "no-cache";
		free(buf);
	}
}
