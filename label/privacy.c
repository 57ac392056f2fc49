/*
 * privacy.c - the fail-closed test: would this party print personal data?
 *
 * The label library trusts nothing about how a record was masked. Whatever
 * produced it, a phone that shows more than SMILE_LABEL_PHONE_DIGITS_MAX
 * digits or a name without a masking character is refused (GB/T 41833-2022:
 * hide at least one character of the name and at least six digits of the
 * phone). Digits are counted in every script (Unicode Nd: ASCII, fullwidth,
 * Arabic-Indic, ...), so "１３８..." or "١٣٨..." cannot slip past.
 *
 * The gateway's masking (gateway/mask.c) applies the same rules with its own
 * digit table. The duplication is deliberate: this is the last check before
 * ink, so it uses an independent definition (GLib's Unicode database) rather
 * than the code whose output it is checking.
 */
#include "label_internal.h"

#include <glib.h>

size_t label_count_digits(const char *s)
{
	size_t n = 0;

	for (const char *p = s; *p; p = g_utf8_next_char(p))
		if (g_unichar_isdigit(g_utf8_get_char(p)))
			n++;
	return n;
}

int label_has_mask(const char *s)
{
	for (const char *p = s; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (c == '*' || c == 0xFF0A)
			return 1;
	}
	return 0;
}

size_t label_longest_digit_run(const char *s)
{
	size_t best = 0, run = 0;
	int gap = 0; /* one separator seen since the last digit */

	for (const char *p = s; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (g_unichar_isdigit(c)) {
			run++;
			gap = 0;
			if (run > best)
				best = run;
		} else if ((c == ' ' || c == '-') && run > 0 && !gap) {
			gap = 1;
		} else {
			run = 0;
			gap = 0;
		}
	}
	return best;
}

enum smile_err label_privacy_check_party(const struct label_party *p, struct smile_error *e)
{
	size_t digits = label_count_digits(p->phone);

	if (digits > SMILE_LABEL_PHONE_DIGITS_MAX)
		return smile_error_set(e, SMILE_ERR_LABEL_UNMASKED, "phone",
				       "shows %zu digits, at most %d may be visible", digits,
				       SMILE_LABEL_PHONE_DIGITS_MAX);
	if (!label_has_mask(p->name))
		return smile_error_set(e, SMILE_ERR_LABEL_UNMASKED, "name",
				       "no masking character ('*' or U+FF0A)");
	return SMILE_OK;
}
