/* SPDX-License-Identifier: Apache-2.0 */
/* relay_start's error paths, by failure injection (issue 10 point 8).
 *
 * relay_start builds the relay in steps (allocations, per-worker locks and
 * lanes, worker threads, libmosquitto's init, the client, TLS files, the
 * network thread) and on any failure hands the half-built relay to
 * relay_stop, which must undo exactly what was done. This binary is linked
 * with -Wl,--wrap for the allocators, pthread_create, the mutex/condition
 * init/destroy pair and mosquitto_lib_init/cleanup/new (see the Makefile),
 * so the Nth call of each can fail on demand and every init can be matched
 * with its destroy. For every N until relay_start succeeds: it returns the
 * documented error, the relay is NULL, every mutex or condition it
 * initialised is destroyed and none it did not, mosquitto_lib_cleanup runs
 * exactly when mosquitto_lib_init did, and (in the sanitizer build) nothing
 * leaks. No broker is needed: the client connects in the background, and a
 * closed port only makes it retry.
 *
 * The gateway is built on an in-memory store ("sqlite:memory:NAME"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <mosquitto.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smile/log.h"
#include "../../../gateway/gateway.h"
#include "../../../gateway/relay.h"
#include "memgw.h"

/* ------------------------------------------------------------ injection */

enum site { S_ALLOC, S_THREAD, S_MOSQ_NEW, N_SITES };
static int armed;            /* count calls only while relay_start runs */
static long calls[N_SITES];  /* calls so far, per site */
static long fail_at[N_SITES]; /* 1-based call to fail; 0: none */
static long mutexes, conds;  /* inits minus destroys */
static long lib_inits;       /* mosquitto_lib_init minus cleanup */

static int inject(enum site s)
{
	if (!armed)
		return 0;
	calls[s]++;
	return fail_at[s] != 0 && calls[s] == fail_at[s];
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
int __real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
int __real_pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a);
int __real_pthread_mutex_destroy(pthread_mutex_t *m);
int __real_pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a);
int __real_pthread_cond_destroy(pthread_cond_t *c);
int __real_mosquitto_lib_init(void);
int __real_mosquitto_lib_cleanup(void);
struct mosquitto *__real_mosquitto_new(const char *id, bool clean, void *obj);

void *__wrap_malloc(size_t n);
void *__wrap_malloc(size_t n)
{
	return inject(S_ALLOC) ? NULL : __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size)
{
	return inject(S_ALLOC) ? NULL : __real_calloc(n, size);
}
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
	return inject(S_THREAD) ? 11 /* EAGAIN */ : __real_pthread_create(t, a, fn, arg);
}
int __wrap_pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a);
int __wrap_pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *a)
{
	mutexes += armed;
	return __real_pthread_mutex_init(m, a);
}
int __wrap_pthread_mutex_destroy(pthread_mutex_t *m);
int __wrap_pthread_mutex_destroy(pthread_mutex_t *m)
{
	mutexes -= armed;
	return __real_pthread_mutex_destroy(m);
}
int __wrap_pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a);
int __wrap_pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a)
{
	conds += armed;
	return __real_pthread_cond_init(c, a);
}
int __wrap_pthread_cond_destroy(pthread_cond_t *c);
int __wrap_pthread_cond_destroy(pthread_cond_t *c)
{
	conds -= armed;
	return __real_pthread_cond_destroy(c);
}
int __wrap_mosquitto_lib_init(void);
int __wrap_mosquitto_lib_init(void)
{
	lib_inits += armed;
	return __real_mosquitto_lib_init();
}
int __wrap_mosquitto_lib_cleanup(void);
int __wrap_mosquitto_lib_cleanup(void)
{
	lib_inits -= armed;
	return __real_mosquitto_lib_cleanup();
}
struct mosquitto *__wrap_mosquitto_new(const char *id, bool clean, void *obj);
struct mosquitto *__wrap_mosquitto_new(const char *id, bool clean, void *obj)
{
	return inject(S_MOSQ_NEW) ? NULL : __real_mosquitto_new(id, clean, obj);
}

/* ------------------------------------------------------------ fixture */

struct fixture {
	char dir[64];
	struct gateway g;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char name[64];
	struct gateway *g;

