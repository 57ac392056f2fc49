/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for rendering: PNG is 1-bit with pHYs and the right size at
 * every dpi and size; codes are whole dots with clear quiet zones; ZPL has
 * the right ^PW/^LL, ^CI28, native ^BC/^BQ, and ^GF graphics whose Z64 CRC,
 * base64 and zlib all check out and which redraw exactly the PNG's text and
 * rules; PDF has the true page size and one page per label; text that does
 * not fit, a character no font has, and a code that does not fit fail the
 * record and leave the output untouched; renderers in parallel threads give
 * byte-identical results. */
#include "label_test_util.h"

#include <pthread.h>

/* Renderers are costly to create (fontconfig sorts the fonts for each new
 * font map), so tests share one per format, dpi and size; release() is a
 * no-op for them and the group teardown frees them. */
static struct smile_label_renderer *cache[3][2][3];

static struct smile_label_renderer *renderer(enum smile_label_format f, int dpi,
					     enum smile_label_size s)
{
	struct smile_label_renderer **slot = &cache[f][dpi == 300][s];
	struct smile_error e = {0};
	if (*slot == NULL && smile_label_renderer_new(f, dpi, s, slot, &e))
		fail_msg("renderer: %s: %s", e.field, e.message);
	return *slot;
}

static void release(struct smile_label_renderer *r)
{
	(void)r;
}

static int teardown(void **state)
{
	(void)state;
	for (int f = 0; f < 3; f++)
		for (int d = 0; d < 2; d++)
			for (int s = 0; s < 3; s++)
				smile_label_renderer_free(cache[f][d][s]);
	return 0;
}

static void render_ok(struct smile_label_renderer *r, const struct smile_label_record *rec,
		      struct smile_buf *out)
{
	struct smile_error e = {0};
	if (smile_label_render(r, rec, out, &e))
		fail_msg("render: %s: %s (%s)", e.field, e.message, smile_errname(e.code));
}

static void renderer_arguments_are_checked(void **state)
{
	struct smile_label_renderer *r = NULL;
	struct smile_error e = {0};
	enum smile_label_format f;
	enum smile_label_size s;
	(void)state;
	assert_int_equal(smile_label_renderer_new(SMILE_LABEL_PNG, 600, SMILE_LABEL_100X150, &r, &e),
			 SMILE_ERR_UNSUPPORTED);
	assert_string_equal(e.field, "dpi");
	assert_null(r);
	assert_int_equal(smile_label_renderer_new(SMILE_LABEL_PNG, 203, 7, &r, &e),
			 SMILE_ERR_UNSUPPORTED);
	assert_string_equal(e.field, "size");
	assert_int_equal(smile_label_renderer_new(9, 203, SMILE_LABEL_100X150, &r, &e),
			 SMILE_ERR_UNSUPPORTED);
	assert_int_equal(smile_label_format_parse("ZPL", &f), SMILE_OK);
	assert_int_equal(f, SMILE_LABEL_ZPL);
	assert_int_equal(smile_label_format_parse("svg", &f), SMILE_ERR_UNSUPPORTED);
	assert_int_equal(smile_label_size_parse("76x130", &s), SMILE_OK);
	assert_int_equal(s, SMILE_LABEL_76X130);
	assert_int_equal(smile_label_size_parse("4x6", &s), SMILE_ERR_UNSUPPORTED);
	assert_string_equal(smile_label_format_name(SMILE_LABEL_PDF), "pdf");
	assert_string_equal(smile_label_size_name(SMILE_LABEL_100X180), "100x180");
	smile_label_renderer_free(NULL);
}

