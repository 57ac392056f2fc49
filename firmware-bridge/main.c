/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c - smile-bridge: command line, signals, and wiring the modules.
 *
 * keygen and configure prepare a handheld; run is the daemon (input ->
 * engine -> MQTT session -> engine -> output, one poll loop on the main
 * thread); scan sends one scan for scripts and tests. Secrets (keys, the
 * device session, the MQTT password) live in sodium_malloc'd memory and are
 * wiped on every exit path.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "conf.h"
#include "engine.h"
#include "gwinfo.h"
#include "input.h"
#include "keyfile.h"
#include "output.h"
#include "queue.h"
#include "report.h"
#include "seqfile.h"
#include "session.h"
#include "smile/clock.h"
#include "smile/buf.h"
#include "smile/credentials.h"
#include "smile/device.h"
#include "smile/log.h"
#include "statedir.h"

/* `scan` exit codes (docs/bridge.md "Exit codes"). */
enum {
	EXIT_REVEALED = 0,
	EXIT_RECORDED = 1,
	EXIT_DENIED = 2,
	EXIT_ERROR = 3,
	EXIT_NO_REPLY = 4
};

#define INPUT_REOPEN_MS 2000

static const char usage_top[] =
	"usage: smile-bridge COMMAND [OPTIONS]\n"
	"\n"
	"Connects a handheld's barcode scanner to the Smile gateway over MQTT: signs\n"
	"each scan, queues it on disk while offline, and writes each reply (contact\n"
	"details only when the gateway reveals them) as one JSON line.\n"
	"\n"
	"commands:\n"
	"  keygen    --id ID --out FILE         new device keys (FILE, mode 0600); prints\n"
	"                                       the enrolment JSON for POST /v1/devices\n"
	"  configure --gateway FILE --key FILE --state DIR [--out FILE]\n"
	"                                       write a bridge.conf from GET /v1/gateway\n"
	"  run       --config FILE [--event EVENT] [--input SPEC] [--output SPEC]\n"
	"                                       the daemon: scans in, reply lines out\n"
	"  scan      TOKEN --event EVENT --config FILE [--timeout S]\n"
	"                                       one scan, one reply line; exit code by status\n"
	"\n"
	"Run 'smile-bridge COMMAND --help' for a command's options; docs/bridge.md for\n"
	"the whole story. Logs are structured lines on stderr\n"
	"(SMILE_LOG_LEVEL=debug|info|warn|error overrides log_level).\n";

static const char usage_keygen[] =
	"usage: smile-bridge keygen --id ID --out FILE\n"
	"\n"
	"Make fresh device keys for device ID (1-32 of A-Z a-z 0-9 _ -), write them\n"
	"to FILE (created with mode 0600; an existing file is never overwritten),\n"
	"and print the enrolment JSON {\"id\":..,\"sign_pk\":..,\"box_pk\":..} on\n"
	"standard output. An admin enrols the device by posting it with a role:\n"
	"  jq '. + {role: \"courier\"}' enrol.json | curl -H \"Authorization: Bearer $ADMIN\" \\\n"
	"    -H 'Content-Type: application/json' --data-binary @- $GATEWAY/v1/devices\n";

static const char usage_configure[] =
	"usage: smile-bridge configure --gateway FILE --key FILE --state DIR\n"
	"                              [--event EVENT] [--input SPEC] [--output SPEC] [--out FILE]\n"
	"\n"
	"Write a complete, commented bridge.conf (to FILE, or standard output) from\n"
	"the gateway's GET /v1/gateway answer saved in --gateway FILE ('-' reads\n"
	"standard input): its keys and broker address. --key and --state become\n"
	"key_file and state_dir (made absolute). Every other key gets its default.\n";

static const char usage_run[] =
	"usage: smile-bridge run --config FILE [--event EVENT] [--input SPEC] [--output SPEC]\n"
	"\n"
	"Read codes from the input and send each as a scan in the current event\n"
	"mode; write one JSON line per reply (docs/bridge.md \"Output\").\n"
	"  --event EVENT   starting mode: pickup, hub_in, hub_out, out_for_delivery,\n"
	"                  delivery_failed, delivered, returned (overrides 'event');\n"
	"                  scanning SMILE:MODE:<EVENT> switches it\n"
	"  --input SPEC    stdin | serial:/dev/ttyX[@baud] | evdev:/dev/input/eventN\n"
	"  --output SPEC   stdout | unix:/path/to/socket\n"
	"Scans are queued on disk (state_dir/queue) and sent oldest first, one at\n"
	"a time, resent with backoff until the reply arrives. With standard input,\n"
	"run exits at end of input once every queued scan has its reply. SIGINT or\n"
	"SIGTERM stop it at once; queued scans are sent at the next start.\n";

