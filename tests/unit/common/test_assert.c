/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for common/smile_assert.h: SMILE_ASSERT aborts with file:line
 * and the expression in a SMILE_DEBUG build (every sanitizer build), and
 * compiles to nothing, without evaluating its condition, otherwise. This
 * binary is compiled with the same flags as the code it tests, so it checks
 * whichever build it is part of. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../../common/smile_assert.h"

struct child {
	int status;
	char err[512]; /* what it wrote on stderr */
};

static int counter;

/* Run fn in a child with stderr on a pipe; it _exits 0 if fn returns. */
static void run_child(void (*fn)(void), struct child *c)
{
	int fds[2];
	pid_t pid;
	size_t n = 0;
	ssize_t r;

	memset(c, 0, sizeof(*c));
	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], 2);
		fn();
		_exit(counter == 0 ? 0 : 3);
	}
	close(fds[1]);
	while (n < sizeof(c->err) - 1 && (r = read(fds[0], c->err + n, sizeof(c->err) - 1 - n)) > 0)
		n += (size_t)r;
	close(fds[0]);
	assert_int_equal(waitpid(pid, &c->status, 0), pid);
}

static void assert_false_with_side_effect(void)
{
	SMILE_ASSERT(++counter == 42);
}
#ifdef SMILE_DEBUG
static const int failing_line = __LINE__ - 3; /* the SMILE_ASSERT above */
#endif

static void assert_true_condition(void)
{
	SMILE_ASSERT(counter == 0);
	SMILE_ASSERT(sizeof(int) >= 2);
}

static void true_condition_never_aborts(void **state)
{
	struct child c;
	(void)state;
	run_child(assert_true_condition, &c);
	assert_true(WIFEXITED(c.status));
	assert_int_equal(WEXITSTATUS(c.status), 0);
	assert_string_equal(c.err, "");
}

#ifdef SMILE_DEBUG
static void false_condition_aborts_naming_where_and_what(void **state)
{
	struct child c;
	char where[64];
	(void)state;
	run_child(assert_false_with_side_effect, &c);
	assert_true(WIFSIGNALED(c.status));
	assert_int_equal(WTERMSIG(c.status), SIGABRT);
	snprintf(where, sizeof(where), "test_assert.c:%d: ", failing_line);
	if (strstr(c.err, where) == NULL)
		fail_msg("stderr was \"%s\", wanted \"%s\"", c.err, where);
	assert_non_null(strstr(c.err, "assert_false_with_side_effect"));
	assert_non_null(strstr(c.err, "assertion failed: ++counter == 42\n"));
}
#else
static void false_condition_is_compiled_out(void **state)
{
	struct child c;
	(void)state;
	/* The child exits 3 if the condition was evaluated (counter moved). */
	run_child(assert_false_with_side_effect, &c);
	assert_true(WIFEXITED(c.status));
	assert_int_equal(WEXITSTATUS(c.status), 0);
	assert_string_equal(c.err, "");
}
#endif

/* A sanitizer build that forgot SMILE_DEBUG would silently test nothing. */
static void sanitizer_builds_check_assertions(void **state)
{
	(void)state;
#if defined(__SANITIZE_ADDRESS__) && !defined(SMILE_DEBUG)
	fail_msg("built with AddressSanitizer but without SMILE_DEBUG: "
		 "the Makefile must define it for SANITIZE builds");
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(true_condition_never_aborts),
#ifdef SMILE_DEBUG
		cmocka_unit_test(false_condition_aborts_naming_where_and_what),
#else
		cmocka_unit_test(false_condition_is_compiled_out),
#endif
		cmocka_unit_test(sanitizer_builds_check_assertions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
