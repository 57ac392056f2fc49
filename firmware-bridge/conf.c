/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conf.c - bridge.conf: defaults, parsing, checking, writing.
 *
 * One table describes every key (name, type, where it lives, bounds, help),
 * so parsing, the commented file `configure` writes, and the documentation
 * test can never disagree about what a key is. Parsing works on a copy and
 * commits only when the whole file is good.
 */
#include "conf.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "output.h"
#include "smile/buf.h"
#include "smile/conffile.h"
#include "smile/log.h"

#define STR(n, p, help) SMILE_CONF_STR_KEY(struct bridge_conf, n, p, help)
#define LONG(n, lo, hi, help) SMILE_CONF_LONG_KEY(struct bridge_conf, n, lo, hi, help)

static const struct smile_conf_key keys[] = {
	STR(key_file, 1, "device key file written by `smile-bridge keygen` (mode 0600; required)"),
	STR(state_dir, 1, "directory for the sequence counter, the offline queue and the lock (required)"),
	STR(gateway_sign_pk, 0, "gateway Ed25519 signing key, base64: sign_pk of GET /v1/gateway (required)"),
	STR(gateway_box_pk, 0, "gateway X25519 key, base64: box_pk of GET /v1/gateway (required)"),
	STR(mqtt_host, 0, "MQTT broker host"),
	LONG(mqtt_port, 1, 65535, "MQTT broker port"),
	LONG(mqtt_keepalive_s, 5, 3600, "MQTT keepalive, seconds"),
	STR(mqtt_cafile, 1, "CA certificate file: set it to use TLS to the broker"),
	STR(mqtt_certfile, 1, "client certificate file for TLS (optional)"),
	STR(mqtt_keyfile, 1, "client key file for TLS (optional, with mqtt_certfile)"),
	LONG(reconnect_min_s, 1, 3600, "first reconnection delay after the broker is lost, seconds"),
	LONG(reconnect_max_s, 1, 3600, "longest reconnection delay (exponential backoff), seconds"),
	LONG(retry_initial_ms, 50, 600000, "resend an unanswered scan after this many milliseconds"),
	LONG(retry_max_ms, 50, 3600000, "longest delay between resends (the delay doubles), ms"),
	LONG(queue_max, 1, 1000000, "offline queue capacity in scans; a full queue refuses new scans"),
	LONG(seq_block, 1, 1000000,
	     "sequence numbers reserved per durable write (1: a write before every scan)"),
	STR(event, 0, "event mode at start: pickup, hub_in, hub_out, out_for_delivery, "
		      "delivery_failed, delivered or returned (empty: scan a mode barcode first)"),
	STR(input, 0, "scanner: stdin | serial:/dev/ttyX[@baud] (9600 8N1 default) | "
		      "evdev:/dev/input/eventN"),
	STR(output, 1, "reply lines: stdout | unix:/path/to/socket (the handheld UI connects)"),
	STR(location, 0, "fixed scan location \"lat,lon[,accuracy_m]\" in degrees (empty: none)"),
	STR(log_level, 0, "log level: debug, info, warn or error"),
};
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

void bridge_conf_defaults(struct bridge_conf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->mqtt_host, sizeof(c->mqtt_host), "127.0.0.1");
	c->mqtt_port = 1883;
	c->mqtt_keepalive_s = 30;
	c->reconnect_min_s = 1;
	c->reconnect_max_s = 30;
	c->retry_initial_ms = 2000;
	c->retry_max_ms = 30000;
	c->queue_max = 10000;
	c->seq_block = 1;
	snprintf(c->input, sizeof(c->input), "stdin");
	snprintf(c->output, sizeof(c->output), "stdout");
	snprintf(c->log_level, sizeof(c->log_level), "info");
}

enum smile_err bridge_conf_parse(struct bridge_conf *c, const char *text, size_t len,
				 struct smile_error *e)
{
	return smile_conf_parse(keys, N_KEYS, c, sizeof(*c), text, len, e);
}

enum smile_err bridge_conf_location(const char *s, struct smile_location *loc,
				    struct smile_error *e)
{
	double v[3] = {0, 0, 0};
	int n = 0;
	const char *p = s;

