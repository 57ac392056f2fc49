/* SPDX-License-Identifier: Apache-2.0 */
/*
 * label_internal.h - what the files of label/ share: the parsed record, the
 * page model (boxes in printer dots), and the renderer's private state.
 *
 * Flow of one label: record.c parses and checks the JSON (privacy.c does the
 * fail-closed test); layout.c fits every text with Pango and places the codes
 * (codes.c) on a page of boxes; draw.c paints that page on a cairo context;
 * png.c / pdf.c / zpl.c turn it into bytes; renderer.c ties them together.
 * Nothing here is public API.
 */
#ifndef SMILE_LABEL_INTERNAL_H
#define SMILE_LABEL_INTERNAL_H

#include <cairo.h>
#include <pango/pangocairo.h>
#include <zlib.h>

#include "smile/buf.h"
#include "smile/error.h"
#include "smile/label.h"

/* ------------------------------------------------------------ record */

/* Caps, in Unicode code points (a code point is at most 4 bytes). */
#define LABEL_WAYBILL_MAX 32
#define LABEL_SORT_MAX 32
#define LABEL_SERVICE_MAX 24
#define LABEL_MERCHANT_MAX 64
#define LABEL_TOKEN_MAX 128
#define LABEL_NAME_MAX 64
#define LABEL_PHONE_MAX 32
#define LABEL_ADDR_LINES_MAX 4
#define LABEL_ADDR_LINE_MAX 260
#define LABEL_NOTE_MAX 140
#define LABEL_WEIGHT_MAX 1000000L /* grams: 1 t */
#define LABEL_PARCELS_MAX 9999
/* Longest number run (digits of any kind with no letter between them:
 * label_longest_digit_run) that any printed text may carry: 8 or more look
 * like a phone number. 7 lets postal codes through (JP 100-0001, CN 430000).
 * The same limit as SMILE_MASK_ADDR_DIGIT_RUN_MAX. */
#define LABEL_DIGIT_RUN_MAX 7

#define LABEL_UTF8_BYTES(n) ((n) * 4 + 1)

struct label_party {
	char name[LABEL_UTF8_BYTES(LABEL_NAME_MAX)];
	char phone[LABEL_UTF8_BYTES(LABEL_PHONE_MAX)];
	char address[LABEL_ADDR_LINES_MAX][LABEL_UTF8_BYTES(LABEL_ADDR_LINE_MAX)];
	int n_address;
};

struct smile_label_record {
	char waybill[LABEL_WAYBILL_MAX + 1];
	char sort_code[LABEL_UTF8_BYTES(LABEL_SORT_MAX)];
	char service[LABEL_UTF8_BYTES(LABEL_SERVICE_MAX)];
	char date[11];
	char token[LABEL_TOKEN_MAX + 1];
	char merchant[LABEL_UTF8_BYTES(LABEL_MERCHANT_MAX)];
	char note[LABEL_UTF8_BYTES(LABEL_NOTE_MAX)];
	struct label_party recipient;
	struct label_party sender;
	long weight_g;
	int parcel_index;
	int parcel_count;
};

/* privacy.c: the fail-closed test on what a record would print
 * (SMILE_ERR_LABEL_UNMASKED naming the field: "note", "recipient.phone",
 * "sender.address[1]", ...). A record that exists has passed it. */
enum smile_err label_privacy_check_record(const struct smile_label_record *rec,
					  struct smile_error *e) SMILE_MUST_CHECK;
/* One party; fields "name", "phone", "address[i]" (the caller prefixes
 * "recipient" or "sender"). */
enum smile_err label_privacy_check_party(const struct label_party *p, struct smile_error *e)
	SMILE_MUST_CHECK;
/* One printed free text: no run over LABEL_DIGIT_RUN_MAX. */
enum smile_err label_privacy_check_text(const char *s, const char *field,
					struct smile_error *e) SMILE_MUST_CHECK;
/* Characters with a numeric value (smile_unicode_is_numeric) in s. */
size_t label_count_digits(const char *s);
/* 1 when s contains '*' or U+FF0A. */
int label_has_mask(const char *s);
/* The longest number run in s (smile_unicode_number_run): digits of any
 * kind with no letter between them. */
size_t label_longest_digit_run(const char *s);

/* ------------------------------------------------------------ page model */

struct label_box {
	int x, y, w, h;
};

enum label_block {
	LB_HEADER,
	LB_BARCODE,
	LB_SORT,
	LB_RECIPIENT,
	LB_SENDER,
	LB_QR,
	LB_FOOTER,
	LB_COUNT
};
extern const char *const label_block_names[LB_COUNT];

