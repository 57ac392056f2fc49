/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layout.c - where everything goes on a label, in printer dots.
 *
 * The page is a fixed grid of bands (header, barcode, sort code, recipient,
 * sender, bottom = footer + QR) whose heights come from a per-size table in
 * millimetres; only what is inside a band depends on the record. That keeps
 * positions stable across records and fonts (the golden layout tests rely
 * on it) and makes the geometry a per-renderer constant computed once.
 *
 * Text is fitted, never clipped: each text has a maximum and a minimum size;
 * it is measured with Pango at the maximum and shrunk in 10% steps until its
 * logical extents fit its box (wrapping first where the text may wrap). At
 * the minimum size a text that still does not fit fails the record with
 * SMILE_ERR_LABEL_NO_FIT. After fitting, a text with any glyph no installed
 * font covers fails with SMILE_ERR_LABEL_GLYPH. Sizes step down the same way
 * for every record, so Pango's font and shaping caches stay warm.
 */
#include "label_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *const label_block_names[LB_COUNT] = {
	"header", "barcode", "sort", "recipient", "sender", "qr", "footer",
};

/* Band heights add up to the page height minus 2 x 1.5 mm of margin. */
static const struct label_spec specs[] = {
	[SMILE_LABEL_100X150] = {"100x150", 100, 150, {12, 24, 15, 40, 22, 34}, 10, 1.0},
	[SMILE_LABEL_100X180] = {"100x180", 100, 180, {13, 27, 17, 52, 30, 38}, 10, 1.0},
	[SMILE_LABEL_76X130] = {"76x130", 76, 130, {10, 19, 12, 34, 18, 34}, 8, 0.8},
};

#define MARGIN_MM 1.5

const struct label_spec *label_spec_get(enum smile_label_size size)
{
	if ((unsigned)size >= sizeof(specs) / sizeof(specs[0]))
		return NULL;
	return &specs[size];
}

int label_mm(const struct smile_label_renderer *r, double mm)
{
	return (int)lround(mm * r->dpi / 25.4);
}

static double dots_mm(const struct smile_label_renderer *r, int dots)
{
	return dots * 25.4 / r->dpi;
}

/* ------------------------------------------------------------ text fitting */

struct fit_spec {
	int font;      /* enum label_font */
	double max_mm; /* em size at scale 1.0 (scaled per label size) */
	double min_mm; /* em size floor (not scaled: legibility) */
	int wrap;
};

static const struct fit_spec fits[LT_COUNT] = {
	[LT_MERCHANT] = {LF_SANS_BOLD, 4.6, 2.2, 0},
	[LT_DATE] = {LF_SANS, 3.2, 2.0, 0},
	[LT_SERVICE] = {LF_SANS_BOLD, 5.2, 2.2, 0},
	[LT_WAYBILL] = {LF_MONO_BOLD, 4.0, 2.4, 0},
	[LT_SORT] = {LF_COND_BOLD, 12.0, 5.0, 0},
	[LT_TO_TAG] = {LF_SANS_BOLD, 7.0, 3.0, 0},
	[LT_TO_TAG_EN] = {LF_SANS_BOLD, 3.0, 1.6, 0},
	[LT_TO_NAME] = {LF_SANS_BOLD, 7.0, 3.4, 0},
	[LT_TO_PHONE] = {LF_SANS_BOLD, 6.0, 3.4, 0},
	[LT_TO_ADDR] = {LF_SANS_BOLD, 4.8, 2.4, 1},
	[LT_FROM_TAG] = {LF_SANS_BOLD, 6.0, 3.0, 0},
	[LT_FROM_TAG_EN] = {LF_SANS_BOLD, 2.6, 1.4, 0},
	[LT_FROM_NAME] = {LF_SANS, 3.8, 2.2, 0},
	[LT_FROM_PHONE] = {LF_SANS, 3.8, 2.2, 0},
	[LT_FROM_ADDR] = {LF_SANS, 3.4, 2.0, 1},
	[LT_QR_CAPTION] = {LF_SANS_BOLD, 2.8, 1.6, 0},
	[LT_PCS_LABEL] = {LF_SANS, 2.4, 1.4, 0},
	[LT_PCS] = {LF_SANS_BOLD, 6.0, 2.8, 0},
	[LT_WT_LABEL] = {LF_SANS, 2.4, 1.4, 0},
	[LT_WT] = {LF_SANS_BOLD, 6.0, 2.8, 0},
	[LT_NOTE] = {LF_SANS, 3.0, 2.0, 1},
	[LT_TAGLINE] = {LF_SANS, 2.2, 1.4, 0},
};

