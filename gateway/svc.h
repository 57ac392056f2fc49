/* SPDX-License-Identifier: Apache-2.0 */
/*
 * svc.h (gateway-internal) - the service layer: the gateway's rules, called
 * by every door (HTTP handlers, CLI commands, the retention job).
 *
 * A door parses its input, names its caller (struct svc_caller) and calls one
 * function here; the function checks the caller's rights, does the work, and
 * writes the log line, metrics and audit entry of a state change itself, so a
 * change is recorded once and the same way whichever door it came through.
 * Doors only format what comes back (JSON and a status, or a line of text).
 *
 * Errors: enum smile_err with a struct smile_error whose field and message
 * are what the API documents (doors show them as they are). Who frees what
 * is said at each function.
 */
#ifndef SMILE_GATEWAY_SVC_H
#define SMILE_GATEWAY_SVC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "apikey.h"
#include "gateway.h"
#include "smile/label.h"

/* ------------------------------------------------------------ callers */

/* Who asks. `id` names the caller in logs and audit entries (an API key id,
 * "cli", "retention"); `door` is how it came in ("api", "cli",
 * "retention"), recorded as the reason of device changes and erasures.
 * `key` is the API key for API callers (its merchant or bindings), NULL for
 * the operator at the command line and the retention job, who act as admin. */
struct svc_caller {
	const char *id;
	const char *door;
	enum smile_role role;
	const struct smile_store_apikey *key;
};

/* An API caller from its authenticated key (which must outlive the caller). */
struct svc_caller svc_caller_api(const struct smile_store_apikey *k);
/* The operator at the command line (admin). */
extern const struct svc_caller svc_caller_cli;
/* The retention job (admin). */
extern const struct svc_caller svc_caller_retention;

/* THE access rule: may `c` see or act on shipments of `merchant`? Admin: all;
 * merchant: its own merchant only; warehouse: the merchants it is bound to. */
int svc_may_access(const struct svc_caller *c, const char *merchant);

/* Role checks. SMILE_OK, or SMILE_ERR_PERMISSION with the documented message. */
enum smile_err svc_need_admin(const struct svc_caller *c, struct smile_error *e)
	SMILE_MUST_CHECK;

/* ------------------------------------------------------------ shipments */

#define SVC_IDEM_KEY_MAX 128

/* An Idempotency-Key and the hash of the request it came with (the door
 * hashes what identifies a request at that door). */
struct svc_idem {
	const char *key; /* 1-SVC_IDEM_KEY_MAX printable ASCII, checked by the door */
	uint8_t hash[32];
};

/* What an issuance answered: a fresh answer (`replayed` 0) or the first
 * answer to an earlier request with the same Idempotency-Key (`replayed` 1).
 * `body` is JSON text, owned (svc_answer_release). */
struct svc_answer {
	int status; /* 201 (one shipment), 200 (a batch) */
	char *body;
	int replayed;
	char waybill[SMILE_STORE_WAYBILL_MAX]; /* one fresh shipment: its waybill */
};
void svc_answer_release(struct svc_answer *a);

/* The recorded answer for an Idempotency-Key of this caller, if any:
 * SMILE_OK with *out (replayed 1) when the request is the same; SMILE_ERR_NOT_FOUND
 * when the key is new; SMILE_ERR_CONFLICT (*reused 1, field
 * "Idempotency-Key") when it came with a different request; SMILE_ERR_STORE.
 * svc_issue does the same when its write finds the key taken; a door calls
 * this first to answer a retry without preparing anything. */
enum smile_err svc_idem_replay(struct gateway *g, const struct svc_caller *c,
			       const struct svc_idem *idem, struct svc_answer *out, int *reused,
			       struct smile_error *e) SMILE_MUST_CHECK;

/* Issue one shipment from its request object `obj` (docs/api.md), with an
 * optional Idempotency-Key (NULL: none). Logs shipment.issued and counts it.
 * Returns SMILE_OK with *out filled; a validation error (e says which
 * field); SMILE_ERR_PERMISSION (merchant not the caller's);
 * SMILE_ERR_CONFLICT with field "Idempotency-Key" when the key is taken:
 * by a different request (`*reused` 1: "this key was used for a different
 * request"; the API answers 422) or by one still in progress (`*reused` 0);
 * a retry of the same request gets the first answer (out->replayed 1);
 * SMILE_ERR_STORE (nothing stored); SMILE_ERR_NOMEM. */
