/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for firmware-bridge/session.c against a real mosquitto started
 * on a free loopback port: subscribe-then-ready, scans published on the scan
 * topic, replies taken from the inbox (over-size ones dropped), the broker
 * going away and coming back (ready drops, reconnects, re-subscribes), and a
 * prompt shutdown while the broker is down. Skipped without mosquitto. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../../firmware-bridge/session.h"
#include "smile/proto.h"

static int port;
static pid_t broker = -1;
static char dir[64];

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int free_port(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0)
		return -1;
	p = ntohs(sa.sin_port);
	close(fd);
	return p;
}

static int port_open(void)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* Start mosquitto on `port`; with TLS files in dir when tls is set. */
static int broker_start_tls(int tls)
{
	char conf[128];
	struct passwd *pw = getpwuid(getuid());
	FILE *f;
	snprintf(conf, sizeof(conf), "%s/mosquitto.conf", dir);
	f = fopen(conf, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "user %s\nlistener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
		   "set_tcp_nodelay true\nlog_dest none\n", pw ? pw->pw_name : "root", port);
	if (tls)
		fprintf(f, "cafile %s/ca.pem\ncertfile %s/srv.pem\nkeyfile %s/srv.key\n", dir, dir,
			dir);
	fclose(f);
	broker = fork();
	if (broker == 0) {
		execlp("mosquitto", "mosquitto", "-c", conf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		if (port_open())
			return 0;
		usleep(50000);
	}
	return -1;
}

static int broker_start(void)
{
	return broker_start_tls(0);
}

static void broker_stop(void)
{
	if (broker > 0) {
		kill(broker, SIGTERM);
		waitpid(broker, NULL, 0);
		broker = -1;
	}
}

static int setup(void **state)
{
	(void)state;
	if (system("command -v mosquitto >/dev/null 2>&1") != 0)
		return 0; /* tests skip */
	snprintf(dir, sizeof(dir), "/tmp/smile-sess-XXXXXX");
	if (mkdtemp(dir) == NULL || (port = free_port()) < 0)
		return -1;
	return broker_start();
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	broker_stop();
	if (dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		return system(cmd) == 0 ? 0 : -1;
	}
	return 0;
}

/* Wait up to ms for ready == want, draining wake-ups as the daemon does. */
static int wait_ready(struct bridge_session *s, int want, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	while (now_ms() < end) {
		struct pollfd p = {.fd = bridge_session_fd(s), .events = POLLIN};
		if (bridge_session_ready(s) == want)
			return 1;
		poll(&p, 1, 50);
		bridge_session_drain(s);
	}
	return bridge_session_ready(s) == want;
}

static int wait_reply(struct bridge_session *s, uint8_t *buf, size_t cap, size_t *len, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	while (now_ms() < end) {
		struct pollfd p = {.fd = bridge_session_fd(s), .events = POLLIN};
		if (bridge_session_take(s, buf, cap, len) == SMILE_OK)
			return 1;
		poll(&p, 1, 50);
		bridge_session_drain(s);
	}
	return 0;
}

static void pub(const char *topic, const char *file_or_msg, int is_file)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "mosquitto_pub -h 127.0.0.1 -p %d -q 1 -t '%s' %s '%s'", port,
		 topic, is_file ? "-f" : "-m", file_or_msg);
	assert_int_equal(system(cmd), 0);
}

static struct bridge_session *open_session(int rmax)
{
	struct bridge_session_opts o = {.host = "127.0.0.1", .port = port, .keepalive_s = 10,
					.device_id = "courier-01", .password = "unused-here",
					.reconnect_min_s = 1, .reconnect_max_s = rmax};
	struct bridge_session *s;
	assert_int_equal(bridge_session_new(&o, &s, NULL), SMILE_OK);
	assert_int_equal(bridge_session_start(s, NULL), SMILE_OK);
	return s;
}

static void publish_subscribe_reconnect(void **state)
{
	struct bridge_session *s;
	uint8_t buf[SMILE_REPLY_MAX_BYTES];
	size_t len;
	char path[128];
	FILE *sub, *f;
	(void)state;
	if (broker < 0)
		skip();
	s = open_session(2);
	assert_true(wait_ready(s, 1, 5000));

	/* a scan goes out on smile/v1/dev/courier-01/scan, bytes intact */
	{
		char cmd[256];
		const uint8_t scan[] = {1, 1, 0, 0xff, 0, 'x', '\n', 0x80};
		snprintf(cmd, sizeof(cmd), "mosquitto_sub -h 127.0.0.1 -p %d -q 1 -C 1 -W 5 -N "
					  "-t smile/v1/dev/courier-01/scan", port);
		sub = popen(cmd, "r");
		usleep(300000);
		assert_int_equal(bridge_session_publish(s, scan, sizeof(scan)), SMILE_OK);
		len = fread(buf, 1, sizeof(buf), sub);
		pclose(sub);
		assert_int_equal(len, sizeof(scan));
		assert_memory_equal(buf, scan, sizeof(scan));
	}

	/* replies on our topic reach the inbox; other topics do not */
	pub("smile/v1/dev/courier-02/reply", "not-ours", 0);
	pub("smile/v1/dev/courier-01/reply", "reply-one", 0);
	assert_true(wait_reply(s, buf, sizeof(buf), &len, 3000));
	assert_int_equal(len, 9);
	assert_memory_equal(buf, "reply-one", 9);
	assert_int_equal(bridge_session_take(s, buf, sizeof(buf), &len), SMILE_ERR_NOT_FOUND);

	/* an over-size payload is dropped, not truncated */
	snprintf(path, sizeof(path), "%s/big", dir);
	f = fopen(path, "w");
	for (size_t i = 0; i < SMILE_REPLY_MAX_BYTES + 1; i++)
		fputc('B', f);
	fclose(f);
	pub("smile/v1/dev/courier-01/reply", path, 1);
	pub("smile/v1/dev/courier-01/reply", "after-big", 0);
	assert_true(wait_reply(s, buf, sizeof(buf), &len, 3000));
	assert_memory_equal(buf, "after-big", 9);
	assert_int_equal(bridge_session_dropped(s), 1);

	/* the broker goes away: not ready, publishing refused */
	broker_stop();
	assert_true(wait_ready(s, 0, 5000));
	assert_int_equal(bridge_session_publish(s, (const uint8_t *)"x", 1), SMILE_ERR_MQTT);
	/* ... and comes back: reconnected and subscribed again */
	assert_int_equal(broker_start(), 0);
	assert_true(wait_ready(s, 1, 8000));
	pub("smile/v1/dev/courier-01/reply", "reply-two", 0);
	assert_true(wait_reply(s, buf, sizeof(buf), &len, 3000));
	assert_memory_equal(buf, "reply-two", 9);
	bridge_session_free(s);
}

