/* SPDX-License-Identifier: Apache-2.0 */
/*
 * svc_devices.c - enrolling, suspending, resuming, revoking and listing
 * handhelds, for every door (the API and the `device` commands).
 *
 * A change is recorded once, here and in the store, whichever door asked:
 * the store appends the audit entry ("device.enrol", "device.<status>",
 * with the caller as actor and its door as the reason) in the same
 * transaction as the change, and this file logs device.enrolled or
 * device.status with the caller's id.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "svc.h"
#include "smile/log.h"
#include "smile/proto.h"

static enum smile_err get_key(json_t *j, const char *name, uint8_t out[32], struct smile_error *e)
{
	json_t *v = json_object_get(j, name);
	if (v == NULL)
		return smile_error_set(e, SMILE_ERR_MISSING_FIELD, name, "required");
	if (!json_is_string(v))
		return smile_error_set(e, SMILE_ERR_FIELD_TYPE, name, "must be a string");
	if (smile_proto_key_from_base64(json_string_value(v), json_string_length(v), out) !=
	    SMILE_OK)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, name,
				       "must be a 32-byte key in standard base64 (44 characters)");
	return SMILE_OK;
}

static int zone_ok(const char *z)
{
	size_t n = strlen(z);
	if (n > 120)
		return 0;
	for (; *z; z++)
		if ((unsigned char)*z < 0x20 || *z == 0x7f)
			return 0;
	return 1;
}

enum smile_err svc_device_enrol(struct gateway *g, const struct svc_caller *c, json_t *j,
				struct smile_store_device *d, struct smile_error *e)
{
	json_t *id, *role, *zone;
	uint8_t check[32];
	enum smile_err rc;

	memset(d, 0, sizeof(*d));
	if ((rc = svc_need_admin(c, e)))
		return rc;
	if (!json_is_object(j))
		return smile_error_set(e, SMILE_ERR_FIELD_TYPE, NULL, "expected a JSON object");
	id = json_object_get(j, "id");
	if (id == NULL)
		return smile_error_set(e, SMILE_ERR_MISSING_FIELD, "id", "required");
	if (!json_is_string(id))
		return smile_error_set(e, SMILE_ERR_FIELD_TYPE, "id", "must be a string");
	if (!smile_proto_id_valid(json_string_value(id), json_string_length(id)))
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "id",
				       "1-32 characters of A-Z a-z 0-9 _ -");
	snprintf(d->id, sizeof(d->id), "%s", json_string_value(id));
	if (broker_user_reserved(g, d->id))
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "id",
				       "'%s' is reserved for a broker service account (the "
				       "gateway's MQTT user, '" BROKER_OBSERVER_USER "', and every "
				       "id starting with '" BROKER_RESERVED_PREFIX "')",
				       d->id);
	if ((rc = get_key(j, "sign_pk", d->sign_pk, e)) || (rc = get_key(j, "box_pk", d->box_pk, e)))
		return rc;
	/* a box key must give a usable shared key (not a low-order point) */
	if (smile_proto_shared_key(smile_keys_box_sk(g->keys), d->box_pk, check) != SMILE_OK)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "box_pk", "not a usable X25519 key");
	sodium_memzero(check, sizeof(check));
	role = json_object_get(j, "role");
	if (role == NULL)
		return smile_error_set(e, SMILE_ERR_MISSING_FIELD, "role",
				       "courier, hub, supervisor or print_station");
	if (!json_is_string(role) ||
	    smile_device_role_parse(json_string_value(role), &d->role) != SMILE_OK)
		return smile_error_set(e, json_is_string(role) ? SMILE_ERR_FIELD_VALUE
							       : SMILE_ERR_FIELD_TYPE,
				       "role", "courier, hub, supervisor or print_station");
	zone = json_object_get(j, "zone");
	if (zone && !json_is_null(zone)) {
		if (!json_is_string(zone) || !zone_ok(json_string_value(zone)))
			return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "zone",
					       "a region prefix such as CN/湖北省/武汉市 "
					       "(at most 120 bytes)");
		snprintf(d->zone, sizeof(d->zone), "%s", json_string_value(zone));
	}
	d->created_ms = gateway_now_ms();
	rc = smile_store_put_device(g->store, d, c->id);
	if (rc == SMILE_ERR_EXISTS)
		return smile_error_set(e, rc, "id", "a device with this id is (or was) enrolled");
	if (rc)
		return smile_error_set(e, rc, NULL, "could not store the device");
	smile_log(SMILE_LOG_INFO, "device.enrolled", SMILE_KV_ID("device", d->id),
		  SMILE_KV_ID("role", smile_device_role_name(d->role)), SMILE_KV_ID("by", c->id));
	return SMILE_OK;
}

json_t *svc_device_json(const struct smile_store_device *d)
{
	char sign[SMILE_PROTO_KEY_B64_BYTES], box[SMILE_PROTO_KEY_B64_BYTES];
	char created[GATEWAY_TIME_MAX];
	smile_proto_key_to_base64(d->sign_pk, sign);
	smile_proto_key_to_base64(d->box_pk, box);
	gateway_iso_time(d->created_ms, created);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "id", d->id, "role",
			 smile_device_role_name(d->role), "zone", d->zone, "status",
			 smile_device_status_name(d->status), "sign_pk", sign, "box_pk", box,
			 "last_seq", (json_int_t)d->last_seq, "created_at", created);
}

enum smile_err svc_device_set_status(struct gateway *g, const struct svc_caller *c,
				     const char *id, enum smile_device_status st,
				     struct smile_store_device *out, struct smile_error *e)
{
	struct smile_store_device d;
	enum smile_err rc;

	if ((rc = svc_need_admin(c, e)))
		return rc;
	rc = smile_store_set_device_status(g->store, id, st, c->id, c->door);
	if (rc == SMILE_ERR_NOT_FOUND)
		return smile_error_set(e, rc, "id", "no such device");
	if (rc == SMILE_ERR_CONFLICT)
		return smile_error_set(e, rc, "id", "the device is revoked; enrol a new one");
	if (rc)
		return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not change the device");
	smile_log(SMILE_LOG_INFO, "device.status", SMILE_KV_ID("device", id),
		  SMILE_KV_ID("status", smile_device_status_name(st)), SMILE_KV_ID("by", c->id));
	if (out == NULL)
		return SMILE_OK;
	/* changed and logged; only reading it back failed */
	if (smile_store_get_device(g->store, id, &d) != SMILE_OK)
		return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not change the device");
	*out = d;
	return SMILE_OK;
}

enum smile_err svc_device_list(struct gateway *g, const struct svc_caller *c,
			       smile_store_device_cb cb, void *ctx, struct smile_error *e)
{
	enum smile_err rc;
	if ((rc = svc_need_admin(c, e)))
		return rc;
	if (smile_store_list_devices(g->store, cb, ctx) != SMILE_OK)
		return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not list devices");
	return SMILE_OK;
}