	memset(loc, 0, sizeof(*loc));
	while (n < 3) {
		char *end;
		errno = 0;
		v[n] = strtod(p, &end);
		if (errno || end == p || !isfinite(v[n]))
			return smile_error_set(e, SMILE_ERR_CONFIG, "location",
					       "expected lat,lon[,accuracy_m] in decimal numbers");
		n++;
		p = end;
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		if (*p != ',')
			return smile_error_set(e, SMILE_ERR_CONFIG, "location",
					       "expected lat,lon[,accuracy_m] separated by commas");
		p++;
	}
	if (*p != '\0' || n < 2)
		return smile_error_set(e, SMILE_ERR_CONFIG, "location",
				       "expected lat,lon[,accuracy_m]");
	if (v[0] < -90.0 || v[0] > 90.0)
		return smile_error_set(e, SMILE_ERR_CONFIG, "location", "latitude outside -90..90");
	if (v[1] < -180.0 || v[1] > 180.0)
		return smile_error_set(e, SMILE_ERR_CONFIG, "location",
				       "longitude outside -180..180");
	if (v[2] < 0.0 || v[2] > 65535.0)
		return smile_error_set(e, SMILE_ERR_CONFIG, "location",
				       "accuracy outside 0..65535 metres");
	loc->lat_e6 = (int32_t)llround(v[0] * 1e6);
	loc->lon_e6 = (int32_t)llround(v[1] * 1e6);
	loc->accuracy_m = (uint16_t)llround(v[2]);
	return SMILE_OK;
}

enum smile_err bridge_conf_check(const struct bridge_conf *c, struct smile_error *e)
{
	static const char *const required[] = {"key_file", "state_dir", "gateway_sign_pk",
					       "gateway_box_pk"};
	uint8_t pk[SMILE_PROTO_PK_BYTES];
	enum smile_event ev;
	struct bridge_input_spec in;
	struct bridge_output_spec out;
	struct smile_location loc;
	struct smile_error sub = {0};

	for (size_t r = 0; r < sizeof(required) / sizeof(required[0]); r++)
		for (size_t i = 0; i < N_KEYS; i++)
			if (strcmp(keys[i].name, required[r]) == 0 &&
			    *((const char *)c + keys[i].off) == '\0')
				return smile_error_set(e, SMILE_ERR_CONFIG, required[r],
						       "required, not set");
	if (smile_proto_key_from_base64(c->gateway_sign_pk, strlen(c->gateway_sign_pk), pk))
		return smile_error_set(e, SMILE_ERR_CONFIG, "gateway_sign_pk",
				       "not a base64 32-byte key (44 characters)");
	if (smile_proto_key_from_base64(c->gateway_box_pk, strlen(c->gateway_box_pk), pk))
		return smile_error_set(e, SMILE_ERR_CONFIG, "gateway_box_pk",
				       "not a base64 32-byte key (44 characters)");
	if (c->mqtt_host[0] == '\0')
		return smile_error_set(e, SMILE_ERR_CONFIG, "mqtt_host", "required, not set");
	if (c->reconnect_min_s > c->reconnect_max_s)
		return smile_error_set(e, SMILE_ERR_CONFIG, "reconnect_min_s",
				       "greater than reconnect_max_s");
	if (c->retry_initial_ms > c->retry_max_ms)
		return smile_error_set(e, SMILE_ERR_CONFIG, "retry_initial_ms",
				       "greater than retry_max_ms");
	if ((c->mqtt_certfile[0] != '\0') != (c->mqtt_keyfile[0] != '\0'))
		return smile_error_set(e, SMILE_ERR_CONFIG, "mqtt_certfile",
				       "mqtt_certfile and mqtt_keyfile go together");
	if ((c->mqtt_certfile[0] != '\0') && c->mqtt_cafile[0] == '\0')
		return smile_error_set(e, SMILE_ERR_CONFIG, "mqtt_certfile",
				       "a client certificate needs mqtt_cafile (TLS)");
	if (c->event[0] != '\0' && smile_proto_event_from_name(c->event, &ev) != SMILE_OK)
		return smile_error_set(e, SMILE_ERR_CONFIG, "event", "not an event name");
	if (bridge_input_parse(c->input, &in, &sub) != SMILE_OK)
		return smile_error_set(e, SMILE_ERR_CONFIG, "input", "%s", sub.message);
	if (bridge_output_parse(c->output, &out, &sub) != SMILE_OK)
		return smile_error_set(e, SMILE_ERR_CONFIG, "output", "%s", sub.message);
	if (c->location[0] != '\0' && bridge_conf_location(c->location, &loc, e) != SMILE_OK)
		return SMILE_ERR_CONFIG;
	if (smile_log_level_parse(c->log_level) < 0 ||
	    smile_log_level_parse(c->log_level) == SMILE_LOG_OFF)
		return smile_error_set(e, SMILE_ERR_CONFIG, "log_level",
				       "need debug, info, warn or error");
	return SMILE_OK;
}

