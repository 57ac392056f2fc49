/* SPDX-License-Identifier: Apache-2.0 */
/*
 * svc_labels.c - rendering a shipment's labels from its stored record.
 *
 * Only the public part is read; the vault is never opened. Renderers are
 * reused from a small pool per (format, dpi, size), because a renderer's
 * fonts are costly to load and HTTP threads come and go with their
 * connections.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "smile/log.h"
#include "svc.h"

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

void svc_label_pool_free(void)
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

enum smile_err svc_shipment_label(struct gateway *g, const struct svc_caller *c,
				  const char *waybill, enum smile_label_format fmt, int dpi,
				  enum smile_label_size size, long parcel, struct smile_buf *out,
				  struct smile_store_shipment *row, long *n_labels,
				  struct smile_error *e)
{
	struct smile_label_renderer *rd = NULL;
	long count, first, last;
	enum smile_err rc;

	*n_labels = 0;
	if ((rc = svc_shipment_get(g, c, waybill, row, e)))
		return rc;
	{
		json_t *rec = json_loads(row->public_json, 0, NULL);
		count = json_integer_value(json_object_get(json_object_get(rec, "parcel"), "count"));
		json_decref(rec);
		if (count < 1)
			count = 1;
	}
	if (parcel > count) {
		smile_store_shipment_release(row);
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "parcel",
				       "this shipment has %ld parcel(s)", count);
	}
	/* PNG is one image: one parcel (the first unless asked). PDF and ZPL
	 * carry every parcel's label unless one is asked for. */
	first = parcel ? parcel : 1;
	last = parcel ? parcel : (fmt == SMILE_LABEL_PNG ? 1 : count);

	rc = renderer_take(fmt, dpi, size, &rd, e);
	if (rc == SMILE_OK && fmt != SMILE_LABEL_PNG)
		rc = smile_label_batch_begin(rd, sink_buf, out, e);
	for (long i = first; rc == SMILE_OK && i <= last; i++) {
		struct smile_label_record *rec = NULL;
		char *json = record_for_parcel(row->public_json, i);
		rc = json ? smile_label_record_parse(json, strlen(json), &rec, e)
			  : smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
		if (rc == SMILE_OK)
			rc = fmt == SMILE_LABEL_PNG ? smile_label_render(rd, rec, out, e)
						    : smile_label_batch_add(rd, rec, e);
		smile_label_record_free(rec);
		free(json);
	}
	if (rd && fmt != SMILE_LABEL_PNG) {
		struct smile_error e2 = {0};
		enum smile_err rc2 = smile_label_batch_end(rd, &e2);
		if (rc == SMILE_OK && rc2) {
			rc = rc2;
			*e = e2;
		}
	}
	if (rd)
		renderer_give(fmt, dpi, size, rd);
	if (rc) {
		smile_log(SMILE_LOG_WARN, "label.render_failed", SMILE_KV_ID("waybill", row->waybill),
			  SMILE_KV_ERR("err", rc));
		smile_store_shipment_release(row);
		return rc;
	}
	*n_labels = last - first + 1;
	smile_metrics_add(SMILE_COUNTER_LABELS_RENDERED, (uint64_t)*n_labels);
	return SMILE_OK;
}
