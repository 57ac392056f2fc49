/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lines.h - turn a scanner's byte stream into whole codes.
 *
 * Scanners end a code with CR, LF or CR LF depending on their setup; all three
 * end exactly one code, even when a CR LF pair is split across two reads.
 * Empty codes are skipped. A code longer than BRIDGE_CODE_MAX is reported as
 * too long (never truncated into something that looks valid), and the rest of
 * it up to the terminator is discarded. Caller-owned struct, no heap.
 */
#ifndef BRIDGE_LINES_H
#define BRIDGE_LINES_H

#include <stddef.h>

#include "smile/proto.h"

/* The longest code we accept: a token is at most SMILE_PROTO_TOKEN_MAX. */
#define BRIDGE_CODE_MAX SMILE_PROTO_TOKEN_MAX

enum bridge_code_status {
	BRIDGE_CODE_OK = 0,       /* code[0..len) is a complete code */
	BRIDGE_CODE_TOO_LONG = 1, /* a code over BRIDGE_CODE_MAX was dropped; len 0 */
	BRIDGE_CODE_BAD_KEY = 2   /* the code had a key with no character; len 0 */
};

/* Called once per terminated code. `code` is valid only during the call and
 * is not NUL-terminated. */
typedef void (*bridge_code_fn)(void *ctx, const char *code, size_t len,
			       enum bridge_code_status status);

struct bridge_lines {
	char buf[BRIDGE_CODE_MAX];
	size_t len;
	int overflow; /* the current code went over BRIDGE_CODE_MAX */
	int bad;      /* the current code had an unmapped key */
	int after_cr; /* the last byte was CR: a following LF ends nothing */
};

/* An empty assembler. */
void bridge_lines_init(struct bridge_lines *l);

/* Feed n bytes; fn is called for every code they complete. */
void bridge_lines_feed(struct bridge_lines *l, const char *p, size_t n, bridge_code_fn fn,
		       void *ctx);

/* Mark the current code as containing a key that has no character (evdev). */
void bridge_lines_poison(struct bridge_lines *l);

/* End of input: report a pending unterminated code (if any) as if it ended. */
void bridge_lines_flush(struct bridge_lines *l, bridge_code_fn fn, void *ctx);

/* Drop a pending partial code and wipe the buffer. */
void bridge_lines_reset(struct bridge_lines *l);

#endif
