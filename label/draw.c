/* SPDX-License-Identifier: Apache-2.0 */
/*
 * draw.c - paint a laid-out page on a cairo context whose user space is
 * printer dots: the same page model becomes the 1-bit raster (PNG, and the
 * ZPL text graphics) and the vector PDF.
 *
 * The raster is an A8 surface (ink = alpha 255, paper = 0) that png.c and
 * zpl.c threshold to 1 bit at 50%. Two things make it fast, both measured on
 * a 4x6 label at 203 dpi:
 *  - A8, not A1: pixman has no fast path for anti-aliased glyphs onto A1
 *    (3.5 ms a label in its generic path); and text is drawn with
 *    CAIRO_OPERATOR_ADD, which pixman composites on its add_n_8_8 fast path
 *    (OVER onto A8 takes the generic fetch/combine/store path: 4-5x slower).
 *    ADD and OVER only differ where anti-aliased edges of two glyphs
 *    overlap, which the threshold does not see.
 *  - What is the same on every label (frame and rules, the TO/FROM tags, the
 *    captions) is painted once into a template; a label starts as a copy of
 *    it and only its own texts and codes are drawn.
 * White-on-black text (the tags, the service box) is drawn as ink on paper
 * and then its box is inverted byte by byte: cheaper than a CLEAR composite,
 * which also lacks a fast path.
 *
 * Rules, fills and code modules are whole-dot rectangles without
 * anti-aliasing; each code is one path of rectangles (runs of dark modules
 * merged), which cairo fills on its pixel-aligned path: codes are exactly 0
 * or 255, never grey.
 */
#include "label_internal.h"

#include <stdlib.h>
#include <string.h>

static void rect(cairo_t *cr, const struct label_box *b)
{
	cairo_rectangle(cr, b->x, b->y, b->w, b->h);
}

static void draw_qr(cairo_t *cr, const struct label_qr *q)
{
	int m = q->module;

	for (int row = 0; row < q->n; row++) {
		const unsigned char *line = q->m + row * q->n;
		int col = 0;
		while (col < q->n) {
			int start;
			if (!line[col]) {
				col++;
				continue;
			}
			start = col;
			while (col < q->n && line[col])
				col++;
			cairo_rectangle(cr, q->sym.x + start * m, q->sym.y + row * m,
					(col - start) * m, m);
		}
	}
	cairo_fill(cr);
}

static void draw_bars(cairo_t *cr, const struct label_bars *b)
{
	int x = 0;

	while (x < b->n) {
		int start;
		if (!b->m[x]) {
			x++;
			continue;
		}
		start = x;
		while (x < b->n && b->m[x])
			x++;
		cairo_rectangle(cr, b->sym.x + start * b->module, b->sym.y,
				(x - start) * b->module, b->sym.h);
	}
	cairo_fill(cr);
}

static enum smile_err cairo_check(cairo_t *cr, struct smile_error *e)
{
	cairo_status_t st = cairo_status(cr);

	if (st == CAIRO_STATUS_SUCCESS)
		return SMILE_OK;
	return smile_error_set(e, st == CAIRO_STATUS_NO_MEMORY ? SMILE_ERR_NOMEM
							       : SMILE_ERR_LABEL_RENDER,
			       NULL, "cairo: %s", cairo_status_to_string(st));
}

/*
 * PDF codes as strokes, not filled rectangles: a stroke of width m with
 * butt caps from (x0, yc) to (x1, yc) covers exactly the rectangle of the
 * run, in 4 numbers of content stream instead of 8; cairo prints and
 * deflates every number, and the QR is most of a page's content. QR modules
 * are covered greedily: horizontal runs of 2 or more, then what is left by
 * vertical runs (~300 strokes for a version 5 symbol instead of ~360 fills).
 */
