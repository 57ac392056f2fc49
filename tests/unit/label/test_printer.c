/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_printer.c - the printer back ends without a printer: the Zebra ~HS
 * parser, printer URIs, ^PQ copies, and the socket back end's rules against
 * a scripted fake printer on loopback (a thread): status before every send,
 * nothing sent to a printer that is not ready, one reconnect for a status
 * on a connection the printer closed, connect retries with backoff, and
 * never a second copy of a document when the printer goes away after it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../../label/printer_internal.h"
#include "smile/clock.h"

/* ------------------------------------------------------------ ~HS */

static const char *hs(char *buf, size_t n, int paper_out, int paused, int formats,
		      int buffer_full, int head_open, int ribbon_out, int batch_left)
{
	snprintf(buf, n,
		 "\002030,%d,%d,1199,%03d,%d,0,0,000,0,0,0\003\r\n"
		 "\002001,0,%d,%d,0,2,6,0,%08d,1,000\003\r\n"
		 "\0021234,0\003\r\n",
		 paper_out, paused, formats, buffer_full, head_open, ribbon_out, batch_left);
	return buf;
}

static void hs_fields_map_to_flags(void **state)
{
	struct smile_printer_status st;
	struct smile_error e = {0};
	char b[256];
	(void)state;

	hs(b, sizeof(b), 0, 0, 0, 0, 0, 0, 0);
	assert_int_equal(printer_zebra_hs_parse(b, strlen(b), &st, &e), SMILE_OK);
	assert_int_equal(st.flags, 0);
	assert_int_equal(st.formats_queued, 0);
	assert_string_equal(st.reasons, "ready");

	hs(b, sizeof(b), 1, 0, 2, 0, 0, 0, 3);
	assert_int_equal(printer_zebra_hs_parse(b, strlen(b), &st, &e), SMILE_OK);
	assert_int_equal(st.flags, SMILE_PRINTER_PAPER_OUT);
	assert_int_equal(st.formats_queued, 5);
	assert_string_equal(st.reasons, "paper out");

	hs(b, sizeof(b), 0, 1, 0, 1, 1, 1, 0);
	assert_int_equal(printer_zebra_hs_parse(b, strlen(b), &st, &e), SMILE_OK);
	assert_int_equal(st.flags, SMILE_PRINTER_PAUSED | SMILE_PRINTER_BUFFER_FULL |
					   SMILE_PRINTER_HEAD_OPEN | SMILE_PRINTER_RIBBON_OUT);
	assert_string_equal(st.reasons, "head open, paused, buffer full, ribbon out");

	/* bytes around the frames (a late answer's tail) are ignored */
	{
		char c[300];
		hs(b, sizeof(b), 0, 0, 0, 0, 0, 0, 0);
		snprintf(c, sizeof(c), "\r\nxx%s", b);
		assert_int_equal(printer_zebra_hs_parse(c, strlen(c), &st, &e), SMILE_OK);
	}
}

static void hs_malformed_is_proto(void **state)
{
	struct smile_printer_status st;
	struct smile_error e = {0};
	const char *bad[] = {
		"",
		"\002030,0,0,1199,000,0,0,0,000,0,0,0\003\r\n\002001,0,0,0,0,2,6,0,00000000,1,000\003",
		"\002030,0,0,1199,000,0,0,0,000,0,0\003\002001,0,0,0,0,2,6,0,00000000,1,000\003\0021,0\003",
		"\002030,X,0,1199,000,0,0,0,000,0,0,0\003\002001,0,0,0,0,2,6,0,00000000,1,000\003\0021,0\003",
		"\002030,,0,1199,000,0,0,0,000,0,0,0\003\002001,0,0,0,0,2,6,0,00000000,1,000\003\0021,0\003",
		"\002030,0,0,1199,000,0,0,0,000,0,0,0\003\002001,0,0,0,0,2,6,0,00000000,1\003\0021,0\003",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		assert_int_equal(printer_zebra_hs_parse(bad[i], strlen(bad[i]), &st, &e),
				 SMILE_ERR_PRINTER_PROTO);
		assert_string_equal(e.field, "status");
	}
}

/* ------------------------------------------------------------ URIs */

