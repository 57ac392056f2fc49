/* SPDX-License-Identifier: Apache-2.0 */
/*
 * printjob.c - the print job and job status codec (include/smile/printjob.h,
 * docs/print-station.md "Wire format"), shared by the gateway (encodes jobs,
 * reads statuses) and smile-print (opens jobs, writes statuses).
 *
 * The one idea is proto.c's: the signature covers the bytes that travel, a
 * decoder accepts only what the encoder could have written (ranges,
 * charsets, reserved bits, exact length), and the label record is sealed
 * with the job's header as associated data, exactly like a reply's contact
 * details, so a record moved into another job (another station, another
 * waybill, another copies count) does not open.
 *
 * C99, no heap, no I/O; libsodium only.
 */
#include <string.h>

#include <sodium.h>

#include "smile/printjob.h"

#include "core_internal.h"

#define FAIL(code, field, msg) smile_core_fail(e, (code), (field), (msg))

/* ------------------------------------------------------------ names */

static const char *const state_names[] = {"queued", "sent", "printing", "printed", "failed"};
static const char *const reason_names[] = {"ok",          "printer_unreachable",
					   "printer_not_ready", "uncertain",
					   "render_failed", "unsupported_format",
					   "printer_job",  "bad_job"};
static const char *const format_names[] = {"", "zpl", "pdf", "png"};

const char *smile_job_state_name(int state)
{
	return state >= 0 && state <= SMILE_JOB_STATE_LAST ? state_names[state] : "unknown";
}

enum smile_err smile_job_state_from_name(const char *name, enum smile_job_state *out)
{
	for (int i = 0; name && i <= SMILE_JOB_STATE_LAST; i++)
		if (strcmp(name, state_names[i]) == 0) {
			*out = (enum smile_job_state)i;
			return SMILE_OK;
		}
	return SMILE_ERR_INVALID;
}

const char *smile_job_reason_name(int reason)
{
	return reason >= 0 && reason <= SMILE_JOB_R_LAST ? reason_names[reason] : "unknown";
}

const char *smile_job_format_name(int format)
{
	return format >= SMILE_JOB_ZPL && format <= SMILE_JOB_PNG ? format_names[format]
								    : "unknown";
}

enum smile_err smile_job_format_from_name(const char *name, enum smile_job_format *out)
{
	for (int i = SMILE_JOB_ZPL; name && i <= SMILE_JOB_PNG; i++)
		if (strcmp(name, format_names[i]) == 0) {
			*out = (enum smile_job_format)i;
			return SMILE_OK;
		}
	return SMILE_ERR_INVALID;
}

/* ------------------------------------------------------------ bytes */

struct wr {
	uint8_t *p;
	size_t off;
};

static void w_u8(struct wr *w, unsigned v)
{
	w->p[w->off++] = (uint8_t)v;
}

static void w_u16(struct wr *w, unsigned v)
{
	w->p[w->off++] = (uint8_t)(v >> 8);
	w->p[w->off++] = (uint8_t)v;
}

static void w_u64(struct wr *w, uint64_t v)
{
	for (int i = 7; i >= 0; i--)
		w->p[w->off++] = (uint8_t)(v >> (8 * i));
}

static void w_bytes(struct wr *w, const void *b, size_t n)
{
	w_u16(w, (unsigned)n);
	if (n)
		memcpy(w->p + w->off, b, n);
	w->off += n;
}

struct rd {
	const uint8_t *p;
	size_t len, off;
};

static int rd_has(const struct rd *r, size_t n)
{
	return r->len - r->off >= n;
}

static unsigned r_u16(struct rd *r)
{
	unsigned v = ((unsigned)r->p[r->off] << 8) | r->p[r->off + 1];
	r->off += 2;
	return v;
}

static uint64_t r_u64(struct rd *r)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | r->p[r->off++];
	return v;
}

/* A u16-length field of min..max bytes; *p points into the message. */
static enum smile_err r_field(struct rd *r, size_t min, size_t max, const uint8_t **p, size_t *n,
			      const char *field, struct smile_error *e)
{
	if (!rd_has(r, 2))
		return FAIL(SMILE_ERR_PROTO, field, "truncated");
	*n = r_u16(r);
	if (*n < min || *n > max)
		return FAIL(SMILE_ERR_PROTO, field, "length out of range");
	if (!rd_has(r, *n))
		return FAIL(SMILE_ERR_PROTO, field, "truncated");
	*p = r->p + r->off;
	r->off += *n;
	return SMILE_OK;
}

