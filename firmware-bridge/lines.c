/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lines.c - byte stream to codes, for serial scanners and standard input.
 *
 * The one idea: remember whether the previous byte was CR, so the LF of a
 * CR LF pair is swallowed wherever the read boundary fell; any CR or LF
 * otherwise ends the current code.
 */
#include "lines.h"
#include "../common/smile_assert.h"

#include <string.h>

#include <sodium.h>

void bridge_lines_init(struct bridge_lines *l)
{
	memset(l, 0, sizeof(*l));
}

void bridge_lines_reset(struct bridge_lines *l)
{
	sodium_memzero(l, sizeof(*l));
}

static void end_code(struct bridge_lines *l, bridge_code_fn fn, void *ctx)
{
	if (l->overflow)
		fn(ctx, "", 0, BRIDGE_CODE_TOO_LONG);
	else if (l->bad)
		fn(ctx, "", 0, BRIDGE_CODE_BAD_KEY);
	else if (l->len > 0) {
		SMILE_ASSERT(l->len <= sizeof(l->buf));
		fn(ctx, l->buf, l->len, BRIDGE_CODE_OK);
	}
	sodium_memzero(l->buf, sizeof(l->buf));
	l->len = 0;
	l->overflow = 0;
	l->bad = 0;
}

void bridge_lines_feed(struct bridge_lines *l, const char *p, size_t n, bridge_code_fn fn,
		       void *ctx)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '\n' && l->after_cr) {
			l->after_cr = 0; /* second half of CR LF */
			continue;
		}
		l->after_cr = c == '\r';
		if (c == '\r' || c == '\n') {
			end_code(l, fn, ctx);
			continue;
		}
		if (l->overflow)
			continue;
		if (l->len == sizeof(l->buf)) {
			l->overflow = 1;
			continue;
		}
		l->buf[l->len++] = c;
	}
}

void bridge_lines_poison(struct bridge_lines *l)
{
	l->bad = 1;
	l->after_cr = 0;
}

void bridge_lines_flush(struct bridge_lines *l, bridge_code_fn fn, void *ctx)
{
	end_code(l, fn, ctx);
	l->after_cr = 0;
}