static void uris_parse(void **state)
{
	struct smile_printer *p = NULL;
	struct smile_error e = {0};
	(void)state;

	assert_int_equal(smile_printer_open("socket://zebra1.example", NULL, &p, &e), SMILE_OK);
	assert_int_equal(smile_printer_kind(p), SMILE_PRINTER_SOCKET);
	assert_string_equal(p->host, "zebra1.example");
	assert_int_equal(p->port, 9100);
	assert_true(smile_printer_accepts(p, SMILE_LABEL_ZPL));
	assert_false(smile_printer_accepts(p, SMILE_LABEL_PDF));
	assert_int_equal(smile_printer_default_format(p), SMILE_LABEL_ZPL);
	smile_printer_free(p);

	assert_int_equal(smile_printer_open("socket://[::1]:9200/", NULL, &p, &e), SMILE_OK);
	assert_string_equal(p->host, "::1");
	assert_int_equal(p->port, 9200);
	smile_printer_free(p);

	assert_int_equal(smile_printer_open("ipp://cups.example/printers/labels-1", NULL, &p, &e),
			 SMILE_OK);
	assert_int_equal(smile_printer_kind(p), SMILE_PRINTER_CUPS);
	assert_string_equal(p->host, "cups.example");
	assert_int_equal(p->port, 631);
	assert_string_equal(p->queue, "labels-1");
	assert_int_equal(smile_printer_default_format(p), SMILE_LABEL_PDF);
	smile_printer_free(p);

	assert_int_equal(smile_printer_open("cups:zebra_2", NULL, &p, &e), SMILE_OK);
	assert_string_equal(p->host, "");
	assert_string_equal(p->queue, "zebra_2");
	smile_printer_free(p);

	{
		const char *bad[] = {"http://h/", "socket://", "socket://h/path", "socket://h:0",
				     "socket://h:99999", "socket://[::1", "ipp://h/queue",
				     "ipp://h/printers/", "ipp://h/printers/a/b", "cups:",
				     "cups:a b", "cups:a/b", "lpd://h/q"};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			memset(&e, 0, sizeof(e));
			assert_int_equal(smile_printer_open(bad[i], NULL, &p, &e),
					 SMILE_ERR_FIELD_VALUE);
			assert_null(p);
			assert_string_equal(e.field, "printer");
		}
	}
	smile_printer_free(NULL);
}

static void zpl_copies_replace_pq(void **state)
{
	const char *z = "^XA\n^FO0,0^GB10,10,1^FS\n^PQ1\n^XZ\n";
	const char *z2 = "^XA^FDx^FS^XZ";
	unsigned char *out = NULL;
	size_t n = 0;
	struct smile_error e = {0};
	(void)state;

	assert_int_equal(printer_zpl_copies((const unsigned char *)z, strlen(z), 3, &out, &n, &e),
			 SMILE_OK);
	assert_int_equal(n, strlen("^XA\n^FO0,0^GB10,10,1^FS\n^PQ3\n^XZ\n"));
	assert_memory_equal(out, "^XA\n^FO0,0^GB10,10,1^FS\n^PQ3\n^XZ\n", n);
	free(out);
	assert_int_equal(printer_zpl_copies((const unsigned char *)z2, strlen(z2), 12, &out, &n, &e),
			 SMILE_OK);
	assert_memory_equal(out, "^XA^FDx^FS^PQ12\n^XZ", n);
	free(out);
	assert_int_equal(printer_zpl_copies((const unsigned char *)"^XA", 3, 2, &out, &n, &e),
			 SMILE_ERR_FIELD_VALUE);
	assert_null(out);
}

/* ------------------------------------------------------------ fake printer */

/* What the fake does, per connection: answer up to `answers` ~HS (then
 * close), with the given flags state; count formats received. */
struct fake {
	int lfd, port;
	int answers_per_conn;      /* close after this many ~HS answers (0: never close) */
	int paper_out_after;       /* formats after which ~HS says paper out (-1 never) */
	int hold_formats;          /* formats stay "in the buffer" */
	int connections, formats, queries;
	pthread_t th;
	pthread_mutex_t mu;
	int stop;
};

