/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mask.c - the masking policy: names, phone numbers and addresses as they may
 * be printed on a label (rules and examples: docs/masking.md).
 *
 * The one idea: decide what may be *shown*, never what to hide. Each function
 * validates its input into an array of code points, picks the few pieces
 * that the policy allows to be seen (a surname, an initial, an area code and
 * a last digit, the street), and writes those followed by a mask of fixed
 * width. Nothing else of the input reaches the output, so a rule can only err
 * towards hiding more; the phone masker then counts the digits it is about
 * to return and refuses (SMILE_ERR_INTERNAL) rather than show more than the
 * standard allows.
 *
 * What is a letter, a digit, a mark or an invisible character comes from the
 * tables generated from the Unicode Character Database (smile/unicode.h),
 * the same ones the label library's fail-closed check uses.
 *
 * Pure functions over caller buffers: no heap, no globals, thread-safe.
 */
#include "mask.h"

#include "smile/unicode.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Fixed-width masks: their length never depends on what they hide. */
#define NAME_MASK "**"
#define NAME_HIDDEN "***"
#define PHONE_MASK "*******"
#define ADDR_MASK "****"
#define MIDDLE_DOT "\xC2\xB7" /* U+00B7, the form a middle dot is printed in */

/* Largest text held as code points (address detail). */
#define TEXT_MAX_CP SMILE_MASK_ADDR_DETAIL_MAX
/* Bytes beyond which a text certainly exceeds its cap (4 bytes a code point):
 * measured with strnlen so hostile input is never scanned further. */
#define TEXT_MAX_BYTES (4 * TEXT_MAX_CP)

/* ------------------------------------------------------- character classes */

static int is_space_cp(uint32_t c)
{
	return c == 0x20 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
	       c == 0x202F || c == 0x205F || c == 0x3000;
}

#define ZWNJ 0x200C
#define ZWJ 0x200D

/* Control, bidi-override, invisible (format, Cf) and non-characters: nothing
 * a label may print, and the usual tools for making two strings look alike.
 * ZWJ and ZWNJ are allowed here, in addresses: Persian and Indic spelling
 * needs them, and the street is printed whole anyway. Names refuse them too
 * (text_load). */
static int is_forbidden_cp(uint32_t c)
{
	return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0xAD || c == 0x061C ||
	       c == 0x115F || c == 0x1160 || c == 0x180E || c == 0x200B || c == 0x200E ||
	       c == 0x200F || (c >= 0x2028 && c <= 0x202E) || (c >= 0x2060 && c <= 0x206F) ||
	       c == 0x3164 || c == 0xFEFF || c == 0xFFA0 || (c >= 0xFFF9 && c <= 0xFFFB) ||
	       (c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE ||
	       (c >= 0xE0000 && c <= 0xE007F) ||
	       (smile_unicode_is_format(c) && c != ZWNJ && c != ZWJ);
}

/* Marks (M*) belong to the code point before them: letters are counted, and
 * words told apart, by grapheme. */
static int is_mark_cp(uint32_t c) { return smile_unicode_is_mark(c); }

/* Most combining marks a shown initial keeps. Enough for every real letter
 * (Vietnamese ệ is e + two), and a bound on what an initial can carry: an
 * initial is one letter, not a place to hide data in a stack of marks. */
#define INITIAL_MARKS_MAX 2

/* Separators written between the parts of a transliterated name (买买提·艾力):
 * middle dot and the look-alikes people type for it. */
static int is_name_dot_cp(uint32_t c)
{
	return c == '.' || c == 0xB7 || c == 0x2022 || c == 0x2027 || c == 0x2219 ||
	       c == 0x22C5 || c == 0x30FB || c == 0xFF0E || c == 0xFF65;
}

/* A letter: Unicode L* (the generated table). Digits of any script, symbols
 * and emoji are not, so a name of Arabic-Indic digits has no letter. */
static int is_letter_cp(uint32_t c) { return smile_unicode_is_letter(c); }

/* CJK unified ideographs (all blocks and extensions) and compatibility ones. */
static int is_han_cp(uint32_t c)
{
	return (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||
	       (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x2FA1F) ||
	       (c >= 0x30000 && c <= 0x323AF) || c == 0x3007;
}

/* ---------------------------------------------------------- validated text */

/* A trimmed, validated input: its code points and where each starts in `s`. */
struct text {
	const char *s;
	size_t n;                   /* code points */
	uint32_t cp[TEXT_MAX_CP];
	uint16_t off[TEXT_MAX_CP + 1]; /* byte offset of cp[i]; off[n] = end */
};

/*
 * Decode and check `s` into t, dropping leading and trailing spaces.
 * Empty input gives t->n == 0 and SMILE_OK (callers decide if that is
 * allowed). A name (is_name) also refuses every format character (ZWJ,
 * ZWNJ) and variation selector. Errors: SMILE_ERR_UTF8,
 * SMILE_ERR_FIELD_VALUE (too long, forbidden character) with `field`.
 */
static enum smile_err text_load(struct text *t, const char *s, size_t max_cp, int is_name,
				const char *field, struct smile_error *e)
{
	size_t len = strnlen(s, TEXT_MAX_BYTES + 1), i = 0, start, end;

	t->n = 0;
	if (len > TEXT_MAX_BYTES)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, field,
				       "over %zu characters", max_cp);
	/* ASCII spaces around the value do not count against its cap */
	while (len > 0 && *s == ' ') {
		s++;
		len--;
	}
	while (len > 0 && s[len - 1] == ' ')
		len--;
	t->s = s;
	if (len > 4 * max_cp)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, field,
				       "over %zu characters", max_cp);
	while (i < len) {
		uint32_t c;
		size_t k = smile_unicode_utf8_decode(s + i, len - i, &c);

		if (k == 0)
			return smile_error_set(e, SMILE_ERR_UTF8, field,
					       "invalid UTF-8 at byte %zu", i + 1);
		/* names: no joiner or other format character either, and no
		 * variation selector, each invisible and able to carry data
		 * past the mask behind a shown initial */
		if (is_forbidden_cp(c) || (is_name && smile_unicode_is_format(c)))
			return smile_error_set(e, SMILE_ERR_FIELD_VALUE, field,
					       "character %zu is a control or invisible character",
					       t->n + 1);
		if (is_name && smile_unicode_is_variation_selector(c))
			return smile_error_set(e, SMILE_ERR_FIELD_VALUE, field,
					       "character %zu is a variation selector", t->n + 1);
		if (t->n == max_cp)
			return smile_error_set(e, SMILE_ERR_FIELD_VALUE, field,
					       "over %zu characters", max_cp);
		t->cp[t->n] = c;
		t->off[t->n] = (uint16_t)i;
		t->n++;
		i += k;
	}
	t->off[t->n] = (uint16_t)len;
	/* trim: shift the window, keeping offsets into the original string */
	start = 0;
	end = t->n;
	while (start < end && is_space_cp(t->cp[start]))
		start++;
	while (end > start && is_space_cp(t->cp[end - 1]))
		end--;
	if (start > 0 || end < t->n) {
		uint16_t endoff = t->off[end];

		memmove(t->cp, t->cp + start, (end - start) * sizeof(t->cp[0]));
		memmove(t->off, t->off + start, (end - start) * sizeof(t->off[0]));
		t->n = end - start;
		t->off[t->n] = endoff;
	}
	return SMILE_OK;
}

