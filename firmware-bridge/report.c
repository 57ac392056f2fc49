/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report.c - format reply and notice lines.
 *
 * Every byte that comes from the gateway is either one of its enums turned
 * into our own static name, an id from the safe waybill charset (escaped
 * anyway), or JSON re-checked by jsoncheck.c: nothing in a reply can break
 * the line framing. Numbers and names are ours.
 */
#include "report.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "jsoncheck.h"

struct w {
	char *out;
	size_t cap, len;
	int overflow;
};

static void put(struct w *w, const char *s, size_t n)
{
	if (w->overflow || w->cap - w->len < n + 1) {
		w->overflow = 1;
		return;
	}
	memcpy(w->out + w->len, s, n);
	w->len += n;
	w->out[w->len] = '\0';
}

static void puts_(struct w *w, const char *s)
{
	put(w, s, strlen(s));
}

/* A JSON string from bytes: quote, escape ", \ and anything outside 0x20..0x7e. */
static void put_str(struct w *w, const char *s, size_t n)
{
	put(w, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(w, esc, 2);
		} else if (c < 0x20 || c > 0x7e) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(w, esc, 6);
		} else {
			put(w, (const char *)&c, 1);
		}
	}
	put(w, "\"", 1);
}

/* Append a compacted JSON object, or null (returns 0) when it is not one. */
static int put_object(struct w *w, const uint8_t *p, size_t n)
{
	size_t len;

	if (p == NULL || n == 0) {
		puts_(w, "null");
		return 1;
	}
	if (w->overflow || w->cap - w->len < n + 1) {
		w->overflow = 1;
		return 1;
	}
	if (bridge_json_compact_object(p, n, w->out + w->len, w->cap - w->len - 1, &len) !=
	    SMILE_OK) {
		puts_(w, "null");
		return 0;
	}
	w->len += len;
	w->out[w->len] = '\0';
	return 1;
}

enum smile_err bridge_report_reply(const struct smile_reply *r, enum smile_event event,
				   const uint8_t *contact, size_t contact_len, char *out, size_t cap,
				   size_t *len, int *flags)
{
	struct w w = {.out = out, .cap = cap};
	char num[32];
	int f = 0;

	*len = 0;
	if (flags)
		*flags = 0;
	if (cap == 0)
		return SMILE_ERR_BUFFER_SMALL;
	out[0] = '\0';
	snprintf(num, sizeof(num), "%" PRIu64, r->seq);
	puts_(&w, "{\"seq\":");
	puts_(&w, num);
	puts_(&w, ",\"waybill\":");
	if (r->waybill_len > 0)
		put_str(&w, r->waybill, r->waybill_len);
	else
		puts_(&w, "null");
	puts_(&w, ",\"status\":\"");
	puts_(&w, smile_proto_status_name(r->status));
	puts_(&w, "\",\"reason\":\"");
	puts_(&w, smile_proto_reason_name(r->reason));
	puts_(&w, "\",\"event\":\"");
	puts_(&w, smile_proto_event_name(event));
	puts_(&w, "\",\"masked\":");
	if (!put_object(&w, r->masked, r->masked_len))
		f |= BRIDGE_REPORT_MASKED_BAD;
	if (r->status == SMILE_STATUS_REVEALED) {
		puts_(&w, ",\"contact\":");
		if (!put_object(&w, contact, contact_len))
			f |= BRIDGE_REPORT_CONTACT_BAD;
	}
	puts_(&w, "}\n");
	if (w.overflow) {
		sodium_memzero(out, cap);
		return SMILE_ERR_BUFFER_SMALL;
	}
	if (flags)
		*flags = f;
	*len = w.len;
	return SMILE_OK;
}

size_t bridge_report_mode(char *out, size_t cap, enum smile_event event)
{
	int n = snprintf(out, cap, "{\"notice\":\"mode\",\"event\":\"%s\"}\n",
			 smile_proto_event_name(event));
	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

size_t bridge_report_queued(char *out, size_t cap, size_t queued)
{
	int n = snprintf(out, cap, "{\"notice\":\"queued\",\"queued\":%zu}\n", queued);
	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

size_t bridge_report_refused(char *out, size_t cap, const char *reason, long queued,
			     const char *message)
{
	struct w w = {.out = out, .cap = cap};
	char num[32];

	if (cap == 0)
		return 0;
	out[0] = '\0';
	puts_(&w, "{\"notice\":\"refused\",\"reason\":");
	put_str(&w, reason, strlen(reason));
	if (queued >= 0) {
		snprintf(num, sizeof(num), "%ld", queued);
		puts_(&w, ",\"queued\":");
		puts_(&w, num);
	}
	puts_(&w, ",\"message\":");
	put_str(&w, message, strlen(message));
	puts_(&w, "}\n");
	return w.overflow ? 0 : w.len;
}
