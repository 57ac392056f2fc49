/*
 * relay.c - the MQTT scan relay: courier scans in, signed replies out.
 *
 * The libmosquitto network thread only moves bytes: on_message copies a scan
 * into the bounded queue of one worker, chosen by hashing the device id, so
 * every device's scans are handled in order by one thread (sequence numbers
 * and the reveal quota stay consistent without locks; reveals still waiting
 * for their commit are counted per worker, see struct worker). Workers verify,
 * decide, seal and sign, then hand the effects to the store's group commit
 * without waiting: the store calls back once the commit is durable, and only
 * then is the reply published. So one commit carries every scan that arrived
 * while the previous one was syncing, and a few workers keep both cores busy.
 * A full queue makes the network thread wait briefly, then drop the scan
 * (counted): the device retries until it gets a reply, and an exact
 * retransmission gets the same reply, so nothing is lost and nothing applies
 * twice. Too many commits in flight make the workers wait (back-pressure).
 *
 * Each worker keeps a bounded cache of per-device shared keys (X25519
 * beforenm is the costly step), so keys are derived once, not per scan.
 */
#include "relay.h"

#include <errno.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "events.h"
#include "policy.h"
#include "shipment.h"
#include "smile/log.h"
#include "smile/proto.h"
#include "token.h"
#include "vault.h"

#define KEY_CACHE 1024 /* per worker, direct-mapped */
#define OFFLINE_LIMIT_MS (24ULL * 3600 * 1000)

/* A scan as received. An over-size payload is kept only up to one byte past
 * the largest scan (enough for the decoder to say "too large", or "version"
 * first, in the order of docs/protocol.md 4.3), with the digest of all of
 * it, which the error reply must quote (7.1 step 1). */
struct scan_msg {
	char device[SMILE_PROTO_ID_MAX + 1];
	size_t len;
	int truncated;
	uint8_t digest[32]; /* only when truncated */
	uint8_t data[SMILE_SCAN_MAX_BYTES + 1];
};

struct key_slot {
	char id[SMILE_STORE_ID_MAX];
	uint8_t box_pk[32];
	uint8_t key[SMILE_PROTO_KEY_BYTES];
};

struct worker {
	struct relay *r;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t nonempty, nonfull;
	struct scan_msg *ring;
	size_t cap, head, count;
	int stop;
	struct key_slot *keys; /* sodium_malloc'd: shared keys are secrets */
	/* Reveals decided but not yet committed, by device hash bucket: the
	 * quota counts them, or a device pipelining scans would outrun it.
	 * Devices sharing a bucket share a count: that errs towards refusing. */
	atomic_int *pending;
};

struct relay {
	struct gateway *g;
	struct mosquitto *mosq;
	struct worker *workers;
	int n_workers;
	atomic_int connected;
	atomic_ullong dropped;
	/* the network thread (net_main) and its reconnect backoff */
	pthread_t net_thread;
	int net_started;
	atomic_int net_stop;
	atomic_int backoff_reset; /* set by on_connect on a CONNACK that accepted */
	pthread_mutex_t net_lock;
	pthread_cond_t net_wake;
	mosquitto_property *connect_props;
};

/* Reconnecting: first retry after 0.5 s, doubling to 8 s. libmosquitto's own
 * backoff counts whole seconds and grows quadratically, so a broker that was
 * down when the gateway started was found up to half a minute late. */
#define RECONNECT_FIRST_MS 500
#define RECONNECT_MAX_MS 8000