static const char *const fields[LT_COUNT] = {
	[LT_MERCHANT] = "merchant",
	[LT_DATE] = "date",
	[LT_SERVICE] = "service",
	[LT_WAYBILL] = "waybill",
	[LT_SORT] = "sort_code",
	[LT_TO_NAME] = "recipient.name",
	[LT_TO_PHONE] = "recipient.phone",
	[LT_TO_ADDR] = "recipient.address",
	[LT_FROM_NAME] = "sender.name",
	[LT_FROM_PHONE] = "sender.phone",
	[LT_FROM_ADDR] = "sender.address",
	[LT_PCS] = "parcel",
	[LT_WT] = "weight_g",
	[LT_NOTE] = "note",
};

static const int text_blocks[LT_COUNT] = {
	[LT_MERCHANT] = LB_HEADER,	[LT_DATE] = LB_HEADER,	   [LT_SERVICE] = LB_HEADER,
	[LT_WAYBILL] = LB_BARCODE,	[LT_SORT] = LB_SORT,	   [LT_TO_TAG] = LB_RECIPIENT,
	[LT_TO_TAG_EN] = LB_RECIPIENT,	[LT_TO_NAME] = LB_RECIPIENT, [LT_TO_PHONE] = LB_RECIPIENT,
	[LT_TO_ADDR] = LB_RECIPIENT,	[LT_FROM_TAG] = LB_SENDER,  [LT_FROM_TAG_EN] = LB_SENDER,
	[LT_FROM_NAME] = LB_SENDER,	[LT_FROM_PHONE] = LB_SENDER, [LT_FROM_ADDR] = LB_SENDER,
	[LT_QR_CAPTION] = LB_QR,	[LT_PCS_LABEL] = LB_FOOTER, [LT_PCS] = LB_FOOTER,
	[LT_WT_LABEL] = LB_FOOTER,	[LT_WT] = LB_FOOTER,	   [LT_NOTE] = LB_FOOTER,
	[LT_TAGLINE] = LB_FOOTER,
};

static int size_max(const struct smile_label_renderer *r, int id)
{
	int mx = label_mm(r, fits[id].max_mm * r->spec->scale);
	int mn = label_mm(r, fits[id].min_mm);
	return mx > mn ? mx : mn;
}

static int size_min(const struct smile_label_renderer *r, int id)
{
	return label_mm(r, fits[id].min_mm);
}

static int next_size(int s, int min)
{
	int n = s * 9 / 10;
	if (n >= s)
		n = s - 1;
	return n < min ? min : n;
}

/* Lay out the layout's current text at `size` dots, wrapped at `width` dots
 * (0: one line per paragraph) and record its extents. */
static void measure(struct smile_label_renderer *r, int id, int size, int width)
{
	PangoLayout *l = r->layout[id];
	PangoFontDescription *fd = r->font[fits[id].font];
	struct label_text *t = &r->page.text[id];
	PangoRectangle ink, log;

	r->fit_cache[id].valid = 0; /* the layout changes */
	pango_font_description_set_absolute_size(fd, (double)size * PANGO_SCALE);
	pango_layout_set_font_description(l, fd);
	pango_layout_set_width(l, width > 0 ? width * PANGO_SCALE : -1);
	pango_layout_get_pixel_extents(l, &ink, &log);
	t->size = size;
	t->lrel = (struct label_box){log.x, log.y, log.width, log.height};
	t->irel = (struct label_box){ink.x, ink.y, ink.width, ink.height};
}

static const char *field_of(int id)
{
	return fields[id] ? fields[id] : "label";
}

static enum smile_err glyph_check(struct smile_label_renderer *r, int id, struct smile_error *e)
{
	int unknown = pango_layout_get_unknown_glyphs_count(r->layout[id]);

	if (unknown == 0)
		return SMILE_OK;
	return smile_error_set(e, SMILE_ERR_LABEL_GLYPH, field_of(id),
			       "%d character%s no installed font covers", unknown,
			       unknown == 1 ? "" : "s");
}

