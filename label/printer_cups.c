/* SPDX-License-Identifier: Apache-2.0 */
/*
 * printer_cups.c - the CUPS back end: one IPP Print-Job per document to a
 * named queue, followed with Get-Job-Attributes until it completed or
 * stopped, and the queue's printer-state-reasons in every refusal.
 *
 * One http_t per handle, to libcups's server (cups:NAME: CUPS_SERVER,
 * client.conf, the local socket) or to the host of ipp://HOST/printers/NAME.
 * The document goes in one Print-Job request (not Create-Job then
 * Send-Document), so there is no moment at which the queue holds an empty
 * job of ours. Connecting is retried with backoff; a request that fails
 * after the document started to flow is SMILE_ERR_PRINTER_UNCERTAIN (the
 * server may have queued it) and never retried.
 *
 * A queue that is stopped (cupsdisable) still accepts jobs and keeps them
 * until it is restarted; status() reports it as not ready, so nothing is
 * sent to a stopped queue, and wait() reports a job pending on a queue that
 * stopped meanwhile as SMILE_PRINTER_JOB_STOPPED (it prints when the queue
 * is restarted: a caller must not send it again).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cups/cups.h>

#include "printer_internal.h"
#include "smile/clock.h"

#define POLL_MS 100

static http_t *H(struct smile_printer *p)
{
	return (http_t *)p->http;
}

static void cups_close(struct smile_printer *p)
{
	if (p->http)
		httpClose(H(p));
	p->http = NULL;
}

static const char *server_host(const struct smile_printer *p)
{
	return p->host[0] ? p->host : cupsServer();
}

static int server_port(const struct smile_printer *p)
{
	return p->port ? p->port : ippPort();
}

static enum smile_err cups_connect(struct smile_printer *p, struct smile_error *e)
{
	int backoff = 250;
	const char *host = server_host(p);

	if (p->http)
		return SMILE_OK;
	for (int attempt = 0; attempt <= p->o.retries; attempt++) {
		if (attempt > 0) {
			printer_sleep_ms(backoff);
			backoff = backoff < 2000 ? backoff * 2 : 2000;
		}
		p->http = httpConnect2(host, server_port(p), NULL, AF_UNSPEC, cupsEncryption(), 1,
				       p->o.connect_ms, NULL);
		if (p->http)
			break;
	}
	if (p->http == NULL)
		return smile_error_set(e, SMILE_ERR_PRINTER_UNREACHABLE, "printer",
				       "no CUPS server at %s:%d: %s", host, server_port(p),
				       cupsLastErrorString());
	httpSetTimeout(H(p), p->o.io_ms / 1000.0, NULL, NULL);
	httpAssembleURIf(HTTP_URI_CODING_ALL, p->printer_uri, sizeof(p->printer_uri), "ipp",
			 NULL, host[0] == '/' ? "localhost" : host, server_port(p),
			 "/printers/%s", p->queue);
	snprintf(p->resource, sizeof(p->resource), "/printers/%s", p->queue);
	return SMILE_OK;
}

/* Map printer-state, -state-reasons, -is-accepting-jobs and the state
 * message of a printer's attributes into st. */
static void fill_status(ipp_t *resp, struct smile_printer_status *st)
{
	ipp_attribute_t *a;
	char reasons[160] = "";
	size_t used = 0;
	const char *msg = NULL;

	memset(st, 0, sizeof(*st));
	if ((a = ippFindAttribute(resp, "printer-state", IPP_TAG_ENUM)) &&
	    ippGetInteger(a, 0) == IPP_PSTATE_STOPPED)
		st->flags |= SMILE_PRINTER_STOPPED;
	if ((a = ippFindAttribute(resp, "printer-is-accepting-jobs", IPP_TAG_BOOLEAN)) &&
	    !ippGetBoolean(a, 0))
		st->flags |= SMILE_PRINTER_REJECTING;
	if ((a = ippFindAttribute(resp, "queued-job-count", IPP_TAG_INTEGER)))
		st->formats_queued = (unsigned)ippGetInteger(a, 0);
	if ((a = ippFindAttribute(resp, "printer-state-message", IPP_TAG_TEXT)))
		msg = ippGetString(a, 0, NULL);
	if ((a = ippFindAttribute(resp, "printer-state-reasons", IPP_TAG_KEYWORD))) {
		for (int i = 0; i < ippGetCount(a); i++) {
			const char *r = ippGetString(a, i, NULL);
			size_t rl;
			int w;
			if (r == NULL || strcmp(r, "none") == 0)
				continue;
			rl = strlen(r);
			if (strncmp(r, "media-empty", 11) == 0 || strncmp(r, "media-needed", 12) == 0)
				st->flags |= SMILE_PRINTER_PAPER_OUT;
			else if (strncmp(r, "cover-open", 10) == 0 ||
				 strncmp(r, "door-open", 9) == 0)
				st->flags |= SMILE_PRINTER_HEAD_OPEN;
			else if (rl > 6 && strcmp(r + rl - 6, "-error") == 0)
				st->flags |= SMILE_PRINTER_ERROR;
			w = snprintf(reasons + used, sizeof(reasons) - used, "%s%s", used ? "," : "",
				     r);
			if (w > 0 && (size_t)w < sizeof(reasons) - used)
				used += (size_t)w;
		}
	}
	if (st->flags == 0) {
		snprintf(st->reasons, sizeof(st->reasons), "ready");
		return;
	}
	{
		char words[96];
		printer_flags_text(st->flags, words, sizeof(words));
		snprintf(st->reasons, sizeof(st->reasons), "%s (printer-state-reasons=%s%s%s%s)",
			 words, used ? reasons : "none", msg && *msg ? "; message \"" : "",
			 msg && *msg ? msg : "", msg && *msg ? "\"" : "");
	}
}

