/* SPDX-License-Identifier: Apache-2.0 */
/*
 * privacy.c - the fail-closed test: would this record print personal data?
 *
 * The label library trusts nothing about how a record was masked. Whatever
 * produced it, a phone that shows more than SMILE_LABEL_PHONE_DIGITS_MAX
 * digits, a name without a masking character, or any printed text holding a
 * run of more than LABEL_DIGIT_RUN_MAX digits is refused (GB/T 41833-2022:
 * hide at least one character of the name and at least six digits of the
 * phone; docs/masking.md, "Phone numbers in free text"). A digit is any
 * character with a numeric value, in every script ("１３８", "١٣٨", "①③⑧",
 * "¹³⁸", "一三八"), and only a letter ends a run ("138.1234.5678" is one).
 *
 * Which characters are digits and letters comes from the same generated
 * Unicode table as the gateway's masking (common/unicode.c). It used to be
 * a separate definition (GLib's), to stay independent of the code whose
 * output this checks; but that definition knew only Nd, missed no fewer
 * blocks than a hand-typed one could, and disagreed with the masker about
 * what it refused. Independence is now where it is worth more: the table is
 * generated from the Unicode Character Database and checked against it,
 * code point by code point, by tests/unit/common/test_unicode.c, and
 * test_label_record.c cross-checks it against GLib. What stays separate is
 * the check itself: it runs on the record, after masking, whoever masked it.
 */
#include "label_internal.h"

#include <stdio.h>
#include <string.h>

#include "smile/unicode.h"

size_t label_count_digits(const char *s)
{
	return smile_unicode_count_numeric(s, strlen(s));
}

int label_has_mask(const char *s)
{
	return strstr(s, "*") != NULL || strstr(s, "\xEF\xBC\x8A") != NULL; /* U+FF0A */
}

size_t label_longest_digit_run(const char *s)
{
	return smile_unicode_number_run(s, strlen(s));
}

enum smile_err label_privacy_check_text(const char *s, const char *field,
					struct smile_error *e)
{
	size_t run = label_longest_digit_run(s);

	if (run > LABEL_DIGIT_RUN_MAX)
		return smile_error_set(e, SMILE_ERR_LABEL_UNMASKED, field,
				       "a run of %zu digits looks like a phone number (at most %d)",
				       run, LABEL_DIGIT_RUN_MAX);
	return SMILE_OK;
}

enum smile_err label_privacy_check_party(const struct label_party *p, struct smile_error *e)
{
	size_t digits = label_count_digits(p->phone);
	enum smile_err err;

	if (digits > SMILE_LABEL_PHONE_DIGITS_MAX)
		return smile_error_set(e, SMILE_ERR_LABEL_UNMASKED, "phone",
				       "shows %zu digits, at most %d may be visible", digits,
				       SMILE_LABEL_PHONE_DIGITS_MAX);
	if (!label_has_mask(p->name))
		return smile_error_set(e, SMILE_ERR_LABEL_UNMASKED, "name",
				       "no masking character ('*' or U+FF0A)");
	err = label_privacy_check_text(p->name, "name", e);
	if (err)
		return err;
	for (int i = 0; i < p->n_address; i++) {
		char field[32];

		snprintf(field, sizeof(field), "address[%d]", i);
		err = label_privacy_check_text(p->address[i], field, e);
		if (err)
			return err;
	}
	return SMILE_OK;
}

enum smile_err label_privacy_check_record(const struct smile_label_record *rec,
					  struct smile_error *e)
{
	/* every free text the label prints; the waybill, date and token have
	 * formats of their own (record.c), and the waybill is a number */
	const struct {
		const char *text, *field;
	} texts[] = {
		{rec->sort_code, "sort_code"},
		{rec->service, "service"},
		{rec->merchant, "merchant"},
		{rec->note, "note"},
	};
	enum smile_err err;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		err = label_privacy_check_text(texts[i].text, texts[i].field, e);
		if (err)
			return err;
	}
	err = label_privacy_check_party(&rec->recipient, e);
	if (err) {
		smile_error_prefix(e, "recipient");
		return err;
	}
	err = label_privacy_check_party(&rec->sender, e);
	if (err)
		smile_error_prefix(e, "sender");
	return err;
}
