/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c - smile-gateway: command line, signals, and wiring the modules.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <sys/stat.h>

#include "broker.h"
#include "gateway.h"
#include "webhook_worker.h"
#include "relay.h"
#include "svc.h"
#include "vault_rotate.h"
#include "keys.h"
#include "smile/hostport.h"
#include "smile/log.h"

static const char usage_top[] =
	"usage: smile-gateway COMMAND [OPTIONS]\n"
	"\n"
	"The Smile gateway: issues privacy-preserving waybills over HTTP and keeps\n"
	"recipients' contact details in an encrypted vault.\n"
	"\n"
	"commands:\n"
	"  init   --data DIR                 create a data directory (keys, config, store,\n"
	"                                    first admin API key in DIR/admin.key)\n"
	"  serve  --data DIR [--listen H:P]  serve the HTTP API until SIGTERM/SIGINT\n"
	"  keys rotate --data DIR            new token key for new labels (old ones still open)\n"
	"  keys retire --data DIR --kid N    destroy token key N (its labels stop opening)\n"
	"  keys rotate-vault --data DIR      new vault key, online (old backups stop opening)\n"
	"  vault check --data DIR [--store FILE]\n"
	"                                    count the personal rows DIR's vault keys open\n"
	"  retention --data DIR              run the retention job once and exit\n"
	"  device add --data DIR --role R [--zone Z] [--in FILE]\n"
	"                                    enrol a handheld from its enrolment JSON\n"
	"  device list|suspend|resume|revoke --data DIR [--id ID]\n"
	"  audit verify --data DIR           check the hash-chained audit log\n"
	"  broker-config --data DIR --out DIR2 [--listen H:P]\n"
	"                                    mosquitto config, passwords and ACL\n"
	"\n"
	"Run 'smile-gateway COMMAND --help' for a command's options. Logs are\n"
	"structured lines on stderr (SMILE_LOG_LEVEL=debug|info|warn|error).\n";

static int fail(const char *what, const struct smile_error *e)
{
	char msg[SMILE_ERROR_FIELD_MAX + SMILE_ERROR_MSG_MAX + 4];
	fprintf(stderr, "smile-gateway: %s: %s (%s)\n", what, smile_error_format(e, msg, sizeof(msg)),
		smile_errname(e->code));
	return 1;
}

struct opts {
	const char *data;
	const char *listen;
	const char *id;
	const char *role;
	const char *zone;
	const char *in;
	const char *out;
	long kid;
	int help;
};

