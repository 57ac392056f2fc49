/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for firmware-bridge/input.c: input specs, a serial scanner on a
 * pseudo-terminal (openpty): 9600 8N1 raw by default, another speed on
 * request, CR / LF / CR LF terminators through the real read path; standard
 * input through a pipe; devices that are missing or are not what they claim. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "../../../firmware-bridge/input.h"

struct got {
	char codes[8][BRIDGE_CODE_MAX + 1];
	int n;
};

static void collect(void *ctx, const char *code, size_t len, enum bridge_code_status st)
{
	struct got *g = ctx;
	assert_int_equal(st, BRIDGE_CODE_OK);
	assert_true(g->n < 8);
	memcpy(g->codes[g->n], code, len);
	g->codes[g->n][len] = '\0';
	g->n++;
}

/* Read until `want` codes arrived (or 2 s passed). */
static enum smile_err pump(struct bridge_input *in, struct got *g, int want)
{
	enum smile_err rc = SMILE_OK;
	for (int i = 0; i < 200 && g->n < want && rc == SMILE_OK; i++) {
		struct pollfd p = {.fd = bridge_input_fd(in), .events = POLLIN};
		if (poll(&p, 1, 10) > 0)
			rc = bridge_input_read(in, collect, g, NULL);
	}
	return rc;
}

static void specs(void **state)
{
	struct bridge_input_spec s;
	struct smile_error e = {0};
	(void)state;
	assert_int_equal(bridge_input_parse("stdin", &s, &e), SMILE_OK);
	assert_int_equal(s.kind, BRIDGE_INPUT_STDIN);
	assert_int_equal(bridge_input_parse("serial:/dev/ttyUSB0", &s, &e), SMILE_OK);
	assert_int_equal(s.kind, BRIDGE_INPUT_SERIAL);
	assert_string_equal(s.path, "/dev/ttyUSB0");
	assert_int_equal(s.baud, 9600);
	assert_int_equal(bridge_input_parse("serial:/dev/ttyS1@115200", &s, &e), SMILE_OK);
	assert_string_equal(s.path, "/dev/ttyS1");
	assert_int_equal(s.baud, 115200);
	assert_int_equal(bridge_input_parse("serial:/dev/ttyS1@9601", &s, &e), SMILE_ERR_INVALID);
	assert_int_equal(bridge_input_parse("serial:/dev/ttyS1@", &s, &e), SMILE_ERR_INVALID);
	assert_int_equal(bridge_input_parse("serial:", &s, &e), SMILE_ERR_INVALID);
	assert_int_equal(bridge_input_parse("evdev:/dev/input/event3", &s, &e), SMILE_OK);
	assert_int_equal(s.kind, BRIDGE_INPUT_EVDEV);
	assert_int_equal(bridge_input_parse("evdev:input/event3", &s, &e), SMILE_ERR_INVALID);
	assert_non_null(strstr(e.message, "absolute"));
	assert_int_equal(bridge_input_parse("usb:1", &s, &e), SMILE_ERR_INVALID);
}

