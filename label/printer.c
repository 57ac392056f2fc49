/* SPDX-License-Identifier: Apache-2.0 */
/*
 * printer.c - the neutral part of the printer back ends: URIs, the rules
 * every job follows, and the words for a printer's state.
 *
 * The one rule that matters is here, not in the back ends: a document is
 * sent only after a fresh status says the printer is ready, and once its
 * first byte has left, nothing retries it. Back ends (printer_socket.c,
 * printer_cups.c) reconnect freely while nothing of the document was sent
 * (a refused or timed-out connection, a status query on a connection the
 * printer had closed), and report any failure after that as
 * SMILE_ERR_PRINTER_UNCERTAIN. So a label is printed twice only when a
 * caller decides, knowing it may have printed, to send it again.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "printer_internal.h"
#include "smile/hostport.h"

void smile_printer_opts_default(struct smile_printer_opts *o)
{
	o->connect_ms = 5000;
	o->io_ms = 10000;
	o->job_ms = 120000;
	o->retries = 2;
}

void printer_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static enum smile_err bad_uri(struct smile_error *e, const char *why)
{
	return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "printer",
			       "%s (socket://HOST[:PORT], ipp://HOST[:PORT]/printers/NAME "
			       "or cups:NAME)",
			       why);
}

/* A CUPS queue name: printable ASCII without space, '/', '#' or '\\'. */
static int queue_name_ok(const char *s)
{
	if (*s == '\0' || strlen(s) >= PRINTER_QUEUE_MAX)
		return 0;
	for (; *s; s++)
		if (*s <= ' ' || *s > '~' || *s == '/' || *s == '#' || *s == '\\' || *s == '?')
			return 0;
	return 1;
}

/* "HOST[:PORT]" (IPv6 in brackets) from s up to the first '/' or the end. */
static enum smile_err parse_authority(const char *s, size_t n, struct smile_printer *p,
				      struct smile_error *e)
{
	char tmp[PRINTER_HOST_MAX + 8];
	uint16_t port = 0;
	const char *close, *colon;

	if (n == 0)
		return bad_uri(e, "no host");
	if (n >= sizeof(tmp))
		return bad_uri(e, "host too long");
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	close = strrchr(tmp, ']');
	colon = strrchr(tmp, ':');
	if (colon && (!close || colon > close)) {
		if (smile_hostport_parse(tmp, 0, "printer", p->host, sizeof(p->host), &port, e))
			return bad_uri(e, "bad port");
		p->port = port;
		return SMILE_OK;
	}
	if (tmp[0] == '[') {
		if (!close || close[1] != '\0')
			return bad_uri(e, "unbalanced brackets");
		snprintf(p->host, sizeof(p->host), "%.*s", (int)(close - tmp - 1), tmp + 1);
	} else {
		if (n >= sizeof(p->host))
			return bad_uri(e, "host too long");
		memcpy(p->host, tmp, n + 1);
	}
	return SMILE_OK;
}

static enum smile_err parse_uri(const char *uri, struct smile_printer *p, struct smile_error *e)
{
	const char *rest, *slash;

	if (strncmp(uri, "socket://", 9) == 0) {
		rest = uri + 9;
		slash = strchr(rest, '/');
		if (slash && slash[1] != '\0')
			return bad_uri(e, "a socket URI has no path");
		p->ops = &printer_socket_ops;
		p->port = 9100;
		return parse_authority(rest, slash ? (size_t)(slash - rest) : strlen(rest), p, e);
	}
	if (strncmp(uri, "cups:", 5) == 0) {
		rest = uri + 5;
		if (!queue_name_ok(rest))
			return bad_uri(e, "bad queue name");
		p->ops = &printer_cups_ops;
		snprintf(p->queue, sizeof(p->queue), "%s", rest);
		return SMILE_OK;
	}
	if (strncmp(uri, "ipp://", 6) == 0) {
		enum smile_err err;
		rest = uri + 6;
		slash = strchr(rest, '/');
		if (!slash || strncmp(slash, "/printers/", 10) != 0)
			return bad_uri(e, "an ipp URI needs the path /printers/NAME");
		p->ops = &printer_cups_ops;
		p->port = 631;
		err = parse_authority(rest, (size_t)(slash - rest), p, e);
		if (err)
			return err;
		if (!queue_name_ok(slash + 10))
			return bad_uri(e, "bad queue name");
		snprintf(p->queue, sizeof(p->queue), "%s", slash + 10);
		return SMILE_OK;
	}
	return bad_uri(e, "unknown scheme");
}

enum smile_err smile_printer_open(const char *uri, const struct smile_printer_opts *o,
				  struct smile_printer **out, struct smile_error *e)
{
	struct smile_printer *p;
	enum smile_err err;

	if (out)
		*out = NULL;
	if (uri == NULL || out == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "uri or out is NULL");
	if (strlen(uri) >= sizeof(p->uri))
		return bad_uri(e, "too long");
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, "out of memory");
	p->fd = -1;
	if (o)
		p->o = *o;
	else
		smile_printer_opts_default(&p->o);
	snprintf(p->uri, sizeof(p->uri), "%s", uri);
	err = parse_uri(uri, p, e);
	if (err) {
		free(p);
		return err;
	}
	*out = p;
	return SMILE_OK;
}

void smile_printer_free(struct smile_printer *p)
{
	if (p == NULL)
		return;
	p->ops->close(p);
	free(p);
}

enum smile_printer_kind smile_printer_kind(const struct smile_printer *p)
{
	return p->ops->kind;
}

int smile_printer_accepts(const struct smile_printer *p, enum smile_label_format f)
{
	return p->ops->accepts(f);
}