/* Set the text (NULL: keep the current one) and fit it into w x h dots. */
static enum smile_err fit(struct smile_label_renderer *r, int id, const char *text, int w, int h,
			  struct smile_error *e)
{
	struct label_text *t = &r->page.text[id];
	struct label_fit_cache *c = &r->fit_cache[id];
	int mn = size_min(r, id);
	enum smile_err err;

	if (text && c->valid && c->w == w && c->h == h && c->text.data &&
	    strcmp(c->text.data, text) == 0) {
		/* the layout still holds exactly this fit */
		t->size = c->size;
		t->lrel = c->lrel;
		t->irel = c->irel;
		return SMILE_OK;
	}
	if (text)
		pango_layout_set_text(r->layout[id], text, -1);
	for (int s = size_max(r, id);; s = next_size(s, mn)) {
		measure(r, id, s, fits[id].wrap ? w : 0);
		if (t->lrel.w <= w && t->lrel.h <= h) {
			err = glyph_check(r, id, e);
			if (err || text == NULL)
				return err;
			smile_buf_reset(&c->text);
			if (smile_buf_puts(&c->text, text) == SMILE_OK) {
				c->valid = 1;
				c->w = w;
				c->h = h;
				c->size = t->size;
				c->lrel = t->lrel;
				c->irel = t->irel;
			}
			return SMILE_OK;
		}
		if (s <= mn)
			break;
	}
	return smile_error_set(e, SMILE_ERR_LABEL_NO_FIT, field_of(id),
			       "does not fit in %.1f x %.1f mm even at %.1f mm text",
			       dots_mm(r, w), dots_mm(r, h), dots_mm(r, mn));
}

/* Put the text's logical top-left at (x, y). */
static void place(struct smile_label_renderer *r, int id, int x, int y)
{
	struct label_text *t = &r->page.text[id];

	t->used = 1;
	t->block = text_blocks[id];
	t->field = fields[id];
	t->ox = x - t->lrel.x;
	t->oy = y - t->lrel.y;
	t->box = (struct label_box){x, y, t->lrel.w, t->lrel.h};
	t->ink = (struct label_box){t->ox + t->irel.x, t->oy + t->irel.y, t->irel.w, t->irel.h};
}

/* Put the layout's origin at (x, y): for wrapped text aligned in its width. */
static void place_origin(struct smile_label_renderer *r, int id, int x, int y)
{
	struct label_text *t = &r->page.text[id];

	place(r, id, x + t->lrel.x, y + t->lrel.y);
}

static int baseline(struct smile_label_renderer *r, int id)
{
	return pango_layout_get_baseline(r->layout[id]) / PANGO_SCALE;
}

/* ------------------------------------------------------------ geometry */

static void add_rule(struct label_page *p, int x, int y, int w, int h)
{
	if (p->n_rules < LABEL_RULES_MAX)
		p->rules[p->n_rules++] = (struct label_box){x, y, w, h};
}

static void add_fill(struct label_page *p, struct label_box b, int block)
{
	if (p->n_fills < LABEL_FILLS_MAX)
		p->fills[p->n_fills++] = (struct label_fill){b, block, 0};
}

static enum smile_err static_tag(struct smile_label_renderer *r, int id, int id_en,
				 const char *zh, const char *en, int block, struct smile_error *e)
{
	struct label_page *p = &r->page;
	struct label_box b = p->blocks[block];
	int tagw = label_mm(r, r->spec->tag_mm);
	enum smile_err err;
	int y;

	add_fill(p, (struct label_box){b.x, b.y, tagw, b.h}, block);
	err = fit(r, id, zh, tagw - label_mm(r, 1.2), b.h / 2, e);
	if (err)
		return err;
	y = b.y + label_mm(r, 1.5);
	place(r, id, b.x + (tagw - p->text[id].lrel.w) / 2, y);
	p->text[id].inverse = 1;
	err = fit(r, id_en, en, tagw - label_mm(r, 1.0), b.h / 3, e);
	if (err)
		return err;
	place(r, id_en, b.x + (tagw - p->text[id_en].lrel.w) / 2,
	      p->text[id].box.y + p->text[id].box.h);
	p->text[id_en].inverse = 1;
	return SMILE_OK;
}

/*
 * The fixed part of every label of this renderer: page, frame, bands, rules,
 * tag columns and the texts that never change. Computed into r->page, then
 * kept as r->tmpl; label_layout() starts every label from a copy.
 */
