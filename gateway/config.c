/*
 * config.c - gateway.conf: defaults, parsing, writing.
 *
 * One table describes every key (name, type, where it lives, bounds, help
 * text), so parsing, validation and the commented file `init` writes can never
 * disagree about what a key is.
 */
#include "smile/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "smile/buf.h"

enum kind { K_STR, K_LONG };

struct key {
	const char *name;
	enum kind kind;
	size_t off;
	size_t size; /* K_STR: buffer size */
	long min, max;
	const char *help;
};

#define STR(n, help) {#n, K_STR, offsetof(struct smile_config, n), \
		       sizeof(((struct smile_config *)0)->n), 0, 0, help}
#define LONG(n, lo, hi, help) {#n, K_LONG, offsetof(struct smile_config, n), 0, lo, hi, help}

static const struct key keys[] = {
	STR(listen, "HTTP listen address, host:port (loopback by default; put a TLS proxy in front)"),
	STR(store, "store URL: sqlite:PATH (relative to the data directory)"),
	STR(mask_policy, "masking policy: cn-gbt41833 (GB/T 41833-2022) or strict"),
	STR(waybill_prefix, "waybill number prefix: 2-4 uppercase letters"),
	LONG(http_connection_limit, 1, 100000, "most concurrent HTTP connections"),
	LONG(body_max, 1024, 1L << 20, "largest single request body, bytes"),
	LONG(batch_body_max, 1024, 64L << 20, "largest batch request body, bytes"),
	LONG(batch_max_items, 1, 10000, "most shipments in one batch request"),
	LONG(store_readers, 1, 64, "read connections to the store"),
	LONG(retention_after_delivery_days, 0, 36500,
	     "erase personal data this many days after delivery (0: never)"),
	LONG(retention_after_issue_days, 0, 36500,
	     "erase personal data this many days after issue, delivered or not (0: never)"),
	LONG(retention_interval_s, 1, 86400, "how often the retention job runs, seconds"),
	STR(log_level, "log level: debug, info, warn or error"),
	STR(mqtt_host, "MQTT broker host for the scan relay (empty: relay off)"),
	LONG(mqtt_port, 1, 65535, "MQTT broker port"),
	STR(mqtt_username, "MQTT user name of the gateway"),
	STR(mqtt_password_file, "file holding the gateway's MQTT password (relative to the data directory)"),
	STR(mqtt_cafile, "CA certificate file: set it to use TLS to the broker"),
	STR(mqtt_certfile, "client certificate file for TLS (optional)"),
	STR(mqtt_keyfile, "client key file for TLS (optional)"),
	LONG(scan_skew_s, 1, 86400, "scans older or newer than this many seconds are denied"),
	LONG(reveal_quota, 0, 1000000, "contact reveals per device per rolling 24 hours"),
	LONG(scan_workers, 1, 64, "threads verifying scans"),
	LONG(scan_queue, 16, 1000000, "scans waiting for a worker before back-pressure"),
};
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

void smile_config_defaults(struct smile_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen, sizeof(c->listen), "127.0.0.1:8480");
	snprintf(c->store, sizeof(c->store), "sqlite:store.db");
	snprintf(c->mask_policy, sizeof(c->mask_policy), "cn-gbt41833");
	snprintf(c->waybill_prefix, sizeof(c->waybill_prefix), "SW");
	c->http_connection_limit = 1024;
	c->body_max = 64 * 1024;
	c->batch_body_max = 8 * 1024 * 1024;
	c->batch_max_items = 1000;
	c->store_readers = 24;
	c->retention_after_delivery_days = 30;
	c->retention_after_issue_days = 180;
	c->retention_interval_s = 3600;
	snprintf(c->log_level, sizeof(c->log_level), "info");
	c->mqtt_port = 1883;
	snprintf(c->mqtt_username, sizeof(c->mqtt_username), "smile-gateway");
	snprintf(c->mqtt_password_file, sizeof(c->mqtt_password_file), "mqtt.password");
	c->scan_skew_s = 300;
	c->reveal_quota = 200;
	c->scan_workers = 4;
	c->scan_queue = 4096;
}

