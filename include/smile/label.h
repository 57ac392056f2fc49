/* SPDX-License-Identifier: Apache-2.0 */
/*
 * label.h - parse label records and render smile waybills as PNG, PDF or ZPL.
 *
 * A label record is one JSON object (schema: docs/label-record.md) holding
 * only what may be printed: the waybill number, the sort code, masked names,
 * phones and addresses, the QR token. The library never sees unmasked data,
 * and fails closed: a record whose phone shows more than
 * SMILE_LABEL_PHONE_DIGITS_MAX digits, or whose name has no masking character
 * ('*' or U+FF0A '＊'), is refused with SMILE_ERR_LABEL_UNMASKED and nothing is
 * rendered for it.
 *
 * Typical use (the gateway, one renderer per HTTP thread):
 *
 *     struct smile_label_renderer *r;      // once per thread
 *     smile_label_renderer_new(SMILE_LABEL_PNG, 203, SMILE_LABEL_100X150, &r, &e);
 *     ...
 *     struct smile_label_record *rec;      // per request
 *     if (smile_label_record_parse(json, len, &rec, &e) == SMILE_OK) {
 *             smile_buf_init(&png, SMILE_LABEL_OUTPUT_MAX);
 *             err = smile_label_render(r, rec, &png, &e);
 *             smile_label_record_free(rec);
 *     }
 *
 * Thread-safety: records are immutable after parsing and may be shared and
 * read by any number of threads. A renderer holds a Pango font map and
 * context, reusable layouts, a raster page and compression state: it is NOT
 * thread-safe. Use one renderer per thread (never share one without your own
 * lock); different renderers run fully in parallel.
 *
 * Errors: every function returns an enum smile_err and, when `e` is not NULL,
 * fills it with the field path ("recipient.phone", "recipient.address[1]",
 * "token") and a message that describes the value without echoing it.
 * Record errors: SMILE_ERR_JSON, SMILE_ERR_UTF8, SMILE_ERR_TOO_LARGE,
 * SMILE_ERR_MISSING_FIELD, SMILE_ERR_FIELD_TYPE, SMILE_ERR_FIELD_VALUE,
 * SMILE_ERR_LABEL_UNMASKED. Rendering errors for one record:
 * SMILE_ERR_LABEL_NO_FIT (text does not fit at its minimum size; never
 * clipped), SMILE_ERR_LABEL_GLYPH (no installed font covers a character),
 * SMILE_ERR_LABEL_CODE (the QR or Code128 symbol does not fit). Failures of
 * the machinery: SMILE_ERR_LABEL_RENDER (cairo/pango/zlib), SMILE_ERR_NOMEM,
 * SMILE_ERR_IO (a write callback failed), SMILE_ERR_TOO_LARGE (output over the
 * caller's buffer cap).
 */
#ifndef SMILE_LABEL_H
#define SMILE_LABEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "smile/buf.h"
#include "smile/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest label record accepted, in bytes (one JSON Lines line). */
#define SMILE_LABEL_RECORD_MAX (16 * 1024)
/* A phone on a label may show at most this many digits (GB/T 41833-2022
 * hides at least 6 of 11). */
#define SMILE_LABEL_PHONE_DIGITS_MAX 5
/* A cap that comfortably holds any one rendered label (PNG at 300 dpi on
 * 100x180 mm is ~60 KiB; a one-page PDF with CJK font subsets ~150 KiB). */
#define SMILE_LABEL_OUTPUT_MAX (8 * 1024 * 1024)

enum smile_label_format {
	SMILE_LABEL_PNG = 0, /* 1-bit PNG with pHYs; one label per file */
	SMILE_LABEL_PDF = 1, /* vector PDF, true page size; batches: one page each */
	SMILE_LABEL_ZPL = 2  /* ^XA..^XZ per label; batches concatenate */
};

enum smile_label_size {
	SMILE_LABEL_100X150 = 0, /* 4x6 in, the default */
	SMILE_LABEL_100X180 = 1,
	SMILE_LABEL_76X130 = 2
};

/* "png" | "pdf" | "zpl" -> *out. SMILE_OK or SMILE_ERR_UNSUPPORTED. */
enum smile_err smile_label_format_parse(const char *s, enum smile_label_format *out)
	SMILE_MUST_CHECK;
