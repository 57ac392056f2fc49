/* SPDX-License-Identifier: Apache-2.0 */
/*
 * printer_socket.c - the raw TCP back end (AppSocket/JetDirect, port 9100):
 * ZPL in, Zebra host status out.
 *
 * One TCP connection carries both: documents are written to it, and "~HS"
 * (host status, answered at once, even while formats wait in the buffer)
 * is asked on it before every document and while following one. The answer
 * is three frames, <STX>...<ETX><CR><LF>:
 *
 *   1: aaa,b,c,dddd,eee,f,g,h,iii,j,k,l
 *      b paper out, c paused, eee formats in the receive buffer,
 *      f buffer full, j RAM corrupt, k under / l over temperature
 *   2: mmm,n,o,p,q,r,s,t,uuuuuuuu,v,www
 *      o head up (open), p ribbon out, uuuuuuuu labels left in the batch
 *   3: xxxx,y (password, static RAM): not used
 *
 * Time-outs: every connect, write and status answer has its own deadline
 * (smile_printer_opts). Reconnects: a failed connection is retried
 * `retries` times with backoff, and a status query that finds the
 * connection closed (printers drop idle connections) reconnects once; both
 * happen only before a document's first byte. A write that fails or times
 * out part-way closes the connection and reports SMILE_ERR_PRINTER_UNCERTAIN:
 * the printer may hold a whole label, part of one (which it discards at the
 * next ^XA), or nothing, and only a person at the printer can tell.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "printer_internal.h"
#include "smile/clock.h"

#define HS_MAX 1024
#define POLL_MS 100

static void sock_close(struct smile_printer *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

static int remaining(int64_t deadline)
{
	int64_t left = deadline - smile_mono_ms();
	return left < 0 ? 0 : left > 60000000 ? 60000000 : (int)left;
}

/* One connection attempt to one address; fd set on success. */
static enum smile_err connect_addr(struct smile_printer *p, const struct addrinfo *ai,
				   int *why)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			ai->ai_protocol);
	struct pollfd pfd;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (fd < 0) {
		*why = errno;
		return SMILE_ERR_PRINTER_UNREACHABLE;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		if (errno != EINPROGRESS) {
			*why = errno;
			close(fd);
			return SMILE_ERR_PRINTER_UNREACHABLE;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, p->o.connect_ms) != 1) {
			*why = ETIMEDOUT;
			close(fd);
			return SMILE_ERR_PRINTER_UNREACHABLE;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
			*why = soerr ? soerr : errno;
			close(fd);
			return SMILE_ERR_PRINTER_UNREACHABLE;
		}
	}
	p->fd = fd;
	return SMILE_OK;
}

static enum smile_err connect_once(struct smile_printer *p, struct smile_error *e)
{
	struct addrinfo hints, *res = NULL;
	char port[8];
	int rc, why = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", p->port);
	rc = getaddrinfo(p->host, port, &hints, &res);
	if (rc != 0)
		return smile_error_set(e, SMILE_ERR_PRINTER_UNREACHABLE, "printer",
				       "cannot resolve the printer's host: %s", gai_strerror(rc));
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
		if (connect_addr(p, ai, &why) == SMILE_OK)
			break;
	freeaddrinfo(res);
	if (p->fd >= 0)
		return SMILE_OK;
	if (why == ETIMEDOUT)
		return smile_error_set(e, SMILE_ERR_PRINTER_UNREACHABLE, "printer",
				       "no connection within %d ms (printer off or away?)",
				       p->o.connect_ms);
	return smile_error_set(e, SMILE_ERR_PRINTER_UNREACHABLE, "printer", "cannot connect: %s",
			       strerror(why));
}

/* Connect, retrying with backoff: nothing has been sent on a new connection. */
static enum smile_err sock_connect(struct smile_printer *p, struct smile_error *e)
{
	enum smile_err err = SMILE_OK;
	int backoff = 250;

	for (int attempt = 0; attempt <= p->o.retries; attempt++) {
		if (attempt > 0) {
			printer_sleep_ms(backoff);
			backoff = backoff < 2000 ? backoff * 2 : 2000;
		}
		err = connect_once(p, e);
		if (err == SMILE_OK)
			return SMILE_OK;
	}
	return err;
}

/* Write all of data; *sent counts what the kernel took. SMILE_ERR_TIMEOUT
 * or SMILE_ERR_IO (connection broke), with *sent telling how far it got. */
