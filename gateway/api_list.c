/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_list.c - GET /v1/shipments: the caller's shipments, newest first, a
 * page at a time as JSON or all of them (capped) as CSV (docs/api.md).
 *
 * Each row is a compact masked view: ids, status, times, and the label
 * record's masked recipient name and the destination region - never a
 * phone number, never anything the masked view does not already show. The
 * cursor is the last row's waybill (the caller's own), so it reveals no
 * internal id. CSV cells are quoted, and a cell a spreadsheet would read as
 * a formula (starting with = + - @, tab or carriage return) is prefixed
 * with ' (OWASP "CSV injection"). An export holds at most
 * console_export_max_rows rows.
 */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway.h"
#include "httpcheck.h"
#include "smile/unicode.h"
#include "svc.h"

#define LIST_LIMIT_DEFAULT 50
#define LIST_LIMIT_MAX 200
#define Q_MAX 64

/* The label record's masked recipient name ("" when absent). */
static void masked_name(const struct smile_store_shipment *row, char *out, size_t n)
{
	json_t *label = json_loads(row->public_json, 0, NULL);
	const char *name = json_string_value(json_object_get(json_object_get(label, "recipient"), "name"));
	snprintf(out, n, "%s", name ? name : "");
	json_decref(label);
}

static json_t *row_json(const struct smile_store_shipment *row)
{
	char created[GATEWAY_TIME_MAX], at[GATEWAY_TIME_MAX], name[128];
	json_t *v;

	gateway_iso_time(row->created_ms, created);
	masked_name(row, name, sizeof(name));
	v = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "waybill", row->waybill,
		      "merchant_ref", row->merchant_ref, "merchant", row->merchant, "status",
		      smile_shipment_status_name(row->status), "created_at", created,
		      "personal_data", row->erased_ms ? "erased" : "held", "region", row->region);
	if (v == NULL)
		return NULL;
	json_object_set_new(v, "recipient_name", name[0] ? json_string(name) : json_null());
	if (row->delivered_ms) {
		gateway_iso_time(row->delivered_ms, at);
		json_object_set_new(v, "delivered_at", json_string(at));
	}
	if (row->erased_ms) {
		gateway_iso_time(row->erased_ms, at);
		json_object_set_new(v, "erased_at", json_string(at));
	}
	return v;
}

/* ------------------------------------------------------------ CSV */

static enum smile_err csv_cell(struct smile_buf *b, const char *s, int last)
{
	enum smile_err rc = smile_buf_puts(b, "\"");
	if (rc == SMILE_OK && s && strchr("=+-@\t\r", s[0]) && s[0] != '\0')
		rc = smile_buf_puts(b, "'");
	for (; rc == SMILE_OK && s && *s; s++)
		rc = *s == '"' ? smile_buf_puts(b, "\"\"") : smile_buf_append(b, s, 1);
	if (rc == SMILE_OK)
		rc = smile_buf_puts(b, last ? "\"\r\n" : "\",");
	return rc;
}

struct csv_ctx {
	struct smile_buf *out;
	size_t rows, max;
	uint64_t last_id;
	enum smile_err rc;
};

static int csv_row(void *arg, const struct smile_store_shipment *row)
{
	struct csv_ctx *x = arg;
	char created[GATEWAY_TIME_MAX], delivered[GATEWAY_TIME_MAX] = "", name[128];

	if (x->rows >= x->max)
		return 1;
	gateway_iso_time(row->created_ms, created);
	if (row->delivered_ms)
		gateway_iso_time(row->delivered_ms, delivered);
	masked_name(row, name, sizeof(name));
	if (x->rc == SMILE_OK)
		x->rc = csv_cell(x->out, row->waybill, 0);
	if (x->rc == SMILE_OK)
		x->rc = csv_cell(x->out, row->merchant_ref, 0);
	if (x->rc == SMILE_OK)
		x->rc = csv_cell(x->out, row->merchant, 0);
	if (x->rc == SMILE_OK)
		x->rc = csv_cell(x->out, smile_shipment_status_name(row->status), 0);
	if (x->rc == SMILE_OK)
		x->rc = csv_cell(x->out, created, 0);
	if (x->rc == SMILE_OK)
		x->rc = csv_cell(x->out, delivered, 0);
	if (x->rc == SMILE_OK)
		x->rc = csv_cell(x->out, row->erased_ms ? "erased" : "held", 0);
	if (x->rc == SMILE_OK)
		x->rc = csv_cell(x->out, name, 0);
	if (x->rc == SMILE_OK)
		x->rc = csv_cell(x->out, row->region, 1);
	x->rows++;
	x->last_id = row->id;
	return x->rc != SMILE_OK;
}

static int one_more(void *arg, const struct smile_store_shipment *row)
{
	(void)row;
	*(int *)arg = 1;
	return 1;
}

