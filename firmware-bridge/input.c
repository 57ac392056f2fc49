/* SPDX-License-Identifier: Apache-2.0 */
/*
 * input.c - scanner inputs: standard input, serial (termios), evdev.
 *
 * Every kind reduces to "a descriptor that becomes readable, and a byte
 * stream of codes": serial and stdin bytes go straight to the line assembler;
 * evdev key events go through the keymap first and Enter becomes '\n'. So
 * one assembler decides what a code is for all three.
 */
#include "input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "keymap.h"

struct bridge_input {
	struct bridge_input_spec spec;
	int fd;
	struct bridge_lines lines;
	struct bridge_keymap keys;
	int grabbed;
};

static const struct {
	long baud;
	speed_t speed;
} speeds[] = {
	{1200, B1200},     {2400, B2400},     {4800, B4800},     {9600, B9600},
	{19200, B19200},   {38400, B38400},   {57600, B57600},   {115200, B115200},
	{230400, B230400}, {460800, B460800}, {921600, B921600},
};

static int speed_of(long baud, speed_t *out)
{
	for (size_t i = 0; i < sizeof(speeds) / sizeof(speeds[0]); i++)
		if (speeds[i].baud == baud) {
			*out = speeds[i].speed;
			return 1;
		}
	return 0;
}

static enum smile_err set_path(struct bridge_input_spec *out, const char *p, size_t n,
			       struct smile_error *e)
{
	if (n == 0)
		return smile_error_set(e, SMILE_ERR_INVALID, "input", "device path missing");
	if (p[0] != '/')
		return smile_error_set(e, SMILE_ERR_INVALID, "input", "device path must be absolute");
	if (n >= sizeof(out->path))
		return smile_error_set(e, SMILE_ERR_INVALID, "input", "device path too long");
	memcpy(out->path, p, n);
	out->path[n] = '\0';
	return SMILE_OK;
}

enum smile_err bridge_input_parse(const char *spec, struct bridge_input_spec *out,
				  struct smile_error *e)
{
	memset(out, 0, sizeof(*out));
	if (spec == NULL || strcmp(spec, "stdin") == 0 || strcmp(spec, "-") == 0) {
		out->kind = BRIDGE_INPUT_STDIN;
		return SMILE_OK;
	}
	if (strncmp(spec, "serial:", 7) == 0) {
		const char *p = spec + 7, *at = strrchr(p, '@');
		speed_t sp;
		out->kind = BRIDGE_INPUT_SERIAL;
		out->baud = BRIDGE_SERIAL_BAUD_DEFAULT;
		if (at != NULL) {
			char *end;
			errno = 0;
			long b = strtol(at + 1, &end, 10);
			if (errno || end == at + 1 || *end != '\0' || !speed_of(b, &sp))
				return smile_error_set(e, SMILE_ERR_INVALID, "input",
						       "serial speed must be one of 1200, 2400, 4800, "
						       "9600, 19200, 38400, 57600, 115200, 230400, "
						       "460800, 921600");
			out->baud = b;
		}
		return set_path(out, p, at ? (size_t)(at - p) : strlen(p), e);
	}
	if (strncmp(spec, "evdev:", 6) == 0) {
		out->kind = BRIDGE_INPUT_EVDEV;
		return set_path(out, spec + 6, strlen(spec + 6), e);
	}
	return smile_error_set(e, SMILE_ERR_INVALID, "input",
			       "expected stdin, serial:/dev/X[@baud] or evdev:/dev/input/eventN");
}

static enum smile_err open_err(struct smile_error *e, const char *what)
{
	int err = errno;
	enum smile_err code = err == ENOENT || err == ENODEV || err == ENXIO ? SMILE_ERR_NOT_FOUND
			      : err == EACCES || err == EPERM		  ? SMILE_ERR_PERMISSION
									  : SMILE_ERR_IO;
	return smile_error_set(e, code, "input", "%s: %s", what, strerror(err));
}

static enum smile_err open_serial(struct bridge_input *in, struct smile_error *e)
{
	struct termios t;
	speed_t sp;

