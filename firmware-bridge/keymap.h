/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keymap.h - decode a keyboard-wedge scanner's key events (Linux evdev).
 *
 * A USB barcode scanner in keyboard mode "types" each code as key presses and
 * ends it with Enter. This turns struct input_event records into characters
 * with a US keyboard layout: shift (either side) and Caps Lock as the scanner
 * itself sends them (the bridge grabs the device, so the host's own Caps Lock
 * state never applies), keypad digits and operators with Num Lock on.
 * Only presses count (value 1); releases end modifiers; auto-repeat (value 2)
 * is ignored. Caller-owned struct, no heap.
 */
#ifndef BRIDGE_KEYMAP_H
#define BRIDGE_KEYMAP_H

#include <linux/input.h>

#include "lines.h"

enum bridge_key_result {
	BRIDGE_KEY_NONE = 0,    /* nothing to report (a release, a modifier, EV_SYN) */
	BRIDGE_KEY_CHAR = 1,    /* *out holds one printable ASCII character */
	BRIDGE_KEY_ENTER = 2,   /* Enter or keypad Enter: the code is complete */
	BRIDGE_KEY_UNMAPPED = 3 /* a key press with no character here (or with
				 * Ctrl/Alt held): the current code is unusable */
};

struct bridge_keymap {
	unsigned char lshift, rshift, ctrl, alt, caps;
};

/* Start with no modifier held and Caps Lock off. */
void bridge_keymap_init(struct bridge_keymap *k);

/* Decode one event. Never fails; unknown event types give BRIDGE_KEY_NONE. */
enum bridge_key_result bridge_keymap_feed(struct bridge_keymap *k, const struct input_event *ev,
					  char *out);

/*
 * Decode n events read from an evdev device into codes: characters go to the
 * line assembler l, Enter ends the code (fn is called), a key without a
 * character or a SYN_DROPPED (the kernel lost events) makes the current code
 * unusable (reported as BRIDGE_CODE_BAD_KEY when it ends).
 */
void bridge_keymap_decode(struct bridge_keymap *k, struct bridge_lines *l,
			  const struct input_event *ev, size_t n, bridge_code_fn fn, void *ctx);

#endif
