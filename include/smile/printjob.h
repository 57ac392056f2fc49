/* SPDX-License-Identifier: Apache-2.0 */
/*
 * printjob.h - the print-job wire codec between the gateway and a print
 * station (docs/print-station.md, "Wire format"): the job the gateway sends
 * on smile/v1/dev/{station}/job, and the status the station sends back on
 * smile/v1/dev/{station}/jobstatus.
 *
 * Same conventions as the scan and reply (docs/protocol.md section 2):
 * big-endian, u16 length before every variable field, version byte 0x01,
 * an Ed25519 signature over all preceding bytes, the exact length checked.
 * The job's label record (the masked record smile-label renders) is sealed
 * exactly as a reply's contact details are (protocol.md 5.2): shared key
 * of the gateway's and the station's box keys, XChaCha20-Poly1305, a fresh
 * 24-byte nonce, associated data = every byte before the sealed field's
 * length. So only the station it is addressed to reads the record.
 *
 * C99, no heap: part of the device core (libsmile-device.a).
 */
#ifndef SMILE_PRINTJOB_H
#define SMILE_PRINTJOB_H

#include <stddef.h>
#include <stdint.h>

#include "smile/error.h"
#include "smile/proto.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SMILE_PROTO_TYPE_JOB 3        /* gateway -> station */
#define SMILE_PROTO_TYPE_JOB_STATUS 4 /* station -> gateway */

#define SMILE_JOB_ID_MAX 40        /* job id: 1..40 of [A-Za-z0-9_-] ("pj_" + 32 hex) */
#define SMILE_JOB_RECORD_MAX 4096  /* the label record JSON, plaintext: 1..4096 bytes */
#define SMILE_JOB_REASON_MAX 200   /* status text: 0..200 bytes of 0x20..0x7e */
#define SMILE_JOB_COPIES_MAX 99

/* version, type, id_len, job_id_len, seq, time_ms, format, copies, flags,
 * waybill_len, sealed_len, signature */
#define SMILE_JOB_FIXED_BYTES (1 + 1 + 2 + 2 + 8 + 8 + 1 + 1 + 1 + 2 + 2 + SMILE_PROTO_SIG_BYTES)
#define SMILE_JOB_MAX_BYTES                                                              \
	(SMILE_JOB_FIXED_BYTES + SMILE_PROTO_ID_MAX + SMILE_JOB_ID_MAX +                 \
	 SMILE_PROTO_WAYBILL_MAX + SMILE_PROTO_SEAL_OVERHEAD + SMILE_JOB_RECORD_MAX)
/* version, type, id_len, job_id_len, seq, time_ms, state, reason, text_len, signature */
#define SMILE_JOB_STATUS_FIXED_BYTES (1 + 1 + 2 + 2 + 8 + 8 + 1 + 2 + 2 + SMILE_PROTO_SIG_BYTES)
#define SMILE_JOB_STATUS_MAX_BYTES                                                       \
	(SMILE_JOB_STATUS_FIXED_BYTES + SMILE_PROTO_ID_MAX + SMILE_JOB_ID_MAX +          \
	 SMILE_JOB_REASON_MAX)

/* Label formats on the wire. */
enum smile_job_format { SMILE_JOB_ZPL = 1, SMILE_JOB_PDF = 2, SMILE_JOB_PNG = 3 };

#define SMILE_JOB_FLAG_REPRINT 0x01u /* an explicit, audited reprint */

/* A job's state. QUEUED is the gateway's own (stored, published, not yet
 * acknowledged); a station reports SENT (in its durable queue) and on. The
 * order is the order of progress: a state never goes back. */
enum smile_job_state {
	SMILE_JOB_QUEUED = 0,
	SMILE_JOB_SENT = 1,     /* in the station's queue (the reason says why it waits) */
	SMILE_JOB_PRINTING = 2, /* the station started sending it to the printer */
	SMILE_JOB_PRINTED = 3,  /* the printer reports it printed */
	SMILE_JOB_FAILED = 4    /* will not print (the reason says why) */
};
#define SMILE_JOB_STATE_LAST SMILE_JOB_FAILED

/* Reason codes of a status (u16). Unknown codes are not an error. */
enum smile_job_reason {
	SMILE_JOB_R_OK = 0,
	SMILE_JOB_R_PRINTER_UNREACHABLE = 1, /* waiting: the printer does not answer */
	SMILE_JOB_R_PRINTER_NOT_READY = 2,   /* waiting: paper out, head open, paused... */
	SMILE_JOB_R_UNCERTAIN = 3,           /* failed: may or may not have printed
					      * (crash or broken connection while
					      * sending); reprint explicitly */
	SMILE_JOB_R_RENDER = 4,              /* failed: the record did not render */
	SMILE_JOB_R_UNSUPPORTED = 5,         /* failed: the printer takes no such format */
	SMILE_JOB_R_PRINTER_JOB = 6,         /* failed: the printer or queue dropped the job */
	SMILE_JOB_R_BAD_JOB = 7              /* failed: the job did not verify or open */
};
#define SMILE_JOB_R_LAST SMILE_JOB_R_BAD_JOB

