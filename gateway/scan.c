/* SPDX-License-Identifier: Apache-2.0 */
/*
 * scan.c - the scan pipeline (scan.h): docs/protocol.md section 7 as one
 * function of a scan's bytes, with every effect going out through an ops
 * table.
 *
 * A scan goes through three stages, in the order of 7.1:
 *
 *   authenticate  decode, topic, device, signature, standing, replay rule.
 *                 Whatever fails here is *refused*: refuse() replies (not
 *                 stored), audits, counts and logs, once, in one place.
 *                 Nothing is committed: the scan is not known to be the
 *                 device's. An exact retransmission is answered from the
 *                 device's stored reply (7.3) and stops here too.
 *   decide        freshness, token, shipment, reveal count, then the policy
 *                 of 7.4 (policy.c decides; this file only gathers its
 *                 facts) and, for a reveal, the contact details.
 *   commit        the reply is built and signed (one builder: build_reply)
 *                 and handed with the event, the audit entry and the
 *                 device's new seq to ops->commit_async; the lane moves on,
 *                 and the reply is published only once the commit is durable
 *                 (scan_committed), so a device never sees an answer the
 *                 gateway could forget.
 *
 * The one idea: the pipeline keeps nothing authoritative in memory. Seq,
 * stored reply, holder and quota are the store's, read per scan; the lane's
 * only state is a cache of derived keys. So the relay's workers, a unit
 * test's fake, another door - or another gateway process on the same store
 * and broker - can drive it.
 *
 * What the reads cannot settle alone is settled by the store's write
 * transaction (store.h, struct smile_store_scan), where every process's
 * commits are one after the other: a reveal carries a second, complete
 * outcome - the same scan decided with the quota reached (7.4 row 13,
 * reply built and signed here) - which the store applies instead when the
 * reveals it counts in the transaction reach the quota; and a scan whose
 * seq another process (or a redelivery) committed first comes back with
 * what the device is owed - the stored reply for the same bytes, a replay
 * refusal for others - audited in that transaction. So two scans of one
 * device on two nodes are decided as if one came after the other.
 */
#include "scan.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "metrics.h"
#include "policy.h"
#include "shipment.h"
#include "smile/log.h"
#include "token.h"

#define KEY_CACHE 1024 /* per lane, direct-mapped; also the reveal buckets */
#define OFFLINE_LIMIT_MS (24ULL * 3600 * 1000) /* 7.2 */
#define DAY_MS (24LL * 3600 * 1000)

struct key_slot {
	char id[SMILE_STORE_ID_MAX];
	uint8_t box_pk[32];
	uint8_t key[SMILE_PROTO_KEY_BYTES];
};

struct scan_lane {
	struct scan_config cfg;
	struct scan_ops ops;
	struct key_slot *keys; /* sodium_malloc'd: shared keys are secrets */
};

uint32_t scan_device_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

struct scan_lane *scan_lane_new(const struct scan_config *cfg, const struct scan_ops *ops)
{
	struct scan_lane *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->cfg = *cfg;
	l->ops = *ops;
	l->keys = sodium_allocarray(KEY_CACHE, sizeof(*l->keys));
	if (l->keys == NULL) {
		scan_lane_free(l);
		return NULL;
	}
	memset(l->keys, 0, KEY_CACHE * sizeof(*l->keys));
	return l;
}

void scan_lane_free(struct scan_lane *l)
{
	if (l == NULL)
		return;
	if (l->keys)
		sodium_free(l->keys);
	free(l);
}

static const uint8_t *shared_key(struct scan_lane *l, const struct smile_store_device *d)
{
	struct key_slot *k = &l->keys[scan_device_hash(d->id) % KEY_CACHE];
	if (strcmp(k->id, d->id) == 0 && memcmp(k->box_pk, d->box_pk, 32) == 0)
		return k->key;
	if (smile_proto_shared_key(smile_keys_box_sk(l->cfg.keys), d->box_pk, k->key) != SMILE_OK) {
		k->id[0] = '\0';
		return NULL;
	}
	snprintf(k->id, sizeof(k->id), "%s", d->id);
	memcpy(k->box_pk, d->box_pk, 32);
	return k->key;
}

/* ------------------------------------------------------------ replies */

/* Everything a reply says (5.1). Unset members are empty. */
struct answer {
	const char *device;
	const uint8_t *digest;
	uint64_t seq;
	int64_t time_ms;
	enum smile_status status;
	enum smile_reason reason;
	const char *waybill;
	const char *masked;
	size_t masked_len;
	const char *contact; /* only with status revealed, sealed with key */
	size_t contact_len;
	const uint8_t *key;
};

