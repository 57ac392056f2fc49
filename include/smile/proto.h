/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proto.h - the scan/reply wire protocol between handhelds and the gateway.
 *
 * This is the ONE implementation of the wire format (docs/protocol.md): the
 * gateway and the device core both link it from libsmile-device.a. It is C99,
 * uses no heap and no MQTT library, and depends only on libsodium.
 *
 * Messages are small binary envelopes, big-endian, with u16 lengths, signed
 * with Ed25519 over the exact bytes that travel (no canonicalisation):
 *
 *   scan  (device -> gateway, smile/v1/dev/{device}/scan), signed by the device
 *   reply (gateway -> device, smile/v1/dev/{device}/reply), signed by the
 *         gateway; when revealed it carries the contact details sealed with
 *         XChaCha20-Poly1305-IETF under the gateway/device X25519 shared key,
 *         with the reply header as associated data.
 *
 * Decoded structs POINT INTO the caller's message buffer: nothing is copied,
 * so the struct is valid only while that buffer is. Strings in messages are
 * length-delimited, never NUL-terminated.
 *
 * Call sodium_init() (or smile_proto_init()) once before any function here.
 *
 * Errors: every function that may fail returns an enum smile_err and takes an
 * optional `struct smile_error *e` (NULL allowed) that names the field
 * ("scan.token", "reply.status") and says what was wrong without echoing it.
 */
#ifndef SMILE_PROTO_H
#define SMILE_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "smile/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ constants */

/* Byte 0 of every message (docs/protocol.md "Envelope"). */
#define SMILE_PROTO_VERSION 1
/* Byte 1: message type. */
#define SMILE_PROTO_TYPE_SCAN 1
#define SMILE_PROTO_TYPE_REPLY 2

#define SMILE_PROTO_ID_MAX 32        /* device id: 1..32 of [A-Za-z0-9_-] */
#define SMILE_PROTO_TOKEN_MAX 128    /* scanned token: 1..128 of 0x20..0x7e */
#define SMILE_PROTO_WAYBILL_MAX 32   /* waybill: 0..32 of [A-Za-z0-9_-] */
#define SMILE_PROTO_MASKED_MAX 1024  /* masked view JSON: 0..1024 bytes */
#define SMILE_PROTO_CONTACT_MAX 1024 /* contact JSON plaintext: 1..1024 bytes */

#define SMILE_PROTO_PK_BYTES 32      /* Ed25519 or X25519 public key */
#define SMILE_PROTO_SIGN_SK_BYTES 64 /* libsodium Ed25519 secret key (seed || pk) */
#define SMILE_PROTO_SEED_BYTES 32    /* Ed25519 seed */
#define SMILE_PROTO_BOX_SK_BYTES 32  /* X25519 secret key */
#define SMILE_PROTO_KEY_BYTES 32     /* shared key (beforenm output) */
#define SMILE_PROTO_SIG_BYTES 64     /* Ed25519 signature */
#define SMILE_PROTO_NONCE_BYTES 24   /* XChaCha20-Poly1305 nonce */
#define SMILE_PROTO_TAG_BYTES 16     /* Poly1305 tag */
#define SMILE_PROTO_DIGEST_BYTES 32  /* BLAKE2b-256 of a scan message */
#define SMILE_PROTO_LOCATION_BYTES 10 /* i32 lat, i32 lon, u16 accuracy */

/* Scan: everything but the id, token and optional location:
 * version, type, id_len, seq, time_ms, scanned_ms, event, flags, token_len, sig. */
#define SMILE_SCAN_FIXED_BYTES (1 + 1 + 2 + 8 + 8 + 8 + 1 + 1 + 2 + SMILE_PROTO_SIG_BYTES)
#define SMILE_SCAN_MIN_BYTES (SMILE_SCAN_FIXED_BYTES + 1 + 1)
#define SMILE_SCAN_MAX_BYTES \
	(SMILE_SCAN_FIXED_BYTES + SMILE_PROTO_ID_MAX + SMILE_PROTO_TOKEN_MAX + \
	 SMILE_PROTO_LOCATION_BYTES)

/* Reply: version, type, id_len, seq, scan digest, time_ms, status, reason,
 * waybill_len, masked_len, sealed_len, sig. */
