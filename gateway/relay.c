/* SPDX-License-Identifier: Apache-2.0 */
/*
 * relay.c - the MQTT door for courier scans: bytes in from the broker, replies
 * out. What a scan means is scan.c's (the I/O-free pipeline of
 * docs/protocol.md section 7); this file is its adapter: the connection,
 * the worker threads and their queues, reconnect backoff, and the ops table
 * that wires the pipeline to the store, the vault and libmosquitto.
 *
 * The libmosquitto network thread only moves bytes: on_message copies a scan
 * into the bounded queue of one worker, chosen by hashing the device id, so
 * every device's scans are handled in order by one thread, through that
 * worker's scan lane (the store's write transaction settles sequence
 * numbers and the reveal quota, for this node and any other).
 * Workers verify, decide, seal and sign, then hand the effects to the
 * store's group commit without waiting: the store calls back once the
 * commit is durable, and only then is the reply published. So one commit
 * carries every scan that arrived while the previous one was syncing, and a
 * few workers keep both cores busy. A full queue makes the network thread
 * wait briefly, then drop the scan (counted): the device retries until it
 * gets a reply, and an exact retransmission gets the same reply, so nothing
 * is lost and nothing applies twice. Too many commits in flight make the
 * workers wait (back-pressure).
 *
 * The gateway's own broker password is read by gateway_mqtt_password
 * (gateway.c), the one reader of that file.
 *
 * Several nodes (docs/operations.md, "Running several nodes"): each node
 * has its own client id, "smile-gateway-" + node_id, stable across
 * restarts so a restarted node resumes its persistent session; with
 * mqtt_share_group set, every node subscribes to
 * $share/GROUP/smile/v1/dev/+/scan and the broker gives each scan to one
 * of them. Nothing here decides anything that another node could decide
 * differently: the store's write transaction re-checks what must be
 * decided once (scan.c, run_scan in store.c).
 *
 * relay_start builds in a fixed order and relay_stop undoes exactly what was
 * built (it is relay_start's error path too), so a half-started relay is torn
 * down like a running one.
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

#include "personal.h"
#include "scan.h"
#include "svc.h"
#include "smile/clock.h"
#include "smile/log.h"
#include "smile/proto.h"

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

struct worker {
	struct relay *r;
	pthread_t thread;
	int started; /* thread running: join it */
	pthread_mutex_t lock;
	pthread_cond_t nonempty, nonfull;
	struct scan_msg *ring;
	struct scan_msg *current; /* the message being processed, off the ring */
	size_t cap, head, count;
	int stop;
	struct scan_lane *lane;
};

struct relay {
	struct gateway *g;
	struct mosquitto *mosq;
	struct worker *workers;
	int n_workers; /* allocated */
	int n_ready;   /* of those, initialised (queue, lock, lane): relay_stop releases them */
	int lib_ready; /* mosquitto_lib_init was called */
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
	char node[64];          /* node_id, or HOSTNAME-PORT */
	char sub[160];          /* the scan subscription: plain or $share/GROUP/... */
	char jobsub[160];       /* print stations' reports, shared the same way */
};

/* Reconnecting: first retry after 0.5 s, doubling to 8 s. libmosquitto's own
 * backoff counts whole seconds and grows quadratically, so a broker that was
 * down when the gateway started was found up to half a minute late. */
#define RECONNECT_FIRST_MS 500
#define RECONNECT_MAX_MS 8000

/* ------------------------------------------------------------ MQTT side */

/* Print jobs still queued (not yet acknowledged by their station) are
 * published again on every connection: one published while the broker was
 * away, or by a node that stopped before its publication left, still
 * arrives; a station deduplicates by job id. */
#define REPUBLISH_MAX 1000
/* ... and every 30 s while connected: a station that had no session at the
 * broker when its job was published (never connected yet, or the broker
 * lost its sessions) still gets it. */
#define PRINT_RESEND_MS 30000

static int republish_one(void *ctx, const struct smile_store_print_job *j)
{
	relay_publish_job(ctx, j->station, j->message, j->message_len);
	return 0;
}

static void republish_jobs(struct relay *r)
{
	if (r->g->store &&
	    smile_store_list_print_jobs(r->g->store, 0 /* queued */, REPUBLISH_MAX, republish_one,
					r) != SMILE_OK)
		smile_log(SMILE_LOG_WARN, "print.republish_failed", SMILE_KV_ID("node", r->node));
}

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
	rc = mosquitto_subscribe_v5(m, NULL, r->sub, 1, 0, NULL);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_subscribe_v5(m, NULL, r->jobsub, 1, 0, NULL);
	atomic_store(&r->connected, rc == MOSQ_ERR_SUCCESS);
	if (rc == MOSQ_ERR_SUCCESS)
		republish_jobs(r);
	atomic_store(&r->backoff_reset, 1);
	smile_log(SMILE_LOG_INFO, "mqtt.connected", SMILE_KV_ID("node", r->node),
		  SMILE_KV_ID("share_group",
			      r->g->cfg.mqtt_share_group[0] ? r->g->cfg.mqtt_share_group : "-"),
		  SMILE_KV_INT("subscribe", rc));
}