/* The one place replies are built and signed. */
static enum smile_err build_reply(const struct scan_lane *l, const struct answer *a, uint8_t *out,
				  size_t cap, size_t *n)
{
	const struct smile_reply rep = {
		.device_id = a->device,
		.device_id_len = strlen(a->device),
		.seq = a->seq,
		.scan_digest = a->digest,
		.time_ms = (uint64_t)a->time_ms,
		.status = a->status,
		.reason = (uint16_t)a->reason,
		.waybill = a->waybill ? a->waybill : "",
		.waybill_len = a->waybill ? strlen(a->waybill) : 0,
		.masked = (const uint8_t *)a->masked,
		.masked_len = a->masked_len,
		.contact = (const uint8_t *)a->contact,
		.contact_len = a->contact_len,
	};
	return smile_reply_encode(&rep, a->key, smile_keys_sign_sk(l->cfg.keys), out, cap, n,
				  NULL);
}

static void publish_reply(const struct scan_lane *l, const char *device, const uint8_t *p,
			  size_t n)
{
	char topic[SMILE_PROTO_TOPIC_MAX];
	/* 7.1: always to the topic's device, which is the reply's device */
	if (smile_proto_topic(topic, sizeof(topic), device, SMILE_TOPIC_REPLY) == SMILE_OK)
		l->ops.publish(l->ops.ctx, topic, p, n);
}

/* Sign and send, now, a reply that records nothing: refusals, faults,
 * replacements for a stored reply. No waybill, no masked view. */
static void reply_bare(const struct scan_lane *l, const char *device, const uint8_t digest[32],
		       uint64_t seq, enum smile_status st, enum smile_reason reason)
{
	uint8_t out[SMILE_REPLY_MAX_BYTES];
	size_t n = 0;
	const struct answer a = {
		.device = device,
		.digest = digest,
		.seq = seq,
		.time_ms = l->ops.now(l->ops.ctx),
		.status = st,
		.reason = reason,
	};
	if (build_reply(l, &a, out, sizeof(out), &n) == SMILE_OK)
		publish_reply(l, device, out, n);
}

static void audit_one(const struct scan_lane *l, const char *kind, const char *subject,
		      const char *device, const char *detail)
{
	const struct smile_audit_entry a = {
		.kind = kind, .subject = subject, .actor = device, .detail = detail};
	if (l->ops.audit(l->ops.ctx, &a, 1, l->ops.now(l->ops.ctx)) != SMILE_OK)
		smile_log(SMILE_LOG_ERROR, "audit.write_failed", SMILE_KV_ID("device", device));
}

static void log_decided(const char *device, uint64_t seq, enum smile_status st,
			enum smile_reason reason)
{
	smile_log(SMILE_LOG_DEBUG, "scan.decided", SMILE_KV_ID("device", device),
		  SMILE_KV_INT("seq", (long long)seq),
		  SMILE_KV_ID("status", smile_proto_status_name(st)),
		  SMILE_KV_ID("reason", smile_proto_reason_name(reason)));
}

/* A refusal that records nothing (7.1 steps 1-6, and the retransmission
 * answers of 7.3 that replace a stored reply). */
struct refusal {
	const char *device; /* the topic's: where the reply goes, the audit's actor */
	const uint8_t *digest;
	uint64_t seq;
	enum smile_status status;
	enum smile_reason reason;
	const char *subject; /* waybill, or "-" */
	int counted;         /* a denial for the metrics (7.3's answers are not) */
};

/* The one refusal path: reply, audit, metrics, log; each once. */
static void refuse(const struct scan_lane *l, const struct refusal *r)
{
	if (r->digest)
		reply_bare(l, r->device, r->digest, r->seq, r->status, r->reason);
	audit_one(l, "refusal", r->subject ? r->subject : "-", r->device,
		  smile_proto_reason_name(r->reason));
	if (r->counted)
		smile_metrics_add(SMILE_COUNTER_DENIALS, 1);
	log_decided(r->device, r->seq, r->status, r->reason);
}

/* ------------------------------------------------------------ one scan */

struct job {
	const struct scan_input *in;
	struct smile_scan scan;
	char device[SMILE_PROTO_ID_MAX + 1];
	uint8_t digest[32];
	struct smile_store_device dev;
	int have_dev;
	struct smile_store_shipment row;
	int have_row;
	uint64_t shipment_id;
	uint64_t reveals;
	int64_t now;
	struct policy_decision d;
	char masked[SMILE_PROTO_MASKED_MAX];
	size_t masked_len;
	char contact[SMILE_PROTO_CONTACT_MAX];
	size_t contact_len;
};