static const char *const printer_attrs[] = {
	"printer-name", "printer-state", "printer-state-reasons", "printer-state-message",
	"printer-is-accepting-jobs", "queued-job-count",
};

/* cupsDoRequest and its errors. On NULL, the error is in e. */
static ipp_t *do_request(struct smile_printer *p, ipp_t *req, const char *what,
			 struct smile_error *e)
{
	ipp_t *resp = cupsDoRequest(H(p), req, "/");
	ipp_status_t s = cupsLastError();

	if (resp && s <= IPP_STATUS_OK_EVENTS_COMPLETE)
		return resp;
	ippDelete(resp);
	if (s == IPP_STATUS_ERROR_NOT_FOUND)
		smile_error_set(e, SMILE_ERR_NOT_FOUND, "printer", "no queue '%s' on the CUPS server",
				p->queue);
	else if (resp == NULL && (s == IPP_STATUS_ERROR_SERVICE_UNAVAILABLE ||
				  s == IPP_STATUS_ERROR_INTERNAL))
		smile_error_set(e, SMILE_ERR_PRINTER_UNREACHABLE, "printer", "%s: %s", what,
				cupsLastErrorString());
	else
		smile_error_set(e, SMILE_ERR_PRINTER_PROTO, "printer", "%s: %s", what,
				cupsLastErrorString());
	return NULL;
}

static enum smile_err cups_status(struct smile_printer *p, struct smile_printer_status *st,
				  struct smile_error *e)
{
	enum smile_err err = cups_connect(p, e);
	ipp_t *req, *resp;

	if (err)
		return err;
	req = ippNewRequest(IPP_OP_GET_PRINTER_ATTRIBUTES);
	ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_URI, "printer-uri", NULL, p->printer_uri);
	ippAddStrings(req, IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes",
		      (int)(sizeof(printer_attrs) / sizeof(printer_attrs[0])), NULL, printer_attrs);
	resp = do_request(p, req, "printer status", e);
	if (resp == NULL) {
		enum smile_err code = e ? e->code : SMILE_ERR_PRINTER_UNREACHABLE;
		if (code == SMILE_ERR_PRINTER_UNREACHABLE)
			cups_close(p); /* a new connection next time */
		return code;
	}
	fill_status(resp, st);
	ippDelete(resp);
	return SMILE_OK;
}

static int write_full(int fd, const unsigned char *d, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, d, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		d += w;
		n -= (size_t)w;
	}
	return 0;
}

static const char *mime_of(enum smile_label_format f)
{
	return f == SMILE_LABEL_PDF ? "application/pdf"
	       : f == SMILE_LABEL_PNG ? "image/png"
				      : "application/vnd.cups-raw";
}