enum smile_err svc_issue(struct gateway *g, const struct svc_caller *c, json_t *obj,
			 const struct svc_idem *idem, struct svc_answer *out, int *reused,
			 struct smile_error *e) SMILE_MUST_CHECK;

/* Issue a batch {"shipments": [...]} (docs/api.md, "Batch"): each item is
 * validated alone and the valid ones stored; with an Idempotency-Key the
 * valid items are stored all or nothing and the answer is recorded with
 * them. Logs shipment.batch, counts the issued. `*status_of` maps an error
 * code to the per-item status in the answer. Errors as svc_issue, plus
 * validation errors of the envelope (field "shipments"; SMILE_ERR_TOO_LARGE
 * over batch_max_items). */
enum smile_err svc_issue_batch(struct gateway *g, const struct svc_caller *c, json_t *body,
			       const struct svc_idem *idem, int (*status_of)(enum smile_err),
			       struct svc_answer *out, int *reused, struct smile_error *e)
	SMILE_MUST_CHECK;

/* A shipment the caller may see, by waybill, into *row (release with
 * smile_store_shipment_release). SMILE_ERR_NOT_FOUND also for another
 * merchant's shipment (never reveal that it exists); SMILE_ERR_STORE. */
enum smile_err svc_shipment_get(struct gateway *g, const struct svc_caller *c,
				const char *waybill, struct smile_store_shipment *row,
				struct smile_error *e) SMILE_MUST_CHECK;

/* Its tracking events, as published on MQTT (events.c), into a new JSON
 * array *out (caller decrefs). Errors as svc_shipment_get. */
enum smile_err svc_shipment_events(struct gateway *g, const struct svc_caller *c,
				   const struct smile_store_shipment *row, json_t **out,
				   struct smile_error *e) SMILE_MUST_CHECK;

/* Render the label of a shipment the caller may see: parcel `parcel` (1-99;
 * 0: every parcel, or the first for PNG, which is one image) in `fmt` at
 * `dpi` and `size`, appended to `out`; on success *row gets the shipment
 * (release it; on an error nothing is left to release)
 * and *n_labels how many labels were rendered (counted in metrics). Errors
 * as svc_shipment_get; SMILE_ERR_FIELD_VALUE (field "parcel") for a parcel
 * the shipment does not have; the label library's errors (logged as
 * label.render_failed). */
enum smile_err svc_shipment_label(struct gateway *g, const struct svc_caller *c,
				  const char *waybill, enum smile_label_format fmt, int dpi,
				  enum smile_label_size size, long parcel, struct smile_buf *out,
				  struct smile_store_shipment *row, long *n_labels,
				  struct smile_error *e) SMILE_MUST_CHECK;

/* Free the renderers kept for reuse (gateway_close). */
void svc_label_pool_free(void);

/* Crypto-shred its personal data. Warehouse callers may not
 * (SMILE_ERR_PERMISSION, checked before looking the shipment up); otherwise
 * errors as svc_shipment_get. Logs shipment.erased and counts it (not when
 * already erased: *already 1). *erased_ms gets when it was erased (0 when it
 * cannot be read back). The audit entry is the store's ("erasure"). */
enum smile_err svc_shipment_erase(struct gateway *g, const struct svc_caller *c,
				  const char *waybill, char waybill_out[SMILE_STORE_WAYBILL_MAX],
				  int *already, int64_t *erased_ms, struct smile_error *e)
	SMILE_MUST_CHECK;

/* Label records (public JSON) of the shipments the caller may see, created
 * at or after since_ms, with id > after_id, at most `limit`, oldest first:
 * one per line into `out`; *last_id the last listed (0: none). */
enum smile_err svc_labels_export(struct gateway *g, const struct svc_caller *c,
				 int64_t since_ms, uint64_t after_id, size_t limit,
				 struct smile_buf *out, uint64_t *last_id, struct smile_error *e)
	SMILE_MUST_CHECK;

/* ------------------------------------------------------------ devices */

/* Enrol from the enrolment JSON with "role" and optional "zone"; admin only.
 * Logs device.enrolled; the store audits device.enrol. *out filled on
 * success. Validation errors name the field; SMILE_ERR_EXISTS (field "id"). */
enum smile_err svc_device_enrol(struct gateway *g, const struct svc_caller *c, json_t *json,
				struct smile_store_device *out, struct smile_error *e)
	SMILE_MUST_CHECK;