/* The masked view a device shows (docs/protocol.md 5.3): stored at issue;
 * rebuilt from the label record for shipments stored before that column
 * existed, or stored in the shape before 5.3 was followed (the recipient
 * nested): old data directories keep working without a migration. */
static size_t masked_view(const struct smile_store_shipment *row, char *out, size_t cap)
{
	char *built = NULL;
	const char *v = row->device_view;
	size_t n = 0;
	if (v == NULL || v[0] == '\0' || shipment_device_view_is_old(v)) {
		json_t *rec = json_loads(row->public_json, 0, NULL);
		built = rec ? shipment_device_view(rec) : NULL;
		json_decref(rec);
		v = built;
	}
	if (v && strlen(v) <= cap) {
		n = strlen(v);
		memcpy(out, v, n);
	}
	free(built);
	return n;
}

/* One accepted scan between its commit and its publication. Owns copies of
 * everything the store and the callback need. */
struct pending {
	struct scan_lane *lane;
	struct smile_store_scan sc;
	struct smile_store_scan over; /* a reveal's outcome with the quota reached */
	struct smile_store_scan_result res;
	struct smile_store_event ev;
	struct smile_audit_entry audit, over_audit;
	char device[SMILE_PROTO_ID_MAX + 1];
	char subject[SMILE_STORE_WAYBILL_MAX];
	uint8_t digest[32];
	uint8_t reply[SMILE_REPLY_MAX_BYTES];
	uint8_t over_reply[SMILE_REPLY_MAX_BYTES];
	uint8_t stored_reply[SMILE_REPLY_MAX_BYTES]; /* res.reply */
	char role[16];
	int64_t now;
	char merchant_ref[SMILE_STORE_ID_MAX]; /* for the merchant event */
	char holder[SMILE_STORE_ID_MAX];       /* the shipment's, as decided on */
	char event_topic[160];
	char *alert_json;
	int reveal;
	int counted_denial;
	uint64_t reveals;
};

static void pending_free(struct pending *p)
{
	free(p->alert_json);
	/* Nothing here is plaintext personal data (the reply is sealed), but
	 * wipe it anyway; plain malloc, because sodium_malloc's guard pages cost
	 * three system calls per scan. */
	sodium_memzero(p, sizeof(*p));
	free(p);
}

/* The store's transaction decided otherwise than the lane (store.h): the
 * quota was reached meanwhile, or this scan's seq was taken first - by
 * another node, or by this node answering a redelivery - or another scan
 * of its shipment committed first. Whatever it decided is durable, audited
 * there, and answered here. */
static void settled_otherwise(struct pending *p)
{
	const struct scan_lane *l = p->lane;
	const struct smile_store_scan_result *res = &p->res;
	enum smile_status st = SMILE_STATUS_DENIED;
	enum smile_reason why = SMILE_REASON_REPLAY;

	switch (res->outcome) {
	case SMILE_SCAN_OVER_QUOTA:
		/* 7.4 row 13 as the transaction counted: refused, suspended, alerted */
		publish_reply(l, p->device, p->over_reply, p->over.reply_len);
		free(p->alert_json);
		p->alert_json = events_quota_alert(l->cfg.keys, p->device, p->role, p->sc.seq, p->now,
						   res->reveals, l->cfg.reveal_quota, 24L * 3600);
		if (p->alert_json) {
			l->ops.publish(l->ops.ctx, SMILE_PROTO_TOPIC_ALERTS, p->alert_json,
				       strlen(p->alert_json));
		}
		smile_log(SMILE_LOG_WARN, "device.quota_exceeded", SMILE_KV_ID("device", p->device),
			  SMILE_KV_INT("reveals_24h", (long long)res->reveals));
		smile_metrics_add(SMILE_COUNTER_DENIALS, 1);
		log_decided(p->device, p->sc.seq, SMILE_STATUS_DENIED, SMILE_REASON_QUOTA_EXCEEDED);
		return;
	case SMILE_SCAN_RETRANSMIT:
		/* 7.3: the same bytes were answered first; a harmless duplicate,
		 * and the only answer if the node that committed died before
		 * publishing */
		if (res->reply_len) {
			publish_reply(l, p->device, res->reply, res->reply_len);
			return;
		}
		reply_bare(l, p->device, p->digest, p->sc.seq, SMILE_STATUS_RECORDED,
			   SMILE_REASON_ERASED);
		log_decided(p->device, p->sc.seq, SMILE_STATUS_RECORDED, SMILE_REASON_ERASED);
		return;
	case SMILE_SCAN_STANDING:
		why = res->standing == SMILE_DEV_REVOKED ? SMILE_REASON_REVOKED
							 : SMILE_REASON_SUSPENDED;
		break;
	case SMILE_SCAN_MOVED:
		/* another scan of the shipment committed while this one was
		 * decided: nothing stored, so its retransmission (8.3) is
		 * decided again, as if it had come after */
		reply_bare(l, p->device, p->digest, p->sc.seq, SMILE_STATUS_ERROR,
			   SMILE_REASON_BUSY);
		log_decided(p->device, p->sc.seq, SMILE_STATUS_ERROR, SMILE_REASON_BUSY);
		return;
	default: /* SMILE_SCAN_REPLAY */
		break;
	}
	reply_bare(l, p->device, p->digest, p->sc.seq, st, why);
	smile_metrics_add(SMILE_COUNTER_DENIALS, 1);
	log_decided(p->device, p->sc.seq, st, why);
}

