/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c - smile-print, the print-station agent (docs/print-station.md).
 *
 * Enrolled with the gateway like a handheld (role print_station, its own
 * key file), it takes print jobs from smile/v1/dev/{id}/job, keeps them in a
 * durable spool (spool.c), prints them one at a time in sequence order
 * through the label library's printer back ends (smile/printer.h), and
 * reports each job's progress, signed, on smile/v1/dev/{id}/jobstatus.
 *
 * Two threads: the MQTT network thread only verifies a job and writes it to
 * the spool (fsync) before reporting "sent", and re-sends every job's last
 * status after each connection; the main thread prints. The spool is the
 * only thing they share (plus a wake-up), so a job that arrived is never
 * lost by a crash, and one whose first byte may have reached the printer is
 * never sent again by itself (spool.c says why, and what the one window
 * is).
 *
 * A third thread, when local_api_listen is set, serves the local WebSocket
 * API (localapi.c) for web pages: a job a page hands it goes through
 * accept_job exactly like one from MQTT (verified, addressed to us, spooled
 * under spool_mu, reported "sent"); previews are rendered there with the
 * thread's own renderer and printer handle (neither is thread-safe), and
 * every report is also pushed to the connected pages.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <mosquitto.h>
#include <sodium.h>

#include "../firmware-bridge/keyfile.h"
#include "../firmware-bridge/statedir.h"
#include "pconf.h"
#include "smile/buf.h"
#include "smile/clock.h"
#include "smile/credentials.h"
#include "smile/device.h"
#include "smile/label.h"
#include "smile/log.h"
#include "smile/printer.h"
#include "smile/printjob.h"
#include "localapi.h"
#include "spool.h"

static const char usage[] =
	"usage: smile-print keygen --id ID --out KEYFILE\n"
	"       smile-print run --config FILE\n"
	"       smile-print --help\n"
	"\n"
	"The print-station agent: it takes print jobs the gateway sends to this\n"
	"station (signed by the gateway, the label record sealed to this station's\n"
	"key), keeps them in a durable spool, prints each once, in order, on the\n"
	"configured printer, and reports every job's progress back, signed.\n"
	"\n"
	"  keygen   create the station's key file (mode 0600, never overwritten) and\n"
	"           print the enrolment JSON; an administrator posts it to\n"
	"           POST /v1/devices with \"role\": \"print_station\"\n"
	"  run      run the agent with a configuration file (conf/smile-print.conf\n"
	"           documents every key); SIGTERM or SIGINT stops it after the job\n"
	"           in hand\n"
	"\n"
	"With local_api_listen = 127.0.0.1:PORT and local_api_origins set, web pages\n"
	"from those origins talk to the station at ws://127.0.0.1:PORT (wss:// with\n"
	"local_api_cert): getPrinters, print (a job message from the gateway's\n"
	"GET /v1/print-jobs/{id}/message), preview (PDF) and job notifications.\n"
	"\n"
	"A job found half-sent after a crash is reported failed (reason\n"
	"\"uncertain\") and never printed again by itself: reprint it explicitly\n"
	"(POST /v1/print-jobs with \"reprint\": true). docs/print-station.md.\n"
	"SMILE_LOG_LEVEL=debug|info|warn|error overrides log_level.\n";

struct agent {
	struct print_conf conf;
	struct smile_device_keys *keys; /* sodium_malloc'd */
	uint8_t gw_sign_pk[SMILE_PROTO_PK_BYTES];
	uint8_t shared[SMILE_PROTO_KEY_BYTES]; /* with the gateway's box key */
	char job_topic[SMILE_PROTO_TOPIC_MAX], status_topic[SMILE_PROTO_TOPIC_MAX];
	struct spool spool;
	struct mosquitto *mosq;
	pthread_t net;
	atomic_int connected;
	atomic_int resend_all; /* set on each connection: resend every job's state */
	struct smile_printer *printer;
	struct smile_label_renderer *rd[3];
	enum smile_label_size size;
	pthread_mutex_t mu;
	pthread_cond_t wake;
	int kicked;
	/* the last waiting reason reported, so a printer that stays away is
	 * reported once, not every retry */
	char waiting_job[SPOOL_NAME_MAX];
	char waiting_text[SMILE_JOB_REASON_MAX + 1];
	/* spool_add from the MQTT and the local API threads, one at a time: a
	 * job arriving by both at once is kept once */
	pthread_mutex_t spool_mu;
	struct local_api *api;
	/* the local API thread's own (handles are not thread-safe) */
	struct smile_printer *api_printer;
	struct smile_label_renderer *api_rd[3];
};

static atomic_int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop_flag, 1);
}

static int stopping(void)
{
	return atomic_load(&stop_flag);
}