enum smile_err label_geometry_init(struct smile_label_renderer *r, struct smile_error *e)
{
	struct label_page *p = &r->page;
	const struct label_spec *s = r->spec;
	int inset = label_mm(r, MARGIN_MM);
	int t = label_mm(r, 0.25);
	int y[7], pad = label_mm(r, 1.5);
	double cum = 0;
	struct label_box b;
	enum smile_err err;
	int qw, vx, fy, lh;

	if (t < 2)
		t = 2;
	memset(p, 0, sizeof(*p));
	p->dpi = r->dpi;
	p->width = label_mm(r, s->w_mm);
	p->height = label_mm(r, s->h_mm);
	p->frame = (struct label_box){inset, inset, p->width - 2 * inset, p->height - 2 * inset};
	for (int i = 0; i < 6; i++) {
		y[i] = inset + label_mm(r, cum);
		cum += s->bands_mm[i];
	}
	y[6] = p->frame.y + p->frame.h;

	/* frame, then one rule on top of every band but the first */
	add_rule(p, p->frame.x, p->frame.y, p->frame.w, t);
	add_rule(p, p->frame.x, y[6] - t, p->frame.w, t);
	add_rule(p, p->frame.x, p->frame.y, t, p->frame.h);
	add_rule(p, p->frame.x + p->frame.w - t, p->frame.y, t, p->frame.h);
	for (int i = 1; i < 6; i++)
		add_rule(p, p->frame.x, y[i], p->frame.w, t);

	for (int i = 0; i < 5; i++)
		p->blocks[i] = (struct label_box){p->frame.x + t, y[i] + t, p->frame.w - 2 * t,
						  y[i + 1] - y[i] - t};
	/* bottom band: footer on the left, a square QR block on the right */
	b = (struct label_box){p->frame.x + t, y[5] + t, p->frame.w - 2 * t, y[6] - t - y[5] - t};
	qw = b.h < b.w / 2 ? b.h : b.w / 2;
	vx = b.x + b.w - qw - t;
	add_rule(p, vx, y[5], t, y[6] - y[5]);
	p->blocks[LB_QR] = (struct label_box){vx + t, b.y, qw, b.h};
	p->blocks[LB_FOOTER] = (struct label_box){b.x, b.y, vx - b.x, b.h};

	err = static_tag(r, LT_TO_TAG, LT_TO_TAG_EN, "收", "TO", LB_RECIPIENT, e);
	if (!err)
		err = static_tag(r, LT_FROM_TAG, LT_FROM_TAG_EN, "寄", "FROM", LB_SENDER, e);
	if (err)
		return err;

	/* QR caption, centred at the bottom of the QR block */
	b = p->blocks[LB_QR];
	err = fit(r, LT_QR_CAPTION, "扫码派送 Scan to deliver", b.w - 2 * label_mm(r, 0.8),
		  label_mm(r, 4.5), e);
	if (err)
		return err;
	place(r, LT_QR_CAPTION, b.x + (b.w - p->text[LT_QR_CAPTION].lrel.w) / 2,
	      b.y + b.h - label_mm(r, 0.6) - p->text[LT_QR_CAPTION].lrel.h);

	/* footer: two captioned cells on top, the tagline at the bottom */
	b = p->blocks[LB_FOOTER];
	fy = b.y + label_mm(r, 1.0);
	err = fit(r, LT_PCS_LABEL, "件数 PCS", b.w / 2 - 2 * pad, label_mm(r, 4), e);
	if (!err)
		err = fit(r, LT_WT_LABEL, "重量 WEIGHT", b.w / 2 - 2 * pad, label_mm(r, 4), e);
	if (!err)
		err = fit(r, LT_TAGLINE, "Smile 隐私面单 · personal data masked", b.w - 2 * pad,
			  label_mm(r, 4), e);
	if (err)
		return err;
	place(r, LT_PCS_LABEL, b.x + pad, fy);
	place(r, LT_WT_LABEL, b.x + b.w / 2 + pad, fy);
	lh = p->text[LT_TAGLINE].lrel.h;
	place(r, LT_TAGLINE, b.x + pad, b.y + b.h - label_mm(r, 0.6) - lh);

	/* everything so far is on every label: draw.c paints it once */
	for (int i = 0; i < LT_COUNT; i++)
		p->text[i].fixed = p->text[i].used;
	for (int i = 0; i < p->n_fills; i++)
		p->fills[i].fixed = 1;
	return SMILE_OK;
}

/* ------------------------------------------------------------ per record */

