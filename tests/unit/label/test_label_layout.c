/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the layout: golden block positions per size and dpi (with
 * a tolerance, and without text extents, so a font update does not break
 * them), invariants that must hold for any record (everything inside the
 * page and its block, no overlaps, codes clear of text), the same layout in
 * every format, and the run-length deflate coder round-tripping through
 * zlib.
 *
 * Regenerate the goldens after an intended layout change with
 *   SMILE_UPDATE_GOLDEN=1 build/<dir>/tests/label/test_label_layout
 * and review the diff of tests/data/label/layout-*.json. */
#include "label_test_util.h"

#include "../../../label/label_internal.h"

#define TOL 2 /* dots */

static struct smile_label_renderer *renderer(enum smile_label_format f, int dpi,
					     enum smile_label_size s)
{
	struct smile_label_renderer *r = NULL;
	struct smile_error e = {0};
	if (smile_label_renderer_new(f, dpi, s, &r, &e))
		fail_msg("renderer: %s: %s", e.field, e.message);
	return r;
}

static void near_box(const char *what, const json_t *got, const json_t *want)
{
	struct box g = box_of(got), w = box_of(want);
	if (abs(g.x - w.x) > TOL || abs(g.y - w.y) > TOL || abs(g.w - w.w) > TOL ||
	    abs(g.h - w.h) > TOL)
		fail_msg("%s: got %d,%d %dx%d, golden %d,%d %dx%d", what, g.x, g.y, g.w, g.h, w.x,
			 w.y, w.w, w.h);
}

static void compare_golden(const char *name, json_t *got, json_t *want)
{
	const char *key;
	json_t *v;
	size_t i;
	char what[128];

	assert_int_equal(json_integer_value(json_object_get(got, "width")),
			 json_integer_value(json_object_get(want, "width")));
	assert_int_equal(json_integer_value(json_object_get(got, "height")),
			 json_integer_value(json_object_get(want, "height")));
	json_object_foreach(json_object_get(want, "blocks"), key, v) {
		json_t *g = json_object_get(json_object_get(got, "blocks"), key);
		snprintf(what, sizeof(what), "%s block %s", name, key);
		if (g == NULL)
			fail_msg("%s missing", what);
		near_box(what, g, v);
	}
	assert_int_equal(json_object_size(json_object_get(got, "blocks")), 7);
	for (int c = 0; c < 2; c++) {
		const char *code = c ? "qr" : "barcode";
		json_t *g = json_object_get(got, code), *w = json_object_get(want, code);
		snprintf(what, sizeof(what), "%s %s", name, code);
		near_box(what, g, w);
		near_box(what, json_object_get(g, "quiet"), json_object_get(w, "quiet"));
		assert_int_equal(json_integer_value(json_object_get(g, "module")),
				 json_integer_value(json_object_get(w, "module")));
		assert_int_equal(json_integer_value(json_object_get(g, "modules")),
				 json_integer_value(json_object_get(w, "modules")));
	}
	assert_int_equal(json_array_size(json_object_get(got, "rules")),
			 json_array_size(json_object_get(want, "rules")));
	json_array_foreach(json_object_get(want, "rules"), i, v) {
		snprintf(what, sizeof(what), "%s rule %zu", name, i);
		near_box(what, json_array_get(json_object_get(got, "rules"), i), v);
	}
	/* texts: the same fields in the same blocks (positions depend on fonts) */
	assert_int_equal(json_array_size(json_object_get(got, "texts")),
			 json_array_size(json_object_get(want, "texts")));
	json_array_foreach(json_object_get(want, "texts"), i, v) {
		json_t *g = json_array_get(json_object_get(got, "texts"), i);
		assert_string_equal(json_string_value(json_object_get(g, "field")),
				    json_string_value(json_object_get(v, "field")));
		assert_string_equal(json_string_value(json_object_get(g, "block")),
				    json_string_value(json_object_get(v, "block")));
	}
}

