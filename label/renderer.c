/* SPDX-License-Identifier: Apache-2.0 */
/*
 * renderer.c - the public face of the label library: renderer lifecycle,
 * one-label rendering, batches, and the layout as JSON.
 *
 * A renderer owns everything that is expensive to build and cheap to reuse:
 * its own Pango font map and context (Pango keeps its font, fontset and
 * shaping caches there, so one per thread avoids locks and sharing), one
 * PangoLayout per text slot, the A8 raster and its template, the zint symbol
 * and scratch buffers. Rendering a label reuses all of them; only the page model is
 * rebuilt, starting from a copy of the fixed geometry.
 */
#include "label_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zint.h>

#define SCRATCH_MAX (64u * 1024 * 1024)

static const char *const format_names[] = {"png", "pdf", "zpl"};

enum smile_err smile_label_format_parse(const char *s, enum smile_label_format *out)
{
	for (int i = 0; s && i < 3; i++) {
		if (strcasecmp(s, format_names[i]) == 0) {
			*out = (enum smile_label_format)i;
			return SMILE_OK;
		}
	}
	return SMILE_ERR_UNSUPPORTED;
}

const char *smile_label_format_name(enum smile_label_format f)
{
	return (unsigned)f < 3 ? format_names[f] : "unknown";
}

enum smile_err smile_label_size_parse(const char *s, enum smile_label_size *out)
{
	for (int i = 0; s && i < 3; i++) {
		const struct label_spec *sp = label_spec_get((enum smile_label_size)i);
		if (strcasecmp(s, sp->name) == 0) {
			*out = (enum smile_label_size)i;
			return SMILE_OK;
		}
	}
	return SMILE_ERR_UNSUPPORTED;
}

const char *smile_label_size_name(enum smile_label_size s)
{
	const struct label_spec *sp = label_spec_get(s);
	return sp ? sp->name : "unknown";
}

int smile_label_dpi_supported(int dpi)
{
	return dpi == 203 || dpi == 300;
}

static enum smile_err setup_pango(struct smile_label_renderer *r, struct smile_error *e)
{
	static const struct {
		const char *family;
		PangoWeight weight;
		PangoStretch stretch;
	} fonts[LF_COUNT] = {
		[LF_SANS] = {"DejaVu Sans,Noto Sans CJK SC", PANGO_WEIGHT_NORMAL,
			     PANGO_STRETCH_NORMAL},
		[LF_SANS_BOLD] = {"DejaVu Sans,Noto Sans CJK SC", PANGO_WEIGHT_BOLD,
				  PANGO_STRETCH_NORMAL},
		[LF_MONO_BOLD] = {"DejaVu Sans Mono,Noto Sans Mono CJK SC", PANGO_WEIGHT_BOLD,
				  PANGO_STRETCH_NORMAL},
		[LF_COND_BOLD] = {"DejaVu Sans,Noto Sans CJK SC", PANGO_WEIGHT_BOLD,
				  PANGO_STRETCH_CONDENSED},
	};
	cairo_font_options_t *fo;