static enum smile_err lay_header(struct smile_label_renderer *r,
				 const struct smile_label_record *rec, struct smile_error *e)
{
	struct label_page *p = &r->page;
	struct label_box b = p->blocks[LB_HEADER], box;
	int m = label_mm(r, 1.0), pad = label_mm(r, 1.5), hpad = label_mm(r, 2.0);
	int mx, mw, mh;
	enum smile_err err;

	err = fit(r, LT_SERVICE, rec->service, b.w * 42 / 100 - 2 * hpad,
		  b.h - 2 * m - 2 * label_mm(r, 0.5), e);
	if (err)
		return err;
	box.w = p->text[LT_SERVICE].lrel.w + 2 * hpad;
	box.h = b.h - 2 * m;
	box.x = b.x + b.w - m - box.w;
	box.y = b.y + m;
	add_fill(p, box, LB_HEADER);
	place(r, LT_SERVICE, box.x + hpad, box.y + (box.h - p->text[LT_SERVICE].lrel.h) / 2);
	p->text[LT_SERVICE].inverse = 1;

	mx = b.x + pad;
	mw = box.x - hpad - mx;
	mh = (b.h - m) * 56 / 100;
	err = fit(r, LT_MERCHANT, rec->merchant, mw, mh, e);
	if (err)
		return err;
	place(r, LT_MERCHANT, mx, b.y + m / 2);
	err = fit(r, LT_DATE, rec->date, mw, b.y + b.h - (b.y + m / 2 + mh), e);
	if (err)
		return err;
	place(r, LT_DATE, mx, b.y + m / 2 + mh);
	return SMILE_OK;
}

static enum smile_err lay_barcode(struct smile_label_renderer *r,
				  const struct smile_label_record *rec, struct smile_error *e)
{
	struct label_page *p = &r->page;
	struct label_bars *bars = &p->bars;
	struct label_box b = p->blocks[LB_BARCODE];
	int xmax = (int)floor(0.5 * r->dpi / 25.4);
	int xmin = (int)ceil(0.25 * r->dpi / 25.4 - 0.01);
	int x, ty, top = b.y + label_mm(r, 1.5);
	enum smile_err err;

	err = label_bars_encode(r->zint, bars, rec->waybill, e);
	if (err)
		return err;
	x = b.w / (bars->n + 2 * LABEL_BARS_QUIET);
	if (x > xmax)
		x = xmax;
	if (x < xmin || x < 1)
		return smile_error_set(e, SMILE_ERR_LABEL_CODE, "waybill",
				       "a Code128 of %d modules does not fit %.1f mm at %d dots "
				       "per module",
				       bars->n, dots_mm(r, b.w), xmin);
	err = fit(r, LT_WAYBILL, rec->waybill, b.w - 2 * label_mm(r, 1.5),
		  label_mm(r, 5.5 * r->spec->scale), e);
	if (err)
		return err;
	ty = b.y + b.h - label_mm(r, 0.5) - p->text[LT_WAYBILL].lrel.h;
	place(r, LT_WAYBILL, b.x + (b.w - p->text[LT_WAYBILL].lrel.w) / 2, ty);
	bars->module = x;
	bars->sym.w = bars->n * x;
	bars->sym.h = ty - label_mm(r, 0.5) - top;
	bars->sym.x = b.x + (b.w - bars->sym.w) / 2;
	bars->sym.y = top;
	bars->quiet = (struct label_box){bars->sym.x - LABEL_BARS_QUIET * x, top,
					 bars->sym.w + 2 * LABEL_BARS_QUIET * x, bars->sym.h};
	return SMILE_OK;
}

static enum smile_err lay_sort(struct smile_label_renderer *r,
			       const struct smile_label_record *rec, struct smile_error *e)
{
	struct label_page *p = &r->page;
	struct label_box b = p->blocks[LB_SORT];
	struct label_text *t = &p->text[LT_SORT];
	enum smile_err err;

	err = fit(r, LT_SORT, rec->sort_code, b.w - 2 * label_mm(r, 1.5), b.h, e);
	if (err)
		return err;
	place(r, LT_SORT, b.x + (b.w - t->lrel.w) / 2, b.y + (b.h - t->lrel.h) / 2);
	return SMILE_OK;
}

/* The first address line that has a glyph no font covers (after the joined
 * layout reported one). */
