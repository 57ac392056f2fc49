/* SPDX-License-Identifier: Apache-2.0 */
/*
 * printer.h - send rendered labels to a printer and follow them until they
 * printed, or say why not.
 *
 * Two back ends behind one handle, chosen by the URI:
 *
 *   socket://HOST[:PORT]            raw TCP (AppSocket/JetDirect, port 9100),
 *                                   what Zebra and most thermal printers
 *                                   speak: ZPL in, Zebra host status (~HS)
 *                                   out
 *   cups:NAME                       a queue of the CUPS server libcups uses
 *                                   (CUPS_SERVER, ~/.cups/client.conf, the
 *                                   local socket)
 *   ipp://HOST[:PORT]/printers/NAME a queue of the CUPS server at HOST
 *                                   (port 631 by default)
 *
 * The shape of a job is the same for both: check the printer's status
 * (smile_printer_status), send one document (smile_printer_send, which
 * checks the status first and refuses with SMILE_ERR_PRINTER_NOT_READY
 * before sending a byte), then follow it (smile_printer_job_wait) until it
 * printed or stopped. A print-station agent holding its own queue of jobs
 * uses exactly these three calls, one document at a time.
 *
 * Never twice: a back end retries (reconnects) only while no byte of the
 * document has left this process. Once the document's first byte is
 * written, any failure is returned to the caller as
 * SMILE_ERR_PRINTER_UNCERTAIN (it may have printed) and is never retried
 * here; deciding to print it again is the caller's, explicitly.
 *
 * A handle is not thread-safe: one thread at a time. Messages in errors name
 * the printer's state, never the document's contents.
 */
#ifndef SMILE_PRINTER_H
#define SMILE_PRINTER_H

#include <stddef.h>

#include "smile/error.h"
#include "smile/label.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Status flags: any flag set means "do not send now". */
#define SMILE_PRINTER_PAPER_OUT 0x001u   /* media out (Zebra b; CUPS media-empty) */
#define SMILE_PRINTER_PAUSED 0x002u      /* paused at the printer (Zebra c) */
#define SMILE_PRINTER_HEAD_OPEN 0x004u   /* print head up / cover open (Zebra o) */
#define SMILE_PRINTER_BUFFER_FULL 0x008u /* receive buffer full (Zebra f) */
#define SMILE_PRINTER_RIBBON_OUT 0x010u  /* ribbon out (Zebra p; thermal transfer) */
#define SMILE_PRINTER_HEAD_TEMP 0x020u   /* head under or over temperature */
#define SMILE_PRINTER_RAM_CORRUPT 0x040u /* printer memory corrupt (Zebra j) */
#define SMILE_PRINTER_STOPPED 0x080u     /* CUPS: the queue is stopped (disabled) */
#define SMILE_PRINTER_REJECTING 0x100u   /* CUPS: the queue rejects jobs */
#define SMILE_PRINTER_ERROR 0x200u       /* CUPS: another "-error" state reason */

#define SMILE_PRINTER_REASONS_MAX 256

struct smile_printer_status {
	unsigned flags;          /* SMILE_PRINTER_* above; 0 = ready */
	unsigned formats_queued; /* socket: formats in the receive buffer plus
				  * labels left in the current batch (not yet
				  * printed); CUPS: jobs waiting on the queue */
	/* Why, in words: "paper out, head open"; for CUPS the printer's
	 * printer-state-reasons ("media-empty-error,paused") and its state
	 * message. "ready" when flags is 0. NUL-terminated. */
	char reasons[SMILE_PRINTER_REASONS_MAX];
};

/* Time-outs, in milliseconds, and the retry policy. */
struct smile_printer_opts {
	int connect_ms; /* one connection attempt (default 5000) */
	int io_ms;      /* one write or one status answer (default 10000) */
	int job_ms;     /* following one job until it printed (default 120000) */
	int retries;    /* more connection attempts after the first fails,
			 * 0.25 s, 0.5 s, 1 s... apart (default 2); only before
			 * a document's first byte is sent */
};

/* Fill o with the defaults above. */
void smile_printer_opts_default(struct smile_printer_opts *o);

enum smile_printer_kind { SMILE_PRINTER_SOCKET = 0, SMILE_PRINTER_CUPS = 1 };

struct smile_printer;

/*
 * Open a handle for `uri` (forms above). No connection is made yet: the
 * first status or send connects. `o` may be NULL (defaults).
 * Returns SMILE_OK (*out set; free with smile_printer_free),
 * SMILE_ERR_FIELD_VALUE (field "printer": a URI this does not understand,
 * the message says which part), SMILE_ERR_NOMEM, SMILE_ERR_INVALID (NULL).
 */
enum smile_err smile_printer_open(const char *uri, const struct smile_printer_opts *o,
				  struct smile_printer **out, struct smile_error *e)
	SMILE_MUST_CHECK;

/* Close connections and free. NULL is a no-op. */
void smile_printer_free(struct smile_printer *p);

enum smile_printer_kind smile_printer_kind(const struct smile_printer *p);

