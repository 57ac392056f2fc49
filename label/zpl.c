/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zpl.c - one label as ZPL II: native codes, text as compressed graphics.
 *
 * The printer draws what it can draw exactly: rules as ^GB boxes, the waybill
 * as ^BC (Code128, automatic subset selection, module width from ^BY), the
 * token as ^BQ (model 2, ECC M, manual input in alphanumeric mode: "MM,A").
 * Text is never sent as text - a Zebra printer has no CJK font unless one is
 * loaded - but rasterised here with Pango (the same layout as PNG/PDF) and
 * sent as ^GFA graphics, one per text (cropped to its ink) or per
 * white-on-black box, in Zebra's Z64 encoding:
 *
 *     ^GFA,<bytes>,<bytes>,<bytes per row>,:Z64:<base64(zlib(rows))>:<crc>
 *
 * rows being MSB-first with 1 = black; <crc> is 4 hex digits of the CRC-16
 * over the base64 text with polynomial 0x1021, initial value 0, no
 * reflection (the CCITT polynomial in its XMODEM form; Zebra does not publish
 * it, this is what ZebraDesigner and Labelary accept).
 *
 * Only the texts are rasterised, only inside their own boxes, and what is the
 * same on every label (rules, tags, captions) is encoded once per renderer
 * and copied: a 4x6 label costs ~14 small graphics, not a page of bits.
 *
 * ^BQ quirk: Zebra firmware draws the symbol ~10 dots below ^FO; layout.c
 * leaves that much room above the quiet zone and the ^FO here is raised by
 * the same amount, so the symbol lands where PNG and PDF put it.
 */
#include "label_internal.h"

#include <pthread.h>
#include <string.h>

static unsigned short crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_build(void)
{
	for (int i = 0; i < 256; i++) {
		unsigned short c = (unsigned short)(i << 8);
		for (int b = 0; b < 8; b++)
			c = (unsigned short)(c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1);
		crc_table[i] = c;
	}
}

static unsigned short crc16_xmodem(const char *s, size_t n)
{
	const unsigned short *table = crc_table;
	unsigned short crc = 0;

	pthread_once(&crc_once, crc_build);
	for (size_t i = 0; i < n; i++)
		crc = (unsigned short)((crc << 8) ^ table[((crc >> 8) ^ (unsigned char)s[i]) & 0xFF]);
	return crc;
}

static enum smile_err base64_append(struct smile_buf *out, const unsigned char *in, size_t n)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t olen = (n + 2) / 3 * 4, i;
	char *o;
	enum smile_err err = smile_buf_reserve(out, olen);

	if (err)
		return err;
	o = out->data + out->len;
	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = b64[(v >> 6) & 63];
		*o++ = b64[v & 63];
	}
	if (i < n) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0);
		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	out->len += olen;
	out->data[out->len] = '\0';
	return SMILE_OK;
}

static int box_inside(const struct label_box *in, const struct label_box *out)
{
	return in->x >= out->x && in->y >= out->y && in->x + in->w <= out->x + out->w &&
	       in->y + in->h <= out->y + out->h;
}

/*
 * The graphics of the fixed (or the record's) parts: every white-on-black
 * fill (its text is inside it), and the ink box of every other text, one
 * dot wider on each side, inside the page. Returns how many.
 */
#define ZPL_ITEMS_MAX (LT_COUNT + LABEL_FILLS_MAX)

static int zpl_items(const struct label_page *p, int fixed, struct label_box *items)
{
	int n = 0;

	for (int i = 0; i < p->n_fills; i++)
		if (p->fills[i].fixed == fixed)
			items[n++] = p->fills[i].box;
	for (int i = 0; i < LT_COUNT; i++) {
		const struct label_text *t = &p->text[i];
		struct label_box b;
		int in_fill = 0;
		if (!t->used || t->fixed != fixed || t->ink.w <= 0 || t->ink.h <= 0)
			continue;
		for (int f = 0; f < p->n_fills; f++)
			in_fill |= box_inside(&t->ink, &p->fills[f].box);
		if (in_fill)
			continue;
		b = (struct label_box){t->ink.x - 1, t->ink.y - 1, t->ink.w + 2, t->ink.h + 2};
		if (b.x < 0) {
			b.w += b.x;
			b.x = 0;
		}
		if (b.y < 0) {
			b.h += b.y;
			b.y = 0;
		}
		if (b.x + b.w > p->width)
			b.w = p->width - b.x;
		if (b.y + b.h > p->height)
			b.h = p->height - b.y;
		if (b.w > 0 && b.h > 0)
			items[n++] = b;
	}
	return n;
}

/* One box of the raster as a ^GFA field in Z64. */
static enum smile_err emit_graphic(struct smile_label_renderer *r, const struct label_box *u,
				   struct smile_buf *out, struct smile_error *e)
{
	const unsigned char *src;
	unsigned char *rows;
	size_t bpr = ((size_t)u->w + 7) / 8, total = bpr * (size_t)u->h, b64_at;
	int stride;
	enum smile_err err;