static char *trim(char *s)
{
	char *end;
	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

static enum smile_err set_key(struct smile_config *c, const struct key *k, const char *val,
			      int line, struct smile_error *e)
{
	char field[64];
	snprintf(field, sizeof(field), "line %d: %s", line, k->name);
	if (k->kind == K_STR) {
		size_t n = strlen(val);
		if (n >= k->size)
			return smile_error_set(e, SMILE_ERR_CONFIG, field,
					       "value is %zu bytes, at most %zu", n, k->size - 1);
		memcpy((char *)c + k->off, val, n + 1);
		return SMILE_OK;
	}
	char *end;
	errno = 0;
	long v = strtol(val, &end, 10);
	if (errno || end == val || *end != '\0')
		return smile_error_set(e, SMILE_ERR_CONFIG, field, "not a whole number");
	if (v < k->min || v > k->max)
		return smile_error_set(e, SMILE_ERR_CONFIG, field, "%ld is outside %ld..%ld", v,
				       k->min, k->max);
	*(long *)(void *)((char *)c + k->off) = v;
	return SMILE_OK;
}

enum smile_err smile_config_parse(struct smile_config *c, const char *text, size_t len,
				  struct smile_error *e)
{
	struct smile_config tmp = *c;
	char line[1024];
	size_t pos = 0;
	int lineno = 0;

	while (pos < len) {
		size_t start = pos;
		while (pos < len && text[pos] != '\n')
			pos++;
		size_t n = pos - start;
		pos++; /* past '\n' */
		lineno++;
		if (n >= sizeof(line))
			return smile_error_set(e, SMILE_ERR_CONFIG, NULL,
					       "line %d: longer than %zu bytes", lineno,
					       sizeof(line) - 1);
		memcpy(line, text + start, n);
		line[n] = '\0';
		if (memchr(line, '\0', n) != NULL)
			return smile_error_set(e, SMILE_ERR_CONFIG, NULL, "line %d: NUL byte", lineno);
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *s = trim(line);
		if (*s == '\0')
			continue;
		char *eq = strchr(s, '=');
		if (eq == NULL)
			return smile_error_set(e, SMILE_ERR_CONFIG, NULL,
					       "line %d: expected key = value", lineno);
		*eq = '\0';
		char *key = trim(s), *val = trim(eq + 1);
		const struct key *k = NULL;
		for (size_t i = 0; i < N_KEYS; i++)
			if (strcmp(keys[i].name, key) == 0)
				k = &keys[i];
		if (k == NULL) {
			char field[64];
			snprintf(field, sizeof(field), "line %d", lineno);
			return smile_error_set(e, SMILE_ERR_CONFIG, field, "unknown key '%.40s'",
					       key);
		}
		enum smile_err rc = set_key(&tmp, k, val, lineno, e);
		if (rc)
			return rc;
	}
	*c = tmp;
	return SMILE_OK;
}

enum smile_err smile_config_load(struct smile_config *c, const char *path, struct smile_error *e)
{
	struct smile_buf b;
	enum smile_err rc;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return smile_error_set(e, errno == ENOENT ? SMILE_ERR_NOT_FOUND : SMILE_ERR_IO,
				       "config", "cannot open the configuration file");
	smile_buf_init(&b, 64 * 1024);
	rc = smile_buf_read_file(&b, f);
	fclose(f);
	if (rc == SMILE_OK)
		rc = smile_config_parse(c, b.data ? b.data : "", b.len, e);
	else
		smile_error_set(e, rc, "config", "cannot read the configuration file");
	smile_buf_release(&b);
	return rc;
}

void smile_config_write(const struct smile_config *c, FILE *f)
{
	fprintf(f, "# smile-gateway configuration.\n"
		   "# Every key is listed with its current value; edit and restart.\n"
		   "# Format: key = value; '#' starts a comment. Unknown keys are errors.\n");
	for (size_t i = 0; i < N_KEYS; i++) {
		const struct key *k = &keys[i];
		fprintf(f, "\n# %s\n", k->help);
		if (k->kind == K_STR)
			fprintf(f, "%s = %s\n", k->name, (const char *)c + k->off);
		else
			fprintf(f, "%s = %ld\n", k->name,
				*(const long *)(const void *)((const char *)c + k->off));
	}
}
