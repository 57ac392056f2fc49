/*
 * policy.c - the reveal policy of docs/protocol.md, as one decision table.
 *
 * Order matters and is the table's order: the device's standing first, then
 * whether the event is the device's to send, then the parcel's state; only a
 * scan that survives all three is recorded, and only then is the reveal
 * weighed: role, erasure, custody, zone, quota.
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

void policy_decide(const struct policy_input *in, struct policy_decision *out)
{
	memset(out, 0, sizeof(*out));
	if (in->device_status == SMILE_DEV_REVOKED)
		return deny(out, SMILE_REASON_REVOKED);
	if (in->device_status != SMILE_DEV_ACTIVE)
		return deny(out, SMILE_REASON_SUSPENDED);
	if (!policy_event_allowed(in->role, in->event))
		return deny(out, SMILE_REASON_WRONG_ROLE);
	if (strcmp(in->shipment_status, "delivered") == 0)
		return deny(out, SMILE_REASON_DELIVERED);
	if (strcmp(in->shipment_status, "returned") == 0)
		return deny(out, SMILE_REASON_RETURNED);
	/* Closing a parcel's story is for the device that holds it: a courier
	 * who never took custody cannot mark it delivered or returned. */
	if (in->role == SMILE_DEV_COURIER &&
	    (in->event == SMILE_EVENT_DELIVERED || in->event == SMILE_EVENT_RETURNED) &&
	    strcmp(in->holder, in->device_id) != 0)
		return deny(out, SMILE_REASON_NOT_HOLDER);

	out->status = SMILE_STATUS_RECORDED;
	out->reason = SMILE_REASON_OK;
	out->record_event = 1;
	out->custody = smile_proto_event_is_custody(in->event);

	if (in->role == SMILE_DEV_HUB) {
		out->reason = SMILE_REASON_HUB_ROLE;
		return;
	}
	if (in->erased) {
		out->reason = SMILE_REASON_ERASED;
		return;
	}
	if (in->event != SMILE_EVENT_OUT_FOR_DELIVERY && in->event != SMILE_EVENT_DELIVERY_FAILED &&
	    strcmp(in->holder, in->device_id) != 0) {
		out->reason = SMILE_REASON_NOT_HOLDER;
		return;
	}
	if (!policy_in_zone(in->zone, in->region)) {
		out->reason = SMILE_REASON_OUT_OF_ZONE;
		return;
	}
	if (in->reveals_24h >= (uint64_t)(in->quota < 0 ? 0 : in->quota)) {
		/* Harvesting: the device is suspended at once and nothing of this
		 * scan is kept but the refusal. */
		memset(out, 0, sizeof(*out));
		deny(out, SMILE_REASON_QUOTA_EXCEEDED);
		out->suspend = 1;
		return;
	}
	out->status = SMILE_STATUS_REVEALED;
	out->reveal = 1;
}
