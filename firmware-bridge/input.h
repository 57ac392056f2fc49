/* SPDX-License-Identifier: Apache-2.0 */
/*
 * input.h - where scanned codes come from: standard input, a serial scanner,
 * or a keyboard-wedge scanner on Linux evdev.
 *
 *   stdin                    one code per line (CR, LF or CR LF)
 *   serial:/dev/ttyUSB0      termios raw, 9600 8N1, no flow control
 *   serial:/dev/ttyS1@115200 another speed (1200 .. 921600)
 *   evdev:/dev/input/event3  exclusive grab (EVIOCGRAB), US keymap, Enter ends
 *
 * An input is a file descriptor the daemon polls; bridge_input_read() turns
 * whatever is ready into codes through a bridge_code_fn (lines.h).
 */
#ifndef BRIDGE_INPUT_H
#define BRIDGE_INPUT_H

#include <stddef.h>

#include "conf.h"
#include "lines.h"
#include "smile/error.h"

enum bridge_input_kind {
	BRIDGE_INPUT_STDIN = 1,
	BRIDGE_INPUT_SERIAL = 2,
	BRIDGE_INPUT_EVDEV = 3
};

#define BRIDGE_SERIAL_BAUD_DEFAULT 9600

struct bridge_input_spec {
	enum bridge_input_kind kind;
	char path[BRIDGE_PATH_MAX]; /* device path; "" for stdin */
	long baud;                  /* serial only */
};

/* Parse an input spec (above). Returns SMILE_OK or SMILE_ERR_INVALID (e says
 * what is wrong: unknown kind, missing or relative path, unsupported speed). */
enum smile_err bridge_input_parse(const char *spec, struct bridge_input_spec *out,
				  struct smile_error *e) SMILE_MUST_CHECK;

struct bridge_input;

/*
 * Open an input. stdin uses fd 0 as it is; serial opens the device
 * (O_NOCTTY, non-blocking) and sets raw 8N1 at the speed, no flow control;
 * evdev opens the device and grabs it so its keys reach nobody else.
 * *out is freed with bridge_input_free(). Returns SMILE_OK; SMILE_ERR_NOT_FOUND
 * (no such device); SMILE_ERR_PERMISSION; SMILE_ERR_INVALID (serial: not a
 * terminal; evdev: not an input device); SMILE_ERR_BUSY (evdev: another
 * program holds the grab); SMILE_ERR_IO; SMILE_ERR_NOMEM.
 */
enum smile_err bridge_input_open(const struct bridge_input_spec *spec, struct bridge_input **out,
				 struct smile_error *e) SMILE_MUST_CHECK;

/* The descriptor to poll for POLLIN. */
int bridge_input_fd(const struct bridge_input *in);

/*
 * Read what is ready (at most one read(2), so it never blocks after a poll)
 * and call fn for each code it completes. Returns SMILE_OK; SMILE_ERR_NOT_FOUND
 * at end of input (stdin closed; a pending unterminated code is reported
 * first); SMILE_ERR_IO when the device failed or went away (serial/evdev:
 * free it and open it again later).
 */
enum smile_err bridge_input_read(struct bridge_input *in, bridge_code_fn fn, void *ctx,
				 struct smile_error *e) SMILE_MUST_CHECK;

/* Release the grab, close the device (never fd 0), wipe buffers, free.
 * NULL is a no-op. */
void bridge_input_free(struct bridge_input *in);

#endif