static uint32_t hash_id(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a: spreading, not security */
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/* ------------------------------------------------------------ MQTT side */

static void on_connect(struct mosquitto *m, void *arg, int rc, int flags,
		       const mosquitto_property *props)
{
	struct relay *r = arg;
	(void)flags;
	(void)props;
	if (rc != 0) {
		smile_log(SMILE_LOG_WARN, "mqtt.connect_refused", SMILE_KV_INT("reason", rc));
		return;
	}
	/* Debian's mosquitto 2.0.11 needs the subscription renewed every time. */
	rc = mosquitto_subscribe_v5(m, NULL, SMILE_PROTO_TOPIC_SCAN_SUB, 1, 0, NULL);
	atomic_store(&r->connected, rc == MOSQ_ERR_SUCCESS);
	atomic_store(&r->backoff_reset, 1);
	smile_log(SMILE_LOG_INFO, "mqtt.connected", SMILE_KV_INT("subscribe", rc));
}

static void on_disconnect(struct mosquitto *m, void *arg, int rc, const mosquitto_property *p)
{
	struct relay *r = arg;
	(void)m;
	(void)p;
	atomic_store(&r->connected, 0);
	smile_log(SMILE_LOG_WARN, "mqtt.disconnected", SMILE_KV_INT("reason", rc));
}

static void on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	struct relay *r = arg;
	char id[SMILE_PROTO_ID_MAX + 1];
	enum smile_topic kind;
	struct worker *w;
	struct timespec until;
	(void)m;
	(void)props;

	if (smile_proto_topic_parse(msg->topic, id, &kind) != SMILE_OK || kind != SMILE_TOPIC_SCAN)
		return;
	/* Empty and over-size scans are answered too (error / bad_message,
	 * docs/protocol.md 7.1 step 1): the device id is the topic's. */
	if (msg->payloadlen < 0)
		return;
	if ((size_t)msg->payloadlen > SMILE_SCAN_MAX_BYTES)
		smile_log(SMILE_LOG_WARN, "scan.oversize", SMILE_KV_ID("device", id),
			  SMILE_KV_INT("bytes", msg->payloadlen));
	w = &r->workers[hash_id(id) % (uint32_t)r->n_workers];
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += 200 * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->lock);
	while (w->count == w->cap && !w->stop)
		if (pthread_cond_timedwait(&w->nonfull, &w->lock, &until) == ETIMEDOUT)
			break;
	if (w->count == w->cap || w->stop) {
		pthread_mutex_unlock(&w->lock);
		atomic_fetch_add(&r->dropped, 1);
		smile_log(SMILE_LOG_WARN, "scan.dropped_busy", SMILE_KV_ID("device", id));
		return;
	}
	struct scan_msg *slot = &w->ring[(w->head + w->count) % w->cap];
	memcpy(slot->device, id, sizeof(id));
	slot->truncated = (size_t)msg->payloadlen > sizeof(slot->data);
	slot->len = slot->truncated ? sizeof(slot->data) : (size_t)msg->payloadlen;
	if (slot->len)
		memcpy(slot->data, msg->payload, slot->len);
	if (slot->truncated)
		crypto_generichash(slot->digest, 32, msg->payload, (unsigned long long)msg->payloadlen,
				   NULL, 0);
	w->count++;
	pthread_cond_signal(&w->nonempty);
	pthread_mutex_unlock(&w->lock);
}

static void publish(struct relay *r, const char *topic, const void *p, size_t n)
{
	int rc = mosquitto_publish_v5(r->mosq, NULL, topic, (int)n, p, 1, false, NULL);
	if (rc != MOSQ_ERR_SUCCESS)
		smile_log(SMILE_LOG_WARN, "mqtt.publish_failed", SMILE_KV_INT("rc", rc));
}

/* ------------------------------------------------------------ scan work */

static const uint8_t *shared_key(struct worker *w, const struct smile_store_device *d)
{
	struct key_slot *k = &w->keys[hash_id(d->id) % KEY_CACHE];
	if (strcmp(k->id, d->id) == 0 && memcmp(k->box_pk, d->box_pk, 32) == 0)
		return k->key;
	if (smile_proto_shared_key(smile_keys_box_sk(w->r->g->keys), d->box_pk, k->key) !=
	    SMILE_OK) {
		k->id[0] = '\0';
		return NULL;
	}
	snprintf(k->id, sizeof(k->id), "%s", d->id);
	memcpy(k->box_pk, d->box_pk, 32);
	return k->key;
}

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

/* Open the vault and build the contact JSON for the device. 0 on failure
 * (erased in the meantime, or a fault): the caller then does not reveal. */
static size_t contact_json(struct gateway *g, uint64_t id, char *out, size_t cap,
			   enum smile_err *why)
{
	struct smile_store_personal p;
	uint8_t aad[8], *pt = NULL;
	size_t pt_len = 0, n = 0;
	json_t *j = NULL;
	uint64_t v = id;

	*why = smile_store_get_personal(g->store, id, &p);
	if (*why)
		return 0;
	for (int i = 7; i >= 0; i--, v >>= 8)
		aad[i] = (uint8_t)(v & 0xff);
	pt = malloc(p.ct_len + 1);
	if (pt == NULL) {
		*why = SMILE_ERR_NOMEM;
		goto out;
	}
	*why = smile_vault_open(smile_keys_vault(g->keys), aad, sizeof(aad), p.wrapped_key, p.ct,
				p.ct_len, pt, p.ct_len, &pt_len, NULL);
	if (*why)
		goto out;
	j = json_loadb((const char *)pt, pt_len, 0, NULL);
	/* 5.3: name, phone and the address in one line by the page's rule */
	if (shipment_contact_json(json_object_get(j, "recipient"), out, cap, &n) != SMILE_OK) {
		*why = SMILE_ERR_INTERNAL;
		n = 0;
	}
out:
	json_decref(j); /* jansson frees through the wiping allocator */
	if (pt) {
		sodium_memzero(pt, p.ct_len + 1);
		free(pt);
	}
	smile_store_personal_release(&p);
	return n;
}

struct outcome {
	enum smile_status status;
	enum smile_reason reason;
};

