/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.c - gateway.conf: defaults, parsing, writing.
 *
 * One table describes every key (name, type, where it lives, bounds, help
 * text); the shared parser and writer (conffile.h) read and write it, so
 * parsing, validation and the commented file `init` writes never disagree.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "smile/buf.h"
#include "smile/conffile.h"
#include "webhook.h"

#define STR(n, help) SMILE_CONF_STR_KEY(struct smile_config, n, 0, help)
#define LONG(n, lo, hi, help) SMILE_CONF_LONG_KEY(struct smile_config, n, lo, hi, help)

static const struct smile_conf_key keys[] = {
	STR(listen, "HTTP listen address, host:port (loopback by default; put a TLS proxy in front)"),
	STR(store, "store URL: sqlite:PATH (relative to the data directory) or "
		   "postgresql://user@host:port/db[?scrub_interval=SECONDS]; the environment "
		   "variable SMILE_STORE overrides it (docs/operations.md)"),
	STR(mask_policy, "masking policy: cn-gbt41833 (GB/T 41833-2022) or strict"),
	STR(waybill_prefix, "waybill number prefix: 2-4 uppercase letters"),
	LONG(http_connection_limit, 1, 100000, "most concurrent HTTP connections"),
	LONG(http_per_ip_limit, 0, 50000,
	     "most concurrent HTTP connections from one client address, at most half of "
	     "http_connection_limit so other clients always find a free one (0: no limit; "
	     "behind a proxy every connection comes from the proxy's address)"),
	LONG(http_header_timeout_s, 1, 3600,
	     "seconds a request's line and headers may take to arrive; a client trickling "
	     "bytes does not extend it"),
	LONG(http_body_timeout_s, 1, 3600,
	     "seconds a request body may take to arrive, plus one second per "
	     "http_body_min_rate bytes received"),
	LONG(http_body_min_rate, 1, 1L << 30, "slowest accepted body upload, bytes per second"),
	LONG(http_idle_timeout_s, 1, 86400,
	     "seconds a keep-alive connection may sit idle, or a response stall unread"),
	LONG(body_max, 1024, 1L << 20, "largest single request body, bytes"),
	LONG(batch_body_max, 1024, 64L << 20, "largest batch request body, bytes"),
	LONG(batch_max_items, 1, 10000, "most shipments in one batch request"),
	LONG(rate_limit, 0, 1000000, "requests per second per API key before 429 (0: no limit)"),
	LONG(rate_burst, 1, 10000000, "requests an API key may send at once above its rate"),
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
	STR(node_id, "this gateway node's name, in its MQTT client id and logs; keep it across "
		     "restarts (empty: mqtt_username for a node alone, HOSTNAME-PORT with "
		     "mqtt_share_group)"),
	STR(mqtt_share_group, "MQTT v5 shared subscription group: nodes with the same group share "
			      "the scans, each scan reaching one of them (empty: every scan to this node)"),
	LONG(scan_skew_s, 1, 86400, "scans older or newer than this many seconds are denied"),
	LONG(reveal_quota, 0, 1000000, "contact reveals per device per rolling 24 hours"),
	LONG(scan_workers, 1, 64, "threads verifying scans"),
	LONG(scan_queue, 16, 1000000, "scans waiting for a worker before back-pressure"),
	STR(webhook_allow_private,
	    "webhook URLs resolving to loopback, link-local, private or reserved addresses: "
	    "false (refused), true (allowed) or a comma-separated CIDR list allowed "
	    "(e.g. 127.0.0.0/8,::1/128)"),
	LONG(webhook_allow_http, 0, 1, "1: accept plain http:// webhook URLs (0: https only)"),
	LONG(webhook_connect_timeout_ms, 100, 60000, "webhook connection timeout, milliseconds"),
	LONG(webhook_timeout_ms, 100, 120000,
	     "webhook attempt timeout (connect, send, answer), milliseconds"),
	LONG(webhook_retry_base_ms, 10, 3600000,
	     "delay before the first webhook retry, milliseconds; doubled per attempt, with jitter"),
	LONG(webhook_retry_max_ms, 10, 86400000, "longest delay between webhook attempts, milliseconds"),
	LONG(webhook_retry_for_s, 1, 604800,
	     "seconds a webhook delivery is retried before it is dead-lettered"),
	LONG(webhook_concurrency, 1, 1024, "webhook requests in flight at once on this node"),
	LONG(webhook_poll_ms, 10, 60000, "how often this node looks for due webhook deliveries"),
	LONG(webhook_keep_days, 1, 3650,
	     "days delivered and dead-lettered webhook deliveries stay listed (and redeliverable)"),
	STR(console_dir, "directory of the merchant web console's files served at /console/ "
			 "(empty: the console/ subdirectory of web_root; relative: to the data "
			 "directory)"),
	STR(console_secure_cookie, "yes: the console's session cookie carries Secure (turn it on "
				   "behind a TLS proxy); no: plain HTTP on loopback works"),
	LONG(console_session_idle_s, 1, 86400,
	     "seconds a console session may sit unused before it ends"),
	LONG(console_session_max_s, 1, 30L * 86400,
	     "seconds a console session lasts at most, however busy"),
	LONG(console_streams_per_key, 1, 10000,
	     "most live event streams one API key (all its console sessions included) may "
	     "hold open at once on this node; more are answered 503"),
	LONG(console_streams_max, 1, 10000,
	     "most live event streams (GET /v1/events/stream) open at once on this node; "
	     "more are answered 503"),
	LONG(console_export_max_rows, 1, 100000,
	     "most rows of one CSV export of the shipment list (newest first; the answer says "
	     "when more matched)"),
	STR(web_root, "directory of the web pages (the tracking page in its track/ subdirectory), "
		      "relative to the data directory unless absolute (empty: the installed "
		      "PREFIX/share/smile/web, or the source tree's gateway/web)"),
	LONG(track_window_s, 1, 604800,
	     "tracking page: the throttle's window, seconds (docs/tracking.md)"),
	LONG(track_lookups_per_address, 1, 1000000,
	     "tracking page: coarse status lookups per window from one client address"),
	LONG(track_checks_per_address, 1, 1000000,
	     "tracking page: phone digit checks per window from one client address"),
	LONG(track_checks_per_waybill, 1, 1000000,
	     "tracking page: phone digit checks per window for one waybill, from anywhere"),
	LONG(track_checks_per_waybill_total, 1, 1000000,
	     "tracking page: phone digit checks of one waybill in all, from anywhere, per "
	     "track_total_window_s (caps a patient guesser's odds: 50 of 10,000)"),
	LONG(track_total_window_s, 1, 10L * 365 * 86400,
	     "tracking page: the window of track_checks_per_waybill_total, seconds"),
	STR(track_trusted_proxies,
	    "tracking page: comma-separated IP addresses of your reverse proxies; from them the "
	    "last address of X-Forwarded-For is the client the throttle counts (empty: the TCP "
	    "peer is the client, and X-Forwarded-For is ignored)"),
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
	c->http_per_ip_limit = 128;
	c->http_header_timeout_s = 10;
	c->http_body_timeout_s = 20;
	c->http_body_min_rate = 1000;
	c->http_idle_timeout_s = 60;
	c->body_max = 64 * 1024;
	c->batch_body_max = 8 * 1024 * 1024;
	c->batch_max_items = 1000;
	c->rate_limit = 10000;
	c->rate_burst = 20000;
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
	snprintf(c->webhook_allow_private, sizeof(c->webhook_allow_private), "false");
	c->webhook_allow_http = 0;
	c->webhook_connect_timeout_ms = 5000;
	c->webhook_timeout_ms = 10000;
	c->webhook_retry_base_ms = 10000;
	c->webhook_retry_max_ms = 3600000;
	c->webhook_retry_for_s = 86400;
	c->webhook_concurrency = 32;
	c->webhook_poll_ms = 500;
	c->webhook_keep_days = 30;
	snprintf(c->console_secure_cookie, sizeof(c->console_secure_cookie), "no");
	c->console_session_idle_s = 1800;
	c->console_session_max_s = 12 * 3600;
	c->console_streams_max = 64;
	c->console_streams_per_key = 4;
	c->console_export_max_rows = 10000;
	c->track_window_s = 3600;
	c->track_lookups_per_address = 300;
	c->track_checks_per_address = 30;
	c->track_checks_per_waybill = 10;
	c->track_checks_per_waybill_total = 50;
	c->track_total_window_s = 30L * 86400;
}