static void serial_on_a_pty(void **state)
{
	int master, slave;
	char name[128];
	struct bridge_input_spec s;
	struct bridge_input *in;
	struct termios t;
	struct got g = {0};
	char spec[160];
	(void)state;
	assert_int_equal(openpty(&master, &slave, name, NULL, NULL), 0);
	snprintf(spec, sizeof(spec), "serial:%s", name);
	assert_int_equal(bridge_input_parse(spec, &s, NULL), SMILE_OK);
	assert_int_equal(bridge_input_open(&s, &in, NULL), SMILE_OK);

	/* 9600 8N1, raw, no flow control */
	assert_int_equal(tcgetattr(slave, &t), 0);
	assert_int_equal(cfgetispeed(&t), B9600);
	assert_int_equal(cfgetospeed(&t), B9600);
	assert_int_equal(t.c_cflag & CSIZE, CS8);
	assert_int_equal(t.c_cflag & (PARENB | CSTOPB | CRTSCTS), 0);
	assert_true(t.c_cflag & CLOCAL);
	assert_int_equal(t.c_lflag & (ICANON | ECHO), 0);
	assert_int_equal(t.c_iflag & (ICRNL | IXON), 0); /* CR reaches us as CR */

	/* CR LF, CR, LF, and a CR LF split across two writes */
	assert_int_equal(write(master, "SW1:AAA\r\nSW1:BBB\r", 17), 17);
	assert_int_equal(write(master, "SW1:CCC\nSW1:DDD\r", 16), 16);
	usleep(20000);
	assert_int_equal(write(master, "\nSW1:EEE\n", 9), 9);
	assert_int_equal(pump(in, &g, 5), SMILE_OK);
	assert_int_equal(g.n, 5);
	assert_string_equal(g.codes[0], "SW1:AAA");
	assert_string_equal(g.codes[1], "SW1:BBB");
	assert_string_equal(g.codes[2], "SW1:CCC");
	assert_string_equal(g.codes[3], "SW1:DDD");
	assert_string_equal(g.codes[4], "SW1:EEE");
	bridge_input_free(in);

	/* another speed */
	snprintf(spec, sizeof(spec), "serial:%s@115200", name);
	assert_int_equal(bridge_input_parse(spec, &s, NULL), SMILE_OK);
	assert_int_equal(bridge_input_open(&s, &in, NULL), SMILE_OK);
	assert_int_equal(tcgetattr(slave, &t), 0);
	assert_int_equal(cfgetispeed(&t), B115200);

	/* the scanner goes away: the next read reports it */
	close(master);
	memset(&g, 0, sizeof(g));
	assert_int_equal(pump(in, &g, 1), SMILE_ERR_IO);
	bridge_input_free(in);
	close(slave);
}

static void stdin_lines_and_end(void **state)
{
	int fds[2], saved = dup(0);
	struct bridge_input_spec s;
	struct bridge_input *in;
	struct got g = {0};
	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(dup2(fds[0], 0), 0);
	close(fds[0]);
	assert_int_equal(bridge_input_parse("stdin", &s, NULL), SMILE_OK);
	assert_int_equal(bridge_input_open(&s, &in, NULL), SMILE_OK);
	assert_int_equal(bridge_input_fd(in), 0);
	assert_int_equal(write(fds[1], "ONE\r\nTWO\nTHREE", 14), 14);
	close(fds[1]);
	assert_int_equal(pump(in, &g, 2), SMILE_OK);
	assert_int_equal(g.n, 2);
	/* end of input flushes the unterminated last code */
	assert_int_equal(pump(in, &g, 3), SMILE_ERR_NOT_FOUND);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.codes[2], "THREE");
	bridge_input_free(in);
	assert_int_equal(fcntl(0, F_GETFD), 0); /* stdin is never closed */
	dup2(saved, 0);
	close(saved);
}

static void missing_or_wrong_devices(void **state)
{
	struct bridge_input_spec s;
	struct bridge_input *in = (struct bridge_input *)1;
	struct smile_error e = {0};
	(void)state;
	assert_int_equal(bridge_input_parse("serial:/dev/nonexistent-tty", &s, NULL), SMILE_OK);
	assert_int_equal(bridge_input_open(&s, &in, &e), SMILE_ERR_NOT_FOUND);
	assert_null(in);
	assert_int_equal(bridge_input_parse("serial:/dev/null", &s, NULL), SMILE_OK);
	assert_int_equal(bridge_input_open(&s, &in, &e), SMILE_ERR_INVALID);
	assert_non_null(strstr(e.message, "not a serial terminal"));
	assert_int_equal(bridge_input_parse("evdev:/dev/null", &s, NULL), SMILE_OK);
	assert_int_equal(bridge_input_open(&s, &in, &e), SMILE_ERR_INVALID);
	assert_non_null(strstr(e.message, "evdev"));
	assert_int_equal(bridge_input_parse("evdev:/dev/input/nonexistent", &s, NULL), SMILE_OK);
	assert_int_equal(bridge_input_open(&s, &in, &e), SMILE_ERR_NOT_FOUND);
	bridge_input_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(specs),
		cmocka_unit_test(serial_on_a_pty),
		cmocka_unit_test(stdin_lines_and_end),
		cmocka_unit_test(missing_or_wrong_devices),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
