/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for gateway/webhook.c: the signature against a vector computed
 * independently (Python's hmac, docs/webhooks.md), sealed secrets (open,
 * bound to their endpoint, tamper-evident), the address rule over every
 * range it refuses and the allow list, URL checks, the retry schedule's
 * bounds and the event filter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../../gateway/webhook.h"

/* hmac.new(b"whsec_test", b"1700000000." + b'{"a":1}', hashlib.sha256).hexdigest() */
static void sign_vector(void **state)
{
	char sig[WEBHOOK_SIG_MAX];
	(void)state;
	webhook_sign("whsec_test", 1700000000, "{\"a\":1}", 7, sig);
	assert_string_equal(sig, "t=1700000000,v1="
				 "38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789");
	/* one byte of the body changes everything */
	webhook_sign("whsec_test", 1700000000, "{\"a\":2}", 7, sig);
	assert_null(strstr(sig, "38877139"));
}

static void secret_format(void **state)
{
	char a[WEBHOOK_SECRET_MAX], b[WEBHOOK_SECRET_MAX];
	(void)state;
	webhook_secret_new(a);
	webhook_secret_new(b);
	assert_int_equal(strlen(a), 6 + 43);
	assert_memory_equal(a, "whsec_", 6);
	assert_string_not_equal(a, b);
}

