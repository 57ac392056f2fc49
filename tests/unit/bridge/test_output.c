/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for firmware-bridge/output.c: reply lines on a UNIX socket for
 * the handheld's UI: 0600 socket, every client gets every line whole, a
 * client that stops reading is dropped instead of stalling the bridge, a
 * stale socket file is replaced, a non-socket path is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../../../firmware-bridge/output.h"

static int connect_to(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static size_t read_some(int fd, char *buf, size_t cap)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;
	if (poll(&p, 1, 1000) <= 0)
		return 0;
	n = read(fd, buf, cap - 1);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

static void specs(void **state)
{
	struct bridge_output_spec s;
	struct smile_error e = {0};
	(void)state;
	assert_int_equal(bridge_output_parse("stdout", &s, &e), SMILE_OK);
	assert_int_equal(s.kind, BRIDGE_OUTPUT_STDOUT);
	assert_int_equal(bridge_output_parse("unix:/run/smile.sock", &s, &e), SMILE_OK);
	assert_int_equal(s.kind, BRIDGE_OUTPUT_UNIX);
	assert_string_equal(s.path, "/run/smile.sock");
	assert_int_equal(bridge_output_parse("unix:", &s, &e), SMILE_ERR_INVALID);
	assert_int_equal(bridge_output_parse("file:/tmp/x", &s, &e), SMILE_ERR_INVALID);
	{
		char longp[200];
		memset(longp, 'a', sizeof(longp));
		memcpy(longp, "unix:/", 6);
		longp[sizeof(longp) - 1] = '\0';
		assert_int_equal(bridge_output_parse(longp, &s, &e), SMILE_ERR_INVALID);
	}
}

static void unix_socket_clients(void **state)
{
	char dir[] = "/tmp/smile-out-XXXXXX", spec[128], buf[4096];
	struct bridge_output_spec s;
	struct bridge_output *o;
	struct stat st;
	int a, b;
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(spec, sizeof(spec), "unix:%s/ui.sock", dir);
	assert_int_equal(bridge_output_parse(spec, &s, NULL), SMILE_OK);
	assert_int_equal(bridge_output_open(&s, &o, NULL), SMILE_OK);
	assert_int_equal(stat(s.path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true(bridge_output_listen_fd(o) >= 0);

	/* no client yet: the line is dropped, the bridge is not stopped */
	assert_int_equal(bridge_output_write(o, "{\"n\":0}\n", 8), SMILE_OK);
	a = connect_to(s.path);
	b = connect_to(s.path);
	bridge_output_accept(o);
	assert_int_equal(bridge_output_clients(o), 2);
	assert_int_equal(bridge_output_write(o, "{\"n\":1}\n", 8), SMILE_OK);
	assert_int_equal(read_some(a, buf, sizeof(buf)), 8);
	assert_string_equal(buf, "{\"n\":1}\n"); /* the earlier line was never kept */
	assert_int_equal(read_some(b, buf, sizeof(buf)), 8);

	/* b stops reading: after its buffer fills it is dropped, a still gets lines */
	{
		char line[1024];
		int rcvbuf = 4096;
		memset(line, 'x', sizeof(line));
		line[sizeof(line) - 1] = '\n';
		setsockopt(b, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
		for (int i = 0; i < 2000 && bridge_output_clients(o) == 2; i++) {
			assert_int_equal(bridge_output_write(o, line, sizeof(line)), SMILE_OK);
			while (read_some(a, buf, sizeof(buf)) == sizeof(buf) - 1)
				;
		}
		assert_int_equal(bridge_output_clients(o), 1);
	}
	close(b);
	close(a);
	assert_int_equal(bridge_output_write(o, "{}\n", 3), SMILE_OK); /* a gone too */
	assert_int_equal(bridge_output_clients(o), 0);
	bridge_output_free(o);
	assert_int_equal(access(s.path, F_OK), -1); /* socket removed */

	/* a stale socket is replaced; a regular file is refused */
	assert_int_equal(bridge_output_open(&s, &o, NULL), SMILE_OK);
	{
		struct bridge_output *o2;
		assert_int_equal(bridge_output_open(&s, &o2, NULL), SMILE_OK); /* replaced */
		bridge_output_free(o2);
	}
	bridge_output_free(o);
	fclose(fopen(s.path, "w"));
	assert_int_equal(bridge_output_open(&s, &o, NULL), SMILE_ERR_EXISTS);
	unlink(s.path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(specs),
		cmocka_unit_test(unix_socket_clients),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
