/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for firmware-bridge/keymap.c and the evdev path of input.c's
 * decoding: synthetic struct input_event records, as a USB keyboard-wedge
 * scanner sends them, decode to the code it read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../../firmware-bridge/keymap.h"
#include "../../../firmware-bridge/lines.h"

struct rec {
	struct input_event ev[1024];
	size_t n;
};

static void ev(struct rec *r, int type, int code, int value)
{
	assert_true(r->n < 1024);
	memset(&r->ev[r->n], 0, sizeof(r->ev[r->n]));
	r->ev[r->n].type = (unsigned short)type;
	r->ev[r->n].code = (unsigned short)code;
	r->ev[r->n].value = value;
	r->n++;
}

/* A key stroke as scanners send it: MSC_SCAN, press, SYN, release, SYN. */
static void stroke(struct rec *r, int code)
{
	ev(r, EV_MSC, MSC_SCAN, 0x70000 + code);
	ev(r, EV_KEY, code, 1);
	ev(r, EV_SYN, SYN_REPORT, 0);
	ev(r, EV_KEY, code, 0);
	ev(r, EV_SYN, SYN_REPORT, 0);
}

static void shifted(struct rec *r, int code)
{
	ev(r, EV_KEY, KEY_LEFTSHIFT, 1);
	stroke(r, code);
	ev(r, EV_KEY, KEY_LEFTSHIFT, 0);
}

/* Type a string of [A-Z0-9 $%*+-./:] the way a US-layout scanner does. */
static void type(struct rec *r, const char *s)
{
	static const int digit[10] = {KEY_0, KEY_1, KEY_2, KEY_3, KEY_4,
				      KEY_5, KEY_6, KEY_7, KEY_8, KEY_9};
	static const int letter[26] = {KEY_A, KEY_B, KEY_C, KEY_D, KEY_E, KEY_F, KEY_G,
				       KEY_H, KEY_I, KEY_J, KEY_K, KEY_L, KEY_M, KEY_N,
				       KEY_O, KEY_P, KEY_Q, KEY_R, KEY_S, KEY_T, KEY_U,
				       KEY_V, KEY_W, KEY_X, KEY_Y, KEY_Z};
	for (; *s; s++) {
		char c = *s;
		if (c >= 'A' && c <= 'Z')
			shifted(r, letter[c - 'A']);
		else if (c >= 'a' && c <= 'z')
			stroke(r, letter[c - 'a']);
		else if (c >= '0' && c <= '9')
			stroke(r, digit[c - '0']);
		else if (c == ' ')
			stroke(r, KEY_SPACE);
		else if (c == '$')
			shifted(r, KEY_4);
		else if (c == '%')
			shifted(r, KEY_5);
		else if (c == '*')
			shifted(r, KEY_8);
		else if (c == '+')
			shifted(r, KEY_EQUAL);
		else if (c == '-')
			stroke(r, KEY_MINUS);
		else if (c == '.')
			stroke(r, KEY_DOT);
		else if (c == '/')
			stroke(r, KEY_SLASH);
		else if (c == ':')
			shifted(r, KEY_SEMICOLON);
		else if (c == '_')
			shifted(r, KEY_MINUS);
		else
			fail_msg("no key for %c", c);
	}
}

struct got {
	char codes[8][BRIDGE_CODE_MAX + 1];
	enum bridge_code_status st[8];
	int n;
};

static void collect(void *ctx, const char *code, size_t len, enum bridge_code_status st)
{
	struct got *g = ctx;
	assert_true(g->n < 8);
	memcpy(g->codes[g->n], code, len);
	g->codes[g->n][len] = '\0';
	g->st[g->n++] = st;
}

/* What input.c does with the events it reads from the device. */
static void decode(const struct rec *r, struct got *g)
{
	struct bridge_keymap k;
	struct bridge_lines l;
	memset(g, 0, sizeof(*g));
	bridge_keymap_init(&k);
	bridge_lines_init(&l);
	bridge_keymap_decode(&k, &l, r->ev, r->n, collect, g);
}