/* Sleep up to ms, woken early by a new job or a stop. */
static void nap(struct agent *a, long ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&a->mu);
	while (!a->kicked && !stopping())
		if (pthread_cond_timedwait(&a->wake, &a->mu, &until) == ETIMEDOUT)
			break;
	a->kicked = 0;
	pthread_mutex_unlock(&a->mu);
}

static void kick(struct agent *a)
{
	pthread_mutex_lock(&a->mu);
	a->kicked = 1;
	pthread_cond_broadcast(&a->wake);
	pthread_mutex_unlock(&a->mu);
}

/* ------------------------------------------------------------ reports */

/* Printable ASCII only, at most SMILE_JOB_REASON_MAX: the printer's words. */
static void clean_text(char *dst, const char *src)
{
	size_t n = 0;
	for (; src && *src && n < SMILE_JOB_REASON_MAX; src++)
		dst[n++] = (*src >= 0x20 && *src <= 0x7e) ? *src : ' ';
	dst[n] = '\0';
}

static void report(struct agent *a, uint64_t seq, const char *id, int state, int reason,
		   const char *text)
{
	struct smile_job_status st = {0};
	uint8_t msg[SMILE_JOB_STATUS_MAX_BYTES];
	size_t len;
	int rc;

	snprintf(st.station, sizeof(st.station), "%s", a->keys->id);
	snprintf(st.job_id, sizeof(st.job_id), "%s", id);
	st.seq = seq;
	st.time_ms = (uint64_t)smile_clock_ms();
	st.state = (unsigned)state;
	st.reason = (unsigned)reason;
	clean_text(st.text, text);
	if (smile_job_status_encode(&st, a->keys->sign_sk, msg, sizeof(msg), &len, NULL) !=
	    SMILE_OK)
		return;
	rc = mosquitto_publish(a->mosq, NULL, a->status_topic, (int)len, msg, 1, false);
	local_api_notify(a->api, id, smile_job_state_name(state), smile_job_reason_name(reason),
			 st.text);
	smile_log(SMILE_LOG_INFO, "print.report", SMILE_KV_ID("job", id),
		  SMILE_KV_ID("state", smile_job_state_name(state)),
		  SMILE_KV_ID("reason", smile_job_reason_name(reason)),
		  SMILE_KV_INT("published", rc == MOSQ_ERR_SUCCESS));
}

static void report_name(struct agent *a, const char *name, int state, int reason,
			const char *text)
{
	uint64_t seq;
	char id[SMILE_JOB_ID_MAX + 1];
	if (spool_split(name, &seq, id) == 0)
		report(a, seq, id, state, reason, text);
}

/* One job's current state again (the gateway ignores what it has): after
 * every connection for all jobs (a report lost with the connection arrives
 * now), and every status_resend_s for recent ones (resend_recent). Main
 * thread only: it owns the waiting reason. */
static void resend_one(void *arg, const char *name, enum spool_state st, int job_state,
		       int reason, const char *text)
{
	struct agent *a = arg;
	if (st == SPOOL_QUEUED && strcmp(name, a->waiting_job) == 0 && a->waiting_text[0])
		report_name(a, name, SMILE_JOB_SENT, reason, a->waiting_text);
	else
		report_name(a, name, job_state, reason, text);
}

/* ------------------------------------------------------------ MQTT */

static void on_connect(struct mosquitto *m, void *arg, int rc)
{
	struct agent *a = arg;
	if (rc != 0) {
		smile_log(SMILE_LOG_WARN, "print.mqtt.refused", SMILE_KV_INT("rc", rc));
		return;
	}
	rc = mosquitto_subscribe(m, NULL, a->job_topic, 1);
	atomic_store(&a->connected, rc == MOSQ_ERR_SUCCESS);
	smile_log(SMILE_LOG_INFO, "print.mqtt.connected", SMILE_KV_ID("station", a->keys->id),
		  SMILE_KV_INT("subscribe", rc));
	/* the main thread resends every job's state (it owns the waiting
	 * reason); woken now */
	atomic_store(&a->resend_all, 1);
	kick(a);
}

static void on_disconnect(struct mosquitto *m, void *arg, int rc)
{
	struct agent *a = arg;
	(void)m;
	atomic_store(&a->connected, 0);
	smile_log(SMILE_LOG_WARN, "print.mqtt.disconnected", SMILE_KV_INT("rc", rc));
}

/* A job: verified, addressed to us, and opening with our key, before it is
 * kept; then written durably; only then reported "sent". The same for MQTT
 * and the local API (`via`). */
static enum smile_err accept_job(struct agent *a, const uint8_t *msg, size_t len,
				 const char *via, struct smile_job *job, int *dup,
				 struct smile_error *e)
{
	uint8_t *rec;
	enum smile_err rc;