static void png_is_one_bit_with_resolution(void **state)
{
	struct smile_label_record *rec = fixture(0);
	(void)state;
	for (size_t i = 0; i < N_PAGE_SIZES; i++) {
		struct smile_label_renderer *r =
			renderer(SMILE_LABEL_PNG, page_sizes[i].dpi, page_sizes[i].size);
		struct smile_buf out;
		struct png_info pi;
		int w, h;
		uint32_t ppm = (uint32_t)(page_sizes[i].dpi / 0.0254 + 0.5);

		smile_buf_init(&out, SMILE_LABEL_OUTPUT_MAX);
		render_ok(r, rec, &out);
		png_read((const unsigned char *)out.data, out.len, &pi);
		assert_int_equal(pi.width, page_sizes[i].w);
		assert_int_equal(pi.height, page_sizes[i].h);
		smile_label_renderer_dots(r, &w, &h);
		assert_int_equal(w, page_sizes[i].w);
		assert_int_equal(h, page_sizes[i].h);
		assert_int_equal(pi.interlace, 0);
		assert_int_equal(pi.ppm_x, ppm); /* 7992 at 203 dpi, 11811 at 300 */
		assert_int_equal(pi.ppm_y, ppm);
		assert_int_equal(pi.phys_unit, 1);
		/* a real label: some ink, mostly paper */
		{
			size_t ink = 0, all = (size_t)pi.bm.w * (size_t)pi.bm.h;
			for (size_t k = 0; k < all; k++)
				ink += pi.bm.ink[k];
			assert_true(ink > all / 20 && ink < all / 2);
		}
		bitmap_free(&pi.bm);
		smile_buf_release(&out);
		release(r);
	}
	smile_label_record_free(rec);
}

/* Every QR module and every bar is a whole number of dots of one colour,
 * and the quiet zones are blank, at every size and dpi. */
static void codes_are_whole_dots_with_quiet_zones(void **state)
{
	(void)state;
	for (int fx = 0; fx < 3; fx++) {
		struct smile_label_record *rec = fixture(fx);
		for (size_t i = 0; i < N_PAGE_SIZES; i++) {
			struct smile_label_renderer *r =
				renderer(SMILE_LABEL_PNG, page_sizes[i].dpi, page_sizes[i].size);
			json_t *lay = layout_of(r, rec);
			json_t *qr = json_object_get(lay, "qr"), *bc = json_object_get(lay, "barcode");
			struct box qs = box_of(qr), qq = box_of(json_object_get(qr, "quiet"));
			struct box bs = box_of(bc), bq = box_of(json_object_get(bc, "quiet"));
			int m = (int)json_integer_value(json_object_get(qr, "module"));
			int n = (int)json_integer_value(json_object_get(qr, "modules"));
			int x = (int)json_integer_value(json_object_get(bc, "module"));
			struct smile_buf out;
			struct png_info pi;

			assert_true(m >= (page_sizes[i].dpi == 203 ? 4 : 6));
			assert_int_equal(qs.w, n * m);
			assert_int_equal(qq.w, (n + 8) * m);
			assert_int_equal(bq.w, bs.w + 20 * x);
			assert_true(x >= 2);
			smile_buf_init(&out, SMILE_LABEL_OUTPUT_MAX);
			render_ok(r, rec, &out);
			png_read((const unsigned char *)out.data, out.len, &pi);
			/* quiet zones: no ink outside the symbols */
			for (int y = qq.y; y < qq.y + qq.h; y++)
				for (int xx = qq.x; xx < qq.x + qq.w; xx++)
					if (!box_inside((struct box){xx, y, 1, 1}, qs) &&
					    bm_at(&pi.bm, xx, y))
						fail_msg("ink in the QR quiet zone at %d,%d", xx, y);
			for (int y = bq.y; y < bq.y + bq.h; y++)
				for (int xx = bq.x; xx < bq.x + bq.w; xx++)
					if ((xx < bs.x || xx >= bs.x + bs.w) && bm_at(&pi.bm, xx, y))
						fail_msg("ink in the barcode quiet zone at %d,%d", xx,
							 y);
			/* modules: uniform squares; finder pattern corner is dark */
			for (int my = 0; my < n; my++)
				for (int mx = 0; mx < n; mx++) {
					int v = bm_at(&pi.bm, qs.x + mx * m, qs.y + my * m);
					for (int dy = 0; dy < m; dy++)
						for (int dx = 0; dx < m; dx++)
							if (bm_at(&pi.bm, qs.x + mx * m + dx,
								  qs.y + my * m + dy) != v)
								fail_msg("QR module %d,%d not uniform",
									 mx, my);
				}
			assert_int_equal(bm_at(&pi.bm, qs.x, qs.y), 1);
			/* bars: every column one colour top to bottom, edges on the
			 * module grid, starting with a bar */
			for (int xx = bs.x; xx < bs.x + bs.w; xx++) {
				int v = bm_at(&pi.bm, xx, bs.y);
				for (int y = bs.y; y < bs.y + bs.h; y++)
					if (bm_at(&pi.bm, xx, y) != v)
						fail_msg("bar column %d not uniform", xx);
				if ((xx - bs.x) % x != 0)
					assert_int_equal(v, bm_at(&pi.bm, xx - 1, bs.y));
			}
			assert_int_equal(bm_at(&pi.bm, bs.x, bs.y), 1);
			assert_int_equal(bm_at(&pi.bm, bs.x + bs.w - 1, bs.y), 1);
			bitmap_free(&pi.bm);
			smile_buf_release(&out);
			json_decref(lay);
			release(r);
		}
		smile_label_record_free(rec);
	}
}