/* Called once the scan's effects are durable (or failed): only now does
 * the device get its reply, the merchant its event, operators the alert. */
static void scan_committed(void *arg, enum smile_err rc)
{
	struct pending *p = arg;
	const struct scan_lane *l = p->lane;

	if (rc == SMILE_OK && p->res.outcome != SMILE_SCAN_APPLIED) {
		settled_otherwise(p);
	} else if (rc == SMILE_ERR_SHREDDED) {
		/* the shipment was erased while this reveal waited: nothing was
		 * stored, and the sealed reply is dropped unsent (7.3) */
		reply_bare(l, p->device, p->digest, p->sc.seq, SMILE_STATUS_DENIED,
			   SMILE_REASON_ERASED);
	} else if (rc) {
		smile_log(SMILE_LOG_ERROR, "scan.commit_failed", SMILE_KV_ID("device", p->device),
			  SMILE_KV_ERR("err", rc));
		reply_bare(l, p->device, p->digest, p->sc.seq, SMILE_STATUS_ERROR,
			   SMILE_REASON_INTERNAL);
	} else {
		publish_reply(l, p->device, p->reply, p->sc.reply_len);
		if (p->sc.event) {
			/* 10.1: built now, when the store has named the event: its
			 * id is the same in every redelivery and in the HTTP listing */
			char ev[EVENTS_JSON_MAX];
			size_t n = events_event_json(l->cfg.keys, p->sc.event, p->merchant_ref, ev,
						     sizeof(ev));
			if (n)
				l->ops.publish(l->ops.ctx, p->event_topic, ev, n);
		}
		if (p->alert_json) {
			l->ops.publish(l->ops.ctx, SMILE_PROTO_TOPIC_ALERTS, p->alert_json,
				       strlen(p->alert_json));
			smile_log(SMILE_LOG_WARN, "device.quota_exceeded",
				  SMILE_KV_ID("device", p->device),
				  SMILE_KV_INT("reveals_24h", (long long)p->reveals));
		}
		if (p->reveal)
			smile_metrics_add(SMILE_COUNTER_REVEALS, 1);
		if (p->counted_denial)
			smile_metrics_add(SMILE_COUNTER_DENIALS, 1);
	}
	pending_free(p);
}

/* 7.3: a stored reply is resent only as the store's write transaction
 * finds it - an erasure committed since the device's row was read here has
 * withdrawn a revealing one, and a row read here may not be durable yet (on
 * PostgreSQL a commit is visible a flush before it is durable: the write
 * transaction's own flush covers it). Submitted as a commit of the same
 * seq: the store finds it taken by these bytes (SMILE_SCAN_RETRANSMIT) and
 * hands back the stored reply, a revealing one audited there as a resend,
 * or none (withdrawn: audited as an "erased" refusal); settled_otherwise
 * answers. */
