/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy.h (gateway-internal) - who may see a recipient's contact details.
 *
 * A pure function of the facts about one authenticated scan: no I/O, no
 * clock, so every rule is unit-tested on its own (tests/unit/gateway/test_policy.c)
 * and docs/protocol.md's reason table can be checked against it.
 */
#ifndef SMILE_GATEWAY_POLICY_H
#define SMILE_GATEWAY_POLICY_H

#include <stdint.h>

#include "smile/proto.h"
#include "store.h"

struct policy_input {
	const char *device_id;
	enum smile_device_role role;
	enum smile_device_status device_status;
	const char *zone;            /* "" = anywhere */
	enum smile_event event;
	enum smile_shipment_status shipment_status;
	const char *holder;          /* device of the latest custody scan, "" */
	const char *region;          /* "country/province/city/district" */
	int erased;
	uint64_t reveals_24h;        /* reveals by this device in the last 24 h */
	long quota;                  /* reveals allowed per rolling 24 h */
};

struct policy_decision {
	enum smile_status status;
	enum smile_reason reason;
	int record_event; /* store a tracking event */
	int custody;      /* the device becomes the holder */
	int reveal;       /* send the contact details */
	int suspend;      /* suspend the device now (quota) and raise an alert */
};

void policy_decide(const struct policy_input *in, struct policy_decision *out);

/* May `role` send `event`? */
int policy_event_allowed(enum smile_device_role role, enum smile_event event);

/* Is `region` inside `zone` (a prefix at a '/' boundary; "" contains all)? */
int policy_in_zone(const char *zone, const char *region);

#endif
