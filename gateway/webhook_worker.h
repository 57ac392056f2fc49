/* SPDX-License-Identifier: Apache-2.0 */
/*
 * webhook_worker.h (gateway-internal) - delivering the webhook outbox
 * (store.h, "webhooks") over HTTP(S), and the one-off test send.
 */
#ifndef SMILE_GATEWAY_WEBHOOK_WORKER_H
#define SMILE_GATEWAY_WEBHOOK_WORKER_H

#include "smile/error.h"
#include "store.h"

struct gateway;
struct webhook_worker;

/* Start the delivery thread of this node (serve). SMILE_ERR_NOMEM,
 * SMILE_ERR_INVALID (curl cannot start), SMILE_ERR_CONFIG (allow list). */
enum smile_err webhook_worker_start(struct gateway *g, struct webhook_worker **out,
				    struct smile_error *e) SMILE_MUST_CHECK;
/* Stop it at once: requests in flight are abandoned, recorded as
 * "interrupted" attempts due again now (a node killed instead leaves its
 * leases to run out); any node sends them again: at least once. The store
 * must still be open. NULL is a no-op. */
void webhook_worker_stop(struct webhook_worker *w);

/* What one attempt got. */
struct webhook_result {
	int status;                          /* HTTP status, 0: no answer */
	char error[SMILE_STORE_STATUS_MAX];  /* "" or timeout, connect, resolve,
					      * address_refused, transport, http_status */
	long ms;                             /* how long it took */
};

/* POST a test event ({"v":1,"type":"test","event_id":...}) to endpoint
 * `wh` now, signed like every delivery, under the same rules (timeouts,
 * address rule, no redirects), waiting for the answer. `event_id` gets the
 * id sent. SMILE_OK (whatever the answer: see *out), SMILE_ERR_DECRYPT (the
 * secret does not open), SMILE_ERR_NOMEM. */
#define WEBHOOK_TEST_ID_MAX 48
enum smile_err webhook_send_test(struct gateway *g, const struct smile_store_webhook *wh,
				 char event_id[WEBHOOK_TEST_ID_MAX], struct webhook_result *out)
	SMILE_MUST_CHECK;

#endif
