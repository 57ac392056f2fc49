/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proto.c - the scan/reply wire codec (docs/protocol.md), shared by the
 * gateway and the device core.
 *
 * The one idea: signatures and encryption cover the exact bytes that travel.
 * Encoders compute the whole size first, refuse a small buffer before writing
 * anything, then write big-endian fields in order and sign everything written
 * so far; decoders walk the same fields with a bounds check before every read
 * and accept nothing that the encoder could not have produced (ranges,
 * charsets, reserved bits, exact total length), so one message has one
 * meaning. The reply's contact details are sealed with the reply header as
 * associated data, binding them to this device, this scan and this status.
 *
 * C99, no heap, no I/O; libsodium only.
 */
#include <string.h>

#include <sodium.h>

#include "smile/proto.h"

#include "core_internal.h"

/* ------------------------------------------------------------ errors */

static void copy_text(char *dst, size_t cap, const char *src)
{
	size_t i = 0;

	if (src)
		for (; i + 1 < cap && src[i] != '\0'; i++)
			dst[i] = src[i];
	dst[i] = '\0';
}

enum smile_err smile_core_fail(struct smile_error *e, enum smile_err code, const char *field,
			       const char *msg)
{
	if (e) {
		e->code = code;
		copy_text(e->field, sizeof(e->field), field);
		copy_text(e->message, sizeof(e->message), msg);
	}
	return code;
}

#define FAIL(code, field, msg) smile_core_fail(e, (code), (field), (msg))

/* ------------------------------------------------------------ bytes */

static void put_u16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put_u64(uint8_t *p, uint64_t v)
{
	put_u32(p, (uint32_t)(v >> 32));
	put_u32(p + 4, (uint32_t)v);
}

static unsigned get_u16(const uint8_t *p)
{
	return ((unsigned)p[0] << 8) | p[1];
}

static uint32_t get_u32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t get_u64(const uint8_t *p)
{
	return ((uint64_t)get_u32(p) << 32) | get_u32(p + 4);
}

/* Two's complement i32 <-> u32 without implementation-defined conversions. */
static uint32_t i32_to_wire(int32_t v)
{
	return v < 0 ? (uint32_t)(-(v + 1)) ^ 0xffffffffu : (uint32_t)v;
}

static int32_t wire_to_i32(uint32_t u)
{
	return u > 0x7fffffffu ? -(int32_t)(u ^ 0xffffffffu) - 1 : (int32_t)u;
}

/* A cursor over a message being decoded. */
struct rd {
	const uint8_t *p;
	size_t len;
	size_t off;
};

static int rd_has(const struct rd *r, size_t n)
{
	return r->len - r->off >= n;
}

/* ------------------------------------------------------------ charsets */

static int id_char(unsigned c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

int smile_core_chars_ok(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!id_char((unsigned char)p[i]))
			return 0;
	return 1;
}

int smile_proto_id_valid(const char *p, size_t n)
{
	return p != NULL && n >= 1 && n <= SMILE_PROTO_ID_MAX && smile_core_chars_ok(p, n);
}

static int token_ok(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return 0;
	return 1;
}

static int waybill_ok(const char *p, size_t n)
{
	return n <= SMILE_PROTO_WAYBILL_MAX && (n == 0 || (p != NULL && smile_core_chars_ok(p, n)));
}

static int location_ok(const struct smile_location *l)
{
	return l->lat_e6 >= -90000000L && l->lat_e6 <= 90000000L && l->lon_e6 >= -180000000L &&
	       l->lon_e6 <= 180000000L;
}

/* ------------------------------------------------------------ names */

static const char *const event_names[] = {NULL, "pickup", "hub_in", "hub_out",
					  "out_for_delivery", "delivery_failed", "delivered",
					  "returned"};

static const char *const status_names[] = {NULL, "revealed", "recorded", "denied", "error"};