/* Suspend, resume (st = SMILE_DEV_ACTIVE) or revoke; admin only. Logs
 * device.status; the store audits "device.<status>" with the caller's door as
 * the reason. *out (may be NULL) gets the device afterwards (release it).
 * SMILE_ERR_NOT_FOUND, SMILE_ERR_CONFLICT (revoked: final), SMILE_ERR_STORE. */
enum smile_err svc_device_set_status(struct gateway *g, const struct svc_caller *c,
				     const char *id, enum smile_device_status st,
				     struct smile_store_device *out, struct smile_error *e)
	SMILE_MUST_CHECK;

/* A device as the API shows it (new reference). */
json_t *svc_device_json(const struct smile_store_device *d);

/* Every device, to cb; admin only. */
enum smile_err svc_device_list(struct gateway *g, const struct svc_caller *c,
			       smile_store_device_cb cb, void *ctx, struct smile_error *e)
	SMILE_MUST_CHECK;

/* ------------------------------------------------------------ API keys */

/* Mint a key (admin only): role, merchant for merchant keys, bindings for
 * warehouse keys. Logs apikey.created. key_out gets the secret (shown once;
 * the caller wipes it). */
enum smile_err svc_apikey_create(struct gateway *g, const struct svc_caller *c,
				 enum smile_role role, const char *merchant,
				 const char *const *bindings, int n_bindings,
				 char key_out[APIKEY_STRING_MAX],
				 char id_out[SMILE_STORE_ID_MAX], struct smile_error *e)
	SMILE_MUST_CHECK;

/* Revoke a key (admin only; never the caller's own: SMILE_ERR_CONFLICT).
 * Logs apikey.revoked. SMILE_ERR_NOT_FOUND for an unknown or revoked key. */
enum smile_err svc_apikey_revoke(struct gateway *g, const struct svc_caller *c, const char *id,
				 struct smile_error *e) SMILE_MUST_CHECK;

/* ------------------------------------------------------------ retention */

/* One retention pass at `now_ms`: erase personal data of shipments past
 * their retention period (gateway.conf). Logs retention.erased and counts.
 * Returns how many were erased. */
size_t svc_retention_run(struct gateway *g, int64_t now_ms);

/* ------------------------------------------------------------ print jobs */

#define SVC_PRINT_MAX_WAYBILLS 50

/* POST /v1/print-jobs (docs/api.md "Print jobs"). format is enum
 * smile_job_format (smile/printjob.h). */
struct svc_print_request {
	const char *const *waybills;
	size_t n;
	const char *station;
	unsigned format;
	int copies;
	int reprint;
	/* 1: "delivery": "local": not published now; a web page hands the
	 * message to the station's local API (the relay's periodic republish
	 * of queued jobs is the fallback) */
	int local;
};

/* Queue one job per waybill for `station`, all or none, and publish them.
 * Any API role; each waybill must be one the caller may see (else
 * SMILE_ERR_NOT_FOUND, field "waybills[i]"). Errors: SMILE_ERR_FIELD_VALUE
 * (request), SMILE_ERR_NOT_FOUND ("station": not an enrolled print
 * station), SMILE_ERR_CONFLICT ("station" suspended/revoked; or
 * "waybills[i]": printed before without "reprint": true), SMILE_ERR_SHREDDED
 * (erased), SMILE_ERR_TOO_LARGE, SMILE_ERR_STORE. On SMILE_OK rows[0..n)
 * hold the jobs (release each with smile_store_print_job_release); on error
 * nothing to release. Logs print.queued per job; a reprint is audited by the
 * store ("print.reprint"). */
enum smile_err svc_print_jobs_create(struct gateway *g, const struct svc_caller *c,
				     const struct svc_print_request *rq,
				     struct smile_store_print_job *rows, struct smile_error *e)
	SMILE_MUST_CHECK;

/* A job the caller may see (its shipment's merchant): else
 * SMILE_ERR_NOT_FOUND. *out released by the caller. */
enum smile_err svc_print_job_get(struct gateway *g, const struct svc_caller *c, const char *id,
				 struct smile_store_print_job *out, struct smile_error *e)
	SMILE_MUST_CHECK;

/* The API's view of a job (never the message). */
json_t *svc_print_job_json(const struct smile_store_print_job *j);

/* A station's status report as received on smile/v1/dev/{station}/jobstatus:
 * decoded, checked against the topic's station (an enrolled, active print
 * station) and its signature, and applied forward only. SMILE_OK also for a
 * retransmission or a late report (nothing changes). Refusals are logged
 * (print.status_refused) and returned. */
