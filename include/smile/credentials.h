/* SPDX-License-Identifier: Apache-2.0 */
/*
 * credentials.h - a device's MQTT broker password, derived, never sent.
 *
 * A device and the gateway already share a key: X25519 between the device's
 * box key and the gateway's (smile_proto_shared_key). The broker password of
 * device D is derived from it, so enrolment needs no extra secret and both
 * sides compute the same string:
 *
 *   password = base64url-nopad( BLAKE2b-256( key = shared_key,
 *                                            msg = "smile/v1 mqtt-password\0" || D ) )
 *
 * 43 characters of [A-Za-z0-9_-]. The MQTT user name is the device id.
 * This is docs/protocol.md section 9.1; its vector is in 13.2.
 * `smile-gateway broker-config` writes the broker's password file from it;
 * `smile-bridge` derives its own. Revoking a device removes its entry at the
 * next broker-config.
 */
#ifndef SMILE_CREDENTIALS_H
#define SMILE_CREDENTIALS_H

#include <stddef.h>
#include <stdint.h>

#include "smile/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SMILE_MQTT_PASSWORD_LEN 43
#define SMILE_MQTT_PASSWORD_MAX (SMILE_MQTT_PASSWORD_LEN + 1)

/* Derive device `device_id`'s broker password into out (NUL-terminated).
 * Returns SMILE_OK, SMILE_ERR_INVALID (NULL argument or id not 1..32 of
 * [A-Za-z0-9_-]). */
enum smile_err smile_mqtt_password(const uint8_t shared_key[32], const char *device_id,
				   char out[SMILE_MQTT_PASSWORD_MAX]) SMILE_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