static enum smile_err cups_send(struct smile_printer *p, const char *title,
				enum smile_label_format f, const unsigned char *data, size_t len,
				int copies, struct smile_printer_job *job, struct smile_error *e)
{
	ipp_t *req, *resp;
	int fd;
	ipp_status_t s;
	ipp_attribute_t *a;

	req = ippNewRequest(IPP_OP_PRINT_JOB);
	ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_URI, "printer-uri", NULL, p->printer_uri);
	ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_NAME, "requesting-user-name", NULL,
		     cupsUser());
	ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_NAME, "job-name", NULL, title);
	ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_MIMETYPE, "document-format", NULL,
		     mime_of(f));
	if (copies > 1)
		ippAddInteger(req, IPP_TAG_JOB, IPP_TAG_INTEGER, "copies", copies);
	/* the document from a memory file, so libcups streams it like any
	 * file (cupsDoIORequest frees req) */
	fd = memfd_create("smile-label", MFD_CLOEXEC);
	if (fd < 0 || write_full(fd, data, len) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
		if (fd >= 0)
			close(fd);
		ippDelete(req);
		return smile_error_set(e, SMILE_ERR_IO, "printer", "cannot stage the document: %s",
				       strerror(errno));
	}
	resp = cupsDoIORequest(H(p), req, p->resource, fd, -1);
	close(fd);
	s = cupsLastError();
	if (resp == NULL) {
		cups_close(p);
		job->state = SMILE_PRINTER_JOB_UNCERTAIN;
		snprintf(job->reasons, sizeof(job->reasons), "no answer to Print-Job");
		return smile_error_set(e, SMILE_ERR_PRINTER_UNCERTAIN, "printer",
				       "no answer to the print request (%s): the job may or may "
				       "not be queued; check the queue before sending it again",
				       cupsLastErrorString());
	}
	if (s > IPP_STATUS_OK_EVENTS_COMPLETE) {
		ippDelete(resp);
		return smile_error_set(e, SMILE_ERR_PRINTER_JOB, "printer",
				       "the queue refused the job: %s; nothing will print",
				       cupsLastErrorString());
	}
	a = ippFindAttribute(resp, "job-id", IPP_TAG_INTEGER);
	job->id = a ? ippGetInteger(a, 0) : 0;
	job->state = SMILE_PRINTER_JOB_SENT;
	ippDelete(resp);
	return SMILE_OK;
}

static void job_reasons(ipp_t *resp, char *buf, size_t n)
{
	ipp_attribute_t *a = ippFindAttribute(resp, "job-state-reasons", IPP_TAG_KEYWORD);
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; a && i < ippGetCount(a); i++) {
		int w = snprintf(buf + used, n - used, "%s%s", used ? "," : "",
				 ippGetString(a, i, NULL));
		if (w < 0 || (size_t)w >= n - used)
			break;
		used += (size_t)w;
	}
	if (used == 0)
		snprintf(buf, n, "none");
}

static enum smile_err cups_wait(struct smile_printer *p, struct smile_printer_job *job,
				struct smile_error *e)
{
	static const char *const attrs[] = {"job-state", "job-state-reasons"};
	int64_t deadline = smile_mono_ms() + p->o.job_ms;

	for (;;) {
		ipp_t *req, *resp;
		ipp_attribute_t *a;
		int state;
		char jr[128];
		struct smile_printer_status st;
		enum smile_err err;

		if ((err = cups_connect(p, e)) != SMILE_OK)
			goto lost;
		req = ippNewRequest(IPP_OP_GET_JOB_ATTRIBUTES);
		ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_URI, "printer-uri", NULL,
			     p->printer_uri);
		ippAddInteger(req, IPP_TAG_OPERATION, IPP_TAG_INTEGER, "job-id", job->id);
		ippAddStrings(req, IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes", 2,
			      NULL, attrs);
		resp = do_request(p, req, "job status", e);
		if (resp == NULL) {
			cups_close(p);
			goto lost;
		}
		a = ippFindAttribute(resp, "job-state", IPP_TAG_ENUM);
		state = a ? ippGetInteger(a, 0) : 0;
		job_reasons(resp, jr, sizeof(jr));
		ippDelete(resp);
		switch (state) {
		case IPP_JSTATE_COMPLETED:
			job->state = SMILE_PRINTER_JOB_PRINTED;
			return SMILE_OK;
		case IPP_JSTATE_CANCELED:
		case IPP_JSTATE_ABORTED:
			job->state = state == IPP_JSTATE_CANCELED ? SMILE_PRINTER_JOB_CANCELLED
								  : SMILE_PRINTER_JOB_ABORTED;
			snprintf(job->reasons, sizeof(job->reasons), "job-state-reasons=%s", jr);
			return smile_error_set(e, SMILE_ERR_PRINTER_JOB, "printer",
					       "job %d %s (job-state-reasons=%s); it will not print",
					       job->id, smile_printer_job_state_name(job->state), jr);
		default:
			break;
		}
		/* pending, held, processing or stopped: is the queue in trouble? */
		err = cups_status(p, &st, e);
		if (err == SMILE_OK && (state == IPP_JSTATE_STOPPED || state == IPP_JSTATE_HELD ||
					(st.flags & ~SMILE_PRINTER_REJECTING))) {
			job->state = SMILE_PRINTER_JOB_STOPPED;
			snprintf(job->reasons, sizeof(job->reasons), "%s", st.reasons);
			return smile_error_set(e, SMILE_ERR_PRINTER_JOB, "printer",
					       "job %d %s in the queue (do not send it again: it "
					       "prints once the queue is fixed): %s",
					       job->id, state == IPP_JSTATE_HELD ? "held" : "stopped",
					       st.reasons);
		}
		if (smile_mono_ms() >= deadline)
			return smile_error_set(e, SMILE_ERR_TIMEOUT, "printer",
					       "job %d not printed after %d ms (job-state-reasons=%s)",
					       job->id, p->o.job_ms, jr);
		printer_sleep_ms(POLL_MS);
	}