enum label_text_id {
	LT_MERCHANT,
	LT_DATE,
	LT_SERVICE,
	LT_WAYBILL,
	LT_SORT,
	LT_TO_TAG,
	LT_TO_TAG_EN,
	LT_TO_NAME,
	LT_TO_PHONE,
	LT_TO_ADDR,
	LT_FROM_TAG,
	LT_FROM_TAG_EN,
	LT_FROM_NAME,
	LT_FROM_PHONE,
	LT_FROM_ADDR,
	LT_QR_CAPTION,
	LT_PCS_LABEL,
	LT_PCS,
	LT_WT_LABEL,
	LT_WT,
	LT_NOTE,
	LT_TAGLINE,
	LT_COUNT
};

enum label_font {
	LF_SANS,
	LF_SANS_BOLD,
	LF_MONO_BOLD,
	LF_COND_BOLD,
	LF_COUNT
};

struct label_text {
	int used;
	int fixed;            /* the same on every label of this renderer */
	int inverse;          /* paper-coloured text (on an ink fill) */
	int block;            /* enum label_block */
	int size;             /* font size chosen, in dots */
	int ox, oy;           /* where the layout's origin goes */
	struct label_box box; /* logical extents on the page */
	struct label_box ink; /* ink extents on the page */
	struct label_box lrel, irel; /* logical and ink extents, layout-relative */
	const char *field;    /* record field, for errors and the layout JSON */
};

#define LABEL_RULES_MAX 16
#define LABEL_FILLS_MAX 4
/* QR version 10 is 57 modules; a 128-character alphanumeric token at ECC M
 * needs version 6 (41). */
#define LABEL_QR_MODULES_MAX 57
#define LABEL_BARS_MAX 640
/* Quiet zones, in modules (ISO/IEC 18004: 4; ISO/IEC 15417: 10 X). */
#define LABEL_QR_QUIET 4
#define LABEL_BARS_QUIET 10
/* Zebra firmware draws a ^BQ symbol about 10 dots below its ^FO (what
 * Labelary emulates); the layout keeps that much blank above the QR quiet
 * zone and zpl.c raises the ^FO by as much. */
#define LABEL_ZPL_QR_SHIFT 10

struct label_qr {
	int n;                 /* modules per side */
	int module;            /* dots per module */
	struct label_box sym;  /* the symbol itself */
	struct label_box quiet;/* symbol plus quiet zone: must stay blank */
	unsigned char m[LABEL_QR_MODULES_MAX * LABEL_QR_MODULES_MAX]; /* 1 = dark */
};

struct label_bars {
	int n;                 /* modules, start to stop */
	int module;            /* X dimension in dots */
	struct label_box sym;
	struct label_box quiet;
	unsigned char m[LABEL_BARS_MAX]; /* 1 = bar */
};

struct label_fill {
	struct label_box box;
	int block;
	int fixed; /* the same on every label of this renderer */
};

struct label_page {
	int width, height, dpi;
	struct label_box frame;
	struct label_box blocks[LB_COUNT];
	int n_rules;
	struct label_box rules[LABEL_RULES_MAX];
	int n_fills;
	struct label_fill fills[LABEL_FILLS_MAX];
	struct label_text text[LT_COUNT];
	struct label_qr qr;
	struct label_bars bars;
};

/* Sizes and band heights of one label size, in millimetres. */
struct label_spec {
	const char *name;
	double w_mm, h_mm;
	double bands_mm[6]; /* header, barcode, sort, recipient, sender, bottom */
	double tag_mm;      /* width of the TO/FROM tag column */
	double scale;       /* text size factor against 100 mm wide */
};
const struct label_spec *label_spec_get(enum smile_label_size size);

/* ------------------------------------------------------------ renderer */

struct smile_label_renderer {
	enum smile_label_format format;
	enum smile_label_size size;
	int dpi;
	const struct label_spec *spec;
	struct label_page tmpl; /* geometry and static texts, fixed per renderer */
	struct label_page page; /* the label being rendered */

	PangoFontMap *fontmap;
	PangoContext *pctx;
	PangoLayout *layout[LT_COUNT];
	PangoFontDescription *font[LF_COUNT];
	struct smile_buf text;  /* scratch: joined address lines */
	/* The last successful fit of each layout: the same text in the same box
	 * (a batch's merchant, service, date...) needs no Pango work. */
	struct label_fit_cache {
		int valid;
		int w, h, size;
		struct label_box lrel, irel;
		struct smile_buf text;
	} fit_cache[LT_COUNT];

	struct zint_symbol *zint;