static json_t *fixture_json(int index)
{
	char path[512], line[SMILE_LABEL_RECORD_MAX + 2];
	json_error_t je;
	json_t *o = NULL;
	FILE *f;
	int i = 0;

	data_path(path, sizeof(path), "records.jsonl");
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (i++ == index)
			o = json_loads(line, 0, &je);
	fclose(f);
	assert_non_null(o);
	return o;
}

/* Render `rec` into a buffer holding a prefix; expect `err` at `field` and
 * the buffer untouched. */
static void expect_failure(enum smile_label_format fmt, enum smile_label_size size,
			   struct smile_label_record *rec, enum smile_err err, const char *field)
{
	struct smile_label_renderer *r = renderer(fmt, 203, size);
	struct smile_error e = {0};
	struct smile_buf out;
	enum smile_err got;

	smile_buf_init(&out, SMILE_LABEL_OUTPUT_MAX);
	assert_int_equal(smile_buf_puts(&out, "prefix"), SMILE_OK);
	got = smile_label_render(r, rec, &out, &e);
	if (got != err || strcmp(e.field, field) != 0)
		fail_msg("%s: got %s at '%s' (%s), want %s at '%s'", smile_label_format_name(fmt),
			 smile_errname(got), e.field, e.message, smile_errname(err), field);
	assert_int_equal(out.len, 6);
	assert_string_equal(out.data, "prefix");
	/* and the renderer still works */
	{
		struct smile_label_record *ok = fixture(0);
		render_ok(r, ok, &out);
		smile_label_record_free(ok);
	}
	smile_buf_release(&out);
	smile_label_record_free(rec);
	release(r);
}

static json_t *lines(const char *unit, int reps, int nlines)
{
	json_t *a = json_array();
	char *s = malloc(strlen(unit) * (size_t)reps + 1);
	s[0] = '\0';
	for (int i = 0; i < reps; i++)
		memcpy(s + strlen(unit) * (size_t)i, unit, strlen(unit) + 1);
	for (int i = 0; i < nlines; i++)
		json_array_append_new(a, json_string(s));
	free(s);
	return a;
}

static void text_that_does_not_fit_fails_the_record(void **state)
{
	json_t *o;
	(void)state;
	for (int fmt = 0; fmt < 3; fmt++) {
		o = fixture_json(0);
		json_object_set_new(json_object_get(o, "recipient"), "address",
				    lines("湖北省武汉市江汉区建设大道", 19, 4));
		expect_failure((enum smile_label_format)fmt, SMILE_LABEL_100X150, record_from(o),
			       SMILE_ERR_LABEL_NO_FIT, "recipient.address");
	}
	o = fixture_json(0);
	json_object_set_new(json_object_get(o, "sender"), "name",
			    json_string("W*WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW"));
	expect_failure(SMILE_LABEL_PNG, SMILE_LABEL_100X150, record_from(o), SMILE_ERR_LABEL_NO_FIT,
		       "sender.name");
	o = fixture_json(0);
	json_object_set_new(o, "sort_code", json_string("WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW"));
	expect_failure(SMILE_LABEL_PNG, SMILE_LABEL_76X130, record_from(o), SMILE_ERR_LABEL_NO_FIT,
		       "sort_code");
	o = fixture_json(0);
	{
		json_t *a = lines("W", 140, 1);
		json_object_set(o, "note", json_array_get(a, 0));
		json_decref(a);
	}
	expect_failure(SMILE_LABEL_ZPL, SMILE_LABEL_76X130, record_from(o), SMILE_ERR_LABEL_NO_FIT,
		       "note");
}