static void vector_qr(cairo_t *cr, const struct label_qr *q)
{
	unsigned char covered[LABEL_QR_MODULES_MAX * LABEL_QR_MODULES_MAX];
	double m = q->module;
	int n = q->n;

	memset(covered, 0, sizeof(covered));
	cairo_set_line_width(cr, m);
	cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
	for (int y = 0; y < n; y++) {
		int x = 0;
		while (x < n) {
			int s;
			if (!q->m[y * n + x]) {
				x++;
				continue;
			}
			s = x;
			while (x < n && q->m[y * n + x])
				x++;
			if (x - s < 2)
				continue;
			for (int k = s; k < x; k++)
				covered[y * n + k] = 1;
			cairo_move_to(cr, q->sym.x + s * m, q->sym.y + (y + 0.5) * m);
			cairo_line_to(cr, q->sym.x + x * m, q->sym.y + (y + 0.5) * m);
		}
	}
	for (int x = 0; x < n; x++) {
		int y = 0;
		while (y < n) {
			int s;
			if (!q->m[y * n + x] || covered[y * n + x]) {
				y++;
				continue;
			}
			s = y;
			while (y < n && q->m[y * n + x])
				y++;
			cairo_move_to(cr, q->sym.x + (x + 0.5) * m, q->sym.y + s * m);
			cairo_line_to(cr, q->sym.x + (x + 0.5) * m, q->sym.y + y * m);
		}
	}
	cairo_stroke(cr);
}

/* Bars as vertical strokes, one stroke per bar width (1-4 modules). */
static void vector_bars(cairo_t *cr, const struct label_bars *b)
{
	cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
	for (int width = 1; width <= 4; width++) {
		int x = 0, any = 0;
		while (x < b->n) {
			int s;
			if (!b->m[x]) {
				x++;
				continue;
			}
			s = x;
			while (x < b->n && b->m[x])
				x++;
			if (x - s != width)
				continue;
			cairo_move_to(cr, b->sym.x + (s + width / 2.0) * b->module, b->sym.y);
			cairo_line_to(cr, b->sym.x + (s + width / 2.0) * b->module,
				      b->sym.y + b->sym.h);
			any = 1;
		}
		if (any) {
			cairo_set_line_width(cr, width * b->module);
			cairo_stroke(cr);
		}
	}
}

enum smile_err label_draw_vector(struct smile_label_renderer *r, cairo_t *cr,
				 struct smile_error *e)
{
	const struct label_page *p = &r->page;

	cairo_save(cr);
	cairo_set_operator(cr, CAIRO_OPERATOR_OVER);
	cairo_set_source_rgb(cr, 0, 0, 0);
	for (int i = 0; i < p->n_rules; i++)
		rect(cr, &p->rules[i]);
	for (int i = 0; i < p->n_fills; i++)
		rect(cr, &p->fills[i].box);
	cairo_fill(cr);
	for (int i = 0; i < LT_COUNT; i++) {
		const struct label_text *tx = &p->text[i];
		if (!tx->used)
			continue;
		if (tx->inverse)
			cairo_set_source_rgb(cr, 1, 1, 1);
		else
			cairo_set_source_rgb(cr, 0, 0, 0);
		cairo_move_to(cr, tx->ox, tx->oy);
		pango_cairo_show_layout(cr, r->layout[i]);
	}
	cairo_set_source_rgb(cr, 0, 0, 0);
	vector_qr(cr, &p->qr);
	vector_bars(cr, &p->bars);
	cairo_restore(cr);
	return cairo_check(cr, e);
}

/* 255 - v over a box of the A8 raster. */
static void invert_box(struct smile_label_renderer *r, const struct label_box *b)
{
	unsigned char *data = cairo_image_surface_get_data(r->raster);
	int stride = cairo_image_surface_get_stride(r->raster);

	for (int y = b->y; y < b->y + b->h; y++) {
		unsigned char *row = data + (size_t)y * (size_t)stride + b->x;
		for (int x = 0; x < b->w; x++)
			row[x] = (unsigned char)(255 - row[x]);
	}
}

enum smile_err label_raster_ensure(struct smile_label_renderer *r, struct smile_error *e)
{
	const struct label_page *p = &r->page;

	if (r->raster)
		return SMILE_OK;
	r->raster = cairo_image_surface_create(CAIRO_FORMAT_A8, p->width, p->height);
	r->rcr = cairo_create(r->raster);
	if (cairo_surface_status(r->raster) || cairo_status(r->rcr))
		return smile_error_set(e, SMILE_ERR_LABEL_RENDER, NULL,
				       "cannot create a %dx%d raster", p->width, p->height);
	/* a new A8 surface is all zeros: all paper */
	return SMILE_OK;
}