static enum smile_err write_all(struct smile_printer *p, const unsigned char *data, size_t len,
				size_t *sent, struct smile_error *e)
{
	int64_t deadline = smile_mono_ms() + p->o.io_ms;

	*sent = 0;
	while (*sent < len) {
		ssize_t w = send(p->fd, data + *sent, len - *sent, MSG_NOSIGNAL);
		if (w > 0) {
			*sent += (size_t)w;
			deadline = smile_mono_ms() + p->o.io_ms; /* progress: a fresh deadline */
			continue;
		}
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			struct pollfd pfd = {.fd = p->fd, .events = POLLOUT};
			int ms = remaining(deadline);
			if (ms == 0 || poll(&pfd, 1, ms) == 0)
				return smile_error_set(e, SMILE_ERR_TIMEOUT, "printer",
						       "the printer took no data for %d ms",
						       p->o.io_ms);
			continue;
		}
		return smile_error_set(e, SMILE_ERR_IO, "printer", "connection broke: %s",
				       strerror(w < 0 ? errno : EPIPE));
	}
	return SMILE_OK;
}

/* Throw away bytes already waiting (a late answer to an earlier query). */
static void drain(struct smile_printer *p)
{
	char junk[512];
	while (recv(p->fd, junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
}

/* Send ~HS and read its three frames. */
static enum smile_err query(struct smile_printer *p, struct smile_printer_status *st,
			    struct smile_error *e)
{
	char buf[HS_MAX];
	size_t n = 0, sent;
	int etx = 0;
	int64_t deadline;
	enum smile_err err;

	drain(p);
	err = write_all(p, (const unsigned char *)"~HS", 3, &sent, e);
	if (err)
		return err == SMILE_ERR_TIMEOUT ? err : SMILE_ERR_IO;
	deadline = smile_mono_ms() + p->o.io_ms;
	while (etx < 3) {
		struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
		int ms = remaining(deadline);
		ssize_t r;
		if (ms == 0 || poll(&pfd, 1, ms) == 0)
			return smile_error_set(e, SMILE_ERR_TIMEOUT, "printer",
					       "no status answer within %d ms (the printer took "
					       "the connection but does not answer ~HS)",
					       p->o.io_ms);
		r = recv(p->fd, buf + n, sizeof(buf) - 1 - n, 0);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			return smile_error_set(e, SMILE_ERR_IO, "printer",
					       "connection closed while reading status");
		if (r < 0)
			continue;
		for (ssize_t i = 0; i < r; i++)
			etx += buf[n + (size_t)i] == '\003';
		n += (size_t)r;
		if (n >= sizeof(buf) - 1)
			return smile_error_set(e, SMILE_ERR_PRINTER_PROTO, "status",
					       "status answer over %d bytes", HS_MAX);
	}
	return printer_zebra_hs_parse(buf, n, st, e);
}

static enum smile_err sock_status(struct smile_printer *p, struct smile_printer_status *st,
				  struct smile_error *e)
{
	for (int attempt = 0;; attempt++) {
		int fresh = p->fd < 0;
		enum smile_err err;
		if (fresh && (err = sock_connect(p, e)) != SMILE_OK)
			return err;
		err = query(p, st, e);
		if (err == SMILE_OK)
			return SMILE_OK;
		sock_close(p);
		/* the printer closed an idle connection: one fresh try (no
		 * document byte is involved, so this cannot print anything) */
		if (err == SMILE_ERR_IO && !fresh && attempt == 0)
			continue;
		if (err == SMILE_ERR_IO)
			return smile_error_set(e, SMILE_ERR_PRINTER_UNREACHABLE, "printer",
					       "the printer closed the connection before "
					       "answering ~HS");
		return err;
	}
}

static enum smile_err sock_send(struct smile_printer *p, const char *title,
				enum smile_label_format f, const unsigned char *data, size_t len,
				int copies, struct smile_printer_job *job, struct smile_error *e)
{
	unsigned char *copy = NULL;
	size_t sent = 0;
	enum smile_err err;

	(void)title;
	(void)f;
	if (copies > 1) {
		err = printer_zpl_copies(data, len, copies, &copy, &len, e);
		if (err)
			return err;
		data = copy;
	}
	job->id = ++p->next_id;
	err = write_all(p, data, len, &sent, e);
	free(copy);
	if (err == SMILE_OK) {
		job->state = SMILE_PRINTER_JOB_SENT;
		return SMILE_OK;
	}
	sock_close(p);
	if (sent == 0) /* the kernel took nothing: it cannot print */
		return smile_error_set(e, SMILE_ERR_PRINTER_UNREACHABLE, "printer",
				       "connection lost before the label was sent; nothing sent");
	job->state = SMILE_PRINTER_JOB_UNCERTAIN;
	snprintf(job->reasons, sizeof(job->reasons), "connection lost while sending");
	return smile_error_set(e, SMILE_ERR_PRINTER_UNCERTAIN, "printer",
			       "connection lost after %zu of %zu bytes: the label may or may "
			       "not have printed (check the printer before sending it again)",
			       sent, len);
}

static enum smile_err sock_wait(struct smile_printer *p, struct smile_printer_job *job,
				struct smile_error *e)
{
	int64_t deadline = smile_mono_ms() + p->o.job_ms;

	for (;;) {
		struct smile_printer_status st;
		enum smile_err err;

		memset(&st, 0, sizeof(st));
		err = p->fd >= 0 ? query(p, &st, e) : SMILE_ERR_IO;
		if (err) {
			sock_close(p);
			job->state = SMILE_PRINTER_JOB_UNCERTAIN;
			snprintf(job->reasons, sizeof(job->reasons), "no status after sending");
			return smile_error_set(e, SMILE_ERR_PRINTER_UNCERTAIN, "printer",
					       "lost the printer while the label was in it (%s): "
					       "it may or may not have printed",
					       err == SMILE_ERR_TIMEOUT ? "no status answer"
									: "connection closed");
		}
		if (st.formats_queued == 0) {
			job->state = SMILE_PRINTER_JOB_PRINTED;
			return SMILE_OK;
		}
		if (st.flags) {
			job->state = SMILE_PRINTER_JOB_STOPPED;
			snprintf(job->reasons, sizeof(job->reasons), "%s", st.reasons);
			return smile_error_set(e, SMILE_ERR_PRINTER_JOB, "printer",
					       "stopped: %s, with %u label(s) in its buffer (they "
					       "print once that is fixed)",
					       st.reasons, st.formats_queued);
		}
		if (remaining(deadline) == 0)
			return smile_error_set(e, SMILE_ERR_TIMEOUT, "printer",
					       "still %u label(s) in the printer after %d ms",
					       st.formats_queued, p->o.job_ms);
		printer_sleep_ms(POLL_MS);
	}
}

static int sock_accepts(enum smile_label_format f)
{
	return f == SMILE_LABEL_ZPL;
}

/* Fields of one frame (comma-separated) into v[]; the count. */
static int split_fields(const char *s, size_t n, long *v, int max)
{
	int k = 0;
	size_t i = 0;

	while (i <= n && k < max) {
		long x = 0;
		size_t start = i;
		while (i < n && s[i] != ',') {
			if (s[i] < '0' || s[i] > '9')
				return -1;
			if (x < 100000000L)
				x = x * 10 + (s[i] - '0');
			i++;
		}
		if (i == start)
			return -1;
		v[k++] = x;
		i++; /* past ',' (or the end) */
	}
	return i > n ? k : -1;
}

enum smile_err printer_zebra_hs_parse(const char *buf, size_t len,
				      struct smile_printer_status *st, struct smile_error *e)
{
	const char *frame[3];
	size_t flen[3];
	long a[12], b[11];
	int nf = 0;

	for (size_t i = 0; i < len && nf < 3; i++) {
		const char *end;
		if (buf[i] != '\002')
			continue;
		end = memchr(buf + i + 1, '\003', len - i - 1);
		if (end == NULL)
			break;
		frame[nf] = buf + i + 1;
		flen[nf] = (size_t)(end - (buf + i + 1));
		nf++;
		i = (size_t)(end - buf);
	}
	if (nf != 3)
		return smile_error_set(e, SMILE_ERR_PRINTER_PROTO, "status",
				       "%d status frame(s), ~HS sends 3", nf);
	if (split_fields(frame[0], flen[0], a, 12) != 12)
		return smile_error_set(e, SMILE_ERR_PRINTER_PROTO, "status",
				       "first frame is not 12 numeric fields");
	if (split_fields(frame[1], flen[1], b, 11) != 11)
		return smile_error_set(e, SMILE_ERR_PRINTER_PROTO, "status",
				       "second frame is not 11 numeric fields");
	memset(st, 0, sizeof(*st));
	if (a[1])
		st->flags |= SMILE_PRINTER_PAPER_OUT;
	if (a[2])
		st->flags |= SMILE_PRINTER_PAUSED;
	if (a[5])
		st->flags |= SMILE_PRINTER_BUFFER_FULL;
	if (a[9])
		st->flags |= SMILE_PRINTER_RAM_CORRUPT;
	if (a[10] || a[11])
		st->flags |= SMILE_PRINTER_HEAD_TEMP;
	if (b[2])
		st->flags |= SMILE_PRINTER_HEAD_OPEN;
	if (b[3])
		st->flags |= SMILE_PRINTER_RIBBON_OUT;
	st->formats_queued = (unsigned)(a[4] + b[8]);
	printer_flags_text(st->flags, st->reasons, sizeof(st->reasons));
	return SMILE_OK;
}

const struct printer_ops printer_socket_ops = {
	.scheme = "socket",
	.kind = SMILE_PRINTER_SOCKET,
	.accepts = sock_accepts,
	.status = sock_status,
	.send = sock_send,
	.wait = sock_wait,
	.close = sock_close,
};
