/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the label unit tests: fixtures, a strict PNG reader that
 * checks every chunk CRC and undoes the filters, and a ZPL reader that turns
 * ^GFA Z64 graphics and ^GB boxes back into a bitmap. Independent of the
 * library's own encoders on purpose (zlib inflate, our own CRC-16). */
#ifndef LABEL_TEST_UTIL_H
#define LABEL_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "smile/buf.h"
#include "smile/error.h"
#include "smile/label.h"

/*
 * cairo 1.16.0 (Debian 12) leaks ~768 bytes per PDF document that embeds a
 * CID-keyed CFF font (Noto Sans CJK), in its CFF subsetter during
 * cairo_surface_finish(); a minimal cairo + pango program shows it. libcairo
 * has no frame pointers, so LeakSanitizer only sees the module. Until
 * tests/lsan.supp carries this line, the label tests add it themselves.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libcairo.so\n";
}

struct bitmap {
	int w, h;
	unsigned char *ink; /* w*h bytes, 1 = ink */
};

static inline void bitmap_free(struct bitmap *b)
{
	free(b->ink);
	b->ink = NULL;
}

static inline int bm_at(const struct bitmap *b, int x, int y)
{
	return b->ink[(size_t)y * (size_t)b->w + (size_t)x];
}

/* tests/data/label/NAME under $SMILE_ROOT (tests/run sets it) or ".". */
static inline void data_path(char *out, size_t n, const char *name)
{
	const char *root = getenv("SMILE_ROOT");
	snprintf(out, n, "%s/tests/data/label/%s", root && *root ? root : ".", name);
}

/* Line `index` (0-based) of tests/data/label/records.jsonl, parsed. */
static inline struct smile_label_record *fixture(int index)
{
	char path[512], line[SMILE_LABEL_RECORD_MAX + 2];
	struct smile_label_record *rec = NULL;
	struct smile_error e = {0};
	FILE *f;
	int i = 0;

	data_path(path, sizeof(path), "records.jsonl");
	f = fopen(path, "r");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	while (fgets(line, sizeof(line), f)) {
		if (i++ == index) {
			size_t n = strcspn(line, "\n");
			if (smile_label_record_parse(line, n, &rec, &e))
				fail_msg("fixture %d: %s: %s", index, e.field, e.message);
			break;
		}
	}
	fclose(f);
	assert_non_null(rec);
	return rec;
}

static inline struct smile_label_record *record_from(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);
	struct smile_label_record *rec = NULL;
	struct smile_error e = {0};

	if (smile_label_record_parse(s, strlen(s), &rec, &e))
		fail_msg("record: %s: %s", e.field, e.message);
	free(s);
	json_decref(o);
	return rec;
}

static inline uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

struct png_info {
	uint32_t width, height, ppm_x, ppm_y;
	int depth, colour, interlace, phys_unit, chunks_ok;
	struct bitmap bm;
};

/* Parse a whole PNG: signature, chunk CRCs, IHDR, pHYs, IDAT (inflate and
 * unfilter, 1-bit greyscale only), IEND. Fails the test on any defect. */
static inline void png_read(const unsigned char *d, size_t n, struct png_info *pi)
{
	static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
	unsigned char *idat = NULL, *raw;
	size_t idat_len = 0, at = 8, rowbytes;
	uLongf rawlen;
	int seen_end = 0;

	memset(pi, 0, sizeof(*pi));
	assert_true(n > 8 && memcmp(d, sig, 8) == 0);
	while (at + 12 <= n) {
		uint32_t len = be32(d + at);
		const unsigned char *type = d + at + 4, *data = d + at + 8;
		assert_true(at + 12 + len <= n);
		assert_int_equal(crc32(crc32(0, NULL, 0), type, len + 4), be32(data + len));
		if (memcmp(type, "IHDR", 4) == 0) {
			pi->width = be32(data);
			pi->height = be32(data + 4);
			pi->depth = data[8];
			pi->colour = data[9];
			pi->interlace = data[12];
		} else if (memcmp(type, "pHYs", 4) == 0) {
			pi->ppm_x = be32(data);
			pi->ppm_y = be32(data + 4);
			pi->phys_unit = data[8];
		} else if (memcmp(type, "IDAT", 4) == 0) {
			idat = realloc(idat, idat_len + len);
			memcpy(idat + idat_len, data, len);
			idat_len += len;
		} else if (memcmp(type, "IEND", 4) == 0) {
			seen_end = 1;
		}
		at += 12 + len;
	}
	assert_true(seen_end && at == n);
	assert_int_equal(pi->depth, 1);
	assert_int_equal(pi->colour, 0);
	rowbytes = (pi->width + 7) / 8;
	rawlen = (uLongf)((rowbytes + 1) * pi->height);
	raw = malloc(rawlen);
	assert_int_equal(uncompress(raw, &rawlen, idat, (uLong)idat_len), Z_OK);
	assert_int_equal(rawlen, (rowbytes + 1) * pi->height);
	/* unfilter (filters 0-4; bytes per pixel is 1 for bit depths below 8) */
	for (uint32_t y = 0; y < pi->height; y++) {
		unsigned char *row = raw + y * (rowbytes + 1);
		unsigned char *prev = y ? raw + (y - 1) * (rowbytes + 1) + 1 : NULL;
		unsigned char *c = row + 1;
		for (size_t i = 0; i < rowbytes; i++) {
			int a = i ? c[i - 1] : 0, b = prev ? prev[i] : 0, cc = prev && i ? prev[i - 1] : 0;
			switch (row[0]) {
			case 0:
				break;
			case 1:
				c[i] = (unsigned char)(c[i] + a);
				break;
			case 2:
				c[i] = (unsigned char)(c[i] + b);
				break;
			case 3:
				c[i] = (unsigned char)(c[i] + (a + b) / 2);
				break;
			case 4: {
				int p = a + b - cc, pa = abs(p - a), pb = abs(p - b), pc = abs(p - cc);
				c[i] = (unsigned char)(c[i] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : cc));
				break;
			}
			default:
				fail_msg("bad PNG filter %d", row[0]);
			}
		}
	}
	pi->bm.w = (int)pi->width;
	pi->bm.h = (int)pi->height;
	pi->bm.ink = malloc((size_t)pi->width * pi->height);
	for (uint32_t y = 0; y < pi->height; y++) {
		const unsigned char *c = raw + y * (rowbytes + 1) + 1;
		for (uint32_t x = 0; x < pi->width; x++)
			pi->bm.ink[(size_t)y * pi->width + x] = !((c[x / 8] >> (7 - x % 8)) & 1);
	}
	pi->chunks_ok = 1;
	free(raw);
	free(idat);
}

