/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.c - process-wide counters as static atomics.
 *
 * HTTP statuses are folded into a small fixed set of codes so the table is a
 * static array: [route][status] counters and [route][bucket] histograms.
 */
#include "metrics.h"

#include <stdatomic.h>

static const char *route_names[SMILE_METRICS_ROUTES_MAX] = {"unknown"};
static unsigned n_routes = 1;

static const int statuses[] = {200, 201, 204, 400, 401, 403, 404, 405, 409, 413,
			       415, 422, 429, 500, 503, 0 /* other */};
#define N_STATUS (sizeof(statuses) / sizeof(statuses[0]))

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
				 0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
#define N_BUCKETS (sizeof(buckets) / sizeof(buckets[0]))

static atomic_uint_fast64_t req_count[SMILE_METRICS_ROUTES_MAX][N_STATUS];
static atomic_uint_fast64_t lat_bucket[SMILE_METRICS_ROUTES_MAX][N_BUCKETS + 1];
static atomic_uint_fast64_t lat_sum_us[SMILE_METRICS_ROUTES_MAX];
static atomic_uint_fast64_t counters[SMILE_COUNTER_COUNT];

static const char *const counter_names[SMILE_COUNTER_COUNT][2] = {
	{"smile_shipments_issued_total", "Shipments issued"},
	{"smile_erasures_total", "Personal data erased on request"},
	{"smile_retention_erasures_total", "Personal data erased by the retention job"},
	{"smile_labels_rendered_total", "Labels rendered over HTTP"},
	{"smile_scans_total", "Device scans received"},
	{"smile_reveals_total", "Contact details revealed to devices"},
	{"smile_denials_total", "Scans denied"},
	{"smile_store_wal_scrub_retries_total",
	 "WAL scrubs after an erasure that a reader blocked and that were retried"},
	{"smile_http_slow_requests_cut_total",
	 "HTTP connections cut because a request's headers or body arrived too slowly"},
	{"smile_webhook_deliveries_total", "Webhook deliveries answered 2xx"},
	{"smile_webhook_failed_attempts_total", "Webhook attempts that failed and will be retried"},
	{"smile_webhook_dead_letters_total", "Webhook deliveries dead-lettered (retries ran out, or 410)"},
};

void smile_metrics_routes(const char *const *names, unsigned n)
{
	for (unsigned i = 0; i < n && i + 1 < SMILE_METRICS_ROUTES_MAX; i++)
		route_names[i + 1] = names[i];
	n_routes = n + 1 < SMILE_METRICS_ROUTES_MAX ? n + 1 : SMILE_METRICS_ROUTES_MAX;
}

const char *smile_metrics_route_name(unsigned slot)
{
	return slot < n_routes ? route_names[slot] : "unknown";
}

void smile_metrics_http(unsigned r, int status, double seconds)
{
	size_t si = N_STATUS - 1, bi = N_BUCKETS;
	if (r >= n_routes)
		r = 0;
	for (size_t i = 0; i + 1 < N_STATUS; i++)
		if (statuses[i] == status)
			si = i;
	for (size_t i = 0; i < N_BUCKETS; i++)
		if (seconds <= buckets[i]) {
			bi = i;
			break;
		}
	atomic_fetch_add_explicit(&req_count[r][si], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&lat_bucket[r][bi], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&lat_sum_us[r], (uint64_t)(seconds * 1e6),
				  memory_order_relaxed);
}

void smile_metrics_add(enum smile_counter c, uint64_t n)
{
	if ((unsigned)c < SMILE_COUNTER_COUNT)
		atomic_fetch_add_explicit(&counters[c], n, memory_order_relaxed);
}

uint64_t smile_metrics_get(enum smile_counter c)
{
	return (unsigned)c < SMILE_COUNTER_COUNT ? atomic_load(&counters[c]) : 0;
}

#define TRY(x)                        \
	do {                          \
		enum smile_err rc_ = (x); \
		if (rc_)              \
			return rc_;   \
	} while (0)

enum smile_err smile_metrics_render(struct smile_buf *out)
{
	TRY(smile_buf_puts(out, "# HELP smile_http_requests_total HTTP requests by route and "
				"status.\n# TYPE smile_http_requests_total counter\n"));
	for (unsigned r = 0; r < n_routes; r++)
		for (size_t s = 0; s < N_STATUS; s++) {
			uint64_t v = atomic_load(&req_count[r][s]);
			if (v == 0)
				continue;
			if (statuses[s])
				TRY(smile_buf_printf(out,
						     "smile_http_requests_total{route=\"%s\","
						     "status=\"%d\"} %llu\n",
						     route_names[r], statuses[s],
						     (unsigned long long)v));
			else
				TRY(smile_buf_printf(out,
						     "smile_http_requests_total{route=\"%s\","
						     "status=\"other\"} %llu\n",
						     route_names[r], (unsigned long long)v));
		}
	TRY(smile_buf_puts(out, "# HELP smile_http_request_duration_seconds HTTP request "
				"latency.\n# TYPE smile_http_request_duration_seconds histogram\n"));
	for (unsigned r = 0; r < n_routes; r++) {
		uint64_t cum = 0, total = 0;
		for (size_t b = 0; b <= N_BUCKETS; b++)
			total += atomic_load(&lat_bucket[r][b]);
		if (total == 0)
			continue;
		for (size_t b = 0; b < N_BUCKETS; b++) {
			cum += atomic_load(&lat_bucket[r][b]);
			TRY(smile_buf_printf(out,
					     "smile_http_request_duration_seconds_bucket{route=\"%s\","
					     "le=\"%g\"} %llu\n",
					     route_names[r], buckets[b], (unsigned long long)cum));
		}
		TRY(smile_buf_printf(out,
				     "smile_http_request_duration_seconds_bucket{route=\"%s\","
				     "le=\"+Inf\"} %llu\n"
				     "smile_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
				     "smile_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
				     route_names[r], (unsigned long long)total, route_names[r],
				     (double)atomic_load(&lat_sum_us[r]) / 1e6, route_names[r],
				     (unsigned long long)total));
	}
	for (int c = 0; c < SMILE_COUNTER_COUNT; c++)
		TRY(smile_buf_printf(out, "# HELP %s %s.\n# TYPE %s counter\n%s %llu\n",
				     counter_names[c][0], counter_names[c][1], counter_names[c][0],
				     counter_names[c][0],
				     (unsigned long long)atomic_load(&counters[c])));
	return SMILE_OK;
}