static void characters_without_a_font_fail_the_record(void **state)
{
	json_t *o, *a;
	(void)state;
	/* U+10000 LINEAR B SYLLABLE B008 A: no installed font has it */
	o = fixture_json(0);
	json_object_set_new(json_object_get(o, "recipient"), "name",
			    json_string("张*\xF0\x90\x80\x80"));
	expect_failure(SMILE_LABEL_PNG, SMILE_LABEL_100X150, record_from(o), SMILE_ERR_LABEL_GLYPH,
		       "recipient.name");
	o = fixture_json(0);
	a = json_pack("[s,s]", "湖北省 武汉市", "建设大道 \xF0\x90\x80\x80 ****");
	json_object_set_new(json_object_get(o, "sender"), "address", a);
	expect_failure(SMILE_LABEL_PDF, SMILE_LABEL_100X150, record_from(o), SMILE_ERR_LABEL_GLYPH,
		       "sender.address[1]");
	o = fixture_json(0);
	json_object_set_new(o, "merchant", json_string("Store \xF0\x90\x80\x80"));
	expect_failure(SMILE_LABEL_ZPL, SMILE_LABEL_76X130, record_from(o), SMILE_ERR_LABEL_GLYPH,
		       "merchant");
}

static void codes_that_do_not_fit_fail_the_record(void **state)
{
	json_t *o;
	(void)state;
	o = fixture_json(0);
	json_object_set_new(o, "waybill", json_string("ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF"));
	expect_failure(SMILE_LABEL_PNG, SMILE_LABEL_76X130, record_from(o), SMILE_ERR_LABEL_CODE,
		       "waybill");
	/* the longest token (128 characters, QR version 6) fits every label */
	for (size_t i = 0; i < N_PAGE_SIZES; i++) {
		char tok[129];
		struct smile_label_renderer *r =
			renderer(SMILE_LABEL_PNG, page_sizes[i].dpi, page_sizes[i].size);
		struct smile_buf out;
		struct smile_label_record *rec;
		memcpy(tok, "SW1:", 4);
		for (int k = 4; k < 128; k++)
			tok[k] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"[k % 45];
		tok[128] = '\0';
		o = fixture_json(1);
		json_object_set_new(o, "token", json_string(tok));
		rec = record_from(o);
		smile_buf_init(&out, SMILE_LABEL_OUTPUT_MAX);
		render_ok(r, rec, &out);
		smile_buf_release(&out);
		smile_label_record_free(rec);
		release(r);
	}
}

