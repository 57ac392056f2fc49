/* SPDX-License-Identifier: Apache-2.0 */
/*
 * output.h - where reply lines go: standard output, or a UNIX socket the
 * handheld's UI connects to.
 *
 *   stdout            each line written to fd 1 with write(2) (never stdio,
 *                     whose buffers would keep contact details we cannot wipe)
 *   unix:/run/x.sock  the bridge listens (mode 0600, stale socket replaced);
 *                     every connected client gets every line; a client that
 *                     cannot take a whole line at once is disconnected rather
 *                     than stall the bridge (it may see an unterminated last
 *                     line, which it discards, and reconnects).
 *
 * Lines written while no client is connected are not kept anywhere (they may
 * carry contact details): the count of such lines is logged.
 */
#ifndef BRIDGE_OUTPUT_H
#define BRIDGE_OUTPUT_H

#include <stddef.h>

#include "conf.h"
#include "smile/error.h"

enum bridge_output_kind { BRIDGE_OUTPUT_STDOUT = 1, BRIDGE_OUTPUT_UNIX = 2 };

struct bridge_output_spec {
	enum bridge_output_kind kind;
	char path[108]; /* sun_path size */
};

#define BRIDGE_OUTPUT_CLIENTS_MAX 8

/* Parse "stdout" or "unix:PATH". SMILE_OK or SMILE_ERR_INVALID. */
enum smile_err bridge_output_parse(const char *spec, struct bridge_output_spec *out,
				   struct smile_error *e) SMILE_MUST_CHECK;

struct bridge_output;

/* Open an output (unix: bind + listen). *out freed with bridge_output_free().
 * Returns SMILE_OK; SMILE_ERR_INVALID; SMILE_ERR_EXISTS (the path is a file
 * that is not a socket); SMILE_ERR_IO; SMILE_ERR_NOMEM. */
enum smile_err bridge_output_open(const struct bridge_output_spec *spec,
				  struct bridge_output **out, struct smile_error *e)
	SMILE_MUST_CHECK;

/* The listening socket to poll for POLLIN (new clients), or -1 (stdout). */
int bridge_output_listen_fd(const struct bridge_output *o);

/* Accept pending clients (call when the listen fd is readable). Clients over
 * BRIDGE_OUTPUT_CLIENTS_MAX are refused. */
void bridge_output_accept(struct bridge_output *o);

/*
 * Write one complete line (it ends with '\n'). stdout: blocks until written;
 * SMILE_ERR_IO when stdout is gone (EPIPE). unix: never blocks; returns
 * SMILE_OK even with no client (the line is dropped, and counted).
 * The caller wipes `line` afterwards when it holds contact details.
 */
enum smile_err bridge_output_write(struct bridge_output *o, const char *line, size_t len)
	SMILE_MUST_CHECK;

/* Number of connected UI clients (unix) or 1 (stdout). */
int bridge_output_clients(const struct bridge_output *o);

/* Close everything; unlink the socket. NULL is a no-op. */
void bridge_output_free(struct bridge_output *o);

#endif
