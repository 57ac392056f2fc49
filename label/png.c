/* SPDX-License-Identifier: Apache-2.0 */
/*
 * png.c - write the raster as a 1-bit greyscale PNG, with pHYs.
 *
 * cairo_surface_write_to_png() converts to 32-bit ARGB and deflates at the
 * default level: ~18 ms a label. Here the A8 raster is thresholded straight
 * into packed bits (8 pixels per multiply, see label_pack_bits), inverted
 * (PNG greyscale: 1 = white), and every row but the first gets PNG filter
 * type 2 ("Up", the difference to the row above): a label is mostly rows
 * that repeat - blank space, barcode bars, QR module rows - which then become
 * zero runs, which deflate.c's run-length coder turns into a few bits each
 * (zlib's RLE strategy on the same rows: half the bytes of unfiltered rows).
 * Chunks are written by hand (PNG spec, ISO/IEC 15948).
 */
#include "label_internal.h"

#include <stdint.h>
#include <string.h>

/* Gather bit 7 of each of 8 bytes into one byte, p[0] in the top bit: with
 * the bytes loaded big-endian (p[0] most significant), the multiply moves
 * byte k's bit 7 to bit 63 - k without carries (the bits are 7 apart). */
static inline unsigned char gather8(const unsigned char *p)
{
	uint64_t x;

	memcpy(&x, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	x &= 0x8080808080808080ull;
	return (unsigned char)((x * 0x0002040810204081ull) >> 56);
}

void label_pack_bits(const unsigned char *a8, size_t npix, unsigned char *out)
{
	size_t full = npix / 8, i;

	for (i = 0; i < full; i++)
		out[i] = gather8(a8 + 8 * i);
	if (npix % 8) {
		unsigned char b = 0;
		for (size_t k = 0; k < npix % 8; k++)
			if (a8[8 * full + k] & 0x80)
				b |= (unsigned char)(0x80 >> k);
		out[full] = b;
	}
}

/* PNG white is 1, our ink is 1: a first row is the inverse of the ink. */
static void invert(unsigned char *restrict d, const unsigned char *restrict ink, size_t n)
{
	for (size_t i = 0; i < n; i++)
		d[i] = (unsigned char)~ink[i];
}

/* Up filter of inverted rows: (~cur) - (~prev) = prev - cur (mod 256). */
static void filter_up(unsigned char *restrict d, const unsigned char *restrict prev,
		      const unsigned char *restrict cur, size_t n)
{
	for (size_t i = 0; i < n; i++)
		d[i] = (unsigned char)(prev[i] - cur[i]);
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* Append one chunk whose data is already at out->data + out->len + 8. */
static void chunk_close(struct smile_buf *out, const char type[4], size_t len)
{
	unsigned char *c = (unsigned char *)out->data + out->len;
	uLong crc;

	put32(c, (uint32_t)len);
	memcpy(c + 4, type, 4);
	crc = crc32(0L, c + 4, (uInt)(len + 4));
	put32(c + 8 + len, (uint32_t)crc);
	out->len += len + 12;
	out->data[out->len] = '\0';
}

static enum smile_err chunk(struct smile_buf *out, const char type[4], const void *data,
			    size_t len)
{
	enum smile_err err = smile_buf_reserve(out, len + 12);
	if (err)
		return err;
	memcpy(out->data + out->len + 8, data, len);
	chunk_close(out, type, len);
	return SMILE_OK;
}

enum smile_err label_png_encode(struct smile_label_renderer *r, struct smile_buf *out,
				struct smile_error *e)
{
	static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
	const struct label_page *p = &r->page;
	size_t start = out->len, rowbytes = ((size_t)p->width + 7) / 8;
	size_t rawlen = (rowbytes + 1) * (size_t)p->height, at;
	unsigned char ihdr[13], phys[9], *raw;
	const unsigned char *src;
	int stride;
	uint32_t ppm = (uint32_t)(p->dpi / 0.0254 + 0.5);
	enum smile_err err;

	cairo_surface_flush(r->raster);
	src = cairo_image_surface_get_data(r->raster);
	stride = cairo_image_surface_get_stride(r->raster);

	/* thresholded, inverted, "Up"-filtered scanlines; two spare rows after
	 * the image take turns holding this row's and the previous row's ink */
	smile_buf_reset(&r->scratch);
	err = smile_buf_reserve(&r->scratch, rawlen + 2 * rowbytes);
	if (err)
		return smile_error_set(e, err, NULL, "raster over the scratch cap");
	raw = (unsigned char *)r->scratch.data;
	for (int y = 0; y < p->height; y++) {
		unsigned char *d = raw + (size_t)y * (rowbytes + 1);
		unsigned char *cur = raw + rawlen + (size_t)(y & 1) * rowbytes;
		unsigned char *prev = raw + rawlen + (size_t)(~y & 1) * rowbytes;
		label_pack_bits(src + (size_t)y * (size_t)stride, (size_t)p->width, cur);
		d[0] = y ? 2 : 0; /* filter: Up, none for the first row */
		if (y)
			filter_up(d + 1, prev, cur, rowbytes);
		else
			invert(d + 1, cur, rowbytes);
	}
	r->scratch.len = rawlen;

	err = smile_buf_append(out, sig, sizeof(sig));
	if (err)
		goto fail;
	put32(ihdr, (uint32_t)p->width);
	put32(ihdr + 4, (uint32_t)p->height);
	ihdr[8] = 1;  /* bit depth */
	ihdr[9] = 0;  /* greyscale */
	ihdr[10] = 0; /* deflate */
	ihdr[11] = 0; /* adaptive filtering */
	ihdr[12] = 0; /* no interlace */
	err = chunk(out, "IHDR", ihdr, sizeof(ihdr));
	if (err)
		goto fail;
	put32(phys, ppm);
	put32(phys + 4, ppm);
	phys[8] = 1; /* unit: metre */
	err = chunk(out, "pHYs", phys, sizeof(phys));
	if (err)
		goto fail;

	/* IDAT: deflate straight into the chunk's data area */
	err = smile_buf_reserve(out, 8);
	if (err)
		goto fail;
	at = out->len;
	out->len += 8;
	err = label_deflate(raw, rawlen, out, e);
	if (err) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
		return err;
	}
	{
		size_t dlen = out->len - at - 8;
		err = smile_buf_reserve(out, 4);
		if (err)
			goto fail;
		out->len = at;
		chunk_close(out, "IDAT", dlen);
	}
	err = chunk(out, "IEND", "", 0);
	if (err)
		goto fail;
	return SMILE_OK;
fail:
	out->len = start;
	if (out->data)
		out->data[start] = '\0';
	return smile_error_set(e, err, NULL, "PNG output over the cap");
}
