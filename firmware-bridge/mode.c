/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mode.c - recognise mode barcodes. Lower-cases the name and maps '-' to
 * '_' so it can be looked up with smile_proto_event_from_name(): the event
 * names stay defined in one place (the protocol module).
 */
#include "mode.h"

#include <string.h>

int bridge_mode_parse(const char *code, size_t len, enum smile_event *event)
{
	const size_t pl = sizeof(BRIDGE_MODE_PREFIX) - 1;
	char name[32];
	size_t n;

	if (len < pl)
		return 0;
	for (size_t i = 0; i < pl; i++) {
		char c = code[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c != BRIDGE_MODE_PREFIX[i])
			return 0;
	}
	n = len - pl;
	if (n == 0 || n >= sizeof(name))
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = code[pl + i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		else if (c == '-')
			c = '_';
		if (!((c >= 'a' && c <= 'z') || c == '_'))
			return -1;
		name[i] = c;
	}
	name[n] = '\0';
	return smile_proto_event_from_name(name, event) == SMILE_OK ? 1 : -1;
}
