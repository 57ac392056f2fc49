/*
 * api_devices.c - enrolling and managing handhelds, and the gateway's public
 * keys for setting them up. Every change is audited by the store.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "gateway.h"
#include "policy.h"
#include "smile/log.h"
#include "smile/proto.h"

void api_devices_create(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	struct smile_store_device d;
	struct smile_error e = {0};
	json_t *body = http_body_json(r, o);
	if (body == NULL)
		return;
	if (gateway_device_enrol(g, body, r->key.id, &d, &e) != SMILE_OK)
		http_resp_smile_error(o, &e);
	else
		http_resp_json(o, 201, gateway_device_json(&d));
	json_decref(body);
}

static int list_one(void *ctx, const struct smile_store_device *d)
{
	json_array_append_new(ctx, gateway_device_json(d));
	return 0;
}

void api_devices_list(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	json_t *list = json_array();
	(void)r;
	if (smile_store_list_devices(g->store, list_one, list) != SMILE_OK) {
		json_decref(list);
		http_resp_error(o, 500, "store", NULL, "could not list devices");
		return;
	}
	http_resp_json(o, 200, json_pack("{s:o}", "devices", list));
}

static void set_status(struct gateway *g, struct http_req *r, struct http_resp *o,
		       enum smile_device_status st)
{
	const char *id = r->seg[2];
	struct smile_store_device d;
	enum smile_err rc = smile_store_set_device_status(g->store, id, st, r->key.id, "api");
	if (rc == SMILE_ERR_NOT_FOUND) {
		http_resp_error(o, 404, "not_found", "id", "no such device");
		return;
	}
	if (rc == SMILE_ERR_CONFLICT) {
		http_resp_error(o, 409, "conflict", "id", "the device is revoked; enrol a new one");
		return;
	}
	if (rc || smile_store_get_device(g->store, id, &d) != SMILE_OK) {
		http_resp_error(o, 500, "store", NULL, "could not change the device");
		return;
	}
	smile_log(SMILE_LOG_INFO, "device.status", SMILE_KV_ID("device", id),
		  SMILE_KV_ID("status", smile_device_status_name(st)), SMILE_KV_ID("by", r->key.id));
	http_resp_json(o, 200, gateway_device_json(&d));
	smile_store_device_release(&d);
}

void api_device_suspend(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	set_status(g, r, o, SMILE_DEV_SUSPENDED);
}

void api_device_resume(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	set_status(g, r, o, SMILE_DEV_ACTIVE);
}

void api_device_revoke(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	set_status(g, r, o, SMILE_DEV_REVOKED);
}

void api_gateway_info(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	char sign[SMILE_PROTO_KEY_B64_BYTES], box[SMILE_PROTO_KEY_B64_BYTES];
	(void)r;
	smile_proto_key_to_base64(smile_keys_sign_pk(g->keys), sign);
	smile_proto_key_to_base64(smile_keys_box_pk(g->keys), box);
	http_resp_json(o, 200,
		       json_pack("{s:i, s:s, s:s, s:{s:s, s:I, s:b}}", "protocol", SMILE_PROTO_VERSION,
				 "sign_pk", sign, "box_pk", box, "mqtt", "host", g->cfg.mqtt_host,
				 "port", (json_int_t)g->cfg.mqtt_port, "tls",
				 g->cfg.mqtt_cafile[0] != 0));
}