/* Index just past the grapheme (code point + its marks) starting at i. */
static size_t grapheme_end(const struct text *t, size_t i)
{
	for (i++; i < t->n && is_mark_cp(t->cp[i]); i++)
		;
	return i;
}

/* Index just past what an initial at i shows: the letter and the canonical
 * combining marks right after it (combining class not 0: diacritics, not
 * spacing vowel signs or enclosing marks), at most INITIAL_MARKS_MAX. The
 * rest of the grapheme is dropped: the initial is shown plainer, never with
 * more than a letter's worth. */
static size_t initial_end(const struct text *t, size_t i)
{
	size_t end = i + 1;

	while (end < t->n && end - i - 1 < INITIAL_MARKS_MAX &&
	       smile_unicode_is_combining(t->cp[end]))
		end++;
	return end;
}

/* ------------------------------------------------------------ output buffer */

struct out {
	char *p;
	size_t n, len;
	int overflow;
};

static void out_bytes(struct out *o, const char *s, size_t k)
{
	if (o->overflow || o->len + k >= o->n) {
		o->overflow = 1;
		return;
	}
	memcpy(o->p + o->len, s, k);
	o->len += k;
	o->p[o->len] = '\0';
}

static void out_str(struct out *o, const char *s) { out_bytes(o, s, strlen(s)); }

/* Copy code points [from, to) of t as their original bytes. */
static void out_span(struct out *o, const struct text *t, size_t from, size_t to)
{
	out_bytes(o, t->s + t->off[from], (size_t)(t->off[to] - t->off[from]));
}

static void out_init(struct out *o, char *p, size_t n)
{
	o->p = p;
	o->n = n;
	o->len = 0;
	o->overflow = 0;
	p[0] = '\0';
}

/* -------------------------------------------------------------- policy names */

static const char *const policy_names[] = {
	[SMILE_MASK_CN_GBT41833] = "cn-gbt41833",
	[SMILE_MASK_STRICT] = "strict",
};

static int policy_valid(enum smile_mask_policy p)
{
	return p == SMILE_MASK_CN_GBT41833 || p == SMILE_MASK_STRICT;
}

