/* SPDX-License-Identifier: Apache-2.0 */
/*
 * events.h (gateway-internal) - the merchant event and the alert of
 * docs/protocol.md section 10, one builder for every door: the relay
 * publishes them on MQTT, GET /v1/shipments/{waybill}/events lists the same
 * event objects.
 */
#ifndef SMILE_GATEWAY_EVENTS_H
#define SMILE_GATEWAY_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "store.h"

/* "ev_" / "al_" + 32 lowercase hex digits + NUL */
#define EVENTS_ID_MAX 36
/* The longest event object: ids, codes and times only. */
#define EVENTS_JSON_MAX 640

/* The event's id: "ev_" + hex(BLAKE2b-128, keyed with a key derived from the
 * gateway's signing key, of the store's event id). The same stored event
 * always has the same id (a QoS 1 redelivery, the HTTP listing), two events
 * never share one, and it tells a merchant nothing (not how many events
 * other merchants have). */
void events_event_id(const struct smile_keys *k, uint64_t store_id, char out[EVENTS_ID_MAX]);

/* The alert's id: the same construction over (device id, scan seq), so the
 * alert raised by one scan always has the same id. */
void events_alert_id(const struct smile_keys *k, const char *device, uint64_t seq,
		     char out[EVENTS_ID_MAX]);

/* The merchant event object (10.1) for stored event `ev` of a shipment whose
 * merchant reference is `merchant_ref` ("" = none: null), as compact JSON
 * into out (NUL-terminated). Never a device id. Returns its length, or 0
 * when it does not fit or a value is outside the restricted character sets
 * (which never happens for values the gateway stored). */
size_t events_event_json(const struct smile_keys *k, const struct smile_store_event *ev,
			 const char *merchant_ref, char *out, size_t cap);

/* The quota alert (10.2) for `device` (role `role`) suspended by scan `seq`
 * after `reveals` reveals against a quota of `limit` in a window of
 * `window_s`, raised at `now_ms`. Compact JSON, caller frees; NULL on
 * allocation failure. */
char *events_quota_alert(const struct smile_keys *k, const char *device, const char *role,
			 uint64_t seq, int64_t now_ms, uint64_t reveals, long limit, long window_s);

#endif
