/* SPDX-License-Identifier: Apache-2.0 */
/*
 * svc_printjobs.c - print jobs for print stations (docs/print-station.md):
 * asking for one (POST /v1/print-jobs), following it (GET), and the
 * station's signed status reports arriving from the relay.
 *
 * The one idea: a job is built once, inside the store's write transaction
 * that decides "printed before?" and gives it the station's next sequence
 * number, and stored as the exact signed message. Whichever node took the
 * POST publishes it; any node can publish it again (queued jobs are resent
 * whenever a relay connects) and the station deduplicates by job id, so the
 * broker or a node being away delays a job and never loses or doubles it.
 * The label record inside is the shipment's masked record (the one
 * smile-label renders), sealed to the station's box key: the broker never
 * sees it, another station cannot open it, and contact details are never
 * part of it.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay.h"
#include "smile/log.h"
#include "smile/printjob.h"
#include "svc.h"

/* What the writer needs to build each job's message. */
struct build_ctx {
	struct gateway *g;
	const char **records; /* per row, the shipment's public_json */
	const struct smile_store_print_job *rows;
	uint8_t shared[SMILE_PROTO_KEY_BYTES];
};

static enum smile_err build_job(void *arg, struct smile_store_print_job *row)
{
	struct build_ctx *b = arg;
	size_t i = (size_t)(row - b->rows);
	struct smile_job j = {0};
	size_t len = 0;
	enum smile_err rc;

	snprintf(j.station, sizeof(j.station), "%.32s", row->station);
	snprintf(j.job_id, sizeof(j.job_id), "%.40s", row->id);
	snprintf(j.waybill, sizeof(j.waybill), "%s", row->waybill);
	j.seq = row->seq;
	j.time_ms = (uint64_t)row->created_ms;
	j.format = (unsigned)row->format;
	j.copies = (unsigned)row->copies;
	j.flags = row->reprint ? SMILE_JOB_FLAG_REPRINT : 0;
	j.record = (const uint8_t *)b->records[i];
	j.record_len = strlen(b->records[i]);
	row->message = malloc(SMILE_JOB_MAX_BYTES);
	if (row->message == NULL)
		return SMILE_ERR_NOMEM;
	rc = smile_job_encode(&j, b->shared, smile_keys_sign_sk(b->g->keys), row->message,
			      SMILE_JOB_MAX_BYTES, &len, NULL);
	row->message_len = len;
	return rc;
}

static void new_job_id(char out[SMILE_STORE_JOB_ID_MAX])
{
	uint8_t r[16];
	char hex[33];
	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(hex, sizeof(hex), r, sizeof(r));
	snprintf(out, SMILE_STORE_JOB_ID_MAX, "pj_%s", hex);
}

static enum smile_err check_request(const struct svc_print_request *rq, struct smile_error *e)
{
	if (rq->n < 1 || rq->n > SVC_PRINT_MAX_WAYBILLS)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "waybills",
				       "1 to %d waybills", SVC_PRINT_MAX_WAYBILLS);
	if (rq->station == NULL || !smile_proto_id_valid(rq->station, strlen(rq->station)))
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "station",
				       "a device id: 1-32 of A-Z a-z 0-9 _ -");
	if (rq->copies < 1 || rq->copies > SMILE_JOB_COPIES_MAX)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "copies", "1-99");
	if (rq->format < SMILE_JOB_ZPL || rq->format > SMILE_JOB_PNG)
		return smile_error_set(e, SMILE_ERR_FIELD_VALUE, "format", "zpl, pdf or png");
	return SMILE_OK;
}

/* The station: enrolled, a print station, active. Its box key gives the
 * shared key the records are sealed with. */
static enum smile_err station_key(struct gateway *g, const char *station,
				  uint8_t shared[SMILE_PROTO_KEY_BYTES], struct smile_error *e)
{
	struct smile_store_device d;
	enum smile_err rc = smile_store_get_device(g->store, station, &d);

	if (rc == SMILE_ERR_NOT_FOUND)
		return smile_error_set(e, SMILE_ERR_NOT_FOUND, "station", "no such print station");
	if (rc)
		return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not read the station");
	if (d.role != SMILE_DEV_PRINT_STATION)
		rc = smile_error_set(e, SMILE_ERR_NOT_FOUND, "station", "no such print station");
	else if (d.status != SMILE_DEV_ACTIVE)
		rc = smile_error_set(e, SMILE_ERR_CONFLICT, "station",
				     "the print station is %s", smile_device_status_name(d.status));
	else if (smile_proto_shared_key(smile_keys_box_sk(g->keys), d.box_pk, shared) != SMILE_OK)
		rc = smile_error_set(e, SMILE_ERR_INTERNAL, "station", "unusable station key");
	smile_store_device_release(&d);
	return rc;
}