static int parse_opts(int argc, char **argv, struct opts *o, const char *usage)
{
	static const struct option longopts[] = {
		{"data", required_argument, NULL, 'd'},
		{"listen", required_argument, NULL, 'l'},
		{"kid", required_argument, NULL, 'k'},
		{"id", required_argument, NULL, 'i'},
		{"role", required_argument, NULL, 'r'},
		{"zone", required_argument, NULL, 'z'},
		{"in", required_argument, NULL, 'I'},
		{"out", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	char *end;
	memset(o, 0, sizeof(*o));
	o->kid = -1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:l:k:i:r:z:I:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			o->id = optarg;
			break;
		case 'r':
			o->role = optarg;
			break;
		case 'z':
			o->zone = optarg;
			break;
		case 'I':
			o->in = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'd':
			o->data = optarg;
			break;
		case 'l':
			o->listen = optarg;
			break;
		case 'k':
			errno = 0;
			o->kid = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || o->kid < 0 || o->kid > 255) {
				fprintf(stderr, "smile-gateway: --kid: expected 0-255\n");
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
	if (optind < argc) {
		fprintf(stderr, "smile-gateway: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (o->data == NULL) {
		fprintf(stderr, "smile-gateway: --data DIR is required\n%s", usage);
		return 2;
	}
	return 0;
}

static int cmd_init(int argc, char **argv)
{
	static const char usage[] =
		"usage: smile-gateway init --data DIR\n"
		"\n"
		"Create DIR (mode 0700) with:\n"
		"  keys/          token, vault, signing and box keys (0600 each)\n"
		"  gateway.conf   every setting with its default, commented\n"
		"  store.db       the SQLite store (with SMILE_STORE=postgresql://...: that\n"
		"                 database instead, created if absent, and recorded in\n"
		"                 gateway.conf)\n"
		"  admin.key      the first admin API key (0600): use it as\n"
		"                 Authorization: Bearer $(cat DIR/admin.key)\n"
		"Refuses a directory that is already initialised.\n";
	struct opts o;
	struct smile_error e = {0};
	int rc = parse_opts(argc, argv, &o, usage);
	if (rc || o.help)
		return rc;
	if (gateway_init_dir(o.data, &e) != SMILE_OK)
		return fail("init", &e);
	printf("initialised %s\n  config:    %s/gateway.conf\n  admin key: %s/admin.key\n"
	       "start it:  smile-gateway serve --data %s\n",
	       o.data, o.data, o.data, o.data);
	return 0;
}

static int cmd_serve(int argc, char **argv)
{
	static const char usage[] =
		"usage: smile-gateway serve --data DIR [--listen HOST:PORT]\n"
		"\n"
		"Serve the HTTP API (docs/api.md) until SIGTERM or SIGINT, then finish\n"
		"in-flight requests and exit. --listen overrides 'listen' in gateway.conf\n"
		"(port 0 picks a free port; the chosen one is logged as http.listening).\n"
		"Refuses to start when a key file is readable by others.\n";
	struct opts o;
	struct smile_error e = {0};
	struct gateway g;
	sigset_t set;
	int sig, rc = parse_opts(argc, argv, &o, usage);

	if (rc || o.help)
		return rc;
	/* Signals go to this thread only, via sigwait, never to workers. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (gateway_open(&g, o.data, &e) != SMILE_OK)
		return fail("serve", &e);
	if (gateway_serve_begin(&g, &e) != SMILE_OK) {
		gateway_close(&g);
		return fail("serve", &e);
	}
	if (gateway_http_start(&g, o.listen, &e) != SMILE_OK) {
		gateway_close(&g);
		return fail("serve", &e);
	}
	api_track_check_files(&g);
	if (relay_start(&g, &g.relay, &e) != SMILE_OK) {
		gateway_close(&g);
		return fail("serve", &e);
	}
	if (gateway_retention_start(&g) != SMILE_OK) {
		gateway_close(&g);
		fprintf(stderr, "smile-gateway: serve: cannot start the retention job\n");
		return 1;
	}
	if (webhook_worker_start(&g, &g.webhooks, &e) != SMILE_OK) {
		gateway_close(&g);
		return fail("serve", &e);
	}
	smile_log(SMILE_LOG_INFO, "http.listening", SMILE_KV_INT("port", g.http_port),
		  SMILE_KV_ID("policy", smile_mask_policy_name(g.policy)),
		  SMILE_KV_INT("relay", g.relay != NULL));
	sigwait(&set, &sig);
	smile_log(SMILE_LOG_INFO, "gateway.stopping", SMILE_KV_INT("signal", sig));
	gateway_close(&g);
	smile_log0(SMILE_LOG_INFO, "gateway.stopped");
	return 0;
}

static int cmd_retention(int argc, char **argv)
{
	static const char usage[] =
		"usage: smile-gateway retention --data DIR\n"
		"\n"
		"Erase personal data now for every shipment past its retention period\n"
		"(retention_after_delivery_days / retention_after_issue_days in\n"
		"gateway.conf); prints how many. 'serve' also runs this job periodically.\n";
	struct opts o;
	struct smile_error e = {0};
	struct gateway g;
	int rc = parse_opts(argc, argv, &o, usage);
	if (rc || o.help)
		return rc;
	if (gateway_open(&g, o.data, &e) != SMILE_OK)
		return fail("retention", &e);
	printf("erased personal data of %zu shipment(s)\n", svc_retention_run(&g, gateway_now_ms()));
	gateway_close(&g);
	return 0;
}

static int cmd_keys(int argc, char **argv)
{
	static const char usage[] =
		"usage: smile-gateway keys rotate --data DIR\n"
		"       smile-gateway keys retire --data DIR --kid N\n"
		"       smile-gateway keys rotate-vault --data DIR [--timeout S] [--batch N]\n"
		"\n"
		"rotate: create a new token key and mint new labels with it; labels\n"
		"        printed with older keys still open until those are retired.\n"
		"retire: destroy token key N; labels minted with it no longer open.\n"
		"        The current key cannot be retired (rotate first).\n"
		"Restart 'serve' afterwards to use the new key set.\n"
		"rotate-vault: replace the vault key while 'serve' runs (see\n"
		"        'keys rotate-vault --help').\n";
	struct opts o;
	struct smile_error e = {0};
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "rotate-vault") == 0)
		return cli_keys_rotate_vault(argc - 1, argv + 1);
	rc = parse_opts(argc - 1, argv + 1, &o, usage);
	if (rc || o.help)
		return rc;
	if (strcmp(argv[1], "rotate") == 0) {
		uint8_t kid;
		if (smile_keys_rotate_token(o.data, &kid, &e) != SMILE_OK)
			return fail("keys rotate", &e);
		printf("token key %u is now current\n", kid);
		return 0;
	}
	if (strcmp(argv[1], "retire") == 0) {
		if (o.kid < 0) {
			fprintf(stderr, "smile-gateway: keys retire: --kid N is required\n");
			return 2;
		}
		if (smile_keys_retire_token(o.data, (uint8_t)o.kid, &e) != SMILE_OK)
			return fail("keys retire", &e);
		printf("token key %ld retired\n", o.kid);
		return 0;
	}
	fprintf(stderr, "smile-gateway: keys: unknown action '%s'\n%s", argv[1], usage);
	return 2;
}


static int print_device(void *ctx, const struct smile_store_device *d)
{
	json_t *j = svc_device_json(d);
	(void)ctx;
	json_dumpf(j, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(j);
	return 0;
}

static int cmd_device(int argc, char **argv)
{
	static const char usage[] =
		"usage: smile-gateway device add --data DIR --role courier|hub|supervisor|print_station\n"
		"                                [--zone REGION] [--in FILE]\n"
		"       smile-gateway device list --data DIR\n"
		"       smile-gateway device suspend|resume|revoke --data DIR --id ID\n"
		"\n"
		"add:     enrol a handheld from the JSON 'smile-bridge keygen' prints\n"
		"         ({\"id\",\"sign_pk\",\"box_pk\"}), read from FILE or standard input.\n"
		"         --zone limits reveals to destinations under a region prefix\n"
		"         (country/province/city/district, e.g. CN/湖北省/武汉市).\n"
		"list:    every device as JSON lines.\n"
		"suspend: the device gets no contact details until resumed.\n"
		"revoke:  final; the device can never scan again.\n"
		"Run 'broker-config' afterwards so the broker knows the change; a running\n"
		"gateway sees it at the next scan. Every change is audited.\n";
	struct opts o;
	struct smile_error e = {0};
	struct gateway g;
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	rc = parse_opts(argc - 1, argv + 1, &o, usage);
	if (rc || o.help)
		return rc;
	const char *act = argv[1];
	if (strcmp(act, "add") && strcmp(act, "list") && strcmp(act, "suspend") &&
	    strcmp(act, "resume") && strcmp(act, "revoke")) {
		fprintf(stderr, "smile-gateway: device: unknown action '%s'\n%s", act, usage);
		return 2;
	}
	if (strcmp(act, "add") == 0 && o.role == NULL) {
		fprintf(stderr, "smile-gateway: device add: --role is required\n");
		return 2;
	}
	if ((strcmp(act, "suspend") == 0 || strcmp(act, "resume") == 0 ||
	     strcmp(act, "revoke") == 0) && o.id == NULL) {
		fprintf(stderr, "smile-gateway: device %s: --id is required\n", act);
		return 2;
	}
	if (gateway_open(&g, o.data, &e) != SMILE_OK)
		return fail("device", &e);
	rc = 0;
	if (strcmp(act, "add") == 0) {
		json_error_t jerr;
		FILE *f = o.in && strcmp(o.in, "-") ? fopen(o.in, "r") : stdin;
		json_t *j = f ? json_loadf(f, JSON_DISABLE_EOF_CHECK, &jerr) : NULL;
		struct smile_store_device d;
		if (f && f != stdin)
			fclose(f);
		if (j == NULL) {
			fprintf(stderr, "smile-gateway: device add: the enrolment JSON %s\n",
				f ? "is not valid JSON" : "file cannot be read");
			rc = 1;
		} else {
			json_object_set_new(j, "role", json_string(o.role));
			if (o.zone)
				json_object_set_new(j, "zone", json_string(o.zone));
			if (svc_device_enrol(&g, &svc_caller_cli, j, &d, &e) != SMILE_OK) {
				rc = fail("device add", &e);
			} else {
				json_t *out = svc_device_json(&d);
				json_dumpf(out, stdout, JSON_COMPACT);
				putchar('\n');
				json_decref(out);
			}
			json_decref(j);
		}
	} else if (strcmp(act, "list") == 0) {
		if (svc_device_list(&g, &svc_caller_cli, print_device, NULL, &e) != SMILE_OK) {
			fprintf(stderr, "smile-gateway: device list: store error\n");
			rc = 1;
		}
	} else {
		enum smile_device_status st = strcmp(act, "suspend") == 0 ? SMILE_DEV_SUSPENDED
					      : strcmp(act, "resume") == 0  ? SMILE_DEV_ACTIVE
									    : SMILE_DEV_REVOKED;
		enum smile_err r2 = svc_device_set_status(&g, &svc_caller_cli, o.id, st, NULL, &e);
		if (r2 == SMILE_ERR_NOT_FOUND) {
			fprintf(stderr, "smile-gateway: device %s: no device '%s'\n", act, o.id);
			rc = 1;
		} else if (r2 == SMILE_ERR_CONFLICT) {
			fprintf(stderr, "smile-gateway: device %s: '%s' is revoked for good\n", act,
				o.id);
			rc = 1;
		} else if (r2) {
			fprintf(stderr, "smile-gateway: device %s: %s\n", act, smile_strerror(r2));
			rc = 1;
		} else {
			printf("device %s is %s\n", o.id, smile_device_status_name(st));
		}
	}
	gateway_close(&g);
	return rc;
}

static int cmd_audit(int argc, char **argv)
{
	static const char usage[] =
		"usage: smile-gateway audit verify --data DIR\n"
		"\n"
		"Recompute the audit log's hash chain (every reveal, refusal, device change\n"
		"and erasure). Exit 0 and the entry count when it verifies; exit 1 naming\n"
		"the first entry that was edited, deleted or reordered.\n";
	struct opts o;
	struct smile_error e = {0};
	struct gateway g;
	uint64_t n = 0, bad = 0;
	uint8_t head[32];
	char hex[65];
	int rc;

	if (argc < 2 || strcmp(argv[1], "verify") != 0) {
		fputs(usage, argc >= 2 && (strcmp(argv[1], "--help") == 0) ? stdout : stderr);
		return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	rc = parse_opts(argc - 1, argv + 1, &o, usage);
	if (rc || o.help)
		return rc;
	if (gateway_open(&g, o.data, &e) != SMILE_OK)
		return fail("audit verify", &e);
	if (smile_store_audit_verify(g.store, &n, &bad, head, &e) != SMILE_OK) {
		gateway_close(&g);
		fprintf(stderr, "smile-gateway: audit verify: BROKEN at entry %llu: %s\n",
			(unsigned long long)bad, e.message);
		return 1;
	}
	gateway_close(&g);
	sodium_bin2hex(hex, sizeof(hex), head, sizeof(head));
	printf("audit log verifies: %llu entries\nhead: %s\n", (unsigned long long)n, hex);
	return 0;
}

static int cmd_broker_config(int argc, char **argv)
{
	static const char usage[] =
		"usage: smile-gateway broker-config --data DIR --out DIR2 [--listen HOST:PORT]\n"
		"\n"
		"Write DIR2/mosquitto.conf (tuned: TCP_NODELAY, large queues, no anonymous\n"
		"access, persistence), DIR2/passwd (the gateway and every enrolled device,\n"
		"hashed like mosquitto_passwd) and DIR2/acl (each device only its own\n"
		"smile/v1/dev/{id}/ topics). --listen defaults to the gateway's mqtt_host and\n"
		"mqtt_port. Run it again after enrolling or revoking devices, then send the\n"
		"broker SIGHUP. Start it with: mosquitto -c DIR2/mosquitto.conf\n";
	struct opts o;
	struct smile_error e = {0};
	struct gateway g;
	char host[SMILE_CONFIG_STR_MAX];
	int port, n = 0, rc = parse_opts(argc, argv, &o, usage);

	if (rc || o.help)
		return rc;
	if (o.out == NULL) {
		fprintf(stderr, "smile-gateway: broker-config: --out DIR is required\n");
		return 2;
	}
	if (gateway_open(&g, o.data, &e) != SMILE_OK)
		return fail("broker-config", &e);
	snprintf(host, sizeof(host), "%s", g.cfg.mqtt_host[0] ? g.cfg.mqtt_host : "127.0.0.1");
	port = (int)g.cfg.mqtt_port;
	if (o.listen) {
		uint16_t p = 0;
		if (smile_hostport_parse(o.listen, 0, "--listen", host, sizeof(host), &p, &e) !=
		    SMILE_OK) {
			gateway_close(&g);
			fprintf(stderr, "smile-gateway: broker-config: %s (--listen HOST:PORT)\n",
				e.message);
			return 2;
		}
		port = (int)p;
	}
	if (gateway_broker_config(&g, o.out, host, port, &n, &e) != SMILE_OK) {
		gateway_close(&g);
		return fail("broker-config", &e);
	}
	gateway_close(&g);
	printf("wrote %s/mosquitto.conf, passwd (gateway + %d devices) and acl\n", o.out, n);
	return 0;
}

int main(int argc, char **argv)
{
	umask(077);
	if (argc < 2) {
		fputs(usage_top, stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage_top, stdout);
		return 0;
	}
	if (strcmp(argv[1], "init") == 0)
		return cmd_init(argc - 1, argv + 1);
	if (strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (strcmp(argv[1], "keys") == 0)
		return cmd_keys(argc - 1, argv + 1);
	if (strcmp(argv[1], "retention") == 0)
		return cmd_retention(argc - 1, argv + 1);
	if (strcmp(argv[1], "device") == 0)
		return cmd_device(argc - 1, argv + 1);
	if (strcmp(argv[1], "audit") == 0)
		return cmd_audit(argc - 1, argv + 1);
	if (strcmp(argv[1], "broker-config") == 0)
		return cmd_broker_config(argc - 1, argv + 1);
	if (strcmp(argv[1], "vault") == 0)
		return cli_vault(argc - 1, argv + 1);
	fprintf(stderr, "smile-gateway: unknown command '%s'\n\n%s", argv[1], usage_top);
	return 2;
}
