/* The reveal policy as a table: every rule, in order, with its reason code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../../gateway/policy.h"

static struct policy_input base(void)
{
	struct policy_input in = {
		.device_id = "c1",
		.role = SMILE_DEV_COURIER,
		.device_status = SMILE_DEV_ACTIVE,
		.zone = "",
		.event = SMILE_EVENT_OUT_FOR_DELIVERY,
		.shipment_status = "hub_out",
		.holder = "hub-9",
		.region = "CN/湖北省/武汉市/江汉区",
		.erased = 0,
		.reveals_24h = 0,
		.quota = 200,
	};
	return in;
}

struct row {
	const char *what;
	void (*tweak)(struct policy_input *);
	enum smile_status status;
	enum smile_reason reason;
	int record, custody, reveal, suspend;
};

static void none(struct policy_input *in) { (void)in; }
static void revoked(struct policy_input *in) { in->device_status = SMILE_DEV_REVOKED; }
static void suspended(struct policy_input *in) { in->device_status = SMILE_DEV_SUSPENDED; }
static void hub_ofd(struct policy_input *in) { in->role = SMILE_DEV_HUB; }
static void hub_in(struct policy_input *in) { in->role = SMILE_DEV_HUB; in->event = SMILE_EVENT_HUB_IN; }
static void courier_hub_in(struct policy_input *in) { in->event = SMILE_EVENT_HUB_IN; }
static void delivered_already(struct policy_input *in) { in->shipment_status = "delivered"; }
static void returned_already(struct policy_input *in) { in->shipment_status = "returned"; }
static void pickup_not_holder(struct policy_input *in) { in->event = SMILE_EVENT_PICKUP; }
static void pickup_holder(struct policy_input *in) { in->event = SMILE_EVENT_PICKUP; in->holder = "c1"; }
static void deliver_not_holder(struct policy_input *in) { in->event = SMILE_EVENT_DELIVERED; }
static void deliver_holder(struct policy_input *in) { in->event = SMILE_EVENT_DELIVERED; in->holder = "c1"; }
static void failed(struct policy_input *in) { in->event = SMILE_EVENT_DELIVERY_FAILED; }
static void erased(struct policy_input *in) { in->erased = 1; }
static void in_zone(struct policy_input *in) { in->zone = "CN/湖北省/武汉市"; }
static void zone_slash(struct policy_input *in) { in->zone = "CN/湖北省/"; }
static void out_zone(struct policy_input *in) { in->zone = "CN/上海市"; }
static void prefix_not_segment(struct policy_input *in) { in->zone = "CN/湖北省/武汉"; }
static void under_quota(struct policy_input *in) { in->reveals_24h = 199; }
static void at_quota(struct policy_input *in) { in->reveals_24h = 200; }
static void zero_quota(struct policy_input *in) { in->quota = 0; }
static void supervisor_hub(struct policy_input *in) { in->role = SMILE_DEV_SUPERVISOR; in->event = SMILE_EVENT_HUB_IN; }
static void supervisor_deliver(struct policy_input *in) { in->role = SMILE_DEV_SUPERVISOR; in->event = SMILE_EVENT_DELIVERED; }

#define REC SMILE_STATUS_RECORDED
#define REV SMILE_STATUS_REVEALED
#define DEN SMILE_STATUS_DENIED

static const struct row table[] = {
	{"courier out_for_delivery", none, REV, SMILE_REASON_OK, 1, 1, 1, 0},
	{"revoked", revoked, DEN, SMILE_REASON_REVOKED, 0, 0, 0, 0},
	{"suspended", suspended, DEN, SMILE_REASON_SUSPENDED, 0, 0, 0, 0},
	{"hub may not send out_for_delivery", hub_ofd, DEN, SMILE_REASON_WRONG_ROLE, 0, 0, 0, 0},
	{"hub hub_in: recorded, never contact", hub_in, REC, SMILE_REASON_HUB_ROLE, 1, 1, 0, 0},
	{"courier may not send hub_in", courier_hub_in, DEN, SMILE_REASON_WRONG_ROLE, 0, 0, 0, 0},
	{"delivered is closed", delivered_already, DEN, SMILE_REASON_DELIVERED, 0, 0, 0, 0},
	{"returned is closed", returned_already, DEN, SMILE_REASON_RETURNED, 0, 0, 0, 0},
	{"pickup by non-holder: custody, no contact", pickup_not_holder, REC, SMILE_REASON_NOT_HOLDER, 1, 1, 0, 0},
	{"pickup by the holder", pickup_holder, REV, SMILE_REASON_OK, 1, 1, 1, 0},
	{"delivered by a non-holder courier", deliver_not_holder, DEN, SMILE_REASON_NOT_HOLDER, 0, 0, 0, 0},
	{"delivered by the holder", deliver_holder, REV, SMILE_REASON_OK, 1, 0, 1, 0},
	{"delivery_failed reveals", failed, REV, SMILE_REASON_OK, 1, 0, 1, 0},
	{"erased: recorded, no contact", erased, REC, SMILE_REASON_ERASED, 1, 1, 0, 0},
	{"inside the zone", in_zone, REV, SMILE_REASON_OK, 1, 1, 1, 0},
	{"zone with a trailing slash", zone_slash, REV, SMILE_REASON_OK, 1, 1, 1, 0},
	{"outside the zone", out_zone, REC, SMILE_REASON_OUT_OF_ZONE, 1, 1, 0, 0},
	{"a zone matches whole segments only", prefix_not_segment, REC, SMILE_REASON_OUT_OF_ZONE, 1, 1, 0, 0},
	{"one under quota", under_quota, REV, SMILE_REASON_OK, 1, 1, 1, 0},
	{"at quota: denied and suspended", at_quota, DEN, SMILE_REASON_QUOTA_EXCEEDED, 0, 0, 0, 1},
	{"quota 0 never reveals", zero_quota, DEN, SMILE_REASON_QUOTA_EXCEEDED, 0, 0, 0, 1},
	{"supervisor may send hub_in", supervisor_hub, REC, SMILE_REASON_NOT_HOLDER, 1, 1, 0, 0},
	{"supervisor may close a parcel it does not hold", supervisor_deliver, REC, SMILE_REASON_NOT_HOLDER, 1, 0, 0, 0},
};

static void decision_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct policy_input in = base();
		struct policy_decision d;
		table[i].tweak(&in);
		policy_decide(&in, &d);
		print_message("%s\n", table[i].what);
		assert_int_equal(d.status, table[i].status);
		assert_int_equal(d.reason, table[i].reason);
		assert_int_equal(d.record_event, table[i].record);
		assert_int_equal(d.custody, table[i].custody);
		assert_int_equal(d.reveal, table[i].reveal);
		assert_int_equal(d.suspend, table[i].suspend);
	}
}

static void roles_and_events(void **state)
{
	(void)state;
	for (int ev = SMILE_EVENT_FIRST; ev <= SMILE_EVENT_LAST; ev++) {
		assert_true(policy_event_allowed(SMILE_DEV_SUPERVISOR, (enum smile_event)ev));
		/* a hub never delivers; a courier never sorts */
		assert_int_equal(policy_event_allowed(SMILE_DEV_HUB, (enum smile_event)ev),
				 ev == SMILE_EVENT_HUB_IN || ev == SMILE_EVENT_HUB_OUT ||
					 ev == SMILE_EVENT_RETURNED);
		assert_int_equal(policy_event_allowed(SMILE_DEV_COURIER, (enum smile_event)ev),
				 ev != SMILE_EVENT_HUB_IN && ev != SMILE_EVENT_HUB_OUT);
	}
	assert_true(policy_in_zone("", "anything"));
	assert_true(policy_in_zone("CN", "CN/湖北省"));
	assert_false(policy_in_zone("CN/湖北", "CN/湖北省"));
	assert_false(policy_in_zone("CN/湖北省/武汉市/江汉区/x", "CN/湖北省/武汉市/江汉区"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(decision_table),
		cmocka_unit_test(roles_and_events),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