static void resend_stored(struct scan_lane *l, const struct job *j, const char *waybill)
{
	struct pending *p = malloc(sizeof(*p));

	if (p == NULL) {
		reply_bare(l, j->device, j->digest, j->scan.seq, SMILE_STATUS_ERROR,
			   SMILE_REASON_BUSY);
		return;
	}
	memset(p, 0, sizeof(*p));
	p->lane = l;
	p->now = j->now;
	snprintf(p->device, sizeof(p->device), "%s", j->device);
	snprintf(p->subject, sizeof(p->subject), "%s", waybill);
	memcpy(p->digest, j->digest, 32);
	p->sc = (struct smile_store_scan){
		.device_id = p->device,
		.seq = j->scan.seq,
		.digest = p->digest,
		.time_ms = j->now,
		.result = &p->res,
		.subject = p->subject,
	};
	p->res.reply = p->stored_reply;
	p->res.reply_cap = sizeof(p->stored_reply);
	if (l->ops.commit_async(l->ops.ctx, &p->sc, scan_committed, p) != SMILE_OK) {
		reply_bare(l, j->device, j->digest, j->scan.seq, SMILE_STATUS_ERROR,
			   SMILE_REASON_BUSY);
		pending_free(p);
	}
}

/* An exact retransmission: the device lost our reply. docs/protocol.md 7.3.
 * Nothing is recorded again. A reply without contact details is resent as
 * it was. A revealing reply is resent only while the scan is still fresh,
 * and the resend is audited; once stale, or once the shipment was erased
 * (erasure withdraws the stored reply), the device gets a reply without
 * contact details instead. */
static void retransmit(struct scan_lane *l, struct job *j)
{
	const struct smile_store_device *dev = &j->dev;
	struct smile_store_shipment row;
	enum smile_reason why = SMILE_REASON_OK;
	int have_row = 0;

	if (dev->last_reply && !dev->last_revealed) {
		resend_stored(l, j, "-"); /* nothing to audit: no subject */
		return;
	}
	if (dev->last_shipment_id &&
	    l->ops.get_shipment(l->ops.ctx, dev->last_shipment_id, &row) == SMILE_OK)
		have_row = 1;
	if (dev->last_reply == NULL)
		why = have_row && row.erased_ms ? SMILE_REASON_ERASED : SMILE_REASON_REPLAY;
	else if (smile_proto_check_time(j->scan.time_ms, (uint64_t)j->now,
					(uint64_t)l->cfg.skew_s * 1000u) != SMILE_OK)
		why = SMILE_REASON_STALE;
	else if (!have_row || row.erased_ms)
		why = SMILE_REASON_ERASED;
	if (why == SMILE_REASON_OK) {
		resend_stored(l, j, row.waybill);
	} else {
		/* the scan's event stays recorded; its contact details are not resent */
		refuse(l, &(const struct refusal){
				  .device = dev->id,
				  .digest = j->digest,
				  .seq = j->scan.seq,
				  .status = why == SMILE_REASON_REPLAY ? SMILE_STATUS_DENIED
								       : SMILE_STATUS_RECORDED,
				  .reason = why,
				  .subject = have_row ? row.waybill : "-",
			  });
	}
	if (have_row)
		smile_store_shipment_release(&row);
}

enum stage { STAGE_DONE, STAGE_NEW, STAGE_RETRANSMIT };

/* 7.1 steps 1-6. Refuses (and returns STAGE_DONE) or says how to go on. */
static enum stage authenticate(struct scan_lane *l, struct job *j)
{
	const struct scan_input *in = j->in;
	struct refusal r = {.device = in->topic_device, .subject = "-", .counted = 1};
	enum smile_err rc;