/* Sign and send a reply that records nothing (refusals before the device is
 * known to be who it says, and faults). */
static void reply_digest(struct relay *r, const char *device, const uint8_t digest[32],
			 uint64_t seq, enum smile_status st, enum smile_reason reason)
{
	uint8_t out[SMILE_REPLY_MAX_BYTES];
	char topic[SMILE_PROTO_TOPIC_MAX];
	size_t n = 0;
	struct smile_reply rep;

	if (smile_proto_topic(topic, sizeof(topic), device, SMILE_TOPIC_REPLY) != SMILE_OK)
		return;
	memset(&rep, 0, sizeof(rep));
	rep.device_id = device;
	rep.device_id_len = strlen(device);
	rep.seq = seq;
	rep.scan_digest = digest;
	rep.time_ms = (uint64_t)gateway_now_ms();
	rep.status = st;
	rep.reason = (uint16_t)reason;
	if (smile_reply_encode(&rep, NULL, smile_keys_sign_sk(r->g->keys), out, sizeof(out), &n,
			       NULL) == SMILE_OK)
		publish(r, topic, out, n);
}

static void reply_only(struct worker *w, const char *device, const uint8_t *scan, size_t len,
		       uint64_t seq, enum smile_status st, enum smile_reason reason)
{
	uint8_t digest[32];
	if (smile_scan_digest(scan, len, digest) == SMILE_OK)
		reply_digest(w->r, device, digest, seq, st, reason);
}

static void audit_refusal(struct gateway *g, const char *device, const char *subject,
			  enum smile_reason reason)
{
	struct smile_audit_entry a = {"refusal", subject, device, smile_proto_reason_name(reason)};
	if (smile_store_audit(g->store, &a, 1, gateway_now_ms()) != SMILE_OK)
		smile_log(SMILE_LOG_ERROR, "audit.write_failed", SMILE_KV_ID("device", device));
}

/* One accepted scan between its commit and its publication. Owns copies of
 * everything the store and the callback need. */
