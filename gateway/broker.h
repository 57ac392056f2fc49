/*
 * broker.h (gateway-internal) - mosquitto configuration for the relay.
 */
#ifndef SMILE_GATEWAY_BROKER_H
#define SMILE_GATEWAY_BROKER_H

#include "gateway.h"

/* Read-only MQTT user for merchant event feeds and alerts; its password is
 * DATA/mqtt-observer.password (made on first broker-config). */
#define BROKER_OBSERVER_USER "smile-observer"

/* Write OUTDIR/{mosquitto.conf,passwd,acl} for a broker listening on
 * listen:port. Revoked devices get no password. */
enum smile_err gateway_broker_config(struct gateway *g, const char *outdir, const char *listen,
				     int port, int *n_devices, struct smile_error *e)
	SMILE_MUST_CHECK;

/* One password-file line "user:$7$101$salt$hash\n" (mosquitto 2.0 format). */
void broker_password_line(const char *user, const char *password, char *out, size_t n);

#endif