static void down_at_start_and_prompt_shutdown(void **state)
{
	struct bridge_session *s;
	uint64_t t;
	(void)state;
	if (broker < 0)
		skip();
	broker_stop();
	s = open_session(60); /* long backoff: shutdown must not wait for it */
	assert_false(wait_ready(s, 1, 2500));
	assert_int_equal(broker_start(), 0);
	assert_true(wait_ready(s, 1, 8000)); /* started while down, connects later */
	broker_stop();
	assert_true(wait_ready(s, 0, 5000));
	usleep(1500000); /* now deep in a reconnect wait */
	t = now_ms();
	bridge_session_free(s);
	assert_true(now_ms() - t < 1500);
	assert_int_equal(broker_start(), 0);
}

/* A TLS broker: the bridge connects when it trusts the broker's CA and not
 * otherwise. Needs the openssl command to make certificates. */
static void tls_verifies_the_broker(void **state)
{
	char cmd[1024], other[128];
	struct bridge_session_opts o = {.host = "127.0.0.1", .keepalive_s = 10,
					.device_id = "courier-01", .password = "x",
					.reconnect_min_s = 1, .reconnect_max_s = 1};
	struct bridge_session *s;
	(void)state;
	if (broker < 0 || system("command -v openssl >/dev/null 2>&1") != 0)
		skip();
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && E='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes' && "
		 "openssl req -x509 $E -keyout ca.key -out ca.pem -days 2 -subj /CN=smile-test-ca && "
		 "openssl req -x509 $E -keyout other.key -out other.pem -days 2 -subj /CN=other-ca && "
		 "openssl req $E -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 && "
		 "printf 'subjectAltName=IP:127.0.0.1\n' > ext && "
		 "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
		 "-out srv.pem -days 2 -extfile ext",
		 dir);
	assert_int_equal(system(cmd) == 0 ? 0 : -1, 0);
	broker_stop();
	assert_int_equal(broker_start_tls(1), 0);
	o.port = port;
	snprintf(cmd, sizeof(cmd), "%s/ca.pem", dir);
	o.cafile = cmd;
	assert_int_equal(bridge_session_new(&o, &s, NULL), SMILE_OK);
	assert_int_equal(bridge_session_start(s, NULL), SMILE_OK);
	assert_true(wait_ready(s, 1, 8000));
	bridge_session_free(s);

	snprintf(other, sizeof(other), "%s/other.pem", dir);
	o.cafile = other; /* a CA that did not sign the broker */
	assert_int_equal(bridge_session_new(&o, &s, NULL), SMILE_OK);
	assert_int_equal(bridge_session_start(s, NULL), SMILE_OK);
	assert_false(wait_ready(s, 1, 3000));
	bridge_session_free(s);
	o.cafile = NULL; /* plain MQTT to a TLS listener: no connection either */
	assert_int_equal(bridge_session_new(&o, &s, NULL), SMILE_OK);
	assert_int_equal(bridge_session_start(s, NULL), SMILE_OK);
	assert_false(wait_ready(s, 1, 2000));
	bridge_session_free(s);
	broker_stop();
	assert_int_equal(broker_start(), 0);
}

static void bad_options(void **state)
{
	struct bridge_session_opts o = {.host = "127.0.0.1", .port = 1883, .keepalive_s = 10,
					.device_id = "bad id", .password = "x",
					.reconnect_min_s = 1, .reconnect_max_s = 2};
	struct bridge_session *s;
	struct smile_error e = {0};
	(void)state;
	assert_int_equal(bridge_session_new(&o, &s, &e), SMILE_ERR_INVALID);
	o.device_id = "ok";
	o.port = 0;
	assert_int_equal(bridge_session_new(&o, &s, &e), SMILE_ERR_INVALID);
	o.port = 1883;
	o.reconnect_min_s = 5;
	assert_int_equal(bridge_session_new(&o, &s, &e), SMILE_ERR_INVALID);
	o.reconnect_min_s = 1;
	o.cafile = "/nonexistent/ca.pem";
	assert_int_equal(bridge_session_new(&o, &s, &e), SMILE_ERR_CONFIG);
	bridge_session_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(publish_subscribe_reconnect),
		cmocka_unit_test(down_at_start_and_prompt_shutdown),
		cmocka_unit_test(tls_verifies_the_broker),
		cmocka_unit_test(bad_options),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