enum smile_err smile_mask_policy_parse(const char *name, enum smile_mask_policy *out)
{
	if (name == NULL || out == NULL)
		return SMILE_ERR_CONFIG;
	for (size_t i = 0; i < sizeof(policy_names) / sizeof(policy_names[0]); i++) {
		if (strcasecmp(name, policy_names[i]) == 0) {
			*out = (enum smile_mask_policy)i;
			return SMILE_OK;
		}
	}
	return SMILE_ERR_CONFIG;
}

const char *smile_mask_policy_name(enum smile_mask_policy p)
{
	return policy_valid(p) ? policy_names[p] : "unknown";
}

/* -------------------------------------------------------------------- names */

/*
 * Chinese compound surnames (复姓): the two-character surnames of the Hundred
 * Family Surnames (百家姓) and other common ones (独孤, 太史, 呼延 ...), the
 * double surnames usual in Taiwan and Hong Kong (张简, 范姜, 张廖), in
 * simplified and traditional forms. A name longer than its surname keeps
 * both characters on the label; when the prefix was really surname + first
 * given character, still at least one character stays hidden.
 */
static const char *const compound_surnames[] = {
	"万俟", "司马", "上官", "欧阳", "夏侯", "诸葛", "闻人", "东方", "赫连", "皇甫",
	"尉迟", "公羊", "澹台", "公冶", "宗政", "濮阳", "淳于", "单于", "太叔", "申屠",
	"公孙", "仲孙", "轩辕", "令狐", "钟离", "宇文", "长孙", "慕容", "鲜于", "闾丘",
	"司徒", "司空", "亓官", "司寇", "仉督", "子车", "颛孙", "端木", "巫马", "公西",
	"漆雕", "乐正", "壤驷", "公良", "拓跋", "夹谷", "宰父", "谷梁", "段干", "百里",
	"东郭", "南门", "呼延", "归海", "羊舌", "微生", "梁丘", "左丘", "东门", "西门",
	"伯赏", "南宫", "第五", "独孤", "太史", "公户", "公玉", "公仪", "公仲", "公上",
	"公门", "公山", "公坚", "公伯", "公祖", "公乘", "贯丘", "公皙", "南荣", "东里",
	"东宫", "仲长", "子书", "子桑", "即墨", "达奚", "褚师", "张简", "范姜", "张廖",
	/* traditional forms of those that differ */
	"萬俟", "司馬", "歐陽", "諸葛", "聞人", "東方", "赫連", "尉遲", "澹臺", "濮陽",
	"單于", "公孫", "仲孫", "軒轅", "鍾離", "鐘離", "長孫", "鮮於", "鮮于", "閭丘",
	"顓孫", "巫馬", "樂正", "壤駟", "夾谷", "穀梁", "東郭", "南門", "東門", "西門",
	"歸海", "伯賞", "南宮", "獨孤", "公戶", "貫丘", "東里", "東宮", "仲長", "子書",
	"達奚", "褚師", "張簡", "張廖",
};

/* Does the name start with a compound surname of exactly two code points? */
static int starts_with_compound_surname(const struct text *t, size_t g0, size_t g1)
{
	const char *p = t->s + t->off[g0];
	size_t k = (size_t)(t->off[g1 + 1] - t->off[g0]);

	/* both characters bare (no marks between them) and adjacent */
	if (g1 != g0 + 1)
		return 0;
	for (size_t i = 0; i < sizeof(compound_surnames) / sizeof(compound_surnames[0]); i++) {
		if (strlen(compound_surnames[i]) == k && memcmp(compound_surnames[i], p, k) == 0)
			return 1;
	}
	return 0;
}

/* Number of letter graphemes in code points [from, to). Words end at a space,
 * which is never a mark, so a grapheme never runs past `to`. */
static size_t count_letters(const struct text *t, size_t from, size_t to)
{
	size_t k = 0;

	for (size_t i = from; i < to; i = grapheme_end(t, i))
		if (is_letter_cp(t->cp[i]))
			k++;
	return k;
}

/* First letter grapheme in [from, to): its start, or `to` when none. */
static size_t first_letter(const struct text *t, size_t from, size_t to)
{
	for (size_t i = from; i < to; i = grapheme_end(t, i))
		if (is_letter_cp(t->cp[i]))
			return i;
	return to;
}

/* One shown word: its initial then "**", or "***" when the word has a single
 * letter (showing it would show the whole word). */
static void out_word(struct out *o, const struct text *t, size_t from, size_t to)
{
	size_t i = first_letter(t, from, to);

	if (i == to || count_letters(t, from, to) < 2) {
		out_str(o, NAME_HIDDEN);
		return;
	}
	out_span(o, t, i, initial_end(t, i));
	out_str(o, NAME_MASK);
}

/*
 * A middle dot must sit between two parts of a name, each holding a letter:
 * never first, last or doubled. Returns the number of dots; a misplaced one
 * sets *rc to SMILE_ERR_FIELD_VALUE.
 */