static void layout_matches_the_goldens(void **state)
{
	struct smile_label_record *rec = fixture(0);
	int update = getenv("SMILE_UPDATE_GOLDEN") != NULL;
	(void)state;
	for (size_t i = 0; i < N_PAGE_SIZES; i++) {
		struct smile_label_renderer *r =
			renderer(SMILE_LABEL_PNG, page_sizes[i].dpi, page_sizes[i].size);
		json_t *got = layout_of(r, rec), *want;
		char path[512], name[64];
		json_error_t je;

		snprintf(name, sizeof(name), "layout-%s-%d.json", page_sizes[i].name,
			 page_sizes[i].dpi);
		data_path(path, sizeof(path), name);
		if (update) {
			assert_int_equal(json_dump_file(got, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER),
					 0);
		} else {
			want = json_load_file(path, 0, &je);
			if (want == NULL)
				fail_msg("%s: %s (SMILE_UPDATE_GOLDEN=1 writes it)", path, je.text);
			compare_golden(name, got, want);
			json_decref(want);
		}
		json_decref(got);
		smile_label_renderer_free(r);
	}
	smile_label_record_free(rec);
}

/* What must hold for any record at any size. */
static void check_invariants(const char *what, json_t *lay)
{
	struct box page = {0, 0, (int)json_integer_value(json_object_get(lay, "width")),
			   (int)json_integer_value(json_object_get(lay, "height"))};
	json_t *blocks = json_object_get(lay, "blocks"), *texts = json_object_get(lay, "texts");
	json_t *qr = json_object_get(lay, "qr"), *bc = json_object_get(lay, "barcode");
	struct box qq = box_of(json_object_get(qr, "quiet")), bq = box_of(json_object_get(bc, "quiet"));
	const char *k1, *k2;
	json_t *v1, *v2, *t;
	size_t i, j;

	json_object_foreach(blocks, k1, v1) {
		if (!box_inside(box_of(v1), page))
			fail_msg("%s: block %s outside the page", what, k1);
		json_object_foreach(blocks, k2, v2)
			if (strcmp(k1, k2) < 0 && box_overlap(box_of(v1), box_of(v2)))
				fail_msg("%s: blocks %s and %s overlap", what, k1, k2);
	}
	if (!box_inside(qq, box_of(json_object_get(blocks, "qr"))))
		fail_msg("%s: QR quiet zone outside the QR block", what);
	if (!box_inside(bq, box_of(json_object_get(blocks, "barcode"))))
		fail_msg("%s: barcode quiet zone outside its block", what);
	json_array_foreach(texts, i, t) {
		struct box tb = box_of(t), ink = box_of(json_object_get(t, "ink"));
		const char *blk = json_string_value(json_object_get(t, "block"));
		const char *f = json_string_value(json_object_get(t, "field"));
		if (!box_inside(tb, box_of(json_object_get(blocks, blk))))
			fail_msg("%s: text %s outside block %s", what, f, blk);
		if (ink.w > 0 && !box_inside(ink, box_of(json_object_get(blocks, blk))))
			fail_msg("%s: ink of text %s outside block %s", what, f, blk);
		if (box_overlap(tb, qq) || box_overlap(tb, bq))
			fail_msg("%s: text %s in a code's quiet zone", what, f);
		json_array_foreach(texts, j, v2)
			if (j > i && box_overlap(tb, box_of(v2)))
				fail_msg("%s: texts %s and %s overlap", what, f,
					 json_string_value(json_object_get(v2, "field")));
	}
}

static void layout_invariants_hold_for_any_record(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_PAGE_SIZES; i++) {
		struct smile_label_renderer *r =
			renderer(SMILE_LABEL_PNG, page_sizes[i].dpi, page_sizes[i].size);
		struct smile_buf in;
		char what[96];
		smile_buf_init(&in, SMILE_LABEL_RECORD_MAX);
		for (int fx = 0; fx < 3; fx++) {
			struct smile_label_record *rec = fixture(fx);
			json_t *lay = layout_of(r, rec);
			snprintf(what, sizeof(what), "%s@%d fixture %d", page_sizes[i].name,
				 page_sizes[i].dpi, fx);
			check_invariants(what, lay);
			json_decref(lay);
			smile_label_record_free(rec);
		}
		for (uint64_t k = 0; k < 40; k++) {
			struct smile_label_record *rec = NULL;
			struct smile_error e = {0};
			json_t *lay;
			smile_buf_reset(&in);
			assert_int_equal(smile_label_sample(11, k, &in), SMILE_OK);
			assert_int_equal(smile_label_record_parse(in.data, in.len, &rec, &e), SMILE_OK);
			lay = layout_of(r, rec);
			snprintf(what, sizeof(what), "%s@%d sample %u", page_sizes[i].name,
				 page_sizes[i].dpi, (unsigned)k);
			check_invariants(what, lay);
			json_decref(lay);
			smile_label_record_free(rec);
		}
		smile_buf_release(&in);
		smile_label_renderer_free(r);
	}
}