static enum smile_err address_glyph_error(struct smile_label_renderer *r, int id,
					  const struct label_party *party, const char *who,
					  struct smile_error *e)
{
	char field[SMILE_ERROR_FIELD_MAX];
	int n = 0, line = 0;

	for (int i = 0; i < party->n_address; i++) {
		pango_layout_set_text(r->layout[id], party->address[i], -1);
		measure(r, id, size_min(r, id), 0);
		n = pango_layout_get_unknown_glyphs_count(r->layout[id]);
		if (n > 0) {
			line = i;
			break;
		}
	}
	snprintf(field, sizeof(field), "%s.address[%d]", who, line);
	return smile_error_set(e, SMILE_ERR_LABEL_GLYPH, field,
			       "%d character%s no installed font covers", n > 0 ? n : 1,
			       n == 1 ? "" : "s");
}

static enum smile_err lay_party(struct smile_label_renderer *r, const struct label_party *party,
				int block, int id_name, int id_phone, int id_addr, const char *who,
				struct smile_error *e)
{
	struct label_page *p = &r->page;
	struct label_box b = p->blocks[block];
	struct label_text *tn = &p->text[id_name], *tp = &p->text[id_phone];
	int pad = label_mm(r, 1.5), gap = label_mm(r, 2.5);
	int x0 = b.x + label_mm(r, r->spec->tag_mm) + pad;
	int cw = b.x + b.w - pad - x0;
	int y = b.y + label_mm(r, 0.8);
	int row_h = b.h * 42 / 100, bottom, one_row = 0;
	int nmin = size_min(r, id_name), pmax = size_max(r, id_phone);
	enum smile_err err;

	/* name and phone share a row when both fit at one size */
	pango_layout_set_text(r->layout[id_name], party->name, -1);
	pango_layout_set_text(r->layout[id_phone], party->phone, -1);
	for (int s = size_max(r, id_name);; s = next_size(s, nmin)) {
		measure(r, id_name, s, 0);
		measure(r, id_phone, s < pmax ? s : pmax, 0);
		if (tn->lrel.w + gap + tp->lrel.w <= cw && tn->lrel.h <= row_h &&
		    tp->lrel.h <= row_h) {
			one_row = 1;
			break;
		}
		if (s <= nmin)
			break;
	}
	if (one_row) {
		err = glyph_check(r, id_name, e);
		if (!err)
			err = glyph_check(r, id_phone, e);
		if (err)
			return err;
		place(r, id_name, x0, y);
		/* phone flush right, on the name's baseline */
		place(r, id_phone, x0 + cw - tp->lrel.w,
		      tn->oy + baseline(r, id_name) - baseline(r, id_phone) + tp->lrel.y);
		bottom = tn->box.y + tn->box.h;
		if (tp->box.y + tp->box.h > bottom)
			bottom = tp->box.y + tp->box.h;
	} else {
		err = fit(r, id_name, NULL, cw, row_h, e);
		if (err)
			return err;
		place(r, id_name, x0, y);
		err = fit(r, id_phone, NULL, cw, row_h / 2, e);
		if (err)
			return err;
		place(r, id_phone, x0, tn->box.y + tn->box.h);
		bottom = tp->box.y + tp->box.h;
	}

	/* address lines, one paragraph each, wrapped and shrunk to fit */
	smile_buf_reset(&r->text);
	for (int i = 0; i < party->n_address; i++) {
		if ((i && smile_buf_puts(&r->text, "\n")) ||
		    smile_buf_puts(&r->text, party->address[i]))
			return smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
	}
	bottom += label_mm(r, 0.6);
	err = fit(r, id_addr, r->text.data, cw, b.y + b.h - label_mm(r, 0.6) - bottom, e);
	if (err == SMILE_ERR_LABEL_GLYPH)
		return address_glyph_error(r, id_addr, party, who, e);
	if (err)
		return err;
	place_origin(r, id_addr, x0, bottom);
	return SMILE_OK;
}

static enum smile_err lay_qr(struct smile_label_renderer *r, const struct smile_label_record *rec,
			     struct smile_error *e)
{
	struct label_page *p = &r->page;
	struct label_qr *q = &p->qr;
	struct label_box b = p->blocks[LB_QR];
	int mmin = (int)ceil(0.5 * r->dpi / 25.4 - 0.01);
	int mmax = (int)floor(0.85 * r->dpi / 25.4);
	int top = b.y + LABEL_ZPL_QR_SHIFT;
	int avail_h = p->text[LT_QR_CAPTION].box.y - label_mm(r, 0.3) - top;
	int side = b.w < avail_h ? b.w : avail_h;
	int m, qs;
	enum smile_err err;

