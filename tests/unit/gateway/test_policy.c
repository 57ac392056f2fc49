/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The reveal policy against its specification.
 *
 * The table of docs/protocol.md section 7.4 (between the reveal-policy
 * markers) is this test's data: it is read from the page, and policy_decide
 * is checked against it on every combination of the facts the table speaks
 * of (device standing, role, event, shipment state, custody, erasure, zone,
 * quota): the first matching row must give the same status and reason, and
 * the effects must follow from them as the page says. A row the code
 * disagrees with, a combination no row covers, or a row that never matches
 * fails the test. So the page and the code cannot drift apart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../gateway/policy.h"

/* ------------------------------------------------------- the facts */

enum fact { F_DEVICE, F_ROLE, F_EVENT, F_SHIPMENT, F_HOLDS, F_DATA, F_ZONE, F_QUOTA, F_N };

static const char *const device_v[] = {"active", "suspended", "revoked", NULL};
static const char *const role_v[] = {"courier", "hub", "supervisor", NULL};
static const char *const event_v[] = {"pickup",          "hub_in",    "hub_out",  "out_for_delivery",
				      "delivery_failed", "delivered", "returned", NULL};
static const char *const shipment_v[] = {"open", "delivered", "returned", NULL};
static const char *const yesno_v[] = {"yes", "no", NULL};
static const char *const data_v[] = {"held", "erased", NULL};
static const char *const zone_v[] = {"in", "out", NULL};
static const char *const quota_v[] = {"under", "reached", NULL};
static const char *const *const values[F_N] = {device_v, role_v,  event_v, shipment_v,
					       yesno_v,  data_v,  zone_v,  quota_v};

static int n_values(enum fact f)
{
	int n = 0;
	while (values[f][n])
		n++;
	return n;
}

/* ------------------------------------------------------- the page's table */

#define MAX_ROWS 64

struct rule {
	int num;
	unsigned match[F_N]; /* bit i: values[f][i] matches */
	enum smile_status status;
	enum smile_reason reason;
	int used;
};