static const char usage_scan[] =
	"usage: smile-bridge scan TOKEN --event EVENT --config FILE [--timeout SECONDS]\n"
	"\n"
	"Send one scan of TOKEN and print the reply as one JSON line. The offline\n"
	"queue is not used. Exit status:\n"
	"  0 revealed   1 recorded   2 denied   3 error (reply status error, or a\n"
	"  local failure: config, keys, state)   4 no reply within --timeout\n"
	"  (default 10 s; the scan may or may not have been recorded)\n";

static int fail(const char *what, const struct smile_error *e, int code)
{
	char msg[SMILE_ERROR_FIELD_MAX + SMILE_ERROR_MSG_MAX + 4];
	fprintf(stderr, "smile-bridge: %s: %s (%s)\n", what, smile_error_format(e, msg, sizeof(msg)),
		smile_errname(e->code));
	return code;
}

/* ------------------------------------------------------------ options */

struct opts {
	const char *id, *out, *config, *event, *input, *output, *gateway, *key, *state;
	const char *token;
	long timeout_s;
	int help;
};

/* 0 ok, 2 usage error (message printed). `positional` accepts one TOKEN. */
static int parse_opts(int argc, char **argv, struct opts *o, const char *usage, int positional)
{
	static const struct option longopts[] = {
		{"id", required_argument, NULL, 'i'},     {"out", required_argument, NULL, 'o'},
		{"config", required_argument, NULL, 'c'}, {"event", required_argument, NULL, 'e'},
		{"input", required_argument, NULL, 'I'},  {"output", required_argument, NULL, 'O'},
		{"gateway", required_argument, NULL, 'g'},{"key", required_argument, NULL, 'k'},
		{"state", required_argument, NULL, 's'},  {"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	int c;
	char *end;

	memset(o, 0, sizeof(*o));
	o->timeout_s = 10;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1 || optind < argc) {
		if (c == -1) { /* a positional argument: take it, go on */
			if (!positional || o->token != NULL) {
				fprintf(stderr, "smile-bridge: unexpected argument '%s'\n", argv[optind]);
				return 2;
			}
			o->token = argv[optind++];
			continue;
		}
		switch (c) {
		case 'i': o->id = optarg; break;
		case 'o': o->out = optarg; break;
		case 'c': o->config = optarg; break;
		case 'e': o->event = optarg; break;
		case 'I': o->input = optarg; break;
		case 'O': o->output = optarg; break;
		case 'g': o->gateway = optarg; break;
		case 'k': o->key = optarg; break;
		case 's': o->state = optarg; break;
		case 't':
			errno = 0;
			o->timeout_s = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || o->timeout_s < 1 || o->timeout_s > 86400) {
				fprintf(stderr, "smile-bridge: --timeout: expected 1-86400 seconds\n");
				return 2;
			}
			break;
		case 'h':
			fputs(usage, stdout);
			o->help = 1;
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	return 0;
}

static int need(const char *v, const char *name, const char *usage)
{
	if (v != NULL)
		return 0;
	fprintf(stderr, "smile-bridge: %s is required\n%s", name, usage);
	return 2;
}

/* ------------------------------------------------------------ keygen */

static int cmd_keygen(int argc, char **argv)
{
	struct opts o;
	struct smile_error e = {0};
	struct smile_device_keys *k;
	char json[SMILE_DEVICE_ENROLMENT_MAX];
	int rc = parse_opts(argc, argv, &o, usage_keygen, 0);

	if (rc || o.help)
		return rc;
	if ((rc = need(o.id, "--id", usage_keygen)) || (rc = need(o.out, "--out", usage_keygen)))
		return rc;
	if (smile_proto_init() != SMILE_OK) {
		fprintf(stderr, "smile-bridge: libsodium failed to initialise\n");
		return 1;
	}
	k = sodium_malloc(sizeof(*k));
	if (k == NULL) {
		fprintf(stderr, "smile-bridge: out of locked memory\n");
		return 1;
	}
	rc = 1;
	if (smile_device_keygen(o.id, k, &e) != SMILE_OK) {
		rc = fail("keygen", &e, 1);
		goto out;
	}
	if (bridge_keyfile_write(o.out, k, &e) != SMILE_OK) {
		rc = fail(o.out, &e, 1);
		goto out;
	}
	if (smile_device_enrolment_json(k, json, sizeof(json), NULL) != SMILE_OK) {
		fprintf(stderr, "smile-bridge: enrolment JSON does not fit\n");
		goto out;
	}
	printf("%s\n", json);
	smile_log(SMILE_LOG_INFO, "bridge.keygen", SMILE_KV_ID("device", k->id));
	rc = 0;
out:
	smile_device_keys_wipe(k);
	sodium_free(k);
	return rc;
}

/* ------------------------------------------------------------ configure */

/* An absolute version of path (relative to the working directory). */
static int absolute(const char *path, char *out, size_t cap)
{
	char cwd[BRIDGE_PATH_MAX];
	int n;

	if (path[0] == '/')
		n = snprintf(out, cap, "%s", path);
	else if (getcwd(cwd, sizeof(cwd)) == NULL)
		return 0;
	else
		n = snprintf(out, cap, "%s/%s", cwd, path);
	return n > 0 && (size_t)n < cap;
}

static int cmd_configure(int argc, char **argv)
{
	struct opts o;
	struct smile_error e = {0};
	struct bridge_conf c;
	struct bridge_gwinfo gw;
	struct smile_buf b;
	enum smile_err err;
	FILE *in, *out = stdout;
	int rc = parse_opts(argc, argv, &o, usage_configure, 0);

	if (rc || o.help)
		return rc;
	if ((rc = need(o.gateway, "--gateway", usage_configure)) ||
	    (rc = need(o.key, "--key", usage_configure)) ||
	    (rc = need(o.state, "--state", usage_configure)))
		return rc;
	in = strcmp(o.gateway, "-") == 0 ? stdin : fopen(o.gateway, "r");
	if (in == NULL) {
		fprintf(stderr, "smile-bridge: %s: %s\n", o.gateway, strerror(errno));
		return 1;
	}
	smile_buf_init(&b, BRIDGE_GWINFO_MAX);
	err = smile_buf_read_file(&b, in);
	if (in != stdin)
		fclose(in);
	if (err == SMILE_OK)
		err = bridge_gwinfo_parse(b.data ? b.data : "", b.len, &gw, &e);
	else
		smile_error_set(&e, err, "gateway", "cannot read it (at most %d bytes)",
				BRIDGE_GWINFO_MAX);
	smile_buf_release(&b);
	if (err != SMILE_OK)
		return fail("GET /v1/gateway answer", &e, 1);

	bridge_conf_defaults(&c);
	if (!absolute(o.key, c.key_file, sizeof(c.key_file)) ||
	    !absolute(o.state, c.state_dir, sizeof(c.state_dir))) {
		fprintf(stderr, "smile-bridge: --key or --state path too long\n");
		return 1;
	}
	snprintf(c.gateway_sign_pk, sizeof(c.gateway_sign_pk), "%s", gw.sign_pk);
	snprintf(c.gateway_box_pk, sizeof(c.gateway_box_pk), "%s", gw.box_pk);
	if (gw.mqtt_host[0])
		snprintf(c.mqtt_host, sizeof(c.mqtt_host), "%s", gw.mqtt_host);
	if (gw.mqtt_port)
		c.mqtt_port = gw.mqtt_port;
	if (o.event)
		snprintf(c.event, sizeof(c.event), "%s", o.event);
	if (o.input)
		snprintf(c.input, sizeof(c.input), "%s", o.input);
	if (o.output)
		snprintf(c.output, sizeof(c.output), "%s", o.output);
	if (bridge_conf_check(&c, &e) != SMILE_OK)
		return fail("configure", &e, 1);
	if (o.out && (out = fopen(o.out, "w")) == NULL) {
		fprintf(stderr, "smile-bridge: %s: %s\n", o.out, strerror(errno));
		return 1;
	}
	bridge_conf_write(&c, out);
	if (out != stdout && fclose(out) != 0) {
		fprintf(stderr, "smile-bridge: %s: write failed\n", o.out);
		return 1;
	}
	if (gw.mqtt_tls)
		fprintf(stderr, "smile-bridge: the gateway's broker uses TLS: set mqtt_cafile "
				"(and a client certificate if it asks for one) in the config\n");
	return 0;
}

/* ------------------------------------------------------------ shared setup */

/* What run and scan share: config, keys, device, state lock, sequence,
 * broker session. Heap parts are freed by ctx_release(). */
struct ctx {
	struct bridge_conf conf;
	struct smile_device_keys *keys; /* sodium_malloc */
	struct smile_device *dev;       /* sodium_malloc */
	int lock_fd;
	struct bridge_seqfile seqfile;
	struct smile_seq seq;
	struct bridge_session *session;
	int sig_fd;
};

static void ctx_release(struct ctx *x)
{
	bridge_session_free(x->session);
	if (x->dev) {
		smile_device_wipe(x->dev);
		sodium_free(x->dev);
	}
	if (x->keys) {
		smile_device_keys_wipe(x->keys);
		sodium_free(x->keys);
	}
	if (x->lock_fd >= 0)
		close(x->lock_fd);
	if (x->sig_fd >= 0)
		close(x->sig_fd);
	memset(x, 0, sizeof(*x));
	x->lock_fd = x->sig_fd = -1;
}

/* Signals become a readable descriptor; blocked before any thread starts so
 * the network thread never takes them. */
static int signals_fd(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static int ctx_open(struct ctx *x, const char *config, struct smile_error *e)
{
	uint8_t sign_pk[SMILE_PROTO_PK_BYTES], box_pk[SMILE_PROTO_PK_BYTES];
	char password[SMILE_MQTT_PASSWORD_MAX];
	struct bridge_session_opts so;
	const char *env = getenv("SMILE_LOG_LEVEL");
	enum smile_err rc;

	memset(x, 0, sizeof(*x));
	x->lock_fd = x->sig_fd = -1;
	bridge_conf_defaults(&x->conf);
	rc = bridge_conf_load(&x->conf, config, e);
	if (rc != SMILE_OK)
		return fail(config, e, EXIT_ERROR);
	if (env == NULL || smile_log_level_parse(env) < 0)
		smile_log_set_level((enum smile_log_level)smile_log_level_parse(x->conf.log_level));
	if (smile_proto_init() != SMILE_OK) {
		fprintf(stderr, "smile-bridge: libsodium failed to initialise\n");
		return EXIT_ERROR;
	}
	x->keys = sodium_malloc(sizeof(*x->keys));
	x->dev = sodium_malloc(sizeof(*x->dev));
	if (x->keys == NULL || x->dev == NULL) {
		fprintf(stderr, "smile-bridge: out of locked memory\n");
		return EXIT_ERROR;
	}
	if (bridge_keyfile_read(x->conf.key_file, x->keys, e) != SMILE_OK)
		return fail(x->conf.key_file, e, EXIT_ERROR);
	/* bridge_conf_check() decoded both keys already. */
	if (smile_proto_key_from_base64(x->conf.gateway_sign_pk, strlen(x->conf.gateway_sign_pk),
					sign_pk) != SMILE_OK ||
	    smile_proto_key_from_base64(x->conf.gateway_box_pk, strlen(x->conf.gateway_box_pk),
					box_pk) != SMILE_OK ||
	    smile_device_init(x->dev, x->keys, sign_pk, box_pk, e) != SMILE_OK)
		return fail("gateway keys", e, EXIT_ERROR);
	if (bridge_state_lock(x->conf.state_dir, &x->lock_fd, e) != SMILE_OK)
		return fail(x->conf.state_dir, e, EXIT_ERROR);
	if (bridge_seqfile_init(&x->seqfile, x->conf.state_dir, e) != SMILE_OK ||
	    smile_seq_open(&x->seq, &x->seqfile.store, (uint32_t)x->conf.seq_block, e) != SMILE_OK)
		return fail("sequence counter", e, EXIT_ERROR);
	x->sig_fd = signals_fd();
	if (x->sig_fd < 0) {
		fprintf(stderr, "smile-bridge: cannot set up signal handling\n");
		return EXIT_ERROR;
	}
	/* The broker password is derived from the key the device shares with
	 * the gateway (credentials.h); nobody ever typed it. */
	if (smile_mqtt_password(x->dev->shared_key, x->keys->id, password) != SMILE_OK) {
		fprintf(stderr, "smile-bridge: cannot derive the broker password\n");
		return EXIT_ERROR;
	}
	memset(&so, 0, sizeof(so));
	so.host = x->conf.mqtt_host;
	so.port = (int)x->conf.mqtt_port;
	so.keepalive_s = (int)x->conf.mqtt_keepalive_s;
	so.cafile = x->conf.mqtt_cafile;
	so.certfile = x->conf.mqtt_certfile;
	so.keyfile = x->conf.mqtt_keyfile;
	so.device_id = x->keys->id;
	so.password = password;
	so.reconnect_min_s = (int)x->conf.reconnect_min_s;
	so.reconnect_max_s = (int)x->conf.reconnect_max_s;
	rc = bridge_session_new(&so, &x->session, e);
	sodium_memzero(password, sizeof(password));
	if (rc != SMILE_OK)
		return fail("mqtt", e, EXIT_ERROR);
	return 0;
}

static int parse_event(const char *name, enum smile_event *ev)
{
	if (name == NULL || name[0] == '\0') {
		*ev = 0;
		return 1;
	}
	if (smile_proto_event_from_name(name, ev) == SMILE_OK)
		return 1;
	fprintf(stderr, "smile-bridge: --event: unknown event '%.32s' (pickup, hub_in, hub_out, "
			"out_for_delivery, delivery_failed, delivered, returned)\n",
		name);
	return 0;
}

/* ------------------------------------------------------------ run */

struct runner {
	struct ctx *x;
	struct bridge_output *out;
	struct bridge_engine *engine;
	enum smile_err fatal;
};

static enum smile_err run_publish(void *ctx, const uint8_t *msg, size_t len)
{
	struct runner *r = ctx;
	return bridge_session_publish(r->x->session, msg, len);
}

static enum smile_err run_emit(void *ctx, const char *line, size_t len)
{
	struct runner *r = ctx;
	return bridge_output_write(r->out, line, len);
}

static uint64_t run_mono(void *ctx)
{
	(void)ctx;
	return (uint64_t)smile_mono_ms();
}

static uint64_t run_wall(void *ctx)
{
	(void)ctx;
	return (uint64_t)smile_clock_ms();
}

static void on_code(void *ctx, const char *code, size_t len, enum bridge_code_status st)
{
	struct runner *r = ctx;
	if (r->fatal == SMILE_OK)
		r->fatal = bridge_engine_code(r->engine, code, len, st);
}

static int cmd_run(int argc, char **argv)
{
	struct opts o;
	struct smile_error e = {0};
	struct ctx x;
	struct runner rn;
	struct bridge_queue *q = NULL;
	struct bridge_input *in = NULL;
	struct bridge_input_spec ispec;
	struct bridge_output_spec ospec;
	struct bridge_engine_opts eo;
	struct bridge_engine_ops ops;
	char qdir[BRIDGE_PATH_MAX + 8];
	uint8_t *msg = NULL;
	uint64_t reopen_at = 0;
	int eof = 0, rc;

	rc = parse_opts(argc, argv, &o, usage_run, 0);
	if (rc || o.help)
		return rc;
	if ((rc = need(o.config, "--config", usage_run)))
		return rc;
	memset(&rn, 0, sizeof(rn));
	rc = ctx_open(&x, o.config, &e);
	if (rc)
		goto out;
	rc = EXIT_ERROR;
	memset(&eo, 0, sizeof(eo));
	if (!parse_event(o.event ? o.event : x.conf.event, &eo.event))
		goto out;
	if (bridge_input_parse(o.input ? o.input : x.conf.input, &ispec, &e) != SMILE_OK) {
		rc = fail("--input", &e, EXIT_ERROR);
		goto out;
	}
	if (bridge_output_parse(o.output ? o.output : x.conf.output, &ospec, &e) != SMILE_OK) {
		rc = fail("--output", &e, EXIT_ERROR);
		goto out;
	}
	eo.retry_initial_ms = x.conf.retry_initial_ms;
	eo.retry_max_ms = x.conf.retry_max_ms;
	if (x.conf.location[0] != '\0') {
		eo.has_location = 1;
		if (bridge_conf_location(x.conf.location, &eo.location, &e) != SMILE_OK) {
			rc = fail("location", &e, EXIT_ERROR);
			goto out;
		}
	}
	snprintf(qdir, sizeof(qdir), "%s/queue", x.conf.state_dir);
	if (bridge_queue_open(qdir, (size_t)x.conf.queue_max, &q, &e) != SMILE_OK) {
		rc = fail("queue", &e, EXIT_ERROR);
		goto out;
	}
	if (bridge_output_open(&ospec, &rn.out, &e) != SMILE_OK) {
		rc = fail("output", &e, EXIT_ERROR);
		goto out;
	}
	rn.x = &x;
	memset(&ops, 0, sizeof(ops));
	ops.ctx = &rn;
	ops.publish = run_publish;
	ops.emit = run_emit;
	ops.mono_ms = run_mono;
	ops.wall_ms = run_wall;
	if (bridge_engine_new(x.dev, x.keys, &x.seq, q, &eo, &ops, &rn.engine, &e) != SMILE_OK) {
		rc = fail("engine", &e, EXIT_ERROR);
		goto out;
	}
	if (bridge_input_open(&ispec, &in, &e) != SMILE_OK) {
		if (ispec.kind == BRIDGE_INPUT_STDIN) {
			rc = fail("input", &e, EXIT_ERROR);
			goto out;
		}
		/* A scanner that is not plugged in yet: keep trying. */
		smile_log(SMILE_LOG_WARN, "bridge.input.unavailable", SMILE_KV_ERR("err", e.code));
		reopen_at = (uint64_t)smile_mono_ms() + INPUT_REOPEN_MS;
	}
	msg = malloc(SMILE_REPLY_MAX_BYTES);
	if (msg == NULL) {
		fprintf(stderr, "smile-bridge: out of memory\n");
		goto out;
	}
	if (bridge_session_start(x.session, &e) != SMILE_OK) {
		rc = fail("mqtt", &e, EXIT_ERROR);
		goto out;
	}
	smile_log(SMILE_LOG_INFO, "bridge.start", SMILE_KV_ID("device", x.keys->id),
		  SMILE_KV_ID("event", eo.event ? smile_proto_event_name(eo.event) : "none"),
		  SMILE_KV_INT("queued", (long long)bridge_queue_count(q)),
		  SMILE_KV_ID("host", x.conf.mqtt_host), SMILE_KV_INT("port", x.conf.mqtt_port));

	for (;;) {
		struct pollfd pfd[4];
		int n = 0, i_in = -1, i_sess, i_sig, i_out = -1;
		long timeout = bridge_engine_timeout_ms(rn.engine);
		size_t len;

		if (in == NULL && !eof && reopen_at) {
			long t = (long)(reopen_at - (uint64_t)smile_mono_ms());
			if ((uint64_t)smile_mono_ms() >= reopen_at)
				t = 0;
			if (timeout < 0 || t < timeout)
				timeout = t;
		}
		if (in != NULL) {
			i_in = n;
			pfd[n++] = (struct pollfd){.fd = bridge_input_fd(in), .events = POLLIN};
		}
		i_sess = n;
		pfd[n++] = (struct pollfd){.fd = bridge_session_fd(x.session), .events = POLLIN};
		i_sig = n;
		pfd[n++] = (struct pollfd){.fd = x.sig_fd, .events = POLLIN};
		if (bridge_output_listen_fd(rn.out) >= 0) {
			i_out = n;
			pfd[n++] = (struct pollfd){.fd = bridge_output_listen_fd(rn.out), .events = POLLIN};
		}
		if (poll(pfd, (nfds_t)n, (int)(timeout > 60000 ? 60000 : timeout)) < 0 &&
		    errno != EINTR) {
			fprintf(stderr, "smile-bridge: poll: %s\n", strerror(errno));
			break;
		}
		if (pfd[i_sig].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(x.sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				smile_log(SMILE_LOG_INFO, "bridge.stop", SMILE_KV_INT("signal", si.ssi_signo),
					  SMILE_KV_INT("queued", (long long)bridge_queue_count(q)));
			rc = 0;
			goto out;
		}
		if (i_out >= 0 && (pfd[i_out].revents & POLLIN))
			bridge_output_accept(rn.out);
		if (pfd[i_sess].revents & POLLIN)
			bridge_session_drain(x.session);
		rn.fatal = bridge_engine_online(rn.engine, bridge_session_ready(x.session));
		while (rn.fatal == SMILE_OK &&
		       bridge_session_take(x.session, msg, SMILE_REPLY_MAX_BYTES, &len) == SMILE_OK)
			rn.fatal = bridge_engine_reply(rn.engine, msg, len);
		if (rn.fatal == SMILE_OK && i_in >= 0 && (pfd[i_in].revents & (POLLIN | POLLHUP | POLLERR))) {
			enum smile_err r = bridge_input_read(in, on_code, &rn, &e);
			if (r == SMILE_ERR_NOT_FOUND) {
				bridge_input_free(in);
				in = NULL;
				eof = 1;
				smile_log(SMILE_LOG_INFO, "bridge.input.end",
					  SMILE_KV_INT("queued", (long long)bridge_queue_count(q)));
			} else if (r != SMILE_OK) {
				smile_log(SMILE_LOG_WARN, "bridge.input.lost", SMILE_KV_ERR("err", r));
				bridge_input_free(in);
				in = NULL;
				reopen_at = (uint64_t)smile_mono_ms() + INPUT_REOPEN_MS;
			}
		}
		if (in == NULL && !eof && reopen_at && (uint64_t)smile_mono_ms() >= reopen_at) {
			if (bridge_input_open(&ispec, &in, &e) == SMILE_OK) {
				smile_log(SMILE_LOG_INFO, "bridge.input.open");
				reopen_at = 0;
			} else {
				reopen_at = (uint64_t)smile_mono_ms() + INPUT_REOPEN_MS;
			}
		}
		if (rn.fatal == SMILE_OK)
			rn.fatal = bridge_engine_tick(rn.engine);
		if (rn.fatal != SMILE_OK) {
			smile_log(SMILE_LOG_ERROR, "bridge.output.failed", SMILE_KV_ERR("err", rn.fatal));
			fprintf(stderr, "smile-bridge: the output failed; queued scans are kept\n");
			rc = EXIT_ERROR;
			goto out;
		}
		if (eof && bridge_engine_idle(rn.engine)) {
			rc = 0;
			goto out;
		}
	}
out:
	if (rn.engine) {
		struct bridge_engine_stats st;
		bridge_engine_stats(rn.engine, &st);
		smile_log(SMILE_LOG_INFO, "bridge.exit", SMILE_KV_INT("queued", (long long)st.queued),
			  SMILE_KV_INT("sent", (long long)st.sent), SMILE_KV_INT("resent", (long long)st.resent),
			  SMILE_KV_INT("replies", (long long)st.replies),
			  SMILE_KV_INT("refused", (long long)st.refused),
			  SMILE_KV_INT("waiting", (long long)bridge_queue_count(q)));
	}
	/* Stop the network thread first: nothing may call into the engine after. */
	bridge_session_free(x.session);
	x.session = NULL;
	bridge_engine_free(rn.engine);
	bridge_input_free(in);
	bridge_output_free(rn.out);
	bridge_queue_free(q);
	free(msg);
	ctx_release(&x);
	return rc;
}

/* ------------------------------------------------------------ scan */

static int exit_for(enum smile_status st)
{
	switch (st) {
	case SMILE_STATUS_REVEALED:
		return EXIT_REVEALED;
	case SMILE_STATUS_RECORDED:
		return EXIT_RECORDED;
	case SMILE_STATUS_DENIED:
		return EXIT_DENIED;
	default:
		return EXIT_ERROR;
	}
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return 0;
		p += w;
		n -= (size_t)w;
	}
	return 1;
}

/* A one-off scan takes a new sequence number. If `run` left a signed scan
 * outstanding in the queue, that would make the gateway see the queued one as
 * a replay when `run` resends it; so refuse until `run` has sent it. */
static int queue_allows_scan(struct ctx *x)
{
	struct smile_error e = {0};
	struct bridge_queue *q = NULL;
	struct bridge_scanrec r;
	char qdir[BRIDGE_PATH_MAX + 8];
	int ok = 1;

	snprintf(qdir, sizeof(qdir), "%s/queue", x->conf.state_dir);
	if (bridge_queue_open(qdir, (size_t)x->conf.queue_max, &q, &e) != SMILE_OK) {
		fail("queue", &e, EXIT_ERROR);
		return 0;
	}
	if (bridge_queue_head(q, &r, NULL) == SMILE_OK && r.seq != 0) {
		fprintf(stderr, "smile-bridge: %zu queued scans wait, one of them already sent: "
				"start 'smile-bridge run' to finish them before a one-off scan\n",
			bridge_queue_count(q));
		ok = 0;
	}
	bridge_queue_free(q);
	return ok;
}

static int cmd_scan(int argc, char **argv)
{
	struct opts o;
	struct smile_error e = {0};
	struct ctx x;
	struct smile_scan s;
	enum smile_event ev;
	uint8_t scan[SMILE_SCAN_MAX_BYTES], *msg = NULL, *contact = NULL;
	char *line = NULL;
	size_t scan_len = 0;
	uint64_t deadline, next_send = 0;
	long backoff;
	int rc, ready = 0;

	rc = parse_opts(argc, argv, &o, usage_scan, 1);
	if (rc || o.help)
		return rc ? EXIT_ERROR : 0;
	if (need(o.token, "TOKEN", usage_scan) || need(o.event, "--event", usage_scan) ||
	    need(o.config, "--config", usage_scan))
		return EXIT_ERROR;
	if (smile_proto_event_from_name(o.event, &ev) != SMILE_OK) {
		(void)parse_event(o.event, &ev);
		return EXIT_ERROR;
	}
	rc = ctx_open(&x, o.config, &e);
	if (rc)
		goto out;
	rc = EXIT_ERROR;
	if (!queue_allows_scan(&x))
		goto out;
	msg = malloc(SMILE_REPLY_MAX_BYTES);
	contact = sodium_malloc(SMILE_PROTO_CONTACT_MAX);
	line = sodium_malloc(BRIDGE_LINE_MAX);
	if (msg == NULL || contact == NULL || line == NULL) {
		fprintf(stderr, "smile-bridge: out of memory\n");
		goto out;
	}
	memset(&s, 0, sizeof(s));
	s.event = ev;
	s.token = (const uint8_t *)o.token;
	s.token_len = strlen(o.token);
	s.time_ms = s.scanned_ms = (uint64_t)smile_clock_ms();
	if (x.conf.location[0] != '\0') {
		s.has_location = 1;
		if (bridge_conf_location(x.conf.location, &s.location, &e) != SMILE_OK) {
			rc = fail("location", &e, EXIT_ERROR);
			goto out;
		}
	}
	if (smile_device_build_scan(x.dev, &x.seq, &s, scan, sizeof(scan), &scan_len, &e) !=
	    SMILE_OK) {
		rc = fail("scan", &e, EXIT_ERROR);
		goto out;
	}
	if (bridge_session_start(x.session, &e) != SMILE_OK) {
		rc = fail("mqtt", &e, EXIT_ERROR);
		goto out;
	}
	backoff = x.conf.retry_initial_ms;
	deadline = (uint64_t)smile_mono_ms() + (uint64_t)o.timeout_s * 1000u;
	for (;;) {
		struct pollfd pfd[2] = {{.fd = bridge_session_fd(x.session), .events = POLLIN},
					{.fd = x.sig_fd, .events = POLLIN}};
		uint64_t now = (uint64_t)smile_mono_ms();
		uint64_t wake = deadline;
		size_t len;
		int r;

		if (ready && next_send < wake)
			wake = next_send;
		if (poll(pfd, 2, wake > now ? (int)(wake - now) : 0) < 0 && errno != EINTR)
			goto out;
		if (pfd[1].revents & POLLIN) {
			fprintf(stderr, "smile-bridge: interrupted before a reply\n");
			rc = EXIT_NO_REPLY;
			goto out;
		}
		bridge_session_drain(x.session);
		r = bridge_session_ready(x.session);
		if (r && !ready)
			next_send = 0; /* (re)connected: send now */
		ready = r;
		while (bridge_session_take(x.session, msg, SMILE_REPLY_MAX_BYTES, &len) == SMILE_OK) {
			struct smile_reply rp;
			size_t clen = 0, ll = 0;
			enum smile_err err = smile_device_open_reply(x.dev, scan, scan_len, msg, len, &rp,
								     contact, SMILE_PROTO_CONTACT_MAX,
								     &clen, &e);
			if (err != SMILE_OK) {
				smile_log(SMILE_LOG_WARN, "bridge.reply.ignored", SMILE_KV_ERR("err", err),
					  SMILE_KV_ID("field", e.field));
				continue;
			}
			if (rp.reason == SMILE_REASON_BUSY) {
				/* Not stored by the gateway (docs/protocol.md 7.1): the
				 * same bytes are processed as new after the backoff. */
				next_send = (uint64_t)smile_mono_ms() + (uint64_t)backoff;
				continue;
			}
			err = bridge_report_reply(&rp, ev, contact, clen, line, BRIDGE_LINE_MAX, &ll, NULL);
			sodium_memzero(contact, SMILE_PROTO_CONTACT_MAX);
			/* write(2), not stdio: no buffer we cannot wipe keeps the contact. */
			if (err == SMILE_OK && write_all(1, line, ll))
				rc = exit_for(rp.status);
			sodium_memzero(line, BRIDGE_LINE_MAX);
			goto out;
		}
		now = (uint64_t)smile_mono_ms();
		if (ready && now >= next_send) {
			if (bridge_session_publish(x.session, scan, scan_len) == SMILE_OK &&
			    next_send != 0)
				smile_log(SMILE_LOG_INFO, "bridge.scan.resent", SMILE_KV_INT("seq", (long long)s.seq));
			next_send = now + (uint64_t)backoff;
			backoff = backoff * 2 > x.conf.retry_max_ms ? x.conf.retry_max_ms : backoff * 2;
		}
		if (now >= deadline) {
			fprintf(stderr, "smile-bridge: no reply within %ld s (%s); the scan may or may "
					"not have been recorded\n",
				o.timeout_s, ready ? "connected" : "broker not reachable");
			rc = EXIT_NO_REPLY;
			goto out;
		}
	}
out:
	bridge_session_free(x.session);
	x.session = NULL;
	free(msg);
	if (contact)
		sodium_free(contact);
	if (line)
		sodium_free(line);
	ctx_release(&x);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage_top, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "keygen") == 0)
		return cmd_keygen(argc - 1, argv + 1);
	if (strcmp(argv[1], "configure") == 0)
		return cmd_configure(argc - 1, argv + 1);
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "scan") == 0)
		return cmd_scan(argc - 1, argv + 1);
	fprintf(stderr, "smile-bridge: unknown command '%s'\n\n%s", argv[1], usage_top);
	return 2;
}