static size_t check_dots(const struct text *t, enum smile_err *rc, struct smile_error *e)
{
	size_t dots = 0;
	int letter = 0; /* a letter seen since the last dot */

	*rc = SMILE_OK;
	for (size_t i = 0; i < t->n; i++) {
		if (is_name_dot_cp(t->cp[i])) {
			if (!letter)
				break;
			dots++;
			letter = 0;
		} else if (is_letter_cp(t->cp[i])) {
			letter = 1;
		}
	}
	if (!letter)
		*rc = smile_error_set(e, SMILE_ERR_FIELD_VALUE, "name", "misplaced middle dot");
	return dots;
}

/* Chinese names: surname + "**"; middle-dot names: first char + "**·**". */
static void mask_han(struct out *o, const struct text *t, size_t dots)
{
	size_t g[3] = {0, 0, 0}, ng = 0;

	/* the first three letters (spaces, dots and punctuation skipped) */
	for (size_t i = 0; i < t->n && ng < 3; i = grapheme_end(t, i))
		if (is_letter_cp(t->cp[i]))
			g[ng++] = i;
	if (dots > 0) { /* two parts or more, so at least two letters */
		out_span(o, t, g[0], initial_end(t, g[0]));
		out_str(o, NAME_MASK MIDDLE_DOT NAME_MASK);
		return;
	}
	if (ng < 2) {
		out_str(o, NAME_HIDDEN);
		return;
	}
	/* a compound surname is shown only when a given name follows it */
	if (ng == 3 && starts_with_compound_surname(t, g[0], g[1]) &&
	    grapheme_end(t, g[1]) == g[1] + 1)
		out_span(o, t, g[0], g[1] + 1);
	else
		out_span(o, t, g[0], initial_end(t, g[0]));
	out_str(o, NAME_MASK);
}

/* Other scripts: initials of the first and the last word. */
static void mask_words(struct out *o, const struct text *t)
{
	size_t first_from = 0, first_to = 0, last_from = 0, last_to = 0, words = 0;

	for (size_t i = 0; i < t->n;) {
		size_t j;

		while (i < t->n && is_space_cp(t->cp[i]))
			i++;
		for (j = i; j < t->n && !is_space_cp(t->cp[j]); j++)
			;
		if (j > i && first_letter(t, i, j) < j) { /* words without letters are hidden */
			if (words++ == 0) {
				first_from = i;
				first_to = j;
			}
			last_from = i;
			last_to = j;
		}
		i = j;
	}
	out_word(o, t, first_from, first_to);
	if (words > 1) {
		out_str(o, " ");
		out_word(o, t, last_from, last_to);
	}
}

enum smile_err smile_mask_name(enum smile_mask_policy p, const char *name, char *out,
			       size_t n, struct smile_error *e)
{
	struct text t;
	struct out o;
	enum smile_err rc;
	size_t first, dots = 0;
	int han;

	if (out == NULL || n == 0)
		return smile_error_set(e, SMILE_ERR_INVALID, "name", "no output buffer");
	out_init(&o, out, n);
	if (!policy_valid(p))
		return smile_error_set(e, SMILE_ERR_INVALID, "name", "unknown masking policy");
	if (name == NULL)
		return smile_error_set(e, SMILE_ERR_MISSING_FIELD, "name", "missing");
	rc = text_load(&t, name, SMILE_MASK_NAME_MAX, 1, "name", e);
	if (rc != SMILE_OK)
		return rc;
	if (t.n == 0)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "name", "empty");
	first = first_letter(&t, 0, t.n);
	if (first == t.n)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "name", "has no letter");
	han = is_han_cp(t.cp[first]);
	if (han) { /* the same names are valid under every policy */
		dots = check_dots(&t, &rc, e);
		if (rc != SMILE_OK)
			return rc;
	}

	if (p == SMILE_MASK_STRICT) {
		if (count_letters(&t, 0, t.n) < 2) {
			out_str(&o, NAME_HIDDEN);
		} else {
			out_span(&o, &t, first, initial_end(&t, first));
			out_str(&o, NAME_MASK);
		}
	} else if (han) {
		mask_han(&o, &t, dots);
	} else {
		mask_words(&o, &t);
	}
	if (o.overflow) {
		out[0] = '\0';
		return smile_error_set(e, SMILE_ERR_BUFFER_SMALL, "name",
				       "output buffer of %zu bytes too small", n);
	}
	/* An initial is shown with all its marks: with dozens of them the masked
	 * name outgrows the 64 characters a label record's name may hold. */
	size_t shown = 0;
	for (const char *q = out; *q; q++)
		shown += ((unsigned char)*q & 0xC0) != 0x80;
	if (shown > SMILE_MASK_NAME_MAX) {
		out[0] = '\0';
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "name",
				       "shown initials with their combining marks come to %zu "
				       "characters, at most %d", shown, SMILE_MASK_NAME_MAX);
	}
	return SMILE_OK;
}

/* ------------------------------------------------------------------- phones */