/* Make a relative path in `field` (cap bytes) relative to `dir` instead. */
static enum smile_err resolve(char *field, size_t cap, const char *dir, const char *name,
			      struct smile_error *e)
{
	char tmp[BRIDGE_PATH_MAX];
	int n;

	if (field[0] == '\0' || field[0] == '/' || dir[0] == '\0')
		return SMILE_OK;
	n = snprintf(tmp, sizeof(tmp), "%s/%s", dir, field);
	if (n < 0 || (size_t)n >= cap || (size_t)n >= sizeof(tmp))
		return smile_error_set(e, SMILE_ERR_CONFIG, name,
				       "path too long once made relative to the config file");
	memcpy(field, tmp, (size_t)n + 1);
	return SMILE_OK;
}

enum smile_err bridge_conf_load(struct bridge_conf *c, const char *path, struct smile_error *e)
{
	struct smile_buf b;
	struct bridge_conf tmp = *c;
	char dir[BRIDGE_PATH_MAX] = "";
	enum smile_err rc;
	const char *slash;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return smile_error_set(e, errno == ENOENT ? SMILE_ERR_NOT_FOUND : SMILE_ERR_IO,
				       "config", "cannot open the configuration file");
	smile_buf_init(&b, BRIDGE_CONF_FILE_MAX);
	rc = smile_buf_read_file(&b, f);
	fclose(f);
	if (rc != SMILE_OK) {
		smile_error_set(e, rc, "config",
				rc == SMILE_ERR_TOO_LARGE ? "configuration file over 64 KiB"
							  : "cannot read the configuration file");
		goto out;
	}
	rc = bridge_conf_parse(&tmp, b.data ? b.data : "", b.len, e);
	if (rc != SMILE_OK)
		goto out;
	rc = bridge_conf_check(&tmp, e);
	if (rc != SMILE_OK)
		goto out;
	slash = strrchr(path, '/');
	if (slash != NULL) {
		size_t n = (size_t)(slash - path);
		if (n == 0)
			n = 1; /* "/bridge.conf" */
		if (n >= sizeof(dir)) {
			rc = smile_error_set(e, SMILE_ERR_CONFIG, "config", "path too long");
			goto out;
		}
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	for (size_t i = 0; i < N_KEYS && rc == SMILE_OK; i++)
		if (keys[i].path && strcmp(keys[i].name, "output") != 0)
			rc = resolve((char *)&tmp + keys[i].off, keys[i].size, dir, keys[i].name, e);
	/* output: only the path after "unix:" is a file name */
	if (rc == SMILE_OK && strncmp(tmp.output, "unix:", 5) == 0 && tmp.output[5] != '/' &&
	    dir[0] != '\0') {
		char p[BRIDGE_PATH_MAX];
		int n = snprintf(p, sizeof(p), "unix:%s/%s", dir, tmp.output + 5);
		if (n < 0 || (size_t)n >= sizeof(tmp.output))
			rc = smile_error_set(e, SMILE_ERR_CONFIG, "output", "path too long");
		else
			memcpy(tmp.output, p, (size_t)n + 1);
	}
	if (rc == SMILE_OK)
		*c = tmp;
out:
	smile_buf_release(&b);
	return rc;
}

void bridge_conf_write(const struct bridge_conf *c, FILE *f)
{
	fprintf(f, "# smile-bridge configuration (docs/bridge.md).\n"
		   "# Format: key = value; '#' starts a comment. Unknown keys are errors.\n"
		   "# Relative paths are relative to this file's directory.\n");
	smile_conf_write(keys, N_KEYS, c, f);
}