/* "queued", "sent", ...; "unknown" otherwise. Static. */
const char *smile_job_state_name(int state);
/* SMILE_OK or SMILE_ERR_INVALID. */
enum smile_err smile_job_state_from_name(const char *name, enum smile_job_state *out)
	SMILE_MUST_CHECK;
/* "ok", "printer_unreachable", ...; "unknown" otherwise. Static. */
const char *smile_job_reason_name(int reason);
/* "zpl", "pdf", "png"; "unknown" otherwise. Static. */
const char *smile_job_format_name(int format);
enum smile_err smile_job_format_from_name(const char *name, enum smile_job_format *out)
	SMILE_MUST_CHECK;

/* A job. On encode every field is read; on open, `record` points into the
 * caller's buffer. Strings are NUL-terminated. */
struct smile_job {
	char station[SMILE_PROTO_ID_MAX + 1];
	char job_id[SMILE_JOB_ID_MAX + 1];
	uint64_t seq;     /* >= 1, increasing per station: the order to print in */
	uint64_t time_ms; /* when the gateway built it */
	unsigned format;  /* enum smile_job_format */
	unsigned copies;  /* 1..SMILE_JOB_COPIES_MAX */
	unsigned flags;   /* SMILE_JOB_FLAG_*; other bits 0 */
	char waybill[SMILE_PROTO_WAYBILL_MAX + 1]; /* 1..32 */
	const uint8_t *record;
	size_t record_len; /* 1..SMILE_JOB_RECORD_MAX */
};

/*
 * Build a job: seal `j->record` with `shared_key` (the gateway's box secret
 * and the station's box public, smile_proto_shared_key) under a fresh
 * random nonce, sign with the gateway's signing key. *len = bytes written.
 * SMILE_ERR_INVALID (e names the field), SMILE_ERR_BUFFER_SMALL (nothing
 * written), SMILE_ERR_CRYPTO. cap >= SMILE_JOB_MAX_BYTES always suffices.
 */
enum smile_err smile_job_encode(const struct smile_job *j,
				const uint8_t shared_key[SMILE_PROTO_KEY_BYTES],
				const uint8_t gw_sign_sk[SMILE_PROTO_SIGN_SK_BYTES], uint8_t *out,
				size_t cap, size_t *len, struct smile_error *e) SMILE_MUST_CHECK;

/*
 * Open a job received on a station's topic, in this order: parse (the
 * layout and ranges; SMILE_ERR_PROTO, SMILE_ERR_TOO_LARGE,
 * SMILE_ERR_PROTO_VERSION), check the gateway's signature
 * (SMILE_ERR_BAD_SIGNATURE), check it is addressed to `station`
 * (SMILE_ERR_DENIED), then decrypt the record into record_out[0..record_cap)
 * (SMILE_ERR_DECRYPT on a failed tag; SMILE_ERR_BUFFER_SMALL when the
 * buffer would not hold it: SMILE_JOB_RECORD_MAX always does). On success *out is filled, out->record = record_out. On any
 * error record_out holds no plaintext (zeroed).
 */
enum smile_err smile_job_open(const uint8_t *msg, size_t len,
			      const uint8_t gw_sign_pk[SMILE_PROTO_PK_BYTES], const char *station,
			      const uint8_t shared_key[SMILE_PROTO_KEY_BYTES], struct smile_job *out,
			      uint8_t *record_out, size_t record_cap, struct smile_error *e)
	SMILE_MUST_CHECK;

/* A status report. */
struct smile_job_status {
	char station[SMILE_PROTO_ID_MAX + 1];
	char job_id[SMILE_JOB_ID_MAX + 1];
	uint64_t seq;      /* the job's seq */
	uint64_t time_ms;  /* when the station built the report */
	unsigned state;    /* SMILE_JOB_SENT..SMILE_JOB_FAILED */
	unsigned reason;   /* enum smile_job_reason (unknown codes allowed) */
	char text[SMILE_JOB_REASON_MAX + 1]; /* the printer's words: "paper out" */
};

/* Build and sign with the station's signing key. SMILE_ERR_INVALID,
 * SMILE_ERR_BUFFER_SMALL. */
enum smile_err smile_job_status_encode(const struct smile_job_status *s,
				       const uint8_t station_sign_sk[SMILE_PROTO_SIGN_SK_BYTES],
				       uint8_t *out, size_t cap, size_t *len, struct smile_error *e)
	SMILE_MUST_CHECK;

/* Parse a status without checking the signature (the station id tells
 * whose key to check it with). SMILE_ERR_PROTO, SMILE_ERR_TOO_LARGE,
 * SMILE_ERR_PROTO_VERSION. */
enum smile_err smile_job_status_decode(const uint8_t *msg, size_t len,
				       struct smile_job_status *out, struct smile_error *e)
	SMILE_MUST_CHECK;

/* Check the signature over all bytes but the last 64 with the station's
 * key. SMILE_OK or SMILE_ERR_BAD_SIGNATURE (also for a message too short). */
enum smile_err smile_job_status_verify(const uint8_t *msg, size_t len,
				       const uint8_t station_sign_pk[SMILE_PROTO_PK_BYTES])
	SMILE_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