static const char *const reason_names[] = {
	"ok", "hub_role", "wrong_role", "not_holder", "out_of_zone", "suspended", "revoked",
	"unknown_device", "bad_signature", "replay", "stale", "token_malformed",
	"token_tampered", "token_unknown_key", "token_version", "token_truncated",
	"unknown_shipment", "erased", "delivered", "returned", "quota_exceeded", "bad_message",
	"wrong_topic", "protocol_version", "busy", "internal"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *name_of(const char *const *tab, size_t n, int v)
{
	if (v < 0 || (size_t)v >= n || tab[v] == NULL)
		return "unknown";
	return tab[v];
}

static int index_of(const char *const *tab, size_t n, const char *name)
{
	size_t i;

	if (name == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (tab[i] != NULL && strcmp(tab[i], name) == 0)
			return (int)i;
	return -1;
}

const char *smile_proto_event_name(int event)
{
	return name_of(event_names, COUNT(event_names), event);
}

const char *smile_proto_status_name(int status)
{
	return name_of(status_names, COUNT(status_names), status);
}

const char *smile_proto_reason_name(int reason)
{
	return name_of(reason_names, COUNT(reason_names), reason);
}

enum smile_err smile_proto_event_from_name(const char *name, enum smile_event *out)
{
	int i = index_of(event_names, COUNT(event_names), name);

	if (i < 0)
		return SMILE_ERR_NOT_FOUND;
	*out = (enum smile_event)i;
	return SMILE_OK;
}

enum smile_err smile_proto_status_from_name(const char *name, enum smile_status *out)
{
	int i = index_of(status_names, COUNT(status_names), name);

	if (i < 0)
		return SMILE_ERR_NOT_FOUND;
	*out = (enum smile_status)i;
	return SMILE_OK;
}

enum smile_err smile_proto_reason_from_name(const char *name, enum smile_reason *out)
{
	int i = index_of(reason_names, COUNT(reason_names), name);

	if (i < 0)
		return SMILE_ERR_NOT_FOUND;
	*out = (enum smile_reason)i;
	return SMILE_OK;
}

int smile_proto_event_is_custody(int event)
{
	return event == SMILE_EVENT_PICKUP || event == SMILE_EVENT_HUB_IN ||
	       event == SMILE_EVENT_OUT_FOR_DELIVERY;
}

enum smile_reason smile_proto_reason_from_err(enum smile_err err)
{
	switch (err) {
	case SMILE_OK: return SMILE_REASON_OK;
	case SMILE_ERR_BAD_SIGNATURE: return SMILE_REASON_BAD_SIGNATURE;
	case SMILE_ERR_TOKEN_MALFORMED: return SMILE_REASON_TOKEN_MALFORMED;
	case SMILE_ERR_TOKEN_VERSION: return SMILE_REASON_TOKEN_VERSION;
	case SMILE_ERR_TOKEN_TRUNCATED: return SMILE_REASON_TOKEN_TRUNCATED;
	case SMILE_ERR_TOKEN_UNKNOWN_KEY: return SMILE_REASON_TOKEN_UNKNOWN_KEY;
	case SMILE_ERR_TOKEN_TAMPERED: return SMILE_REASON_TOKEN_TAMPERED;
	case SMILE_ERR_STALE: return SMILE_REASON_STALE;
	case SMILE_ERR_REPLAY: return SMILE_REASON_REPLAY;
	case SMILE_ERR_PROTO: return SMILE_REASON_BAD_MESSAGE;
	case SMILE_ERR_TOO_LARGE: return SMILE_REASON_BAD_MESSAGE;
	case SMILE_ERR_PROTO_VERSION: return SMILE_REASON_PROTOCOL_VERSION;
	case SMILE_ERR_DEVICE_UNKNOWN: return SMILE_REASON_UNKNOWN_DEVICE;
	case SMILE_ERR_QUOTA: return SMILE_REASON_QUOTA_EXCEEDED;
	case SMILE_ERR_SHREDDED: return SMILE_REASON_ERASED;
	case SMILE_ERR_NOT_FOUND: return SMILE_REASON_UNKNOWN_SHIPMENT;
	case SMILE_ERR_BUSY: return SMILE_REASON_BUSY;
	case SMILE_ERR_QUEUE_FULL: return SMILE_REASON_BUSY;
	default: return SMILE_REASON_INTERNAL;
	}
}

/* ------------------------------------------------------------ small helpers */

enum smile_err smile_proto_init(void)
{
	return sodium_init() < 0 ? SMILE_ERR_CRYPTO : SMILE_OK;
}

enum smile_err smile_proto_id_copy(const char *p, size_t n, char out[SMILE_PROTO_ID_MAX + 1])
{
	out[0] = '\0';
	if (!smile_proto_id_valid(p, n))
		return SMILE_ERR_INVALID;
	memcpy(out, p, n);
	out[n] = '\0';
	return SMILE_OK;
}

#define PREFIX_LEN (sizeof(SMILE_PROTO_TOPIC_PREFIX) - 1)

enum smile_err smile_proto_topic(char *out, size_t cap, const char *device_id,
				 enum smile_topic kind)
{
	const char *tail;
	size_t idn, tn;

	if (out == NULL || device_id == NULL)
		return SMILE_ERR_INVALID;
	if (cap > 0)
		out[0] = '\0';
	if (kind == SMILE_TOPIC_SCAN)
		tail = "/scan";
	else if (kind == SMILE_TOPIC_REPLY)
		tail = "/reply";
	else if (kind == SMILE_TOPIC_JOB)
		tail = "/job";
	else if (kind == SMILE_TOPIC_JOBSTATUS)
		tail = "/jobstatus";
	else
		return SMILE_ERR_INVALID;
	idn = strlen(device_id);
	if (!smile_proto_id_valid(device_id, idn))
		return SMILE_ERR_INVALID;
	tn = strlen(tail);
	if (cap < PREFIX_LEN + idn + tn + 1)
		return SMILE_ERR_BUFFER_SMALL;
	memcpy(out, SMILE_PROTO_TOPIC_PREFIX, PREFIX_LEN);
	memcpy(out + PREFIX_LEN, device_id, idn);
	memcpy(out + PREFIX_LEN + idn, tail, tn + 1);
	return SMILE_OK;
}

enum smile_err smile_proto_topic_parse(const char *topic, char id_out[SMILE_PROTO_ID_MAX + 1],
				       enum smile_topic *kind)
{
	const char *id, *slash;

	id_out[0] = '\0';
	if (topic == NULL || strncmp(topic, SMILE_PROTO_TOPIC_PREFIX, PREFIX_LEN) != 0)
		return SMILE_ERR_INVALID;
	id = topic + PREFIX_LEN;
	slash = strchr(id, '/');
	if (slash == NULL || !smile_proto_id_valid(id, (size_t)(slash - id)))
		return SMILE_ERR_INVALID;
	if (strcmp(slash, "/scan") == 0)
		*kind = SMILE_TOPIC_SCAN;
	else if (strcmp(slash, "/reply") == 0)
		*kind = SMILE_TOPIC_REPLY;
	else if (strcmp(slash, "/job") == 0)
		*kind = SMILE_TOPIC_JOB;
	else if (strcmp(slash, "/jobstatus") == 0)
		*kind = SMILE_TOPIC_JOBSTATUS;
	else
		return SMILE_ERR_INVALID;
	memcpy(id_out, id, (size_t)(slash - id));
	id_out[slash - id] = '\0';
	return SMILE_OK;
}

void smile_proto_key_to_base64(const uint8_t key[SMILE_PROTO_PK_BYTES],
			       char out[SMILE_PROTO_KEY_B64_BYTES])
{
	sodium_bin2base64(out, SMILE_PROTO_KEY_B64_BYTES, key, SMILE_PROTO_PK_BYTES,
			  sodium_base64_VARIANT_ORIGINAL);
}

static int b64_char(unsigned c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

enum smile_err smile_proto_key_from_base64(const char *s, size_t n,
					   uint8_t out[SMILE_PROTO_PK_BYTES])
{
	size_t bin_len = 0, i;
	const char *end = NULL;
	int ok = s != NULL && n == SMILE_PROTO_KEY_B64_BYTES - 1;

	/* The alphabet is checked here first: libsodium 1.0.18 maps some bytes
	 * >= 0x80 to base64 digits (found by tests/fuzz/fuzz_proto.c). */
	for (i = 0; ok && i + 1 < n; i++)
		ok = b64_char((unsigned char)s[i]);
	/* libsodium rejects bad padding and non-zero leftover bits, so exactly
	 * one string decodes to a key: the encoding is canonical. */
	if (!ok || s[n - 1] != '=' ||
	    sodium_base642bin(out, SMILE_PROTO_PK_BYTES, s, n, NULL, &bin_len, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    bin_len != SMILE_PROTO_PK_BYTES || end != s + n) {
		sodium_memzero(out, SMILE_PROTO_PK_BYTES);
		return SMILE_ERR_INVALID;
	}
	return SMILE_OK;
}

enum smile_err smile_proto_shared_key(const uint8_t my_box_sk[SMILE_PROTO_BOX_SK_BYTES],
				      const uint8_t their_box_pk[SMILE_PROTO_PK_BYTES],
				      uint8_t out[SMILE_PROTO_KEY_BYTES])
{
	if (crypto_box_curve25519xchacha20poly1305_beforenm(out, their_box_pk, my_box_sk) != 0) {
		sodium_memzero(out, SMILE_PROTO_KEY_BYTES);
		return SMILE_ERR_CRYPTO;
	}
	return SMILE_OK;
}

enum smile_err smile_proto_check_time(uint64_t time_ms, uint64_t now_ms, uint64_t skew_ms)
{
	uint64_t d = time_ms > now_ms ? time_ms - now_ms : now_ms - time_ms;

	return d <= skew_ms ? SMILE_OK : SMILE_ERR_STALE;
}

enum smile_seq_verdict smile_proto_seq_classify(uint64_t last_seq, const uint8_t *last_digest,
						uint64_t seq,
						const uint8_t digest[SMILE_PROTO_DIGEST_BYTES])
{
	if (seq > last_seq)
		return SMILE_SEQ_NEW;
	if (seq == last_seq && last_seq != 0 && last_digest != NULL &&
	    sodium_memcmp(last_digest, digest, SMILE_PROTO_DIGEST_BYTES) == 0)
		return SMILE_SEQ_RETRANSMIT;
	return SMILE_SEQ_REPLAY;
}

enum smile_err smile_scan_digest(const uint8_t *msg, size_t len,
				 uint8_t out[SMILE_PROTO_DIGEST_BYTES])
{
	if (msg == NULL && len > 0)
		return SMILE_ERR_INVALID;
	if (crypto_generichash(out, SMILE_PROTO_DIGEST_BYTES, msg, len, NULL, 0) != 0)
		return SMILE_ERR_CRYPTO;
	return SMILE_OK;
}

/* ------------------------------------------------------------ scan */

/* The checks every encoded scan passes; the decoder applies the same ones. */
static enum smile_err scan_check(const struct smile_scan *s, struct smile_error *e)
{
	if (!smile_proto_id_valid(s->device_id, s->device_id_len))
		return FAIL(SMILE_ERR_INVALID, "scan.device_id", "need 1-32 of A-Z a-z 0-9 _ -");
	if (s->seq == 0)
		return FAIL(SMILE_ERR_INVALID, "scan.seq", "must be at least 1");
	if (s->scanned_ms > s->time_ms)
		return FAIL(SMILE_ERR_INVALID, "scan.scanned_ms", "later than time_ms");
	if ((int)s->event < SMILE_EVENT_FIRST || (int)s->event > SMILE_EVENT_LAST)
		return FAIL(SMILE_ERR_INVALID, "scan.event", "not an event code");
	if (s->token == NULL || s->token_len < 1 || s->token_len > SMILE_PROTO_TOKEN_MAX)
		return FAIL(SMILE_ERR_INVALID, "scan.token", "need 1-128 bytes");
	if (!token_ok(s->token, s->token_len))
		return FAIL(SMILE_ERR_INVALID, "scan.token", "not printable ASCII");
	if (s->has_location != 0 && s->has_location != 1)
		return FAIL(SMILE_ERR_INVALID, "scan.has_location", "must be 0 or 1");
	if (s->has_location && !location_ok(&s->location))
		return FAIL(SMILE_ERR_INVALID, "scan.location", "latitude or longitude out of range");
	return SMILE_OK;
}

static size_t scan_size(const struct smile_scan *s)
{
	return SMILE_SCAN_FIXED_BYTES + s->device_id_len + s->token_len +
	       (s->has_location ? SMILE_PROTO_LOCATION_BYTES : 0);
}

enum smile_err smile_core_scan_check(const struct smile_scan *s, size_t cap,
				     struct smile_error *e)
{
	enum smile_err err = scan_check(s, e);

	if (err != SMILE_OK)
		return err;
	if (cap < scan_size(s))
		return FAIL(SMILE_ERR_BUFFER_SMALL, "scan", "output buffer too small");
	return SMILE_OK;
}

enum smile_err smile_scan_encode(const struct smile_scan *s,
				 const uint8_t sign_sk[SMILE_PROTO_SIGN_SK_BYTES], uint8_t *out,
				 size_t cap, size_t *len, struct smile_error *e)
{
	enum smile_err err;
	size_t need, n = 0;

	*len = 0;
	err = scan_check(s, e);
	if (err != SMILE_OK)
		return err;
	need = scan_size(s);
	if (out == NULL || cap < need)
		return FAIL(SMILE_ERR_BUFFER_SMALL, "scan", "output buffer too small");

	out[n++] = SMILE_PROTO_VERSION;
	out[n++] = SMILE_PROTO_TYPE_SCAN;
	put_u16(out + n, (unsigned)s->device_id_len);
	n += 2;
	memcpy(out + n, s->device_id, s->device_id_len);
	n += s->device_id_len;
	put_u64(out + n, s->seq);
	n += 8;
	put_u64(out + n, s->time_ms);
	n += 8;
	put_u64(out + n, s->scanned_ms);
	n += 8;
	out[n++] = (uint8_t)s->event;
	out[n++] = (uint8_t)(s->has_location ? 1 : 0);
	put_u16(out + n, (unsigned)s->token_len);
	n += 2;
	memcpy(out + n, s->token, s->token_len);
	n += s->token_len;
	if (s->has_location) {
		put_u32(out + n, i32_to_wire(s->location.lat_e6));
		put_u32(out + n + 4, i32_to_wire(s->location.lon_e6));
		put_u16(out + n + 8, s->location.accuracy_m);
		n += SMILE_PROTO_LOCATION_BYTES;
	}
	if (crypto_sign_detached(out + n, NULL, out, n, sign_sk) != 0) {
		sodium_memzero(out, need);
		return FAIL(SMILE_ERR_CRYPTO, "scan.signature", "signing failed");
	}
	*len = n + SMILE_PROTO_SIG_BYTES;
	return SMILE_OK;
}

/* Version first (so a future version is named as such, whatever its size),
 * then the cap, then the type. */
enum smile_err smile_core_envelope(const uint8_t *msg, size_t len, size_t min, size_t max,
				   unsigned type, const char *what, struct smile_error *e)
{
	if (msg == NULL || len < 1)
		return FAIL(SMILE_ERR_PROTO, what, "empty message");
	if (msg[0] != SMILE_PROTO_VERSION)
		return FAIL(SMILE_ERR_PROTO_VERSION, what, "protocol version not supported");
	if (len > max)
		return FAIL(SMILE_ERR_TOO_LARGE, what, "longer than the largest valid message");
	if (len < min)
		return FAIL(SMILE_ERR_PROTO, what, "truncated");
	if (msg[1] != type)
		return FAIL(SMILE_ERR_PROTO, what, "wrong message type");
	return SMILE_OK;
}

/* Read the u16-length-prefixed device id at r. */
static enum smile_err read_id(struct rd *r, const char **p, size_t *n, const char *field,
			      struct smile_error *e)
{
	size_t idn;

	if (!rd_has(r, 2))
		return FAIL(SMILE_ERR_PROTO, field, "truncated");
	idn = get_u16(r->p + r->off);
	r->off += 2;
	if (idn < 1 || idn > SMILE_PROTO_ID_MAX)
		return FAIL(SMILE_ERR_PROTO, field, "length not 1-32");
	if (!rd_has(r, idn))
		return FAIL(SMILE_ERR_PROTO, field, "truncated");
	if (!smile_core_chars_ok((const char *)(r->p + r->off), idn))
		return FAIL(SMILE_ERR_PROTO, field, "character outside A-Z a-z 0-9 _ -");
	*p = (const char *)(r->p + r->off);
	*n = idn;
	r->off += idn;
	return SMILE_OK;
}

/* The signature must be exactly the last 64 bytes. */
static enum smile_err read_sig(struct rd *r, const uint8_t **sig, const char *field,
			       struct smile_error *e)
{
	if (r->len - r->off < SMILE_PROTO_SIG_BYTES)
		return FAIL(SMILE_ERR_PROTO, field, "truncated");
	if (r->len - r->off > SMILE_PROTO_SIG_BYTES)
		return FAIL(SMILE_ERR_PROTO, field, "trailing bytes after the signature");
	*sig = r->p + r->off;
	r->off += SMILE_PROTO_SIG_BYTES;
	return SMILE_OK;
}

enum smile_err smile_scan_decode(const uint8_t *msg, size_t len, struct smile_scan *out,
				 struct smile_error *e)
{
	struct smile_scan s;
	struct rd r;
	enum smile_err err;
	unsigned flags;

	memset(&s, 0, sizeof(s));
	memset(out, 0, sizeof(*out));
	err = smile_core_envelope(msg, len, SMILE_SCAN_MIN_BYTES, SMILE_SCAN_MAX_BYTES,
			     SMILE_PROTO_TYPE_SCAN, "scan", e);
	if (err != SMILE_OK)
		return err;
	r.p = msg;
	r.len = len;
	r.off = 2;
	err = read_id(&r, &s.device_id, &s.device_id_len, "scan.device_id", e);
	if (err != SMILE_OK)
		return err;
	if (!rd_has(&r, 8 + 8 + 8 + 1 + 1 + 2))
		return FAIL(SMILE_ERR_PROTO, "scan.seq", "truncated");
	s.seq = get_u64(msg + r.off);
	s.time_ms = get_u64(msg + r.off + 8);
	s.scanned_ms = get_u64(msg + r.off + 16);
	s.event = (enum smile_event)msg[r.off + 24];
	flags = msg[r.off + 25];
	s.token_len = get_u16(msg + r.off + 26);
	r.off += 28;
	if (s.seq == 0)
		return FAIL(SMILE_ERR_PROTO, "scan.seq", "must be at least 1");
	if (s.scanned_ms > s.time_ms)
		return FAIL(SMILE_ERR_PROTO, "scan.scanned_ms", "later than time_ms");
	if ((int)s.event < SMILE_EVENT_FIRST || (int)s.event > SMILE_EVENT_LAST)
		return FAIL(SMILE_ERR_PROTO, "scan.event", "not an event code");
	if ((flags & ~1u) != 0)
		return FAIL(SMILE_ERR_PROTO, "scan.flags", "reserved bits set");
	if (s.token_len < 1 || s.token_len > SMILE_PROTO_TOKEN_MAX)
		return FAIL(SMILE_ERR_PROTO, "scan.token", "length not 1-128");
	if (!rd_has(&r, s.token_len))
		return FAIL(SMILE_ERR_PROTO, "scan.token", "truncated");
	s.token = msg + r.off;
	if (!token_ok(s.token, s.token_len))
		return FAIL(SMILE_ERR_PROTO, "scan.token", "not printable ASCII");
	r.off += s.token_len;
	s.has_location = (int)(flags & 1u);
	if (s.has_location) {
		if (!rd_has(&r, SMILE_PROTO_LOCATION_BYTES))
			return FAIL(SMILE_ERR_PROTO, "scan.location", "truncated");
		s.location.lat_e6 = wire_to_i32(get_u32(msg + r.off));
		s.location.lon_e6 = wire_to_i32(get_u32(msg + r.off + 4));
		s.location.accuracy_m = (uint16_t)get_u16(msg + r.off + 8);
		r.off += SMILE_PROTO_LOCATION_BYTES;
		if (!location_ok(&s.location))
			return FAIL(SMILE_ERR_PROTO, "scan.location",
				    "latitude or longitude out of range");
	}
	err = read_sig(&r, &s.signature, "scan.signature", e);
	if (err != SMILE_OK)
		return err;
	*out = s;
	return SMILE_OK;
}

enum smile_err smile_scan_verify(const uint8_t *msg, size_t len,
				 const uint8_t sign_pk[SMILE_PROTO_PK_BYTES],
				 struct smile_error *e)
{
	struct smile_scan s;
	enum smile_err err = smile_scan_decode(msg, len, &s, e);

	if (err != SMILE_OK)
		return err;
	if (crypto_sign_verify_detached(s.signature, msg, len - SMILE_PROTO_SIG_BYTES, sign_pk) != 0)
		return FAIL(SMILE_ERR_BAD_SIGNATURE, "scan.signature",
			    "does not verify with the device's key");
	return SMILE_OK;
}

/* ------------------------------------------------------------ reply */

static enum smile_err reply_check(const struct smile_reply *r, const uint8_t *shared_key,
				  struct smile_error *e)
{
	if (!smile_proto_id_valid(r->device_id, r->device_id_len))
		return FAIL(SMILE_ERR_INVALID, "reply.device_id", "need 1-32 of A-Z a-z 0-9 _ -");
	if (r->scan_digest == NULL)
		return FAIL(SMILE_ERR_INVALID, "reply.scan_digest", "missing");
	if ((int)r->status < SMILE_STATUS_REVEALED || (int)r->status > SMILE_STATUS_ERROR)
		return FAIL(SMILE_ERR_INVALID, "reply.status", "not a status code");
	if (!waybill_ok(r->waybill, r->waybill_len))
		return FAIL(SMILE_ERR_INVALID, "reply.waybill", "need 0-32 of A-Z a-z 0-9 _ -");
	if (r->masked_len > SMILE_PROTO_MASKED_MAX || (r->masked_len > 0 && r->masked == NULL))
		return FAIL(SMILE_ERR_INVALID, "reply.masked", "longer than 1024 bytes");
	if (r->status == SMILE_STATUS_REVEALED) {
		if (r->reason != SMILE_REASON_OK)
			return FAIL(SMILE_ERR_INVALID, "reply.reason", "revealed needs reason ok");
		if (r->contact == NULL || r->contact_len < 1 ||
		    r->contact_len > SMILE_PROTO_CONTACT_MAX)
			return FAIL(SMILE_ERR_INVALID, "reply.contact",
				    "revealed needs 1-1024 bytes of contact");
		if (shared_key == NULL)
			return FAIL(SMILE_ERR_INVALID, "reply.contact", "revealed needs a shared key");
	} else if (r->contact_len != 0) {
		return FAIL(SMILE_ERR_INVALID, "reply.contact", "only a revealed reply has contact");
	}
	return SMILE_OK;
}

static enum smile_err reply_encode(const struct smile_reply *r, const uint8_t *shared_key,
				   const uint8_t *nonce, const uint8_t *gw_sign_sk, uint8_t *out,
				   size_t cap, size_t *len, struct smile_error *e)
{
	enum smile_err err;
	size_t need, n = 0, ad_len;
	size_t sealed = 0;
	unsigned long long ct_len = 0;

	*len = 0;
	err = reply_check(r, shared_key, e);
	if (err != SMILE_OK)
		return err;
	if (r->status == SMILE_STATUS_REVEALED)
		sealed = SMILE_PROTO_SEAL_OVERHEAD + r->contact_len;
	need = SMILE_REPLY_FIXED_BYTES + r->device_id_len + r->waybill_len + r->masked_len + sealed;
	if (out == NULL || cap < need)
		return FAIL(SMILE_ERR_BUFFER_SMALL, "reply", "output buffer too small");

	out[n++] = SMILE_PROTO_VERSION;
	out[n++] = SMILE_PROTO_TYPE_REPLY;
	put_u16(out + n, (unsigned)r->device_id_len);
	n += 2;
	memcpy(out + n, r->device_id, r->device_id_len);
	n += r->device_id_len;
	put_u64(out + n, r->seq);
	n += 8;
	memcpy(out + n, r->scan_digest, SMILE_PROTO_DIGEST_BYTES);
	n += SMILE_PROTO_DIGEST_BYTES;
	put_u64(out + n, r->time_ms);
	n += 8;
	out[n++] = (uint8_t)r->status;
	put_u16(out + n, r->reason);
	n += 2;
	put_u16(out + n, (unsigned)r->waybill_len);
	n += 2;
	if (r->waybill_len)
		memcpy(out + n, r->waybill, r->waybill_len);
	n += r->waybill_len;
	put_u16(out + n, (unsigned)r->masked_len);
	n += 2;
	if (r->masked_len)
		memcpy(out + n, r->masked, r->masked_len);
	n += r->masked_len;
	ad_len = n; /* everything before the sealed field is associated data */
	put_u16(out + n, (unsigned)sealed);
	n += 2;
	if (sealed) {
		uint8_t *np = out + n;

		if (nonce)
			memcpy(np, nonce, SMILE_PROTO_NONCE_BYTES);
		else
			randombytes_buf(np, SMILE_PROTO_NONCE_BYTES);
		if (crypto_aead_xchacha20poly1305_ietf_encrypt(
			    np + SMILE_PROTO_NONCE_BYTES, &ct_len, r->contact, r->contact_len, out,
			    ad_len, NULL, np, shared_key) != 0 ||
		    ct_len != r->contact_len + SMILE_PROTO_TAG_BYTES) {
			sodium_memzero(out, need);
			return FAIL(SMILE_ERR_CRYPTO, "reply.contact", "sealing failed");
		}
		n += sealed;
	}
	if (crypto_sign_detached(out + n, NULL, out, n, gw_sign_sk) != 0) {
		sodium_memzero(out, need);
		return FAIL(SMILE_ERR_CRYPTO, "reply.signature", "signing failed");
	}
	*len = n + SMILE_PROTO_SIG_BYTES;
	return SMILE_OK;
}

enum smile_err smile_reply_encode(const struct smile_reply *r,
				  const uint8_t shared_key[SMILE_PROTO_KEY_BYTES],
				  const uint8_t gw_sign_sk[SMILE_PROTO_SIGN_SK_BYTES], uint8_t *out,
				  size_t cap, size_t *len, struct smile_error *e)
{
	return reply_encode(r, shared_key, NULL, gw_sign_sk, out, cap, len, e);
}

enum smile_err smile_reply_encode_det(const struct smile_reply *r,
				      const uint8_t shared_key[SMILE_PROTO_KEY_BYTES],
				      const uint8_t nonce[SMILE_PROTO_NONCE_BYTES],
				      const uint8_t gw_sign_sk[SMILE_PROTO_SIGN_SK_BYTES],
				      uint8_t *out, size_t cap, size_t *len, struct smile_error *e)
{
	if (nonce == NULL) {
		*len = 0;
		return FAIL(SMILE_ERR_INVALID, "reply.nonce", "missing");
	}
	return reply_encode(r, shared_key, nonce, gw_sign_sk, out, cap, len, e);
}

/* Decode a reply; *ad_len gets the length of the associated data (the bytes
 * before the sealed field's length). */
static enum smile_err reply_parse(const uint8_t *msg, size_t len, struct smile_reply *out,
				  size_t *ad_len, struct smile_error *e)
{
	struct smile_reply rp;
	struct rd r;
	enum smile_err err;
	unsigned status;

	memset(&rp, 0, sizeof(rp));
	memset(out, 0, sizeof(*out));
	*ad_len = 0;
	err = smile_core_envelope(msg, len, SMILE_REPLY_MIN_BYTES, SMILE_REPLY_MAX_BYTES,
			     SMILE_PROTO_TYPE_REPLY, "reply", e);
	if (err != SMILE_OK)
		return err;
	r.p = msg;
	r.len = len;
	r.off = 2;
	err = read_id(&r, &rp.device_id, &rp.device_id_len, "reply.device_id", e);
	if (err != SMILE_OK)
		return err;
	if (!rd_has(&r, 8 + SMILE_PROTO_DIGEST_BYTES + 8 + 1 + 2 + 2))
		return FAIL(SMILE_ERR_PROTO, "reply.seq", "truncated");
	rp.seq = get_u64(msg + r.off);
	r.off += 8;
	rp.scan_digest = msg + r.off;
	r.off += SMILE_PROTO_DIGEST_BYTES;
	rp.time_ms = get_u64(msg + r.off);
	r.off += 8;
	status = msg[r.off++];
	rp.reason = (uint16_t)get_u16(msg + r.off);
	r.off += 2;
	rp.waybill_len = get_u16(msg + r.off);
	r.off += 2;
	if (status < SMILE_STATUS_REVEALED || status > SMILE_STATUS_ERROR)
		return FAIL(SMILE_ERR_PROTO, "reply.status", "not a status code");
	rp.status = (enum smile_status)status;
	if (rp.status == SMILE_STATUS_REVEALED && rp.reason != SMILE_REASON_OK)
		return FAIL(SMILE_ERR_PROTO, "reply.reason", "revealed needs reason ok");
	if (rp.waybill_len > SMILE_PROTO_WAYBILL_MAX)
		return FAIL(SMILE_ERR_PROTO, "reply.waybill", "length over 32");
	if (!rd_has(&r, rp.waybill_len + 2))
		return FAIL(SMILE_ERR_PROTO, "reply.waybill", "truncated");
	rp.waybill = (const char *)(msg + r.off);
	if (!waybill_ok(rp.waybill, rp.waybill_len))
		return FAIL(SMILE_ERR_PROTO, "reply.waybill", "character outside A-Z a-z 0-9 _ -");
	r.off += rp.waybill_len;
	rp.masked_len = get_u16(msg + r.off);
	r.off += 2;
	if (rp.masked_len > SMILE_PROTO_MASKED_MAX)
		return FAIL(SMILE_ERR_PROTO, "reply.masked", "length over 1024");
	if (!rd_has(&r, rp.masked_len + 2))
		return FAIL(SMILE_ERR_PROTO, "reply.masked", "truncated");
	rp.masked = msg + r.off;
	r.off += rp.masked_len;
	*ad_len = r.off;
	rp.sealed_len = get_u16(msg + r.off);
	r.off += 2;
	if (rp.sealed_len != 0 && (rp.sealed_len <= SMILE_PROTO_SEAL_OVERHEAD ||
				   rp.sealed_len > SMILE_PROTO_SEAL_OVERHEAD + SMILE_PROTO_CONTACT_MAX))
		return FAIL(SMILE_ERR_PROTO, "reply.contact", "sealed length out of range");
	if ((rp.status == SMILE_STATUS_REVEALED) != (rp.sealed_len != 0))
		return FAIL(SMILE_ERR_PROTO, "reply.contact",
			    "present if and only if status is revealed");
	if (!rd_has(&r, rp.sealed_len))
		return FAIL(SMILE_ERR_PROTO, "reply.contact", "truncated");
	rp.sealed = rp.sealed_len ? msg + r.off : NULL;
	r.off += rp.sealed_len;
	err = read_sig(&r, &rp.signature, "reply.signature", e);
	if (err != SMILE_OK) {
		*ad_len = 0;
		return err;
	}
	*out = rp;
	return SMILE_OK;
}

enum smile_err smile_reply_decode(const uint8_t *msg, size_t len, struct smile_reply *out,
				  struct smile_error *e)
{
	size_t ad_len;

	return reply_parse(msg, len, out, &ad_len, e);
}

enum smile_err smile_reply_verify(const uint8_t *msg, size_t len,
				  const uint8_t gw_sign_pk[SMILE_PROTO_PK_BYTES],
				  struct smile_error *e)
{
	struct smile_reply r;
	enum smile_err err = smile_reply_decode(msg, len, &r, e);

	if (err != SMILE_OK)
		return err;
	if (crypto_sign_verify_detached(r.signature, msg, len - SMILE_PROTO_SIG_BYTES,
					gw_sign_pk) != 0)
		return FAIL(SMILE_ERR_BAD_SIGNATURE, "reply.signature",
			    "does not verify with the gateway's key");
	return SMILE_OK;
}

enum smile_err smile_reply_open_contact(const uint8_t *msg, size_t len,
					const uint8_t shared_key[SMILE_PROTO_KEY_BYTES],
					uint8_t *pt, size_t cap, size_t *pt_len,
					struct smile_error *e)
{
	struct smile_reply r;
	size_t ad_len, ct_len, need;
	unsigned long long got = 0;
	enum smile_err err;

	*pt_len = 0;
	err = reply_parse(msg, len, &r, &ad_len, e);
	if (err != SMILE_OK)
		goto out;
	if (r.sealed_len == 0) {
		err = FAIL(SMILE_ERR_NOT_FOUND, "reply.contact", "reply carries no contact");
		goto out;
	}
	ct_len = r.sealed_len - SMILE_PROTO_NONCE_BYTES;
	need = ct_len - SMILE_PROTO_TAG_BYTES;
	if (pt == NULL || cap < need) {
		err = FAIL(SMILE_ERR_BUFFER_SMALL, "reply.contact", "output buffer too small");
		goto out;
	}
	/* libsodium checks the tag before it writes any plaintext. */
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &got, NULL,
						       r.sealed + SMILE_PROTO_NONCE_BYTES, ct_len,
						       msg, ad_len, r.sealed, shared_key) != 0 ||
	    got != need) {
		err = FAIL(SMILE_ERR_DECRYPT, "reply.contact", "did not authenticate");
		goto out;
	}
	*pt_len = need;
out:
	if (err != SMILE_OK && pt != NULL && cap > 0)
		sodium_memzero(pt, cap);
	return err;
}