static void on_disconnect(struct mosquitto *m, void *arg, int rc, const mosquitto_property *p)
{
	struct relay *r = arg;
	(void)m;
	(void)p;
	atomic_store(&r->connected, 0);
	smile_log(SMILE_LOG_WARN, "mqtt.disconnected", SMILE_KV_ID("node", r->node),
		  SMILE_KV_INT("reason", rc));
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

	if (smile_proto_topic_parse(msg->topic, id, &kind) != SMILE_OK)
		return;
	if (kind == SMILE_TOPIC_JOBSTATUS) {
		/* rare and small: handled here, one store write each */
		if (msg->payloadlen > 0)
			(void)svc_print_job_report(r->g, id, msg->payload, (size_t)msg->payloadlen);
		return;
	}
	if (kind != SMILE_TOPIC_SCAN)
		return;
	/* Empty and over-size scans are answered too (error / bad_message,
	 * docs/protocol.md 7.1 step 1): the device id is the topic's. */
	if (msg->payloadlen < 0)
		return;
	if ((size_t)msg->payloadlen > SMILE_SCAN_MAX_BYTES)
		smile_log(SMILE_LOG_WARN, "scan.oversize", SMILE_KV_ID("device", id),
			  SMILE_KV_INT("bytes", msg->payloadlen));
	w = &r->workers[scan_device_hash(id) % (uint32_t)r->n_workers];
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

/* ------------------------------------------------------------ the pipeline's ops */

static enum smile_err op_get_device(void *ctx, const char *id, struct smile_store_device *out)
{
	struct relay *r = ctx;
	return smile_store_get_device(r->g->store, id, out);
}

static enum smile_err op_get_shipment(void *ctx, uint64_t id, struct smile_store_shipment *out)
{
	struct relay *r = ctx;
	return smile_store_get_shipment_by_id(r->g->store, id, out);
}

static enum smile_err op_count_reveals(void *ctx, const char *device, int64_t since_ms,
				       uint64_t *n)
{
	struct relay *r = ctx;
	return smile_store_count_reveals(r->g->store, device, since_ms, n);
}

static enum smile_err op_open_contact(void *ctx, uint64_t id, char *out, size_t cap, size_t *len)
{
	struct relay *r = ctx;
	struct smile_store_personal p;
	enum smile_err rc;

	*len = 0;
	rc = smile_store_get_personal(r->g->store, id, &p);
	if (rc)
		return rc;
	rc = personal_open(smile_keys_vault(r->g->keys), &p, id, out, cap, len, NULL);
	smile_store_personal_release(&p);
	return rc;
}

static enum smile_err op_commit_async(void *ctx, const struct smile_store_scan *sc,
				      smile_store_done_fn done, void *arg)
{
	struct relay *r = ctx;
	return smile_store_commit_scan_async(r->g->store, sc, done, arg);
}

static enum smile_err op_audit(void *ctx, const struct smile_audit_entry *a, size_t n,
			       int64_t time_ms)
{
	struct relay *r = ctx;
	return smile_store_audit(r->g->store, a, n, time_ms);
}

static void op_publish(void *ctx, const char *topic, const void *p, size_t n)
{
	publish(ctx, topic, p, n);
}

static int64_t op_now(void *ctx)
{
	(void)ctx;
	return gateway_now_ms();
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct scan_msg *m = w->current;
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
		scan_process(w->lane, &(const struct scan_input){
					      .topic_device = m->device,
					      .data = m->data,
					      .len = m->len,
					      .digest = m->truncated ? m->digest : NULL,
				      });
	}
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
	int64_t last_resend = smile_mono_ms();

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
		if (atomic_load(&r->connected) && smile_mono_ms() - last_resend >= PRINT_RESEND_MS) {
			last_resend = smile_mono_ms();
			republish_jobs(r);
		}
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

/* Worker i's queue, lock and lane; its thread is started later. */
static enum smile_err worker_init(struct relay *r, struct worker *w, const struct scan_config *cfg,
				  const struct scan_ops *ops)
{
	w->r = r;
	w->cap = (size_t)r->g->cfg.scan_queue / (size_t)r->n_workers + 1;
	/* Everything a worker needs is allocated here, before its thread
	 * starts: a thread that could not allocate would leave its queue
	 * undrained, and the scans routed to it would wait forever. */
	w->ring = calloc(w->cap, sizeof(*w->ring));
	w->current = malloc(sizeof(*w->current));
	w->lane = scan_lane_new(cfg, ops);
	if (w->ring == NULL || w->current == NULL || w->lane == NULL) {
		free(w->ring);
		free(w->current);
		scan_lane_free(w->lane);
		w->ring = NULL;
		w->current = NULL;
		w->lane = NULL;
		return SMILE_ERR_NOMEM;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->nonempty, NULL);
	pthread_cond_init(&w->nonfull, NULL);
	return SMILE_OK;
}

static void worker_release(struct worker *w)
{
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->nonempty);
	pthread_cond_destroy(&w->nonfull);
	free(w->ring);
	free(w->current);
	scan_lane_free(w->lane);
}

