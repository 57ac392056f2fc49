/* SPDX-License-Identifier: Apache-2.0 */
/* Per-key token buckets: burst, refill, isolation between keys, Retry-After. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "../../../gateway/ratelimit.h"

static void burst_then_refill(void **state)
{
	struct ratelimit *rl = ratelimit_new(10, 3); /* 10/s, burst 3 */
	long retry = 0;
	(void)state;
	assert_non_null(rl);
	for (int i = 0; i < 3; i++)
		assert_true(ratelimit_take(rl, "k1", 1000, &retry));
	assert_false(ratelimit_take(rl, "k1", 1000, &retry));
	assert_int_equal(retry, 1);
	assert_true(ratelimit_take(rl, "k2", 1000, &retry)); /* keys are separate */
	assert_false(ratelimit_take(rl, "k1", 1050, &retry)); /* half a token back */
	assert_true(ratelimit_take(rl, "k1", 1100, &retry));  /* one token back */
	assert_false(ratelimit_take(rl, "k1", 1100, &retry));
	/* a long pause refills only up to the burst */
	for (int i = 0; i < 3; i++)
		assert_true(ratelimit_take(rl, "k1", 100000, &retry));
	assert_false(ratelimit_take(rl, "k1", 100000, &retry));
	ratelimit_free(rl);
}

static void peek_takes_nothing(void **state)
{
	struct ratelimit *rl = ratelimit_new(1, 2); /* 1/s, burst 2 */
	long retry = 0;
	(void)state;
	assert_non_null(rl);
	for (int i = 0; i < 5; i++)
		assert_true(ratelimit_peek(rl, "ip", 1000, &retry)); /* costs nothing */
	assert_true(ratelimit_take(rl, "ip", 1000, &retry));
	assert_true(ratelimit_take(rl, "ip", 1000, &retry));
	assert_false(ratelimit_peek(rl, "ip", 1000, &retry));
	assert_int_equal(retry, 2); /* whole seconds, rounded up past the next token */
	assert_false(ratelimit_peek(rl, "ip", 1500, &retry));
	assert_true(ratelimit_peek(rl, "ip", 2000, &retry));
	ratelimit_free(rl);
}

static void zero_rate_is_unlimited_and_many_keys_fit(void **state)
{
	struct ratelimit *off = ratelimit_new(0, 1), *rl = ratelimit_new(1, 1);
	char key[32];
	long retry;
	(void)state;
	for (int i = 0; i < 1000; i++)
		assert_true(ratelimit_take(off, "k", 5, &retry));
	/* more keys than slots: every new key starts with a full bucket, and a
	 * key seen again at once is limited */
	for (int i = 0; i < 3000; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		assert_true(ratelimit_take(rl, key, 7, &retry));
		assert_false(ratelimit_take(rl, key, 7, &retry));
	}
	ratelimit_free(off);
	ratelimit_free(rl);
	ratelimit_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(burst_then_refill),
		cmocka_unit_test(peek_takes_nothing),
		cmocka_unit_test(zero_rate_is_unlimited_and_many_keys_fit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
