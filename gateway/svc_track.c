/* SPDX-License-Identifier: Apache-2.0 */
/*
 * svc_track.c - the recipient tracking page's rules (docs/tracking.md).
 *
 * Three answers, in rising order of what they show: the coarse status
 * (anyone with the waybill), the timeline with city-level places and the
 * access log (whoever also knows the phone's last four digits), and nothing
 * more, ever: no names, no addresses, no device ids.
 *
 * The one idea: every path that could tell a valid waybill from an invalid
 * one does the same work and gives the same answer. An unknown waybill has a
 * coarse status ("unknown", same shape); its digit check is counted,
 * throttled, hashed and audited exactly like a wrong answer for a real one.
 * The counters live in the store, so the limits hold across every node.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "smile/log.h"
#include "svc.h"
#include "track.h"
#include "waybill.h"

#define ACCESS_MAX 500 /* audit entries read for one waybill */
#define DEVICE_CACHE 16

/* "2026-12-06" (UTC) */
static json_t *day_json(int64_t ms)
{
	char buf[48];
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (ms <= 0 || gmtime_r(&t, &tm) == NULL)
		return json_null();
	snprintf(buf, sizeof(buf), "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	return json_string(buf);
}

static enum smile_err check_waybill(const char *waybill, struct smile_error *e)
{
	struct smile_error ignored = {0};
	if (waybill == NULL || smile_waybill_check(waybill, &ignored) != SMILE_OK)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "waybill",
				       "not a waybill number (letters, digits and two check digits)");
	return SMILE_OK;
}

/* Count one attempt under each key, in windows of window_s;
 * SMILE_ERR_QUOTA when one is over. */
static enum smile_err throttle(struct gateway *g, const char *const *keys, const long *limits,
			       size_t n, long window_s, long *retry_s, struct smile_error *e)
{
	uint64_t counts[2] = {0, 0};
	int64_t window_ms = window_s * 1000;

	if (smile_store_track_hit(g->store, keys, n, gateway_now_ms(), window_ms, counts))
		return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not count the attempt");
	for (size_t i = 0; i < n; i++)
		if (counts[i] > (uint64_t)limits[i]) {
			/* the window may end sooner; never later */
			*retry_s = window_s;
			return smile_error_set(e, SMILE_ERR_QUOTA, NULL,
					       "too many attempts; try again later");
		}
	return SMILE_OK;
}

/* ------------------------------------------------------------ coarse */

struct coarse_ctx {
	int64_t last_ms;
};

static int coarse_event(void *arg, const struct smile_store_event *ev)
{
	struct coarse_ctx *x = arg;
	/* an erasure is not news for the page: it shows the status as it was */
	if (strcmp(ev->event, "erased") != 0 && ev->time_ms > x->last_ms)
		x->last_ms = ev->time_ms;
	return 0;
}

/* The coarse answer of a known shipment (row) or of an unknown waybill
 * (row NULL): the same members either way. */
static enum smile_err coarse_json(struct gateway *g, const char *waybill,
				  const struct smile_store_shipment *row, json_t **out,
				  struct smile_error *e)
{
	struct coarse_ctx x = {0};

	/* an unknown waybill reads the (empty) events of shipment id 0, so
	 * both answers cost the same reads */
	if (smile_store_list_events(g->store, row ? row->id : 0, coarse_event, &x) != SMILE_OK)
		return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not read the events");
	*out = json_pack("{s:s, s:s, s:o, s:o}", "waybill", waybill, "status",
			 row ? track_coarse_status(row->status) : "unknown", "first_seen",
			 row ? day_json(row->created_ms) : json_null(), "last_update",
			 row ? day_json(x.last_ms ? x.last_ms : row->created_ms) : json_null());
	if (*out == NULL)
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
	return SMILE_OK;
}

/* The shipment, or none (*found 0) for an unknown waybill. */
static enum smile_err lookup(struct gateway *g, const char *waybill,
			     struct smile_store_shipment *row, int *found, struct smile_error *e)
{
	enum smile_err rc = smile_store_get_shipment(g->store, waybill, row);
	*found = rc == SMILE_OK;
	if (rc == SMILE_OK || rc == SMILE_ERR_NOT_FOUND)
		return SMILE_OK;
	return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not read the shipment");
}

enum smile_err svc_track_coarse(struct gateway *g, const char *waybill, const char *client,
				json_t **out, long *retry_s, struct smile_error *e)
{
	struct smile_store_shipment row = {0};
	char key[SMILE_STORE_TRACK_KEY_MAX];
	const char *keys[1] = {key};
	const long limits[1] = {g->cfg.track_lookups_per_address};
	enum smile_err rc;
	int found = 0;

	*out = NULL;
	*retry_s = 0;
	if ((rc = check_waybill(waybill, e)))
		return rc;
	snprintf(key, sizeof(key), "lookup:%s", client);
	if ((rc = throttle(g, keys, limits, 1, g->cfg.track_window_s, retry_s, e)))
		return rc;
	if ((rc = lookup(g, waybill, &row, &found, e)))
		return rc;
	rc = coarse_json(g, waybill, found ? &row : NULL, out, e);
	if (found)
		smile_store_shipment_release(&row);
	return rc;
}

