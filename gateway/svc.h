/*
 * svc.h (gateway-internal) - the service layer: the gateway's rules, called
 * by every door (HTTP handlers, CLI commands, the retention job).
 */
#ifndef SMILE_GATEWAY_SVC_H
#define SMILE_GATEWAY_SVC_H

#include <jansson.h>

#include "gateway.h"

/* One shipment prepared for the store, with everything it owns. */
struct issued {
	struct smile_store_shipment row;
	struct smile_store_personal personal;
	struct smile_store_idem idem;
	json_t *response; /* the 201 body */
	int has_idem;
};

void issued_release(struct issued *it);

/* Validate, mask, mint, seal: everything but the write. */
enum smile_err issue_prepare(struct gateway *g, const struct smile_store_apikey *k, json_t *obj,
			     struct issued *it, struct smile_error *e) SMILE_MUST_CHECK;

#endif