#define SMILE_REPLY_FIXED_BYTES \
	(1 + 1 + 2 + 8 + SMILE_PROTO_DIGEST_BYTES + 8 + 1 + 2 + 2 + 2 + 2 + SMILE_PROTO_SIG_BYTES)
#define SMILE_REPLY_MIN_BYTES (SMILE_REPLY_FIXED_BYTES + 1)
/* The sealed contact field: nonce || ciphertext (plaintext + tag). */
#define SMILE_PROTO_SEAL_OVERHEAD (SMILE_PROTO_NONCE_BYTES + SMILE_PROTO_TAG_BYTES)
#define SMILE_REPLY_MAX_BYTES \
	(SMILE_REPLY_FIXED_BYTES + SMILE_PROTO_ID_MAX + SMILE_PROTO_WAYBILL_MAX + \
	 SMILE_PROTO_MASKED_MAX + SMILE_PROTO_SEAL_OVERHEAD + SMILE_PROTO_CONTACT_MAX)

/* Freshness (docs/protocol.md "Freshness"): default allowed clock skew. */
#define SMILE_PROTO_SKEW_MS_DEFAULT 300000u

/* Topics (docs/protocol.md "Topics"). */
#define SMILE_PROTO_TOPIC_PREFIX "smile/v1/dev/"
#define SMILE_PROTO_TOPIC_SCAN_SUB "smile/v1/dev/+/scan" /* gateway subscribes */
#define SMILE_PROTO_TOPIC_JOBSTATUS_SUB "smile/v1/dev/+/jobstatus" /* gateway subscribes */
#define SMILE_PROTO_TOPIC_ALERTS "smile/v1/alerts"
/* "smile/v1/dev/" + id + "/reply" + NUL, rounded up */
#define SMILE_PROTO_TOPIC_MAX 64

/* Standard base64 (RFC 4648 section 4, padded) of a 32-byte key, plus NUL. */
#define SMILE_PROTO_KEY_B64_BYTES 45

/* ------------------------------------------------------------ enums */

/* Scan events (docs/protocol.md "Event codes"). Values are wire bytes. */
enum smile_event {
	SMILE_EVENT_PICKUP = 1,
	SMILE_EVENT_HUB_IN = 2,
	SMILE_EVENT_HUB_OUT = 3,
	SMILE_EVENT_OUT_FOR_DELIVERY = 4,
	SMILE_EVENT_DELIVERY_FAILED = 5,
	SMILE_EVENT_DELIVERED = 6,
	SMILE_EVENT_RETURNED = 7
};
#define SMILE_EVENT_FIRST SMILE_EVENT_PICKUP
#define SMILE_EVENT_LAST SMILE_EVENT_RETURNED

/* Reply status (docs/protocol.md "Status codes"). Values are wire bytes. */
enum smile_status {
	SMILE_STATUS_REVEALED = 1, /* event recorded, contact details enclosed */
	SMILE_STATUS_RECORDED = 2, /* event recorded, no contact details */
	SMILE_STATUS_DENIED = 3,   /* nothing recorded: refused */
	SMILE_STATUS_ERROR = 4     /* nothing recorded: bad message or gateway fault */
};

/*
 * Reason codes (docs/protocol.md "Reason codes"): u16 on the wire. Values are
 * never renumbered, only appended. A device must accept a reason it does not
 * know (a newer gateway may send one): its name is then "unknown".
 */
