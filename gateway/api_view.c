/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_view.c - reading shipments over HTTP: masked view, labels, tracking
 * events, label export for offline printing, and erasure.
 *
 * The rules (who sees what, erasure, rendering) are the service's
 * (svc_shipments.c, svc_labels.c); this file reads path and query and
 * writes the answer. Everything here reads the public part only; the vault
 * is never opened.
 */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "httpcheck.h"
#include "smile/label.h"
#include "smile/log.h"
#include "svc.h"

/* ------------------------------------------------------------ view */

/* The shipment named by path segment 2, if the caller may see it; 0 (and
 * the error response: 404 also for another merchant's) when not. */
static int load_visible(struct gateway *g, struct http_req *r, struct http_resp *o,
			struct smile_store_shipment *row)
{
	struct svc_caller c = svc_caller_api(&r->key);
	struct smile_error e = {0};
	if (svc_shipment_get(g, &c, r->seg[2], row, &e) == SMILE_OK)
		return 1;
	http_resp_smile_error(o, &e);
	return 0;
}

static json_t *masked_view(const struct smile_store_shipment *row)
{
	char created[GATEWAY_TIME_MAX], at[GATEWAY_TIME_MAX];
	json_t *label = json_loads(row->public_json, 0, NULL);
	json_t *v;

	gateway_iso_time(row->created_ms, created);
	v = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "waybill", row->waybill, "merchant",
		      row->merchant, "merchant_ref", row->merchant_ref, "status",
		      smile_shipment_status_name(row->status),
		      "created_at", created, "personal_data", row->erased_ms ? "erased" : "held",
		      "label", label ? label : json_null());
	if (v && row->delivered_ms) {
		gateway_iso_time(row->delivered_ms, at);
		json_object_set_new(v, "delivered_at", json_string(at));
	}
	if (v && row->erased_ms) {
		gateway_iso_time(row->erased_ms, at);
		json_object_set_new(v, "erased_at", json_string(at));
	}
	return v;
}

void api_shipment_get(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	struct smile_store_shipment row;
	if (!load_visible(g, r, o, &row))
		return;
	http_resp_json(o, 200, masked_view(&row));
	smile_store_shipment_release(&row);
}

/* ------------------------------------------------------------ events */

void api_shipment_events(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	struct svc_caller c = svc_caller_api(&r->key);
	struct smile_store_shipment row;
	struct smile_error e = {0};
	json_t *events;

	if (!load_visible(g, r, o, &row))
		return;
	if (svc_shipment_events(g, &c, &row, &events, &e) != SMILE_OK)
		http_resp_smile_error(o, &e);
	else
		http_resp_json(o, 200,
			       json_pack("{s:s, s:s, s:s, s:o}", "waybill", row.waybill,
					 "merchant_ref", row.merchant_ref, "status",
					 smile_shipment_status_name(row.status),
					 "events", events));
	smile_store_shipment_release(&row);
}

/* ------------------------------------------------------------ erase */

void api_shipment_erase(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	struct svc_caller c = svc_caller_api(&r->key);
	struct smile_error e = {0};
	char waybill[SMILE_STORE_WAYBILL_MAX], at[GATEWAY_TIME_MAX];
	int already;
	int64_t erased_ms;
	enum smile_err rc = svc_shipment_erase(g, &c, r->seg[2], waybill, &already, &erased_ms, &e);

	if (rc == SMILE_ERR_PERMISSION) {
		http_resp_error(o, 403, "forbidden", NULL, "%s", e.message);
		return;
	}
	if (rc) {
		http_resp_smile_error(o, &e);
		return;
	}
	if (erased_ms)
		gateway_iso_time(erased_ms, at);
	else
		snprintf(at, sizeof(at), "unknown");
	http_resp_json(o, 200,
		       json_pack("{s:s, s:s, s:s, s:b}", "waybill", waybill, "personal_data",
				 "erased", "erased_at", at, "already_erased", already));
}

/* ------------------------------------------------------------ labels */

static const char *content_type(enum smile_label_format f)
{
	switch (f) {
	case SMILE_LABEL_PNG:
		return "image/png";
	case SMILE_LABEL_PDF:
		return "application/pdf";
	case SMILE_LABEL_ZPL:
		return "application/zpl";
	}
	return "application/octet-stream";
}

