/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gwinfo.c - read GET /v1/gateway with jansson and check every field the
 * bridge will rely on, so a bad paste fails at configure time, not at the
 * first scan.
 */
#include "gwinfo.h"

#include <string.h>

#include <jansson.h>

static enum smile_err key_field(json_t *root, const char *name, char out[SMILE_PROTO_KEY_B64_BYTES],
				struct smile_error *e)
{
	uint8_t pk[SMILE_PROTO_PK_BYTES];
	json_t *v = json_object_get(root, name);
	const char *s;

	if (v == NULL)
		return smile_error_set(e, SMILE_ERR_MISSING_FIELD, name, "required");
	if (!json_is_string(v))
		return smile_error_set(e, SMILE_ERR_FIELD_TYPE, name, "must be a string");
	s = json_string_value(v);
	if (smile_proto_key_from_base64(s, json_string_length(v), pk) != SMILE_OK)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, name,
				       "not a base64 32-byte key (44 characters)");
	memcpy(out, s, SMILE_PROTO_KEY_B64_BYTES - 1);
	out[SMILE_PROTO_KEY_B64_BYTES - 1] = '\0';
	return SMILE_OK;
}

enum smile_err bridge_gwinfo_parse(const char *text, size_t len, struct bridge_gwinfo *out,
				   struct smile_error *e)
{
	json_error_t jerr;
	json_t *root, *v, *mqtt;
	enum smile_err rc = SMILE_OK;

	memset(out, 0, sizeof(*out));
	if (len > BRIDGE_GWINFO_MAX)
		return smile_error_set(e, SMILE_ERR_TOO_LARGE, NULL, "over %d bytes",
				       BRIDGE_GWINFO_MAX);
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return smile_error_set(e, SMILE_ERR_JSON, NULL, "not JSON (line %d, column %d)",
				       jerr.line, jerr.column);
	if (!json_is_object(root)) {
		rc = smile_error_set(e, SMILE_ERR_FIELD_TYPE, NULL, "must be a JSON object");
		goto out;
	}
	v = json_object_get(root, "protocol");
	if (v == NULL) {
		rc = smile_error_set(e, SMILE_ERR_MISSING_FIELD, "protocol", "required");
		goto out;
	}
	if (!json_is_integer(v)) {
		rc = smile_error_set(e, SMILE_ERR_FIELD_TYPE, "protocol", "must be an integer");
		goto out;
	}
	out->protocol = (long)json_integer_value(v);
	if (out->protocol != SMILE_PROTO_VERSION) {
		rc = smile_error_set(e, SMILE_ERR_PROTO_VERSION, "protocol",
				     "gateway speaks protocol %ld, this bridge %d", out->protocol,
				     SMILE_PROTO_VERSION);
		goto out;
	}
	rc = key_field(root, "sign_pk", out->sign_pk, e);
	if (rc == SMILE_OK)
		rc = key_field(root, "box_pk", out->box_pk, e);
	if (rc != SMILE_OK)
		goto out;
	mqtt = json_object_get(root, "mqtt");
	if (mqtt == NULL || json_is_null(mqtt))
		goto out;
	if (!json_is_object(mqtt)) {
		rc = smile_error_set(e, SMILE_ERR_FIELD_TYPE, "mqtt", "must be an object");
		goto out;
	}
	v = json_object_get(mqtt, "host");
	if (v != NULL) {
		if (!json_is_string(v) || json_string_length(v) >= sizeof(out->mqtt_host) ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			rc = smile_error_set(e, SMILE_ERR_FIELD_VALUE, "mqtt.host",
					     "must be a host name under %zu bytes",
					     sizeof(out->mqtt_host));
			goto out;
		}
		for (const char *c = json_string_value(v); *c; c++)
			if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			      (*c >= '0' && *c <= '9') || strchr(".-_:", *c))) {
				rc = smile_error_set(e, SMILE_ERR_FIELD_VALUE, "mqtt.host",
						     "not a host name or address");
				goto out;
			}
		memcpy(out->mqtt_host, json_string_value(v), json_string_length(v) + 1);
	}
	v = json_object_get(mqtt, "port");
	if (v != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 65535) {
			rc = smile_error_set(e, SMILE_ERR_FIELD_VALUE, "mqtt.port",
					     "must be an integer 1..65535");
			goto out;
		}
		out->mqtt_port = (long)json_integer_value(v);
	}
	v = json_object_get(mqtt, "tls");
	if (v != NULL) {
		if (!json_is_boolean(v)) {
			rc = smile_error_set(e, SMILE_ERR_FIELD_TYPE, "mqtt.tls", "must be true or false");
			goto out;
		}
		out->mqtt_tls = json_is_true(v);
	}
out:
	json_decref(root);
	return rc;
}