enum smile_reason {
	SMILE_REASON_OK = 0,                 /* revealed, or recorded normally */
	SMILE_REASON_HUB_ROLE = 1,           /* hub devices never receive contact details */
	SMILE_REASON_WRONG_ROLE = 2,         /* this role may not send this event */
	SMILE_REASON_NOT_HOLDER = 3,         /* device does not hold the parcel */
	SMILE_REASON_OUT_OF_ZONE = 4,        /* destination outside the device's zone */
	SMILE_REASON_SUSPENDED = 5,          /* device suspended */
	SMILE_REASON_REVOKED = 6,            /* device revoked */
	SMILE_REASON_UNKNOWN_DEVICE = 7,     /* device id not enrolled */
	SMILE_REASON_BAD_SIGNATURE = 8,      /* scan signature did not verify */
	SMILE_REASON_REPLAY = 9,             /* sequence at or below the last one */
	SMILE_REASON_STALE = 10,             /* time outside the allowed skew */
	SMILE_REASON_TOKEN_MALFORMED = 11,   /* not a smile token */
	SMILE_REASON_TOKEN_TAMPERED = 12,    /* token did not authenticate */
	SMILE_REASON_TOKEN_UNKNOWN_KEY = 13, /* token key id not held */
	SMILE_REASON_TOKEN_VERSION = 14,     /* token version not supported */
	SMILE_REASON_TOKEN_TRUNCATED = 15,   /* token shorter than its format */
	SMILE_REASON_UNKNOWN_SHIPMENT = 16,  /* token names no stored shipment */
	SMILE_REASON_ERASED = 17,            /* personal data was erased */
	SMILE_REASON_DELIVERED = 18,         /* shipment already delivered */
	SMILE_REASON_RETURNED = 19,          /* shipment already returned */
	SMILE_REASON_QUOTA_EXCEEDED = 20,    /* reveal quota used up: device suspended */
	SMILE_REASON_BAD_MESSAGE = 21,       /* scan message malformed */
	SMILE_REASON_WRONG_TOPIC = 22,       /* scan's device id is not the topic's */
	SMILE_REASON_PROTOCOL_VERSION = 23,  /* scan version not supported */
	SMILE_REASON_BUSY = 24,              /* gateway overloaded: retry later */
	SMILE_REASON_INTERNAL = 25           /* gateway fault */
};
#define SMILE_REASON_LAST SMILE_REASON_INTERNAL

/* Topic kinds for smile_proto_topic(). */
enum smile_topic {
	SMILE_TOPIC_SCAN = 1, /* smile/v1/dev/{id}/scan */
	SMILE_TOPIC_REPLY = 2, /* smile/v1/dev/{id}/reply */
	SMILE_TOPIC_JOB = 3,   /* smile/v1/dev/{id}/job: print jobs to a station */
	SMILE_TOPIC_JOBSTATUS = 4 /* smile/v1/dev/{id}/jobstatus: a station's reports */
};

/* Outcome of smile_proto_seq_classify(). */
enum smile_seq_verdict {
	SMILE_SEQ_NEW = 0,        /* seq above the last one: process it */
	SMILE_SEQ_RETRANSMIT = 1, /* exact copy of the last scan: send the same reply */
	SMILE_SEQ_REPLAY = 2      /* at or below the last one otherwise: deny (replay) */
};

/* ------------------------------------------------------------ messages */

/* Optional scan location (docs/protocol.md "Scan"). Never published. */
struct smile_location {
	int32_t lat_e6;      /* latitude, microdegrees, -90000000..90000000 */
	int32_t lon_e6;      /* longitude, microdegrees, -180000000..180000000 */
	uint16_t accuracy_m; /* radius in metres, 0 = unknown */
};

/*
 * A scan message. For encoding the caller fills every field but `signature`;
 * decoding fills all of them with pointers into the message buffer.
 */
struct smile_scan {
	const char *device_id;  /* not NUL-terminated */
	size_t device_id_len;   /* 1..SMILE_PROTO_ID_MAX */
	uint64_t seq;           /* >= 1, grows by device */
	uint64_t time_ms;       /* Unix ms when signed: the freshness check */
	uint64_t scanned_ms;    /* Unix ms when the code was read; <= time_ms */
	enum smile_event event;
	const uint8_t *token;   /* as scanned, printable ASCII */
	size_t token_len;       /* 1..SMILE_PROTO_TOKEN_MAX */
	int has_location;       /* 0 or 1 */
	struct smile_location location; /* valid when has_location */
	const uint8_t *signature; /* decode: the 64 signature bytes; encode: ignored */
};

/*
 * A reply message. For encoding the caller fills the fields marked (enc);
 * decoding fills the ones marked (dec) with pointers into the message.
 */
