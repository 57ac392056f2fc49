/* SPDX-License-Identifier: Apache-2.0 */
/*
 * connguard.c - absolute deadlines for slow HTTP requests (connguard.h).
 *
 * One idea: a connection's progress is a single atomic word, (phase, since),
 * that the connection's own thread moves forward with a compare-and-swap and
 * the reaper moves to CONN_CUT with one; whoever swaps first wins, so a
 * request that completes at its deadline is either handled or cut, never
 * both. The list of connections changes only under the mutex, and the reaper
 * calls shutdown(2) only under it: libmicrohttpd reports "closed" (and we
 * unlink the track) before it closes the descriptor, so the reaper never
 * shuts down a descriptor number that has been reused.
 */
#include "connguard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smile/clock.h"
#include "smile/log.h"
#include "metrics.h"

#define REAP_EVERY_MS 250
#define LOG_MAX_PER_SWEEP 32 /* more cuts than this in one sweep: one summary line */
/* TCP_INFO's last-receive age has jiffy resolution; within this much of the
 * start of a wait, a byte counts as part of what came before. */
#define KERNEL_SLACK_MS 20

struct conn_track {
	struct conn_track *prev, *next; /* under the guard's mutex */
	int fd;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	_Atomic uint64_t state;      /* since_ms << 3 | phase */
	_Atomic uint64_t body_bytes; /* of the current request */
};

struct connguard {
	struct connguard_limits lim;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct conn_track head; /* sentinel of a circular list */
	int stop;
	pthread_t reaper;
};

#define PHASE_BITS 3u
#define PHASE_MASK ((1u << PHASE_BITS) - 1u)

static uint64_t pack(int64_t since_ms, enum conn_phase p)
{
	return ((uint64_t)since_ms << PHASE_BITS) | (uint64_t)p;
}

static enum conn_phase phase_of(uint64_t st)
{
	return (enum conn_phase)(st & PHASE_MASK);
}

static int64_t since_of(uint64_t st)
{
	return (int64_t)(st >> PHASE_BITS);
}

int64_t connguard_now_ms(void)
{
	return smile_mono_ms();
}

enum conn_verdict connguard_judge(const struct connguard_limits *lim, enum conn_phase phase,
				  int64_t since_ms, uint64_t body_bytes, int64_t now_ms)
{
	int64_t age = now_ms - since_ms;
	switch (phase) {
	case CONN_WAIT:
		return age >= lim->header_ms ? CONN_ASK_KERNEL : CONN_KEEP;
	case CONN_HEADERS:
		return age >= lim->header_ms ? CONN_EXPIRED : CONN_KEEP;
	case CONN_BODY: {
		/* one more second per body_min_rate bytes, as mod_reqtimeout's
		 * MinRate; capped so the sum cannot overflow */
		uint64_t rate = lim->body_min_rate > 0 ? (uint64_t)lim->body_min_rate : 1;
		uint64_t extra_s = body_bytes / rate;
		int64_t allowed = lim->body_ms + (int64_t)(extra_s > 86400000u ? 86400000u : extra_s) * 1000;
		return age >= allowed ? CONN_EXPIRED : CONN_KEEP;
	}
	case CONN_BUSY:
	case CONN_CUT:
		break;
	}
	return CONN_KEEP;
}

/* Did any byte arrive on `fd` in the last `age_ms`? Asks the kernel when the
 * last data segment came in; when it cannot tell, says yes (the caller then
 * cuts a connection that has waited a whole header_ms anyway). */
static int bytes_arrived_within(int fd, int64_t age_ms)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
	    len < offsetof(struct tcp_info, tcpi_last_data_recv) + sizeof(ti.tcpi_last_data_recv))
		return 1;
	return (int64_t)ti.tcpi_last_data_recv + KERNEL_SLACK_MS < age_ms;
}

struct cut {
	char peer[INET6_ADDRSTRLEN];
	enum conn_phase phase;
	int64_t after_ms;
	uint64_t body_bytes;
};

static void peer_string(const struct conn_track *t, char out[INET6_ADDRSTRLEN])
{
	const void *a = NULL;
	int af = t->peer.ss_family;
	if (af == AF_INET && t->peer_len >= sizeof(struct sockaddr_in))
		a = &((const struct sockaddr_in *)(const void *)&t->peer)->sin_addr;
	else if (af == AF_INET6 && t->peer_len >= sizeof(struct sockaddr_in6))
		a = &((const struct sockaddr_in6 *)(const void *)&t->peer)->sin6_addr;
	if (a == NULL || inet_ntop(af, a, out, INET6_ADDRSTRLEN) == NULL)
		snprintf(out, INET6_ADDRSTRLEN, "unknown");
}

static const char *phase_name(enum conn_phase p)
{
	switch (p) {
	case CONN_WAIT:
		return "request_line";
	case CONN_HEADERS:
		return "headers";
	case CONN_BODY:
		return "body";
	case CONN_BUSY:
		return "busy";
	case CONN_CUT:
		return "cut";
	}
	return "unknown";
}

/* One pass over every connection. Returns how many were cut; the first
 * LOG_MAX_PER_SWEEP are described in cuts[]. */