/* "png", "pdf", "zpl" (also the file extension); "unknown" otherwise. Static. */
const char *smile_label_format_name(enum smile_label_format f);
/* "100x150" | "100x180" | "76x130" -> *out. SMILE_OK or SMILE_ERR_UNSUPPORTED. */
enum smile_err smile_label_size_parse(const char *s, enum smile_label_size *out)
	SMILE_MUST_CHECK;
/* "100x150", ...; "unknown" otherwise. Static. */
const char *smile_label_size_name(enum smile_label_size s);
/* Supported resolutions: 203 and 300 dpi. */
int smile_label_dpi_supported(int dpi);

/* ------------------------------------------------------------ records */

/* A parsed, validated, privacy-checked label record. Opaque, immutable. */
struct smile_label_record;

/*
 * Parse one label record from json[0..len) (need not be NUL-terminated).
 * Unknown fields are ignored. On success *out is a new record the caller
 * frees with smile_label_record_free(); on error *out is NULL.
 * Returns:
 *   SMILE_OK
 *   SMILE_ERR_TOO_LARGE      len > SMILE_LABEL_RECORD_MAX (field "record"), or a
 *                            value over its cap (field names it)
 *   SMILE_ERR_UTF8           invalid UTF-8 (field: the value that holds it)
 *   SMILE_ERR_JSON           not JSON, not an object, a duplicate key (field:
 *                            where the syntax broke, when known)
 *   SMILE_ERR_MISSING_FIELD  a required field is absent
 *   SMILE_ERR_FIELD_TYPE     a field has the wrong JSON type
 *   SMILE_ERR_FIELD_VALUE    empty, malformed (waybill, date, token, phone
 *                            characters), out of range, a control character,
 *                            or a run of 7+ digits in an address line or note
 *   SMILE_ERR_LABEL_UNMASKED a phone shows more than 5 digits, or a name has
 *                            no '*' / '＊' (recipient.* or sender.*)
 *   SMILE_ERR_NOMEM, SMILE_ERR_INVALID (json or out NULL)
 */
enum smile_err smile_label_record_parse(const char *json, size_t len,
					struct smile_label_record **out,
					struct smile_error *e) SMILE_MUST_CHECK;

/* Wipe and free a record. NULL is a no-op. */
void smile_label_record_free(struct smile_label_record *rec);

/* The record's waybill number ([A-Z0-9-], 1-32 chars) and QR token; owned by
 * the record, valid until it is freed. */
const char *smile_label_record_waybill(const struct smile_label_record *rec);
const char *smile_label_record_token(const struct smile_label_record *rec);

/* ------------------------------------------------------------ rendering */

/* Renders labels of one format, resolution and size. Not thread-safe: one
 * per thread. */
struct smile_label_renderer;

/*
 * A renderer for `format` at `dpi` (203 or 300) on `size`. Creating one
 * loads the fonts and lays out the fixed parts of the label (20-40 ms, and
 * the first label 30-90 ms more while glyph caches fill): create
 * one per thread and keep it.
 * Returns SMILE_OK (*out set), SMILE_ERR_UNSUPPORTED (format, dpi or size;
 * field "format" / "dpi" / "size"), SMILE_ERR_LABEL_RENDER (cairo or Pango
 * could not be set up), SMILE_ERR_NOMEM, SMILE_ERR_INVALID (out NULL).
 * The caller frees *out with smile_label_renderer_free().
 */
enum smile_err smile_label_renderer_new(enum smile_label_format format, int dpi,
					enum smile_label_size size,
					struct smile_label_renderer **out,
					struct smile_error *e) SMILE_MUST_CHECK;

/* Free a renderer (ending an open batch without finishing it). NULL is a no-op. */
void smile_label_renderer_free(struct smile_label_renderer *r);

/* Page size in printer dots (what ^PW/^LL and the PNG carry). */
void smile_label_renderer_dots(const struct smile_label_renderer *r, int *width,
			       int *height);

/*
 * Render one label and append it, as one complete file (a PNG, a one-page
 * PDF, or one ^XA..^XZ), to `out`. On error nothing is appended (out->len is
 * unchanged). The renderer may be used again after any error.
 * Returns:
 *   SMILE_OK
 *   SMILE_ERR_LABEL_NO_FIT   text does not fit at its minimum size (field names it)
 *   SMILE_ERR_LABEL_GLYPH    a character no installed font covers (field names it)
 *   SMILE_ERR_LABEL_CODE     QR or Code128 does not fit the label ("token", "waybill")
 *   SMILE_ERR_LABEL_RENDER   cairo, Pango, zint, libqrencode or zlib failed
 *   SMILE_ERR_TOO_LARGE      the output would pass out->max
 *   SMILE_ERR_NOMEM
 *   SMILE_ERR_INVALID        an argument is NULL, or a batch is open on r
 */
