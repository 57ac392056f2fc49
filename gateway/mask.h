/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mask.h - the masking policy: what of a name, a phone number and an address
 * may be printed on a label.
 *
 * Two policies (rules, rationale and a table of examples: docs/masking.md):
 *
 *   SMILE_MASK_CN_GBT41833  (default, "cn-gbt41833") meets GB/T 41833-2022:
 *     name     Chinese: surname only (1 char, or 2 for a compound surname such
 *              as 欧阳 when the name is longer than the surname) + "**";
 *              middle-dot names (买买提·艾力): first char + "**·**";
 *              other scripts: initial of the first and of the last word, each
 *              + "**" ("Jane Smith" -> "J** S**"); a word or a name of one
 *              character is shown as "***" only.
 *     phone    at most 5 digits shown, at least 6 hidden (all of a number of
 *              6 digits or fewer): "138*******8", "027-*******9",
 *              "+44 *******8", "*******" for 10086.
 *     address  province, city, district and street stay; detail (unit, room,
 *              house number) becomes "****".
 *   SMILE_MASK_STRICT  ("strict") for other markets:
 *     name     first character + "**"; phone: last 2 digits only;
 *     address  province and city only; street and detail become "****".
 *
 * Mask characters are ASCII '*'. Every mask has a fixed width (name "**",
 * phone 7 stars, address "****"), so the label never tells how long the
 * hidden part was.
 *
 * All functions are pure (no heap, no global state) and thread-safe. Inputs are
 * UTF-8; they are validated again here (a bad byte is SMILE_ERR_UTF8 naming
 * the field) and are never split inside a code point. Error messages describe
 * the input ("7 digits, need 5-15") and never echo it.
 */
#ifndef SMILE_MASK_H
#define SMILE_MASK_H

#include <stddef.h>

#include "smile/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum smile_mask_policy {
	SMILE_MASK_CN_GBT41833 = 0,
	SMILE_MASK_STRICT = 1
};

#define SMILE_MASK_POLICY_DEFAULT SMILE_MASK_CN_GBT41833

/* Output buffer size that always suffices for one masked string or one
 * address line (NUL included). */
#define SMILE_MASK_MAX 1024
/* Most lines smile_mask_address() produces. */
#define SMILE_MASK_ADDR_LINES 3

/* Input caps, in Unicode code points (bytes: at most 4x). */
#define SMILE_MASK_NAME_MAX 64        /* name: 1-64 characters */
#define SMILE_MASK_ADDR_PART_MAX 64   /* country, province, city, district, street */
#define SMILE_MASK_ADDR_DETAIL_MAX 128
/* Longest *number run* (smile_unicode_number_run: characters with a numeric
 * value, of any script, with no letter between them; spaces and punctuation
 * do not break a run) that free text printed whole may hold: longer looks
 * like a phone number. Address parts allow 7 for postal codes (430000,
 * 100-0001), which the label library accepts too; a note, which needs none,
 * allows 5, no more digits than a masked phone shows. */
#define SMILE_MASK_ADDR_DIGIT_RUN_MAX 7
#define SMILE_MASK_NOTE_DIGIT_RUN_MAX 5
#define SMILE_MASK_NOTE_MAX 120 /* code points */
/* Phone: 5-15 digits (E.164 allows 15), at most 32 bytes with formatting. */
#define SMILE_MASK_PHONE_DIGITS_MIN 5
#define SMILE_MASK_PHONE_DIGITS_MAX 15
#define SMILE_MASK_PHONE_BYTES_MAX 32
/* No masked phone ever shows more digits than this (GB/T 41833-2022 hides at
 * least 6 of 11; the label library refuses a record that shows more). */
#define SMILE_MASK_PHONE_SHOWN_MAX 5

/*
 * "cn-gbt41833" or "strict" (ASCII case ignored) -> *out.
 * Returns SMILE_OK, or SMILE_ERR_CONFIG for NULL or an unknown name (*out is
 * then left unchanged). No error details: the caller names the config key.
 */
enum smile_err smile_mask_policy_parse(const char *name, enum smile_mask_policy *out)
	SMILE_MUST_CHECK;

/* "cn-gbt41833", "strict"; "unknown" for a value outside the enum. Static. */
const char *smile_mask_policy_name(enum smile_mask_policy p);

/*
 * Mask a person's name into out[n] (NUL-terminated; SMILE_MASK_MAX is always
 * enough). Leading and trailing spaces are ignored. A shown initial is its
 * letter and at most two canonical combining marks after it (combining class
 * not 0), nothing else.
 * Valid names: 1-64 code points, at least one letter (Unicode L*), no
 * control, bidi-override, zero-width or other invisible format character
 * (Unicode Cf, ZWJ and ZWNJ included), no variation selector (U+FE00-FE0F,
 * U+E0100-E01EF), no noncharacters.
 * Returns:
 *   SMILE_OK
 *   SMILE_ERR_MISSING_FIELD  name is NULL                     (field "name")
 *   SMILE_ERR_UTF8           name is not valid UTF-8          (field "name")
 *   SMILE_ERR_FIELD_VALUE    empty, too long, no letter, a forbidden character,
 *                            a misplaced middle dot, or too long once masked
 *                                                             (field "name")
 *   SMILE_ERR_BUFFER_SMALL   out cannot hold the result       (field "name")
 *   SMILE_ERR_INVALID        out is NULL or n is 0, or p is not a policy
 * On any error out (when n > 0) holds "". `e` may be NULL.
 */