/* Whether the back end takes documents of format f: socket takes ZPL only;
 * CUPS takes PDF, PNG and ZPL (ZPL as raw data, for a raw queue in front of
 * a thermal printer). */
int smile_printer_accepts(const struct smile_printer *p, enum smile_label_format f);

/* The format a back end prints best when the caller has no preference:
 * ZPL for socket, PDF for CUPS. */
enum smile_label_format smile_printer_default_format(const struct smile_printer *p);

/*
 * Ask the printer for its status (socket: ~HS on the connection, opening
 * it if needed; CUPS: Get-Printer-Attributes).
 * Returns SMILE_OK (*st filled, whatever the flags say),
 * SMILE_ERR_PRINTER_UNREACHABLE (connection refused, timed out, name not
 * found, after the retries), SMILE_ERR_TIMEOUT (connected, but no status
 * answer within io_ms), SMILE_ERR_PRINTER_PROTO (an answer that is not a
 * status), SMILE_ERR_NOT_FOUND (CUPS: no such queue).
 */
enum smile_err smile_printer_status(struct smile_printer *p, struct smile_printer_status *st,
				    struct smile_error *e) SMILE_MUST_CHECK;

enum smile_printer_job_state {
	SMILE_PRINTER_JOB_NONE = 0,       /* not sent */
	SMILE_PRINTER_JOB_SENT = 1,       /* handed to the printer or queue */
	SMILE_PRINTER_JOB_PRINTED = 2,    /* the printer reports it printed */
	SMILE_PRINTER_JOB_STOPPED = 3,    /* held by the printer or queue (paper out,
					   * queue stopped): it may still print later */
	SMILE_PRINTER_JOB_CANCELLED = 4,  /* cancelled at the queue: will not print */
	SMILE_PRINTER_JOB_ABORTED = 5,    /* aborted by the system: will not print */
	SMILE_PRINTER_JOB_UNCERTAIN = 6   /* the connection broke while sending:
					   * it may or may not have printed */
};

/* "sent", "printed", ...; static. */
const char *smile_printer_job_state_name(enum smile_printer_job_state s);

struct smile_printer_job {
	int id; /* CUPS job id; socket: 1, 2, ... per handle */
	enum smile_printer_job_state state;
	char reasons[SMILE_PRINTER_REASONS_MAX]; /* why it stopped, as in status */
};

/*
 * Send one document of `len` bytes in `format` as one job titled `title`
 * (ids only: a waybill number, never a name), `copies` times (1-999; ZPL
 * gets ^PQ, CUPS the copies attribute). Checks the status first: if any
 * flag is set, nothing is sent and SMILE_ERR_PRINTER_NOT_READY names the
 * reasons. On SMILE_OK the job is SMILE_PRINTER_JOB_SENT; follow it with
 * smile_printer_job_wait().
 * Returns also: SMILE_ERR_UNSUPPORTED (format not accepted), the errors of
 * smile_printer_status (nothing sent), SMILE_ERR_PRINTER_UNCERTAIN (a write
 * failed or timed out part-way: job->state UNCERTAIN, never retried),
 * SMILE_ERR_PRINTER_JOB (CUPS refused the job; nothing will print),
 * SMILE_ERR_TOO_LARGE (ZPL with copies: over the internal cap).
 */
enum smile_err smile_printer_send(struct smile_printer *p, const char *title,
				  enum smile_label_format format, const unsigned char *data,
				  size_t len, int copies, struct smile_printer_job *job,
				  struct smile_error *e) SMILE_MUST_CHECK;

/*
 * Follow a sent job until it printed (SMILE_OK, state PRINTED) or stopped:
 * SMILE_ERR_PRINTER_JOB with state STOPPED (socket: the printer reports a
 * flag while the label is still in its buffer; CUPS: job stopped, or still
 * pending on a stopped queue), CANCELLED or ABORTED, the reasons in
 * job->reasons and the message; SMILE_ERR_TIMEOUT when job_ms passed (state
 * stays SENT); SMILE_ERR_PRINTER_UNCERTAIN when the printer went away while
 * the job was in it. Socket: "printed" means the printer's receive buffer
 * and batch counter are empty, the best a raw printer tells.
 */
enum smile_err smile_printer_job_wait(struct smile_printer *p, struct smile_printer_job *job,
				      struct smile_error *e) SMILE_MUST_CHECK;

/* One CUPS queue, for smile_printer_list. Strings valid during the call. */
struct smile_printer_queue {
	const char *name;
	const char *uri;    /* "cups:NAME" */
	int is_default;
	struct smile_printer_status status;
};
typedef void (*smile_printer_list_fn)(void *arg, const struct smile_printer_queue *q);

/*
 * Call fn for each queue of the CUPS server libcups uses (CUPS_SERVER...),
 * in name order. Returns SMILE_OK (also with no queues),
 * SMILE_ERR_PRINTER_UNREACHABLE (no server).
 */
enum smile_err smile_printer_list(smile_printer_list_fn fn, void *arg, struct smile_error *e)
	SMILE_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