static void zpl_has_native_codes_and_exact_graphics(void **state)
{
	(void)state;
	for (int fx = 0; fx < 3; fx++) {
		struct smile_label_record *rec = fixture(fx);
		for (size_t i = 0; i < N_PAGE_SIZES; i++) {
			struct smile_label_renderer *z =
				renderer(SMILE_LABEL_ZPL, page_sizes[i].dpi, page_sizes[i].size);
			struct smile_label_renderer *p =
				renderer(SMILE_LABEL_PNG, page_sizes[i].dpi, page_sizes[i].size);
			json_t *lay = layout_of(p, rec);
			json_t *qr = json_object_get(lay, "qr"), *bc = json_object_get(lay, "barcode");
			struct box qq = box_of(json_object_get(qr, "quiet")), qs = box_of(qr);
			struct box bq = box_of(json_object_get(bc, "quiet")), bs = box_of(bc);
			struct smile_buf zo, po;
			struct zpl_info zi;
			struct png_info pi;
			char want[160];

			smile_buf_init(&zo, SMILE_LABEL_OUTPUT_MAX);
			smile_buf_init(&po, SMILE_LABEL_OUTPUT_MAX);
			render_ok(z, rec, &zo);
			render_ok(p, rec, &po);
			zpl_read(zo.data, zo.len, &zi);
			assert_int_equal(zi.pw, page_sizes[i].w);
			assert_int_equal(zi.ll, page_sizes[i].h);
			assert_true(zi.ci28);
			assert_true(zi.graphics >= 10);
			assert_true(zi.boxes >= 10);
			assert_string_equal(zi.bc_data, smile_label_record_waybill(rec));
			assert_int_equal(zi.by_module, json_integer_value(json_object_get(bc, "module")));
			assert_int_equal(zi.bc_x, bs.x);
			assert_int_equal(zi.bc_y, bs.y);
			snprintf(want, sizeof(want), "MM,A%s", smile_label_record_token(rec));
			assert_string_equal(zi.bq_data, want);
			assert_int_equal(zi.bq_mag, json_integer_value(json_object_get(qr, "module")));
			assert_int_equal(zi.bq_x, qs.x);
			assert_int_equal(zi.bq_y, qs.y - 10); /* Zebra draws ^BQ 10 dots low */
			/* the graphics and boxes redraw the PNG exactly, codes aside */
			png_read((const unsigned char *)po.data, po.len, &pi);
			for (int y = 0; y < pi.bm.h; y++)
				for (int x = 0; x < pi.bm.w; x++) {
					struct box px = {x, y, 1, 1};
					if (box_inside(px, qq) || box_inside(px, bq))
						continue;
					if (bm_at(&pi.bm, x, y) != bm_at(&zi.bm, x, y))
						fail_msg("%s@%d fixture %d: ZPL and PNG differ at %d,%d",
							 page_sizes[i].name, page_sizes[i].dpi, fx, x, y);
				}
			bitmap_free(&pi.bm);
			bitmap_free(&zi.bm);
			smile_buf_release(&zo);
			smile_buf_release(&po);
			json_decref(lay);
			release(z);
			release(p);
		}
		smile_label_record_free(rec);
	}
	assert_int_equal(crc16_ref("123456789", 9), 0x31C3); /* CRC-16/XMODEM check value */
}

struct sink {
	struct smile_buf b;
	int fail_after; /* fail the nth write (0: never) */
	int writes;
};

static enum smile_err sink_write(void *arg, const unsigned char *d, size_t n)
{
	struct sink *s = arg;
	if (s->fail_after && ++s->writes >= s->fail_after)
		return SMILE_ERR_IO;
	return smile_buf_append(&s->b, d, n);
}

static int count(const char *hay, size_t n, const char *needle)
{
	int c = 0;
	size_t nl = strlen(needle);
	for (size_t i = 0; i + nl <= n; i++)
		if (memcmp(hay + i, needle, nl) == 0)
			c++;
	return c;
}