static void token_with_shifted_symbols(void **state)
{
	static struct rec r;
	struct got g;
	const char *tok = "SW1:NCK6YVK9HK*T3U1-OIO%3M2XSN$IZ+QNQ8AEO.71IT9N4";
	(void)state;
	r.n = 0;
	type(&r, tok);
	stroke(&r, KEY_ENTER);
	type(&r, "SMILE:MODE:OUT_FOR_DELIVERY");
	stroke(&r, KEY_KPENTER);
	decode(&r, &g);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.codes[0], tok);
	assert_string_equal(g.codes[1], "SMILE:MODE:OUT_FOR_DELIVERY");
}

static void right_shift_caps_lock_keypad(void **state)
{
	static struct rec r;
	struct got g;
	(void)state;
	r.n = 0;
	ev(&r, EV_KEY, KEY_RIGHTSHIFT, 1);
	stroke(&r, KEY_A);
	stroke(&r, KEY_1); /* ! */
	ev(&r, EV_KEY, KEY_RIGHTSHIFT, 0);
	stroke(&r, KEY_CAPSLOCK);
	stroke(&r, KEY_B);   /* B with Caps Lock */
	shifted(&r, KEY_C);  /* c: shift undoes Caps Lock on letters */
	stroke(&r, KEY_2);   /* digits ignore Caps Lock */
	stroke(&r, KEY_CAPSLOCK);
	stroke(&r, KEY_KP7);
	stroke(&r, KEY_KPASTERISK);
	stroke(&r, KEY_KPSLASH);
	stroke(&r, KEY_ENTER);
	decode(&r, &g);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.codes[0], "A!Bc27*/");
}

static void repeats_releases_and_unmapped_keys(void **state)
{
	static struct rec r;
	struct got g;
	(void)state;
	r.n = 0;
	stroke(&r, KEY_X);
	ev(&r, EV_KEY, KEY_X, 2); /* auto-repeat: ignored */
	stroke(&r, KEY_ENTER);
	stroke(&r, KEY_Y);
	stroke(&r, KEY_F5); /* no character: the code is unusable */
	stroke(&r, KEY_Z);
	stroke(&r, KEY_ENTER);
	ev(&r, EV_KEY, KEY_LEFTCTRL, 1);
	stroke(&r, KEY_C); /* Ctrl-C is not a 'c' */
	ev(&r, EV_KEY, KEY_LEFTCTRL, 0);
	stroke(&r, KEY_ENTER);
	stroke(&r, KEY_Q);
	stroke(&r, KEY_ENTER);
	stroke(&r, KEY_W);
	ev(&r, EV_SYN, SYN_DROPPED, 0); /* the kernel lost events mid-code */
	stroke(&r, KEY_ENTER);
	decode(&r, &g);
	assert_int_equal(g.n, 5);
	assert_int_equal(g.st[4], BRIDGE_CODE_BAD_KEY);
	assert_string_equal(g.codes[0], "x");
	assert_int_equal(g.st[1], BRIDGE_CODE_BAD_KEY);
	assert_int_equal(g.st[2], BRIDGE_CODE_BAD_KEY);
	assert_int_equal(g.st[3], BRIDGE_CODE_OK);
	assert_string_equal(g.codes[3], "q");
}

static void single_events(void **state)
{
	struct bridge_keymap k;
	struct input_event e;
	char ch = 0;
	(void)state;
	bridge_keymap_init(&k);
	memset(&e, 0, sizeof(e));
	e.type = EV_REL;
	assert_int_equal(bridge_keymap_feed(&k, &e, &ch), BRIDGE_KEY_NONE);
	e.type = EV_KEY;
	e.code = KEY_SEMICOLON;
	e.value = 1;
	assert_int_equal(bridge_keymap_feed(&k, &e, &ch), BRIDGE_KEY_CHAR);
	assert_int_equal(ch, ';');
	e.code = KEY_MAX;
	assert_int_equal(bridge_keymap_feed(&k, &e, &ch), BRIDGE_KEY_UNMAPPED);
	e.code = KEY_KPENTER;
	assert_int_equal(bridge_keymap_feed(&k, &e, &ch), BRIDGE_KEY_ENTER);
	e.value = 0;
	assert_int_equal(bridge_keymap_feed(&k, &e, &ch), BRIDGE_KEY_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(token_with_shifted_symbols),
		cmocka_unit_test(right_shift_caps_lock_keypad),
		cmocka_unit_test(repeats_releases_and_unmapped_keys),
		cmocka_unit_test(single_events),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