/* Rules between keys, checked once every line parsed. */
static enum smile_err check_keys(const struct smile_config *c, struct smile_error *e)
{
	/* One address may take at most half the connections: the other half is
	 * the reserve no single client can exhaust (docs/operations.md). */
	if (c->http_per_ip_limit > c->http_connection_limit / 2)
		return smile_error_set(e, SMILE_ERR_CONFIG, "http_per_ip_limit",
				       "%ld is over half of http_connection_limit (%ld)",
				       c->http_per_ip_limit, c->http_connection_limit);
	if (strcmp(c->console_secure_cookie, "yes") != 0 && strcmp(c->console_secure_cookie, "no") != 0)
		return smile_error_set(e, SMILE_ERR_CONFIG, "console_secure_cookie",
				       "must be yes or no");
	/* every trusted proxy is an address, so a typo is an error, not a
	 * proxy silently distrusted */
	for (const char *p = c->track_trusted_proxies; *p;) {
		char one[64];
		unsigned char bin[16];
		size_t l;
		while (*p == ' ' || *p == ',')
			p++;
		l = strcspn(p, ", ");
		if (l == 0)
			break;
		if (l >= sizeof(one))
			l = sizeof(one) - 1;
		memcpy(one, p, l);
		one[l] = '\0';
		if (inet_pton(AF_INET, one, bin) != 1 && inet_pton(AF_INET6, one, bin) != 1)
			return smile_error_set(e, SMILE_ERR_CONFIG, "track_trusted_proxies",
					       "each entry must be an IP address; one of %d characters is not",
					       (int)l);
		p += strcspn(p, ", ");
	}
	struct webhook_allow allow;
	return webhook_allow_parse(c->webhook_allow_private, &allow, e);
}

enum smile_err smile_config_parse(struct smile_config *c, const char *text, size_t len,
				  struct smile_error *e)
{
	struct smile_config tmp = *c;
	enum smile_err rc = smile_conf_parse(keys, N_KEYS, &tmp, sizeof(tmp), text, len, e);
	if (rc == SMILE_OK)
		rc = check_keys(&tmp, e);
	if (rc == SMILE_OK)
		*c = tmp;
	return rc;
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
	smile_conf_write(keys, N_KEYS, c, f);
}
