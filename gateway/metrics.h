/*
 * metrics.h - lock-free counters and latency histograms, Prometheus text out.
 *
 * Routes are a fixed enum so every counter is a plain atomic in a static
 * array: recording a request costs a few atomic adds, no lock, no allocation.
 */
#ifndef SMILE_METRICS_H
#define SMILE_METRICS_H

#include <stdint.h>

#include "smile/buf.h"

#ifdef __cplusplus
extern "C" {
#endif

enum smile_route {
	SMILE_ROUTE_UNKNOWN = 0,
	SMILE_ROUTE_SHIPMENT_CREATE,
	SMILE_ROUTE_SHIPMENT_BATCH,
	SMILE_ROUTE_SHIPMENT_GET,
	SMILE_ROUTE_SHIPMENT_LABEL,
	SMILE_ROUTE_SHIPMENT_EVENTS,
	SMILE_ROUTE_SHIPMENT_ERASE,
	SMILE_ROUTE_LABELS_EXPORT,
	SMILE_ROUTE_APIKEY_CREATE,
	SMILE_ROUTE_APIKEY_DELETE,
	SMILE_ROUTE_DEVICES,
	SMILE_ROUTE_GATEWAY_INFO,
	SMILE_ROUTE_HEALTHZ,
	SMILE_ROUTE_METRICS,
	SMILE_ROUTE_COUNT
};

/* Stable label value, e.g. "shipment_create". */
const char *smile_route_name(enum smile_route r);

/* Record one finished HTTP request. Any thread. */
void smile_metrics_http(enum smile_route r, int status, double seconds);

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
