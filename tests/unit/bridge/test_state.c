/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for firmware-bridge/statedir.c and seqfile.c: one bridge per
 * state directory, atomic replacement, and the file-backed sequence store
 * under the real core: numbers survive restarts and are never reused, a
 * damaged counter file stops the core instead of restarting at 1. */
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

#include "../../../firmware-bridge/seqfile.h"
#include "../../../firmware-bridge/statedir.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/smile-st-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void one_bridge_per_directory(void **state)
{
	char sd[128];
	struct stat st;
	struct smile_error e = {0};
	int a, b;
	(void)state;
	snprintf(sd, sizeof(sd), "%s/state", dir);
	assert_int_equal(bridge_state_lock(sd, &a, &e), SMILE_OK);
	assert_int_equal(stat(sd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(bridge_state_lock(sd, &b, &e), SMILE_ERR_BUSY);
	assert_non_null(strstr(e.message, "another smile-bridge"));
	assert_int_equal(b, -1);
	close(a);
	assert_int_equal(bridge_state_lock(sd, &b, &e), SMILE_OK);
	close(b);
	/* a file where the directory should be */
	snprintf(sd, sizeof(sd), "%s/afile", dir);
	fclose(fopen(sd, "w"));
	assert_int_equal(bridge_state_lock(sd, &b, &e), SMILE_ERR_INVALID);
}

static void atomic_write_and_read(void **state)
{
	char buf[16], path[128];
	size_t len;
	struct stat st;
	(void)state;
	assert_int_equal(bridge_state_write(dir, "f", "first", 5, NULL), SMILE_OK);
	assert_int_equal(bridge_state_write(dir, "f", "second", 6, NULL), SMILE_OK);
	assert_int_equal(bridge_state_read(dir, "f", buf, sizeof(buf), &len, NULL), SMILE_OK);
	assert_int_equal(len, 6);
	assert_memory_equal(buf, "second", 6);
	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/f.tmp", dir);
	assert_int_equal(access(path, F_OK), -1); /* no temporary left */
	assert_int_equal(bridge_state_read(dir, "f", buf, 3, &len, NULL), SMILE_ERR_TOO_LARGE);
	assert_int_equal(bridge_state_remove(dir, "f", NULL), SMILE_OK);
	assert_int_equal(bridge_state_read(dir, "f", buf, sizeof(buf), &len, NULL),
			 SMILE_ERR_NOT_FOUND);
	assert_int_equal(bridge_state_remove(dir, "f", NULL), SMILE_OK); /* already gone */
	assert_int_equal(bridge_state_write("/nonexistent-dir", "f", "x", 1, NULL), SMILE_ERR_IO);
}

static void sequence_survives_restarts(void **state)
{
	char sd[128];
	struct bridge_seqfile f;
	struct smile_seq s;
	uint64_t n, last = 0;
	(void)state;
	snprintf(sd, sizeof(sd), "%s/seq", dir);
	assert_int_equal(bridge_state_mkdir(sd, NULL), SMILE_OK);
	for (int boot = 0; boot < 4; boot++) {
		assert_int_equal(bridge_seqfile_init(&f, sd, NULL), SMILE_OK);
		assert_int_equal(smile_seq_open(&s, &f.store, boot % 2 ? 10 : 1, NULL), SMILE_OK);
		for (int i = 0; i < 7; i++) {
			assert_int_equal(smile_seq_take(&s, &n, NULL), SMILE_OK);
			assert_true(n > last); /* never reused, across "reboots" too */
			last = n;
		}
	}
	assert_true(last >= 28);
	{
		char buf[32];
		size_t len;
		assert_int_equal(bridge_state_read(sd, "seq", buf, sizeof(buf) - 1, &len, NULL), SMILE_OK);
		buf[len] = '\0';
		assert_true(strtoull(buf, NULL, 10) > last); /* stored value is ahead */
	}
}

static void damaged_counter_stops_the_core(void **state)
{
	static const char *bad[] = {"", "12", "x\n", "0\n", "99999999999999999999999\n", "1 2\n"};
	char sd[128];
	struct bridge_seqfile f;
	struct smile_seq s;
	uint64_t n;
	(void)state;
	snprintf(sd, sizeof(sd), "%s/bad", dir);
	assert_int_equal(bridge_state_mkdir(sd, NULL), SMILE_OK);
	assert_int_equal(bridge_seqfile_init(&f, sd, NULL), SMILE_OK);
	/* no file yet: starts at 1 */
	assert_int_equal(smile_seq_open(&s, &f.store, 1, NULL), SMILE_OK);
	assert_int_equal(smile_seq_take(&s, &n, NULL), SMILE_OK);
	assert_int_equal(n, 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(bridge_state_write(sd, "seq", bad[i], strlen(bad[i]), NULL), SMILE_OK);
		assert_int_not_equal(smile_seq_open(&s, &f.store, 1, NULL), SMILE_OK);
	}
	assert_int_equal(bridge_seqfile_init(&f, "", NULL), SMILE_ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_bridge_per_directory),
		cmocka_unit_test(atomic_write_and_read),
		cmocka_unit_test(sequence_survives_restarts),
		cmocka_unit_test(damaged_counter_stops_the_core),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
