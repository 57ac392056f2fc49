/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_printjobs.c - print jobs over HTTP (docs/api.md "Print jobs"): read
 * the request, call svc_printjobs.c, write the answer. The rules, logs and
 * the reprint audit are the service's.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "gateway.h"
#include "smile/printjob.h"
#include "svc.h"

/* {waybills:[...], station, format, copies, reprint} into rq; the strings
 * stay owned by body. 0 and an error response when malformed. */
static int read_request(json_t *body, struct svc_print_request *rq,
			const char *waybills[SVC_PRINT_MAX_WAYBILLS], struct http_resp *o)
{
	json_t *wb = json_object_get(body, "waybills"), *v;
	size_t i;
	enum smile_job_format f = SMILE_JOB_ZPL;

	memset(rq, 0, sizeof(*rq));
	if (!json_is_array(wb) || json_array_size(wb) < 1 ||
	    json_array_size(wb) > SVC_PRINT_MAX_WAYBILLS) {
		http_resp_error(o, 422, "invalid_value", "waybills", "an array of 1 to %d waybills",
				SVC_PRINT_MAX_WAYBILLS);
		return 0;
	}
	json_array_foreach(wb, i, v) {
		if (!json_is_string(v)) {
			http_resp_error(o, 422, "wrong_type", "waybills", "waybills are strings");
			return 0;
		}
		waybills[i] = json_string_value(v);
	}
	rq->waybills = waybills;
	rq->n = json_array_size(wb);
	v = json_object_get(body, "station");
	if (!json_is_string(v)) {
		http_resp_error(o, 422, "missing_field", "station", "the print station's device id");
		return 0;
	}
	rq->station = json_string_value(v);
	v = json_object_get(body, "format");
	if (v && (!json_is_string(v) || smile_job_format_from_name(json_string_value(v), &f))) {
		http_resp_error(o, 422, "invalid_value", "format", "zpl, pdf or png");
		return 0;
	}
	rq->format = f;
	v = json_object_get(body, "copies");
	if (v && !json_is_integer(v)) {
		http_resp_error(o, 422, "wrong_type", "copies", "an integer, 1-99");
		return 0;
	}
	rq->copies = v ? (json_integer_value(v) < 1 || json_integer_value(v) > 99
				  ? 0
				  : (int)json_integer_value(v))
		       : 1;
	v = json_object_get(body, "reprint");
	if (v && !json_is_boolean(v)) {
		http_resp_error(o, 422, "wrong_type", "reprint", "true or false");
		return 0;
	}
	rq->reprint = v && json_is_true(v);
	v = json_object_get(body, "delivery");
	if (v && (!json_is_string(v) || (strcmp(json_string_value(v), "mqtt") != 0 &&
					  strcmp(json_string_value(v), "local") != 0))) {
		http_resp_error(o, 422, "invalid_value", "delivery", "mqtt or local");
		return 0;
	}
	rq->local = v && strcmp(json_string_value(v), "local") == 0;
	return 1;
}

/* The job's signed message, base64 (malloc'd), or NULL. */
static char *message_base64(const struct smile_store_print_job *j)
{
	size_t cap;
	char *b64;

	if (j->message == NULL || j->message_len == 0)
		return NULL;
	cap = sodium_base64_ENCODED_LEN(j->message_len, sodium_base64_VARIANT_ORIGINAL);
	if ((b64 = malloc(cap)) != NULL)
		sodium_bin2base64(b64, cap, j->message, j->message_len,
				  sodium_base64_VARIANT_ORIGINAL);
	return b64;
}

void api_print_jobs_create(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	struct svc_caller c = svc_caller_api(&r->key);
	struct smile_store_print_job rows[SVC_PRINT_MAX_WAYBILLS];
	const char *waybills[SVC_PRINT_MAX_WAYBILLS];
	struct svc_print_request rq;
	struct smile_error e = {0};
	json_t *body = http_body_json(r, o), *jobs;

	if (body == NULL)
		return;
	if (!read_request(body, &rq, waybills, o)) {
		json_decref(body);
		return;
	}
	if (svc_print_jobs_create(g, &c, &rq, rows, &e) != SMILE_OK) {
		http_resp_smile_error(o, &e);
		json_decref(body);
		return;
	}
	jobs = json_array();
	for (size_t i = 0; i < rq.n; i++) {
		json_t *j = svc_print_job_json(&rows[i]);
		char *b64 = rq.local ? message_base64(&rows[i]) : NULL;
		if (b64)
			json_object_set_new(j, "message", json_string(b64));
		free(b64);
		json_array_append_new(jobs, j);
		smile_store_print_job_release(&rows[i]);
	}
	http_resp_json(o, 201, json_pack("{s:o}", "jobs", jobs));
	json_decref(body);
}

void api_print_job_get(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	struct svc_caller c = svc_caller_api(&r->key);
	struct smile_store_print_job j;
	struct smile_error e = {0};

	if (svc_print_job_get(g, &c, r->seg[2], &j, &e) != SMILE_OK) {
		http_resp_smile_error(o, &e);
		return;
	}
	http_resp_json(o, 200, svc_print_job_json(&j));
	smile_store_print_job_release(&j);
}

/* The job's signed message as the station gets it, base64, for a web page
 * that hands it to the station's local WebSocket API (docs/print-station.md,
 * "Local API"): the record in it is sealed to the station, so the caller
 * learns nothing it could not read in GET /v1/print-jobs/{id}. */
void api_print_job_message(struct gateway *g, struct http_req *r, struct http_resp *o)
{
	struct svc_caller c = svc_caller_api(&r->key);
	struct smile_store_print_job j;
	struct smile_error e = {0};
	char *b64;

	if (svc_print_job_get(g, &c, r->seg[2], &j, &e) != SMILE_OK) {
		http_resp_smile_error(o, &e);
		return;
	}
	b64 = message_base64(&j);
	if (b64 == NULL) {
		smile_store_print_job_release(&j);
		http_resp_error(o, 500, "internal", NULL, "out of memory");
		return;
	}
	http_resp_json(o, 200, json_pack("{s:s,s:s,s:s,s:s}", "id", j.id, "station", j.station,
					 "waybill", j.waybill, "message", b64));
	free(b64);
	smile_store_print_job_release(&j);
}
