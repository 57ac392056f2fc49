/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_devices.c - enrolling and managing handhelds over HTTP (the rules,
 * logs and audit are the service's: svc_devices.c), and the gateway's
 * public keys for setting them up.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "gateway.h"
#include "smile/proto.h"
#include "svc.h"

/* Path segment 2 is the device id. */
static void set_status(struct gateway *g, struct http_req *r, struct http_resp *o,
		       enum smile_device_status st)
{
	struct svc_caller c = svc_caller_api(&r->key);
	struct smile_store_device d;
	struct smile_error e = {0};
	if (svc_device_set_status(g, &c, r->seg[2], st, &d, &e) != SMILE_OK) {
		http_resp_smile_error(o, &e);
		return;
	}
	http_resp_json(o, 200, svc_device_json(&d));
	smile_store_device_release(&d);
}

void api_devices_create(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	struct svc_caller c = svc_caller_api(&r->key);
	struct smile_store_device d;
	struct smile_error e = {0};
	json_t *body = http_body_json(r, o);
	if (body == NULL)
		return;
	if (svc_device_enrol(g, &c, body, &d, &e) != SMILE_OK)
		http_resp_smile_error(o, &e);
	else
		http_resp_json(o, 201, svc_device_json(&d));
	json_decref(body);
}

static int list_one(void *ctx, const struct smile_store_device *d)
{
	json_array_append_new(ctx, svc_device_json(d));
	return 0;
}

void api_devices_list(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	struct svc_caller c = svc_caller_api(&r->key);
	struct smile_error e = {0};
	json_t *list = json_array();
	if (svc_device_list(g, &c, list_one, list, &e) != SMILE_OK) {
		json_decref(list);
		http_resp_smile_error(o, &e);
		return;
	}
	http_resp_json(o, 200, json_pack("{s:o}", "devices", list));
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
