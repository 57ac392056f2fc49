/* SPDX-License-Identifier: Apache-2.0 */
/* The slow-request guard: its deadlines, and tracks moving through phases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../../gateway/connguard.h"
#include "../../../gateway/metrics.h"

static void guard_deadlines(void **state)
{
	const struct connguard_limits lim = {.header_ms = 10000, .body_ms = 20000,
					     .body_min_rate = 1000};
	(void)state;
	/* waiting for a request: only past header_ms is the kernel asked */
	assert_int_equal(connguard_judge(&lim, CONN_WAIT, 0, 0, 9999), CONN_KEEP);
	assert_int_equal(connguard_judge(&lim, CONN_WAIT, 0, 0, 10000), CONN_ASK_KERNEL);
	/* headers: an absolute deadline, whatever has arrived */
	assert_int_equal(connguard_judge(&lim, CONN_HEADERS, 5000, 0, 14999), CONN_KEEP);
	assert_int_equal(connguard_judge(&lim, CONN_HEADERS, 5000, 0, 15000), CONN_EXPIRED);
	assert_int_equal(connguard_judge(&lim, CONN_HEADERS, 5000, 1u << 30, 15000), CONN_EXPIRED);
	/* body: body_ms plus a second per body_min_rate bytes */
	assert_int_equal(connguard_judge(&lim, CONN_BODY, 0, 999, 20000), CONN_EXPIRED);
	assert_int_equal(connguard_judge(&lim, CONN_BODY, 0, 1000, 20999), CONN_KEEP);
	assert_int_equal(connguard_judge(&lim, CONN_BODY, 0, 1000, 21000), CONN_EXPIRED);
	assert_int_equal(connguard_judge(&lim, CONN_BODY, 0, 8u << 20, 8000000), CONN_KEEP);
	assert_int_equal(connguard_judge(&lim, CONN_BODY, 0, UINT64_MAX, INT64_MAX / 2),
			 CONN_EXPIRED); /* no overflow into "forever" */
	/* a request being handled or answered is never cut */
	assert_int_equal(connguard_judge(&lim, CONN_BUSY, 0, 0, INT64_MAX / 2), CONN_KEEP);
	assert_int_equal(connguard_judge(&lim, CONN_CUT, 0, 0, INT64_MAX / 2), CONN_KEEP);
}

static void guard_tracks(void **state)
{
	const struct connguard_limits lim = {.header_ms = 60000, .body_ms = 60000,
					     .body_min_rate = 1};
	struct connguard *g = NULL;
	struct conn_track *t;
	(void)state;
	assert_int_equal(connguard_new(&lim, &g), SMILE_OK);
	assert_null(connguard_open(g, -1, NULL, 0));
	t = connguard_open(g, 0, NULL, 0);
	assert_non_null(t);
	assert_int_equal(conn_track_enter(t, CONN_HEADERS), 1);
	assert_int_equal(conn_track_enter(t, CONN_BODY), 1);
	conn_track_body(t, 10);
	assert_int_equal(conn_track_enter(t, CONN_BUSY), 1);
	assert_int_equal(conn_track_enter(t, CONN_WAIT), 1);
	assert_int_equal(conn_track_enter(NULL, CONN_BUSY), 1);
	connguard_close(g, t);
	connguard_close(g, NULL);
	/* tracks still open when the guard goes are freed with it */
	assert_non_null(connguard_open(g, 0, NULL, 0));
	connguard_free(g);
	connguard_free(NULL);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* A connected loopback TCP pair: *srv is the server's end. */
static void tcp_pair(int *cli, int *srv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &len), 0);
	*cli = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(*cli, (struct sockaddr *)&sa, sizeof(sa)), 0);
	*srv = accept(l, NULL, NULL);
	assert_true(*srv >= 0);
	close(l);
}

/* The reaper itself: a trickled request is shut down at its deadline and
 * counted, and the connection's thread then learns it was cut; an idle
 * connection is left alone. */
static void reaper_cuts_trickles_not_idlers(void **state)
{
	const struct connguard_limits lim = {.header_ms = 300, .body_ms = 300,
					     .body_min_rate = 1000};
	struct connguard *g = NULL;
	struct conn_track *idle, *trickle, *headers;
	int ci, si, ct, st, ch, sh;
	char c;
	uint64_t cuts0 = smile_metrics_get(SMILE_COUNTER_HTTP_SLOW_CUTS);
	(void)state;

	tcp_pair(&ci, &si);
	tcp_pair(&ct, &st);
	tcp_pair(&ch, &sh);
	assert_int_equal(connguard_new(&lim, &g), SMILE_OK);
	idle = connguard_open(g, si, NULL, 0);
	trickle = connguard_open(g, st, NULL, 0);
	headers = connguard_open(g, sh, NULL, 0);
	assert_int_equal(conn_track_enter(headers, CONN_HEADERS), 1);
	sleep_ms(100);
	assert_int_equal(write(ct, "G", 1), 1); /* a request's first byte, no more */
	sleep_ms(900);
	/* cut: reading the server's end finds the shutdown (after the byte
	 * that came); moving on fails */
	assert_int_equal(read(st, &c, 1), 1);
	assert_int_equal(read(st, &c, 1), 0);
	assert_int_equal(conn_track_enter(trickle, CONN_HEADERS), 0);
	assert_int_equal(read(sh, &c, 1), 0);
	assert_int_equal(conn_track_enter(headers, CONN_BODY), 0);
	assert_int_equal(conn_track_enter(headers, CONN_WAIT), 0); /* stays cut */
	assert_int_equal(smile_metrics_get(SMILE_COUNTER_HTTP_SLOW_CUTS) - cuts0, 2);
	/* the idle one is untouched and may start a request */
	assert_int_equal(conn_track_enter(idle, CONN_HEADERS), 1);
	assert_int_equal(conn_track_enter(idle, CONN_BUSY), 1);
	connguard_close(g, idle);
	connguard_close(g, trickle);
	connguard_close(g, headers);
	connguard_free(g);
	close(ci), close(si), close(ct), close(st), close(ch), close(sh);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(guard_deadlines),
		cmocka_unit_test(guard_tracks),
		cmocka_unit_test(reaper_cuts_trickles_not_idlers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