	*dup = 0;
	if (len == 0 || len > SMILE_JOB_MAX_BYTES)
		return smile_error_set(e, SMILE_ERR_TOO_LARGE, "job", "not a job message");
	rec = sodium_malloc(SMILE_JOB_RECORD_MAX);
	if (rec == NULL)
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, "out of memory");
	rc = smile_job_open(msg, len, a->gw_sign_pk, a->keys->id, a->shared, job, rec,
			    SMILE_JOB_RECORD_MAX, e);
	sodium_free(rec); /* wiped: the record is opened again at print time */
	job->record = NULL;
	if (rc != SMILE_OK) {
		smile_log(SMILE_LOG_WARN, "print.job_refused", SMILE_KV_ERR("err", rc),
			  SMILE_KV_ID("field", e->field[0] ? e->field : "-"), SMILE_KV_ID("via", via));
		return rc;
	}
	pthread_mutex_lock(&a->spool_mu);
	rc = spool_add(&a->spool, job->seq, job->job_id, msg, len, dup);
	pthread_mutex_unlock(&a->spool_mu);
	if (rc != SMILE_OK) {
		/* not kept, not acknowledged: the gateway sends it again */
		smile_log(SMILE_LOG_ERROR, "print.spool_failed", SMILE_KV_ID("job", job->job_id));
		return smile_error_set(e, rc, "spool", "could not store the job");
	}
	smile_log(SMILE_LOG_INFO, *dup ? "print.job_duplicate" : "print.job_received",
		  SMILE_KV_ID("job", job->job_id), SMILE_KV_ID("waybill", job->waybill),
		  SMILE_KV_INT("seq", (long long)job->seq),
		  SMILE_KV_INT("reprint", job->flags & 1), SMILE_KV_ID("via", via));
	if (!*dup)
		report(a, job->seq, job->job_id, SMILE_JOB_SENT, SMILE_JOB_R_OK, "");
	kick(a);
	return SMILE_OK;
}

static void on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
	struct agent *a = arg;
	struct smile_job job;
	struct smile_error e = {0};
	int dup;
	(void)m;

	if (strcmp(msg->topic, a->job_topic) != 0 || msg->payloadlen <= 0)
		return;
	(void)accept_job(a, msg->payload, (size_t)msg->payloadlen, "mqtt", &job, &dup, &e);
}

/* libmosquitto's own loop gives up for good on some refusals; a station
 * keeps trying until stopped (the bridge's session.c does the same). */
static void *net_main(void *arg)
{
	struct agent *a = arg;
	int need_connect = 1;
	long delay = 500;

	while (!stopping()) {
		int rc;
		if (need_connect) {
			rc = mosquitto_connect(a->mosq, a->conf.mqtt_host, (int)a->conf.mqtt_port,
					       (int)a->conf.mqtt_keepalive_s);
			if (rc != MOSQ_ERR_SUCCESS) {
				struct timespec t = {delay / 1000, (delay % 1000) * 1000000L};
				nanosleep(&t, NULL);
				delay = delay * 2 > 8000 ? 8000 : delay * 2;
				continue;
			}
			need_connect = 0;
		}
		rc = mosquitto_loop(a->mosq, 500, 1);
		if (rc == MOSQ_ERR_SUCCESS) {
			if (atomic_load(&a->connected))
				delay = 500;
			continue;
		}
		atomic_store(&a->connected, 0);
		if (stopping())
			break;
		struct timespec t = {delay / 1000, (delay % 1000) * 1000000L};
		nanosleep(&t, NULL);
		delay = delay * 2 > 8000 ? 8000 : delay * 2;
		need_connect = 1;
	}
	mosquitto_disconnect(a->mosq);
	for (int i = 0; i < 5; i++)
		if (mosquitto_loop(a->mosq, 100, 1) != MOSQ_ERR_SUCCESS)
			break;
	return NULL;
}