enum smile_err smile_label_render(struct smile_label_renderer *r,
				  const struct smile_label_record *rec,
				  struct smile_buf *out, struct smile_error *e) SMILE_MUST_CHECK;

/*
 * Batches: many labels in one document, streamed to a sink as they are
 * rendered (memory stays flat with batch size). PDF: one page per label, fonts
 * shared; ZPL: one ^XA..^XZ per label. PNG has no multi-label file
 * (SMILE_ERR_UNSUPPORTED).
 *
 * The sink gets every byte in order; it returns SMILE_OK or an error (which
 * stops the batch: later calls return SMILE_ERR_IO). `arg` is the caller's.
 */
typedef enum smile_err (*smile_label_write_fn)(void *arg, const unsigned char *data,
					       size_t len);

/* A sink that fwrite()s to the FILE * passed as `arg`; SMILE_ERR_IO on a short write. */
enum smile_err smile_label_write_file(void *arg, const unsigned char *data, size_t len);

/* Start a batch on `r`. SMILE_ERR_UNSUPPORTED for PNG, SMILE_ERR_INVALID if a
 * batch is already open, SMILE_ERR_LABEL_RENDER, SMILE_ERR_NOMEM. */
enum smile_err smile_label_batch_begin(struct smile_label_renderer *r, smile_label_write_fn fn,
				       void *arg, struct smile_error *e) SMILE_MUST_CHECK;

/*
 * Add one label. A record that cannot be laid out (NO_FIT, GLYPH, CODE)
 * returns that error, adds nothing, and leaves the batch open for the next
 * record. SMILE_ERR_IO / SMILE_ERR_LABEL_RENDER / SMILE_ERR_NOMEM break the
 * batch: end it. SMILE_ERR_INVALID when no batch is open.
 */
enum smile_err smile_label_batch_add(struct smile_label_renderer *r,
				     const struct smile_label_record *rec,
				     struct smile_error *e) SMILE_MUST_CHECK;

/* Finish the document and close the batch. A batch with no label writes no
 * bytes at all (a PDF cannot have zero pages). Returns the first error the
 * batch met, else SMILE_OK; the batch is closed either way.
 * SMILE_ERR_INVALID when no batch is open. */
enum smile_err smile_label_batch_end(struct smile_label_renderer *r,
				     struct smile_error *e) SMILE_MUST_CHECK;

/* Number of labels added to the open (or last) batch. */
unsigned long smile_label_batch_count(const struct smile_label_renderer *r);

/*
 * Lay the record out without drawing it and append a JSON object describing
 * where everything lands, in printer dots (origin top-left):
 *   {"size":"100x150","dpi":203,"width":799,"height":1199,
 *    "blocks":{"header":{"x":..,"y":..,"w":..,"h":..}, ... 7 blocks},
 *    "texts":[{"field":"recipient.name","block":"recipient","x":..,"y":..,
 *              "w":..,"h":..,"size":..}, ...],
 *    "barcode":{"x":..,"y":..,"w":..,"h":..,"module":4,"quiet":{box}},
 *    "qr":{"x":..,"y":..,"w":..,"h":..,"module":5,"modules":29,"quiet":{box}},
 *    "rules":[{box}, ...]}
 * Blocks: header, barcode, sort, recipient, sender, qr, footer. Text boxes
 * are logical extents; "size" is the font size chosen, in dots.
 * Same errors as smile_label_render() (except SMILE_ERR_IO).
 */
enum smile_err smile_label_layout_json(struct smile_label_renderer *r,
				       const struct smile_label_record *rec,
				       struct smile_buf *out, struct smile_error *e)
	SMILE_MUST_CHECK;

/* ------------------------------------------------------------ samples */

/*
 * Append one realistic, already-masked label record as a single JSON line
 * (no trailing newline) to `out`: number `index` of the stream seeded by
 * `seed` (the same pair always gives the same record). Mixed Chinese and
 * Latin names and addresses (with Polish diacritics), some Arabic and Hebrew.
 * Returns SMILE_OK, SMILE_ERR_TOO_LARGE or SMILE_ERR_NOMEM (from `out`).
 */
enum smile_err smile_label_sample(uint64_t seed, uint64_t index, struct smile_buf *out)
	SMILE_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