size_t smile_mask_count_digits(const char *s)
{
	return s == NULL ? 0 : smile_unicode_count_numeric(s, strlen(s));
}

/*
 * Length of the ITU-T E.164 country code at the start of d (digits, first not
 * '0'): 1 for +1 and +7, 2 for the two-digit codes, 3 for everything else.
 */
static size_t country_code_len(const char *d)
{
	static const char two[] =
		"20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 "
		"57 58 60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98 ";

	if (d[0] == '1' || d[0] == '7')
		return 1;
	for (const char *p = two; *p; p += 3)
		if (p[0] == d[0] && p[1] == d[1])
			return 2;
	return 3;
}

enum phone_form {
	FORM_PLAIN,   /* "*******9" */
	FORM_MOBILE,  /* "138*******8" */
	FORM_AREA,    /* "027-*******9" */
	FORM_INTL     /* "+44 *******8" */
};

/* What to show of a number of `n` digits: `head` leading digits (an area,
 * country or mobile prefix, which is shown whole or not at all) and `tail`
 * last digits. */
struct phone_plan {
	enum phone_form form;
	const char *digits; /* the digits the plan indexes, may differ from input */
	size_t n, head, tail;
};

/*
 * Fit a plan inside the limits: at most 5 shown, at least min(n, 6) hidden,
 * at most half shown. The head goes first if it cannot fit with tail 0.
 */
static void plan_fit(struct phone_plan *pl, size_t tail_pref)
{
	size_t hide = pl->n < 6 ? pl->n : 6;
	size_t max_shown = pl->n - hide;

	if (max_shown > pl->n / 2)
		max_shown = pl->n / 2;
	if (max_shown > SMILE_MASK_PHONE_SHOWN_MAX)
		max_shown = SMILE_MASK_PHONE_SHOWN_MAX;
	if (pl->head > max_shown) {
		pl->head = 0;
		pl->form = FORM_PLAIN;
	}
	pl->tail = tail_pref;
	if (pl->head + pl->tail > max_shown)
		pl->tail = max_shown - pl->head;
}

/*
 * Classify a Chinese national number (no country code) in d[0..n):
 * 11-digit mobile 1[3-9]x, landline 0 + area code (010, 02x: 3 digits with
 * the 0; all others: 4) + local number, or anything else.
 */
static void plan_china(struct phone_plan *pl, const char *d, size_t n)
{
	pl->digits = d;
	pl->n = n;
	if (n == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9') {
		pl->form = FORM_MOBILE;
		pl->head = 3;
	} else if (n >= 10 && d[0] == '0' && d[1] != '0') {
		pl->form = FORM_AREA;
		pl->head = ((d[1] == '1' && d[2] == '0') || d[1] == '2') ? 3 : 4;
	} else {
		pl->form = FORM_PLAIN;
		pl->head = 0;
	}
}

