/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_httpcheck.c - libFuzzer target for the gateway's strict HTTP checks
 * (gateway/httpcheck.h): the raw request target, header names, numbers and
 * the `since` parameter, all of which see bytes straight off the network.
 *
 * Any NUL-terminated input must give either acceptance or a fixed, printable
 * message (the messages are literals: they cannot quote it); an accepted target must not decode to a
 * NUL or a slash inside a segment; accepted numbers are in range.
 *
 *   make fuzz CC=clang && build/fuzz/fuzz_httpcheck -max_total_time=60
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/httpcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	const char *part = NULL, *why;
	uint64_t v;
	int64_t ms;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	why = httpcheck_target(s, &part);
	if (why) {
		if (strcmp(part, "path") != 0 && strcmp(part, "query") != 0)
			abort();
		for (const char *m = why; *m; m++)
			if (*m < 0x20 || *m > 0x7e)
				abort(); /* fixed printable messages, never input bytes */
	} else {
		/* accepted: no escape in the path decodes to NUL or '/' */
		const char *q = strchr(s, '?');
		size_t n = q ? (size_t)(q - s) : strlen(s);
		for (size_t i = 0; i + 2 < n; i++)
			if (s[i] == '%' && s[i + 1] == '0' && s[i + 2] == '0')
				abort();
		if (strstr(s, "%2F") && (q == NULL || strstr(s, "%2F") < q))
			abort();
	}
	(void)httpcheck_token(s);
	if (httpcheck_uint(s, 1, 10000, &v) && (v < 1 || v > 10000))
		abort();
	if (httpcheck_since(s, &ms) && (ms < 0 || ms > HTTPCHECK_SINCE_MAX_MS))
		abort();
	free(s);
	return 0;
}