/* CRC-16/XMODEM (poly 0x1021, init 0), bitwise: independent of zpl.c's table. */
static inline unsigned crc16_ref(const char *s, size_t n)
{
	unsigned crc = 0;
	for (size_t i = 0; i < n; i++) {
		crc ^= (unsigned)(unsigned char)s[i] << 8;
		for (int b = 0; b < 8; b++)
			crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xFFFF : (crc << 1) & 0xFFFF;
	}
	return crc;
}

static inline int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static inline size_t b64_decode(const char *s, size_t n, unsigned char *out)
{
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n && s[i] != '='; i++) {
		int v = b64val(s[i]);
		assert_true(v >= 0);
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	return o;
}

struct zpl_info {
	int pw, ll, ci28, graphics, boxes;
	char bc_data[64];
	int by_module, bc_x, bc_y;
	char bq_data[160];
	int bq_mag, bq_x, bq_y;
	struct bitmap bm; /* ^GF graphics and ^GB boxes, drawn */
};

static inline int zpl_int(const char **p)
{
	const char *s = *p;
	int v = 0, neg = 0, digits = 0;
	if (*s == '-') {
		neg = 1;
		s++;
	}
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (*s++ - '0');
		digits++;
	}
	assert_true(digits > 0);
	*p = s;
	return neg ? -v : v;
}