	if (!speed_of(in->spec.baud, &sp))
		return smile_error_set(e, SMILE_ERR_INVALID, "input", "unsupported serial speed");
	in->fd = open(in->spec.path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (in->fd < 0)
		return open_err(e, "cannot open the serial device");
	if (!isatty(in->fd) || tcgetattr(in->fd, &t) != 0)
		return smile_error_set(e, SMILE_ERR_INVALID, "input", "not a serial terminal");
	/* Raw bytes, 8 data bits, no parity, 1 stop bit, no flow control,
	 * ignore modem lines: what scanners in RS-232 mode expect. */
	cfmakeraw(&t);
	t.c_cflag &= ~(tcflag_t)(PARENB | CSTOPB | CSIZE | CRTSCTS);
	t.c_cflag |= CS8 | CLOCAL | CREAD;
	t.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (cfsetispeed(&t, sp) != 0 || cfsetospeed(&t, sp) != 0 ||
	    tcsetattr(in->fd, TCSANOW, &t) != 0)
		return smile_error_set(e, SMILE_ERR_IO, "input", "cannot configure the serial port: %s",
				       strerror(errno));
	tcflush(in->fd, TCIFLUSH); /* a half code from before we listened */
	return SMILE_OK;
}

static enum smile_err open_evdev(struct bridge_input *in, struct smile_error *e)
{
	int version;

	in->fd = open(in->spec.path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (in->fd < 0)
		return open_err(e, "cannot open the input device");
	if (ioctl(in->fd, EVIOCGVERSION, &version) != 0)
		return smile_error_set(e, SMILE_ERR_INVALID, "input", "not an evdev input device");
	/* Exclusive: the scanner's key presses must not also type into a console. */
	if (ioctl(in->fd, EVIOCGRAB, (void *)1) != 0)
		return smile_error_set(e, errno == EBUSY ? SMILE_ERR_BUSY : SMILE_ERR_IO, "input",
				       "cannot grab the input device: %s", strerror(errno));
	in->grabbed = 1;
	return SMILE_OK;
}

enum smile_err bridge_input_open(const struct bridge_input_spec *spec, struct bridge_input **out,
				 struct smile_error *e)
{
	struct bridge_input *in;
	enum smile_err rc = SMILE_OK;

	*out = NULL;
	in = calloc(1, sizeof(*in));
	if (in == NULL)
		return smile_error_set(e, SMILE_ERR_NOMEM, "input", "out of memory");
	in->spec = *spec;
	in->fd = -1;
	bridge_lines_init(&in->lines);
	bridge_keymap_init(&in->keys);
	switch (spec->kind) {
	case BRIDGE_INPUT_STDIN:
		in->fd = 0;
		break;
	case BRIDGE_INPUT_SERIAL:
		rc = open_serial(in, e);
		break;
	case BRIDGE_INPUT_EVDEV:
		rc = open_evdev(in, e);
		break;
	default:
		rc = smile_error_set(e, SMILE_ERR_INVALID, "input", "unknown input kind");
	}
	if (rc != SMILE_OK) {
		bridge_input_free(in);
		return rc;
	}
	*out = in;
	return SMILE_OK;
}

int bridge_input_fd(const struct bridge_input *in)
{
	return in->fd;
}

static enum smile_err read_evdev(struct bridge_input *in, bridge_code_fn fn, void *ctx,
				 struct smile_error *e)
{
	struct input_event ev[64];
	ssize_t n = read(in->fd, ev, sizeof(ev));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return SMILE_OK;
	if (n <= 0)
		return smile_error_set(e, SMILE_ERR_IO, "input", "input device went away");
	bridge_keymap_decode(&in->keys, &in->lines, ev, (size_t)n / sizeof(ev[0]), fn, ctx);
	sodium_memzero(ev, sizeof(ev));
	return SMILE_OK;
}

enum smile_err bridge_input_read(struct bridge_input *in, bridge_code_fn fn, void *ctx,
				 struct smile_error *e)
{
	char buf[512];
	ssize_t n;

	if (in->spec.kind == BRIDGE_INPUT_EVDEV)
		return read_evdev(in, fn, ctx, e);
	n = read(in->fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return SMILE_OK;
	if (n == 0 && in->spec.kind == BRIDGE_INPUT_STDIN) {
		bridge_lines_flush(&in->lines, fn, ctx);
		return SMILE_ERR_NOT_FOUND;
	}
	if (n <= 0)
		return smile_error_set(e, SMILE_ERR_IO, "input",
				       n == 0 ? "serial device closed" : "serial read failed");
	bridge_lines_feed(&in->lines, buf, (size_t)n, fn, ctx);
	sodium_memzero(buf, sizeof(buf));
	return SMILE_OK;
}

void bridge_input_free(struct bridge_input *in)
{
	if (in == NULL)
		return;
	if (in->grabbed)
		(void)ioctl(in->fd, EVIOCGRAB, (void *)0);
	if (in->fd > 0)
		close(in->fd);
	bridge_lines_reset(&in->lines);
	free(in);
}
