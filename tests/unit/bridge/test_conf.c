/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for firmware-bridge/conf.c: defaults, parsing, errors that name
 * the line and key, whole-config checks, relative paths, the written file
 * parsing back, and conf/bridge.conf.example documenting every key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../../firmware-bridge/conf.h"

#define PK "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
#define REQUIRED                                                                       \
	"key_file = dev.key\nstate_dir = state\ngateway_sign_pk = " PK "\n"           \
	"gateway_box_pk = " PK "\n"

static enum smile_err parse(struct bridge_conf *c, const char *text, struct smile_error *e)
{
	bridge_conf_defaults(c);
	return bridge_conf_parse(c, text, strlen(text), e);
}

static void defaults_and_values(void **state)
{
	struct bridge_conf c;
	struct smile_error e = {0};
	(void)state;
	assert_int_equal(parse(&c, REQUIRED "mqtt_port = 8883   # TLS\n\n  # comment\n"
					    "event = delivered\ninput = serial:/dev/ttyS1@115200\r\n",
			       &e),
			 SMILE_OK);
	assert_string_equal(c.key_file, "dev.key");
	assert_int_equal(c.mqtt_port, 8883);
	assert_string_equal(c.mqtt_host, "127.0.0.1"); /* default kept */
	assert_int_equal(c.queue_max, 10000);
	assert_string_equal(c.input, "serial:/dev/ttyS1@115200");
	assert_string_equal(c.event, "delivered");
	assert_int_equal(bridge_conf_check(&c, &e), SMILE_OK);
}

static void errors_name_line_and_key(void **state)
{
	struct bridge_conf c;
	struct smile_error e = {0};
	(void)state;
	assert_int_equal(parse(&c, "mqtt_port = 8883\nmqtt_prot = 1\n", &e), SMILE_ERR_CONFIG);
	assert_string_equal(e.field, "line 2");
	assert_non_null(strstr(e.message, "unknown key"));
	assert_int_equal(c.mqtt_port, 1883); /* unchanged on error */

	assert_int_equal(parse(&c, "\nqueue_max = 0\n", &e), SMILE_ERR_CONFIG);
	assert_string_equal(e.field, "line 2: queue_max");
	assert_non_null(strstr(e.message, "outside"));
	assert_int_equal(parse(&c, "mqtt_port = 18x\n", &e), SMILE_ERR_CONFIG);
	assert_string_equal(e.message, "not a whole number");
	assert_int_equal(parse(&c, "event = a\nevent = b\n", &e), SMILE_ERR_CONFIG);
	assert_string_equal(e.field, "line 2: event");
	assert_int_equal(parse(&c, "just words\n", &e), SMILE_ERR_CONFIG);
}

static void check_catches_whole_config_mistakes(void **state)
{
	struct bridge_conf c;
	struct smile_error e = {0};
	(void)state;
	assert_int_equal(parse(&c, "mqtt_port = 1\n", &e), SMILE_OK);
	assert_int_equal(bridge_conf_check(&c, &e), SMILE_ERR_CONFIG);
	assert_string_equal(e.field, "key_file");

	assert_int_equal(parse(&c, REQUIRED "gateway_box_pk = AAAA\n", &e), SMILE_ERR_CONFIG);
	assert_int_equal(parse(&c, "key_file = k\nstate_dir = s\ngateway_sign_pk = " PK
				   "\ngateway_box_pk = AAAA\n", &e), SMILE_OK);
	assert_int_equal(bridge_conf_check(&c, &e), SMILE_ERR_CONFIG);
	assert_string_equal(e.field, "gateway_box_pk");

	assert_int_equal(parse(&c, REQUIRED "event = teleported\n", &e), SMILE_OK);
	assert_int_equal(bridge_conf_check(&c, &e), SMILE_ERR_CONFIG);
	assert_string_equal(e.field, "event");
	assert_int_equal(parse(&c, REQUIRED "input = serial:/dev/ttyS0@1234\n", &e), SMILE_OK);
	assert_int_equal(bridge_conf_check(&c, &e), SMILE_ERR_CONFIG);
	assert_string_equal(e.field, "input");
	assert_non_null(strstr(e.message, "9600"));
	assert_int_equal(parse(&c, REQUIRED "input = evdev:event3\n", &e), SMILE_OK);
	assert_int_equal(bridge_conf_check(&c, &e), SMILE_ERR_CONFIG);
	assert_int_equal(parse(&c, REQUIRED "output = tcp:1\n", &e), SMILE_OK);
	assert_int_equal(bridge_conf_check(&c, &e), SMILE_ERR_CONFIG);
	assert_string_equal(e.field, "output");
	assert_int_equal(parse(&c, REQUIRED "retry_initial_ms = 5000\nretry_max_ms = 1000\n", &e),
			 SMILE_OK);
	assert_int_equal(bridge_conf_check(&c, &e), SMILE_ERR_CONFIG);
	assert_int_equal(parse(&c, REQUIRED "mqtt_keyfile = k.pem\n", &e), SMILE_OK);
	assert_int_equal(bridge_conf_check(&c, &e), SMILE_ERR_CONFIG);
	assert_int_equal(parse(&c, REQUIRED "mqtt_cafile = ca.pem\nmqtt_certfile = c.pem\n"
					    "mqtt_keyfile = k.pem\n", &e),
			 SMILE_OK);
	assert_int_equal(bridge_conf_check(&c, &e), SMILE_OK);
	assert_int_equal(parse(&c, REQUIRED "log_level = loud\n", &e), SMILE_OK);
	assert_int_equal(bridge_conf_check(&c, &e), SMILE_ERR_CONFIG);
	assert_int_equal(parse(&c, REQUIRED "location = 91,0\n", &e), SMILE_OK);
	assert_int_equal(bridge_conf_check(&c, &e), SMILE_ERR_CONFIG);
	assert_string_equal(e.field, "location");
}