/* A node id or share group: letters, digits, '.', '_', '-' (no MQTT
 * wildcard or level separator, nothing a log line would reject). */
static int name_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

/* This node's name: node_id; else, for a node alone (no share group), the
 * gateway's MQTT user name, so its client id stays "smile-gateway-USER" as
 * it always was and its persistent session survives upgrades and changes
 * of the HTTP port; else HOSTNAME-PORT (the HTTP port), which differs
 * between nodes sharing a host. */
static enum smile_err node_name(const struct gateway *g, char *out, size_t n,
				struct smile_error *e)
{
	char host[64] = "";

	if (g->cfg.node_id[0]) {
		if (!name_ok(g->cfg.node_id))
			return smile_error_set(e, SMILE_ERR_CONFIG, "node_id",
					       "use letters, digits, '.', '_' and '-'");
		snprintf(out, n, "%s", g->cfg.node_id);
		return SMILE_OK;
	}
	if (g->cfg.mqtt_share_group[0] == '\0' && g->cfg.mqtt_username[0] &&
	    name_ok(g->cfg.mqtt_username)) {
		snprintf(out, n, "%s", g->cfg.mqtt_username);
		return SMILE_OK;
	}
	if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	for (char *c = host; *c; c++) /* a host name is already nearly a name */
		if (!name_ok((char[2]){*c, 0}))
			*c = '-';
	snprintf(out, n, "%s-%u", host, (unsigned)g->http_port);
	return SMILE_OK;
}

/* The scan subscription: plain, or shared by the nodes of one group. */
static enum smile_err scan_subscription(const struct gateway *g, char *out, size_t n,
					struct smile_error *e)
{
	const char *group = g->cfg.mqtt_share_group;
	if (group[0] == '\0') {
		snprintf(out, n, "%s", SMILE_PROTO_TOPIC_SCAN_SUB);
		return SMILE_OK;
	}
	if (!name_ok(group))
		return smile_error_set(e, SMILE_ERR_CONFIG, "mqtt_share_group",
				       "use letters, digits, '.', '_' and '-'");
	snprintf(out, n, "$share/%s/%s", group, SMILE_PROTO_TOPIC_SCAN_SUB);
	return SMILE_OK;
}

/* The same for print stations' reports. */
static void jobstatus_subscription(const struct gateway *g, char *out, size_t n)
{
	const char *group = g->cfg.mqtt_share_group;
	if (group[0] == '\0')
		snprintf(out, n, "%s", SMILE_PROTO_TOPIC_JOBSTATUS_SUB);
	else
		snprintf(out, n, "$share/%s/%s", group, SMILE_PROTO_TOPIC_JOBSTATUS_SUB);
}

enum smile_err relay_start(struct gateway *g, struct relay **out, struct smile_error *e)
{
	struct relay *r;
	char password[256] = "", client_id[96];
	enum smile_err rc;

