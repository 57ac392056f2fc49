/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy.c - the reveal policy of docs/protocol.md section 7.4, whose table
 * is the specification: tests/unit/gateway/test_policy.c reads that table
 * from the page and checks this function against it on every combination of
 * facts.
 *
 * Order matters and is the table's order: the device's standing first, then
 * whether the event is the device's to send, then the parcel's state; only a
 * scan that survives all three is recorded, and only then is the reveal
 * weighed: role, event, erasure, custody, zone, quota.
 */
#include "policy.h"

#include <string.h>

int policy_event_allowed(enum smile_device_role role, enum smile_event event)
{
	switch (role) {
	case SMILE_DEV_SUPERVISOR:
		return 1;
	case SMILE_DEV_COURIER:
		/* couriers move parcels between sender, van and recipient */
		return event == SMILE_EVENT_PICKUP || event == SMILE_EVENT_OUT_FOR_DELIVERY ||
		       event == SMILE_EVENT_DELIVERY_FAILED || event == SMILE_EVENT_DELIVERED ||
		       event == SMILE_EVENT_RETURNED;
	case SMILE_DEV_HUB:
		/* hubs sort: they see parcels in and out, and send them back */
		return event == SMILE_EVENT_HUB_IN || event == SMILE_EVENT_HUB_OUT ||
		       event == SMILE_EVENT_RETURNED;
	case SMILE_DEV_PRINT_STATION:
		/* a print station prints labels; it never moves a parcel, so no
		 * scan of its own is recorded or reveals anything */
		return 0;
	}
	return 0;
}

int policy_in_zone(const char *zone, const char *region)
{
	size_t n;
	if (zone == NULL || zone[0] == '\0')
		return 1;
	n = strlen(zone);
	if (zone[n - 1] == '/')
		n--;
	return region && strncmp(zone, region, n) == 0 && (region[n] == '\0' || region[n] == '/');
}

static void deny(struct policy_decision *out, enum smile_reason r)
{
	out->status = SMILE_STATUS_DENIED;
	out->reason = r;
}

/* The two events that need the recipient's contact details (7.4). */
static int needs_contact(enum smile_event ev)
{
	return ev == SMILE_EVENT_OUT_FOR_DELIVERY || ev == SMILE_EVENT_DELIVERY_FAILED;
}

/* Rows of docs/protocol.md 7.4, in order; the comments name them. */
void policy_decide(const struct policy_input *in, struct policy_decision *out)
{
	int holds = in->holder != NULL && strcmp(in->holder, in->device_id) == 0;

	memset(out, 0, sizeof(*out));
	if (in->device_status == SMILE_DEV_REVOKED) /* 1 */
		return deny(out, SMILE_REASON_REVOKED);
	if (in->device_status != SMILE_DEV_ACTIVE) /* 2 */
		return deny(out, SMILE_REASON_SUSPENDED);
	if (!policy_event_allowed(in->role, in->event)) /* 3, 4 */
		return deny(out, SMILE_REASON_WRONG_ROLE);
	if (in->shipment_status == SMILE_SHIPMENT_DELIVERED) /* 5 */
		return deny(out, SMILE_REASON_DELIVERED);
	if (in->shipment_status == SMILE_SHIPMENT_RETURNED) /* 6 */
		return deny(out, SMILE_REASON_RETURNED);
	/* 7: closing a parcel's story is for its holder (or a supervisor):
	 * another device must not end the holder's delivery. */
	if (in->role != SMILE_DEV_SUPERVISOR &&
	    (in->event == SMILE_EVENT_DELIVERED || in->event == SMILE_EVENT_RETURNED) && !holds)
		return deny(out, SMILE_REASON_NOT_HOLDER);

	/* recorded from here on; a custody scan makes the device the holder */
	out->status = SMILE_STATUS_RECORDED;
	out->reason = SMILE_REASON_OK;
	out->record_event = 1;
	out->custody = smile_proto_event_is_custody(in->event);

	if (in->role == SMILE_DEV_HUB) { /* 8 */
		out->reason = SMILE_REASON_HUB_ROLE;
		return;
	}
	if (!needs_contact(in->event)) /* 9 */
		return;
	if (in->erased) { /* 10 */
		out->reason = SMILE_REASON_ERASED;
		return;
	}
	/* 11: out_for_delivery is itself a custody scan, so its sender holds
	 * the parcel now; a delivery_failed needs custody taken before. */
	if (in->event == SMILE_EVENT_DELIVERY_FAILED && !holds) {
		out->reason = SMILE_REASON_NOT_HOLDER;
		return;
	}
	if (!policy_in_zone(in->zone, in->region)) { /* 12 */
		out->reason = SMILE_REASON_OUT_OF_ZONE;
		return;
	}
	if (in->reveals_24h >= (uint64_t)(in->quota < 0 ? 0 : in->quota)) { /* 13 */
		/* Harvesting: the device is suspended at once and nothing of this
		 * scan is kept but the refusal. */
		memset(out, 0, sizeof(*out));
		deny(out, SMILE_REASON_QUOTA_EXCEEDED);
		out->suspend = 1;
		return;
	}
	out->status = SMILE_STATUS_REVEALED; /* 14 */
	out->reveal = 1;
}