struct pending {
	struct relay *r;
	atomic_int *pending_reveal; /* the worker's bucket, when this reveals */
	struct smile_store_scan sc;
	struct smile_store_event ev;
	struct smile_audit_entry audit;
	char device[SMILE_PROTO_ID_MAX + 1];
	char subject[SMILE_STORE_WAYBILL_MAX];
	uint8_t digest[32];
	uint8_t reply[SMILE_REPLY_MAX_BYTES];
	char merchant_ref[SMILE_STORE_ID_MAX]; /* for the merchant event */
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

/* Called by the store's writer once the scan's effects are durable. */
static void on_committed(void *arg, enum smile_err rc)
{
	struct pending *p = arg;
	struct relay *r = p->r;
	char topic[SMILE_PROTO_TOPIC_MAX];

	/* committed (the store counts it now) or not at all: no longer pending */
	if (p->pending_reveal)
		atomic_fetch_sub(p->pending_reveal, 1);
	if (rc == SMILE_ERR_REPLAY) {
		/* a redelivery of the same scan was answered first */
	} else if (rc == SMILE_ERR_SHREDDED) {
		/* the shipment was erased while this reveal waited: nothing was
		 * stored, and the sealed reply is dropped unsent */
		reply_digest(r, p->device, p->digest, p->sc.seq, SMILE_STATUS_DENIED,
			     SMILE_REASON_ERASED);
	} else if (rc) {
		smile_log(SMILE_LOG_ERROR, "scan.commit_failed", SMILE_KV_ID("device", p->device),
			  SMILE_KV_ERR("err", rc));
		reply_digest(r, p->device, p->digest, p->sc.seq, SMILE_STATUS_ERROR,
			     SMILE_REASON_INTERNAL);
	} else {
		if (smile_proto_topic(topic, sizeof(topic), p->device, SMILE_TOPIC_REPLY) == SMILE_OK)
			publish(r, topic, p->reply, p->sc.reply_len);
		if (p->sc.event) {
			/* 10.1: built now, when the store has named the event: its
			 * id is the same in every redelivery and in the HTTP listing */
			char ev[EVENTS_JSON_MAX];
			size_t n = events_event_json(r->g->keys, p->sc.event, p->merchant_ref, ev,
						     sizeof(ev));
			if (n)
				publish(r, p->event_topic, ev, n);
		}
		if (p->alert_json) {
			publish(r, SMILE_PROTO_TOPIC_ALERTS, p->alert_json, strlen(p->alert_json));
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

/* An exact retransmission: the device lost our reply. docs/protocol.md 7.3.
 * Nothing is recorded again. A reply without contact details is resent as
 * it was. A revealing reply is resent only while the scan is still fresh,
 * and the resend is audited; once stale, or once the shipment was erased
 * (erasure withdraws the stored reply), the device gets a reply without
 * contact details instead. */
static void retransmit(struct worker *w, const struct smile_store_device *dev,
		       const struct smile_scan *scan, const struct scan_msg *m, int64_t now)
{
	struct relay *r = w->r;
	struct gateway *g = r->g;
	struct smile_store_shipment row;
	char topic[SMILE_PROTO_TOPIC_MAX];
	enum smile_reason why = SMILE_REASON_OK;
	int have_row = 0;

	if (smile_proto_topic(topic, sizeof(topic), dev->id, SMILE_TOPIC_REPLY) != SMILE_OK)
		return;
	if (dev->last_reply && !dev->last_revealed) {
		publish(r, topic, dev->last_reply, dev->last_reply_len);
		return;
	}
	if (dev->last_shipment_id &&
	    smile_store_get_shipment_by_id(g->store, dev->last_shipment_id, &row) == SMILE_OK)
		have_row = 1;
	if (dev->last_reply == NULL)
		why = have_row && row.erased_ms ? SMILE_REASON_ERASED : SMILE_REASON_REPLAY;
	else if (smile_proto_check_time(scan->time_ms, (uint64_t)now,
					(uint64_t)g->cfg.scan_skew_s * 1000u) != SMILE_OK)
		why = SMILE_REASON_STALE;
	else if (!have_row || row.erased_ms)
		why = SMILE_REASON_ERASED;
	if (why == SMILE_REASON_OK) {
		struct smile_audit_entry a = {"reveal", row.waybill, dev->id, "resend"};
		if (smile_store_audit(g->store, &a, 1, now) != SMILE_OK) {
			smile_log(SMILE_LOG_ERROR, "audit.write_failed", SMILE_KV_ID("device", dev->id));
			reply_only(w, dev->id, m->data, m->len, scan->seq, SMILE_STATUS_ERROR,
				   SMILE_REASON_INTERNAL);
		} else {
			publish(r, topic, dev->last_reply, dev->last_reply_len);
		}
	} else {
		/* the scan's event stays recorded; its contact details are not resent */
		reply_only(w, dev->id, m->data, m->len, scan->seq,
			   why == SMILE_REASON_REPLAY ? SMILE_STATUS_DENIED : SMILE_STATUS_RECORDED,
			   why);
		audit_refusal(g, dev->id, have_row ? row.waybill : "-", why);
	}
	if (have_row)
		smile_store_shipment_release(&row);
}

static void process(struct worker *w, const struct scan_msg *m)
{
	struct relay *r = w->r;
	struct gateway *g = r->g;
	struct smile_scan scan;
	struct smile_store_device dev;
	struct smile_store_shipment row;
	char device[SMILE_PROTO_ID_MAX + 1];
	char masked[SMILE_PROTO_MASKED_MAX], contact[SMILE_PROTO_CONTACT_MAX];
	uint8_t digest[32];
	size_t masked_len = 0, contact_len = 0, reply_len = 0;
	uint64_t shipment_id = 0, reveals = 0;
	uint8_t kid;
	enum smile_err rc;
	struct policy_decision d;
	struct smile_store_event *ev = NULL;
	struct pending *p = NULL;
	int have_row = 0;
	int64_t now = gateway_now_ms();

	memset(&dev, 0, sizeof(dev));
	smile_metrics_add(SMILE_COUNTER_SCANS, 1);
	rc = smile_scan_decode(m->data, m->len, &scan, NULL);
	if (rc) {
		/* 7.1 step 1: to the topic's device, seq 0, the digest of every
		 * byte received */
		enum smile_reason why = smile_proto_reason_from_err(rc);
		if (m->truncated)
			reply_digest(r, m->device, m->digest, 0, SMILE_STATUS_ERROR, why);
		else
			reply_only(w, m->device, m->data, m->len, 0, SMILE_STATUS_ERROR, why);
		audit_refusal(g, m->device, "-", why);
		smile_metrics_add(SMILE_COUNTER_DENIALS, 1);
		return;
	}
	if (smile_proto_id_copy(scan.device_id, scan.device_id_len, device) != SMILE_OK ||
	    strcmp(device, m->device) != 0) {
		reply_only(w, m->device, m->data, m->len, scan.seq, SMILE_STATUS_DENIED,
			   SMILE_REASON_WRONG_TOPIC);
		audit_refusal(g, m->device, "-", SMILE_REASON_WRONG_TOPIC);
		smile_metrics_add(SMILE_COUNTER_DENIALS, 1);
		return;
	}
	rc = smile_store_get_device(g->store, device, &dev);
	if (rc) {
		enum smile_reason why = rc == SMILE_ERR_NOT_FOUND ? SMILE_REASON_UNKNOWN_DEVICE
								  : SMILE_REASON_INTERNAL;
		reply_only(w, device, m->data, m->len, scan.seq,
			   rc == SMILE_ERR_NOT_FOUND ? SMILE_STATUS_DENIED : SMILE_STATUS_ERROR, why);
		audit_refusal(g, device, "-", why);
		smile_metrics_add(SMILE_COUNTER_DENIALS, 1);
		return;
	}
	if (smile_scan_verify(m->data, m->len, dev.sign_pk, NULL) != SMILE_OK) {
		reply_only(w, device, m->data, m->len, scan.seq, SMILE_STATUS_DENIED,
			   SMILE_REASON_BAD_SIGNATURE);
		audit_refusal(g, device, "-", SMILE_REASON_BAD_SIGNATURE);
		smile_metrics_add(SMILE_COUNTER_DENIALS, 1);
		goto out;
	}
	if (dev.status != SMILE_DEV_ACTIVE) {
		/* docs/protocol.md 7.1 step 5: refused before the replay rule,
		 * nothing stored */
		enum smile_reason why = dev.status == SMILE_DEV_REVOKED ? SMILE_REASON_REVOKED
									: SMILE_REASON_SUSPENDED;
		reply_only(w, device, m->data, m->len, scan.seq, SMILE_STATUS_DENIED, why);
		audit_refusal(g, device, "-", why);
		smile_metrics_add(SMILE_COUNTER_DENIALS, 1);
		goto out;
	}
	if (smile_scan_digest(m->data, m->len, digest) != SMILE_OK)
		goto out;
	switch (smile_proto_seq_classify(dev.last_seq, dev.last_seq ? dev.last_digest : NULL,
					 scan.seq, digest)) {
	case SMILE_SEQ_NEW:
		break;
	case SMILE_SEQ_RETRANSMIT:
		retransmit(w, &dev, &scan, m, now);
		goto out;
	default:
		reply_only(w, device, m->data, m->len, scan.seq, SMILE_STATUS_DENIED,
			   SMILE_REASON_REPLAY);
		audit_refusal(g, device, "-", SMILE_REASON_REPLAY);
		smile_metrics_add(SMILE_COUNTER_DENIALS, 1);
		goto out;
	}

	/* From here the scan is authentic and new: its outcome is committed
	 * (seq, reply, audit) so a retransmission gets the same answer. */
	memset(&d, 0, sizeof(d));
	rc = smile_proto_check_time(scan.time_ms, (uint64_t)now,
				    (uint64_t)g->cfg.scan_skew_s * 1000u);
	/* 7.2: a scan held offline for more than a day is too old to act on */
	if (rc == SMILE_OK && scan.time_ms - scan.scanned_ms > OFFLINE_LIMIT_MS)
		rc = SMILE_ERR_STALE;
	if (rc == SMILE_OK)
		rc = smile_token_open(smile_keys_token(g->keys), (const char *)scan.token,
				      scan.token_len, &shipment_id, &kid, NULL);
	if (rc == SMILE_OK) {
		rc = smile_store_get_shipment_by_id(g->store, shipment_id, &row);
		have_row = rc == SMILE_OK;
	}
	if (rc == SMILE_OK)
		rc = smile_store_count_reveals(g->store, device, now - 24LL * 3600 * 1000, &reveals);
	if (rc == SMILE_OK)
		reveals += (uint64_t)atomic_load(&w->pending[hash_id(device) % KEY_CACHE]);
	if (rc) {
		d.status = rc == SMILE_ERR_STORE ? SMILE_STATUS_ERROR : SMILE_STATUS_DENIED;
		d.reason = smile_proto_reason_from_err(rc);
	} else {
		struct policy_input in = {device,
					  dev.role,
					  dev.status,
					  dev.zone,
					  scan.event,
					  smile_shipment_status_name(row.status),
					  row.holder,
					  row.region,
					  row.erased_ms != 0,
					  reveals,
					  g->cfg.reveal_quota};
		policy_decide(&in, &d);
		masked_len = masked_view(&row, masked, sizeof(masked));
	}
	if (d.reveal) {
		enum smile_err why;
		contact_len = contact_json(g, shipment_id, contact, sizeof(contact), &why);
		if (contact_len == 0) {
			d.reveal = 0;
			d.status = SMILE_STATUS_RECORDED;
			d.reason = why == SMILE_ERR_SHREDDED ? SMILE_REASON_ERASED
							     : SMILE_REASON_INTERNAL;
		}
	}
	p = malloc(sizeof(*p));
	if (p == NULL) {
		reply_only(w, device, m->data, m->len, scan.seq, SMILE_STATUS_ERROR, SMILE_REASON_BUSY);
		goto out;
	}
	memset(p, 0, sizeof(*p));
	p->r = r;
	snprintf(p->device, sizeof(p->device), "%s", device);
	memcpy(p->digest, digest, 32);
	{
		const uint8_t *key = d.reveal ? shared_key(w, &dev) : NULL;
		struct smile_reply rep;
		if (d.reveal && key == NULL) {
			d.reveal = 0;
			d.status = SMILE_STATUS_RECORDED;
			d.reason = SMILE_REASON_INTERNAL;
		}
		memset(&rep, 0, sizeof(rep));
		rep.device_id = device;
		rep.device_id_len = strlen(device);
		rep.seq = scan.seq;
		rep.scan_digest = digest;
		rep.time_ms = (uint64_t)now;
		rep.status = d.status;
		rep.reason = (uint16_t)d.reason;
		rep.waybill = have_row ? row.waybill : "";
		rep.waybill_len = strlen(rep.waybill);
		rep.masked = (const uint8_t *)masked;
		rep.masked_len = masked_len;
		rep.contact = (const uint8_t *)contact;
		rep.contact_len = d.reveal ? contact_len : 0;
		rc = smile_reply_encode(&rep, key, smile_keys_sign_sk(g->keys), p->reply,
					sizeof(p->reply), &reply_len, NULL);
		sodium_memzero(contact, sizeof(contact));
		if (rc) {
			smile_log(SMILE_LOG_ERROR, "scan.reply_encode_failed",
				  SMILE_KV_ID("device", device), SMILE_KV_ERR("err", rc));
			reply_only(w, device, m->data, m->len, scan.seq, SMILE_STATUS_ERROR,
				   SMILE_REASON_INTERNAL);
			pending_free(p);
			goto out;
		}
	}
	snprintf(p->subject, sizeof(p->subject), "%s", have_row ? row.waybill : "-");
	p->audit = (struct smile_audit_entry){d.reveal ? "reveal" : "refusal", p->subject, p->device,
					      smile_proto_reason_name(d.reason)};
	if (d.record_event) {
		ev = &p->ev;
		ev->shipment_id = shipment_id;
		snprintf(ev->waybill, sizeof(ev->waybill), "%s", row.waybill);
		snprintf(ev->event, sizeof(ev->event), "%s", smile_proto_event_name(scan.event));
		ev->time_ms = (int64_t)scan.scanned_ms;
		ev->recorded_ms = now;
		snprintf(ev->device_id, sizeof(ev->device_id), "%s", device);
		snprintf(ev->device_role, sizeof(ev->device_role), "%s",
			 smile_device_role_name(dev.role));
		snprintf(ev->detail, sizeof(ev->detail), "scan");
		snprintf(p->merchant_ref, sizeof(p->merchant_ref), "%s", row.merchant_ref);
		snprintf(p->event_topic, sizeof(p->event_topic), "smile/v1/merchant/%s/events",
			 row.merchant);
	}
	if (d.suspend) /* 10.2; detail: the reveals counted against the quota */
		p->alert_json = events_quota_alert(g->keys, device, smile_device_role_name(dev.role),
						   scan.seq, now, reveals, g->cfg.reveal_quota,
						   24L * 3600);
	p->reveal = d.reveal;
	if (d.reveal) {
		p->pending_reveal = &w->pending[hash_id(device) % KEY_CACHE];
		atomic_fetch_add(p->pending_reveal, 1);
	}
	p->counted_denial = !d.reveal && d.status != SMILE_STATUS_RECORDED;
	p->reveals = reveals;
	p->sc = (struct smile_store_scan){p->device,
					  scan.seq,
					  p->digest,
					  p->reply,
					  reply_len,
					  now,
					  d.record_event ? ev : NULL,
					  d.custody,
					  d.reveal,
					  d.suspend,
					  &p->audit,
					  (d.reveal || d.status != SMILE_STATUS_RECORDED ||
					   d.reason != SMILE_REASON_OK)
						  ? 1u
						  : 0u};
	/* The worker moves on; the reply goes out once this is durable. */
	if (smile_store_commit_scan_async(g->store, &p->sc, on_committed, p) != SMILE_OK) {
		reply_only(w, device, m->data, m->len, scan.seq, SMILE_STATUS_ERROR, SMILE_REASON_BUSY);
		if (p->pending_reveal)
			atomic_fetch_sub(p->pending_reveal, 1);
		pending_free(p);
		goto out;
	}
	smile_log(SMILE_LOG_DEBUG, "scan.decided", SMILE_KV_ID("device", device),
		  SMILE_KV_INT("seq", (long long)scan.seq),
		  SMILE_KV_ID("status", smile_proto_status_name(d.status)),
		  SMILE_KV_ID("reason", smile_proto_reason_name(d.reason)));
out:
	if (have_row)
		smile_store_shipment_release(&row);
	smile_store_device_release(&dev);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct scan_msg *m = malloc(sizeof(*m));
	if (m == NULL)
		return NULL;
	for (;;) {
		pthread_mutex_lock(&w->lock);
		while (w->count == 0 && !w->stop)
			pthread_cond_wait(&w->nonempty, &w->lock);
		if (w->count == 0 && w->stop) {
			pthread_mutex_unlock(&w->lock);
			break;
		}
		*m = w->ring[w->head];
		w->head = (w->head + 1) % w->cap;
		w->count--;
		pthread_cond_signal(&w->nonfull);
		pthread_mutex_unlock(&w->lock);
		process(w, m);
	}
	free(m);
	return NULL;
}

/* ------------------------------------------------------------ lifecycle */

/* Wait ms, or less if the relay is stopping. */
static void net_sleep(struct relay *r, long ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&r->net_lock);
	while (!atomic_load(&r->net_stop))
		if (pthread_cond_timedwait(&r->net_wake, &r->net_lock, &until) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&r->net_lock);
}

/* The MQTT network thread: connect, run the client, and on any failure wait
 * (0.5 s doubling to 8 s, back to 0.5 s once a connection is accepted) and
 * connect again. Used instead of mosquitto_loop_start for that backoff; the
 * client is in threaded mode, so workers and the store's callbacks publish
 * from their own threads as before. */
static void *net_main(void *arg)
{
	struct relay *r = arg;
	struct gateway *g = r->g;
	long delay = RECONNECT_FIRST_MS;
	int have_socket = 0, warned = 0, rc;

	while (!atomic_load(&r->net_stop)) {
		if (!have_socket) {
			rc = mosquitto_connect_bind_v5(r->mosq, g->cfg.mqtt_host,
						       (int)g->cfg.mqtt_port, 30, NULL,
						       r->connect_props);
			if (rc != MOSQ_ERR_SUCCESS) {
				/* once per outage at warn level, then quietly */
				smile_log(warned ? SMILE_LOG_DEBUG : SMILE_LOG_WARN,
					  "mqtt.connect_failed", SMILE_KV_INT("rc", rc),
					  SMILE_KV_INT("retry_ms", delay));
				warned = 1;
				net_sleep(r, delay);
				delay = delay * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : delay * 2;
				continue;
			}
			have_socket = 1;
		}
		rc = mosquitto_loop(r->mosq, 1000, 1);
		if (atomic_exchange(&r->backoff_reset, 0)) {
			delay = RECONNECT_FIRST_MS;
			warned = 0;
		}
		if (rc != MOSQ_ERR_SUCCESS && !atomic_load(&r->net_stop)) {
			/* connection lost (or refused): the socket is closed */
			have_socket = 0;
			net_sleep(r, delay);
			delay = delay * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : delay * 2;
		}
	}
	/* relay_stop queued a DISCONNECT: let it out before the client goes */
	for (int i = 0; have_socket && i < 10; i++)
		if (mosquitto_loop(r->mosq, 100, 1) != MOSQ_ERR_SUCCESS)
			break;
	return NULL;
}

static enum smile_err read_password(const struct gateway *g, char *out, size_t cap,
				    struct smile_error *e)
{
	char path[PATH_MAX + SMILE_CONFIG_STR_MAX + 2];
	FILE *f;
	const char *p = g->cfg.mqtt_password_file;
	if (p[0] == '\0')
		return SMILE_OK;
	if (p[0] == '/')
		snprintf(path, sizeof(path), "%s", p);
	else
		snprintf(path, sizeof(path), "%s/%s", g->dir, p);
	f = fopen(path, "r");
	if (f == NULL)
		return smile_error_set(e, SMILE_ERR_CONFIG, "mqtt_password_file",
				       "cannot read the MQTT password file");
	if (fgets(out, (int)cap, f) == NULL)
		out[0] = '\0';
	fclose(f);
	out[strcspn(out, "\r\n")] = '\0';
	return SMILE_OK;
}

enum smile_err relay_start(struct gateway *g, struct relay **out, struct smile_error *e)
{
	struct relay *r;
	char password[256] = "", client_id[96];
	enum smile_err rc;

	*out = NULL;
	if (g->cfg.mqtt_host[0] == '\0')
		return SMILE_OK; /* relay off */
	if ((rc = read_password(g, password, sizeof(password), e)))
		return rc;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
	r->g = g;
	pthread_mutex_init(&r->net_lock, NULL);
	pthread_cond_init(&r->net_wake, NULL);
	r->n_workers = (int)g->cfg.scan_workers;
	r->workers = calloc((size_t)r->n_workers, sizeof(*r->workers));
	if (r->workers == NULL) {
		free(r);
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
	}
	for (int i = 0; i < r->n_workers; i++) {
		struct worker *w = &r->workers[i];
		w->r = r;
		w->cap = (size_t)g->cfg.scan_queue / (size_t)r->n_workers + 1;
		w->ring = calloc(w->cap, sizeof(*w->ring));
		w->keys = sodium_allocarray(KEY_CACHE, sizeof(*w->keys));
		w->pending = calloc(KEY_CACHE, sizeof(*w->pending));
		if (w->ring == NULL || w->keys == NULL || w->pending == NULL) {
			r->n_workers = i + 1;
			relay_stop(r);
			return smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
		}
		memset(w->keys, 0, KEY_CACHE * sizeof(*w->keys));
		pthread_mutex_init(&w->lock, NULL);
		pthread_cond_init(&w->nonempty, NULL);
		pthread_cond_init(&w->nonfull, NULL);
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			r->n_workers = i;
			relay_stop(r);
			return smile_error_set(e, SMILE_ERR_INTERNAL, NULL, "cannot start workers");
		}
		char name[16];
		snprintf(name, sizeof(name), "smile-scan-%u", (unsigned)(i % 1000));
		pthread_setname_np(w->thread, name);
	}
	mosquitto_lib_init();
	snprintf(client_id, sizeof(client_id), "smile-gateway-%s", g->cfg.mqtt_username);
	/* A persistent session: scans sent while the gateway restarts wait at the broker. */
	r->mosq = mosquitto_new(client_id, false, r);
	if (r->mosq == NULL) {
		relay_stop(r);
		return smile_error_set(e, SMILE_ERR_MQTT, NULL, "cannot create the MQTT client");
	}
	mosquitto_int_option(r->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_int_option(r->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_v5_callback_set(r->mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(r->mosq, on_disconnect);
	mosquitto_message_v5_callback_set(r->mosq, on_message);
	mosquitto_threaded_set(r->mosq, true); /* net_main runs the client */
	mosquitto_max_inflight_messages_set(r->mosq, 0);
	if (g->cfg.mqtt_username[0] &&
	    mosquitto_username_pw_set(r->mosq, g->cfg.mqtt_username,
				      password[0] ? password : NULL) != MOSQ_ERR_SUCCESS) {
		sodium_memzero(password, sizeof(password));
		relay_stop(r);
		return smile_error_set(e, SMILE_ERR_MQTT, "mqtt_username", "rejected by libmosquitto");
	}
	sodium_memzero(password, sizeof(password));
	if (g->cfg.mqtt_cafile[0] &&
	    mosquitto_tls_set(r->mosq, g->cfg.mqtt_cafile, NULL,
			      g->cfg.mqtt_certfile[0] ? g->cfg.mqtt_certfile : NULL,
			      g->cfg.mqtt_keyfile[0] ? g->cfg.mqtt_keyfile : NULL,
			      NULL) != MOSQ_ERR_SUCCESS) {
		relay_stop(r);
		return smile_error_set(e, SMILE_ERR_CONFIG, "mqtt_cafile",
				       "TLS files could not be loaded");
	}
	mosquitto_property_add_int32(&r->connect_props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 86400);
	/* A broker that is down now is retried by net_main with backoff. */
	if (pthread_create(&r->net_thread, NULL, net_main, r) != 0) {
		relay_stop(r);
		return smile_error_set(e, SMILE_ERR_MQTT, NULL, "cannot start the MQTT thread");
	}
	r->net_started = 1;
	pthread_setname_np(r->net_thread, "smile-mqtt");
	*out = r;
	return SMILE_OK;
}

void relay_stop(struct relay *r)
{
	if (r == NULL)
		return;
	/* 1. the workers finish what is queued (new messages are dropped: the
	 *    devices retry), 2. their commits call back and publish while the
	 *    MQTT client still exists, 3. only then is the client torn down. */
	for (int i = 0; i < r->n_workers; i++) {
		struct worker *w = &r->workers[i];
		if (w->ring == NULL)
			continue;
		pthread_mutex_lock(&w->lock);
		w->stop = 1;
		pthread_cond_broadcast(&w->nonempty);
		pthread_cond_broadcast(&w->nonfull);
		pthread_mutex_unlock(&w->lock);
		if (w->thread)
			pthread_join(w->thread, NULL);
	}
	if (r->g->store)
		smile_store_drain(r->g->store);
	if (r->mosq) {
		mosquitto_disconnect_v5(r->mosq, 0, NULL);
		if (r->net_started) {
			pthread_mutex_lock(&r->net_lock);
			atomic_store(&r->net_stop, 1);
			pthread_cond_broadcast(&r->net_wake);
			pthread_mutex_unlock(&r->net_lock);
			pthread_join(r->net_thread, NULL);
		}
		mosquitto_destroy(r->mosq);
	}
	mosquitto_property_free_all(&r->connect_props);
	pthread_mutex_destroy(&r->net_lock);
	pthread_cond_destroy(&r->net_wake);
	mosquitto_lib_cleanup();
	for (int i = 0; i < r->n_workers; i++) {
		struct worker *w = &r->workers[i];
		free(w->ring);
		free(w->pending);
		if (w->keys)
			sodium_free(w->keys);
	}
	free(r->workers);
	free(r);
}

int relay_connected(const struct relay *r)
{
	return r && atomic_load(&r->connected);
}
