/* SPDX-License-Identifier: Apache-2.0 */
/*
 * events.c - merchant events and alerts (docs/protocol.md section 10).
 *
 * Events are built with snprintf, not jansson: every value is an id, a code
 * or a number from a restricted character set, checked here, so the text is
 * JSON by construction and the relay's commit callback stays cheap. Ids are
 * keyed hashes of what identifies the thing in the store, so they are stable
 * wherever the object is built and reveal nothing.
 */
#include "events.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "gateway.h"

/* One keyed BLAKE2b-128 under a key derived from the gateway's signing key
 * for this job alone (domain-separated: never used to sign anything). */
static void keyed_id(const struct smile_keys *k, const char *prefix, const char *domain,
		     const uint8_t *msg, size_t n, char out[EVENTS_ID_MAX])
{
	uint8_t key[32], h[16];
	crypto_generichash(key, sizeof(key), (const unsigned char *)domain, strlen(domain) + 1,
			   smile_keys_sign_sk(k), 64);
	crypto_generichash(h, sizeof(h), msg, n, key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	memcpy(out, prefix, 3);
	sodium_bin2hex(out + 3, EVENTS_ID_MAX - 3, h, sizeof(h));
}

void events_event_id(const struct smile_keys *k, uint64_t store_id, char out[EVENTS_ID_MAX])
{
	uint8_t b[8];
	for (int i = 7; i >= 0; i--, store_id >>= 8)
		b[i] = (uint8_t)(store_id & 0xff);
	keyed_id(k, "ev_", "smile/v1 event-id", b, sizeof(b), out);
}

void events_alert_id(const struct smile_keys *k, const char *device, uint64_t seq,
		     char out[EVENTS_ID_MAX])
{
	uint8_t b[SMILE_STORE_ID_MAX + 8];
	size_t n = strnlen(device, SMILE_STORE_ID_MAX - 1);
	memcpy(b, device, n);
	for (int i = 7; i >= 0; i--, seq >>= 8)
		b[n + (size_t)i] = (uint8_t)(seq & 0xff);
	keyed_id(k, "al_", "smile/v1 alert-id", b, n + 8, out);
}

/* Safe to write between quotes without escaping? */
static int plain(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\' || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

size_t events_event_json(const struct smile_keys *k, const struct smile_store_event *ev,
			 const char *merchant_ref, char *out, size_t cap)
{
	char id[EVENTS_ID_MAX], at[GATEWAY_TIME_MAX], ref[SMILE_STORE_ID_MAX + 2], role[64];
	const char *source = ev->device_id[0] ? "scan" : ev->detail;
	int w;

	if (!plain(ev->waybill) || !plain(ev->event) || !plain(ev->device_role) ||
	    !plain(merchant_ref) || !plain(source) || source[0] == '\0')
		return 0;
	events_event_id(k, ev->id, id);
	gateway_iso_time(ev->time_ms, at);
	if (merchant_ref[0])
		snprintf(ref, sizeof(ref), "\"%s\"", merchant_ref);
	else
		snprintf(ref, sizeof(ref), "null");
	role[0] = '\0';
	if (ev->device_role[0]) /* the role, never the device id (10.1) */
		snprintf(role, sizeof(role), ",\"device_role\":\"%s\"", ev->device_role);
	w = snprintf(out, cap,
		     "{\"v\":1,\"type\":\"event\",\"event_id\":\"%s\",\"waybill\":\"%s\","
		     "\"merchant_ref\":%s,\"event\":\"%s\",\"source\":\"%s\",\"time\":\"%s\","
		     "\"time_ms\":%lld,\"recorded_ms\":%lld%s}",
		     id, ev->waybill, ref, ev->event, source, at, (long long)ev->time_ms,
		     (long long)(ev->recorded_ms ? ev->recorded_ms : ev->time_ms), role);
	return w > 0 && (size_t)w < cap ? (size_t)w : 0;
}

char *events_quota_alert(const struct smile_keys *k, const char *device, const char *role,
			 uint64_t seq, int64_t now_ms, uint64_t reveals, long limit, long window_s)
{
	char id[EVENTS_ID_MAX], at[GATEWAY_TIME_MAX];
	json_t *j;
	char *s;

	events_alert_id(k, device, seq, id);
	gateway_iso_time(now_ms, at);
	j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:{s:I, s:I, s:I}}", "v", 1,
		      "type", "alert", "alert_id", id, "alert", "quota_exceeded", "time", at,
		      "time_ms", (json_int_t)now_ms, "device_id", device, "device_role", role,
		      "action", "suspended", "detail", "reveals", (json_int_t)reveals, "limit",
		      (json_int_t)limit, "window_s", (json_int_t)window_s);
	s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return s;
}
