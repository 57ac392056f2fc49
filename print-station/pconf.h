/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pconf.h - smile-print's configuration file (conf/smile-print.conf).
 *
 * "key = value" lines (common/conffile.c): unknown, repeated and bad keys
 * are errors naming the line. Relative paths are taken from the file's
 * directory, so a configuration and its key can move together.
 */
#ifndef PRINT_PCONF_H
#define PRINT_PCONF_H

#include "smile/error.h"

#define PCONF_PATH_MAX 256

struct print_conf {
	char key_file[PCONF_PATH_MAX];  /* the station's key file (smile-print keygen) */
	char state_dir[PCONF_PATH_MAX]; /* spool/ and lock */
	char gateway_sign_pk[64];       /* GET /v1/gateway sign_pk */
	char gateway_box_pk[64];        /* GET /v1/gateway box_pk */
	char printer[PCONF_PATH_MAX];   /* socket://HOST:PORT | cups:NAME | ipp://... */
	char mqtt_host[PCONF_PATH_MAX];
	long mqtt_port;
	long mqtt_keepalive_s;
	char mqtt_cafile[PCONF_PATH_MAX];
	char mqtt_certfile[PCONF_PATH_MAX];
	char mqtt_keyfile[PCONF_PATH_MAX];
	long dpi;
	char size[16];
	long printer_retry_ms;
	long printer_job_s;
	long keep_done_days;
	long status_resend_s;
	char log_level[16];
	/* the local WebSocket API (localapi.h); empty listen: off */
	char local_api_listen[128];
	long local_api_allow_remote;
	char local_api_origins[1024];
	char local_api_cert[PCONF_PATH_MAX];
	char local_api_key[PCONF_PATH_MAX];
};

/* Read, parse and check `path`. SMILE_OK; SMILE_ERR_NOT_FOUND; SMILE_ERR_IO;
 * SMILE_ERR_CONFIG (e->field names the line or key). */
enum smile_err print_conf_load(struct print_conf *c, const char *path, struct smile_error *e)
	SMILE_MUST_CHECK;

#endif
