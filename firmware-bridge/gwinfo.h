/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gwinfo.h - the gateway's self-description, GET /v1/gateway:
 *   {"protocol":1,"sign_pk":"<b64>","box_pk":"<b64>",
 *    "mqtt":{"host":"...","port":N,"tls":false}}
 * `smile-bridge configure` turns it into a bridge.conf.
 */
#ifndef BRIDGE_GWINFO_H
#define BRIDGE_GWINFO_H

#include <stddef.h>

#include "conf.h"
#include "smile/error.h"
#include "smile/proto.h"

#define BRIDGE_GWINFO_MAX (16 * 1024)

struct bridge_gwinfo {
	long protocol;
	char sign_pk[SMILE_PROTO_KEY_B64_BYTES];
	char box_pk[SMILE_PROTO_KEY_B64_BYTES];
	char mqtt_host[BRIDGE_PATH_MAX]; /* "" when the answer has no mqtt */
	long mqtt_port;                  /* 0 when absent */
	int mqtt_tls;                    /* the broker expects TLS */
};

/*
 * Parse the JSON text[0..len). Returns SMILE_OK; SMILE_ERR_TOO_LARGE (over
 * BRIDGE_GWINFO_MAX); SMILE_ERR_JSON; SMILE_ERR_MISSING_FIELD /
 * SMILE_ERR_FIELD_TYPE / SMILE_ERR_FIELD_VALUE naming the field (a key that
 * is not 32 bytes of base64, a port outside 1..65535, a host too long);
 * SMILE_ERR_PROTO_VERSION (protocol is not SMILE_PROTO_VERSION).
 */
enum smile_err bridge_gwinfo_parse(const char *text, size_t len, struct bridge_gwinfo *out,
				   struct smile_error *e) SMILE_MUST_CHECK;

#endif
