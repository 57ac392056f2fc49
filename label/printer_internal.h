/* SPDX-License-Identifier: Apache-2.0 */
/*
 * printer_internal.h - what label/printer*.c share: the handle and the ops
 * table of a printer back end (the neutral printer.c owns the rules: status
 * before send, never a retry after the first byte; a back end maps calls to
 * one transport). Nothing here is public API.
 */
#ifndef SMILE_PRINTER_INTERNAL_H
#define SMILE_PRINTER_INTERNAL_H

#include "smile/printer.h"

struct printer_ops {
	const char *scheme;
	enum smile_printer_kind kind;
	int (*accepts)(enum smile_label_format f);
	enum smile_err (*status)(struct smile_printer *p, struct smile_printer_status *st,
				 struct smile_error *e);
	/* Send the whole document; called only after status said ready. */
	enum smile_err (*send)(struct smile_printer *p, const char *title,
			       enum smile_label_format f, const unsigned char *data, size_t len,
			       int copies, struct smile_printer_job *job, struct smile_error *e);
	enum smile_err (*wait)(struct smile_printer *p, struct smile_printer_job *job,
			       struct smile_error *e);
	void (*close)(struct smile_printer *p);
};

#define PRINTER_HOST_MAX 256
#define PRINTER_QUEUE_MAX 128

struct smile_printer {
	const struct printer_ops *ops;
	struct smile_printer_opts o;
	char host[PRINTER_HOST_MAX]; /* socket, ipp: the host; cups: "" (libcups's server) */
	int port;                    /* 0: the back end's default */
	char queue[PRINTER_QUEUE_MAX]; /* CUPS queue name */
	char uri[PRINTER_HOST_MAX + PRINTER_QUEUE_MAX + 32]; /* as given, for messages */
	/* socket */
	int fd;
	int next_id;
	/* CUPS: an http_t *, kept opaque here so that only printer_cups.c
	 * includes libcups */
	void *http;
	char printer_uri[PRINTER_HOST_MAX + PRINTER_QUEUE_MAX + 64];
	char resource[PRINTER_QUEUE_MAX + 16]; /* "/printers/NAME" */
};

extern const struct printer_ops printer_socket_ops;
extern const struct printer_ops printer_cups_ops;

/* Parse one Zebra ~HS answer (three STX...ETX frames; bytes outside frames
 * are ignored) into st. SMILE_OK, or SMILE_ERR_PRINTER_PROTO (field
 * "status") when the frames or their fields are not what ~HS sends. */
enum smile_err printer_zebra_hs_parse(const char *buf, size_t len,
				      struct smile_printer_status *st, struct smile_error *e);

/* Write the words for flags into buf ("paper out, head open"; "ready"). */
void printer_flags_text(unsigned flags, char *buf, size_t n);

/* ZPL with ^PQ<copies> in its last format: into *out (malloc'd, caller
 * frees). SMILE_ERR_NOMEM, SMILE_ERR_FIELD_VALUE (no ^XZ). */
enum smile_err printer_zpl_copies(const unsigned char *data, size_t len, int copies,
				  unsigned char **out, size_t *out_len, struct smile_error *e);

/* Sleep ms milliseconds (retries, polling). */
void printer_sleep_ms(int ms);

#endif
