/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for common/: error names and details, the capped buffer, and
 * the log module's refusal to carry free text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "smile/buf.h"
#include "smile/error.h"
#include "smile/log.h"

static void error_names_are_stable(void **state)
{
	(void)state;
	assert_string_equal(smile_errname(SMILE_OK), "ok");
	assert_string_equal(smile_errname(SMILE_ERR_TOKEN_TAMPERED), "token_tampered");
	assert_int_equal(SMILE_ERR_TOKEN_TAMPERED, 45); /* values never renumber */
	assert_string_equal(smile_errname(9999), "unknown");
	assert_string_equal(smile_strerror(-1), "unknown error code");
	/* every code below the last one has a name or is a deliberate gap */
	for (int i = 0; i <= SMILE_ERR_HTTP; i++)
		assert_non_null(smile_strerror(i));
}

static void error_details_name_the_field(void **state)
{
	struct smile_error e = {0};
	char buf[256];
	(void)state;
	assert_int_equal(smile_error_set(&e, SMILE_ERR_FIELD_VALUE, "phone",
					 "%d digits, need 5-15", 7),
			 SMILE_ERR_FIELD_VALUE);
	smile_error_prefix(&e, "recipient");
	assert_string_equal(smile_error_format(&e, buf, sizeof(buf)),
			    "recipient.phone: 7 digits, need 5-15");
	smile_error_prefix(&e, "[3]");
	assert_string_equal(e.field, "[3].recipient.phone");
	assert_int_equal(smile_error_set(NULL, SMILE_ERR_IO, NULL, NULL), SMILE_ERR_IO);
}

static void buf_respects_its_cap(void **state)
{
	struct smile_buf b;
	(void)state;
	smile_buf_init(&b, 10);
	assert_int_equal(smile_buf_append(&b, "hello", 5), SMILE_OK);
	assert_int_equal(smile_buf_append(&b, "world", 5), SMILE_OK);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "helloworld");
	assert_int_equal(smile_buf_append(&b, "!", 1), SMILE_ERR_TOO_LARGE);
	assert_int_equal(b.len, 10); /* unchanged on refusal */
	assert_string_equal(b.data, "helloworld");
	smile_buf_reset(&b);
	assert_int_equal(smile_buf_printf(&b, "%d-%s", 42, "x"), SMILE_OK);
	assert_string_equal(b.data, "42-x");
	assert_int_equal(smile_buf_printf(&b, "%s", "0123456789"), SMILE_ERR_TOO_LARGE);
	assert_string_equal(b.data, "42-x");
	smile_buf_release(&b);
	assert_null(b.data);
	/* a hostile size never reaches the allocator */
	smile_buf_init(&b, 64);
	assert_int_equal(smile_buf_reserve(&b, SIZE_MAX), SMILE_ERR_TOO_LARGE);
	assert_null(b.data);
}

static void buf_reads_lines_with_a_cap(void **state)
{
	struct smile_buf b;
	FILE *f = tmpfile();
	(void)state;
	assert_non_null(f);
	fputs("short\nthis line is far too long\n\nlast", f);
	rewind(f);
	smile_buf_init(&b, 8);
	assert_int_equal(smile_buf_getline(&b, f), SMILE_OK);
	assert_string_equal(b.data, "short");
	assert_int_equal(smile_buf_getline(&b, f), SMILE_ERR_TOO_LARGE);
	assert_int_equal(smile_buf_getline(&b, f), SMILE_OK); /* empty line */
	assert_int_equal(b.len, 0);
	assert_int_equal(smile_buf_getline(&b, f), SMILE_OK);
	assert_string_equal(b.data, "last");
	assert_int_equal(smile_buf_getline(&b, f), SMILE_ERR_NOT_FOUND);
	smile_buf_release(&b);
	fclose(f);
}

static void log_rejects_free_text(void **state)
{
	char line[SMILE_LOG_LINE_MAX];
	struct smile_log_kv kv[] = {
		SMILE_KV_ID("waybill", "SW2611290000017"),
		SMILE_KV_ID("name", "张三明"),
		SMILE_KV_ID("addr", "Flat 4, 12 High Street"),
		SMILE_KV_INT("status", 201),
		SMILE_KV_ERR("err", SMILE_ERR_QUOTA),
		SMILE_KV_DOUBLE("ms", 1.5),
	};
	(void)state;
	smile_log_format(line, sizeof(line), SMILE_LOG_INFO, "shipment.issued", kv, 6);
	assert_non_null(strstr(line, " level=info event=shipment.issued waybill=SW2611290000017"));
	assert_non_null(strstr(line, " name=!rejected addr=!rejected status=201 err=quota ms=1.500"));
	assert_null(strstr(line, "张"));
	assert_null(strstr(line, "High"));
	assert_int_equal(strncmp(line, "ts=", 3), 0);
}

static void log_writes_whole_lines_and_filters_levels(void **state)
{
	int fds[2];
	char out[2048] = {0};
	(void)state;
	assert_int_equal(pipe(fds), 0);
	smile_log_set_fd(fds[1]);
	smile_log_set_level(SMILE_LOG_WARN);
	smile_log(SMILE_LOG_INFO, "dropped", SMILE_KV_INT("n", 1));
	smile_log(SMILE_LOG_ERROR, "kept", SMILE_KV_INT("n", 2));
	smile_log0(SMILE_LOG_WARN, "kept.too");
	close(fds[1]);
	smile_log_set_fd(2);
	ssize_t n = read(fds[0], out, sizeof(out) - 1);
	close(fds[0]);
	assert_true(n > 0);
	assert_null(strstr(out, "dropped"));
	assert_non_null(strstr(out, "level=error event=kept n=2\n"));
	assert_non_null(strstr(out, "level=warn event=kept.too\n"));
	assert_int_equal(smile_log_level_parse("DEBUG"), SMILE_LOG_DEBUG);
	assert_int_equal(smile_log_level_parse("loud"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(error_names_are_stable),
		cmocka_unit_test(error_details_name_the_field),
		cmocka_unit_test(buf_respects_its_cap),
		cmocka_unit_test(buf_reads_lines_with_a_cap),
		cmocka_unit_test(log_rejects_free_text),
		cmocka_unit_test(log_writes_whole_lines_and_filters_levels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