static int mqtt_start(struct agent *a)
{
	char client_id[16 + SMILE_PROTO_ID_MAX], password[SMILE_MQTT_PASSWORD_MAX];
	int rc;

	mosquitto_lib_init();
	snprintf(client_id, sizeof(client_id), "smile-dev-%s", a->keys->id);
	/* a persistent session: jobs published while the station is away wait
	 * at the broker (protocol.md section 9) */
	a->mosq = mosquitto_new(client_id, false, a);
	if (a->mosq == NULL)
		return -1;
	mosquitto_threaded_set(a->mosq, true);
	mosquitto_max_inflight_messages_set(a->mosq, 0);
	mosquitto_connect_callback_set(a->mosq, on_connect);
	mosquitto_disconnect_callback_set(a->mosq, on_disconnect);
	mosquitto_message_callback_set(a->mosq, on_message);
	if (smile_mqtt_password(a->shared, a->keys->id, password) != SMILE_OK)
		return -1;
	rc = mosquitto_username_pw_set(a->mosq, a->keys->id, password);
	sodium_memzero(password, sizeof(password));
	if (rc != MOSQ_ERR_SUCCESS)
		return -1;
	if (a->conf.mqtt_cafile[0] &&
	    mosquitto_tls_set(a->mosq, a->conf.mqtt_cafile, NULL,
			      a->conf.mqtt_certfile[0] ? a->conf.mqtt_certfile : NULL,
			      a->conf.mqtt_keyfile[0] ? a->conf.mqtt_keyfile : NULL,
			      NULL) != MOSQ_ERR_SUCCESS)
		return -1;
	return pthread_create(&a->net, NULL, net_main, a) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------ printing */

static enum smile_label_format label_format(unsigned f)
{
	return f == SMILE_JOB_PDF ? SMILE_LABEL_PDF
				  : f == SMILE_JOB_PNG ? SMILE_LABEL_PNG : SMILE_LABEL_ZPL;
}

static enum smile_err sink(void *arg, const unsigned char *d, size_t n)
{
	return smile_buf_append(arg, d, n);
}

/* Every parcel's label of the record (parcel.index 1..count), as one
 * document (PNG: the first only, one image). */
static enum smile_err render(struct agent *a, struct smile_label_renderer **rd,
			     enum smile_label_format f, const struct smile_job *job,
			     struct smile_buf *out, struct smile_error *e)
{
	json_t *rec = json_loadb((const char *)job->record, job->record_len, 0, NULL);
	json_t *parcel = rec ? json_object_get(rec, "parcel") : NULL;
	long count = parcel ? (long)json_integer_value(json_object_get(parcel, "count")) : 1;
	enum smile_err rc = SMILE_OK;

	if (rec == NULL)
		return smile_error_set(e, SMILE_ERR_JSON, "record", "not JSON");
	if (count < 1 || count > 99 || f == SMILE_LABEL_PNG)
		count = 1;
	if (rd[f] == NULL)
		rc = smile_label_renderer_new(f, (int)a->conf.dpi, a->size, &rd[f], e);
	if (rc == SMILE_OK && f != SMILE_LABEL_PNG)
		rc = smile_label_batch_begin(rd[f], sink, out, e);
	for (long i = 1; rc == SMILE_OK && i <= count; i++) {
		struct smile_label_record *lr = NULL;
		char *s;
		if (parcel)
			json_object_set_new(parcel, "index", json_integer(i));
		s = json_dumps(rec, JSON_COMPACT);
		rc = s ? smile_label_record_parse(s, strlen(s), &lr, e) : SMILE_ERR_NOMEM;
		if (rc == SMILE_OK)
			rc = f == SMILE_LABEL_PNG ? smile_label_render(rd[f], lr, out, e)
						  : smile_label_batch_add(rd[f], lr, e);
		smile_label_record_free(lr);
		if (s) {
			sodium_memzero(s, strlen(s));
			free(s);
		}
	}
	if (rd[f] && f != SMILE_LABEL_PNG) {
		struct smile_error e2 = {0};
		enum smile_err rc2 = smile_label_batch_end(rd[f], &e2);
		if (rc == SMILE_OK && rc2) {
			rc = rc2;
			*e = e2;
		}
	}
	json_decref(rec);
	return rc;
}

/* Finish a job (durably) and report it. */
static void finish(struct agent *a, const char *name, int state, int reason, const char *text)
{
	char t[SMILE_JOB_REASON_MAX + 1];
	clean_text(t, text);
	if (spool_finish(&a->spool, name, state, reason, t) != SMILE_OK) {
		smile_log(SMILE_LOG_ERROR, "print.spool_failed", SMILE_KV_ID("job", name));
		return;
	}
	a->waiting_job[0] = '\0';
	report_name(a, name, state, reason, t);
}

/* The job waits (printer away or not ready): report why, once per change. */
static void waiting(struct agent *a, const char *name, int reason, const char *text)
{
	char t[SMILE_JOB_REASON_MAX + 1];
	clean_text(t, text);
	if (strcmp(a->waiting_job, name) == 0 && strcmp(a->waiting_text, t) == 0)
		return;
	snprintf(a->waiting_job, sizeof(a->waiting_job), "%s", name);
	snprintf(a->waiting_text, sizeof(a->waiting_text), "%s", t);
	report_name(a, name, SMILE_JOB_SENT, reason, t);
}

/* Follow a job the printer has until it printed or will not. */
static void follow(struct agent *a, const char *name, struct smile_printer_job *pj)
{
	for (;;) {
		struct smile_error e = {0};
		enum smile_err rc;
		/* a job the printer holds (stopped) is still there: follow it again */
		if (pj->state == SMILE_PRINTER_JOB_STOPPED)
			pj->state = SMILE_PRINTER_JOB_SENT;
		rc = smile_printer_job_wait(a->printer, pj, &e);
		if (rc == SMILE_OK) {
			finish(a, name, SMILE_JOB_PRINTED, SMILE_JOB_R_OK, "");
			return;
		}
		if (rc == SMILE_ERR_PRINTER_UNCERTAIN || pj->state == SMILE_PRINTER_JOB_UNCERTAIN) {
			finish(a, name, SMILE_JOB_FAILED, SMILE_JOB_R_UNCERTAIN, e.message);
			return;
		}
		if (pj->state == SMILE_PRINTER_JOB_CANCELLED ||
		    pj->state == SMILE_PRINTER_JOB_ABORTED) {
			finish(a, name, SMILE_JOB_FAILED, SMILE_JOB_R_PRINTER_JOB, pj->reasons);
			return;
		}
		/* stopped at the printer (paper out with the label in it) or still
		 * going: it prints when the printer can; report and keep watching */
		if (pj->state == SMILE_PRINTER_JOB_STOPPED &&
		    strncmp(a->waiting_text, pj->reasons, SMILE_JOB_REASON_MAX) != 0) {
			clean_text(a->waiting_text, pj->reasons);
			report_name(a, name, SMILE_JOB_PRINTING, SMILE_JOB_R_PRINTER_NOT_READY,
				    pj->reasons);
		}
		if (stopping())
			return; /* left in "sending": uncertain at the next start */
		nap(a, a->conf.printer_retry_ms);
	}
}

/* Print the first queued job. 1: it is done (next one); 0: it waits. */
static int print_next(struct agent *a, const char *name)
{
	uint8_t msg[SMILE_JOB_MAX_BYTES];
	uint8_t *rec = sodium_malloc(SMILE_JOB_RECORD_MAX);
	struct smile_job job;
	struct smile_printer_status ps;
	struct smile_printer_job pj = {0};
	struct smile_error e = {0};
	struct smile_buf doc;
	enum smile_label_format f;
	enum smile_err rc;
	size_t len;
	int done = 1;

	smile_buf_init(&doc, SMILE_LABEL_OUTPUT_MAX);
	if (rec == NULL)
		return 0;
	if (spool_read(&a->spool, name, msg, sizeof(msg), &len) != SMILE_OK ||
	    smile_job_open(msg, len, a->gw_sign_pk, a->keys->id, a->shared, &job, rec,
			   SMILE_JOB_RECORD_MAX, &e) != SMILE_OK) {
		finish(a, name, SMILE_JOB_FAILED, SMILE_JOB_R_BAD_JOB, "the stored job does not open");
		goto out;
	}
	f = label_format(job.format);
	if (!smile_printer_accepts(a->printer, f)) {
		finish(a, name, SMILE_JOB_FAILED, SMILE_JOB_R_UNSUPPORTED,
		       "this station's printer does not take this format");
		goto out;
	}
	if (render(a, a->rd, f, &job, &doc, &e) != SMILE_OK) {
		finish(a, name, SMILE_JOB_FAILED, SMILE_JOB_R_RENDER, e.message);
		goto out;
	}
	/* ask first: a printer away or not ready keeps the job (and every
	 * later one) queued, in order */
	rc = smile_printer_status(a->printer, &ps, &e);
	if (rc != SMILE_OK || ps.flags) {
		waiting(a, name,
			rc ? SMILE_JOB_R_PRINTER_UNREACHABLE : SMILE_JOB_R_PRINTER_NOT_READY,
			rc ? e.message : ps.reasons);
		done = 0;
		goto out;
	}
	/* the point of no return, durable before the first byte */
	if (spool_mark_sending(&a->spool, name) != SMILE_OK) {
		smile_log(SMILE_LOG_ERROR, "print.spool_failed", SMILE_KV_ID("job", name));
		done = 0;
		goto out;
	}
	a->waiting_text[0] = '\0';
	report_name(a, name, SMILE_JOB_PRINTING, SMILE_JOB_R_OK, "");
	rc = smile_printer_send(a->printer, job.waybill, f, (const unsigned char *)doc.data,
				doc.len, (int)job.copies, &pj, &e);
	if (rc == SMILE_OK) {
		follow(a, name, &pj);
	} else if (pj.state == SMILE_PRINTER_JOB_NONE &&
		   (rc == SMILE_ERR_PRINTER_NOT_READY || rc == SMILE_ERR_PRINTER_UNREACHABLE ||
		    rc == SMILE_ERR_TIMEOUT || rc == SMILE_ERR_PRINTER_PROTO)) {
		/* refused before any byte: back in the queue, safely */
		if (spool_unmark_sending(&a->spool, name) == SMILE_OK) {
			waiting(a, name,
				rc == SMILE_ERR_PRINTER_NOT_READY ? SMILE_JOB_R_PRINTER_NOT_READY
								  : SMILE_JOB_R_PRINTER_UNREACHABLE,
				e.message);
			done = 0;
		}
	} else if (rc == SMILE_ERR_PRINTER_UNCERTAIN) {
		finish(a, name, SMILE_JOB_FAILED, SMILE_JOB_R_UNCERTAIN, e.message);
	} else {
		finish(a, name, SMILE_JOB_FAILED, SMILE_JOB_R_PRINTER_JOB, e.message);
	}
	smile_log(SMILE_LOG_INFO, "print.sent", SMILE_KV_ID("job", job.job_id),
		  SMILE_KV_ID("waybill", job.waybill), SMILE_KV_ERR("err", rc));
out:
	sodium_free(rec);
	sodium_memzero(msg, sizeof(msg));
	if (doc.data)
		sodium_memzero(doc.data, doc.len);
	smile_buf_release(&doc);
	return done;
}

/* Reports of jobs waiting or finished lately, again: a report can sit in
 * the broker's queue for a gateway node that is down (mosquitto keeps a
 * dead member in a share group, docs/operations.md), and nothing tells the
 * station it did. The gateway applies each once. */
#define RESEND_RECENT_S 600

#define RESEND_MAX 4096

struct resend {
	char name[SPOOL_NAME_MAX];
	enum spool_state st;
	int state, reason;
	char text[SMILE_JOB_REASON_MAX + 1];
};

struct resend_list {
	struct resend *v;
	size_t n, cap;
};

static void resend_collect(void *arg, const char *name, enum spool_state st, int job_state,
			   int reason, const char *text)
{
	struct resend_list *l = arg;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct resend *v = cap <= RESEND_MAX ? realloc(l->v, cap * sizeof(*v)) : NULL;
		if (v == NULL)
			return;
		l->v = v;
		l->cap = cap;
	}
	snprintf(l->v[l->n].name, sizeof(l->v[l->n].name), "%s", name);
	l->v[l->n].st = st;
	l->v[l->n].state = job_state;
	l->v[l->n].reason = reason;
	clean_text(l->v[l->n].text, text);
	l->n++;
}