static void list_csv(struct gateway *g, const struct svc_caller *c, int status, const char *q,
		     uint64_t before_id, struct http_resp *o)
{
	struct smile_buf out;
	struct smile_error e = {0};
	struct csv_ctx x = {&out, 0, (size_t)g->cfg.console_export_max_rows, 0, SMILE_OK};
	int truncated = 0;

	smile_buf_init(&out, 32u << 20);
	/* a UTF-8 byte order mark: spreadsheets then read Chinese text right */
	x.rc = smile_buf_puts(&out, "\xEF\xBB\xBF");
	if (x.rc == SMILE_OK)
		x.rc = smile_buf_puts(&out, "waybill,merchant_ref,merchant,status,created_at,"
					    "delivered_at,personal_data,recipient_name,region\r\n");
	for (;;) {
		size_t before = x.rows;
		if (svc_shipment_page(g, c, status, q, before_id, LIST_LIMIT_MAX, csv_row, &x, &e) !=
		    SMILE_OK) {
			http_resp_smile_error(o, &e);
			smile_buf_release(&out);
			return;
		}
		if (x.rc != SMILE_OK)
			break;
		if (x.rows >= x.max) {
			/* full: was there more? */
			int more = 0;
			if (svc_shipment_page(g, c, status, q, x.last_id, 1, one_more, &more, &e) ==
			    SMILE_OK)
				truncated = more;
			break;
		}
		if (x.rows - before < LIST_LIMIT_MAX)
			break;
		before_id = x.last_id;
	}
	if (x.rc != SMILE_OK) {
		http_resp_error(o, 500, "too_large", NULL, "the export did not fit");
		smile_buf_release(&out);
		return;
	}
	http_resp_bytes(o, 200, "text/csv; charset=utf-8", out.data, out.len);
	http_resp_header(o, MHD_HTTP_HEADER_CONTENT_DISPOSITION,
			 "attachment; filename=\"shipments.csv\"");
	http_resp_header(o, "X-Export-Rows", "%zu", x.rows);
	if (truncated)
		http_resp_header(o, "X-Export-Truncated", "true");
	smile_buf_release(&out);
}

/* ------------------------------------------------------------ JSON */

struct page_ctx {
	json_t *list;
	size_t n, limit;
	int more; /* a row past the page exists */
	char last[SMILE_STORE_WAYBILL_MAX];
	int failed;
};

static int page_row(void *arg, const struct smile_store_shipment *row)
{
	struct page_ctx *x = arg;
	json_t *v;
	if (x->n == x->limit) {
		x->more = 1;
		return 1;
	}
	v = row_json(row);
	if (v == NULL || json_array_append_new(x->list, v) != 0) {
		x->failed = 1;
		return 1;
	}
	x->n++;
	snprintf(x->last, sizeof(x->last), "%s", row->waybill);
	return 0;
}

/* 1-Q_MAX bytes of well-formed UTF-8 without control characters (the
 * store compares text: PostgreSQL refuses malformed bytes outright). */
static int q_ok(const char *q)
{
	size_t n = strlen(q), used;
	uint32_t cp;
	if (n == 0 || n > Q_MAX)
		return 0;
	for (; n; q += used, n -= used) {
		used = smile_unicode_utf8_decode(q, n, &cp);
		if (used == 0 || cp < 0x20 || cp == 0x7f)
			return 0;
	}
	return 1;
}

void api_shipments_list(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	struct svc_caller c = svc_caller_api(&r->key);
	const char *qs = http_query(r, "status"), *q = http_query(r, "q"),
		   *ql = http_query(r, "limit"), *qc = http_query(r, "cursor"),
		   *qf = http_query(r, "format"), *accept = http_header(r, "Accept");
	enum smile_shipment_status st;
	int status = -1, csv = 0;
	uint64_t limit = LIST_LIMIT_DEFAULT, before_id = 0;
	struct smile_error e = {0};
	struct page_ctx x = {0};

	if (qf) {
		if (strcmp(qf, "csv") != 0 && strcmp(qf, "json") != 0) {
			http_resp_error(o, 400, "invalid_value", "format", "must be json or csv");
			return;
		}
		csv = strcmp(qf, "csv") == 0;
	} else if (accept && strncasecmp(accept, "text/csv", 8) == 0) {
		csv = 1;
	}
	if (qs) {
		if (smile_shipment_status_parse(qs, &st) != SMILE_OK) {
			http_resp_error(o, 400, "invalid_value", "status",
					"must be a status: created, pickup, hub_in, hub_out, "
					"out_for_delivery, delivery_failed, delivered or returned");
			return;
		}
		status = (int)st;
	}
	if (q && !q_ok(q)) {
		http_resp_error(o, 400, "invalid_value", "q",
				"1-%d bytes of UTF-8, no control characters", Q_MAX);
		return;
	}
	if (ql && !httpcheck_uint(ql, 1, LIST_LIMIT_MAX, &limit)) {
		http_resp_error(o, 400, "invalid_value", "limit", "must be 1-%d", LIST_LIMIT_MAX);
		return;
	}
	if (qc) {
		/* the cursor is the last waybill of the previous page */
		struct smile_store_shipment row;
		if (svc_shipment_get(g, &c, qc, &row, &e) != SMILE_OK) {
			http_resp_error(o, 400, "invalid_value", "cursor",
					"not a cursor this list gave you");
			return;
		}
		before_id = row.id;
		smile_store_shipment_release(&row);
	}
	if (csv) {
		list_csv(g, &c, status, q, before_id, o);
		return;
	}
	x.list = json_array();
	if (x.list == NULL) {
		http_resp_error(o, 500, "nomem", NULL, "out of memory");
		return;
	}
	/* one row more than asked: is there a next page? */
	x.limit = (size_t)limit;
	if (svc_shipment_page(g, &c, status, q, before_id, (size_t)limit + 1, page_row, &x, &e) !=
	    SMILE_OK) {
		json_decref(x.list);
		http_resp_smile_error(o, &e);
		return;
	}
	if (x.failed) {
		json_decref(x.list);
		http_resp_error(o, 500, "nomem", NULL, "could not build the list");
		return;
	}
	http_resp_json(o, 200,
		       json_pack("{s:o, s:o}", "shipments", x.list, "next_cursor",
				 x.more ? json_string(x.last) : json_null()));
}