static void pdf_has_true_size_and_a_page_per_label(void **state)
{
	struct smile_label_record *recs[3] = {fixture(0), fixture(1), fixture(2)}, *bad;
	struct smile_label_renderer *r = renderer(SMILE_LABEL_PDF, 203, SMILE_LABEL_100X150);
	struct smile_error e = {0};
	struct smile_buf one;
	struct sink s = {0};
	json_t *o;
	(void)state;

	smile_buf_init(&one, SMILE_LABEL_OUTPUT_MAX);
	render_ok(r, recs[0], &one);
	assert_memory_equal(one.data, "%PDF-", 5);
	assert_non_null(strstr(one.data + one.len - 7, "%%EOF"));
	assert_int_equal(count(one.data, one.len, "/Type /Page\n") +
				 count(one.data, one.len, "/Type /Page "),
			 1);
	/* 100 x 150 mm = 283.46 x 425.20 pt */
	assert_true(count(one.data, one.len, "/MediaBox [ 0 0 283.46") == 1);
	assert_true(count(one.data, one.len, "425.19") == 1 || count(one.data, one.len, "425.2") == 1);

	/* a batch: three labels, a bad record in the middle skipped */
	o = fixture_json(0);
	json_object_set_new(json_object_get(o, "recipient"), "name",
			    json_string("张*\xF0\x90\x80\x80"));
	bad = record_from(o);
	smile_buf_init(&s.b, 64 * 1024 * 1024);
	assert_int_equal(smile_label_batch_begin(r, sink_write, &s, &e), SMILE_OK);
	assert_int_equal(smile_label_render(r, recs[0], &one, &e), SMILE_ERR_INVALID);
	assert_int_equal(smile_label_batch_add(r, recs[0], &e), SMILE_OK);
	assert_int_equal(smile_label_batch_add(r, bad, &e), SMILE_ERR_LABEL_GLYPH);
	assert_int_equal(smile_label_batch_add(r, recs[1], &e), SMILE_OK);
	assert_int_equal(smile_label_batch_add(r, recs[2], &e), SMILE_OK);
	assert_int_equal(smile_label_batch_end(r, &e), SMILE_OK);
	assert_int_equal(smile_label_batch_count(r), 3);
	assert_memory_equal(s.b.data, "%PDF-", 5);
	assert_int_equal(count(s.b.data, s.b.len, "/Count 3"), 1);
	assert_int_equal(count(s.b.data, s.b.len, "/MediaBox [ 0 0 283.46"), 3);
	/* fonts are shared: the whole batch is far smaller than 3 single files */
	assert_true(s.b.len < 2 * one.len);

	/* an empty batch writes nothing; a failing sink breaks the batch */
	smile_buf_reset(&s.b);
	assert_int_equal(smile_label_batch_begin(r, sink_write, &s, &e), SMILE_OK);
	assert_int_equal(smile_label_batch_end(r, &e), SMILE_OK);
	assert_int_equal(s.b.len, 0);
	assert_int_equal(smile_label_batch_end(r, &e), SMILE_ERR_INVALID);
	s.fail_after = 1;
	assert_int_equal(smile_label_batch_begin(r, sink_write, &s, &e), SMILE_OK);
	for (int i = 0; i < 40 && smile_label_batch_add(r, recs[i % 3], &e) == SMILE_OK; i++)
		;
	assert_int_not_equal(smile_label_batch_end(r, &e), SMILE_OK);
	smile_buf_release(&s.b);

	/* the renderer is fine afterwards, and PNG has no batch */
	smile_buf_reset(&one);
	render_ok(r, recs[1], &one);
	{
		struct smile_label_renderer *p = renderer(SMILE_LABEL_PNG, 203, SMILE_LABEL_100X150);
		assert_int_equal(smile_label_batch_begin(p, sink_write, &s, &e), SMILE_ERR_UNSUPPORTED);
		release(p);
	}
	/* 76 x 130 mm = 215.43 x 368.50 pt */
	{
		struct smile_label_renderer *small = renderer(SMILE_LABEL_PDF, 300, SMILE_LABEL_76X130);
		smile_buf_reset(&one);
		render_ok(small, recs[2], &one);
		assert_int_equal(count(one.data, one.len, "/MediaBox [ 0 0 215.43"), 1);
		release(small);
	}
	smile_label_record_free(bad);
	for (int i = 0; i < 3; i++)
		smile_label_record_free(recs[i]);
	smile_buf_release(&one);
	release(r);
}