/* Each round starts one job further on: mosquitto hands a share group's
 * members messages in turn, so with the same jobs in the same order every
 * round, a job would always go to the same (maybe dead) node. */
static void resend_recent(struct agent *a, int64_t *last, size_t *round)
{
	struct resend_list l = {0};
	int64_t now = smile_mono_ms();

	long recent_s = RESEND_RECENT_S;

	if (!atomic_load(&a->connected))
		return;
	if (atomic_exchange(&a->resend_all, 0))
		recent_s = 0; /* after a connection: all of them */
	else if (now - *last < a->conf.status_resend_s * 1000L)
		return;
	*last = now;
	spool_each(&a->spool, a->conf.keep_done_days * 86400L, recent_s, resend_collect, &l);
	for (size_t i = 0; i < l.n; i++) {
		const struct resend *r = &l.v[(i + *round) % l.n];
		resend_one(a, r->name, r->st, r->state, r->reason, r->text);
	}
	(*round)++;
	free(l.v);
}

static void print_loop(struct agent *a)
{
	char name[SPOOL_NAME_MAX];
	int64_t last_resend = smile_mono_ms();
	size_t round = 0;
	while (!stopping()) {
		resend_recent(a, &last_resend, &round);
		if (!spool_next(&a->spool, name)) {
			nap(a, 1000);
			continue;
		}
		if (!print_next(a, name))
			nap(a, a->conf.printer_retry_ms);
	}
}