lost:
	job->state = SMILE_PRINTER_JOB_UNCERTAIN;
	snprintf(job->reasons, sizeof(job->reasons), "lost the CUPS server");
	return smile_error_set(e, SMILE_ERR_PRINTER_UNCERTAIN, "printer",
			       "lost the CUPS server while following job %d: it may or may "
			       "not print",
			       job->id);
}

static int cups_accepts(enum smile_label_format f)
{
	return f == SMILE_LABEL_PDF || f == SMILE_LABEL_PNG || f == SMILE_LABEL_ZPL;
}

const struct printer_ops printer_cups_ops = {
	.scheme = "CUPS",
	.kind = SMILE_PRINTER_CUPS,
	.accepts = cups_accepts,
	.status = cups_status,
	.send = cups_send,
	.wait = cups_wait,
	.close = cups_close,
};

/* ------------------------------------------------------------ listing */

enum smile_err smile_printer_list(smile_printer_list_fn fn, void *arg, struct smile_error *e)
{
	struct smile_printer p;
	ipp_t *req, *resp;
	ipp_attribute_t *a;
	enum smile_err err;
	char def[PRINTER_QUEUE_MAX] = "";
	const char *d;

	memset(&p, 0, sizeof(p));
	p.fd = -1;
	smile_printer_opts_default(&p.o);
	p.o.retries = 0;
	snprintf(p.queue, sizeof(p.queue), "_");
	err = cups_connect(&p, e);
	if (err)
		return err;
	d = cupsGetDefault2(H(&p));
	if (d)
		snprintf(def, sizeof(def), "%s", d);
	req = ippNewRequest(IPP_OP_CUPS_GET_PRINTERS);
	ippAddStrings(req, IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes",
		      (int)(sizeof(printer_attrs) / sizeof(printer_attrs[0])), NULL, printer_attrs);
	resp = cupsDoRequest(H(&p), req, "/");
	if (resp == NULL) {
		ipp_status_t s = cupsLastError();
		cups_close(&p);
		if (s == IPP_STATUS_ERROR_NOT_FOUND) /* no queues at all */
			return SMILE_OK;
		return smile_error_set(e, SMILE_ERR_PRINTER_UNREACHABLE, "printer",
				       "cannot list CUPS queues: %s", cupsLastErrorString());
	}
	/* one group of printer attributes per queue, separated by IPP_TAG_ZERO */
	a = ippFirstAttribute(resp);
	while (a) {
		ipp_t *one;
		const char *name = NULL;
		char uri[PRINTER_QUEUE_MAX + 8];
		struct smile_printer_queue q;

		while (a && ippGetGroupTag(a) != IPP_TAG_PRINTER)
			a = ippNextAttribute(resp);
		if (a == NULL)
			break;
		one = ippNew();
		for (; a && ippGetGroupTag(a) == IPP_TAG_PRINTER; a = ippNextAttribute(resp)) {
			ippCopyAttribute(one, a, 0);
			if (strcmp(ippGetName(a) ? ippGetName(a) : "", "printer-name") == 0)
				name = ippGetString(a, 0, NULL);
		}
		if (name) {
			memset(&q, 0, sizeof(q));
			snprintf(uri, sizeof(uri), "cups:%s", name);
			q.name = name;
			q.uri = uri;
			q.is_default = strcmp(name, def) == 0;
			fill_status(one, &q.status);
			fn(arg, &q);
		}
		ippDelete(one);
	}
	ippDelete(resp);
	cups_close(&p);
	return SMILE_OK;
}
