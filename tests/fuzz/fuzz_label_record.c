/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_label_record.c - libFuzzer target for the label record parser, the
 * only door for outside input into the label library.
 *
 * Any bytes must give either a record or a clean error with a known code, a
 * NUL-terminated field path of printable ASCII and a message that never
 * contains the input's text. A record that parses has passed the
 * fail-closed check, so it is also laid out (fitting text with Pango,
 * encoding both codes) to reach the code that consumes parsed values.
 *
 *   make fuzz && build/fuzz/fuzz_label_record -max_total_time=60    (or make fuzz-smoke)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smile/buf.h"
#include "smile/error.h"
#include "smile/label.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct smile_label_renderer *renderer;
static struct smile_buf out;

static void cleanup(void)
{
	smile_label_renderer_free(renderer);
	smile_buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smile_label_record *rec = NULL;
	struct smile_error e = {0};
	enum smile_err err;

	if (renderer == NULL) {
		if (smile_label_renderer_new(SMILE_LABEL_ZPL, 203, SMILE_LABEL_76X130, &renderer,
					     &e) != SMILE_OK)
			abort();
		smile_buf_init(&out, 1 << 20);
		atexit(cleanup);
	}
	err = smile_label_record_parse((const char *)data, size, &rec, &e);
	if ((err == SMILE_OK) != (rec != NULL))
		abort();
	if (err != SMILE_OK) {
		if (e.code != err || memchr(e.field, '\0', sizeof(e.field)) == NULL ||
		    memchr(e.message, '\0', sizeof(e.message)) == NULL)
			abort();
		for (const char *p = e.field; *p; p++)
			if (*p < 0x20 || *p > 0x7E)
				abort();
		/* a long enough piece of input inside the message means it echoed */
		if (size >= 12 &&
		    memmem(e.message, strlen(e.message), data + size / 2 - 6, 12) != NULL)
			abort();
		return 0;
	}
	/* a parsed record is privacy-checked: lay it out */
	smile_buf_reset(&out);
	err = smile_label_layout_json(renderer, rec, &out, &e);
	if (err != SMILE_OK && err != SMILE_ERR_LABEL_NO_FIT && err != SMILE_ERR_LABEL_GLYPH &&
	    err != SMILE_ERR_LABEL_CODE)
		abort();
	smile_label_record_free(rec);
	return 0;
}