static void *fake_run(void *arg)
{
	struct fake *f = arg;
	for (;;) {
		int c = accept(f->lfd, NULL, NULL);
		char buf[65536];
		int answered = 0;
		size_t have = 0;
		if (c < 0)
			return NULL;
		pthread_mutex_lock(&f->mu);
		f->connections++;
		pthread_mutex_unlock(&f->mu);
		for (;;) {
			ssize_t r = recv(c, buf + have, sizeof(buf) - 1 - have, 0);
			char *q;
			if (r <= 0)
				break;
			have += (size_t)r;
			buf[have] = '\0';
			/* formats first (the client sends ~HS only between them) */
			while ((q = strstr(buf, "^XZ")) != NULL) {
				size_t used = (size_t)(q + 3 - buf);
				pthread_mutex_lock(&f->mu);
				f->formats++;
				pthread_mutex_unlock(&f->mu);
				memmove(buf, buf + used, have - used + 1);
				have -= used;
			}
			while ((q = strstr(buf, "~HS")) != NULL && strstr(buf, "^XA") == NULL) {
				char a[256];
				size_t used = (size_t)(q + 3 - buf);
				int po;
				pthread_mutex_lock(&f->mu);
				f->queries++;
				po = f->paper_out_after >= 0 && f->formats >= f->paper_out_after;
				hs(a, sizeof(a), po, 0, f->hold_formats ? f->formats : 0, 0, 0, 0, 0);
				pthread_mutex_unlock(&f->mu);
				if (send(c, a, strlen(a), MSG_NOSIGNAL) < 0)
					break;
				memmove(buf, buf + used, have - used + 1);
				have -= used;
				answered++;
			}
			if (f->answers_per_conn && answered >= f->answers_per_conn)
				break;
		}
		close(c);
	}
}

static void fake_start(struct fake *f)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int one = 1;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(f->lfd >= 0);
	setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(f->lfd, 8), 0);
	assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&a, &al), 0);
	f->port = ntohs(a.sin_port);
	pthread_mutex_init(&f->mu, NULL);
	assert_int_equal(pthread_create(&f->th, NULL, fake_run, f), 0);
}

static void fake_stop(struct fake *f)
{
	shutdown(f->lfd, SHUT_RDWR);
	close(f->lfd);
	pthread_join(f->th, NULL);
	pthread_mutex_destroy(&f->mu);
}

static int fake_get(struct fake *f, int *field)
{
	int v;
	pthread_mutex_lock(&f->mu);
	v = *field;
	pthread_mutex_unlock(&f->mu);
	return v;
}

static struct smile_printer *open_fake(struct fake *f, int retries)
{
	struct smile_printer_opts o;
	struct smile_printer *p = NULL;
	char uri[64];

	smile_printer_opts_default(&o);
	o.connect_ms = o.io_ms = 1000;
	o.job_ms = 2000;
	o.retries = retries;
	snprintf(uri, sizeof(uri), "socket://127.0.0.1:%d", f->port);
	assert_int_equal(smile_printer_open(uri, &o, &p, NULL), SMILE_OK);
	return p;
}

static const unsigned char label[] = "^XA\n^FO10,10^GB100,100,3^FS\n^PQ1\n^XZ\n";

static void socket_prints_and_follows(void **state)
{
	struct fake f = {.paper_out_after = -1};
	struct smile_printer *p;
	struct smile_printer_job job;
	struct smile_error e = {0};
	(void)state;

	fake_start(&f);
	p = open_fake(&f, 0);
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(smile_printer_send(p, "SW1", SMILE_LABEL_ZPL, label,
						    sizeof(label) - 1, 1, &job, &e),
				 SMILE_OK);
		assert_int_equal(job.state, SMILE_PRINTER_JOB_SENT);
		assert_int_equal(job.id, i);
		assert_int_equal(smile_printer_job_wait(p, &job, &e), SMILE_OK);
		assert_int_equal(job.state, SMILE_PRINTER_JOB_PRINTED);
	}
	smile_printer_free(p);
	fake_stop(&f);
	assert_int_equal(f.formats, 3);
	assert_int_equal(f.connections, 1); /* one connection carries the batch */
	assert_true(f.queries >= 6);        /* a status before and after each */
}

static void socket_not_ready_sends_nothing(void **state)
{
	struct fake f = {.paper_out_after = 0};
	struct smile_printer *p;
	struct smile_printer_job job;
	struct smile_error e = {0};
	(void)state;

	fake_start(&f);
	p = open_fake(&f, 0);
	assert_int_equal(smile_printer_send(p, "SW1", SMILE_LABEL_ZPL, label, sizeof(label) - 1, 1,
					    &job, &e),
			 SMILE_ERR_PRINTER_NOT_READY);
	assert_int_equal(job.state, SMILE_PRINTER_JOB_NONE);
	assert_non_null(strstr(e.message, "paper out; nothing sent"));
	assert_int_equal(smile_printer_send(p, "SW1", SMILE_LABEL_PDF, label, sizeof(label) - 1, 1,
					    &job, &e),
			 SMILE_ERR_UNSUPPORTED);
	smile_printer_free(p);
	fake_stop(&f);
	assert_int_equal(f.formats, 0);
}