/* ------------------------------------------------------------ local API */

static int fail(const char *what, const struct smile_error *e);

static const char *const spool_state_names[] = {"none", "queued", "sending", "done"};

/* A page's job: the same door as MQTT. */
static enum smile_err api_print(void *arg, const uint8_t *msg, size_t len, json_t **out,
				struct smile_error *e)
{
	struct agent *a = arg;
	struct smile_job job;
	int dup = 0;
	enum smile_err rc = accept_job(a, msg, len, "local", &job, &dup, e);

	if (rc != SMILE_OK)
		return rc;
	*out = json_pack("{s:s,s:s,s:I,s:b,s:s}", "job_id", job.job_id, "waybill", job.waybill,
			 "seq", (json_int_t)job.seq, "duplicate", dup, "spool",
			 spool_state_names[spool_find(&a->spool, job.seq, job.job_id)]);
	return *out ? SMILE_OK : smile_error_set(e, SMILE_ERR_NOMEM, NULL, "out of memory");
}

/* The job's labels as PDF, whatever format it asks the printer for: opened
 * and checked exactly as for printing, never spooled, never printed. */
static enum smile_err api_preview(void *arg, const uint8_t *msg, size_t len,
				  struct smile_buf *pdf, struct smile_error *e)
{
	struct agent *a = arg;
	struct smile_job job;
	uint8_t *rec;
	enum smile_err rc;