/* ------------------------------------------------------------ timeline and access */

/* Devices met while building one answer: id -> role and place. */
struct devices {
	struct {
		char id[SMILE_STORE_ID_MAX];
		char role[SMILE_STORE_STATUS_MAX];
		char place[TRACK_PLACE_MAX];
	} d[DEVICE_CACHE];
	int n, next;
};

/* The role ("unknown" for an id that is not enrolled) and city-level place
 * of a device. */
static void device_info(struct gateway *g, struct devices *c, const char *id, const char **role,
			const char **place)
{
	struct smile_store_device dev;
	int i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->d[i].id, id) == 0)
			goto found;
	i = c->n < DEVICE_CACHE ? c->n++ : (c->next++ % DEVICE_CACHE);
	snprintf(c->d[i].id, sizeof(c->d[i].id), "%s", id);
	snprintf(c->d[i].role, sizeof(c->d[i].role), "unknown");
	c->d[i].place[0] = '\0';
	memset(&dev, 0, sizeof(dev));
	if (smile_store_get_device(g->store, id, &dev) == SMILE_OK) {
		snprintf(c->d[i].role, sizeof(c->d[i].role), "%s", smile_device_role_name(dev.role));
		track_place(dev.zone, c->d[i].place, sizeof(c->d[i].place));
		smile_store_device_release(&dev);
	}
found:
	*role = c->d[i].role;
	*place = c->d[i].place;
}

struct answer_ctx {
	struct gateway *g;
	int64_t since_ms; /* the shipment's issue: audit entries before it are about no parcel */
	struct devices *devs;
	json_t *timeline, *access;
	/* the scan events, to name the event of each reveal or refusal */
	struct smile_store_event *events;
	size_t n_events, cap_events;
	int failed;
};

static json_t *time_member(int64_t ms)
{
	char at[GATEWAY_TIME_MAX];
	gateway_iso_time(ms, at);
	return json_string(at);
}

static int timeline_event(void *arg, const struct smile_store_event *ev)
{
	struct answer_ctx *x = arg;
	const char *role = NULL, *place = "";
	json_t *j;

	if (strcmp(ev->event, "erased") == 0)
		return 0;
	if (ev->device_id[0]) {
		device_info(x->g, x->devs, ev->device_id, &role, &place);
		if (x->n_events < x->cap_events)
			x->events[x->n_events++] = *ev;
	}
	j = json_pack("{s:s, s:o, s:I, s:o}", "event", ev->event, "time", time_member(ev->time_ms),
		      "time_ms", (json_int_t)ev->time_ms, "place",
		      place[0] ? json_string(place) : json_null());
	if (j == NULL || json_array_append_new(x->timeline, j)) {
		x->failed = 1;
		return 1;
	}
	return 0;
}

/* The scan event committed with an audit entry: same device, recorded in
 * the same transaction (scan.c: the event's recorded_ms is the audit's
 * time). NULL when none (a refusal that recorded nothing, a resend). */
static const char *event_of(const struct answer_ctx *x, const char *device, int64_t time_ms)
{
	for (size_t i = 0; i < x->n_events; i++)
		if (x->events[i].recorded_ms == time_ms &&
		    strcmp(x->events[i].device_id, device) == 0)
			return x->events[i].event;
	return NULL;
}

static int access_entry(void *arg, const struct smile_audit_entry *a, int64_t time_ms)
{
	struct answer_ctx *x = arg;
	const char *role = NULL, *place = NULL, *event;
	json_t *j;

	/* a waybill number can be guessed before it is issued: wrong answers
	 * for it then were nobody's attempt at this parcel */
	if (time_ms < x->since_ms)
		return 0;
	if (strcmp(a->kind, "track.wrong_digits") == 0) {
		j = json_pack("{s:s, s:o, s:I}", "kind", "wrong_digits", "time", time_member(time_ms),
			      "time_ms", (json_int_t)time_ms);
	} else if (strcmp(a->kind, "reveal") == 0 || strcmp(a->kind, "refusal") == 0) {
		/* the actor is a device id: shown only as its role */
		device_info(x->g, x->devs, a->actor, &role, &place);
		event = event_of(x, a->actor, time_ms);
		j = json_pack("{s:s, s:o, s:I, s:s, s:o}", "kind", a->kind, "time",
			      time_member(time_ms), "time_ms", (json_int_t)time_ms, "role", role,
			      "event", event ? json_string(event) : json_null());
		if (j && strcmp(a->kind, "refusal") == 0)
			json_object_set_new(j, "reason", json_string(a->detail));
		if (j && strcmp(a->kind, "reveal") == 0)
			json_object_set_new(j, "resend", json_boolean(strcmp(a->detail, "resend") == 0));
	} else {
		return 0; /* erasures and the rest are not about contact details */
	}
	if (j == NULL || json_array_append_new(x->access, j)) {
		x->failed = 1;
		return 1;
	}
	return 0;
}