/* An id-charset field copied NUL-terminated into out (cap = max + 1). */
static enum smile_err r_id(struct rd *r, size_t min, size_t max, char *out, const char *field,
			   struct smile_error *e)
{
	const uint8_t *p;
	size_t n;
	enum smile_err rc = r_field(r, min, max, &p, &n, field, e);
	if (rc)
		return rc;
	if (!smile_core_chars_ok((const char *)p, n))
		return FAIL(SMILE_ERR_PROTO, field, "a byte outside A-Z a-z 0-9 _ -");
	memcpy(out, p, n);
	out[n] = '\0';
	return SMILE_OK;
}

static int id_ok(const char *s, size_t min, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	return n >= min && n <= max && smile_core_chars_ok(s, n);
}

static int text_ok(const char *s)
{
	size_t n = strlen(s);
	if (n > SMILE_JOB_REASON_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/* ------------------------------------------------------------ job */

static enum smile_err job_check(const struct smile_job *j, struct smile_error *e)
{
	if (!id_ok(j->station, 1, SMILE_PROTO_ID_MAX))
		return FAIL(SMILE_ERR_INVALID, "job.station", "not a device id");
	if (!id_ok(j->job_id, 1, SMILE_JOB_ID_MAX))
		return FAIL(SMILE_ERR_INVALID, "job.job_id", "1-40 of A-Z a-z 0-9 _ -");
	if (j->seq == 0)
		return FAIL(SMILE_ERR_INVALID, "job.seq", "must be >= 1");
	if (j->format < SMILE_JOB_ZPL || j->format > SMILE_JOB_PNG)
		return FAIL(SMILE_ERR_INVALID, "job.format", "1 (zpl), 2 (pdf) or 3 (png)");
	if (j->copies < 1 || j->copies > SMILE_JOB_COPIES_MAX)
		return FAIL(SMILE_ERR_INVALID, "job.copies", "1-99");
	if (j->flags & ~SMILE_JOB_FLAG_REPRINT)
		return FAIL(SMILE_ERR_INVALID, "job.flags", "reserved bit set");
	if (!id_ok(j->waybill, 1, SMILE_PROTO_WAYBILL_MAX))
		return FAIL(SMILE_ERR_INVALID, "job.waybill", "1-32 of A-Z a-z 0-9 _ -");
	if (j->record == NULL || j->record_len < 1 || j->record_len > SMILE_JOB_RECORD_MAX)
		return FAIL(SMILE_ERR_INVALID, "job.record", "1-4096 bytes");
	return SMILE_OK;
}

enum smile_err smile_job_encode(const struct smile_job *j,
				const uint8_t shared_key[SMILE_PROTO_KEY_BYTES],
				const uint8_t gw_sign_sk[SMILE_PROTO_SIGN_SK_BYTES], uint8_t *out,
				size_t cap, size_t *len, struct smile_error *e)
{
	struct wr w = {out, 0};
	size_t sn = strlen(j->station), jn = strlen(j->job_id), wn = strlen(j->waybill);
	size_t sealed = SMILE_PROTO_SEAL_OVERHEAD + j->record_len, total, ad;
	unsigned long long ct_len;
	enum smile_err rc;

	*len = 0;
	if ((rc = job_check(j, e)))
		return rc;
	total = SMILE_JOB_FIXED_BYTES + sn + jn + wn + sealed;
	if (out == NULL || cap < total)
		return FAIL(SMILE_ERR_BUFFER_SMALL, "job", "output buffer too small");
	w_u8(&w, SMILE_PROTO_VERSION);
	w_u8(&w, SMILE_PROTO_TYPE_JOB);
	w_bytes(&w, j->station, sn);
	w_bytes(&w, j->job_id, jn);
	w_u64(&w, j->seq);
	w_u64(&w, j->time_ms);
	w_u8(&w, j->format);
	w_u8(&w, j->copies);
	w_u8(&w, j->flags);
	w_bytes(&w, j->waybill, wn);
	ad = w.off;
	w_u16(&w, (unsigned)sealed);
	randombytes_buf(out + w.off, SMILE_PROTO_NONCE_BYTES);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(
		    out + w.off + SMILE_PROTO_NONCE_BYTES, &ct_len, j->record, j->record_len, out,
		    ad, NULL, out + w.off, shared_key) != 0) {
		sodium_memzero(out, cap);
		return FAIL(SMILE_ERR_CRYPTO, "job.record", "sealing failed");
	}
	w.off += SMILE_PROTO_NONCE_BYTES + (size_t)ct_len;
	crypto_sign_detached(out + w.off, NULL, out, w.off, gw_sign_sk);
	w.off += SMILE_PROTO_SIG_BYTES;
	*len = w.off;
	return SMILE_OK;
}

/* Parse the layout; *ad_len = bytes before sealed_len, *sealed into msg. */
static enum smile_err job_parse(const uint8_t *msg, size_t len, struct smile_job *j,
				const uint8_t **sealed, size_t *sealed_len, size_t *ad_len,
				struct smile_error *e)
{
	struct rd r = {msg, len, 2};
	enum smile_err rc;

	memset(j, 0, sizeof(*j));
	/* the smallest job: 1-byte ids and waybill, a 1-byte record */
	rc = smile_core_envelope(msg, len,
				 SMILE_JOB_FIXED_BYTES + 3 + SMILE_PROTO_SEAL_OVERHEAD + 1,
				 SMILE_JOB_MAX_BYTES, SMILE_PROTO_TYPE_JOB, "job", e);
	if (rc)
		return rc;
	if ((rc = r_id(&r, 1, SMILE_PROTO_ID_MAX, j->station, "job.station", e)) ||
	    (rc = r_id(&r, 1, SMILE_JOB_ID_MAX, j->job_id, "job.job_id", e)))
		return rc;
	if (!rd_has(&r, 8 + 8 + 3))
		return FAIL(SMILE_ERR_PROTO, "job", "truncated");
	j->seq = r_u64(&r);
	j->time_ms = r_u64(&r);
	j->format = msg[r.off++];
	j->copies = msg[r.off++];
	j->flags = msg[r.off++];
	if (j->seq == 0)
		return FAIL(SMILE_ERR_PROTO, "job.seq", "zero");
	if (j->format < SMILE_JOB_ZPL || j->format > SMILE_JOB_PNG)
		return FAIL(SMILE_ERR_PROTO, "job.format", "unknown format");
	if (j->copies < 1 || j->copies > SMILE_JOB_COPIES_MAX)
		return FAIL(SMILE_ERR_PROTO, "job.copies", "not 1-99");
	if (j->flags & ~SMILE_JOB_FLAG_REPRINT)
		return FAIL(SMILE_ERR_PROTO, "job.flags", "reserved bit set");
	if ((rc = r_id(&r, 1, SMILE_PROTO_WAYBILL_MAX, j->waybill, "job.waybill", e)))
		return rc;
	*ad_len = r.off;
	if ((rc = r_field(&r, SMILE_PROTO_SEAL_OVERHEAD + 1,
			  SMILE_PROTO_SEAL_OVERHEAD + SMILE_JOB_RECORD_MAX, sealed, sealed_len,
			  "job.sealed", e)))
		return rc;
	if (r.len - r.off != SMILE_PROTO_SIG_BYTES)
		return FAIL(SMILE_ERR_PROTO, "job",
			    r.len - r.off < SMILE_PROTO_SIG_BYTES ? "truncated" : "trailing bytes");
	return SMILE_OK;
}

enum smile_err smile_job_open(const uint8_t *msg, size_t len,
			      const uint8_t gw_sign_pk[SMILE_PROTO_PK_BYTES], const char *station,
			      const uint8_t shared_key[SMILE_PROTO_KEY_BYTES], struct smile_job *out,
			      uint8_t *record_out, size_t record_cap, struct smile_error *e)
{
	const uint8_t *sealed = NULL;
	size_t sealed_len = 0, ad_len = 0;
	unsigned long long got = 0;
	enum smile_err rc;

	if (record_out && record_cap)
		sodium_memzero(record_out, record_cap);
	if ((rc = job_parse(msg, len, out, &sealed, &sealed_len, &ad_len, e)))
		return rc;
	if (crypto_sign_verify_detached(msg + len - SMILE_PROTO_SIG_BYTES, msg,
					len - SMILE_PROTO_SIG_BYTES, gw_sign_pk) != 0)
		return FAIL(SMILE_ERR_BAD_SIGNATURE, "job", "gateway signature does not verify");
	if (station == NULL || strcmp(station, out->station) != 0)
		return FAIL(SMILE_ERR_DENIED, "job.station", "addressed to another station");
	if (record_out == NULL || record_cap < sealed_len - SMILE_PROTO_SEAL_OVERHEAD)
		return FAIL(SMILE_ERR_BUFFER_SMALL, "job.record", "record buffer too small");
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    record_out, &got, NULL, sealed + SMILE_PROTO_NONCE_BYTES,
		    sealed_len - SMILE_PROTO_NONCE_BYTES, msg, ad_len, sealed, shared_key) != 0) {
		sodium_memzero(record_out, record_cap);
		return FAIL(SMILE_ERR_DECRYPT, "job.record", "does not open with this station's key");
	}
	out->record = record_out;
	out->record_len = (size_t)got;
	return SMILE_OK;
}