struct smile_reply {
	const char *device_id;       /* (enc,dec) not NUL-terminated */
	size_t device_id_len;        /* 1..SMILE_PROTO_ID_MAX */
	uint64_t seq;                /* (enc,dec) the scan's seq, 0 if unreadable */
	const uint8_t *scan_digest;  /* (enc,dec) 32 bytes: smile_scan_digest() */
	uint64_t time_ms;            /* (enc,dec) gateway clock, Unix ms */
	enum smile_status status;    /* (enc,dec) */
	uint16_t reason;             /* (enc,dec) enum smile_reason or newer */
	const char *waybill;         /* (enc,dec) may be empty */
	size_t waybill_len;          /* 0..SMILE_PROTO_WAYBILL_MAX */
	const uint8_t *masked;       /* (enc,dec) UTF-8 JSON, opaque here */
	size_t masked_len;           /* 0..SMILE_PROTO_MASKED_MAX */
	const uint8_t *contact;      /* (enc) plaintext UTF-8 JSON, revealed only */
	size_t contact_len;          /* (enc) 1..SMILE_PROTO_CONTACT_MAX; else 0 */
	const uint8_t *sealed;       /* (dec) nonce || ciphertext, NULL if none */
	size_t sealed_len;           /* (dec) 0 when no contact */
	const uint8_t *signature;    /* (dec) 64 bytes */
};

/* ------------------------------------------------------------ functions */

/* sodium_init(). Returns SMILE_OK or SMILE_ERR_CRYPTO. Safe to call often. */
enum smile_err smile_proto_init(void) SMILE_MUST_CHECK;

/* Names: "pickup", "hub_in", ... / "revealed", ... / "ok", "hub_role", ...
 * Never NULL: "unknown" for a value outside the enum. Static strings. */
const char *smile_proto_event_name(int event);
const char *smile_proto_status_name(int status);
const char *smile_proto_reason_name(int reason);

/* Parse a NUL-terminated name into its enum. SMILE_OK, or SMILE_ERR_NOT_FOUND
 * (unknown or NULL name; *out untouched). */
enum smile_err smile_proto_event_from_name(const char *name, enum smile_event *out)
	SMILE_MUST_CHECK;
enum smile_err smile_proto_status_from_name(const char *name, enum smile_status *out)
	SMILE_MUST_CHECK;
enum smile_err smile_proto_reason_from_name(const char *name, enum smile_reason *out)
	SMILE_MUST_CHECK;

/* 1 when `event` is a custody scan (pickup, hub_in, out_for_delivery): the
 * scanning device becomes the parcel's holder. 0 otherwise. */
int smile_proto_event_is_custody(int event);

/* The reason a gateway sends for a failure code from verification, tokens or
 * the store: SMILE_ERR_BAD_SIGNATURE -> bad_signature, SMILE_ERR_TOKEN_* ->
 * token_*, SMILE_ERR_STALE -> stale, SMILE_ERR_REPLAY -> replay, SMILE_ERR_PROTO
 * / TOO_LARGE -> bad_message, SMILE_ERR_PROTO_VERSION -> protocol_version,
 * SMILE_ERR_DEVICE_UNKNOWN -> unknown_device, SMILE_ERR_QUOTA -> quota_exceeded,
 * SMILE_ERR_SHREDDED -> erased, SMILE_ERR_NOT_FOUND -> unknown_shipment,
 * SMILE_ERR_BUSY / QUEUE_FULL -> busy, SMILE_OK -> ok, anything else -> internal. */
enum smile_reason smile_proto_reason_from_err(enum smile_err err);

/* 1 when p[0..n) is a valid device id (1..32 of [A-Za-z0-9_-]), else 0. */
int smile_proto_id_valid(const char *p, size_t n);

/* Copy a length-delimited id (as found in a decoded message) into a
 * NUL-terminated buffer. SMILE_ERR_INVALID when it is not a valid id
 * (out then holds ""). */
enum smile_err smile_proto_id_copy(const char *p, size_t n,
				   char out[SMILE_PROTO_ID_MAX + 1]) SMILE_MUST_CHECK;

/* Write "smile/v1/dev/{id}/scan", ".../reply", ".../job" or ".../jobstatus"
 * (NUL-terminated) into out.
 * SMILE_ERR_INVALID (bad id or kind), SMILE_ERR_BUFFER_SMALL. */
enum smile_err smile_proto_topic(char *out, size_t cap, const char *device_id,
				 enum smile_topic kind) SMILE_MUST_CHECK;

/* Split a topic "smile/v1/dev/{id}/scan|reply|job|jobstatus": id copied NUL-terminated into
 * id_out, kind into *kind. SMILE_ERR_INVALID when the topic is anything else
 * (id_out then ""). */
enum smile_err smile_proto_topic_parse(const char *topic, char id_out[SMILE_PROTO_ID_MAX + 1],
				       enum smile_topic *kind) SMILE_MUST_CHECK;

