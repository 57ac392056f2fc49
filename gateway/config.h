/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.h - the gateway's configuration file (DIR/gateway.conf).
 *
 * Format: one "key = value" per line; '#' starts a comment; blank lines are
 * ignored. Unknown keys and bad values are errors naming the line and key, so
 * a typo never silently falls back to a default. `smile-gateway init` writes
 * the file with every key and its default, commented.
 */
#ifndef SMILE_CONFIG_H
#define SMILE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "smile/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SMILE_CONFIG_STR_MAX 256

struct smile_config {
	char listen[SMILE_CONFIG_STR_MAX];        /* host:port for HTTP */
	char store[SMILE_CONFIG_STR_MAX];         /* "sqlite:store.db", relative to DIR */
	char mask_policy[32];                     /* cn-gbt41833 | strict */
	char waybill_prefix[8];                   /* 2-4 uppercase letters */
	long http_connection_limit;               /* concurrent HTTP connections */
	long http_per_ip_limit;                   /* of those, from one address; 0: no limit */
	long http_header_timeout_s;               /* a request's line and headers must arrive in this */
	long http_body_timeout_s;                 /* a body must arrive in this ... */
	long http_body_min_rate;                  /* ... plus one second per this many bytes */
	long http_idle_timeout_s;                 /* keep-alive idle / stalled send */
	long body_max;                            /* bytes, single requests */
	long batch_body_max;                      /* bytes, batch requests */
	long batch_max_items;                     /* shipments per batch */
	long rate_limit;                          /* requests/s per API key, 0: off */
	long rate_burst;                          /* bucket size */
	long store_readers;                       /* read connections */
	long retention_after_delivery_days;       /* 0 disables */
	long retention_after_issue_days;          /* 0 disables */
	long retention_interval_s;                /* how often the job runs */
	char log_level[16];                       /* debug | info | warn | error */
	/* MQTT scan relay */
	char mqtt_host[SMILE_CONFIG_STR_MAX];     /* "" disables the relay */
	long mqtt_port;
	char mqtt_username[64];
	char mqtt_password_file[SMILE_CONFIG_STR_MAX];
	char mqtt_cafile[SMILE_CONFIG_STR_MAX];   /* TLS when set */
	char mqtt_certfile[SMILE_CONFIG_STR_MAX];
	char mqtt_keyfile[SMILE_CONFIG_STR_MAX];
	char node_id[64];                         /* this node's name; "" = HOSTNAME-PORT */
	char mqtt_share_group[64];                /* "" = plain subscription */
	long scan_skew_s;                         /* freshness window */
	long reveal_quota;                        /* reveals per device per rolling 24 h */
	long scan_workers;                        /* threads verifying scans */
	long scan_queue;                          /* bounded queue length */
	/* webhooks (docs/webhooks.md) */
	char webhook_allow_private[SMILE_CONFIG_STR_MAX]; /* false | true | CIDR list */
	long webhook_allow_http;                  /* 1: plain http URLs accepted */
	long webhook_connect_timeout_ms;
	long webhook_timeout_ms;                  /* a whole attempt */
	long webhook_retry_base_ms;               /* first retry delay */
	long webhook_retry_max_ms;                /* longest delay between attempts */
	long webhook_retry_for_s;                 /* then dead-lettered */
	long webhook_concurrency;                 /* requests in flight per node */
	long webhook_poll_ms;                     /* how often the outbox is polled */
	long webhook_keep_days;                   /* finished deliveries kept this long */
	/* merchant web console (docs/console.md) */
	char console_dir[SMILE_CONFIG_STR_MAX];   /* "" = built-in default (static.c) */
	char console_secure_cookie[8];            /* yes | no */
	long console_session_idle_s;              /* idle timeout of a console session */
	long console_session_max_s;               /* absolute lifetime */
	long console_streams_max;                 /* concurrent event streams per node */
	long console_streams_per_key;             /* of those, per API key */
	long console_export_max_rows;             /* rows of one CSV export */
	/* web pages and the recipient tracking page (docs/tracking.md) */
	char web_root[SMILE_CONFIG_STR_MAX];      /* "" = installed or source tree (static.h) */
	long track_window_s;                      /* the throttle's window */
	long track_lookups_per_address;           /* coarse lookups per window and address */
	long track_checks_per_address;            /* digit checks per window and address */
	long track_checks_per_waybill;            /* digit checks per window and waybill */
	long track_checks_per_waybill_total;      /* ... in all, per track_total_window_s */
	long track_total_window_s;
	char track_trusted_proxies[SMILE_CONFIG_STR_MAX]; /* addresses whose X-Forwarded-For counts */
};

/* Fill `c` with the defaults. */
void smile_config_defaults(struct smile_config *c);

/* Parse a whole file's text into `c` (which should hold the defaults first).
 * SMILE_ERR_CONFIG with e->field = "line N: key" and a message saying what was
 * wrong, or e->field = the key when keys disagree (http_per_ip_limit must
 * leave at least half of http_connection_limit to other addresses). `c` is
 * unchanged on error. */
enum smile_err smile_config_parse(struct smile_config *c, const char *text, size_t len,
				  struct smile_error *e) SMILE_MUST_CHECK;

/* Read and parse `path` (missing file: SMILE_ERR_NOT_FOUND; over 64 KiB:
 * SMILE_ERR_TOO_LARGE). */
enum smile_err smile_config_load(struct smile_config *c, const char *path,
				 struct smile_error *e) SMILE_MUST_CHECK;

/* Write `c` as a commented config file: every key, what it means, its value. */
void smile_config_write(const struct smile_config *c, FILE *f);

#ifdef __cplusplus
}
#endif
#endif
