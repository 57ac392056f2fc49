/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.h - structured event logging that has no way to carry personal data.
 *
 * One line per event on stderr, in logfmt:
 *   ts=2026-11-29T05:56:00.123Z level=info event=shipment.issued waybill=SW26... status=201
 *
 * The API takes no free text. An event is a fixed name plus typed fields:
 * identifiers (waybill numbers, device ids, route names), integers, doubles and
 * error codes. Identifier values are checked against a strict character set
 * ([A-Za-z0-9_.:/@+-], at most SMILE_LOG_ID_MAX bytes); anything else - a name
 * with a space, any non-ASCII text, an address - is replaced by "!rejected"
 * before it reaches the line. Phone numbers are still digits, so never pass
 * one as an id: the rule is "log ids and codes, not people".
 *
 * Thread-safe: each line is formatted on the stack and written with a single
 * write(2).
 */
#ifndef SMILE_LOG_H
#define SMILE_LOG_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum smile_log_level {
	SMILE_LOG_DEBUG = 0,
	SMILE_LOG_INFO = 1,
	SMILE_LOG_WARN = 2,
	SMILE_LOG_ERROR = 3,
	SMILE_LOG_OFF = 4
};

enum smile_log_kind {
	SMILE_LOG_KV_ID,     /* identifier: strict charset */
	SMILE_LOG_KV_INT,    /* signed integer */
	SMILE_LOG_KV_DOUBLE, /* floating point, printed %.3f */
	SMILE_LOG_KV_ERR     /* enum smile_err, printed as its name */
};

#define SMILE_LOG_ID_MAX 96
#define SMILE_LOG_LINE_MAX 1024

struct smile_log_kv {
	const char *key;
	enum smile_log_kind kind;
	union {
		const char *id;
		long long i;
		double d;
		int err;
	} v;
};

#define SMILE_KV_ID(k, val) \
	((struct smile_log_kv){.key = (k), .kind = SMILE_LOG_KV_ID, .v.id = (val)})
#define SMILE_KV_INT(k, val) \
	((struct smile_log_kv){.key = (k), .kind = SMILE_LOG_KV_INT, .v.i = (long long)(val)})
#define SMILE_KV_DOUBLE(k, val) \
	((struct smile_log_kv){.key = (k), .kind = SMILE_LOG_KV_DOUBLE, .v.d = (double)(val)})
#define SMILE_KV_ERR(k, val) \
	((struct smile_log_kv){.key = (k), .kind = SMILE_LOG_KV_ERR, .v.err = (int)(val)})

/* Write one event line with `n` fields. `event` is a literal like "http.request". */
void smile_log_emit(enum smile_log_level level, const char *event,
		    const struct smile_log_kv *kv, size_t n);

/* smile_log(SMILE_LOG_INFO, "shipment.issued", SMILE_KV_ID("waybill", wb)); */
#define smile_log(level, event, ...)                                          \
	smile_log_emit((level), (event), (const struct smile_log_kv[]){__VA_ARGS__}, \
		       sizeof((const struct smile_log_kv[]){__VA_ARGS__}) /         \
			       sizeof(struct smile_log_kv))
/* An event with no fields. */
#define smile_log0(level, event) smile_log_emit((level), (event), NULL, 0)

/* Lines below `level` are dropped. Default SMILE_LOG_INFO, or the value of
 * SMILE_LOG_LEVEL (debug|info|warn|error|off) at the first log call. */
void smile_log_set_level(enum smile_log_level level);
/* Parse "debug", "info", "warn", "error", "off"; -1 when unknown. */
int smile_log_level_parse(const char *s);
/* Send lines to `fd` instead of 2 (tests). */
void smile_log_set_fd(int fd);
/* Format one line into buf (no trailing newline); returns its length. Used by
 * smile_log_emit and by tests. */
size_t smile_log_format(char *buf, size_t n, enum smile_log_level level,
			const char *event, const struct smile_log_kv *kv, size_t nkv);

#ifdef __cplusplus
}
#endif
#endif
