/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hostport.c - "HOST:PORT" split with checks, for every address setting.
 *
 * The port is whatever follows the last ':', so an unbracketed IPv6 address
 * is refused rather than guessed at ("::1" has no port). Messages describe
 * the input, never echo it.
 */
#include "smile/hostport.h"

#include <string.h>

enum smile_err smile_hostport_parse(const char *s, unsigned flags, const char *field,
				    char *host, size_t host_cap, uint16_t *port,
				    struct smile_error *e)
{
	const char *colon, *h, *p;
	size_t hlen;
	unsigned long v = 0;

	if (host != NULL && host_cap > 0)
		host[0] = '\0';
	if (port != NULL)
		*port = 0;
	if (s == NULL || host == NULL || host_cap == 0 || port == NULL)
		return smile_error_set(e, SMILE_ERR_INVALID, field, "no address or no buffer");
	colon = strrchr(s, ':');
	if (colon == NULL)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, field,
				       "expected host:port, found no ':'");
	h = s;
	hlen = (size_t)(colon - s);
	if (hlen > 0 && s[0] == '[') {
		if (s[hlen - 1] != ']' || hlen < 2)
			return smile_error_set(e, SMILE_ERR_FIELD_VALUE, field,
					       "'[' without ']' before the port");
		h = s + 1;
		hlen -= 2;
	} else if (memchr(s, ':', hlen) != NULL) {
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, field,
				       "an IPv6 host must be in brackets: [host]:port");
	} else if (memchr(s, ']', hlen) != NULL || memchr(s, '[', hlen) != NULL) {
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, field,
				       "']' without '[' in the host");
	}
	if (hlen == 0)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, field, "empty host before ':'");
	p = colon + 1;
	if (*p == '\0')
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, field, "empty port after ':'");
	for (const char *c = p; *c; c++) {
		if (*c < '0' || *c > '9')
			return smile_error_set(e, SMILE_ERR_FIELD_VALUE, field,
					       "port must be decimal digits");
		v = v * 10 + (unsigned long)(*c - '0');
		if (v > 65535)
			return smile_error_set(e, SMILE_ERR_FIELD_VALUE, field,
					       "port must be at most 65535");
	}
	if (v == 0 && !(flags & SMILE_HOSTPORT_PORT0))
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, field, "port must be 1-65535");
	if (hlen >= host_cap)
		return smile_error_set(e, SMILE_ERR_TOO_LARGE, field,
				       "host is %zu bytes, at most %zu fit", hlen, host_cap - 1);
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (uint16_t)v;
	return SMILE_OK;
}
