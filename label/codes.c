/* SPDX-License-Identifier: Apache-2.0 */
/*
 * codes.c - the two symbols on a label as module matrices: the QR code of the
 * token (libqrencode) and the Code128 of the waybill (zint).
 *
 * Both libraries are used only to encode; drawing is ours, so every module
 * becomes a whole number of printer dots with no anti-aliasing, and the ZPL
 * path can hand the same data to the printer's own ^BQ/^BC. The QR input is
 * appended explicitly in alphanumeric mode (the token is validated to that
 * character set), at ECC level M.
 */
#include "label_internal.h"

#include <qrencode.h>
#include <string.h>
#include <zint.h>

/* Alphanumeric characters a QR symbol holds at ECC level M, versions 1-10
 * (ISO/IEC 18004:2015, table 7). */
static const int an_capacity_m[] = {20, 38, 61, 90, 122, 154, 178, 221, 262, 311};

int label_qr_modules(size_t len)
{
	for (size_t v = 0; v < sizeof(an_capacity_m) / sizeof(an_capacity_m[0]); v++)
		if (len <= (size_t)an_capacity_m[v])
			return 17 + 4 * (int)(v + 1);
	return 0;
}

enum smile_err label_qr_encode(struct label_qr *q, const char *token, struct smile_error *e)
{
	QRinput *in;
	QRcode *code;
	enum smile_err err = SMILE_OK;

	in = QRinput_new2(0, QR_ECLEVEL_M);
	if (in == NULL)
		return smile_error_set(e, SMILE_ERR_NOMEM, "token", NULL);
	if (QRinput_append(in, QR_MODE_AN, (int)strlen(token),
			   (const unsigned char *)token) != 0) {
		QRinput_free(in);
		return smile_error_set(e, SMILE_ERR_LABEL_CODE, "token",
				       "cannot be encoded in QR alphanumeric mode");
	}
	code = QRcode_encodeInput(in);
	QRinput_free(in);
	if (code == NULL)
		return smile_error_set(e, SMILE_ERR_LABEL_CODE, "token",
				       "too long for a QR code");
	if (code->width > LABEL_QR_MODULES_MAX) {
		err = smile_error_set(e, SMILE_ERR_LABEL_CODE, "token",
				      "needs %d QR modules, at most %d", code->width,
				      LABEL_QR_MODULES_MAX);
	} else {
		q->n = code->width;
		for (int i = 0; i < code->width * code->width; i++)
			q->m[i] = code->data[i] & 1;
	}
	QRcode_free(code);
	return err;
}

/* zint 2.10+ packs encoded_data one bit per module, LSB first. */
static int zint_module(const struct zint_symbol *z, int x)
{
	return (z->encoded_data[0][x >> 3] >> (x & 7)) & 1;
}

enum smile_err label_bars_encode(struct zint_symbol *z, struct label_bars *b,
				 const char *waybill, struct smile_error *e)
{
	int rc;

	ZBarcode_Clear(z);
	z->symbology = BARCODE_CODE128;
	z->input_mode = DATA_MODE;
	z->show_hrt = 0;
	rc = ZBarcode_Encode(z, (const unsigned char *)waybill, (int)strlen(waybill));
	if (rc >= ZINT_ERROR)
		return smile_error_set(e, SMILE_ERR_LABEL_CODE, "waybill",
				       "cannot be encoded as Code128 (zint %d)", rc);
	if (z->rows != 1 || z->width < 24 || z->width > LABEL_BARS_MAX)
		return smile_error_set(e, SMILE_ERR_LABEL_CODE, "waybill",
				       "Code128 of %d modules is out of range", z->width);
	/* Every Code128 start character begins bar-bar-space-bar-space (11010):
	 * if it does not, this zint packs its modules differently. */
	if (!(zint_module(z, 0) && zint_module(z, 1) && !zint_module(z, 2) &&
	      zint_module(z, 3) && !zint_module(z, 4)))
		return smile_error_set(e, SMILE_ERR_LABEL_RENDER, "waybill",
				       "unexpected zint module layout");
	b->n = z->width;
	for (int x = 0; x < z->width; x++)
		b->m[x] = (unsigned char)zint_module(z, x);
	return SMILE_OK;
}
