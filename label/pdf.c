/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pdf.c - labels as vector PDF pages of the true physical size.
 *
 * The page is mm * 72 / 25.4 points; the context is scaled by 72 / dpi so
 * the layout, computed in printer dots, lands at the same place as on the
 * raster. Text stays text (cairo embeds font subsets), codes are filled
 * rectangles. A batch is one cairo PDF surface with a page per label: its
 * output streams through the caller's sink as pages complete, and fonts are
 * subset once at the end, so memory does not grow with the batch.
 */
#include "label_internal.h"

#include <cairo-pdf.h>
#include <stdio.h>

static cairo_status_t pdf_write(void *closure, const unsigned char *data, unsigned int len)
{
	struct smile_label_renderer *r = closure;
	enum smile_err err;

	if (r->pdf_out) {
		if (smile_buf_append(r->pdf_out, data, len) != SMILE_OK)
			return CAIRO_STATUS_WRITE_ERROR;
		return CAIRO_STATUS_SUCCESS;
	}
	if (r->batch_err || r->sink == NULL)
		return CAIRO_STATUS_WRITE_ERROR;
	err = r->sink(r->sink_arg, data, len);
	if (err) {
		r->batch_err = SMILE_ERR_IO;
		smile_error_set(&r->batch_e, SMILE_ERR_IO, NULL, "writing the PDF failed");
		return CAIRO_STATUS_WRITE_ERROR;
	}
	return CAIRO_STATUS_SUCCESS;
}

/* A document for this renderer's size; its creation date is the (first)
 * label's date, not the clock, so the same labels give the same bytes (the
 * gateway can cache and compare them). */
static enum smile_err pdf_open(struct smile_label_renderer *r,
			       const struct smile_label_record *rec, struct smile_error *e)
{
	double w = r->spec->w_mm * 72.0 / 25.4, h = r->spec->h_mm * 72.0 / 25.4;
	char date[32];

	r->pdf = cairo_pdf_surface_create_for_stream(pdf_write, r, w, h);
	snprintf(date, sizeof(date), "%sT00:00:00Z", rec->date);
	cairo_pdf_surface_set_metadata(r->pdf, CAIRO_PDF_METADATA_CREATE_DATE, date);
	cairo_pdf_surface_set_metadata(r->pdf, CAIRO_PDF_METADATA_CREATOR, "smile-label");
	cairo_pdf_surface_set_metadata(r->pdf, CAIRO_PDF_METADATA_TITLE, "Smile waybill");
	r->pdfcr = cairo_create(r->pdf);
	if (cairo_surface_status(r->pdf) || cairo_status(r->pdfcr))
		return smile_error_set(e, SMILE_ERR_LABEL_RENDER, NULL,
				       "cannot create a PDF surface");
	cairo_scale(r->pdfcr, 72.0 / r->dpi, 72.0 / r->dpi);
	return SMILE_OK;
}

/* Finish and drop the surface; returns the cairo status of the document. */
static cairo_status_t pdf_close(struct smile_label_renderer *r)
{
	cairo_status_t st = CAIRO_STATUS_SUCCESS;

	if (r->pdfcr) {
		st = cairo_status(r->pdfcr);
		cairo_destroy(r->pdfcr);
		r->pdfcr = NULL;
	}
	if (r->pdf) {
		cairo_surface_finish(r->pdf);
		if (st == CAIRO_STATUS_SUCCESS)
			st = cairo_surface_status(r->pdf);
		cairo_surface_destroy(r->pdf);
		r->pdf = NULL;
	}
	return st;
}

static enum smile_err pdf_page(struct smile_label_renderer *r, struct smile_error *e)
{
	enum smile_err err = label_draw_vector(r, r->pdfcr, e);

	if (err)
		return err;
	cairo_show_page(r->pdfcr);
	if (cairo_status(r->pdfcr))
		return smile_error_set(e, SMILE_ERR_LABEL_RENDER, NULL, "cairo: %s",
				       cairo_status_to_string(cairo_status(r->pdfcr)));
	return SMILE_OK;
}

enum smile_err label_pdf_render_one(struct smile_label_renderer *r,
				    const struct smile_label_record *rec, struct smile_buf *out,
				    struct smile_error *e)
{
	size_t start = out->len;
	enum smile_err err;
	cairo_status_t st;

	r->pdf_out = out;
	err = pdf_open(r, rec, e);
	if (!err)
		err = pdf_page(r, e);
	st = pdf_close(r);
	r->pdf_out = NULL;
	if (!err && st != CAIRO_STATUS_SUCCESS)
		err = smile_error_set(e, st == CAIRO_STATUS_WRITE_ERROR ? SMILE_ERR_TOO_LARGE
								       : SMILE_ERR_LABEL_RENDER,
				      NULL, "cairo: %s", cairo_status_to_string(st));
	if (err) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
	}
	return err;
}

enum smile_err label_pdf_batch_page(struct smile_label_renderer *r,
				    const struct smile_label_record *rec, struct smile_error *e)
{
	enum smile_err err;

	if (r->pdf == NULL) {
		err = pdf_open(r, rec, e);
		if (err)
			return err;
	}
	return pdf_page(r, e);
}

enum smile_err label_pdf_batch_finish(struct smile_label_renderer *r, struct smile_error *e)
{
	cairo_status_t st;

	if (r->pdf == NULL)
		return SMILE_OK;
	st = pdf_close(r);
	if (r->batch_err)
		return smile_error_set(e, r->batch_err, NULL, "%s", r->batch_e.message);
	if (st != CAIRO_STATUS_SUCCESS)
		return smile_error_set(e, SMILE_ERR_LABEL_RENDER, NULL, "cairo: %s",
				       cairo_status_to_string(st));
	return SMILE_OK;
}
