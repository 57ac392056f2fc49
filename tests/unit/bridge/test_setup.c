/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for what prepares a handheld: the key file on disk
 * (keyfile.c: 0600, never overwritten, refused when others may read it,
 * damage detected) and the gateway's GET /v1/gateway answer (gwinfo.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../../firmware-bridge/gwinfo.h"
#include "../../../firmware-bridge/keyfile.h"

#define PK1 "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
#define PK2 "NYBy1jZYgNGu6jKa35EhODhR7SGijjt16WXQ0s0WYlQ="

static void key_file_life(void **state)
{
	char dir[] = "/tmp/smile-key-XXXXXX", path[128];
	struct smile_device_keys k, back;
	struct smile_error e = {0};
	struct stat st;
	FILE *f;
	(void)state;
	assert_int_equal(smile_proto_init(), SMILE_OK);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/dev.key", dir);
	assert_int_equal(smile_device_keygen("courier-01", &k, NULL), SMILE_OK);
	umask(022);
	assert_int_equal(bridge_keyfile_write(path, &k, &e), SMILE_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, SMILE_DEVICE_KEYFILE_BYTES);
	assert_int_equal(bridge_keyfile_read(path, &back, &e), SMILE_OK);
	assert_memory_equal(&k, &back, sizeof(k));

	/* never overwritten */
	assert_int_equal(bridge_keyfile_write(path, &k, &e), SMILE_ERR_EXISTS);
	assert_int_equal(bridge_keyfile_read(path, &back, &e), SMILE_OK);
	assert_memory_equal(&k, &back, sizeof(k));

	/* readable by others: refused, naming the fix */
	chmod(path, 0640);
	assert_int_equal(bridge_keyfile_read(path, &back, &e), SMILE_ERR_PERMISSION);
	assert_non_null(strstr(e.message, "chmod 600"));
	chmod(path, 0600);

	/* damaged: one byte of the secret */
	f = fopen(path, "r+b");
	fseek(f, 50, SEEK_SET);
	fputc(0x55 ^ fgetc(f), f);
	fclose(f);
	assert_int_equal(bridge_keyfile_read(path, &back, &e), SMILE_ERR_INVALID);
	assert_non_null(strstr(e.field, "checksum"));
	/* truncated */
	assert_int_equal(truncate(path, 100), 0);
	assert_int_equal(bridge_keyfile_read(path, &back, &e), SMILE_ERR_INVALID);
	unlink(path);
	assert_int_equal(bridge_keyfile_read(path, &back, &e), SMILE_ERR_NOT_FOUND);
	assert_int_equal(bridge_keyfile_read(dir, &back, &e), SMILE_ERR_INVALID); /* a directory */
	rmdir(dir);
}

static enum smile_err gw(const char *json, struct bridge_gwinfo *g, struct smile_error *e)
{
	return bridge_gwinfo_parse(json, strlen(json), g, e);
}

static void gateway_answer(void **state)
{
	struct bridge_gwinfo g;
	struct smile_error e = {0};
	(void)state;
	assert_int_equal(gw("{\"protocol\":1,\"sign_pk\":\"" PK1 "\",\"box_pk\":\"" PK2
			    "\",\"mqtt\":{\"host\":\"broker.example\",\"port\":8883}}",
			    &g, &e),
			 SMILE_OK);
	assert_string_equal(g.sign_pk, PK1);
	assert_string_equal(g.box_pk, PK2);
	assert_string_equal(g.mqtt_host, "broker.example");
	assert_int_equal(g.mqtt_port, 8883);
	assert_int_equal(g.mqtt_tls, 0);
	assert_int_equal(gw("{\"protocol\":1,\"sign_pk\":\"" PK1 "\",\"box_pk\":\"" PK2
			    "\",\"mqtt\":{\"host\":\"b\",\"port\":8883,\"tls\":true}}",
			    &g, &e),
			 SMILE_OK);
	assert_int_equal(g.mqtt_tls, 1);
	assert_int_equal(gw("{\"protocol\":1,\"sign_pk\":\"" PK1 "\",\"box_pk\":\"" PK2
			    "\",\"mqtt\":{\"tls\":1}}", &g, &e),
			 SMILE_ERR_FIELD_TYPE);
	/* member order and whitespace do not matter; mqtt is optional */
	assert_int_equal(gw(" { \"box_pk\" : \"" PK2 "\", \"sign_pk\":\"" PK1 "\", \"protocol\": 1 }\n",
			    &g, &e),
			 SMILE_OK);
	assert_string_equal(g.mqtt_host, "");
	assert_int_equal(g.mqtt_port, 0);

	assert_int_equal(gw("{\"protocol\":2,\"sign_pk\":\"" PK1 "\",\"box_pk\":\"" PK2 "\"}", &g, &e),
			 SMILE_ERR_PROTO_VERSION);
	assert_int_equal(gw("{\"protocol\":1,\"box_pk\":\"" PK2 "\"}", &g, &e), SMILE_ERR_MISSING_FIELD);
	assert_string_equal(e.field, "sign_pk");
	assert_int_equal(gw("{\"protocol\":1,\"sign_pk\":\"AAAA\",\"box_pk\":\"" PK2 "\"}", &g, &e),
			 SMILE_ERR_FIELD_VALUE);
	assert_string_equal(e.field, "sign_pk");
	assert_int_equal(gw("{\"protocol\":1,\"sign_pk\":\"" PK1 "\",\"box_pk\":7}", &g, &e),
			 SMILE_ERR_FIELD_TYPE);
	assert_int_equal(gw("{\"protocol\":1,\"sign_pk\":\"" PK1 "\",\"box_pk\":\"" PK2
			    "\",\"mqtt\":{\"port\":70000}}", &g, &e),
			 SMILE_ERR_FIELD_VALUE);
	assert_string_equal(e.field, "mqtt.port");
	/* a host that would break the config file it is written to */
	assert_int_equal(gw("{\"protocol\":1,\"sign_pk\":\"" PK1 "\",\"box_pk\":\"" PK2
			    "\",\"mqtt\":{\"host\":\"h\\nkey_file = /x\"}}", &g, &e),
			 SMILE_ERR_FIELD_VALUE);
	assert_string_equal(e.field, "mqtt.host");
	assert_int_equal(gw("{\"protocol\":1,\"protocol\":1}", &g, &e), SMILE_ERR_JSON);
	assert_int_equal(gw("[1]", &g, &e), SMILE_ERR_FIELD_TYPE);
	assert_int_equal(gw("nope", &g, &e), SMILE_ERR_JSON);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(key_file_life),
		cmocka_unit_test(gateway_answer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
