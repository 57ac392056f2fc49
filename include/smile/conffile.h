/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conffile.h - "key = value" configuration files described by a key table.
 *
 * The gateway (gateway.conf) and the bridge (bridge.conf) describe their keys
 * in one table each - name, type, where the value lives in their struct,
 * bounds, help text - and share this parser and writer, so parsing,
 * validation and the commented file a command writes never disagree.
 *
 * Format: one "key = value" per line; '#' starts a comment; blank lines are
 * ignored; spaces around key and value are trimmed. An unknown key, a key
 * given twice, a value over its buffer, a number out of bounds, a line over
 * 1023 bytes or a NUL byte are errors naming the line and key.
 */
#ifndef SMILE_CONFFILE_H
#define SMILE_CONFFILE_H

#include <stddef.h>
#include <stdio.h>

#include "smile/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum smile_conf_kind { SMILE_CONF_STR = 0, SMILE_CONF_LONG = 1 };

struct smile_conf_key {
	const char *name;
	enum smile_conf_kind kind;
	size_t off;    /* offset of the value in the caller's struct */
	size_t size;   /* STR: size of the char array */
	long min, max; /* LONG: inclusive bounds */
	int path;      /* the caller's flag (e.g. resolve relative paths); unused here */
	const char *help;
};

/* Table entries for a `char field[N]` and a `long field` of struct TYPE. */
#define SMILE_CONF_STR_KEY(type, field, path, help)                                   \
	{#field, SMILE_CONF_STR, offsetof(type, field), sizeof(((type *)0)->field), 0, 0, \
	 path, help}
#define SMILE_CONF_LONG_KEY(type, field, lo, hi, help) \
	{#field, SMILE_CONF_LONG, offsetof(type, field), 0, lo, hi, 0, help}

/* Parse text[0..len) into `conf` (a struct of conf_size bytes that should
 * already hold the defaults). All or nothing: on error `conf` is unchanged.
 * Returns SMILE_OK, SMILE_ERR_CONFIG (e->field "line N: key" or "line N", the
 * message says what is wrong), SMILE_ERR_NOMEM. */
enum smile_err smile_conf_parse(const struct smile_conf_key *keys, size_t n_keys, void *conf,
				size_t conf_size, const char *text, size_t len,
				struct smile_error *e) SMILE_MUST_CHECK;

/* Write every key as "\n# help\nkey = value\n" (after the caller's header). */
void smile_conf_write(const struct smile_conf_key *keys, size_t n_keys, const void *conf,
		      FILE *f);

/* The key called `name`, or NULL. */
const struct smile_conf_key *smile_conf_find(const struct smile_conf_key *keys, size_t n_keys,
					     const char *name);

#ifdef __cplusplus
}
#endif
#endif