/* PNG, PDF and ZPL put everything in the same place; ZPL's QR size comes
 * from the capacity table, not libqrencode, and must agree with it. */
static void every_format_has_the_same_layout(void **state)
{
	struct smile_label_renderer *r[3];
	struct smile_buf in, out[3];
	(void)state;
	for (int f = 0; f < 3; f++) {
		r[f] = renderer((enum smile_label_format)f, 300, SMILE_LABEL_100X150);
		smile_buf_init(&out[f], 1 << 20);
	}
	smile_buf_init(&in, SMILE_LABEL_RECORD_MAX);
	for (uint64_t k = 0; k < 120; k++) {
		struct smile_label_record *rec = NULL;
		struct smile_error e = {0};
		smile_buf_reset(&in);
		assert_int_equal(smile_label_sample(5, k, &in), SMILE_OK);
		assert_int_equal(smile_label_record_parse(in.data, in.len, &rec, &e), SMILE_OK);
		for (int f = 0; f < 3; f++) {
			smile_buf_reset(&out[f]);
			assert_int_equal(smile_label_layout_json(r[f], rec, &out[f], &e), SMILE_OK);
		}
		assert_string_equal(out[0].data, out[1].data);
		assert_string_equal(out[0].data, out[2].data);
		smile_label_record_free(rec);
	}
	/* every token length up to the cap: table and encoder agree */
	for (size_t len = 5; len <= 128; len++) {
		struct label_qr q;
		char tok[130] = "SW1:";
		struct smile_error e = {0};
		memset(tok + 4, 'Z', len - 4);
		tok[len] = '\0';
		assert_int_equal(label_qr_encode(&q, tok, &e), SMILE_OK);
		assert_int_equal(q.n, label_qr_modules(len));
	}
	for (int f = 0; f < 3; f++) {
		smile_label_renderer_free(r[f]);
		smile_buf_release(&out[f]);
	}
	smile_buf_release(&in);
}

static void deflate_round_trips(void **state)
{
	static unsigned char in[300000], back[300000];
	unsigned seed = 12345;
	(void)state;
	for (int kind = 0; kind < 8; kind++) {
		size_t n = kind == 0 ? 0 : kind == 1 ? 1 : kind == 7 ? sizeof(in) : 70000;
		struct smile_buf out;
		uLongf blen = sizeof(back);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			switch (kind) {
			case 2: in[i] = 0; break;                                   /* one long run */
			case 3: in[i] = (unsigned char)(seed >> 16); break;         /* noise */
			case 4: in[i] = (unsigned char)(i & 1 ? 0xAA : 0x55); break; /* no runs */
			case 5: in[i] = (unsigned char)((i / 300) & 1 ? 0xFF : (seed >> 20)); break;
			default: in[i] = (unsigned char)((seed >> 24) < 40 ? seed >> 16 : 0); break;
			}
		}
		smile_buf_init(&out, 1 << 20);
		assert_int_equal(label_deflate(in, n, &out, NULL), SMILE_OK);
		assert_int_equal(uncompress(back, &blen, (const unsigned char *)out.data, out.len), Z_OK);
		assert_int_equal(blen, n);
		assert_memory_equal(back, in, n);
		if (kind == 2)
			assert_true(out.len < n / 50); /* runs cost a few bits each */
		smile_buf_release(&out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(layout_matches_the_goldens),
		cmocka_unit_test(layout_invariants_hold_for_any_record),
		cmocka_unit_test(every_format_has_the_same_layout),
		cmocka_unit_test(deflate_round_trips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