static void zpl_batch_is_the_labels_in_order(void **state)
{
	struct smile_label_record *recs[3] = {fixture(2), fixture(0), fixture(1)};
	struct smile_label_renderer *r = renderer(SMILE_LABEL_ZPL, 300, SMILE_LABEL_100X180);
	struct smile_error e = {0};
	struct smile_buf each;
	struct sink s = {0};
	(void)state;
	smile_buf_init(&each, SMILE_LABEL_OUTPUT_MAX);
	smile_buf_init(&s.b, SMILE_LABEL_OUTPUT_MAX);
	for (int i = 0; i < 3; i++)
		render_ok(r, recs[i], &each);
	assert_int_equal(smile_label_batch_begin(r, sink_write, &s, &e), SMILE_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(smile_label_batch_add(r, recs[i], &e), SMILE_OK);
	assert_int_equal(smile_label_batch_end(r, &e), SMILE_OK);
	assert_int_equal(s.b.len, each.len);
	assert_memory_equal(s.b.data, each.data, each.len);
	assert_int_equal(count(s.b.data, s.b.len, "^XA"), 3);
	assert_int_equal(count(s.b.data, s.b.len, "^XZ"), 3);
	assert_true(strstr(s.b.data, smile_label_record_waybill(recs[0])) <
		    strstr(s.b.data, smile_label_record_waybill(recs[1])));
	for (int i = 0; i < 3; i++)
		smile_label_record_free(recs[i]);
	smile_buf_release(&each);
	smile_buf_release(&s.b);
	release(r);
}

/* One renderer per thread, run at the same time, same bytes as alone. */
struct job {
	enum smile_label_format fmt;
	struct smile_label_record **recs;
	struct smile_buf out;
	int failed;
};

static void *thread_render(void *arg)
{
	struct job *j = arg;
	struct smile_label_renderer *r = NULL;
	struct smile_error e = {0};
	if (smile_label_renderer_new(j->fmt, 203, SMILE_LABEL_100X150, &r, &e)) {
		j->failed = 1;
		return NULL;
	}
	for (int round = 0; round < 4; round++)
		for (int i = 0; i < 3; i++)
			if (smile_label_render(r, j->recs[i], &j->out, &e))
				j->failed = 1;
	smile_label_renderer_free(r);
	return NULL;
}

static void renderers_run_in_parallel_threads(void **state)
{
	struct smile_label_record *recs[3] = {fixture(0), fixture(1), fixture(2)};
	(void)state;
	for (int fmt = 0; fmt < 3; fmt++) { /* every format is byte-deterministic */
		struct job jobs[3];
		pthread_t th[3];
		for (int t = 0; t < 3; t++) {
			jobs[t].fmt = (enum smile_label_format)fmt;
			jobs[t].recs = recs;
			jobs[t].failed = 0;
			smile_buf_init(&jobs[t].out, 64 * 1024 * 1024);
		}
		thread_render(&jobs[0]); /* reference, alone */
		for (int t = 1; t < 3; t++)
			assert_int_equal(pthread_create(&th[t], NULL, thread_render, &jobs[t]), 0);
		for (int t = 1; t < 3; t++)
			pthread_join(th[t], NULL);
		for (int t = 0; t < 3; t++) {
			assert_false(jobs[t].failed);
			assert_int_equal(jobs[t].out.len, jobs[0].out.len);
			assert_memory_equal(jobs[t].out.data, jobs[0].out.data, jobs[0].out.len);
		}
		for (int t = 0; t < 3; t++)
			smile_buf_release(&jobs[t].out);
	}
	for (int i = 0; i < 3; i++)
		smile_label_record_free(recs[i]);
}

/* Samples cover what the gateway will send: all render in every format. */
static void sample_records_render_everywhere(void **state)
{
	struct smile_label_renderer *r[3];
	struct smile_buf in, out;
	(void)state;
	for (int f = 0; f < 3; f++)
		r[f] = renderer((enum smile_label_format)f, 203, SMILE_LABEL_76X130);
	smile_buf_init(&in, SMILE_LABEL_RECORD_MAX);
	smile_buf_init(&out, SMILE_LABEL_OUTPUT_MAX);
	for (uint64_t i = 0; i < 60; i++) {
		struct smile_label_record *rec = NULL;
		struct smile_error e = {0};
		smile_buf_reset(&in);
		assert_int_equal(smile_label_sample(3, i, &in), SMILE_OK);
		assert_int_equal(smile_label_record_parse(in.data, in.len, &rec, &e), SMILE_OK);
		for (int f = 0; f < 3; f++) {
			smile_buf_reset(&out);
			render_ok(r[f], rec, &out);
		}
		smile_label_record_free(rec);
	}
	for (int f = 0; f < 3; f++)
		release(r[f]);
	smile_buf_release(&in);
	smile_buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(renderer_arguments_are_checked),
		cmocka_unit_test(png_is_one_bit_with_resolution),
		cmocka_unit_test(codes_are_whole_dots_with_quiet_zones),
		cmocka_unit_test(text_that_does_not_fit_fails_the_record),
		cmocka_unit_test(characters_without_a_font_fail_the_record),
		cmocka_unit_test(codes_that_do_not_fit_fail_the_record),
		cmocka_unit_test(zpl_has_native_codes_and_exact_graphics),
		cmocka_unit_test(pdf_has_true_size_and_a_page_per_label),
		cmocka_unit_test(zpl_batch_is_the_labels_in_order),
		cmocka_unit_test(renderers_run_in_parallel_threads),
		cmocka_unit_test(sample_records_render_everywhere),
	};
	return cmocka_run_group_tests(tests, NULL, teardown);
}