void api_shipment_label(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	struct svc_caller c = svc_caller_api(&r->key);
	struct smile_store_shipment row;
	enum smile_label_format fmt = SMILE_LABEL_PNG;
	enum smile_label_size size = SMILE_LABEL_100X150;
	struct smile_error e = {0};
	struct smile_buf out;
	const char *qf = http_query(r, "format"), *qd = http_query(r, "dpi"),
		   *qs = http_query(r, "size"), *qp = http_query(r, "parcel");
	long dpi = 203, parcel = 0, n_labels;
	enum smile_err rc;
	uint64_t v;

	if (qf && smile_label_format_parse(qf, &fmt) != SMILE_OK) {
		http_resp_error(o, 400, "invalid_value", "format", "must be png, pdf or zpl");
		return;
	}
	if (qd) {
		if (!httpcheck_uint(qd, 1, 100000, &v) || !smile_label_dpi_supported((int)v)) {
			http_resp_error(o, 400, "invalid_value", "dpi", "must be 203 or 300");
			return;
		}
		dpi = (long)v;
	}
	if (qs && smile_label_size_parse(qs, &size) != SMILE_OK) {
		http_resp_error(o, 400, "invalid_value", "size",
				"must be 100x150, 100x180 or 76x130");
		return;
	}
	if (qp) {
		if (!httpcheck_uint(qp, 1, 99, &v)) {
			http_resp_error(o, 400, "invalid_value", "parcel", "must be 1-99");
			return;
		}
		parcel = (long)v;
	}
	smile_buf_init(&out, SMILE_LABEL_OUTPUT_MAX);
	rc = svc_shipment_label(g, &c, r->seg[2], fmt, (int)dpi, size, parcel, &out, &row,
				&n_labels, &e);
	if (rc == SMILE_ERR_FIELD_VALUE && strcmp(e.field, "parcel") == 0) {
		/* a query parameter out of range for this shipment */
		http_resp_error(o, 400, "invalid_value", "parcel", "%s", e.message);
	} else if (rc) {
		http_resp_smile_error(o, &e);
	} else {
		http_resp_bytes(o, 200, content_type(fmt), out.data, out.len);
		http_resp_header(o, MHD_HTTP_HEADER_CONTENT_DISPOSITION,
				 "inline; filename=\"%s.%s\"", row.waybill,
				 smile_label_format_name(fmt));
		smile_store_shipment_release(&row);
	}
	smile_buf_release(&out);
}

/* ------------------------------------------------------------ export */

void api_labels_export(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	const char *since = http_query(r, "since"), *after = http_query(r, "after"),
		   *lim = http_query(r, "limit");
	struct svc_caller c = svc_caller_api(&r->key);
	struct smile_error e = {0};
	int64_t since_ms = 0;
	uint64_t after_id = 0, limit = 1000, last_id;
	struct smile_buf out;

	if (since && !httpcheck_since(since, &since_ms)) {
		http_resp_error(o, 400, "invalid_value", "since",
				"expected a real date YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC), "
				"or Unix milliseconds (9-15 digits)");
		return;
	}
	/* ids are SQLite integers: 0..2^63-1 */
	if (after && !httpcheck_uint(after, 0, INT64_MAX, &after_id)) {
		http_resp_error(o, 400, "invalid_value", "after",
				"expected the cursor from X-Next-After (0-%lld)", (long long)INT64_MAX);
		return;
	}
	if (lim && !httpcheck_uint(lim, 1, 10000, &limit)) {
		http_resp_error(o, 400, "invalid_value", "limit", "must be 1-10000");
		return;
	}
	smile_buf_init(&out, 64u << 20);
	if (svc_labels_export(g, &c, since_ms, after_id, (size_t)limit, &out, &last_id, &e) !=
	    SMILE_OK) {
		http_resp_smile_error(o, &e);
	} else {
		http_resp_bytes(o, 200, "application/x-ndjson", out.data ? out.data : "", out.len);
		if (last_id)
			http_resp_header(o, "X-Next-After", "%llu", (unsigned long long)last_id);
	}
	smile_buf_release(&out);
}