/* Standard padded base64 of a 32-byte key into out (44 chars + NUL). */
void smile_proto_key_to_base64(const uint8_t key[SMILE_PROTO_PK_BYTES],
			       char out[SMILE_PROTO_KEY_B64_BYTES]);

/* Decode exactly 44 chars of standard padded base64 into 32 bytes.
 * SMILE_ERR_INVALID on any other input (length, alphabet, padding,
 * trailing bytes); out is then zeroed. */
enum smile_err smile_proto_key_from_base64(const char *s, size_t n,
					   uint8_t out[SMILE_PROTO_PK_BYTES]) SMILE_MUST_CHECK;

/* The X25519 shared key both sides derive (docs/protocol.md "Contact
 * encryption"): crypto_box_curve25519xchacha20poly1305_beforenm(their_pk,
 * my_sk). Gateway: (gateway box sk, device box pk); device: (device box sk,
 * gateway box pk). Compute once per peer and cache it. Secret: wipe it.
 * SMILE_ERR_CRYPTO when their key is a low-order point (out zeroed). */
enum smile_err smile_proto_shared_key(const uint8_t my_box_sk[SMILE_PROTO_BOX_SK_BYTES],
				      const uint8_t their_box_pk[SMILE_PROTO_PK_BYTES],
				      uint8_t out[SMILE_PROTO_KEY_BYTES]) SMILE_MUST_CHECK;

/* Freshness: SMILE_OK when |time_ms - now_ms| <= skew_ms, else SMILE_ERR_STALE. */
enum smile_err smile_proto_check_time(uint64_t time_ms, uint64_t now_ms, uint64_t skew_ms)
	SMILE_MUST_CHECK;

/*
 * Replay rule (docs/protocol.md "Replay and retransmission"), for a gateway
 * holding, per device, the last authenticated seq and that scan's digest.
 * last_seq 0 means none yet (last_digest may then be NULL).
 *   seq > last_seq                          -> SMILE_SEQ_NEW
 *   seq == last_seq and digest == last one  -> SMILE_SEQ_RETRANSMIT
 *   otherwise                               -> SMILE_SEQ_REPLAY
 */
enum smile_seq_verdict smile_proto_seq_classify(uint64_t last_seq, const uint8_t *last_digest,
						uint64_t seq,
						const uint8_t digest[SMILE_PROTO_DIGEST_BYTES])
	SMILE_MUST_CHECK;

/* BLAKE2b-256 (unkeyed) of the exact message bytes, whatever they are: what a
 * reply quotes to say which scan it answers. SMILE_OK; SMILE_ERR_INVALID (msg
 * NULL with len > 0); SMILE_ERR_CRYPTO if libsodium fails. */
enum smile_err smile_scan_digest(const uint8_t *msg, size_t len,
				 uint8_t out[SMILE_PROTO_DIGEST_BYTES]) SMILE_MUST_CHECK;

/*
 * Encode and sign a scan into out[0..cap). `s->signature` is ignored.
 * sign_sk: the device's libsodium Ed25519 secret key (seed || pk).
 * On success *len is the message length (<= SMILE_SCAN_MAX_BYTES).
 * Returns SMILE_OK; SMILE_ERR_INVALID with e naming the field (device_id,
 * seq 0, event, token length/characters, scanned_ms > time_ms, location
 * range); SMILE_ERR_BUFFER_SMALL; SMILE_ERR_CRYPTO. On error *len is 0.
 */
enum smile_err smile_scan_encode(const struct smile_scan *s,
				 const uint8_t sign_sk[SMILE_PROTO_SIGN_SK_BYTES], uint8_t *out,
				 size_t cap, size_t *len, struct smile_error *e) SMILE_MUST_CHECK;

/*
 * Parse a scan's structure (NOT its signature): enough for the gateway to find
 * the device's key. `out` points into msg. Returns SMILE_OK;
 * SMILE_ERR_PROTO_VERSION (byte 0 is not SMILE_PROTO_VERSION);
 * SMILE_ERR_TOO_LARGE (len > SMILE_SCAN_MAX_BYTES); SMILE_ERR_PROTO for
 * anything else wrong (truncated, wrong type, a length or value out of range,
 * reserved flag bits, trailing bytes), e naming the field.
 */