enum smile_err smile_mask_phone(enum smile_mask_policy p, const char *phone, char *out,
				size_t n, struct smile_error *e)
{
	/* digits of the input, and room for a domestic form with a leading 0 */
	char d[SMILE_MASK_PHONE_DIGITS_MAX + 1], dom[SMILE_MASK_PHONE_DIGITS_MAX + 2];
	size_t nd = 0, len, i, depth = 0, pos = 0, shown;
	int plus = 0, paren_digits = 0;
	struct phone_plan pl = {FORM_PLAIN, d, 0, 0, 0};
	const char *intl;
	size_t nintl;
	struct out o;

	if (out == NULL || n == 0)
		return smile_error_set(e, SMILE_ERR_INVALID, "phone", "no output buffer");
	out_init(&o, out, n);
	if (!policy_valid(p))
		return smile_error_set(e, SMILE_ERR_INVALID, "phone", "unknown masking policy");
	if (phone == NULL)
		return smile_error_set(e, SMILE_ERR_MISSING_FIELD, "phone", "missing");
	len = strnlen(phone, SMILE_MASK_PHONE_BYTES_MAX + 1);
	if (len > SMILE_MASK_PHONE_BYTES_MAX)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "phone", "over %d characters",
				       SMILE_MASK_PHONE_BYTES_MAX);
	while (len > 0 && phone[len - 1] == ' ')
		len--;
	while (pos < len && phone[pos] == ' ')
		pos++;
	if (pos == len)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "phone", "empty");

	for (i = pos; i < len; i++) {
		char c = phone[i];

		if (c >= '0' && c <= '9') {
			if (nd < SMILE_MASK_PHONE_DIGITS_MAX)
				d[nd] = c;
			nd++;
			paren_digits++;
		} else if (c == '+') {
			if (i != pos)
				return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "phone",
						       "'+' is allowed only first");
			plus = 1;
		} else if (c == '(') {
			if (depth > 0)
				return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "phone",
						       "nested parentheses");
			depth = 1;
			paren_digits = 0;
		} else if (c == ')') {
			if (depth == 0)
				return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "phone",
						       "unbalanced parentheses");
			if (paren_digits == 0)
				return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "phone",
						       "empty parentheses");
			depth = 0;
		} else if (c != ' ' && c != '-') {
			return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "phone",
					       "character %zu is not a digit, space, '-', '(', ')' "
					       "or leading '+'", i - pos + 1);
		}
	}
	if (depth != 0)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "phone", "unbalanced parentheses");
	if (nd < SMILE_MASK_PHONE_DIGITS_MIN || nd > SMILE_MASK_PHONE_DIGITS_MAX)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "phone",
				       "%zu digits, need %d-%d", nd, SMILE_MASK_PHONE_DIGITS_MIN,
				       SMILE_MASK_PHONE_DIGITS_MAX);
	d[nd] = '\0';
	if (plus && d[0] == '0')
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "phone",
				       "country code cannot start with 0");

	/* international form: after '+' or an "00" prefix */
	intl = NULL;
	nintl = 0;
	if (plus) {
		intl = d;
		nintl = nd;
	} else if (d[0] == '0' && d[1] == '0' && nd > 2 && d[2] != '0') {
		intl = d + 2;
		nintl = nd - 2;
	}

	pl.n = nd;
	if (p == SMILE_MASK_STRICT) {
		plan_fit(&pl, 2); /* no head: the last two digits at most */
	} else if (intl != NULL && nintl >= 2 && intl[0] == '8' && intl[1] == '6') {
		/* a Chinese number: shown in domestic form, without the 86 */
		const char *nat = intl + 2;
		size_t nn = nintl - 2;

		if (nn > 0 && nat[0] == '0') { /* "+86 (0)27 ..." */
			nat++;
			nn--;
		}
		if (nn >= 9 && !(nn == 11 && nat[0] == '1') && nn + 1 <= sizeof(dom) - 1) {
			dom[0] = '0'; /* landline: restore the trunk prefix */
			memcpy(dom + 1, nat, nn);
			dom[nn + 1] = '\0';
			plan_china(&pl, dom, nn + 1);
		} else {
			plan_china(&pl, nat, nn);
		}
		if (pl.n < SMILE_MASK_PHONE_DIGITS_MIN) { /* "+86 1234" */
			pl.digits = d;
			pl.n = nd;
			pl.form = FORM_PLAIN;
			pl.head = 0;
		}
		plan_fit(&pl, 1);
	} else if (intl != NULL) {
		pl.form = FORM_INTL;
		pl.digits = intl;
		pl.n = nintl;
		pl.head = country_code_len(intl);
		if (pl.head >= nintl) {
			pl.form = FORM_PLAIN;
			pl.head = 0;
		}
		plan_fit(&pl, 1);
	} else if (nd == 13 && d[0] == '8' && d[1] == '6' && d[2] == '1') {
		plan_china(&pl, d + 2, 11); /* bare 86 before a mobile */
		plan_fit(&pl, 1);
	} else {
		plan_china(&pl, d, nd);
		plan_fit(&pl, 1);
	}

	switch (pl.form) {
	case FORM_INTL:
		out_str(&o, "+");
		out_bytes(&o, pl.digits, pl.head);
		out_str(&o, " ");
		break;
	case FORM_AREA:
		out_bytes(&o, pl.digits, pl.head);
		out_str(&o, "-");
		break;
	case FORM_MOBILE:
		out_bytes(&o, pl.digits, pl.head);
		break;
	case FORM_PLAIN:
		break;
	}
	out_str(&o, PHONE_MASK);
	out_bytes(&o, pl.digits + pl.n - pl.tail, pl.tail);
	if (o.overflow) {
		out[0] = '\0';
		return smile_error_set(e, SMILE_ERR_BUFFER_SMALL, "phone",
				       "output buffer of %zu bytes too small", n);
	}
	/* the promise of this module, checked on what is actually returned:
	 * at most 5 shown, at most half, at least min(6, all) hidden */
	shown = smile_mask_count_digits(out);
	if (shown > SMILE_MASK_PHONE_SHOWN_MAX || shown > nd / 2 ||
	    nd - shown < (nd < 6 ? nd : 6)) {
		out[0] = '\0';
		return smile_error_set(e, SMILE_ERR_INTERNAL, "phone",
				       "masked number would show too many digits");
	}
	return SMILE_OK;
}

/* ---------------------------------------------------------------- addresses */

static int ascii_lower(uint32_t c) { return (c >= 'A' && c <= 'Z') ? (int)(c + 32) : (int)c; }

/* Does t, at code point i, spell the ASCII word w (case ignored)? */
static int word_at(const struct text *t, size_t i, const char *w)
{
	size_t k = strlen(w);

	if (i + k > t->n)
		return 0;
	for (size_t j = 0; j < k; j++)
		if (ascii_lower(t->cp[i + j]) != w[j])
			return 0;
	return 1;
}

