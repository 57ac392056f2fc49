/* SPDX-License-Identifier: Apache-2.0 */
/*
 * session.c - MQTT for the bridge: a network thread that only moves bytes.
 *
 * We drive mosquitto_loop() from our own thread (mosquitto_threaded_set)
 * rather than mosquitto_loop_start(): the library's loop_forever returns for
 * good on errors it considers fatal - an MQTT v5 CONNACK refusal such as "not
 * authorized" (a device not yet in the broker's password file) among them -
 * and sleeps through its reconnect delay without noticing a shutdown. A
 * handheld must keep trying until an operator fixes the broker, and stop at
 * once when asked: our loop waits on a condition variable between attempts
 * (exponential backoff, reset by a successful connection).
 *
 * Callbacks copy and signal; the main thread does everything else.
 */
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "smile/log.h"
#include "smile/proto.h"

struct slot {
	size_t len;
	uint8_t data[SMILE_REPLY_MAX_BYTES];
};

struct bridge_session {
	struct mosquitto *mosq;
	char scan_topic[SMILE_PROTO_TOPIC_MAX];
	char reply_topic[SMILE_PROTO_TOPIC_MAX];
	char host[256];
	int port, keepalive, rmin, rmax;
	int pipe_r, pipe_w;
	pthread_t thread;
	int started;
	int need_connect; /* network thread only */
	int lib;          /* holds a mosquitto_lib_init() reference */

	pthread_mutex_t mu; /* guards everything below */
	pthread_cond_t cv;
	int stopping;
	int connected, subscribed;
	int sub_mid;
	struct slot inbox[BRIDGE_SESSION_INBOX];
	size_t in_head, in_count;
	unsigned long dropped;
};

static pthread_mutex_t lib_mu = PTHREAD_MUTEX_INITIALIZER;
static int lib_users;

static void wake(struct bridge_session *s)
{
	char c = 1;
	ssize_t n = write(s->pipe_w, &c, 1); /* full pipe: already awake */
	(void)n;
}

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags,
		       const mosquitto_property *props)
{
	struct bridge_session *s = obj;
	int mid = 0, src;

	(void)flags;
	(void)props;
	if (rc != 0) {
		smile_log(SMILE_LOG_WARN, "bridge.mqtt.refused", SMILE_KV_INT("reason_code", rc),
			  SMILE_KV_ID("host", s->host), SMILE_KV_INT("port", s->port));
		return;
	}
	/* Every time: mosquitto 2.0.11 does not restore subscriptions. */
	src = mosquitto_subscribe_v5(m, &mid, s->reply_topic, 1, 0, NULL);
	pthread_mutex_lock(&s->mu);
	s->connected = 1;
	s->subscribed = 0;
	s->sub_mid = mid;
	pthread_mutex_unlock(&s->mu);
	smile_log(SMILE_LOG_INFO, "bridge.mqtt.connected", SMILE_KV_ID("host", s->host),
		  SMILE_KV_INT("port", s->port), SMILE_KV_INT("subscribe", src));
	wake(s);
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int qos_count,
			 const int *granted, const mosquitto_property *props)
{
	struct bridge_session *s = obj;
	int ok = qos_count >= 1 && granted[0] <= 2;

	(void)m;
	(void)props;
	pthread_mutex_lock(&s->mu);
	if (mid == s->sub_mid && s->connected)
		s->subscribed = ok;
	pthread_mutex_unlock(&s->mu);
	if (!ok)
		smile_log(SMILE_LOG_ERROR, "bridge.mqtt.subscribe_refused",
			  SMILE_KV_INT("granted", qos_count >= 1 ? granted[0] : -1));
	wake(s);
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc, const mosquitto_property *props)
{
	struct bridge_session *s = obj;
	int was;

	(void)m;
	(void)props;
	pthread_mutex_lock(&s->mu);
	was = s->connected;
	s->connected = 0;
	s->subscribed = 0;
	pthread_mutex_unlock(&s->mu);
	if (was)
		smile_log(SMILE_LOG_WARN, "bridge.mqtt.disconnected", SMILE_KV_INT("rc", rc));
	wake(s);
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg,
		       const mosquitto_property *props)
{
	struct bridge_session *s = obj;
	int drop = 0;

	(void)m;
	(void)props;
	if (msg->topic == NULL || strcmp(msg->topic, s->reply_topic) != 0)
		return;
	pthread_mutex_lock(&s->mu);
	if (msg->payloadlen < 0 || (size_t)msg->payloadlen > SMILE_REPLY_MAX_BYTES ||
	    s->in_count == BRIDGE_SESSION_INBOX) {
		s->dropped++;
		drop = 1;
	} else {
		struct slot *sl = &s->inbox[(s->in_head + s->in_count) % BRIDGE_SESSION_INBOX];
		sl->len = (size_t)msg->payloadlen;
		memcpy(sl->data, msg->payload, sl->len);
		s->in_count++;
	}
	pthread_mutex_unlock(&s->mu);
	if (drop)
		smile_log(SMILE_LOG_WARN, "bridge.mqtt.reply_dropped",
			  SMILE_KV_INT("bytes", msg->payloadlen));
	wake(s);
}