static enum smile_err full_json(struct gateway *g, const struct smile_store_shipment *row,
				json_t **out, struct smile_error *e)
{
	struct devices devs;
	struct smile_store_event events[64];
	struct answer_ctx x = {g, row->created_ms, &devs, json_array(), json_array(), events, 0, 64, 0};
	enum smile_err rc;

	memset(&devs, 0, sizeof(devs));
	rc = coarse_json(g, row->waybill, row, out, e);
	if (rc)
		goto out;
	if (x.timeline == NULL || x.access == NULL ||
	    smile_store_list_events(g->store, row->id, timeline_event, &x) != SMILE_OK ||
	    smile_store_audit_subject(g->store, row->waybill, ACCESS_MAX, access_entry, &x) !=
		    SMILE_OK ||
	    x.failed) {
		rc = smile_error_set(e, SMILE_ERR_STORE, NULL, "could not read the history");
		goto out;
	}
	json_object_set(*out, "timeline", x.timeline);
	json_object_set(*out, "access", x.access);
out:
	if (rc) {
		json_decref(*out);
		*out = NULL;
	}
	json_decref(x.timeline);
	json_decref(x.access);
	return rc;
}

/* ------------------------------------------------------------ verify */

enum smile_err svc_track_verify(struct gateway *g, const char *waybill, const char *digits,
				const char *client, json_t **out, long *retry_s,
				struct smile_error *e)
{
	struct smile_store_shipment row = {0};
	uint8_t want[SMILE_STORE_TRACK_HASH_BYTES], got[SMILE_STORE_TRACK_HASH_BYTES];
	char k_addr[SMILE_STORE_TRACK_KEY_MAX], k_wb[SMILE_STORE_TRACK_KEY_MAX];
	const char *keys[2] = {k_addr, k_wb};
	const long limits[2] = {g->cfg.track_checks_per_address, g->cfg.track_checks_per_waybill};
	char k_life[SMILE_STORE_TRACK_KEY_MAX];
	const char *life_keys[1] = {k_life};
	const long life_limit[1] = {g->cfg.track_checks_per_waybill_total};
	const char *why = "unknown";
	enum smile_err rc;
	int found = 0, has = 0, match = 0;

	*out = NULL;
	*retry_s = 0;
	if ((rc = check_waybill(waybill, e)))
		return rc;
	if (!track_digits_valid(digits))
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "phone_last4",
				       "need exactly 4 digits (0-9)");
	snprintf(k_addr, sizeof(k_addr), "check:%s", client);
	snprintf(k_wb, sizeof(k_wb), "waybill:%s", waybill);
	snprintf(k_life, sizeof(k_life), "waybill-total:%s", waybill);
	/* per hour, then in all: the hourly limit is a rate, and 10,000
	 * candidates would fall to it in weeks; the total caps the odds of
	 * a patient guesser (docs/tracking.md, "Throttle") */
	if ((rc = throttle(g, keys, limits, 2, g->cfg.track_window_s, retry_s, e)) ||
	    (rc = throttle(g, life_keys, life_limit, 1, g->cfg.track_total_window_s, retry_s, e))) {
		if (rc == SMILE_ERR_QUOTA)
			smile_log(SMILE_LOG_INFO, "track.throttled", SMILE_KV_ID("waybill", waybill));
		return rc;
	}
	if ((rc = lookup(g, waybill, &row, &found, e)))
		return rc;
	memset(want, 0, sizeof(want));
	/* the hash of shipment id 0 (none) for an unknown waybill: the same read */
	rc = smile_store_track_hash(g->store, found ? row.id : 0, want, &has);
	if (found) {
		if (rc != SMILE_OK && rc != SMILE_ERR_NOT_FOUND) {
			smile_store_shipment_release(&row);
			return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not read the shipment");
		}
		why = row.erased_ms ? "erased" : has ? "wrong" : "no_hash";
	}
	/* hashed whatever we found, so every path costs the same */
	track_digits_hash(g->keys, waybill, digits, got);
	match = track_hash_equal(want, got) && found && has;
	sodium_memzero(got, sizeof(got));
	sodium_memzero(want, sizeof(want));
	if (match) {
		rc = full_json(g, &row, out, e);
		smile_log(SMILE_LOG_INFO, "track.verified", SMILE_KV_ID("waybill", waybill));
	} else {
		/* the recipient sees these in the access log; never the digits,
		 * never the address */
		const struct smile_audit_entry a = {"track.wrong_digits", waybill, "public", why};
		if (smile_store_audit(g->store, &a, 1, gateway_now_ms()) != SMILE_OK)
			smile_log(SMILE_LOG_ERROR, "audit.write_failed", SMILE_KV_ID("waybill", waybill));
		smile_log(SMILE_LOG_INFO, "track.wrong_digits", SMILE_KV_ID("waybill", waybill));
		rc = smile_error_set(e, SMILE_ERR_DENIED, "phone_last4",
				     "these digits do not match this waybill");
	}
	if (found)
		smile_store_shipment_release(&row);
	return rc;
}
