/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keymap.c - US keyboard layout for keyboard-wedge scanners.
 *
 * One table indexed by Linux key code gives the plain and shifted character;
 * the only state is which modifiers are down and whether Caps Lock is on
 * (it flips letters only, as on a real keyboard).
 */
#include "keymap.h"

#include <string.h>

struct keych {
	char plain, shifted;
};

static const struct keych table[KEY_KPSLASH + 1] = {
	[KEY_1] = {'1', '!'}, [KEY_2] = {'2', '@'}, [KEY_3] = {'3', '#'},
	[KEY_4] = {'4', '$'}, [KEY_5] = {'5', '%'}, [KEY_6] = {'6', '^'},
	[KEY_7] = {'7', '&'}, [KEY_8] = {'8', '*'}, [KEY_9] = {'9', '('},
	[KEY_0] = {'0', ')'}, [KEY_MINUS] = {'-', '_'}, [KEY_EQUAL] = {'=', '+'},
	[KEY_Q] = {'q', 'Q'}, [KEY_W] = {'w', 'W'}, [KEY_E] = {'e', 'E'},
	[KEY_R] = {'r', 'R'}, [KEY_T] = {'t', 'T'}, [KEY_Y] = {'y', 'Y'},
	[KEY_U] = {'u', 'U'}, [KEY_I] = {'i', 'I'}, [KEY_O] = {'o', 'O'},
	[KEY_P] = {'p', 'P'}, [KEY_LEFTBRACE] = {'[', '{'}, [KEY_RIGHTBRACE] = {']', '}'},
	[KEY_A] = {'a', 'A'}, [KEY_S] = {'s', 'S'}, [KEY_D] = {'d', 'D'},
	[KEY_F] = {'f', 'F'}, [KEY_G] = {'g', 'G'}, [KEY_H] = {'h', 'H'},
	[KEY_J] = {'j', 'J'}, [KEY_K] = {'k', 'K'}, [KEY_L] = {'l', 'L'},
	[KEY_SEMICOLON] = {';', ':'}, [KEY_APOSTROPHE] = {'\'', '"'}, [KEY_GRAVE] = {'`', '~'},
	[KEY_BACKSLASH] = {'\\', '|'}, [KEY_Z] = {'z', 'Z'}, [KEY_X] = {'x', 'X'},
	[KEY_C] = {'c', 'C'}, [KEY_V] = {'v', 'V'}, [KEY_B] = {'b', 'B'},
	[KEY_N] = {'n', 'N'}, [KEY_M] = {'m', 'M'}, [KEY_COMMA] = {',', '<'},
	[KEY_DOT] = {'.', '>'}, [KEY_SLASH] = {'/', '?'}, [KEY_SPACE] = {' ', ' '},
	/* keypad, Num Lock on: shift does not change these */
	[KEY_KPASTERISK] = {'*', '*'}, [KEY_KP7] = {'7', '7'}, [KEY_KP8] = {'8', '8'},
	[KEY_KP9] = {'9', '9'}, [KEY_KPMINUS] = {'-', '-'}, [KEY_KP4] = {'4', '4'},
	[KEY_KP5] = {'5', '5'}, [KEY_KP6] = {'6', '6'}, [KEY_KPPLUS] = {'+', '+'},
	[KEY_KP1] = {'1', '1'}, [KEY_KP2] = {'2', '2'}, [KEY_KP3] = {'3', '3'},
	[KEY_KP0] = {'0', '0'}, [KEY_KPDOT] = {'.', '.'}, [KEY_KPSLASH] = {'/', '/'},
};

void bridge_keymap_init(struct bridge_keymap *k)
{
	memset(k, 0, sizeof(*k));
}

enum bridge_key_result bridge_keymap_feed(struct bridge_keymap *k, const struct input_event *ev,
					  char *out)
{
	int down;

	if (ev->type != EV_KEY)
		return BRIDGE_KEY_NONE;
	down = ev->value != 0;
	switch (ev->code) {
	case KEY_LEFTSHIFT:
		k->lshift = (unsigned char)down;
		return BRIDGE_KEY_NONE;
	case KEY_RIGHTSHIFT:
		k->rshift = (unsigned char)down;
		return BRIDGE_KEY_NONE;
	case KEY_LEFTCTRL:
	case KEY_RIGHTCTRL:
		k->ctrl = (unsigned char)down;
		return BRIDGE_KEY_NONE;
	case KEY_LEFTALT:
	case KEY_RIGHTALT:
		k->alt = (unsigned char)down;
		return BRIDGE_KEY_NONE;
	case KEY_CAPSLOCK:
		if (ev->value == 1)
			k->caps ^= 1;
		return BRIDGE_KEY_NONE;
	case KEY_NUMLOCK:
	case KEY_LEFTMETA:
	case KEY_RIGHTMETA:
		return BRIDGE_KEY_NONE;
	default:
		break;
	}
	if (ev->value != 1) /* release or auto-repeat */
		return BRIDGE_KEY_NONE;
	if (ev->code == KEY_ENTER || ev->code == KEY_KPENTER)
		return BRIDGE_KEY_ENTER;
	if (ev->code >= sizeof(table) / sizeof(table[0]) || table[ev->code].plain == 0 ||
	    k->ctrl || k->alt)
		return BRIDGE_KEY_UNMAPPED;
	{
		const struct keych *c = &table[ev->code];
		int shift = k->lshift || k->rshift;
		char ch = shift ? c->shifted : c->plain;
		if (k->caps && c->plain >= 'a' && c->plain <= 'z')
			ch = shift ? c->plain : c->shifted;
		*out = ch;
	}
	return BRIDGE_KEY_CHAR;
}

void bridge_keymap_decode(struct bridge_keymap *k, struct bridge_lines *l,
			  const struct input_event *ev, size_t n, bridge_code_fn fn, void *ctx)
{
	for (size_t i = 0; i < n; i++) {
		char ch;
		if (ev[i].type == EV_SYN && ev[i].code == SYN_DROPPED) {
			bridge_lines_poison(l);
			continue;
		}
		switch (bridge_keymap_feed(k, &ev[i], &ch)) {
		case BRIDGE_KEY_CHAR:
			bridge_lines_feed(l, &ch, 1, fn, ctx);
			break;
		case BRIDGE_KEY_ENTER:
			bridge_lines_feed(l, "\n", 1, fn, ctx);
			break;
		case BRIDGE_KEY_UNMAPPED:
			bridge_lines_poison(l);
			break;
		case BRIDGE_KEY_NONE:
			break;
		}
	}
}