/* Sleep up to `seconds`, returning early when the session is stopping. */
static int wait_or_stop(struct bridge_session *s, int seconds)
{
	struct timespec ts;
	int stop;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += seconds;
	pthread_mutex_lock(&s->mu);
	while (!s->stopping &&
	       pthread_cond_timedwait(&s->cv, &s->mu, &ts) != ETIMEDOUT)
		;
	stop = s->stopping;
	pthread_mutex_unlock(&s->mu);
	return stop;
}

static int stopping(struct bridge_session *s)
{
	int v;
	pthread_mutex_lock(&s->mu);
	v = s->stopping;
	pthread_mutex_unlock(&s->mu);
	return v;
}

static int is_connected(struct bridge_session *s)
{
	int v;
	pthread_mutex_lock(&s->mu);
	v = s->connected;
	pthread_mutex_unlock(&s->mu);
	return v;
}

static void *net_thread(void *arg)
{
	struct bridge_session *s = arg;
	int delay = s->rmin;

	while (!stopping(s)) {
		int rc;
		if (s->need_connect) {
			rc = mosquitto_reconnect_async(s->mosq);
			if (rc != MOSQ_ERR_SUCCESS) {
				smile_log(SMILE_LOG_DEBUG, "bridge.mqtt.connect_failed",
					  SMILE_KV_INT("rc", rc), SMILE_KV_INT("retry_s", delay));
				if (wait_or_stop(s, delay))
					break;
				delay = delay * 2 > s->rmax ? s->rmax : delay * 2;
				continue;
			}
			s->need_connect = 0;
		}
		rc = mosquitto_loop(s->mosq, 500, 1);
		if (rc == MOSQ_ERR_SUCCESS) {
			if (is_connected(s))
				delay = s->rmin;
			continue;
		}
		/* Lost, refused or never established: mark down, wait, retry. */
		if (rc == MOSQ_ERR_TLS)
			smile_log(SMILE_LOG_WARN, "bridge.mqtt.tls_failed", SMILE_KV_ID("host", s->host),
				  SMILE_KV_INT("port", s->port), SMILE_KV_INT("retry_s", delay));
		else
			smile_log(SMILE_LOG_DEBUG, "bridge.mqtt.connect_failed", SMILE_KV_INT("rc", rc),
				  SMILE_KV_INT("retry_s", delay));
		on_disconnect(s->mosq, s, rc, NULL);
		if (stopping(s) || wait_or_stop(s, delay))
			break;
		delay = delay * 2 > s->rmax ? s->rmax : delay * 2;
		s->need_connect = 1;
	}
	return NULL;
}

enum smile_err bridge_session_new(const struct bridge_session_opts *o,
				  struct bridge_session **out, struct smile_error *e)
{
	struct bridge_session *s;
	char client_id[16 + SMILE_PROTO_ID_MAX];
	int fds[2];
	int rc;

