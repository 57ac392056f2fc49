/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apikey.c - minting API keys; only their hashes are ever stored.
 */
#include "apikey.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "gateway.h"
#include "mask.h"
#include "smile/unicode.h"

int apikey_merchant_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		/* merchant names become MQTT topic levels: no / + # */
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return 0;
	}
	/* the merchant is printed on every label, where the label library
	 * refuses a phone-like run of digits (docs/masking.md) */
	return smile_unicode_number_run(s, n) <= SMILE_MASK_ADDR_DIGIT_RUN_MAX;
}

enum smile_err apikey_create(struct smile_store *s, enum smile_role role, const char *merchant,
			     const char *const *bindings, int n_bindings,
			     char key_out[APIKEY_STRING_MAX], char id_out[SMILE_STORE_ID_MAX],
			     struct smile_error *e)
{
	struct smile_store_apikey k;
	uint8_t id[8], secret[24];
	char id_hex[17], secret_hex[49];
	enum smile_err rc;

	memset(&k, 0, sizeof(k));
	if (role == SMILE_ROLE_MERCHANT && !apikey_merchant_ok(merchant))
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "merchant",
				       "1-64 characters from A-Z a-z 0-9 _ . -, at most 7 digits in a row");
	if (n_bindings < 0 || n_bindings > SMILE_STORE_MAX_BINDINGS)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "merchants", "at most %d",
				       SMILE_STORE_MAX_BINDINGS);
	if (role == SMILE_ROLE_WAREHOUSE && n_bindings == 0)
		return smile_error_set(e, SMILE_ERR_MISSING_FIELD, "merchants",
				       "a warehouse key needs the merchants it prints for");
	for (int i = 0; i < n_bindings; i++)
		if (!apikey_merchant_ok(bindings[i]))
			return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "merchants",
					       "entry %d: 1-64 characters from A-Z a-z 0-9 _ . -, at most 7 digits in a row", i);
	randombytes_buf(id, sizeof(id));
	randombytes_buf(secret, sizeof(secret));
	sodium_bin2hex(id_hex, sizeof(id_hex), id, sizeof(id));
	sodium_bin2hex(secret_hex, sizeof(secret_hex), secret, sizeof(secret));
	snprintf(key_out, APIKEY_STRING_MAX, "smk_%s_%s", id_hex, secret_hex);
	snprintf(k.id, sizeof(k.id), "%s", id_hex);
	crypto_generichash(k.hash, sizeof(k.hash), (const unsigned char *)key_out,
			   strlen(key_out), NULL, 0);
	k.role = role;
	if (role == SMILE_ROLE_MERCHANT)
		snprintf(k.merchant, sizeof(k.merchant), "%s", merchant);
	if (role == SMILE_ROLE_WAREHOUSE)
		for (int i = 0; i < n_bindings; i++)
			snprintf(k.bindings[k.n_bindings++], SMILE_STORE_ID_MAX, "%s", bindings[i]);
	k.created_ms = gateway_now_ms();
	rc = smile_store_put_apikey(s, &k);
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(secret_hex, sizeof(secret_hex));
	if (rc) {
		sodium_memzero(key_out, APIKEY_STRING_MAX);
		return smile_error_set(e, rc, NULL, "could not store the key");
	}
	snprintf(id_out, SMILE_STORE_ID_MAX, "%s", id_hex);
	return SMILE_OK;
}