	cairo_surface_t *raster; /* A8 page for PNG and ZPL, thresholded to 1 bit */
	cairo_t *rcr;
	unsigned char *raster_tmpl; /* the raster with only the fixed parts drawn */
	struct smile_buf zpl_fixed; /* ZPL of the fixed parts (rules, tags, captions) */
	int zpl_fixed_ready;

	struct smile_buf scratch; /* rows before deflate */
	struct smile_buf zbuf;    /* deflate output (ZPL) */
	struct smile_buf one;     /* one ZPL label of a batch */

	/* batch */
	int in_batch;
	smile_label_write_fn sink;
	void *sink_arg;
	enum smile_err batch_err;
	struct smile_error batch_e;
	unsigned long batch_count;
	cairo_surface_t *pdf;
	cairo_t *pdfcr;
	struct smile_buf *pdf_out; /* single-label PDF target */
};

/* layout.c */
enum smile_err label_geometry_init(struct smile_label_renderer *r, struct smile_error *e)
	SMILE_MUST_CHECK;
enum smile_err label_layout(struct smile_label_renderer *r, const struct smile_label_record *rec,
			    struct smile_error *e) SMILE_MUST_CHECK;
int label_mm(const struct smile_label_renderer *r, double mm);

/* codes.c */
enum smile_err label_qr_encode(struct label_qr *q, const char *token, struct smile_error *e)
	SMILE_MUST_CHECK;
/* Modules per side of the smallest QR (ECC M, alphanumeric) holding len
 * characters, as label_qr_encode() and a Zebra ^BQ choose it; 0 beyond
 * version 10. For ZPL, where the printer draws the symbol itself. */
int label_qr_modules(size_t len);
enum smile_err label_bars_encode(struct zint_symbol *z, struct label_bars *b,
				 const char *waybill, struct smile_error *e) SMILE_MUST_CHECK;

/* draw.c: paint r->page. */
/* Everything, black on white, on cr whose user space is dots (PDF). */
enum smile_err label_draw_vector(struct smile_label_renderer *r, cairo_t *cr,
				 struct smile_error *e) SMILE_MUST_CHECK;
/* The whole label on the A8 raster (PNG): a copy of the template of fixed
 * parts (built on first use), then this label's texts and codes. */
enum smile_err label_draw_raster(struct smile_label_renderer *r, struct smile_error *e)
	SMILE_MUST_CHECK;
/* Pieces for ZPL, which rasterises only its text: create the A8 raster
 * (all paper); clear a box of it; draw the fixed or the record's texts in
 * ink and invert their fills (white-on-black boxes). */
enum smile_err label_raster_ensure(struct smile_label_renderer *r, struct smile_error *e)
	SMILE_MUST_CHECK;
void label_raster_clear(struct smile_label_renderer *r, const struct label_box *b);
enum smile_err label_draw_texts(struct smile_label_renderer *r, int fixed, struct smile_error *e)
	SMILE_MUST_CHECK;

/* png.c: the raster as a 1-bit PNG appended to out. */
enum smile_err label_png_encode(struct smile_label_renderer *r, struct smile_buf *out,
				struct smile_error *e) SMILE_MUST_CHECK;
/* Threshold npix A8 pixels at 50% into (npix + 7) / 8 bytes, leftmost pixel
 * in the most significant bit, 1 = ink; padding bits are 0. */
void label_pack_bits(const unsigned char *a8, size_t npix, unsigned char *out);

/* zpl.c: the page as one ^XA..^XZ appended to out. */
enum smile_err label_zpl_encode(struct smile_label_renderer *r,
				const struct smile_label_record *rec, struct smile_buf *out,
				struct smile_error *e) SMILE_MUST_CHECK;

/* pdf.c */
enum smile_err label_pdf_render_one(struct smile_label_renderer *r,
				    const struct smile_label_record *rec, struct smile_buf *out,
				    struct smile_error *e) SMILE_MUST_CHECK;
enum smile_err label_pdf_batch_page(struct smile_label_renderer *r,
				    const struct smile_label_record *rec, struct smile_error *e)
	SMILE_MUST_CHECK;
enum smile_err label_pdf_batch_finish(struct smile_label_renderer *r, struct smile_error *e)
	SMILE_MUST_CHECK;

/* deflate.c: in[0..len) as a zlib stream (runs and literals, fixed Huffman
 * codes) appended to out. SMILE_ERR_TOO_LARGE / SMILE_ERR_NOMEM from out. */
enum smile_err label_deflate(const unsigned char *in, size_t len, struct smile_buf *out,
			     struct smile_error *e) SMILE_MUST_CHECK;

#endif