static char *trim(char *s)
{
	size_t n;
	while (*s == ' ')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

/* "*" or "a, b, c" -> bit set over values[f]; aborts the test on a word the
 * table should not contain. */
static unsigned parse_set(enum fact f, char *cell)
{
	unsigned set = 0;
	char *save = NULL;
	if (strcmp(cell, "*") == 0)
		return (1u << n_values(f)) - 1;
	for (char *w = strtok_r(cell, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		int i, found = 0;
		w = trim(w);
		for (i = 0; values[f][i]; i++)
			if (strcmp(values[f][i], w) == 0) {
				set |= 1u << i;
				found = 1;
			}
		if (!found)
			fail_msg("policy table: '%s' is not a value of column %d", w, (int)f + 2);
	}
	return set;
}

static FILE *open_doc(void)
{
	char path[4096];
	const char *root = getenv("SMILE_ROOT");
	FILE *f = NULL;

	if (root != NULL) {
		snprintf(path, sizeof(path), "%s/docs/protocol.md", root);
		f = fopen(path, "r");
	}
	if (f == NULL)
		f = fopen("docs/protocol.md", "r");
	if (f == NULL) { /* __FILE__ is tests/unit/gateway/test_policy.c from the root */
		snprintf(path, sizeof(path), "%s", __FILE__);
		char *cut = strstr(path, "tests/unit/gateway/");
		if (cut != NULL) {
			snprintf(cut, sizeof(path) - (size_t)(cut - path), "docs/protocol.md");
			f = fopen(path, "r");
		}
	}
	return f;
}

static int load_rules(struct rule *rules)
{
	char line[2048];
	int in_table = 0, n = 0;
	FILE *f = open_doc();

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *c[F_N + 3], *s = line, *bar;
		int nc = 0;
		if (strncmp(line, "<!-- BEGIN reveal-policy", 24) == 0) {
			in_table = 1;
			continue;
		}
		if (strncmp(line, "<!-- END reveal-policy", 22) == 0)
			break;
		if (!in_table || line[0] != '|' || !(line[2] >= '0' && line[2] <= '9'))
			continue;
		/* | # | device | role | event | shipment | holds | data | zone | quota | status | reason | */
		s++;
		while (nc < F_N + 3 && (bar = strchr(s, '|')) != NULL) {
			*bar = '\0';
			c[nc++] = trim(s);
			s = bar + 1;
		}
		assert_int_equal(nc, F_N + 3);
		assert_true(n < MAX_ROWS);
		rules[n].num = (int)strtol(c[0], NULL, 10);
		assert_int_equal(rules[n].num, n + 1); /* no row skipped by the parser */
		for (int k = 0; k < F_N; k++)
			rules[n].match[k] = parse_set((enum fact)k, c[k + 1]);
		if (smile_proto_status_from_name(c[F_N + 1], &rules[n].status) != SMILE_OK)
			fail_msg("policy table row %d: unknown status '%s'", n + 1, c[F_N + 1]);
		if (smile_proto_reason_from_name(c[F_N + 2], &rules[n].reason) != SMILE_OK)
			fail_msg("policy table row %d: unknown reason '%s'", n + 1, c[F_N + 2]);
		rules[n].used = 0;
		n++;
	}
	fclose(f);
	return n;
}

/* ------------------------------------------------------- facts -> input */

static struct policy_input input_of(const int v[F_N])
{
	static const enum smile_device_status st[] = {SMILE_DEV_ACTIVE, SMILE_DEV_SUSPENDED,
						      SMILE_DEV_REVOKED};
	static const enum smile_device_role roles[] = {SMILE_DEV_COURIER, SMILE_DEV_HUB,
						       SMILE_DEV_SUPERVISOR};
	static const enum smile_shipment_status ship[] = {
		SMILE_SHIPMENT_HUB_OUT, SMILE_SHIPMENT_DELIVERED, SMILE_SHIPMENT_RETURNED};
	struct policy_input in = {
		.device_id = "c1",
		.role = roles[v[F_ROLE]],
		.device_status = st[v[F_DEVICE]],
		/* in: the device's zone holds the destination; out: it does not */
		.zone = v[F_ZONE] == 0 ? "CN/湖北省/武汉市" : "CN/上海市",
		.event = (enum smile_event)(SMILE_EVENT_FIRST + v[F_EVENT]),
		.shipment_status = ship[v[F_SHIPMENT]],
		.holder = v[F_HOLDS] == 0 ? "c1" : "c2",
		.region = "CN/湖北省/武汉市/江汉区",
		.erased = v[F_DATA] == 1,
		.reveals_24h = v[F_QUOTA] == 0 ? 199 : 200,
		.quota = 200,
	};
	return in;
}

static void the_page_table_is_the_policy(void **state)
{
	struct rule rules[MAX_ROWS];
	int n = load_rules(rules), v[F_N] = {0}, combos = 0, bad = 0;
	(void)state;

	assert_true(n >= 10);
	for (;;) {
		struct policy_input in = input_of(v);
		struct policy_decision d;
		const struct rule *r = NULL;

		for (int i = 0; i < n && r == NULL; i++) {
			int all = 1;
			for (int k = 0; k < F_N; k++)
				all &= (rules[i].match[k] >> v[k]) & 1u;
			if (all) {
				r = &rules[i];
				rules[i].used = 1;
			}
		}
		policy_decide(&in, &d);
		combos++;
		if (r == NULL) {
			print_message("no row of the table covers: %s %s %s %s holds=%s %s zone=%s "
				      "quota=%s\n",
				      device_v[v[0]], role_v[v[1]], event_v[v[2]], shipment_v[v[3]],
				      yesno_v[v[4]], data_v[v[5]], zone_v[v[6]], quota_v[v[7]]);
			bad++;
		} else {
			int recorded = r->status == SMILE_STATUS_REVEALED ||
				       r->status == SMILE_STATUS_RECORDED;
			int custody = recorded && smile_proto_event_is_custody(in.event);
			if (d.status != r->status || d.reason != r->reason ||
			    d.record_event != recorded || d.custody != custody ||
			    d.reveal != (r->status == SMILE_STATUS_REVEALED) ||
			    d.suspend != (r->reason == SMILE_REASON_QUOTA_EXCEEDED)) {
				if (bad < 20)
					print_message(
						"row %d: %s %s %s %s holds=%s %s zone=%s quota=%s: page "
						"says %s/%s, code says %s/%s (record %d custody %d "
						"reveal %d suspend %d)\n",
						r->num, device_v[v[0]], role_v[v[1]], event_v[v[2]],
						shipment_v[v[3]], yesno_v[v[4]], data_v[v[5]],
						zone_v[v[6]], quota_v[v[7]],
						smile_proto_status_name(r->status),
						smile_proto_reason_name(r->reason),
						smile_proto_status_name(d.status),
						smile_proto_reason_name(d.reason), d.record_event,
						d.custody, d.reveal, d.suspend);
				bad++;
			}
		}
		/* next combination */
		int k = 0;
		while (k < F_N && ++v[k] == n_values((enum fact)k))
			v[k++] = 0;
		if (k == F_N)
			break;
	}
	for (int i = 0; i < n; i++)
		if (!rules[i].used) {
			print_message("row %d never applies (shadowed by the rows above it)\n",
				      rules[i].num);
			bad++;
		}
	print_message("docs/protocol.md 7.4: %d rows, %d combinations, %d mismatches\n", n,
		      combos, bad);
	assert_int_equal(combos, 3 * 3 * 7 * 3 * 2 * 2 * 2 * 2);
	assert_int_equal(bad, 0);
}

/* The three cases that were wrong before the table, spelled out. */
static void custody_cases(void **state)
{
	struct policy_decision d;
	int v[F_N] = {0};
	(void)state;

	/* a courier's pickup of a parcel someone else holds: it takes custody,
	 * recorded, no contact (pickup needs none) */
	v[F_EVENT] = SMILE_EVENT_PICKUP - 1;
	v[F_HOLDS] = 1;
	struct policy_input in = input_of(v);
	policy_decide(&in, &d);
	assert_int_equal(d.status, SMILE_STATUS_RECORDED);
	assert_int_equal(d.reason, SMILE_REASON_OK);
	assert_true(d.custody && d.record_event && !d.reveal);

	/* a non-holder's delivered: refused, nothing recorded */
	v[F_EVENT] = SMILE_EVENT_DELIVERED - 1;
	in = input_of(v);
	policy_decide(&in, &d);
	assert_int_equal(d.status, SMILE_STATUS_DENIED);
	assert_int_equal(d.reason, SMILE_REASON_NOT_HOLDER);
	assert_false(d.record_event);

	/* a non-holder's delivery_failed: recorded, but never the contact */
	v[F_EVENT] = SMILE_EVENT_DELIVERY_FAILED - 1;
	in = input_of(v);
	policy_decide(&in, &d);
	assert_int_equal(d.status, SMILE_STATUS_RECORDED);
	assert_int_equal(d.reason, SMILE_REASON_NOT_HOLDER);
	assert_false(d.reveal);
	assert_false(d.custody);

	/* ... and the holder's does reveal */
	v[F_HOLDS] = 0;
	in = input_of(v);
	policy_decide(&in, &d);
	assert_int_equal(d.status, SMILE_STATUS_REVEALED);
	assert_true(d.reveal);

	/* nobody holds it yet: still not the holder */
	v[F_HOLDS] = 1;
	in = input_of(v);
	in.holder = "";
	policy_decide(&in, &d);
	assert_int_equal(d.reason, SMILE_REASON_NOT_HOLDER);
	assert_false(d.reveal);
}

/* protocol.md 7.4: a print station's scans are denied wrong_role after rows
 * 1 and 2, whatever the other facts. */
static void print_station_sends_nothing(void **state)
{
	int v[F_N] = {0};
	(void)state;
	for (int ev = SMILE_EVENT_FIRST; ev <= SMILE_EVENT_LAST; ev++) {
		struct policy_input in = input_of(v);
		struct policy_decision d;
		assert_false(policy_event_allowed(SMILE_DEV_PRINT_STATION, (enum smile_event)ev));
		in.role = SMILE_DEV_PRINT_STATION;
		in.event = (enum smile_event)ev;
		in.shipment_status = ev % 2 ? SMILE_SHIPMENT_DELIVERED : SMILE_SHIPMENT_HUB_OUT;
		policy_decide(&in, &d);
		assert_int_equal(d.status, SMILE_STATUS_DENIED);
		assert_int_equal(d.reason, SMILE_REASON_WRONG_ROLE);
		in.device_status = SMILE_DEV_SUSPENDED;
		policy_decide(&in, &d);
		assert_int_equal(d.reason, SMILE_REASON_SUSPENDED);
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
	assert_true(policy_in_zone("CN/湖北省/", "CN/湖北省/武汉市"));
	assert_false(policy_in_zone("CN/湖北", "CN/湖北省"));
	assert_false(policy_in_zone("CN/湖北省/武汉市/江汉区/x", "CN/湖北省/武汉市/江汉区"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_page_table_is_the_policy),
		cmocka_unit_test(custody_cases),
		cmocka_unit_test(roles_and_events),
		cmocka_unit_test(print_station_sends_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
