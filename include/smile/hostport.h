/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hostport.h - parse "HOST:PORT" (listen addresses, broker addresses).
 */
#ifndef SMILE_HOSTPORT_H
#define SMILE_HOSTPORT_H

#include <stddef.h>
#include <stdint.h>

#include "smile/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Flags for smile_hostport_parse. */
#define SMILE_HOSTPORT_PORT0 1u /* accept port 0 ("any free port", for listeners) */

/*
 * Split `s` ("127.0.0.1:8080", "localhost:1883", "[::1]:8443") into its host,
 * copied NUL-terminated into host[0..host_cap), and its port (decimal
 * digits only, 1-65535, or 0-65535 with SMILE_HOSTPORT_PORT0). The port is
 * after the last ':'; an IPv6 host is written in brackets, which are removed.
 * The host is not resolved or otherwise checked. `field` names the setting in
 * errors (e.g. "listen"); on error host is "" and *port 0.
 * Returns:
 *   SMILE_OK
 *   SMILE_ERR_INVALID       s, host or port NULL, or host_cap 0
 *   SMILE_ERR_FIELD_VALUE   no ':', an empty host or port, a port with a
 *                           non-digit or out of range, unbalanced brackets
 *                           (the message says which)
 *   SMILE_ERR_TOO_LARGE     the host does not fit host_cap
 */
enum smile_err smile_hostport_parse(const char *s, unsigned flags, const char *field,
				    char *host, size_t host_cap, uint16_t *port,
				    struct smile_error *e) SMILE_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