	if (len == 0 || len > SMILE_JOB_MAX_BYTES)
		return smile_error_set(e, SMILE_ERR_TOO_LARGE, "job", "not a job message");
	if ((rec = sodium_malloc(SMILE_JOB_RECORD_MAX)) == NULL)
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, "out of memory");
	rc = smile_job_open(msg, len, a->gw_sign_pk, a->keys->id, a->shared, &job, rec,
			    SMILE_JOB_RECORD_MAX, e);
	if (rc == SMILE_OK)
		rc = render(a, a->api_rd, SMILE_LABEL_PDF, &job, pdf, e);
	smile_log(rc == SMILE_OK ? SMILE_LOG_INFO : SMILE_LOG_WARN, "print.preview",
		  SMILE_KV_ID("job", rc == SMILE_OK ? job.job_id : "-"), SMILE_KV_ERR("err", rc));
	sodium_free(rec);
	return rc;
}

static json_t *api_printers(void *arg)
{
	struct agent *a = arg;
	struct smile_printer_status ps;
	struct smile_error e = {0};
	enum smile_err rc = smile_printer_status(a->api_printer, &ps, &e);
	json_t *p = json_pack("{s:s,s:s,s:s,s:s,s:s}", "name", a->keys->id, "uri",
			      a->conf.printer, "size", a->conf.size, "status",
			      rc != SMILE_OK ? "unreachable" : ps.flags ? "not_ready" : "ready",
			      "reasons", rc != SMILE_OK ? (e.message[0] ? e.message : smile_strerror(rc))
							: ps.reasons);
	if (p)
		json_object_set_new(p, "dpi", json_integer(a->conf.dpi));
	return json_pack("[o]", p);
}

static int api_start(struct agent *a)
{
	struct local_api_conf lc = {a->conf.local_api_listen, (int)a->conf.local_api_allow_remote,
				    a->conf.local_api_origins, a->conf.local_api_cert,
				    a->conf.local_api_key};
	struct local_api_ops ops = {a, api_print, api_preview, api_printers};
	struct smile_error e = {0};

	if (a->conf.local_api_listen[0] == '\0')
		return 0;
	if (local_api_start(&lc, &ops, &a->api, &e) != SMILE_OK)
		return fail("local_api_listen", &e);
	return 0;
}

/* ------------------------------------------------------------ commands */

static int fail(const char *what, const struct smile_error *e)
{
	fprintf(stderr, "smile-print: %s: %s%s%s\n", what, e->field[0] ? e->field : "",
		e->field[0] ? ": " : "", e->message[0] ? e->message : smile_strerror(e->code));
	return 1;
}

static int cmd_keygen(int argc, char **argv)
{
	const char *id = NULL, *out = NULL;
	struct smile_error e = {0};
	struct smile_device_keys *k;
	char json[SMILE_DEVICE_ENROLMENT_MAX];
	int rc = 1;

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--id") == 0 && i + 1 < argc)
			id = argv[++i];
		else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			out = argv[++i];
		else {
			fputs(usage, stderr);
			return 2;
		}
	}
	if (id == NULL || out == NULL) {
		fputs(usage, stderr);
		return 2;
	}
	if (smile_proto_init() != SMILE_OK || (k = sodium_malloc(sizeof(*k))) == NULL)
		return 1;
	if (smile_device_keygen(id, k, &e) != SMILE_OK)
		rc = fail("keygen", &e);
	else if (bridge_keyfile_write(out, k, &e) != SMILE_OK)
		rc = fail(out, &e);
	else if (smile_device_enrolment_json(k, json, sizeof(json), NULL) == SMILE_OK) {
		/* the role is the administrator's to add: print_station */
		printf("%s\n", json);
		rc = 0;
	}
	smile_device_keys_wipe(k);
	sodium_free(k);
	return rc;
}