/* ------------------------------------------------------------ status */

enum smile_err smile_job_status_encode(const struct smile_job_status *s,
				       const uint8_t station_sign_sk[SMILE_PROTO_SIGN_SK_BYTES],
				       uint8_t *out, size_t cap, size_t *len, struct smile_error *e)
{
	struct wr w = {out, 0};
	size_t total;

	*len = 0;
	if (!id_ok(s->station, 1, SMILE_PROTO_ID_MAX))
		return FAIL(SMILE_ERR_INVALID, "status.station", "not a device id");
	if (!id_ok(s->job_id, 1, SMILE_JOB_ID_MAX))
		return FAIL(SMILE_ERR_INVALID, "status.job_id", "1-40 of A-Z a-z 0-9 _ -");
	if (s->seq == 0)
		return FAIL(SMILE_ERR_INVALID, "status.seq", "must be >= 1");
	if (s->state < SMILE_JOB_SENT || s->state > SMILE_JOB_FAILED)
		return FAIL(SMILE_ERR_INVALID, "status.state", "1-4");
	if (s->reason > 0xffffu)
		return FAIL(SMILE_ERR_INVALID, "status.reason", "u16");
	if (!text_ok(s->text))
		return FAIL(SMILE_ERR_INVALID, "status.text", "0-200 bytes of 0x20-0x7e");
	total = SMILE_JOB_STATUS_FIXED_BYTES + strlen(s->station) + strlen(s->job_id) +
		strlen(s->text);
	if (out == NULL || cap < total)
		return FAIL(SMILE_ERR_BUFFER_SMALL, "status", "output buffer too small");
	w_u8(&w, SMILE_PROTO_VERSION);
	w_u8(&w, SMILE_PROTO_TYPE_JOB_STATUS);
	w_bytes(&w, s->station, strlen(s->station));
	w_bytes(&w, s->job_id, strlen(s->job_id));
	w_u64(&w, s->seq);
	w_u64(&w, s->time_ms);
	w_u8(&w, s->state);
	w_u16(&w, s->reason);
	w_bytes(&w, s->text, strlen(s->text));
	crypto_sign_detached(out + w.off, NULL, out, w.off, station_sign_sk);
	w.off += SMILE_PROTO_SIG_BYTES;
	*len = w.off;
	return SMILE_OK;
}