	rc = smile_scan_decode(in->data, in->len, &j->scan, NULL);
	if (rc) {
		/* step 1: to the topic's device, seq 0, the digest of every byte
		 * received */
		if (in->digest)
			memcpy(j->digest, in->digest, 32);
		r.digest = in->digest || smile_scan_digest(in->data, in->len, j->digest) == SMILE_OK
				   ? j->digest
				   : NULL;
		r.status = SMILE_STATUS_ERROR;
		r.reason = smile_proto_reason_from_err(rc);
		refuse(l, &r);
		return STAGE_DONE;
	}
	/* From here the message decoded whole: never truncated. */
	r.seq = j->scan.seq;
	r.status = SMILE_STATUS_DENIED;
	r.digest = smile_scan_digest(in->data, in->len, j->digest) == SMILE_OK ? j->digest : NULL;
	if (smile_proto_id_copy(j->scan.device_id, j->scan.device_id_len, j->device) != SMILE_OK ||
	    strcmp(j->device, in->topic_device) != 0) {
		r.reason = SMILE_REASON_WRONG_TOPIC;
		refuse(l, &r);
		return STAGE_DONE;
	}
	rc = l->ops.get_device(l->ops.ctx, j->device, &j->dev);
	if (rc) {
		r.status = rc == SMILE_ERR_NOT_FOUND ? SMILE_STATUS_DENIED : SMILE_STATUS_ERROR;
		r.reason = rc == SMILE_ERR_NOT_FOUND ? SMILE_REASON_UNKNOWN_DEVICE
						     : SMILE_REASON_INTERNAL;
		refuse(l, &r);
		return STAGE_DONE;
	}
	j->have_dev = 1;
	if (smile_scan_verify(in->data, in->len, j->dev.sign_pk, NULL) != SMILE_OK) {
		r.reason = SMILE_REASON_BAD_SIGNATURE;
		refuse(l, &r);
		return STAGE_DONE;
	}
	if (j->dev.status != SMILE_DEV_ACTIVE) {
		/* step 5: refused before the replay rule, nothing stored */
		r.reason = j->dev.status == SMILE_DEV_REVOKED ? SMILE_REASON_REVOKED
							      : SMILE_REASON_SUSPENDED;
		refuse(l, &r);
		return STAGE_DONE;
	}
	if (r.digest == NULL) /* libsodium failed: nothing can be answered */
		return STAGE_DONE;
	switch (smile_proto_seq_classify(j->dev.last_seq,
					 j->dev.last_seq ? j->dev.last_digest : NULL, j->scan.seq,
					 j->digest)) {
	case SMILE_SEQ_NEW:
		return STAGE_NEW;
	case SMILE_SEQ_RETRANSMIT:
		return STAGE_RETRANSMIT;
	default:
		r.reason = SMILE_REASON_REPLAY;
		refuse(l, &r);
		return STAGE_DONE;
	}
}

/* 7.4's facts for job j, with `reveals` counted against the quota. */
static struct policy_input policy_facts(const struct scan_lane *l, const struct job *j,
					uint64_t reveals)
{
	return (struct policy_input){
		.device_id = j->device,
		.role = j->dev.role,
		.device_status = j->dev.status,
		.zone = j->dev.zone,
		.event = j->scan.event,
		.shipment_status = j->row.status,
		.holder = j->row.holder,
		.region = j->row.region,
		.erased = j->row.erased_ms != 0,
		.reveals_24h = reveals,
		.quota = l->cfg.reveal_quota,
	};
}

/* 7.1 steps 8-10: the facts, the policy's decision, the contact details. */
static void decide(struct scan_lane *l, struct job *j)
{
	struct policy_decision *d = &j->d;
	uint8_t kid;
	enum smile_err rc;

	memset(d, 0, sizeof(*d));
	rc = smile_proto_check_time(j->scan.time_ms, (uint64_t)j->now,
				    (uint64_t)l->cfg.skew_s * 1000u);
	/* 7.2: a scan held offline for more than a day is too old to act on */
	if (rc == SMILE_OK && j->scan.time_ms - j->scan.scanned_ms > OFFLINE_LIMIT_MS)
		rc = SMILE_ERR_STALE;
	if (rc == SMILE_OK)
		rc = smile_token_open(smile_keys_token(l->cfg.keys), (const char *)j->scan.token,
				      j->scan.token_len, &j->shipment_id, &kid, NULL);
	if (rc == SMILE_OK) {
		rc = l->ops.get_shipment(l->ops.ctx, j->shipment_id, &j->row);
		j->have_row = rc == SMILE_OK;
	}
	if (rc == SMILE_OK)
		rc = l->ops.count_reveals(l->ops.ctx, j->device, j->now - DAY_MS, &j->reveals);
	if (rc) {
		d->status = rc == SMILE_ERR_STORE ? SMILE_STATUS_ERROR : SMILE_STATUS_DENIED;
		d->reason = smile_proto_reason_from_err(rc);
		return;
	}
	const struct policy_input facts = policy_facts(l, j, j->reveals);
	policy_decide(&facts, d);
	j->masked_len = masked_view(&j->row, j->masked, sizeof(j->masked));
	if (d->reveal) {
		rc = l->ops.open_contact(l->ops.ctx, j->shipment_id, j->contact, sizeof(j->contact),
					 &j->contact_len);
		if (rc || j->contact_len == 0) {
			/* 7.4, last paragraph: erased meanwhile, or a fault */
			d->reveal = 0;
			d->status = SMILE_STATUS_RECORDED;
			d->reason = rc == SMILE_ERR_SHREDDED ? SMILE_REASON_ERASED
							     : SMILE_REASON_INTERNAL;
			j->contact_len = 0;
		}
	}
}