	if (f == NULL || sodium_init() < 0)
		return -1;
	g = &f->g;
	snprintf(f->dir, sizeof(f->dir), "/tmp/smile-relay-XXXXXX");
	if (mkdtemp(f->dir) == NULL || memgw_open(g, f->dir, "relay", name) != 0)
		return -1;
	/* a port nothing listens on: the client only retries in the background */
	snprintf(g->cfg.mqtt_host, sizeof(g->cfg.mqtt_host), "127.0.0.1");
	g->cfg.mqtt_port = 9;
	g->cfg.mqtt_password_file[0] = '\0'; /* anonymous: no secret to read */
	g->cfg.scan_workers = 3;
	smile_log_set_level(SMILE_LOG_ERROR);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[160];
	gateway_close(&f->g);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* One relay_start with call `n` of site `s` failing (0: none). Returns its
 * result; *relay is the started relay (NULL on failure). */
static enum smile_err start_failing(struct gateway *g, enum site s, long n, struct relay **relay,
				    struct smile_error *e)
{
	enum smile_err rc;
	memset(calls, 0, sizeof(calls));
	memset(fail_at, 0, sizeof(fail_at));
	fail_at[s] = n;
	mutexes = conds = lib_inits = 0;
	armed = 1;
	rc = relay_start(g, relay, e);
	armed = 0;
	return rc;
}

/* The sweep for one site: fail its 1st, 2nd, ... call until relay_start no
 * longer reaches that many; each failure must leave nothing behind. */
static void sweep(struct gateway *g, enum site s, enum smile_err expect, long *n_failures)
{
	struct smile_error e = {0};
	struct relay *r;
	enum smile_err rc;

	for (long n = 1; n < 10000; n++) {
		rc = start_failing(g, s, n, &r, &e);
		if (rc == SMILE_OK) {
			/* the site had fewer than n calls: a clean start */
			assert_non_null(r);
			if (calls[s] >= n)
				fail_msg("site %d call %ld failed, yet relay_start succeeded (%ld calls)", (int)s, n, calls[s]);
			memset(fail_at, 0, sizeof(fail_at));
			armed = 1;
			relay_stop(r);
			armed = 0;
			assert_int_equal(mutexes, 0);
			assert_int_equal(conds, 0);
			assert_int_equal(lib_inits, 0);
			return;
		}
		/* the network thread and libmosquitto's client fail as MQTT */
		if (rc != expect && rc != SMILE_ERR_MQTT)
			fail_msg("site %d call %ld: relay_start returned %d (%s)", (int)s, n, (int)rc,
				 e.message);
		assert_null(r);
		if (mutexes != 0 || conds != 0 || lib_inits != 0)
			fail_msg("site %d call %ld failed: %ld mutexes, %ld conditions, %ld "
				 "libmosquitto inits left (init minus destroy)",
				 (int)s, n, mutexes, conds, lib_inits);
		(*n_failures)++;
	}
	fail_msg("site %d: relay_start never succeeded", (int)s);
}

static void every_allocation_failure_unwinds(void **state)
{
	struct fixture *f = *state;
	long failures = 0;
	/* libmosquitto's own allocations are not ours to fail: a NULL client
	 * from mosquitto_new is tested below */
	sweep(&f->g, S_ALLOC, SMILE_ERR_NOMEM, &failures);
	/* the relay, its workers array, and per worker a ring and a lane */
	assert_true(failures >= 3 + 2 * 3);
}

static void every_thread_failure_unwinds(void **state)
{
	struct fixture *f = *state;
	long failures = 0;
	sweep(&f->g, S_THREAD, SMILE_ERR_INTERNAL, &failures);
	/* three workers' threads ("cannot start workers"), then the network
	 * thread's (SMILE_ERR_MQTT, its message checked next) */
	assert_int_equal(failures, 4);
	struct smile_error e = {0};
	struct relay *r;
	assert_int_equal(start_failing(&f->g, S_THREAD, 4, &r, &e), SMILE_ERR_MQTT);
	assert_null(r);
	assert_non_null(strstr(e.message, "MQTT thread"));
	assert_int_equal(mutexes, 0);
	assert_int_equal(conds, 0);
	assert_int_equal(lib_inits, 0);
}

static void no_client_unwinds(void **state)
{
	struct fixture *f = *state;
	struct smile_error e = {0};
	struct relay *r;
	assert_int_equal(start_failing(&f->g, S_MOSQ_NEW, 1, &r, &e), SMILE_ERR_MQTT);
	assert_null(r);
	assert_non_null(strstr(e.message, "MQTT client"));
	assert_int_equal(mutexes, 0);
	assert_int_equal(conds, 0);
	assert_int_equal(lib_inits, 0); /* cleaned up: it had been initialised */
}

static void missing_tls_file_unwinds(void **state)
{
	struct fixture *f = *state;
	struct smile_error e = {0};
	struct relay *r;
	snprintf(f->g.cfg.mqtt_cafile, sizeof(f->g.cfg.mqtt_cafile), "%s/no-such-ca.pem", f->dir);
	assert_int_equal(start_failing(&f->g, S_ALLOC, 0, &r, &e), SMILE_ERR_CONFIG);
	assert_null(r);
	assert_string_equal(e.field, "mqtt_cafile");
	assert_int_equal(mutexes, 0);
	assert_int_equal(conds, 0);
	assert_int_equal(lib_inits, 0);
}

static void relay_off_starts_nothing(void **state)
{
	struct fixture *f = *state;
	struct smile_error e = {0};
	struct relay *r = (struct relay *)&e; /* must become NULL */
	f->g.cfg.mqtt_host[0] = '\0';
	assert_int_equal(start_failing(&f->g, S_ALLOC, 0, &r, &e), SMILE_OK);
	assert_null(r);
	assert_int_equal(calls[S_ALLOC] + calls[S_THREAD], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(every_allocation_failure_unwinds, setup, teardown),
		cmocka_unit_test_setup_teardown(every_thread_failure_unwinds, setup, teardown),
		cmocka_unit_test_setup_teardown(no_client_unwinds, setup, teardown),
		cmocka_unit_test_setup_teardown(missing_tls_file_unwinds, setup, teardown),
		cmocka_unit_test_setup_teardown(relay_off_starts_nothing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