static void location_is_parsed_to_microdegrees(void **state)
{
	struct smile_location l;
	struct smile_error e = {0};
	(void)state;
	assert_int_equal(bridge_conf_location("30.593099,114.305393,15", &l, &e), SMILE_OK);
	assert_int_equal(l.lat_e6, 30593099);
	assert_int_equal(l.lon_e6, 114305393);
	assert_int_equal(l.accuracy_m, 15);
	assert_int_equal(bridge_conf_location("-33.8688, 151.2093", &l, &e), SMILE_OK);
	assert_int_equal(l.lat_e6, -33868800);
	assert_int_equal(l.accuracy_m, 0);
	assert_int_equal(bridge_conf_location("1", &l, &e), SMILE_ERR_CONFIG);
	assert_int_equal(bridge_conf_location("1,2,3,4", &l, &e), SMILE_ERR_CONFIG);
	assert_int_equal(bridge_conf_location("1,181", &l, &e), SMILE_ERR_CONFIG);
	assert_int_equal(bridge_conf_location("nan,1", &l, &e), SMILE_ERR_CONFIG);
	assert_int_equal(bridge_conf_location("1,2,-1", &l, &e), SMILE_ERR_CONFIG);
}

static void load_resolves_relative_paths_and_round_trips(void **state)
{
	char dir[] = "/tmp/smile-conf-XXXXXX", path[256], again[256];
	struct bridge_conf c, d;
	struct smile_error e = {0};
	FILE *f;
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/bridge.conf", dir);
	f = fopen(path, "w");
	fputs(REQUIRED "output = unix:ui.sock\nmqtt_cafile = /etc/ca.pem\n", f);
	fclose(f);
	bridge_conf_defaults(&c);
	assert_int_equal(bridge_conf_load(&c, path, &e), SMILE_OK);
	snprintf(again, sizeof(again), "%s/dev.key", dir);
	assert_string_equal(c.key_file, again);
	snprintf(again, sizeof(again), "%s/state", dir);
	assert_string_equal(c.state_dir, again);
	snprintf(again, sizeof(again), "unix:%s/ui.sock", dir);
	assert_string_equal(c.output, again);
	assert_string_equal(c.mqtt_cafile, "/etc/ca.pem");

	/* what configure writes parses back to the same settings */
	snprintf(again, sizeof(again), "%s/written.conf", dir);
	f = fopen(again, "w");
	bridge_conf_write(&c, f);
	fclose(f);
	bridge_conf_defaults(&d);
	assert_int_equal(bridge_conf_load(&d, again, &e), SMILE_OK);
	assert_memory_equal(&c, &d, sizeof(c));

	bridge_conf_defaults(&d);
	assert_int_equal(bridge_conf_load(&d, "/nonexistent/bridge.conf", &e), SMILE_ERR_NOT_FOUND);
	unlink(path);
	unlink(again);
	rmdir(dir);
}

/* conf/bridge.conf.example must parse and mention every key configure writes. */
static void example_documents_every_key(void **state)
{
	const char *root = getenv("SMILE_ROOT");
	char path[512], text[16384], written[16384];
	struct bridge_conf c;
	struct smile_error e = {0};
	size_t n;
	FILE *f;
	(void)state;
	snprintf(path, sizeof(path), "%s/conf/bridge.conf.example", root ? root : ".");
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	bridge_conf_defaults(&c);
	assert_int_equal(bridge_conf_parse(&c, text, n, &e), SMILE_OK);
	assert_int_equal(bridge_conf_check(&c, &e), SMILE_OK);

	bridge_conf_defaults(&c);
	f = fmemopen(written, sizeof(written), "w");
	bridge_conf_write(&c, f);
	fclose(f);
	for (char *line = written; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		char key[64];
		if (*line == '#' || *line == '\n' || sscanf(line, "%63s =", key) != 1)
			continue;
		char pat[80];
		snprintf(pat, sizeof(pat), "\n%s =", key);
		char pat2[80];
		snprintf(pat2, sizeof(pat2), "\n# %s =", key);
		if (strstr(text, pat) == NULL && strstr(text, pat2) == NULL)
			fail_msg("conf/bridge.conf.example does not document '%s'", key);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_and_values),
		cmocka_unit_test(errors_name_line_and_key),
		cmocka_unit_test(check_catches_whole_config_mistakes),
		cmocka_unit_test(location_is_parsed_to_microdegrees),
		cmocka_unit_test(load_resolves_relative_paths_and_round_trips),
		cmocka_unit_test(example_documents_every_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