static int agent_setup(struct agent *a, const char *config, int *lock_fd)
{
	struct smile_error e = {0};
	struct smile_printer_opts po;
	uint8_t gw_box[SMILE_PROTO_PK_BYTES];
	const char *env = getenv("SMILE_LOG_LEVEL");

	if (print_conf_load(&a->conf, config, &e) != SMILE_OK)
		return fail(config, &e);
	smile_log_set_level((enum smile_log_level)smile_log_level_parse(
		env && smile_log_level_parse(env) >= 0 ? env : a->conf.log_level));
	if (smile_proto_init() != SMILE_OK || (a->keys = sodium_malloc(sizeof(*a->keys))) == NULL)
		return 1;
	if (bridge_keyfile_read(a->conf.key_file, a->keys, &e) != SMILE_OK)
		return fail(a->conf.key_file, &e);
	if (smile_proto_key_from_base64(a->conf.gateway_sign_pk, strlen(a->conf.gateway_sign_pk),
					a->gw_sign_pk) ||
	    smile_proto_key_from_base64(a->conf.gateway_box_pk, strlen(a->conf.gateway_box_pk),
					gw_box) ||
	    smile_proto_shared_key(a->keys->box_sk, gw_box, a->shared) != SMILE_OK) {
		fprintf(stderr, "smile-print: gateway_box_pk: not a usable key\n");
		return 1;
	}
	if (smile_proto_topic(a->job_topic, sizeof(a->job_topic), a->keys->id, SMILE_TOPIC_JOB) ||
	    smile_proto_topic(a->status_topic, sizeof(a->status_topic), a->keys->id,
			      SMILE_TOPIC_JOBSTATUS))
		return 1;
	if (bridge_state_mkdir(a->conf.state_dir, &e) != SMILE_OK ||
	    bridge_state_lock(a->conf.state_dir, lock_fd, &e) != SMILE_OK)
		return fail(a->conf.state_dir, &e);
	if (spool_open(&a->spool, a->conf.state_dir, &e) != SMILE_OK)
		return fail("spool", &e);
	if (smile_label_size_parse(a->conf.size, &a->size) != SMILE_OK)
		return 1;
	smile_printer_opts_default(&po);
	po.job_ms = (int)a->conf.printer_job_s * 1000;
	if (smile_printer_open(a->conf.printer, &po, &a->printer, &e) != SMILE_OK)
		return fail("printer", &e);
	if (a->conf.local_api_listen[0]) {
		struct local_api_conf lc = {a->conf.local_api_listen,
					    (int)a->conf.local_api_allow_remote,
					    a->conf.local_api_origins, a->conf.local_api_cert,
					    a->conf.local_api_key};
		if (local_api_check(&lc, &e) != SMILE_OK)
			return fail(config, &e);
		/* getPrinters asks with a short time-out: the page waits for it */
		po.connect_ms = 2000;
		po.io_ms = 2000;
		po.retries = 0;
		if (smile_printer_open(a->conf.printer, &po, &a->api_printer, &e) != SMILE_OK)
			return fail("printer", &e);
	}
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	struct agent *a = calloc(1, sizeof(*a));
	struct sigaction sa;
	int lock_fd = -1, rc, recovered;

	if (a == NULL)
		return 1;
	if (argc != 4 || strcmp(argv[2], "--config") != 0) {
		fputs(usage, stderr);
		free(a);
		return 2;
	}
	pthread_mutex_init(&a->mu, NULL);
	pthread_mutex_init(&a->spool_mu, NULL);
	pthread_cond_init(&a->wake, NULL);
	if ((rc = agent_setup(a, argv[3], &lock_fd)))
		goto out;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* before anything is sent: a job a crash left half-sent is finished as
	 * uncertain, never printed again by itself */
	recovered = spool_recover(&a->spool);
	smile_log(SMILE_LOG_INFO, "print.started", SMILE_KV_ID("station", a->keys->id),
		  SMILE_KV_INT("recovered_uncertain", recovered));
	if (mqtt_start(a) != 0) {
		fprintf(stderr, "smile-print: cannot start MQTT\n");
		rc = 1;
		goto out;
	}
	if ((rc = api_start(a))) {
		atomic_store(&stop_flag, 1);
		kick(a);
		pthread_join(a->net, NULL);
		goto out;
	}
	print_loop(a);
	kick(a);
	pthread_join(a->net, NULL);
	/* after the MQTT thread: its reports use a->api until it ends; the
	 * API thread's own reports only find libmosquitto disconnected */
	local_api_stop(a->api);
	a->api = NULL;
	smile_log(SMILE_LOG_INFO, "print.stopped", SMILE_KV_ID("station", a->keys->id));
	rc = 0;
out:
	if (a->mosq)
		mosquitto_destroy(a->mosq);
	mosquitto_lib_cleanup();
	for (int i = 0; i < 3; i++) {
		smile_label_renderer_free(a->rd[i]);
		smile_label_renderer_free(a->api_rd[i]);
	}
	smile_printer_free(a->printer);
	smile_printer_free(a->api_printer);
	sodium_memzero(a->shared, sizeof(a->shared));
	if (a->keys) {
		smile_device_keys_wipe(a->keys);
		sodium_free(a->keys);
	}
	if (lock_fd >= 0)
		close(lock_fd);
	pthread_mutex_destroy(&a->mu);
	pthread_mutex_destroy(&a->spool_mu);
	pthread_cond_destroy(&a->wake);
	free(a);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
			  strcmp(argv[1], "help") == 0)) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "keygen") == 0)
		return cmd_keygen(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		return cmd_run(argc, argv);
	fputs(usage, stderr);
	return 2;
}
