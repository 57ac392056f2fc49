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
/* Publish a print job's message on smile/v1/dev/{station}/job, QoS 1.
 * 1 when handed to libmosquitto, 0 otherwise (r NULL: relay off; the job
 * stays queued in the store and is published again when a relay connects). */
int relay_publish_job(struct relay *r, const char *station, const uint8_t *msg, size_t len);

#endif
