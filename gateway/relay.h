/* SPDX-License-Identifier: Apache-2.0 */
/*
 * relay.h (gateway-internal) - the MQTT scan relay (docs/protocol.md).
 */
#ifndef SMILE_GATEWAY_RELAY_H
#define SMILE_GATEWAY_RELAY_H

#include "gateway.h"

struct relay;

/* Start workers and the MQTT client when cfg.mqtt_host is set (*out stays
 * NULL when it is not: relay off). A broker that is down is retried in the
 * background. SMILE_ERR_CONFIG (password or TLS files), SMILE_ERR_MQTT,
 * SMILE_ERR_NOMEM. */
enum smile_err relay_start(struct gateway *g, struct relay **out, struct smile_error *e)
	SMILE_MUST_CHECK;
/* Disconnect, finish queued scans, stop. NULL is a no-op. */
void relay_stop(struct relay *r);
/* Connected and subscribed right now? */
int relay_connected(const struct relay *r);

#endif
