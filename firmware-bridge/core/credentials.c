/* SPDX-License-Identifier: Apache-2.0 */
/*
 * credentials.c - derive a device's MQTT password from the key it already
 * shares with the gateway (see credentials.h). C99, no heap.
 */
#include "smile/credentials.h"

#include <sodium.h>
#include <string.h>

#include "smile/proto.h"

static const char context[] = "smile/v1 mqtt-password"; /* hashed with its NUL */

enum smile_err smile_mqtt_password(const uint8_t shared_key[32], const char *device_id,
				   char out[SMILE_MQTT_PASSWORD_MAX])
{
	crypto_generichash_state st;
	uint8_t h[32];
	size_t n;

	if (shared_key == NULL || device_id == NULL || out == NULL)
		return SMILE_ERR_INVALID;
	n = strlen(device_id);
	if (!smile_proto_id_valid(device_id, n))
		return SMILE_ERR_INVALID;
	if (crypto_generichash_init(&st, shared_key, 32, sizeof(h)) != 0 ||
	    crypto_generichash_update(&st, (const unsigned char *)context, sizeof(context)) != 0 ||
	    crypto_generichash_update(&st, (const unsigned char *)device_id, n) != 0 ||
	    crypto_generichash_final(&st, h, sizeof(h)) != 0)
		return SMILE_ERR_CRYPTO;
	sodium_bin2base64(out, SMILE_MQTT_PASSWORD_MAX, h, sizeof(h),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(h, sizeof(h));
	return SMILE_OK;
}