enum smile_err svc_print_job_report(struct gateway *g, const char *topic_station,
				    const uint8_t *msg, size_t len);
/* ------------------------------------------------------------ webhooks */

#include "webhook.h"
#include "webhook_worker.h"

/* Register endpoint `url` for events `events` ("*" or a comma-separated
 * list of event names) of `merchant`. A merchant key registers for its own
 * merchant (`merchant` NULL or the same); admin and warehouse keys name one
 * they may access. The URL is checked and its host resolved under the
 * address rule (webhook_url_check). *out gets the row (its secret sealed)
 * and secret_out the signing secret, shown this once (the caller wipes it).
 * Logs webhook.created. SMILE_ERR_MISSING_FIELD / SMILE_ERR_FIELD_VALUE
 * (fields merchant, url, events), SMILE_ERR_PERMISSION, SMILE_ERR_STORE. */
enum smile_err svc_webhook_create(struct gateway *g, const struct svc_caller *c,
				  const char *merchant, const char *url, const char *events,
				  struct smile_store_webhook *out, char secret_out[WEBHOOK_SECRET_MAX],
				  struct smile_error *e) SMILE_MUST_CHECK;

/* Endpoint `id` if the caller may see it (svc_may_access on its merchant),
 * else SMILE_ERR_NOT_FOUND exactly as for a missing one. */
enum smile_err svc_webhook_get(struct gateway *g, const struct svc_caller *c, const char *id,
			       struct smile_store_webhook *out, struct smile_error *e)
	SMILE_MUST_CHECK;

/* Every endpoint the caller may see, by id. */
enum smile_err svc_webhook_list(struct gateway *g, const struct svc_caller *c,
				smile_store_webhook_cb cb, void *ctx, struct smile_error *e)
	SMILE_MUST_CHECK;

/* Pause (`active` 0) or resume (`active` 1). While paused nothing new is
 * queued for it and what is queued waits. Resuming a disabled (410)
 * endpoint re-enables it. Logs webhook.paused / webhook.resumed.
 * SMILE_ERR_NOT_FOUND. */
enum smile_err svc_webhook_set_active(struct gateway *g, const struct svc_caller *c,
				      const char *id, int active, struct smile_error *e)
	SMILE_MUST_CHECK;

/* Delete an endpoint and its outbox. Logs webhook.deleted. SMILE_ERR_NOT_FOUND. */
enum smile_err svc_webhook_delete(struct gateway *g, const struct svc_caller *c, const char *id,
				  struct smile_error *e) SMILE_MUST_CHECK;

/* Deliveries of endpoint `id` after delivery id `after`, at most `limit`
 * (1-1000). SMILE_ERR_NOT_FOUND. */
enum smile_err svc_webhook_deliveries(struct gateway *g, const struct svc_caller *c,
				      const char *id, uint64_t after, size_t limit,
				      smile_store_delivery_cb cb, void *ctx, struct smile_error *e)
	SMILE_MUST_CHECK;

/* Send delivery `delivery` of endpoint `id` again (pending from now, a
 * fresh retry window). Logs webhook.redeliver. SMILE_ERR_NOT_FOUND (field
 * "delivery" when the endpoint exists but not the delivery). */
enum smile_err svc_webhook_redeliver(struct gateway *g, const struct svc_caller *c,
				     const char *id, uint64_t delivery, struct smile_error *e)
	SMILE_MUST_CHECK;

/* POST a signed test event to endpoint `id` now and wait for the answer
 * (webhook_send_test). SMILE_ERR_NOT_FOUND, SMILE_ERR_STORE (the secret
 * does not open). */
enum smile_err svc_webhook_test(struct gateway *g, const struct svc_caller *c, const char *id,
				char event_id[WEBHOOK_TEST_ID_MAX], struct webhook_result *out,
				struct smile_error *e) SMILE_MUST_CHECK;


/* ------------------------------------------------------------ console
 * The merchant web console's sessions and list (svc_console.c,
 * docs/console.md). */

/* A session cookie value: base64url (no padding) of 32 random bytes. */
#define SVC_SESSION_COOKIE_LEN 43
#define SVC_SESSION_COOKIE_MAX (SVC_SESSION_COOKIE_LEN + 1)

