/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.h - lock-free counters and latency histograms, Prometheus text out.
 *
 * Routes are numbered slots (named once at start) so every counter is a
 * plain atomic in a static array: recording a request costs a few atomic
 * adds, no lock, no allocation.
 */
#ifndef SMILE_METRICS_H
#define SMILE_METRICS_H

#include <stdint.h>

#include "smile/buf.h"

#ifdef __cplusplus
extern "C" {
#endif

/* HTTP routes are counted by slot: slot 0 is "unknown" (no route), slots
 * 1..n the label values given once, before serving, by
 * smile_metrics_routes (http.c, from its route table). */
#define SMILE_METRICS_ROUTES_MAX 32

/* Name slots 1..n (n < SMILE_METRICS_ROUTES_MAX; literals, kept). Call once
 * before any smile_metrics_http. */
void smile_metrics_routes(const char *const *names, unsigned n);

/* The label value of a slot ("unknown" for 0 and unnamed slots). */
const char *smile_metrics_route_name(unsigned slot);

/* Record one finished HTTP request. Any thread. */
void smile_metrics_http(unsigned slot, int status, double seconds);

enum smile_counter {
	SMILE_COUNTER_SHIPMENTS_ISSUED = 0,
	SMILE_COUNTER_ERASURES,
	SMILE_COUNTER_RETENTION_ERASURES,
	SMILE_COUNTER_LABELS_RENDERED,
	SMILE_COUNTER_SCANS,
	SMILE_COUNTER_REVEALS,
	SMILE_COUNTER_DENIALS,
	SMILE_COUNTER_WAL_SCRUB_RETRIES,
	SMILE_COUNTER_HTTP_SLOW_CUTS, /* connections cut for a request arriving too slowly */
	SMILE_COUNTER_WEBHOOK_DELIVERED, /* webhook deliveries answered 2xx */
	SMILE_COUNTER_WEBHOOK_FAILED,    /* webhook attempts that failed (to be retried) */
	SMILE_COUNTER_WEBHOOK_DEAD,      /* webhook deliveries dead-lettered */
	SMILE_COUNTER_COUNT
};
void smile_metrics_add(enum smile_counter c, uint64_t n);
uint64_t smile_metrics_get(enum smile_counter c);

/* Append the Prometheus text exposition of everything to `out`. */
enum smile_err smile_metrics_render(struct smile_buf *out) SMILE_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
