/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conf.h - smile-bridge's configuration file (bridge.conf).
 *
 * Format: one "key = value" per line; '#' starts a comment; blank lines are
 * ignored. Unknown keys, repeated keys and bad values are errors naming the
 * line and key, so a typo never silently falls back to a default.
 * conf/bridge.conf.example documents every key; `smile-bridge configure`
 * writes a complete file from the gateway's GET /v1/gateway answer.
 *
 * Relative paths (key_file, state_dir, mqtt_*file, a unix: output) are
 * resolved against the directory of the configuration file by
 * bridge_conf_load(), so a config and its key can move together.
 */
#ifndef BRIDGE_CONF_H
#define BRIDGE_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "smile/error.h"
#include "smile/proto.h"

#define BRIDGE_PATH_MAX 256
#define BRIDGE_CONF_FILE_MAX (64 * 1024)

struct bridge_conf {
	char key_file[BRIDGE_PATH_MAX];   /* device key file (smile-bridge keygen) */
	char state_dir[BRIDGE_PATH_MAX];  /* sequence counter, offline queue, lock */
	char gateway_sign_pk[64];         /* base64 Ed25519, GET /v1/gateway sign_pk */
	char gateway_box_pk[64];          /* base64 X25519, GET /v1/gateway box_pk */
	char mqtt_host[BRIDGE_PATH_MAX];
	long mqtt_port;
	long mqtt_keepalive_s;
	char mqtt_cafile[BRIDGE_PATH_MAX];   /* TLS when set */
	char mqtt_certfile[BRIDGE_PATH_MAX]; /* client certificate (optional) */
	char mqtt_keyfile[BRIDGE_PATH_MAX];
	long reconnect_min_s;
	long reconnect_max_s;
	long retry_initial_ms;            /* first resend of an unanswered scan */
	long retry_max_ms;                /* backoff ceiling */
	long queue_max;                   /* offline queue capacity, scans */
	long seq_block;                   /* sequence numbers reserved per write */
	char event[32];                   /* starting event mode ("" = none) */
	char input[BRIDGE_PATH_MAX];      /* stdin | serial:DEV[@baud] | evdev:DEV */
	char output[BRIDGE_PATH_MAX];     /* stdout | unix:PATH */
	char location[64];                /* "" or "lat,lon[,accuracy_m]" */
	char log_level[16];
};

/* Fill c with the defaults (required keys empty). */
void bridge_conf_defaults(struct bridge_conf *c);

/*
 * Parse a whole file's text into c (which should hold the defaults first).
 * Returns SMILE_OK or SMILE_ERR_CONFIG with e->field "line N: key" (or
 * "line N") and a message; c is unchanged on error. Does not check that
 * required keys are present: see bridge_conf_check().
 */
enum smile_err bridge_conf_parse(struct bridge_conf *c, const char *text, size_t len,
				 struct smile_error *e) SMILE_MUST_CHECK;

/*
 * Check a parsed config as a whole: required keys present (key_file,
 * state_dir, gateway_sign_pk, gateway_box_pk), keys decode, event/input/
 * output/location/log_level well formed, min <= max pairs. Returns SMILE_OK
 * or SMILE_ERR_CONFIG with e->field naming the key.
 */
enum smile_err bridge_conf_check(const struct bridge_conf *c, struct smile_error *e)
	SMILE_MUST_CHECK;

/*
 * Read, parse and check `path`, then resolve relative paths against its
 * directory. Returns SMILE_OK; SMILE_ERR_NOT_FOUND (no file); SMILE_ERR_IO;
 * SMILE_ERR_TOO_LARGE (over BRIDGE_CONF_FILE_MAX); SMILE_ERR_CONFIG.
 */
enum smile_err bridge_conf_load(struct bridge_conf *c, const char *path, struct smile_error *e)
	SMILE_MUST_CHECK;

/* Write c as a commented config file: every key, what it means, its value. */
void bridge_conf_write(const struct bridge_conf *c, FILE *f);

/* Decode "lat,lon[,accuracy_m]" (decimal degrees, metres). Returns SMILE_OK,
 * or SMILE_ERR_CONFIG (e->field "location") when malformed or out of range. */
enum smile_err bridge_conf_location(const char *s, struct smile_location *loc,
				    struct smile_error *e) SMILE_MUST_CHECK;

#endif