/* A reveal's other outcome, for the store to apply instead if the quota is
 * reached by the time it commits (store.h): the same scan decided by the
 * policy with the quota reached - 7.4 row 13, denied / quota_exceeded,
 * suspended, nothing recorded but the refusal. */
static enum smile_err over_quota(const struct scan_lane *l, const struct job *j, struct pending *p)
{
	struct policy_decision d;
	size_t n = 0;
	enum smile_err rc;
	const struct policy_input facts =
		policy_facts(l, j, (uint64_t)(l->cfg.reveal_quota < 0 ? 0 : l->cfg.reveal_quota));

	policy_decide(&facts, &d);
	if (d.reveal || d.record_event) /* the policy's row 13 must hold */
		return SMILE_ERR_INTERNAL;
	rc = build_reply(l,
			 &(const struct answer){
				 .device = j->device,
				 .digest = j->digest,
				 .seq = j->scan.seq,
				 .time_ms = j->now,
				 .status = d.status,
				 .reason = d.reason,
				 .waybill = j->row.waybill,
				 .masked = j->masked,
				 .masked_len = j->masked_len,
			 },
			 p->over_reply, sizeof(p->over_reply), &n);
	if (rc)
		return rc;
	p->over_audit = (struct smile_audit_entry){
		.kind = "refusal",
		.subject = p->subject,
		.actor = p->device,
		.detail = smile_proto_reason_name(d.reason),
	};
	p->over = (struct smile_store_scan){
		.device_id = p->device,
		.seq = j->scan.seq,
		.digest = p->digest,
		.reply = p->over_reply,
		.reply_len = n,
		.time_ms = j->now,
		.suspend = d.suspend,
		.audit = &p->over_audit,
		.n_audit = 1,
	};
	p->sc.quota = l->cfg.reveal_quota;
	p->sc.over_quota = &p->over;
	return SMILE_OK;
}

/* 7.1 steps 7 and 10: seal and sign the reply, hand every effect to the
 * store's commit; the reply goes out from scan_committed. */