	r->fontmap = pango_cairo_font_map_new();
	if (r->fontmap == NULL)
		return smile_error_set(e, SMILE_ERR_LABEL_RENDER, NULL, "no Pango font map");
	r->pctx = pango_font_map_create_context(r->fontmap);
	if (r->pctx == NULL)
		return smile_error_set(e, SMILE_ERR_LABEL_RENDER, NULL, "no Pango context");
	pango_cairo_context_set_resolution(r->pctx, 72.0);
	pango_context_set_language(r->pctx, pango_language_from_string("zh-cn"));
	/* Exact (unrounded) glyph positions: the PDF then needs no per-glyph
	 * position adjustments (fewer numbers to print and deflate). */
	pango_context_set_round_glyph_positions(r->pctx, FALSE);
	/* Unhinted metrics: glyph positions do not depend on the CTM, so PDF and
	 * raster put every glyph in the same place. The same options for every
	 * format make the whole layout (ink boxes too) identical; PDF embeds
	 * outlines, which hinting does not touch. */
	fo = cairo_font_options_create();
	cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
	cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_SLIGHT);
	cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
	pango_cairo_context_set_font_options(r->pctx, fo);
	cairo_font_options_destroy(fo);

	for (int i = 0; i < LF_COUNT; i++) {
		r->font[i] = pango_font_description_new();
		if (r->font[i] == NULL)
			return smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
		pango_font_description_set_family(r->font[i], fonts[i].family);
		pango_font_description_set_weight(r->font[i], fonts[i].weight);
		pango_font_description_set_stretch(r->font[i], fonts[i].stretch);
	}
	for (int i = 0; i < LT_COUNT; i++) {
		r->layout[i] = pango_layout_new(r->pctx);
		if (r->layout[i] == NULL)
			return smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
		pango_layout_set_wrap(r->layout[i], PANGO_WRAP_WORD_CHAR);
	}
	pango_layout_set_alignment(r->layout[LT_QR_CAPTION], PANGO_ALIGN_CENTER);
	pango_layout_set_alignment(r->layout[LT_TO_TAG], PANGO_ALIGN_CENTER);
	pango_layout_set_alignment(r->layout[LT_FROM_TAG], PANGO_ALIGN_CENTER);
	return SMILE_OK;
}

enum smile_err smile_label_renderer_new(enum smile_label_format format, int dpi,
					enum smile_label_size size,
					struct smile_label_renderer **out, struct smile_error *e)
{
	struct smile_label_renderer *r;
	enum smile_err err;

	if (out == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "no output");
	*out = NULL;
	if ((unsigned)format > SMILE_LABEL_ZPL)
		return smile_error_set(e, SMILE_ERR_UNSUPPORTED, "format", "png, pdf or zpl");
	if (!smile_label_dpi_supported(dpi))
		return smile_error_set(e, SMILE_ERR_UNSUPPORTED, "dpi", "%d dpi; 203 or 300",
				       dpi);
	if (label_spec_get(size) == NULL)
		return smile_error_set(e, SMILE_ERR_UNSUPPORTED, "size",
				       "100x150, 100x180 or 76x130");
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
	r->format = format;
	r->dpi = dpi;
	r->size = size;
	r->spec = label_spec_get(size);
	smile_buf_init(&r->text, 8 * 1024);
	smile_buf_init(&r->scratch, SCRATCH_MAX);
	smile_buf_init(&r->zbuf, SCRATCH_MAX);
	smile_buf_init(&r->one, SMILE_LABEL_OUTPUT_MAX);
	smile_buf_init(&r->zpl_fixed, SMILE_LABEL_OUTPUT_MAX);
	for (int i = 0; i < LT_COUNT; i++)
		smile_buf_init(&r->fit_cache[i].text, 8 * 1024);

	err = setup_pango(r, e);
	if (!err) {
		r->zint = ZBarcode_Create();
		if (r->zint == NULL)
			err = smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
	}
	if (!err)
		err = label_geometry_init(r, e);
	if (err) {
		smile_label_renderer_free(r);
		return err;
	}
	r->tmpl = r->page;
	*out = r;
	return SMILE_OK;
}

void smile_label_renderer_free(struct smile_label_renderer *r)
{
	if (r == NULL)
		return;
	if (r->pdf) {
		/* an abandoned batch: finishing must not reach the sink */
		r->batch_err = SMILE_ERR_IO;
		r->sink = NULL;
		cairo_destroy(r->pdfcr);
		cairo_surface_destroy(r->pdf);
	}
	if (r->rcr)
		cairo_destroy(r->rcr);
	if (r->raster)
		cairo_surface_destroy(r->raster);
	free(r->raster_tmpl);
	for (int i = 0; i < LT_COUNT; i++)
		if (r->layout[i])
			g_object_unref(r->layout[i]);
	for (int i = 0; i < LF_COUNT; i++)
		if (r->font[i])
			pango_font_description_free(r->font[i]);
	if (r->pctx)
		g_object_unref(r->pctx);
	if (r->fontmap)
		g_object_unref(r->fontmap);
	if (r->zint)
		ZBarcode_Delete(r->zint);
	smile_buf_release(&r->text);
	smile_buf_release(&r->scratch);
	smile_buf_release(&r->zbuf);
	smile_buf_release(&r->one);
	smile_buf_release(&r->zpl_fixed);
	for (int i = 0; i < LT_COUNT; i++)
		smile_buf_release(&r->fit_cache[i].text);
	free(r);
}

