/* SPDX-License-Identifier: Apache-2.0 */
/*
 * broker.h (gateway-internal) - mosquitto configuration for the relay.
 */
#ifndef SMILE_GATEWAY_BROKER_H
#define SMILE_GATEWAY_BROKER_H

#include "gateway.h"

/* Read-only MQTT user for merchant event feeds and alerts; its password is
 * DATA/mqtt-observer.password (made on first broker-config). */
#define BROKER_OBSERVER_USER "smile-observer"

/* Broker user names no device may take: the gateway's own MQTT user name,
 * the observer, and every name starting with BROKER_RESERVED_PREFIX in any
 * case (room for future service accounts). mosquitto 2.0.11 lets the last
 * of two password lines for one user win, so a device named like a service
 * account would take over that login. */
#define BROKER_RESERVED_PREFIX "smile-"
int broker_user_reserved(const struct gateway *g, const char *id);

/* The user mosquitto runs as when started as root ("mosquitto" when that
 * account exists): broker-config, run as root, gives it the files it
 * writes and names it in a `user` line. */
#define BROKER_RUN_USER "mosquitto"

/* Write OUTDIR/{mosquitto.conf,passwd,acl} for a broker listening on
 * listen:port. Revoked devices get no password. */
enum smile_err gateway_broker_config(struct gateway *g, const char *outdir, const char *listen,
				     int port, int *n_devices, struct smile_error *e)
	SMILE_MUST_CHECK;

/* One password-file line "user:$7$101$salt$hash\n" (mosquitto 2.0 format). */
void broker_password_line(const char *user, const char *password, char *out, size_t n);

#endif