/* Sign in with an API key string: a new session for it, valid until
 * now + console_session_max_s and console_session_idle_s unused. *cookie
 * gets the cookie value (a secret: the caller wipes it), *out the stored
 * row (its csrf), *key the key. Logs console.signin with the key id.
 * SMILE_ERR_PERMISSION (message "API key not recognised or revoked") for
 * an unknown or revoked key; SMILE_ERR_STORE. */
enum smile_err svc_session_create(struct gateway *g, const char *api_key, int64_t now_ms,
				  char cookie[SVC_SESSION_COOKIE_MAX],
				  struct smile_store_session *out, struct smile_store_apikey *key,
				  struct smile_error *e) SMILE_MUST_CHECK;

/* The live session of cookie value `cookie`, and its API key (looked up
 * again: a revoked key ends its sessions). Refreshes last_ms when it is
 * older than a fraction of the idle timeout. SMILE_ERR_PERMISSION (expired,
 * idle too long, signed out, key revoked: the row is deleted when it is
 * dead), SMILE_ERR_STORE. */
enum smile_err svc_session_check(struct gateway *g, const char *cookie, int64_t now_ms,
				 struct smile_store_session *out, struct smile_store_apikey *key,
				 struct smile_error *e) SMILE_MUST_CHECK;

/* Sign out: delete the session with this cookie hash. Logs console.signout.
 * SMILE_ERR_NOT_FOUND, SMILE_ERR_STORE. */
enum smile_err svc_session_delete(struct gateway *g, const struct svc_caller *c,
				  const uint8_t hash[32], struct smile_error *e) SMILE_MUST_CHECK;

/* Delete expired and idle sessions (the retention job). Returns how many. */
size_t svc_session_purge(struct gateway *g, int64_t now_ms);

/* The store's merchant filter for caller `c` (the access rule as a list):
 * *n 0 with return 1 for admin (all); return 0 when the caller may see no
 * merchant at all. */
int svc_merchants_of(const struct svc_caller *c, const char *merchants[SMILE_STORE_MAX_BINDINGS],
		     size_t *n);

/* A page of the caller's shipments, newest first: status (-1: any), q
 * (NULL: any; a waybill prefix or an exact merchant reference), before_id
 * (0: from the newest), limit 1-200. cb gets each row. SMILE_ERR_STORE. */
enum smile_err svc_shipment_page(struct gateway *g, const struct svc_caller *c, int status,
				 const char *q, uint64_t before_id, size_t limit,
				 smile_store_shipment_cb cb, void *ctx, struct smile_error *e)
	SMILE_MUST_CHECK;

/* ------------------------------------------------------------ tracking page
 * The recipient tracking page (docs/tracking.md): public, no API key. The
 * caller is named by `client`, the throttle key of its address (the door
 * derives it: the TCP peer, an IPv6 address by its /64). */

/* The coarse answer for `waybill` into a new object *out (caller decrefs):
 * {"waybill","status","first_seen","last_update"}; an unknown waybill gets
 * the same shape with status "unknown" and null dates. Counts one lookup
 * for `client`. Returns SMILE_OK; SMILE_ERR_FIELD_VALUE (field "waybill":
 * not a waybill number: its shape or check digits); SMILE_ERR_QUOTA (over
 * track_lookups_per_address: *retry_s says when to come back);
 * SMILE_ERR_STORE. */
enum smile_err svc_track_coarse(struct gateway *g, const char *waybill, const char *client,
				json_t **out, long *retry_s, struct smile_error *e)
	SMILE_MUST_CHECK;

/* Check the phone's last four digits for `waybill`. Counts one check for
 * `client` and one for the waybill, before anything else; over either
 * limit: SMILE_ERR_QUOTA (*retry_s), nothing checked. A right answer:
 * SMILE_OK and *out (caller decrefs) = the coarse answer plus "timeline"
 * (events with city-level places) and "access" (reveals, refused reveals,
 * wrong answers, with roles, never a device). A wrong answer - and every
 * answer for an unknown waybill, an erased shipment or one issued without a
 * hash - is SMILE_ERR_DENIED (field "phone_last4"), audited as
 * "track.wrong_digits" (subject the waybill, no digits) and logged.
 * SMILE_ERR_FIELD_VALUE for a bad waybill or digits that are not four
 * ASCII digits (not counted); SMILE_ERR_STORE. */
enum smile_err svc_track_verify(struct gateway *g, const char *waybill, const char *digits,
				const char *client, json_t **out, long *retry_s,
				struct smile_error *e) SMILE_MUST_CHECK;

#endif