static size_t sweep(struct connguard *g, int64_t now, struct cut *cuts, size_t max)
{
	size_t n = 0;
	for (struct conn_track *t = g->head.next; t != &g->head; t = t->next) {
		uint64_t st = atomic_load(&t->state);
		enum conn_phase ph = phase_of(st);
		int64_t since = since_of(st);
		uint64_t body = atomic_load(&t->body_bytes);
		enum conn_verdict v = connguard_judge(&g->lim, ph, since, body, now);

		if (v == CONN_KEEP)
			continue;
		if (v == CONN_ASK_KERNEL && !bytes_arrived_within(t->fd, now - since)) {
			/* idle: the wait starts over (the idle timeout closes it) */
			atomic_compare_exchange_strong(&t->state, &st, pack(now, CONN_WAIT));
			continue;
		}
		if (!atomic_compare_exchange_strong(&t->state, &st, pack(since, CONN_CUT)))
			continue; /* it moved on meanwhile: judged again next sweep */
		shutdown(t->fd, SHUT_RDWR);
		if (n < max) {
			peer_string(t, cuts[n].peer);
			cuts[n].phase = ph;
			cuts[n].after_ms = now - since;
			cuts[n].body_bytes = ph == CONN_BODY ? body : 0;
		}
		n++;
	}
	return n;
}

static void *reaper_main(void *arg)
{
	struct connguard *g = arg;
	struct cut cuts[LOG_MAX_PER_SWEEP];

	pthread_mutex_lock(&g->lock);
	while (!g->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += REAP_EVERY_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&g->wake, &g->lock, &ts);
		if (g->stop)
			break;
		size_t n = sweep(g, connguard_now_ms(), cuts, LOG_MAX_PER_SWEEP);
		if (n == 0)
			continue;
		/* log with the lock released: connections come and go meanwhile */
		pthread_mutex_unlock(&g->lock);
		smile_metrics_add(SMILE_COUNTER_HTTP_SLOW_CUTS, n);
		for (size_t i = 0; i < n && i < LOG_MAX_PER_SWEEP; i++)
			smile_log(SMILE_LOG_WARN, "http.slow_request_cut", SMILE_KV_ID("peer", cuts[i].peer),
				  SMILE_KV_ID("phase", phase_name(cuts[i].phase)),
				  SMILE_KV_INT("after_ms", cuts[i].after_ms),
				  SMILE_KV_INT("body_bytes", (long long)cuts[i].body_bytes));
		if (n > LOG_MAX_PER_SWEEP)
			smile_log(SMILE_LOG_WARN, "http.slow_request_cut_more",
				  SMILE_KV_INT("unlogged", (long long)(n - LOG_MAX_PER_SWEEP)));
		pthread_mutex_lock(&g->lock);
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

enum smile_err connguard_new(const struct connguard_limits *lim, struct connguard **out)
{
	struct connguard *g = calloc(1, sizeof(*g));
	pthread_condattr_t ca;

	*out = NULL;
	if (g == NULL)
		return SMILE_ERR_NOMEM;
	g->lim = *lim;
	g->head.next = g->head.prev = &g->head;
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&g->reaper, NULL, reaper_main, g) != 0) {
		pthread_cond_destroy(&g->wake);
		pthread_mutex_destroy(&g->lock);
		free(g);
		return SMILE_ERR_INTERNAL;
	}
	*out = g;
	return SMILE_OK;
}

void connguard_free(struct connguard *g)
{
	if (g == NULL)
		return;
	pthread_mutex_lock(&g->lock);
	g->stop = 1;
	pthread_cond_signal(&g->wake);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->reaper, NULL);
	while (g->head.next != &g->head) {
		struct conn_track *t = g->head.next;
		t->next->prev = t->prev;
		t->prev->next = t->next;
		free(t);
	}
	pthread_cond_destroy(&g->wake);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

struct conn_track *connguard_open(struct connguard *g, int fd, const struct sockaddr *peer,
				  socklen_t peer_len)
{
	struct conn_track *t;
	if (g == NULL || fd < 0)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->fd = fd;
	if (peer && peer_len > 0 && (size_t)peer_len <= sizeof(t->peer)) {
		memcpy(&t->peer, peer, (size_t)peer_len);
		t->peer_len = peer_len;
	}
	atomic_init(&t->state, pack(connguard_now_ms(), CONN_WAIT));
	atomic_init(&t->body_bytes, 0);
	pthread_mutex_lock(&g->lock);
	t->next = &g->head;
	t->prev = g->head.prev;
	g->head.prev->next = t;
	g->head.prev = t;
	pthread_mutex_unlock(&g->lock);
	return t;
}

void connguard_close(struct connguard *g, struct conn_track *t)
{
	if (g == NULL || t == NULL)
		return;
	pthread_mutex_lock(&g->lock);
	t->next->prev = t->prev;
	t->prev->next = t->next;
	pthread_mutex_unlock(&g->lock);
	free(t);
}

int conn_track_enter(struct conn_track *t, enum conn_phase phase)
{
	uint64_t st, next;
	if (t == NULL)
		return 1;
	if (phase == CONN_BODY)
		atomic_store(&t->body_bytes, 0);
	next = pack(connguard_now_ms(), phase);
	st = atomic_load(&t->state);
	do {
		if (phase_of(st) == CONN_CUT)
			return 0;
	} while (!atomic_compare_exchange_weak(&t->state, &st, next));
	return 1;
}

void conn_track_body(struct conn_track *t, uint64_t total)
{
	if (t)
		atomic_store_explicit(&t->body_bytes, total, memory_order_relaxed);
}