	*out = NULL;
	if (g->cfg.mqtt_host[0] == '\0')
		return SMILE_OK; /* relay off */
	if ((rc = gateway_mqtt_password(g, password, sizeof(password), e)))
		return rc;
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		sodium_memzero(password, sizeof(password));
		return smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
	}
	r->g = g;
	if ((rc = node_name(g, r->node, sizeof(r->node), e)) ||
	    (rc = scan_subscription(g, r->sub, sizeof(r->sub), e))) {
		sodium_memzero(password, sizeof(password));
		free(r);
		return rc;
	}
	jobstatus_subscription(g, r->jobsub, sizeof(r->jobsub));
	pthread_mutex_init(&r->net_lock, NULL);
	pthread_cond_init(&r->net_wake, NULL);
	/* From here every failure goes through relay_stop, which undoes what
	 * the counters and flags below say was done, and nothing else. */
	const struct scan_config cfg = {
		.keys = g->keys,
		.skew_s = g->cfg.scan_skew_s,
		.reveal_quota = g->cfg.reveal_quota,
	};
	const struct scan_ops ops = {
		.ctx = r,
		.get_device = op_get_device,
		.get_shipment = op_get_shipment,
		.count_reveals = op_count_reveals,
		.open_contact = op_open_contact,
		.commit_async = op_commit_async,
		.audit = op_audit,
		.publish = op_publish,
		.now = op_now,
	};
	r->n_workers = (int)g->cfg.scan_workers;
	r->workers = calloc((size_t)r->n_workers, sizeof(*r->workers));
	if (r->workers == NULL) {
		rc = smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
		goto fail;
	}
	for (; r->n_ready < r->n_workers; r->n_ready++)
		if (worker_init(r, &r->workers[r->n_ready], &cfg, &ops) != SMILE_OK) {
			rc = smile_error_set(e, SMILE_ERR_NOMEM, NULL, NULL);
			goto fail;
		}
	for (int i = 0; i < r->n_workers; i++) {
		struct worker *w = &r->workers[i];
		char name[16];
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			rc = smile_error_set(e, SMILE_ERR_INTERNAL, NULL, "cannot start workers");
			goto fail;
		}
		w->started = 1;
		snprintf(name, sizeof(name), "smile-scan-%u", (unsigned)(i % 1000));
		pthread_setname_np(w->thread, name);
	}
	mosquitto_lib_init();
	r->lib_ready = 1;
	snprintf(client_id, sizeof(client_id), "smile-gateway-%s", r->node);
	/* A persistent session: scans sent while the gateway restarts wait at
	 * the broker (for this node: the client id is the node's). */
	r->mosq = mosquitto_new(client_id, false, r);
	if (r->mosq == NULL) {
		rc = smile_error_set(e, SMILE_ERR_MQTT, NULL, "cannot create the MQTT client");
		goto fail;
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
		rc = smile_error_set(e, SMILE_ERR_MQTT, "mqtt_username", "rejected by libmosquitto");
		goto fail;
	}
	sodium_memzero(password, sizeof(password));
	if (g->cfg.mqtt_cafile[0] &&
	    mosquitto_tls_set(r->mosq, g->cfg.mqtt_cafile, NULL,
			      g->cfg.mqtt_certfile[0] ? g->cfg.mqtt_certfile : NULL,
			      g->cfg.mqtt_keyfile[0] ? g->cfg.mqtt_keyfile : NULL,
			      NULL) != MOSQ_ERR_SUCCESS) {
		rc = smile_error_set(e, SMILE_ERR_CONFIG, "mqtt_cafile",
				     "TLS files could not be loaded");
		goto fail;
	}
	mosquitto_property_add_int32(&r->connect_props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 86400);
	/* A broker that is down now is retried by net_main with backoff. */
	if (pthread_create(&r->net_thread, NULL, net_main, r) != 0) {
		rc = smile_error_set(e, SMILE_ERR_MQTT, NULL, "cannot start the MQTT thread");
		goto fail;
	}
	r->net_started = 1;
	pthread_setname_np(r->net_thread, "smile-mqtt");
	*out = r;
	return SMILE_OK;
fail:
	sodium_memzero(password, sizeof(password));
	relay_stop(r);
	return rc;
}

void relay_stop(struct relay *r)
{
	if (r == NULL)
		return;
	/* 1. the workers finish what is queued (new messages are dropped: the
	 *    devices retry), 2. their commits call back and publish while the
	 *    MQTT client still exists, 3. only then is the client torn down,
	 *    4. and last what the workers and their commits used. Each step
	 *    undoes only what relay_start got to. */
	for (int i = 0; i < r->n_ready; i++) {
		struct worker *w = &r->workers[i];
		pthread_mutex_lock(&w->lock);
		w->stop = 1;
		pthread_cond_broadcast(&w->nonempty);
		pthread_cond_broadcast(&w->nonfull);
		pthread_mutex_unlock(&w->lock);
		if (w->started)
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
	if (r->lib_ready)
		mosquitto_lib_cleanup();
	pthread_mutex_destroy(&r->net_lock);
	pthread_cond_destroy(&r->net_wake);
	for (int i = 0; i < r->n_ready; i++)
		worker_release(&r->workers[i]);
	free(r->workers);
	free(r);
}

int relay_connected(const struct relay *r)
{
	return r && atomic_load(&r->connected);
}

int relay_publish_job(struct relay *r, const char *station, const uint8_t *msg, size_t len)
{
	char topic[SMILE_PROTO_TOPIC_MAX];
	if (r == NULL || r->mosq == NULL || msg == NULL || len == 0 ||
	    smile_proto_topic(topic, sizeof(topic), station, SMILE_TOPIC_JOB) != SMILE_OK)
		return 0;
	return mosquitto_publish_v5(r->mosq, NULL, topic, (int)len, msg, 1, false, NULL) ==
	       MOSQ_ERR_SUCCESS;
}
