/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_static.c - libFuzzer target for the gateway's static files
 * (gateway/static.h): the name a request asks for comes straight off the
 * network (the path segment after /t/).
 *
 * Any NUL-terminated name must be answered 200 or 404, and 200 only for a
 * plain name of a file inside the served directory: never through a ".."
 * or hidden segment, never the file a symlink out of the directory names.
 *
 *   make fuzz CC=clang && build/fuzz/fuzz_static -max_total_time=60
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../gateway/static.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], outside[96];

static void cleanup(void)
{
	char p[160];
	const char *names[] = {"index.html", "a.css", "sub/x.js", "out.css", "in.css", "sub", NULL};
	for (int i = 0; names[i]; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		if (unlink(p) != 0)
			rmdir(p);
	}
	rmdir(dir);
	unlink(outside);
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f == NULL)
		abort();
	fputs(text, f);
	fclose(f);
}

static void init(void)
{
	char p[160];
	snprintf(dir, sizeof(dir), "/tmp/smile-fuzz-static-XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(p, sizeof(p), "%s/sub", dir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/index.html", dir);
	put(p, "INSIDE");
	snprintf(p, sizeof(p), "%s/a.css", dir);
	put(p, "INSIDE");
	snprintf(p, sizeof(p), "%s/sub/x.js", dir);
	put(p, "INSIDE");
	snprintf(outside, sizeof(outside), "%s.css", dir);
	put(outside, "OUTSIDE");
	snprintf(p, sizeof(p), "%s/out.css", dir);
	if (symlink(outside, p) != 0)
		abort();
	snprintf(p, sizeof(p), "%s/in.css", dir);
	if (symlink("a.css", p) != 0)
		abort();
	atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct http_resp o;
	char *s;
	int st;

	if (!ready) {
		init();
		ready = 1;
	}
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	memset(&o, 0, sizeof(o));
	smile_buf_init(&o.body, 1u << 16);
	st = static_serve(&o, dir, s, NULL, 0);
	if (st != o.status || (st != 200 && st != 404))
		abort();
	if (st == 200) {
		if (o.body.len != 6 || memcmp(o.body.data, "INSIDE", 6) != 0)
			abort(); /* only files inside, never the one a symlink leads out to */
		if (s[0] == '/' || s[0] == '.' || strstr(s, "/.") || strstr(s, "//"))
			abort(); /* no absolute, hidden or ".." name, no empty segment */
	}
	smile_buf_release(&o.body);
	free(s);
	return 0;
}
