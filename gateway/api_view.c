/*
 * api_view.c - reading shipments: masked view, labels, tracking events,
 * label export for offline printing, and erasure.
 *
 * Everything here reads the public part only; the vault is never opened.
 * Label rendering reuses renderers from a small pool per (format, dpi, size),
 * because a renderer's fonts are costly to load and HTTP threads come and go
 * with their connections.
 */
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events.h"
#include "gateway.h"
#include "httpcheck.h"
#include "smile/label.h"
#include "smile/log.h"

/* ------------------------------------------------------------ helpers */

/* Load the shipment named by path segment 2 and check the caller may see it.
 * 0 (and an error response) when not. Hides other merchants' shipments as 404
 * so a key cannot probe which waybill numbers exist. */
static int load_visible(struct gateway *g, struct http_req *r, struct http_resp *o,
			struct smile_store_shipment *row)
{
	const char *wb = r->seg[2];
	enum smile_err rc;

	if (strlen(wb) >= SMILE_STORE_WAYBILL_MAX) {
		http_resp_error(o, 404, "not_found", "waybill", "no such shipment");
		return 0;
	}
	rc = smile_store_get_shipment(g->store, wb, row);
	if (rc == SMILE_OK && api_may_access(&r->key, row->merchant))
		return 1;
	if (rc == SMILE_OK)
		smile_store_shipment_release(row);
	if (rc == SMILE_OK || rc == SMILE_ERR_NOT_FOUND)
		http_resp_error(o, 404, "not_found", "waybill", "no such shipment");
	else
		http_resp_error(o, 500, "store", NULL, "could not read the shipment");
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

struct events_ctx {
	const struct smile_keys *keys;
	const char *merchant_ref;
	json_t *events;
	int failed;
};

/* Each listed event is the very object the relay published on MQTT
 * (protocol.md 10.1, events.c): the same event_id, the role and never the
 * device id - couriers' identities are not the merchant's business. */
static int add_event(void *arg, const struct smile_store_event *ev)
{
	struct events_ctx *c = arg;
	char buf[EVENTS_JSON_MAX];
	size_t n = events_event_json(c->keys, ev, c->merchant_ref, buf, sizeof(buf));
	json_t *e = n ? json_loadb(buf, n, 0, NULL) : NULL;
	if (e == NULL) {
		c->failed = 1;
		return 1;
	}
	json_array_append_new(c->events, e);
	return 0;
}

void api_shipment_events(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	struct smile_store_shipment row;
	json_t *events;
	struct events_ctx c;

	if (!load_visible(g, r, o, &row))
		return;
	events = json_array();
	c = (struct events_ctx){g->keys, row.merchant_ref, events, 0};
	if (smile_store_list_events(g->store, row.id, add_event, &c) != SMILE_OK || c.failed) {
		json_decref(events);
		http_resp_error(o, 500, "store", NULL, "could not read the events");
	} else {
		http_resp_json(o, 200,
			       json_pack("{s:s, s:s, s:s, s:o}", "waybill", row.waybill,
					 "merchant_ref", row.merchant_ref, "status",
					 smile_shipment_status_name(row.status),
					 "events", events));
	}
	smile_store_shipment_release(&row);
}

/* ------------------------------------------------------------ erase */

void api_shipment_erase(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	struct smile_store_shipment row;
	enum smile_err rc;
	char at[GATEWAY_TIME_MAX];

	if (r->key.role == SMILE_ROLE_WAREHOUSE) {
		http_resp_error(o, 403, "forbidden", NULL,
				"only the merchant or an admin may erase personal data");
		return;
	}
	if (!load_visible(g, r, o, &row))
		return;
	rc = smile_store_erase_personal(g->store, row.id, gateway_now_ms(), "api");
	if (rc == SMILE_OK || rc == SMILE_ERR_SHREDDED) {
		struct smile_store_shipment now;
		if (rc == SMILE_OK) {
			smile_metrics_add(SMILE_COUNTER_ERASURES, 1);
			smile_log(SMILE_LOG_INFO, "shipment.erased",
				  SMILE_KV_ID("waybill", row.waybill), SMILE_KV_ID("key", r->key.id));
		}
		if (smile_store_get_shipment_by_id(g->store, row.id, &now) == SMILE_OK) {
			gateway_iso_time(now.erased_ms, at);
			smile_store_shipment_release(&now);
		} else {
			snprintf(at, sizeof(at), "unknown");
		}
		http_resp_json(o, 200,
			       json_pack("{s:s, s:s, s:s, s:b}", "waybill", row.waybill,
					 "personal_data", "erased", "erased_at", at,
					 "already_erased", rc == SMILE_ERR_SHREDDED));
	} else {
		http_resp_error(o, 500, "store", NULL, "could not erase");
	}
	smile_store_shipment_release(&row);
}

/* ------------------------------------------------------------ labels */

#define POOL_KEEP 4

struct pool_slot {
	struct smile_label_renderer *free[POOL_KEEP];
	int n;
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pool_slot pool[3][2][3]; /* format, dpi (203, 300), size */

static struct pool_slot *slot_of(enum smile_label_format f, int dpi, enum smile_label_size s)
{
	return &pool[f][dpi == 300][s];
}

static enum smile_err renderer_take(enum smile_label_format f, int dpi, enum smile_label_size s,
				    struct smile_label_renderer **out, struct smile_error *e)
{
	struct pool_slot *sl = slot_of(f, dpi, s);
	pthread_mutex_lock(&pool_lock);
	*out = sl->n ? sl->free[--sl->n] : NULL;
	pthread_mutex_unlock(&pool_lock);
	if (*out)
		return SMILE_OK;
	return smile_label_renderer_new(f, dpi, s, out, e);
}

static void renderer_give(enum smile_label_format f, int dpi, enum smile_label_size s,
			  struct smile_label_renderer *r)
{
	struct pool_slot *sl = slot_of(f, dpi, s);
	pthread_mutex_lock(&pool_lock);
	if (sl->n < POOL_KEEP) {
		sl->free[sl->n++] = r;
		r = NULL;
	}
	pthread_mutex_unlock(&pool_lock);
	smile_label_renderer_free(r);
}

void gateway_label_pool_free(void);
void gateway_label_pool_free(void)
{
	pthread_mutex_lock(&pool_lock);
	for (int a = 0; a < 3; a++)
		for (int b = 0; b < 2; b++)
			for (int c = 0; c < 3; c++) {
				while (pool[a][b][c].n)
					smile_label_renderer_free(
						pool[a][b][c].free[--pool[a][b][c].n]);
			}
	pthread_mutex_unlock(&pool_lock);
}

static enum smile_err sink_buf(void *arg, const unsigned char *data, size_t len)
{
	return smile_buf_append(arg, data, len);
}

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

/* Record JSON for parcel `index` of the stored label record. */
static char *record_for_parcel(const char *public_json, long index)
{
	json_t *rec = json_loads(public_json, 0, NULL);
	json_t *parcel = rec ? json_object_get(rec, "parcel") : NULL;
	char *s;
	if (parcel)
		json_object_set_new(parcel, "index", json_integer(index));
	s = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
	json_decref(rec);
	return s;
}

void api_shipment_label(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	struct smile_store_shipment row;
	struct smile_label_renderer *rd = NULL;
	enum smile_label_format fmt = SMILE_LABEL_PNG;
	enum smile_label_size size = SMILE_LABEL_100X150;
	struct smile_error e = {0};
	struct smile_buf out;
	const char *qf = http_query(r, "format"), *qd = http_query(r, "dpi"),
		   *qs = http_query(r, "size"), *qp = http_query(r, "parcel");
	long dpi = 203, parcel = 0, count = 1, first, last;
	enum smile_err rc = SMILE_OK;
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
	if (!load_visible(g, r, o, &row))
		return;
	{
		json_t *rec = json_loads(row.public_json, 0, NULL);
		count = json_integer_value(json_object_get(json_object_get(rec, "parcel"), "count"));
		json_decref(rec);
		if (count < 1)
			count = 1;
	}
	if (parcel > count) {
		smile_store_shipment_release(&row);
		http_resp_error(o, 400, "invalid_value", "parcel", "this shipment has %ld parcel(s)",
				count);
		return;
	}
	/* PNG is one image: one parcel (the first unless asked). PDF and ZPL
	 * carry every parcel's label unless one is asked for. */
	first = parcel ? parcel : 1;
	last = parcel ? parcel : (fmt == SMILE_LABEL_PNG ? 1 : count);

	smile_buf_init(&out, SMILE_LABEL_OUTPUT_MAX);
	rc = renderer_take(fmt, (int)dpi, size, &rd, &e);
	if (rc == SMILE_OK && fmt != SMILE_LABEL_PNG)
		rc = smile_label_batch_begin(rd, sink_buf, &out, &e);
	for (long i = first; rc == SMILE_OK && i <= last; i++) {
		struct smile_label_record *rec = NULL;
		char *json = record_for_parcel(row.public_json, i);
		rc = json ? smile_label_record_parse(json, strlen(json), &rec, &e)
			  : smile_error_set(&e, SMILE_ERR_NOMEM, NULL, NULL);
		if (rc == SMILE_OK)
			rc = fmt == SMILE_LABEL_PNG ? smile_label_render(rd, rec, &out, &e)
						    : smile_label_batch_add(rd, rec, &e);
		smile_label_record_free(rec);
		free(json);
	}
	if (rd && fmt != SMILE_LABEL_PNG) {
		struct smile_error e2 = {0};
		enum smile_err rc2 = smile_label_batch_end(rd, &e2);
		if (rc == SMILE_OK && rc2) {
			rc = rc2;
			e = e2;
		}
	}
	if (rd)
		renderer_give(fmt, (int)dpi, size, rd);
	if (rc) {
		smile_log(SMILE_LOG_WARN, "label.render_failed", SMILE_KV_ID("waybill", row.waybill),
			  SMILE_KV_ERR("err", rc));
		http_resp_smile_error(o, &e);
	} else {
		smile_metrics_add(SMILE_COUNTER_LABELS_RENDERED, (uint64_t)(last - first + 1));
		http_resp_bytes(o, 200, content_type(fmt), out.data, out.len);
		http_resp_header(o, MHD_HTTP_HEADER_CONTENT_DISPOSITION,
				 "inline; filename=\"%s.%s\"", row.waybill,
				 smile_label_format_name(fmt));
	}
	smile_buf_release(&out);
	smile_store_shipment_release(&row);
}

/* ------------------------------------------------------------ export */

struct export_ctx {
	struct smile_buf *out;
	uint64_t last_id;
	enum smile_err rc;
};

static int export_row(void *arg, const struct smile_store_shipment *row)
{
	struct export_ctx *x = arg;
	x->rc = smile_buf_puts(x->out, row->public_json);
	if (x->rc == SMILE_OK)
		x->rc = smile_buf_puts(x->out, "\n");
	x->last_id = row->id;
	return x->rc != SMILE_OK;
}

void api_labels_export(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	const char *since = http_query(r, "since"), *after = http_query(r, "after"),
		   *lim = http_query(r, "limit");
	const char *merchants[SMILE_STORE_MAX_BINDINGS];
	size_t n_merchants = 0;
	int64_t since_ms = 0;
	uint64_t after_id = 0, limit = 1000;
	struct smile_buf out;
	struct export_ctx x = {&out, 0, SMILE_OK};

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
	switch (r->key.role) {
	case SMILE_ROLE_MERCHANT:
		merchants[n_merchants++] = r->key.merchant;
		break;
	case SMILE_ROLE_WAREHOUSE:
		for (int i = 0; i < r->key.n_bindings; i++)
			merchants[n_merchants++] = r->key.bindings[i];
		if (n_merchants == 0) {
			http_resp_bytes(o, 200, "application/x-ndjson", "", 0);
			return;
		}
		break;
	case SMILE_ROLE_ADMIN:
		break;
	}
	smile_buf_init(&out, 64u << 20);
	if (smile_store_list_shipments(g->store, since_ms, after_id, n_merchants ? merchants : NULL,
				       n_merchants, (size_t)limit, export_row, &x) != SMILE_OK ||
	    x.rc != SMILE_OK) {
		http_resp_error(o, 500, "store", NULL, "could not list labels");
	} else {
		http_resp_bytes(o, 200, "application/x-ndjson", out.data ? out.data : "", out.len);
		if (x.last_id)
			http_resp_header(o, "X-Next-After", "%llu", (unsigned long long)x.last_id);
	}
	smile_buf_release(&out);
}