enum smile_label_format smile_printer_default_format(const struct smile_printer *p)
{
	return p->ops->kind == SMILE_PRINTER_SOCKET ? SMILE_LABEL_ZPL : SMILE_LABEL_PDF;
}

enum smile_err smile_printer_status(struct smile_printer *p, struct smile_printer_status *st,
				    struct smile_error *e)
{
	if (p == NULL || st == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "printer or status is NULL");
	memset(st, 0, sizeof(*st));
	return p->ops->status(p, st, e);
}

enum smile_err smile_printer_send(struct smile_printer *p, const char *title,
				  enum smile_label_format format, const unsigned char *data,
				  size_t len, int copies, struct smile_printer_job *job,
				  struct smile_error *e)
{
	struct smile_printer_status st;
	enum smile_err err;

	if (p == NULL || job == NULL || (data == NULL && len > 0) || title == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "an argument is NULL");
	memset(job, 0, sizeof(*job));
	if (copies < 1 || copies > 999)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "copies", "%d, need 1-999",
				       copies);
	if (!p->ops->accepts(format))
		return smile_error_set(e, SMILE_ERR_UNSUPPORTED, "format",
				       "a %s printer does not take %s", p->ops->scheme,
				       smile_label_format_name(format));
	/* the rule: a fresh status, and nothing sent unless it is ready */
	err = smile_printer_status(p, &st, e);
	if (err)
		return err;
	if (st.flags) {
		snprintf(job->reasons, sizeof(job->reasons), "%s", st.reasons);
		return smile_error_set(e, SMILE_ERR_PRINTER_NOT_READY, "printer",
				       "not ready: %s; nothing sent", st.reasons);
	}
	return p->ops->send(p, title, format, data, len, copies, job, e);
}

enum smile_err smile_printer_job_wait(struct smile_printer *p, struct smile_printer_job *job,
				      struct smile_error *e)
{
	if (p == NULL || job == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "printer or job is NULL");
	if (job->state != SMILE_PRINTER_JOB_SENT)
		return smile_error_set(e, SMILE_ERR_INVALID, "job", "job is %s, not sent",
				       smile_printer_job_state_name(job->state));
	return p->ops->wait(p, job, e);
}

const char *smile_printer_job_state_name(enum smile_printer_job_state s)
{
	switch (s) {
	case SMILE_PRINTER_JOB_NONE:
		return "none";
	case SMILE_PRINTER_JOB_SENT:
		return "sent";
	case SMILE_PRINTER_JOB_PRINTED:
		return "printed";
	case SMILE_PRINTER_JOB_STOPPED:
		return "stopped";
	case SMILE_PRINTER_JOB_CANCELLED:
		return "cancelled";
	case SMILE_PRINTER_JOB_ABORTED:
		return "aborted";
	case SMILE_PRINTER_JOB_UNCERTAIN:
		return "uncertain";
	}
	return "unknown";
}

void printer_flags_text(unsigned flags, char *buf, size_t n)
{
	static const struct {
		unsigned flag;
		const char *word;
	} words[] = {
		{SMILE_PRINTER_PAPER_OUT, "paper out"},
		{SMILE_PRINTER_HEAD_OPEN, "head open"},
		{SMILE_PRINTER_PAUSED, "paused"},
		{SMILE_PRINTER_BUFFER_FULL, "buffer full"},
		{SMILE_PRINTER_RIBBON_OUT, "ribbon out"},
		{SMILE_PRINTER_HEAD_TEMP, "head temperature out of range"},
		{SMILE_PRINTER_RAM_CORRUPT, "printer memory corrupt"},
		{SMILE_PRINTER_STOPPED, "queue stopped"},
		{SMILE_PRINTER_REJECTING, "queue rejecting jobs"},
		{SMILE_PRINTER_ERROR, "printer error"},
	};
	size_t used = 0;

	if (n == 0)
		return;
	buf[0] = '\0';
	if (flags == 0) {
		snprintf(buf, n, "ready");
		return;
	}
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		int w;
		if (!(flags & words[i].flag))
			continue;
		w = snprintf(buf + used, n - used, "%s%s", used ? ", " : "", words[i].word);
		if (w < 0 || (size_t)w >= n - used)
			return;
		used += (size_t)w;
	}
}

enum smile_err printer_zpl_copies(const unsigned char *data, size_t len, int copies,
				  unsigned char **out, size_t *out_len, struct smile_error *e)
{
	/* the last "^XZ", and a "^PQ..." right before it (the renderer writes
	 * "^PQ1\n^XZ\n") which the new ^PQ replaces */
	size_t xz = len, pq, tail_len;
	unsigned char *b;
	char q[16];
	int qn;

	*out = NULL;
	*out_len = 0;
	for (size_t i = len >= 3 ? len - 3 + 1 : 0; i-- > 0;)
		if (memcmp(data + i, "^XZ", 3) == 0) {
			xz = i;
			break;
		}
	if (xz == len)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "document", "ZPL without ^XZ");
	pq = xz;
	for (size_t i = xz; i >= 3 && i + 8 > xz; i--) /* "^PQ1\n" just before */
		if (memcmp(data + i - 3, "^PQ", 3) == 0) {
			pq = i - 3;
			break;
		}
	qn = snprintf(q, sizeof(q), "^PQ%d\n", copies);
	tail_len = len - xz;
	b = malloc(pq + (size_t)qn + tail_len);
	if (b == NULL)
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, "out of memory");
	memcpy(b, data, pq);
	memcpy(b + pq, q, (size_t)qn);
	memcpy(b + pq + (size_t)qn, data + xz, tail_len);
	*out = b;
	*out_len = pq + (size_t)qn + tail_len;
	return SMILE_OK;
}