enum smile_err smile_scan_decode(const uint8_t *msg, size_t len, struct smile_scan *out,
				 struct smile_error *e) SMILE_MUST_CHECK;

/*
 * Decode, then verify the signature with the device's Ed25519 public key.
 * Returns the smile_scan_decode errors, or SMILE_ERR_BAD_SIGNATURE.
 */
enum smile_err smile_scan_verify(const uint8_t *msg, size_t len,
				 const uint8_t sign_pk[SMILE_PROTO_PK_BYTES],
				 struct smile_error *e) SMILE_MUST_CHECK;

/*
 * Encode, seal and sign a reply into out[0..cap) (gateway side).
 * status REVEALED needs reason OK, shared_key (smile_proto_shared_key with the
 * device's box key) and contact/contact_len (1..SMILE_PROTO_CONTACT_MAX); the
 * contact is sealed with a fresh random nonce and the plaintext is not kept.
 * Every other status needs contact_len 0 (shared_key may be NULL).
 * gw_sign_sk: the gateway's libsodium Ed25519 secret key.
 * Returns SMILE_OK; SMILE_ERR_INVALID naming the field; SMILE_ERR_BUFFER_SMALL;
 * SMILE_ERR_CRYPTO. On error *len is 0 and out holds no plaintext.
 */
enum smile_err smile_reply_encode(const struct smile_reply *r,
				  const uint8_t shared_key[SMILE_PROTO_KEY_BYTES],
				  const uint8_t gw_sign_sk[SMILE_PROTO_SIGN_SK_BYTES], uint8_t *out,
				  size_t cap, size_t *len, struct smile_error *e) SMILE_MUST_CHECK;

/* smile_reply_encode with a caller-chosen nonce: FOR TEST VECTORS ONLY.
 * Reusing a nonce under one shared key destroys confidentiality. */
enum smile_err smile_reply_encode_det(const struct smile_reply *r,
				      const uint8_t shared_key[SMILE_PROTO_KEY_BYTES],
				      const uint8_t nonce[SMILE_PROTO_NONCE_BYTES],
				      const uint8_t gw_sign_sk[SMILE_PROTO_SIGN_SK_BYTES],
				      uint8_t *out, size_t cap, size_t *len,
				      struct smile_error *e) SMILE_MUST_CHECK;

/*
 * Parse a reply's structure (NOT its signature; NOT decrypting). `out` points
 * into msg; out->contact is NULL, out->sealed/sealed_len give the sealed
 * field. Returns SMILE_OK; SMILE_ERR_PROTO_VERSION; SMILE_ERR_TOO_LARGE
 * (len > SMILE_REPLY_MAX_BYTES); SMILE_ERR_PROTO for anything else (including
 * status REVEALED without contact or with a reason other than ok, and a
 * contact with any other status), e naming the field.
 */
enum smile_err smile_reply_decode(const uint8_t *msg, size_t len, struct smile_reply *out,
				  struct smile_error *e) SMILE_MUST_CHECK;

/* Decode, then verify the gateway's signature. Returns the decode errors, or
 * SMILE_ERR_BAD_SIGNATURE. */
enum smile_err smile_reply_verify(const uint8_t *msg, size_t len,
				  const uint8_t gw_sign_pk[SMILE_PROTO_PK_BYTES],
				  struct smile_error *e) SMILE_MUST_CHECK;

/*
 * Decode and decrypt the contact details of a REVEALED reply into pt[0..cap)
 * (not NUL-terminated), authenticating the reply header as associated data.
 * It does NOT check the signature: call smile_reply_verify first (or use
 * smile_device_open_reply, which does everything).
 * Returns SMILE_OK with *pt_len set; the decode errors; SMILE_ERR_NOT_FOUND
 * (the reply carries no contact); SMILE_ERR_BUFFER_SMALL (cap too small);
 * SMILE_ERR_DECRYPT (wrong key, or altered). On error *pt_len is 0 and pt
 * wiped. pt holds personal data: the caller wipes it after use.
 */
enum smile_err smile_reply_open_contact(const uint8_t *msg, size_t len,
					const uint8_t shared_key[SMILE_PROTO_KEY_BYTES],
					uint8_t *pt, size_t cap, size_t *pt_len,
					struct smile_error *e) SMILE_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
