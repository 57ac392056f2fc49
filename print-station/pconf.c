/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pconf.c - smile-print's configuration: one table of keys (the same
 * common/conffile.c parser as the bridge), defaults, the checks that make a
 * typo an error at start rather than a printer that never prints.
 */
#include "pconf.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "smile/buf.h"
#include "smile/conffile.h"
#include "smile/label.h"
#include "smile/log.h"
#include "smile/proto.h"

#define STR(n, p, help) SMILE_CONF_STR_KEY(struct print_conf, n, p, help)
#define LONG(n, lo, hi, help) SMILE_CONF_LONG_KEY(struct print_conf, n, lo, hi, help)

static const struct smile_conf_key keys[] = {
	STR(key_file, 1, "station key file written by `smile-print keygen` (mode 0600; required)"),
	STR(state_dir, 1, "directory for the job spool and the lock (required)"),
	STR(gateway_sign_pk, 0, "gateway Ed25519 signing key, base64: sign_pk of GET /v1/gateway (required)"),
	STR(gateway_box_pk, 0, "gateway X25519 key, base64: box_pk of GET /v1/gateway (required)"),
	STR(printer, 0, "socket://HOST[:PORT] (raw 9100, ZPL) | cups:QUEUE | ipp://HOST/printers/QUEUE (required)"),
	STR(mqtt_host, 0, "MQTT broker host"),
	LONG(mqtt_port, 1, 65535, "MQTT broker port"),
	LONG(mqtt_keepalive_s, 5, 3600, "MQTT keepalive, seconds"),
	STR(mqtt_cafile, 1, "CA certificate file: set it to use TLS to the broker"),
	STR(mqtt_certfile, 1, "client certificate file for TLS (optional)"),
	STR(mqtt_keyfile, 1, "client key file for TLS (optional, with mqtt_certfile)"),
	LONG(dpi, 203, 300, "printer resolution: 203 or 300"),
	STR(size, 0, "label size: 100x150, 100x180 or 76x130"),
	LONG(printer_retry_ms, 100, 600000,
	     "while the printer is away or not ready, ask again after this many milliseconds"),
	LONG(printer_job_s, 5, 3600, "follow one job at the printer this long before asking again"),
	LONG(keep_done_days, 1, 3650, "keep the record of finished jobs (for duplicate deliveries) this many days"),
	LONG(status_resend_s, 1, 3600,
	     "send the status of jobs waiting or finished in the last 10 minutes again this often, seconds"),
	STR(log_level, 0, "log level: debug, info, warn or error"),
	STR(local_api_listen, 0,
	    "local WebSocket API for web pages, HOST:PORT (e.g. 127.0.0.1:8911); empty: off"),
	LONG(local_api_allow_remote, 0, 1,
	     "1: let local_api_listen be a non-loopback address (not recommended)"),
	STR(local_api_origins, 0,
	    "the web page origins allowed to connect, comma-separated, exact "
	    "(https://wms.example, http://127.0.0.1:8080); none: nobody"),
	STR(local_api_cert, 1, "certificate file: set it (with local_api_key) for wss://"),
	STR(local_api_key, 1, "private key file of local_api_cert"),
};
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

static void defaults(struct print_conf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->mqtt_host, sizeof(c->mqtt_host), "127.0.0.1");
	c->mqtt_port = 1883;
	c->mqtt_keepalive_s = 30;
	c->dpi = 203;
	snprintf(c->size, sizeof(c->size), "100x150");
	c->printer_retry_ms = 5000;
	c->printer_job_s = 120;
	c->keep_done_days = 30;
	c->status_resend_s = 30;
	snprintf(c->log_level, sizeof(c->log_level), "info");
}

static enum smile_err check(const struct print_conf *c, struct smile_error *e)
{
	uint8_t k[SMILE_PROTO_PK_BYTES];
	enum smile_label_size sz;
	static const char *const required[] = {"key_file", "state_dir", "gateway_sign_pk",
					       "gateway_box_pk", "printer"};
	const char *vals[] = {c->key_file, c->state_dir, c->gateway_sign_pk, c->gateway_box_pk,
			      c->printer};

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		if (vals[i][0] == '\0')
			return smile_error_set(e, SMILE_ERR_CONFIG, required[i], "required");
	if (smile_proto_key_from_base64(c->gateway_sign_pk, strlen(c->gateway_sign_pk), k))
		return smile_error_set(e, SMILE_ERR_CONFIG, "gateway_sign_pk",
				       "not 32 bytes of base64");
	if (smile_proto_key_from_base64(c->gateway_box_pk, strlen(c->gateway_box_pk), k))
		return smile_error_set(e, SMILE_ERR_CONFIG, "gateway_box_pk",
				       "not 32 bytes of base64");
	if (!smile_label_dpi_supported((int)c->dpi))
		return smile_error_set(e, SMILE_ERR_CONFIG, "dpi", "203 or 300");
	if (smile_label_size_parse(c->size, &sz) != SMILE_OK)
		return smile_error_set(e, SMILE_ERR_CONFIG, "size", "100x150, 100x180 or 76x130");
	if (smile_log_level_parse(c->log_level) < 0 ||
	    smile_log_level_parse(c->log_level) == SMILE_LOG_OFF)
		return smile_error_set(e, SMILE_ERR_CONFIG, "log_level",
				       "need debug, info, warn or error");
	return SMILE_OK;
}

static enum smile_err resolve(char *field, size_t cap, const char *dir, const char *name,
			      struct smile_error *e)
{
	char tmp[2 * PCONF_PATH_MAX];
	int n;

	if (field[0] == '\0' || field[0] == '/' || dir[0] == '\0')
		return SMILE_OK;
	n = snprintf(tmp, sizeof(tmp), "%s/%s", dir, field);
	if (n < 0 || (size_t)n >= cap)
		return smile_error_set(e, SMILE_ERR_CONFIG, name, "path too long");
	memcpy(field, tmp, (size_t)n + 1);
	return SMILE_OK;
}

enum smile_err print_conf_load(struct print_conf *c, const char *path, struct smile_error *e)
{
	struct smile_buf b;
	char dir[PCONF_PATH_MAX] = "";
	const char *slash = strrchr(path, '/');
	enum smile_err rc;
	FILE *f = fopen(path, "r");

	defaults(c);
	if (f == NULL)
		return smile_error_set(e, errno == ENOENT ? SMILE_ERR_NOT_FOUND : SMILE_ERR_IO,
				       "config", "cannot open the configuration file");
	smile_buf_init(&b, 64 * 1024);
	rc = smile_buf_read_file(&b, f);
	fclose(f);
	if (rc == SMILE_OK)
		rc = smile_conf_parse(keys, N_KEYS, c, sizeof(*c), b.data ? b.data : "", b.len, e);
	else
		smile_error_set(e, rc, "config", "cannot read the configuration file");
	smile_buf_release(&b);
	if (rc == SMILE_OK)
		rc = check(c, e);
	if (rc == SMILE_OK && slash != NULL) {
		size_t n = slash == path ? 1 : (size_t)(slash - path);
		if (n >= sizeof(dir))
			return smile_error_set(e, SMILE_ERR_CONFIG, "config", "path too long");
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	for (size_t i = 0; i < N_KEYS && rc == SMILE_OK; i++)
		if (keys[i].path)
			rc = resolve((char *)c + keys[i].off, keys[i].size, dir, keys[i].name, e);
	return rc;
}