void label_raster_clear(struct smile_label_renderer *r, const struct label_box *b)
{
	unsigned char *data;
	int stride;

	cairo_surface_flush(r->raster);
	data = cairo_image_surface_get_data(r->raster);
	stride = cairo_image_surface_get_stride(r->raster);
	for (int y = b->y; y < b->y + b->h; y++)
		memset(data + (size_t)y * (size_t)stride + b->x, 0, (size_t)b->w);
	cairo_surface_mark_dirty(r->raster);
}

enum smile_err label_draw_texts(struct smile_label_renderer *r, int fixed, struct smile_error *e)
{
	const struct label_page *p = &r->page;
	cairo_t *cr = r->rcr;
	enum smile_err err;

	cairo_save(cr);
	cairo_set_operator(cr, CAIRO_OPERATOR_ADD);
	cairo_set_source_rgba(cr, 0, 0, 0, 1);
	for (int i = 0; i < LT_COUNT; i++) {
		const struct label_text *tx = &p->text[i];
		if (!tx->used || tx->fixed != fixed)
			continue;
		cairo_move_to(cr, tx->ox, tx->oy);
		pango_cairo_show_layout(cr, r->layout[i]);
	}
	cairo_restore(cr);
	err = cairo_check(cr, e);
	if (err)
		return err;
	cairo_surface_flush(r->raster);
	for (int i = 0; i < p->n_fills; i++)
		if (p->fills[i].fixed == fixed)
			invert_box(r, &p->fills[i].box);
	cairo_surface_mark_dirty(r->raster);
	return SMILE_OK;
}

/* The fixed parts, once per renderer: rules, tags, captions. */
static enum smile_err build_template(struct smile_label_renderer *r, struct smile_error *e)
{
	const struct label_page *p = &r->page;
	size_t size = (size_t)cairo_image_surface_get_stride(r->raster) * (size_t)p->height;
	enum smile_err err;

	cairo_surface_flush(r->raster);
	memset(cairo_image_surface_get_data(r->raster), 0, size);
	cairo_surface_mark_dirty(r->raster);
	cairo_save(r->rcr);
	cairo_set_antialias(r->rcr, CAIRO_ANTIALIAS_NONE);
	cairo_set_source_rgba(r->rcr, 0, 0, 0, 1);
	for (int i = 0; i < p->n_rules; i++)
		rect(r->rcr, &p->rules[i]);
	cairo_fill(r->rcr);
	cairo_restore(r->rcr);
	err = label_draw_texts(r, 1, e);
	if (err)
		return err;
	r->raster_tmpl = malloc(size);
	if (r->raster_tmpl == NULL)
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
	cairo_surface_flush(r->raster);
	memcpy(r->raster_tmpl, cairo_image_surface_get_data(r->raster), size);
	return SMILE_OK;
}

enum smile_err label_draw_raster(struct smile_label_renderer *r, struct smile_error *e)
{
	const struct label_page *p = &r->page;
	enum smile_err err = label_raster_ensure(r, e);

	if (err)
		return err;
	if (r->raster_tmpl == NULL) {
		err = build_template(r, e);
		if (err)
			return err;
	}
	cairo_surface_flush(r->raster);
	memcpy(cairo_image_surface_get_data(r->raster), r->raster_tmpl,
	       (size_t)cairo_image_surface_get_stride(r->raster) * (size_t)p->height);
	cairo_surface_mark_dirty(r->raster);

	err = label_draw_texts(r, 0, e);
	if (err)
		return err;
	cairo_save(r->rcr);
	cairo_set_antialias(r->rcr, CAIRO_ANTIALIAS_NONE);
	cairo_set_source_rgba(r->rcr, 0, 0, 0, 1);
	draw_qr(r->rcr, &p->qr);
	draw_bars(r->rcr, &p->bars);
	cairo_restore(r->rcr);
	return cairo_check(r->rcr, e);
}