void smile_label_renderer_dots(const struct smile_label_renderer *r, int *width, int *height)
{
	if (width)
		*width = r ? r->tmpl.width : 0;
	if (height)
		*height = r ? r->tmpl.height : 0;
}

/* Lay out and produce one label of the renderer's format into out. */
static enum smile_err render_into(struct smile_label_renderer *r,
				  const struct smile_label_record *rec, struct smile_buf *out,
				  struct smile_error *e)
{
	enum smile_err err = label_layout(r, rec, e);

	if (err)
		return err;
	switch (r->format) {
	case SMILE_LABEL_PNG:
		err = label_draw_raster(r, e);
		if (!err)
			err = label_png_encode(r, out, e);
		return err;
	case SMILE_LABEL_ZPL:
		return label_zpl_encode(r, rec, out, e);
	case SMILE_LABEL_PDF:
		return label_pdf_render_one(r, rec, out, e);
	}
	return smile_error_set(e, SMILE_ERR_INTERNAL, NULL, "unknown format");
}

enum smile_err smile_label_render(struct smile_label_renderer *r,
				  const struct smile_label_record *rec, struct smile_buf *out,
				  struct smile_error *e)
{
	if (r == NULL || rec == NULL || out == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "NULL argument");
	if (r->in_batch)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "a batch is open");
	return render_into(r, rec, out, e);
}

enum smile_err smile_label_write_file(void *arg, const unsigned char *data, size_t len)
{
	FILE *f = arg;

	if (len && fwrite(data, 1, len, f) != len)
		return SMILE_ERR_IO;
	return SMILE_OK;
}

enum smile_err smile_label_batch_begin(struct smile_label_renderer *r, smile_label_write_fn fn,
				       void *arg, struct smile_error *e)
{
	if (r == NULL || fn == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "NULL argument");
	if (r->format == SMILE_LABEL_PNG)
		return smile_error_set(e, SMILE_ERR_UNSUPPORTED, "format",
				       "PNG holds one label per file");
	if (r->in_batch)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "a batch is already open");
	r->in_batch = 1;
	r->sink = fn;
	r->sink_arg = arg;
	r->batch_err = SMILE_OK;
	r->batch_count = 0;
	memset(&r->batch_e, 0, sizeof(r->batch_e));
	return SMILE_OK;
}

enum smile_err smile_label_batch_add(struct smile_label_renderer *r,
				     const struct smile_label_record *rec, struct smile_error *e)
{
	enum smile_err err;

	if (r == NULL || rec == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "NULL argument");
	if (!r->in_batch)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "no batch is open");
	if (r->batch_err)
		return smile_error_set(e, SMILE_ERR_IO, NULL, "the batch already failed: %s",
				       r->batch_e.message);
	err = label_layout(r, rec, e);
	if (err)
		return err; /* this record only; the batch goes on */
	if (r->format == SMILE_LABEL_PDF) {
		err = label_pdf_batch_page(r, rec, e);
		if (r->batch_err)
			err = smile_error_set(e, r->batch_err, NULL, "%s", r->batch_e.message);
	} else {
		smile_buf_reset(&r->one);
		err = label_zpl_encode(r, rec, &r->one, e);
		if (!err && r->sink(r->sink_arg, (const unsigned char *)r->one.data, r->one.len))
			err = smile_error_set(e, SMILE_ERR_IO, NULL, "writing the ZPL failed");
	}
	if (err) {
		if (!r->batch_err) {
			r->batch_err = err;
			r->batch_e = e ? *e : r->batch_e;
			if (!e)
				smile_error_set(&r->batch_e, err, NULL, NULL);
		}
		return err;
	}
	r->batch_count++;
	return SMILE_OK;
}