/*
 * Does a street carry a unit or room number? Only unambiguous patterns: a
 * number right before 室 / 单元 / 單元, or a unit word ("flat", "apt", "unit",
 * "suite", "room", ...) or '#' right before a number. "Flat Rock Road" and
 * "Rue Ste-Catherine" pass; "Flat 4" and "2301室" do not.
 */
static int street_has_unit(const struct text *t)
{
	static const char *const words[] = {"apartment", "appt", "apto", "apt", "depto",
					    "dpto", "flat", "rm", "room", "ste", "suite",
					    "unit", "whg", "wohnung"};

	for (size_t i = 0; i < t->n; i++) {
		uint32_t c = t->cp[i];

		if ((c == 0x5BA4 /* 室 */ ||
		     ((c == 0x5355 || c == 0x55AE) && i + 1 < t->n && t->cp[i + 1] == 0x5143)) &&
		    i > 0 && smile_unicode_is_numeric(t->cp[i - 1]))
			return 1; /* 2301室, 3单元 */
		if (c == '#' || c == 0xFF03) {
			size_t j = i + 1;

			while (j < t->n && t->cp[j] == ' ')
				j++;
			if (j < t->n && smile_unicode_is_numeric(t->cp[j]))
				return 1;
		}
		if (i > 0 && is_letter_cp(t->cp[i - 1]))
			continue; /* unit words only at the start of a word */
		for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
			size_t j = i + strlen(words[w]);

			if (!word_at(t, i, words[w]))
				continue;
			if (j < t->n && t->cp[j] == '.')
				j++;
			while (j < t->n && t->cp[j] == ' ')
				j++;
			if (word_at(t, j, "no.")) /* "Flat No. 4" */
				j += 3;
			while (j < t->n && (t->cp[j] == ' ' || t->cp[j] == '#'))
				j++;
			if (j < t->n && smile_unicode_is_numeric(t->cp[j]))
				return 1;
		}
	}
	return 0;
}

/* The phone-number rule (smile_unicode_number_run) over a trimmed text. */
static size_t number_run(const struct text *t)
{
	return smile_unicode_number_run(t->s + t->off[0], (size_t)(t->off[t->n] - t->off[0]));
}

/* China, written any of the usual ways: a domestic address prints no country. */
static int is_china(const struct text *t)
{
	static const char *const names[] = {"cn", "chn", "china", "prc",
					    "people's republic of china"};
	static const char *const han[] = {"中国", "中國", "中华人民共和国", "中華人民共和國"};
	size_t k;

	if (t->n == 0)
		return 1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == t->n && word_at(t, 0, names[i]))
			return 1;
	k = (size_t)(t->off[t->n] - t->off[0]);
	for (size_t i = 0; i < sizeof(han) / sizeof(han[0]); i++)
		if (strlen(han[i]) == k && memcmp(han[i], t->s + t->off[0], k) == 0)
			return 1;
	return 0;
}

/* Same trimmed text? */
static int text_equal(const struct text *a, const struct text *b)
{
	size_t ka = (size_t)(a->off[a->n] - a->off[0]), kb = (size_t)(b->off[b->n] - b->off[0]);

	return ka == kb && memcmp(a->s + a->off[0], b->s + b->off[0], ka) == 0;
}

enum addr_part { A_COUNTRY, A_PROVINCE, A_CITY, A_DISTRICT, A_STREET, A_DETAIL, A_PARTS };

static const char *const addr_fields[A_PARTS] = {
	"address.country", "address.province", "address.city",
	"address.district", "address.street", "address.detail",
};

/* Write region parts [from..to] joined by spaces, dropping repeats. */
static void out_region(struct out *o, const struct text *parts, int from, int to)
{
	const struct text *prev = NULL;

	for (int i = from; i <= to; i++) {
		if (parts[i].n == 0 || (prev != NULL && text_equal(prev, &parts[i])))
			continue;
		if (prev != NULL)
			out_str(o, " ");
		out_span(o, &parts[i], 0, parts[i].n);
		prev = &parts[i];
	}
}