/* Read and check each waybill the caller asks for: one the caller may not
 * see is as missing as a missing one; an erased one is never printed. */
static enum smile_err load_rows(struct gateway *g, const struct svc_caller *c,
				const struct svc_print_request *rq,
				struct smile_store_print_job *rows, char **records,
				struct smile_error *e)
{
	for (size_t i = 0; i < rq->n; i++) {
		struct smile_store_shipment sh;
		struct smile_error e2 = {0};
		char field[32];
		snprintf(field, sizeof(field), "waybills[%zu]", i);
		if (svc_shipment_get(g, c, rq->waybills[i], &sh, &e2) != SMILE_OK)
			return smile_error_set(e, e2.code, field, "%s", e2.message);
		if (sh.erased_ms != 0) {
			smile_store_shipment_release(&sh);
			return smile_error_set(e, SMILE_ERR_SHREDDED, field,
					       "the shipment's personal data was erased: its label "
					       "is not printed any more");
		}
		if (strlen(sh.public_json) > SMILE_JOB_RECORD_MAX) {
			smile_store_shipment_release(&sh);
			return smile_error_set(e, SMILE_ERR_TOO_LARGE, field,
					       "label record over %d bytes", SMILE_JOB_RECORD_MAX);
		}
		records[i] = strdup(sh.public_json);
		new_job_id(rows[i].id);
		snprintf(rows[i].station, sizeof(rows[i].station), "%s", rq->station);
		rows[i].shipment_id = sh.id;
		snprintf(rows[i].waybill, sizeof(rows[i].waybill), "%s", sh.waybill);
		snprintf(rows[i].merchant, sizeof(rows[i].merchant), "%s", sh.merchant);
		snprintf(rows[i].requested_by, sizeof(rows[i].requested_by), "%s", c->id);
		rows[i].format = (int)rq->format;
		rows[i].copies = rq->copies;
		rows[i].reprint = rq->reprint != 0;
		smile_store_shipment_release(&sh);
		if (records[i] == NULL)
			return smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
	}
	return SMILE_OK;
}

enum smile_err svc_print_jobs_create(struct gateway *g, const struct svc_caller *c,
				     const struct svc_print_request *rq,
				     struct smile_store_print_job *rows, struct smile_error *e)
{
	char *records[SVC_PRINT_MAX_WAYBILLS] = {0};
	struct build_ctx b = {.g = g, .rows = rows, .records = (const char **)records};
	size_t conflict = 0;
	enum smile_err rc;

	memset(rows, 0, sizeof(*rows) * (rq->n <= SVC_PRINT_MAX_WAYBILLS ? rq->n : 0));
	if ((rc = check_request(rq, e)))
		return rc;
	if (c->role != SMILE_ROLE_ADMIN && c->role != SMILE_ROLE_MERCHANT &&
	    c->role != SMILE_ROLE_WAREHOUSE)
		return smile_error_set(e, SMILE_ERR_PERMISSION, NULL, "not allowed");
	if ((rc = station_key(g, rq->station, b.shared, e)) ||
	    (rc = load_rows(g, c, rq, rows, records, e)))
		goto out;
	rc = smile_store_put_print_jobs(g->store, rows, rq->n, build_job, &b, &conflict,
					gateway_now_ms());
	if (rc == SMILE_ERR_CONFLICT) {
		char field[32];
		snprintf(field, sizeof(field), "waybills[%zu]", conflict);
		rc = smile_error_set(e, SMILE_ERR_CONFLICT, field,
				     "this waybill's label was printed (or sent to a station) "
				     "before; a second copy needs \"reprint\": true, which is "
				     "audited");
		goto out;
	}
	if (rc) {
		rc = smile_error_set(e, rc == SMILE_ERR_NOMEM ? rc : SMILE_ERR_STORE, NULL,
				     "could not queue the print job");
		goto out;
	}
	for (size_t i = 0; i < rq->n; i++) {
		int sent = rq->local ? 0
				     : relay_publish_job(g->relay, rows[i].station, rows[i].message,
							 rows[i].message_len);
		smile_log(SMILE_LOG_INFO, "print.queued", SMILE_KV_ID("job", rows[i].id),
			  SMILE_KV_ID("waybill", rows[i].waybill),
			  SMILE_KV_ID("station", rows[i].station), SMILE_KV_ID("by", c->id),
			  SMILE_KV_INT("reprint", rows[i].reprint),
			  SMILE_KV_INT("published", sent),
			  SMILE_KV_ID("delivery", rq->local ? "local" : "mqtt"));
	}
out:
	sodium_memzero(b.shared, sizeof(b.shared));
	for (size_t i = 0; i < SVC_PRINT_MAX_WAYBILLS; i++)
		free(records[i]);
	if (rc)
		for (size_t i = 0; i < rq->n && i < SVC_PRINT_MAX_WAYBILLS; i++)
			smile_store_print_job_release(&rows[i]);
	return rc;
}