enum smile_err smile_label_batch_end(struct smile_label_renderer *r, struct smile_error *e)
{
	enum smile_err err = SMILE_OK;

	if (r == NULL || !r->in_batch)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "no batch is open");
	if (r->format == SMILE_LABEL_PDF)
		err = label_pdf_batch_finish(r, e);
	if (!err && r->batch_err)
		err = smile_error_set(e, r->batch_err, NULL, "%s", r->batch_e.message);
	r->in_batch = 0;
	r->sink = NULL;
	r->sink_arg = NULL;
	return err;
}

unsigned long smile_label_batch_count(const struct smile_label_renderer *r)
{
	return r ? r->batch_count : 0;
}

/* ------------------------------------------------------------ layout JSON */

static enum smile_err box_json(struct smile_buf *o, const struct label_box *b)
{
	return smile_buf_printf(o, "{\"x\":%d,\"y\":%d,\"w\":%d,\"h\":%d}", b->x, b->y, b->w, b->h);
}

enum smile_err smile_label_layout_json(struct smile_label_renderer *r,
				       const struct smile_label_record *rec,
				       struct smile_buf *out, struct smile_error *e)
{
	const struct label_page *p;
	size_t start;
	enum smile_err err;
	int first = 1;

	if (r == NULL || rec == NULL || out == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, NULL, "NULL argument");
	err = label_layout(r, rec, e);
	if (err)
		return err;
	p = &r->page;
	start = out->len;
	err = smile_buf_printf(out,
			       "{\"size\":\"%s\",\"dpi\":%d,\"width\":%d,\"height\":%d,\"blocks\":{",
			       r->spec->name, r->dpi, p->width, p->height);
	for (int i = 0; !err && i < LB_COUNT; i++) {
		err = smile_buf_printf(out, "%s\"%s\":", i ? "," : "", label_block_names[i]);
		if (!err)
			err = box_json(out, &p->blocks[i]);
	}
	if (!err)
		err = smile_buf_puts(out, "},\"texts\":[");
	for (int i = 0; !err && i < LT_COUNT; i++) {
		const struct label_text *t = &p->text[i];
		if (!t->used)
			continue;
		err = smile_buf_printf(out,
				       "%s{\"field\":\"%s\",\"block\":\"%s\",\"x\":%d,\"y\":%d,"
				       "\"w\":%d,\"h\":%d,\"size\":%d,\"ink\":",
				       first ? "" : ",", t->field ? t->field : "static",
				       label_block_names[t->block], t->box.x, t->box.y, t->box.w,
				       t->box.h, t->size);
		if (!err)
			err = box_json(out, &t->ink);
		if (!err)
			err = smile_buf_puts(out, "}");
		first = 0;
	}
	if (!err)
		err = smile_buf_printf(out, "],\"barcode\":{\"x\":%d,\"y\":%d,\"w\":%d,\"h\":%d,"
					    "\"module\":%d,\"modules\":%d,\"quiet\":",
				       p->bars.sym.x, p->bars.sym.y, p->bars.sym.w, p->bars.sym.h,
				       p->bars.module, p->bars.n);
	if (!err)
		err = box_json(out, &p->bars.quiet);
	if (!err)
		err = smile_buf_printf(out, "},\"qr\":{\"x\":%d,\"y\":%d,\"w\":%d,\"h\":%d,"
					    "\"module\":%d,\"modules\":%d,\"quiet\":",
				       p->qr.sym.x, p->qr.sym.y, p->qr.sym.w, p->qr.sym.h,
				       p->qr.module, p->qr.n);
	if (!err)
		err = box_json(out, &p->qr.quiet);
	if (!err)
		err = smile_buf_puts(out, "},\"rules\":[");
	for (int i = 0; !err && i < p->n_rules; i++) {
		if (i)
			err = smile_buf_puts(out, ",");
		if (!err)
			err = box_json(out, &p->rules[i]);
	}
	if (!err)
		err = smile_buf_puts(out, "]}");
	if (err) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
		return smile_error_set(e, err, NULL, "layout JSON over the cap");
	}
	return SMILE_OK;
}