enum smile_err smile_job_status_decode(const uint8_t *msg, size_t len,
				       struct smile_job_status *out, struct smile_error *e)
{
	struct rd r = {msg, len, 2};
	const uint8_t *text;
	size_t tn;
	enum smile_err rc;

	memset(out, 0, sizeof(*out));
	rc = smile_core_envelope(msg, len, SMILE_JOB_STATUS_FIXED_BYTES + 2,
				 SMILE_JOB_STATUS_MAX_BYTES, SMILE_PROTO_TYPE_JOB_STATUS, "status", e);
	if (rc)
		return rc;
	if ((rc = r_id(&r, 1, SMILE_PROTO_ID_MAX, out->station, "status.station", e)) ||
	    (rc = r_id(&r, 1, SMILE_JOB_ID_MAX, out->job_id, "status.job_id", e)))
		return rc;
	if (!rd_has(&r, 8 + 8 + 1 + 2))
		return FAIL(SMILE_ERR_PROTO, "status", "truncated");
	out->seq = r_u64(&r);
	out->time_ms = r_u64(&r);
	out->state = msg[r.off++];
	out->reason = r_u16(&r);
	if (out->seq == 0)
		return FAIL(SMILE_ERR_PROTO, "status.seq", "zero");
	if (out->state < SMILE_JOB_SENT || out->state > SMILE_JOB_FAILED)
		return FAIL(SMILE_ERR_PROTO, "status.state", "not 1-4");
	if ((rc = r_field(&r, 0, SMILE_JOB_REASON_MAX, &text, &tn, "status.text", e)))
		return rc;
	for (size_t i = 0; i < tn; i++)
		if (text[i] < 0x20 || text[i] > 0x7e)
			return FAIL(SMILE_ERR_PROTO, "status.text", "a byte outside 0x20-0x7e");
	memcpy(out->text, text, tn);
	out->text[tn] = '\0';
	if (r.len - r.off != SMILE_PROTO_SIG_BYTES)
		return FAIL(SMILE_ERR_PROTO, "status",
			    r.len - r.off < SMILE_PROTO_SIG_BYTES ? "truncated" : "trailing bytes");
	return SMILE_OK;
}

enum smile_err smile_job_status_verify(const uint8_t *msg, size_t len,
				       const uint8_t station_sign_pk[SMILE_PROTO_PK_BYTES])
{
	if (msg == NULL || len < SMILE_JOB_STATUS_FIXED_BYTES)
		return SMILE_ERR_BAD_SIGNATURE;
	if (crypto_sign_verify_detached(msg + len - SMILE_PROTO_SIG_BYTES, msg,
					len - SMILE_PROTO_SIG_BYTES, station_sign_pk) != 0)
		return SMILE_ERR_BAD_SIGNATURE;
	return SMILE_OK;
}