enum smile_err svc_print_job_get(struct gateway *g, const struct svc_caller *c, const char *id,
				 struct smile_store_print_job *out, struct smile_error *e)
{
	enum smile_err rc;

	if (strlen(id) >= SMILE_STORE_JOB_ID_MAX)
		return smile_error_set(e, SMILE_ERR_NOT_FOUND, "id", "no such print job");
	rc = smile_store_get_print_job(g->store, id, out);
	if (rc == SMILE_OK && svc_may_access(c, out->merchant))
		return SMILE_OK;
	if (rc == SMILE_OK)
		smile_store_print_job_release(out);
	if (rc == SMILE_OK || rc == SMILE_ERR_NOT_FOUND)
		return smile_error_set(e, SMILE_ERR_NOT_FOUND, "id", "no such print job");
	return smile_error_set(e, SMILE_ERR_STORE, NULL, "could not read the print job");
}

json_t *svc_print_job_json(const struct smile_store_print_job *j)
{
	char created[GATEWAY_TIME_MAX], updated[GATEWAY_TIME_MAX];
	gateway_iso_time(j->created_ms, created);
	gateway_iso_time(j->updated_ms, updated);
	return json_pack("{s:s, s:s, s:s, s:I, s:s, s:i, s:b, s:s, s:s, s:s, s:s, s:s}", "id",
			 j->id, "waybill", j->waybill, "station", j->station, "seq",
			 (json_int_t)j->seq, "format", smile_job_format_name(j->format), "copies",
			 j->copies, "reprint", j->reprint, "state", smile_job_state_name(j->state),
			 "reason", smile_job_reason_name(j->reason), "reason_text",
			 j->reason_text, "created_at", created, "updated_at", updated);
}

enum smile_err svc_print_job_report(struct gateway *g, const char *topic_station,
				    const uint8_t *msg, size_t len)
{
	struct smile_job_status st;
	struct smile_store_device d;
	enum smile_err rc;

	if ((rc = smile_job_status_decode(msg, len, &st, NULL)))
		goto refused;
	if (strcmp(st.station, topic_station) != 0) {
		rc = SMILE_ERR_PROTO;
		goto refused;
	}
	if ((rc = smile_store_get_device(g->store, st.station, &d)))
		goto refused;
	if (d.role != SMILE_DEV_PRINT_STATION || d.status != SMILE_DEV_ACTIVE)
		rc = SMILE_ERR_DEVICE_INACTIVE;
	else
		rc = smile_job_status_verify(msg, len, d.sign_pk);
	smile_store_device_release(&d);
	if (rc)
		goto refused;
	rc = smile_store_print_job_report(g->store, st.job_id, st.station, (int)st.state,
					  (int)st.reason, st.text, gateway_now_ms());
	if (rc == SMILE_ERR_CONFLICT)
		return SMILE_OK; /* a retransmission or a late report: nothing to do */
	if (rc)
		goto refused;
	smile_log(SMILE_LOG_INFO, "print.status", SMILE_KV_ID("job", st.job_id),
		  SMILE_KV_ID("station", st.station),
		  SMILE_KV_ID("state", smile_job_state_name((int)st.state)),
		  SMILE_KV_ID("reason", smile_job_reason_name((int)st.reason)));
	return SMILE_OK;
refused:
	smile_log(SMILE_LOG_WARN, "print.status_refused", SMILE_KV_ID("station", topic_station),
		  SMILE_KV_ERR("err", rc));
	return rc;
}