	src = cairo_image_surface_get_data(r->raster);
	stride = cairo_image_surface_get_stride(r->raster);
	smile_buf_reset(&r->scratch);
	err = smile_buf_reserve(&r->scratch, total);
	if (err)
		return smile_error_set(e, err, NULL, "graphic over the scratch cap");
	rows = (unsigned char *)r->scratch.data;
	for (int y = 0; y < u->h; y++)
		label_pack_bits(src + (size_t)(u->y + y) * (size_t)stride + (size_t)u->x,
				(size_t)u->w, rows + (size_t)y * bpr);
	smile_buf_reset(&r->zbuf);
	err = label_deflate(rows, total, &r->zbuf, e);
	if (err)
		return err;

	err = smile_buf_printf(out, "^FO%d,%d^GFA,%zu,%zu,%zu,:Z64:", u->x, u->y, total, total,
			       bpr);
	if (err)
		return smile_error_set(e, err, NULL, "ZPL output over the cap");
	b64_at = out->len;
	err = base64_append(out, (const unsigned char *)r->zbuf.data, r->zbuf.len);
	if (!err)
		err = smile_buf_printf(out, ":%04X^FS\n",
				       crc16_xmodem(out->data + b64_at, out->len - b64_at));
	if (err)
		return smile_error_set(e, err, NULL, "ZPL output over the cap");
	return SMILE_OK;
}

/* Rules and fixed graphics, the same on every label: encoded once. */
static enum smile_err fixed_part(struct smile_label_renderer *r, struct smile_error *e)
{
	const struct label_page *p = &r->page;
	struct label_box items[ZPL_ITEMS_MAX];
	int n;
	enum smile_err err = SMILE_OK;

	smile_buf_reset(&r->zpl_fixed);
	for (int i = 0; !err && i < p->n_rules; i++) {
		const struct label_box *x = &p->rules[i];
		err = smile_buf_printf(&r->zpl_fixed, "^FO%d,%d^GB%d,%d,%d^FS\n", x->x, x->y, x->w,
				       x->h, x->w < x->h ? x->w : x->h);
	}
	if (err)
		return smile_error_set(e, err, NULL, "ZPL output over the cap");
	err = label_draw_texts(r, 1, e);
	if (err)
		return err;
	cairo_surface_flush(r->raster);
	n = zpl_items(p, 1, items);
	for (int i = 0; !err && i < n; i++)
		err = emit_graphic(r, &items[i], &r->zpl_fixed, e);
	if (!err)
		r->zpl_fixed_ready = 1;
	return err;
}

enum smile_err label_zpl_encode(struct smile_label_renderer *r,
				const struct smile_label_record *rec, struct smile_buf *out,
				struct smile_error *e)
{
	const struct label_page *p = &r->page;
	const struct label_bars *b = &p->bars;
	const struct label_qr *q = &p->qr;
	struct label_box items[ZPL_ITEMS_MAX];
	size_t start = out->len;
	int n;
	enum smile_err err;

	err = label_raster_ensure(r, e);
	if (!err && !r->zpl_fixed_ready)
		err = fixed_part(r, e);
	if (err)
		return err;
	/* the record's texts: clear their boxes, draw, then crop each */
	n = zpl_items(p, 0, items);
	for (int i = 0; i < n; i++)
		label_raster_clear(r, &items[i]);
	err = label_draw_texts(r, 0, e);
	if (err)
		return err;
	cairo_surface_flush(r->raster);

	err = smile_buf_printf(out, "^XA\n^CI28\n^PW%d\n^LL%d\n^LH0,0\n^PON\n", p->width,
			       p->height);
	if (!err)
		err = smile_buf_append(out, r->zpl_fixed.data, r->zpl_fixed.len);
	if (err) {
		smile_error_set(e, err, NULL, "ZPL output over the cap");
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		err = emit_graphic(r, &items[i], out, e);
		if (err)
			goto fail;
	}
	err = smile_buf_printf(out, "^FO%d,%d^BY%d,3,%d^BCN,%d,N,N,N,A^FD%s^FS\n", b->sym.x,
			       b->sym.y, b->module, b->sym.h, b->sym.h, rec->waybill);
	if (!err)
		err = smile_buf_printf(out, "^FO%d,%d^BQN,2,%d,M^FDMM,A%s^FS\n", q->sym.x,
				       q->sym.y >= LABEL_ZPL_QR_SHIFT ? q->sym.y - LABEL_ZPL_QR_SHIFT
								      : 0,
				       q->module, rec->token);
	if (!err)
		err = smile_buf_puts(out, "^PQ1\n^XZ\n");
	if (err) {
		smile_error_set(e, err, NULL, "ZPL output over the cap");
		goto fail;
	}
	return SMILE_OK;
fail:
	out->len = start;
	if (out->data)
		out->data[start] = '\0';
	return err;
}
