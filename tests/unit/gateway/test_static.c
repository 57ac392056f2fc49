/* SPDX-License-Identifier: Apache-2.0 */
/* static.c: files served by name only, never a path to follow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../../gateway/static.h"

static char dir[64], outside[96];

static void put(const char *rel, const char *text)
{
	char p[256];
	FILE *f;
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	char p[256];
	FILE *f;
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/smile-static-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(p, sizeof(p), "%s/sub", dir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/d.css", dir);
	mkdir(p, 0700);
	put("index.html", "<!doctype html><p>hi</p>");
	put("a.css", "p{}");
	put("sub/x.js", "1;");
	put(".hidden.css", "secret");
	put("tool.exe", "MZ");
	snprintf(outside, sizeof(outside), "%s.outside.css", dir);
	f = fopen(outside, "w");
	if (f == NULL)
		return -1;
	fputs("outside", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/out.css", dir);
	if (symlink(outside, p) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/in.css", dir);
	if (symlink("a.css", p) != 0)
		return -1;
	/* one byte over the cap */
	snprintf(p, sizeof(p), "%s/big.txt", dir);
	f = fopen(p, "w");
	if (f == NULL || ftruncate(fileno(f), STATIC_FILE_MAX + 1) != 0)
		return -1;
	fclose(f);
	return 0;
}

static int teardown(void **state)
{
	char cmd[256];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", dir, outside);
	return system(cmd) == 0 ? 0 : -1;
}

/* The status static_serve answers for `rel`, and the response in *o. */
static int serve(const char *rel, struct http_resp *o)
{
	static const struct static_header h[] = {{"Content-Security-Policy", "default-src 'none'"}};
	memset(o, 0, sizeof(*o));
	smile_buf_init(&o->body, 8u << 20);
	return static_serve(o, dir, rel, h, 1);
}

static const char *header(const struct http_resp *o, const char *name)
{
	for (int i = 0; i < o->n_hdr; i++)
		if (strcmp(o->hdr_name[i], name) == 0)
			return o->hdr_value[i];
	return NULL;
}

static void serves_known_files(void **state)
{
	struct http_resp o;
	(void)state;
	assert_int_equal(serve("index.html", &o), 200);
	assert_int_equal(o.status, 200);
	assert_string_equal(o.content_type, "text/html; charset=utf-8");
	assert_int_equal(o.body.len, strlen("<!doctype html><p>hi</p>"));
	assert_memory_equal(o.body.data, "<!doctype html><p>hi</p>", o.body.len);
	assert_string_equal(header(&o, "X-Frame-Options"), "DENY");
	assert_string_equal(header(&o, "Referrer-Policy"), "no-referrer");
	assert_string_equal(header(&o, "Content-Security-Policy"), "default-src 'none'");
	smile_buf_release(&o.body);
	assert_int_equal(serve("sub/x.js", &o), 200);
	assert_string_equal(o.content_type, "text/javascript; charset=utf-8");
	smile_buf_release(&o.body);
	/* a symlink that stays inside is the file it names */
	assert_int_equal(serve("in.css", &o), 200);
	assert_memory_equal(o.body.data, "p{}", 3);
	smile_buf_release(&o.body);
}

static void refuses_everything_else(void **state)
{
	static const char *const bad[] = {
		"", "/index.html", "../index.html", "sub/../a.css", "./a.css", ".hidden.css",
		"sub//x.js", "sub/", "a.css/", "missing.css", "tool.exe", "index", "out.css",
		"d.css", "big.txt", "a%2ecss", "a.css?x", "a b.css", "é.css", "sub\\x.js", NULL,
	};
	struct http_resp o;
	(void)state;
	for (int i = 0; bad[i]; i++) {
		int st = serve(bad[i], &o);
		if (st != 404)
			fail_msg("\"%s\": %d, want 404", bad[i], st);
		assert_null(header(&o, "Content-Security-Policy"));
		smile_buf_release(&o.body);
	}
	assert_int_equal(serve(NULL, &o), 404);
	smile_buf_release(&o.body);
	memset(&o, 0, sizeof(o));
	smile_buf_init(&o.body, 1024);
	assert_int_equal(static_serve(&o, "/nonexistent-dir", "a.css", NULL, 0), 404);
	smile_buf_release(&o.body);
}

static void root_resolution(void **state)
{
	char out[512];
	(void)state;
	assert_int_equal(static_root("/srv/web", "/data", out, sizeof(out)), 0);
	assert_string_equal(out, "/srv/web");
	assert_int_equal(static_root("web", "/data", out, sizeof(out)), 0);
	assert_string_equal(out, "/data/web");
	/* a test binary is not installed: the source tree */
	assert_int_equal(static_root("", "/data", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "gateway/web"));
	assert_int_equal(static_root("web", "/data", out, 5), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(serves_known_files),
		cmocka_unit_test(refuses_everything_else),
		cmocka_unit_test(root_resolution),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