static void secret_sealed(void **state)
{
	char dir[] = "/tmp/test_webhook.XXXXXX", sealed[SMILE_STORE_SEALED_MAX],
	     out[WEBHOOK_SECRET_MAX], secret[WEBHOOK_SECRET_MAX];
	struct smile_keys *k = NULL;
	struct smile_error e = {0};
	(void)state;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(smile_keys_create(dir, &e), SMILE_OK);
	assert_int_equal(smile_keys_load(dir, &k, &e), SMILE_OK);
	webhook_secret_new(secret);
	assert_int_equal(webhook_secret_seal(k, "wh_1", secret, sealed), SMILE_OK);
	assert_null(strstr(sealed, secret + 6)); /* not stored in the clear */
	assert_int_equal(webhook_secret_open(k, "wh_1", sealed, out), SMILE_OK);
	assert_string_equal(out, secret);
	/* bound to its endpoint */
	assert_int_equal(webhook_secret_open(k, "wh_2", sealed, out), SMILE_ERR_DECRYPT);
	/* tampered */
	sealed[60] = sealed[60] == '0' ? '1' : '0';
	assert_int_equal(webhook_secret_open(k, "wh_1", sealed, out), SMILE_ERR_DECRYPT);
	assert_int_equal(webhook_secret_open(k, "wh_1", "zz", out), SMILE_ERR_DECRYPT);
	smile_keys_free(k);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static int private_text(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else
		fail_msg("bad test address %s", ip);
	return webhook_addr_private((struct sockaddr *)&ss);
}

static int allowed_text(const struct webhook_allow *a, const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	return webhook_addr_allowed(a, (struct sockaddr *)&ss);
}

static void address_rule(void **state)
{
	static const char *const refused[] = {
		"0.0.0.0", "127.0.0.1", "127.255.255.254", "10.0.0.1", "172.16.0.1",
		"172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1", "224.0.0.1",
		"239.255.255.250", "255.255.255.255", "240.0.0.1", "198.18.0.1", "192.0.2.1",
		"::", "::1", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1",
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
		"64:ff9b::a9fe:a9fe", "2001:db8::1", "::127.0.0.1",
	};
	static const char *const public_[] = {
		"1.1.1.1", "8.8.8.8", "172.32.0.1", "172.15.255.255", "100.128.0.1",
		"192.169.0.1", "2606:4700:4700::1111", "2001:4860:4860::8888", "::ffff:8.8.8.8",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (!private_text(refused[i]))
			fail_msg("%s should be refused", refused[i]);
	for (size_t i = 0; i < sizeof(public_) / sizeof(public_[0]); i++)
		if (private_text(public_[i]))
			fail_msg("%s should be public", public_[i]);
}

static void allow_list(void **state)
{
	struct webhook_allow a;
	struct smile_error e = {0};
	(void)state;

	assert_int_equal(webhook_allow_parse("false", &a, &e), SMILE_OK);
	assert_false(allowed_text(&a, "127.0.0.1"));
	assert_true(allowed_text(&a, "8.8.8.8"));
	assert_int_equal(webhook_allow_parse("true", &a, &e), SMILE_OK);
	assert_true(allowed_text(&a, "10.0.0.1"));
	assert_int_equal(webhook_allow_parse("127.0.0.0/8, ::1/128", &a, &e), SMILE_OK);
	assert_int_equal(a.n, 2);
	assert_true(allowed_text(&a, "127.0.0.1"));
	assert_true(allowed_text(&a, "::1"));
	assert_false(allowed_text(&a, "10.0.0.1"));
	assert_false(allowed_text(&a, "169.254.169.254"));
	assert_false(allowed_text(&a, "::2"));
	assert_int_equal(webhook_allow_parse("10.1.0.0/16", &a, &e), SMILE_OK);
	assert_true(allowed_text(&a, "10.1.200.3"));
	assert_false(allowed_text(&a, "10.2.0.1"));
	assert_int_equal(webhook_allow_parse("10.0.0.0/33", &a, &e), SMILE_ERR_CONFIG);
	assert_string_equal(e.field, "webhook_allow_private");
	assert_int_equal(webhook_allow_parse("yes", &a, &e), SMILE_ERR_CONFIG);
}

static void url_rules(void **state)
{
	struct webhook_allow none, lo;
	struct smile_error e = {0};
	(void)state;
	assert_int_equal(webhook_allow_parse("false", &none, &e), SMILE_OK);
	assert_int_equal(webhook_allow_parse("127.0.0.0/8", &lo, &e), SMILE_OK);

	assert_int_equal(webhook_url_check("http://127.0.0.1:9/x", 0, &lo, &e), SMILE_ERR_FIELD_VALUE);
	assert_non_null(strstr(e.message, "https"));
	assert_int_equal(webhook_url_check("http://127.0.0.1:9/x", 1, &lo, &e), SMILE_OK);
	assert_int_equal(webhook_url_check("https://127.0.0.1:9/x", 0, &none, &e),
			 SMILE_ERR_FIELD_VALUE);
	assert_non_null(strstr(e.message, "loopback"));
	assert_int_equal(webhook_url_check("https://localhost/x", 0, &none, &e), SMILE_ERR_FIELD_VALUE);
	assert_int_equal(webhook_url_check("https://[::1]/x", 0, &none, &e), SMILE_ERR_FIELD_VALUE);
	assert_int_equal(webhook_url_check("https://169.254.169.254/latest", 0, &lo, &e),
			 SMILE_ERR_FIELD_VALUE);
	assert_int_equal(webhook_url_check("ftp://127.0.0.1/x", 1, &lo, &e), SMILE_ERR_FIELD_VALUE);
	assert_int_equal(webhook_url_check("https://u:p@127.0.0.1/x", 0, &lo, &e),
			 SMILE_ERR_FIELD_VALUE);
	assert_non_null(strstr(e.message, "credentials"));
	assert_null(strstr(e.message, "u:p")); /* never echoed */
	assert_int_equal(webhook_url_check("not a url", 1, &lo, &e), SMILE_ERR_FIELD_VALUE);
}

static void backoff(void **state)
{
	(void)state;
	/* d = base * 2^(n-1) capped, then within [d/2, d] */
	for (uint32_t n = 1; n <= 40; n++) {
		int64_t d = 1000;
		for (uint32_t i = 1; i < n && d < 3600000; i++)
			d *= 2;
		if (d > 3600000)
			d = 3600000;
		for (uint32_t r = 0; r < 2000; r += 97) {
			int64_t v = webhook_backoff_ms(n, 1000, 3600000, r * 2654435761u);
			assert_true(v >= d / 2 && v <= d);
		}
	}
	/* jitter: the whole upper half is reachable */
	assert_int_equal(webhook_backoff_ms(3, 1000, 3600000, 0), 2000);
	assert_int_equal(webhook_backoff_ms(3, 1000, 3600000, 2000), 4000);
	/* huge attempt counts do not overflow */
	assert_true(webhook_backoff_ms(4000000000u, 1000, 3600000, 5) <= 3600000);
}

static void filters(void **state)
{
	(void)state;
	assert_true(webhook_filter_valid("*"));
	assert_true(webhook_filter_valid("delivered"));
	assert_true(webhook_filter_valid("created,pickup,out_for_delivery,erased"));
	assert_false(webhook_filter_valid(""));
	assert_false(webhook_filter_valid("delivered,delivered"));
	assert_false(webhook_filter_valid("deliver"));
	assert_false(webhook_filter_valid("delivered,"));
	assert_false(webhook_filter_valid("*,delivered"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sign_vector),	cmocka_unit_test(secret_format),
		cmocka_unit_test(secret_sealed), cmocka_unit_test(address_rule),
		cmocka_unit_test(allow_list),	cmocka_unit_test(url_rules),
		cmocka_unit_test(backoff),	cmocka_unit_test(filters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