	*out = NULL;
	if (o->host == NULL || o->host[0] == '\0' || strlen(o->host) >= sizeof(s->host))
		return smile_error_set(e, SMILE_ERR_INVALID, "mqtt_host", "empty or too long");
	if (o->port < 1 || o->port > 65535)
		return smile_error_set(e, SMILE_ERR_INVALID, "mqtt_port", "need 1..65535");
	if (o->reconnect_min_s < 1 || o->reconnect_max_s < o->reconnect_min_s)
		return smile_error_set(e, SMILE_ERR_INVALID, "reconnect_min_s",
				       "need 1 <= reconnect_min_s <= reconnect_max_s");
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return smile_error_set(e, SMILE_ERR_NOMEM, "mqtt", "out of memory");
	s->pipe_r = s->pipe_w = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	memcpy(s->host, o->host, strlen(o->host) + 1);
	s->port = o->port;
	s->keepalive = o->keepalive_s;
	s->rmin = o->reconnect_min_s;
	s->rmax = o->reconnect_max_s;
	if (smile_proto_topic(s->scan_topic, sizeof(s->scan_topic), o->device_id,
			      SMILE_TOPIC_SCAN) != SMILE_OK ||
	    smile_proto_topic(s->reply_topic, sizeof(s->reply_topic), o->device_id,
			      SMILE_TOPIC_REPLY) != SMILE_OK) {
		bridge_session_free(s);
		return smile_error_set(e, SMILE_ERR_INVALID, "device_id", "not a valid device id");
	}
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
		bridge_session_free(s);
		return smile_error_set(e, SMILE_ERR_IO, "mqtt", "pipe: %s", strerror(errno));
	}
	s->pipe_r = fds[0];
	s->pipe_w = fds[1];

	pthread_mutex_lock(&lib_mu);
	if (lib_users++ == 0)
		mosquitto_lib_init();
	pthread_mutex_unlock(&lib_mu);
	s->lib = 1;

	/* docs/protocol.md 9: client id smile-dev-{id}. A clean session: the
	 * bridge retransmits its outstanding scan on every reconnection and the
	 * gateway answers with its stored reply, so a persistent session would
	 * only be an optimisation, and it would need a blocking v5 connect. */
	snprintf(client_id, sizeof(client_id), "smile-dev-%s", o->device_id);
	s->mosq = mosquitto_new(client_id, true, s);
	if (s->mosq == NULL) {
		bridge_session_free(s);
		return smile_error_set(e, SMILE_ERR_MQTT, "mqtt", "cannot create the client");
	}
	mosquitto_int_option(s->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_int_option(s->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_threaded_set(s->mosq, true);
	mosquitto_reconnect_delay_set(s->mosq, (unsigned)s->rmin, (unsigned)s->rmax, true);
	mosquitto_connect_v5_callback_set(s->mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(s->mosq, on_disconnect);
	mosquitto_subscribe_v5_callback_set(s->mosq, on_subscribe);
	mosquitto_message_v5_callback_set(s->mosq, on_message);
	rc = mosquitto_username_pw_set(s->mosq, o->device_id, o->password);
	if (rc != MOSQ_ERR_SUCCESS) {
		bridge_session_free(s);
		return smile_error_set(e, SMILE_ERR_MQTT, "mqtt", "credentials: %s",
				       mosquitto_strerror(rc));
	}
	if (o->cafile != NULL && o->cafile[0] != '\0') {
		const char *cert = o->certfile && o->certfile[0] ? o->certfile : NULL;
		const char *key = o->keyfile && o->keyfile[0] ? o->keyfile : NULL;
		rc = mosquitto_tls_set(s->mosq, o->cafile, NULL, cert, key, NULL);
		if (rc == MOSQ_ERR_SUCCESS)
			rc = mosquitto_tls_opts_set(s->mosq, 1 /* verify the broker */, NULL, NULL);
		if (rc != MOSQ_ERR_SUCCESS) {
			bridge_session_free(s);
			return smile_error_set(e, SMILE_ERR_CONFIG, "mqtt_cafile",
					       "TLS files unusable: %s", mosquitto_strerror(rc));
		}
	}
	*out = s;
	return SMILE_OK;
}

enum smile_err bridge_session_start(struct bridge_session *s, struct smile_error *e)
{
	/* Asynchronous: a broker that is down now is retried by the thread. */
	int rc = mosquitto_connect_bind_async(s->mosq, s->host, s->port, s->keepalive, NULL);

	if (rc == MOSQ_ERR_INVAL || rc == MOSQ_ERR_NOMEM)
		return smile_error_set(e, SMILE_ERR_MQTT, "mqtt", "connect: %s",
				       mosquitto_strerror(rc));
	if (rc != MOSQ_ERR_SUCCESS) {
		smile_log(SMILE_LOG_WARN, "bridge.mqtt.unreachable", SMILE_KV_ID("host", s->host),
			  SMILE_KV_INT("port", s->port), SMILE_KV_INT("rc", rc));
		s->need_connect = 1;
	}
	if (pthread_create(&s->thread, NULL, net_thread, s) != 0)
		return smile_error_set(e, SMILE_ERR_MQTT, "mqtt", "cannot start the network thread");
	s->started = 1;
	return SMILE_OK;
}

int bridge_session_fd(const struct bridge_session *s)
{
	return s->pipe_r;
}

void bridge_session_drain(struct bridge_session *s)
{
	char buf[64];
	while (read(s->pipe_r, buf, sizeof(buf)) > 0)
		;
}

int bridge_session_ready(struct bridge_session *s)
{
	int v;
	pthread_mutex_lock(&s->mu);
	v = s->connected && s->subscribed;
	pthread_mutex_unlock(&s->mu);
	return v;
}

enum smile_err bridge_session_take(struct bridge_session *s, uint8_t *buf, size_t cap,
				   size_t *len)
{
	enum smile_err rc = SMILE_ERR_NOT_FOUND;

	*len = 0;
	pthread_mutex_lock(&s->mu);
	while (s->in_count > 0) {
		struct slot *sl = &s->inbox[s->in_head];
		s->in_head = (s->in_head + 1) % BRIDGE_SESSION_INBOX;
		s->in_count--;
		if (sl->len > cap)
			continue; /* cannot happen with cap >= SMILE_REPLY_MAX_BYTES */
		memcpy(buf, sl->data, sl->len);
		*len = sl->len;
		rc = SMILE_OK;
		break;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

enum smile_err bridge_session_publish(struct bridge_session *s, const uint8_t *msg, size_t len)
{
	int rc;

	if (!bridge_session_ready(s))
		return SMILE_ERR_MQTT;
	rc = mosquitto_publish_v5(s->mosq, NULL, s->scan_topic, (int)len, msg, 1, false, NULL);
	return rc == MOSQ_ERR_SUCCESS ? SMILE_OK : SMILE_ERR_MQTT;
}

unsigned long bridge_session_dropped(struct bridge_session *s)
{
	unsigned long v;
	pthread_mutex_lock(&s->mu);
	v = s->dropped;
	pthread_mutex_unlock(&s->mu);
	return v;
}

void bridge_session_free(struct bridge_session *s)
{
	if (s == NULL)
		return;
	if (s->started) {
		pthread_mutex_lock(&s->mu);
		s->stopping = 1;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		/* Queues DISCONNECT and wakes the loop, which sends it and ends. */
		mosquitto_disconnect_v5(s->mosq, MQTT_RC_NORMAL_DISCONNECTION, NULL);
		pthread_join(s->thread, NULL);
	}
	if (s->mosq != NULL)
		mosquitto_destroy(s->mosq);
	if (s->lib) {
		pthread_mutex_lock(&lib_mu);
		if (--lib_users == 0)
			mosquitto_lib_cleanup();
		pthread_mutex_unlock(&lib_mu);
	}
	if (s->pipe_r >= 0)
		close(s->pipe_r);
	if (s->pipe_w >= 0)
		close(s->pipe_w);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}
