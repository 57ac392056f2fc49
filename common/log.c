/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.c - logfmt event lines built on the stack, one write(2) each.
 *
 * The safety idea: values are never free text. Identifiers pass a whitelist
 * of characters or are replaced, so a name or an address handed over by
 * mistake cannot reach the log.
 */
#define _POSIX_C_SOURCE 200809L
#include "smile/log.h"
#include "smile/clock.h"
#include "smile/error.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_level = -1;
static atomic_int log_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

int smile_log_level_parse(const char *s)
{
	if (s == NULL)
		return -1;
	for (int i = 0; i <= SMILE_LOG_OFF; i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

void smile_log_set_level(enum smile_log_level level) { atomic_store(&log_level, (int)level); }

void smile_log_set_fd(int fd) { atomic_store(&log_fd, fd); }

static int current_level(void)
{
	int l = atomic_load(&log_level);
	if (l < 0) {
		l = smile_log_level_parse(getenv("SMILE_LOG_LEVEL"));
		if (l < 0)
			l = SMILE_LOG_INFO;
		atomic_store(&log_level, l);
	}
	return l;
}

static int id_ok(const char *s)
{
	size_t n = 0;
	if (s == NULL || *s == '\0')
		return 0;
	for (; s[n]; n++) {
		unsigned char c = (unsigned char)s[n];
		if (n >= SMILE_LOG_ID_MAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr("_.:/@+-", c)))
			return 0;
	}
	return 1;
}

struct line {
	char *buf;
	size_t cap, len;
};

static void put(struct line *l, const char *fmt, ...) SMILE_PRINTF(2, 3);
static void put(struct line *l, const char *fmt, ...)
{
	va_list ap;
	if (l->len >= l->cap)
		return;
	va_start(ap, fmt);
	int w = vsnprintf(l->buf + l->len, l->cap - l->len, fmt, ap);
	va_end(ap);
	if (w < 0)
		return;
	l->len += (size_t)w;
	if (l->len >= l->cap)
		l->len = l->cap - 1;
}

size_t smile_log_format(char *buf, size_t n, enum smile_log_level level,
			const char *event, const struct smile_log_kv *kv, size_t nkv)
{
	struct line l = {buf, n, 0};
	int64_t now = smile_clock_ms();
	time_t sec = (time_t)(now / 1000);
	struct tm tm;

	if (n == 0)
		return 0;
	buf[0] = '\0';
	gmtime_r(&sec, &tm);
	put(&l, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s event=%s",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (long)(now % 1000),
	    level_names[(unsigned)level <= SMILE_LOG_OFF ? level : SMILE_LOG_ERROR],
	    id_ok(event) ? event : "!rejected");
	for (size_t i = 0; i < nkv; i++) {
		const char *key = id_ok(kv[i].key) ? kv[i].key : "!rejected";
		switch (kv[i].kind) {
		case SMILE_LOG_KV_ID:
			put(&l, " %s=%s", key, id_ok(kv[i].v.id) ? kv[i].v.id : "!rejected");
			break;
		case SMILE_LOG_KV_INT:
			put(&l, " %s=%lld", key, kv[i].v.i);
			break;
		case SMILE_LOG_KV_DOUBLE:
			put(&l, " %s=%.3f", key, kv[i].v.d);
			break;
		case SMILE_LOG_KV_ERR:
			put(&l, " %s=%s", key, smile_errname(kv[i].v.err));
			break;
		default:
			put(&l, " %s=!rejected", key);
		}
	}
	return l.len;
}

void smile_log_emit(enum smile_log_level level, const char *event,
		    const struct smile_log_kv *kv, size_t n)
{
	char buf[SMILE_LOG_LINE_MAX + 1];
	size_t len;

	if ((int)level < current_level() || level >= SMILE_LOG_OFF)
		return;
	len = smile_log_format(buf, SMILE_LOG_LINE_MAX, level, event, kv, n);
	buf[len++] = '\n';
	/* One write per line keeps lines whole across threads; a short write to
	 * stderr is not worth retrying over. */
	ssize_t w = write(atomic_load(&log_fd), buf, len);
	(void)w;
}
