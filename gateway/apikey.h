/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apikey.h (gateway-internal) - API keys: minting and hashing.
 *
 * A key is "smk_" + 16 hex id + "_" + 48 hex secret (24 random bytes). The
 * store keeps only the BLAKE2b-256 hash of the whole string; the id (public)
 * names the key in logs and in DELETE /v1/api-keys/{id}.
 */
#ifndef SMILE_GATEWAY_APIKEY_H
#define SMILE_GATEWAY_APIKEY_H

#include "store.h"

#define APIKEY_STRING_MAX 72

/* Mint and store a key with `role`; merchant for the merchant role; bindings
 * for the warehouse role. key_out receives the secret string (shown once). */
enum smile_err apikey_create(struct smile_store *s, enum smile_role role, const char *merchant,
			     const char *const *bindings, int n_bindings,
			     char key_out[APIKEY_STRING_MAX], char id_out[SMILE_STORE_ID_MAX],
			     struct smile_error *e) SMILE_MUST_CHECK;

/* Is `s` an acceptable merchant name (1-64 of A-Z a-z 0-9 _ . -: it becomes an
 * MQTT topic level; no run of more than 7 digits: it is printed on labels)? */
int apikey_merchant_ok(const char *s);

#endif
