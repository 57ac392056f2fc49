/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for print-station/spool.c, smile-print's durable queue: jobs
 * come out in sequence order whatever order they arrived in; a duplicate
 * (any state) is recognised; a job left in "sending" by a crash is finished
 * as failed/uncertain and never handed out again; a finished job keeps its
 * state and reason but not its message; old finished jobs are forgotten. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "../../../print-station/spool.h"

struct fixture {
	char dir[64];
	struct spool s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/smile-spool-XXXXXX");
	if (mkdtemp(f->dir) == NULL || spool_open(&f->s, f->dir, NULL) != SMILE_OK)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void add(struct fixture *f, uint64_t seq, const char *id, int want_dup)
{
	int dup = -1;
	assert_int_equal(spool_add(&f->s, seq, id, (const uint8_t *)id, strlen(id), &dup), SMILE_OK);
	assert_int_equal(dup, want_dup);
}

static void in_sequence_order_once(void **state)
{
	struct fixture *f = *state;
	char name[SPOOL_NAME_MAX], id[SMILE_JOB_ID_MAX + 1];
	uint8_t buf[64];
	size_t len;
	uint64_t seq;

	add(f, 12, "pj_c", 0);
	add(f, 3, "pj_a", 0);
	add(f, 10, "pj_b", 0);
	add(f, 3, "pj_a", 1); /* redelivered */
	assert_true(spool_next(&f->s, name));
	assert_string_equal(name, "00000000000000000003-pj_a");
	assert_int_equal(spool_split(name, &seq, id), 0);
	assert_int_equal(seq, 3);
	assert_string_equal(id, "pj_a");
	assert_int_equal(spool_read(&f->s, name, buf, sizeof(buf), &len), SMILE_OK);
	assert_memory_equal(buf, "pj_a", 4);
	/* sending, then printed: the next is seq 10 */
	assert_int_equal(spool_mark_sending(&f->s, name), SMILE_OK);
	assert_int_equal(spool_find(&f->s, 3, "pj_a"), SPOOL_SENDING);
	assert_int_equal(spool_finish(&f->s, name, SMILE_JOB_PRINTED, 0, ""), SMILE_OK);
	assert_int_equal(spool_find(&f->s, 3, "pj_a"), SPOOL_DONE);
	add(f, 3, "pj_a", 1); /* still a duplicate once done */
	assert_true(spool_next(&f->s, name));
	assert_string_equal(name, "00000000000000000010-pj_b");
	/* refused before any byte: back in the queue, still first */
	assert_int_equal(spool_mark_sending(&f->s, name), SMILE_OK);
	assert_int_equal(spool_unmark_sending(&f->s, name), SMILE_OK);
	assert_true(spool_next(&f->s, name));
	assert_string_equal(name, "00000000000000000010-pj_b");
	assert_int_equal(spool_split("123-x", &seq, id), -1);
}

struct seen {
	int n, done;
	char last[SPOOL_NAME_MAX];
	int state, reason;
	char text[256];
};

static void collect(void *arg, const char *name, enum spool_state st, int job_state, int reason,
		    const char *text)
{
	struct seen *s = arg;
	s->n++;
	if (st == SPOOL_DONE) {
		s->done++;
		snprintf(s->last, sizeof(s->last), "%s", name);
		s->state = job_state;
		s->reason = reason;
		snprintf(s->text, sizeof(s->text), "%s", text);
	}
}

static void a_crash_while_sending_is_uncertain_never_resent(void **state)
{
	struct fixture *f = *state;
	char name[SPOOL_NAME_MAX], path[256];
	struct seen s = {0};
	struct stat sb;

	add(f, 1, "pj_x", 0);
	add(f, 2, "pj_y", 0);
	assert_true(spool_next(&f->s, name));
	assert_int_equal(spool_mark_sending(&f->s, name), SMILE_OK);
	/* the process dies here; at the next start: */
	assert_int_equal(spool_recover(&f->s), 1);
	assert_int_equal(spool_find(&f->s, 1, "pj_x"), SPOOL_DONE);
	assert_true(spool_next(&f->s, name));
	assert_string_equal(name, "00000000000000000002-pj_y");
	spool_each(&f->s, 3600, 0, collect, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.done, 1);
	assert_string_equal(s.last, "00000000000000000001-pj_x");
	assert_int_equal(s.state, SMILE_JOB_FAILED);
	assert_int_equal(s.reason, SMILE_JOB_R_UNCERTAIN);
	assert_non_null(strstr(s.text, "reprint"));
	/* the message is gone with it: nothing of the job is kept at rest */
	snprintf(path, sizeof(path), "%s/spool/00000000000000000001-pj_x.sending", f->dir);
	assert_int_not_equal(stat(path, &sb), 0);
	/* a second recovery changes nothing */
	assert_int_equal(spool_recover(&f->s), 0);
}

static void old_finished_jobs_are_forgotten(void **state)
{
	struct fixture *f = *state;
	char name[SPOOL_NAME_MAX], path[256];
	struct seen s = {0};
	struct timeval old[2] = {{1000, 0}, {1000, 0}};

	add(f, 5, "pj_old", 0);
	assert_true(spool_next(&f->s, name));
	assert_int_equal(spool_finish(&f->s, name, SMILE_JOB_PRINTED, 0, ""), SMILE_OK);
	snprintf(path, sizeof(path), "%s/spool/%s.done", f->dir, name);
	assert_int_equal(utimes(path, old), 0);
	spool_each(&f->s, 0, 60, collect, &s);
	assert_int_equal(s.n, 0); /* kept, but not recent */
	assert_int_equal(spool_find(&f->s, 5, "pj_old"), SPOOL_DONE);
	spool_each(&f->s, 86400, 0, collect, &s);
	assert_int_equal(s.n, 0);
	assert_int_equal(spool_find(&f->s, 5, "pj_old"), SPOOL_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(in_sequence_order_once, setup, teardown),
		cmocka_unit_test_setup_teardown(a_crash_while_sending_is_uncertain_never_resent, setup,
						teardown),
		cmocka_unit_test_setup_teardown(old_finished_jobs_are_forgotten, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