/* Parse one ^XA..^XZ label; verify every ^GF (CRC, base64, inflate, sizes). */
static inline void zpl_read(const char *z, size_t n, struct zpl_info *zi)
{
	const char *p = z, *end = z + n;
	int fo_x = 0, fo_y = 0;

	memset(zi, 0, sizeof(*zi));
	assert_true(n > 8 && strncmp(z, "^XA", 3) == 0);
	assert_true(strncmp(end - 4, "^XZ\n", 4) == 0);
	while ((p = memchr(p, '^', (size_t)(end - p))) != NULL) {
		p++;
		if (strncmp(p, "PW", 2) == 0) {
			p += 2;
			zi->pw = zpl_int(&p);
		} else if (strncmp(p, "LL", 2) == 0) {
			p += 2;
			zi->ll = zpl_int(&p);
			zi->bm.w = zi->pw;
			zi->bm.h = zi->ll;
			zi->bm.ink = calloc((size_t)zi->pw * (size_t)zi->ll, 1);
		} else if (strncmp(p, "CI28", 4) == 0) {
			zi->ci28 = 1;
		} else if (strncmp(p, "FO", 2) == 0) {
			p += 2;
			fo_x = zpl_int(&p);
			assert_true(*p++ == ',');
			fo_y = zpl_int(&p);
		} else if (strncmp(p, "GB", 2) == 0) {
			int w, h, t;
			p += 2;
			w = zpl_int(&p);
			p++;
			h = zpl_int(&p);
			p++;
			t = zpl_int(&p);
			assert_int_equal(t, w < h ? w : h); /* our boxes are filled */
			for (int y = fo_y; y < fo_y + h; y++)
				for (int x = fo_x; x < fo_x + w; x++)
					zi->bm.ink[(size_t)y * (size_t)zi->pw + (size_t)x] = 1;
			zi->boxes++;
		} else if (strncmp(p, "GFA,", 4) == 0) {
			int b, c, d;
			const char *data, *colon;
			unsigned char *bin, *rows;
			size_t binlen;
			uLongf rowlen;
			unsigned crc;
			p += 4;
			b = zpl_int(&p);
			assert_true(*p++ == ',');
			c = zpl_int(&p);
			assert_true(*p++ == ',');
			d = zpl_int(&p);
			assert_true(*p++ == ',');
			assert_int_equal(b, c);
			assert_true(d > 0 && b % d == 0);
			assert_true(strncmp(p, ":Z64:", 5) == 0);
			data = p + 5;
			colon = strchr(data, ':');
			assert_non_null(colon);
			assert_true(sscanf(colon + 1, "%4x", &crc) == 1);
			assert_true(strncmp(colon + 5, "^FS", 3) == 0);
			assert_int_equal(crc, crc16_ref(data, (size_t)(colon - data)));
			bin = malloc((size_t)(colon - data));
			binlen = b64_decode(data, (size_t)(colon - data), bin);
			rows = malloc((size_t)b);
			rowlen = (uLongf)b;
			assert_int_equal(uncompress(rows, &rowlen, bin, (uLong)binlen), Z_OK);
			assert_int_equal(rowlen, (uLongf)b);
			for (int y = 0; y < b / d; y++)
				for (int x = 0; x < d * 8; x++)
					if ((rows[y * d + x / 8] >> (7 - x % 8)) & 1) {
						assert_true(fo_x + x < zi->pw && fo_y + y < zi->ll);
						zi->bm.ink[(size_t)(fo_y + y) * (size_t)zi->pw +
							   (size_t)(fo_x + x)] = 1;
					}
			free(bin);
			free(rows);
			zi->graphics++;
			p = colon + 5;
		} else if (strncmp(p, "BY", 2) == 0) {
			p += 2;
			zi->by_module = zpl_int(&p);
		} else if (strncmp(p, "BC", 2) == 0) {
			const char *fd = strstr(p, "^FD"), *fs;
			zi->bc_x = fo_x;
			zi->bc_y = fo_y;
			assert_non_null(fd);
			fs = strstr(fd, "^FS");
			snprintf(zi->bc_data, sizeof(zi->bc_data), "%.*s", (int)(fs - fd - 3), fd + 3);
		} else if (strncmp(p, "BQN,2,", 6) == 0) {
			const char *fd, *fs;
			p += 6;
			zi->bq_mag = zpl_int(&p);
			zi->bq_x = fo_x;
			zi->bq_y = fo_y;
			fd = strstr(p, "^FD");
			fs = strstr(fd, "^FS");
			snprintf(zi->bq_data, sizeof(zi->bq_data), "%.*s", (int)(fs - fd - 3), fd + 3);
		}
	}
}

/* Layout JSON of a record through a renderer. */
static inline json_t *layout_of(struct smile_label_renderer *r, const struct smile_label_record *rec)
{
	struct smile_buf b;
	struct smile_error e = {0};
	json_error_t je;
	json_t *o;

	smile_buf_init(&b, 1 << 20);
	if (smile_label_layout_json(r, rec, &b, &e))
		fail_msg("layout: %s: %s", e.field, e.message);
	o = json_loads(b.data, 0, &je);
	if (o == NULL)
		fail_msg("layout JSON does not parse: %s", je.text);
	smile_buf_release(&b);
	return o;
}

struct box {
	int x, y, w, h;
};

static inline struct box box_of(const json_t *o)
{
	struct box b;
	b.x = (int)json_integer_value(json_object_get(o, "x"));
	b.y = (int)json_integer_value(json_object_get(o, "y"));
	b.w = (int)json_integer_value(json_object_get(o, "w"));
	b.h = (int)json_integer_value(json_object_get(o, "h"));
	return b;
}

static inline int box_inside(struct box in, struct box out)
{
	return in.x >= out.x && in.y >= out.y && in.x + in.w <= out.x + out.w &&
	       in.y + in.h <= out.y + out.h;
}

static inline int box_overlap(struct box a, struct box b)
{
	return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

static const struct {
	const char *name;
	enum smile_label_size size;
	int dpi, w, h;
} page_sizes[] __attribute__((unused)) = {
	{"100x150", SMILE_LABEL_100X150, 203, 799, 1199},
	{"100x150", SMILE_LABEL_100X150, 300, 1181, 1772},
	{"100x180", SMILE_LABEL_100X180, 203, 799, 1439},
	{"100x180", SMILE_LABEL_100X180, 300, 1181, 2126},
	{"76x130", SMILE_LABEL_76X130, 203, 607, 1039},
	{"76x130", SMILE_LABEL_76X130, 300, 898, 1535},
};
#define N_PAGE_SIZES (sizeof(page_sizes) / sizeof(page_sizes[0]))

#endif