static void commit(struct scan_lane *l, struct job *j)
{
	struct policy_decision *d = &j->d;
	struct pending *p;
	struct smile_store_event *ev = NULL;
	const uint8_t *key;
	size_t reply_len = 0;
	enum smile_err rc;

	p = malloc(sizeof(*p));
	if (p == NULL) {
		reply_bare(l, j->device, j->digest, j->scan.seq, SMILE_STATUS_ERROR,
			   SMILE_REASON_BUSY);
		return;
	}
	memset(p, 0, sizeof(*p));
	p->lane = l;
	snprintf(p->device, sizeof(p->device), "%s", j->device);
	memcpy(p->digest, j->digest, 32);
	key = d->reveal ? shared_key(l, &j->dev) : NULL;
	if (d->reveal && key == NULL) {
		d->reveal = 0;
		d->status = SMILE_STATUS_RECORDED;
		d->reason = SMILE_REASON_INTERNAL;
	}
	rc = build_reply(l,
			 &(const struct answer){
				 .device = j->device,
				 .digest = j->digest,
				 .seq = j->scan.seq,
				 .time_ms = j->now,
				 .status = d->status,
				 .reason = d->reason,
				 .waybill = j->have_row ? j->row.waybill : "",
				 .masked = j->masked,
				 .masked_len = j->masked_len,
				 .contact = j->contact,
				 .contact_len = d->reveal ? j->contact_len : 0,
				 .key = key,
			 },
			 p->reply, sizeof(p->reply), &reply_len);
	sodium_memzero(j->contact, sizeof(j->contact));
	if (rc) {
		smile_log(SMILE_LOG_ERROR, "scan.reply_encode_failed", SMILE_KV_ID("device", j->device),
			  SMILE_KV_ERR("err", rc));
		reply_bare(l, j->device, j->digest, j->scan.seq, SMILE_STATUS_ERROR,
			   SMILE_REASON_INTERNAL);
		pending_free(p);
		return;
	}
	snprintf(p->subject, sizeof(p->subject), "%s", j->have_row ? j->row.waybill : "-");
	p->audit = (struct smile_audit_entry){
		.kind = d->reveal ? "reveal" : "refusal",
		.subject = p->subject,
		.actor = p->device,
		.detail = smile_proto_reason_name(d->reason),
	};
	if (d->record_event) {
		ev = &p->ev;
		ev->shipment_id = j->shipment_id;
		snprintf(ev->waybill, sizeof(ev->waybill), "%s", j->row.waybill);
		snprintf(ev->event, sizeof(ev->event), "%s", smile_proto_event_name(j->scan.event));
		ev->time_ms = (int64_t)j->scan.scanned_ms;
		ev->recorded_ms = j->now;
		snprintf(ev->device_id, sizeof(ev->device_id), "%s", j->device);
		snprintf(ev->device_role, sizeof(ev->device_role), "%s",
			 smile_device_role_name(j->dev.role));
		snprintf(ev->detail, sizeof(ev->detail), "scan");
		snprintf(p->merchant_ref, sizeof(p->merchant_ref), "%s", j->row.merchant_ref);
		snprintf(p->event_topic, sizeof(p->event_topic), "smile/v1/merchant/%s/events",
			 j->row.merchant);
	}
	if (d->suspend) /* 10.2; detail: the reveals counted against the quota */
		p->alert_json = events_quota_alert(l->cfg.keys, j->device,
						   smile_device_role_name(j->dev.role), j->scan.seq,
						   j->now, j->reveals, l->cfg.reveal_quota, 24L * 3600);
	p->reveal = d->reveal;
	p->now = j->now;
	snprintf(p->role, sizeof(p->role), "%s", smile_device_role_name(j->dev.role));
	p->counted_denial = !d->reveal && d->status != SMILE_STATUS_RECORDED;
	p->reveals = j->reveals;
	p->sc = (struct smile_store_scan){
		.device_id = p->device,
		.seq = j->scan.seq,
		.digest = p->digest,
		.reply = p->reply,
		.reply_len = reply_len,
		.time_ms = j->now,
		.event = ev,
		.custody = d->custody,
		.reveal = d->reveal,
		.suspend = d->suspend,
		.audit = &p->audit,
		/* a plain recorded/ok scan is the tracking history's, not the audit's */
		.n_audit = d->reveal || d->status != SMILE_STATUS_RECORDED ||
				   d->reason != SMILE_REASON_OK
			? 1u
			: 0u,
		.result = &p->res,
	};
	if (ev) { /* decided on the shipment's status and holder: still so? */
		snprintf(p->holder, sizeof(p->holder), "%s", j->row.holder);
		p->sc.expect_shipment = 1;
		p->sc.expect_status = j->row.status;
		p->sc.expect_holder = p->holder;
	}
	p->res.reply = p->stored_reply;
	p->res.reply_cap = sizeof(p->stored_reply);
	if (d->reveal && over_quota(l, j, p) != SMILE_OK) {
		reply_bare(l, j->device, j->digest, j->scan.seq, SMILE_STATUS_ERROR,
			   SMILE_REASON_INTERNAL);
		pending_free(p);
		return;
	}
	/* The lane moves on; the reply goes out once this is durable. */
	if (l->ops.commit_async(l->ops.ctx, &p->sc, scan_committed, p) != SMILE_OK) {
		reply_bare(l, j->device, j->digest, j->scan.seq, SMILE_STATUS_ERROR,
			   SMILE_REASON_BUSY);
		pending_free(p);
		return;
	}
	log_decided(j->device, j->scan.seq, d->status, d->reason);
}

void scan_process(struct scan_lane *l, const struct scan_input *in)
{
	struct job job = {.in = in, .now = l->ops.now(l->ops.ctx)};
	struct job *j = &job;

	smile_metrics_add(SMILE_COUNTER_SCANS, 1);
	switch (authenticate(l, j)) {
	case STAGE_NEW:
		/* From here the scan is authentic and new: its outcome is
		 * committed (seq, reply, audit) so a retransmission gets the same
		 * answer. */
		decide(l, j);
		if (j->d.status == SMILE_STATUS_ERROR) {
			/* 7.1: a store fault is answered error / internal and not
			 * stored, so the retransmission of the same bytes is
			 * processed as new once the store answers again. */
			refuse(l, &(const struct refusal){
					  .device = j->device,
					  .digest = j->digest,
					  .seq = j->scan.seq,
					  .status = j->d.status,
					  .reason = j->d.reason,
					  .subject = j->have_row ? j->row.waybill : "-",
					  .counted = 1,
				  });
			break;
		}
		commit(l, j);
		break;
	case STAGE_RETRANSMIT:
		retransmit(l, j);
		break;
	case STAGE_DONE:
		break;
	}
	if (j->have_row)
		smile_store_shipment_release(&j->row);
	if (j->have_dev)
		smile_store_device_release(&j->dev);
	sodium_memzero(j->contact, sizeof(j->contact));
}