static void socket_idle_close_reconnects_for_status(void **state)
{
	struct fake f = {.paper_out_after = -1, .answers_per_conn = 1};
	struct smile_printer *p;
	struct smile_printer_status st;
	struct smile_error e = {0};
	(void)state;

	fake_start(&f);
	p = open_fake(&f, 0);
	assert_int_equal(smile_printer_status(p, &st, &e), SMILE_OK);
	/* the fake closed that connection after answering: wait for the FIN */
	while (fake_get(&f, &f.connections) < 1)
		printer_sleep_ms(5);
	printer_sleep_ms(50);
	assert_int_equal(smile_printer_status(p, &st, &e), SMILE_OK);
	assert_int_equal(st.flags, 0);
	smile_printer_free(p);
	fake_stop(&f);
	assert_int_equal(f.connections, 2);
}

static void socket_lost_after_send_is_uncertain_never_resent(void **state)
{
	/* answers the status before the document, then hangs up: the label
	 * is in the printer, its fate unknown */
	struct fake f = {.paper_out_after = -1, .answers_per_conn = 1};
	struct smile_printer *p;
	struct smile_printer_job job;
	struct smile_error e = {0};
	enum smile_err err;
	(void)state;

	fake_start(&f);
	p = open_fake(&f, 2);
	assert_int_equal(smile_printer_send(p, "SW1", SMILE_LABEL_ZPL, label, sizeof(label) - 1, 1,
					    &job, &e),
			 SMILE_OK);
	err = smile_printer_job_wait(p, &job, &e);
	/* the fake may read the format before or after it hangs up */
	if (err == SMILE_ERR_PRINTER_UNCERTAIN) {
		assert_int_equal(job.state, SMILE_PRINTER_JOB_UNCERTAIN);
		assert_non_null(strstr(e.message, "may or may not have printed"));
	} else {
		fail_msg("wait returned %s", smile_errname(err));
	}
	smile_printer_free(p);
	fake_stop(&f);
	assert_true(f.formats <= 1); /* never a second copy */
	assert_int_equal(f.connections, 1);
}

static void socket_held_in_buffer_is_stopped(void **state)
{
	struct fake f = {.paper_out_after = 1, .hold_formats = 1};
	struct smile_printer *p;
	struct smile_printer_job job;
	struct smile_error e = {0};
	(void)state;

	fake_start(&f);
	p = open_fake(&f, 0);
	assert_int_equal(smile_printer_send(p, "SW1", SMILE_LABEL_ZPL, label, sizeof(label) - 1, 1,
					    &job, &e),
			 SMILE_OK);
	assert_int_equal(smile_printer_job_wait(p, &job, &e), SMILE_ERR_PRINTER_JOB);
	assert_int_equal(job.state, SMILE_PRINTER_JOB_STOPPED);
	assert_string_equal(job.reasons, "paper out");
	assert_non_null(strstr(e.message, "1 label(s) in its buffer"));
	smile_printer_free(p);
	fake_stop(&f);
}

static void socket_refused_retries_with_backoff(void **state)
{
	struct fake f = {0};
	struct smile_printer *p;
	struct smile_printer_status st;
	struct smile_error e = {0};
	int64_t t0;
	(void)state;

	fake_start(&f); /* take a port, then free it: nothing listens there */
	fake_stop(&f);
	p = open_fake(&f, 2);
	t0 = smile_mono_ms();
	assert_int_equal(smile_printer_status(p, &st, &e), SMILE_ERR_PRINTER_UNREACHABLE);
	assert_true(smile_mono_ms() - t0 >= 700); /* 250 + 500 ms between 3 attempts */
	assert_non_null(strstr(e.message, "refused"));
	smile_printer_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hs_fields_map_to_flags),
		cmocka_unit_test(hs_malformed_is_proto),
		cmocka_unit_test(uris_parse),
		cmocka_unit_test(zpl_copies_replace_pq),
		cmocka_unit_test(socket_prints_and_follows),
		cmocka_unit_test(socket_not_ready_sends_nothing),
		cmocka_unit_test(socket_idle_close_reconnects_for_status),
		cmocka_unit_test(socket_lost_after_send_is_uncertain_never_resent),
		cmocka_unit_test(socket_held_in_buffer_is_stopped),
		cmocka_unit_test(socket_refused_retries_with_backoff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