enum smile_err smile_mask_name(enum smile_mask_policy p, const char *name, char *out,
			       size_t n, struct smile_error *e) SMILE_MUST_CHECK;

/*
 * Mask a phone number into out[n] (NUL-terminated). Accepted input: digits,
 * spaces, '-', balanced non-nested '(' ')', and one '+' first (then the
 * country code cannot start with 0); 5-15 digits; at most 32 bytes.
 * "00" starts an international number like '+'; +86 / 0086 / 86 (13 digits
 * starting 861) are Chinese numbers and are shown in domestic form.
 * The result is normalised ("027-*******9", "+44 *******8"): it never keeps
 * the caller's grouping, which could tell the number's shape.
 * Returns:
 *   SMILE_OK
 *   SMILE_ERR_MISSING_FIELD  phone is NULL                    (field "phone")
 *   SMILE_ERR_FIELD_VALUE    empty, too long, a character other than the above,
 *                            a misplaced '+', unbalanced parentheses, fewer
 *                            than 5 or more than 15 digits    (field "phone")
 *   SMILE_ERR_BUFFER_SMALL   out cannot hold the result       (field "phone")
 *   SMILE_ERR_INVALID        out is NULL or n is 0, or p is not a policy
 *   SMILE_ERR_INTERNAL       the result would show too many digits (a bug;
 *                            never returned with a result in out)
 * On any error out (when n > 0) holds "". `e` may be NULL.
 */
enum smile_err smile_mask_phone(enum smile_mask_policy p, const char *phone, char *out,
				size_t n, struct smile_error *e) SMILE_MUST_CHECK;

/*
 * A postal address as it arrives; any member may be NULL or "" unless noted
 * below. The caller keeps ownership of the strings.
 */
struct smile_address {
	const char *country;  /* "CN", "China", "中国", "GB", ... */
	const char *province; /* province, state, region */
	const char *city;     /* required by both policies */
	const char *district;
	const char *street;   /* street and building, never the unit or room */
	const char *detail;   /* unit, room, house number: always masked */
};

/*
 * Produce the address lines that go on a label into lines[0..*n_lines-1]:
 *   cn-gbt41833: ["湖北省 武汉市 江汉区", "建设大道568号 ****"(, country)]
 *   strict:      ["湖北省 武汉市", "****"(, country)]
 * Line 1 joins the non-empty region parts with one space (a part equal to the
 * one before it, as in 北京市 北京市, is written once). The street line always
 * ends in "****", whether or not a detail was given. The country line is added
 * for a country other than China under cn-gbt41833 (CN, CHN, China, 中国 and
 * empty are domestic) and for any country under strict.
 * Each part: leading/trailing spaces ignored, valid UTF-8, no control or
 * invisible format characters, at most SMILE_MASK_ADDR_PART_MAX code points
 * (detail: SMILE_MASK_ADDR_DETAIL_MAX). The printed parts (all but detail),
 * each alone and province + city + district as one line, hold no number run
 * over SMILE_MASK_ADDR_DIGIT_RUN_MAX (a phone number typed into the street,
 * "138.1234.5678" or "一三八一二三四五六七八", would otherwise be printed). The street must
 * not carry a unit or room number ("2301室", "3单元", "Flat 4", "Apt 12",
 * "Unit 3", "Suite 200", "Room 101", "#12"): it is printed, so those belong
 * in detail.
 * Returns:
 *   SMILE_OK
 *   SMILE_ERR_MISSING_FIELD  city NULL or empty               (field "address.city")
 *   SMILE_ERR_UTF8           a part is not valid UTF-8        (field "address.<part>")
 *   SMILE_ERR_FIELD_VALUE    a part too long, a forbidden character, a run of
 *                            digits like a phone number, or a unit or room
 *                            number in the street             (field "address.<part>";
 *                            "address" for a run across the region parts)
 *   SMILE_ERR_BUFFER_SMALL   max_lines too small for the result (field "address")
 *   SMILE_ERR_INVALID        a, lines or n_lines is NULL, or p is not a policy
 * On any error *n_lines is 0 (when n_lines is not NULL). `e` may be NULL.
 */
enum smile_err smile_mask_address(enum smile_mask_policy p, const struct smile_address *a,
				  char lines[][SMILE_MASK_MAX], size_t max_lines,
				  size_t *n_lines, struct smile_error *e) SMILE_MUST_CHECK;

/*
 * Check a note, which is printed whole on the label: NULL or "" is no note;
 * otherwise valid UTF-8, at most SMILE_MASK_NOTE_MAX code points, no control
 * or invisible format character, and no number run over
 * SMILE_MASK_NOTE_DIGIT_RUN_MAX ("call 138 1234 5678", "①③⑧...").
 * Returns:
 *   SMILE_OK
 *   SMILE_ERR_UTF8           not valid UTF-8                  (field "note")
 *   SMILE_ERR_FIELD_VALUE    too long, a forbidden character, or a run of
 *                            digits like a phone number       (field "note")
 * `e` may be NULL.
 */
enum smile_err smile_mask_note(const char *note, struct smile_error *e) SMILE_MUST_CHECK;

/*
 * How many characters with a numeric value UTF-8 `s` contains (digits of
 * every script, ① ¹ Ⅻ, CJK numerals 一 壹 ...: smile_unicode_is_numeric):
 * the figure that must stay <= SMILE_MASK_PHONE_SHOWN_MAX on a printed
 * phone. Bytes that are not UTF-8 count as no digit; NULL counts as 0.
 */
size_t smile_mask_count_digits(const char *s);

#ifdef __cplusplus
}
#endif
#endif