enum smile_err smile_mask_address(enum smile_mask_policy p, const struct smile_address *a,
				  char lines[][SMILE_MASK_MAX], size_t max_lines,
				  size_t *n_lines, struct smile_error *e)
{
	/* six texts of up to 128 code points: about 4 KiB of stack */
	struct text parts[A_PARTS];
	const char *src[A_PARTS];
	char buf[SMILE_MASK_ADDR_LINES][SMILE_MASK_MAX];
	size_t nl = 0;
	int show_country;
	enum smile_err rc;

	if (n_lines != NULL)
		*n_lines = 0;
	if (a == NULL || lines == NULL || n_lines == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, "address", "missing argument");
	if (!policy_valid(p))
		return smile_error_set(e, SMILE_ERR_INVALID, "address", "unknown masking policy");
	src[A_COUNTRY] = a->country;
	src[A_PROVINCE] = a->province;
	src[A_CITY] = a->city;
	src[A_DISTRICT] = a->district;
	src[A_STREET] = a->street;
	src[A_DETAIL] = a->detail;
	for (int i = 0; i < A_PARTS; i++) {
		rc = text_load(&parts[i], src[i] ? src[i] : "",
			       i == A_DETAIL ? SMILE_MASK_ADDR_DETAIL_MAX : SMILE_MASK_ADDR_PART_MAX, 0,
			       addr_fields[i], e);
		if (rc != SMILE_OK)
			return rc;
	}
	if (parts[A_CITY].n == 0)
		return smile_error_set(e, SMILE_ERR_MISSING_FIELD, "address.city", "missing");
	for (int i = A_COUNTRY; i < A_DETAIL; i++) { /* the printed parts */
		size_t run = number_run(&parts[i]);

		if (run > SMILE_MASK_ADDR_DIGIT_RUN_MAX)
			return smile_error_set(e, SMILE_ERR_FIELD_VALUE, addr_fields[i],
					       "a run of %zu digits looks like a phone number "
					       "(at most %d)", run, SMILE_MASK_ADDR_DIGIT_RUN_MAX);
	}
	{
		/* Parts are printed joined on one line, and the label library
		 * checks that line: "138" / "1234" / "5678" as province, city and
		 * district is one run of 11. Checked on the longest form of the
		 * line (cn-gbt41833's) under both policies, so that validation
		 * does not depend on the policy. */
		struct out o;
		size_t run;

		out_init(&o, buf[0], sizeof(buf[0]));
		out_region(&o, parts, A_PROVINCE, A_DISTRICT);
		run = smile_unicode_number_run(buf[0], o.len);
		if (run > SMILE_MASK_ADDR_DIGIT_RUN_MAX)
			return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "address",
					       "province, city and district together hold a run "
					       "of %zu digits that looks like a phone number "
					       "(at most %d)", run, SMILE_MASK_ADDR_DIGIT_RUN_MAX);
	}
	if (street_has_unit(&parts[A_STREET]))
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "address.street",
				       "holds a unit or room number; put it in address.detail");

	/* every line fits: 3 parts of <= 256 bytes and 2 spaces < SMILE_MASK_MAX */
	for (size_t i = 0; i < SMILE_MASK_ADDR_LINES; i++) {
		struct out o;

		out_init(&o, buf[i], sizeof(buf[i]));
		if (i == 0) {
			out_region(&o, parts, A_PROVINCE,
				   p == SMILE_MASK_STRICT ? A_CITY : A_DISTRICT);
		} else if (i == 1) {
			if (p == SMILE_MASK_CN_GBT41833 && parts[A_STREET].n > 0) {
				out_span(&o, &parts[A_STREET], 0, parts[A_STREET].n);
				out_str(&o, " ");
			}
			out_str(&o, ADDR_MASK);
		} else {
			show_country = parts[A_COUNTRY].n > 0 &&
				       (p == SMILE_MASK_STRICT || !is_china(&parts[A_COUNTRY]));
			if (!show_country)
				break;
			out_span(&o, &parts[A_COUNTRY], 0, parts[A_COUNTRY].n);
		}
		if (o.overflow)
			return smile_error_set(e, SMILE_ERR_INTERNAL, "address",
					       "line over its bound");
		nl++;
	}
	for (size_t i = 0; i < nl; i++) {
		/* parts joined by a space can make one run of two short ones
		 * ("深圳市 44" then "430000 南山区") */
		size_t run = smile_unicode_number_run(buf[i], strlen(buf[i]));

		if (run > SMILE_MASK_ADDR_DIGIT_RUN_MAX)
			return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "address",
					       "parts joined on line %zu make a run of %zu digits, "
					       "which looks like a phone number (at most %d)",
					       i + 1, run, SMILE_MASK_ADDR_DIGIT_RUN_MAX);
	}
	if (nl > max_lines)
		return smile_error_set(e, SMILE_ERR_BUFFER_SMALL, "address",
				       "%zu lines needed, room for %zu", nl, max_lines);
	for (size_t i = 0; i < nl; i++)
		memcpy(lines[i], buf[i], strlen(buf[i]) + 1);
	*n_lines = nl;
	return SMILE_OK;
}

/* -------------------------------------------------------------------- notes */

enum smile_err smile_mask_note(const char *note, struct smile_error *e)
{
	struct text t;
	enum smile_err rc;
	size_t run;

	if (note == NULL)
		return SMILE_OK;
	rc = text_load(&t, note, SMILE_MASK_NOTE_MAX, 0, "note", e);
	if (rc != SMILE_OK)
		return rc;
	run = number_run(&t);
	if (run > SMILE_MASK_NOTE_DIGIT_RUN_MAX)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "note",
				       "a run of %zu digits looks like a phone number (at most %d)",
				       run, SMILE_MASK_NOTE_DIGIT_RUN_MAX);
	return SMILE_OK;
}