	if (mmax > 10)
		mmax = 10; /* ZPL ^BQ magnification stops at 10 */
	if (r->format == SMILE_LABEL_ZPL) {
		/* the printer encodes it (^BQ): only its size matters here */
		q->n = label_qr_modules(strlen(rec->token));
		if (q->n == 0)
			return smile_error_set(e, SMILE_ERR_LABEL_CODE, "token",
					       "too long for a QR code of version 10");
	} else {
		err = label_qr_encode(q, rec->token, e);
		if (err)
			return err;
	}
	m = side / (q->n + 2 * LABEL_QR_QUIET);
	if (m > mmax)
		m = mmax;
	if (m < mmin)
		return smile_error_set(e, SMILE_ERR_LABEL_CODE, "token",
				       "a QR code of %d modules does not fit %.1f mm at %d dots per "
				       "module",
				       q->n, dots_mm(r, side), mmin);
	qs = (q->n + 2 * LABEL_QR_QUIET) * m;
	q->module = m;
	q->quiet = (struct label_box){b.x + (b.w - qs) / 2, top + (avail_h - qs) / 2, qs, qs};
	q->sym = (struct label_box){q->quiet.x + LABEL_QR_QUIET * m,
				    q->quiet.y + LABEL_QR_QUIET * m, q->n * m, q->n * m};
	return SMILE_OK;
}

static enum smile_err lay_footer(struct smile_label_renderer *r,
				 const struct smile_label_record *rec, struct smile_error *e)
{
	struct label_page *p = &r->page;
	struct label_box b = p->blocks[LB_FOOTER];
	int pad = label_mm(r, 1.5);
	int vy = p->text[LT_PCS_LABEL].box.y + p->text[LT_PCS_LABEL].box.h;
	int vh = label_mm(r, 8.0 * r->spec->scale);
	int ny, nh;
	char buf[64];
	long centi = (rec->weight_g + 5) / 10;
	enum smile_err err;

	snprintf(buf, sizeof(buf), "%d/%d", rec->parcel_index, rec->parcel_count);
	err = fit(r, LT_PCS, buf, b.w / 2 - 2 * pad, vh, e);
	if (err)
		return err;
	place(r, LT_PCS, b.x + pad, vy);
	snprintf(buf, sizeof(buf), "%ld.%02ld kg", centi / 100, centi % 100);
	err = fit(r, LT_WT, buf, b.w / 2 - 2 * pad, vh, e);
	if (err)
		return err;
	place(r, LT_WT, b.x + b.w / 2 + pad, vy);
	if (rec->note[0] == '\0')
		return SMILE_OK;

	ny = vy + (p->text[LT_PCS].box.h > p->text[LT_WT].box.h ? p->text[LT_PCS].box.h
								  : p->text[LT_WT].box.h);
	ny += label_mm(r, 0.8);
	nh = p->text[LT_TAGLINE].box.y - label_mm(r, 0.5) - ny;
	smile_buf_reset(&r->text);
	if (smile_buf_puts(&r->text, "备注 Note: ") || smile_buf_puts(&r->text, rec->note))
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
	err = fit(r, LT_NOTE, r->text.data, b.w - 2 * pad, nh, e);
	if (err)
		return err;
	place_origin(r, LT_NOTE, b.x + pad, ny);
	return SMILE_OK;
}

enum smile_err label_layout(struct smile_label_renderer *r, const struct smile_label_record *rec,
			    struct smile_error *e)
{
	enum smile_err err;

	r->page = r->tmpl;
	err = lay_header(r, rec, e);
	if (!err)
		err = lay_barcode(r, rec, e);
	if (!err)
		err = lay_sort(r, rec, e);
	if (!err)
		err = lay_party(r, &rec->recipient, LB_RECIPIENT, LT_TO_NAME, LT_TO_PHONE,
				LT_TO_ADDR, "recipient", e);
	if (!err)
		err = lay_party(r, &rec->sender, LB_SENDER, LT_FROM_NAME, LT_FROM_PHONE,
				LT_FROM_ADDR, "sender", e);
	if (!err)
		err = lay_qr(r, rec, e);
	if (!err)
		err = lay_footer(r, rec, e);
	return err;
}
